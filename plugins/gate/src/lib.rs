//! Gate APIv4 futures adapter for USDT-settled perpetuals (`/futures/usdt/…`).
//!
//! Owns: everything Gate-specific — which public futures endpoints answer each kind
//! (`requests.rs`), their wire format (`model.rs`), how rows map onto records, with Gate's
//! seconds and contract multipliers (`parse.rs`), and how failures are classified
//! (`errors.rs`). This file holds the static description ([`info`]) and the ABI export.
//! Must not: do I/O, read clocks, keep state between calls, log, or panic: the host executes the
//! requests (rate limits, retries, timeouts), keeps the instruments and hands them back in
//! `ctx`, and computes `rate_8h` / `rate_annualized`.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

mod errors;
mod model;
mod parse;
mod requests;

use plugin_api::{PluginInfo, RateLimitRule, RecordKind, INTERFACE_VERSION};
use plugin_kit::info::kind;

pub use parse::{
    parse, EXTRA_CAP_SOURCE, EXTRA_OI_QUOTE_DERIVED, EXTRA_PRE_MARKET, EXTRA_RAW_STATUS,
};
pub use requests::{
    build_requests, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS, PATH_CONTRACTS, PATH_TICKERS,
    SIZE_DECIMAL_HEADER,
};

/// Gate's own currency renames in ccxt (`commonCurrencies` of ccxt's gate, exchange-notes
/// errata 6: about 18 codes). Only the entry the notes name is copied; the rest of ccxt's table
/// is UNCONFIRMED here (not read from a stored source). ccxt's common renames (`XBT` → `BTC`,
/// `BCHSV` → `BSV`) apply besides.
pub const CURRENCY_RENAMES: &plugin_kit::symbols::Renames = &[("GTC", "GAMECOM")];

/// Gate's public limit window: 10 seconds.
const WINDOW_MS: u64 = 10_000;
/// "200 requests per 10 seconds per endpoint per IP" for public endpoints (Gate's 2024-01-22
/// announcement; ccxt's gate `rateLimit` comment).
const REQUESTS_PER_WINDOW: u32 = 200;

/// Exchange id, name, kinds, base URL and the documented IP limits.
pub fn info() -> PluginInfo {
    let limit = |path: &str| RateLimitRule {
        path_prefix: path.into(),
        limit: REQUESTS_PER_WINDOW,
        window_ms: WINDOW_MS,
    };
    PluginInfo {
        exchange_id: "gate".into(),
        name: "Gate USDT perpetual futures".into(),
        plugin_version: env!("CARGO_PKG_VERSION").into(),
        interface_version: INTERFACE_VERSION.into(),
        kinds: vec![
            kind(
                KIND_INSTRUMENTS,
                RecordKind::INSTRUMENT,
                3_600_000,
                false,
                "USDT perpetuals from /futures/usdt/contracts (quanto_multiplier = contract size)",
            ),
            kind(
                KIND_TICKERS,
                RecordKind::TICKER,
                5_000,
                true,
                "last/bid/ask, mark, index, 24h volume and open interest (contracts × \
                 multiplier) from /futures/usdt/tickers",
            ),
            kind(
                KIND_FUNDING,
                RecordKind::FUNDING,
                30_000,
                true,
                "funding rate, indicative (predicted) rate, interval and next settlement (in \
                 seconds on the wire) from /futures/usdt/contracts",
            ),
        ]
        .into(),
        default_base_url: "https://api.gateio.ws/api/v4".into(),
        rate_limits: vec![limit(PATH_CONTRACTS), limit(PATH_TICKERS)].into(),
        default_funding_interval_hours: 8.0,
        extra: Default::default(),
    }
}

plugin_api::export_plugin! { info: info, build_requests: build_requests, parse: parse }

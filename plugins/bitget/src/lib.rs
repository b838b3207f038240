//! Bitget v2 "mix" adapter for USDT- and USDC-margined linear perpetuals
//! (`productType=USDT-FUTURES` and `USDC-FUTURES`).
//!
//! Owns: everything Bitget-specific — which public v2 mix market endpoints answer each kind
//! (`requests.rs`), their wire format (`model.rs`), how rows map onto records and which rows are
//! skipped (`parse.rs`), and how failures are classified (`errors.rs`). This file holds the
//! static description ([`info`]) and the ABI export.
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

pub use parse::{parse, EXTRA_OI_QUOTE_DERIVED, EXTRA_RAW_STATUS};
pub use requests::{
    build_requests, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS, PATH_CONTRACTS,
    PATH_CURRENT_FUND_RATE, PATH_TICKERS, PRODUCT_TYPES,
};

/// Bitget's own currency renames in ccxt (`commonCurrencies` of ccxt's bitget, exchange-notes
/// errata 6). Only the entries the notes name are copied; the rest of ccxt's table is
/// UNCONFIRMED here (not read from a stored source). ccxt's common renames (`XBT` → `BTC`,
/// `BCHSV` → `BSV`) apply besides.
pub const CURRENCY_RENAMES: &plugin_kit::symbols::Renames = &[
    ("DEGEN", "DegenReborn"),
    ("OMNI", "omni"),
    ("TONCOIN", "TON"),
];

/// Bitget's window for its public per-IP limits: 1 second.
const WINDOW_MS: u64 = 1_000;
/// "20 times/1s (IP)" for each of `contracts`, `tickers` and `current-fund-rate` (ccxt's
/// bitget cost table: cost 1 at 20 requests per second).
const REQUESTS_PER_WINDOW: u32 = 20;

/// Exchange id, name, kinds, base URL and the documented IP limits.
pub fn info() -> PluginInfo {
    let limit = |path: &str| RateLimitRule {
        path_prefix: path.into(),
        limit: REQUESTS_PER_WINDOW,
        window_ms: WINDOW_MS,
    };
    PluginInfo {
        exchange_id: "bitget".into(),
        name: "Bitget v2 mix linear perpetuals".into(),
        plugin_version: env!("CARGO_PKG_VERSION").into(),
        interface_version: INTERFACE_VERSION.into(),
        kinds: vec![
            kind(
                KIND_INSTRUMENTS,
                RecordKind::INSTRUMENT,
                3_600_000,
                false,
                "USDT/USDC perpetuals from /api/v2/mix/market/contracts (one request per \
                 productType; delivery contracts skipped)",
            ),
            kind(
                KIND_TICKERS,
                RecordKind::TICKER,
                5_000,
                true,
                "last/bid/ask, mark, index, 24h volume and open interest from \
                 /api/v2/mix/market/tickers",
            ),
            kind(
                KIND_FUNDING,
                RecordKind::FUNDING,
                30_000,
                true,
                "funding rate, interval, next settlement and cap/floor in one bulk call: \
                 /api/v2/mix/market/current-fund-rate",
            ),
        ]
        .into(),
        default_base_url: "https://api.bitget.com".into(),
        rate_limits: vec![
            limit(PATH_CONTRACTS),
            limit(PATH_TICKERS),
            limit(PATH_CURRENT_FUND_RATE),
        ]
        .into(),
        default_funding_interval_hours: 8.0,
        extra: Default::default(),
    }
}

plugin_api::export_plugin! { info: info, build_requests: build_requests, parse: parse }

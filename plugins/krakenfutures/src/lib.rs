//! Kraken Futures perpetual contracts (linear multi-collateral `PF_…`, inverse `PI_…`) as a
//! futures-collector exchange plugin.
//!
//! Owns: the plugin's static description ([`info`]: kinds, default base URL, the request budget
//! as a rate-limit rule, the hourly funding default), and the wiring of its three entry points
//! through plugin-api's `export_plugin!` (panic containment lives there). `requests.rs`
//! describes the two requests, `parse.rs` turns their rows into records (and converts Kraken's
//! absolute funding rate into a fraction), `model.rs` holds the wire rows and `errors.rs`
//! describes the error bodies.
//! Must not: do I/O, read clocks, keep state between calls, or log: the host owns all of that.
//! A missing value is `RNone`, never 0; `rate_8h`/`rate_annualized` are left to the host.

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
    base_of, next_full_hour, parse, relative_rate, CONVERSION_DIVIDED_BY_MARK,
    CONVERSION_SERVED_RELATIVE, CONVERSION_TIMES_MARK, EXTRA_CONTRACT_TYPE,
    EXTRA_FUNDING_CONVERSION, EXTRA_FUNDING_RATE_ABSOLUTE, EXTRA_NEXT_FUNDING_DERIVED,
    EXTRA_OI_BASE_DERIVED, EXTRA_OI_QUOTE_DERIVED, EXTRA_SUSPENDED, EXTRA_TRADEABLE,
    FUNDING_INTERVAL_HOURS,
};
pub use requests::{
    build_requests, API_PREFIX, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS, PATH_INSTRUMENTS,
    PATH_TICKERS, TAG_INSTRUMENTS, TAG_TICKERS, WEIGHT_INSTRUMENTS, WEIGHT_TICKERS,
};

/// Kraken Futures has no currency renames of its own in ccxt beyond the common `XBT` → `BTC`.
pub const CURRENCY_RENAMES: &plugin_kit::symbols::Renames = &[];

/// Kraken's documented public REST limits are UNCONFIRMED (exchange-notes §13.2); the rule
/// copies ccxt's throttle, one request per 600 ms: 100 per minute.
const REQUESTS_PER_WINDOW: u32 = 100;
const WINDOW_MS: u64 = 60_000;

/// Default cadence of the kinds: instruments hourly, tickers every 5 s, funding every 30 s:
/// 12 + 2 (+ 1/60) requests per minute, about 14% of the budget.
const INSTRUMENTS_INTERVAL_MS: u64 = 3_600_000;
const TICKERS_INTERVAL_MS: u64 = 5_000;
const FUNDING_INTERVAL_MS: u64 = 30_000;

/// What this plugin is and what it can collect.
pub fn info() -> PluginInfo {
    PluginInfo {
        exchange_id: "krakenfutures".into(),
        name: "Kraken Futures perpetual contracts".into(),
        plugin_version: env!("CARGO_PKG_VERSION").into(),
        interface_version: INTERFACE_VERSION.into(),
        kinds: vec![
            kind(
                KIND_INSTRUMENTS,
                RecordKind::INSTRUMENT,
                INSTRUMENTS_INTERVAL_MS,
                false,
                "every perpetual contract, linear PF_ and inverse PI_, with contract size and \
                 the relative funding cap (derivatives/api/v3/instruments; dated futures and \
                 indices skipped)",
            ),
            kind(
                KIND_TICKERS,
                RecordKind::TICKER,
                TICKERS_INTERVAL_MS,
                true,
                "last/bid/ask, mark, index, 24h volume and open interest of every perpetual \
                 (derivatives/api/v3/tickers)",
            ),
            kind(
                KIND_FUNDING,
                RecordKind::FUNDING,
                FUNDING_INTERVAL_MS,
                true,
                "hourly funding of every perpetual as a fraction (the absolute fundingRate \
                 converted at the mark price), the next hour's prediction and the next full \
                 hour as settlement (derivatives/api/v3/tickers)",
            ),
        ]
        .into(),
        default_base_url: "https://futures.kraken.com".into(),
        rate_limits: vec![RateLimitRule {
            path_prefix: API_PREFIX.into(),
            limit: REQUESTS_PER_WINDOW,
            window_ms: WINDOW_MS,
        }]
        .into(),
        default_funding_interval_hours: FUNDING_INTERVAL_HOURS,
        extra: Default::default(),
    }
}

plugin_api::export_plugin! { info: info, build_requests: build_requests, parse: parse }

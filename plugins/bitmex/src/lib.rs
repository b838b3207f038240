//! BitMEX perpetual contracts (inverse `XBTUSD`, linear `…USDT`) as a futures-collector exchange
//! plugin.
//!
//! Owns: the plugin's static description ([`info`]: kinds, default base URL, BitMEX's
//! unauthenticated budget of 30 requests per minute as a rate-limit rule), and the wiring of its
//! three entry points through plugin-api's `export_plugin!` (panic containment lives there).
//! `requests.rs` describes the one request every kind makes, `parse.rs` turns its rows into
//! records, `model.rs` holds the wire row and `errors.rs` describes the error envelope.
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

pub use parse::{interval_hours, parse, settle_currency, EXTRA_RAW_STATUS, EXTRA_TYP};
pub use requests::{
    build_requests, API_PREFIX, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS,
    PATH_INSTRUMENT_ACTIVE, TAG_INSTRUMENT_ACTIVE, WEIGHT_INSTRUMENT_ACTIVE,
};

/// BitMEX has no currency renames of its own in ccxt beyond the common `XBT` → `BTC` (the
/// settle codes' minor units, `XBt`/`USDt`, are handled in `parse.rs`).
pub const CURRENCY_RENAMES: &plugin_kit::symbols::Renames = &[];

/// BitMEX's budget: 30 requests per minute without an API key (exchange-notes §12.2).
const REQUESTS_PER_WINDOW: u32 = 30;
const WINDOW_MS: u64 = 60_000;

/// Default cadence of the kinds: instruments hourly, tickers every 10 s, funding every 30 s:
/// 6 + 2 (+ 1/60) requests per minute, about 27% of the budget.
const INSTRUMENTS_INTERVAL_MS: u64 = 3_600_000;
const TICKERS_INTERVAL_MS: u64 = 10_000;
const FUNDING_INTERVAL_MS: u64 = 30_000;

/// What this plugin is and what it can collect.
pub fn info() -> PluginInfo {
    PluginInfo {
        exchange_id: "bitmex".into(),
        name: "BitMEX perpetual contracts".into(),
        plugin_version: env!("CARGO_PKG_VERSION").into(),
        interface_version: INTERFACE_VERSION.into(),
        kinds: vec![
            kind(
                KIND_INSTRUMENTS,
                RecordKind::INSTRUMENT,
                INSTRUMENTS_INTERVAL_MS,
                false,
                "every perpetual contract, linear and inverse (api/v1/instrument/active; dated \
                 futures, spot and quanto contracts skipped)",
            ),
            kind(
                KIND_TICKERS,
                RecordKind::TICKER,
                TICKERS_INTERVAL_MS,
                true,
                "last/bid/ask, mark, index, 24h volume and open interest of every perpetual \
                 (api/v1/instrument/active)",
            ),
            kind(
                KIND_FUNDING,
                RecordKind::FUNDING,
                FUNDING_INTERVAL_MS,
                true,
                "current and indicative (next) funding rate, next settlement and the reported \
                 interval of every perpetual (api/v1/instrument/active)",
            ),
        ]
        .into(),
        default_base_url: "https://www.bitmex.com".into(),
        rate_limits: vec![RateLimitRule {
            path_prefix: API_PREFIX.into(),
            limit: REQUESTS_PER_WINDOW,
            window_ms: WINDOW_MS,
        }]
        .into(),
        default_funding_interval_hours: 8.0,
        extra: Default::default(),
    }
}

plugin_api::export_plugin! { info: info, build_requests: build_requests, parse: parse }

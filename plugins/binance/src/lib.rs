//! Binance USDⓈ-M futures adapter for futures-collector (`fapi.binance.com`).
//!
//! Owns: what Binance's public futures endpoints look like: which requests a cycle of each kind
//! needs (`requests`), how their bodies decode (`model`), how they become normalized records
//! (`parse`), and what Binance's error codes mean (`errors`). Kinds: `instruments` (perpetuals
//! from `exchangeInfo`), `tickers` (24hr + bookTicker + premiumIndex joined by symbol),
//! `funding` (premiumIndex + fundingInfo) and `open_interest` (per-symbol `openInterest`,
//! partial ticker records).
//! Must not: do I/O, keep state between calls, read clocks, log, or panic. The host executes the
//! requests, applies rate limits and retries, and hands instruments back in `Context`; problems
//! go back as classified errors and warnings in `ParseOutput`.

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
pub mod parse;
pub mod requests;

use plugin_api::{PluginInfo, RateLimitRule, RecordKind, INTERFACE_VERSION};
use plugin_kit::info::kind;

pub use parse::parse;
pub use requests::build_requests;

/// Binance's currency renames in ccxt (`commonCurrencies` of ccxt's binance: `BCC` kept as is,
/// `YOYO` → `YOYOW`); ccxt's common renames (`XBT` → `BTC`, `BCHSV` → `BSV`) apply besides.
pub const CURRENCY_RENAMES: &plugin_kit::symbols::Renames = &[("BCC", "BCC"), ("YOYO", "YOYOW")];

/// Kind names, as used in config `intervals` and passed to `build_requests`/`parse`.
pub const KIND_INSTRUMENTS: &str = "instruments";
pub const KIND_TICKERS: &str = "tickers";
pub const KIND_FUNDING: &str = "funding";
pub const KIND_OPEN_INTEREST: &str = "open_interest";

/// Binance's documented funding interval for symbols absent from `fundingInfo`.
pub const DEFAULT_FUNDING_INTERVAL_HOURS: f64 = 8.0;

/// Static description of the plugin.
pub fn info() -> PluginInfo {
    PluginInfo {
        exchange_id: "binance".into(),
        name: "Binance USDⓈ-M futures".into(),
        plugin_version: env!("CARGO_PKG_VERSION").into(),
        interface_version: INTERFACE_VERSION.into(),
        kinds: vec![
            kind(
                KIND_INSTRUMENTS,
                RecordKind::INSTRUMENT,
                3_600_000,
                false,
                "perpetual contracts from /fapi/v1/exchangeInfo",
            ),
            kind(
                KIND_TICKERS,
                RecordKind::TICKER,
                5_000,
                true,
                "last/bid/ask/mark/index/24h volume: ticker/24hr + ticker/bookTicker + premiumIndex",
            ),
            kind(
                KIND_FUNDING,
                RecordKind::FUNDING,
                30_000,
                true,
                "funding rate, next funding time, interval, cap/floor: premiumIndex + fundingInfo",
            ),
            kind(
                KIND_OPEN_INTEREST,
                RecordKind::TICKER,
                60_000,
                true,
                "open interest per trading perpetual (/fapi/v1/openInterest), valued at mark",
            ),
        ]
        .into(),
        default_base_url: "https://fapi.binance.com".into(),
        rate_limits: vec![RateLimitRule {
            path_prefix: "".into(),
            limit: 2400,
            window_ms: 60_000,
        }]
        .into(),
        default_funding_interval_hours: DEFAULT_FUNDING_INTERVAL_HOURS,
        extra: Default::default(),
    }
}

plugin_api::export_plugin! { info: info, build_requests: build_requests, parse: parse }

//! Deribit perpetuals (inverse coin-margined `BTC-PERPETUAL`/`ETH-PERPETUAL` and linear
//! USDC-margined `…_USDC-PERPETUAL`) as a futures-collector exchange plugin.
//!
//! Owns: the plugin's static description ([`info`]: kinds, default base URL, Deribit's public
//! request budget as a rate-limit rule), and the wiring of its three entry points through
//! plugin-api's `export_plugin!` (panic containment lives there). `requests.rs` describes the
//! HTTP requests of each kind (one per settlement currency), `parse.rs` turns responses into
//! records, `model.rs` holds the wire types and `errors.rs` classifies failures (Deribit's
//! JSON-RPC error object, which plugin-kit's flat envelope cannot describe).
//! Must not: do I/O, read clocks, keep state between calls, or log: the host owns all of that.
//! A missing value is `RNone`, never 0; `rate_8h`/`rate_annualized` are left to the host.
//!
//! Funding on Deribit is continuous (exchange-notes §1.3, §11): there is no discrete settlement,
//! so funding records carry no `next_funding_ts`; `rate` is Deribit's `funding_8h` (the 8-hour
//! equivalent rate), `interval_hours` 8 with source `default`, and `extra.rate_figure` says so.

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

pub use errors::{open_result, RATE_LIMITED_CODE};
pub use parse::{
    parse, EXTRA_CURRENT_FUNDING, EXTRA_MAX_LEVERAGE, EXTRA_OI_BASE_DERIVED,
    EXTRA_OI_QUOTE_DERIVED, EXTRA_PRICE_INDEX, EXTRA_RATE_FIGURE, FUNDING_8H_FIGURE,
};
pub use requests::{
    build_requests, CURRENCIES, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS, PATH_BOOK_SUMMARY,
    PATH_INSTRUMENTS, PUBLIC_PREFIX, TAG_INSTRUMENTS_PREFIX, TAG_SUMMARY_PREFIX,
};

/// Deribit's currency renames in ccxt: none beyond ccxt's common ones (`XBT` → `BTC`).
pub const CURRENCY_RENAMES: &plugin_kit::symbols::Renames = &[];

/// Deribit's public budget as ccxt models it: 20 non-matching-engine requests per second
/// (exchange-notes §11.2; Deribit's own credit scheme refills at that pace).
const PUBLIC_REQUESTS_PER_WINDOW: u32 = 20;
const PUBLIC_WINDOW_MS: u64 = 1_000;

/// Default cadence of the kinds: instruments hourly, tickers every 5 s, funding every 30 s
/// (`funding_8h` is a rolling figure; a faster poll adds nothing).
const INSTRUMENTS_INTERVAL_MS: u64 = 3_600_000;
const TICKERS_INTERVAL_MS: u64 = 5_000;
const FUNDING_INTERVAL_MS: u64 = 30_000;
/// The figure published as `rate` is the 8-hour equivalent.
const FUNDING_FIGURE_HOURS: f64 = 8.0;

/// What this plugin is and what it can collect.
pub fn info() -> PluginInfo {
    PluginInfo {
        exchange_id: "deribit".into(),
        name: "Deribit perpetuals".into(),
        plugin_version: env!("CARGO_PKG_VERSION").into(),
        interface_version: INTERFACE_VERSION.into(),
        kinds: vec![
            kind(
                KIND_INSTRUMENTS,
                RecordKind::INSTRUMENT,
                INSTRUMENTS_INTERVAL_MS,
                false,
                "every perpetual, inverse and linear (public/get_instruments per settlement \
                 currency; dated futures skipped)",
            ),
            kind(
                KIND_TICKERS,
                RecordKind::TICKER,
                TICKERS_INTERVAL_MS,
                true,
                "last/bid/ask, mark, index, 24h volume and open interest of every perpetual \
                 (public/get_book_summary_by_currency, one request per settlement currency)",
            ),
            kind(
                KIND_FUNDING,
                RecordKind::FUNDING,
                FUNDING_INTERVAL_MS,
                true,
                "continuous funding: funding_8h as the 8 h-equivalent rate (interval default \
                 8 h, no settlement time), current_funding in extra \
                 (public/get_book_summary_by_currency per settlement currency)",
            ),
        ]
        .into(),
        default_base_url: "https://www.deribit.com".into(),
        rate_limits: vec![RateLimitRule {
            path_prefix: PUBLIC_PREFIX.into(),
            limit: PUBLIC_REQUESTS_PER_WINDOW,
            window_ms: PUBLIC_WINDOW_MS,
        }]
        .into(),
        default_funding_interval_hours: FUNDING_FIGURE_HOURS,
        extra: Default::default(),
    }
}

plugin_api::export_plugin! { info: info, build_requests: build_requests, parse: parse }

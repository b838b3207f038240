//! Bybit v5 adapter for USDT and USDC linear perpetuals (`category=linear`).
//!
//! Owns: everything Bybit-specific — which public v5 market endpoints answer each kind
//! (`requests.rs`), their wire format (`model.rs`), how rows map onto records, pagination and
//! skipped rows (`parse.rs`), and how failures are classified (`errors.rs`). This file holds the
//! static description ([`info`]) and the ABI export.
//! Must not: do I/O, read clocks, keep state between calls, log, or panic: the host executes the
//! requests (rate limits, retries, timeouts), keeps the instruments and hands them back in
//! `ctx`, and computes `rate_8h` / `rate_annualized`.
//!
//! The crate is also an `rlib`: its tests call [`info`], [`build_requests`] and [`parse`], the
//! functions [`plugin_api::export_plugin!`] wraps.

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

pub use parse::parse;
pub use requests::build_requests;

/// Bybit's own currency renames: none known (not checked against ccxt's bybit table yet);
/// ccxt's common renames (`XBT` → `BTC`, `BCHSV` → `BSV`) apply.
pub const CURRENCY_RENAMES: &plugin_kit::symbols::Renames = &[];

/// Exchange id, name, kinds, base URL and the documented IP limit.
pub fn info() -> PluginInfo {
    PluginInfo {
        exchange_id: "bybit".into(),
        name: "Bybit v5 linear perpetuals".into(),
        plugin_version: env!("CARGO_PKG_VERSION").into(),
        interface_version: INTERFACE_VERSION.into(),
        kinds: vec![
            kind(
                requests::KIND_INSTRUMENTS,
                RecordKind::INSTRUMENT,
                3_600_000,
                false,
                "USDT/USDC perpetuals from /v5/market/instruments-info (paginated)",
            ),
            kind(
                requests::KIND_TICKERS,
                RecordKind::TICKER,
                5_000,
                true,
                "prices, 24h volume and open interest from /v5/market/tickers",
            ),
            kind(
                requests::KIND_FUNDING,
                RecordKind::FUNDING,
                30_000,
                true,
                "funding rate and next funding time from /v5/market/tickers",
            ),
        ]
        .into(),
        default_base_url: "https://api.bybit.com".into(),
        // "No more than 600 requests in any 5-second window" per IP, all endpoints together.
        rate_limits: vec![RateLimitRule {
            path_prefix: "".into(),
            limit: 600,
            window_ms: 5_000,
        }]
        .into(),
        default_funding_interval_hours: 8.0,
        extra: Default::default(),
    }
}

plugin_api::export_plugin! { info: info, build_requests: build_requests, parse: parse }

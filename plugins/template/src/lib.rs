//! The template of an exchange adapter: copy `plugins/template/` to start one. It builds, loads
//! through `futures-collector plugins --dir`, and passes the kit's conformance suite except where
//! exchange-specific code is missing (`tests/conformance.rs` pins exactly which check fails).
//! Every place to fill in is marked `TODO(exchange)`.
//!
//! Owns: the plugin's static description ([`info`]: kinds, base URL, documented limits) and the
//! ABI export. `requests.rs` describes the requests of each kind, `model.rs` the wire rows,
//! `parse.rs` maps rows to records, `errors.rs` describes the error envelope and code table.
//! Must not: do I/O, read clocks (time is `ctx.now_ms`), keep state between calls, log, or
//! panic: the host executes requests, keeps the instruments, computes `rate_8h`/`rate_annualized`.
//! Not a default workspace member and never deployed.

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
pub use requests::{build_requests, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS};

/// The exchange's currency renames as ccxt has them (its `commonCurrencies` for this exchange;
/// exchange-notes errata 6 and 13). TODO(exchange): copy the exchange's own table.
pub const CURRENCY_RENAMES: &plugin_kit::symbols::Renames = &[];

/// The window of the exchange's documented limit. TODO(exchange): from its rate-limit docs.
const WINDOW_MS: u64 = 1_000;
/// Requests per window the exchange documents (per IP). TODO(exchange).
const REQUESTS_PER_WINDOW: u32 = 10;
/// Funding interval assumed when the exchange states none. TODO(exchange).
const DEFAULT_FUNDING_INTERVAL_HOURS: f64 = 8.0;

/// What this plugin is and what it can collect.
pub fn info() -> PluginInfo {
    let kind = |name: &str, emits, default_interval_ms, needs_instruments| {
        kind(
            name,
            emits,
            default_interval_ms,
            needs_instruments,
            &format!("{name} (template: not implemented)"),
        )
    };
    PluginInfo {
        exchange_id: "template".into(),
        name: "Template adapter (not an exchange)".into(),
        plugin_version: env!("CARGO_PKG_VERSION").into(),
        interface_version: INTERFACE_VERSION.into(),
        kinds: vec![
            kind(KIND_INSTRUMENTS, RecordKind::INSTRUMENT, 3_600_000, false),
            kind(KIND_TICKERS, RecordKind::TICKER, 5_000, true),
            kind(KIND_FUNDING, RecordKind::FUNDING, 30_000, true),
        ]
        .into(),
        default_base_url: "https://api.example.com".into(),
        // One rule per documented limit; every request path must start with one's prefix.
        rate_limits: vec![RateLimitRule {
            path_prefix: requests::PATH_PREFIX.into(),
            limit: REQUESTS_PER_WINDOW,
            window_ms: WINDOW_MS,
        }]
        .into(),
        default_funding_interval_hours: DEFAULT_FUNDING_INTERVAL_HOURS,
        extra: Default::default(),
    }
}

plugin_api::export_plugin! { info: info, build_requests: build_requests, parse: parse }

//! OKX perpetual swaps (`instType=SWAP`: linear USDT/USDC swaps and inverse USD swaps) as a
//! futures-collector exchange plugin.
//!
//! Owns: the plugin's static description ([`info`]: kinds, default base URL, OKX's documented
//! per-IP limits), and the wiring of its three entry points through plugin-api's
//! `export_plugin!` (panic containment lives there). `requests.rs` describes the HTTP requests
//! of each kind, `parse.rs` turns responses into records, `model.rs` holds the wire types and
//! `errors.rs` classifies failures.
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

pub use parse::{parse, EXTRA_INST_FAMILY, EXTRA_METHOD, EXTRA_RAW_STATUS, EXTRA_SETT_STATE};
pub use requests::{
    build_requests, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS, PATH_FUNDING_RATE,
    PATH_INDEX_TICKERS, PATH_INSTRUMENTS, PATH_MARK_PRICE, PATH_OPEN_INTEREST, PATH_TICKERS,
};

/// OKX's currency renames in ccxt (`commonCurrencies` of ccxt's okx, stored copy of
/// `ts/src/okx.ts`); ccxt's common renames (`XBT` → `BTC`, `BCHSV` → `BSV`) apply besides.
pub const CURRENCY_RENAMES: &plugin_kit::symbols::Renames = &[
    ("AE", "AET"),
    ("BOX", "DefiBox"),
    ("HOT", "Hydro Protocol"),
    ("HSR", "HC"),
    ("MAG", "Maggie"),
    ("SBTC", "Super Bitcoin"),
    ("TRADE", "Unitrade"),
    ("YOYO", "YOYOW"),
    ("WIN", "WinToken"),
];

/// OKX's window for every public REST limit: 2 seconds.
const WINDOW_MS: u64 = 2_000;

/// What this plugin is and what it can collect.
pub fn info() -> PluginInfo {
    // OKX v5 docs, per endpoint ("Rate Limit: N requests per 2 seconds", public = per IP).
    // funding-rate and mark-price are counted per IP + instrument ID by OKX; 10/2s per IP is
    // the conservative reading (it also bounds the per-instrument funding fallback).
    let limit = |path: &str, limit: u32| RateLimitRule {
        path_prefix: path.into(),
        limit,
        window_ms: WINDOW_MS,
    };
    PluginInfo {
        exchange_id: "okx".into(),
        name: "OKX perpetual swaps".into(),
        plugin_version: env!("CARGO_PKG_VERSION").into(),
        interface_version: INTERFACE_VERSION.into(),
        kinds: vec![
            kind(
                KIND_INSTRUMENTS,
                RecordKind::INSTRUMENT,
                3_600_000,
                false,
                "every perpetual swap, linear and inverse (public/instruments?instType=SWAP)",
            ),
            kind(
                KIND_TICKERS,
                RecordKind::TICKER,
                5_000,
                true,
                "last/bid/ask, 24h volume, mark, open interest and index for every swap \
                 (market/tickers, public/mark-price, public/open-interest, market/index-tickers)",
            ),
            kind(
                KIND_FUNDING,
                RecordKind::FUNDING,
                30_000,
                true,
                "current funding rate, settlement time, inferred interval, cap/floor of every \
                 swap (public/funding-rate?instId=ANY, per instrument if refused)",
            ),
        ]
        .into(),
        default_base_url: "https://www.okx.com".into(),
        rate_limits: vec![
            limit(PATH_INSTRUMENTS, 20),
            limit(PATH_TICKERS, 20),
            limit(PATH_FUNDING_RATE, 10),
            limit(PATH_MARK_PRICE, 10),
            limit(PATH_OPEN_INTEREST, 20),
            limit(PATH_INDEX_TICKERS, 20),
        ]
        .into(),
        default_funding_interval_hours: 8.0,
        extra: Default::default(),
    }
}

plugin_api::export_plugin! { info: info, build_requests: build_requests, parse: parse }

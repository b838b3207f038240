//! MEXC futures (the "contract" API: USDT-margined linear and coin-margined inverse perpetuals)
//! as a futures-collector exchange plugin.
//!
//! Owns: the plugin's static description ([`info`]: kinds, default base URL, MEXC's limits as
//! ccxt encodes them), and the wiring of its three entry points through plugin-api's
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

pub use parse::{
    parse, EXTRA_API_ALLOWED, EXTRA_OI_QUOTE_DERIVED, EXTRA_RAW_STATE, EXTRA_TICKER_FUNDING_RATE,
};
pub use requests::{
    build_requests, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS, PATH_CONTRACT, PATH_DETAIL,
    PATH_FUNDING_RATE, PATH_TICKER, WEIGHT_DETAIL, WEIGHT_FUNDING_RATE, WEIGHT_TICKER,
};

/// MEXC's currency renames in ccxt (`commonCurrencies` of the stored `ccxt/ccxt` MEXC table;
/// exchange-notes errata 13: MEXC keeps `XBT` as `XBT`, overriding ccxt's common `XBT` → `BTC`).
/// Check against the ccxt version you join with.
pub const CURRENCY_RENAMES: &plugin_kit::symbols::Renames = &[
    ("XBT", "XBT"),
    ("BEYONDPROTOCOL", "BEYOND"),
    ("BIFI", "BIFIF"),
    ("BYN", "BeyondFi"),
    ("COFI", "COFIX"),
    ("DFI", "DfiStarter"),
    ("DFT", "dFuture"),
    ("DRK", "DRK"),
    ("EGC", "Egoras Credit"),
    ("FLUX1", "FLUX"),
    ("FLUX", "FLUX1"),
    ("FREE", "FreeRossDAO"),
    ("GAS", "GASDAO"),
    ("GASNEO", "GAS"),
    ("GMT", "GMT Token"),
    ("STEPN", "GMT"),
    ("HERO", "Step Hero"),
    ("MIMO", "Mimosa"),
    ("PROS", "Pros.Finance"),
    ("SIN", "Sin City Token"),
    ("SOUL", "Soul Swap"),
];

/// ccxt's MEXC budget: `rateLimit` 50 ms per cost unit, i.e. 20 units per second
/// (`ccxt:mexc.py:37`); official per-endpoint numbers are UNCONFIRMED. Expressed over 10 s so
/// that `detail` (cost 100) fits inside one window.
const UNITS_PER_WINDOW: u32 = 200;
const WINDOW_MS: u64 = 10_000;

/// What this plugin is and what it can collect.
pub fn info() -> PluginInfo {
    PluginInfo {
        exchange_id: "mexc".into(),
        name: "MEXC futures (perpetual contracts)".into(),
        plugin_version: env!("CARGO_PKG_VERSION").into(),
        interface_version: INTERFACE_VERSION.into(),
        kinds: vec![
            kind(
                KIND_INSTRUMENTS,
                RecordKind::INSTRUMENT,
                3_600_000,
                false,
                "every visible perpetual contract, linear and inverse (contract/detail)",
            ),
            kind(
                KIND_TICKERS,
                RecordKind::TICKER,
                5_000,
                true,
                "last/bid/ask, fair (mark) and index price, 24h volume, open interest of every \
                 contract (contract/ticker)",
            ),
            kind(
                KIND_FUNDING,
                RecordKind::FUNDING,
                30_000,
                true,
                "current funding rate, next settlement, interval (collectCycle), cap and floor \
                 of every contract (contract/funding_rate)",
            ),
        ]
        .into(),
        default_base_url: "https://api.mexc.com".into(),
        rate_limits: vec![RateLimitRule {
            path_prefix: PATH_CONTRACT.into(),
            limit: UNITS_PER_WINDOW,
            window_ms: WINDOW_MS,
        }]
        .into(),
        default_funding_interval_hours: 8.0,
        extra: Default::default(),
    }
}

plugin_api::export_plugin! { info: info, build_requests: build_requests, parse: parse }

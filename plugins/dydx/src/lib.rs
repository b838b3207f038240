//! dYdX v4 perpetuals, read from the public indexer (`indexer.dydx.trade`, read-only, no auth),
//! as a futures-collector exchange plugin.
//!
//! Owns: the plugin's static description ([`info`]: kinds, default base URL, the indexer's
//! per-IP request budget as a rate-limit rule), and the wiring of its three entry points
//! through plugin-api's `export_plugin!` (panic containment lives there). `requests.rs`
//! describes the HTTP requests of each kind, `parse.rs` turns responses into records,
//! `model.rs` holds the wire types and `errors.rs` classifies failures (the indexer's
//! `{"errors":[{"msg":…}]}` bodies, which carry no code).
//! Must not: do I/O, read clocks, keep state between calls, or log: the host owns all of that.
//! A missing value is `RNone`, never 0; `rate_8h`/`rate_annualized` are left to the host.
//!
//! What dYdX does differently (exchange-notes §10, issue 22): every market is a USD-quoted,
//! USDC-settled perpetual that ccxt names `BTC/USDC:USDC`; one bulk call lists them as an
//! object keyed by ticker, with the oracle price but no last trade, no book and no base volume;
//! funding is hourly and `nextFundingRate` is the current hour's running estimate (`rate`); the
//! only time the indexer shows is an ISO-8601 block time (`/v4/height`).

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

use plugin_api::{
    KeyValue, PluginInfo, RateLimitRule, RecordKind, INFO_RETRY_AFTER_UNIT, INTERFACE_VERSION,
};
use plugin_kit::info::kind;

pub use errors::{open, rate_limit_wait_ms, HEADER_RATE_LIMIT_RESET, HEADER_RETRY_AFTER};
pub use parse::{
    next_full_hour, parse, status_word, CURRENT_HOUR_ESTIMATE, EXTRA_BLOCK_HEIGHT,
    EXTRA_CLOB_PAIR_ID, EXTRA_DEFAULT_RATE_1H, EXTRA_INITIAL_MARGIN_FRACTION, EXTRA_MARGIN_MODE,
    EXTRA_MARK_SOURCE, EXTRA_NEXT_FUNDING_TS_SOURCE, EXTRA_OI_QUOTE_DERIVED,
    EXTRA_PRICE_CHANGE_24H, EXTRA_RATE_FIGURE, EXTRA_RAW_STATUS, EXTRA_STEP_SIZE, EXTRA_TRADES_24H,
    FROM_BLOCK_TIME, FROM_RECEIVED_TS, FUNDING_INTERVAL_HOURS, ORACLE, QUOTE,
};
pub use requests::{
    build_requests, height_request, markets_request, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS,
    PATH_HEIGHT, PATH_MARKETS, PATH_PREFIX, TAG_HEIGHT, TAG_MARKETS,
};

/// dYdX's currency renames in ccxt: none (`commonCurrencies: {}` in ccxt 4.5.90 `dydx.py`);
/// ccxt's common renames (`XBT` → `BTC`, `BCHSV` → `BSV`) apply besides.
pub const CURRENCY_RENAMES: &plugin_kit::symbols::Renames = &[];

/// The indexer's budget: 100 requests per 10 s per IP (comlink's `RATE_LIMIT_GET_POINTS` and
/// `RATE_LIMIT_GET_DURATION_SECONDS` defaults; nautilus_trader's `DYDX_REST_QUOTA`;
/// exchange-notes §10.2).
const REQUESTS_PER_WINDOW: u32 = 100;
const WINDOW_MS: u64 = 10_000;

/// Default cadence of the kinds: instruments hourly, tickers every 5 s, funding every 30 s
/// (the running estimate moves with the premium samples, a faster poll adds little).
const INSTRUMENTS_INTERVAL_MS: u64 = 3_600_000;
const TICKERS_INTERVAL_MS: u64 = 5_000;
const FUNDING_INTERVAL_MS: u64 = 30_000;

/// What this plugin is and what it can collect.
pub fn info() -> PluginInfo {
    PluginInfo {
        exchange_id: "dydx".into(),
        name: "dYdX v4 perpetuals (indexer)".into(),
        plugin_version: env!("CARGO_PKG_VERSION").into(),
        interface_version: INTERFACE_VERSION.into(),
        kinds: vec![
            kind(
                KIND_INSTRUMENTS,
                RecordKind::INSTRUMENT,
                INSTRUMENTS_INTERVAL_MS,
                false,
                "every perpetual market, quote and settle USDC as ccxt names them \
                 (GET /v4/perpetualMarkets)",
            ),
            kind(
                KIND_TICKERS,
                RecordKind::TICKER,
                TICKERS_INTERVAL_MS,
                true,
                "oracle price as mark and index, 24h USD volume and open interest; no \
                 last/bid/ask in the bulk answer (GET /v4/perpetualMarkets + /v4/height for \
                 the block time)",
            ),
            kind(
                KIND_FUNDING,
                RecordKind::FUNDING,
                FUNDING_INTERVAL_MS,
                true,
                "hourly funding: nextFundingRate, the current hour's running estimate, \
                 settling at the next full hour (GET /v4/perpetualMarkets + /v4/height)",
            ),
        ]
        .into(),
        default_base_url: "https://indexer.dydx.trade".into(),
        rate_limits: vec![RateLimitRule {
            path_prefix: PATH_PREFIX.into(),
            limit: REQUESTS_PER_WINDOW,
            window_ms: WINDOW_MS,
        }]
        .into(),
        default_funding_interval_hours: FUNDING_INTERVAL_HOURS,
        // The indexer writes Retry-After in milliseconds; the host reads that header itself.
        extra: vec![KeyValue::new(INFO_RETRY_AFTER_UNIT, "ms")].into(),
    }
}

plugin_api::export_plugin! { info: info, build_requests: build_requests, parse: parse }

//! BingX perpetual swaps (the v2 USDT-M API, `open-api.bingx.com/openApi/swap/v2/…`) as a
//! futures-collector exchange plugin.
//!
//! Owns: the plugin's static description ([`info`]: kinds, default base URL, the rate-limit
//! rules that pace the per-symbol open-interest sweep inside the exchange's budget, ccxt's BingX
//! currency renames), and the wiring of its three entry points through plugin-api's
//! `export_plugin!` (panic containment lives there). `requests.rs` describes the HTTP requests
//! of each kind, `parse.rs` turns responses into records, `model.rs` holds the wire types and
//! `errors.rs` classifies failures.
//! Must not: do I/O, read clocks, keep state between calls, or log: the host owns all of that.
//! A missing value is `RNone`, never 0; `rate_8h`/`rate_annualized` are left to the host.
//!
//! Open interest is served per symbol only (exchange-notes §8.1): it is its own kind,
//! `open_interest`, one round of one request per perpetual (`requests.rs`), emitting partial
//! ticker records the host merges into the tickers. The round is paced by the host's rate
//! budget: its path has a rule of its own, listed FIRST and at half the exchange-wide rate, so
//! its queue waits there and the bulk kinds always find the other half of the budget free (the
//! host takes a request's rules in the order `info()` lists them).

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

pub use errors::{CODE_BUSY, CODE_RATE_LIMITED};
pub use parse::{parse, EXTRA_OI_BASE_DERIVED, EXTRA_RAW_STATUS};
pub use requests::{
    build_requests, open_interest, polls_open_interest, KIND_FUNDING, KIND_INSTRUMENTS,
    KIND_OPEN_INTEREST, KIND_TICKERS, OI_STATUSES, PATH_CONTRACTS, PATH_OPEN_INTEREST, PATH_PREFIX,
    PATH_PREMIUM_INDEX, PATH_TICKER, TAG_OPEN_INTEREST_PREFIX, WEIGHT,
};

/// BingX's currency renames in ccxt (`commonCurrencies` of ccxt's bingx as stored at
/// ccxt/ccxt 9a5dad7, read through the search tool; exchange-notes errata 13 names `OMNI`);
/// ccxt's common renames (`XBT` → `BTC`, `BCHSV` → `BSV`) apply besides. One lookup each:
/// `TRUMPSOL` → `TRUMP` is not renamed again to `TRUMPMAGA`. Check against the ccxt version
/// you join with.
pub const CURRENCY_RENAMES: &plugin_kit::symbols::Renames = &[
    ("SNOW", "Snowman"),
    ("OMNI", "OmniCat"),
    ("NAP", "$NAP"),
    ("TRUMP", "TRUMPMAGA"),
    ("TRUMPSOL", "TRUMP"),
];

/// The interval BingX applies when a premium-index row states none (older responses).
pub const DEFAULT_FUNDING_INTERVAL_HOURS: f64 = 8.0;

/// Every limit below is per second.
pub const WINDOW_MS: u64 = 1_000;
/// ccxt throttles BingX at one request per 100 ms (`rateLimit: 100`, cost 1 for every
/// `quote/*` endpoint; exchange-notes §8.2). BingX's official per-IP limit is UNCONFIRMED.
pub const REQUESTS_PER_SECOND: u32 = 10;
/// The open-interest sweep's own share: half the exchange-wide rate (our choice, not
/// BingX's), so tickers and funding never queue behind it.
pub const OPEN_INTEREST_PER_SECOND: u32 = 5;

/// Default cadence of the kinds: instruments hourly, tickers every 5 s, funding every 30 s,
/// the open-interest sweep every 5 min (~550 perpetuals take ~220 s at `rate_limit_share`
/// 0.5, whose 2.5 requests per second are the sweep's pace).
const INSTRUMENTS_INTERVAL_MS: u64 = 3_600_000;
const TICKERS_INTERVAL_MS: u64 = 5_000;
const FUNDING_INTERVAL_MS: u64 = 30_000;
const OPEN_INTEREST_INTERVAL_MS: u64 = 300_000;

/// What this plugin is and what it can collect.
pub fn info() -> PluginInfo {
    let per_second = |path_prefix: &str, limit: u32| RateLimitRule {
        path_prefix: path_prefix.into(),
        limit,
        window_ms: WINDOW_MS,
    };
    PluginInfo {
        exchange_id: "bingx".into(),
        name: "BingX USDT-M perpetual swaps".into(),
        plugin_version: env!("CARGO_PKG_VERSION").into(),
        interface_version: INTERFACE_VERSION.into(),
        kinds: vec![
            kind(
                KIND_INSTRUMENTS,
                RecordKind::INSTRUMENT,
                INSTRUMENTS_INTERVAL_MS,
                false,
                "every USDT-M perpetual (openApi/swap/v2/quote/contracts)",
            ),
            kind(
                KIND_TICKERS,
                RecordKind::TICKER,
                TICKERS_INTERVAL_MS,
                true,
                "last/bid/ask, 24h volume, mark and index of every perpetual (quote/ticker \
                 joined with quote/premiumIndex); open interest comes from open_interest",
            ),
            kind(
                KIND_FUNDING,
                RecordKind::FUNDING,
                FUNDING_INTERVAL_MS,
                true,
                "current funding rate, next funding time and fundingIntervalHours of every \
                 perpetual (quote/premiumIndex)",
            ),
            kind(
                KIND_OPEN_INTEREST,
                RecordKind::TICKER,
                OPEN_INTEREST_INTERVAL_MS,
                true,
                "open interest per perpetual (quote/openInterest?symbol=, one paced round), \
                 valued in USDT, base derived at the round's mark (quote/premiumIndex)",
            ),
        ]
        .into(),
        default_base_url: "https://open-api.bingx.com".into(),
        // Order matters: the host acquires a request's rules in this order, so the sweep
        // queues on its own rule before it takes its share of the exchange-wide one.
        rate_limits: vec![
            per_second(PATH_OPEN_INTEREST, OPEN_INTEREST_PER_SECOND),
            per_second(PATH_PREFIX, REQUESTS_PER_SECOND),
        ]
        .into(),
        default_funding_interval_hours: DEFAULT_FUNDING_INTERVAL_HOURS,
        extra: Default::default(),
    }
}

plugin_api::export_plugin! { info: info, build_requests: build_requests, parse: parse }

//! HTX (Huobi) USDT-margined linear perpetual swaps as a futures-collector exchange plugin.
//!
//! Owns: the plugin's static description ([`info`]: kinds, default base URL, the per-IP limits
//! as ccxt throttles them — HTX's official public limits are UNCONFIRMED in the notes), and the
//! wiring of its three entry points through plugin-api's `export_plugin!` (panic containment
//! lives there). `requests.rs` describes the HTTP requests of each kind, `parse.rs` turns
//! responses into records, `model.rs` holds the wire types and `errors.rs` classifies failures.
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

pub use errors::UNKNOWN_CONTRACT;
pub use parse::{parse, EXTRA_CONTRACT_STATUS, EXTRA_FUNDING_SOURCE, EXTRA_PAIR};
pub use requests::{
    build_requests, funding_request_v5, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS,
    LEGACY_PREFIX, MARKET_V2_PREFIX, PATH_BATCH_FUNDING, PATH_BATCH_MERGED, PATH_CONTRACT_INFO,
    PATH_OPEN_INTEREST, PATH_V5_FUNDING, V5_MARKET_PREFIX,
};

/// HTX's currency renames in ccxt (`commonCurrencies` of ccxt's huobi/htx, as in the stored
/// ccxt sources read through the search tool: the TypeScript `huobi.js` and a Python build
/// agree); ccxt's common renames (`XBT` → `BTC`, `BCHSV` → `BSV`) apply besides. Check against
/// the ccxt version you join with.
pub const CURRENCY_RENAMES: &plugin_kit::symbols::Renames = &[
    ("GET", "Themis"),
    ("GTC", "Game.com"),
    ("HIT", "HitChain"),
    ("HOT", "Hydro Protocol"),
    ("PNT", "Penta"),
    ("SBTC", "Super Bitcoin"),
    ("BIFI", "Bitcoin File"),
];

/// Every limit below is per second.
const WINDOW_MS: u64 = 1_000;
/// ccxt throttles HTX's legacy contract endpoints at 10 requests/s (`rateLimit: 100`, cost 1).
const LEGACY_PER_SECOND: u32 = 10;
/// ccxt's v5 market endpoints: cost 0.125 ⇒ 80 requests/s.
const V5_PER_SECOND: u32 = 80;

const INSTRUMENTS_INTERVAL_MS: u64 = 3_600_000;
const TICKERS_INTERVAL_MS: u64 = 5_000;
const FUNDING_INTERVAL_MS: u64 = 30_000;

/// What this plugin is and what it can collect.
pub fn info() -> PluginInfo {
    let limit = |path: &str, limit: u32| RateLimitRule {
        path_prefix: path.into(),
        limit,
        window_ms: WINDOW_MS,
    };
    PluginInfo {
        exchange_id: "htx".into(),
        name: "HTX USDT-margined perpetual swaps".into(),
        plugin_version: env!("CARGO_PKG_VERSION").into(),
        interface_version: INTERFACE_VERSION.into(),
        kinds: vec![
            kind(
                KIND_INSTRUMENTS,
                RecordKind::INSTRUMENT,
                INSTRUMENTS_INTERVAL_MS,
                false,
                "every USDT-margined perpetual swap (linear-swap-api/v1/swap_contract_info?\
                 business_type=swap; dated futures skipped)",
            ),
            kind(
                KIND_TICKERS,
                RecordKind::TICKER,
                TICKERS_INTERVAL_MS,
                true,
                "last/bid/ask, 24h volume and open interest of every swap (v2 batch_merged \
                 joined with swap_open_interest); HTX serves no bulk mark or index",
            ),
            kind(
                KIND_FUNDING,
                RecordKind::FUNDING,
                FUNDING_INTERVAL_MS,
                true,
                "current funding rate, settlement time and inferred interval of every swap \
                 (swap_batch_funding_rate; per swap from v5/market/funding_rate, with cap and \
                 floor, when the bulk endpoint is gone)",
            ),
        ]
        .into(),
        default_base_url: "https://api.hbdm.com".into(),
        rate_limits: vec![
            limit(LEGACY_PREFIX, LEGACY_PER_SECOND),
            limit(MARKET_V2_PREFIX, LEGACY_PER_SECOND),
            limit(V5_MARKET_PREFIX, V5_PER_SECOND),
        ]
        .into(),
        default_funding_interval_hours: 8.0,
        extra: Default::default(),
    }
}

plugin_api::export_plugin! { info: info, build_requests: build_requests, parse: parse }

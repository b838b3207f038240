//! KuCoin Futures perpetual contracts (linear USDT/USDC-margined `…USDTM`/`…USDCM` and inverse
//! coin-margined `…USDM`) as a futures-collector exchange plugin.
//!
//! Owns: the plugin's static description ([`info`]: kinds, default base URL, KuCoin's public
//! resource pool as a weighted rate-limit rule, ccxt's KuCoin currency renames), and the wiring
//! of its three entry points through plugin-api's `export_plugin!` (panic containment lives
//! there). `requests.rs` describes the HTTP requests of each kind, `parse.rs` turns responses
//! into records, `model.rs` holds the wire types and `errors.rs` classifies failures.
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
    parse, EXTRA_FUNDING_RATE_SYMBOL, EXTRA_OI_BASE_DERIVED, EXTRA_OI_QUOTE_DERIVED,
    EXTRA_RAW_STATUS,
};
pub use requests::{
    build_requests, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS, PATH_ALL_TICKERS,
    PATH_CONTRACTS_ACTIVE, PUBLIC_POOL_PREFIX, WEIGHT_ALL_TICKERS, WEIGHT_CONTRACTS_ACTIVE,
};

/// KuCoin's currency renames in ccxt (`commonCurrencies` of ccxt's kucoin, which kucoinfutures
/// inherits; exchange-notes §1.1 and errata 13); ccxt's common renames (`XBT` → `BTC`,
/// `BCHSV` → `BSV`) apply besides. `KALT` → `ALT` is not chained into `APTOSLAUNCHTOKEN`.
pub const CURRENCY_RENAMES: &plugin_kit::symbols::Renames = &[
    ("BIFI", "BIFIF"),
    ("VAI", "VAIOT"),
    ("WAX", "WAXP"),
    ("ALT", "APTOSLAUNCHTOKEN"),
    ("KALT", "ALT"),
];

/// KuCoin's rate-limit window: resource pools refill every 30 seconds.
const POOL_WINDOW_MS: u64 = 30_000;
/// The VIP0 "Public" pool: 2000 weight per 30 s per IP (kucoin.com/docs-new/rate-limit).
const PUBLIC_POOL_QUOTA: u32 = 2_000;

/// Default cadence of the kinds: instruments hourly, tickers every 5 s, funding every 30 s
/// (KuCoin recomputes the predicted rate every minute).
const INSTRUMENTS_INTERVAL_MS: u64 = 3_600_000;
const TICKERS_INTERVAL_MS: u64 = 5_000;
const FUNDING_INTERVAL_MS: u64 = 30_000;

/// What this plugin is and what it can collect.
pub fn info() -> PluginInfo {
    PluginInfo {
        exchange_id: "kucoinfutures".into(),
        name: "KuCoin Futures perpetual contracts".into(),
        plugin_version: env!("CARGO_PKG_VERSION").into(),
        interface_version: INTERFACE_VERSION.into(),
        kinds: vec![
            kind(
                KIND_INSTRUMENTS,
                RecordKind::INSTRUMENT,
                INSTRUMENTS_INTERVAL_MS,
                false,
                "every perpetual contract, linear and inverse (api/v1/contracts/active; dated \
                 futures skipped)",
            ),
            kind(
                KIND_TICKERS,
                RecordKind::TICKER,
                TICKERS_INTERVAL_MS,
                true,
                "last/bid/ask, mark, index, 24h volume and open interest of every perpetual \
                 (api/v1/contracts/active joined with api/v1/allTickers)",
            ),
            kind(
                KIND_FUNDING,
                RecordKind::FUNDING,
                FUNDING_INTERVAL_MS,
                true,
                "current and predicted funding rate, absolute next settlement, reported \
                 interval, cap/floor of every perpetual (api/v1/contracts/active)",
            ),
        ]
        .into(),
        default_base_url: "https://api-futures.kucoin.com".into(),
        // One pool for every public endpoint; requests carry KuCoin's weights.
        rate_limits: vec![RateLimitRule {
            path_prefix: PUBLIC_POOL_PREFIX.into(),
            limit: PUBLIC_POOL_QUOTA,
            window_ms: POOL_WINDOW_MS,
        }]
        .into(),
        default_funding_interval_hours: 8.0,
        extra: Default::default(),
    }
}

plugin_api::export_plugin! { info: info, build_requests: build_requests, parse: parse }

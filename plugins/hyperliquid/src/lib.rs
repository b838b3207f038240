//! Hyperliquid perpetuals (the main perp dex, USDC-settled) as a futures-collector exchange
//! plugin. Hyperliquid has no GET market-data API: every request is `POST /info` with a JSON
//! body naming the query (`{"type":"metaAndAssetCtxs"}`).
//!
//! Owns: the plugin's static description ([`info`]: kinds, default base URL, Hyperliquid's
//! documented per-IP weight budget), and the wiring of its three entry points through
//! plugin-api's `export_plugin!` (panic containment lives there). `requests.rs` describes the
//! POST bodies of each kind, `parse.rs` turns responses into records (the positional join of
//! `meta.universe` and `assetCtxs`), `model.rs` holds the wire types and `errors.rs` classifies
//! failures.
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
    parse, EXTRA_ASSET_INDEX, EXTRA_IMPACT_ASK, EXTRA_IMPACT_BID, EXTRA_MAX_LEVERAGE, EXTRA_MID_PX,
    EXTRA_OI_QUOTE_DERIVED, EXTRA_ONLY_ISOLATED, EXTRA_PREDICTED_PREFIX, EXTRA_PREMIUM,
    EXTRA_PREV_DAY_PX, EXTRA_RAW_STATUS, EXTRA_SZ_DECIMALS, EXTRA_TICK_SIZE_DERIVED,
    FUNDING_INTERVAL_HOURS,
};
pub use requests::{
    build_requests, info_request, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS, PATH_INFO,
    TAG_META, TAG_META_AND_ASSET_CTXS, TAG_PREDICTED_FUNDINGS, WEIGHT_INFO,
};

/// Hyperliquid's currency renames in ccxt: none known (the notes list none for Hyperliquid and
/// its `commonCurrencies` was not checked against a stored ccxt). ccxt's common renames (`XBT`
/// → `BTC`, `BCHSV` → `BSV`) apply besides; `k` prefixes are kept (`kPEPE` → `KPEPE`).
pub const CURRENCY_RENAMES: &plugin_kit::symbols::Renames = &[];

/// Hyperliquid's REST budget: 1200 weight per minute per IP, for every `/info` request
/// (hyperliquid.gitbook.io ... /rate-limits, exchange-notes §9.2).
const WEIGHT_PER_MINUTE: u32 = 1_200;
const MINUTE_MS: u64 = 60_000;

/// What this plugin is and what it can collect.
pub fn info() -> PluginInfo {
    PluginInfo {
        exchange_id: "hyperliquid".into(),
        name: "Hyperliquid perpetuals".into(),
        plugin_version: env!("CARGO_PKG_VERSION").into(),
        interface_version: INTERFACE_VERSION.into(),
        kinds: vec![
            kind(
                KIND_INSTRUMENTS,
                RecordKind::INSTRUMENT,
                3_600_000,
                false,
                "every perpetual of the main dex (POST /info {\"type\":\"meta\"}); HIP-3 \
                 builder dexes skipped",
            ),
            kind(
                KIND_TICKERS,
                RecordKind::TICKER,
                5_000,
                true,
                "mark, oracle (index), 24h base/quote volume, open interest, mid and impact \
                 prices (POST /info metaAndAssetCtxs, joined by position)",
            ),
            kind(
                KIND_FUNDING,
                RecordKind::FUNDING,
                30_000,
                true,
                "current hourly funding rate, next settlement and interval (POST /info \
                 metaAndAssetCtxs + predictedFundings)",
            ),
        ]
        .into(),
        default_base_url: "https://api.hyperliquid.xyz".into(),
        rate_limits: vec![RateLimitRule {
            path_prefix: PATH_INFO.into(),
            limit: WEIGHT_PER_MINUTE,
            window_ms: MINUTE_MS,
        }]
        .into(),
        default_funding_interval_hours: FUNDING_INTERVAL_HOURS,
        extra: Default::default(),
    }
}

plugin_api::export_plugin! { info: info, build_requests: build_requests, parse: parse }

//! Serde wire types for the dYdX v4 indexer answers this plugin reads: `/v4/perpetualMarkets`
//! (`{"markets":{"BTC-USD":{…},…}}`, an **object keyed by ticker**, not a list) and
//! `/v4/height` (`{"height":"…","time":"<ISO-8601>"}`), plus the error body
//! `{"errors":[{"msg":"…"}]}`.
//!
//! Owns: the shape of each answer, field names as the indexer spells them (camelCase, `24H`
//! suffixes), and which fields are required (`markets` must be an object of objects, or the
//! answer is the wrong shape: a `PARSE` error). Numbers are decimal strings (`trades24H` and
//! `atomicResolution` JSON numbers): plugin-kit's `opt_f64` takes both, and `""`, `null` and a
//! missing field stay `None`. Unknown fields are ignored: the indexer adds fields
//! (`openInterestLowerCap`, `defaultFundingRate1H`, …) without notice.
//! Must not: interpret values (statuses, timestamps, units): that is `parse`'s job.

use std::{borrow::Cow, collections::BTreeMap};

use plugin_kit::de::opt_f64;
use serde::Deserialize;

/// A string borrowed from the response body when it has no escapes.
pub type Str<'a> = Cow<'a, str>;

/// The answer of `/v4/perpetualMarkets`: every market under its ticker.
#[derive(Debug, Deserialize)]
pub struct PerpetualMarkets<'a> {
    #[serde(borrow)]
    pub markets: BTreeMap<String, MarketRow<'a>>,
}

/// One market of `perpetualMarkets` (ccxt dydx `parse_market`'s sample; exchange-notes §10.1).
#[derive(Debug, Deserialize)]
pub struct MarketRow<'a> {
    /// `BTC-USD`; the same as the object key.
    #[serde(borrow, default)]
    pub ticker: Option<Str<'a>>,
    /// `ACTIVE`, `PAUSED`, `CANCEL_ONLY`, `POST_ONLY`, `INITIALIZING`, `FINAL_SETTLEMENT`
    /// (the full list is UNCONFIRMED, exchange-notes §17).
    #[serde(borrow, default)]
    pub status: Option<Str<'a>>,
    #[serde(borrow, default, rename = "clobPairId")]
    pub clob_pair_id: Option<Str<'a>>,
    /// `CROSS` or `ISOLATED`.
    #[serde(borrow, default, rename = "marketType")]
    pub market_type: Option<Str<'a>>,
    /// The oracle price every margin and liquidation is computed with (USD).
    #[serde(default, deserialize_with = "opt_f64", rename = "oraclePrice")]
    pub oracle_price: Option<f64>,
    /// 24 h price change, absolute (USD).
    #[serde(default, deserialize_with = "opt_f64", rename = "priceChange24H")]
    pub price_change_24h: Option<f64>,
    /// 24 h traded notional in USD (quote), not base units.
    #[serde(default, deserialize_with = "opt_f64", rename = "volume24H")]
    pub volume_24h: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64", rename = "trades24H")]
    pub trades_24h: Option<f64>,
    /// The running estimate of the funding rate of the current hour (fraction per hour).
    #[serde(default, deserialize_with = "opt_f64", rename = "nextFundingRate")]
    pub next_funding_rate: Option<f64>,
    #[serde(
        default,
        deserialize_with = "opt_f64",
        rename = "initialMarginFraction"
    )]
    pub initial_margin_fraction: Option<f64>,
    /// Open interest in base units (one side).
    #[serde(default, deserialize_with = "opt_f64", rename = "openInterest")]
    pub open_interest: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64", rename = "tickSize")]
    pub tick_size: Option<f64>,
    /// The order size step in base units.
    #[serde(default, deserialize_with = "opt_f64", rename = "stepSize")]
    pub step_size: Option<f64>,
    /// The protocol's baseline hourly rate added to the premium.
    #[serde(default, deserialize_with = "opt_f64", rename = "defaultFundingRate1H")]
    pub default_funding_rate_1h: Option<f64>,
}

/// The answer of `/v4/height`: the latest block the indexer processed.
#[derive(Debug, Deserialize)]
pub struct Height<'a> {
    #[serde(borrow, default)]
    pub height: Option<Str<'a>>,
    /// ISO-8601 UTC with milliseconds: `2025-12-08T16:11:59.450Z`.
    #[serde(borrow, default)]
    pub time: Option<Str<'a>>,
}

/// The indexer's error body: `{"errors":[{"msg":"…", "param":…, "location":…}]}` (comlink's
/// `create4xxResponse` and express-validator's errors; exchange-notes §10.4 marks the body
/// UNCONFIRMED, the indexer's source shows this shape).
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub errors: Option<Vec<ErrorItem>>,
}

#[derive(Debug, Deserialize)]
pub struct ErrorItem {
    #[serde(default)]
    pub msg: Option<String>,
}

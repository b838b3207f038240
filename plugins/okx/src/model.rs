//! Serde wire types for the OKX v5 public endpoints this plugin reads.
//!
//! Owns: the shape of the rows inside each response's `data` (`errors.rs` describes the envelope),
//! field names as OKX spells them, and which fields are required (a row without `instId` is the
//! wrong shape, hence a `PARSE` error). Strings borrow from the response body (`Cow` falls back
//! to an owned copy only for JSON escapes); numbers and timestamps go through plugin-kit's
//! `opt_f64`/`opt_ts`, so `""`, `null` and a missing field stay `None`. Unknown fields are
//! ignored: OKX adds fields without notice.
//! Must not: interpret values (status words, contract types, conversions): that is `parse`'s job.

use std::borrow::Cow;

use plugin_kit::de::{opt_f64, opt_ts};
use serde::Deserialize;

/// A string borrowed from the response body when it has no escapes.
pub type Str<'a> = Cow<'a, str>;

/// One row of `GET /api/v5/public/instruments?instType=SWAP`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstrumentRow<'a> {
    #[serde(borrow)]
    pub inst_id: Str<'a>,
    /// `SWAP` (the request asks for nothing else).
    #[serde(borrow, default)]
    pub inst_type: Str<'a>,
    /// `BTC-USDT`, `BTC-USD`: also the index name.
    #[serde(borrow, default)]
    pub inst_family: Str<'a>,
    /// Underlying, same as `instFamily` for swaps (older field).
    #[serde(borrow, default)]
    pub uly: Str<'a>,
    /// `linear` or `inverse`; `""` on a listing announced but not yet configured.
    #[serde(borrow, default)]
    pub ct_type: Str<'a>,
    /// Contract value, in `ctValCcy` (base coin for linear, USD for inverse).
    #[serde(default, deserialize_with = "opt_f64")]
    pub ct_val: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub ct_mult: Option<f64>,
    #[serde(borrow, default)]
    pub ct_val_ccy: Str<'a>,
    #[serde(borrow, default)]
    pub settle_ccy: Str<'a>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub tick_sz: Option<f64>,
    /// `live`, `suspend`, `preopen`, `expired`, `test`.
    #[serde(borrow, default)]
    pub state: Str<'a>,
    #[serde(default, deserialize_with = "opt_ts")]
    pub list_time: Option<i64>,
    /// For swaps: the announced delisting time, `""` when none.
    #[serde(default, deserialize_with = "opt_ts")]
    pub exp_time: Option<i64>,
}

/// One row of `GET /api/v5/market/tickers?instType=SWAP`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TickerRow<'a> {
    #[serde(borrow)]
    pub inst_id: Str<'a>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub last: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub bid_px: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub ask_px: Option<f64>,
    /// 24h volume in contracts (derivatives).
    #[serde(default, deserialize_with = "opt_f64")]
    pub vol24h: Option<f64>,
    /// 24h volume in base currency (derivatives).
    #[serde(default, deserialize_with = "opt_f64")]
    pub vol_ccy24h: Option<f64>,
    #[serde(default, deserialize_with = "opt_ts")]
    pub ts: Option<i64>,
}

/// One row of `GET /api/v5/public/mark-price?instType=SWAP`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarkPriceRow<'a> {
    #[serde(borrow)]
    pub inst_id: Str<'a>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub mark_px: Option<f64>,
    #[serde(default, deserialize_with = "opt_ts")]
    pub ts: Option<i64>,
}

/// One row of `GET /api/v5/public/open-interest?instType=SWAP`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenInterestRow<'a> {
    #[serde(borrow)]
    pub inst_id: Str<'a>,
    /// Open interest in contracts.
    #[serde(default, deserialize_with = "opt_f64")]
    pub oi: Option<f64>,
    /// Open interest in base currency.
    #[serde(default, deserialize_with = "opt_f64")]
    pub oi_ccy: Option<f64>,
    #[serde(default, deserialize_with = "opt_ts")]
    pub ts: Option<i64>,
}

/// One row of `GET /api/v5/market/index-tickers?quoteCcy=...`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexTickerRow<'a> {
    /// The index name, e.g. `BTC-USDT`: a swap's `instFamily`.
    #[serde(borrow)]
    pub inst_id: Str<'a>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub idx_px: Option<f64>,
}

/// One row of `GET /api/v5/public/funding-rate?instId=...`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FundingRow<'a> {
    #[serde(borrow)]
    pub inst_id: Str<'a>,
    /// Rate of the current period, settled at `fundingTime`.
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding_rate: Option<f64>,
    #[serde(default, deserialize_with = "opt_ts")]
    pub funding_time: Option<i64>,
    #[serde(default, deserialize_with = "opt_ts")]
    pub next_funding_time: Option<i64>,
    /// Forecast for the period after the current one; `""` when OKX gives none.
    #[serde(default, deserialize_with = "opt_f64")]
    pub next_funding_rate: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub max_funding_rate: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub min_funding_rate: Option<f64>,
    /// `current_period` or `next_period`.
    #[serde(borrow, default)]
    pub method: Str<'a>,
    /// `processing` or `settled`.
    #[serde(borrow, default)]
    pub sett_state: Str<'a>,
    #[serde(default, deserialize_with = "opt_ts")]
    pub ts: Option<i64>,
}

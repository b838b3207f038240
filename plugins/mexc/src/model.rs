//! Serde wire types for the MEXC contract endpoints this plugin reads.
//!
//! Owns: the shape of the rows inside each response's `data` (`errors.rs` describes the
//! envelope), field names as MEXC spells them, and which fields are required (a row without
//! `symbol` is the wrong shape, hence a `PARSE` error). MEXC sends **JSON numbers** (floats and
//! integers), not strings: plugin-kit's `opt_f64`/`opt_ts` take numbers and strings alike, and
//! `""`, `null` and a missing field stay `None`. Unknown fields are ignored.
//! Must not: interpret values (states, contract types, conversions): that is `parse`'s job.

use std::borrow::Cow;

use plugin_kit::de::{opt_f64, opt_ts};
use serde::Deserialize;

/// A string borrowed from the response body when it has no escapes.
pub type Str<'a> = Cow<'a, str>;

/// One row of `GET /api/v1/contract/detail`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetailRow<'a> {
    /// `BTC_USDT` (linear), `BTC_USD` (inverse).
    #[serde(borrow)]
    pub symbol: Str<'a>,
    #[serde(borrow, default)]
    pub base_coin: Str<'a>,
    #[serde(borrow, default)]
    pub quote_coin: Str<'a>,
    #[serde(borrow, default)]
    pub settle_coin: Str<'a>,
    /// Base units per contract (linear); USD per contract (inverse, UNCONFIRMED).
    #[serde(default, deserialize_with = "opt_f64")]
    pub contract_size: Option<f64>,
    /// The price tick.
    #[serde(default, deserialize_with = "opt_f64")]
    pub price_unit: Option<f64>,
    /// 0 enabled, 1 delivery, 2 completed, 3 offline, 4 pause (`ccxt:mexc.py:1420`).
    #[serde(default, deserialize_with = "opt_f64")]
    pub state: Option<f64>,
    #[serde(default)]
    pub is_hidden: Option<bool>,
    #[serde(default)]
    pub api_allowed: Option<bool>,
    /// 1 perpetual, 2 delivery (UNCONFIRMED: exchange-notes §17); absent in the recordings.
    #[serde(default, deserialize_with = "opt_f64")]
    pub future_type: Option<f64>,
    /// When the contract opened (ms; UNCONFIRMED field, read when present).
    #[serde(default, deserialize_with = "opt_ts")]
    pub opening_time: Option<i64>,
}

/// One row of `GET /api/v1/contract/ticker` (no `symbol`: every contract).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TickerRow<'a> {
    #[serde(borrow)]
    pub symbol: Str<'a>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub last_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub bid1: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub ask1: Option<f64>,
    /// 24h volume in contracts.
    #[serde(default, deserialize_with = "opt_f64")]
    pub volume24: Option<f64>,
    /// 24h turnover in the settle currency (quote for linear contracts).
    #[serde(default, deserialize_with = "opt_f64")]
    pub amount24: Option<f64>,
    /// Open interest in contracts.
    #[serde(default, deserialize_with = "opt_f64")]
    pub hold_vol: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub index_price: Option<f64>,
    /// The mark price.
    #[serde(default, deserialize_with = "opt_f64")]
    pub fair_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding_rate: Option<f64>,
    #[serde(default, deserialize_with = "opt_ts")]
    pub timestamp: Option<i64>,
}

/// One row of `GET /api/v1/contract/funding_rate` (no symbol: every contract).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FundingRow<'a> {
    #[serde(borrow)]
    pub symbol: Str<'a>,
    /// The rate of the current period, settled at `nextSettleTime`.
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding_rate: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub max_funding_rate: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub min_funding_rate: Option<f64>,
    /// The funding interval in **hours**.
    #[serde(default, deserialize_with = "opt_f64")]
    pub collect_cycle: Option<f64>,
    #[serde(default, deserialize_with = "opt_ts")]
    pub next_settle_time: Option<i64>,
    #[serde(default, deserialize_with = "opt_ts")]
    pub timestamp: Option<i64>,
}

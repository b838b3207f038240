//! Serde wire types for the HTX public endpoints this plugin reads.
//!
//! Owns: the shape of the rows inside each response's payload (`errors.rs` describes the
//! envelopes), field names as HTX spells them, and which fields are required (a row without
//! `contract_code` is the wrong shape, hence a `PARSE` error). HTX mixes JSON numbers (v1) and
//! strings (v2 `batch_merged`, timestamps); plugin-kit's `opt_f64`/`opt_ts` accept both, and
//! `null`, `""` or a missing field stay `None`. Unknown fields are ignored.
//! Must not: interpret values (contract types, settlement times, units): that is `parse`'s job.

use std::borrow::Cow;

use plugin_kit::de::{opt_f64, opt_ts};
use serde::Deserialize;

/// A string borrowed from the response body when it has no escapes.
pub type Str<'a> = Cow<'a, str>;

/// One row of `GET /linear-swap-api/v1/swap_contract_info`.
#[derive(Debug, Deserialize)]
pub struct ContractRow<'a> {
    /// `BTC-USDT`; dated futures `BTC-USDT-211203`.
    #[serde(borrow)]
    pub contract_code: Str<'a>,
    /// The base coin (`BTC`).
    #[serde(borrow, default)]
    pub symbol: Str<'a>,
    /// `BTC-USDT`.
    #[serde(borrow, default)]
    pub pair: Str<'a>,
    /// Base coin per contract.
    #[serde(default, deserialize_with = "opt_f64")]
    pub contract_size: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub price_tick: Option<f64>,
    /// 1 = trading (see `parse::normalize_status`).
    #[serde(default, deserialize_with = "opt_f64")]
    pub contract_status: Option<f64>,
    /// `swap` or `futures`.
    #[serde(borrow, default)]
    pub business_type: Str<'a>,
    /// `swap`, `this_week`, `next_week`, `quarter`, `next_quarter`.
    #[serde(borrow, default)]
    pub contract_type: Str<'a>,
    /// `""` on swaps, `YYYYMMDD` on dated futures.
    #[serde(borrow, default)]
    pub delivery_date: Str<'a>,
    /// Listing day, `YYYYMMDD`.
    #[serde(borrow, default)]
    pub create_date: Str<'a>,
}

/// `[price, size]` of a best bid or ask; either may be a number or a string. The size (in
/// contracts) is read so that a level is a pair, and not mapped (records carry no sizes).
#[derive(Debug, Deserialize)]
pub struct Level(
    #[serde(deserialize_with = "opt_f64")] pub Option<f64>,
    #[allow(dead_code)]
    #[serde(deserialize_with = "opt_f64")]
    Option<f64>,
);

/// One row of `GET /v2/linear-swap-ex/market/detail/batch_merged` (`ticks`).
#[derive(Debug, Deserialize)]
pub struct TickRow<'a> {
    #[serde(borrow)]
    pub contract_code: Str<'a>,
    #[serde(borrow, default)]
    pub business_type: Str<'a>,
    /// Last price.
    #[serde(default, deserialize_with = "opt_f64")]
    pub close: Option<f64>,
    #[serde(default)]
    pub bid: Option<Level>,
    #[serde(default)]
    pub ask: Option<Level>,
    /// 24 h volume in the base coin.
    #[serde(default, deserialize_with = "opt_f64")]
    pub amount: Option<f64>,
    /// 24 h volume in contracts.
    #[serde(default, deserialize_with = "opt_f64")]
    pub number_of: Option<f64>,
    /// 24 h turnover in the quote (absent from the recorded docs example).
    #[serde(default, deserialize_with = "opt_f64")]
    pub trade_turnover: Option<f64>,
    /// Contracts per ccxt and §7, the quote turnover in the recorded example (errata 9).
    #[serde(default, deserialize_with = "opt_f64")]
    pub vol: Option<f64>,
    #[serde(default, deserialize_with = "opt_ts")]
    pub ts: Option<i64>,
}

/// One row of `GET /linear-swap-api/v1/swap_open_interest`.
#[derive(Debug, Deserialize)]
pub struct OpenInterestRow<'a> {
    #[serde(borrow)]
    pub contract_code: Str<'a>,
    #[serde(borrow, default)]
    pub business_type: Str<'a>,
    /// Base coin.
    #[serde(default, deserialize_with = "opt_f64")]
    pub amount: Option<f64>,
    /// Quote currency.
    #[serde(default, deserialize_with = "opt_f64")]
    pub value: Option<f64>,
}

/// One row of the legacy `swap_batch_funding_rate` or of `v5/market/funding_rate`.
#[derive(Debug, Deserialize)]
pub struct FundingRow<'a> {
    #[serde(borrow)]
    pub contract_code: Str<'a>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding_rate: Option<f64>,
    /// A settlement time (ms string); see `parse::settlement` for which one.
    #[serde(default, deserialize_with = "opt_ts")]
    pub funding_time: Option<i64>,
    #[serde(default, deserialize_with = "opt_ts")]
    pub next_funding_time: Option<i64>,
    /// v5 only.
    #[serde(default, deserialize_with = "opt_f64")]
    pub max_funding_rate: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub min_funding_rate: Option<f64>,
}

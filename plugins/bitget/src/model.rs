//! Serde wire types for the Bitget v2 mix market responses this plugin reads.
//!
//! Owns: the rows inside `data` (`errors.rs` describes the envelope around it) of
//! `/api/v2/mix/market/contracts`, `/tickers` and `/current-fund-rate`, borrowing strings from
//! the body.
//! Must not: interpret values (units, zero-means-absent, status words): that is `parse.rs`.
//! Unknown JSON fields are ignored; every value field is optional, so a missing field stays
//! `None` and never turns into 0. Bitget writes numbers and timestamps as strings; the kit's
//! helpers also take JSON numbers, `""` and `null`.

use plugin_kit::de::{opt_f64, opt_ts};
use serde::Deserialize;

/// One row of `contracts?productType=…` (perpetual and delivery contracts).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContractRow<'a> {
    #[serde(borrow)]
    pub symbol: &'a str,
    #[serde(borrow, default)]
    pub base_coin: Option<&'a str>,
    #[serde(borrow, default)]
    pub quote_coin: Option<&'a str>,
    /// Margin (settle) coins: `["USDT"]`.
    #[serde(borrow, default)]
    pub support_margin_coins: Option<Vec<&'a str>>,
    /// The last digit step of a price: tick = `priceEndStep` × 10^-`pricePlace`.
    #[serde(default, deserialize_with = "opt_f64")]
    pub price_end_step: Option<f64>,
    /// Price decimals.
    #[serde(default, deserialize_with = "opt_f64")]
    pub price_place: Option<f64>,
    /// `perpetual` or `delivery`.
    #[serde(borrow, default)]
    pub symbol_type: Option<&'a str>,
    /// `normal`, `listed`, `maintain`, `limit_open`, `restrictedAPI`, `off`.
    #[serde(borrow, default)]
    pub symbol_status: Option<&'a str>,
    /// Delisting time (ms); `"-1"` = none.
    #[serde(default, deserialize_with = "opt_ts")]
    pub off_time: Option<i64>,
    /// Delivery time (ms) of a dated contract; `""` on perpetuals.
    #[serde(default, deserialize_with = "opt_ts")]
    pub delivery_time: Option<i64>,
    #[serde(default, deserialize_with = "opt_ts")]
    pub launch_time: Option<i64>,
    /// Funding interval in hours (a string: `"8"`).
    #[serde(default, deserialize_with = "opt_f64")]
    pub fund_interval: Option<f64>,
}

/// One row of `tickers?productType=…`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TickerRow<'a> {
    #[serde(borrow)]
    pub symbol: &'a str,
    #[serde(default, deserialize_with = "opt_f64")]
    pub last_pr: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub bid_pr: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub ask_pr: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub mark_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub index_price: Option<f64>,
    /// 24 h volume in the base coin.
    #[serde(default, deserialize_with = "opt_f64")]
    pub base_volume: Option<f64>,
    /// 24 h turnover in the quote coin.
    #[serde(default, deserialize_with = "opt_f64")]
    pub quote_volume: Option<f64>,
    /// Open interest in the base coin (UNCONFIRMED unit: Bitget docs, exchange-notes §3.1).
    #[serde(default, deserialize_with = "opt_f64")]
    pub holding_amount: Option<f64>,
    /// Ticker time (ms, a string); `"0"` is absent.
    #[serde(default, deserialize_with = "opt_ts")]
    pub ts: Option<i64>,
    /// Set (ms) on dated delivery rows, `null` on perpetuals.
    #[serde(default, deserialize_with = "opt_ts")]
    pub delivery_time: Option<i64>,
}

/// One row of `current-fund-rate?productType=…` (no `symbol`: every contract).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FundRateRow<'a> {
    #[serde(borrow)]
    pub symbol: &'a str,
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding_rate: Option<f64>,
    /// Hours (a string: `"8"`).
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding_rate_interval: Option<f64>,
    /// When the current rate settles (ms).
    #[serde(default, deserialize_with = "opt_ts")]
    pub next_update: Option<i64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub min_funding_rate: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub max_funding_rate: Option<f64>,
}

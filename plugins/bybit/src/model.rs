//! Serde wire types for the Bybit v5 market responses this plugin reads.
//!
//! Owns: the shape of the `result` (`errors.rs` describes the envelope around it) and the rows of
//! `/v5/market/instruments-info` and `/v5/market/tickers`, borrowing strings from the body.
//! Must not: interpret values (units, zero-means-absent, status words): that is `parse.rs`.
//! Unknown JSON fields are ignored; every value field is optional, so a missing field stays
//! `None` and never turns into 0.

use plugin_kit::de::{opt_f64, opt_ts};
use serde::Deserialize;

/// `result` of `/v5/market/instruments-info`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InstrumentsResult<'a> {
    #[serde(borrow)]
    pub list: Vec<InstrumentRow<'a>>,
    /// Owned: an opaque token that goes back into a query, so JSON escapes must not fail it.
    #[serde(default)]
    pub next_page_cursor: Option<String>,
}

/// One row of `instruments-info?category=linear` (USDT/USDC perpetuals and dated futures).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InstrumentRow<'a> {
    #[serde(borrow)]
    pub symbol: &'a str,
    /// `LinearPerpetual`, `LinearFutures`.
    #[serde(borrow, default)]
    pub contract_type: Option<&'a str>,
    /// `PreLaunch`, `Trading`, `Delivering`, `Closed`.
    #[serde(borrow, default)]
    pub status: Option<&'a str>,
    #[serde(borrow, default)]
    pub base_coin: Option<&'a str>,
    #[serde(borrow, default)]
    pub quote_coin: Option<&'a str>,
    #[serde(borrow, default)]
    pub settle_coin: Option<&'a str>,
    #[serde(default, deserialize_with = "opt_ts")]
    pub launch_time: Option<i64>,
    /// Dated futures: delivery time; perpetuals: delisting time ("0" when none).
    #[serde(default, deserialize_with = "opt_ts")]
    pub delivery_time: Option<i64>,
    #[serde(default)]
    pub price_filter: Option<PriceFilter>,
    /// Funding interval in minutes (60, 240, 480), a JSON integer.
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding_interval: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub upper_funding_rate: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub lower_funding_rate: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PriceFilter {
    #[serde(default, deserialize_with = "opt_f64")]
    pub tick_size: Option<f64>,
}

/// `result` of `/v5/market/tickers`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TickersResult<'a> {
    #[serde(borrow)]
    pub list: Vec<TickerRow<'a>>,
}

/// One row of `/v5/market/tickers?category=linear`. Linear: `volume24h` and `openInterest` are
/// in base coin, `turnover24h` and `openInterestValue` in quote coin. Inverse (same endpoint with
/// `category=inverse`): `volume24h`/`openInterest` are in USD contracts, `turnover24h` and
/// `openInterestValue` in the base coin.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TickerRow<'a> {
    #[serde(borrow)]
    pub symbol: &'a str,
    #[serde(default, deserialize_with = "opt_f64")]
    pub last_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub bid1_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub ask1_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub mark_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub index_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub volume24h: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub turnover24h: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub open_interest: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub open_interest_value: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding_rate: Option<f64>,
    #[serde(default, deserialize_with = "opt_ts")]
    pub next_funding_time: Option<i64>,
}

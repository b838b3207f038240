//! Serde wire types for the Gate APIv4 futures responses this plugin reads.
//!
//! Owns: the rows of `/futures/usdt/contracts` and `/futures/usdt/tickers` (bare JSON arrays),
//! borrowing strings from the body.
//! Must not: interpret values (units, zero-means-absent, status words): that is `parse.rs`.
//! Unknown JSON fields are ignored; every value field is optional, so a missing field stays
//! `None` and never turns into 0. Gate writes prices and rates as strings, times and the
//! funding interval as integers in **seconds**, sizes as integers or (with
//! `X-Gate-Size-Decimal: 1`) decimal strings; `"nan"` is not a number (absent).

use plugin_kit::de::opt_f64;
use serde::Deserialize;

/// One row of `/futures/usdt/contracts`: the instrument and its funding state.
#[derive(Debug, Deserialize)]
pub(crate) struct ContractRow<'a> {
    /// `BTC_USDT`.
    #[serde(borrow)]
    pub name: &'a str,
    /// `direct` (linear) or `inverse`.
    #[serde(borrow, default, rename = "type")]
    pub contract_type: Option<&'a str>,
    /// Base units per contract (the contract size).
    #[serde(default, deserialize_with = "opt_f64")]
    pub quanto_multiplier: Option<f64>,
    /// Price tick.
    #[serde(default, deserialize_with = "opt_f64")]
    pub order_price_round: Option<f64>,
    /// `trading`, `delisting`, `delisted`, `prelaunch`, … (newer responses).
    #[serde(borrow, default)]
    pub status: Option<&'a str>,
    #[serde(default)]
    pub in_delisting: Option<bool>,
    #[serde(default)]
    pub is_pre_market: Option<bool>,
    /// Seconds.
    #[serde(default, deserialize_with = "opt_f64")]
    pub create_time: Option<f64>,
    /// Seconds (newer responses; `create_time` otherwise).
    #[serde(default, deserialize_with = "opt_f64")]
    pub launch_time: Option<f64>,
    /// Seconds (newer responses, only when a delisting is scheduled).
    #[serde(default, deserialize_with = "opt_f64")]
    pub delisting_time: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub mark_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub index_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding_rate: Option<f64>,
    /// The indicative rate (ccxt's `nextFundingRate`).
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding_rate_indicative: Option<f64>,
    /// Seconds (28800 = 8 h).
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding_interval: Option<f64>,
    /// Seconds: when the current rate settles.
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding_next_apply: Option<f64>,
    /// The absolute funding-rate limit (newer responses); its exact meaning is UNCONFIRMED.
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding_rate_limit: Option<f64>,
}

/// One row of `/futures/usdt/tickers`.
#[derive(Debug, Deserialize)]
pub(crate) struct TickerRow<'a> {
    /// `BTC_USDT`.
    #[serde(borrow)]
    pub contract: &'a str,
    #[serde(default, deserialize_with = "opt_f64")]
    pub last: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub highest_bid: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub lowest_ask: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub mark_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub index_price: Option<f64>,
    /// Open interest in **contracts**.
    #[serde(default, deserialize_with = "opt_f64")]
    pub total_size: Option<f64>,
    /// 24 h volume in the base coin.
    #[serde(default, deserialize_with = "opt_f64")]
    pub volume_24h_base: Option<f64>,
    /// 24 h turnover in the quote currency.
    #[serde(default, deserialize_with = "opt_f64")]
    pub volume_24h_quote: Option<f64>,
}

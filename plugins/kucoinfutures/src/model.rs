//! Serde wire types for the KuCoin Futures public endpoints this plugin reads.
//!
//! Owns: the shape of the rows inside each response's `data` (`errors.rs` describes the
//! envelope), field names as KuCoin spells them, and which fields are required (a row without
//! `symbol` is the wrong shape, hence a `PARSE` error). Numbers go through plugin-kit's
//! `opt_f64`/`opt_ts`: KuCoin mixes JSON numbers (`markPrice`) with strings (`openInterest`,
//! the tickers' prices), and `null`, `""` or a missing field stay `None`. Unknown fields are
//! ignored: KuCoin adds fields without notice.
//! Must not: interpret values (units, countdowns, contract types): that is `parse`'s job.

use plugin_kit::de::{opt_f64, opt_ts};
use std::borrow::Cow;
use std::fmt;

use serde::{
    de::{self, Visitor},
    Deserialize, Deserializer,
};

/// A string borrowed from the response body when it has no escapes.
pub type Str<'a> = Cow<'a, str>;

/// A string field KuCoin may also send as `null` (`type`, `status`, currencies): `null` is the
/// empty string, i.e. absent, instead of failing the whole body.
fn nullable_str<'de, D: Deserializer<'de>>(d: D) -> Result<Str<'de>, D::Error> {
    struct Text;
    impl<'de> Visitor<'de> for Text {
        type Value = Str<'de>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or null")
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_owned()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(""))
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(""))
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }
    d.deserialize_any(Text)
}

/// One row of `GET /api/v1/contracts/active`: instrument, 24 h stats and funding in one.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContractRow<'a> {
    /// `XBTUSDTM`, `XBTUSDM`, `XBTMZ25`.
    #[serde(borrow)]
    pub symbol: Str<'a>,
    /// `FFWCSX` perpetual; dated futures another code (`FFICSX`).
    #[serde(borrow, default, rename = "type", deserialize_with = "nullable_str")]
    pub contract_type: Str<'a>,
    /// Expiry (ms) of a dated future; `null` on perpetuals.
    #[serde(default, deserialize_with = "opt_ts")]
    pub expire_date: Option<i64>,
    #[serde(default, deserialize_with = "opt_ts")]
    pub first_open_date: Option<i64>,
    /// `XBT` for bitcoin (ccxt renames it `BTC`).
    #[serde(borrow, default, deserialize_with = "nullable_str")]
    pub base_currency: Str<'a>,
    #[serde(borrow, default, deserialize_with = "nullable_str")]
    pub quote_currency: Str<'a>,
    #[serde(borrow, default, deserialize_with = "nullable_str")]
    pub settle_currency: Str<'a>,
    /// Contract size: base per contract (linear); negative USD per contract on inverse
    /// contracts (`-1`): its absolute value is the size.
    #[serde(default, deserialize_with = "opt_f64")]
    pub multiplier: Option<f64>,
    #[serde(default)]
    pub is_inverse: Option<bool>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub tick_size: Option<f64>,
    /// `Open`; anything else is not trading.
    #[serde(borrow, default, deserialize_with = "nullable_str")]
    pub status: Str<'a>,
    /// The funding index (`.XBTUSDTMFPI8H`).
    #[serde(borrow, default, deserialize_with = "nullable_str")]
    pub funding_rate_symbol: Str<'a>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub mark_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub index_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub last_trade_price: Option<f64>,
    /// Open interest in contracts, as a string.
    #[serde(default, deserialize_with = "opt_f64")]
    pub open_interest: Option<f64>,
    /// 24 h volume: base coin on linear contracts, USD (contracts) on inverse ones.
    #[serde(default, deserialize_with = "opt_f64")]
    pub volume_of24h: Option<f64>,
    /// 24 h turnover: quote on linear contracts, the coin on inverse ones.
    #[serde(default, deserialize_with = "opt_f64")]
    pub turnover_of24h: Option<f64>,
    /// Rate of the current period.
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding_fee_rate: Option<f64>,
    /// KuCoin's estimate for the next period.
    #[serde(default, deserialize_with = "opt_f64")]
    pub predicted_funding_fee_rate: Option<f64>,
    /// Funding interval in ms (newer responses).
    #[serde(default, deserialize_with = "opt_ts")]
    pub funding_rate_granularity: Option<i64>,
    /// Interval of the running period in ms, when it differs from a scheduled change.
    #[serde(default, deserialize_with = "opt_ts")]
    pub current_funding_rate_granularity: Option<i64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding_rate_cap: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding_rate_floor: Option<f64>,
    /// Absolute time (ms) of the next settlement (newer responses).
    #[serde(default, deserialize_with = "opt_ts")]
    pub next_funding_rate_date_time: Option<i64>,
    /// A COUNTDOWN in ms to the next settlement, not a timestamp; `null` on dated futures.
    /// Not `opt_ts`: a countdown of 0 (settling now) is a value.
    #[serde(default, deserialize_with = "opt_f64")]
    pub next_funding_rate_time: Option<f64>,
}

/// One row of `GET /api/v1/allTickers`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TickerRow<'a> {
    #[serde(borrow)]
    pub symbol: Str<'a>,
    /// Last trade price.
    #[serde(default, deserialize_with = "opt_f64")]
    pub price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub best_bid_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub best_ask_price: Option<f64>,
    /// NANOseconds (a JSON integer past 2^53: read as an integer, never through `f64`).
    #[serde(default, deserialize_with = "opt_ts")]
    pub ts: Option<i64>,
}

//! Serde wire types for the BitMEX public endpoint this plugin reads.
//!
//! Owns: the shape of one row of `GET /api/v1/instrument/active` (a top-level JSON array),
//! field names as BitMEX spells them, and which fields are required (a row without `symbol` is
//! the wrong shape, hence a `PARSE` error). Numbers are JSON numbers read through plugin-kit's
//! `opt_f64` (`null`, `""` or a missing field stay `None`); times are ISO-8601 strings kept as
//! text here. Unknown fields are ignored: BitMEX rows carry ~100 fields and add more.
//! Must not: interpret values (units, minor-unit scaling, the date-encoded interval): that is
//! `parse`'s job.

use plugin_kit::de::opt_f64;
use std::borrow::Cow;
use std::fmt;

use serde::{
    de::{self, Visitor},
    Deserialize, Deserializer,
};

/// A string borrowed from the response body when it has no escapes.
pub type Str<'a> = Cow<'a, str>;

/// A string field BitMEX may send as `null` (`expiry`, `fundingInterval` on futures): `null` is
/// the empty string, i.e. absent, instead of failing the whole body.
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

/// One row of `GET /api/v1/instrument/active`: instrument, ticker and funding in one.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstrumentRow<'a> {
    /// `XBTUSD`, `XBTUSDT`, `ETHUSD` (quanto), `XBTZ26` (dated).
    #[serde(borrow)]
    pub symbol: Str<'a>,
    /// Contract class code: `FFWCSX` perpetual, `FFCCSX` dated future, `IFXXXP` spot, ...
    #[serde(borrow, default, deserialize_with = "nullable_str")]
    pub typ: Str<'a>,
    /// `Open` when trading.
    #[serde(borrow, default, deserialize_with = "nullable_str")]
    pub state: Str<'a>,
    /// The base coin (`XBT` for bitcoin).
    #[serde(borrow, default, deserialize_with = "nullable_str")]
    pub underlying: Str<'a>,
    #[serde(borrow, default, deserialize_with = "nullable_str")]
    pub quote_currency: Str<'a>,
    /// Settlement currency in MINOR units: `XBt` (satoshi), `USDt` (micro-USDT).
    #[serde(borrow, default, deserialize_with = "nullable_str")]
    pub settl_currency: Str<'a>,
    #[serde(default)]
    pub is_inverse: Option<bool>,
    #[serde(default)]
    pub is_quanto: Option<bool>,
    /// Settle minor units per contract per price unit (inverse: negative, `-100000000`).
    #[serde(default, deserialize_with = "opt_f64")]
    pub multiplier: Option<f64>,
    /// Position units (contracts) per base unit on linear contracts (`1000000` for XBTUSDT).
    #[serde(default, deserialize_with = "opt_f64")]
    pub underlying_to_position_multiplier: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub tick_size: Option<f64>,
    /// ISO-8601 listing time.
    #[serde(borrow, default, deserialize_with = "nullable_str")]
    pub listing: Str<'a>,
    /// ISO-8601 expiry; `null` on perpetuals.
    #[serde(borrow, default, deserialize_with = "nullable_str")]
    pub expiry: Str<'a>,
    /// ISO-8601 time of the next settlement.
    #[serde(borrow, default, deserialize_with = "nullable_str")]
    pub funding_timestamp: Str<'a>,
    /// A TIMESPAN written as a date after 2000-01-01 (`2000-01-01T08:00:00.000Z` = 8 h).
    #[serde(borrow, default, deserialize_with = "nullable_str")]
    pub funding_interval: Str<'a>,
    /// Rate of the current period (settles at `fundingTimestamp`).
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding_rate: Option<f64>,
    /// BitMEX's estimate for the period after the current one.
    #[serde(default, deserialize_with = "opt_f64")]
    pub indicative_funding_rate: Option<f64>,
    /// 24 h turnover in settle MINOR units.
    #[serde(default, deserialize_with = "opt_f64")]
    pub turnover24h: Option<f64>,
    /// 24 h volume in the base coin.
    #[serde(default, deserialize_with = "opt_f64")]
    pub home_notional24h: Option<f64>,
    /// 24 h volume in the quote currency.
    #[serde(default, deserialize_with = "opt_f64")]
    pub foreign_notional24h: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub last_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub bid_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub ask_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub mark_price: Option<f64>,
    /// The index (WebSocket rows and newer REST rows).
    #[serde(default, deserialize_with = "opt_f64")]
    pub index_price: Option<f64>,
    /// The index a perpetual would settle at now: the index when `indexPrice` is missing.
    #[serde(default, deserialize_with = "opt_f64")]
    pub indicative_settle_price: Option<f64>,
    /// Open interest in contracts.
    #[serde(default, deserialize_with = "opt_f64")]
    pub open_interest: Option<f64>,
    /// Open interest's value in settle MINOR units.
    #[serde(default, deserialize_with = "opt_f64")]
    pub open_value: Option<f64>,
    /// ISO-8601 time of the row.
    #[serde(borrow, default, deserialize_with = "nullable_str")]
    pub timestamp: Str<'a>,
}

//! Serde wire types for the Kraken Futures public endpoints this plugin reads.
//!
//! Owns: the shape of the two success bodies (`{"result":"success","serverTime":…,
//! "instruments":[…]}` and `{…,"tickers":[…]}`; `errors.rs` describes the error bodies), field
//! names as Kraken spells them, and which fields are required (a body without its list, or a
//! row without `symbol`, is the wrong shape, hence a `PARSE` error). Numbers go through
//! plugin-kit's `opt_f64` (Kraken writes JSON numbers; ccxt's older samples strings; `null`,
//! `""` or a missing field stay `None`); times are ISO-8601 strings kept as text here. Unknown
//! fields are ignored.
//! Must not: interpret values (absolute vs relative funding, contract units, dated vs
//! perpetual): that is `parse`'s job.

use plugin_kit::de::opt_f64;
use std::borrow::Cow;
use std::fmt;

use serde::{
    de::{self, Visitor},
    Deserialize, Deserializer,
};

/// A string borrowed from the response body when it has no escapes.
pub type Str<'a> = Cow<'a, str>;

/// A string field Kraken may send as `null` (`lastTradingTime`, `tag`): `null` is the empty
/// string, i.e. absent, instead of failing the whole body.
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

/// `GET /derivatives/api/v3/instruments`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstrumentsBody<'a> {
    /// ISO-8601 time of the answer (absent in some recorded examples).
    #[serde(borrow, default, deserialize_with = "nullable_str")]
    pub server_time: Str<'a>,
    #[serde(borrow)]
    pub instruments: Vec<InstrumentRow<'a>>,
}

/// One contract or index of the instrument list.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstrumentRow<'a> {
    /// `PF_XBTUSD` (linear perpetual), `PI_XBTUSD` (inverse perpetual), `FI_XBTUSD_260327`
    /// (dated), `in_xbtusd` / `rr_xbtusd` (indices).
    #[serde(borrow)]
    pub symbol: Str<'a>,
    /// `flexible_futures`, `futures_inverse`, `futures_vanilla`, `spot index`, ...
    #[serde(borrow, default, rename = "type", deserialize_with = "nullable_str")]
    pub contract_type: Str<'a>,
    #[serde(default)]
    pub tradeable: Option<bool>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub tick_size: Option<f64>,
    /// Base coin per contract (`PF_`), USD per contract (`PI_`).
    #[serde(default, deserialize_with = "opt_f64")]
    pub contract_size: Option<f64>,
    /// ISO-8601 listing time (`2022-03-22T13:18:45Z`).
    #[serde(borrow, default, deserialize_with = "nullable_str")]
    pub opening_date: Str<'a>,
    /// ISO-8601 last trading time: dated futures only (perpetuals have none).
    #[serde(borrow, default, deserialize_with = "nullable_str")]
    pub last_trading_time: Str<'a>,
    /// The cap of the RELATIVE funding rate per hour (`0.0025` = ±0.25 %).
    #[serde(default, deserialize_with = "opt_f64")]
    pub max_relative_funding_rate: Option<f64>,
}

/// `GET /derivatives/api/v3/tickers`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TickersBody<'a> {
    /// ISO-8601 time of the answer: the tickers' time and the clock the next settlement is
    /// counted from.
    #[serde(borrow, default, deserialize_with = "nullable_str")]
    pub server_time: Str<'a>,
    #[serde(borrow)]
    pub tickers: Vec<TickerRow<'a>>,
}

/// One ticker (a contract or an index: index rows carry only `symbol`, `last`, `lastTime`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TickerRow<'a> {
    #[serde(borrow)]
    pub symbol: Str<'a>,
    /// `perpetual`, `month`, `quarter`, `semiannual`; absent on indices.
    #[serde(borrow, default, deserialize_with = "nullable_str")]
    pub tag: Str<'a>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub last: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub bid: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub ask: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub mark_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub index_price: Option<f64>,
    /// 24 h volume in CONTRACTS (`PF_`: base coin; `PI_`: USD).
    #[serde(default, deserialize_with = "opt_f64")]
    pub vol24h: Option<f64>,
    /// 24 h volume in the quote currency (USD) on `PF_` contracts; its unit on `PI_` rows is
    /// UNCONFIRMED (exchange-notes erratum 11) and it is not read there.
    #[serde(default, deserialize_with = "opt_f64")]
    pub volume_quote: Option<f64>,
    /// Open interest in CONTRACTS.
    #[serde(default, deserialize_with = "opt_f64")]
    pub open_interest: Option<f64>,
    /// The current hour's funding as an ABSOLUTE amount per contract, not a fraction.
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding_rate: Option<f64>,
    /// The next hour's estimate, absolute like `fundingRate`.
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding_rate_prediction: Option<f64>,
    /// The current rate as a fraction, when a ticker carries it (the WebSocket feed's
    /// `relative_funding_rate`; in REST tickers UNCONFIRMED).
    #[serde(default, deserialize_with = "opt_f64")]
    pub relative_funding_rate: Option<f64>,
    /// The next hour's estimate as a fraction, when a ticker carries it (UNCONFIRMED in REST).
    #[serde(default, deserialize_with = "opt_f64")]
    pub relative_funding_rate_prediction: Option<f64>,
    /// Trading suspended: the row is still served (bid/ask may be missing).
    #[serde(default)]
    pub suspended: Option<bool>,
}

//! Serde wire types for the Binance USDⓈ-M public endpoints this plugin reads.
//!
//! Owns: the shape of each success body (`errors.rs` describes the error envelope), field names as Binance spells them, and which fields
//! are required (a row without them is the wrong shape, hence a `PARSE` error). Strings borrow
//! from the response body (`Cow` falls back to an owned copy only for JSON escapes); numbers go
//! through plugin-kit's `opt_f64`/`opt_ts`, so `""`, `null` and a missing field stay `None`.
//! Unknown fields are ignored: Binance adds fields without notice.
//! Must not: interpret values (zero-as-absent, sentinels, status words): that is `parse`'s job.

use std::{borrow::Cow, fmt};

use plugin_kit::de::{opt_f64, opt_ts};
use serde::{
    de::{MapAccess, Visitor},
    Deserialize, Deserializer,
};

/// A string borrowed from the response body when it has no escapes. Wire structs spell out
/// `Cow<'a, str>`: serde's derive only borrows for that literal type, not through this alias.
pub type Str<'a> = Cow<'a, str>;

/// `T` decoded from a JSON object only. serde's derived structs also accept a JSON array
/// (fields by position), so `["BTCUSDT","1.0"]` would pass as a row; for Binance that is
/// garbage and must be a `PARSE` error.
///
/// `T` still asks for a struct with its field names (so plugin-api's decoder can skip the
/// fields `T` does not declare); only the visitor is narrowed to objects.
#[derive(Debug)]
pub struct Obj<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(ObjectOnly(deserializer)).map(Obj)
    }
}

/// A deserializer that hands every visitor only what a JSON object gives.
struct ObjectOnly<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectOnly<D> {
    type Error = D::Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_struct(name, fields, MapOnly(visitor))
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(MapOnly(visitor))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// Forwards `visit_map` only; a sequence (or anything else) is "invalid type, expected a JSON
/// object".
struct MapOnly<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for MapOnly<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(map)
    }
}

/// `GET /fapi/v1/exchangeInfo`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeInfo<'a> {
    #[serde(default, deserialize_with = "opt_ts")]
    pub server_time: Option<i64>,
    #[serde(borrow)]
    pub symbols: Vec<Obj<SymbolInfo<'a>>>,
}

/// One entry of `exchangeInfo.symbols`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SymbolInfo<'a> {
    #[serde(borrow)]
    pub symbol: Cow<'a, str>,
    /// `PERPETUAL`, `TRADIFI_PERPETUAL`, `CURRENT_QUARTER`, ...
    #[serde(borrow, default)]
    pub contract_type: Cow<'a, str>,
    /// `TRADING`, `PENDING_TRADING`, `SETTLING`, `CLOSE`, ...
    #[serde(borrow, default)]
    pub status: Cow<'a, str>,
    #[serde(borrow, default)]
    pub base_asset: Cow<'a, str>,
    #[serde(borrow, default)]
    pub quote_asset: Cow<'a, str>,
    #[serde(borrow, default)]
    pub margin_asset: Cow<'a, str>,
    #[serde(default, deserialize_with = "opt_ts")]
    pub onboard_date: Option<i64>,
    #[serde(default, deserialize_with = "opt_ts")]
    pub delivery_date: Option<i64>,
    #[serde(borrow, default)]
    pub filters: Vec<SymbolFilter<'a>>,
}

/// One entry of a symbol's `filters`; only `PRICE_FILTER.tickSize` is read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SymbolFilter<'a> {
    #[serde(borrow, default)]
    pub filter_type: Cow<'a, str>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub tick_size: Option<f64>,
}

/// One row of `GET /fapi/v1/ticker/24hr`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ticker24hRow<'a> {
    #[serde(borrow)]
    pub symbol: Cow<'a, str>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub last_price: Option<f64>,
    /// Base-asset volume.
    #[serde(default, deserialize_with = "opt_f64")]
    pub volume: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub quote_volume: Option<f64>,
    #[serde(default, deserialize_with = "opt_ts")]
    pub close_time: Option<i64>,
}

/// One row of `GET /fapi/v1/ticker/bookTicker`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BookTickerRow<'a> {
    #[serde(borrow)]
    pub symbol: Cow<'a, str>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub bid_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub ask_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_ts")]
    pub time: Option<i64>,
}

/// One row of `GET /fapi/v1/premiumIndex` (mark price and funding). Older responses lack
/// `estimatedSettlePrice`, which is not read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PremiumIndexRow<'a> {
    #[serde(borrow)]
    pub symbol: Cow<'a, str>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub mark_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub index_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub last_funding_rate: Option<f64>,
    /// `0` on delivery contracts: `opt_ts` makes it `None`.
    #[serde(default, deserialize_with = "opt_ts")]
    pub next_funding_time: Option<i64>,
    #[serde(default, deserialize_with = "opt_ts")]
    pub time: Option<i64>,
}

/// One row of `GET /fapi/v1/fundingInfo` (only symbols with a non-default interval/cap/floor).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FundingInfoRow<'a> {
    #[serde(borrow)]
    pub symbol: Cow<'a, str>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub adjusted_funding_rate_cap: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub adjusted_funding_rate_floor: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding_interval_hours: Option<f64>,
}

/// `GET /fapi/v1/openInterest?symbol=X` (one object). `openInterest` is required: an object
/// without it is not an open-interest answer. A missing `symbol` is empty.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenInterest<'a> {
    #[serde(borrow, default)]
    pub symbol: Cow<'a, str>,
    #[serde(deserialize_with = "opt_f64")]
    pub open_interest: Option<f64>,
    #[serde(default, deserialize_with = "opt_ts")]
    pub time: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_borrow_from_the_body() {
        let body = br#"[{"symbol":"BTCUSDT","markPrice":"1.5","lastFundingRate":"","nextFundingTime":0,"extra":{"x":[1]}}]"#;
        let rows: Vec<Obj<PremiumIndexRow<'_>>> = serde_json::from_slice(body).unwrap();
        let Obj(row) = &rows[0];
        assert!(matches!(row.symbol, Cow::Borrowed("BTCUSDT")));
        assert_eq!(row.mark_price, Some(1.5));
        assert_eq!(row.last_funding_rate, None);
        assert_eq!(row.next_funding_time, None);
        assert_eq!(row.index_price, None);

        let body = br#"{"serverTime":1,"symbols":[{"symbol":"ETHUSDT","contractType":"PERPETUAL","filters":[{"filterType":"PRICE_FILTER","tickSize":"0.01"}]}]}"#;
        let Obj(info): Obj<ExchangeInfo<'_>> = serde_json::from_slice(body).unwrap();
        let Obj(s) = &info.symbols[0];
        assert!(matches!(s.symbol, Cow::Borrowed("ETHUSDT")));
        assert!(matches!(
            s.filters[0].filter_type,
            Cow::Borrowed("PRICE_FILTER")
        ));
        assert_eq!(s.filters[0].tick_size, Some(0.01));
        assert!(s.base_asset.is_empty());
    }

    #[test]
    fn escaped_strings_are_owned_not_rejected() {
        let body = br#"{"symbol":"\u5e01USDT","openInterest":"1"}"#;
        let Obj(row): Obj<OpenInterest<'_>> = serde_json::from_slice(body).unwrap();
        assert_eq!(row.symbol, "币USDT");
    }

    #[test]
    fn positional_arrays_are_not_rows() {
        let body = br#"[["BTCUSDT","1.5"]]"#;
        assert!(serde_json::from_slice::<Vec<Obj<PremiumIndexRow<'_>>>>(body).is_err());
        let e = plugin_kit::json_from_body::<Vec<Obj<PremiumIndexRow<'_>>>>(body).unwrap_err();
        assert!(e.to_string().contains("expected a JSON object"), "{e}");
        // Without the wrapper serde would have accepted it.
        assert!(serde_json::from_slice::<Vec<PremiumIndexRow<'_>>>(body).is_ok());
    }
}

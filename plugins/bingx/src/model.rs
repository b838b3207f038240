//! Serde wire types for the BingX perpetual-swap (v2, USDT-M) public endpoints this plugin reads.
//!
//! Owns: the shape of what sits in each response's `data` (`errors.rs` describes the envelope):
//! a list of rows on the bulk endpoints, one row object on the per-symbol ones and on the bulk
//! ones asked with `symbol=` ([`Rows`] accepts both); field names as BingX spells them; which
//! fields are required (a row without `symbol` is the wrong shape, hence a `PARSE` error).
//! BingX writes numbers as strings in some responses and as JSON numbers in others
//! (exchange-notes §8.5, `fx:bingx/contracts.json`): plugin-kit's `opt_f64`/`opt_ts` take both,
//! and `null`, `""` or a missing field stay `None`. Unknown fields are ignored (BingX adds
//! fields without notice: `fundingIntervalHours` came later).
//! Must not: interpret values (zero prices, status codes, units, intervals): that is `parse`'s.

use std::{borrow::Cow, fmt, marker::PhantomData};

use plugin_kit::de::{opt_f64, opt_ts};
use serde::{
    de::{self, value::MapAccessDeserializer, MapAccess, SeqAccess, Visitor},
    Deserialize, Deserializer,
};

/// A string borrowed from the response body when it has no escapes. Wire structs spell out
/// `Cow<'a, str>`: serde's derive only borrows for that literal type, not through this alias.
pub type Str<'a> = Cow<'a, str>;

/// `data` as BingX sends it: an array of row objects (bulk form) or one row object (the
/// `symbol=` form, and the per-symbol open interest). Either way a list of rows.
#[derive(Debug)]
pub struct Rows<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Rows<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RowsVisitor(PhantomData))
    }
}

struct RowsVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for RowsVisitor<T> {
    type Value = Rows<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of row objects or one row object")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut rows = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4_096));
        while let Some(Row(row)) = seq.next_element::<Row<T>>()? {
            rows.push(row);
        }
        Ok(Rows(rows))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(|row| Rows(vec![row]))
    }
}

/// One element of a row list: a JSON object only. serde's derived structs also accept an array
/// (fields by position), so `["BTC-USDT","1"]` would pass as a row; for BingX that is garbage.
struct Row<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Row<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(RowVisitor(PhantomData))
    }
}

struct RowVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for RowVisitor<T> {
    type Value = Row<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(Row)
    }
}

/// A flag BingX writes as the string `"true"`/`"false"` (`fx:bingx/contracts.json`) or as a JSON
/// boolean: `None` when missing, `null` or any other text.
fn opt_flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    struct Flag;
    impl<'de> Visitor<'de> for Flag {
        type Value = Option<bool>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a boolean, \"true\"/\"false\", or null")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(match v.trim() {
                t if t.eq_ignore_ascii_case("true") => Some(true),
                t if t.eq_ignore_ascii_case("false") => Some(false),
                _ => None,
            })
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }
    d.deserialize_any(Flag)
}

/// One row of `GET /openApi/swap/v2/quote/contracts` (every USDT-M perpetual).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContractRow<'a> {
    /// `BTC-USDT`: base and quote, split on `-` (ccxt's rule).
    #[serde(borrow)]
    pub symbol: Cow<'a, str>,
    /// The settlement (margin) currency (`USDT`).
    #[serde(borrow, default)]
    pub currency: Option<Cow<'a, str>>,
    /// `1` online (see `parse::normalize_status` for the others); a number or a string.
    #[serde(default, deserialize_with = "opt_f64")]
    pub status: Option<f64>,
    /// `"true"` when orders may open positions through the API.
    #[serde(default, deserialize_with = "opt_flag")]
    pub api_state_open: Option<bool>,
    /// `"true"` when orders may close positions through the API.
    #[serde(default, deserialize_with = "opt_flag")]
    pub api_state_close: Option<bool>,
    /// Price decimals: the tick is `10^-pricePrecision` unless `tickSize` is sent.
    #[serde(default, deserialize_with = "opt_f64")]
    pub price_precision: Option<f64>,
    /// The tick itself (newer responses; ccxt prefers it).
    #[serde(default, deserialize_with = "opt_f64")]
    pub tick_size: Option<f64>,
    /// Listing time (ms); `0` is unknown.
    #[serde(default, deserialize_with = "opt_ts")]
    pub time_online: Option<i64>,
}

/// One row of `GET /openApi/swap/v2/quote/ticker` (24 h statistics, best bid/ask since
/// 2023-11). No mark, index or open interest here.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TickerRow<'a> {
    #[serde(borrow)]
    pub symbol: Cow<'a, str>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub last_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub bid_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub ask_price: Option<f64>,
    /// 24 h volume in the base coin.
    #[serde(default, deserialize_with = "opt_f64")]
    pub volume: Option<f64>,
    /// 24 h turnover in the quote currency.
    #[serde(default, deserialize_with = "opt_f64")]
    pub quote_volume: Option<f64>,
    /// End of the 24 h window (ms); may lie before `openTime` (§8.5); `0` is absent.
    #[serde(default, deserialize_with = "opt_ts")]
    pub close_time: Option<i64>,
}

/// One row of `GET /openApi/swap/v2/quote/premiumIndex`: mark, index and funding.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PremiumIndexRow<'a> {
    #[serde(borrow)]
    pub symbol: Cow<'a, str>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub mark_price: Option<f64>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub index_price: Option<f64>,
    /// The rate of the CURRENT period (it settles at `nextFundingTime`), like Binance's field
    /// of the same name; not the last settled one.
    #[serde(default, deserialize_with = "opt_f64")]
    pub last_funding_rate: Option<f64>,
    /// When the current rate settles (ms).
    #[serde(default, deserialize_with = "opt_ts")]
    pub next_funding_time: Option<i64>,
    /// The symbol's funding interval in hours (newer responses only).
    #[serde(default, deserialize_with = "opt_f64")]
    pub funding_interval_hours: Option<f64>,
    // `updateTime` (newer responses) is not read: in the one stored sample it is exactly
    // `nextFundingTime` − 8 h, the period's start rather than when the row was computed; what
    // it means is UNCONFIRMED, so it is not the record's `exchange_ts`.
}

/// `GET /openApi/swap/v2/quote/openInterest?symbol=X` (one object). `openInterest` is required:
/// an object without it is not an open-interest answer. It is a VALUE in the quote currency
/// (USDT), not contracts or coins (ccxt maps it to `openInterestValue`; exchange-notes §8.1).
/// Its `time` is not read: the merged ticker record keeps the 24 h ticker's `closeTime`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenInterestRow<'a> {
    #[serde(borrow, default)]
    pub symbol: Cow<'a, str>,
    #[serde(deserialize_with = "opt_f64")]
    pub open_interest: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows<'a, T: Deserialize<'a>>(body: &'a str) -> serde_json::Result<Vec<T>> {
        plugin_kit::json_from_body::<Rows<T>>(body.as_bytes()).map(|Rows(rows)| rows)
    }

    #[test]
    fn data_is_a_list_or_one_object() {
        let many: Vec<PremiumIndexRow<'_>> =
            rows(r#"[{"symbol":"BTC-USDT","markPrice":"1.5"},{"symbol":"ETH-USDT"}]"#).unwrap();
        assert_eq!(many.len(), 2);
        assert!(matches!(many[0].symbol, Cow::Borrowed("BTC-USDT")));
        assert_eq!(many[0].mark_price, Some(1.5));
        let one: Vec<PremiumIndexRow<'_>> =
            rows(r#"{"symbol":"BTC-USDT","fundingIntervalHours":4,"x":{"y":[1]}}"#).unwrap();
        assert_eq!(one.len(), 1);
        assert!(matches!(one[0].symbol, Cow::Borrowed("BTC-USDT")));
        assert_eq!(one[0].funding_interval_hours, Some(4.0));
        let none: Vec<PremiumIndexRow<'_>> = rows("[]").unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn positional_arrays_and_scalars_are_not_rows() {
        for body in [
            r#"[["BTC-USDT","1.5"]]"#,
            r#"["BTC-USDT"]"#,
            "1",
            r#""x""#,
            "[1]",
        ] {
            let e = rows::<PremiumIndexRow<'_>>(body).unwrap_err();
            assert!(!e.to_string().is_empty(), "{body}");
        }
        let e = rows::<PremiumIndexRow<'_>>(r#"[{"markPrice":"1"}]"#).unwrap_err();
        assert!(e.to_string().contains("symbol"), "{e}");
    }

    #[test]
    fn flags_and_numbers_take_both_spellings() {
        let got: Vec<ContractRow<'_>> = rows(
            r#"[{"symbol":"A-USDT","apiStateOpen":"true","apiStateClose":false,"status":"1","pricePrecision":"2"},
                {"symbol":"B-USDT","apiStateOpen":true,"apiStateClose":"maybe","status":25,"pricePrecision":4,"timeOnline":0}]"#,
        )
        .unwrap();
        assert_eq!(
            (got[0].api_state_open, got[0].api_state_close),
            (Some(true), Some(false))
        );
        assert_eq!(
            (got[0].status, got[0].price_precision),
            (Some(1.0), Some(2.0))
        );
        assert_eq!(
            (got[1].api_state_open, got[1].api_state_close),
            (Some(true), None)
        );
        assert_eq!(
            (got[1].status, got[1].price_precision),
            (Some(25.0), Some(4.0))
        );
        assert_eq!(got[1].time_online, None);
    }

    #[test]
    fn escaped_strings_are_owned_not_rejected() {
        let owned: Vec<OpenInterestRow<'_>> =
            rows(r#"{"symbol":"\u5e01-USDT","openInterest":"1"}"#).unwrap();
        assert_eq!(owned[0].symbol, "币-USDT");
        let e = rows::<OpenInterestRow<'_>>(r#"{"symbol":"X"}"#).unwrap_err();
        assert!(e.to_string().contains("openInterest"), "{e}");
    }
}

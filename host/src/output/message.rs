//! The public message format: how a [`Record`] becomes one JSON object, and the JSON Schema of
//! it (schemas/records.schema.json). One set of borrowed structs drives both, so the schema
//! cannot drift from the output. Must not change field names: consumers depend on them.

use plugin_api::{IntervalSource, KeyValue, MarketType, Record, RecordKind};
use schemars::JsonSchema;
use serde::{ser::SerializeMap, Serialize, Serializer};

/// Fields every record carries.
#[derive(Serialize, JsonSchema)]
pub struct Identity<'a> {
    /// Exchange instance id (`binance`).
    pub exchange: &'a str,
    /// Unified symbol, ccxt convention: `BTC/USDT:USDT` (linear), `BTC/USD:BTC` (inverse).
    pub symbol: &'a str,
    /// The exchange's own symbol (`BTCUSDT`, `BTC-USDT-SWAP`).
    pub raw_symbol: &'a str,
    pub base: &'a str,
    pub quote: &'a str,
    pub settle: &'a str,
    pub market_type: MarketTypeName,
    /// The exchange's timestamp of the data, Unix milliseconds, or null.
    pub exchange_ts: Option<i64>,
    /// When the collector received the response, Unix milliseconds.
    pub received_ts: i64,
}

#[derive(Serialize, JsonSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum MarketTypeName {
    LinearPerpetual,
    InversePerpetual,
}

#[derive(Serialize, JsonSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum IntervalSourceName {
    /// The exchange stated the interval for this instrument.
    Reported,
    /// Derived from the exchange's funding timestamps.
    Inferred,
    /// The exchange's documented default, not confirmed per instrument.
    Default,
}

/// A ticker: prices, 24h volume and open interest. Missing values are null, never 0.
#[derive(Serialize, JsonSchema)]
pub struct TickerMessage<'a> {
    #[serde(flatten)]
    pub id: Identity<'a>,
    pub last: Option<f64>,
    pub bid: Option<f64>,
    pub ask: Option<f64>,
    pub mark: Option<f64>,
    pub index: Option<f64>,
    /// 24h volume in base units.
    pub volume_24h_base: Option<f64>,
    /// 24h volume in quote currency.
    pub volume_24h_quote: Option<f64>,
    /// Open interest in base units.
    pub open_interest_base: Option<f64>,
    /// Open interest in quote currency.
    pub open_interest_quote: Option<f64>,
    #[serde(skip_serializing_if = "Extra::is_empty", default)]
    pub extra: Extra<'a>,
}

/// A funding rate. `rate` applies to the period that settles at `next_funding_ts`.
#[derive(Serialize, JsonSchema)]
pub struct FundingMessage<'a> {
    #[serde(flatten)]
    pub id: Identity<'a>,
    /// Funding rate of the current period, as a fraction (0.0001 = 0.01%).
    pub rate: Option<f64>,
    /// Length of a funding period in hours.
    pub interval_hours: Option<f64>,
    /// Where `interval_hours` came from.
    pub interval_source: Option<IntervalSourceName>,
    /// When the current period settles, Unix milliseconds.
    pub next_funding_ts: Option<i64>,
    /// The exchange's predicted rate for the following period, where it publishes one.
    pub predicted_rate: Option<f64>,
    /// `rate` scaled to an 8-hour period: `rate × 8 / interval_hours`.
    pub rate_8h: Option<f64>,
    /// `rate × (8760 / interval_hours)`, simple (not compounded).
    pub rate_annualized: Option<f64>,
    pub rate_cap: Option<f64>,
    pub rate_floor: Option<f64>,
    pub mark: Option<f64>,
    pub index: Option<f64>,
    #[serde(skip_serializing_if = "Extra::is_empty", default)]
    pub extra: Extra<'a>,
}

/// An instrument of the exchange's perpetual universe.
#[derive(Serialize, JsonSchema)]
pub struct InstrumentMessage<'a> {
    #[serde(flatten)]
    pub id: Identity<'a>,
    /// Base units per contract (linear); USD per contract (inverse).
    pub contract_size: Option<f64>,
    pub tick_size: Option<f64>,
    /// `trading`, `pre_launch`, `halted`, `settling`, `delisted`, or the exchange's word.
    pub status: Option<&'a str>,
    /// Funding interval in hours, when the exchange lists it per instrument.
    pub interval_hours: Option<f64>,
    pub listing_ts: Option<i64>,
    pub delisting_ts: Option<i64>,
    #[serde(skip_serializing_if = "Extra::is_empty", default)]
    pub extra: Extra<'a>,
}

/// One record: `kind` says which of the three shapes it is.
#[derive(Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[schemars(title = "futures-collector record")]
pub enum RecordMessage<'a> {
    Instrument(InstrumentMessage<'a>),
    Ticker(TickerMessage<'a>),
    Funding(FundingMessage<'a>),
}

/// Exchange-specific extras as a JSON object of strings.
#[derive(Default)]
pub struct Extra<'a>(pub &'a [KeyValue]);

impl Extra<'_> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Extra<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for kv in self.0 {
            map.serialize_entry(kv.key.as_str(), kv.value.as_str())?;
        }
        map.end()
    }
}

impl JsonSchema for Extra<'_> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Extra".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "additionalProperties": { "type": "string" },
            "description": "Exchange-specific extras (e.g. raw_status); omitted when empty."
        })
    }
}

/// A record whose enumerations hold a value this host does not know (from a newer plugin).
#[derive(Debug, thiserror::Error)]
#[error("record for {raw_symbol} has an unknown {field} value {value}")]
pub struct UnknownValue {
    pub raw_symbol: String,
    pub field: &'static str,
    pub value: u8,
}

fn unknown(r: &Record, field: &'static str, value: u8) -> UnknownValue {
    UnknownValue {
        raw_symbol: r.raw_symbol.to_string(),
        field,
        value,
    }
}

/// Compiles only while the message format names every field of `Record`: a field added to
/// `Record` fails here until [`RecordMessage::from_record`] carries it (the hand-written
/// writer below is tested against that).
#[allow(dead_code)]
fn message_carries_every_field(r: &Record) {
    let Record {
        kind: _,
        exchange: _,
        symbol: _,
        raw_symbol: _,
        base: _,
        quote: _,
        settle: _,
        market_type: _,
        exchange_ts: _,
        received_ts: _,
        last: _,
        bid: _,
        ask: _,
        mark: _,
        index: _,
        volume_24h_base: _,
        volume_24h_quote: _,
        open_interest_base: _,
        open_interest_quote: _,
        rate: _,
        interval_hours: _,
        interval_source: _,
        next_funding_ts: _,
        predicted_rate: _,
        rate_8h: _,
        rate_annualized: _,
        rate_cap: _,
        rate_floor: _,
        contract_size: _,
        tick_size: _,
        status: _,
        listing_ts: _,
        delisting_ts: _,
        extra: _,
    } = r;
}

impl<'a> RecordMessage<'a> {
    /// Borrows a record as its message; fails on enum values this host does not know.
    pub fn from_record(r: &'a Record) -> Result<Self, UnknownValue> {
        let market_type = match r.market_type {
            MarketType::LINEAR_PERPETUAL => MarketTypeName::LinearPerpetual,
            MarketType::INVERSE_PERPETUAL => MarketTypeName::InversePerpetual,
            other => return Err(unknown(r, "market_type", other.0)),
        };
        let id = Identity {
            exchange: r.exchange.as_str(),
            symbol: r.symbol.as_str(),
            raw_symbol: r.raw_symbol.as_str(),
            base: r.base.as_str(),
            quote: r.quote.as_str(),
            settle: r.settle.as_str(),
            market_type,
            exchange_ts: r.exchange_ts.into_option(),
            received_ts: r.received_ts,
        };
        let extra = Extra(r.extra.as_slice());
        Ok(match r.kind {
            RecordKind::TICKER => Self::Ticker(TickerMessage {
                id,
                last: r.last.into_option(),
                bid: r.bid.into_option(),
                ask: r.ask.into_option(),
                mark: r.mark.into_option(),
                index: r.index.into_option(),
                volume_24h_base: r.volume_24h_base.into_option(),
                volume_24h_quote: r.volume_24h_quote.into_option(),
                open_interest_base: r.open_interest_base.into_option(),
                open_interest_quote: r.open_interest_quote.into_option(),
                extra,
            }),
            RecordKind::FUNDING => Self::Funding(FundingMessage {
                id,
                rate: r.rate.into_option(),
                interval_hours: r.interval_hours.into_option(),
                interval_source: match r.interval_source.into_option() {
                    None => None,
                    Some(IntervalSource::REPORTED) => Some(IntervalSourceName::Reported),
                    Some(IntervalSource::INFERRED) => Some(IntervalSourceName::Inferred),
                    Some(IntervalSource::DEFAULT) => Some(IntervalSourceName::Default),
                    Some(other) => return Err(unknown(r, "interval_source", other.0)),
                },
                next_funding_ts: r.next_funding_ts.into_option(),
                predicted_rate: r.predicted_rate.into_option(),
                rate_8h: r.rate_8h.into_option(),
                rate_annualized: r.rate_annualized.into_option(),
                rate_cap: r.rate_cap.into_option(),
                rate_floor: r.rate_floor.into_option(),
                mark: r.mark.into_option(),
                index: r.index.into_option(),
                extra,
            }),
            RecordKind::INSTRUMENT => Self::Instrument(InstrumentMessage {
                id,
                contract_size: r.contract_size.into_option(),
                tick_size: r.tick_size.into_option(),
                status: r.status.as_ref().map(|s| s.as_str()).into_option(),
                interval_hours: r.interval_hours.into_option(),
                listing_ts: r.listing_ts.into_option(),
                delisting_ts: r.delisting_ts.into_option(),
                extra,
            }),
            other => return Err(unknown(r, "kind", other.0)),
        })
    }
}

/// Appends `record` as one JSON line (with `\n`) to `out`. Nothing is appended on error.
pub fn write_json_line(record: &Record, out: &mut Vec<u8>) -> Result<(), MessageError> {
    write_json(record, out)?;
    out.push(b'\n');
    Ok(())
}

/// Appends `record` as one JSON object to `out`: exactly the bytes serde writes for
/// [`RecordMessage::from_record`] (same field order, number formatting and escaping; non-finite
/// numbers as `null`), without serde's intermediate map for the flattened identity. Nothing is
/// appended on error.
pub fn write_json(record: &Record, out: &mut Vec<u8>) -> Result<(), UnknownValue> {
    fast_json::write_record(record, out)
}

/// The hand-written encoder behind [`write_json`]. Owns the byte layout of one record; must
/// stay identical to the serde derive above (tests compare both over many records).
mod fast_json {
    use plugin_api::{
        abi_stable::std_types::ROption, IntervalSource, KeyValue, MarketType, Record, RecordKind,
    };
    use serde_json::ser::{CompactFormatter, Formatter};

    use super::{unknown, UnknownValue};

    /// Room reserved per record up front (a funding line is about 500 bytes).
    const RECORD_CAPACITY_HINT: usize = 640;

    pub(super) fn write_record(r: &Record, out: &mut Vec<u8>) -> Result<(), UnknownValue> {
        // Every check before the first byte: an error leaves `out` untouched.
        let labels = Labels::of(r)?;
        out.reserve(RECORD_CAPACITY_HINT);
        out.extend_from_slice(labels.kind.as_bytes());
        string_field(out, ",\"exchange\":", &r.exchange);
        string_field(out, ",\"symbol\":", &r.symbol);
        string_field(out, ",\"raw_symbol\":", &r.raw_symbol);
        string_field(out, ",\"base\":", &r.base);
        string_field(out, ",\"quote\":", &r.quote);
        string_field(out, ",\"settle\":", &r.settle);
        out.extend_from_slice(b",\"market_type\":");
        out.extend_from_slice(labels.market_type.as_bytes());
        int_field(out, ",\"exchange_ts\":", r.exchange_ts);
        out.extend_from_slice(b",\"received_ts\":");
        int(out, r.received_ts);
        match r.kind {
            RecordKind::INSTRUMENT => instrument_fields(out, r),
            RecordKind::TICKER => ticker_fields(out, r),
            _ => funding_fields(out, r, labels.interval_source),
        }
        if !r.extra.is_empty() {
            extra(out, r.extra.as_slice());
        }
        out.push(b'}');
        Ok(())
    }

    /// The JSON of a record's enumerations (the kind with the opening brace), checked before
    /// anything is written.
    struct Labels {
        kind: &'static str,
        market_type: &'static str,
        interval_source: &'static str,
    }

    impl Labels {
        fn of(r: &Record) -> Result<Labels, UnknownValue> {
            let kind = match r.kind {
                RecordKind::INSTRUMENT => "{\"kind\":\"instrument\"",
                RecordKind::TICKER => "{\"kind\":\"ticker\"",
                RecordKind::FUNDING => "{\"kind\":\"funding\"",
                other => return Err(unknown(r, "kind", other.0)),
            };
            let market_type = match r.market_type {
                MarketType::LINEAR_PERPETUAL => "\"linear_perpetual\"",
                MarketType::INVERSE_PERPETUAL => "\"inverse_perpetual\"",
                other => return Err(unknown(r, "market_type", other.0)),
            };
            let interval_source = if r.kind == RecordKind::FUNDING {
                match r.interval_source {
                    ROption::RNone => "null",
                    ROption::RSome(IntervalSource::REPORTED) => "\"reported\"",
                    ROption::RSome(IntervalSource::INFERRED) => "\"inferred\"",
                    ROption::RSome(IntervalSource::DEFAULT) => "\"default\"",
                    ROption::RSome(other) => return Err(unknown(r, "interval_source", other.0)),
                }
            } else {
                "null"
            };
            Ok(Labels {
                kind,
                market_type,
                interval_source,
            })
        }
    }

    fn instrument_fields(out: &mut Vec<u8>, r: &Record) {
        num_field(out, ",\"contract_size\":", r.contract_size);
        num_field(out, ",\"tick_size\":", r.tick_size);
        out.extend_from_slice(b",\"status\":");
        match &r.status {
            ROption::RSome(s) => string(out, s.as_str()),
            ROption::RNone => out.extend_from_slice(b"null"),
        }
        num_field(out, ",\"interval_hours\":", r.interval_hours);
        int_field(out, ",\"listing_ts\":", r.listing_ts);
        int_field(out, ",\"delisting_ts\":", r.delisting_ts);
    }

    fn ticker_fields(out: &mut Vec<u8>, r: &Record) {
        num_field(out, ",\"last\":", r.last);
        num_field(out, ",\"bid\":", r.bid);
        num_field(out, ",\"ask\":", r.ask);
        num_field(out, ",\"mark\":", r.mark);
        num_field(out, ",\"index\":", r.index);
        num_field(out, ",\"volume_24h_base\":", r.volume_24h_base);
        num_field(out, ",\"volume_24h_quote\":", r.volume_24h_quote);
        num_field(out, ",\"open_interest_base\":", r.open_interest_base);
        num_field(out, ",\"open_interest_quote\":", r.open_interest_quote);
    }

    fn funding_fields(out: &mut Vec<u8>, r: &Record, interval_source: &str) {
        num_field(out, ",\"rate\":", r.rate);
        num_field(out, ",\"interval_hours\":", r.interval_hours);
        out.extend_from_slice(b",\"interval_source\":");
        out.extend_from_slice(interval_source.as_bytes());
        int_field(out, ",\"next_funding_ts\":", r.next_funding_ts);
        num_field(out, ",\"predicted_rate\":", r.predicted_rate);
        num_field(out, ",\"rate_8h\":", r.rate_8h);
        num_field(out, ",\"rate_annualized\":", r.rate_annualized);
        num_field(out, ",\"rate_cap\":", r.rate_cap);
        num_field(out, ",\"rate_floor\":", r.rate_floor);
        num_field(out, ",\"mark\":", r.mark);
        num_field(out, ",\"index\":", r.index);
    }

    fn extra(out: &mut Vec<u8>, pairs: &[KeyValue]) {
        out.extend_from_slice(b",\"extra\":{");
        for (i, kv) in pairs.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(out, kv.key.as_str());
            out.push(b':');
            string(out, kv.value.as_str());
        }
        out.push(b'}');
    }

    fn string_field(out: &mut Vec<u8>, key: &str, value: &str) {
        out.extend_from_slice(key.as_bytes());
        string(out, value);
    }

    fn num_field(out: &mut Vec<u8>, key: &str, value: ROption<f64>) {
        out.extend_from_slice(key.as_bytes());
        match value {
            // serde_json writes non-finite floats as null.
            ROption::RSome(v) if v.is_finite() => {
                // Writing to a Vec cannot fail; serde_json's own formatter keeps the digits
                // identical to the serde path.
                let _ = CompactFormatter.write_f64(out, v);
            }
            _ => out.extend_from_slice(b"null"),
        }
    }

    fn int_field(out: &mut Vec<u8>, key: &str, value: ROption<i64>) {
        out.extend_from_slice(key.as_bytes());
        match value {
            ROption::RSome(v) => int(out, v),
            ROption::RNone => out.extend_from_slice(b"null"),
        }
    }

    fn int(out: &mut Vec<u8>, v: i64) {
        let _ = CompactFormatter.write_i64(out, v);
    }

    /// `"…"` with JSON escapes exactly as serde_json writes them: `"` and `\\`, the short
    /// forms `\b \t \n \f \r`, other control characters as `\u00xx`; everything else as is.
    pub(super) fn string(out: &mut Vec<u8>, s: &str) {
        out.push(b'"');
        let bytes = s.as_bytes();
        // Nearly every string (symbols, assets, status words) needs no escape: jump to the
        // first byte that does (none: the whole string is copied once, below).
        let first = bytes
            .iter()
            .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
            .unwrap_or(bytes.len());
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate().skip(first) {
            let escape: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                0x08 => b"\\b",
                0x09 => b"\\t",
                0x0a => b"\\n",
                0x0c => b"\\f",
                0x0d => b"\\r",
                0x00..=0x1f => b"",
                _ => continue,
            };
            out.extend_from_slice(&bytes[start..i]);
            if escape.is_empty() {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            } else {
                out.extend_from_slice(escape);
            }
            start = i + 1;
        }
        out.extend_from_slice(&bytes[start..]);
        out.push(b'"');
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error(transparent)]
    Unknown(#[from] UnknownValue),
    #[error("cannot serialize record: {0}")]
    Json(#[from] serde_json::Error),
}

/// The JSON Schema of one record, as checked in at schemas/records.schema.json.
pub fn records_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(RecordMessage<'static>);
    serde_json::to_value(&schema).unwrap_or(serde_json::Value::Null)
}

/// Pretty-printed schema text with a trailing newline (the checked-in file's exact bytes).
pub fn records_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&records_schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// Several records of one exchange and kind in one message, oldest first: the AMQP sink's
/// batch format (`batch_max` > 1), schemas/batch.schema.json.
#[derive(Serialize, JsonSchema)]
#[serde(transparent)]
#[schemars(
    title = "futures-collector record batch",
    description = "A JSON array of records (each as in records.schema.json) of one exchange and one kind."
)]
pub struct BatchMessage<'a>(pub Vec<RecordMessage<'a>>);

/// The JSON Schema of one batch message, as checked in at schemas/batch.schema.json.
pub fn batch_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(BatchMessage<'static>);
    serde_json::to_value(&schema).unwrap_or(serde_json::Value::Null)
}

/// Pretty-printed batch schema text with a trailing newline (the checked-in file's bytes).
pub fn batch_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&batch_schema()).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_api::abi_stable::std_types::ROption::{RNone, RSome};

    fn funding() -> Record {
        let mut r = Record::new(
            RecordKind::FUNDING,
            "okx",
            "BTC-USDT-SWAP",
            "BTC",
            "USDT",
            "USDT",
            MarketType::LINEAR_PERPETUAL,
            1_700_000_000_123,
        );
        r.rate = RSome(0.0001);
        r.interval_hours = RSome(8.0);
        r.interval_source = RSome(IntervalSource::INFERRED);
        r
    }

    #[test]
    fn funding_json_has_every_field_and_nulls() {
        let mut out = Vec::new();
        write_json_line(&funding(), &mut out).unwrap();
        assert_eq!(out.last(), Some(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["kind"], "funding");
        assert_eq!(v["symbol"], "BTC/USDT:USDT");
        assert_eq!(v["market_type"], "linear_perpetual");
        assert_eq!(v["interval_source"], "inferred");
        assert_eq!(v["rate"], 0.0001);
        for field in [
            "predicted_rate",
            "next_funding_ts",
            "rate_cap",
            "exchange_ts",
            "mark",
        ] {
            assert!(v[field].is_null(), "{field} should be null: {v}");
            assert!(
                v.as_object().unwrap().contains_key(field),
                "{field} must be present"
            );
        }
        assert!(v.get("extra").is_none(), "empty extra is omitted");
        assert!(
            v.get("last").is_none(),
            "ticker fields are not on funding records"
        );
    }

    #[test]
    fn unknown_enum_values_are_rejected() {
        let mut r = funding();
        r.market_type = MarketType(9);
        assert!(write_json_line(&r, &mut Vec::new())
            .unwrap_err()
            .to_string()
            .contains("market_type"));
        let mut r = funding();
        r.kind = RecordKind(7);
        assert!(write_json_line(&r, &mut Vec::new()).is_err());
        let mut r = funding();
        r.interval_source = RSome(IntervalSource(5));
        assert!(write_json_line(&r, &mut Vec::new()).is_err());
        r.interval_source = RNone;
        assert!(write_json_line(&r, &mut Vec::new()).is_ok());
    }

    #[test]
    fn checked_in_batch_schema_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/batch.schema.json");
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == batch_schema_text(),
            "schemas/batch.schema.json is out of date: run `cargo run -p futures-collector -- schema batch > schemas/batch.schema.json`"
        );
    }

    #[test]
    fn a_batch_of_records_matches_the_batch_schema() {
        let records = [funding(), funding()];
        let batch = BatchMessage(
            records
                .iter()
                .map(|r| RecordMessage::from_record(r).unwrap())
                .collect(),
        );
        let value = serde_json::to_value(&batch).unwrap();
        assert_eq!(value.as_array().map(Vec::len), Some(2));
        let validator = jsonschema::validator_for(&batch_schema()).unwrap();
        assert!(validator.is_valid(&value), "{value}");
        assert!(!validator.is_valid(&serde_json::json!([{"kind": "funding"}])));
        assert!(!validator.is_valid(&serde_json::json!({"kind": "funding"})));
    }

    /// The serde path the fast writer must reproduce byte for byte.
    fn serde_line(r: &Record) -> Vec<u8> {
        let mut out = serde_json::to_vec(&RecordMessage::from_record(r).unwrap()).unwrap();
        out.push(b'\n');
        out
    }

    fn fast_line(r: &Record) -> Vec<u8> {
        let mut out = Vec::new();
        write_json_line(r, &mut out).unwrap();
        out
    }

    /// Records of every kind with every field absent, present, odd (NaN, ±inf, -0.0, huge,
    /// tiny, negative) and strings that need escaping.
    fn variety() -> Vec<Record> {
        let odd = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            1e-300,
            1.7976931348623157e308,
            -123.456,
            0.1 + 0.2,
            1e21,
            95_000.5,
            3.0,
        ];
        let strings = [
            "BTCUSDT",
            "",
            "quote\"back\\slash",
            "ctl\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f}\u{7f}",
            "币/€ ünïcödé 🚀",
            "</script>/",
        ];
        let mut out = Vec::new();
        for kind in [
            RecordKind::INSTRUMENT,
            RecordKind::TICKER,
            RecordKind::FUNDING,
        ] {
            for market in [MarketType::LINEAR_PERPETUAL, MarketType::INVERSE_PERPETUAL] {
                let empty = Record::new(kind, "x", "A", "B", "C", "D", market, 0);
                out.push(empty.clone());
                for (i, v) in odd.iter().enumerate() {
                    let s = strings[i % strings.len()];
                    let mut r = Record::new(kind, s, s, s, "USDT", s, market, -5 + i as i64);
                    let v = RSome(*v);
                    r.last = v;
                    r.bid = if i % 2 == 0 { v } else { RNone };
                    r.ask = v;
                    r.mark = v;
                    r.index = if i % 3 == 0 { RNone } else { v };
                    r.volume_24h_base = v;
                    r.volume_24h_quote = v;
                    r.open_interest_base = v;
                    r.open_interest_quote = if i % 2 == 1 { v } else { RNone };
                    r.rate = v;
                    r.interval_hours = v;
                    r.interval_source = match i % 4 {
                        0 => RNone,
                        1 => RSome(IntervalSource::REPORTED),
                        2 => RSome(IntervalSource::INFERRED),
                        _ => RSome(IntervalSource::DEFAULT),
                    };
                    r.next_funding_ts = if i % 2 == 0 { RSome(i64::MAX) } else { RNone };
                    r.predicted_rate = v;
                    r.rate_8h = v;
                    r.rate_annualized = v;
                    r.rate_cap = v;
                    r.rate_floor = v;
                    r.contract_size = v;
                    r.tick_size = v;
                    r.status = if i % 2 == 0 { RSome(s.into()) } else { RNone };
                    r.listing_ts = RSome(i64::MIN);
                    r.delisting_ts = if i % 3 == 0 { RSome(0) } else { RNone };
                    r.exchange_ts = if i % 2 == 0 { RSome(-1) } else { RNone };
                    if i % 2 == 0 {
                        r.push_extra("raw_status", s);
                        r.push_extra(s, "v");
                        r.push_extra("dup", "1");
                        r.push_extra("dup", "2");
                    }
                    out.push(r);
                }
            }
        }
        out
    }

    #[test]
    fn fast_writer_matches_serde_byte_for_byte() {
        let records = variety();
        assert!(records.len() > 70);
        for r in &records {
            let (fast, serde) = (fast_line(r), serde_line(r));
            assert_eq!(
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&serde),
                "{r:?}"
            );
        }
        // Real-looking records too.
        assert_eq!(fast_line(&funding()), serde_line(&funding()));
    }

    #[test]
    fn fast_writer_output_is_schema_valid_and_keeps_nulls() {
        let validator = jsonschema::validator_for(&records_schema()).unwrap();
        for r in variety() {
            let line = fast_line(&r);
            let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
            assert!(validator.is_valid(&v), "{v}");
        }
        let mut r = funding();
        r.rate = RSome(f64::NAN);
        let v: serde_json::Value = serde_json::from_slice(&fast_line(&r)).unwrap();
        assert!(v["rate"].is_null(), "NaN is null, never 0: {v}");
        assert!(v["predicted_rate"].is_null());
    }

    #[test]
    fn fast_writer_leaves_the_buffer_alone_on_error() {
        let mut out = b"kept\n".to_vec();
        let mut r = funding();
        r.interval_source = RSome(IntervalSource(9));
        assert!(write_json_line(&r, &mut out).is_err());
        let mut r = funding();
        r.kind = RecordKind(9);
        assert!(write_json_line(&r, &mut out).is_err());
        assert_eq!(out, b"kept\n");
        // An unknown interval source on a non-funding record is not part of its message.
        let mut r = funding();
        r.kind = RecordKind::TICKER;
        r.interval_source = RSome(IntervalSource(9));
        assert_eq!(fast_line(&r), serde_line(&r));
    }

    #[test]
    fn checked_in_schema_matches_the_code() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../schemas/records.schema.json"
        );
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == records_schema_text(),
            "schemas/records.schema.json is out of date: run `cargo run -p futures-collector -- schema records > schemas/records.schema.json`"
        );
    }
}

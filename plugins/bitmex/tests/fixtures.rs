//! Table-driven tests of the BitMEX plugin over raw exchange JSON.
//!
//! Owns: the proof that every kind maps the recorded BitMEX row field by field (expected values
//! are read from the fixture JSON itself), that the exchange's pitfalls are handled (settle
//! currencies in minor units, `fundingInterval` written as a date, inverse and quanto
//! contracts, `indicativeFundingRate` as the predicted rate, `XBT` → `BTC`, 30 requests/min),
//! and that every malformed or refused body is a classified error, never a panic.
//! Must not: copy fixtures into the repository (they are read from `../shared` at run time) or
//! reach the network.

use fc_plugin_bitmex::{
    build_requests, info, interval_hours, parse, settle_currency, API_PREFIX, EXTRA_RAW_STATUS,
    EXTRA_TYP, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS, PATH_INSTRUMENT_ACTIVE,
    TAG_INSTRUMENT_ACTIVE, WEIGHT_INSTRUMENT_ACTIVE,
};
use plugin_api::{
    abi_stable::std_types::{ROption, RSlice, RStr},
    Context, ErrorClass, HttpRequest, HttpResponse, IntervalSource, MarketType, ParseOutput,
    Record,
};
use serde_json::{json, Value};

const NOW: i64 = 1_732_500_000_000;
const RECEIVED: i64 = 1_732_490_000_000;

fn fixture_row() -> Value {
    serde_json::from_str(&plugin_kit::fixtures::text(
        "bitmex",
        "instrument-xbtusd.json",
    ))
    .expect("fixture is JSON")
}

fn body(rows: &[Value]) -> String {
    Value::Array(rows.to_vec()).to_string()
}

fn ctx(instruments: &[Record]) -> Context<'_> {
    Context {
        exchange_id: RStr::from_str("bitmex"),
        now_ms: NOW,
        instruments: RSlice::from_slice(instruments),
        options: RSlice::from_slice(&[]),
        credentials: ROption::RNone,
    }
}

fn run_status(kind: &str, status: u16, text: &str, instruments: &[Record]) -> ParseOutput {
    let reqs = build_requests(kind, &ctx(&[])).expect("known kind");
    let request: &HttpRequest = &reqs[0];
    let response = HttpResponse {
        request,
        status,
        headers: RSlice::from_slice(&[]),
        body: RSlice::from_slice(text.as_bytes()),
        received_ts: RECEIVED,
    };
    parse(kind, &[response], &ctx(instruments))
}

fn run(kind: &str, rows: &[Value], instruments: &[Record]) -> ParseOutput {
    run_status(kind, 200, &body(rows), instruments)
}

fn instruments_of(rows: &[Value]) -> Vec<Record> {
    let out = run(KIND_INSTRUMENTS, rows, &[]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let mut records: Vec<Record> = out.records.into_iter().collect();
    records.sort_by(|a, b| a.raw_symbol.cmp(&b.raw_symbol));
    records
}

fn find<'o>(out: &'o ParseOutput, raw: &str) -> &'o Record {
    out.records
        .iter()
        .find(|r| r.raw_symbol.as_str() == raw)
        .unwrap_or_else(|| panic!("a record for {raw} in {:?}", out.records))
}

fn extra<'r>(record: &'r Record, key: &str) -> Option<&'r str> {
    record
        .extra
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str())
}

fn f(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("`{key}` is a number"))
}

fn ms(iso: &str) -> i64 {
    plugin_kit::time::iso8601_ms(iso).expect("ISO time")
}

fn assert_close(got: ROption<f64>, want: f64, what: &str) {
    let got = got
        .into_option()
        .unwrap_or_else(|| panic!("{what} is absent"));
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{what}: {got} != {want}"
    );
}

/// A linear USDT-settled perpetual shaped like BitMEX's `XBTUSDT` (settle `USDt`, 1e6 contracts
/// per BTC).
fn linear_row() -> Value {
    let mut row = fixture_row();
    for (k, v) in [
        ("symbol", json!("XBTUSDT")),
        ("quoteCurrency", json!("USDT")),
        ("settlCurrency", json!("USDt")),
        ("isInverse", json!(false)),
        ("multiplier", json!(1)),
        ("underlyingToPositionMultiplier", json!(1_000_000)),
        ("openInterest", json!(2_500_000_000_i64)),
        ("openValue", json!(244_624_400_000_000_i64)),
        ("turnover24h", json!(98_765_432_100_000_i64)),
        ("homeNotional24h", json!(1010.5)),
        ("foreignNotional24h", json!(98_765_432.1)),
    ] {
        row[k] = v;
    }
    row
}

/// A quanto perpetual: `ETHUSD` quoted in USD, settled in XBt.
fn quanto_row() -> Value {
    let mut row = fixture_row();
    row["symbol"] = json!("ETHUSD");
    row["underlying"] = json!("ETH");
    row["rootSymbol"] = json!("ETH");
    row["isInverse"] = json!(false);
    row["isQuanto"] = json!(true);
    row["multiplier"] = json!(100);
    row
}

/// A dated future: class `FFCCSX` with an expiry.
fn dated_row() -> Value {
    let mut row = fixture_row();
    row["symbol"] = json!("XBTZ26");
    row["typ"] = json!("FFCCSX");
    row["expiry"] = json!("2026-12-25T12:00:00.000Z");
    row["fundingInterval"] = Value::Null;
    row["fundingRate"] = Value::Null;
    row
}

fn assert_only_error(out: &ParseOutput, class: ErrorClass, case: &str) {
    assert_eq!(out.errors.len(), 1, "{case}: {:?}", out.errors);
    let e = &out.errors[0];
    assert_eq!(e.class, class, "{case}: {e}");
    assert_eq!(e.request_tag.as_str(), TAG_INSTRUMENT_ACTIVE, "{case}: {e}");
    assert!(out.records.is_empty(), "{case}: {:?}", out.records);
}

// ------------------------------------------------------------------------------------------
// info and requests
// ------------------------------------------------------------------------------------------

#[test]
fn info_describes_bitmex_and_its_30_requests_per_minute() {
    let info = info();
    assert_eq!(info.exchange_id.as_str(), "bitmex");
    assert_eq!(info.default_base_url.as_str(), "https://www.bitmex.com");
    let kinds = plugin_kit::testing::kind_table(&info);
    let names: Vec<&str> = kinds.iter().map(|k| k.0).collect();
    assert_eq!(names, [KIND_INSTRUMENTS, KIND_TICKERS, KIND_FUNDING]);
    assert_eq!(info.rate_limits.len(), 1);
    let rule = &info.rate_limits[0];
    assert_eq!(rule.path_prefix.as_str(), API_PREFIX);
    assert_eq!((rule.limit, rule.window_ms), (30, 60_000));
    assert_eq!(info.default_funding_interval_hours, 8.0);
}

#[test]
fn every_kind_is_one_instrument_active_request() {
    for kind in [KIND_INSTRUMENTS, KIND_TICKERS, KIND_FUNDING] {
        let reqs = build_requests(kind, &ctx(&[])).expect("known kind");
        assert_eq!(reqs.len(), 1, "{kind}");
        assert_eq!(reqs[0].path.as_str(), PATH_INSTRUMENT_ACTIVE, "{kind}");
        assert!(reqs[0].path.as_str().starts_with(API_PREFIX));
        assert_eq!(reqs[0].tag.as_str(), TAG_INSTRUMENT_ACTIVE);
        assert_eq!(reqs[0].weight, WEIGHT_INSTRUMENT_ACTIVE);
    }
    assert!(build_requests("trades", &ctx(&[])).is_err());
    let out = parse("trades", &[], &ctx(&[]));
    assert_eq!(out.errors[0].class, ErrorClass::PERMANENT);
}

// ------------------------------------------------------------------------------------------
// instruments
// ------------------------------------------------------------------------------------------

#[test]
fn instruments_match_fixture_field_by_field() {
    let row = fixture_row();
    let list = instruments_of(std::slice::from_ref(&row));
    assert_eq!(list.len(), 1);
    let r = &list[0];
    assert_eq!(r.symbol.as_str(), "BTC/USD:BTC");
    assert_eq!(
        (r.base.as_str(), r.quote.as_str(), r.settle.as_str()),
        ("BTC", "USD", "BTC")
    );
    assert_eq!(r.market_type, MarketType::INVERSE_PERPETUAL);
    // multiplier -100000000 satoshi per contract: 1 USD per contract.
    assert_close(r.contract_size, 1.0, "contract_size");
    assert_close(r.tick_size, f(&row, "tickSize"), "tick_size");
    assert_eq!(r.status, ROption::RSome("trading".into()));
    assert_eq!(extra(r, EXTRA_RAW_STATUS), Some("Open"));
    assert_eq!(extra(r, EXTRA_TYP), Some("FFWCSX"));
    assert_eq!(r.listing_ts, ROption::RSome(ms("2016-05-13T12:00:00.000Z")));
    assert_eq!(r.interval_hours, ROption::RSome(8.0));
    assert_eq!(r.interval_source, ROption::RSome(IntervalSource::REPORTED));
}

#[test]
fn linear_contract_size_is_one_over_the_position_multiplier() {
    let list = instruments_of(&[linear_row()]);
    let r = &list[0];
    assert_eq!(r.symbol.as_str(), "BTC/USDT:USDT");
    assert_eq!(r.market_type, MarketType::LINEAR_PERPETUAL);
    // Naive: `multiplier` (1) as the size, or 1e6.
    assert_close(r.contract_size, 1e-6, "contract_size");
}

#[test]
fn settle_codes_in_minor_units_become_their_currency() {
    let cases = [
        ("XBt", "XBT", Some(1e8)),
        ("USDt", "USDT", Some(1e6)),
        ("USDT", "USDT", None),
        ("EUR", "EUR", None),
    ];
    for (raw, code, scale) in cases {
        assert_eq!(settle_currency(raw), (code.to_owned(), scale), "{raw}");
    }
}

#[test]
fn quanto_dated_and_spot_rows_are_skipped_and_counted() {
    let mut spot = fixture_row();
    spot["symbol"] = json!("XBT_USDT");
    spot["typ"] = json!("IFXXXP");
    let rows = [fixture_row(), quanto_row(), dated_row(), spot, linear_row()];
    let out = run(KIND_INSTRUMENTS, &rows, &[]);
    let mut got: Vec<&str> = out.records.iter().map(|r| r.raw_symbol.as_str()).collect();
    got.sort_unstable();
    // Naive: ETHUSD (isInverse false) as a linear ETH/USD:USD, XBTZ26 as a perpetual.
    assert_eq!(got, ["XBTUSD", "XBTUSDT"]);
    let warnings = out
        .warnings
        .iter()
        .map(|w| w.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        warnings.contains("quanto") && warnings.contains("ETHUSD"),
        "{warnings}"
    );
    assert!(
        warnings.contains("XBTZ26") && warnings.contains("XBT_USDT"),
        "{warnings}"
    );
    let list = instruments_of(&rows);
    for kind in [KIND_TICKERS, KIND_FUNDING] {
        let out = run(kind, &rows, &list);
        assert_eq!(out.records.len(), 2, "{kind}");
        assert!(out
            .records
            .iter()
            .all(|r| r.raw_symbol.as_str() != "ETHUSD"));
    }
}

#[test]
fn instrument_states_are_normalized() {
    for (state, want) in [
        ("Open", "trading"),
        ("Closed", "halted"),
        ("Unlisted", "pre_launch"),
        ("Settled", "delisted"),
        ("Paused", "paused"),
    ] {
        let mut row = fixture_row();
        row["state"] = json!(state);
        let list = instruments_of(&[row]);
        assert_eq!(list[0].status, ROption::RSome(want.into()), "{state}");
    }
}

// ------------------------------------------------------------------------------------------
// tickers
// ------------------------------------------------------------------------------------------

#[test]
fn inverse_ticker_matches_fixture_with_minor_units_divided() {
    let row = fixture_row();
    let list = instruments_of(std::slice::from_ref(&row));
    let out = run(KIND_TICKERS, std::slice::from_ref(&row), &list);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let r = find(&out, "XBTUSD");
    assert_eq!(
        r.exchange_ts,
        ROption::RSome(ms("2024-11-24T23:33:19.034Z"))
    );
    assert_close(r.last, f(&row, "lastPrice"), "last");
    assert_close(r.bid, f(&row, "bidPrice"), "bid");
    assert_close(r.ask, f(&row, "askPrice"), "ask");
    assert_close(r.mark, f(&row, "markPrice"), "mark");
    // No `indexPrice` in the REST row: the indicative settle price (the index) stands in.
    assert_close(r.index, f(&row, "indicativeSettlePrice"), "index");
    assert_close(r.volume_24h_base, f(&row, "homeNotional24h"), "volume base");
    assert_close(
        r.volume_24h_quote,
        f(&row, "foreignNotional24h"),
        "volume quote",
    );
    // openInterest is USD (1 USD contracts); openValue is satoshi: ÷ 1e8 (naive: 4.2e11 BTC).
    assert_close(r.open_interest_quote, f(&row, "openInterest"), "oi quote");
    assert_close(r.open_interest_base, 4_206.912_933_78, "oi base");
}

#[test]
fn linear_ticker_divides_usdt_micro_units() {
    let row = linear_row();
    let list = instruments_of(std::slice::from_ref(&row));
    let out = run(KIND_TICKERS, &[row], &list);
    let r = find(&out, "XBTUSDT");
    // 2.5e9 contracts of 1e-6 BTC; openValue 2.446244e14 micro-USDT.
    assert_close(r.open_interest_base, 2_500.0, "oi base");
    assert_close(r.open_interest_quote, 244_624_400.0, "oi quote");
    assert_close(r.volume_24h_base, 1010.5, "volume base");
    assert_close(r.volume_24h_quote, 98_765_432.1, "volume quote");
}

#[test]
fn turnover_in_minor_units_backs_the_settle_side_volume() {
    let cases = [
        (fixture_row(), "XBTUSD", (Some(4_317.628_991_94), None)),
        (linear_row(), "XBTUSDT", (None, Some(98_765_432.1))),
    ];
    for (mut row, raw, (base, quote)) in cases {
        row["homeNotional24h"] = Value::Null;
        row["foreignNotional24h"] = Value::Null;
        let list = instruments_of(std::slice::from_ref(&row));
        let out = run(KIND_TICKERS, &[row], &list);
        let r = find(&out, raw);
        match base {
            Some(v) => assert_close(r.volume_24h_base, v, raw),
            None => assert_eq!(r.volume_24h_base, ROption::RNone, "{raw}"),
        }
        match quote {
            Some(v) => assert_close(r.volume_24h_quote, v, raw),
            None => assert_eq!(r.volume_24h_quote, ROption::RNone, "{raw}"),
        }
    }
}

#[test]
fn index_price_wins_over_the_indicative_settle_price() {
    let mut row = fixture_row();
    row["indexPrice"] = json!(97_840.5);
    let list = instruments_of(std::slice::from_ref(&row));
    let out = run(KIND_TICKERS, &[row], &list);
    assert_close(find(&out, "XBTUSD").index, 97_840.5, "index");
}

// ------------------------------------------------------------------------------------------
// funding
// ------------------------------------------------------------------------------------------

#[test]
fn funding_matches_fixture_field_by_field() {
    let row = fixture_row();
    let list = instruments_of(std::slice::from_ref(&row));
    let out = run(KIND_FUNDING, std::slice::from_ref(&row), &list);
    let r = find(&out, "XBTUSD");
    assert_close(r.rate, f(&row, "fundingRate"), "rate");
    // indicativeFundingRate is the NEXT period's rate (naive: the current one).
    assert_close(
        r.predicted_rate,
        f(&row, "indicativeFundingRate"),
        "predicted",
    );
    assert_eq!(
        r.next_funding_ts,
        ROption::RSome(ms("2024-11-25T04:00:00.000Z"))
    );
    assert_eq!(
        r.exchange_ts,
        ROption::RSome(ms("2024-11-24T23:33:19.034Z"))
    );
    assert_eq!(r.interval_hours, ROption::RSome(8.0));
    assert_eq!(r.interval_source, ROption::RSome(IntervalSource::REPORTED));
    assert_eq!((r.rate_cap, r.rate_floor), (ROption::RNone, ROption::RNone));
    assert_eq!(
        (r.rate_8h, r.rate_annualized),
        (ROption::RNone, ROption::RNone)
    );
}

#[test]
fn funding_interval_is_a_timespan_written_as_a_date() {
    // Naive readings: a timestamp in 2000 (946713600000), or the `.hour` of the date (0 for
    // 24 h, 0 for 1 h 30 m's hour 1 → 1).
    let cases: [(Value, f64, IntervalSource); 7] = [
        (
            json!("2000-01-01T08:00:00.000Z"),
            8.0,
            IntervalSource::REPORTED,
        ),
        (
            json!("2000-01-01T04:00:00.000Z"),
            4.0,
            IntervalSource::REPORTED,
        ),
        (
            json!("2000-01-01T01:00:00.000Z"),
            1.0,
            IntervalSource::REPORTED,
        ),
        (
            json!("2000-01-02T00:00:00.000Z"),
            24.0,
            IntervalSource::REPORTED,
        ),
        (Value::Null, 8.0, IntervalSource::DEFAULT),
        (
            json!("2000-01-01T00:00:00.000Z"),
            8.0,
            IntervalSource::DEFAULT,
        ),
        (json!("8h"), 8.0, IntervalSource::DEFAULT),
    ];
    let list = instruments_of(&[fixture_row()]);
    for (encoded, hours, source) in cases {
        let mut row = fixture_row();
        row["fundingInterval"] = encoded.clone();
        let out = run(KIND_FUNDING, &[row], &list);
        let r = find(&out, "XBTUSD");
        assert_eq!(r.interval_hours, ROption::RSome(hours), "{encoded}");
        assert_eq!(r.interval_source, ROption::RSome(source), "{encoded}");
    }
    assert_eq!(interval_hours("2000-01-01T00:30:00.000Z"), Some(0.5));
    assert_eq!(interval_hours("1999-12-31T16:00:00.000Z"), None);
}

#[test]
fn recorded_ws_funding_row_encodes_the_same_interval() {
    let ws: Value = serde_json::from_str(&plugin_kit::fixtures::text("bitmex", "ws-funding.json"))
        .expect("JSON");
    let encoded = ws["fundingInterval"].as_str().expect("string");
    assert_eq!(interval_hours(encoded), Some(8.0));
}

// ------------------------------------------------------------------------------------------
// absent values and malformed input
// ------------------------------------------------------------------------------------------

#[test]
fn missing_values_are_none_not_zero() {
    let bare = json!({"symbol": "XBTUSD", "typ": "FFWCSX", "underlying": "XBT",
        "quoteCurrency": "USD", "settlCurrency": "XBt", "isInverse": true,
        "lastPrice": null, "openInterest": null, "fundingTimestamp": null});
    let list = instruments_of(std::slice::from_ref(&bare));
    assert_eq!(
        (list[0].contract_size, list[0].tick_size, list[0].listing_ts),
        (ROption::RNone, ROption::RNone, ROption::RNone)
    );
    let t = run(KIND_TICKERS, std::slice::from_ref(&bare), &list);
    let r = find(&t, "XBTUSD");
    for (what, v) in [
        ("last", r.last),
        ("bid", r.bid),
        ("ask", r.ask),
        ("mark", r.mark),
        ("index", r.index),
        ("volume_24h_base", r.volume_24h_base),
        ("volume_24h_quote", r.volume_24h_quote),
        ("open_interest_base", r.open_interest_base),
        ("open_interest_quote", r.open_interest_quote),
    ] {
        assert_eq!(v, ROption::RNone, "{what}");
    }
    assert_eq!(r.exchange_ts, ROption::RNone);
    let fr = run(KIND_FUNDING, &[bare], &list);
    let r = find(&fr, "XBTUSD");
    assert_eq!((r.rate, r.predicted_rate), (ROption::RNone, ROption::RNone));
    assert_eq!(r.next_funding_ts, ROption::RNone);
}

#[test]
fn unknown_settle_scale_leaves_money_fields_absent() {
    let mut row = linear_row();
    row["settlCurrency"] = json!("USDT");
    let list = instruments_of(std::slice::from_ref(&row));
    let out = run(KIND_TICKERS, &[row], &list);
    let r = find(&out, "XBTUSDT");
    assert_eq!(r.open_interest_quote, ROption::RNone);
    assert_close(r.open_interest_base, 2_500.0, "oi base from contracts");
}

#[test]
fn rows_not_in_ctx_are_summarised() {
    let out = run(KIND_TICKERS, &[fixture_row()], &[]);
    assert!(out.records.is_empty());
    assert!(out.warnings.iter().any(|w| w.as_str().contains("XBTUSD")));
}

#[test]
fn garbage_bodies_are_parse_errors() {
    let list = instruments_of(&[fixture_row()]);
    let good = body(&[fixture_row()]);
    let truncated = &good[..good.len() / 2];
    let cases: [(&str, &str); 9] = [
        ("empty body", ""),
        (
            "HTML page",
            "<!DOCTYPE html><html><body>Just a moment...</body></html>",
        ),
        ("plain text", "upstream connect error"),
        ("truncated JSON", truncated),
        ("an object", r#"{"symbol":"XBTUSD"}"#),
        ("null", "null"),
        ("rows are strings", r#"["XBTUSD"]"#),
        ("row without symbol", r#"[{"markPrice":1}]"#),
        (
            "number field is an object",
            r#"[{"symbol":"XBTUSD","markPrice":{"x":1}}]"#,
        ),
    ];
    for kind in [KIND_INSTRUMENTS, KIND_TICKERS, KIND_FUNDING] {
        for (case, text) in cases {
            let out = run_status(kind, 200, text, &list);
            assert_only_error(&out, ErrorClass::PARSE, &format!("{kind}: {case}"));
        }
    }
}

#[test]
fn error_envelopes_and_http_failures_are_classified() {
    let list = instruments_of(&[fixture_row()]);
    let cases: [(u16, &str, ErrorClass); 6] = [
        (
            429,
            "Rate limit exceeded, retry in 1 seconds.",
            ErrorClass::RATE_LIMITED,
        ),
        (
            503,
            "The system is currently overloaded. Please try again later.",
            ErrorClass::TRANSIENT,
        ),
        (502, "Service unavailable", ErrorClass::TRANSIENT),
        (400, "Invalid filter", ErrorClass::PERMANENT),
        (401, "Invalid API Key.", ErrorClass::PERMANENT),
        (404, "Not Found", ErrorClass::PERMANENT),
    ];
    for kind in [KIND_INSTRUMENTS, KIND_TICKERS, KIND_FUNDING] {
        for (status, message, class) in cases {
            let text = json!({"error": {"message": message, "name": "HTTPError"}}).to_string();
            let out = run_status(kind, status, &text, &list);
            assert_only_error(&out, class, &format!("{kind}: {status}"));
            assert!(out.errors[0].message.contains(message), "{}", out.errors[0]);
        }
    }
}

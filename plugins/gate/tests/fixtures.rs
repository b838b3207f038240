//! Table-driven tests over raw Gate JSON: the recorded/docs fixtures in
//! `../shared/exchange-fixtures/gate/` (read at runtime, never copied) field by field, plus
//! small hand-written bodies for the pitfalls (seconds, contract multipliers, `"nan"`), edge
//! values and malformed input.
//!
//! Owns: the plugin's observable behaviour through `info` / `build_requests` / `parse`.
//! Must not: touch the network or depend on anything outside the fixtures directory.

use abi_stable::std_types::{ROption, RSlice, RStr};
use fc_plugin_gate::{
    build_requests, info, parse, EXTRA_CAP_SOURCE, EXTRA_OI_QUOTE_DERIVED, EXTRA_PRE_MARKET,
    SIZE_DECIMAL_HEADER,
};
use plugin_api::{
    Context, ErrorClass, HttpRequest, HttpResponse, IntervalSource, MarketType, ParseOutput,
    Record, RecordKind,
};
use serde_json::Value;

const NOW: i64 = 1_700_000_000_500;
const RECEIVED: i64 = 1_700_000_000_123;

// --- helpers -----------------------------------------------------------------------------------

fn fixture(name: &str) -> Vec<u8> {
    plugin_kit::fixtures::read("gate", name)
}

fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("not a number: {s}")),
        Value::Number(n) => n.as_f64().expect("f64"),
        other => panic!("not a number: {other}"),
    }
}

fn ctx(instruments: &[Record]) -> Context<'_> {
    Context {
        exchange_id: RStr::from_str("gate"),
        now_ms: NOW,
        instruments: RSlice::from_slice(instruments),
        options: RSlice::from_slice(&[]),
        credentials: ROption::RNone,
    }
}

fn request(kind: &str) -> HttpRequest {
    let mut requests = build_requests(kind, &ctx(&[])).expect("known kind");
    assert_eq!(requests.len(), 1, "{kind}: one bulk request");
    requests.remove(0)
}

fn run_status(kind: &str, status: u16, body: &[u8], instruments: &[Record]) -> ParseOutput {
    let request = request(kind);
    let response = HttpResponse {
        request: &request,
        status,
        headers: RSlice::from_slice(&[]),
        body: RSlice::from_slice(body),
        received_ts: RECEIVED,
    };
    parse(kind, &[response], &ctx(instruments))
}

fn run(kind: &str, body: &[u8], instruments: &[Record]) -> ParseOutput {
    run_status(kind, 200, body, instruments)
}

fn instruments_from(body: &[u8]) -> Vec<Record> {
    let out = run("instruments", body, &[]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let mut records = out.records.into_vec();
    records.sort_by(|a, b| a.raw_symbol.cmp(&b.raw_symbol));
    records
}

fn fixture_instruments() -> Vec<Record> {
    instruments_from(&fixture("contracts.json"))
}

fn opt(v: ROption<f64>) -> Option<f64> {
    v.into()
}

fn extra<'a>(r: &'a Record, key: &str) -> Option<&'a str> {
    r.extra
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str())
}

fn status(r: &Record) -> Option<&str> {
    r.status.as_ref().map(|s| s.as_str()).into_option()
}

/// A contracts row with overrides (`fields` like `,"type":"inverse"`).
fn contract_row(name: &str, fields: &str) -> String {
    let mut row: serde_json::Map<String, Value> = serde_json::from_str(&format!(
        r#"{{"name":"{name}","type":"direct","quanto_multiplier":"0.0001","order_price_round":"0.1","status":"trading","in_delisting":false,"create_time":1669688556,"funding_interval":28800,"funding_next_apply":1610035200,"funding_rate":"0.0001","funding_rate_indicative":"0.0001","mark_price":"100","index_price":"100"}}"#
    ))
    .unwrap();
    let overrides: serde_json::Map<String, Value> =
        serde_json::from_str(&format!("{{{}}}", fields.trim_start_matches(','))).unwrap();
    row.extend(overrides);
    Value::Object(row).to_string()
}

fn list(rows: &[String]) -> Vec<u8> {
    format!("[{}]", rows.join(",")).into_bytes()
}

// --- info and requests -------------------------------------------------------------------------

#[test]
fn info_and_requests() {
    let info = info();
    assert_eq!(info.exchange_id.as_str(), "gate");
    assert_eq!(
        info.default_base_url.as_str(),
        "https://api.gateio.ws/api/v4"
    );
    assert_eq!(
        plugin_kit::testing::kind_table(&info),
        vec![
            ("instruments", RecordKind::INSTRUMENT, 3_600_000, false),
            ("tickers", RecordKind::TICKER, 5_000, true),
            ("funding", RecordKind::FUNDING, 30_000, true),
        ]
    );
    for (kind, path, tag) in [
        ("instruments", "/futures/usdt/contracts", "contracts"),
        ("tickers", "/futures/usdt/tickers", "tickers"),
        ("funding", "/futures/usdt/contracts", "funding"),
    ] {
        let req = request(kind);
        assert_eq!((req.path.as_str(), req.tag.as_str()), (path, tag));
        assert_eq!(req.weight, 1);
        assert!(req
            .headers
            .iter()
            .any(|h| h.key.as_str() == SIZE_DECIMAL_HEADER && h.value.as_str() == "1"));
        assert!(info
            .rate_limits
            .iter()
            .any(|r| r.path_prefix.as_str() == path && r.limit == 200 && r.window_ms == 10_000));
    }
    assert_eq!(
        build_requests("open_interest", &ctx(&[]))
            .unwrap_err()
            .class,
        ErrorClass::PERMANENT
    );
}

// --- instruments -------------------------------------------------------------------------------

#[test]
fn contracts_fixture_field_by_field() {
    let raw: Value = serde_json::from_slice(&fixture("contracts.json")).unwrap();
    let row = &raw[0];
    let records = fixture_instruments();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.kind, RecordKind::INSTRUMENT);
    assert_eq!(r.raw_symbol.as_str(), "LAB_USDT");
    assert_eq!(r.symbol.as_str(), "LAB/USDT:USDT");
    assert_eq!(r.market_type, MarketType::LINEAR_PERPETUAL);
    assert_eq!(opt(r.contract_size), Some(num(&row["quanto_multiplier"])));
    assert_eq!(opt(r.contract_size), Some(100.0));
    assert_eq!(opt(r.tick_size), Some(num(&row["order_price_round"])));
    // funding_interval 28800 is seconds: 8 h, not 28 800 h.
    assert_eq!(opt(r.interval_hours), Some(8.0));
    assert_eq!(r.interval_source, ROption::RSome(IntervalSource::REPORTED));
    // create_time is seconds.
    assert_eq!(r.listing_ts, ROption::RSome(1_669_688_556_000));
    // No status word in this docs row: in_delisting false → trading.
    assert_eq!(status(r), Some("trading"));
    assert_eq!(r.delisting_ts, ROption::RNone);
    assert_eq!(r.exchange_ts, ROption::RNone, "Gate serves no time");
    assert_eq!(r.received_ts, RECEIVED);
}

#[test]
fn statuses_inverse_rows_renames_and_multipliers() {
    let rows = [
        contract_row("BTC_USDT", ""),
        contract_row(
            "OLD_USDT",
            r#","in_delisting":true,"delisting_time":1700100000"#,
        ),
        contract_row(
            "NEW_USDT",
            r#","is_pre_market":true,"launch_time":1700200000"#,
        ),
        contract_row("GONE_USDT", r#","status":"delisted""#),
        contract_row("GTC_USDT", ""),
        contract_row("1000PEPE_USDT", ""),
        contract_row("BTC_USD", r#","type":"inverse""#),
        contract_row("NOSEPARATOR", ""),
    ];
    let out = run("instruments", &list(&rows), &[]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let by = |raw: &str| {
        out.records
            .iter()
            .find(|r| r.raw_symbol.as_str() == raw)
            .unwrap_or_else(|| panic!("{raw}"))
    };
    assert_eq!(status(by("BTC_USDT")), Some("trading"));
    let old = by("OLD_USDT");
    assert_eq!(status(old), Some("settling"));
    assert_eq!(old.delisting_ts, ROption::RSome(1_700_100_000_000));
    let new = by("NEW_USDT");
    assert_eq!(status(new), Some("pre_launch"));
    assert_eq!(extra(new, EXTRA_PRE_MARKET), Some("true"));
    assert_eq!(new.listing_ts, ROption::RSome(1_700_200_000_000));
    assert_eq!(status(by("GONE_USDT")), Some("delisted"));
    assert_eq!(
        by("GTC_USDT").symbol.as_str(),
        "GAMECOM/USDT:USDT",
        "ccxt's gate rename"
    );
    assert_eq!(extra(by("1000PEPE_USDT"), "multiplier"), Some("1000"));
    assert_eq!(out.records.len(), 6);
    let warnings: Vec<&str> = out.warnings.iter().map(|w| w.as_str()).collect();
    assert!(
        warnings.iter().any(|w| w.contains("BTC_USD (inverse)")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("NOSEPARATOR")),
        "{warnings:?}"
    );
}

#[test]
fn zero_or_missing_multiplier_and_tick_are_absent() {
    let rows = [contract_row(
        "X_USDT",
        r#","quanto_multiplier":"0","order_price_round":"","funding_interval":0,"create_time":0"#,
    )];
    let r = &instruments_from(&list(&rows))[0];
    assert_eq!(r.contract_size, ROption::RNone);
    assert_eq!(r.tick_size, ROption::RNone);
    assert_eq!(r.interval_hours, ROption::RNone);
    assert_eq!(r.listing_ts, ROption::RNone);
}

// --- tickers -----------------------------------------------------------------------------------

fn tickers_as_lab() -> Vec<u8> {
    String::from_utf8(fixture("tickers.json"))
        .unwrap()
        .replace(r#""BTC_USDT""#, r#""LAB_USDT""#)
        .into_bytes()
}

/// Pitfall: `total_size` counts contracts; open interest in base is `total_size ×
/// quanto_multiplier` (LAB_USDT: 100 per contract), and the quote side is base × mark.
#[test]
fn tickers_fixture_field_by_field_with_contract_size_math() {
    let body = tickers_as_lab();
    let raw: Value = serde_json::from_slice(&body).unwrap();
    let row = &raw[0];
    let out = run("tickers", &body, &fixture_instruments());
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.records.len(), 1);
    let r = &out.records[0];
    assert_eq!(r.kind, RecordKind::TICKER);
    assert_eq!(opt(r.last), Some(num(&row["last"])));
    assert_eq!(opt(r.bid), Some(num(&row["highest_bid"])));
    assert_eq!(opt(r.ask), Some(num(&row["lowest_ask"])));
    assert_eq!(opt(r.mark), Some(num(&row["mark_price"])));
    assert_eq!(opt(r.index), Some(num(&row["index_price"])));
    assert_eq!(opt(r.volume_24h_base), Some(num(&row["volume_24h_base"])));
    assert_eq!(opt(r.volume_24h_quote), Some(num(&row["volume_24h_quote"])));
    let contracts = num(&row["total_size"]);
    assert_eq!(opt(r.open_interest_base), Some(contracts * 100.0));
    assert_ne!(
        opt(r.open_interest_base),
        Some(contracts),
        "not the contract count"
    );
    assert_eq!(
        opt(r.open_interest_quote),
        Some(contracts * 100.0 * num(&row["mark_price"]))
    );
    assert_eq!(extra(r, EXTRA_OI_QUOTE_DERIVED), Some("true"));
    assert_eq!(r.exchange_ts, ROption::RNone);
}

/// Pitfall: sizes are integers or (with `X-Gate-Size-Decimal: 1`) decimal strings; `"nan"`
/// volumes are absent, never 0 (ccxt writes 0).
#[test]
fn sizes_as_numbers_or_strings_and_nan_is_absent() {
    let instruments = instruments_from(&list(&[contract_row("BTC_USDT", "")]));
    let cases: &[(&str, Option<f64>, Option<f64>)] = &[
        (r#""total_size":32323904"#, Some(3_232.390_4), None),
        (r#""total_size":"73648.5""#, Some(7.364_85), None),
        (r#""total_size":"","volume_24h_base":"nan""#, None, None),
        (
            r#""total_size":null,"volume_24h_base":"12.5""#,
            None,
            Some(12.5),
        ),
        (
            r#""total_size":"0","volume_24h_base":"0""#,
            Some(0.0),
            Some(0.0),
        ),
    ];
    for (fields, oi, vol) in cases {
        let body = format!(r#"[{{"contract":"BTC_USDT","last":"100",{fields}}}]"#);
        let out = run("tickers", body.as_bytes(), &instruments);
        assert!(out.errors.is_empty(), "{fields}: {:?}", out.errors);
        let r = &out.records[0];
        let got = opt(r.open_interest_base);
        match (got, oi) {
            (Some(g), Some(w)) => assert!((g - w).abs() < 1e-9, "{fields}: {g} vs {w}"),
            _ => assert_eq!(got, *oi, "{fields}"),
        }
        assert_eq!(opt(r.volume_24h_base), *vol, "{fields}");
        // No mark price in these rows: no derived quote OI.
        assert_eq!(r.open_interest_quote, ROption::RNone, "{fields}");
        assert_eq!(r.mark, ROption::RNone);
    }
    // Without a known contract size, contracts are not turned into a base amount.
    let mut sizeless = instruments.clone();
    sizeless[0].contract_size = ROption::RNone;
    let out = run(
        "tickers",
        br#"[{"contract":"BTC_USDT","total_size":"5","mark_price":"1"}]"#,
        &sizeless,
    );
    assert_eq!(out.records[0].open_interest_base, ROption::RNone);
    // Unknown contracts are counted, not emitted.
    let out = run(
        "tickers",
        br#"[{"contract":"NEW_USDT","last":"1"}]"#,
        &instruments,
    );
    assert!(out.records.is_empty());
    assert!(out.warnings.iter().any(|w| w.contains("NEW_USDT")));
}

// --- funding -----------------------------------------------------------------------------------

/// Pitfall: `funding_next_apply` and `funding_interval` are seconds.
#[test]
fn funding_fixture_field_by_field_in_seconds() {
    let raw: Value = serde_json::from_slice(&fixture("contracts.json")).unwrap();
    let row = &raw[0];
    let out = run(
        "funding",
        &fixture("contracts.json"),
        &fixture_instruments(),
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let r = &out.records[0];
    assert_eq!(r.kind, RecordKind::FUNDING);
    assert_eq!(opt(r.rate), Some(num(&row["funding_rate"])));
    assert_eq!(
        opt(r.predicted_rate),
        Some(num(&row["funding_rate_indicative"]))
    );
    assert_eq!(r.next_funding_ts, ROption::RSome(1_610_035_200_000));
    assert_eq!(opt(r.interval_hours), Some(8.0));
    assert_eq!(r.interval_source, ROption::RSome(IntervalSource::REPORTED));
    assert_eq!(opt(r.mark), Some(num(&row["mark_price"])));
    assert_eq!(opt(r.index), Some(num(&row["index_price"])));
    // This row has funding_cap_ratio (a formula input), no explicit limit: no cap, no floor.
    assert_eq!(r.rate_cap, ROption::RNone);
    assert_eq!(r.rate_floor, ROption::RNone);
    assert_eq!(r.rate_8h, ROption::RNone, "the host computes rate_8h");
}

#[test]
fn funding_intervals_caps_and_fallbacks() {
    let instruments = instruments_from(&list(&[contract_row("BTC_USDT", "")]));
    let cases: &[(&str, Option<f64>, IntervalSource, Option<f64>)] = &[
        (
            r#","funding_interval":3600"#,
            Some(1.0),
            IntervalSource::REPORTED,
            None,
        ),
        (
            r#","funding_interval":14400"#,
            Some(4.0),
            IntervalSource::REPORTED,
            None,
        ),
        // Missing here: the instruments' interval.
        (
            r#","funding_interval":null"#,
            Some(8.0),
            IntervalSource::REPORTED,
            None,
        ),
        (
            r#","funding_rate_limit":"0.02""#,
            Some(8.0),
            IntervalSource::REPORTED,
            Some(0.02),
        ),
    ];
    for (fields, hours, source, cap) in cases {
        let out = run(
            "funding",
            &list(&[contract_row("BTC_USDT", fields)]),
            &instruments,
        );
        let r = &out.records[0];
        assert_eq!(opt(r.interval_hours), *hours, "{fields}");
        assert_eq!(r.interval_source, ROption::RSome(*source), "{fields}");
        assert_eq!(opt(r.rate_cap), *cap, "{fields}");
        assert_eq!(opt(r.rate_floor), cap.map(|c| -c), "{fields}");
        assert_eq!(
            extra(r, EXTRA_CAP_SOURCE),
            cap.map(|_| "funding_rate_limit"),
            "{fields}"
        );
    }
    // Nothing anywhere: the default, marked as such; absent next time stays absent.
    let mut bare = instruments.clone();
    bare[0].interval_hours = ROption::RNone;
    bare[0].interval_source = ROption::RNone;
    let out = run(
        "funding",
        &list(&[contract_row(
            "BTC_USDT",
            r#","funding_interval":null,"funding_next_apply":0,"funding_rate_indicative":"""#,
        )]),
        &bare,
    );
    let r = &out.records[0];
    assert_eq!(opt(r.interval_hours), Some(8.0));
    assert_eq!(r.interval_source, ROption::RSome(IntervalSource::DEFAULT));
    assert_eq!(r.next_funding_ts, ROption::RNone);
    assert_eq!(r.predicted_rate, ROption::RNone);
}

// --- errors and malformed input ----------------------------------------------------------------

#[test]
fn error_bodies_and_malformed_input_are_classified() {
    let cases: &[(u16, &str, ErrorClass)] = &[
        (
            400,
            r#"{"label":"INVALID_PARAM_VALUE","message":"invalid settle"}"#,
            ErrorClass::PERMANENT,
        ),
        (
            404,
            r#"{"label":"CONTRACT_NOT_FOUND","message":"contract not found"}"#,
            ErrorClass::PERMANENT,
        ),
        (
            429,
            r#"{"label":"TOO_MANY_REQUESTS","message":"Request Rate limit Exceeded"}"#,
            ErrorClass::RATE_LIMITED,
        ),
        (
            500,
            r#"{"label":"SERVER_ERROR","message":"internal"}"#,
            ErrorClass::TRANSIENT,
        ),
        // A label under 200 is still an error.
        (
            200,
            r#"{"label":"SERVER_ERROR","message":"internal"}"#,
            ErrorClass::TRANSIENT,
        ),
        (200, "[]", ErrorClass::PARSE),
        (200, r#"{"oops":1}"#, ErrorClass::PARSE),
        (
            200,
            r#"[{"name":["BTC_USDT"],"contract":["BTC_USDT"]}]"#,
            ErrorClass::PARSE,
        ),
        (
            200,
            "<html><body>502 Bad Gateway</body></html>",
            ErrorClass::PARSE,
        ),
        (200, r#"[{"name":"BTC_"#, ErrorClass::PARSE),
        (200, "", ErrorClass::PARSE),
        (403, "Forbidden", ErrorClass::PERMANENT),
    ];
    let instruments = fixture_instruments();
    for kind in ["instruments", "tickers", "funding"] {
        for (status, body, class) in cases {
            let out = run_status(kind, *status, body.as_bytes(), &instruments);
            assert!(out.records.is_empty(), "{kind} {body}");
            assert_eq!(out.errors.len(), 1, "{kind} {body}");
            let e = &out.errors[0];
            assert_eq!(e.class, *class, "{kind} {status} {body}: {e:?}");
            assert_eq!(e.request_tag.as_str(), request(kind).tag.as_str());
        }
    }
}

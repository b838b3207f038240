//! Table-driven tests over raw Bitget JSON: the recorded/docs fixtures in
//! `../shared/exchange-fixtures/bitget/` (read at runtime, never copied) field by field, plus
//! small hand-written bodies for the pitfalls, edge values and malformed input.
//!
//! Owns: the plugin's observable behaviour through `info` / `build_requests` / `parse`.
//! Must not: touch the network or depend on anything outside the fixtures directory.

use abi_stable::std_types::{ROption, RSlice, RStr};
use fc_plugin_bitget::{build_requests, info, parse, EXTRA_OI_QUOTE_DERIVED, PRODUCT_TYPES};
use plugin_api::{
    Context, ErrorClass, HttpRequest, HttpResponse, IntervalSource, MarketType, ParseOutput,
    Record, RecordKind,
};
use serde_json::Value;

const NOW: i64 = 1_700_000_000_500;
const RECEIVED: i64 = 1_700_000_000_123;

// --- helpers -----------------------------------------------------------------------------------

fn fixture(name: &str) -> Vec<u8> {
    plugin_kit::fixtures::read("bitget", name)
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
        exchange_id: RStr::from_str("bitget"),
        now_ms: NOW,
        instruments: RSlice::from_slice(instruments),
        options: RSlice::from_slice(&[]),
        credentials: ROption::RNone,
    }
}

/// The USDT-FUTURES request of `kind`.
fn request(kind: &str) -> HttpRequest {
    build_requests(kind, &ctx(&[]))
        .expect("known kind")
        .into_iter()
        .next()
        .expect("a request")
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

fn envelope(data: &str) -> Vec<u8> {
    format!(r#"{{"code":"00000","msg":"success","requestTime":1695796725656,"data":{data}}}"#)
        .into_bytes()
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

/// A contracts row with overrides (`fields` like `,"symbolType":"delivery"`), as Bitget writes
/// it (strings everywhere).
fn contract_row(symbol: &str, fields: &str) -> String {
    let base = symbol
        .split('_')
        .next()
        .unwrap_or("X")
        .trim_end_matches("USDT");
    let mut row: serde_json::Map<String, Value> = serde_json::from_str(&format!(
        r#"{{"symbol":"{symbol}","baseCoin":"{base}","quoteCoin":"USDT","supportMarginCoins":["USDT"],"priceEndStep":"1","pricePlace":"1","symbolType":"perpetual","symbolStatus":"normal","offTime":"-1","deliveryTime":"","launchTime":"","fundInterval":"8"}}"#
    ))
    .unwrap();
    let overrides: serde_json::Map<String, Value> =
        serde_json::from_str(&format!("{{{}}}", fields.trim_start_matches(','))).unwrap();
    row.extend(overrides);
    Value::Object(row).to_string()
}

// --- info and requests -------------------------------------------------------------------------

#[test]
fn info_and_requests_cover_both_linear_product_types() {
    let info = info();
    assert_eq!(info.exchange_id.as_str(), "bitget");
    assert_eq!(
        plugin_kit::testing::kind_table(&info),
        vec![
            ("instruments", RecordKind::INSTRUMENT, 3_600_000, false),
            ("tickers", RecordKind::TICKER, 5_000, true),
            ("funding", RecordKind::FUNDING, 30_000, true),
        ]
    );
    let cases = [
        ("instruments", "/api/v2/mix/market/contracts", "contracts"),
        ("tickers", "/api/v2/mix/market/tickers", "tickers"),
        ("funding", "/api/v2/mix/market/current-fund-rate", "funding"),
    ];
    for (kind, path, tag) in cases {
        let requests = build_requests(kind, &ctx(&[])).unwrap();
        assert_eq!(requests.len(), PRODUCT_TYPES.len(), "{kind}");
        for (req, product) in requests.iter().zip(PRODUCT_TYPES) {
            assert_eq!(req.path.as_str(), path);
            assert_eq!(req.tag.as_str(), format!("{tag}:{product}"));
            assert_eq!(req.query_value("productType"), Some(product));
            // Bulk: never one request per symbol.
            assert_eq!(req.query_value("symbol"), None);
            assert_eq!(req.weight, 1);
            assert!(info
                .rate_limits
                .iter()
                .any(|rule| path.starts_with(rule.path_prefix.as_str())
                    && rule.limit == 20
                    && rule.window_ms == 1_000));
        }
    }
    let err = build_requests("open_interest", &ctx(&[])).unwrap_err();
    assert_eq!(err.class, ErrorClass::PERMANENT);
}

// --- instruments -------------------------------------------------------------------------------

#[test]
fn contracts_fixture_field_by_field() {
    let raw: Value = serde_json::from_slice(&fixture("contracts.json")).unwrap();
    let row = &raw["data"][0];
    let records = fixture_instruments();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.kind, RecordKind::INSTRUMENT);
    assert_eq!(r.exchange.as_str(), "bitget");
    assert_eq!(r.raw_symbol.as_str(), row["symbol"].as_str().unwrap());
    assert_eq!(r.symbol.as_str(), "BTC/USDT:USDT");
    assert_eq!(
        (r.base.as_str(), r.quote.as_str(), r.settle.as_str()),
        ("BTC", "USDT", "USDT")
    );
    assert_eq!(r.market_type, MarketType::LINEAR_PERPETUAL);
    assert_eq!(opt(r.contract_size), Some(1.0));
    // priceEndStep "1" × 10^-pricePlace "1" = 0.1 (not 1, not 10^-1 alone by accident).
    assert_eq!(opt(r.tick_size), Some(0.1));
    assert_eq!(opt(r.interval_hours), Some(num(&row["fundInterval"])));
    assert_eq!(r.interval_source, ROption::RSome(IntervalSource::REPORTED));
    assert_eq!(
        r.status.as_ref().map(|s| s.as_str()).into_option(),
        Some("trading")
    );
    assert_eq!(extra(r, "raw_status"), Some("normal"));
    // offTime "-1", launchTime "", deliveryTime "": absent, never 0 or -1.
    assert_eq!(r.delisting_ts, ROption::RNone);
    assert_eq!(r.listing_ts, ROption::RNone);
    assert_eq!(r.exchange_ts, ROption::RSome(1_695_793_701_269));
    assert_eq!(r.received_ts, RECEIVED);
    // Instruments carry no funding cap (Bitget serves it on current-fund-rate only).
    assert_eq!(r.rate_cap, ROption::RNone);
}

#[test]
fn tick_size_is_end_step_times_ten_to_minus_place() {
    let cases: &[(&str, &str, Option<f64>)] = &[
        ("1", "1", Some(0.1)),
        ("5", "2", Some(0.05)),
        ("1", "0", Some(1.0)),
        ("25", "4", Some(0.0025)),
        ("0", "2", None),
        ("", "2", None),
        ("1", "", None),
        ("1", "-1", None),
        ("1", "1.5", None),
    ];
    for (step, place, want) in cases {
        let row = contract_row(
            "BTCUSDT",
            &format!(r#","priceEndStep":"{step}","pricePlace":"{place}""#),
        );
        let records = instruments_from(&envelope(&format!("[{row}]")));
        assert_eq!(opt(records[0].tick_size), *want, "{step} {place}");
    }
}

/// Pitfall (errata 3): dated `BTCUSDT_YYMMDD` rows appear inside USDT-FUTURES lists, sometimes
/// without `symbolType: delivery`; they are skipped, counted, and never labelled perpetual.
#[test]
fn dated_contracts_in_the_usdt_list_are_skipped_and_counted() {
    let rows = [
        contract_row("BTCUSDT", ""),
        contract_row(
            "BTCUSDT_250328",
            r#","symbolType":"delivery","deliveryTime":"1743148800000""#,
        ),
        // Labelled perpetual, but named and timed like a delivery contract.
        contract_row("ETHUSDT_250627", r#","deliveryTime":"1751011200000""#),
        contract_row("SOLUSDT_250926", ""),
        contract_row("XRPUSDT", r#","symbolType":"spot""#),
    ];
    let out = run(
        "instruments",
        &envelope(&format!("[{}]", rows.join(","))),
        &[],
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let symbols: Vec<&str> = out.records.iter().map(|r| r.raw_symbol.as_str()).collect();
    assert_eq!(symbols, ["BTCUSDT"]);
    let warnings: Vec<&str> = out.warnings.iter().map(|w| w.as_str()).collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains('3') && w.contains("dated") && w.contains("BTCUSDT_250328")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("XRPUSDT (spot)")),
        "{warnings:?}"
    );
}

#[test]
fn statuses_renames_settle_and_multipliers() {
    let rows = [
        contract_row(
            "PEPEUSDT",
            r#","symbolStatus":"listed","launchTime":"1700003600000""#,
        ),
        contract_row(
            "TONCOINUSDT",
            r#","symbolStatus":"off","offTime":"1700100000000""#,
        ),
        contract_row("1000BONKUSDT", r#","symbolStatus":"maintain""#),
        contract_row(
            "BTCPERP",
            r#","baseCoin":"BTC","quoteCoin":"USDC","supportMarginCoins":["USDC"]"#,
        ),
        contract_row("NOBASEUSDT", r#","baseCoin":"""#),
    ];
    let records = {
        let out = run(
            "instruments",
            &envelope(&format!("[{}]", rows.join(","))),
            &[],
        );
        assert!(out.warnings.iter().any(|w| w.contains("NOBASEUSDT")));
        out.records.into_vec()
    };
    let by = |raw: &str| {
        records
            .iter()
            .find(|r| r.raw_symbol.as_str() == raw)
            .unwrap()
    };
    let pepe = by("PEPEUSDT");
    assert_eq!(
        pepe.status.as_ref().map(|s| s.as_str()).into_option(),
        Some("pre_launch")
    );
    assert_eq!(pepe.listing_ts, ROption::RSome(1_700_003_600_000));
    let ton = by("TONCOINUSDT");
    assert_eq!(ton.symbol.as_str(), "TON/USDT:USDT", "ccxt's bitget rename");
    assert_eq!(
        ton.status.as_ref().map(|s| s.as_str()).into_option(),
        Some("delisted")
    );
    assert_eq!(ton.delisting_ts, ROption::RSome(1_700_100_000_000));
    let bonk = by("1000BONKUSDT");
    assert_eq!(bonk.symbol.as_str(), "1000BONK/USDT:USDT");
    assert_eq!(extra(bonk, "multiplier"), Some("1000"));
    let usdc = by("BTCPERP");
    assert_eq!(usdc.symbol.as_str(), "BTC/USDC:USDC");
    assert_eq!(records.len(), 4);
}

// --- tickers -----------------------------------------------------------------------------------

/// The fixture's perpetual row re-labelled BTCUSDT (it is a COIN-FUTURES answer), and an
/// instrument for it.
fn tickers_body() -> Vec<u8> {
    String::from_utf8(fixture("tickers.json"))
        .unwrap()
        .replace(r#""symbol": "BTCUSD""#, r#""symbol": "BTCUSDT""#)
        .into_bytes()
}

#[test]
fn tickers_fixture_field_by_field() {
    let body = tickers_body();
    let raw: Value = serde_json::from_slice(&body).unwrap();
    let row = &raw["data"][0];
    let out = run("tickers", &body, &fixture_instruments());
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(
        out.records.len(),
        1,
        "the dated ETHUSD_231229 row is skipped"
    );
    assert!(out
        .warnings
        .iter()
        .any(|w| w.contains("ETHUSD_231229") && w.contains("dated")));
    let r = &out.records[0];
    assert_eq!(r.kind, RecordKind::TICKER);
    assert_eq!(r.symbol.as_str(), "BTC/USDT:USDT");
    assert_eq!(opt(r.last), Some(num(&row["lastPr"])));
    assert_eq!(opt(r.bid), Some(num(&row["bidPr"])));
    assert_eq!(opt(r.ask), Some(num(&row["askPr"])));
    assert_eq!(opt(r.index), Some(num(&row["indexPrice"])));
    // This docs row has no markPrice: absent, and so is the derived quote side of OI.
    assert_eq!(r.mark, ROption::RNone);
    assert_eq!(opt(r.open_interest_base), Some(num(&row["holdingAmount"])));
    assert_eq!(r.open_interest_quote, ROption::RNone);
    assert_eq!(extra(r, EXTRA_OI_QUOTE_DERIVED), None);
    // A served "0" volume is a value (a quiet market), not absent.
    assert_eq!(opt(r.volume_24h_base), Some(0.0));
    assert_eq!(opt(r.volume_24h_quote), Some(0.0));
    assert_eq!(r.exchange_ts, ROption::RSome(1_695_794_271_400));
    // Funding is not taken from tickers (no settlement time there).
    assert_eq!(r.rate, ROption::RNone);
}

#[test]
fn ticker_with_mark_derives_quote_open_interest_and_keeps_absent_absent() {
    let row = r#"{"symbol":"BTCUSDT","lastPr":"104823.8","askPr":"104823.8","bidPr":"104823.5","ts":"1750332210370","baseVolume":"79089.5675","quoteVolume":"8274870921.80485","indexPrice":"104881.953125","fundingRate":"-0.000014","holdingAmount":"7452.6421","deliveryTime":null,"markPrice":"104824.2"}"#;
    let out = run(
        "tickers",
        &envelope(&format!("[{row}]")),
        &fixture_instruments(),
    );
    let r = &out.records[0];
    assert_eq!(opt(r.mark), Some(104_824.2));
    assert_eq!(opt(r.volume_24h_base), Some(79_089.567_5));
    assert_eq!(opt(r.volume_24h_quote), Some(8_274_870_921.804_85));
    assert_eq!(opt(r.open_interest_base), Some(7_452.642_1));
    assert_eq!(opt(r.open_interest_quote), Some(7_452.642_1 * 104_824.2));
    assert_eq!(extra(r, EXTRA_OI_QUOTE_DERIVED), Some("true"));

    // Empty strings, nulls, "0" prices and ts "0" are absent; nothing becomes 0.
    let row = r#"{"symbol":"BTCUSDT","lastPr":"","askPr":null,"bidPr":"0","ts":"0","markPrice":"0","indexPrice":"","holdingAmount":""}"#;
    let out = run(
        "tickers",
        &envelope(&format!("[{row}]")),
        &fixture_instruments(),
    );
    let r = &out.records[0];
    for v in [
        r.last,
        r.bid,
        r.ask,
        r.mark,
        r.index,
        r.volume_24h_base,
        r.open_interest_base,
        r.open_interest_quote,
    ] {
        assert_eq!(v, ROption::RNone);
    }
    assert_eq!(r.exchange_ts, ROption::RNone);

    // Unknown symbols are counted, not emitted.
    let out = run(
        "tickers",
        &envelope(r#"[{"symbol":"NEWUSDT","lastPr":"1"}]"#),
        &fixture_instruments(),
    );
    assert!(out.records.is_empty());
    assert!(out.warnings.iter().any(|w| w.contains("NEWUSDT")));
}

// --- funding -----------------------------------------------------------------------------------

/// Pitfall: the bulk `current-fund-rate` gives rate, interval, next time and caps in one row;
/// its interval wins over the contracts' `fundInterval` (a symbol moved to 4 h shows it there
/// first), and the tickers' rate is never the funding record.
#[test]
fn bulk_current_fund_rate_gives_interval_next_time_and_caps() {
    let body = envelope(
        r#"[{"symbol":"BTCUSDT","fundingRate":"-0.000024","fundingRateInterval":"4","nextUpdate":"1761667200000","minFundingRate":"-0.003","maxFundingRate":"0.003"}]"#,
    );
    let instruments = fixture_instruments();
    assert_eq!(opt(instruments[0].interval_hours), Some(8.0));
    let out = run("funding", &body, &instruments);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let r = &out.records[0];
    assert_eq!(r.kind, RecordKind::FUNDING);
    assert_eq!(opt(r.rate), Some(-0.000_024));
    assert_eq!(opt(r.interval_hours), Some(4.0));
    assert_eq!(r.interval_source, ROption::RSome(IntervalSource::REPORTED));
    assert_eq!(r.next_funding_ts, ROption::RSome(1_761_667_200_000));
    assert_eq!(opt(r.rate_cap), Some(0.003));
    assert_eq!(opt(r.rate_floor), Some(-0.003));
    assert_eq!(
        r.predicted_rate,
        ROption::RNone,
        "Bitget serves no prediction"
    );
    assert_eq!(r.rate_8h, ROption::RNone, "the host computes rate_8h");
    assert_eq!(r.exchange_ts, ROption::RSome(1_695_796_725_656));
}

#[test]
fn funding_fixture_without_interval_falls_back_to_the_contracts() {
    let out = run(
        "funding",
        &fixture("current-fund-rate.json"),
        &fixture_instruments(),
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let r = &out.records[0];
    assert_eq!(opt(r.rate), Some(0.0005));
    assert_eq!(opt(r.interval_hours), Some(8.0));
    assert_eq!(r.interval_source, ROption::RSome(IntervalSource::REPORTED));
    // The old docs shape has no nextUpdate and no caps: absent, never 0.
    assert_eq!(r.next_funding_ts, ROption::RNone);
    assert_eq!(r.rate_cap, ROption::RNone);
    assert_eq!(r.rate_floor, ROption::RNone);

    // No interval anywhere: the default, marked as such.
    let mut bare = fixture_instruments();
    bare[0].interval_hours = ROption::RNone;
    bare[0].interval_source = ROption::RNone;
    let out = run("funding", &fixture("current-fund-rate.json"), &bare);
    assert_eq!(opt(out.records[0].interval_hours), Some(8.0));
    assert_eq!(
        out.records[0].interval_source,
        ROption::RSome(IntervalSource::DEFAULT)
    );
}

// --- errors and malformed input ----------------------------------------------------------------

#[test]
fn error_envelopes_and_malformed_bodies_are_classified() {
    let cases: &[(u16, &str, ErrorClass)] = &[
        (
            200,
            r#"{"code":"40017","msg":"Parameter verification failed","requestTime":1,"data":null}"#,
            ErrorClass::PERMANENT,
        ),
        (
            400,
            r#"{"code":"40309","msg":"The contract has been removed","requestTime":1,"data":null}"#,
            ErrorClass::PERMANENT,
        ),
        (
            429,
            r#"{"code":"429","msg":"Too Many Requests","requestTime":1,"data":null}"#,
            ErrorClass::RATE_LIMITED,
        ),
        (
            200,
            r#"{"code":"1001","msg":"Too many requests","requestTime":1,"data":null}"#,
            ErrorClass::RATE_LIMITED,
        ),
        (
            200,
            r#"{"code":"40015","msg":"System is abnormal","requestTime":1,"data":null}"#,
            ErrorClass::TRANSIENT,
        ),
        (
            400,
            r#"{"code":"40200","msg":"Server upgrade","requestTime":1,"data":null}"#,
            ErrorClass::TRANSIENT,
        ),
        (
            200,
            r#"{"code":"00000","msg":"success","requestTime":1,"data":[]}"#,
            ErrorClass::PARSE,
        ),
        (
            200,
            r#"{"code":"00000","msg":"success","requestTime":1,"data":{"x":1}}"#,
            ErrorClass::PARSE,
        ),
        (
            200,
            r#"{"code":"00000","msg":"success","requestTime":1,"data":[{"symbol":["BTCUSDT"]}]}"#,
            ErrorClass::PARSE,
        ),
        (
            200,
            "<html><body>502 Bad Gateway</body></html>",
            ErrorClass::PARSE,
        ),
        (
            200,
            r#"{"code":"00000","msg":"success","data":[{"sym"#,
            ErrorClass::PARSE,
        ),
        (200, "", ErrorClass::PARSE),
    ];
    for kind in ["instruments", "tickers", "funding"] {
        for (status, body, class) in cases {
            let out = run_status(kind, *status, body.as_bytes(), &fixture_instruments());
            assert!(out.records.is_empty(), "{kind} {body}");
            assert_eq!(out.errors.len(), 1, "{kind} {body}");
            let e = &out.errors[0];
            assert_eq!(e.class, *class, "{kind} {status} {body}: {e:?}");
            assert!(e.request_tag.as_str().ends_with(":USDT-FUTURES"), "{e:?}");
        }
    }
}

#[test]
fn one_failed_product_type_keeps_the_other() {
    let requests = build_requests("tickers", &ctx(&[])).unwrap();
    let instruments = {
        let mut all = fixture_instruments();
        let usdc = contract_row(
            "BTCPERP",
            r#","baseCoin":"BTC","quoteCoin":"USDC","supportMarginCoins":["USDC"]"#,
        );
        all.extend(instruments_from(&envelope(&format!("[{usdc}]"))));
        all.sort_by(|a, b| a.raw_symbol.cmp(&b.raw_symbol));
        all
    };
    let good = envelope(r#"[{"symbol":"BTCPERP","lastPr":"100.5"}]"#);
    let bad = b"<html>oops</html>".to_vec();
    let responses = [
        HttpResponse {
            request: &requests[0],
            status: 200,
            headers: RSlice::from_slice(&[]),
            body: RSlice::from_slice(&bad),
            received_ts: RECEIVED,
        },
        HttpResponse {
            request: &requests[1],
            status: 200,
            headers: RSlice::from_slice(&[]),
            body: RSlice::from_slice(&good),
            received_ts: RECEIVED,
        },
    ];
    let out = parse("tickers", &responses, &ctx(&instruments));
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].request_tag.as_str(), "tickers:USDT-FUTURES");
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.records[0].symbol.as_str(), "BTC/USDC:USDC");
    assert_eq!(opt(out.records[0].last), Some(100.5));
}

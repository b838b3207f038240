//! Table-driven tests over raw Bybit JSON: the recorded/docs fixtures in
//! `../shared/exchange-fixtures/bybit/` (read at runtime, never copied) plus small hand-written
//! bodies for pagination, edge values and malformed input.
//!
//! Owns: the plugin's observable behaviour through `info` / `build_requests` / `parse`, the
//! functions the export macro wraps (and one round trip through the exported root module).
//! Must not: touch the network or depend on anything outside the fixtures directory.

use abi_stable::std_types::{ROption, RSlice, RStr};
use fc_plugin_bybit::{build_requests, info, parse};
use plugin_api::{
    Context, ErrorClass, HttpRequest, HttpResponse, IntervalSource, KeyValueRef, MarketType,
    ParseOutput, Record, RecordKind,
};
use serde_json::Value;

/// The host's clock in every test context.
const NOW: i64 = 1_700_000_000_500;
/// `received_ts` of every fake response.
const RECEIVED: i64 = 1_700_000_000_123;
const KINDS: [&str; 3] = ["instruments", "tickers", "funding"];

// --- helpers -----------------------------------------------------------------------------------

fn fixture(name: &str) -> Vec<u8> {
    plugin_kit::fixtures::read("bybit", name)
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("fixture is JSON")
}

/// A fixture value (string or number) as f64, the way the exchange wrote it.
fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("not a number: {s}")),
        Value::Number(n) => n.as_f64().expect("f64"),
        other => panic!("not a number: {other}"),
    }
}

fn ts(v: &Value) -> i64 {
    match v {
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("not a timestamp: {s}")),
        Value::Number(n) => n.as_i64().expect("i64"),
        other => panic!("not a timestamp: {other}"),
    }
}

fn ctx(instruments: &[Record]) -> Context<'_> {
    Context {
        exchange_id: RStr::from_str("bybit"),
        now_ms: NOW,
        instruments: RSlice::from_slice(instruments),
        options: RSlice::from_slice(&[]),
        credentials: ROption::RNone,
    }
}

/// The single request `build_requests` gives for `kind`.
fn request(kind: &str) -> HttpRequest {
    let requests = build_requests(kind, &ctx(&[])).expect("known kind");
    assert_eq!(requests.len(), 1, "{kind}: one request per cycle");
    requests.into_iter().next().expect("one request")
}

fn respond<'a>(request: &'a HttpRequest, status: u16, body: &'a [u8]) -> HttpResponse<'a> {
    HttpResponse {
        request,
        status,
        headers: RSlice::from_slice(&[]),
        body: RSlice::from_slice(body),
        received_ts: RECEIVED,
    }
}

/// Parses one 200 response to `request` as `kind`.
fn run(kind: &str, request: &HttpRequest, body: &[u8], instruments: &[Record]) -> ParseOutput {
    run_status(kind, request, 200, body, instruments)
}

fn run_status(
    kind: &str,
    request: &HttpRequest,
    status: u16,
    body: &[u8],
    instruments: &[Record],
) -> ParseOutput {
    let response = respond(request, status, body);
    parse(kind, &[response], &ctx(instruments))
}

fn sorted(mut records: Vec<Record>) -> Vec<Record> {
    records.sort_by(|a, b| a.raw_symbol.cmp(&b.raw_symbol));
    records
}

/// The instruments the plugin itself parses from the docs fixture (BTCUSDT, ETHUSDT), sorted the
/// way the host hands them back in `ctx`.
fn fixture_instruments() -> Vec<Record> {
    let body = fixture("instruments-info-linear.json");
    let out = run("instruments", &request("instruments"), &body, &[]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    sorted(out.records.into_vec())
}

/// The BTCUSD inverse perpetual the tickers fixture (really a category=inverse answer) lists.
fn btcusd_inverse(interval_hours: Option<f64>, cap: Option<f64>) -> Record {
    let mut r = Record::new(
        RecordKind::INSTRUMENT,
        "bybit",
        "BTCUSD",
        "BTC",
        "USD",
        "BTC",
        MarketType::INVERSE_PERPETUAL,
        1,
    );
    if let Some(h) = interval_hours {
        r.interval_hours = ROption::RSome(h);
        r.interval_source = ROption::RSome(IntervalSource::REPORTED);
    }
    r.rate_cap = cap.into();
    r.rate_floor = cap.map(|c| -c).into();
    r
}

fn linear_instrument(raw: &str, base: &str, quote: &str) -> Record {
    Record::new(
        RecordKind::INSTRUMENT,
        "bybit",
        raw,
        base,
        quote,
        quote,
        MarketType::LINEAR_PERPETUAL,
        1,
    )
}

/// A `retCode` 0 instruments body with the given rows and cursor (JSON text).
fn instruments_body(rows: &[String], cursor: &str) -> Vec<u8> {
    format!(
        r#"{{"retCode":0,"retMsg":"OK","result":{{"category":"linear","list":[{}],"nextPageCursor":{cursor}}},"retExtInfo":{{}},"time":1700000000000}}"#,
        rows.join(",")
    )
    .into_bytes()
}

/// One instruments row; `extra` is spliced in as additional JSON members.
fn instrument_row(symbol: &str, contract_type: &str, extra: &str) -> String {
    let sep = if extra.is_empty() { "" } else { "," };
    format!(
        r#"{{"symbol":"{symbol}","contractType":"{contract_type}","status":"Trading","baseCoin":"BTC","quoteCoin":"USDT","settleCoin":"USDT","launchTime":"1585526400000","deliveryTime":"0","priceFilter":{{"tickSize":"0.10"}},"fundingInterval":480{sep}{extra}}}"#
    )
}

fn tickers_body(rows: &[String]) -> Vec<u8> {
    format!(
        r#"{{"retCode":0,"retMsg":"OK","result":{{"category":"linear","list":[{}]}},"retExtInfo":{{}},"time":1700000000999}}"#,
        rows.join(",")
    )
    .into_bytes()
}

fn only_record(out: &ParseOutput) -> &Record {
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.records.len(), 1, "{:?}", out.records);
    &out.records[0]
}

fn assert_host_fields_unset(r: &Record) {
    assert_eq!(
        r.rate_8h,
        ROption::RNone,
        "{}: rate_8h is the host's",
        r.raw_symbol
    );
    assert_eq!(r.rate_annualized, ROption::RNone, "{}", r.raw_symbol);
}

fn extra<'a>(r: &'a Record, key: &str) -> Option<&'a str> {
    r.extra
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str())
}

// --- info and requests -------------------------------------------------------------------------

#[test]
fn info_describes_the_plugin() {
    let i = info();
    assert_eq!(i.exchange_id.as_str(), "bybit");
    assert_eq!(i.name.as_str(), "Bybit v5 linear perpetuals");
    assert_eq!(i.default_base_url.as_str(), "https://api.bybit.com");
    assert_eq!(i.default_funding_interval_hours, 8.0);
    assert_eq!(i.interface_version.as_str(), plugin_api::INTERFACE_VERSION);
    assert_eq!(i.rate_limits.len(), 1);
    assert_eq!(i.rate_limits[0].path_prefix.as_str(), "");
    assert_eq!(i.rate_limits[0].limit, 600);
    assert_eq!(i.rate_limits[0].window_ms, 5_000);
    let kinds = plugin_kit::testing::kind_table(&i);
    assert_eq!(
        kinds,
        vec![
            ("instruments", RecordKind::INSTRUMENT, 3_600_000, false),
            ("tickers", RecordKind::TICKER, 5_000, true),
            ("funding", RecordKind::FUNDING, 30_000, true),
        ]
    );
}

#[test]
fn build_requests_per_kind() {
    type Query = &'static [(&'static str, &'static str)];
    let cases: &[(&str, &str, Query)] = &[
        (
            "instruments",
            "/v5/market/instruments-info",
            &[("category", "linear"), ("limit", "1000")],
        ),
        ("tickers", "/v5/market/tickers", &[("category", "linear")]),
        ("funding", "/v5/market/tickers", &[("category", "linear")]),
    ];
    for (kind, path, query) in cases {
        let r = request(kind);
        assert_eq!(r.method.as_str(), Some("GET"), "{kind}");
        assert_eq!(r.path.as_str(), *path, "{kind}");
        let q: Vec<_> = r
            .query
            .iter()
            .map(|kv| (kv.key.as_str(), kv.value.as_str()))
            .collect();
        assert_eq!(q, *query, "{kind}");
        assert_eq!(r.tag.as_str(), *kind);
        assert_eq!(r.weight, 1, "{kind}");
        assert!(r.body.is_empty() && r.headers.is_empty(), "{kind}");
    }
}

#[test]
fn build_requests_rejects_an_unknown_kind() {
    let e = build_requests("orderbook", &ctx(&[])).expect_err("unknown kind");
    assert_eq!(e.class, ErrorClass::PERMANENT);
    assert!(e.message.contains("orderbook"), "{}", e.message);
}

#[test]
fn parse_rejects_an_unknown_kind() {
    let r = request("tickers");
    let body = fixture("tickers-linear.json");
    let out = run("orderbook", &r, &body, &[]);
    assert!(out.records.is_empty());
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].class, ErrorClass::PERMANENT);
    assert_eq!(out.errors[0].request_tag.as_str(), "tickers");
}

// --- fixtures, field by field ------------------------------------------------------------------

#[test]
fn instruments_fixture_field_by_field() {
    let body = fixture("instruments-info-linear.json");
    let doc = json(&body);
    let rows = doc["result"]["list"].as_array().expect("list");
    let out = run("instruments", &request("instruments"), &body, &[]);

    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert!(
        out.next_requests.is_empty(),
        "nextPageCursor null ends pagination"
    );
    assert_eq!(out.records.len(), rows.len());
    for (row, r) in rows.iter().zip(out.records.iter()) {
        let sym = row["symbol"].as_str().expect("symbol");
        assert_eq!(row["contractType"], "LinearPerpetual");
        assert_eq!(r.kind, RecordKind::INSTRUMENT, "{sym}");
        assert_eq!(r.exchange.as_str(), "bybit");
        assert_eq!(r.raw_symbol.as_str(), sym);
        assert_eq!(r.base.as_str(), row["baseCoin"].as_str().expect("base"));
        assert_eq!(r.quote.as_str(), row["quoteCoin"].as_str().expect("quote"));
        assert_eq!(
            r.settle.as_str(),
            row["settleCoin"].as_str().expect("settle")
        );
        assert_eq!(
            r.symbol.as_str(),
            format!("{}/{}:{}", r.base, r.quote, r.settle)
        );
        assert_eq!(r.market_type, MarketType::LINEAR_PERPETUAL);
        assert_eq!(r.contract_size, ROption::RSome(1.0));
        assert_eq!(
            r.tick_size,
            ROption::RSome(num(&row["priceFilter"]["tickSize"])),
            "{sym}"
        );
        assert_eq!(
            r.status.as_ref().map(|s| s.as_str()),
            ROption::RSome("trading")
        );
        assert_eq!(extra(r, "raw_status"), row["status"].as_str());
        assert_eq!(r.listing_ts, ROption::RSome(ts(&row["launchTime"])));
        assert_eq!(r.delisting_ts, ROption::RSome(ts(&row["deliveryTime"])));
        // The docs example says `fundingInterval: 8`: hours, not minutes.
        assert_eq!(num(&row["fundingInterval"]), 8.0);
        assert_eq!(r.interval_hours, ROption::RSome(8.0), "{sym}");
        assert_eq!(r.interval_source, ROption::RSome(IntervalSource::REPORTED));
        // No upperFundingRate / lowerFundingRate in this example.
        assert_eq!(r.rate_cap, ROption::RNone);
        assert_eq!(r.rate_floor, ROption::RNone);
        assert_eq!(r.exchange_ts, ROption::RSome(ts(&doc["time"])));
        assert_eq!(r.received_ts, RECEIVED);
        for (name, value) in [
            ("last", r.last),
            ("mark", r.mark),
            ("rate", r.rate),
            ("volume_24h_base", r.volume_24h_base),
        ] {
            assert_eq!(value, ROption::RNone, "{sym}: {name}");
        }
        assert_host_fields_unset(r);
    }
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    let w = out.warnings[0].as_str();
    assert!(
        w.contains("BTCUSDT") && w.contains("ETHUSDT") && w.contains("hours"),
        "{w}"
    );
}

#[test]
fn tickers_fixture_field_by_field() {
    let body = fixture("tickers-linear.json");
    let doc = json(&body);
    let row = &doc["result"]["list"][0];
    let instruments = [btcusd_inverse(Some(8.0), Some(0.00375))];
    let out = run("tickers", &request("tickers"), &body, &instruments);
    let r = only_record(&out);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);

    assert_eq!(r.kind, RecordKind::TICKER);
    assert_eq!(
        r.raw_symbol.as_str(),
        row["symbol"].as_str().expect("symbol")
    );
    assert_eq!(r.symbol.as_str(), "BTC/USD:BTC");
    assert_eq!(r.market_type, MarketType::INVERSE_PERPETUAL);
    assert_eq!(r.last, ROption::RSome(num(&row["lastPrice"])));
    assert_eq!(r.bid, ROption::RSome(num(&row["bid1Price"])));
    assert_eq!(r.ask, ROption::RSome(num(&row["ask1Price"])));
    assert_eq!(r.mark, ROption::RSome(num(&row["markPrice"])));
    assert_eq!(r.index, ROption::RSome(num(&row["indexPrice"])));
    // Inverse: volume24h/openInterest count USD contracts (quote); turnover24h and
    // openInterestValue are in BTC (base).
    assert_eq!(r.volume_24h_base, ROption::RSome(num(&row["turnover24h"])));
    assert_eq!(r.volume_24h_quote, ROption::RSome(num(&row["volume24h"])));
    assert_eq!(
        r.open_interest_base,
        ROption::RSome(num(&row["openInterestValue"]))
    );
    assert_eq!(
        r.open_interest_quote,
        ROption::RSome(num(&row["openInterest"]))
    );
    assert_eq!(r.exchange_ts, ROption::RSome(ts(&doc["time"])));
    assert_eq!(r.received_ts, RECEIVED);
    // Funding fields stay empty on a ticker record.
    assert_eq!(r.rate, ROption::RNone);
    assert_eq!(r.next_funding_ts, ROption::RNone);
    assert_eq!(r.interval_hours, ROption::RNone);
    assert_host_fields_unset(r);
}

#[test]
fn funding_fixture_field_by_field() {
    let body = fixture("tickers-linear.json");
    let doc = json(&body);
    let row = &doc["result"]["list"][0];
    let instruments = [btcusd_inverse(Some(8.0), Some(0.00375))];
    let out = run("funding", &request("funding"), &body, &instruments);
    let r = only_record(&out);

    assert_eq!(r.kind, RecordKind::FUNDING);
    assert_eq!(r.raw_symbol.as_str(), "BTCUSD");
    assert_eq!(r.rate, ROption::RSome(num(&row["fundingRate"])));
    assert_eq!(
        r.next_funding_ts,
        ROption::RSome(ts(&row["nextFundingTime"]))
    );
    assert_eq!(r.mark, ROption::RSome(num(&row["markPrice"])));
    assert_eq!(r.index, ROption::RSome(num(&row["indexPrice"])));
    assert_eq!(r.exchange_ts, ROption::RSome(ts(&doc["time"])));
    assert_eq!(r.received_ts, RECEIVED);
    assert_eq!(r.interval_hours, ROption::RSome(8.0));
    assert_eq!(r.interval_source, ROption::RSome(IntervalSource::REPORTED));
    assert_eq!(r.rate_cap, ROption::RSome(0.00375));
    assert_eq!(r.rate_floor, ROption::RSome(-0.00375));
    assert_eq!(r.predicted_rate, ROption::RNone);
    // Ticker fields stay empty on a funding record.
    assert_eq!(r.last, ROption::RNone);
    assert_eq!(r.volume_24h_base, ROption::RNone);
    assert_host_fields_unset(r);

    // Without an interval or cap in ctx they stay absent: the host applies its default.
    let instruments = [btcusd_inverse(None, None)];
    let out = run("funding", &request("funding"), &body, &instruments);
    let r = only_record(&out);
    assert_eq!(r.interval_hours, ROption::RNone);
    assert_eq!(r.interval_source, ROption::RNone);
    assert_eq!(r.rate_cap, ROption::RNone);
    assert_eq!(r.rate_floor, ROption::RNone);
}

/// The tickers fixture's row relabelled as a linear symbol, with ctx built by the plugin's own
/// instruments parse: linear units are not swapped, and funding picks up the interval.
#[test]
fn tickers_fixture_as_linear_symbol() {
    let mut doc = json(&fixture("tickers-linear.json"));
    doc["result"]["category"] = "linear".into();
    doc["result"]["list"][0]["symbol"] = "BTCUSDT".into();
    let body = serde_json::to_vec(&doc).expect("json");
    let row = &doc["result"]["list"][0];
    let instruments = fixture_instruments();

    let out = run("tickers", &request("tickers"), &body, &instruments);
    let r = only_record(&out);
    assert_eq!(r.symbol.as_str(), "BTC/USDT:USDT");
    assert_eq!(r.market_type, MarketType::LINEAR_PERPETUAL);
    assert_eq!(r.volume_24h_base, ROption::RSome(num(&row["volume24h"])));
    assert_eq!(r.volume_24h_quote, ROption::RSome(num(&row["turnover24h"])));
    assert_eq!(
        r.open_interest_base,
        ROption::RSome(num(&row["openInterest"]))
    );
    assert_eq!(
        r.open_interest_quote,
        ROption::RSome(num(&row["openInterestValue"]))
    );

    let out = run("funding", &request("funding"), &body, &instruments);
    let r = only_record(&out);
    assert_eq!(r.rate, ROption::RSome(num(&row["fundingRate"])));
    assert_eq!(r.interval_hours, ROption::RSome(8.0));
    assert_eq!(r.interval_source, ROption::RSome(IntervalSource::REPORTED));
}

// --- pagination --------------------------------------------------------------------------------

#[test]
fn a_page_with_a_cursor_asks_for_the_next_page() {
    let first = request("instruments");
    let body = instruments_body(
        &[instrument_row("BTCUSDT", "LinearPerpetual", "")],
        r#""first%3DBTCUSDT%26last%3DBTCUSDT""#,
    );
    let out = run("instruments", &first, &body, &[]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.next_requests.len(), 1);
    let next = &out.next_requests[0];
    assert_eq!(next.path, first.path);
    assert_eq!(next.method, first.method);
    assert_eq!(next.query_value("category"), Some("linear"));
    assert_eq!(next.query_value("limit"), Some("1000"));
    assert_eq!(
        next.query_value("cursor"),
        Some("first%3DBTCUSDT%26last%3DBTCUSDT")
    );
    assert_eq!(next.tag.as_str(), "instruments:p2");

    // Page 2 also carries a cursor: page 3 replaces the cursor, it does not add a second one.
    let body = instruments_body(
        &[instrument_row("ETHUSDT", "LinearPerpetual", "")],
        r#""page3""#,
    );
    let out = run("instruments", next, &body, &[]);
    assert_eq!(out.records.len(), 1);
    let third = &out.next_requests[0];
    assert_eq!(third.tag.as_str(), "instruments:p3");
    assert_eq!(
        third.query.iter().filter(|kv| kv.key == "cursor").count(),
        1
    );
    assert_eq!(third.query_value("cursor"), Some("page3"));
}

#[test]
fn an_empty_follow_up_page_ends_pagination() {
    let first = request("instruments");
    let body = instruments_body(
        &[instrument_row("BTCUSDT", "LinearPerpetual", "")],
        r#""abc""#,
    );
    let out = run("instruments", &first, &body, &[]);
    let next = out.next_requests[0].clone();

    // The last non-empty page still had a cursor; the page after it is empty (with a cursor).
    for cursor in [r#""abc2""#, r#""""#, "null"] {
        let out = run("instruments", &next, &instruments_body(&[], cursor), &[]);
        assert!(out.records.is_empty(), "{cursor}");
        assert!(out.next_requests.is_empty(), "{cursor}");
        assert!(out.errors.is_empty(), "{cursor}: {:?}", out.errors);
        assert!(out.warnings.is_empty(), "{cursor}: {:?}", out.warnings);
    }
}

#[test]
fn a_null_or_empty_cursor_ends_pagination() {
    let row = instrument_row("BTCUSDT", "LinearPerpetual", "");
    for cursor in ["null", r#""""#, r#""  ""#] {
        let out = run(
            "instruments",
            &request("instruments"),
            &instruments_body(std::slice::from_ref(&row), cursor),
            &[],
        );
        assert_eq!(out.records.len(), 1, "{cursor}");
        assert!(out.next_requests.is_empty(), "{cursor}");
        assert!(out.errors.is_empty(), "{cursor}");
    }
    // No nextPageCursor member at all.
    let body = format!(r#"{{"retCode":0,"retMsg":"OK","result":{{"list":[{row}]}},"time":1}}"#);
    let out = run("instruments", &request("instruments"), body.as_bytes(), &[]);
    assert_eq!(out.records.len(), 1);
    assert!(out.next_requests.is_empty());
}

#[test]
fn pagination_guards_against_loops() {
    let row = instrument_row("BTCUSDT", "LinearPerpetual", "");
    let first = request("instruments");
    let out = run(
        "instruments",
        &first,
        &instruments_body(std::slice::from_ref(&row), r#""same""#),
        &[],
    );
    let next = out.next_requests[0].clone();

    // The exchange hands back the cursor it was given: stop, and say so.
    let out = run(
        "instruments",
        &next,
        &instruments_body(std::slice::from_ref(&row), r#""same""#),
        &[],
    );
    assert_eq!(out.records.len(), 1);
    assert!(out.next_requests.is_empty());
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    assert!(out.warnings[0].contains("instruments:p2"));

    // Page 50 does not ask for page 51.
    let mut page50 = next.clone();
    page50.tag = "instruments:p50".into();
    let out = run(
        "instruments",
        &page50,
        &instruments_body(std::slice::from_ref(&row), r#""more""#),
        &[],
    );
    assert_eq!(out.records.len(), 1);
    assert!(out.next_requests.is_empty());
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
}

#[test]
fn an_empty_first_page_is_an_error() {
    for kind in KINDS {
        let r = request(kind);
        let body = match kind {
            "instruments" => instruments_body(&[], "null"),
            _ => tickers_body(&[]),
        };
        let out = run(kind, &r, &body, &fixture_instruments());
        assert!(out.records.is_empty(), "{kind}");
        assert!(out.next_requests.is_empty(), "{kind}");
        assert_eq!(out.errors.len(), 1, "{kind}");
        assert_eq!(out.errors[0].class, ErrorClass::PARSE, "{kind}");
        assert_eq!(out.errors[0].request_tag.as_str(), kind);
    }
}

// --- row selection and values ------------------------------------------------------------------

#[test]
fn instruments_keep_linear_perpetuals_only() {
    let body = instruments_body(
        &[
            instrument_row("BTCUSDT", "LinearPerpetual", ""),
            instrument_row("BTC-26DEC25", "LinearFutures", ""),
            instrument_row("ETH-27MAR26", "LinearFutures", ""),
            instrument_row("BTCPERP", "LinearPerpetual", ""),
            instrument_row("BTCUSDZ", "SomethingNew", ""),
        ],
        "null",
    );
    let out = run("instruments", &request("instruments"), &body, &[]);
    assert!(out.errors.is_empty());
    let symbols: Vec<_> = out.records.iter().map(|r| r.raw_symbol.as_str()).collect();
    assert_eq!(symbols, ["BTCUSDT", "BTCPERP"]);
    // Dated futures are expected and silent; an unknown contract type is worth one warning.
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    assert!(out.warnings[0].contains("BTCUSDZ (SomethingNew)"));
}

#[test]
fn instruments_without_identity_are_skipped_with_one_warning() {
    let rows = [
        r#"{"symbol":"AUSDT","contractType":"LinearPerpetual","baseCoin":"A","quoteCoin":"USDT"}"#,
        r#"{"symbol":"BUSDT","contractType":"LinearPerpetual","baseCoin":"","quoteCoin":"USDT","settleCoin":"USDT"}"#,
        r#"{"symbol":"","contractType":"LinearPerpetual","baseCoin":"C","quoteCoin":"USDT","settleCoin":"USDT"}"#,
        r#"{"symbol":"DUSDT","contractType":"LinearPerpetual","baseCoin":"D","quoteCoin":"USDT","settleCoin":"USDT"}"#,
    ]
    .map(String::from);
    let out = run(
        "instruments",
        &request("instruments"),
        &instruments_body(&rows, "null"),
        &[],
    );
    let r = only_record(&out);
    assert_eq!(r.raw_symbol.as_str(), "DUSDT");
    // Everything but identity is absent, never 0.
    assert_eq!(r.tick_size, ROption::RNone);
    assert_eq!(r.status, ROption::RNone);
    assert!(r.extra.is_empty());
    assert_eq!(r.listing_ts, ROption::RNone);
    assert_eq!(r.interval_hours, ROption::RNone);
    assert_eq!(r.interval_source, ROption::RNone);
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    assert!(
        out.warnings[0].contains("3 symbol(s)"),
        "{}",
        out.warnings[0]
    );
}

#[test]
fn funding_interval_minutes_become_hours() {
    // (fundingInterval JSON, interval_hours, warns)
    let cases: &[(&str, Option<f64>, bool)] = &[
        ("480", Some(8.0), false),
        ("240", Some(4.0), false),
        ("60", Some(1.0), false),
        ("120", Some(2.0), false),
        (r#""480""#, Some(8.0), false),
        ("8", Some(8.0), true),
        ("4", Some(4.0), true),
        ("1", Some(1.0), true),
        ("0", None, false),
        ("-480", None, false),
        ("null", None, false),
        (r#""""#, None, false),
    ];
    for (value, hours, warns) in cases {
        let row = format!(
            r#"{{"symbol":"XUSDT","contractType":"LinearPerpetual","baseCoin":"X","quoteCoin":"USDT","settleCoin":"USDT","fundingInterval":{value}}}"#
        );
        let out = run(
            "instruments",
            &request("instruments"),
            &instruments_body(&[row], "null"),
            &[],
        );
        let r = only_record(&out);
        assert_eq!(r.interval_hours, ROption::from(*hours), "{value}");
        let source = hours.map(|_| IntervalSource::REPORTED);
        assert_eq!(r.interval_source, ROption::from(source), "{value}");
        assert_eq!(
            out.warnings.len(),
            usize::from(*warns),
            "{value}: {:?}",
            out.warnings
        );
        if *warns {
            assert!(out.warnings[0].contains("XUSDT"), "{}", out.warnings[0]);
        }
    }
    // Missing entirely.
    let row = r#"{"symbol":"XUSDT","contractType":"LinearPerpetual","baseCoin":"X","quoteCoin":"USDT","settleCoin":"USDT"}"#;
    let out = run(
        "instruments",
        &request("instruments"),
        &instruments_body(&[row.to_owned()], "null"),
        &[],
    );
    assert_eq!(only_record(&out).interval_hours, ROption::RNone);
}

#[test]
fn instrument_status_is_normalized() {
    let cases = [
        ("Trading", "trading"),
        ("PreLaunch", "pre_launch"),
        ("Delivering", "settling"),
        ("Closed", "delisted"),
        ("Settling", "settling"),
        ("SomethingElse", "somethingelse"),
    ];
    for (raw, normalized) in cases {
        let row = format!(
            r#"{{"symbol":"XUSDT","contractType":"LinearPerpetual","status":"{raw}","baseCoin":"X","quoteCoin":"USDT","settleCoin":"USDT"}}"#
        );
        let out = run(
            "instruments",
            &request("instruments"),
            &instruments_body(&[row], "null"),
            &[],
        );
        let r = only_record(&out);
        assert_eq!(
            r.status.as_ref().map(|s| s.as_str()),
            ROption::RSome(normalized)
        );
        assert_eq!(extra(r, "raw_status"), Some(raw));
    }
}

#[test]
fn instrument_cap_floor_and_dates() {
    let row = instrument_row(
        "BTCUSDT",
        "LinearPerpetual",
        r#""upperFundingRate":"0.005","lowerFundingRate":"-0.005","unknownField":{"a":[1,2]}"#,
    );
    let out = run(
        "instruments",
        &request("instruments"),
        &instruments_body(&[row], "null"),
        &[],
    );
    let r = only_record(&out);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    assert_eq!(r.rate_cap, ROption::RSome(0.005));
    assert_eq!(r.rate_floor, ROption::RSome(-0.005));
    assert_eq!(r.interval_hours, ROption::RSome(8.0));
    assert_eq!(r.tick_size, ROption::RSome(0.1));
    assert_eq!(r.listing_ts, ROption::RSome(1_585_526_400_000));
    // deliveryTime "0": no delisting scheduled.
    assert_eq!(r.delisting_ts, ROption::RNone);
    assert_eq!(r.exchange_ts, ROption::RSome(1_700_000_000_000));
}

#[test]
fn unknown_symbols_are_skipped_with_one_warning() {
    let instruments = fixture_instruments();
    let mut rows =
        vec![r#"{"symbol":"BTCUSDT","lastPrice":"37000","fundingRate":"0.0001"}"#.to_owned()];
    for sym in [
        "BTC-26DEC25",
        "ETH-27MAR26",
        "BTC-03JAN26",
        "NEWUSDT",
        "SOLUSDT",
        "XRPUSDT",
        "DOGEUSDT",
    ] {
        rows.push(format!(
            r#"{{"symbol":"{sym}","lastPrice":"1","fundingRate":"0.0001"}}"#
        ));
    }
    for kind in ["tickers", "funding"] {
        let out = run(kind, &request(kind), &tickers_body(&rows), &instruments);
        assert!(out.errors.is_empty(), "{kind}");
        let symbols: Vec<_> = out.records.iter().map(|r| r.raw_symbol.as_str()).collect();
        assert_eq!(symbols, ["BTCUSDT"], "{kind}");
        assert_eq!(out.warnings.len(), 1, "{kind}: {:?}", out.warnings);
        let w = out.warnings[0].as_str();
        assert!(w.contains("7 symbol(s)"), "{w}");
        assert!(w.contains("BTC-26DEC25"), "{w}");
        assert!(!w.contains("XRPUSDT"), "a few examples, not all: {w}");
    }

    // Before any instruments cycle, everything is skipped (still one warning, no error).
    let out = run("tickers", &request("tickers"), &tickers_body(&rows), &[]);
    assert!(out.records.is_empty());
    assert!(out.errors.is_empty());
    assert_eq!(out.warnings.len(), 1);
}

#[test]
fn missing_values_are_none_not_zero() {
    let instruments = [linear_instrument("XUSDT", "X", "USDT")];
    let row = r#"{"symbol":"XUSDT","lastPrice":"","bid1Price":"","ask1Price":"0","markPrice":"0.5",
        "indexPrice":null,"volume24h":"0","openInterest":"","fundingRate":"","nextFundingTime":"0",
        "predictedDeliveryPrice":"","basis":""}"#;
    let body = tickers_body(&[row.to_owned()]);

    let out = run("tickers", &request("tickers"), &body, &instruments);
    let r = only_record(&out);
    assert_eq!(r.last, ROption::RNone);
    assert_eq!(r.bid, ROption::RNone);
    assert_eq!(r.ask, ROption::RNone, "a zero price is no price");
    assert_eq!(r.mark, ROption::RSome(0.5));
    assert_eq!(r.index, ROption::RNone);
    assert_eq!(
        r.volume_24h_base,
        ROption::RSome(0.0),
        "zero volume is real"
    );
    assert_eq!(r.volume_24h_quote, ROption::RNone, "turnover24h missing");
    assert_eq!(r.open_interest_base, ROption::RNone);
    assert_eq!(r.open_interest_quote, ROption::RNone);
    assert_eq!(r.exchange_ts, ROption::RSome(1_700_000_000_999));

    let out = run("funding", &request("funding"), &body, &instruments);
    let r = only_record(&out);
    assert_eq!(r.rate, ROption::RNone, r#""fundingRate": "" is absent"#);
    assert_eq!(r.next_funding_ts, ROption::RNone);
    assert_eq!(r.predicted_rate, ROption::RNone);
    assert_eq!(r.mark, ROption::RSome(0.5));
    // A zero funding rate is a real value.
    let body = tickers_body(&[r#"{"symbol":"XUSDT","fundingRate":"0"}"#.to_owned()]);
    let out = run("funding", &request("funding"), &body, &instruments);
    assert_eq!(only_record(&out).rate, ROption::RSome(0.0));
}

#[test]
fn numbers_may_be_json_numbers() {
    let instruments = [linear_instrument("XUSDT", "X", "USDT")];
    let body = tickers_body(&[
        r#"{"symbol":"XUSDT","lastPrice":1.5,"fundingRate":-0.0002,"nextFundingTime":1700003600000}"#
            .to_owned(),
    ]);
    let out = run("tickers", &request("tickers"), &body, &instruments);
    assert_eq!(only_record(&out).last, ROption::RSome(1.5));
    let out = run("funding", &request("funding"), &body, &instruments);
    let r = only_record(&out);
    assert_eq!(r.rate, ROption::RSome(-0.0002));
    assert_eq!(r.next_funding_ts, ROption::RSome(1_700_003_600_000));
}

// --- failures ----------------------------------------------------------------------------------

/// Parses `body` (HTTP `status`) for every kind and checks for exactly one error of `class`
/// (with `code`), tagged with the request, and nothing else.
fn assert_one_error(
    case: &str,
    status: u16,
    body: &[u8],
    class: ErrorClass,
    code: &str,
) -> Vec<ParseOutput> {
    let instruments = fixture_instruments();
    let mut outs = Vec::new();
    for kind in KINDS {
        let r = request(kind);
        let out = run_status(kind, &r, status, body, &instruments);
        assert!(out.records.is_empty(), "{kind} / {case}: {:?}", out.records);
        assert!(out.next_requests.is_empty(), "{kind} / {case}");
        assert_eq!(out.errors.len(), 1, "{kind} / {case}: {:?}", out.errors);
        let e = &out.errors[0];
        assert_eq!(
            e.class,
            class,
            "{kind} / {case}: got {} ({})",
            e.class.as_str(),
            e.message
        );
        assert_eq!(e.code.as_str(), code, "{kind} / {case}");
        assert_eq!(e.request_tag.as_str(), kind, "{kind} / {case}");
        assert!(!e.message.is_empty(), "{kind} / {case}");
        outs.push(out);
    }
    outs
}

#[test]
fn malformed_bodies_are_parse_errors() {
    let tickers = fixture("tickers-linear.json");
    let truncated_tickers = &tickers[..tickers.len() / 2];
    let instruments = fixture("instruments-info-linear.json");
    let truncated_instruments = &instruments[..instruments.len() - 10];
    let cases: &[(&str, &[u8])] = &[
        ("empty body", b""),
        ("whitespace body", b" \n\t "),
        (
            "HTML page",
            b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>",
        ),
        ("plain text", b"Service Unavailable"),
        ("truncated tickers JSON", truncated_tickers),
        ("truncated instruments JSON", truncated_instruments),
        ("missing list", br#"{"retCode":0,"retMsg":"OK","result":{}}"#),
        ("missing result", br#"{"retCode":0,"retMsg":"OK"}"#),
        ("null result", br#"{"retCode":0,"retMsg":"OK","result":null}"#),
        ("missing retCode", br#"{"result":{"list":[{"symbol":"BTCUSDT"}]}}"#),
        ("retCode as string", br#"{"retCode":"0","result":{"list":[]}}"#),
        ("list is an object", br#"{"retCode":0,"result":{"list":{}}}"#),
        ("list is a string", br#"{"retCode":0,"result":{"list":"BTCUSDT"}}"#),
        ("row is a string", br#"{"retCode":0,"result":{"list":["BTCUSDT"]}}"#),
        ("symbol is a number", br#"{"retCode":0,"result":{"list":[{"symbol":42}]}}"#),
        ("row without symbol", br#"{"retCode":0,"result":{"list":[{"lastPrice":"1"}]}}"#),
        (
            "number field is a bool",
            br#"{"retCode":0,"result":{"list":[{"symbol":"BTCUSDT","lastPrice":true,"launchTime":true}]}}"#,
        ),
        ("top-level array", b"[]"),
        ("top-level null", b"null"),
        ("trailing garbage", br#"{"retCode":0,"result":{"list":[]}} xyz"#),
    ];
    for (case, body) in cases {
        assert_one_error(case, 200, body, ErrorClass::PARSE, "");
    }
}

#[test]
fn error_envelopes_are_classified_by_ret_code() {
    let cases: &[(i64, ErrorClass)] = &[
        (10006, ErrorClass::RATE_LIMITED),
        (10018, ErrorClass::RATE_LIMITED),
        (10000, ErrorClass::TRANSIENT),
        (10016, ErrorClass::TRANSIENT),
        (10001, ErrorClass::PERMANENT),
        (10004, ErrorClass::PERMANENT),
        (10005, ErrorClass::PERMANENT),
        (10017, ErrorClass::PERMANENT),
        (110001, ErrorClass::PERMANENT),
        (99999, ErrorClass::PERMANENT),
        (-1, ErrorClass::PERMANENT),
    ];
    for (code, class) in cases {
        let code_str = code.to_string();
        // The usual shape (`"result":{}`), an escaped message, and an odd `result`.
        let bodies = [
            format!(
                r#"{{"retCode":{code},"retMsg":"Too many visits!","result":{{}},"retExtInfo":{{}},"time":1}}"#
            ),
            format!(
                r#"{{"retCode":{code},"retMsg":"params error: \"category\" \u00e9","result":null}}"#
            ),
            format!(r#"{{"retCode":{code},"retMsg":"x","result":{{"list":[]}}}}"#),
            format!(r#"{{"retCode":{code},"result":"garbage"}}"#),
        ];
        for body in &bodies {
            let outs = assert_one_error(body, 200, body.as_bytes(), *class, &code_str);
            let e = &outs[0].errors[0];
            assert!(e.message.contains(&code_str), "{}", e.message);
            assert_eq!(e.retry_after_ms, ROption::RNone);
        }
    }
    // An unknown category is a permanent parameter error.
    let body = br#"{"retCode":10001,"retMsg":"Illegal category","result":{},"retExtInfo":{},"time":1672376496682}"#;
    let outs = assert_one_error(
        "illegal category",
        200,
        body,
        ErrorClass::PERMANENT,
        "10001",
    );
    assert!(outs[0].errors[0].message.contains("Illegal category"));
}

#[test]
fn non_2xx_responses_are_classified() {
    let cases: &[(&str, u16, &[u8], ErrorClass, &str)] = &[
        ("404 text", 404, b"Not Found", ErrorClass::PERMANENT, ""),
        ("404 empty", 404, b"", ErrorClass::PERMANENT, ""),
        (
            "400 HTML",
            400,
            b"<html>bad request</html>",
            ErrorClass::PERMANENT,
            "",
        ),
        ("401 text", 401, b"Unauthorized", ErrorClass::PERMANENT, ""),
        (
            "403 ban",
            403,
            b"access too frequent",
            ErrorClass::RATE_LIMITED,
            "",
        ),
        ("403 empty", 403, b"", ErrorClass::RATE_LIMITED, ""),
        ("408", 408, b"timeout", ErrorClass::TRANSIENT, ""),
        ("302", 302, b"", ErrorClass::PERMANENT, ""),
        // The host normally handles these before parse; classified anyway.
        ("429", 429, b"", ErrorClass::RATE_LIMITED, ""),
        (
            "503 HTML",
            503,
            b"<html>maintenance</html>",
            ErrorClass::TRANSIENT,
            "",
        ),
        (
            "400 with envelope",
            400,
            br#"{"retCode":10001,"retMsg":"params error","result":{}}"#,
            ErrorClass::PERMANENT,
            "10001",
        ),
        (
            "4xx with a rate-limit envelope",
            403,
            br#"{"retCode":10006,"retMsg":"Too many visits!","result":{}}"#,
            ErrorClass::RATE_LIMITED,
            "10006",
        ),
        (
            "404 with a success envelope",
            404,
            br#"{"retCode":0,"retMsg":"OK","result":{"list":[]}}"#,
            ErrorClass::PERMANENT,
            "",
        ),
    ];
    for (case, status, body, class, code) in cases {
        let outs = assert_one_error(case, *status, body, *class, code);
        assert!(
            outs[0].errors[0].message.contains(&status.to_string()),
            "{case}: {}",
            outs[0].errors[0].message
        );
    }
    // A banned IP waits out the ban (10 minutes per Bybit's docs).
    let outs = assert_one_error("403", 403, b"", ErrorClass::RATE_LIMITED, "");
    assert_eq!(outs[0].errors[0].retry_after_ms, ROption::RSome(600_000));
}

#[test]
fn rate_limit_wait_comes_from_the_reset_header() {
    let r = request("tickers");
    let body = br#"{"retCode":10006,"retMsg":"Too many visits!","result":{}}"#;
    let cases: &[(&str, ROption<u64>)] = &[
        ("1700000002500", ROption::RSome(2_000)),   // NOW + 2 s
        ("1700000000000", ROption::RNone),          // already past
        ("1800000000000", ROption::RSome(600_000)), // capped at 10 min
        ("soon", ROption::RNone),
    ];
    for (value, want) in cases {
        let headers = [KeyValueRef {
            key: RStr::from_str("x-bapi-limit-reset-timestamp"),
            value: RStr::from_str(value),
        }];
        let response = HttpResponse {
            headers: RSlice::from_slice(&headers),
            ..respond(&r, 200, body)
        };
        let out = parse("tickers", &[response], &ctx(&[]));
        assert_eq!(out.errors.len(), 1);
        assert_eq!(out.errors[0].class, ErrorClass::RATE_LIMITED);
        assert_eq!(out.errors[0].retry_after_ms, *want, "{value}");
    }
}

#[test]
fn one_bad_response_does_not_hide_the_good_ones() {
    let instruments = fixture_instruments();
    let good_body = tickers_body(&[r#"{"symbol":"ETHUSDT","lastPrice":"2000"}"#.to_owned()]);
    let mut other = request("tickers");
    other.tag = "tickers:second".into();
    let main = request("tickers");
    let responses = [
        respond(&other, 200, b"<html>oops</html>"),
        respond(&main, 200, &good_body),
    ];
    let out = parse("tickers", &responses, &ctx(&instruments));
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.records[0].raw_symbol.as_str(), "ETHUSDT");
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].class, ErrorClass::PARSE);
    assert_eq!(out.errors[0].request_tag.as_str(), "tickers:second");
}

#[test]
fn a_failed_follow_up_page_names_its_page() {
    let first = request("instruments");
    let body = instruments_body(
        &[instrument_row("BTCUSDT", "LinearPerpetual", "")],
        r#""c2""#,
    );
    let next = run("instruments", &first, &body, &[]).next_requests[0].clone();
    let out = run(
        "instruments",
        &next,
        br#"{"retCode":10016,"retMsg":"Server error","result":{}}"#,
        &[],
    );
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].class, ErrorClass::TRANSIENT);
    assert_eq!(out.errors[0].code.as_str(), "10016");
    assert_eq!(out.errors[0].request_tag.as_str(), "instruments:p2");
    let out = run("instruments", &next, &body[..body.len() / 3], &[]);
    assert_eq!(out.errors[0].class, ErrorClass::PARSE);
    assert_eq!(out.errors[0].request_tag.as_str(), "instruments:p2");
}

// --- the exported ABI --------------------------------------------------------------------------

#[test]
fn the_exported_root_module_round_trips() {
    let module = fc_plugin_bybit::futures_collector_root_module();
    let info = module.info()().into_result().expect("info");
    assert_eq!(info.exchange_id.as_str(), "bybit");
    assert_eq!(
        info.interface_version.as_str(),
        plugin_api::INTERFACE_VERSION
    );

    let instruments = [btcusd_inverse(Some(8.0), None)];
    let context = ctx(&instruments);
    let requests = module.build_requests()(RStr::from_str("funding"), &context)
        .into_result()
        .expect("requests");
    assert_eq!(requests.len(), 1);
    let body = fixture("tickers-linear.json");
    let responses = [respond(&requests[0], 200, &body)];
    let out = module.parse()(
        RStr::from_str("funding"),
        RSlice::from_slice(&responses),
        &context,
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.records[0].kind, RecordKind::FUNDING);

    let err = module.build_requests()(RStr::from_str("nope"), &context)
        .into_result()
        .expect_err("unknown kind");
    assert_eq!(err.class, ErrorClass::PERMANENT);
}

//! Table-driven tests of the OKX plugin over raw exchange JSON.
//!
//! Owns: the proof that every kind maps the recorded OKX bodies field by field (expected values
//! are read from the fixture JSON itself), converts contract sizes, falls back from
//! `instId=ANY`, and classifies every malformed or refused body without panicking.
//! Must not: copy fixtures into the repository (they are read from `../shared` at run time) or
//! reach the network. The plugin is called through the same functions the export macro wraps.

use fc_plugin_okx::{
    build_requests, info, parse, EXTRA_INST_FAMILY, EXTRA_METHOD, EXTRA_RAW_STATUS,
    EXTRA_SETT_STATE, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS, PATH_FUNDING_RATE,
    PATH_INDEX_TICKERS, PATH_INSTRUMENTS, PATH_MARK_PRICE, PATH_OPEN_INTEREST, PATH_TICKERS,
};
use plugin_api::{
    abi_stable::std_types::{ROption, RSlice, RStr},
    Context, ErrorClass, HttpRequest, HttpResponse, IntervalSource, KeyValueRef, MarketType,
    ParseOutput, Record, RecordKind,
};
use serde_json::{json, Value};

const NOW: i64 = 1_744_590_400_000;
const RECEIVED: i64 = 1_744_590_350_000;

// ------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------

fn fixture(name: &str) -> String {
    plugin_kit::fixtures::text("okx", name)
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).expect("fixture is JSON")
}

/// The `data` rows of a fixture.
fn rows(name: &str) -> Vec<Value> {
    fixture_json(name)["data"]
        .as_array()
        .expect("fixture has a data array")
        .clone()
}

/// An OKX success envelope around rows.
fn envelope(rows: &[Value]) -> String {
    json!({"code": "0", "msg": "", "data": rows}).to_string()
}

/// A fixture's body with every occurrence of `from` replaced (keeps every other value).
fn fixture_with(name: &str, from: &str, to: &str) -> String {
    fixture(name).replace(from, to)
}

fn s(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is a string in {v}"))
        .to_owned()
}

fn f(v: &Value, key: &str) -> f64 {
    s(v, key)
        .parse()
        .unwrap_or_else(|e| panic!("`{key}` is a number: {e}"))
}

fn ts(v: &Value, key: &str) -> i64 {
    s(v, key)
        .parse()
        .unwrap_or_else(|e| panic!("`{key}` is a timestamp: {e}"))
}

fn ctx(instruments: &[Record]) -> Context<'_> {
    Context {
        exchange_id: RStr::from_str("okx"),
        now_ms: NOW,
        instruments: RSlice::from_slice(instruments),
        options: RSlice::from_slice(&[]),
        credentials: ROption::RNone,
    }
}

fn requests(kind: &str) -> Vec<HttpRequest> {
    build_requests(kind, &ctx(&[])).expect("known kind")
}

fn request(kind: &str, tag: &str) -> HttpRequest {
    requests(kind)
        .into_iter()
        .find(|r| r.tag.as_str() == tag)
        .unwrap_or_else(|| panic!("{kind} builds a request tagged {tag}"))
}

fn respond<'a>(request: &'a HttpRequest, status: u16, body: &'a str) -> HttpResponse<'a> {
    respond_with_headers(request, status, body, &[])
}

fn respond_with_headers<'a>(
    request: &'a HttpRequest,
    status: u16,
    body: &'a str,
    headers: &'a [KeyValueRef<'a>],
) -> HttpResponse<'a> {
    HttpResponse {
        request,
        status,
        headers: RSlice::from_slice(headers),
        body: RSlice::from_slice(body.as_bytes()),
        received_ts: RECEIVED,
    }
}

/// Parses `(tag, status, body)` answers of `kind` (requests built by the plugin).
fn run(kind: &str, answers: &[(&str, u16, &str)], instruments: &[Record]) -> ParseOutput {
    let reqs: Vec<HttpRequest> = answers.iter().map(|(tag, ..)| request(kind, tag)).collect();
    let responses: Vec<HttpResponse<'_>> = reqs
        .iter()
        .zip(answers)
        .map(|(r, (_, status, body))| respond(r, *status, body))
        .collect();
    parse(kind, &responses, &ctx(instruments))
}

/// The instruments of `instruments-swap.json`, parsed by the plugin, sorted as the host keeps
/// them (by raw symbol).
fn instruments() -> Vec<Record> {
    let body = fixture("instruments-swap.json");
    let out = run(KIND_INSTRUMENTS, &[("instruments", 200, &body)], &[]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
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

fn some(v: f64) -> ROption<f64> {
    ROption::RSome(v)
}

/// Contract size as the fixture defines it: ctVal × ctMult.
fn fixture_contract_size(inst_id: &str) -> f64 {
    let row = rows("instruments-swap.json")
        .into_iter()
        .find(|r| r["instId"] == inst_id)
        .expect("instrument in fixture");
    f(&row, "ctVal") * f(&row, "ctMult")
}

fn assert_only_error(out: &ParseOutput, class: ErrorClass, code: &str, tag: &str, case: &str) {
    assert_eq!(out.errors.len(), 1, "{case}: {:?}", out.errors);
    let e = &out.errors[0];
    assert_eq!(e.class, class, "{case}: {e}");
    assert_eq!(e.code.as_str(), code, "{case}: {e}");
    assert_eq!(e.request_tag.as_str(), tag, "{case}: {e}");
    assert!(out.records.is_empty(), "{case}: {:?}", out.records);
    assert!(
        out.next_requests.is_empty(),
        "{case}: {:?}",
        out.next_requests
    );
}

// ------------------------------------------------------------------------------------------
// info and requests
// ------------------------------------------------------------------------------------------

#[test]
fn info_describes_okx_swaps() {
    let info = info();
    assert_eq!(info.exchange_id.as_str(), "okx");
    assert_eq!(info.name.as_str(), "OKX perpetual swaps");
    assert_eq!(info.default_base_url.as_str(), "https://www.okx.com");
    assert_eq!(info.default_funding_interval_hours, 8.0);
    assert_eq!(info.plugin_version.as_str(), env!("CARGO_PKG_VERSION"));
    assert_eq!(
        info.interface_version.as_str(),
        plugin_api::INTERFACE_VERSION
    );

    let kinds = plugin_kit::testing::kind_table(&info);
    assert_eq!(
        kinds,
        vec![
            ("instruments", RecordKind::INSTRUMENT, 3_600_000, false),
            ("tickers", RecordKind::TICKER, 5_000, true),
            ("funding", RecordKind::FUNDING, 30_000, true),
        ]
    );

    let limits: Vec<(&str, u32, u64)> = info
        .rate_limits
        .iter()
        .map(|r| (r.path_prefix.as_str(), r.limit, r.window_ms))
        .collect();
    assert_eq!(
        limits,
        vec![
            ("/api/v5/public/instruments", 20, 2_000),
            ("/api/v5/market/tickers", 20, 2_000),
            ("/api/v5/public/funding-rate", 10, 2_000),
            ("/api/v5/public/mark-price", 10, 2_000),
            ("/api/v5/public/open-interest", 20, 2_000),
            ("/api/v5/market/index-tickers", 20, 2_000),
        ]
    );
}

/// (path, tag, query) of one request.
type RequestLine = (String, String, Vec<(String, String)>);

#[test]
fn requests_per_kind() {
    let got: Vec<RequestLine> = [KIND_INSTRUMENTS, KIND_TICKERS, KIND_FUNDING]
        .iter()
        .flat_map(|kind| requests(kind))
        .map(|r| {
            let query = r
                .query
                .iter()
                .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                .collect();
            (r.path.to_string(), r.tag.to_string(), query)
        })
        .collect();
    let q = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
    let want = vec![
        (
            PATH_INSTRUMENTS.to_owned(),
            "instruments".to_owned(),
            q("instType", "SWAP"),
        ),
        (
            PATH_TICKERS.to_owned(),
            "tickers".to_owned(),
            q("instType", "SWAP"),
        ),
        (
            PATH_MARK_PRICE.to_owned(),
            "mark-price".to_owned(),
            q("instType", "SWAP"),
        ),
        (
            PATH_OPEN_INTEREST.to_owned(),
            "open-interest".to_owned(),
            q("instType", "SWAP"),
        ),
        (
            PATH_INDEX_TICKERS.to_owned(),
            "index:USDT".to_owned(),
            q("quoteCcy", "USDT"),
        ),
        (
            PATH_INDEX_TICKERS.to_owned(),
            "index:USD".to_owned(),
            q("quoteCcy", "USD"),
        ),
        (
            PATH_INDEX_TICKERS.to_owned(),
            "index:USDC".to_owned(),
            q("quoteCcy", "USDC"),
        ),
        (
            PATH_FUNDING_RATE.to_owned(),
            "funding".to_owned(),
            q("instId", "ANY"),
        ),
    ];
    assert_eq!(got, want);
}

#[test]
fn unknown_kind_is_a_permanent_error() {
    let e = build_requests("orderbook", &ctx(&[])).expect_err("unknown kind");
    assert_eq!(e.class, ErrorClass::PERMANENT);
    let out = parse("orderbook", &[], &ctx(&[]));
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].class, ErrorClass::PERMANENT);
}

#[test]
fn exported_root_module_answers_through_the_abi() {
    let module = fc_plugin_okx::futures_collector_root_module();
    let info = (module.info())().into_result().expect("info");
    assert_eq!(info.exchange_id.as_str(), "okx");
    let context = ctx(&[]);
    let built = (module.build_requests())(RStr::from_str("funding"), &context)
        .into_result()
        .expect("requests");
    assert_eq!(built.len(), 1);
    let response = respond(&built[0], 200, "<html>oops</html>");
    let out = (module.parse())(
        RStr::from_str("funding"),
        RSlice::from_slice(&[response]),
        &context,
    );
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].class, ErrorClass::PARSE);
}

// ------------------------------------------------------------------------------------------
// instruments
// ------------------------------------------------------------------------------------------

#[test]
fn instruments_match_fixture_field_by_field() {
    let records = instruments();
    let fixture_rows = rows("instruments-swap.json");
    assert_eq!(records.len(), fixture_rows.len());
    for row in &fixture_rows {
        let inst_id = s(row, "instId");
        let r = records
            .iter()
            .find(|r| r.raw_symbol.as_str() == inst_id)
            .expect("one record per row");
        assert_eq!(r.kind, RecordKind::INSTRUMENT);
        assert_eq!(r.exchange.as_str(), "okx");
        assert_eq!(r.received_ts, RECEIVED);
        assert_eq!(r.exchange_ts, ROption::RNone);
        assert_eq!(
            r.contract_size,
            some(f(row, "ctVal") * f(row, "ctMult")),
            "{inst_id}"
        );
        assert_eq!(r.tick_size, some(f(row, "tickSz")), "{inst_id}");
        assert_eq!(
            r.listing_ts,
            ROption::RSome(ts(row, "listTime")),
            "{inst_id}"
        );
        assert_eq!(s(row, "expTime"), "");
        assert_eq!(r.delisting_ts, ROption::RNone, "{inst_id}: empty expTime");
        assert_eq!(s(row, "state"), "live");
        assert_eq!(
            r.status.as_ref().map(|s| s.as_str()),
            ROption::RSome("trading")
        );
        assert_eq!(extra(r, EXTRA_RAW_STATUS), Some("live"));
        assert_eq!(
            extra(r, EXTRA_INST_FAMILY),
            Some(s(row, "instFamily").as_str())
        );
        let family = s(row, "instFamily");
        let (family_base, family_quote) = family.split_once('-').expect("BASE-QUOTE");
        match s(row, "ctType").as_str() {
            "linear" => {
                assert_eq!(r.market_type, MarketType::LINEAR_PERPETUAL);
                assert_eq!(r.base.as_str(), s(row, "ctValCcy"));
                assert_eq!(r.quote.as_str(), s(row, "settleCcy"));
                assert_eq!(r.settle.as_str(), s(row, "settleCcy"));
            }
            "inverse" => {
                assert_eq!(r.market_type, MarketType::INVERSE_PERPETUAL);
                assert_eq!(r.base.as_str(), family_base);
                assert_eq!(r.quote.as_str(), family_quote);
                assert_eq!(r.settle.as_str(), s(row, "settleCcy"));
            }
            other => panic!("unexpected ctType {other}"),
        }
        // Fields of other kinds stay absent.
        assert_eq!(r.last, ROption::RNone);
        assert_eq!(r.rate, ROption::RNone);
        assert_eq!(r.interval_hours, ROption::RNone);
    }
}

#[test]
fn instrument_contract_sizes_linear_and_inverse() {
    let records = instruments();
    let by = |raw: &str| {
        records
            .iter()
            .find(|r| r.raw_symbol.as_str() == raw)
            .expect("instrument")
    };
    // (raw, unified symbol, market type, contract size)
    let cases = [
        (
            "BTC-USD-SWAP",
            "BTC/USD:BTC",
            MarketType::INVERSE_PERPETUAL,
            100.0,
        ),
        (
            "ETH-USDT-SWAP",
            "ETH/USDT:USDT",
            MarketType::LINEAR_PERPETUAL,
            0.1,
        ),
        (
            "BTC-USDT-SWAP",
            "BTC/USDT:USDT",
            MarketType::LINEAR_PERPETUAL,
            0.01,
        ),
    ];
    for (raw, symbol, market_type, size) in cases {
        let r = by(raw);
        assert_eq!(r.symbol.as_str(), symbol);
        assert_eq!(r.market_type, market_type);
        assert_eq!(r.contract_size, some(size), "{raw}");
        assert_eq!(r.contract_size, some(fixture_contract_size(raw)), "{raw}");
    }
}

#[test]
fn contract_multiplier_scales_contract_size() {
    let mut row = rows("instruments-swap.json")[1].clone();
    row["ctVal"] = json!("10000000");
    row["ctMult"] = json!("0.0001");
    let body = envelope(&[row]);
    let out = run(KIND_INSTRUMENTS, &[("instruments", 200, &body)], &[]);
    assert_eq!(out.records[0].contract_size, some(10_000_000.0 * 0.0001));
}

#[test]
fn instrument_status_is_normalized_and_raw_kept() {
    let cases = [
        ("live", "trading"),
        ("suspend", "halted"),
        ("preopen", "pre_launch"),
        ("expired", "expired"),
        ("test", "test"),
        ("Rebranding", "rebranding"),
    ];
    for (raw, want) in cases {
        let mut row = rows("instruments-swap.json")[2].clone();
        row["state"] = json!(raw);
        row["expTime"] = json!("1767225600000");
        let body = envelope(&[row]);
        let out = run(KIND_INSTRUMENTS, &[("instruments", 200, &body)], &[]);
        assert!(out.errors.is_empty(), "{raw}: {:?}", out.errors);
        let r = &out.records[0];
        assert_eq!(
            r.status.as_ref().map(|s| s.as_str()),
            ROption::RSome(want),
            "{raw}"
        );
        assert_eq!(extra(r, EXTRA_RAW_STATUS), Some(raw));
        assert_eq!(r.delisting_ts, ROption::RSome(1_767_225_600_000));
    }
}

#[test]
fn unconfigured_instruments_are_skipped_with_one_warning() {
    // OKX announces a listing with only instType/instId/listTime/state set, the rest "".
    let mut placeholders: Vec<Value> = ["NEW1-USDT-SWAP", "NEW2-USDT-SWAP"]
        .iter()
        .map(|id| {
            json!({"instType": "SWAP", "instId": id, "listTime": "1767225600000", "state": "preopen",
                   "ctType": "", "ctVal": "", "ctMult": "", "ctValCcy": "", "settleCcy": "",
                   "instFamily": "", "uly": "", "tickSz": "", "expTime": ""})
        })
        .collect();
    placeholders.extend(rows("instruments-swap.json"));
    let body = envelope(&placeholders);
    let out = run(KIND_INSTRUMENTS, &[("instruments", 200, &body)], &[]);
    assert!(out.errors.is_empty());
    assert_eq!(out.records.len(), 3, "the configured ones survive");
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    let w = out.warnings[0].as_str();
    assert!(
        w.contains("2 symbol(s)") && w.contains("NEW1-USDT-SWAP") && w.contains("NEW2-USDT-SWAP"),
        "{w}"
    );
}

#[test]
fn escaped_strings_fall_back_to_owned_copies() {
    // `\u002d` is '-': serde cannot borrow it, the Cow must own it.
    let body =
        fixture("instruments-swap.json").replace("\"BTC-USDT-SWAP\"", "\"BTC\\u002dUSDT-SWAP\"");
    let out = run(KIND_INSTRUMENTS, &[("instruments", 200, &body)], &[]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    find(&out, "BTC-USDT-SWAP");
}

// ------------------------------------------------------------------------------------------
// tickers
// ------------------------------------------------------------------------------------------

#[test]
fn tickers_match_fixture_field_by_field() {
    let instruments = instruments();
    let body = fixture("tickers.json");
    let out = run(KIND_TICKERS, &[("tickers", 200, &body)], &instruments);
    assert!(out.errors.is_empty(), "{:?}", out.errors);

    for row in rows("tickers.json") {
        let inst_id = s(&row, "instId");
        let Some(inst) = instruments
            .iter()
            .find(|i| i.raw_symbol.as_str() == inst_id)
        else {
            assert!(out.records.iter().all(|r| r.raw_symbol.as_str() != inst_id));
            continue;
        };
        let r = find(&out, &inst_id);
        assert_eq!(r.kind, RecordKind::TICKER);
        assert_eq!(r.symbol, inst.symbol);
        assert_eq!(r.market_type, inst.market_type);
        assert_eq!(r.received_ts, RECEIVED);
        assert_eq!(r.exchange_ts, ROption::RSome(ts(&row, "ts")));
        assert_eq!(r.last, some(f(&row, "last")));
        assert_eq!(r.bid, some(f(&row, "bidPx")));
        assert_eq!(r.ask, some(f(&row, "askPx")));
        assert_eq!(r.volume_24h_base, some(f(&row, "volCcy24h")));
        // BTC-USD-SWAP is inverse: contracts × USD per contract.
        assert_eq!(inst.market_type, MarketType::INVERSE_PERPETUAL);
        assert_eq!(
            r.volume_24h_quote,
            some(f(&row, "vol24h") * fixture_contract_size(&inst_id))
        );
        // Not in this response: absent, never 0.
        for (name, v) in [
            ("mark", r.mark),
            ("index", r.index),
            ("oi base", r.open_interest_base),
            ("oi quote", r.open_interest_quote),
            ("rate", r.rate),
            ("rate_8h", r.rate_8h),
        ] {
            assert_eq!(v, ROption::RNone, "{inst_id}: {name}");
        }
    }
    assert_eq!(
        out.records.len(),
        1,
        "only BTC-USD-SWAP is a known instrument"
    );
    // LTC-USD-SWAP is not in instruments-swap.json: one summary warning.
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    assert!(
        out.warnings[0].contains("LTC-USD-SWAP"),
        "{}",
        out.warnings[0]
    );
}

#[test]
fn linear_ticker_volume_in_base_and_no_quote_volume() {
    let instruments = instruments();
    let body = fixture_with("tickers.json", "BTC-USD-SWAP", "ETH-USDT-SWAP");
    let out = run(KIND_TICKERS, &[("tickers", 200, &body)], &instruments);
    let row = rows("tickers.json")[1].clone();
    let r = find(&out, "ETH-USDT-SWAP");
    assert_eq!(r.volume_24h_base, some(f(&row, "volCcy24h")));
    assert_eq!(
        r.volume_24h_quote,
        ROption::RNone,
        "OKX gives no quote volume for linear swaps"
    );
}

#[test]
fn linear_volume_falls_back_to_contracts_times_size() {
    let instruments = instruments();
    let mut row = rows("tickers.json")[1].clone();
    row["instId"] = json!("ETH-USDT-SWAP");
    row["volCcy24h"] = json!("");
    let body = envelope(&[row.clone()]);
    let out = run(KIND_TICKERS, &[("tickers", 200, &body)], &instruments);
    let r = find(&out, "ETH-USDT-SWAP");
    assert_eq!(
        r.volume_24h_base,
        some(f(&row, "vol24h") * fixture_contract_size("ETH-USDT-SWAP"))
    );
}

#[test]
fn mark_price_matches_fixture() {
    let instruments = instruments();
    let body = fixture("mark-price-swap.json");
    let out = run(KIND_TICKERS, &[("mark-price", 200, &body)], &instruments);
    assert!(out.errors.is_empty() && out.warnings.is_empty(), "{out:?}");
    for row in rows("mark-price-swap.json") {
        let r = find(&out, &s(&row, "instId"));
        assert_eq!(r.mark, some(f(&row, "markPx")));
        assert_eq!(r.exchange_ts, ROption::RSome(ts(&row, "ts")));
        assert_eq!(r.received_ts, RECEIVED);
        assert_eq!(r.last, ROption::RNone);
        assert_eq!(r.bid, ROption::RNone);
        assert_eq!(r.volume_24h_base, ROption::RNone);
    }
}

#[test]
fn open_interest_linear_uses_the_mark_of_the_round() {
    let instruments = instruments();
    let oi_body = fixture("open-interest.json");
    let mark_body = fixture("mark-price-swap.json");
    let oi = rows("open-interest.json")[0].clone();
    let mark = rows("mark-price-swap.json")[0].clone();
    assert_eq!(oi["instId"], mark["instId"]);

    // Open interest listed first: the order of responses must not matter.
    let out = run(
        KIND_TICKERS,
        &[
            ("open-interest", 200, &oi_body),
            ("mark-price", 200, &mark_body),
        ],
        &instruments,
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let r = find(&out, &s(&oi, "instId"));
    assert_eq!(r.market_type, MarketType::LINEAR_PERPETUAL);
    assert_eq!(r.open_interest_base, some(f(&oi, "oiCcy")));
    assert_eq!(
        r.open_interest_quote,
        some(f(&oi, "oiCcy") * f(&mark, "markPx"))
    );
    assert_eq!(r.mark, some(f(&mark, "markPx")));
    assert_eq!(
        r.exchange_ts,
        ROption::RSome(ts(&mark, "ts")),
        "mark ts before oi ts"
    );

    // Without a mark this round, the quote value stays absent.
    let out = run(
        KIND_TICKERS,
        &[("open-interest", 200, &oi_body)],
        &instruments,
    );
    let r = find(&out, &s(&oi, "instId"));
    assert_eq!(r.open_interest_base, some(f(&oi, "oiCcy")));
    assert_eq!(r.open_interest_quote, ROption::RNone);
    assert_eq!(r.exchange_ts, ROption::RSome(ts(&oi, "ts")));
}

#[test]
fn open_interest_inverse_uses_contract_size() {
    let instruments = instruments();
    let body = fixture_with("open-interest.json", "BTC-USDT-SWAP", "BTC-USD-SWAP");
    let oi = rows("open-interest.json")[0].clone();
    let out = run(KIND_TICKERS, &[("open-interest", 200, &body)], &instruments);
    let r = find(&out, "BTC-USD-SWAP");
    assert_eq!(r.market_type, MarketType::INVERSE_PERPETUAL);
    assert_eq!(r.open_interest_base, some(f(&oi, "oiCcy")));
    assert_eq!(
        r.open_interest_quote,
        some(f(&oi, "oi") * fixture_contract_size("BTC-USD-SWAP"))
    );
}

#[test]
fn index_prices_join_by_inst_family() {
    let instruments = instruments();
    let usdt = r#"{"code":"0","msg":"","data":[
        {"instId":"BTC-USDT","idxPx":"84650.2","high24h":"85000","low24h":"83000","open24h":"84000","sodUtc0":"84100","sodUtc8":"84200","ts":"1744590349000"},
        {"instId":"DOGE-USDT","idxPx":"0.16","ts":"1744590349000"}]}"#;
    let usd = r#"{"code":"0","msg":"","data":[{"instId":"BTC-USD","idxPx":"84655.9","ts":"1744590349000"},{"instId":"ETH-USD","idxPx":"","ts":"1744590349000"}]}"#;
    let usdc = r#"{"code":"0","msg":"","data":[]}"#;
    let out = run(
        KIND_TICKERS,
        &[
            ("index:USDT", 200, usdt),
            ("index:USD", 200, usd),
            ("index:USDC", 200, usdc),
        ],
        &instruments,
    );
    assert!(out.errors.is_empty() && out.warnings.is_empty(), "{out:?}");
    assert_eq!(find(&out, "BTC-USDT-SWAP").index, some(84650.2));
    assert_eq!(find(&out, "BTC-USD-SWAP").index, some(84655.9));
    assert!(
        out.records
            .iter()
            .all(|r| r.raw_symbol.as_str() != "ETH-USDT-SWAP"),
        "no ETH-USDT index: no record"
    );
    assert_eq!(out.records.len(), 2);
    assert_eq!(find(&out, "BTC-USDT-SWAP").last, ROption::RNone);
}

#[test]
fn full_ticker_round_joins_every_endpoint() {
    let instruments = instruments();
    let tickers = fixture("tickers.json");
    let mark = fixture("mark-price-swap.json");
    let oi = fixture("open-interest.json");
    let usdt = r#"{"code":"0","msg":"","data":[{"instId":"BTC-USDT","idxPx":"84650.2","ts":"1"}]}"#;
    let usd = r#"{"code":"0","msg":"","data":[{"instId":"BTC-USD","idxPx":"84655.9","ts":"1"}]}"#;
    let usdc = r#"{"code":"0","msg":"","data":[]}"#;
    let out = run(
        KIND_TICKERS,
        &[
            ("index:USDC", 200, usdc),
            ("tickers", 200, &tickers),
            ("index:USD", 200, usd),
            ("mark-price", 200, &mark),
            ("open-interest", 200, &oi),
            ("index:USDT", 200, usdt),
        ],
        &instruments,
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.records.len(), 2, "{:?}", out.records);
    let linear = find(&out, "BTC-USDT-SWAP");
    assert!(linear.mark.is_some() && linear.index.is_some());
    assert!(linear.open_interest_base.is_some() && linear.open_interest_quote.is_some());
    let inverse = find(&out, "BTC-USD-SWAP");
    assert!(inverse.last.is_some() && inverse.index.is_some());
    assert_eq!(inverse.mark, ROption::RNone);
    assert_eq!(
        out.warnings.len(),
        1,
        "LTC-USD-SWAP only: {:?}",
        out.warnings
    );
}

#[test]
fn one_bad_response_keeps_the_others() {
    let instruments = instruments();
    let tickers = fixture("tickers.json");
    let oi = fixture("open-interest.json");
    let out = run(
        KIND_TICKERS,
        &[
            ("tickers", 200, &tickers),
            ("mark-price", 200, "<html><body>Access denied</body></html>"),
            ("open-interest", 200, &oi),
            (
                "index:USDT",
                200,
                r#"{"code":"50011","msg":"Rate limit reached","data":[]}"#,
            ),
        ],
        &instruments,
    );
    assert_eq!(out.errors.len(), 2, "{:?}", out.errors);
    let by_tag = |tag: &str| {
        out.errors
            .iter()
            .find(|e| e.request_tag.as_str() == tag)
            .unwrap_or_else(|| panic!("error for {tag}"))
    };
    assert_eq!(by_tag("mark-price").class, ErrorClass::PARSE);
    assert_eq!(by_tag("index:USDT").class, ErrorClass::RATE_LIMITED);
    assert!(find(&out, "BTC-USD-SWAP").last.is_some());
    let linear = find(&out, "BTC-USDT-SWAP");
    assert!(linear.open_interest_base.is_some());
    assert_eq!(
        linear.open_interest_quote,
        ROption::RNone,
        "mark failed this round"
    );
    assert_eq!(linear.mark, ROption::RNone);
}

#[test]
fn unknown_symbols_are_summarised_in_one_warning() {
    let instruments = instruments();
    let ticker_rows: Vec<Value> = (0..8)
        .map(|i| json!({"instId": format!("X{i}-USDT-SWAP"), "last": "1", "ts": "1"}))
        .collect();
    let tickers = envelope(&ticker_rows);
    let mark = envelope(&[
        json!({"instId": "X0-USDT-SWAP", "markPx": "1", "ts": "1"}),
        json!({"instId": "Y-USDT-SWAP", "markPx": "1", "ts": "1"}),
    ]);
    let out = run(
        KIND_TICKERS,
        &[("tickers", 200, &tickers), ("mark-price", 200, &mark)],
        &instruments,
    );
    assert!(out.records.is_empty() && out.errors.is_empty());
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    let w = out.warnings[0].as_str();
    assert!(w.contains("skipped 9 symbol(s)"), "{w}");
    assert!(w.matches("-SWAP").count() <= 5, "a few examples only: {w}");
}

#[test]
fn unexpected_tag_is_ignored_with_a_warning() {
    let instruments = instruments();
    let req = HttpRequest::get(PATH_TICKERS, "surprise").query("instType", "SWAP");
    let body = fixture("tickers.json");
    let out = parse(
        KIND_TICKERS,
        &[respond(&req, 200, &body)],
        &ctx(&instruments),
    );
    assert!(out.records.is_empty() && out.errors.is_empty());
    assert_eq!(out.warnings.len(), 1);
}

// ------------------------------------------------------------------------------------------
// funding
// ------------------------------------------------------------------------------------------

#[test]
fn funding_matches_fixture_field_by_field() {
    let instruments = instruments();
    let body = fixture("funding-rate.json");
    let out = run(KIND_FUNDING, &[("funding", 200, &body)], &instruments);
    assert!(out.errors.is_empty() && out.warnings.is_empty(), "{out:?}");
    assert!(out.next_requests.is_empty());
    let fixture_rows = rows("funding-rate.json");
    assert_eq!(out.records.len(), fixture_rows.len());
    for row in fixture_rows {
        let inst_id = s(&row, "instId");
        let r = find(&out, &inst_id);
        let inst = instruments
            .iter()
            .find(|i| i.raw_symbol.as_str() == inst_id)
            .expect("known");
        assert_eq!(r.kind, RecordKind::FUNDING);
        assert_eq!(r.symbol, inst.symbol);
        assert_eq!(r.received_ts, RECEIVED);
        assert_eq!(r.exchange_ts, ROption::RSome(ts(&row, "ts")));
        assert_eq!(r.rate, some(f(&row, "fundingRate")));
        assert_eq!(r.next_funding_ts, ROption::RSome(ts(&row, "fundingTime")));
        assert!(
            ts(&row, "fundingTime") > ts(&row, "ts"),
            "fundingTime is ahead of ts"
        );
        let hours = (ts(&row, "nextFundingTime") - ts(&row, "fundingTime")) as f64 / 3_600_000.0;
        assert_eq!(hours, 8.0);
        assert_eq!(r.interval_hours, some(hours));
        assert_eq!(r.interval_source, ROption::RSome(IntervalSource::INFERRED));
        assert_eq!(r.rate_cap, some(f(&row, "maxFundingRate")));
        assert_eq!(r.rate_floor, some(f(&row, "minFundingRate")));
        assert!(row.get("nextFundingRate").is_none());
        assert_eq!(
            r.predicted_rate,
            ROption::RNone,
            "no nextFundingRate in the fixture"
        );
        assert_eq!(r.rate_8h, ROption::RNone, "the host computes it");
        assert_eq!(r.rate_annualized, ROption::RNone, "the host computes it");
        assert_eq!(r.mark, ROption::RNone);
        assert_eq!(r.index, ROption::RNone);
        assert_eq!(extra(r, EXTRA_METHOD), Some(s(&row, "method").as_str()));
        assert_eq!(
            extra(r, EXTRA_SETT_STATE),
            Some(s(&row, "settState").as_str())
        );
    }
}

#[test]
fn funding_predicted_rate_when_okx_gives_one() {
    // The data rows of the websocket message have the REST row's shape.
    let ws_rows = fixture_json("ws-funding-rate-2.json")["data"]
        .as_array()
        .expect("rows")
        .clone();
    let body = envelope(&ws_rows);
    let instruments = instruments();
    let out = run(KIND_FUNDING, &[("funding", 200, &body)], &instruments);
    let row = &ws_rows[0];
    let r = find(&out, &s(row, "instId"));
    assert_eq!(r.predicted_rate, some(f(row, "nextFundingRate")));
    assert_eq!(r.rate, some(f(row, "fundingRate")));
    assert_eq!(r.interval_hours, some(8.0));
}

#[test]
fn funding_without_next_time_has_no_interval() {
    let mut row = rows("funding-rate.json")[0].clone();
    row["nextFundingTime"] = json!("");
    row["nextFundingRate"] = json!("");
    row["method"] = json!("current_period");
    row.as_object_mut().expect("object").remove("settState");
    let body = envelope(&[row]);
    let instruments = instruments();
    let out = run(KIND_FUNDING, &[("funding", 200, &body)], &instruments);
    let r = &out.records[0];
    assert_eq!(r.interval_hours, ROption::RNone);
    assert_eq!(r.interval_source, ROption::RNone);
    assert_eq!(r.predicted_rate, ROption::RNone);
    assert!(r.next_funding_ts.is_some());
    assert_eq!(extra(r, EXTRA_METHOD), Some("current_period"));
    assert_eq!(extra(r, EXTRA_SETT_STATE), None);
}

#[test]
fn funding_any_refused_falls_back_per_instrument() {
    let mut instruments = instruments();
    // A halted swap is not asked for.
    instruments[0].status = ROption::RSome("halted".into());
    let halted = instruments[0].raw_symbol.to_string();
    let cases = [
        (
            200,
            r#"{"code":"51000","msg":"Parameter instId error","data":[]}"#,
        ),
        (
            400,
            r#"{"code":"51000","msg":"Parameter instId error","data":[]}"#,
        ),
        (
            200,
            r#"{"code":"51001","msg":"Instrument ID does not exist","data":[]}"#,
        ),
        (
            400,
            r#"{"code":"51001","msg":"Instrument ID does not exist"}"#,
        ),
    ];
    for (status, body) in cases {
        let out = run(KIND_FUNDING, &[("funding", status, body)], &instruments);
        let case = format!("HTTP {status} {body}");
        assert!(
            out.errors.is_empty(),
            "{case}: not an error: {:?}",
            out.errors
        );
        assert!(out.records.is_empty(), "{case}");
        assert_eq!(out.warnings.len(), 1, "{case}: {:?}", out.warnings);
        let trading: Vec<&Record> = instruments
            .iter()
            .filter(|i| i.raw_symbol.as_str() != halted)
            .collect();
        assert_eq!(out.next_requests.len(), trading.len(), "{case}");
        for (req, inst) in out.next_requests.iter().zip(&trading) {
            assert_eq!(req.path.as_str(), PATH_FUNDING_RATE);
            assert_eq!(req.query_value("instId"), Some(inst.raw_symbol.as_str()));
            assert_eq!(req.tag.as_str(), format!("funding:{}", inst.raw_symbol));
            assert!(req.weight >= 1);
        }
    }
}

#[test]
fn funding_fallback_round_parses_rows_and_rejects_unknown_ids() {
    let instruments = instruments();
    let first = run(
        KIND_FUNDING,
        &[(
            "funding",
            200,
            r#"{"code":"51000","msg":"Parameter instId error","data":[]}"#,
        )],
        &instruments,
    );
    let btc = first
        .next_requests
        .iter()
        .find(|r| r.tag.as_str() == "funding:BTC-USDT-SWAP")
        .expect("fallback request")
        .clone();
    // An instrument OKX no longer knows (delisted since the last instruments cycle).
    let gone = HttpRequest::get(PATH_FUNDING_RATE, "funding:GONE-USDT-SWAP")
        .query("instId", "GONE-USDT-SWAP");
    let body = fixture("funding-rate.json");
    let unknown = r#"{"code":"51001","data":[],"msg":"Instrument ID does not exist"}"#;
    let out = parse(
        KIND_FUNDING,
        &[respond(&btc, 200, &body), respond(&gone, 200, unknown)],
        &ctx(&instruments),
    );
    assert!(out.next_requests.is_empty(), "no second fallback");
    assert_eq!(out.records.len(), 1);
    assert_eq!(find(&out, "BTC-USDT-SWAP").interval_hours, some(8.0));
    assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
    let e = &out.errors[0];
    assert_eq!(e.class, ErrorClass::PERMANENT);
    assert_eq!(e.code.as_str(), "51001");
    assert_eq!(e.request_tag.as_str(), "funding:GONE-USDT-SWAP");
}

#[test]
fn funding_any_refused_without_instruments_reports_the_refusal() {
    let out = run(
        KIND_FUNDING,
        &[(
            "funding",
            400,
            r#"{"code":"51000","msg":"Parameter instId error","data":[]}"#,
        )],
        &[],
    );
    assert_only_error(
        &out,
        ErrorClass::PERMANENT,
        "51000",
        "funding",
        "no instruments",
    );
}

#[test]
fn funding_rows_not_in_ctx_are_summarised() {
    let body = fixture("funding-rate.json");
    let out = run(KIND_FUNDING, &[("funding", 200, &body)], &[]);
    assert!(out.records.is_empty() && out.errors.is_empty());
    assert_eq!(out.warnings.len(), 1);
    assert!(out.warnings[0].contains("BTC-USDT-SWAP"));
}

// ------------------------------------------------------------------------------------------
// missing values
// ------------------------------------------------------------------------------------------

#[test]
fn missing_values_are_none_not_zero() {
    let instruments = instruments();
    let tickers = envelope(&[
        json!({"instType": "SWAP", "instId": "BTC-USD-SWAP", "last": "",
        "bidPx": "", "askPx": "", "vol24h": "", "volCcy24h": "", "ts": ""}),
    ]);
    let mark = envelope(&[json!({"instId": "BTC-USDT-SWAP", "markPx": "", "ts": "0"})]);
    let oi = envelope(&[json!({"instId": "ETH-USDT-SWAP", "oi": "", "oiCcy": ""})]);
    let out = run(
        KIND_TICKERS,
        &[
            ("tickers", 200, &tickers),
            ("mark-price", 200, &mark),
            ("open-interest", 200, &oi),
        ],
        &instruments,
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    for r in out.records.iter() {
        for (name, v) in [
            ("last", r.last),
            ("bid", r.bid),
            ("ask", r.ask),
            ("mark", r.mark),
            ("index", r.index),
            ("volume base", r.volume_24h_base),
            ("volume quote", r.volume_24h_quote),
            ("oi base", r.open_interest_base),
            ("oi quote", r.open_interest_quote),
        ] {
            assert_eq!(v, ROption::RNone, "{}: {name}", r.raw_symbol);
        }
        assert_eq!(r.exchange_ts, ROption::RNone, "{}", r.raw_symbol);
    }
    assert_eq!(out.records.len(), 3);

    // A real zero stays a zero.
    let zero = envelope(&[
        json!({"instId": "BTC-USD-SWAP", "last": "1", "vol24h": "0", "volCcy24h": "0"}),
    ]);
    let out = run(KIND_TICKERS, &[("tickers", 200, &zero)], &instruments);
    assert_eq!(out.records[0].volume_24h_base, some(0.0));
    assert_eq!(out.records[0].volume_24h_quote, some(0.0));

    let funding = envelope(&[
        json!({"instId": "BTC-USDT-SWAP", "fundingRate": "", "fundingTime": "",
        "nextFundingTime": "", "maxFundingRate": "", "minFundingRate": "", "ts": ""}),
    ]);
    let out = run(KIND_FUNDING, &[("funding", 200, &funding)], &instruments);
    let r = &out.records[0];
    for (name, v) in [
        ("rate", r.rate),
        ("interval", r.interval_hours),
        ("predicted", r.predicted_rate),
        ("cap", r.rate_cap),
        ("floor", r.rate_floor),
    ] {
        assert_eq!(v, ROption::RNone, "{name}");
    }
    assert_eq!(r.next_funding_ts, ROption::RNone);
    assert_eq!(r.exchange_ts, ROption::RNone);
    assert!(r.extra.is_empty());

    let mut row = rows("instruments-swap.json")[1].clone();
    for key in ["ctVal", "tickSz", "listTime", "state"] {
        row[key] = json!("");
    }
    let body = envelope(&[row]);
    let out = run(KIND_INSTRUMENTS, &[("instruments", 200, &body)], &[]);
    let r = &out.records[0];
    assert_eq!(r.contract_size, ROption::RNone);
    assert_eq!(r.tick_size, ROption::RNone);
    assert_eq!(r.listing_ts, ROption::RNone);
    assert_eq!(r.status, ROption::RNone);
    assert_eq!(extra(r, EXTRA_RAW_STATUS), None);
}

// ------------------------------------------------------------------------------------------
// malformed input and error envelopes
// ------------------------------------------------------------------------------------------

/// `(kind, tag, fixture of a good body, a numeric field of its rows)`.
const ENDPOINTS: [(&str, &str, &str, &str); 8] = [
    (
        KIND_INSTRUMENTS,
        "instruments",
        "instruments-swap.json",
        "ctVal",
    ),
    (KIND_TICKERS, "tickers", "tickers.json", "last"),
    (KIND_TICKERS, "mark-price", "mark-price-swap.json", "markPx"),
    (KIND_TICKERS, "open-interest", "open-interest.json", "oiCcy"),
    (KIND_TICKERS, "index:USDT", "mark-price-swap.json", "idxPx"),
    (KIND_TICKERS, "index:USD", "mark-price-swap.json", "idxPx"),
    (KIND_TICKERS, "index:USDC", "mark-price-swap.json", "idxPx"),
    (KIND_FUNDING, "funding", "funding-rate.json", "fundingRate"),
];

/// Bodies that are not what OKX documents, for every endpoint: `PARSE`, never a panic, never
/// an empty success.
#[test]
fn garbage_bodies_are_parse_errors() {
    let instruments = instruments();
    for (kind, tag, good, field) in ENDPOINTS {
        let good = fixture(good);
        let truncated = &good[..good.len() / 2];
        let wrong_type = format!(
            r#"{{"code":"0","msg":"","data":[{{"instId":"BTC-USDT-SWAP","{field}":{{"x":1}}}}]}}"#
        );
        let cases: Vec<(&str, String)> = vec![
            ("empty body", String::new()),
            ("whitespace", " \n ".to_owned()),
            (
                "HTML page",
                "<!DOCTYPE html><html><body>Just a moment...</body></html>".to_owned(),
            ),
            ("plain text", "upstream connect error".to_owned()),
            ("truncated JSON", truncated.to_owned()),
            ("data is an object", r#"{"code":"0","data":{}}"#.to_owned()),
            (
                "data is a string",
                r#"{"code":"0","msg":"","data":"none"}"#.to_owned(),
            ),
            ("no data", r#"{"code":"0","msg":""}"#.to_owned()),
            (
                "data null",
                r#"{"code":"0","msg":"","data":null}"#.to_owned(),
            ),
            ("no code", r#"{"msg":"","data":[]}"#.to_owned()),
            ("top-level array", "[]".to_owned()),
            (
                "rows are strings",
                r#"{"code":"0","msg":"","data":["BTC-USDT-SWAP"]}"#.to_owned(),
            ),
            (
                "row without instId",
                r#"{"code":"0","msg":"","data":[{"last":"1"}]}"#.to_owned(),
            ),
            (
                "instId is a number",
                r#"{"code":"0","msg":"","data":[{"instId":42}]}"#.to_owned(),
            ),
            ("number field is an object", wrong_type),
            (
                "code is an object",
                r#"{"code":{},"msg":"","data":[]}"#.to_owned(),
            ),
        ];
        for (case, body) in cases {
            let out = run(kind, &[(tag, 200, &body)], &instruments);
            assert_only_error(&out, ErrorClass::PARSE, "", tag, &format!("{tag}: {case}"));
        }
    }
}

/// OKX error envelopes (HTTP 200 or 4xx) and plain HTTP failures, for every endpoint.
#[test]
fn error_envelopes_and_http_failures_are_classified() {
    let instruments = instruments();
    let envelope_cases: [(u16, &str, ErrorClass); 11] = [
        (200, "50011", ErrorClass::RATE_LIMITED),
        (429, "50011", ErrorClass::RATE_LIMITED),
        (200, "50061", ErrorClass::RATE_LIMITED),
        (503, "50001", ErrorClass::TRANSIENT),
        (400, "50004", ErrorClass::TRANSIENT),
        (429, "50013", ErrorClass::TRANSIENT),
        (200, "50026", ErrorClass::TRANSIENT),
        (400, "50014", ErrorClass::PERMANENT),
        (410, "50005", ErrorClass::PERMANENT),
        (200, "51000", ErrorClass::PERMANENT),
        (200, "51001", ErrorClass::PERMANENT),
    ];
    for (kind, tag, ..) in ENDPOINTS {
        for (status, code, class) in envelope_cases {
            if tag == "funding" && (code == "51000" || code == "51001") {
                continue; // the ANY fallback; see funding_any_refused_falls_back_per_instrument
            }
            let body = format!(r#"{{"code":"{code}","msg":"Something went wrong","data":[]}}"#);
            let out = run(kind, &[(tag, status, &body)], &instruments);
            assert_only_error(
                &out,
                class,
                code,
                tag,
                &format!("{tag}: HTTP {status} code {code}"),
            );
            assert!(out.errors[0].message.contains("Something went wrong"));
        }
        // The code as a JSON number, and an error envelope whose data is an object.
        let out = run(
            kind,
            &[(tag, 200, r#"{"code":50011,"msg":"Too Many Requests"}"#)],
            &instruments,
        );
        assert_only_error(&out, ErrorClass::RATE_LIMITED, "50011", tag, "numeric code");
        let out = run(
            kind,
            &[(
                tag,
                200,
                r#"{"code":"50026","msg":"System error","data":{}}"#,
            )],
            &instruments,
        );
        assert_only_error(&out, ErrorClass::TRANSIENT, "50026", tag, "object data");

        let http_cases: [(u16, &str, ErrorClass); 8] = [
            (400, "Bad Request", ErrorClass::PERMANENT),
            (403, "", ErrorClass::PERMANENT),
            (
                404,
                "<html><body>404 Not Found</body></html>",
                ErrorClass::PERMANENT,
            ),
            (400, r#"{"error":"bad"}"#, ErrorClass::PERMANENT),
            (
                400,
                r#"{"code":"0","msg":"","data":[]}"#,
                ErrorClass::PERMANENT,
            ),
            (408, "", ErrorClass::TRANSIENT),
            (502, "<html>Bad Gateway</html>", ErrorClass::TRANSIENT),
            (429, "Too Many Requests", ErrorClass::RATE_LIMITED),
        ];
        for (status, body, class) in http_cases {
            let out = run(kind, &[(tag, status, body)], &instruments);
            assert_only_error(
                &out,
                class,
                "",
                tag,
                &format!("{tag}: HTTP {status} {body}"),
            );
            assert!(out.errors[0].message.contains(&status.to_string()));
        }
    }
}

/// The per-instrument fallback requests get the same classification (51000/51001 included).
#[test]
fn fallback_requests_classify_every_code() {
    let instruments = instruments();
    let req = HttpRequest::get(PATH_FUNDING_RATE, "funding:BTC-USDT-SWAP")
        .query("instId", "BTC-USDT-SWAP");
    let cases = [
        ("50011", ErrorClass::RATE_LIMITED),
        ("50061", ErrorClass::RATE_LIMITED),
        ("50001", ErrorClass::TRANSIENT),
        ("50004", ErrorClass::TRANSIENT),
        ("50013", ErrorClass::TRANSIENT),
        ("50026", ErrorClass::TRANSIENT),
        ("51000", ErrorClass::PERMANENT),
        ("51001", ErrorClass::PERMANENT),
        ("50014", ErrorClass::PERMANENT),
        ("12345", ErrorClass::PERMANENT),
    ];
    for (code, class) in cases {
        let body = format!(r#"{{"code":"{code}","msg":"x","data":[]}}"#);
        let out = parse(
            KIND_FUNDING,
            &[respond(&req, 200, &body)],
            &ctx(&instruments),
        );
        assert_only_error(&out, class, code, "funding:BTC-USDT-SWAP", code);
    }
}

#[test]
fn rate_limit_carries_retry_after() {
    let req = request(KIND_TICKERS, "tickers");
    let headers = [KeyValueRef {
        key: RStr::from_str("retry-after"),
        value: RStr::from_str("2"),
    }];
    let body = r#"{"code":"50011","msg":"Rate limit reached","data":[]}"#;
    let out = parse(
        KIND_TICKERS,
        &[respond_with_headers(&req, 200, body, &headers)],
        &ctx(&[]),
    );
    assert_eq!(out.errors[0].class, ErrorClass::RATE_LIMITED);
    assert_eq!(out.errors[0].retry_after_ms, ROption::RSome(2_000));
    let out = parse(KIND_TICKERS, &[respond(&req, 200, body)], &ctx(&[]));
    assert_eq!(out.errors[0].retry_after_ms, ROption::RNone);
}

#[test]
fn empty_data_is_a_valid_empty_answer() {
    let instruments = instruments();
    let empty = r#"{"code":"0","msg":"","data":[]}"#;
    let out = run(KIND_TICKERS, &[("tickers", 200, empty)], &instruments);
    assert!(out.errors.is_empty() && out.records.is_empty());
    let out = run(KIND_FUNDING, &[("funding", 200, empty)], &instruments);
    assert!(out.errors.is_empty() && out.records.is_empty());
    // An empty instrument list is suspicious enough to say so.
    let out = run(KIND_INSTRUMENTS, &[("instruments", 200, empty)], &[]);
    assert!(out.errors.is_empty() && out.records.is_empty());
    assert_eq!(out.warnings.len(), 1);
}

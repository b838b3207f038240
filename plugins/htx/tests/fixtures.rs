//! Table-driven tests of the HTX plugin over raw exchange JSON.
//!
//! Owns: the proof that every kind maps the recorded HTX bodies field by field (expected
//! values are read from the fixture JSON itself), that the exchange's pitfalls are handled
//! (dated futures mixed into the lists, `funding_time` meaning, bulk vs per-swap v5 funding,
//! string/number mix, `vol` vs contracts in `batch_merged`), and that every malformed or
//! refused body is a classified error, never a panic.
//! Must not: copy fixtures into the repository (they are read from `../shared` at run time) or
//! reach the network. The plugin is called through the same functions the export macro wraps.

use fc_plugin_htx::{
    build_requests, info, parse, EXTRA_CONTRACT_STATUS, EXTRA_FUNDING_SOURCE, EXTRA_PAIR,
    KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS, LEGACY_PREFIX, MARKET_V2_PREFIX,
    PATH_BATCH_FUNDING, PATH_BATCH_MERGED, PATH_CONTRACT_INFO, PATH_OPEN_INTEREST, PATH_V5_FUNDING,
    UNKNOWN_CONTRACT, V5_MARKET_PREFIX,
};
use plugin_api::{
    abi_stable::std_types::{ROption, RSlice, RStr},
    Context, ErrorClass, HttpRequest, HttpResponse, IntervalSource, MarketType, ParseOutput,
    Record,
};
use serde_json::{json, Value};

const NOW: i64 = 1_781_235_318_758;
const RECEIVED: i64 = 1_781_235_318_000;

// ------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------

fn fixture(name: &str) -> String {
    plugin_kit::fixtures::text("htx", name)
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).expect("fixture is JSON")
}

fn num(v: &Value, key: &str) -> f64 {
    match &v[key] {
        Value::Number(n) => n.as_f64().expect("finite"),
        Value::String(s) => s.parse().expect("numeric string"),
        other => panic!("`{key}` is not a number: {other}"),
    }
}

fn ok_body(rows: &[Value], ts: i64) -> String {
    json!({"status": "ok", "data": rows, "ts": ts}).to_string()
}

fn ctx(instruments: &[Record]) -> Context<'_> {
    Context {
        exchange_id: RStr::from_str("htx"),
        now_ms: NOW,
        instruments: RSlice::from_slice(instruments),
        options: RSlice::from_slice(&[]),
        credentials: ROption::RNone,
    }
}

fn request(kind: &str, tag: &str) -> HttpRequest {
    if let Some(code) = tag.strip_prefix("funding:") {
        return fc_plugin_htx::funding_request_v5(code);
    }
    build_requests(kind, &ctx(&[]))
        .expect("known kind")
        .into_iter()
        .find(|r| r.tag.as_str() == tag)
        .unwrap_or_else(|| panic!("{kind} builds a request tagged {tag}"))
}

fn respond<'a>(request: &'a HttpRequest, status: u16, body: &'a str) -> HttpResponse<'a> {
    HttpResponse {
        request,
        status,
        headers: RSlice::from_slice(&[]),
        body: RSlice::from_slice(body.as_bytes()),
        received_ts: RECEIVED,
    }
}

fn run(kind: &str, answers: &[(&str, u16, &str)], instruments: &[Record]) -> ParseOutput {
    let reqs: Vec<HttpRequest> = answers.iter().map(|(tag, ..)| request(kind, tag)).collect();
    let responses: Vec<HttpResponse<'_>> = reqs
        .iter()
        .zip(answers)
        .map(|(r, (_, status, body))| respond(r, *status, body))
        .collect();
    parse(kind, &responses, &ctx(instruments))
}

/// The swaps of `contract-info.json` (plus `extra` rows), as the host keeps them.
fn instruments_with(extra: &[Value]) -> Vec<Record> {
    let mut rows = fixture_json("contract-info.json")["data"]
        .as_array()
        .expect("rows")
        .clone();
    rows.extend(extra.iter().cloned());
    let out = run(
        KIND_INSTRUMENTS,
        &[("contracts", 200, &ok_body(&rows, NOW))],
        &[],
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let mut records: Vec<Record> = out.records.into_iter().collect();
    records.sort_by(|a, b| a.raw_symbol.cmp(&b.raw_symbol));
    records
}

fn instruments() -> Vec<Record> {
    instruments_with(&[])
}

/// A swap row like the recorded BTC-USDT one for another coin.
fn swap_row(coin: &str, size: f64) -> Value {
    let mut row = fixture_json("contract-info.json")["data"][3].clone();
    row["symbol"] = json!(coin);
    row["contract_code"] = json!(format!("{coin}-USDT"));
    row["pair"] = json!(format!("{coin}-USDT"));
    row["contract_size"] = json!(size);
    row
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
fn info_describes_htx_linear_swaps() {
    let info = info();
    assert_eq!(info.exchange_id.as_str(), "htx");
    assert_eq!(info.default_base_url.as_str(), "https://api.hbdm.com");
    let names: Vec<&str> = plugin_kit::testing::kind_table(&info)
        .iter()
        .map(|k| k.0)
        .collect();
    assert_eq!(names, [KIND_INSTRUMENTS, KIND_TICKERS, KIND_FUNDING]);
    let rules: Vec<(String, u32, u64)> = info
        .rate_limits
        .iter()
        .map(|r| (r.path_prefix.to_string(), r.limit, r.window_ms))
        .collect();
    assert_eq!(
        rules,
        [
            (LEGACY_PREFIX.to_owned(), 10, 1_000),
            (MARKET_V2_PREFIX.to_owned(), 10, 1_000),
            (V5_MARKET_PREFIX.to_owned(), 80, 1_000),
        ]
    );
}

/// A request's path and its `business_type` query value.
type PathAndBusinessType = (&'static str, Option<&'static str>);

#[test]
fn requests_per_kind_ask_for_swaps_only() {
    let table: [(&str, &[PathAndBusinessType]); 3] = [
        (KIND_INSTRUMENTS, &[(PATH_CONTRACT_INFO, Some("swap"))]),
        (
            KIND_TICKERS,
            &[
                (PATH_BATCH_MERGED, Some("swap")),
                (PATH_OPEN_INTEREST, Some("swap")),
            ],
        ),
        (KIND_FUNDING, &[(PATH_BATCH_FUNDING, None)]),
    ];
    for (kind, want) in table {
        let got: Vec<(String, Option<String>)> = build_requests(kind, &ctx(&[]))
            .expect("known kind")
            .iter()
            .map(|r| {
                (
                    r.path.to_string(),
                    r.query_value("business_type").map(str::to_owned),
                )
            })
            .collect();
        let want: Vec<(String, Option<String>)> = want
            .iter()
            .map(|(p, b)| (p.to_string(), b.map(str::to_owned)))
            .collect();
        assert_eq!(got, want, "{kind}");
    }
    let v5 = fc_plugin_htx::funding_request_v5("BTC-USDT");
    assert_eq!(v5.path.as_str(), PATH_V5_FUNDING);
    assert_eq!(v5.query_value("contract_code"), Some("BTC-USDT"));
    assert_eq!(v5.tag.as_str(), "funding:BTC-USDT");
    assert!(build_requests("orderbook", &ctx(&[])).is_err());
    assert_eq!(
        parse("orderbook", &[], &ctx(&[])).errors[0].class,
        ErrorClass::PERMANENT
    );
}

#[test]
fn exported_root_module_answers_through_the_abi() {
    let module = fc_plugin_htx::futures_collector_root_module();
    let info = (module.info())().into_result().expect("info");
    assert_eq!(info.exchange_id.as_str(), "htx");
    let context = ctx(&[]);
    let built = (module.build_requests())(RStr::from_str("tickers"), &context)
        .into_result()
        .expect("requests");
    assert_eq!(built.len(), 2);
    let response = respond(&built[0], 200, "<html>oops</html>");
    let out = (module.parse())(
        RStr::from_str("tickers"),
        RSlice::from_slice(&[response]),
        &context,
    );
    assert_eq!(out.errors[0].class, ErrorClass::PARSE);
}

// ------------------------------------------------------------------------------------------
// instruments
// ------------------------------------------------------------------------------------------

#[test]
fn instruments_match_fixture_and_skip_dated_futures() {
    let rows = fixture_json("contract-info.json")["data"].clone();
    let swap = &rows[3];
    let out = run(
        KIND_INSTRUMENTS,
        &[("contracts", 200, &fixture("contract-info.json"))],
        &[],
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    // Pitfall: the recorded list mixes three dated BTC-USDT futures into the swap.
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    let w = out.warnings[0].as_str();
    assert!(
        w.contains('3') && w.contains("dated") && w.contains("BTC-USDT-211203"),
        "{w}"
    );
    let r = find(&out, "BTC-USDT");
    assert_eq!(r.symbol.as_str(), "BTC/USDT:USDT");
    assert_eq!(r.market_type, MarketType::LINEAR_PERPETUAL);
    assert_eq!(r.contract_size, some(num(swap, "contract_size")));
    assert_eq!(r.tick_size, some(num(swap, "price_tick")));
    assert_eq!(
        r.status.as_ref().map(|s| s.as_str()),
        ROption::RSome("trading")
    );
    assert_eq!(extra(r, EXTRA_CONTRACT_STATUS), Some("1"));
    assert_eq!(extra(r, EXTRA_PAIR), Some("BTC-USDT"));
    // create_date 20211202 → 2021-12-02T00:00Z.
    assert_eq!(r.listing_ts, ROption::RSome(1_638_403_200_000));
    assert_eq!(r.delisting_ts, ROption::RNone);
}

#[test]
fn htx_currency_renames_apply() {
    for (coin, want) in [
        ("HOT", "Hydro Protocol/USDT:USDT"),
        ("GTC", "Game.com/USDT:USDT"),
        ("BIFI", "Bitcoin File/USDT:USDT"),
        ("ETH", "ETH/USDT:USDT"),
    ] {
        let out = run(
            KIND_INSTRUMENTS,
            &[("contracts", 200, &ok_body(&[swap_row(coin, 1.0)], NOW))],
            &[],
        );
        assert_eq!(out.records[0].symbol.as_str(), want, "{coin}");
        assert_eq!(out.records[0].raw_symbol.as_str(), format!("{coin}-USDT"));
    }
}

#[test]
fn contract_statuses_are_normalized() {
    for (raw, want) in [
        (1, "trading"),
        (0, "delisted"),
        (2, "pre_launch"),
        (3, "halted"),
        (5, "settling"),
        (9, "status_9"),
    ] {
        let mut row = swap_row("ETH", 0.01);
        row["contract_status"] = json!(raw);
        let out = run(
            KIND_INSTRUMENTS,
            &[("contracts", 200, &ok_body(&[row], NOW))],
            &[],
        );
        assert_eq!(
            out.records[0].status.as_ref().map(|s| s.as_str()),
            ROption::RSome(want),
            "{raw}"
        );
    }
}

// ------------------------------------------------------------------------------------------
// tickers
// ------------------------------------------------------------------------------------------

#[test]
fn tickers_match_fixtures_field_by_field() {
    let tick = fixture_json("batch-merged.json")["ticks"][0].clone();
    let oi = fixture_json("open-interest.json")["data"][0].clone();
    let out = run(
        KIND_TICKERS,
        &[
            ("batch_merged", 200, &fixture("batch-merged.json")),
            ("open_interest", 200, &fixture("open-interest.json")),
        ],
        &instruments(),
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    // The OI list mixes three dated futures in: skipped and counted.
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    assert!(out.warnings[0].contains("dated"));
    assert_eq!(out.records.len(), 1);
    let r = find(&out, "BTC-USDT");
    assert_eq!(r.last, some(num(&tick, "close")));
    assert_eq!(r.bid, some(tick["bid"][0].as_f64().expect("bid")));
    assert_eq!(r.ask, some(tick["ask"][0].as_f64().expect("ask")));
    assert_eq!(
        r.exchange_ts,
        ROption::RSome(tick["ts"].as_i64().expect("ts"))
    );
    assert_eq!(r.volume_24h_base, some(num(&tick, "amount")));
    // Erratum 9: in the recording `vol` is the quote turnover (≈ amount × close).
    assert_eq!(r.volume_24h_quote, some(num(&tick, "vol")));
    assert_eq!(r.open_interest_base, some(num(&oi, "amount")));
    assert_eq!(r.open_interest_quote, some(num(&oi, "value")));
    // HTX serves no bulk mark or index: absent, never 0.
    assert_eq!((r.mark, r.index), (ROption::RNone, ROption::RNone));
    assert_eq!(r.received_ts, RECEIVED);
}

#[test]
fn batch_merged_volume_units() {
    // (fields, base volume, quote volume): `vol` as contracts (ccxt's reading) is never used as
    // a turnover; `trade_turnover` wins; base falls back to number_of × contract_size (0.001).
    let cases: [(Value, Option<f64>, Option<f64>); 4] = [
        (
            json!({"amount": "10", "number_of": "10000", "vol": "10000", "trade_turnover": "400000"}),
            Some(10.0),
            Some(400_000.0),
        ),
        (
            json!({"amount": "10", "number_of": "10000", "vol": "10000"}),
            Some(10.0),
            None,
        ),
        (
            json!({"number_of": "10000", "vol": "400000"}),
            Some(10.0),
            Some(400_000.0),
        ),
        (json!({"vol": "400000"}), None, None),
    ];
    for (fields, base, quote) in cases {
        let mut row = json!({"contract_code": "BTC-USDT", "business_type": "swap",
            "close": "40000", "ts": 1650792083179_i64});
        for (k, v) in fields.as_object().expect("object") {
            row[k] = v.clone();
        }
        let body = json!({"status": "ok", "ticks": [row], "ts": 1}).to_string();
        let out = run(
            KIND_TICKERS,
            &[("batch_merged", 200, &body)],
            &instruments(),
        );
        let r = find(&out, "BTC-USDT");
        assert_eq!(r.volume_24h_base.into_option(), base, "{fields}");
        assert_eq!(r.volume_24h_quote.into_option(), quote, "{fields}");
    }
}

#[test]
fn numbers_as_strings_or_numbers_and_ticker_rows_not_in_ctx() {
    let body = json!({"status": "ok", "ts": 1, "ticks": [
        {"contract_code": "BTC-USDT", "business_type": "swap", "close": 40000.5,
         "bid": ["40000.1", "3"], "ask": [40000.9, 4], "ts": "1650792083179"},
        {"contract_code": "BTC-USDT-211231", "business_type": "futures", "close": "1"},
        {"contract_code": "NEW-USDT", "business_type": "swap", "close": "1"}
    ]})
    .to_string();
    let out = run(
        KIND_TICKERS,
        &[("batch_merged", 200, &body)],
        &instruments(),
    );
    let r = find(&out, "BTC-USDT");
    assert_eq!(
        (r.last, r.bid, r.ask),
        (some(40000.5), some(40000.1), some(40000.9))
    );
    assert_eq!(r.exchange_ts, ROption::RSome(1_650_792_083_179));
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.warnings.len(), 2, "{:?}", out.warnings);
}

// ------------------------------------------------------------------------------------------
// funding
// ------------------------------------------------------------------------------------------

#[test]
fn recorded_batch_funding_time_behind_the_answer_is_not_the_next_settlement() {
    // Erratum 10: funding_time 1613976000000 lies 19 h before ts 1614045373795.
    let body = fixture("batch-funding-rate.json").replace("\"ETC-USDT\"", "\"BTC-USDT\"");
    let row = fixture_json("batch-funding-rate.json")["data"][0].clone();
    let out = run(KIND_FUNDING, &[("funding", 200, &body)], &instruments());
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let r = find(&out, "BTC-USDT");
    assert_eq!(r.rate, some(num(&row, "funding_rate")));
    assert_eq!(
        r.next_funding_ts,
        ROption::RNone,
        "a past time is no next settlement"
    );
    assert_eq!(r.interval_hours, some(8.0));
    assert_eq!(r.interval_source, ROption::RSome(IntervalSource::DEFAULT));
    assert_eq!(r.exchange_ts, ROption::RSome(1_614_045_373_795));
    assert_eq!(
        (r.rate_cap, r.rate_floor, r.predicted_rate),
        (ROption::RNone, ROption::RNone, ROption::RNone)
    );
    assert_eq!(extra(r, EXTRA_FUNDING_SOURCE), Some("batch"));
    // ADA-USDT is not an instrument here: summarised.
    assert_eq!(out.warnings.len(), 1);
}

#[test]
fn funding_time_meaning_per_position_relative_to_the_answer() {
    let ts = 1_781_235_318_758_i64;
    // (funding_time, next_funding_time, expected next settlement, expected interval)
    let cases: [(Value, Value, Option<i64>, Option<f64>); 4] = [
        // v5 / §7.6: funding_time ahead = the current period's settlement; 8 h to the next.
        (
            json!("1781251200000"),
            json!("1781280000000"),
            Some(1_781_251_200_000),
            Some(8.0),
        ),
        // A 4 h swap.
        (
            json!("1781251200000"),
            json!("1781265600000"),
            Some(1_781_251_200_000),
            Some(4.0),
        ),
        // funding_time behind (the last settlement): next_funding_time is the current one's.
        (
            json!("1781222400000"),
            json!("1781251200000"),
            Some(1_781_251_200_000),
            Some(8.0),
        ),
        // next_funding_time null (§7.5): no interval, the settlement still known.
        (
            json!("1781251200000"),
            Value::Null,
            Some(1_781_251_200_000),
            None,
        ),
    ];
    for (funding_time, next, want_next, want_hours) in cases {
        let row = json!({"contract_code": "BTC-USDT", "funding_rate": "0.0001",
            "funding_time": funding_time, "next_funding_time": next});
        let out = run(
            KIND_FUNDING,
            &[("funding", 200, &ok_body(&[row], ts))],
            &instruments(),
        );
        let r = find(&out, "BTC-USDT");
        assert_eq!(
            r.next_funding_ts.into_option(),
            want_next,
            "{funding_time} {next}"
        );
        match want_hours {
            Some(h) => {
                assert_eq!(r.interval_hours, some(h));
                assert_eq!(r.interval_source, ROption::RSome(IntervalSource::INFERRED));
            }
            None => assert_eq!(r.interval_source, ROption::RSome(IntervalSource::DEFAULT)),
        }
        // The naive (cryptofeed) reading would publish next_funding_time: one period late.
        assert_ne!(r.next_funding_ts.into_option(), Some(1_781_280_000_000));
    }
}

#[test]
fn bulk_funding_gone_falls_back_to_v5_per_swap() {
    let instruments = instruments_with(&[swap_row("ETH", 0.01), {
        let mut paused = swap_row("XRP", 10.0);
        paused["contract_status"] = json!(3);
        paused
    }]);
    for (status, body) in [
        (404, "404 page not found".to_owned()),
        (
            200,
            json!({"status": "error", "err_code": 1013, "err_msg": "not exist", "ts": 1})
                .to_string(),
        ),
    ] {
        let out = run(KIND_FUNDING, &[("funding", status, &body)], &instruments);
        assert!(out.errors.is_empty(), "{status}: {:?}", out.errors);
        let tags: Vec<&str> = out.next_requests.iter().map(|r| r.tag.as_str()).collect();
        // Trading swaps only (XRP is suspended).
        assert_eq!(tags, ["funding:BTC-USDT", "funding:ETH-USDT"], "{status}");
        assert!(out
            .next_requests
            .iter()
            .all(|r| r.path.as_str() == PATH_V5_FUNDING));
        assert_eq!(out.warnings.len(), 1);
    }
    // A transient failure of the bulk endpoint is an error to retry, not a fallback.
    let out = run(KIND_FUNDING, &[("funding", 503, "busy")], &instruments);
    assert_eq!(out.errors[0].class, ErrorClass::TRANSIENT);
    assert!(out.next_requests.is_empty());
}

#[test]
fn v5_funding_rows_carry_caps_and_inferred_interval() {
    // The v5 example of exchange-notes §7.6 (ccxt's code comment).
    let body = r#"{"code":200,"message":"Success","data":[{"contract_code":"BTC-USDT","funding_rate":"0.000083024939363172","funding_time":"1781251200000","next_funding_time":"1781280000000","min_funding_rate":"-0.003750000000000000","max_funding_rate":"0.003750000000000000"}],"ts":1781235318758}"#;
    let out = run(
        KIND_FUNDING,
        &[("funding:BTC-USDT", 200, body)],
        &instruments(),
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let r = find(&out, "BTC-USDT");
    assert_eq!(r.rate, some(0.000083024939363172));
    assert_eq!(r.next_funding_ts, ROption::RSome(1_781_251_200_000));
    assert_eq!(r.interval_hours, some(8.0));
    assert_eq!(r.interval_source, ROption::RSome(IntervalSource::INFERRED));
    assert_eq!((r.rate_cap, r.rate_floor), (some(0.00375), some(-0.00375)));
    assert_eq!(r.exchange_ts, ROption::RSome(1_781_235_318_758));
    assert_eq!(extra(r, EXTRA_FUNDING_SOURCE), Some("v5"));
    // v5 errors: code != 200.
    let refused = r#"{"code":1013,"message":"contract not exist","data":null,"ts":1}"#;
    let out = run(
        KIND_FUNDING,
        &[("funding:BTC-USDT", 200, refused)],
        &instruments(),
    );
    assert_only_error(
        &out,
        ErrorClass::PERMANENT,
        "1013",
        "funding:BTC-USDT",
        "v5 1013",
    );
}

// ------------------------------------------------------------------------------------------
// absent values and malformed input
// ------------------------------------------------------------------------------------------

#[test]
fn missing_values_are_none_not_zero() {
    let instruments = instruments();
    let tick =
        json!({"status": "ok", "ts": 1, "ticks": [{"contract_code": "BTC-USDT"}]}).to_string();
    let oi = ok_body(
        &[json!({"contract_code": "BTC-USDT", "amount": "", "value": null})],
        1,
    );
    let out = run(
        KIND_TICKERS,
        &[("batch_merged", 200, &tick), ("open_interest", 200, &oi)],
        &instruments,
    );
    let r = find(&out, "BTC-USDT");
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
    let funding = ok_body(
        &[json!({"contract_code": "BTC-USDT", "funding_rate": null})],
        1,
    );
    let out = run(KIND_FUNDING, &[("funding", 200, &funding)], &instruments);
    let r = find(&out, "BTC-USDT");
    assert_eq!(
        (r.rate, r.next_funding_ts),
        (ROption::RNone, ROption::RNone)
    );
    let bare = ok_body(&[json!({"contract_code": "ETH-USDT"})], 1);
    let out = run(KIND_INSTRUMENTS, &[("contracts", 200, &bare)], &[]);
    let r = find(&out, "ETH-USDT");
    assert_eq!(
        (r.contract_size, r.tick_size),
        (ROption::RNone, ROption::RNone)
    );
    assert_eq!(r.status, ROption::RNone);
}

#[test]
fn garbage_bodies_are_parse_errors() {
    let instruments = instruments();
    let good = fixture("contract-info.json");
    let truncated = &good[..good.len() / 2];
    let cases: [(&str, &str); 11] = [
        ("empty body", ""),
        (
            "HTML page",
            "<!DOCTYPE html><html><body>Just a moment...</body></html>",
        ),
        ("plain text", "upstream connect error"),
        ("truncated JSON", truncated),
        (
            "payload is an object",
            r#"{"status":"ok","data":{},"ticks":{}}"#,
        ),
        (
            "payload null",
            r#"{"status":"ok","data":null,"ticks":null}"#,
        ),
        ("no status", r#"{"data":[],"ticks":[]}"#),
        ("top-level array", "[]"),
        (
            "rows are strings",
            r#"{"status":"ok","data":["BTC-USDT"],"ticks":["BTC-USDT"]}"#,
        ),
        (
            "row without contract_code",
            r#"{"status":"ok","data":[{"amount":1}],"ticks":[{"close":1}]}"#,
        ),
        (
            "number field is an object",
            r#"{"status":"ok","data":[{"contract_code":"BTC-USDT","amount":{},"funding_rate":{},"contract_size":{}}],"ticks":[{"contract_code":"BTC-USDT","close":{}}]}"#,
        ),
    ];
    for (kind, tag) in [
        (KIND_INSTRUMENTS, "contracts"),
        (KIND_TICKERS, "batch_merged"),
        (KIND_TICKERS, "open_interest"),
        (KIND_FUNDING, "funding"),
    ] {
        for (case, body) in cases {
            let out = run(kind, &[(tag, 200, body)], &instruments);
            assert_only_error(&out, ErrorClass::PARSE, "", tag, &format!("{tag}: {case}"));
        }
    }
}

#[test]
fn error_envelopes_are_classified_by_err_code() {
    let instruments = instruments();
    // (status, body, class, code)
    let cases: [(u16, &str, ErrorClass, &str); 4] = [
        (
            200,
            r#"{"status":"error","err_code":1013,"err_msg":"This contract symbol doesnt exist.","ts":1}"#,
            ErrorClass::PERMANENT,
            UNKNOWN_CONTRACT,
        ),
        (
            200,
            r#"{"status":"error","err_code":1032,"err_msg":"Requests too frequent, try again later.","ts":1}"#,
            ErrorClass::TRANSIENT,
            "1032",
        ),
        (
            429,
            r#"{"status":"error","err_code":1032,"err_msg":"Too many requests","ts":1}"#,
            ErrorClass::RATE_LIMITED,
            "1032",
        ),
        (
            200,
            r#"{"status":"error","err_msg":"?","ts":1}"#,
            ErrorClass::PERMANENT,
            "error",
        ),
    ];
    // Funding refusals switch to v5 (tested above): instruments and tickers here.
    for (kind, tag) in [
        (KIND_INSTRUMENTS, "contracts"),
        (KIND_TICKERS, "batch_merged"),
        (KIND_TICKERS, "open_interest"),
    ] {
        for (status, body, class, code) in cases {
            let out = run(kind, &[(tag, status, body)], &instruments);
            assert_only_error(&out, class, code, tag, &format!("{tag}: {body}"));
        }
        let out = run(kind, &[(tag, 502, "Bad Gateway")], &instruments);
        assert_eq!(out.errors[0].class, ErrorClass::TRANSIENT);
        let out = run(kind, &[(tag, 429, "")], &instruments);
        assert_eq!(out.errors[0].class, ErrorClass::RATE_LIMITED);
    }
}

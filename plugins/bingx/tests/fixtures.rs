//! Table-driven tests of the BingX plugin over raw exchange JSON.
//!
//! Owns: the proof that every kind maps the recorded BingX bodies field by field (expected
//! values are read from the fixture JSON itself), that BingX's traps are handled (open interest
//! per symbol only: its own kind, one round of one request per perpetual whose path has its
//! own, narrower rate rule ahead of the exchange-wide one; `openInterest` a quote value whose
//! base amount is derived at the round's mark; `fundingIntervalHours` where present, else 8 h marked `default`;
//! `lastFundingRate` as the current rate; numbers as strings or numbers; ccxt's BingX renames),
//! and that every malformed or refused body is a classified error, never a panic.
//! Must not: copy fixtures into the repository (they are read from `../shared` at run time) or
//! reach the network. The plugin is called through the same functions the export macro wraps.

use fc_plugin_bingx::{
    build_requests, info, parse, EXTRA_OI_BASE_DERIVED, EXTRA_RAW_STATUS, KIND_FUNDING,
    KIND_INSTRUMENTS, KIND_OPEN_INTEREST, KIND_TICKERS, PATH_CONTRACTS, PATH_OPEN_INTEREST,
    PATH_PREFIX, PATH_PREMIUM_INDEX, PATH_TICKER, TAG_OPEN_INTEREST_PREFIX,
};
use plugin_api::{
    abi_stable::std_types::{ROption, RSlice, RStr},
    Context, ErrorClass, HttpRequest, HttpResponse, IntervalSource, MarketType, ParseOutput,
    Record, RecordKind,
};
use serde_json::{json, Value};

const NOW: i64 = 1_702_719_900_000;
const RECEIVED: i64 = 1_702_719_850_000;

// ------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------

fn fixture(name: &str) -> String {
    plugin_kit::fixtures::text("bingx", name)
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).expect("fixture is JSON")
}

/// The first `data` row of `contracts.json` (BTC-USDT).
fn contract_row() -> Value {
    fixture_json("contracts.json")["data"][0].clone()
}

/// A contract row for `symbol` shaped like the recorded BTC-USDT one.
fn contract(symbol: &str) -> Value {
    let mut row = contract_row();
    row["symbol"] = json!(symbol);
    row
}

/// A BingX success envelope around `data`.
fn envelope(data: Value) -> String {
    json!({"code": 0, "msg": "", "data": data}).to_string()
}

fn num(v: &Value, key: &str) -> f64 {
    match &v[key] {
        Value::Number(n) => n.as_f64().expect("finite"),
        Value::String(s) => s.parse().expect("numeric string"),
        other => panic!("`{key}` is not a number: {other}"),
    }
}

fn ctx(instruments: &[Record]) -> Context<'_> {
    Context {
        exchange_id: RStr::from_str("bingx"),
        now_ms: NOW,
        instruments: RSlice::from_slice(instruments),
        options: RSlice::from_slice(&[]),
        credentials: ROption::RNone,
    }
}

/// A request of `kind` with `tag`: the plugin's own when it builds one, else (open-interest
/// tags of instruments not in the test's ctx) one shaped like it.
fn request(kind: &str, tag: &str, instruments: &[Record]) -> HttpRequest {
    build_requests(kind, &ctx(instruments))
        .expect("known kind")
        .into_iter()
        .find(|r| r.tag.as_str() == tag)
        .unwrap_or_else(|| {
            let path = if tag.starts_with(TAG_OPEN_INTEREST_PREFIX) {
                PATH_OPEN_INTEREST
            } else {
                PATH_PREMIUM_INDEX
            };
            HttpRequest::get(path, tag)
        })
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

/// Parses `(tag, status, body)` answers of `kind`.
fn run(kind: &str, answers: &[(&str, u16, &str)], instruments: &[Record]) -> ParseOutput {
    let reqs: Vec<HttpRequest> = answers
        .iter()
        .map(|(tag, ..)| request(kind, tag, instruments))
        .collect();
    let responses: Vec<HttpResponse<'_>> = reqs
        .iter()
        .zip(answers)
        .map(|(r, (_, status, body))| respond(r, *status, body))
        .collect();
    parse(kind, &responses, &ctx(instruments))
}

/// Instrument records of `rows`, sorted as the host keeps them.
fn instruments_of(rows: &[Value]) -> Vec<Record> {
    let out = run(
        KIND_INSTRUMENTS,
        &[("contracts", 200, &envelope(json!(rows)))],
        &[],
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    out.records.into_iter().collect()
}

/// The recorded instruments: BTC-USDT and ETH-USDT.
fn instruments() -> Vec<Record> {
    let out = run(
        KIND_INSTRUMENTS,
        &[("contracts", 200, &fixture("contracts.json"))],
        &[],
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    out.records.into_iter().collect()
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

fn status(record: &Record) -> Option<&str> {
    record.status.as_ref().into_option().map(|s| s.as_str())
}

fn assert_only_error(out: &ParseOutput, class: ErrorClass, code: &str, tag: &str, case: &str) {
    assert_eq!(out.errors.len(), 1, "{case}: {:?}", out.errors);
    let e = &out.errors[0];
    assert_eq!(e.class, class, "{case}: {e}");
    assert_eq!(e.code.as_str(), code, "{case}: {e}");
    assert_eq!(e.request_tag.as_str(), tag, "{case}: {e}");
    assert!(out.records.is_empty(), "{case}: {:?}", out.records);
}

/// The recorded single-symbol ticker (`SFP-USDT`) relabelled for BTC-USDT.
fn btc_ticker_body() -> String {
    fixture("ticker.json").replace("\"SFP-USDT\"", "\"BTC-USDT\"")
}

/// The recorded open interest (`EOS-USDT`) relabelled for `symbol`.
fn oi_body(symbol: &str) -> String {
    fixture("open-interest.json").replace("\"EOS-USDT\"", &format!("\"{symbol}\""))
}

// ------------------------------------------------------------------------------------------
// info and requests
// ------------------------------------------------------------------------------------------

#[test]
fn info_describes_bingx() {
    let info = info();
    assert_eq!(info.exchange_id.as_str(), "bingx");
    assert_eq!(info.default_base_url.as_str(), "https://open-api.bingx.com");
    let kinds = plugin_kit::testing::kind_table(&info);
    assert_eq!(
        kinds,
        [
            (KIND_INSTRUMENTS, RecordKind::INSTRUMENT, 3_600_000, false),
            (KIND_TICKERS, RecordKind::TICKER, 5_000, true),
            (KIND_FUNDING, RecordKind::FUNDING, 30_000, true),
            // Open interest: partial ticker records the host merges, on a slower cadence.
            (KIND_OPEN_INTEREST, RecordKind::TICKER, 300_000, true),
        ]
    );
    assert_eq!(info.default_funding_interval_hours, 8.0);
}

/// Trap: open interest is per symbol only. The sweep is paced by the host's budget inside the
/// exchange's: its path has a rule of its own, FIRST (the host takes a request's rules in this
/// order, so the sweep's queue waits on its own rule) and at half the exchange-wide rate (the
/// bulk kinds always find the other half free). A single exchange-wide rule would let one
/// sweep of hundreds of requests queue ahead of every ticker request.
#[test]
fn open_interest_has_its_own_narrower_rule_ahead_of_the_exchange_wide_one() {
    let info = info();
    let rules: Vec<(&str, u32, u64)> = info
        .rate_limits
        .iter()
        .map(|r| (r.path_prefix.as_str(), r.limit, r.window_ms))
        .collect();
    assert_eq!(
        rules,
        [(PATH_OPEN_INTEREST, 5, 1_000), (PATH_PREFIX, 10, 1_000)]
    );
    let instruments = many_instruments(120);
    let round = build_requests(KIND_OPEN_INTEREST, &ctx(&instruments)).expect("requests");
    for r in &round {
        let first = info
            .rate_limits
            .iter()
            .position(|rule| r.path.starts_with(rule.path_prefix.as_str()));
        let want = if r.path.as_str() == PATH_OPEN_INTEREST {
            Some(0)
        } else {
            Some(1)
        };
        assert_eq!(first, want, "{}", r.tag);
        // Both rules apply to the per-symbol requests: the sweep counts against the whole.
        assert!(r.path.starts_with(PATH_PREFIX));
        assert_eq!(r.weight, 1);
    }
}

#[test]
fn requests_per_kind() {
    let instruments = instruments();
    let table: [(&str, &[(&str, &str)]); 4] = [
        (KIND_INSTRUMENTS, &[(PATH_CONTRACTS, "contracts")]),
        (
            KIND_TICKERS,
            &[
                (PATH_TICKER, "ticker"),
                (PATH_PREMIUM_INDEX, "premiumIndex"),
            ],
        ),
        (KIND_FUNDING, &[(PATH_PREMIUM_INDEX, "premiumIndex")]),
        (
            KIND_OPEN_INTEREST,
            &[
                (PATH_OPEN_INTEREST, "oi:BTC-USDT"),
                (PATH_OPEN_INTEREST, "oi:ETH-USDT"),
                (PATH_PREMIUM_INDEX, "premiumIndex"),
            ],
        ),
    ];
    for (kind, want) in table {
        let built = build_requests(kind, &ctx(&instruments)).expect("known kind");
        let got: Vec<(String, String)> = built
            .iter()
            .map(|r| (r.path.to_string(), r.tag.to_string()))
            .collect();
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        assert_eq!(got, want, "{kind}");
        for r in &built {
            assert_eq!(r.weight, 1, "{kind}");
            // Bulk requests never name a symbol; per-symbol ones always do.
            let symbol = r.query_value("symbol");
            match r.tag.strip_prefix(TAG_OPEN_INTEREST_PREFIX) {
                Some(s) => assert_eq!(symbol, Some(s)),
                None => assert_eq!(symbol, None, "{kind} {}", r.tag),
            }
        }
    }
    // No instrument, no sweep (the marks alone would give nothing).
    assert!(build_requests(KIND_OPEN_INTEREST, &ctx(&[]))
        .expect("requests")
        .is_empty());
    let e = build_requests("orderbook", &ctx(&[])).expect_err("unknown kind");
    assert_eq!(e.class, ErrorClass::PERMANENT);
    let out = parse("orderbook", &[], &ctx(&[]));
    assert_eq!(out.errors[0].class, ErrorClass::PERMANENT);
}

#[test]
fn exported_root_module_answers_through_the_abi() {
    let module = fc_plugin_bingx::futures_collector_root_module();
    let info = (module.info())().into_result().expect("info");
    assert_eq!(info.exchange_id.as_str(), "bingx");
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
    assert_eq!(out.errors[0].class, ErrorClass::PARSE);
}

// ------------------------------------------------------------------------------------------
// the open-interest sweep
// ------------------------------------------------------------------------------------------

/// `n` instruments `C000-USDT`…; every 10th pre-launch (5), every 15th offline (0), every 7th
/// reduce-only (25), every 11th with `apiStateOpen` false.
fn many_instruments(n: usize) -> Vec<Record> {
    let rows: Vec<Value> = (0..n)
        .map(|i| {
            let mut row = contract(&format!("C{i:03}-USDT"));
            row["status"] = json!(match i {
                _ if i % 10 == 9 => 5,
                _ if i % 15 == 14 => 0,
                _ if i % 7 == 6 => 25,
                _ => 1,
            });
            if i % 11 == 10 {
                row["apiStateOpen"] = json!("false");
            }
            row
        })
        .collect();
    instruments_of(&rows)
}

/// The instruments whose open interest is asked for, by the record's status.
fn polled(instruments: &[Record]) -> Vec<&str> {
    instruments
        .iter()
        .filter(|r| matches!(status(r), Some("trading" | "restricted" | "reduce_only")))
        .map(|r| r.raw_symbol.as_str())
        .collect()
}

fn oi_symbols(requests: &[HttpRequest]) -> Vec<String> {
    requests
        .iter()
        .filter_map(|r| {
            r.tag
                .strip_prefix(TAG_OPEN_INTEREST_PREFIX)
                .map(str::to_owned)
        })
        .collect()
}

/// Trap: open interest is per symbol only. One request per perpetual that can hold
/// positions (not pre-launch, not offline), each naming its symbol, and one bulk premium-index
/// request for the marks: ONE round (the host paces a per-symbol round across its interval; a
/// round of pages would be paced page by page), every answer becoming its symbol's record.
#[test]
fn open_interest_asks_every_perpetual_once_in_one_round() {
    let instruments = many_instruments(130);
    let want = polled(&instruments);
    assert!(
        want.len() > 100 && want.len() < instruments.len(),
        "{}",
        want.len()
    );
    let round: Vec<HttpRequest> = build_requests(KIND_OPEN_INTEREST, &ctx(&instruments))
        .expect("round")
        .into_iter()
        .collect();
    assert_eq!(oi_symbols(&round), want);
    assert_eq!(round.len(), want.len() + 1);
    let marks = round.last().expect("marks");
    assert_eq!(
        (marks.path.as_str(), marks.tag.as_str()),
        (PATH_PREMIUM_INDEX, "premiumIndex")
    );
    // Every answer, a mark of 2.0 each.
    let bodies: Vec<String> = round
        .iter()
        .map(|r| match r.tag.strip_prefix(TAG_OPEN_INTEREST_PREFIX) {
            Some(symbol) => envelope(json!({"openInterest": "100", "symbol": symbol, "time": 1})),
            None => envelope(json!(want
                .iter()
                .map(|s| json!({"symbol": s, "markPrice": "2.0"}))
                .collect::<Vec<_>>())),
        })
        .collect();
    let responses: Vec<HttpResponse<'_>> = round
        .iter()
        .zip(&bodies)
        .map(|(r, b)| respond(r, 200, b))
        .collect();
    let out = parse(KIND_OPEN_INTEREST, &responses, &ctx(&instruments));
    assert!(out.errors.is_empty() && out.warnings.is_empty(), "{out:?}");
    let got: Vec<&str> = out.records.iter().map(|r| r.raw_symbol.as_str()).collect();
    assert_eq!(got, want);
    assert!(out
        .records
        .iter()
        .all(|r| r.open_interest_quote == some(100.0) && r.open_interest_base == some(50.0)));
    // One round: nothing follows.
    assert!(out.next_requests.is_empty());
}

/// Trap (naive reading: `openInterest` is contracts or coins): BingX's `openInterest` is a
/// value in USDT (ccxt `openInterestValue`). It is the record's `open_interest_quote`; the base
/// amount is derived with the round's mark price and says so in `extra`.
#[test]
fn open_interest_is_a_quote_value_and_the_base_is_derived_at_the_mark() {
    let instruments = instruments();
    let oi = fixture_json("open-interest.json")["data"].clone();
    let premium = fixture_json("premium-index.json")["data"].clone();
    let out = run(
        KIND_OPEN_INTEREST,
        &[
            ("oi:BTC-USDT", 200, &oi_body("BTC-USDT")),
            ("oi:ETH-USDT", 200, &oi_body("ETH-USDT")),
            ("premiumIndex", 200, &fixture("premium-index.json")),
        ],
        &instruments,
    );
    assert!(out.errors.is_empty() && out.warnings.is_empty(), "{out:?}");
    let value = num(&oi, "openInterest");
    let r = find(&out, "BTC-USDT");
    assert_eq!(r.kind, RecordKind::TICKER);
    assert_eq!(r.open_interest_quote, some(value));
    assert_eq!(
        r.open_interest_base,
        some(value / num(&premium, "markPrice"))
    );
    assert_eq!(extra(r, EXTRA_OI_BASE_DERIVED), Some("true"));
    assert_eq!(r.received_ts, RECEIVED);
    // Only open interest: the tickers kind owns the rest (the host merges by symbol).
    for (what, v) in [
        ("last", r.last),
        ("bid", r.bid),
        ("mark", r.mark),
        ("index", r.index),
        ("volume_24h_base", r.volume_24h_base),
    ] {
        assert_eq!(v, ROption::RNone, "{what}");
    }
    assert_eq!(r.exchange_ts, ROption::RNone);
    // The recorded marks list has no ETH-USDT row: its base amount stays unknown.
    let eth = find(&out, "ETH-USDT");
    assert_eq!(eth.open_interest_quote, some(value));
    assert_eq!(eth.open_interest_base, ROption::RNone);
    assert_eq!(extra(eth, EXTRA_OI_BASE_DERIVED), None);
}

#[test]
fn open_interest_failures_stay_with_their_symbol() {
    let instruments = instruments();
    let cases: [(&str, u16, &str, ErrorClass, &str); 6] = [
        (
            "unknown symbol",
            200,
            r#"{"code":109400,"msg":"symbol not exist","data":{}}"#,
            ErrorClass::PERMANENT,
            "109400",
        ),
        (
            "frequency limit",
            200,
            r#"{"code":100410,"msg":"frequency limit","data":{}}"#,
            ErrorClass::RATE_LIMITED,
            "100410",
        ),
        (
            "busy",
            200,
            r#"{"code":100500,"msg":"The current system is busy, please try again later"}"#,
            ErrorClass::TRANSIENT,
            "100500",
        ),
        (
            "HTTP 429",
            429,
            "Too Many Requests",
            ErrorClass::RATE_LIMITED,
            "",
        ),
        (
            "no openInterest",
            200,
            r#"{"code":0,"msg":"","data":{"symbol":"ETH-USDT"}}"#,
            ErrorClass::PARSE,
            "",
        ),
        (
            "no row",
            200,
            r#"{"code":0,"msg":"","data":[]}"#,
            ErrorClass::PARSE,
            "",
        ),
    ];
    for (case, status, body, class, code) in cases {
        let out = run(
            KIND_OPEN_INTEREST,
            &[
                ("oi:BTC-USDT", 200, &oi_body("BTC-USDT")),
                ("oi:ETH-USDT", status, body),
                ("premiumIndex", 200, &fixture("premium-index.json")),
            ],
            &instruments,
        );
        assert_eq!(out.errors.len(), 1, "{case}: {:?}", out.errors);
        let e = &out.errors[0];
        assert_eq!((e.class, e.code.as_str()), (class, code), "{case}: {e}");
        assert_eq!(e.request_tag.as_str(), "oi:ETH-USDT", "{case}");
        let raws: Vec<&str> = out.records.iter().map(|r| r.raw_symbol.as_str()).collect();
        assert_eq!(raws, ["BTC-USDT"], "{case}");
    }
    // An answer for another symbol than asked is used for the symbol it names, with a warning.
    let out = run(
        KIND_OPEN_INTEREST,
        &[("oi:BTC-USDT", 200, &oi_body("ETH-USDT"))],
        &instruments,
    );
    assert!(find(&out, "ETH-USDT").open_interest_quote.is_some());
    assert!(
        out.warnings.iter().any(|w| w.contains("oi:BTC-USDT")),
        "{:?}",
        out.warnings
    );
}

// ------------------------------------------------------------------------------------------
// instruments
// ------------------------------------------------------------------------------------------

#[test]
fn instruments_match_fixture_field_by_field() {
    let out = run(
        KIND_INSTRUMENTS,
        &[("contracts", 200, &fixture("contracts.json"))],
        &[],
    );
    assert!(out.errors.is_empty() && out.warnings.is_empty(), "{out:?}");
    let raws: Vec<&str> = out.records.iter().map(|r| r.raw_symbol.as_str()).collect();
    assert_eq!(raws, ["BTC-USDT", "ETH-USDT"]);
    let rows = fixture_json("contracts.json")["data"].clone();
    for row in rows.as_array().expect("rows") {
        let raw = row["symbol"].as_str().expect("symbol");
        let r = find(&out, raw);
        let base = row["asset"].as_str().expect("asset");
        assert_eq!(r.symbol.as_str(), format!("{base}/USDT:USDT"));
        assert_eq!(
            (r.base.as_str(), r.quote.as_str(), r.settle.as_str()),
            (base, "USDT", "USDT")
        );
        assert_eq!(r.market_type, MarketType::LINEAR_PERPETUAL);
        // ccxt: one contract is one coin; the served `size` ("0") is not a contract size.
        assert_eq!(r.contract_size, some(1.0));
        let decimals = row["pricePrecision"].as_i64().expect("decimals") as i32;
        assert_eq!(r.tick_size, some(10f64.powi(-decimals)));
        assert_eq!(status(r), Some("trading"));
        assert_eq!(extra(r, EXTRA_RAW_STATUS), Some("1"));
        assert_eq!(r.listing_ts, ROption::RNone);
        assert_eq!(r.exchange_ts, ROption::RNone);
        assert_eq!(r.received_ts, RECEIVED);
    }
}

#[test]
fn contract_fields_as_strings_or_numbers() {
    // ccxt's code comment shows every field as a string; the recorded docs example as numbers.
    let row = json!({"contractId": "100", "symbol": "BTC-USDT", "size": "0.0001",
        "quantityPrecision": "4", "pricePrecision": "1", "currency": "USDT", "asset": "BTC",
        "status": "1", "apiStateOpen": "true", "apiStateClose": "true",
        "timeOnline": "1672531200000"});
    let records = instruments_of(std::slice::from_ref(&row));
    let r = &records[0];
    assert_eq!(r.tick_size, some(0.1));
    assert_eq!(status(r), Some("trading"));
    assert_eq!(r.listing_ts, ROption::RSome(1_672_531_200_000));
    // `tickSize` wins over `pricePrecision` when sent; `timeOnline` 0 is unknown.
    let mut newer = row;
    newer["tickSize"] = json!("0.5");
    newer["timeOnline"] = json!(0);
    let records = instruments_of(&[newer]);
    assert_eq!(records[0].tick_size, some(0.5));
    assert_eq!(records[0].listing_ts, ROption::RNone);
    // The envelope's `timestamp` is the instruments' exchange time.
    let body = json!({"code": 0, "msg": "", "timestamp": 1_702_719_800_000_i64,
        "data": [contract_row()]})
    .to_string();
    let out = run(KIND_INSTRUMENTS, &[("contracts", 200, &body)], &[]);
    assert_eq!(
        out.records[0].exchange_ts,
        ROption::RSome(1_702_719_800_000)
    );
}

#[test]
fn statuses_and_api_states_are_normalized() {
    // (status, apiStateOpen, apiStateClose, record status)
    let cases: [(Value, Value, Value, &str); 7] = [
        (json!(1), json!("true"), json!("true"), "trading"),
        (json!(1), json!("false"), json!("true"), "restricted"),
        (json!(1), json!(true), json!(false), "restricted"),
        (json!(5), json!("false"), json!("false"), "pre_launch"),
        (json!(25), json!("false"), json!("true"), "reduce_only"),
        (json!(0), json!("false"), json!("false"), "delisted"),
        (json!(9), json!("true"), json!("true"), "status_9"),
    ];
    for (code, open, close, want) in cases {
        let mut row = contract_row();
        row["status"] = code.clone();
        row["apiStateOpen"] = open;
        row["apiStateClose"] = close;
        let records = instruments_of(&[row]);
        assert_eq!(status(&records[0]), Some(want), "status {code}");
        assert_eq!(
            extra(&records[0], EXTRA_RAW_STATUS),
            Some(code.to_string().as_str())
        );
    }
}

#[test]
fn bingx_currency_renames_apply() {
    let cases = [
        ("OMNI-USDT", "OmniCat/USDT:USDT"),
        ("SNOW-USDT", "Snowman/USDT:USDT"),
        ("NAP-USDT", "$NAP/USDT:USDT"),
        ("TRUMP-USDT", "TRUMPMAGA/USDT:USDT"),
        // One lookup: TRUMPSOL is TRUMP, not renamed again.
        ("TRUMPSOL-USDT", "TRUMP/USDT:USDT"),
        ("XBT-USDT", "BTC/USDT:USDT"),
        ("1000PEPE-USDT", "1000PEPE/USDT:USDT"),
    ];
    for (raw, want) in cases {
        let records = instruments_of(&[contract(raw)]);
        assert_eq!(records[0].symbol.as_str(), want, "{raw}");
        assert_eq!(records[0].raw_symbol.as_str(), raw);
    }
    let pepe = instruments_of(&[contract("1000PEPE-USDT")]);
    assert_eq!(extra(&pepe[0], "multiplier"), Some("1000"));
}

#[test]
fn rows_that_are_no_usdt_m_perpetual_are_skipped_and_counted() {
    let mut other_settle = contract("BTC-USDC");
    other_settle["currency"] = json!("USDT");
    let mut no_currency = contract("DOGE-USDT");
    no_currency["currency"] = Value::Null;
    let rows = [
        contract_row(),
        contract("BTCUSDT"),
        contract("NCSK-SP500-USDT"),
        contract("-USDT"),
        other_settle,
        no_currency,
    ];
    let out = run(
        KIND_INSTRUMENTS,
        &[("contracts", 200, &envelope(json!(rows)))],
        &[],
    );
    let raws: Vec<&str> = out.records.iter().map(|r| r.raw_symbol.as_str()).collect();
    // Without `currency` the quote is the settle currency.
    assert_eq!(raws, ["BTC-USDT", "DOGE-USDT"]);
    assert_eq!(out.warnings.len(), 2, "{:?}", out.warnings);
    let all = out.warnings.join(" | ");
    for raw in ["BTCUSDT", "NCSK-SP500-USDT", "-USDT", "BTC-USDC"] {
        assert!(all.contains(raw), "{raw}: {all}");
    }
    // Nothing usable is an error, never an empty universe.
    let out = run(
        KIND_INSTRUMENTS,
        &[("contracts", 200, &envelope(json!([contract("BTCUSDT")])))],
        &[],
    );
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].class, ErrorClass::PARSE);
    assert!(out.records.is_empty());
}

// ------------------------------------------------------------------------------------------
// tickers
// ------------------------------------------------------------------------------------------

#[test]
fn tickers_match_fixtures_field_by_field() {
    let ticker = fixture_json("ticker.json")["data"].clone();
    let premium = fixture_json("premium-index.json")["data"].clone();
    let out = run(
        KIND_TICKERS,
        &[
            ("ticker", 200, &btc_ticker_body()),
            ("premiumIndex", 200, &fixture("premium-index.json")),
        ],
        &instruments(),
    );
    assert!(out.errors.is_empty() && out.warnings.is_empty(), "{out:?}");
    assert_eq!(out.records.len(), 1);
    let r = find(&out, "BTC-USDT");
    assert_eq!(r.kind, RecordKind::TICKER);
    assert_eq!(r.symbol.as_str(), "BTC/USDT:USDT");
    assert_eq!(r.last, some(num(&ticker, "lastPrice")));
    assert_eq!(r.bid, some(num(&ticker, "bidPrice")));
    assert_eq!(r.ask, some(num(&ticker, "askPrice")));
    assert_eq!(r.volume_24h_base, some(num(&ticker, "volume")));
    assert_eq!(r.volume_24h_quote, some(num(&ticker, "quoteVolume")));
    assert_eq!(r.mark, some(num(&premium, "markPrice")));
    assert_eq!(r.index, some(num(&premium, "indexPrice")));
    // `closeTime` (which BingX may write before `openTime`) is the ticker's time.
    assert_eq!(
        r.exchange_ts,
        ROption::RSome(ticker["closeTime"].as_i64().expect("ms"))
    );
    // Trap: the bulk ticker has no open interest: absent here (the open_interest kind fills
    // it), never 0.
    assert_eq!(r.open_interest_base, ROption::RNone);
    assert_eq!(r.open_interest_quote, ROption::RNone);
    assert_eq!(r.received_ts, RECEIVED);
}

#[test]
fn bulk_tickers_join_by_symbol_and_zero_prices_are_absent() {
    let instruments = instruments();
    let tickers = envelope(json!([
        {"symbol": "BTC-USDT", "lastPrice": "42000.5", "bidPrice": "0", "askPrice": "",
         "volume": "0", "quoteVolume": "0", "closeTime": 0, "priceChangePercent": "1.5%"},
        {"symbol": "ETH-USDT", "lastPrice": 2200.25, "bidPrice": 2200.2, "askPrice": 2200.3,
         "volume": 10.5, "quoteVolume": 23102.6, "closeTime": 1702719798603_i64},
        {"symbol": "NEW-USDT", "lastPrice": "1"}
    ]));
    let premium = envelope(json!([
        {"symbol": "ETH-USDT", "markPrice": "2200.1", "indexPrice": "0"},
        {"symbol": "BTC-USDT", "markPrice": "42001", "indexPrice": "42002"},
    ]));
    let out = run(
        KIND_TICKERS,
        &[("ticker", 200, &tickers), ("premiumIndex", 200, &premium)],
        &instruments,
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let btc = find(&out, "BTC-USDT");
    assert_eq!(btc.last, some(42000.5));
    assert_eq!((btc.bid, btc.ask), (ROption::RNone, ROption::RNone));
    // A served zero volume is a quiet day, kept.
    assert_eq!(
        (btc.volume_24h_base, btc.volume_24h_quote),
        (some(0.0), some(0.0))
    );
    assert_eq!(btc.exchange_ts, ROption::RNone);
    assert_eq!((btc.mark, btc.index), (some(42001.0), some(42002.0)));
    let eth = find(&out, "ETH-USDT");
    assert_eq!((eth.bid, eth.ask), (some(2200.2), some(2200.3)));
    assert_eq!((eth.mark, eth.index), (some(2200.1), ROption::RNone));
    // Sorted like ctx; the unknown row is summarised once.
    let raws: Vec<&str> = out.records.iter().map(|r| r.raw_symbol.as_str()).collect();
    assert_eq!(raws, ["BTC-USDT", "ETH-USDT"]);
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    assert!(out.warnings[0].contains("NEW-USDT"));
}

#[test]
fn one_bad_ticker_response_keeps_the_other() {
    let premium = fixture_json("premium-index.json")["data"].clone();
    let out = run(
        KIND_TICKERS,
        &[
            ("ticker", 200, "<html>502</html>"),
            ("premiumIndex", 200, &fixture("premium-index.json")),
        ],
        &instruments(),
    );
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].request_tag.as_str(), "ticker");
    let r = find(&out, "BTC-USDT");
    assert_eq!(r.mark, some(num(&premium, "markPrice")));
    assert_eq!(r.last, ROption::RNone);
}

// ------------------------------------------------------------------------------------------
// funding
// ------------------------------------------------------------------------------------------

#[test]
fn funding_matches_fixture_field_by_field() {
    let row = fixture_json("premium-index.json")["data"].clone();
    let out = run(
        KIND_FUNDING,
        &[("premiumIndex", 200, &fixture("premium-index.json"))],
        &instruments(),
    );
    assert!(out.errors.is_empty() && out.warnings.is_empty(), "{out:?}");
    let r = find(&out, "BTC-USDT");
    assert_eq!(r.kind, RecordKind::FUNDING);
    // `lastFundingRate` is the CURRENT period's rate (it settles at `nextFundingTime`).
    assert_eq!(r.rate, some(num(&row, "lastFundingRate")));
    assert_eq!(
        r.next_funding_ts,
        ROption::RSome(row["nextFundingTime"].as_i64().expect("ms"))
    );
    // The recorded (older) row has no `fundingIntervalHours`: BingX's default, marked so.
    assert_eq!(r.interval_hours, some(8.0));
    assert_eq!(r.interval_source, ROption::RSome(IntervalSource::DEFAULT));
    assert_eq!(r.mark, some(num(&row, "markPrice")));
    assert_eq!(r.index, some(num(&row, "indexPrice")));
    // BingX serves no predicted rate, cap or floor: absent, never computed.
    assert_eq!(r.predicted_rate, ROption::RNone);
    assert_eq!((r.rate_cap, r.rate_floor), (ROption::RNone, ROption::RNone));
    assert_eq!(
        (r.rate_8h, r.rate_annualized),
        (ROption::RNone, ROption::RNone)
    );
    assert_eq!(r.exchange_ts, ROption::RNone);
}

/// Trap: `fundingIntervalHours` where present. A row stating 1 or 4 h is reported as such (a
/// hard-coded 8 h fails here); a row without it gets 8 h marked `default` (never `reported`).
#[test]
fn funding_interval_hours_where_present() {
    // (fundingIntervalHours, hours, source)
    let cases: [(Option<Value>, f64, IntervalSource); 7] = [
        (Some(json!(4)), 4.0, IntervalSource::REPORTED),
        (Some(json!("1")), 1.0, IntervalSource::REPORTED),
        (Some(json!(2)), 2.0, IntervalSource::REPORTED),
        (Some(json!(8)), 8.0, IntervalSource::REPORTED),
        (Some(json!(0)), 8.0, IntervalSource::DEFAULT),
        (Some(Value::Null), 8.0, IntervalSource::DEFAULT),
        (None, 8.0, IntervalSource::DEFAULT),
    ];
    for (field, hours, source) in cases {
        // The newer row shape (exchange-notes §8.6, from ccxt's code comment).
        let mut row = json!({"symbol": "BTC-USDT", "markPrice": "16884.5",
            "indexPrice": "16886.9", "lastFundingRate": "0.0001",
            "nextFundingTime": 1672041600000_i64, "updateTime": 1672012800000_i64});
        if let Some(v) = &field {
            row["fundingIntervalHours"] = v.clone();
        }
        let out = run(
            KIND_FUNDING,
            &[("premiumIndex", 200, &envelope(json!([row])))],
            &instruments(),
        );
        let r = find(&out, "BTC-USDT");
        assert_eq!(r.interval_hours, some(hours), "{field:?}");
        assert_eq!(r.interval_source, ROption::RSome(source), "{field:?}");
        assert_eq!(r.rate, some(0.0001));
        assert_eq!(r.next_funding_ts, ROption::RSome(1_672_041_600_000));
        // `updateTime` (here the period's start) is not the row's time: not read.
        assert_eq!(r.exchange_ts, ROption::RNone);
    }
}

#[test]
fn funding_rows_not_in_ctx_are_summarised() {
    let body = envelope(json!([
        {"symbol": "BTC-USDT", "lastFundingRate": "-0.0002", "nextFundingTime": 0},
        {"symbol": "GONE-USDT", "lastFundingRate": "0.0001"},
    ]));
    let out = run(
        KIND_FUNDING,
        &[("premiumIndex", 200, &body)],
        &instruments(),
    );
    assert_eq!(out.records.len(), 1);
    let r = find(&out, "BTC-USDT");
    assert_eq!(r.rate, some(-0.0002));
    assert_eq!(r.next_funding_ts, ROption::RNone);
    assert_eq!(out.warnings.len(), 1);
    assert!(out.warnings[0].contains("GONE-USDT"));
}

// ------------------------------------------------------------------------------------------
// absent values and malformed input
// ------------------------------------------------------------------------------------------

#[test]
fn missing_values_are_none_not_zero() {
    let instruments = instruments();
    let bare = envelope(json!([{"symbol": "BTC-USDT", "lastPrice": "", "markPrice": null}]));
    let t = run(
        KIND_TICKERS,
        &[("ticker", 200, &bare), ("premiumIndex", 200, &bare)],
        &instruments,
    );
    let r = find(&t, "BTC-USDT");
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
    let f = run(KIND_FUNDING, &[("premiumIndex", 200, &bare)], &instruments);
    let r = find(&f, "BTC-USDT");
    for (what, v) in [
        ("rate", r.rate),
        ("predicted_rate", r.predicted_rate),
        ("rate_cap", r.rate_cap),
        ("rate_floor", r.rate_floor),
    ] {
        assert_eq!(v, ROption::RNone, "{what}");
    }
    assert_eq!(r.next_funding_ts, ROption::RNone);
    let o = run(
        KIND_OPEN_INTEREST,
        &[(
            "oi:BTC-USDT",
            200,
            r#"{"code":0,"msg":"","data":{"symbol":"BTC-USDT","openInterest":""}}"#,
        )],
        &instruments,
    );
    let r = find(&o, "BTC-USDT");
    assert_eq!(
        (r.open_interest_base, r.open_interest_quote),
        (ROption::RNone, ROption::RNone)
    );
    let i = instruments_of(&[json!({"symbol": "BTC-USDT"})]);
    assert_eq!(i[0].contract_size, some(1.0));
    assert_eq!(i[0].tick_size, ROption::RNone);
    assert_eq!(i[0].status, ROption::RNone);
}

#[test]
fn garbage_bodies_are_parse_errors() {
    let instruments = instruments();
    let good = fixture("contracts.json");
    let truncated = &good[..good.len() / 2];
    let cases: [(&str, &str); 12] = [
        ("empty body", ""),
        (
            "HTML page",
            "<!DOCTYPE html><html><body>Just a moment...</body></html>",
        ),
        ("plain text", "upstream connect error"),
        ("truncated JSON", truncated),
        (
            "data is a string",
            r#"{"code":0,"msg":"","data":"BTC-USDT"}"#,
        ),
        ("no data", r#"{"code":0,"msg":""}"#),
        ("data null", r#"{"code":0,"msg":"","data":null}"#),
        ("no code", r#"{"msg":"","data":[]}"#),
        ("top-level array", "[]"),
        ("rows are strings", r#"{"code":0,"data":["BTC-USDT"]}"#),
        (
            "row without symbol",
            r#"{"code":0,"data":[{"markPrice":"1"}]}"#,
        ),
        (
            "number field is an object",
            r#"{"code":0,"data":[{"symbol":"BTC-USDT","markPrice":{"x":1},"lastPrice":{"x":1},"status":{"x":1},"openInterest":{"x":1}}]}"#,
        ),
    ];
    for (kind, tag) in [
        (KIND_INSTRUMENTS, "contracts"),
        (KIND_TICKERS, "ticker"),
        (KIND_TICKERS, "premiumIndex"),
        (KIND_FUNDING, "premiumIndex"),
        (KIND_OPEN_INTEREST, "oi:BTC-USDT"),
        (KIND_OPEN_INTEREST, "premiumIndex"),
    ] {
        for (case, body) in cases {
            let out = run(kind, &[(tag, 200, body)], &instruments);
            assert_eq!(
                out.errors.len(),
                1,
                "{kind}/{tag}: {case}: {:?}",
                out.errors
            );
            let e = &out.errors[0];
            assert_eq!(e.class, ErrorClass::PARSE, "{kind}/{tag}: {case}: {e}");
            assert_eq!(e.request_tag.as_str(), tag, "{kind}/{tag}: {case}");
            assert!(out.records.is_empty(), "{kind}/{tag}: {case}");
        }
    }
    // The error says what is wrong.
    let out = run(
        KIND_FUNDING,
        &[(
            "premiumIndex",
            200,
            r#"{"code":0,"data":[{"markPrice":"1"}]}"#,
        )],
        &instruments,
    );
    assert!(
        out.errors[0].message.contains("symbol"),
        "{}",
        out.errors[0].message
    );
}

#[test]
fn error_envelopes_and_http_failures_are_classified() {
    let instruments = instruments();
    let cases: [(u16, &str, ErrorClass); 6] = [
        (200, "100410", ErrorClass::RATE_LIMITED),
        (429, "100410", ErrorClass::RATE_LIMITED),
        (200, "100500", ErrorClass::TRANSIENT),
        (200, "80014", ErrorClass::PERMANENT),
        (200, "109400", ErrorClass::PERMANENT),
        (400, "100001", ErrorClass::PERMANENT),
    ];
    for (kind, tag) in [
        (KIND_INSTRUMENTS, "contracts"),
        (KIND_TICKERS, "ticker"),
        (KIND_FUNDING, "premiumIndex"),
        (KIND_OPEN_INTEREST, "oi:BTC-USDT"),
    ] {
        for (status, code, class) in cases {
            let body = format!(r#"{{"code":{code},"msg":"Something went wrong","debugMsg":""}}"#);
            let out = run(kind, &[(tag, status, &body)], &instruments);
            assert_only_error(&out, class, code, tag, &format!("{tag}: {status} {code}"));
            assert!(out.errors[0].message.contains("Something went wrong"));
        }
        let out = run(kind, &[(tag, 503, "Service Unavailable")], &instruments);
        assert_eq!(out.errors[0].class, ErrorClass::TRANSIENT, "{tag}: 503");
        let out = run(kind, &[(tag, 403, "Forbidden")], &instruments);
        assert_eq!(out.errors[0].class, ErrorClass::PERMANENT, "{tag}: 403");
    }
}

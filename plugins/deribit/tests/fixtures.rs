//! Table-driven tests of the Deribit plugin over raw exchange JSON.
//!
//! Owns: the proof that every kind maps the recorded Deribit bodies field by field (expected
//! values read from the fixture JSON itself), that the exchange's pitfalls are handled
//! (continuous funding: `funding_8h` published with no invented settlement time; one request
//! per settlement currency merged into one round; inverse open interest in USD; the year-3000
//! expiry of perpetuals; dated futures, options and combos skipped), and that every malformed
//! or refused body is a classified error, never a panic.
//! Must not: copy fixtures into the repository (they are read from `../shared` at run time) or
//! reach the network. The plugin is called through the same functions the export macro wraps.

use fc_plugin_deribit::{
    build_requests, info, parse, CURRENCIES, EXTRA_CURRENT_FUNDING, EXTRA_MAX_LEVERAGE,
    EXTRA_OI_BASE_DERIVED, EXTRA_OI_QUOTE_DERIVED, EXTRA_PRICE_INDEX, EXTRA_RATE_FIGURE,
    FUNDING_8H_FIGURE, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS, PATH_BOOK_SUMMARY,
    PATH_INSTRUMENTS, PUBLIC_PREFIX,
};
use plugin_api::{
    abi_stable::std_types::{ROption, RSlice, RStr},
    Context, ErrorClass, HttpRequest, HttpResponse, IntervalSource, KeyValueRef, MarketType,
    ParseOutput, Record,
};
use serde_json::{json, Value};

const NOW: i64 = 1_765_541_480_000;
const RECEIVED: i64 = 1_765_541_475_000;

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&plugin_kit::fixtures::text("deribit", name)).expect("fixture is JSON")
}

/// The recorded `get_instruments` rows (perpetual, dated, option, combo).
fn instrument_rows() -> Vec<Value> {
    fixture_json("get-instruments.json")["result"]
        .as_array()
        .unwrap()
        .clone()
}

/// The recorded ticker of BTC-PERPETUAL (`params.data` of the WS notification): the same
/// figures a book summary row carries, under the summary's names.
fn recorded_ticker() -> Value {
    fixture_json("ws-ticker-btc-perpetual.json")["params"]["data"].clone()
}

/// A summary row of BTC-PERPETUAL built from the recorded ticker's values.
fn btc_summary_row() -> Value {
    let t = recorded_ticker();
    json!({
        "instrument_name": "BTC-PERPETUAL", "base_currency": "BTC", "quote_currency": "USD",
        "last": t["last_price"], "bid_price": t["best_bid_price"], "ask_price": t["best_ask_price"],
        "mark_price": t["mark_price"], "estimated_delivery_price": t["estimated_delivery_price"],
        "volume": t["stats"]["volume"], "volume_usd": t["stats"]["volume_usd"],
        "open_interest": t["open_interest"], "current_funding": t["current_funding"],
        "funding_8h": t["funding_8h"], "creation_timestamp": t["timestamp"]
    })
}

/// A linear USDC perpetual as Deribit lists it (shape of the recorded rows).
fn linear_instrument_row() -> Value {
    let mut row = instrument_rows()[0].clone();
    row["instrument_name"] = json!("SOL_USDC-PERPETUAL");
    row["instrument_type"] = json!("linear");
    row["future_type"] = json!("linear");
    row["base_currency"] = json!("SOL");
    row["counter_currency"] = json!("USDC");
    row["quote_currency"] = json!("USDC");
    row["settlement_currency"] = json!("USDC");
    row["price_index"] = json!("sol_usdc");
    row["contract_size"] = json!(0.1);
    row["tick_size"] = json!(0.01);
    row
}

fn linear_summary_row() -> Value {
    json!({"instrument_name": "SOL_USDC-PERPETUAL", "base_currency": "SOL", "quote_currency": "USDC",
        "last": 135.31, "bid_price": 135.3, "ask_price": 135.32, "mark_price": 135.305,
        "estimated_delivery_price": 135.29, "volume": 52110.4, "volume_usd": 7050000.5,
        "open_interest": 88412.3, "current_funding": -0.0000021, "funding_8h": -0.0000318,
        "creation_timestamp": 1765541474090_i64})
}

fn rpc(rows: &[Value]) -> String {
    json!({"jsonrpc": "2.0", "result": rows, "usIn": 1, "usOut": 2, "usDiff": 1, "testnet": false})
        .to_string()
}

fn ctx(instruments: &[Record]) -> Context<'_> {
    Context {
        exchange_id: RStr::from_str("deribit"),
        now_ms: NOW,
        instruments: RSlice::from_slice(instruments),
        options: RSlice::from_slice(&[]),
        credentials: ROption::RNone,
    }
}

fn request(kind: &str, tag: &str) -> HttpRequest {
    build_requests(kind, &ctx(&[]))
        .expect("known kind")
        .into_iter()
        .find(|r| r.tag.as_str() == tag)
        .unwrap_or_else(|| panic!("{kind} builds a request tagged {tag}"))
}

/// Parses `(tag, status, body)` answers of `kind`, with `headers` on every answer.
fn run_with(
    kind: &str,
    answers: &[(&str, u16, &str)],
    instruments: &[Record],
    headers: &[KeyValueRef<'_>],
) -> ParseOutput {
    let reqs: Vec<HttpRequest> = answers.iter().map(|(tag, ..)| request(kind, tag)).collect();
    let responses: Vec<HttpResponse<'_>> = reqs
        .iter()
        .zip(answers)
        .map(|(r, (_, status, body))| HttpResponse {
            request: r,
            status: *status,
            headers: RSlice::from_slice(headers),
            body: RSlice::from_slice(body.as_bytes()),
            received_ts: RECEIVED,
        })
        .collect();
    parse(kind, &responses, &ctx(instruments))
}

fn run(kind: &str, answers: &[(&str, u16, &str)], instruments: &[Record]) -> ParseOutput {
    run_with(kind, answers, instruments, &[])
}

/// The instrument records of the recorded BTC list and the linear USDC row, sorted.
fn instruments() -> Vec<Record> {
    let out = run(
        KIND_INSTRUMENTS,
        &[
            ("instruments:BTC", 200, &rpc(&instrument_rows())),
            ("instruments:USDC", 200, &rpc(&[linear_instrument_row()])),
        ],
        &[],
    );
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

fn f(v: &Value) -> f64 {
    v.as_f64().expect("a JSON number")
}

// ------------------------------------------------------------------------------------------
// info and requests
// ------------------------------------------------------------------------------------------

#[test]
fn info_lists_three_kinds_and_the_public_budget() {
    let i = info();
    assert_eq!(i.exchange_id.as_str(), "deribit");
    let kinds: Vec<&str> = i.kinds.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(kinds, [KIND_INSTRUMENTS, KIND_TICKERS, KIND_FUNDING]);
    assert_eq!(i.rate_limits.len(), 1);
    let rule = &i.rate_limits[0];
    assert_eq!(rule.path_prefix.as_str(), PUBLIC_PREFIX);
    assert_eq!((rule.limit, rule.window_ms), (20, 1_000));
    assert_eq!(i.default_funding_interval_hours, 8.0);
}

/// Pitfall: book summaries are per currency — one request per settlement currency, for every
/// kind, each tagged with its currency (a single "all" request does not exist).
#[test]
fn every_kind_asks_each_settlement_currency_once() {
    for (kind, path, prefix) in [
        (KIND_INSTRUMENTS, PATH_INSTRUMENTS, "instruments:"),
        (KIND_TICKERS, PATH_BOOK_SUMMARY, "summary:"),
        (KIND_FUNDING, PATH_BOOK_SUMMARY, "summary:"),
    ] {
        let reqs = build_requests(kind, &ctx(&[])).unwrap();
        assert_eq!(reqs.len(), CURRENCIES.len(), "{kind}");
        for (r, currency) in reqs.iter().zip(CURRENCIES) {
            assert_eq!(r.path.as_str(), path);
            assert_eq!(r.tag.as_str(), format!("{prefix}{currency}"));
            assert_eq!(r.query_value("currency"), Some(currency));
            assert_eq!(r.query_value("kind"), Some("future"));
            assert_eq!(r.weight, 1);
        }
    }
    assert!(build_requests("orderbook", &ctx(&[])).is_err());
}

// ------------------------------------------------------------------------------------------
// instruments
// ------------------------------------------------------------------------------------------

#[test]
fn instruments_map_the_recorded_perpetual_field_by_field() {
    let rows = instrument_rows();
    let out = run(
        KIND_INSTRUMENTS,
        &[("instruments:BTC", 200, &rpc(&rows))],
        &[],
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    // Only the perpetual: the dated future, the option and the combo are skipped and counted.
    assert_eq!(out.records.len(), 1);
    let warnings: Vec<&str> = out.warnings.iter().map(|w| w.as_str()).collect();
    assert!(
        warnings.iter().any(|w| w.contains("BTC-27DEC24")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("BTC-27DEC24-100000-C")),
        "{warnings:?}"
    );
    let row = &rows[0];
    let r = &out.records[0];
    assert_eq!(r.raw_symbol.as_str(), "BTC-PERPETUAL");
    assert_eq!(r.symbol.as_str(), "BTC/USD:BTC");
    assert_eq!(r.market_type, MarketType::INVERSE_PERPETUAL);
    assert_eq!(r.contract_size, ROption::RSome(f(&row["contract_size"])));
    assert_eq!(r.tick_size, ROption::RSome(f(&row["tick_size"])));
    assert_eq!(
        r.status.as_ref().map(|s| s.as_str()),
        ROption::RSome("trading")
    );
    assert_eq!(
        r.listing_ts,
        ROption::RSome(row["creation_timestamp"].as_i64().unwrap())
    );
    assert_eq!(extra(r, EXTRA_PRICE_INDEX), Some("btc_usd"));
    assert_eq!(extra(r, EXTRA_MAX_LEVERAGE), Some("50"));
    assert_eq!(r.received_ts, RECEIVED);
}

/// Pitfall: perpetuals carry `expiration_timestamp` 32503708800000 (year 3000): no delisting
/// date, whereas a naive mapping publishes it as one.
#[test]
fn the_year_3000_expiry_of_perpetuals_is_no_delisting_date() {
    let rows = instrument_rows();
    assert_eq!(rows[0]["expiration_timestamp"], 32_503_708_800_000_i64);
    let out = run(
        KIND_INSTRUMENTS,
        &[("instruments:BTC", 200, &rpc(&rows[..1]))],
        &[],
    );
    assert_eq!(out.records[0].delisting_ts, ROption::RNone);
}

#[test]
fn linear_usdc_perpetuals_are_linear_in_usdc() {
    let all = instruments();
    assert_eq!(all.len(), 2);
    let r = all
        .iter()
        .find(|r| r.raw_symbol.as_str() == "SOL_USDC-PERPETUAL")
        .unwrap();
    assert_eq!(r.symbol.as_str(), "SOL/USDC:USDC");
    assert_eq!(r.market_type, MarketType::LINEAR_PERPETUAL);
    assert_eq!(r.contract_size, ROption::RSome(0.1));
    // Without `instrument_type`, settling in the base coin means inverse.
    let mut untyped = instrument_rows()[0].clone();
    untyped.as_object_mut().unwrap().remove("instrument_type");
    let out = run(
        KIND_INSTRUMENTS,
        &[("instruments:BTC", 200, &rpc(&[untyped]))],
        &[],
    );
    assert_eq!(out.records[0].market_type, MarketType::INVERSE_PERPETUAL);
}

#[test]
fn instruments_without_currencies_or_inactive_ones() {
    let mut bare = instrument_rows()[0].clone();
    bare.as_object_mut().unwrap().remove("base_currency");
    let mut inactive = linear_instrument_row();
    inactive["is_active"] = json!(false);
    let out = run(
        KIND_INSTRUMENTS,
        &[("instruments:BTC", 200, &rpc(&[bare, inactive]))],
        &[],
    );
    assert_eq!(out.records.len(), 1);
    assert_eq!(
        out.records[0].status.as_ref().map(|s| s.as_str()),
        ROption::RSome("inactive")
    );
    assert!(out.warnings.iter().any(|w| w.contains("BTC-PERPETUAL")));
}

// ------------------------------------------------------------------------------------------
// tickers
// ------------------------------------------------------------------------------------------

/// Field by field over the recorded ticker's figures; inverse open interest is USD (quote),
/// its base amount derived with the mark.
#[test]
fn inverse_tickers_map_every_field_and_read_open_interest_as_usd() {
    let insts = instruments();
    let row = btc_summary_row();
    let out = run(
        KIND_TICKERS,
        &[("summary:BTC", 200, &rpc(std::slice::from_ref(&row)))],
        &insts,
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let r = find(&out, "BTC-PERPETUAL");
    let t = recorded_ticker();
    assert_eq!(r.last, ROption::RSome(f(&t["last_price"])));
    assert_eq!(r.bid, ROption::RSome(f(&t["best_bid_price"])));
    assert_eq!(r.ask, ROption::RSome(f(&t["best_ask_price"])));
    assert_eq!(r.mark, ROption::RSome(f(&t["mark_price"])));
    assert_eq!(r.index, ROption::RSome(f(&t["index_price"])));
    assert_eq!(r.volume_24h_base, ROption::RSome(f(&t["stats"]["volume"])));
    assert_eq!(
        r.volume_24h_quote,
        ROption::RSome(f(&t["stats"]["volume_usd"]))
    );
    assert_eq!(
        r.exchange_ts,
        ROption::RSome(t["timestamp"].as_i64().unwrap())
    );
    let oi_usd = f(&t["open_interest"]);
    assert_eq!(r.open_interest_quote, ROption::RSome(oi_usd));
    assert_eq!(
        r.open_interest_base,
        ROption::RSome(oi_usd / f(&t["mark_price"]))
    );
    assert_eq!(extra(r, EXTRA_OI_BASE_DERIVED), Some("true"));
    assert_eq!(r.market_type, MarketType::INVERSE_PERPETUAL);
}

#[test]
fn linear_tickers_read_open_interest_in_the_coin() {
    let insts = instruments();
    let row = linear_summary_row();
    let out = run(
        KIND_TICKERS,
        &[("summary:USDC", 200, &rpc(std::slice::from_ref(&row)))],
        &insts,
    );
    let r = find(&out, "SOL_USDC-PERPETUAL");
    assert_eq!(
        r.open_interest_base,
        ROption::RSome(f(&row["open_interest"]))
    );
    assert_eq!(
        r.open_interest_quote,
        ROption::RSome(f(&row["open_interest"]) * f(&row["mark_price"]))
    );
    assert_eq!(extra(r, EXTRA_OI_QUOTE_DERIVED), Some("true"));
    assert_eq!(r.volume_24h_quote, ROption::RSome(f(&row["volume_usd"])));
}

/// Pitfall: one request per currency — the round's records are the union of every currency's
/// answer, and one currency failing keeps the others' records.
#[test]
fn summaries_merge_across_currencies_and_one_failure_keeps_the_rest() {
    let insts = instruments();
    let btc = rpc(&[btc_summary_row()]);
    let usdc = rpc(&[linear_summary_row()]);
    let both = run(
        KIND_TICKERS,
        &[("summary:BTC", 200, &btc), ("summary:USDC", 200, &usdc)],
        &insts,
    );
    assert_eq!(both.records.len(), 2);
    let busy =
        r#"{"jsonrpc":"2.0","error":{"message":"too_many_requests","code":10028},"testnet":false}"#;
    let one = run(
        KIND_FUNDING,
        &[("summary:BTC", 429, busy), ("summary:USDC", 200, &usdc)],
        &insts,
    );
    assert_eq!(one.records.len(), 1);
    assert_eq!(one.records[0].raw_symbol.as_str(), "SOL_USDC-PERPETUAL");
    assert_eq!(one.errors.len(), 1);
    assert_eq!(one.errors[0].request_tag.as_str(), "summary:BTC");
    assert_eq!(one.errors[0].class, ErrorClass::RATE_LIMITED);
}

#[test]
fn missing_figures_stay_absent_and_dated_rows_are_skipped() {
    let insts = instruments();
    let bare = json!({"instrument_name": "BTC-PERPETUAL", "last": null, "bid_price": "",
        "mark_price": 92281.78});
    let dated = json!({"instrument_name": "BTC-27DEC24", "last": 93800.0});
    let out = run(
        KIND_TICKERS,
        &[("summary:BTC", 200, &rpc(&[bare, dated]))],
        &insts,
    );
    assert_eq!(out.records.len(), 1);
    let r = &out.records[0];
    for (name, v) in [
        ("last", r.last),
        ("bid", r.bid),
        ("ask", r.ask),
        ("index", r.index),
        ("volume_24h_base", r.volume_24h_base),
        ("open_interest_base", r.open_interest_base),
        ("open_interest_quote", r.open_interest_quote),
    ] {
        assert_eq!(v, ROption::RNone, "{name}");
    }
    assert!(out.warnings.iter().any(|w| w.contains("BTC-27DEC24")));
}

// ------------------------------------------------------------------------------------------
// funding
// ------------------------------------------------------------------------------------------

/// Pitfall: continuous funding. `rate` is `funding_8h` (not `current_funding`, which the
/// recorded ticker shows as 0.0), the interval is 8 h `default`, and there is NO next funding
/// time (a naive adapter invents the next 8-hour boundary).
#[test]
fn continuous_funding_publishes_funding_8h_without_a_settlement_time() {
    let insts = instruments();
    let out = run(
        KIND_FUNDING,
        &[("summary:BTC", 200, &rpc(&[btc_summary_row()]))],
        &insts,
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let r = find(&out, "BTC-PERPETUAL");
    let t = recorded_ticker();
    assert_eq!(f(&t["current_funding"]), 0.0);
    assert_eq!(r.rate, ROption::RSome(f(&t["funding_8h"])));
    assert_ne!(r.rate, ROption::RSome(f(&t["current_funding"])));
    assert_eq!(r.next_funding_ts, ROption::RNone);
    assert_eq!(r.predicted_rate, ROption::RNone);
    assert_eq!(r.interval_hours, ROption::RSome(8.0));
    assert_eq!(r.interval_source, ROption::RSome(IntervalSource::DEFAULT));
    assert_eq!(r.rate_cap, ROption::RNone);
    assert_eq!(extra(r, EXTRA_RATE_FIGURE), Some(FUNDING_8H_FIGURE));
    assert_eq!(extra(r, EXTRA_CURRENT_FUNDING), Some("0"));
    assert_eq!(
        r.exchange_ts,
        ROption::RSome(t["timestamp"].as_i64().unwrap())
    );
    let lin = run(
        KIND_FUNDING,
        &[("summary:USDC", 200, &rpc(&[linear_summary_row()]))],
        &insts,
    );
    let r = find(&lin, "SOL_USDC-PERPETUAL");
    assert_eq!(r.rate, ROption::RSome(-0.0000318));
    assert_eq!(extra(r, EXTRA_CURRENT_FUNDING), Some("-0.0000021"));
}

#[test]
fn a_row_without_funding_8h_gives_no_funding_record() {
    let insts = instruments();
    let mut row = btc_summary_row();
    row.as_object_mut().unwrap().remove("funding_8h");
    let out = run(KIND_FUNDING, &[("summary:BTC", 200, &rpc(&[row]))], &insts);
    assert!(out.records.is_empty());
    assert!(out.warnings.iter().any(|w| w.contains("BTC-PERPETUAL")));
}

// ------------------------------------------------------------------------------------------
// errors
// ------------------------------------------------------------------------------------------

#[test]
fn refused_and_malformed_answers_are_classified() {
    use ErrorClass as C;
    let insts = instruments();
    let err = |code: i64, msg: &str| {
        json!({"jsonrpc":"2.0","error":{"message":msg,"code":code,"data":{"reason":"x"}},"usIn":1,"usOut":2,"usDiff":1,"testnet":false}).to_string()
    };
    let cases: Vec<(u16, String, C, &str)> = vec![
        (
            400,
            err(10028, "too_many_requests"),
            C::RATE_LIMITED,
            "10028",
        ),
        (
            429,
            err(10028, "too_many_requests"),
            C::RATE_LIMITED,
            "10028",
        ),
        (
            200,
            err(10028, "too_many_requests"),
            C::RATE_LIMITED,
            "10028",
        ),
        (
            400,
            err(13028, "temporarily_unavailable"),
            C::TRANSIENT,
            "13028",
        ),
        (503, err(11051, "system_maintenance"), C::TRANSIENT, "11051"),
        (400, err(13020, "not_found"), C::PERMANENT, "13020"),
        (400, err(-32602, "Invalid params"), C::PERMANENT, "-32602"),
        (400, err(11050, "bad_request"), C::PERMANENT, "11050"),
        (
            503,
            "<html>Service Unavailable</html>".into(),
            C::TRANSIENT,
            "",
        ),
        (404, "Not Found".into(), C::PERMANENT, ""),
        (429, String::new(), C::RATE_LIMITED, ""),
        (200, String::new(), C::PARSE, ""),
        (200, "<html>502 Bad Gateway</html>".into(), C::PARSE, ""),
        (
            200,
            r#"{"jsonrpc":"2.0","result":[{"instrument_name":"BTC-PERP"#.into(),
            C::PARSE,
            "",
        ),
        (200, r#"{"jsonrpc":"2.0","usIn":1}"#.into(), C::PARSE, ""),
        (
            200,
            r#"{"jsonrpc":"2.0","result":{"rows":[]}}"#.into(),
            C::PARSE,
            "",
        ),
        (
            200,
            r#"{"jsonrpc":"2.0","result":[{"last":1.0}]}"#.into(),
            C::PARSE,
            "",
        ),
        (200, "[1,2,3]".into(), C::PARSE, ""),
    ];
    for (status, body, class, code) in cases {
        for kind in [KIND_INSTRUMENTS, KIND_TICKERS, KIND_FUNDING] {
            let tag = if kind == KIND_INSTRUMENTS {
                "instruments:ETH"
            } else {
                "summary:ETH"
            };
            let out = run(kind, &[(tag, status, &body)], &insts);
            assert!(out.records.is_empty(), "{kind} {status} {body}");
            assert_eq!(out.errors.len(), 1, "{kind} {status} {body}");
            let e = &out.errors[0];
            assert_eq!(
                (e.class, e.code.as_str()),
                (class, code),
                "{kind} {status} {body}: {e}"
            );
            assert_eq!(e.request_tag.as_str(), tag);
        }
    }
}

#[test]
fn rate_limits_wait_what_retry_after_says() {
    let retry = [KeyValueRef {
        key: "Retry-After".into(),
        value: "3".into(),
    }];
    let body = r#"{"jsonrpc":"2.0","error":{"message":"too_many_requests","code":10028}}"#;
    let out = run_with(
        KIND_TICKERS,
        &[("summary:BTC", 429, body)],
        &instruments(),
        &retry,
    );
    assert_eq!(out.errors[0].retry_after_ms, ROption::RSome(3_000));
}

#[test]
fn an_empty_success_is_no_error() {
    let out = run(
        KIND_TICKERS,
        &[("summary:ETH", 200, &rpc(&[]))],
        &instruments(),
    );
    assert!(out.errors.is_empty() && out.records.is_empty());
}

//! Table-driven tests of the KuCoin Futures plugin over raw exchange JSON.
//!
//! Owns: the proof that every kind maps the recorded KuCoin bodies field by field (expected
//! values are read from the fixture JSON itself), that the exchange's pitfalls are handled
//! (`XBT` → `BTC`, nanosecond ticker `ts`, `nextFundingRateTime` as a countdown, inverse
//! volumes, dated futures skipped), and that every malformed or refused body is a classified
//! error, never a panic.
//! Must not: copy fixtures into the repository (they are read from `../shared` at run time) or
//! reach the network. The plugin is called through the same functions the export macro wraps.

use fc_plugin_kucoinfutures::{
    build_requests, info, parse, EXTRA_FUNDING_RATE_SYMBOL, EXTRA_OI_BASE_DERIVED,
    EXTRA_OI_QUOTE_DERIVED, EXTRA_RAW_STATUS, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS,
    PATH_ALL_TICKERS, PATH_CONTRACTS_ACTIVE, PUBLIC_POOL_PREFIX, WEIGHT_ALL_TICKERS,
    WEIGHT_CONTRACTS_ACTIVE,
};
use plugin_api::{
    abi_stable::std_types::{ROption, RSlice, RStr},
    Context, ErrorClass, HttpRequest, HttpResponse, IntervalSource, MarketType, ParseOutput,
    Record,
};
use serde_json::{json, Value};

const NOW: i64 = 1_744_590_400_000;
const RECEIVED: i64 = 1_744_590_350_000;

// ------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------

fn fixture(name: &str) -> String {
    plugin_kit::fixtures::text("kucoinfutures", name)
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).expect("fixture is JSON")
}

/// The first `data` row of `contracts-active.json` (XBTUSDTM).
fn contract_row() -> Value {
    fixture_json("contracts-active.json")["data"][0].clone()
}

/// A KuCoin success envelope around rows.
fn envelope(rows: &[Value]) -> String {
    json!({"code": "200000", "data": rows}).to_string()
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
        exchange_id: RStr::from_str("kucoinfutures"),
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

fn respond<'a>(request: &'a HttpRequest, status: u16, body: &'a str) -> HttpResponse<'a> {
    HttpResponse {
        request,
        status,
        headers: RSlice::from_slice(&[]),
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

/// Instrument records of `rows`, sorted as the host keeps them.
fn instruments_of(rows: &[Value]) -> Vec<Record> {
    let out = run(
        KIND_INSTRUMENTS,
        &[("contracts", 200, &envelope(rows))],
        &[],
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let mut records: Vec<Record> = out.records.into_iter().collect();
    records.sort_by(|a, b| a.raw_symbol.cmp(&b.raw_symbol));
    records
}

fn instruments() -> Vec<Record> {
    instruments_of(&[contract_row()])
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

fn assert_close(got: ROption<f64>, want: f64, what: &str) {
    let got = got
        .into_option()
        .unwrap_or_else(|| panic!("{what} is absent"));
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{what}: {got} != {want}"
    );
}

/// An inverse perpetual row shaped like KuCoin's `XBTUSDM` (multiplier -1: 1 USD per contract).
fn inverse_row() -> Value {
    let mut row = contract_row();
    row["symbol"] = json!("XBTUSDM");
    row["quoteCurrency"] = json!("USD");
    row["settleCurrency"] = json!("XBT");
    row["multiplier"] = json!(-1);
    row["isInverse"] = json!(true);
    row["openInterest"] = json!("40000000");
    row["volumeOf24h"] = json!(120000000.0);
    row["turnoverOf24h"] = json!(2700.5);
    row
}

/// A dated future row (`XBTMZ25`): a non-perpetual type code, an expiry, no funding countdown.
fn dated_row() -> Value {
    let mut row = contract_row();
    row["symbol"] = json!("XBTMZ25");
    row["type"] = json!("FFICSX");
    row["expireDate"] = json!(1766736000000_i64);
    row["nextFundingRateTime"] = Value::Null;
    row
}

fn assert_only_error(out: &ParseOutput, class: ErrorClass, code: &str, tag: &str, case: &str) {
    assert_eq!(out.errors.len(), 1, "{case}: {:?}", out.errors);
    let e = &out.errors[0];
    assert_eq!(e.class, class, "{case}: {e}");
    assert_eq!(e.code.as_str(), code, "{case}: {e}");
    assert_eq!(e.request_tag.as_str(), tag, "{case}: {e}");
    assert!(out.records.is_empty(), "{case}: {:?}", out.records);
}

// ------------------------------------------------------------------------------------------
// info and requests
// ------------------------------------------------------------------------------------------

#[test]
fn info_describes_kucoin_futures() {
    let info = info();
    assert_eq!(info.exchange_id.as_str(), "kucoinfutures");
    assert_eq!(
        info.default_base_url.as_str(),
        "https://api-futures.kucoin.com"
    );
    let kinds = plugin_kit::testing::kind_table(&info);
    let names: Vec<&str> = kinds.iter().map(|k| k.0).collect();
    assert_eq!(names, [KIND_INSTRUMENTS, KIND_TICKERS, KIND_FUNDING]);
    assert_eq!(info.rate_limits.len(), 1);
    let rule = &info.rate_limits[0];
    assert_eq!(rule.path_prefix.as_str(), PUBLIC_POOL_PREFIX);
    assert_eq!((rule.limit, rule.window_ms), (2_000, 30_000));
    assert_eq!(info.default_funding_interval_hours, 8.0);
}

#[test]
fn requests_per_kind_with_weights() {
    let table: [(&str, &[(&str, u32)]); 3] = [
        (
            KIND_INSTRUMENTS,
            &[(PATH_CONTRACTS_ACTIVE, WEIGHT_CONTRACTS_ACTIVE)],
        ),
        (
            KIND_TICKERS,
            &[
                (PATH_CONTRACTS_ACTIVE, WEIGHT_CONTRACTS_ACTIVE),
                (PATH_ALL_TICKERS, WEIGHT_ALL_TICKERS),
            ],
        ),
        (
            KIND_FUNDING,
            &[(PATH_CONTRACTS_ACTIVE, WEIGHT_CONTRACTS_ACTIVE)],
        ),
    ];
    for (kind, want) in table {
        let got: Vec<(String, u32)> = build_requests(kind, &ctx(&[]))
            .expect("known kind")
            .iter()
            .map(|r| (r.path.to_string(), r.weight))
            .collect();
        let want: Vec<(String, u32)> = want.iter().map(|(p, w)| (p.to_string(), *w)).collect();
        assert_eq!(got, want, "{kind}");
        assert!(got.iter().all(|(p, _)| p.starts_with(PUBLIC_POOL_PREFIX)));
    }
    assert_eq!((WEIGHT_CONTRACTS_ACTIVE, WEIGHT_ALL_TICKERS), (3, 5));
    let e = build_requests("orderbook", &ctx(&[])).expect_err("unknown kind");
    assert_eq!(e.class, ErrorClass::PERMANENT);
    let out = parse("orderbook", &[], &ctx(&[]));
    assert_eq!(out.errors[0].class, ErrorClass::PERMANENT);
}

#[test]
fn exported_root_module_answers_through_the_abi() {
    let module = fc_plugin_kucoinfutures::futures_collector_root_module();
    let info = (module.info())().into_result().expect("info");
    assert_eq!(info.exchange_id.as_str(), "kucoinfutures");
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
// instruments
// ------------------------------------------------------------------------------------------

#[test]
fn instruments_match_fixture_field_by_field() {
    let row = contract_row();
    let body = fixture("contracts-active.json");
    let out = run(KIND_INSTRUMENTS, &[("contracts", 200, &body)], &[]);
    assert!(out.errors.is_empty() && out.warnings.is_empty(), "{out:?}");
    assert_eq!(out.records.len(), 1);
    let r = find(&out, "XBTUSDTM");
    // Pitfall: KuCoin's `XBT` is ccxt's `BTC`.
    assert_eq!(r.symbol.as_str(), "BTC/USDT:USDT");
    assert_eq!(
        (r.base.as_str(), r.quote.as_str(), r.settle.as_str()),
        ("BTC", "USDT", "USDT")
    );
    assert_eq!(r.market_type, MarketType::LINEAR_PERPETUAL);
    assert_eq!(r.contract_size, some(num(&row, "multiplier")));
    assert_eq!(r.tick_size, some(num(&row, "tickSize")));
    assert_eq!(
        r.status.as_ref().map(|s| s.as_str()),
        ROption::RSome("trading")
    );
    assert_eq!(extra(r, EXTRA_RAW_STATUS), Some("Open"));
    assert_eq!(
        r.listing_ts,
        ROption::RSome(row["firstOpenDate"].as_i64().expect("ms"))
    );
    assert_eq!(extra(r, EXTRA_FUNDING_RATE_SYMBOL), Some(".XBTUSDTMFPI8H"));
    assert_eq!(r.received_ts, RECEIVED);
}

#[test]
fn inverse_contract_size_is_the_absolute_multiplier() {
    let out = run(
        KIND_INSTRUMENTS,
        &[("contracts", 200, &envelope(&[inverse_row()]))],
        &[],
    );
    let r = find(&out, "XBTUSDM");
    assert_eq!(r.symbol.as_str(), "BTC/USD:BTC");
    assert_eq!(r.market_type, MarketType::INVERSE_PERPETUAL);
    // Naive reading: a negative contract size.
    assert_eq!(r.contract_size, some(1.0));
}

#[test]
fn dated_futures_are_skipped_and_counted() {
    let mut untyped_future = dated_row();
    untyped_future["symbol"] = json!("XBTMH26");
    untyped_future["type"] = Value::Null;
    untyped_future["expireDate"] = Value::Null;
    let rows = [contract_row(), dated_row(), untyped_future];
    for kind in [KIND_INSTRUMENTS, KIND_FUNDING] {
        let instruments = instruments();
        let ctx_instruments: &[Record] = if kind == KIND_FUNDING {
            &instruments
        } else {
            &[]
        };
        let out = run(
            kind,
            &[("contracts", 200, &envelope(&rows))],
            ctx_instruments,
        );
        let raws: Vec<&str> = out.records.iter().map(|r| r.raw_symbol.as_str()).collect();
        assert_eq!(raws, ["XBTUSDTM"], "{kind}");
        assert_eq!(out.warnings.len(), 1, "{kind}: {:?}", out.warnings);
        let w = out.warnings[0].as_str();
        assert!(w.contains('2') && w.contains("dated"), "{kind}: {w}");
        assert!(
            w.contains("XBTMZ25") && w.contains("XBTMH26"),
            "{kind}: {w}"
        );
    }
}

#[test]
fn kucoin_currency_renames_apply() {
    let cases = [
        ("KALTUSDTM", "KALT", "ALT/USDT:USDT"),
        ("WAXUSDTM", "WAX", "WAXP/USDT:USDT"),
        ("ALTUSDTM", "ALT", "APTOSLAUNCHTOKEN/USDT:USDT"),
        ("1000PEPEUSDTM", "1000PEPE", "1000PEPE/USDT:USDT"),
        ("ETHUSDCM", "ETH", "ETH/USDC:USDC"),
    ];
    for (raw, base, want) in cases {
        let mut row = contract_row();
        row["symbol"] = json!(raw);
        row["baseCurrency"] = json!(base);
        if raw.ends_with("USDCM") {
            row["quoteCurrency"] = json!("USDC");
            row["settleCurrency"] = json!("USDC");
        }
        let records = instruments_of(&[row]);
        assert_eq!(records[0].symbol.as_str(), want, "{raw}");
    }
    let pepe = instruments_of(&[{
        let mut row = contract_row();
        row["symbol"] = json!("1000PEPEUSDTM");
        row["baseCurrency"] = json!("1000PEPE");
        row
    }]);
    assert_eq!(extra(&pepe[0], "multiplier"), Some("1000"));
}

#[test]
fn instrument_statuses_are_normalized() {
    for (raw, want) in [
        ("Open", "trading"),
        ("Paused", "halted"),
        ("BeingSettled", "settling"),
        ("Closed", "closed"),
    ] {
        let mut row = contract_row();
        row["status"] = json!(raw);
        let records = instruments_of(&[row]);
        assert_eq!(
            records[0].status.as_ref().map(|s| s.as_str()),
            ROption::RSome(want)
        );
        assert_eq!(extra(&records[0], EXTRA_RAW_STATUS), Some(raw));
    }
}

// ------------------------------------------------------------------------------------------
// tickers
// ------------------------------------------------------------------------------------------

/// `ticker.json`'s live single-symbol row (nanosecond `ts`) as an allTickers body.
fn live_all_tickers() -> String {
    let row = fixture_json("ticker.json")["data"].clone();
    envelope(&[row])
}

#[test]
fn tickers_match_fixtures_field_by_field() {
    let contract = contract_row();
    let ticker = fixture_json("ticker.json")["data"].clone();
    let contracts = fixture("contracts-active.json");
    let all = live_all_tickers();
    let out = run(
        KIND_TICKERS,
        &[("contracts", 200, &contracts), ("allTickers", 200, &all)],
        &instruments(),
    );
    assert!(out.errors.is_empty() && out.warnings.is_empty(), "{out:?}");
    let r = find(&out, "XBTUSDTM");
    assert_eq!(r.mark, some(num(&contract, "markPrice")));
    assert_eq!(r.index, some(num(&contract, "indexPrice")));
    // allTickers' last trade wins over contracts/active's `lastTradePrice`.
    assert_eq!(r.last, some(num(&ticker, "price")));
    assert_eq!(r.bid, some(num(&ticker, "bestBidPrice")));
    assert_eq!(r.ask, some(num(&ticker, "bestAskPrice")));
    assert_eq!(r.volume_24h_base, some(num(&contract, "volumeOf24h")));
    assert_eq!(r.volume_24h_quote, some(num(&contract, "turnoverOf24h")));
    // Open interest is a string of contracts: × multiplier (0.001 BTC per contract).
    let oi_base = num(&contract, "openInterest") * num(&contract, "multiplier");
    assert_close(r.open_interest_base, oi_base, "open_interest_base");
    assert_close(
        r.open_interest_quote,
        oi_base * num(&contract, "markPrice"),
        "open_interest_quote",
    );
    assert_eq!(extra(r, EXTRA_OI_QUOTE_DERIVED), Some("true"));
    // Pitfall: `ts` is in nanoseconds (1710328243260000000 → 1710328243260 ms).
    assert_eq!(r.exchange_ts, ROption::RSome(1_710_328_243_260));
    assert_eq!(r.received_ts, RECEIVED);
}

#[test]
fn ticker_ts_is_nanoseconds_never_milliseconds() {
    let instruments = instruments();
    let cases: [(Value, ROption<i64>); 4] = [
        (
            json!(1_710_328_243_260_000_000_i64),
            ROption::RSome(1_710_328_243_260),
        ),
        (
            json!("1710328243260999999"),
            ROption::RSome(1_710_328_243_260),
        ),
        // The docs example writes ms there: read as ns it is 1970, so absent, never a date.
        (json!(1_550_653_727_731_i64), ROption::RNone),
        (Value::Null, ROption::RNone),
    ];
    for (ts, want) in cases {
        let body = envelope(&[json!({"symbol": "XBTUSDTM", "price": "1", "ts": ts})]);
        let out = run(KIND_TICKERS, &[("allTickers", 200, &body)], &instruments);
        assert_eq!(find(&out, "XBTUSDTM").exchange_ts, want, "ts {ts}");
    }
}

#[test]
fn last_falls_back_to_last_trade_price_without_all_tickers() {
    let contract = contract_row();
    let out = run(
        KIND_TICKERS,
        &[("contracts", 200, &fixture("contracts-active.json"))],
        &instruments(),
    );
    let r = find(&out, "XBTUSDTM");
    assert_eq!(r.last, some(num(&contract, "lastTradePrice")));
    assert_eq!((r.bid, r.ask), (ROption::RNone, ROption::RNone));
    assert_eq!(r.exchange_ts, ROption::RNone);
}

#[test]
fn inverse_volumes_and_open_interest_use_kucoin_inverse_units() {
    let row = inverse_row();
    let instruments = instruments_of(std::slice::from_ref(&row));
    let out = run(
        KIND_TICKERS,
        &[("contracts", 200, &envelope(std::slice::from_ref(&row)))],
        &instruments,
    );
    let r = find(&out, "XBTUSDM");
    // Errata 12: `volumeOf24h` is USD and `turnoverOf24h` coin on inverse contracts.
    assert_eq!(r.volume_24h_quote, some(num(&row, "volumeOf24h")));
    assert_eq!(r.volume_24h_base, some(num(&row, "turnoverOf24h")));
    let oi_usd = num(&row, "openInterest");
    assert_close(r.open_interest_quote, oi_usd, "open_interest_quote");
    assert_close(
        r.open_interest_base,
        oi_usd / num(&row, "markPrice"),
        "open_interest_base",
    );
    assert_eq!(extra(r, EXTRA_OI_BASE_DERIVED), Some("true"));
}

#[test]
fn ticker_rows_not_in_ctx_are_summarised() {
    let body = envelope(&[
        json!({"symbol": "XBTUSDTM", "price": "1"}),
        json!({"symbol": "XBTMZ25", "price": "2"}),
        json!({"symbol": "NEWUSDTM", "price": "3"}),
    ]);
    let out = run(KIND_TICKERS, &[("allTickers", 200, &body)], &instruments());
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    assert!(out.warnings[0].contains("XBTMZ25") && out.warnings[0].contains("NEWUSDTM"));
}

#[test]
fn one_bad_ticker_response_keeps_the_other() {
    let contract = contract_row();
    let out = run(
        KIND_TICKERS,
        &[
            ("contracts", 200, &fixture("contracts-active.json")),
            ("allTickers", 200, "<html>502</html>"),
        ],
        &instruments(),
    );
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].request_tag.as_str(), "allTickers");
    assert_eq!(
        find(&out, "XBTUSDTM").mark,
        some(num(&contract, "markPrice"))
    );
}

// ------------------------------------------------------------------------------------------
// funding
// ------------------------------------------------------------------------------------------

#[test]
fn funding_matches_fixture_field_by_field() {
    let row = contract_row();
    let out = run(
        KIND_FUNDING,
        &[("contracts", 200, &fixture("contracts-active.json"))],
        &instruments(),
    );
    assert!(out.errors.is_empty() && out.warnings.is_empty(), "{out:?}");
    let r = find(&out, "XBTUSDTM");
    assert_eq!(r.symbol.as_str(), "BTC/USDT:USDT");
    assert_eq!(r.rate, some(num(&row, "fundingFeeRate")));
    assert_eq!(r.predicted_rate, some(num(&row, "predictedFundingFeeRate")));
    // Pitfall: `nextFundingRateTime` (21031525) is a countdown, not a time in 1970.
    let countdown = row["nextFundingRateTime"].as_i64().expect("ms");
    assert_eq!(r.next_funding_ts, ROption::RSome(RECEIVED + countdown));
    // The recorded docs row reports no granularity: KuCoin's default, marked as such.
    assert_eq!(r.interval_hours, some(8.0));
    assert_eq!(r.interval_source, ROption::RSome(IntervalSource::DEFAULT));
    // No cap/floor fields in this row: absent, never computed.
    assert_eq!((r.rate_cap, r.rate_floor), (ROption::RNone, ROption::RNone));
    assert_eq!(r.exchange_ts, ROption::RNone);
}

#[test]
fn funding_prefers_absolute_time_and_reported_interval() {
    // (extra fields, next_funding_ts, interval hours, source)
    let cases: [(Value, i64, f64, IntervalSource); 4] = [
        (
            json!({"nextFundingRateDateTime": 1_744_603_200_000_i64, "fundingRateGranularity": 14_400_000}),
            1_744_603_200_000,
            4.0,
            IntervalSource::REPORTED,
        ),
        (
            json!({"fundingRateGranularity": 3_600_000, "nextFundingRateTime": 600_000}),
            RECEIVED + 600_000,
            1.0,
            IntervalSource::REPORTED,
        ),
        (
            // The running period's granularity wins over a scheduled new one.
            json!({"currentFundingRateGranularity": 28_800_000, "fundingRateGranularity": 14_400_000}),
            RECEIVED + 21_031_525,
            8.0,
            IntervalSource::REPORTED,
        ),
        (
            json!({"nextFundingRateTime": 0}),
            RECEIVED,
            8.0,
            IntervalSource::DEFAULT,
        ),
    ];
    for (fields, next, hours, source) in cases {
        let mut row = contract_row();
        for (k, v) in fields.as_object().expect("object") {
            row[k] = v.clone();
        }
        row["fundingRateCap"] = json!(0.003);
        row["fundingRateFloor"] = json!(-0.003);
        let out = run(
            KIND_FUNDING,
            &[("contracts", 200, &envelope(&[row]))],
            &instruments(),
        );
        let r = find(&out, "XBTUSDTM");
        assert_eq!(r.next_funding_ts, ROption::RSome(next), "{fields}");
        assert_eq!(r.interval_hours, some(hours), "{fields}");
        assert_eq!(r.interval_source, ROption::RSome(source), "{fields}");
        assert_eq!((r.rate_cap, r.rate_floor), (some(0.003), some(-0.003)));
    }
}

#[test]
fn funding_countdown_counts_from_the_response_not_the_clock() {
    let body = fixture("contracts-active.json");
    let req = request(KIND_FUNDING, "contracts");
    let instruments = instruments();
    let mut later = respond(&req, 200, &body);
    later.received_ts = RECEIVED + 5_000;
    let out = parse(KIND_FUNDING, &[later], &ctx(&instruments));
    assert_eq!(
        out.records[0].next_funding_ts,
        ROption::RSome(RECEIVED + 5_000 + 21_031_525)
    );
}

// ------------------------------------------------------------------------------------------
// absent values and malformed input
// ------------------------------------------------------------------------------------------

#[test]
fn missing_values_are_none_not_zero() {
    let bare = json!({"symbol": "XBTUSDTM", "type": "FFWCSX", "baseCurrency": "XBT",
        "quoteCurrency": "USDT", "settleCurrency": "USDT", "isInverse": false,
        "openInterest": "", "markPrice": null});
    let instruments = instruments();
    let body = envelope(std::slice::from_ref(&bare));
    let t = run(KIND_TICKERS, &[("contracts", 200, &body)], &instruments);
    let r = find(&t, "XBTUSDTM");
    for (what, v) in [
        ("last", r.last),
        ("bid", r.bid),
        ("mark", r.mark),
        ("index", r.index),
        ("volume_24h_base", r.volume_24h_base),
        ("volume_24h_quote", r.volume_24h_quote),
        ("open_interest_base", r.open_interest_base),
        ("open_interest_quote", r.open_interest_quote),
    ] {
        assert_eq!(v, ROption::RNone, "{what}");
    }
    let f = run(KIND_FUNDING, &[("contracts", 200, &body)], &instruments);
    let r = find(&f, "XBTUSDTM");
    for (what, v) in [
        ("rate", r.rate),
        ("predicted_rate", r.predicted_rate),
        ("rate_cap", r.rate_cap),
        ("rate_floor", r.rate_floor),
    ] {
        assert_eq!(v, ROption::RNone, "{what}");
    }
    assert_eq!(r.next_funding_ts, ROption::RNone);
    let i = instruments_of(&[bare]);
    assert_eq!(
        (i[0].contract_size, i[0].tick_size),
        (ROption::RNone, ROption::RNone)
    );
}

#[test]
fn garbage_bodies_are_parse_errors() {
    let instruments = instruments();
    let good = fixture("contracts-active.json");
    let truncated = &good[..good.len() / 2];
    let cases: [(&str, &str); 12] = [
        ("empty body", ""),
        (
            "HTML page",
            "<!DOCTYPE html><html><body>Just a moment...</body></html>",
        ),
        ("plain text", "upstream connect error"),
        ("truncated JSON", truncated),
        ("data is an object", r#"{"code":"200000","data":{}}"#),
        ("no data", r#"{"code":"200000"}"#),
        ("data null", r#"{"code":"200000","data":null}"#),
        ("no code", r#"{"data":[]}"#),
        ("top-level array", "[]"),
        (
            "rows are strings",
            r#"{"code":"200000","data":["XBTUSDTM"]}"#,
        ),
        (
            "row without symbol",
            r#"{"code":"200000","data":[{"markPrice":1}]}"#,
        ),
        (
            "number field is an object",
            r#"{"code":"200000","data":[{"symbol":"XBTUSDTM","markPrice":{"x":1},"price":{"x":1}}]}"#,
        ),
    ];
    for (kind, tag) in [
        (KIND_INSTRUMENTS, "contracts"),
        (KIND_TICKERS, "contracts"),
        (KIND_TICKERS, "allTickers"),
        (KIND_FUNDING, "contracts"),
    ] {
        for (case, body) in cases {
            let out = run(kind, &[(tag, 200, body)], &instruments);
            assert_only_error(
                &out,
                ErrorClass::PARSE,
                "",
                tag,
                &format!("{kind}/{tag}: {case}"),
            );
        }
    }
}

#[test]
fn error_envelopes_and_http_failures_are_classified() {
    let instruments = instruments();
    let cases: [(u16, &str, ErrorClass); 6] = [
        (429, "429000", ErrorClass::RATE_LIMITED),
        (200, "429000", ErrorClass::RATE_LIMITED),
        (200, "500000", ErrorClass::TRANSIENT),
        (400, "400100", ErrorClass::PERMANENT),
        (200, "400100", ErrorClass::PERMANENT),
        (404, "404000", ErrorClass::PERMANENT),
    ];
    for (kind, tag) in [
        (KIND_INSTRUMENTS, "contracts"),
        (KIND_TICKERS, "allTickers"),
        (KIND_FUNDING, "contracts"),
    ] {
        for (status, code, class) in cases {
            let body = format!(r#"{{"code":"{code}","msg":"Something went wrong"}}"#);
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

//! Table-driven tests of the Kraken Futures plugin over raw exchange JSON.
//!
//! Owns: the proof that every kind maps the recorded Kraken rows field by field (expected values
//! are read from the fixture JSON itself), that the exchange's pitfalls are handled (an
//! ABSOLUTE `fundingRate` converted with the mark price — divided on linear `PF_`, multiplied
//! on inverse `PI_` —, relative fields preferred when served, hourly funding, `XBT` → `BTC`,
//! dated futures that share the perpetuals' type, contract units), and that every malformed or
//! refused body is a classified error, never a panic.
//! Must not: copy fixtures into the repository (they are read from `../shared` at run time) or
//! reach the network.

use fc_plugin_krakenfutures::{
    base_of, build_requests, info, next_full_hour, parse, relative_rate, API_PREFIX,
    CONVERSION_DIVIDED_BY_MARK, CONVERSION_SERVED_RELATIVE, CONVERSION_TIMES_MARK,
    EXTRA_CONTRACT_TYPE, EXTRA_FUNDING_CONVERSION, EXTRA_FUNDING_RATE_ABSOLUTE,
    EXTRA_NEXT_FUNDING_DERIVED, EXTRA_OI_BASE_DERIVED, EXTRA_OI_QUOTE_DERIVED, EXTRA_SUSPENDED,
    EXTRA_TRADEABLE, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS, PATH_INSTRUMENTS, PATH_TICKERS,
    TAG_INSTRUMENTS, TAG_TICKERS,
};
use plugin_api::{
    abi_stable::std_types::{ROption, RSlice, RStr},
    Context, ErrorClass, HttpResponse, IntervalSource, MarketType, ParseOutput, Record,
};
use serde_json::{json, Value};

const NOW: i64 = 1_763_400_000_000;
const RECEIVED: i64 = 1_763_339_680_000;

fn fixture(name: &str) -> Value {
    plugin_kit::fixtures::json("krakenfutures", name)
}

/// The recorded instrument rows, by symbol.
fn instrument_row(symbol: &str) -> Value {
    fixture("instruments.json")["instruments"]
        .as_array()
        .expect("instruments")
        .iter()
        .find(|r| r["symbol"] == symbol)
        .cloned()
        .unwrap_or_else(|| panic!("{symbol} in instruments.json"))
}

/// The recorded ticker rows, by symbol.
fn ticker_row(symbol: &str) -> Value {
    fixture("tickers.json")["tickers"]
        .as_array()
        .expect("tickers")
        .iter()
        .find(|r| r["symbol"] == symbol)
        .cloned()
        .unwrap_or_else(|| panic!("{symbol} in tickers.json"))
}

/// The PF_ row ccxt's `parseFundingRate` documents (exchange-notes §13.5).
fn enj_ticker() -> Value {
    json!({"symbol":"PF_ENJUSD","last":0.0433,"lastTime":"2025-10-22T11:02:25.599Z",
        "tag":"perpetual","pair":"ENJ:USD","markPrice":0.0434,"bid":0.0433,"bidSize":4609,
        "ask":0.0435,"askSize":4609,"vol24h":1696,"volumeQuote":73.5216,
        "openInterest":72513.0,"open24h":0.0435,"high24h":0.0435,"low24h":0.0433,
        "lastSize":1272,"fundingRate":-0.000000756414717067,
        "fundingRatePrediction":0.000000195218676,"suspended":false,"indexPrice":0.043391,
        "postOnly":false,"change24h":-0.46})
}

fn enj_instrument() -> Value {
    let mut row = instrument_row("PF_ETHUSD");
    row["symbol"] = json!("PF_ENJUSD");
    row["base"] = json!("ENJ");
    row["pair"] = json!("ENJ:USD");
    row
}

fn instruments_body(rows: &[Value], server_time: Option<&str>) -> String {
    let mut body = json!({"result": "success", "instruments": rows});
    if let Some(t) = server_time {
        body["serverTime"] = json!(t);
    }
    body.to_string()
}

fn tickers_body(rows: &[Value], server_time: &str) -> String {
    json!({"result": "success", "serverTime": server_time, "tickers": rows}).to_string()
}

fn ctx(instruments: &[Record]) -> Context<'_> {
    Context {
        exchange_id: RStr::from_str("krakenfutures"),
        now_ms: NOW,
        instruments: RSlice::from_slice(instruments),
        options: RSlice::from_slice(&[]),
        credentials: ROption::RNone,
    }
}

fn run_status(kind: &str, status: u16, text: &str, instruments: &[Record]) -> ParseOutput {
    let reqs = build_requests(kind, &ctx(&[])).expect("known kind");
    let response = HttpResponse {
        request: &reqs[0],
        status,
        headers: RSlice::from_slice(&[]),
        body: RSlice::from_slice(text.as_bytes()),
        received_ts: RECEIVED,
    };
    parse(kind, &[response], &ctx(instruments))
}

fn run(kind: &str, text: &str, instruments: &[Record]) -> ParseOutput {
    run_status(kind, 200, text, instruments)
}

fn instruments_of(rows: &[Value]) -> Vec<Record> {
    let out = run(KIND_INSTRUMENTS, &instruments_body(rows, None), &[]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let mut records: Vec<Record> = out.records.into_iter().collect();
    records.sort_by(|a, b| a.raw_symbol.cmp(&b.raw_symbol));
    records
}

/// The recorded instrument list as the host would hand it back.
fn recorded_instruments() -> Vec<Record> {
    let rows = fixture("instruments.json")["instruments"]
        .as_array()
        .expect("instruments")
        .clone();
    let mut list = instruments_of(&rows);
    let extra = instruments_of(&[enj_instrument()]);
    list.extend(extra);
    list.sort_by(|a, b| a.raw_symbol.cmp(&b.raw_symbol));
    list
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
        .unwrap_or_else(|| panic!("`{key}` is a number in {v}"))
}

fn ms(iso: &str) -> i64 {
    plugin_kit::time::iso8601_ms(iso).expect("ISO time")
}

fn assert_close(got: ROption<f64>, want: f64, what: &str) {
    let got = got
        .into_option()
        .unwrap_or_else(|| panic!("{what} is absent"));
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1e-300),
        "{what}: {got} != {want}"
    );
}

fn warnings(out: &ParseOutput) -> String {
    out.warnings
        .iter()
        .map(|w| w.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_only_error(out: &ParseOutput, class: ErrorClass, tag: &str, case: &str) {
    assert_eq!(out.errors.len(), 1, "{case}: {:?}", out.errors);
    let e = &out.errors[0];
    assert_eq!(e.class, class, "{case}: {e}");
    assert_eq!(e.request_tag.as_str(), tag, "{case}: {e}");
    assert!(out.records.is_empty(), "{case}: {:?}", out.records);
}

// ------------------------------------------------------------------------------------------
// info and requests
// ------------------------------------------------------------------------------------------

#[test]
fn info_describes_kraken_futures_hourly_funding_and_its_budget() {
    let info = info();
    assert_eq!(info.exchange_id.as_str(), "krakenfutures");
    assert_eq!(info.default_base_url.as_str(), "https://futures.kraken.com");
    let kinds = plugin_kit::testing::kind_table(&info);
    let names: Vec<&str> = kinds.iter().map(|k| k.0).collect();
    assert_eq!(names, [KIND_INSTRUMENTS, KIND_TICKERS, KIND_FUNDING]);
    assert_eq!(info.rate_limits.len(), 1);
    let rule = &info.rate_limits[0];
    assert_eq!(rule.path_prefix.as_str(), API_PREFIX);
    // ccxt's 600 ms between requests (Kraken's own public limit is UNCONFIRMED).
    assert_eq!((rule.limit, rule.window_ms), (100, 60_000));
    // Hourly, not the 8 h most exchanges use.
    assert_eq!(info.default_funding_interval_hours, 1.0);
}

#[test]
fn each_kind_builds_its_one_request() {
    let cases = [
        (KIND_INSTRUMENTS, PATH_INSTRUMENTS, TAG_INSTRUMENTS),
        (KIND_TICKERS, PATH_TICKERS, TAG_TICKERS),
        (KIND_FUNDING, PATH_TICKERS, TAG_TICKERS),
    ];
    for (kind, path, tag) in cases {
        let reqs = build_requests(kind, &ctx(&[])).expect("known kind");
        assert_eq!(reqs.len(), 1, "{kind}");
        assert_eq!(reqs[0].path.as_str(), path, "{kind}");
        assert!(reqs[0].path.as_str().starts_with(API_PREFIX));
        assert_eq!(reqs[0].tag.as_str(), tag);
        assert_eq!(reqs[0].weight, 1);
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
    let list = recorded_instruments();
    // (raw, unified, market type, base)
    let cases = [
        (
            "PI_XBTUSD",
            "BTC/USD:BTC",
            MarketType::INVERSE_PERPETUAL,
            "BTC",
        ),
        (
            "PF_ETHUSD",
            "ETH/USD:USD",
            MarketType::LINEAR_PERPETUAL,
            "ETH",
        ),
        (
            "PF_PEPEUSD",
            "PEPE/USD:USD",
            MarketType::LINEAR_PERPETUAL,
            "PEPE",
        ),
        // ccxt upper-cases the code read from the symbol (`AAPLx` → `AAPLX`).
        (
            "PF_AAPLxUSD",
            "AAPLX/USD:USD",
            MarketType::LINEAR_PERPETUAL,
            "AAPLX",
        ),
    ];
    assert_eq!(list.len(), cases.len() + 1);
    for (raw, symbol, market_type, base) in cases {
        let row = instrument_row(raw);
        let r = list
            .iter()
            .find(|r| r.raw_symbol.as_str() == raw)
            .unwrap_or_else(|| panic!("{raw}"));
        assert_eq!(r.symbol.as_str(), symbol, "{raw}");
        assert_eq!(r.market_type, market_type, "{raw}");
        assert_eq!(r.base.as_str(), base, "{raw}");
        assert_close(r.contract_size, f(&row, "contractSize"), raw);
        assert_close(r.tick_size, f(&row, "tickSize"), raw);
        assert_eq!(r.status, ROption::RSome("trading".into()), "{raw}");
        assert_eq!(extra(r, EXTRA_TRADEABLE), Some("true"), "{raw}");
        assert_eq!(extra(r, EXTRA_CONTRACT_TYPE), row["type"].as_str(), "{raw}");
        let opening = row["openingDate"].as_str().expect("openingDate");
        assert_eq!(r.listing_ts, ROption::RSome(ms(opening)), "{raw}");
        let cap = f(&row, "maxRelativeFundingRate");
        assert_eq!(
            (r.rate_cap, r.rate_floor),
            (ROption::RSome(cap), ROption::RSome(-cap)),
            "{raw}"
        );
        // Kraken states no interval per instrument: none on the instrument record.
        assert_eq!(r.interval_hours, ROption::RNone, "{raw}");
    }
}

#[test]
fn base_is_the_symbols_middle_part_minus_usd() {
    let cases = [
        ("PF_XBTUSD", Some("XBT")),
        ("PI_ETHUSD", Some("ETH")),
        ("pi_xbtusd", Some("xbt")),
        ("PF_AAPLxUSD", Some("AAPLx")),
        ("PF_USD", None),
        ("PF_XBTEUR", None),
        ("XBTUSD", None),
        ("", None),
    ];
    for (symbol, want) in cases {
        assert_eq!(base_of(symbol), want, "{symbol}");
    }
    // A legacy lower-case symbol unifies like ccxt's (upper-cased, XBT → BTC).
    let mut row = instrument_row("PI_XBTUSD");
    row["symbol"] = json!("pi_xbtusd");
    let list = instruments_of(&[row]);
    assert_eq!(list[0].symbol.as_str(), "BTC/USD:BTC");
    assert_eq!(list[0].raw_symbol.as_str(), "pi_xbtusd");
}

#[test]
fn dated_futures_and_indices_are_never_perpetuals() {
    let mut dated_inverse = instrument_row("PI_XBTUSD");
    dated_inverse["symbol"] = json!("FI_XBTUSD_260327");
    dated_inverse["lastTradingTime"] = json!("2026-03-27T16:00:00.000Z");
    // The naive reading: same type as the perpetuals (`flexible_futures`) means perpetual.
    let mut dated_linear = instrument_row("PF_ETHUSD");
    dated_linear["symbol"] = json!("FF_ETHUSD_260327");
    dated_linear["lastTradingTime"] = json!("2026-03-27T16:00:00.000Z");
    // A dated symbol whose row lost its lastTradingTime is still dated.
    let mut dated_untimed = instrument_row("PF_ETHUSD");
    dated_untimed["symbol"] = json!("FF_XBTUSD_260626");
    let index = json!({"symbol": "in_xbtusd", "type": "spot index", "tradeable": false});
    let settlement = json!({"symbol": "rr_xbtusd", "type": "settlement index", "tradeable": false});
    let mut strange = instrument_row("PF_ETHUSD");
    strange["symbol"] = json!("PX_ETHUSD");
    strange["type"] = json!("options_something");
    let rows = [
        instrument_row("PI_XBTUSD"),
        dated_inverse,
        dated_linear,
        dated_untimed,
        index,
        settlement,
        strange,
        instrument_row("PF_ETHUSD"),
    ];
    let out = run(KIND_INSTRUMENTS, &instruments_body(&rows, None), &[]);
    let mut got: Vec<&str> = out.records.iter().map(|r| r.raw_symbol.as_str()).collect();
    got.sort_unstable();
    assert_eq!(got, ["PF_ETHUSD", "PI_XBTUSD"]);
    let w = warnings(&out);
    assert!(
        w.contains("dated") && w.contains("FF_ETHUSD_260327") && w.contains("FI_XBTUSD_260327"),
        "{w}"
    );
    assert!(w.contains("FF_XBTUSD_260626"), "{w}");
    assert!(w.contains("PX_ETHUSD (options_something)"), "{w}");
    assert!(
        !w.contains("in_xbtusd"),
        "indices are not worth a warning: {w}"
    );
}

#[test]
fn untradeable_contracts_are_pre_launch_or_halted() {
    let server = "2025-11-17T00:34:37.524Z";
    let cases = [
        ("2026-01-01T00:00:00Z", Some(server), "pre_launch"),
        ("2022-03-22T13:18:45Z", Some(server), "halted"),
        ("2026-01-01T00:00:00Z", None, "halted"),
    ];
    for (opening, server_time, want) in cases {
        let mut row = instrument_row("PF_ETHUSD");
        row["tradeable"] = json!(false);
        row["openingDate"] = json!(opening);
        let out = run(
            KIND_INSTRUMENTS,
            &instruments_body(&[row], server_time),
            &[],
        );
        let r = find(&out, "PF_ETHUSD");
        assert_eq!(r.status, ROption::RSome(want.into()), "{opening}");
        assert_eq!(extra(r, EXTRA_TRADEABLE), Some("false"));
    }
}

// ------------------------------------------------------------------------------------------
// funding: the absolute rate
// ------------------------------------------------------------------------------------------

#[test]
fn absolute_funding_is_converted_per_contract_kind() {
    let list = recorded_instruments();
    let pi = ticker_row("PI_XBTUSD");
    let pf = ticker_row("PF_ETHUSD");
    let enj = enj_ticker();
    let server = "2025-11-17T00:34:37.524Z";
    let out = run(
        KIND_FUNDING,
        &tickers_body(&[pi.clone(), pf.clone(), enj.clone()], server),
        &list,
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    // (row, fraction of the current hour, of the next hour, conversion)
    let pi_mark = f(&pi, "markPrice");
    let cases = [
        (
            &pi,
            f(&pi, "fundingRate") * pi_mark,
            f(&pi, "fundingRatePrediction") * pi_mark,
            CONVERSION_TIMES_MARK,
        ),
        (
            &pf,
            f(&pf, "fundingRate") / f(&pf, "markPrice"),
            f(&pf, "fundingRatePrediction") / f(&pf, "markPrice"),
            CONVERSION_DIVIDED_BY_MARK,
        ),
        (
            &enj,
            f(&enj, "fundingRate") / f(&enj, "markPrice"),
            f(&enj, "fundingRatePrediction") / f(&enj, "markPrice"),
            CONVERSION_DIVIDED_BY_MARK,
        ),
    ];
    for (row, rate, predicted, how) in cases {
        let raw = row["symbol"].as_str().expect("symbol");
        let r = find(&out, raw);
        assert_close(r.rate, rate, raw);
        assert_close(r.predicted_rate, predicted, raw);
        assert_eq!(extra(r, EXTRA_FUNDING_CONVERSION), Some(how), "{raw}");
        // The absolute amount is kept as served, never published as the rate.
        let absolute = f(row, "fundingRate");
        assert_eq!(
            extra(r, EXTRA_FUNDING_RATE_ABSOLUTE),
            Some(absolute.to_string().as_str())
        );
        assert_ne!(r.rate, ROption::RSome(absolute), "{raw}: the naive reading");
        assert_close(r.mark, f(row, "markPrice"), raw);
        assert_close(r.index, f(row, "indexPrice"), raw);
    }
    // PF_ENJUSD: -7.56e-7 USD per contract at 0.0434 is -0.00174 % per hour.
    assert_close(
        find(&out, "PF_ENJUSD").rate,
        -0.000_017_428_910_531_59,
        "ENJ",
    );
    // The inverse trap: ccxt's division gives -4.4e-14 for PI_XBTUSD, a rate of zero in
    // practice; the product gives -0.0366 % per hour.
    let naive = f(&pi, "fundingRate") / pi_mark;
    let r = find(&out, "PI_XBTUSD").rate.into_option().expect("rate");
    assert!(
        naive.abs() < 1e-13 && (r + 3.656_e-4).abs() < 1e-6,
        "{r} vs {naive}"
    );
}

#[test]
fn inverse_conversion_reproduces_the_recorded_relative_rate() {
    // The WebSocket ticker serves both forms: funding_rate × markPrice ≈ relative_funding_rate.
    let ws = fixture("ws-ticker.json");
    let mark = f(&ws, "markPrice");
    let cases = [
        ("funding_rate", "relative_funding_rate"),
        (
            "funding_rate_prediction",
            "relative_funding_rate_prediction",
        ),
    ];
    for (absolute, relative) in cases {
        let want = f(&ws, relative);
        let got = relative_rate(f(&ws, absolute), mark, true).expect("converted");
        assert!(
            ((got - want) / want).abs() < 0.01,
            "{absolute}: {got} vs {relative} {want}"
        );
        let naive = relative_rate(f(&ws, absolute), mark, false).expect("divided");
        assert!(((naive - want) / want).abs() > 0.99, "{naive} vs {want}");
    }
    assert_eq!(relative_rate(1.0, 0.0, false), None);
    assert_eq!(relative_rate(1.0, -2.0, true), None);
    assert_eq!(relative_rate(1.0, f64::NAN, true), None);
}

#[test]
fn relative_fields_are_used_as_served_when_a_ticker_has_them() {
    let list = recorded_instruments();
    let mut pi = ticker_row("PI_XBTUSD");
    pi["relativeFundingRate"] = json!(-1.380384722222e-6);
    pi["relativeFundingRatePrediction"] = json!(-8.047629166667e-6);
    let out = run(
        KIND_FUNDING,
        &tickers_body(&[pi], "2025-11-17T00:34:37.524Z"),
        &list,
    );
    let r = find(&out, "PI_XBTUSD");
    assert_close(r.rate, -1.380384722222e-6, "rate");
    assert_close(r.predicted_rate, -8.047629166667e-6, "predicted");
    assert_eq!(
        extra(r, EXTRA_FUNDING_CONVERSION),
        Some(CONVERSION_SERVED_RELATIVE)
    );
}

#[test]
fn funding_is_hourly_and_settles_at_the_next_full_hour() {
    let list = recorded_instruments();
    let cases = [
        ("2025-11-17T00:34:37.524Z", "2025-11-17T01:00:00.000Z"),
        ("2025-11-17T23:59:59.999Z", "2025-11-18T00:00:00.000Z"),
        // On the hour, the hour that just began settles an hour later.
        ("2025-11-17T05:00:00.000Z", "2025-11-17T06:00:00.000Z"),
    ];
    for (server, next) in cases {
        let out = run(
            KIND_FUNDING,
            &tickers_body(&[ticker_row("PF_ETHUSD")], server),
            &list,
        );
        let r = find(&out, "PF_ETHUSD");
        assert_eq!(r.exchange_ts, ROption::RSome(ms(server)), "{server}");
        assert_eq!(r.next_funding_ts, ROption::RSome(ms(next)), "{server}");
        assert_eq!(extra(r, EXTRA_NEXT_FUNDING_DERIVED), Some("true"));
        // Naive: 8 h, as most exchanges.
        assert_eq!(r.interval_hours, ROption::RSome(1.0), "{server}");
        assert_eq!(r.interval_source, ROption::RSome(IntervalSource::DEFAULT));
        assert_eq!(
            (r.rate_cap, r.rate_floor),
            (ROption::RSome(0.0025), ROption::RSome(-0.0025))
        );
        assert_eq!(
            (r.rate_8h, r.rate_annualized),
            (ROption::RNone, ROption::RNone)
        );
    }
    // Without a server time, the hour after the response was received (an empty or null
    // error word on a success is no error).
    let body =
        json!({"result": "success", "error": "", "tickers": [ticker_row("PF_ETHUSD")]}).to_string();
    let out = run(KIND_FUNDING, &body, &list);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let r = find(&out, "PF_ETHUSD");
    assert_eq!(r.exchange_ts, ROption::RNone);
    assert_eq!(r.next_funding_ts, next_full_hour(RECEIVED).into());
    assert_eq!(next_full_hour(RECEIVED), Some(1_763_341_200_000));
}

#[test]
fn funding_without_a_mark_price_has_no_rate() {
    let list = recorded_instruments();
    let mut row = ticker_row("PF_ETHUSD");
    row["markPrice"] = Value::Null;
    let out = run(
        KIND_FUNDING,
        &tickers_body(&[row], "2025-11-17T00:34:37.524Z"),
        &list,
    );
    let r = find(&out, "PF_ETHUSD");
    // Never the absolute amount as a fraction.
    assert_eq!((r.rate, r.predicted_rate), (ROption::RNone, ROption::RNone));
    assert_eq!(extra(r, EXTRA_FUNDING_RATE_ABSOLUTE), Some("0.000015"));
    assert_eq!(extra(r, EXTRA_FUNDING_CONVERSION), None);
    assert!(warnings(&out).contains("unconverted"), "{}", warnings(&out));
}

// ------------------------------------------------------------------------------------------
// tickers
// ------------------------------------------------------------------------------------------

#[test]
fn tickers_match_fixture_in_each_contracts_units() {
    let list = recorded_instruments();
    let server = "2025-11-17T00:34:37.524Z";
    let pi = ticker_row("PI_XBTUSD");
    let pf = ticker_row("PF_ETHUSD");
    let out = run(
        KIND_TICKERS,
        &tickers_body(&[pi.clone(), pf.clone()], server),
        &list,
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    for row in [&pi, &pf] {
        let raw = row["symbol"].as_str().expect("symbol");
        let r = find(&out, raw);
        assert_eq!(r.exchange_ts, ROption::RSome(ms(server)), "{raw}");
        assert_close(r.last, f(row, "last"), raw);
        assert_close(r.bid, f(row, "bid"), raw);
        assert_close(r.ask, f(row, "ask"), raw);
        assert_close(r.mark, f(row, "markPrice"), raw);
        assert_close(r.index, f(row, "indexPrice"), raw);
    }
    // Inverse: contracts are USD; no base volume is served (volumeQuote's unit there is
    // UNCONFIRMED), base open interest is USD ÷ mark.
    let r = find(&out, "PI_XBTUSD");
    assert_close(r.volume_24h_quote, f(&pi, "vol24h"), "PI volume quote");
    assert_eq!(r.volume_24h_base, ROption::RNone);
    assert_close(r.open_interest_quote, f(&pi, "openInterest"), "PI oi quote");
    assert_close(
        r.open_interest_base,
        f(&pi, "openInterest") / f(&pi, "markPrice"),
        "PI oi base",
    );
    assert_eq!(extra(r, EXTRA_OI_BASE_DERIVED), Some("true"));
    // Linear: contracts are coins; quote volume served, quote open interest at the mark.
    let r = find(&out, "PF_ETHUSD");
    assert_close(r.volume_24h_base, f(&pf, "vol24h"), "PF volume base");
    assert_close(r.volume_24h_quote, f(&pf, "volumeQuote"), "PF volume quote");
    assert_close(r.open_interest_base, f(&pf, "openInterest"), "PF oi base");
    assert_close(
        r.open_interest_quote,
        f(&pf, "openInterest") * f(&pf, "markPrice"),
        "PF oi quote",
    );
    assert_eq!(extra(r, EXTRA_OI_QUOTE_DERIVED), Some("true"));
    assert_eq!(extra(r, EXTRA_SUSPENDED), None);
}

#[test]
fn contract_sizes_scale_volumes_and_open_interest() {
    // A contract of 0.001 coin (linear) and of 10 USD (inverse): the naive reading takes the
    // contract counts as coins and USD.
    let mut pf = instrument_row("PF_ETHUSD");
    pf["contractSize"] = json!(0.001);
    let mut pi = instrument_row("PI_XBTUSD");
    pi["contractSize"] = json!(10);
    let list = instruments_of(&[pf, pi]);
    let server = "2025-11-17T00:34:37.524Z";
    let (tpf, tpi) = (ticker_row("PF_ETHUSD"), ticker_row("PI_XBTUSD"));
    let out = run(
        KIND_TICKERS,
        &tickers_body(&[tpf.clone(), tpi.clone()], server),
        &list,
    );
    let r = find(&out, "PF_ETHUSD");
    assert_close(r.volume_24h_base, f(&tpf, "vol24h") * 0.001, "PF volume");
    assert_close(
        r.open_interest_base,
        f(&tpf, "openInterest") * 0.001,
        "PF oi",
    );
    let r = find(&out, "PI_XBTUSD");
    assert_close(r.volume_24h_quote, f(&tpi, "vol24h") * 10.0, "PI volume");
    assert_close(
        r.open_interest_quote,
        f(&tpi, "openInterest") * 10.0,
        "PI oi",
    );
}

#[test]
fn dated_index_and_unknown_ticker_rows_are_summarised() {
    let list = recorded_instruments();
    let mut dated = ticker_row("PI_XBTUSD");
    dated["symbol"] = json!("FI_XBTUSD_260327");
    dated["tag"] = json!("quarter");
    let index =
        json!({"symbol": "in_xbtusd", "last": 91468.0, "lastTime": "2025-11-17T00:34:36.000Z"});
    let mut unknown = ticker_row("PF_ETHUSD");
    unknown["symbol"] = json!("PF_NEWUSD");
    let mut suspended = ticker_row("PF_ETHUSD");
    suspended["suspended"] = json!(true);
    suspended["bid"] = Value::Null;
    suspended["ask"] = Value::Null;
    let rows = [dated, index, unknown, suspended];
    for kind in [KIND_TICKERS, KIND_FUNDING] {
        let out = run(
            kind,
            &tickers_body(&rows, "2025-11-17T00:34:37.524Z"),
            &list,
        );
        assert_eq!(out.records.len(), 1, "{kind}: {:?}", out.records);
        let w = warnings(&out);
        assert!(
            w.contains("FI_XBTUSD_260327") && w.contains("in_xbtusd"),
            "{w}"
        );
        assert!(
            w.contains("not in the instrument list") && w.contains("PF_NEWUSD"),
            "{w}"
        );
    }
    let out = run(
        KIND_TICKERS,
        &tickers_body(&rows, "2025-11-17T00:34:37.524Z"),
        &list,
    );
    let r = find(&out, "PF_ETHUSD");
    assert_eq!(extra(r, EXTRA_SUSPENDED), Some("true"));
    assert_eq!((r.bid, r.ask), (ROption::RNone, ROption::RNone));
}

// ------------------------------------------------------------------------------------------
// absent values and malformed input
// ------------------------------------------------------------------------------------------

#[test]
fn missing_values_are_none_not_zero() {
    let bare_instrument = json!({"symbol": "PF_ETHUSD", "type": "flexible_futures"});
    let list = instruments_of(std::slice::from_ref(&bare_instrument));
    let r = &list[0];
    assert_eq!(
        (
            r.contract_size,
            r.tick_size,
            r.listing_ts,
            r.rate_cap,
            r.rate_floor
        ),
        (
            ROption::RNone,
            ROption::RNone,
            ROption::RNone,
            ROption::RNone,
            ROption::RNone
        )
    );
    assert_eq!(r.status, ROption::RNone);
    let bare = json!({"symbol": "PF_ETHUSD", "tag": "perpetual", "last": null, "bid": "",
        "fundingRate": null});
    let body = tickers_body(&[bare], "2025-11-17T00:34:37.524Z");
    let t = run(KIND_TICKERS, &body, &list);
    let r = find(&t, "PF_ETHUSD");
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
    let fr = run(KIND_FUNDING, &body, &list);
    let r = find(&fr, "PF_ETHUSD");
    assert_eq!((r.rate, r.predicted_rate), (ROption::RNone, ROption::RNone));
    assert_eq!(extra(r, EXTRA_FUNDING_RATE_ABSOLUTE), None);
    assert_eq!((r.rate_cap, r.rate_floor), (ROption::RNone, ROption::RNone));
}

#[test]
fn garbage_bodies_are_parse_errors() {
    let list = recorded_instruments();
    let good_tickers = tickers_body(&[ticker_row("PF_ETHUSD")], "2025-11-17T00:34:37.524Z");
    let truncated = &good_tickers[..good_tickers.len() / 2];
    let cases: [(&str, &str); 10] = [
        ("empty body", ""),
        (
            "HTML page",
            "<!DOCTYPE html><html><body>Just a moment...</body></html>",
        ),
        ("plain text", "upstream connect error"),
        ("truncated JSON", truncated),
        ("an array", "[]"),
        ("null", "null"),
        (
            "success without the list",
            r#"{"result":"success","serverTime":"2025-11-17T00:34:37.524Z"}"#,
        ),
        (
            "rows are strings",
            r#"{"result":"success","tickers":["PF_ETHUSD"],"instruments":["PF_ETHUSD"]}"#,
        ),
        (
            "row without symbol",
            r#"{"result":"success","tickers":[{"last":1}],"instruments":[{"type":"flexible_futures"}]}"#,
        ),
        (
            "number field is an object",
            r#"{"result":"success","tickers":[{"symbol":"PF_ETHUSD","markPrice":{"x":1}}],"instruments":[{"symbol":"PF_ETHUSD","tickSize":{"x":1}}]}"#,
        ),
    ];
    for (kind, tag) in [
        (KIND_INSTRUMENTS, TAG_INSTRUMENTS),
        (KIND_TICKERS, TAG_TICKERS),
        (KIND_FUNDING, TAG_TICKERS),
    ] {
        for (case, text) in cases {
            let out = run_status(kind, 200, text, &list);
            assert_only_error(&out, ErrorClass::PARSE, tag, &format!("{kind}: {case}"));
        }
    }
}

#[test]
fn error_words_and_http_failures_are_classified() {
    let list = recorded_instruments();
    let word = |w: &str| {
        json!({"result": "error", "serverTime": "2025-11-17T00:34:37.524Z", "error": w}).to_string()
    };
    let listed = json!({"result": "error",
        "errors": [{"code": 92, "message": "INSUFFICIENT_MARGIN"}]})
    .to_string();
    let cases: Vec<(u16, String, ErrorClass, &str)> = vec![
        (
            200,
            word("apiLimitExceeded"),
            ErrorClass::RATE_LIMITED,
            "apiLimitExceeded",
        ),
        (
            429,
            word("apiLimitExceeded"),
            ErrorClass::RATE_LIMITED,
            "apiLimitExceeded",
        ),
        (
            200,
            word("Unavailable"),
            ErrorClass::TRANSIENT,
            "Unavailable",
        ),
        (
            503,
            word("unavailable"),
            ErrorClass::TRANSIENT,
            "unavailable",
        ),
        (
            500,
            word("Server Error"),
            ErrorClass::TRANSIENT,
            "Server Error",
        ),
        (
            200,
            word("marketUnavailable"),
            ErrorClass::PERMANENT,
            "marketUnavailable",
        ),
        (
            400,
            word("invalidArgument"),
            ErrorClass::PERMANENT,
            "invalidArgument",
        ),
        (
            200,
            listed.clone(),
            ErrorClass::PERMANENT,
            "INSUFFICIENT_MARGIN",
        ),
        (500, listed, ErrorClass::TRANSIENT, "INSUFFICIENT_MARGIN"),
        (
            429,
            "Too Many Requests".into(),
            ErrorClass::RATE_LIMITED,
            "429",
        ),
        (503, "<html>503</html>".into(), ErrorClass::TRANSIENT, "503"),
        (404, "Not Found".into(), ErrorClass::PERMANENT, "404"),
    ];
    for (kind, tag) in [
        (KIND_INSTRUMENTS, TAG_INSTRUMENTS),
        (KIND_TICKERS, TAG_TICKERS),
        (KIND_FUNDING, TAG_TICKERS),
    ] {
        for (status, text, class, says) in &cases {
            let out = run_status(kind, *status, text, &list);
            let case = format!("{kind}: HTTP {status} {text}");
            assert_only_error(&out, *class, tag, &case);
            assert!(
                out.errors[0].message.contains(says),
                "{case}: {}",
                out.errors[0]
            );
        }
    }
}

//! Table-driven tests of the MEXC plugin over raw exchange JSON.
//!
//! Owns: the proof that every kind maps the recorded MEXC bodies field by field (expected values
//! are read from the fixture JSON itself), converts contracts with the contract size, reads the
//! funding interval from `collectCycle`, accepts JSON numbers, and classifies every malformed
//! or refused body without panicking.
//! Must not: copy fixtures into the repository (they are read from `../shared` at run time) or
//! reach the network. The plugin is called through the same functions the export macro wraps.

use fc_plugin_mexc::{
    build_requests, info, parse, EXTRA_API_ALLOWED, EXTRA_OI_QUOTE_DERIVED, EXTRA_RAW_STATE,
    EXTRA_TICKER_FUNDING_RATE, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS, PATH_CONTRACT,
    PATH_DETAIL, PATH_FUNDING_RATE, PATH_TICKER, WEIGHT_DETAIL, WEIGHT_FUNDING_RATE, WEIGHT_TICKER,
};
use plugin_api::{
    abi_stable::std_types::{ROption, RSlice, RStr},
    Context, ErrorClass, HttpRequest, HttpResponse, IntervalSource, MarketType, ParseOutput,
    Record, RecordKind,
};
use serde_json::{json, Value};

const NOW: i64 = 1_609_830_000_000;
const RECEIVED: i64 = 1_609_829_999_000;

// ------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------

fn fixture(name: &str) -> String {
    plugin_kit::fixtures::text("mexc", name)
}

fn rows(name: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(&fixture(name)).expect("fixture is JSON");
    v["data"].as_array().expect("a data array").clone()
}

fn envelope(data: Value) -> String {
    json!({"success": true, "code": 0, "data": data}).to_string()
}

fn f(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("`{key}` is a JSON number in {v}"))
}

fn ctx(instruments: &[Record]) -> Context<'_> {
    Context {
        exchange_id: RStr::from_str("mexc"),
        now_ms: NOW,
        instruments: RSlice::from_slice(instruments),
        options: RSlice::from_slice(&[]),
        credentials: ROption::RNone,
    }
}

fn request(kind: &str) -> HttpRequest {
    let mut requests = build_requests(kind, &ctx(&[])).expect("known kind");
    assert_eq!(requests.len(), 1);
    requests.remove(0)
}

fn run(kind: &str, status: u16, body: &str, instruments: &[Record]) -> ParseOutput {
    let request = request(kind);
    let response = HttpResponse {
        request: &request,
        status,
        headers: RSlice::from_slice(&[]),
        body: RSlice::from_slice(body.as_bytes()),
        received_ts: RECEIVED,
    };
    parse(kind, &[response], &ctx(instruments))
}

fn instruments_of(body: &str) -> Vec<Record> {
    let out = run(KIND_INSTRUMENTS, 200, body, &[]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let mut records: Vec<Record> = out.records.into_iter().collect();
    records.sort_by(|a, b| a.raw_symbol.cmp(&b.raw_symbol));
    records
}

fn recorded_instruments() -> Vec<Record> {
    instruments_of(&fixture("contract-detail.json"))
}

fn extra<'r>(record: &'r Record, key: &str) -> Option<&'r str> {
    record
        .extra
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str())
}

fn by_raw<'r>(records: &'r [Record], raw: &str) -> &'r Record {
    records
        .iter()
        .find(|r| r.raw_symbol.as_str() == raw)
        .unwrap_or_else(|| panic!("a record for {raw}"))
}

fn opt(v: ROption<f64>) -> Option<f64> {
    v.into_option()
}

/// One `detail` row in the recorded shape, with `overrides` applied.
fn detail_row(symbol: &str, base: &str, quote: &str, settle: &str, overrides: Value) -> Value {
    let mut row = json!({
        "symbol": symbol, "baseCoin": base, "quoteCoin": quote, "settleCoin": settle,
        "contractSize": 1, "priceUnit": 0.001, "state": 0, "isHidden": false, "apiAllowed": true
    });
    for (k, v) in overrides.as_object().unwrap() {
        row[k] = v.clone();
    }
    row
}

// ------------------------------------------------------------------------------------------
// info and requests
// ------------------------------------------------------------------------------------------

#[test]
fn info_and_requests_follow_ccxts_costs() {
    let info = info();
    assert_eq!(info.exchange_id.as_str(), "mexc");
    assert_eq!(info.default_base_url.as_str(), "https://api.mexc.com");
    let rules = info.rate_limits.as_slice();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].path_prefix.as_str(), PATH_CONTRACT);
    // 20 cost units per second, over a window a `detail` request (cost 100) fits in.
    assert_eq!((rules[0].limit, rules[0].window_ms), (200, 10_000));
    let cases = [
        (KIND_INSTRUMENTS, PATH_DETAIL, WEIGHT_DETAIL, 100),
        (KIND_TICKERS, PATH_TICKER, WEIGHT_TICKER, 2),
        (KIND_FUNDING, PATH_FUNDING_RATE, WEIGHT_FUNDING_RATE, 2),
    ];
    for (kind, path, weight, cost) in cases {
        let r = request(kind);
        assert_eq!(r.path.as_str(), path);
        assert!(r.query.is_empty(), "{kind}: bulk, no symbol");
        assert_eq!((r.weight, weight), (cost, cost));
    }
    assert_eq!(
        build_requests("open_interest", &ctx(&[]))
            .unwrap_err()
            .class,
        ErrorClass::PERMANENT
    );
}

// ------------------------------------------------------------------------------------------
// instruments
// ------------------------------------------------------------------------------------------

#[test]
fn instruments_map_the_recorded_rows_field_by_field() {
    let out = run(KIND_INSTRUMENTS, 200, &fixture("contract-detail.json"), &[]);
    assert!(out.errors.is_empty() && out.warnings.is_empty(), "{out:?}");
    let rows = rows("contract-detail.json");
    assert_eq!(out.records.len(), rows.len());
    for (row, r) in rows.iter().zip(out.records.iter()) {
        let base = row["baseCoin"].as_str().unwrap();
        assert_eq!(r.kind, RecordKind::INSTRUMENT);
        assert_eq!(r.raw_symbol.as_str(), row["symbol"].as_str().unwrap());
        assert_eq!(r.symbol.as_str(), format!("{base}/USDT:USDT"));
        assert_eq!(r.market_type, MarketType::LINEAR_PERPETUAL);
        assert_eq!(opt(r.contract_size), Some(f(row, "contractSize")));
        assert_eq!(opt(r.tick_size), Some(f(row, "priceUnit")));
        assert_eq!(
            r.status.as_ref().map(|s| s.as_str()),
            ROption::RSome("trading")
        );
        assert_eq!(extra(r, EXTRA_RAW_STATE), Some("0"));
        assert_eq!(extra(r, EXTRA_API_ALLOWED), None);
        assert!(r.listing_ts.is_none() && r.exchange_ts.is_none());
    }
}

#[test]
fn states_hidden_dated_and_inverse_contracts() {
    let body = envelope(json!([
        detail_row("BTC_USDT", "BTC", "USDT", "USDT", json!({})),
        detail_row("DLV_USDT", "DLV", "USDT", "USDT", json!({"state": 1})),
        detail_row("DONE_USDT", "DONE", "USDT", "USDT", json!({"state": 2})),
        detail_row("OFF_USDT", "OFF", "USDT", "USDT", json!({"state": 3})),
        detail_row(
            "PAUSE_USDT",
            "PAUSE",
            "USDT",
            "USDT",
            json!({"state": 4, "apiAllowed": false})
        ),
        detail_row(
            "HIDE_USDT",
            "HIDE",
            "USDT",
            "USDT",
            json!({"isHidden": true})
        ),
        detail_row("BTC_USDT_261225", "BTC", "USDT", "USDT", json!({})),
        detail_row(
            "ETH_USDT_Q",
            "ETH",
            "USDT",
            "USDT",
            json!({"futureType": 2})
        ),
        detail_row(
            "SOL_USDT",
            "SOL",
            "USDT",
            "USDT",
            json!({"futureType": 1, "openingTime": 1_600_000_000_000_i64})
        ),
        detail_row("BTC_USD", "BTC", "USD", "BTC", json!({"contractSize": 100})),
        detail_row("ODD_USDT", "ODD", "USDT", "USDC", json!({})),
    ]));
    let out = run(KIND_INSTRUMENTS, 200, &body, &[]);
    assert!(out.errors.is_empty());
    let status = |raw: &str| {
        by_raw(&out.records, raw)
            .status
            .as_ref()
            .map(|s| s.as_str().to_owned())
            .into_option()
    };
    let cases = [
        ("BTC_USDT", "trading"),
        ("DLV_USDT", "settling"),
        ("DONE_USDT", "delisted"),
        ("OFF_USDT", "delisted"),
        ("PAUSE_USDT", "halted"),
    ];
    for (raw, want) in cases {
        assert_eq!(status(raw).as_deref(), Some(want), "{raw}");
    }
    assert_eq!(
        extra(by_raw(&out.records, "PAUSE_USDT"), EXTRA_API_ALLOWED),
        Some("false")
    );
    assert_eq!(
        by_raw(&out.records, "SOL_USDT").listing_ts,
        ROption::RSome(1_600_000_000_000)
    );
    let inverse = by_raw(&out.records, "BTC_USD");
    assert_eq!(inverse.market_type, MarketType::INVERSE_PERPETUAL);
    assert_eq!(inverse.symbol.as_str(), "BTC/USD:BTC");
    assert_eq!(opt(inverse.contract_size), Some(100.0));
    let raws: Vec<&str> = out.records.iter().map(|r| r.raw_symbol.as_str()).collect();
    for skipped in ["HIDE_USDT", "BTC_USDT_261225", "ETH_USDT_Q", "ODD_USDT"] {
        assert!(!raws.contains(&skipped), "{skipped} is skipped");
    }
    let warnings = out
        .warnings
        .iter()
        .map(|w| w.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for skipped in ["HIDE_USDT", "BTC_USDT_261225", "ETH_USDT_Q", "ODD_USDT"] {
        assert!(warnings.contains(skipped), "{skipped} counted: {warnings}");
    }
}

/// MEXC's own currency table: `XBT` stays `XBT` (no common rename), `GAS` → `GASDAO`.
#[test]
fn mexc_currency_renames_apply() {
    let body = envelope(json!([
        detail_row("XBT_USDT", "XBT", "USDT", "USDT", json!({})),
        detail_row("GAS_USDT", "GAS", "USDT", "USDT", json!({})),
        detail_row("GMT_USDT", "GMT", "USDT", "USDT", json!({})),
    ]));
    let records = instruments_of(&body);
    let symbols: Vec<&str> = records.iter().map(|r| r.symbol.as_str()).collect();
    assert_eq!(
        symbols,
        ["GASDAO/USDT:USDT", "GMT Token/USDT:USDT", "XBT/USDT:USDT"]
    );
}

// ------------------------------------------------------------------------------------------
// tickers
// ------------------------------------------------------------------------------------------

/// Pitfalls: JSON numbers (integers too) and sizes in contracts. The naive reading publishes
/// `volume24` (40 146 908 contracts) as 40 million BTC.
#[test]
fn tickers_convert_contracts_field_by_field() {
    let instruments = recorded_instruments();
    let out = run(
        KIND_TICKERS,
        200,
        &fixture("contract-ticker.json"),
        &instruments,
    );
    assert!(out.errors.is_empty() && out.warnings.is_empty(), "{out:?}");
    let rows = rows("contract-ticker.json");
    assert_eq!(out.records.len(), rows.len());
    for row in &rows {
        let raw = row["symbol"].as_str().unwrap();
        let r = by_raw(&out.records, raw);
        let size = opt(by_raw(&instruments, raw).contract_size).unwrap();
        assert_eq!(r.kind, RecordKind::TICKER);
        assert_eq!(opt(r.last), Some(f(row, "lastPrice")));
        assert_eq!(opt(r.bid), Some(f(row, "bid1")));
        assert_eq!(opt(r.ask), Some(f(row, "ask1")));
        assert_eq!(opt(r.mark), Some(f(row, "fairPrice")));
        assert_eq!(opt(r.index), Some(f(row, "indexPrice")));
        assert_eq!(opt(r.volume_24h_base), Some(f(row, "volume24") * size));
        assert_eq!(opt(r.volume_24h_quote), Some(f(row, "amount24")));
        let oi = f(row, "holdVol") * size;
        assert_eq!(opt(r.open_interest_base), Some(oi));
        assert_eq!(opt(r.open_interest_quote), Some(oi * f(row, "fairPrice")));
        assert_eq!(extra(r, EXTRA_OI_QUOTE_DERIVED), Some("true"));
        assert_eq!(
            r.exchange_ts,
            ROption::RSome(row["timestamp"].as_i64().unwrap())
        );
        assert_eq!(
            extra(r, EXTRA_TICKER_FUNDING_RATE),
            Some(f(row, "fundingRate").to_string().as_str())
        );
        assert!(r.rate.is_none(), "funding belongs to the funding kind");
    }
    let btc = by_raw(&out.records, "BTC_USDT");
    assert!((opt(btc.volume_24h_base).unwrap() - 4014.6908).abs() < 1e-9);
}

/// With `symbol=` MEXC answers `data` as one object: accepted as one row.
#[test]
fn a_single_object_data_is_one_row() {
    let instruments = recorded_instruments();
    let row = rows("contract-ticker.json").remove(0);
    let body = envelope(row);
    let out = run(KIND_TICKERS, 200, &body, &instruments);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.records.len(), 1);
    assert_eq!(opt(out.records[0].last), Some(31199.0));
}

#[test]
fn inverse_tickers_count_usd_contracts() {
    let instruments = instruments_of(&envelope(json!([detail_row(
        "BTC_USD",
        "BTC",
        "USD",
        "BTC",
        json!({"contractSize": 100})
    )])));
    let body = envelope(
        json!([{"symbol": "BTC_USD", "lastPrice": 50000, "fairPrice": 50000.0,
        "indexPrice": 49990.5, "volume24": 2000, "amount24": 4.1, "holdVol": 1500,
        "timestamp": 1609831334016_i64}]),
    );
    let out = run(KIND_TICKERS, 200, &body, &instruments);
    let r = &out.records[0];
    assert_eq!(opt(r.volume_24h_quote), Some(200_000.0));
    assert_eq!(opt(r.volume_24h_base), Some(4.1));
    assert_eq!(opt(r.open_interest_quote), Some(150_000.0));
    assert_eq!(opt(r.open_interest_base), Some(3.0));
    // Not served: absent, never 0.
    assert!(r.bid.is_none() && r.ask.is_none());
}

#[test]
fn unknown_contracts_are_counted_not_published() {
    let out = run(KIND_TICKERS, 200, &fixture("contract-ticker.json"), &[]);
    assert!(out.records.is_empty() && out.errors.is_empty());
    assert!(out.warnings[0].contains("BTC_USDT"));
}

// ------------------------------------------------------------------------------------------
// funding
// ------------------------------------------------------------------------------------------

#[test]
fn funding_maps_rate_caps_interval_and_settlement_field_by_field() {
    let instruments = recorded_instruments();
    let out = run(
        KIND_FUNDING,
        200,
        &fixture("funding-rate-all.json"),
        &instruments,
    );
    assert!(out.errors.is_empty() && out.warnings.is_empty(), "{out:?}");
    let rows = rows("funding-rate-all.json");
    assert_eq!(out.records.len(), rows.len());
    for row in &rows {
        let r = by_raw(&out.records, row["symbol"].as_str().unwrap());
        assert_eq!(r.kind, RecordKind::FUNDING);
        assert_eq!(opt(r.rate), Some(f(row, "fundingRate")));
        assert_eq!(opt(r.rate_cap), Some(f(row, "maxFundingRate")));
        assert_eq!(opt(r.rate_floor), Some(f(row, "minFundingRate")));
        assert_eq!(opt(r.interval_hours), Some(f(row, "collectCycle")));
        assert_eq!(r.interval_source, ROption::RSome(IntervalSource::REPORTED));
        assert_eq!(
            r.next_funding_ts,
            ROption::RSome(row["nextSettleTime"].as_i64().unwrap())
        );
        assert_eq!(
            r.exchange_ts,
            ROption::RSome(row["timestamp"].as_i64().unwrap())
        );
        assert!(r.predicted_rate.is_none(), "MEXC serves no prediction");
    }
}

/// Pitfall: the interval is `collectCycle` hours per contract, never an assumed 8 h; without
/// it the interval is absent (the host applies its marked default).
#[test]
fn collect_cycle_is_the_interval() {
    let instruments = recorded_instruments();
    let body = envelope(json!([
        {"symbol": "BTC_USDT", "fundingRate": 0.0001, "collectCycle": 4, "nextSettleTime": 1609833600000_i64},
        {"symbol": "ETH_USDT", "fundingRate": 0.0001, "nextSettleTime": 1609833600000_i64}
    ]));
    let out = run(KIND_FUNDING, 200, &body, &instruments);
    let btc = by_raw(&out.records, "BTC_USDT");
    assert_eq!(opt(btc.interval_hours), Some(4.0));
    assert_eq!(
        btc.interval_source,
        ROption::RSome(IntervalSource::REPORTED)
    );
    let eth = by_raw(&out.records, "ETH_USDT");
    assert!(eth.interval_hours.is_none() && eth.interval_source.is_none());
    assert!(eth.rate_cap.is_none() && eth.rate_floor.is_none());
}

// ------------------------------------------------------------------------------------------
// malformed and refused answers
// ------------------------------------------------------------------------------------------

#[test]
fn malformed_and_refused_answers_are_classified() {
    let instruments = recorded_instruments();
    let cases: &[(&str, u16, &str, ErrorClass, Option<&str>)] = &[
        ("empty", 200, "", ErrorClass::PARSE, None),
        (
            "html",
            200,
            "<html><body>502 Bad Gateway</body></html>",
            ErrorClass::PARSE,
            None,
        ),
        (
            "truncated",
            200,
            "{\"success\":true,\"code\":0,\"data\":[{\"symbol\":\"BTC",
            ErrorClass::PARSE,
            None,
        ),
        (
            "wrong shape",
            200,
            "{\"success\":true,\"code\":0,\"data\":5}",
            ErrorClass::PARSE,
            None,
        ),
        (
            "no code",
            200,
            "{\"success\":true,\"data\":[]}",
            ErrorClass::PARSE,
            None,
        ),
        (
            "rows without symbol",
            200,
            "{\"success\":true,\"code\":0,\"data\":[{\"fundingRate\":1}]}",
            ErrorClass::PARSE,
            None,
        ),
        (
            "too frequent",
            200,
            "{\"success\":false,\"code\":510,\"message\":\"Requests are too frequent\"}",
            ErrorClass::RATE_LIMITED,
            Some("510"),
        ),
        (
            "maintenance",
            200,
            "{\"success\":false,\"code\":604,\"message\":\"System maintenance\"}",
            ErrorClass::TRANSIENT,
            Some("604"),
        ),
        (
            "unknown contract",
            200,
            "{\"success\":false,\"code\":1001,\"message\":\"Contract does not exist\"}",
            ErrorClass::PERMANENT,
            Some("1001"),
        ),
        ("429", 429, "", ErrorClass::RATE_LIMITED, None),
        ("503", 503, "", ErrorClass::TRANSIENT, None),
        ("404", 404, "Not Found", ErrorClass::PERMANENT, None),
    ];
    for kind in [KIND_INSTRUMENTS, KIND_TICKERS, KIND_FUNDING] {
        for (case, status, body, class, code) in cases {
            let out = run(kind, *status, body, &instruments);
            assert!(out.records.is_empty(), "{kind} {case}");
            assert_eq!(out.errors.len(), 1, "{kind} {case}: {:?}", out.errors);
            let e = &out.errors[0];
            assert_eq!(e.class, *class, "{kind} {case}: {e:?}");
            assert_eq!(e.request_tag.as_str(), request(kind).tag.as_str());
            if let Some(code) = code {
                assert_eq!(e.code.as_str(), *code, "{kind} {case}");
            }
        }
    }
}

#[test]
fn an_empty_list_is_no_error_and_an_unknown_kind_is() {
    let out = run(
        KIND_FUNDING,
        200,
        &envelope(json!([])),
        &recorded_instruments(),
    );
    assert!(out.errors.is_empty() && out.records.is_empty());
    let out = parse("open_interest", &[], &ctx(&[]));
    assert_eq!(out.errors[0].class, ErrorClass::PERMANENT);
}

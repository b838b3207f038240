//! Table-driven tests of the Hyperliquid plugin over raw exchange JSON.
//!
//! Owns: the proof that every kind maps the recorded `/info` answers field by field (expected
//! values are read from the fixture JSON itself), joins `meta.universe` and `assetCtxs` by
//! position, keeps Hyperliquid's hourly funding semantics, and classifies every malformed or
//! refused body without panicking.
//! Must not: copy fixtures into the repository (they are read from `../shared` at run time) or
//! reach the network. The plugin is called through the same functions the export macro wraps.

use fc_plugin_hyperliquid::{
    build_requests, info, parse, EXTRA_ASSET_INDEX, EXTRA_IMPACT_ASK, EXTRA_IMPACT_BID,
    EXTRA_MAX_LEVERAGE, EXTRA_MID_PX, EXTRA_OI_QUOTE_DERIVED, EXTRA_ONLY_ISOLATED,
    EXTRA_PREDICTED_PREFIX, EXTRA_PREMIUM, EXTRA_PREV_DAY_PX, EXTRA_SZ_DECIMALS,
    EXTRA_TICK_SIZE_DERIVED, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS, PATH_INFO, TAG_META,
    TAG_META_AND_ASSET_CTXS, TAG_PREDICTED_FUNDINGS, WEIGHT_INFO,
};
use plugin_api::{
    abi_stable::std_types::{ROption, RSlice, RStr},
    Context, ErrorClass, HttpMethod, HttpRequest, HttpResponse, IntervalSource, MarketType,
    ParseOutput, Record, RecordKind,
};
use serde_json::{json, Value};

const NOW: i64 = 1_733_957_000_000;
/// 2024-12-11T22:43:20Z: the next full hour is 1_733_958_000_000.
const RECEIVED: i64 = 1_733_957_000_000;
const NEXT_HOUR: i64 = 1_733_958_000_000;

/// `predictedFundings` as recorded in a public parser test (exchange-notes §9.6), plus a BTC
/// entry in the newer shape with `fundingIntervalHours` and a `null` venue.
const PREDICTED: &str = r#"[["AVAX",[["BinPerp",{"fundingRate":"0.0001","nextFundingTime":1733961600000}],["HlPerp",{"fundingRate":"0.0000125","nextFundingTime":1733958000000}],["OkxPerp",{"fundingRate":null,"nextFundingTime":null}]]],["BTC",[["BinPerp",{"fundingRate":"0.00005","nextFundingTime":1733961600000,"fundingIntervalHours":8}],["HlPerp",{"fundingRate":"0.0000093","nextFundingTime":1733958000000,"fundingIntervalHours":1}],["BybitPerp",null]]],["xyz:TSLA",[["HlPerp",{"fundingRate":"0.00001","nextFundingTime":1733958000000}]]],["NOPE",[["HlPerp",{"fundingRate":"0.00001","nextFundingTime":1733958000000}]]]]"#;

// ------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------

fn fixture(name: &str) -> String {
    plugin_kit::fixtures::text("hyperliquid", name)
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).expect("fixture is JSON")
}

/// The recorded `metaAndAssetCtxs` answer.
fn meta_and_ctxs() -> Value {
    fixture_json("meta-and-asset-ctxs.json")
}

fn f(v: &Value, key: &str) -> Option<f64> {
    match &v[key] {
        Value::String(s) => Some(s.parse().unwrap_or_else(|e| panic!("`{key}`: {e}"))),
        Value::Number(n) => n.as_f64(),
        Value::Null => None,
        other => panic!("`{key}` is {other}"),
    }
}

fn ctx(instruments: &[Record]) -> Context<'_> {
    Context {
        exchange_id: RStr::from_str("hyperliquid"),
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

/// Parses one round of `kind` whose answers are `(tag, status, body)`.
fn run(kind: &str, answers: &[(&str, u16, &str)], instruments: &[Record]) -> ParseOutput {
    let requests: Vec<HttpRequest> = answers
        .iter()
        .map(|(tag, _, _)| request(kind, tag))
        .collect();
    let responses: Vec<HttpResponse<'_>> = requests
        .iter()
        .zip(answers)
        .map(|(r, (_, status, body))| respond(r, *status, body))
        .collect();
    parse(kind, &responses, &ctx(instruments))
}

/// Instrument records of a `meta` body, sorted by raw symbol as the host keeps them.
fn instruments_of(meta_body: &str) -> Vec<Record> {
    let out = run(KIND_INSTRUMENTS, &[(TAG_META, 200, meta_body)], &[]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let mut records: Vec<Record> = out.records.into_iter().collect();
    records.sort_by(|a, b| a.raw_symbol.cmp(&b.raw_symbol));
    records
}

/// The instruments of the recorded `metaAndAssetCtxs` capture (its `meta` half).
fn capture_instruments() -> Vec<Record> {
    instruments_of(&meta_and_ctxs()[0].to_string())
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

// ------------------------------------------------------------------------------------------
// info and requests
// ------------------------------------------------------------------------------------------

#[test]
fn info_describes_hourly_usdc_perps_and_the_weight_budget() {
    let info = info();
    assert_eq!(info.exchange_id.as_str(), "hyperliquid");
    assert_eq!(
        info.default_base_url.as_str(),
        "https://api.hyperliquid.xyz"
    );
    assert_eq!(info.default_funding_interval_hours, 1.0);
    let kinds = plugin_kit::testing::kind_table(&info);
    assert_eq!(
        kinds,
        vec![
            (KIND_INSTRUMENTS, RecordKind::INSTRUMENT, 3_600_000, false),
            (KIND_TICKERS, RecordKind::TICKER, 5_000, true),
            (KIND_FUNDING, RecordKind::FUNDING, 30_000, true),
        ]
    );
    let rules = info.rate_limits.as_slice();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].path_prefix.as_str(), PATH_INFO);
    assert_eq!((rules[0].limit, rules[0].window_ms), (1_200, 60_000));
}

/// Pitfall: Hyperliquid has no GET API; every query is `POST /info` with a JSON body.
#[test]
fn every_request_is_a_json_post_to_info() {
    let cases: &[(&str, &[&str])] = &[
        (KIND_INSTRUMENTS, &["meta"]),
        (KIND_TICKERS, &["metaAndAssetCtxs"]),
        (KIND_FUNDING, &["metaAndAssetCtxs", "predictedFundings"]),
    ];
    for (kind, types) in cases {
        let requests = build_requests(kind, &ctx(&[])).unwrap();
        let got: Vec<&str> = requests.iter().map(|r| r.tag.as_str()).collect();
        assert_eq!(&got, types, "{kind}");
        for (r, info_type) in requests.iter().zip(types.iter()) {
            assert_eq!(r.method, HttpMethod::POST, "{kind}");
            assert_eq!(r.path.as_str(), PATH_INFO);
            assert!(r.query.is_empty());
            assert_eq!(r.weight, WEIGHT_INFO);
            let body: Value = serde_json::from_slice(r.body.as_slice()).unwrap();
            assert_eq!(body, json!({ "type": info_type }));
            assert!(r.headers.iter().any(
                |h| h.key.as_str() == "Content-Type" && h.value.as_str() == "application/json"
            ));
        }
    }
    let e = build_requests("open_interest", &ctx(&[])).unwrap_err();
    assert_eq!(e.class, ErrorClass::PERMANENT);
}

// ------------------------------------------------------------------------------------------
// instruments
// ------------------------------------------------------------------------------------------

#[test]
fn instruments_map_every_universe_row_field_by_field() {
    for body in [fixture("meta.json"), meta_and_ctxs()[0].to_string()] {
        let universe: Value = serde_json::from_str(&body).unwrap();
        let universe = universe["universe"].as_array().unwrap().clone();
        let out = run(KIND_INSTRUMENTS, &[(TAG_META, 200, &body)], &[]);
        assert!(out.errors.is_empty() && out.warnings.is_empty(), "{out:?}");
        assert_eq!(out.records.len(), universe.len());
        for (index, (row, r)) in universe.iter().zip(out.records.iter()).enumerate() {
            let name = row["name"].as_str().unwrap();
            assert_eq!(r.kind, RecordKind::INSTRUMENT);
            assert_eq!(r.raw_symbol.as_str(), name);
            let base = name.to_ascii_uppercase();
            assert_eq!(r.symbol.as_str(), format!("{base}/USDC:USDC"));
            assert_eq!(
                (r.base.as_str(), r.quote.as_str(), r.settle.as_str()),
                (base.as_str(), "USDC", "USDC")
            );
            assert_eq!(r.market_type, MarketType::LINEAR_PERPETUAL);
            assert_eq!(opt(r.contract_size), Some(1.0));
            let sz = row["szDecimals"].as_u64().unwrap();
            let tick = 10f64.powi(-(6 - sz as i32));
            assert_eq!(opt(r.tick_size), Some(tick), "{name}");
            assert_eq!(extra(r, EXTRA_TICK_SIZE_DERIVED), Some("max_decimals"));
            assert_eq!(extra(r, EXTRA_SZ_DECIMALS), Some(sz.to_string().as_str()));
            assert_eq!(
                extra(r, EXTRA_MAX_LEVERAGE),
                Some(row["maxLeverage"].to_string().as_str())
            );
            assert_eq!(
                extra(r, EXTRA_ONLY_ISOLATED),
                row["onlyIsolated"].as_bool().filter(|b| *b).map(|_| "true")
            );
            assert_eq!(
                extra(r, EXTRA_ASSET_INDEX),
                Some(index.to_string().as_str())
            );
            assert_eq!(
                r.status.as_ref().map(|s| s.as_str()),
                ROption::RSome("trading")
            );
            assert_eq!(r.received_ts, RECEIVED);
            assert!(r.exchange_ts.is_none() && r.listing_ts.is_none());
        }
    }
}

/// Pitfall: `k`-prefixed coins stay in the symbol, upper-cased (ccxt: `kPEPE` → `KPEPE`), with
/// the multiplier in `extra`; the raw symbol keeps the exchange's spelling.
#[test]
fn k_prefixed_coins_keep_the_prefix_and_say_the_multiplier() {
    let instruments = capture_instruments();
    for coin in ["kPEPE", "kSHIB", "kBONK", "kLUNC", "kDOGS", "kNEIRO"] {
        let r = by_raw(&instruments, coin);
        let upper = coin.to_ascii_uppercase();
        assert_eq!(r.symbol.as_str(), format!("{upper}/USDC:USDC"));
        assert_eq!(r.base.as_str(), upper);
        assert_eq!(extra(r, "multiplier"), Some("1000"), "{coin}");
    }
    assert_eq!(extra(by_raw(&instruments, "BTC"), "multiplier"), None);
}

#[test]
fn delisted_coins_are_marked_and_other_dexes_skipped() {
    let body = r#"{"universe":[{"szDecimals":5,"name":"BTC","maxLeverage":40},{"szDecimals":0,"name":"FTM","maxLeverage":3,"isDelisted":true,"onlyIsolated":true},{"szDecimals":3,"name":"xyz:TSLA","maxLeverage":10},{"szDecimals":9,"name":"ODD","maxLeverage":3}]}"#;
    let out = run(KIND_INSTRUMENTS, &[(TAG_META, 200, body)], &[]);
    assert!(out.errors.is_empty());
    let raws: Vec<&str> = out.records.iter().map(|r| r.raw_symbol.as_str()).collect();
    assert_eq!(raws, ["BTC", "FTM", "ODD"]);
    let ftm = by_raw(&out.records, "FTM");
    assert_eq!(
        ftm.status.as_ref().map(|s| s.as_str()),
        ROption::RSome("delisted")
    );
    // szDecimals beyond the 6 price decimals give no tick size rather than a made-up one.
    assert!(by_raw(&out.records, "ODD").tick_size.is_none());
    assert_eq!(out.warnings.len(), 1);
    assert!(out.warnings[0].contains("xyz:TSLA"), "{:?}", out.warnings);
}

// ------------------------------------------------------------------------------------------
// tickers
// ------------------------------------------------------------------------------------------

#[test]
fn tickers_join_universe_and_contexts_by_position_field_by_field() {
    let instruments = capture_instruments();
    let answer = meta_and_ctxs();
    let body = answer.to_string();
    let out = run(
        KIND_TICKERS,
        &[(TAG_META_AND_ASSET_CTXS, 200, &body)],
        &instruments,
    );
    assert!(out.errors.is_empty() && out.warnings.is_empty(), "{out:?}");
    let universe = answer[0]["universe"].as_array().unwrap();
    let ctxs = answer[1].as_array().unwrap();
    assert_eq!(out.records.len(), universe.len());
    for (row, c) in universe.iter().zip(ctxs) {
        let name = row["name"].as_str().unwrap();
        let r = by_raw(&out.records, name);
        assert_eq!(r.kind, RecordKind::TICKER);
        assert_eq!(
            r.symbol.as_str(),
            format!("{}/USDC:USDC", name.to_ascii_uppercase())
        );
        assert_eq!(opt(r.mark), f(c, "markPx"), "{name}");
        assert_eq!(opt(r.index), f(c, "oraclePx"), "{name}");
        assert_eq!(opt(r.volume_24h_base), f(c, "dayBaseVlm"), "{name}");
        assert_eq!(opt(r.volume_24h_quote), f(c, "dayNtlVlm"), "{name}");
        assert_eq!(opt(r.open_interest_base), f(c, "openInterest"), "{name}");
        let oi_quote = f(c, "openInterest").unwrap() * f(c, "markPx").unwrap();
        assert_eq!(opt(r.open_interest_quote), Some(oi_quote), "{name}");
        assert_eq!(extra(r, EXTRA_OI_QUOTE_DERIVED), Some("true"));
        // No trade price, no top of book: absent, never the mid or impact prices.
        assert!(
            r.last.is_none() && r.bid.is_none() && r.ask.is_none(),
            "{name}"
        );
        assert!(r.exchange_ts.is_none());
        let num = |key: &str| extra(r, key).map(|v| v.parse::<f64>().unwrap());
        assert_eq!(num(EXTRA_MID_PX), f(c, "midPx"), "{name}");
        assert_eq!(num(EXTRA_PREV_DAY_PX), f(c, "prevDayPx"), "{name}");
        assert_eq!(num(EXTRA_PREMIUM), f(c, "premium"), "{name}");
        let impact = c["impactPxs"].as_array();
        let side = |i: usize| impact.map(|a| a[i].as_str().unwrap().parse::<f64>().unwrap());
        assert_eq!(num(EXTRA_IMPACT_BID), side(0), "{name}");
        assert_eq!(num(EXTRA_IMPACT_ASK), side(1), "{name}");
        assert!(r.rate.is_none() && r.interval_hours.is_none());
    }
}

/// Pitfall: contexts carry no coin name. Joining them to the (alphabetically sorted)
/// instrument list, or by the `meta` call's order, gives the wrong coin: the capture lists SOL
/// first, so its first context is SOL's, not AAVE's or BTC's.
#[test]
fn the_first_context_belongs_to_the_first_universe_coin() {
    let instruments = capture_instruments();
    assert_ne!(
        instruments[0].raw_symbol.as_str(),
        "SOL",
        "sorted list differs"
    );
    let answer = meta_and_ctxs();
    assert_eq!(answer[0]["universe"][0]["name"], "SOL");
    let body = answer.to_string();
    let out = run(
        KIND_TICKERS,
        &[(TAG_META_AND_ASSET_CTXS, 200, &body)],
        &instruments,
    );
    let sol = by_raw(&out.records, "SOL");
    assert_eq!(opt(sol.mark), Some(200.4));
    assert_eq!(opt(sol.open_interest_base), Some(7029.78));
    let btc = by_raw(&out.records, "BTC");
    assert_eq!(opt(btc.mark), f(&answer[1][3], "markPx"));
    assert_eq!(answer[0]["universe"][3]["name"], "BTC");
}

#[test]
fn a_length_mismatch_is_a_parse_error_not_a_shifted_join() {
    let instruments = capture_instruments();
    let mut answer = meta_and_ctxs();
    answer[1].as_array_mut().unwrap().remove(0);
    let body = answer.to_string();
    let out = run(
        KIND_TICKERS,
        &[(TAG_META_AND_ASSET_CTXS, 200, &body)],
        &instruments,
    );
    assert!(out.records.is_empty());
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].class, ErrorClass::PARSE);
    assert!(out.errors[0].message.contains("by position"));
}

#[test]
fn null_mid_and_impact_prices_stay_absent() {
    let instruments = capture_instruments();
    let answer = meta_and_ctxs();
    // The capture's 6th coin has `midPx: null`, `impactPxs: null`, `premium: null`.
    let name = answer[0]["universe"][5]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(answer[1][5]["midPx"].is_null() && answer[1][5]["impactPxs"].is_null());
    let body = answer.to_string();
    let out = run(
        KIND_TICKERS,
        &[(TAG_META_AND_ASSET_CTXS, 200, &body)],
        &instruments,
    );
    let r = by_raw(&out.records, &name);
    for key in [
        EXTRA_MID_PX,
        EXTRA_IMPACT_BID,
        EXTRA_IMPACT_ASK,
        EXTRA_PREMIUM,
    ] {
        assert_eq!(extra(r, key), None, "{key}");
    }
    assert!(r.mark.is_some());
}

#[test]
fn delisted_and_unknown_coins_get_no_ticker() {
    let meta = r#"{"universe":[{"szDecimals":5,"name":"BTC","maxLeverage":40},{"szDecimals":0,"name":"FTM","maxLeverage":3,"isDelisted":true}]}"#;
    let instruments = instruments_of(meta);
    let body = r#"[{"universe":[{"szDecimals":5,"name":"BTC","maxLeverage":40},{"szDecimals":0,"name":"FTM","maxLeverage":3,"isDelisted":true},{"szDecimals":1,"name":"NEW","maxLeverage":3}]},[{"funding":"0.0000125","openInterest":"10.5","dayNtlVlm":"100.0","dayBaseVlm":"1.0","oraclePx":"95000.0","markPx":"95010.0","midPx":"95005.0","impactPxs":["95000.0","95010.0"],"premium":"0.0001","prevDayPx":"94000.0"},{"funding":"0.0","openInterest":"0.0","dayNtlVlm":"0.0","dayBaseVlm":"0.0","oraclePx":"0.5","markPx":"0.5","midPx":null,"impactPxs":null,"premium":null,"prevDayPx":"0.5"},{"funding":"0.0001","openInterest":"1.0","dayNtlVlm":"1.0","dayBaseVlm":"1.0","oraclePx":"1.0","markPx":"1.0","midPx":"1.0","impactPxs":["1.0","1.0"],"premium":"0.0","prevDayPx":"1.0"}]]"#;
    let out = run(
        KIND_TICKERS,
        &[(TAG_META_AND_ASSET_CTXS, 200, body)],
        &instruments,
    );
    let raws: Vec<&str> = out.records.iter().map(|r| r.raw_symbol.as_str()).collect();
    assert_eq!(raws, ["BTC"]);
    let warnings = out
        .warnings
        .iter()
        .map(|w| w.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        warnings.contains("FTM") && warnings.contains("NEW"),
        "{warnings}"
    );
}

// ------------------------------------------------------------------------------------------
// funding
// ------------------------------------------------------------------------------------------

fn funding_round(predicted: &str) -> (Vec<Record>, ParseOutput) {
    let instruments = capture_instruments();
    let body = meta_and_ctxs().to_string();
    let out = run(
        KIND_FUNDING,
        &[
            (TAG_META_AND_ASSET_CTXS, 200, &body),
            (TAG_PREDICTED_FUNDINGS, 200, predicted),
        ],
        &instruments,
    );
    (instruments, out)
}

#[test]
fn funding_rate_is_the_contexts_hourly_rate_for_every_coin() {
    let (instruments, out) = funding_round(PREDICTED);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.records.len(), instruments.len());
    let answer = meta_and_ctxs();
    let universe = answer[0]["universe"].as_array().unwrap();
    for (row, c) in universe.iter().zip(answer[1].as_array().unwrap()) {
        let name = row["name"].as_str().unwrap();
        let r = by_raw(&out.records, name);
        assert_eq!(r.kind, RecordKind::FUNDING);
        assert_eq!(opt(r.rate), f(c, "funding"), "{name}");
        // Pitfall: funding is hourly, never the 8 h of most venues.
        assert_eq!(opt(r.interval_hours), Some(1.0), "{name}");
        assert!(r.rate_cap.is_none() && r.rate_floor.is_none());
        assert!(r.predicted_rate.is_none(), "{name}");
        assert!(r.rate_8h.is_none() && r.rate_annualized.is_none());
    }
    // Coins without a `predictedFundings` entry: the protocol's interval, the next full hour.
    let sol = by_raw(&out.records, "SOL");
    assert_eq!(sol.interval_source, ROption::RSome(IntervalSource::DEFAULT));
    assert_eq!(sol.next_funding_ts, ROption::RSome(NEXT_HOUR));
}

/// Pitfall: `predictedFundings`' `HlPerp` rate is for the same upcoming hour as the context's
/// `funding`, not the period after: never `predicted_rate`; every venue goes to `extra`.
#[test]
fn predicted_fundings_are_extras_and_give_the_settlement_time() {
    let (_, out) = funding_round(PREDICTED);
    let avax = by_raw(&out.records, "AVAX");
    assert!(avax.predicted_rate.is_none());
    assert_eq!(
        extra(avax, &format!("{EXTRA_PREDICTED_PREFIX}hlperp")),
        Some("0.0000125")
    );
    assert_eq!(
        extra(avax, &format!("{EXTRA_PREDICTED_PREFIX}binperp")),
        Some("0.0001")
    );
    assert_eq!(
        extra(avax, &format!("{EXTRA_PREDICTED_PREFIX}okxperp")),
        None
    );
    assert_eq!(avax.next_funding_ts, ROption::RSome(1_733_958_000_000));
    assert_eq!(
        avax.interval_source,
        ROption::RSome(IntervalSource::DEFAULT)
    );
    // Newer answers state the interval: reported, and Binance's 8 h never leaks into it.
    let btc = by_raw(&out.records, "BTC");
    assert_eq!(opt(btc.interval_hours), Some(1.0));
    assert_eq!(
        btc.interval_source,
        ROption::RSome(IntervalSource::REPORTED)
    );
    assert_eq!(
        extra(btc, &format!("{EXTRA_PREDICTED_PREFIX}binperp")),
        Some("0.00005")
    );
    assert_eq!(
        extra(btc, &format!("{EXTRA_PREDICTED_PREFIX}bybitperp")),
        None
    );
    let warnings = out
        .warnings
        .iter()
        .map(|w| w.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        warnings.contains("xyz:TSLA") && warnings.contains("NOPE"),
        "{warnings}"
    );
}

#[test]
fn one_bad_answer_keeps_the_other_halfs_funding() {
    let instruments = capture_instruments();
    let body = meta_and_ctxs().to_string();
    let out = run(
        KIND_FUNDING,
        &[
            (TAG_META_AND_ASSET_CTXS, 200, &body),
            (TAG_PREDICTED_FUNDINGS, 200, "<html>502</html>"),
        ],
        &instruments,
    );
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].request_tag.as_str(), TAG_PREDICTED_FUNDINGS);
    assert_eq!(out.records.len(), instruments.len());
    assert!(out.records.iter().all(|r| r.rate.is_some()));

    let out = run(
        KIND_FUNDING,
        &[
            (TAG_META_AND_ASSET_CTXS, 200, "[{\"universe\":[]}"),
            (TAG_PREDICTED_FUNDINGS, 200, PREDICTED),
        ],
        &instruments,
    );
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].request_tag.as_str(), TAG_META_AND_ASSET_CTXS);
    // Partial records from predictedFundings alone: no rate made up.
    let raws: Vec<&str> = out.records.iter().map(|r| r.raw_symbol.as_str()).collect();
    assert_eq!(raws, ["AVAX", "BTC"]);
    assert!(out.records.iter().all(|r| r.rate.is_none()));
}

// ------------------------------------------------------------------------------------------
// malformed and refused answers
// ------------------------------------------------------------------------------------------

#[test]
fn malformed_and_refused_answers_are_classified() {
    let instruments = capture_instruments();
    let cases: &[(&str, u16, &str, ErrorClass)] = &[
        ("empty", 200, "", ErrorClass::PARSE),
        (
            "html",
            200,
            "<html><body>502 Bad Gateway</body></html>",
            ErrorClass::PARSE,
        ),
        (
            "truncated",
            200,
            "[{\"universe\":[{\"name\":\"BTC\"",
            ErrorClass::PARSE,
        ),
        ("wrong shape", 200, "{\"universe\":5}", ErrorClass::PARSE),
        ("not a pair", 200, "[{\"universe\":[]}]", ErrorClass::PARSE),
        (
            "nameless row",
            200,
            "[{\"universe\":[{\"szDecimals\":1}]},[{}]]",
            ErrorClass::PARSE,
        ),
        (
            "422 plain text",
            422,
            "Failed to deserialize the JSON body into the target type",
            ErrorClass::PERMANENT,
        ),
        ("429", 429, "", ErrorClass::RATE_LIMITED),
        ("500", 500, "", ErrorClass::TRANSIENT),
        (
            "error envelope",
            200,
            "{\"status\":\"err\",\"response\":\"unknown type\"}",
            ErrorClass::PERMANENT,
        ),
    ];
    for (case, status, body, class) in cases {
        let out = run(
            KIND_TICKERS,
            &[(TAG_META_AND_ASSET_CTXS, *status, body)],
            &instruments,
        );
        assert!(out.records.is_empty(), "{case}");
        assert_eq!(out.errors.len(), 1, "{case}: {:?}", out.errors);
        assert_eq!(out.errors[0].class, *class, "{case}: {:?}", out.errors[0]);
        assert_eq!(out.errors[0].request_tag.as_str(), TAG_META_AND_ASSET_CTXS);
    }
    let out = run(KIND_INSTRUMENTS, &[(TAG_META, 200, "[1,2]")], &[]);
    assert_eq!(out.errors[0].class, ErrorClass::PARSE);
    let out = run(
        KIND_FUNDING,
        &[(TAG_PREDICTED_FUNDINGS, 200, "{\"a\":1}")],
        &instruments,
    );
    assert_eq!(out.errors[0].class, ErrorClass::PARSE);
    assert!(out.records.is_empty());
}

#[test]
fn unknown_kind_is_a_permanent_error() {
    let out = parse("open_interest", &[], &ctx(&[]));
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].class, ErrorClass::PERMANENT);
}

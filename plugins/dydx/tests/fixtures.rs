//! Table-driven tests of the dYdX v4 plugin over raw indexer JSON.
//!
//! Owns: the proof that every kind maps the recorded `perpetualMarkets` answer field by field
//! (expected values read from the fixture JSON itself), and that the exchange's traps are
//! handled, each by a test that fails on the naive reading: the markets are an object keyed by
//! ticker; quote and settle are forced to USDC (`BTC-USD` → `BTC/USDC:USDC`); the bulk answer
//! has no last/bid/ask (absent, never 0); the only timestamp is the ISO-8601 block time of
//! `/v4/height` (milliseconds and zone kept); funding is hourly and `nextFundingRate` is the
//! current hour's running estimate (`rate`, not `predicted_rate`), settling at the next full
//! hour; `Retry-After` is in milliseconds. Every malformed or refused body is a classified
//! error, never a panic.
//! Must not: copy fixtures into the repository (they are read from `../shared` at run time) or
//! reach the network. The plugin is called through the same functions the export macro wraps.

use fc_plugin_dydx::{
    build_requests, info, next_full_hour, parse, status_word, CURRENT_HOUR_ESTIMATE,
    EXTRA_BLOCK_HEIGHT, EXTRA_CLOB_PAIR_ID, EXTRA_DEFAULT_RATE_1H, EXTRA_INITIAL_MARGIN_FRACTION,
    EXTRA_MARGIN_MODE, EXTRA_MARK_SOURCE, EXTRA_NEXT_FUNDING_TS_SOURCE, EXTRA_OI_QUOTE_DERIVED,
    EXTRA_PRICE_CHANGE_24H, EXTRA_RATE_FIGURE, EXTRA_RAW_STATUS, EXTRA_STEP_SIZE, EXTRA_TRADES_24H,
    FROM_BLOCK_TIME, FROM_RECEIVED_TS, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS, ORACLE,
    PATH_HEIGHT, PATH_MARKETS, PATH_PREFIX, TAG_HEIGHT, TAG_MARKETS,
};
use plugin_api::{
    abi_stable::std_types::{ROption, RSlice, RStr},
    Context, ErrorClass, HttpMethod, HttpRequest, HttpResponse, IntervalSource, KeyValueRef,
    MarketType, ParseOutput, Record,
};
use serde_json::{json, Value};

const NOW: i64 = 1_765_210_322_000;
/// When the answers arrived: 2025-12-08T16:12:01.000Z.
const RECEIVED: i64 = 1_765_210_321_000;

/// `/v4/height` as nautilus_trader recorded it (`crates/adapters/dydx/test_data/
/// http_get_block_height.json`, the `result` member of its wrapper; the same day as the
/// markets fixture): no recording of it is in the shared fixtures.
const HEIGHT: &str = r#"{"height":"66624132","time":"2025-12-08T16:11:59.450Z"}"#;
/// Its time in Unix ms: 2025-12-08T16:11:59.450Z (nautilus' `/v4/time` of the same capture
/// says 16:11:56.125Z is epoch 1765210316.125).
const BLOCK_MS: i64 = 1_765_210_319_450;
/// The first full hour after it: 2025-12-08T17:00:00Z.
const NEXT_HOUR: i64 = 1_765_213_200_000;

// ------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------

fn fixture(name: &str) -> String {
    plugin_kit::fixtures::text("dydx", name)
}

/// The recorded `perpetualMarkets` answer (BTC-USD, ETH-USD, SOL-USD).
fn markets_json() -> Value {
    serde_json::from_str(&fixture("perpetual-markets.json")).expect("fixture is JSON")
}

/// The recorded answer with `edit` applied to its `markets` object.
fn markets_with(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut v = markets_json();
    edit(v["markets"].as_object_mut().unwrap());
    v.to_string()
}

/// A decimal string (or number) of a row as a number.
fn f(v: &Value, key: &str) -> f64 {
    match &v[key] {
        Value::String(s) => s.parse().unwrap_or_else(|e| panic!("`{key}`: {e}")),
        Value::Number(n) => n.as_f64().unwrap(),
        other => panic!("`{key}` is {other}"),
    }
}

fn ctx(instruments: &[Record]) -> Context<'_> {
    Context {
        exchange_id: RStr::from_str("dydx"),
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

/// The instrument records of `markets_body`, sorted by ticker.
fn instruments_of(markets_body: &str) -> Vec<Record> {
    let out = run(KIND_INSTRUMENTS, &[(TAG_MARKETS, 200, markets_body)], &[]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    out.records.into_iter().collect()
}

fn recorded_instruments() -> Vec<Record> {
    instruments_of(&fixture("perpetual-markets.json"))
}

/// A round of `kind` over the recorded markets and the recorded block.
fn recorded_round(kind: &str) -> ParseOutput {
    let out = run(
        kind,
        &[
            (TAG_MARKETS, 200, &fixture("perpetual-markets.json")),
            (TAG_HEIGHT, 200, HEIGHT),
        ],
        &recorded_instruments(),
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    out
}

fn find<'o>(records: &'o [Record], raw: &str) -> &'o Record {
    records
        .iter()
        .find(|r| r.raw_symbol.as_str() == raw)
        .unwrap_or_else(|| panic!("a record for {raw}"))
}

fn extra<'r>(record: &'r Record, key: &str) -> Option<&'r str> {
    record
        .extra
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str())
}

// ------------------------------------------------------------------------------------------
// info and requests
// ------------------------------------------------------------------------------------------

#[test]
fn info_describes_hourly_usdc_perps_and_the_indexer_budget() {
    let i = info();
    assert_eq!(i.exchange_id.as_str(), "dydx");
    assert_eq!(i.default_base_url.as_str(), "https://indexer.dydx.trade");
    let kinds: Vec<&str> = i.kinds.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(kinds, [KIND_INSTRUMENTS, KIND_TICKERS, KIND_FUNDING]);
    assert_eq!(i.rate_limits.len(), 1);
    let rule = &i.rate_limits[0];
    assert_eq!(rule.path_prefix.as_str(), PATH_PREFIX);
    assert_eq!((rule.limit, rule.window_ms), (100, 10_000));
    assert_eq!(i.default_funding_interval_hours, 1.0);
}

#[test]
fn instruments_read_the_bulk_markets_and_prices_add_the_block_height() {
    let paths = |kind: &str| -> Vec<(String, String)> {
        build_requests(kind, &ctx(&[]))
            .unwrap()
            .iter()
            .map(|r| {
                assert_eq!(r.method, HttpMethod::GET);
                assert!(r.query.is_empty(), "no limit: every market");
                assert_eq!(r.weight, 1);
                (r.path.to_string(), r.tag.to_string())
            })
            .collect()
    };
    let markets = (PATH_MARKETS.to_string(), TAG_MARKETS.to_string());
    let height = (PATH_HEIGHT.to_string(), TAG_HEIGHT.to_string());
    assert_eq!(paths(KIND_INSTRUMENTS), std::slice::from_ref(&markets));
    assert_eq!(paths(KIND_TICKERS), [markets.clone(), height.clone()]);
    assert_eq!(paths(KIND_FUNDING), [markets, height]);
    assert!(build_requests("orderbook", &ctx(&[])).is_err());
}

// ------------------------------------------------------------------------------------------
// instruments
// ------------------------------------------------------------------------------------------

/// Trap: quote forced to USDC as ccxt does — `BTC-USD` is `BTC/USDC:USDC`, not `BTC/USD:USD`;
/// the markets are an object keyed by ticker (every key becomes one instrument).
#[test]
fn instruments_map_every_recorded_market_with_quote_forced_to_usdc() {
    let markets = markets_json();
    let records = recorded_instruments();
    let keys: Vec<&String> = markets["markets"].as_object().unwrap().keys().collect();
    assert_eq!(records.len(), keys.len());
    for key in keys {
        let row = &markets["markets"][key];
        let r = find(&records, key);
        let base = key.split('-').next().unwrap();
        assert_eq!(r.symbol.as_str(), format!("{base}/USDC:USDC"), "{key}");
        assert_eq!(
            (r.base.as_str(), r.quote.as_str(), r.settle.as_str()),
            (base, "USDC", "USDC")
        );
        assert_eq!(r.market_type, MarketType::LINEAR_PERPETUAL);
        assert_eq!(r.contract_size, ROption::RSome(1.0));
        assert_eq!(r.tick_size, ROption::RSome(f(row, "tickSize")), "{key}");
        assert_eq!(
            r.status.as_ref().map(|s| s.as_str()),
            ROption::RSome("trading")
        );
        assert_eq!(extra(r, EXTRA_RAW_STATUS), Some("ACTIVE"));
        assert_eq!(
            extra(r, EXTRA_STEP_SIZE).map(|s| s.parse::<f64>().unwrap()),
            Some(f(row, "stepSize"))
        );
        assert_eq!(extra(r, EXTRA_MARGIN_MODE), Some("CROSS"));
        assert_eq!(extra(r, EXTRA_CLOB_PAIR_ID), row["clobPairId"].as_str());
        assert_eq!(
            extra(r, EXTRA_INITIAL_MARGIN_FRACTION).map(|s| s.parse::<f64>().unwrap()),
            Some(f(row, "initialMarginFraction"))
        );
        // The indexer serves no listing or delisting time.
        assert_eq!(r.listing_ts, ROption::RNone);
        assert_eq!(r.delisting_ts, ROption::RNone);
        assert_eq!(r.received_ts, RECEIVED);
    }
    assert_eq!(find(&records, "BTC-USD").symbol.as_str(), "BTC/USDC:USDC");
}

#[test]
fn statuses_map_to_record_words_and_keep_the_raw_one() {
    for (raw, word) in [
        ("ACTIVE", "trading"),
        ("INITIALIZING", "pre_launch"),
        ("PAUSED", "halted"),
        ("CANCEL_ONLY", "halted"),
        ("POST_ONLY", "halted"),
        ("FINAL_SETTLEMENT", "settling"),
        ("SOMETHING_NEW", "something_new"),
    ] {
        assert_eq!(status_word(raw), word, "{raw}");
        let body = markets_with(|m| m["SOL-USD"]["status"] = json!(raw));
        let r = instruments_of(&body)
            .into_iter()
            .find(|r| r.raw_symbol.as_str() == "SOL-USD")
            .unwrap();
        assert_eq!(
            r.status.as_ref().map(|s| s.to_string()),
            ROption::RSome(word.to_string())
        );
        assert_eq!(extra(&r, EXTRA_RAW_STATUS), Some(raw));
    }
    // No status at all: absent, not "trading".
    let body = markets_with(|m| {
        m["SOL-USD"].as_object_mut().unwrap().remove("status");
    });
    let r = instruments_of(&body)
        .into_iter()
        .find(|r| r.raw_symbol.as_str() == "SOL-USD")
        .unwrap();
    assert_eq!(r.status, ROption::RNone);
}

#[test]
fn the_object_key_is_the_ticker_and_a_nameless_one_is_skipped() {
    let body = markets_with(|m| {
        let sol = m["SOL-USD"].clone();
        // A row whose `ticker` disagrees with its key: the key wins, with a warning.
        m["SOL-USD"]["ticker"] = json!("SOLANA-USD");
        // A key without a base currency: skipped and counted.
        m.insert("-USD".into(), sol);
    });
    let out = run(KIND_INSTRUMENTS, &[(TAG_MARKETS, 200, &body)], &[]);
    let raws: Vec<&str> = out.records.iter().map(|r| r.raw_symbol.as_str()).collect();
    assert_eq!(raws, ["BTC-USD", "ETH-USD", "SOL-USD"]);
    assert!(out.warnings.iter().any(|w| w.contains("SOLANA-USD")));
    assert!(out
        .warnings
        .iter()
        .any(|w| w.contains("-USD") && w.contains("base")));
}

// ------------------------------------------------------------------------------------------
// tickers
// ------------------------------------------------------------------------------------------

/// Field by field over the recorded markets: the oracle price is mark and index, the 24 h
/// volume is USD (quote), open interest is base with its quote value derived.
#[test]
fn tickers_map_every_recorded_market_field_by_field() {
    let markets = markets_json();
    let out = recorded_round(KIND_TICKERS);
    assert_eq!(out.records.len(), 3);
    for r in out.records.iter() {
        let row = &markets["markets"][r.raw_symbol.as_str()];
        let oracle = f(row, "oraclePrice");
        let oi = f(row, "openInterest");
        assert_eq!(r.mark, ROption::RSome(oracle));
        assert_eq!(r.index, ROption::RSome(oracle));
        assert_eq!(extra(r, EXTRA_MARK_SOURCE), Some(ORACLE));
        assert_eq!(r.volume_24h_quote, ROption::RSome(f(row, "volume24H")));
        assert_eq!(r.open_interest_base, ROption::RSome(oi));
        assert_eq!(r.open_interest_quote, ROption::RSome(oi * oracle));
        assert_eq!(extra(r, EXTRA_OI_QUOTE_DERIVED), Some("true"));
        assert_eq!(
            extra(r, EXTRA_TRADES_24H).map(|s| s.parse::<f64>().unwrap()),
            Some(f(row, "trades24H"))
        );
        assert_eq!(
            extra(r, EXTRA_PRICE_CHANGE_24H).map(|s| s.parse::<f64>().unwrap()),
            Some(f(row, "priceChange24H"))
        );
        assert_eq!(r.received_ts, RECEIVED);
    }
}

/// Trap: no bid/ask/last (and no base volume) in the bulk call — absent, never 0.
#[test]
fn no_last_bid_ask_or_base_volume_is_served_so_none_is_published() {
    let out = recorded_round(KIND_TICKERS);
    for r in out.records.iter() {
        for (name, v) in [
            ("last", r.last),
            ("bid", r.bid),
            ("ask", r.ask),
            ("volume_24h_base", r.volume_24h_base),
        ] {
            assert_eq!(v, ROption::RNone, "{name} of {}", r.raw_symbol);
        }
    }
    // Missing prices stay missing too, and take the derived open interest with them.
    let body = markets_with(|m| {
        let btc = m["BTC-USD"].as_object_mut().unwrap();
        btc.remove("oraclePrice");
        btc.insert("volume24H".into(), json!(""));
        btc.insert("openInterest".into(), Value::Null);
    });
    let insts = recorded_instruments();
    let out = run(KIND_TICKERS, &[(TAG_MARKETS, 200, &body)], &insts);
    let r = find(&out.records, "BTC-USD");
    for (name, v) in [
        ("mark", r.mark),
        ("index", r.index),
        ("volume_24h_quote", r.volume_24h_quote),
        ("open_interest_base", r.open_interest_base),
        ("open_interest_quote", r.open_interest_quote),
    ] {
        assert_eq!(v, ROption::RNone, "{name}");
    }
    assert_eq!(extra(r, EXTRA_MARK_SOURCE), None);
}

/// Trap: ISO-8601 timestamps — `exchange_ts` is the block time of `/v4/height` with its
/// milliseconds and zone; a naive number parse, a seconds-only reading or a local-time reading
/// all fail here.
#[test]
fn exchange_ts_is_the_iso_8601_block_time_in_ms() {
    let out = recorded_round(KIND_TICKERS);
    for r in out.records.iter() {
        assert_eq!(r.exchange_ts, ROption::RSome(BLOCK_MS), "{}", r.raw_symbol);
        assert_eq!(extra(r, EXTRA_BLOCK_HEIGHT), Some("66624132"));
    }
    let insts = recorded_instruments();
    let markets = fixture("perpetual-markets.json");
    for (time, want) in [
        ("2025-12-08T16:11:59.450Z", Some(BLOCK_MS)),
        ("2025-12-08T16:11:59.45Z", Some(BLOCK_MS)),
        ("2025-12-08T16:11:59.450123Z", Some(BLOCK_MS)),
        ("2025-12-08T17:11:59.450+01:00", Some(BLOCK_MS)),
        ("2025-12-08T16:11:59Z", Some(BLOCK_MS - 450)),
        // No zone: not a point in time. Not a date at all, or a number: not ISO-8601.
        ("2025-12-08T16:11:59.450", None),
        ("yesterday", None),
        ("1765210319450", None),
    ] {
        let height = json!({"height": "66624132", "time": time}).to_string();
        let out = run(
            KIND_TICKERS,
            &[(TAG_MARKETS, 200, &markets), (TAG_HEIGHT, 200, &height)],
            &insts,
        );
        assert!(out.errors.is_empty(), "{time}: {:?}", out.errors);
        assert_eq!(out.records.len(), 3, "{time}");
        let r = &out.records[0];
        assert_eq!(r.exchange_ts, want.into(), "{time}");
        assert_eq!(
            out.warnings.iter().any(|w| w.contains(time)),
            want.is_none(),
            "{time}: {:?}",
            out.warnings
        );
    }
}

/// `/v4/height` failing costs the timestamp, not the records; the error names the height
/// request alone.
#[test]
fn a_failed_height_answer_keeps_the_records_without_a_timestamp() {
    let insts = recorded_instruments();
    let markets = fixture("perpetual-markets.json");
    for (status, body) in [
        (200, "<html>oops</html>"),
        (200, "{}"),
        (500, r#"{"errors":[{"msg":"Internal Server Error"}]}"#),
    ] {
        let out = run(
            KIND_FUNDING,
            &[(TAG_MARKETS, 200, &markets), (TAG_HEIGHT, status, body)],
            &insts,
        );
        assert_eq!(out.records.len(), 3, "{body}");
        assert_eq!(out.errors.len(), 1, "{body}");
        assert_eq!(out.errors[0].request_tag.as_str(), TAG_HEIGHT);
        for r in out.records.iter() {
            assert_eq!(r.exchange_ts, ROption::RNone);
            assert_eq!(r.next_funding_ts, ROption::RSome(next_full_hour(RECEIVED)));
            assert_eq!(
                extra(r, EXTRA_NEXT_FUNDING_TS_SOURCE),
                Some(FROM_RECEIVED_TS)
            );
        }
    }
}

#[test]
fn markets_not_live_or_not_listed_get_no_ticker() {
    let insts = recorded_instruments();
    let body = markets_with(|m| {
        m["ETH-USD"]["status"] = json!("FINAL_SETTLEMENT");
        m["SOL-USD"]["status"] = json!("PAUSED");
        let mut new = m["BTC-USD"].clone();
        new["ticker"] = json!("NEW-USD");
        m.insert("NEW-USD".into(), new);
    });
    let out = run(KIND_TICKERS, &[(TAG_MARKETS, 200, &body)], &insts);
    let raws: Vec<&str> = out.records.iter().map(|r| r.raw_symbol.as_str()).collect();
    // A paused market keeps its oracle price and open interest; a settled one is gone.
    assert_eq!(raws, ["BTC-USD", "SOL-USD"]);
    assert!(out.warnings.iter().any(|w| w.contains("ETH-USD")));
    assert!(out.warnings.iter().any(|w| w.contains("NEW-USD")));
}

// ------------------------------------------------------------------------------------------
// funding
// ------------------------------------------------------------------------------------------

/// Trap: hourly funding where `nextFundingRate` is the running estimate of the current hour —
/// it is `rate` (the period settling next), not `predicted_rate`; the interval is 1 h (not a
/// default 8 h); the settlement is the next full hour after the block time.
#[test]
fn funding_is_the_current_hours_estimate_settling_at_the_next_full_hour() {
    let markets = markets_json();
    let out = recorded_round(KIND_FUNDING);
    assert_eq!(out.records.len(), 3);
    for r in out.records.iter() {
        let row = &markets["markets"][r.raw_symbol.as_str()];
        assert_eq!(r.rate, ROption::RSome(f(row, "nextFundingRate")));
        assert_eq!(r.predicted_rate, ROption::RNone);
        assert_eq!(r.interval_hours, ROption::RSome(1.0));
        assert_eq!(r.interval_source, ROption::RSome(IntervalSource::DEFAULT));
        assert_eq!(r.next_funding_ts, ROption::RSome(NEXT_HOUR));
        assert_eq!(
            extra(r, EXTRA_NEXT_FUNDING_TS_SOURCE),
            Some(FROM_BLOCK_TIME)
        );
        assert_eq!(extra(r, EXTRA_RATE_FIGURE), Some(CURRENT_HOUR_ESTIMATE));
        assert_eq!(r.exchange_ts, ROption::RSome(BLOCK_MS));
        assert_eq!(r.mark, ROption::RSome(f(row, "oraclePrice")));
        assert_eq!(r.index, ROption::RSome(f(row, "oraclePrice")));
        assert_eq!(extra(r, EXTRA_DEFAULT_RATE_1H), Some("0"));
        assert_eq!((r.rate_cap, r.rate_floor), (ROption::RNone, ROption::RNone));
        assert_eq!(
            (r.rate_8h, r.rate_annualized),
            (ROption::RNone, ROption::RNone)
        );
    }
    // The recorded SOL rate is negative: kept as sent.
    let sol = find(&out.records, "SOL-USD");
    assert!(sol.rate.unwrap() < 0.0);
}

#[test]
fn the_next_full_hour_is_strictly_after_the_block() {
    for (block, next) in [
        ("2025-12-08T16:59:59.999Z", NEXT_HOUR),
        ("2025-12-08T17:00:00.000Z", NEXT_HOUR + 3_600_000),
        ("2025-12-08T16:00:00.219Z", NEXT_HOUR),
    ] {
        let height = json!({"height": "1", "time": block}).to_string();
        let out = run(
            KIND_FUNDING,
            &[
                (TAG_MARKETS, 200, &fixture("perpetual-markets.json")),
                (TAG_HEIGHT, 200, &height),
            ],
            &recorded_instruments(),
        );
        assert_eq!(
            out.records[0].next_funding_ts,
            ROption::RSome(next),
            "{block}"
        );
    }
}

#[test]
fn a_market_without_next_funding_rate_gives_no_funding_record() {
    let body = markets_with(|m| {
        m["ETH-USD"]
            .as_object_mut()
            .unwrap()
            .remove("nextFundingRate");
        m["SOL-USD"]["nextFundingRate"] = json!("");
    });
    let out = run(
        KIND_FUNDING,
        &[(TAG_MARKETS, 200, &body), (TAG_HEIGHT, 200, HEIGHT)],
        &recorded_instruments(),
    );
    let raws: Vec<&str> = out.records.iter().map(|r| r.raw_symbol.as_str()).collect();
    assert_eq!(raws, ["BTC-USD"]);
    assert!(out
        .warnings
        .iter()
        .any(|w| w.contains("ETH-USD") && w.contains("SOL-USD")));
}

// ------------------------------------------------------------------------------------------
// errors
// ------------------------------------------------------------------------------------------

#[test]
fn refused_and_malformed_answers_are_classified() {
    use ErrorClass as C;
    let insts = recorded_instruments();
    let err = |msg: &str| json!({"errors": [{"msg": msg}]}).to_string();
    let cases: Vec<(u16, String, C, &str)> = vec![
        (429, err("Too many requests"), C::RATE_LIMITED, "Too many requests"),
        (
            404,
            err("BTC-XYZ not found in markets of type PERPETUAL"),
            C::PERMANENT,
            "not found",
        ),
        (
            400,
            json!({"errors": [{"value": "x", "msg": "limit must be a positive integer", "param": "limit", "location": "query"}]}).to_string(),
            C::PERMANENT,
            "limit must be",
        ),
        (500, err("Internal Server Error"), C::TRANSIENT, "Internal Server Error"),
        (503, "<html>Service Unavailable</html>".into(), C::TRANSIENT, "503"),
        (404, "Not Found".into(), C::PERMANENT, "Not Found"),
        (200, err("Unexpected error"), C::PERMANENT, "Unexpected error"),
        (200, String::new(), C::PARSE, ""),
        (200, "<html>502 Bad Gateway</html>".into(), C::PARSE, ""),
        (200, r#"{"markets":{"BTC-USD":{"ticker":"BTC"#.into(), C::PARSE, ""),
        // A list where the indexer sends an object keyed by ticker.
        (
            200,
            r#"{"markets":[{"ticker":"BTC-USD","oraclePrice":"1"}]}"#.into(),
            C::PARSE,
            "",
        ),
        (200, r#"{"markets":{"BTC-USD":"1"}}"#.into(), C::PARSE, ""),
        (200, "{}".into(), C::PARSE, "markets"),
        (200, "[1,2,3]".into(), C::PARSE, ""),
    ];
    for (status, body, class, needle) in cases {
        for kind in [KIND_INSTRUMENTS, KIND_TICKERS, KIND_FUNDING] {
            let out = run(kind, &[(TAG_MARKETS, status, &body)], &insts);
            assert!(out.records.is_empty(), "{kind} {status} {body}");
            assert_eq!(out.errors.len(), 1, "{kind} {status} {body}");
            let e = &out.errors[0];
            assert_eq!(e.class, class, "{kind} {status} {body}: {e}");
            assert_eq!(e.request_tag.as_str(), TAG_MARKETS);
            assert!(e.message.contains(needle), "{e}");
        }
    }
}

/// The indexer says when its window frees up in `RateLimit-Reset` (Unix ms) and writes
/// `Retry-After` in **milliseconds** (rate-limiter-flexible's `msBeforeNext`): 2500 is 2.5 s,
/// not 2500 s (which plugin-kit's RFC reading would cap at ten minutes).
#[test]
fn rate_limit_waits_read_the_reset_time_and_retry_after_in_ms() {
    let body = r#"{"errors":[{"msg":"Too many requests"}]}"#;
    let insts = recorded_instruments();
    let reset = (NOW + 4_000).to_string();
    for (headers, want) in [
        (
            vec![
                KeyValueRef {
                    key: "RateLimit-Reset".into(),
                    value: reset.as_str().into(),
                },
                KeyValueRef {
                    key: "Retry-After".into(),
                    value: "2500".into(),
                },
            ],
            Some(4_000),
        ),
        (
            vec![KeyValueRef {
                key: "Retry-After".into(),
                value: "2500".into(),
            }],
            Some(2_500),
        ),
        (
            vec![KeyValueRef {
                key: "Retry-After".into(),
                value: "86400000".into(),
            }],
            Some(600_000),
        ),
        (vec![], None),
    ] {
        let out = run_with(KIND_TICKERS, &[(TAG_MARKETS, 429, body)], &insts, &headers);
        assert_eq!(out.errors[0].class, ErrorClass::RATE_LIMITED);
        assert_eq!(out.errors[0].retry_after_ms, want.into(), "{headers:?}");
    }
}

#[test]
fn an_empty_market_list_is_no_error() {
    let out = run(
        KIND_TICKERS,
        &[(TAG_MARKETS, 200, r#"{"markets":{}}"#)],
        &[],
    );
    assert!(out.errors.is_empty() && out.records.is_empty());
    let out = run(
        KIND_INSTRUMENTS,
        &[(TAG_MARKETS, 200, r#"{"markets":{}}"#)],
        &[],
    );
    assert!(out.errors.is_empty() && out.records.is_empty());
    assert!(out
        .warnings
        .iter()
        .any(|w| w.contains("no perpetual markets")));
}

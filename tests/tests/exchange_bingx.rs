//! BingX end to end: the real host loads the real `fc_plugin_bingx` `.so` through the ABI and
//! collects from the emulator's BingX instance. Every record validates against the schema; at
//! least 99% of the emulated trading perpetuals get a ticker and a funding record, and at
//! least 99% of those that can hold positions get their open interest (served per symbol
//! only) merged into their ticker; every numeric field equals what the emulator served
//! (recomputed from the emulator library for the seconds the record can stem from); what
//! BingX does not serve stays null.
//!
//! The trap (open interest per symbol only): the sweep is one request per perpetual, and the
//! host paces it inside the budget — the emulator's request log shows the sweep never above
//! its own rule's rate and the bulk ticker requests going on at their interval while it runs.
//! `fundingIntervalHours` is reported where the row has it and 8 h `default` where it does not.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    time::Duration,
};

use exchange_emulator::{
    exchanges::{respond, Query, Venue},
    EmulatorConfig, ExchangeKind, InstanceConfig, RequestRecord,
};
use integration_tests::{config_text, deploy_plugin, record_validator, wait_until, RunningHost};
use serde_json::Value;

const EXCHANGE: &str = "bingx";
const PLUGIN: &str = "fc_plugin_bingx";
/// Enough for the renamed `OMNI-USDT` (from 70) and a sweep of ~25 s at 5 requests/s.
const UNIVERSE: usize = 130;
/// Seconds before a record's `received_ts` in which the emulator may have built the answer
/// its ticker and funding fields come from.
const SECONDS_BACK: i64 = 5;
/// Seconds AFTER a ticker record's `received_ts` its ticker fields may come from: a record of
/// the open-interest sweep has its open interest's `received_ts`, but the host merges it with
/// the tickers it knows when the sweep's cycle ends, up to a sweep later.
const SWEEP_SECONDS: i64 = 60;
/// Seconds before a record's `received_ts` in which its open interest may have been served
/// (a record carries it from the last sweep).
const OI_SECONDS_BACK: i64 = 120;
/// Share of the emulated perpetuals that must be covered.
const COVERAGE: f64 = 0.99;
const CONTRACTS: &str = "/openApi/swap/v2/quote/contracts";
const TICKER: &str = "/openApi/swap/v2/quote/ticker";
const PREMIUM_INDEX: &str = "/openApi/swap/v2/quote/premiumIndex";
const OPEN_INTEREST: &str = "/openApi/swap/v2/quote/openInterest";
/// The plugin's rules at `rate_limit_share = 1` (the test's): the sweep 5/s, all 10/s.
const OI_PER_SECOND: usize = 5;
const ALL_PER_SECOND: usize = 10;
/// Arrivals may bunch a little closer than the host sent them (loopback, a loaded machine).
const ARRIVAL_SLACK: usize = 1;
/// Longest pause between two bulk ticker requests (interval 1 s) while the sweep runs.
const MAX_TICKER_GAP_MS: u64 = 3_000;

fn instance() -> InstanceConfig {
    InstanceConfig {
        universe: UNIVERSE,
        ..InstanceConfig::new(EXCHANGE, ExchangeKind::Bingx)
    }
}

/// The `data` of one emulated answer at `at_ms`.
fn data(venue: &Venue, path: &str, query: Option<&str>, at_ms: i64) -> Value {
    let answer = respond(venue, "GET", path, &Query::parse(query), at_ms as u64);
    assert_eq!(answer.status, 200, "{path}");
    let body: Value = serde_json::from_str(&answer.body).expect("emulator JSON");
    assert_eq!(body["code"], 0, "{path}: {body}");
    body["data"].clone()
}

/// The rows of a bulk endpoint at `at_ms`, by symbol.
fn bulk(venue: &Venue, path: &str, at_ms: i64) -> HashMap<String, Value> {
    data(venue, path, None, at_ms)
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            (
                row["symbol"].as_str().expect("symbol").to_owned(),
                row.clone(),
            )
        })
        .collect()
}

/// Emulator answers per (path, second), built on demand.
struct Served<'v> {
    venue: &'v Venue,
    bulk: HashMap<(&'static str, i64), HashMap<String, Value>>,
    open_interest: HashMap<(String, i64), Option<f64>>,
}

impl Served<'_> {
    /// The rows of `symbol` on a bulk `path` from `back` seconds before `received_ts` to
    /// `ahead` seconds after it.
    fn rows(
        &mut self,
        path: &'static str,
        symbol: &str,
        received_ts: i64,
        back: i64,
        ahead: i64,
    ) -> Vec<Value> {
        let second = received_ts / 1000;
        (-ahead..=back)
            .filter_map(|b| {
                let s = second - b;
                let venue = self.venue;
                self.bulk
                    .entry((path, s))
                    .or_insert_with(|| bulk(venue, path, s * 1000 + 500))
                    .get(symbol)
                    .cloned()
            })
            .collect()
    }

    /// The open-interest values served for `symbol` in the seconds up to `received_ts`.
    fn open_interest(&mut self, symbol: &str, received_ts: i64) -> Vec<f64> {
        let second = received_ts / 1000;
        (0..=OI_SECONDS_BACK)
            .filter_map(|b| {
                let s = second - b;
                let venue = self.venue;
                *self
                    .open_interest
                    .entry((symbol.to_owned(), s))
                    .or_insert_with(|| {
                        let query = format!("symbol={symbol}");
                        num(&data(venue, OPEN_INTEREST, Some(&query), s * 1000 + 500)
                            ["openInterest"])
                    })
            })
            .collect()
    }
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim_end_matches('%').parse().ok(),
        _ => None,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12)
}

/// True when every `(record field, expected)` pair agrees (absent = null).
fn agrees(record: &Value, expected: &[(&str, Option<f64>)]) -> bool {
    expected
        .iter()
        .all(|(field, want)| match (record[*field].as_f64(), want) {
            (Some(got), Some(want)) => close(got, *want),
            (None, None) => record[*field].is_null(),
            _ => false,
        })
}

/// A positive price, else absent (BingX's zero is no price).
fn price(v: &Value) -> Option<f64> {
    num(v).filter(|p| *p > 0.0)
}

/// Most arrivals in any window of `window_ms` (times sorted).
fn busiest_window(times: &[u64], window_ms: u64) -> usize {
    let mut start = 0;
    let mut most = 0;
    for (end, t) in times.iter().enumerate() {
        while times[start] + window_ms <= *t {
            start += 1;
        }
        most = most.max(end + 1 - start);
    }
    most
}

fn arrivals(log: &[RequestRecord], path: &str) -> Vec<u64> {
    let mut times: Vec<u64> = log
        .iter()
        .filter(|r| r.path == path)
        .map(|r| r.ts_ms)
        .collect();
    times.sort_unstable();
    times
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bingx_end_to_end_matches_what_the_emulator_served() {
    let emulator = exchange_emulator::spawn(
        EmulatorConfig {
            instances: vec![instance()],
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    // The same universe as the emulator's (symbols and values depend on the seed alone).
    let venue = Venue::new(instance());
    let contracts: HashMap<String, Value> = data(&venue, CONTRACTS, None, 1_790_000_000_000)
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| (row["symbol"].as_str().unwrap().to_owned(), row.clone()))
        .collect();
    let with_status = |codes: &[i64]| -> HashSet<String> {
        contracts
            .values()
            .filter(|r| codes.contains(&r["status"].as_i64().unwrap()))
            .map(|r| r["symbol"].as_str().unwrap().to_owned())
            .collect()
    };
    let trading = with_status(&[1]);
    let pre_launch = with_status(&[5]);
    let no_opening = with_status(&[25]);
    // The sweep asks for every perpetual that can hold positions.
    let pollable: HashSet<String> = trading.union(&no_opening).cloned().collect();
    assert!(trading.len() > 100 && !pre_launch.is_empty() && !no_opening.is_empty());
    assert!(contracts
        .values()
        .any(|r| r["status"] == 1 && r["apiStateOpen"] == "false"));

    let dir = tempfile::tempdir().unwrap();
    let plugin_dir = dir.path().join("plugins");
    std::fs::create_dir(&plugin_dir).unwrap();
    deploy_plugin(PLUGIN, &plugin_dir);
    let intervals = "[exchanges.bingx.intervals]\ninstruments = \"1h\"\ntickers = \"1s\"\nfunding = \"1s\"\nopen_interest = \"10s\"\n";
    // The whole documented budget (the shipped default uses half): the sweep runs at 5/s.
    let config = config_text(
        dir.path(),
        &plugin_dir,
        &[(EXCHANGE, emulator.base_url(EXCHANGE), intervals)],
    )
    .replacen("[http]\n", "[http]\nrate_limit_share = 1.0\n", 1);
    let host = RunningHost::start(dir.path(), &config);

    let covered = |records: &[Value], kind: &str, field: &str, among: &HashSet<String>| {
        records
            .iter()
            .filter(|r| r["kind"] == kind && !r[field].is_null())
            .filter_map(|r| r["raw_symbol"].as_str())
            .filter(|s| among.contains(*s))
            .collect::<HashSet<_>>()
            .len()
    };
    let need = |among: &HashSet<String>| (among.len() as f64 * COVERAGE).ceil() as usize;
    let complete = |records: &[Value]| {
        covered(records, "ticker", "last", &trading) >= need(&trading)
            && covered(records, "funding", "interval_hours", &trading) >= need(&trading)
            && covered(records, "ticker", "open_interest_quote", &pollable) >= need(&pollable)
    };
    let took = wait_until(Duration::from_secs(90), || complete(&host.records())).await;
    let records = host.records();
    host.stop().await;
    let log = emulator.stats().instance(EXCHANGE).recent;
    emulator.shutdown().await;
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for r in &records {
        *tally
            .entry(r["kind"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    assert!(
        took.is_some(),
        "coverage below {COVERAGE}: tickers {}/{}, funding {}/{}, open interest {}/{} ({tally:?})",
        covered(&records, "ticker", "last", &trading),
        trading.len(),
        covered(&records, "funding", "interval_hours", &trading),
        trading.len(),
        covered(&records, "ticker", "open_interest_quote", &pollable),
        pollable.len(),
    );

    check_pacing(&log, &pollable, &pre_launch);

    let validator = record_validator();
    let mut served = Served {
        venue: &venue,
        bulk: HashMap::new(),
        open_interest: HashMap::new(),
    };
    let mut interval_sources: BTreeMap<(String, u64), usize> = BTreeMap::new();
    for record in &records {
        let errors: Vec<String> = validator
            .iter_errors(record)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "invalid record {record}: {errors:?}");
        assert_eq!(record["exchange"], EXCHANGE);
        assert_eq!(record["market_type"], "linear_perpetual", "{record}");
        let raw = record["raw_symbol"].as_str().unwrap();
        let contract = contracts
            .get(raw)
            .unwrap_or_else(|| panic!("a record for a symbol BingX does not list: {record}"));
        let received = record["received_ts"].as_i64().unwrap();
        match record["kind"].as_str().unwrap() {
            "instrument" => check_instrument(record, contract),
            "ticker" => {
                assert!(!pre_launch.contains(raw), "pre-launch {raw} has a ticker");
                check_ticker(record, raw, received, &mut served);
            }
            "funding" => {
                assert!(trading.contains(raw), "funding for non-trading {raw}");
                let rows = served.rows(PREMIUM_INDEX, raw, received, SECONDS_BACK, 0);
                let matched = rows.iter().any(|row| funding_agrees(record, row));
                assert!(
                    matched,
                    "funding {record} matches no premiumIndex row: {rows:?}"
                );
                let hours = record["interval_hours"].as_f64().unwrap() as u64;
                let source = record["interval_source"].as_str().unwrap().to_owned();
                *interval_sources.entry((source, hours)).or_default() += 1;
                // BingX serves no predicted rate, cap or floor.
                for field in ["predicted_rate", "rate_cap", "rate_floor"] {
                    assert!(record[field].is_null(), "{field}: {record}");
                }
                assert!(
                    record["next_funding_ts"].as_i64().unwrap() > received,
                    "{record}"
                );
            }
            other => panic!("unexpected kind {other}: {record}"),
        }
    }
    // `fundingIntervalHours` where present (1, 4 and 8 h reported), 8 h `default` on the rows
    // of the older shape.
    for (source, hours) in [
        ("reported", 1),
        ("reported", 4),
        ("reported", 8),
        ("default", 8),
    ] {
        assert!(
            interval_sources.contains_key(&(source.to_owned(), hours)),
            "no {hours} h {source} interval: {interval_sources:?}"
        );
    }
    assert!(
        !interval_sources
            .keys()
            .any(|(s, h)| s == "default" && *h != 8),
        "{interval_sources:?}"
    );

    // The odd cases reached the output.
    let find = |raw: &str, kind: &str| {
        records
            .iter()
            .find(|r| r["raw_symbol"] == raw && r["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} record for {raw}"))
    };
    assert_eq!(find("BTC-USDT", "instrument")["symbol"], "BTC/USDT:USDT");
    assert_eq!(
        find("OMNI-USDT", "instrument")["symbol"],
        "OmniCat/USDT:USDT"
    );
    let pepe = find("1000PEPE-USDT", "instrument");
    assert_eq!(pepe["symbol"], "1000PEPE/USDT:USDT");
    assert_eq!(pepe["extra"]["multiplier"], "1000");
}

/// The sweep's requests as the emulator received them: each pollable perpetual asked, none
/// pre-launch; never faster than its own rule, the whole never faster than the exchange-wide
/// one; and the bulk tickers keep their interval while the sweep runs.
fn check_pacing(log: &[RequestRecord], pollable: &HashSet<String>, pre_launch: &HashSet<String>) {
    let asked: HashSet<&str> = log
        .iter()
        .filter(|r| r.path == OPEN_INTEREST)
        .filter_map(|r| r.query.strip_prefix("symbol="))
        .collect();
    for symbol in pollable {
        assert!(
            asked.contains(symbol.as_str()),
            "open interest of {symbol} never asked"
        );
    }
    for symbol in pre_launch {
        assert!(
            !asked.contains(symbol.as_str()),
            "pre-launch {symbol} asked"
        );
    }
    let sweep = arrivals(log, OPEN_INTEREST);
    let busiest = busiest_window(&sweep, 1_000);
    assert!(
        busiest <= OI_PER_SECOND + ARRIVAL_SLACK,
        "{busiest} open-interest requests within one second (rule: {OI_PER_SECOND}/s)"
    );
    let mut all: Vec<u64> = log.iter().map(|r| r.ts_ms).collect();
    all.sort_unstable();
    let busiest_all = busiest_window(&all, 1_000);
    assert!(
        busiest_all <= ALL_PER_SECOND + ARRIVAL_SLACK,
        "{busiest_all} requests within one second (rule: {ALL_PER_SECOND}/s)"
    );
    // The first sweep, start to end: at its pace it takes ~25 s; tickers go on meanwhile.
    let (first, last) = (sweep[0], sweep[pollable.len().min(sweep.len()) - 1]);
    let span_s = (last - first) as f64 / 1000.0;
    let rate = pollable.len() as f64 / span_s.max(1.0);
    assert!(
        rate <= OI_PER_SECOND as f64 * 1.1,
        "sweep of {} symbols in {span_s:.1} s: {rate:.1}/s",
        pollable.len()
    );
    let tickers: Vec<u64> = arrivals(log, TICKER)
        .into_iter()
        .filter(|t| (first..=last).contains(t))
        .collect();
    assert!(tickers.len() >= 2, "no ticker request during the sweep");
    let gap = tickers.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    let lead = tickers[0] - first;
    eprintln!(
        "sweep: {} requests in {span_s:.1} s ({rate:.2}/s), busiest second {busiest} \
         (all requests: {busiest_all}), longest ticker pause {} ms",
        pollable.len(),
        gap.max(lead)
    );
    assert!(
        gap.max(lead) <= MAX_TICKER_GAP_MS,
        "tickers paused {} ms during the open-interest sweep",
        gap.max(lead)
    );
}

fn check_instrument(record: &Value, contract: &Value) {
    let decimals = contract["pricePrecision"].as_i64().unwrap() as i32;
    assert!(
        agrees(
            record,
            &[
                ("contract_size", Some(1.0)),
                ("tick_size", Some(10f64.powi(-decimals))),
            ]
        ),
        "{record} vs {contract}"
    );
    let want = match (
        contract["status"].as_i64().unwrap(),
        &contract["apiStateOpen"],
    ) {
        (1, open) if open == "false" => "restricted",
        (1, _) => "trading",
        (5, _) => "pre_launch",
        (25, _) => "reduce_only",
        (other, _) => panic!("status {other}"),
    };
    assert_eq!(record["status"], want, "{record}");
    assert_eq!(
        record["extra"]["raw_status"],
        contract["status"].to_string()
    );
    match contract["timeOnline"].as_i64().unwrap() {
        0 => assert!(record["listing_ts"].is_null(), "{record}"),
        at => assert_eq!(record["listing_ts"], at, "{record}"),
    }
}

/// A ticker record: its ticker fields from one `quote/ticker` row, its mark and index from one
/// `quote/premiumIndex` row (both around `received_ts`), its open interest from one
/// `quote/openInterest` answer of the last sweep with the base amount at a served mark — or
/// null where the emulator serves nothing (a no-opening contract has no ticker, no mark, so no
/// base amount).
fn check_ticker(record: &Value, raw: &str, received: i64, served: &mut Served<'_>) {
    let tickers = served.rows(TICKER, raw, received, SECONDS_BACK, SWEEP_SECONDS);
    let ticker_fields = |row: Option<&Value>| -> Vec<(&str, Option<f64>)> {
        let field = |key: &str| row.and_then(|r| num(&r[key]));
        vec![
            ("last", row.and_then(|r| price(&r["lastPrice"]))),
            ("bid", row.and_then(|r| price(&r["bidPrice"]))),
            ("ask", row.and_then(|r| price(&r["askPrice"]))),
            ("volume_24h_base", field("volume")),
            ("volume_24h_quote", field("quoteVolume")),
            ("exchange_ts", field("closeTime")),
        ]
    };
    let matched = if tickers.is_empty() {
        agrees(record, &ticker_fields(None))
    } else {
        tickers
            .iter()
            .any(|row| agrees(record, &ticker_fields(Some(row))))
    };
    assert!(
        matched,
        "ticker {record} matches no ticker row: {tickers:?}"
    );

    let premium = served.rows(PREMIUM_INDEX, raw, received, SECONDS_BACK, SWEEP_SECONDS);
    let mark_fields = |row: Option<&Value>| -> Vec<(&str, Option<f64>)> {
        vec![
            ("mark", row.and_then(|r| price(&r["markPrice"]))),
            ("index", row.and_then(|r| price(&r["indexPrice"]))),
        ]
    };
    let matched = if premium.is_empty() {
        agrees(record, &mark_fields(None))
    } else {
        premium
            .iter()
            .any(|row| agrees(record, &mark_fields(Some(row))))
    };
    assert!(
        matched,
        "ticker {record} matches no premiumIndex row: {premium:?}"
    );

    let Some(quote) = record["open_interest_quote"].as_f64() else {
        assert!(record["open_interest_base"].is_null(), "{record}");
        return;
    };
    // The served value is the quote amount (USDT), never contracts or coins.
    let values = served.open_interest(raw, received);
    assert!(
        values.iter().any(|v| close(*v, quote)),
        "open interest {record} matches no value served in the last {OI_SECONDS_BACK} s"
    );
    match record["open_interest_base"].as_f64() {
        Some(base) => {
            let marks: Vec<f64> = served
                .rows(PREMIUM_INDEX, raw, received, OI_SECONDS_BACK, 0)
                .iter()
                .filter_map(|row| price(&row["markPrice"]))
                .collect();
            assert!(
                marks.iter().any(|m| close(quote / m, base)),
                "open interest base {record} is the value at no served mark"
            );
            assert_eq!(record["extra"]["oi_base_derived"], "true", "{record}");
        }
        None => assert!(
            served
                .rows(PREMIUM_INDEX, raw, received, OI_SECONDS_BACK, 0)
                .is_empty(),
            "no base amount although a mark was served: {record}"
        ),
    }
}

fn funding_agrees(record: &Value, row: &Value) -> bool {
    let (hours, source) = match num(&row["fundingIntervalHours"]) {
        Some(h) => (h, "reported"),
        None => (8.0, "default"),
    };
    agrees(
        record,
        &[
            ("rate", num(&row["lastFundingRate"])),
            ("interval_hours", Some(hours)),
            ("mark", price(&row["markPrice"])),
            ("index", price(&row["indexPrice"])),
        ],
    ) && record["interval_source"] == source
        && record["next_funding_ts"].as_i64() == row["nextFundingTime"].as_i64()
        && record["exchange_ts"].is_null()
}

//! HTX end to end: the real host loads the real `fc_plugin_htx` `.so` through the ABI and
//! collects from the emulator's HTX instance. Every record validates against the schema; at
//! least 99% of the emulated trading linear swaps get a ticker and a funding record; every
//! numeric field equals what the emulator served (recomputed from the emulator library for the
//! second the record was received in); mark and index (not served in bulk) stay null; no dated
//! future is labelled perpetual. A second run removes the legacy bulk funding endpoint (HTTP
//! 404) and proves the per-swap v5 fallback, caps included.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    time::Duration,
};

use exchange_emulator::{
    exchanges::{respond, Query, Venue},
    EmulatorConfig, ExchangeKind, Fault, FaultSpec, InstanceConfig,
};
use integration_tests::{record_validator, wait_until, RunningHost};
use serde_json::Value;

const EXCHANGE: &str = "htx";
const PLUGIN: &str = "fc_plugin_htx";
const UNIVERSE: usize = 250;
/// Seconds before a record's `received_ts` in which the emulator may have built its answer.
const SECONDS_BACK: i64 = 3;
/// Share of the emulated trading linear swaps that must have ticker and funding records.
const COVERAGE: f64 = 0.99;
const CONTRACT_INFO: &str = "/linear-swap-api/v1/swap_contract_info";
const BATCH_MERGED: &str = "/v2/linear-swap-ex/market/detail/batch_merged";
const OPEN_INTEREST: &str = "/linear-swap-api/v1/swap_open_interest";
const BATCH_FUNDING: &str = "/linear-swap-api/v1/swap_batch_funding_rate";
const V5_FUNDING: &str = "/v5/market/funding_rate";

fn instance() -> InstanceConfig {
    InstanceConfig {
        universe: UNIVERSE,
        ..InstanceConfig::new(EXCHANGE, ExchangeKind::Htx)
    }
}

/// The payload rows of one emulated endpoint at `at_ms`, by contract code.
fn served(venue: &Venue, path: &str, query: &str, at_ms: i64) -> HashMap<String, Value> {
    let answer = respond(venue, "GET", path, &Query::parse(Some(query)), at_ms as u64);
    assert_eq!(answer.status, 200, "{path}");
    let body: Value = serde_json::from_str(&answer.body).expect("emulator JSON");
    let rows = if body["ticks"].is_array() {
        &body["ticks"]
    } else {
        &body["data"]
    };
    rows.as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            (
                row["contract_code"].as_str().expect("code").to_owned(),
                row.clone(),
            )
        })
        .collect()
}

/// Emulator answers per (path, query, second), built on demand.
struct Served<'v> {
    venue: &'v Venue,
    cache: HashMap<(String, i64), HashMap<String, Value>>,
}

impl Served<'_> {
    fn candidates(&mut self, path: &str, query: &str, code: &str, received_ts: i64) -> Vec<Value> {
        let second = received_ts / 1000;
        (0..=SECONDS_BACK)
            .filter_map(|back| {
                let s = second - back;
                let rows = self
                    .cache
                    .entry((format!("{path}?{query}"), s))
                    .or_insert_with(|| served(self.venue, path, query, s * 1000 + 500));
                rows.get(code).cloned()
            })
            .collect()
    }
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12)
}

fn agrees(record: &Value, expected: &[(&str, Option<f64>)]) -> bool {
    expected
        .iter()
        .all(|(field, want)| match (record[*field].as_f64(), want) {
            (Some(got), Some(want)) => close(got, *want),
            (None, None) => record[*field].is_null(),
            _ => false,
        })
}

/// What the universe lists: (trading linear swaps, dated futures).
fn universe(venue: &Venue) -> (HashSet<String>, HashSet<String>) {
    let all = served(venue, CONTRACT_INFO, "business_type=all", 1_790_000_000_000);
    let pick = |f: &dyn Fn(&Value) -> bool| -> HashSet<String> {
        all.iter()
            .filter(|(_, r)| f(r))
            .map(|(c, _)| c.clone())
            .collect()
    };
    let trading = pick(&|r| r["business_type"] == "swap" && r["contract_status"] == 1);
    let dated = pick(&|r| r["business_type"] != "swap");
    (trading, dated)
}

/// Runs the host against an HTX emulator (with `faults` injected) until coverage, and returns
/// its records.
async fn collect(faults: &[FaultSpec], linear: &HashSet<String>) -> Vec<Value> {
    let emulator = exchange_emulator::spawn(
        EmulatorConfig {
            instances: vec![instance()],
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    for fault in faults {
        emulator.inject(fault.clone());
    }
    let dir = tempfile::tempdir().unwrap();
    let intervals =
        "[exchanges.htx.intervals]\ninstruments = \"1h\"\ntickers = \"1s\"\nfunding = \"2s\"\n";
    let host = RunningHost::start_exchange(
        dir.path(),
        PLUGIN,
        EXCHANGE,
        &emulator.base_url(EXCHANGE),
        intervals,
    );
    let covered = |records: &[Value], kind: &str| {
        records
            .iter()
            .filter(|r| r["kind"] == kind)
            .filter_map(|r| r["raw_symbol"].as_str())
            .filter(|s| linear.contains(*s))
            .collect::<HashSet<_>>()
            .len()
    };
    let need = (linear.len() as f64 * COVERAGE).ceil() as usize;
    let took = wait_until(Duration::from_secs(60), || {
        let records = host.records();
        covered(&records, "ticker") >= need && covered(&records, "funding") >= need
    })
    .await;
    let records = host.records();
    host.stop().await;
    emulator.shutdown().await;
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for r in &records {
        *tally
            .entry(r["kind"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    assert!(
        took.is_some(),
        "coverage below {COVERAGE} of {} trading linear swaps: tickers {}, funding {} ({tally:?})",
        linear.len(),
        covered(&records, "ticker"),
        covered(&records, "funding")
    );
    records
}

/// Checks every record against what the emulator served; `v5` when funding came per swap.
fn check_records(records: &[Value], venue: &Venue, dated: &HashSet<String>, v5: bool) {
    let validator = record_validator();
    let mut served_at = Served {
        venue,
        cache: HashMap::new(),
    };
    for record in records {
        let errors: Vec<String> = validator
            .iter_errors(record)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "invalid record {record}: {errors:?}");
        assert_eq!(record["exchange"], EXCHANGE);
        assert_eq!(record["market_type"], "linear_perpetual", "{record}");
        let code = record["raw_symbol"].as_str().unwrap();
        assert!(
            !dated.contains(code),
            "dated future labelled perpetual: {record}"
        );
        let received = record["received_ts"].as_i64().unwrap();
        match record["kind"].as_str().unwrap() {
            "instrument" => {
                let rows = served_at.candidates(CONTRACT_INFO, "", code, received);
                assert!(
                    rows.iter().any(|row| agrees(
                        record,
                        &[
                            ("contract_size", num(&row["contract_size"])),
                            ("tick_size", num(&row["price_tick"])),
                        ]
                    )),
                    "{record} vs {rows:?}"
                );
            }
            "ticker" => {
                // Not served in bulk by HTX: null, never 0.
                assert!(
                    record["mark"].is_null() && record["index"].is_null(),
                    "{record}"
                );
                let ticks = served_at.candidates(BATCH_MERGED, "", code, received);
                assert!(
                    ticks.iter().any(|t| agrees(
                        record,
                        &[
                            ("last", num(&t["close"])),
                            ("bid", num(&t["bid"][0])),
                            ("ask", num(&t["ask"][0])),
                            ("volume_24h_base", num(&t["amount"])),
                            ("volume_24h_quote", num(&t["trade_turnover"])),
                        ]
                    ) && record["exchange_ts"].as_i64() == t["ts"].as_i64()),
                    "ticker {record} matches no batch_merged row: {ticks:?}"
                );
                let oi = served_at.candidates(OPEN_INTEREST, "", code, received);
                assert!(
                    oi.iter().any(|r| agrees(
                        record,
                        &[
                            ("open_interest_base", num(&r["amount"])),
                            ("open_interest_quote", num(&r["value"])),
                        ]
                    )),
                    "ticker {record} matches no open-interest row: {oi:?}"
                );
            }
            "funding" => {
                let (path, query) = if v5 {
                    (V5_FUNDING, format!("contract_code={code}"))
                } else {
                    (BATCH_FUNDING, String::new())
                };
                let rows = served_at.candidates(path, &query, code, received);
                let matched = rows.iter().any(|row| {
                    let at = num(&row["funding_time"]);
                    let next = num(&row["next_funding_time"]);
                    let hours = at.zip(next).map(|(a, n)| (n - a) / 3.6e6);
                    let (cap, floor) = if v5 {
                        (num(&row["max_funding_rate"]), num(&row["min_funding_rate"]))
                    } else {
                        (None, None)
                    };
                    agrees(
                        record,
                        &[
                            ("rate", num(&row["funding_rate"])),
                            ("interval_hours", hours),
                            ("rate_cap", cap),
                            ("rate_floor", floor),
                            ("predicted_rate", None),
                        ],
                    ) && record["next_funding_ts"].as_f64() == at
                });
                assert!(matched, "funding {record} matches no served row: {rows:?}");
                assert_eq!(record["interval_source"], "inferred", "{record}");
                assert_eq!(
                    record["extra"]["funding_source"],
                    if v5 { "v5" } else { "batch" },
                    "{record}"
                );
            }
            other => panic!("unexpected kind {other}: {record}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn htx_end_to_end_matches_what_the_emulator_served() {
    let venue = Venue::new(instance());
    let (linear, dated) = universe(&venue);
    assert!(linear.len() > 200 && !dated.is_empty());
    let records = collect(&[], &linear).await;
    check_records(&records, &venue, &dated, false);
    let btc = records
        .iter()
        .find(|r| r["raw_symbol"] == "BTC-USDT" && r["kind"] == "instrument")
        .expect("BTC-USDT instrument");
    assert_eq!(btc["symbol"], "BTC/USDT:USDT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn htx_bulk_funding_removed_falls_back_to_v5() {
    let venue = Venue::new(instance());
    let (linear, dated) = universe(&venue);
    let gone = FaultSpec::new(
        EXCHANGE,
        Fault::Status {
            status: 404,
            body: Some("404 page not found".to_owned()),
        },
    )
    .path(BATCH_FUNDING);
    let records = collect(&[gone], &linear).await;
    check_records(&records, &venue, &dated, true);
    assert!(records
        .iter()
        .any(|r| r["kind"] == "funding" && r["rate_cap"].is_number()));
}

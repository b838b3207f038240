//! KuCoin Futures end to end: the real host loads the real `fc_plugin_kucoinfutures` `.so`
//! through the ABI and collects from the emulator's KuCoin instance. Every record validates
//! against the schema; at least 99% of the emulated linear perpetuals get a ticker and a
//! funding record; every numeric field equals what the emulator served (recomputed from the
//! emulator library for the second the record was received in); nothing is 0 where KuCoin
//! serves nothing; no dated future is labelled perpetual; XBT is BTC and inverse contracts are
//! inverse.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    time::Duration,
};

use exchange_emulator::{
    exchanges::{respond, Query, Venue},
    EmulatorConfig, ExchangeKind, InstanceConfig,
};
use integration_tests::{record_validator, wait_until, RunningHost};
use serde_json::Value;

const EXCHANGE: &str = "kucoinfutures";
const PLUGIN: &str = "fc_plugin_kucoinfutures";
const UNIVERSE: usize = 400;
/// Seconds before a record's `received_ts` in which the emulator may have built its answer.
const SECONDS_BACK: i64 = 3;
/// Share of the emulated linear perpetuals that must have ticker and funding records.
const COVERAGE: f64 = 0.99;

fn instance() -> InstanceConfig {
    InstanceConfig {
        universe: UNIVERSE,
        ..InstanceConfig::new(EXCHANGE, ExchangeKind::KucoinFutures)
    }
}

/// The `data` rows of one emulated endpoint at `at_ms`, by symbol.
fn served(venue: &Venue, path: &str, at_ms: i64) -> HashMap<String, Value> {
    let answer = respond(venue, "GET", path, &Query::default(), at_ms as u64);
    assert_eq!(answer.status, 200, "{path}");
    let body: Value = serde_json::from_str(&answer.body).expect("emulator JSON");
    body["data"]
        .as_array()
        .expect("data rows")
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
    cache: HashMap<(&'static str, i64), HashMap<String, Value>>,
}

impl Served<'_> {
    /// The rows of `symbol` on `path` the emulator would have served in the seconds up to
    /// `received_ts`, newest first.
    fn candidates(&mut self, path: &'static str, symbol: &str, received_ts: i64) -> Vec<Value> {
        let second = received_ts / 1000;
        (0..=SECONDS_BACK)
            .filter_map(|back| {
                let s = second - back;
                let rows = self
                    .cache
                    .entry((path, s))
                    .or_insert_with(|| served(self.venue, path, s * 1000 + 500));
                rows.get(symbol).cloned()
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

fn mul(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? * b?)
}

/// What a ticker record's contracts/active fields must be for one served row.
fn contract_ticker_fields(row: &Value) -> Vec<(&'static str, Option<f64>)> {
    let mark = num(&row["markPrice"]);
    let oi = num(&row["openInterest"]);
    let size = num(&row["multiplier"]).map(f64::abs);
    let (volume, turnover) = (num(&row["volumeOf24h"]), num(&row["turnoverOf24h"]));
    if row["isInverse"] == true {
        let oi_usd = mul(oi, size);
        vec![
            ("mark", mark),
            ("index", num(&row["indexPrice"])),
            ("volume_24h_base", turnover),
            ("volume_24h_quote", volume),
            ("open_interest_quote", oi_usd),
            ("open_interest_base", oi_usd.zip(mark).map(|(q, m)| q / m)),
        ]
    } else {
        let oi_base = mul(oi, size);
        vec![
            ("mark", mark),
            ("index", num(&row["indexPrice"])),
            ("volume_24h_base", volume),
            ("volume_24h_quote", turnover),
            ("open_interest_base", oi_base),
            ("open_interest_quote", mul(oi_base, mark)),
        ]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kucoinfutures_end_to_end_matches_what_the_emulator_served() {
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
    let contracts = served(&venue, "/api/v1/contracts/active", 1_790_000_000_000);
    let linear: HashSet<String> = contracts
        .values()
        .filter(|r| r["type"] == "FFWCSX" && r["isInverse"] == false)
        .map(|r| r["symbol"].as_str().unwrap().to_owned())
        .collect();
    let dated: HashSet<String> = contracts
        .values()
        .filter(|r| r["type"] != "FFWCSX")
        .map(|r| r["symbol"].as_str().unwrap().to_owned())
        .collect();
    let paused: HashSet<String> = contracts
        .values()
        .filter(|r| r["status"] != "Open")
        .map(|r| r["symbol"].as_str().unwrap().to_owned())
        .collect();
    assert!(linear.len() > 300 && !dated.is_empty() && !paused.is_empty());

    let dir = tempfile::tempdir().unwrap();
    let intervals = "[exchanges.kucoinfutures.intervals]\ninstruments = \"1h\"\ntickers = \"1s\"\nfunding = \"1s\"\n";
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
    let took = wait_until(Duration::from_secs(30), || {
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
        "coverage below {COVERAGE} of {} linear perpetuals: tickers {}, funding {} ({tally:?})",
        linear.len(),
        covered(&records, "ticker"),
        covered(&records, "funding")
    );

    let validator = record_validator();
    let mut served_at = Served {
        venue: &venue,
        cache: HashMap::new(),
    };
    for record in &records {
        let errors: Vec<String> = validator
            .iter_errors(record)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "invalid record {record}: {errors:?}");
        assert_eq!(record["exchange"], EXCHANGE);
        let raw = record["raw_symbol"].as_str().unwrap();
        assert!(
            !dated.contains(raw),
            "dated future labelled perpetual: {record}"
        );
        let received = record["received_ts"].as_i64().unwrap();
        let contract = &contracts[raw];
        // Identity: XBT is BTC; inverse contracts settle in the coin.
        let inverse = contract["isInverse"] == true;
        assert_eq!(
            record["market_type"],
            if inverse {
                "inverse_perpetual"
            } else {
                "linear_perpetual"
            },
            "{record}"
        );
        if raw.starts_with("XBT") {
            assert_eq!(record["base"], "BTC", "{record}");
        }
        match record["kind"].as_str().unwrap() {
            "instrument" => {
                let size = num(&contract["multiplier"]).map(f64::abs);
                assert!(
                    agrees(record, &[("contract_size", size)]),
                    "{record} vs {contract}"
                );
                assert!(
                    agrees(record, &[("tick_size", num(&contract["tickSize"]))]),
                    "{record}"
                );
            }
            "ticker" => {
                let rows = served_at.candidates("/api/v1/contracts/active", raw, received);
                assert!(
                    rows.iter().any(|row| agrees(record, &contract_ticker_fields(row))),
                    "ticker {record} matches no contracts/active row served in the {SECONDS_BACK} s before it: {rows:?}"
                );
                let tickers = served_at.candidates("/api/v1/allTickers", raw, received);
                if paused.contains(raw) {
                    // Not quoted in allTickers: no bid/ask, never 0.
                    assert!(tickers.is_empty());
                    assert!(
                        record["bid"].is_null() && record["ask"].is_null(),
                        "{record}"
                    );
                    assert!(record["exchange_ts"].is_null(), "{record}");
                } else {
                    let matched = tickers.iter().any(|row| {
                        let ts_ms = row["ts"].as_i64().map(|ns| ns / 1_000_000);
                        agrees(
                            record,
                            &[
                                ("last", num(&row["price"])),
                                ("bid", num(&row["bestBidPrice"])),
                                ("ask", num(&row["bestAskPrice"])),
                            ],
                        ) && record["exchange_ts"].as_i64() == ts_ms
                    });
                    assert!(
                        matched,
                        "ticker {record} matches no allTickers row: {tickers:?}"
                    );
                }
            }
            "funding" => {
                let rows = served_at.candidates("/api/v1/contracts/active", raw, received);
                let matched = rows.iter().any(|row| {
                    let hours = num(&row["currentFundingRateGranularity"]).map(|ms| ms / 3.6e6);
                    agrees(
                        record,
                        &[
                            ("rate", num(&row["fundingFeeRate"])),
                            ("predicted_rate", num(&row["predictedFundingFeeRate"])),
                            ("rate_cap", num(&row["fundingRateCap"])),
                            ("rate_floor", num(&row["fundingRateFloor"])),
                            ("interval_hours", hours),
                        ],
                    ) && record["next_funding_ts"].as_i64()
                        == row["nextFundingRateDateTime"].as_i64()
                });
                assert!(matched, "funding {record} matches no served row: {rows:?}");
                assert_eq!(record["interval_source"], "reported", "{record}");
                let next = record["next_funding_ts"].as_i64().unwrap();
                assert!(next > received, "next settlement is ahead: {record}");
            }
            other => panic!("unexpected kind {other}: {record}"),
        }
    }
    // The odd cases reached the output: BTC linear, the inverse XBTUSDM, a ×1000 contract.
    let find = |raw: &str, kind: &str| {
        records
            .iter()
            .find(|r| r["raw_symbol"] == raw && r["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} record for {raw}"))
    };
    assert_eq!(find("XBTUSDTM", "instrument")["symbol"], "BTC/USDT:USDT");
    assert_eq!(find("XBTUSDM", "instrument")["symbol"], "BTC/USD:BTC");
    assert_eq!(
        find("XBTUSDM", "ticker")["market_type"],
        "inverse_perpetual"
    );
    let pepe = find("1000PEPEUSDTM", "instrument");
    assert_eq!(pepe["symbol"], "1000PEPE/USDT:USDT");
    assert_eq!(pepe["extra"]["multiplier"], "1000");
}

//! BitMEX end to end: the real host loads the real `fc_plugin_bitmex` `.so` through the ABI and
//! collects from the emulator's BitMEX instance. Every record validates against the schema; at
//! least 99% of the emulated linear perpetuals get a ticker and a funding record; every numeric
//! field equals what the emulator served (recomputed from the emulator library for the second
//! the record was received in, minor units divided); nothing is 0 where BitMEX serves nothing;
//! no dated future or spot pair is labelled perpetual and no quanto contract is mislabelled;
//! XBT is BTC and XBTUSD is inverse.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    time::Duration,
};

use exchange_emulator::{
    exchanges::{bitmex::iso, respond, Query, Venue},
    EmulatorConfig, ExchangeKind, InstanceConfig,
};
use integration_tests::{record_validator, wait_until, RunningHost};
use serde_json::Value;

const EXCHANGE: &str = "bitmex";
const PLUGIN: &str = "fc_plugin_bitmex";
const PATH: &str = "/api/v1/instrument/active";
const UNIVERSE: usize = 220;
/// Seconds before a record's `received_ts` in which the emulator may have built its answer.
const SECONDS_BACK: i64 = 3;
/// Share of the emulated linear perpetuals that must have ticker and funding records.
const COVERAGE: f64 = 0.99;
const SATOSHI: f64 = 1e8;
const MICRO_USDT: f64 = 1e6;

fn instance() -> InstanceConfig {
    InstanceConfig {
        universe: UNIVERSE,
        ..InstanceConfig::new(EXCHANGE, ExchangeKind::Bitmex)
    }
}

/// The rows of `instrument/active` at `at_ms`, by symbol.
fn served(venue: &Venue, at_ms: i64) -> HashMap<String, Value> {
    let answer = respond(venue, "GET", PATH, &Query::default(), at_ms as u64);
    assert_eq!(answer.status, 200);
    let body: Value = serde_json::from_str(&answer.body).expect("emulator JSON");
    body.as_array()
        .expect("a top-level array")
        .iter()
        .map(|row| {
            (
                row["symbol"].as_str().expect("symbol").to_owned(),
                row.clone(),
            )
        })
        .collect()
}

/// Emulator answers per second, built on demand.
struct Served<'v> {
    venue: &'v Venue,
    cache: HashMap<i64, HashMap<String, Value>>,
}

impl Served<'_> {
    /// The rows of `symbol` served in the seconds up to `received_ts`, newest first.
    fn candidates(&mut self, symbol: &str, received_ts: i64) -> Vec<Value> {
        let second = received_ts / 1000;
        (0..=SECONDS_BACK)
            .filter_map(|back| {
                let s = second - back;
                let rows = self
                    .cache
                    .entry(s)
                    .or_insert_with(|| served(self.venue, s * 1000 + 500));
                rows.get(symbol).cloned()
            })
            .collect()
    }
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
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

/// A time field of the record written as BitMEX writes it.
fn same_time(record: &Value, field: &str, served: &Value) -> bool {
    match (record[field].as_i64(), served.as_str()) {
        (Some(ms), Some(text)) => iso(ms as u64) == text,
        (None, None) => record[field].is_null(),
        _ => false,
    }
}

fn div(a: Option<f64>, b: f64) -> Option<f64> {
    Some(a? / b)
}

/// Contract size as BitMEX's row implies it: inverse `|multiplier|` satoshi = USD per
/// contract; linear `1 / underlyingToPositionMultiplier` of the base.
fn contract_size(row: &Value) -> Option<f64> {
    if row["isInverse"] == true {
        div(num(&row["multiplier"]).map(f64::abs), SATOSHI)
    } else {
        num(&row["underlyingToPositionMultiplier"]).map(|m| 1.0 / m)
    }
}

/// What a ticker record must hold for one served row.
fn ticker_fields(row: &Value) -> Vec<(&'static str, Option<f64>)> {
    let inverse = row["isInverse"] == true;
    let contracts = num(&row["openInterest"])
        .zip(contract_size(row))
        .map(|(a, b)| a * b);
    let value = div(
        num(&row["openValue"]),
        if inverse { SATOSHI } else { MICRO_USDT },
    );
    let (oi_base, oi_quote) = if inverse {
        (value, contracts)
    } else {
        (contracts, value)
    };
    vec![
        ("last", num(&row["lastPrice"])),
        ("bid", num(&row["bidPrice"])),
        ("ask", num(&row["askPrice"])),
        ("mark", num(&row["markPrice"])),
        ("index", num(&row["indicativeSettlePrice"])),
        ("volume_24h_base", num(&row["homeNotional24h"])),
        ("volume_24h_quote", num(&row["foreignNotional24h"])),
        ("open_interest_base", oi_base),
        ("open_interest_quote", oi_quote),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bitmex_end_to_end_matches_what_the_emulator_served() {
    let emulator = exchange_emulator::spawn(
        EmulatorConfig {
            instances: vec![instance()],
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let venue = Venue::new(instance());
    let rows = served(&venue, 1_790_000_000_000);
    let symbols = |pred: &dyn Fn(&Value) -> bool| -> HashSet<String> {
        rows.values()
            .filter(|r| pred(r))
            .map(|r| r["symbol"].as_str().unwrap().to_owned())
            .collect()
    };
    let linear =
        symbols(&|r| r["typ"] == "FFWCSX" && r["isQuanto"] == false && r["isInverse"] == false);
    let quanto = symbols(&|r| r["isQuanto"] == true);
    let not_perpetual = symbols(&|r| r["typ"] != "FFWCSX");
    let closed = symbols(&|r| r["state"] != "Open");
    assert!(linear.len() > 190, "{}", linear.len());
    assert!(!quanto.is_empty() && not_perpetual.len() >= 4 && !closed.is_empty());

    let dir = tempfile::tempdir().unwrap();
    let intervals =
        "[exchanges.bitmex.intervals]\ninstruments = \"1h\"\ntickers = \"2s\"\nfunding = \"2s\"\n";
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
            !not_perpetual.contains(raw),
            "dated future or spot pair labelled perpetual: {record}"
        );
        assert!(
            !quanto.contains(raw),
            "quanto contract mislabelled: {record}"
        );
        let row = &rows[raw];
        let inverse = row["isInverse"] == true;
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
        let received = record["received_ts"].as_i64().unwrap();
        match record["kind"].as_str().unwrap() {
            "instrument" => {
                assert!(
                    agrees(
                        record,
                        &[
                            ("contract_size", contract_size(row)),
                            ("tick_size", num(&row["tickSize"]))
                        ]
                    ),
                    "{record} vs {row}"
                );
            }
            "ticker" => {
                let rows = served_at.candidates(raw, received);
                assert!(
                    rows.iter().any(|row| agrees(record, &ticker_fields(row))
                        && same_time(record, "exchange_ts", &row["timestamp"])),
                    "ticker {record} matches no row served in the {SECONDS_BACK} s before it: {rows:?}"
                );
                if closed.contains(raw) {
                    assert!(
                        record["bid"].is_null() && record["ask"].is_null(),
                        "{record}"
                    );
                }
            }
            "funding" => {
                let rows = served_at.candidates(raw, received);
                let matched = rows.iter().any(|row| {
                    let hours = row["fundingInterval"]
                        .as_str()
                        .and_then(fc_plugin_bitmex::interval_hours);
                    agrees(
                        record,
                        &[
                            ("rate", num(&row["fundingRate"])),
                            ("predicted_rate", num(&row["indicativeFundingRate"])),
                            ("interval_hours", hours),
                            ("rate_cap", None),
                            ("rate_floor", None),
                        ],
                    ) && same_time(record, "next_funding_ts", &row["fundingTimestamp"])
                });
                assert!(matched, "funding {record} matches no served row: {rows:?}");
                assert_eq!(record["interval_source"], "reported", "{record}");
                assert!(
                    record["next_funding_ts"].as_i64().unwrap() > received,
                    "next settlement is ahead: {record}"
                );
            }
            other => panic!("unexpected kind {other}: {record}"),
        }
    }
    let find = |raw: &str, kind: &str| {
        records
            .iter()
            .find(|r| r["raw_symbol"] == raw && r["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} record for {raw}"))
    };
    assert_eq!(find("XBTUSD", "instrument")["symbol"], "BTC/USD:BTC");
    assert_eq!(find("XBTUSD", "instrument")["contract_size"], 1.0);
    assert_eq!(find("XBTUSDT", "instrument")["symbol"], "BTC/USDT:USDT");
    let pepe = find("1000PEPEUSDT", "instrument");
    assert_eq!(pepe["symbol"], "1000PEPE/USDT:USDT");
    assert_eq!(pepe["extra"]["multiplier"], "1000");
    // Intervals other than 8 h came through the date encoding.
    let hours: HashSet<i64> = records
        .iter()
        .filter(|r| r["kind"] == "funding")
        .filter_map(|r| r["interval_hours"].as_f64())
        .map(|h| h as i64)
        .collect();
    assert!(hours.contains(&8) && hours.len() > 1, "{hours:?}");
}

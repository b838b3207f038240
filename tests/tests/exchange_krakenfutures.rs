//! Kraken Futures end to end: the real host loads the real `fc_plugin_krakenfutures` `.so`
//! through the ABI and collects from the emulator's Kraken Futures instance. Every record
//! validates against the schema; at least 99% of the emulated perpetuals (linear `PF_` and
//! inverse `PI_`) get a ticker and a funding record; every numeric field equals what the
//! emulator served in the answer the record came from (rebuilt from the emulator library at the
//! answer's `serverTime`); nothing is 0 where Kraken serves nothing; no dated future (not even
//! the `FF_` ones that share the perpetuals' type) or index is collected; XBT is BTC; and the
//! funding rate is the FRACTION the emulator meant, recovered from Kraken's absolute amount per
//! contract (÷ mark on `PF_`, × mark on `PI_`), hourly, settling at the next full hour.

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

const EXCHANGE: &str = "krakenfutures";
const PLUGIN: &str = "fc_plugin_krakenfutures";
const INSTRUMENTS: &str = "/derivatives/api/v3/instruments";
const TICKERS: &str = "/derivatives/api/v3/tickers";
const UNIVERSE: usize = 280;
/// Share of the emulated perpetuals that must have ticker and funding records.
const COVERAGE: f64 = 0.99;
const HOUR_MS: i64 = 3_600_000;

fn instance() -> InstanceConfig {
    InstanceConfig {
        universe: UNIVERSE,
        ..InstanceConfig::new(EXCHANGE, ExchangeKind::KrakenFutures)
    }
}

/// The `key` rows of one emulated endpoint at `at_ms`, by symbol.
fn served(venue: &Venue, path: &str, key: &str, at_ms: i64) -> HashMap<String, Value> {
    let answer = respond(venue, "GET", path, &Query::default(), at_ms as u64);
    assert_eq!(answer.status, 200, "{path}");
    let body: Value = serde_json::from_str(&answer.body).expect("emulator JSON");
    assert_eq!(body["result"], "success");
    body[key]
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

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-300)
}

/// True when every `(record field, expected)` pair agrees (absent = null).
fn agrees(record: &Value, expected: &[(&str, Option<f64>)]) -> Result<(), String> {
    for (field, want) in expected {
        let ok = match (record[*field].as_f64(), want) {
            (Some(got), Some(want)) => close(got, *want),
            (None, None) => record[*field].is_null(),
            _ => false,
        };
        if !ok {
            return Err(format!("{field}: {} vs {want:?}", record[*field]));
        }
    }
    Ok(())
}

fn mul(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? * b?)
}

/// What a ticker record must hold for one served row (contract size 1 in the emulator's
/// instrument list, read from it all the same).
fn ticker_fields(
    row: &Value,
    size: Option<f64>,
    inverse: bool,
) -> Vec<(&'static str, Option<f64>)> {
    let mark = num(&row["markPrice"]);
    let volume = mul(num(&row["vol24h"]), size);
    let oi = mul(num(&row["openInterest"]), size);
    let mut fields = vec![
        ("last", num(&row["last"])),
        ("bid", num(&row["bid"])),
        ("ask", num(&row["ask"])),
        ("mark", mark),
        ("index", num(&row["indexPrice"])),
    ];
    if inverse {
        fields.extend([
            ("volume_24h_base", None),
            ("volume_24h_quote", volume),
            ("open_interest_base", oi.zip(mark).map(|(q, m)| q / m)),
            ("open_interest_quote", oi),
        ]);
    } else {
        fields.extend([
            ("volume_24h_base", volume),
            ("volume_24h_quote", num(&row["volumeQuote"])),
            ("open_interest_base", oi),
            ("open_interest_quote", mul(oi, mark)),
        ]);
    }
    fields
}

/// Kraken's absolute amount per contract as the fraction it stands for.
fn fraction(absolute: Option<f64>, mark: Option<f64>, inverse: bool) -> Option<f64> {
    let (a, m) = (absolute?, mark?);
    Some(if inverse { a * m } else { a / m })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn krakenfutures_end_to_end_matches_what_the_emulator_served() {
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
    let t0 = 1_790_000_000_000;
    let instruments = served(&venue, INSTRUMENTS, "instruments", t0);
    let tickers = served(&venue, TICKERS, "tickers", t0);
    let perpetuals: HashSet<String> = tickers
        .values()
        .filter(|r| r["tag"] == "perpetual")
        .map(|r| r["symbol"].as_str().unwrap().to_owned())
        .collect();
    let not_collected: HashSet<String> = instruments
        .values()
        .filter(|r| {
            !r["lastTradingTime"].is_null() || r["type"].as_str().unwrap().contains("index")
        })
        .map(|r| r["symbol"].as_str().unwrap().to_owned())
        .collect();
    let inverse: HashSet<&String> = perpetuals.iter().filter(|s| s.starts_with("PI_")).collect();
    let suspended: HashSet<String> = tickers
        .values()
        .filter(|r| r["suspended"] == true)
        .map(|r| r["symbol"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        perpetuals.len() > 250 && inverse.len() >= 4,
        "{}",
        perpetuals.len()
    );
    assert!(
        not_collected.iter().any(|s| s.starts_with("FF_")),
        "{not_collected:?}"
    );
    assert!(!suspended.is_empty());

    let dir = tempfile::tempdir().unwrap();
    let intervals = "[exchanges.krakenfutures.intervals]\ninstruments = \"1h\"\ntickers = \"2s\"\nfunding = \"2s\"\n";
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
            .filter(|s| perpetuals.contains(*s))
            .collect::<HashSet<_>>()
            .len()
    };
    let need = (perpetuals.len() as f64 * COVERAGE).ceil() as usize;
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
        "coverage below {COVERAGE} of {} perpetuals: tickers {}, funding {} ({tally:?})",
        perpetuals.len(),
        covered(&records, "ticker"),
        covered(&records, "funding")
    );

    let validator = record_validator();
    // The tickers answer the record came from: rebuilt at its serverTime (= `exchange_ts`).
    let mut answers: HashMap<i64, HashMap<String, Value>> = HashMap::new();
    let mut naive_would_differ = 0;
    for record in &records {
        let errors: Vec<String> = validator
            .iter_errors(record)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "invalid record {record}: {errors:?}");
        assert_eq!(record["exchange"], EXCHANGE);
        let raw = record["raw_symbol"].as_str().unwrap();
        assert!(
            !not_collected.contains(raw),
            "dated future or index collected: {record}"
        );
        let is_inverse = raw.starts_with("PI_");
        assert_eq!(
            record["market_type"],
            if is_inverse {
                "inverse_perpetual"
            } else {
                "linear_perpetual"
            },
            "{record}"
        );
        let coin = raw.get(3..raw.len() - 3).unwrap();
        let base = if coin == "XBT" { "BTC" } else { coin };
        assert_eq!(record["base"], base, "{record}");
        assert_eq!(record["quote"], "USD", "{record}");
        assert_eq!(
            record["settle"],
            if is_inverse { base } else { "USD" },
            "{record}"
        );
        let instrument = &instruments[raw];
        let size = num(&instrument["contractSize"]);
        let cap = num(&instrument["maxRelativeFundingRate"]);
        match record["kind"].as_str().unwrap() {
            "instrument" => {
                // The cap travels on the instrument to the funding records (instrument
                // messages do not carry it).
                agrees(
                    record,
                    &[
                        ("contract_size", size),
                        ("tick_size", num(&instrument["tickSize"])),
                    ],
                )
                .unwrap_or_else(|e| panic!("{e}: {record} vs {instrument}"));
                // Not tradeable: suspended (still quoted) is halted; not quoted yet, opening
                // in the future, is pre-launch.
                let status = match (instrument["tradeable"] == true, suspended.contains(raw)) {
                    (true, _) => "trading",
                    (false, true) => "halted",
                    (false, false) => "pre_launch",
                };
                assert_eq!(record["status"], status, "{record}");
            }
            kind @ ("ticker" | "funding") => {
                let at = record["exchange_ts"].as_i64().expect("serverTime");
                let rows = answers
                    .entry(at)
                    .or_insert_with(|| served(&venue, TICKERS, "tickers", at));
                let row = &rows[raw];
                if kind == "ticker" {
                    agrees(record, &ticker_fields(row, size, is_inverse))
                        .unwrap_or_else(|e| panic!("ticker {e}: {record} vs {row}"));
                    if suspended.contains(raw) {
                        assert!(
                            record["bid"].is_null() && record["ask"].is_null(),
                            "{record}"
                        );
                    }
                    continue;
                }
                let mark = num(&row["markPrice"]);
                let rate = fraction(num(&row["fundingRate"]), mark, is_inverse);
                let predicted = fraction(num(&row["fundingRatePrediction"]), mark, is_inverse);
                agrees(
                    record,
                    &[
                        ("rate", rate),
                        ("predicted_rate", predicted),
                        ("interval_hours", Some(1.0)),
                        ("rate_cap", cap),
                        ("rate_floor", cap.map(|c| -c)),
                        ("mark", mark),
                        ("index", num(&row["indexPrice"])),
                    ],
                )
                .unwrap_or_else(|e| panic!("funding {e}: {record} vs {row}"));
                assert_eq!(record["interval_source"], "default", "{record}");
                assert_eq!(
                    record["next_funding_ts"].as_i64(),
                    Some((at / HOUR_MS + 1) * HOUR_MS),
                    "settles at the next full hour: {record}"
                );
                // The fraction is what the emulator meant, within the ±0.25 %/h cap.
                let meant = venue
                    .universe
                    .get(raw)
                    .unwrap()
                    .snapshot(at as u64)
                    .funding_rate;
                let got = record["rate"].as_f64().unwrap();
                assert!(
                    (got - meant).abs() <= 1e-9 * meant.abs().max(1e-12),
                    "{raw}: rate {got} vs the emulator's {meant}"
                );
                assert!(got.abs() <= 0.0025, "{record}");
                // The naive reading (the absolute amount as the fraction, or ccxt's division
                // on inverse contracts) gives another number.
                let absolute = num(&row["fundingRate"]).unwrap();
                let naive = if is_inverse {
                    absolute / mark.unwrap()
                } else {
                    absolute
                };
                if !close(naive, got) {
                    naive_would_differ += 1;
                }
            }
            other => panic!("unexpected kind {other}: {record}"),
        }
    }
    let funding = records.iter().filter(|r| r["kind"] == "funding").count();
    assert!(
        naive_would_differ * 10 >= funding * 9,
        "{naive_would_differ} of {funding} funding records differ from the naive reading"
    );
    let find = |raw: &str, kind: &str| {
        records
            .iter()
            .find(|r| r["raw_symbol"] == raw && r["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} record for {raw}"))
    };
    assert_eq!(find("PF_XBTUSD", "instrument")["symbol"], "BTC/USD:USD");
    assert_eq!(find("PI_XBTUSD", "instrument")["symbol"], "BTC/USD:BTC");
    assert_eq!(
        find("PI_XBTUSD", "funding")["extra"]["funding_conversion"],
        "absolute_times_mark"
    );
    assert_eq!(
        find("PF_XBTUSD", "funding")["extra"]["funding_conversion"],
        "absolute_divided_by_mark"
    );
}

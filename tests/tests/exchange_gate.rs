//! Gate end to end: the real host loads the real `fc_plugin_gate` `.so` and collects from the
//! emulator's Gate instance (issue 21 acceptance for one exchange).
//!
//! Owns: the acceptance checks for Gate: every record validates against the schema; at least
//! 99% of the emulated trading USDT perpetuals get ticker and funding records; every numeric
//! field equals what the emulator served, with Gate's units converted (seconds → ms and hours,
//! contracts × `quanto_multiplier` → base); nothing Gate does not serve is filled in; no dated
//! contract is labelled perpetual.
//! Must not: reach anything but loopback.
//!
//! Gate's answers carry no time, so the served row is recomputed for the second the response
//! arrived and the few seconds before it (the emulator's values are a pure function of the
//! instrument and the second); a record must equal one of them in every field.

use std::{collections::HashSet, time::Duration};

use exchange_emulator::{
    exchanges::gate::{contract_row_json, ticker_row_json},
    market::{Instrument, Universe},
    EmulatorConfig, ExchangeKind, InstanceConfig,
};
use integration_tests::{record_validator, wait_until, RunningHost};
use serde_json::Value;

const EXCHANGE: &str = "gate";
const MIN_COVERAGE: f64 = 0.99;
/// Share of ticker and funding records that must equal a row served in the seconds before
/// their arrival (a slow round on a loaded machine may arrive later than the window).
const MIN_MATCHED: f64 = 0.95;
/// Seconds before a response's arrival searched for the row it carried.
const LOOKBACK_SECONDS: u64 = 4;

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn of_kind<'a>(records: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    records
        .iter()
        .filter(move |r| r["exchange"] == EXCHANGE && r["kind"] == kind)
}

fn symbols_of(records: &[Value], kind: &str) -> HashSet<String> {
    of_kind(records, kind)
        .filter_map(|r| r["raw_symbol"].as_str().map(str::to_string))
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12)
}

/// The fields of `record` that differ from what `row` serves, after Gate's unit conversions.
fn ticker_mismatches(record: &Value, row: &Value, multiplier: f64) -> Vec<String> {
    let mut bad = Vec::new();
    for (field, key) in [
        ("last", "last"),
        ("bid", "highest_bid"),
        ("ask", "lowest_ask"),
        ("mark", "mark_price"),
        ("index", "index_price"),
        ("volume_24h_base", "volume_24h_base"),
        ("volume_24h_quote", "volume_24h_quote"),
    ] {
        if record[field].as_f64() != num(&row[key]) {
            bad.push(format!("{field} {} vs {key} {}", record[field], row[key]));
        }
    }
    let contracts = num(&row["total_size"]).expect("total_size");
    let base = contracts * multiplier;
    let mark = num(&row["mark_price"]).expect("mark");
    match (
        record["open_interest_base"].as_f64(),
        record["open_interest_quote"].as_f64(),
    ) {
        (Some(b), Some(q)) if close(b, base) && close(q, base * mark) => {}
        other => bad.push(format!(
            "open interest {other:?} vs {contracts} contracts × {multiplier}"
        )),
    }
    bad
}

fn funding_mismatches(record: &Value, row: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    let want = [
        ("rate", num(&row["funding_rate"])),
        ("predicted_rate", num(&row["funding_rate_indicative"])),
        ("mark", num(&row["mark_price"])),
        ("index", num(&row["index_price"])),
        (
            "interval_hours",
            num(&row["funding_interval"]).map(|s| s / 3_600.0),
        ),
        ("rate_cap", num(&row["funding_rate_limit"])),
        ("rate_floor", num(&row["funding_rate_limit"]).map(|l| -l)),
    ];
    for (field, value) in want {
        if record[field].as_f64() != value {
            bad.push(format!("{field} {} vs {value:?}", record[field]));
        }
    }
    let next = num(&row["funding_next_apply"]).map(|s| s as i64 * 1_000);
    if record["next_funding_ts"].as_i64() != next {
        bad.push(format!(
            "next_funding_ts {} vs {next:?}",
            record["next_funding_ts"]
        ));
    }
    bad
}

/// Whether `record` equals the row served at one of the seconds up to its arrival; the first
/// mismatch list otherwise.
fn matches_served(
    record: &Value,
    row_at: impl Fn(u64) -> Value,
    mismatches: impl Fn(&Value, &Value) -> Vec<String>,
) -> Result<(), Vec<String>> {
    let received = record["received_ts"].as_u64().expect("received_ts");
    let mut first = None;
    for back in 0..=LOOKBACK_SECONDS {
        let row = row_at(received.saturating_sub(back * 1_000));
        let bad = mismatches(record, &row);
        if bad.is_empty() {
            return Ok(());
        }
        first.get_or_insert(bad);
    }
    Err(first.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_collects_every_usdt_perpetual_exactly_as_served() {
    let cfg = InstanceConfig::new(EXCHANGE, ExchangeKind::Gate);
    let emulator = exchange_emulator::spawn(
        EmulatorConfig {
            instances: vec![cfg.clone()],
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let universe = Universe::build(&cfg, exchange_emulator::exchanges::now_ms());
    let perpetuals: Vec<&Instrument> = universe.trading().collect();
    assert!(perpetuals.len() > 300, "a realistic universe");

    let dir = tempfile::tempdir().unwrap();
    let intervals =
        "[exchanges.gate.intervals]\ninstruments = \"1h\"\ntickers = \"1s\"\nfunding = \"1s\"\n";
    let host = RunningHost::start_exchange(
        dir.path(),
        "fc_plugin_gate",
        EXCHANGE,
        &emulator.base_url(EXCHANGE),
        intervals,
    );

    let covered = |records: &[Value]| {
        let tickers = symbols_of(records, "ticker");
        let funding = symbols_of(records, "funding");
        let both = perpetuals
            .iter()
            .filter(|i| tickers.contains(&i.symbol) && funding.contains(&i.symbol))
            .count();
        both as f64 >= MIN_COVERAGE * perpetuals.len() as f64
    };
    let took = wait_until(Duration::from_secs(30), || covered(&host.records())).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let records = host.records();
    host.stop().await;
    emulator.shutdown().await;
    assert!(
        took.is_some(),
        "coverage below {MIN_COVERAGE}: {} tickers, {} funding of {} perpetuals",
        symbols_of(&records, "ticker").len(),
        symbols_of(&records, "funding").len(),
        perpetuals.len()
    );

    let validator = record_validator();
    for record in records.iter().filter(|r| r["exchange"] == EXCHANGE) {
        let errors: Vec<String> = validator
            .iter_errors(record)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "invalid record {record}: {errors:?}");
        let raw = record["raw_symbol"].as_str().unwrap();
        let inst = universe
            .get(raw)
            .unwrap_or_else(|| panic!("unknown symbol {raw}"));
        assert!(inst.is_perpetual(), "dated contract leaked: {record}");
        assert_eq!(record["market_type"], "linear_perpetual");
        // Gate serves no time with its answers.
        assert!(record["exchange_ts"].is_null(), "{record}");
    }

    // Instruments: contract size = quanto_multiplier, tick, interval from seconds, listing
    // time from seconds.
    let instruments: Vec<&Value> = of_kind(&records, "instrument").collect();
    assert_eq!(instruments.len(), universe.instruments.len());
    for r in &instruments {
        let inst = universe.get(r["raw_symbol"].as_str().unwrap()).unwrap();
        assert_eq!(r["symbol"], format!("{}/USDT:USDT", inst.base), "{r}");
        assert_eq!(r["contract_size"].as_f64(), Some(inst.ct_val), "{r}");
        assert!(close(r["tick_size"].as_f64().unwrap(), inst.tick()), "{r}");
        assert_eq!(
            r["interval_hours"].as_f64(),
            Some(f64::from(inst.funding_hours)),
            "{r}"
        );
        assert_eq!(
            r["listing_ts"].as_i64(),
            Some((inst.listed_ms / 1000 * 1000) as i64),
            "{r}"
        );
    }

    let tickers: Vec<&Value> = of_kind(&records, "ticker").collect();
    let mut matched = 0usize;
    let mut first_bad = None;
    for r in &tickers {
        let inst = universe.get(r["raw_symbol"].as_str().unwrap()).unwrap();
        for price in ["last", "bid", "ask", "mark", "index"] {
            assert!(r[price].as_f64().unwrap() > 0.0, "{price} of {r}");
        }
        assert_eq!(r["extra"]["oi_quote_derived"], "true", "{r}");
        match matches_served(
            r,
            |t| serde_json::from_str(&ticker_row_json(inst, t)).unwrap(),
            |rec, row| ticker_mismatches(rec, row, inst.ct_val),
        ) {
            Ok(()) => matched += 1,
            Err(bad) => {
                first_bad.get_or_insert((r.to_string(), bad));
            }
        }
    }
    assert!(
        matched as f64 >= MIN_MATCHED * tickers.len() as f64,
        "{matched} of {} tickers equal a served row; first mismatch {first_bad:?}",
        tickers.len()
    );

    let funding: Vec<&Value> = of_kind(&records, "funding").collect();
    let mut matched = 0usize;
    let mut first_bad = None;
    for r in &funding {
        let inst = universe.get(r["raw_symbol"].as_str().unwrap()).unwrap();
        assert_eq!(r["interval_source"], "reported", "{r}");
        assert_eq!(r["extra"]["rate_cap_source"], "funding_rate_limit", "{r}");
        match matches_served(
            r,
            |t| serde_json::from_str(&contract_row_json(inst, t)).unwrap(),
            funding_mismatches,
        ) {
            Ok(()) => matched += 1,
            Err(bad) => {
                first_bad.get_or_insert((r.to_string(), bad));
            }
        }
    }
    assert!(
        matched as f64 >= MIN_MATCHED * funding.len() as f64,
        "{matched} of {} funding records equal a served row; first mismatch {first_bad:?}",
        funding.len()
    );
    for hours in [1.0, 4.0, 8.0] {
        assert!(
            funding
                .iter()
                .any(|r| r["interval_hours"].as_f64() == Some(hours)),
            "{hours} h"
        );
    }
}

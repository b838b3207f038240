//! Bitget end to end: the real host loads the real `fc_plugin_bitget` `.so` and collects from
//! the emulator's Bitget instance (issue 21 acceptance for one exchange).
//!
//! Owns: the acceptance checks for Bitget: every record validates against the schema; at least
//! 99% of the emulated trading linear perpetuals get ticker and funding records; every numeric
//! field equals what the emulator served (the emulator's values are a pure function of the
//! instrument and the second, so the test recomputes the served row at the record's exchange
//! time); nothing Bitget does not serve is filled in (no predicted rate, no zero price); no
//! dated contract is labelled perpetual.
//! Must not: reach anything but loopback.

use std::{collections::HashSet, time::Duration};

use exchange_emulator::{
    exchanges::bitget::{fund_rate_row_json, ticker_row_json},
    market::{Instrument, Universe},
    EmulatorConfig, ExchangeKind, InstanceConfig,
};
use integration_tests::{record_validator, wait_until, RunningHost};
use serde_json::Value;

const EXCHANGE: &str = "bitget";
/// Share of the trading linear perpetuals that must have ticker and funding records.
const MIN_COVERAGE: f64 = 0.99;
/// Share of ticker records whose served row the test can recompute exactly (a row whose
/// instrument has not changed for 24 s is stamped with an older second; those are skipped).
const MIN_COMPARED: f64 = 0.9;

fn num(row: &Value, key: &str) -> f64 {
    row[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is a string in {row}"))
        .parse()
        .unwrap_or_else(|_| panic!("{key} is a number in {row}"))
}

fn of_kind<'a>(records: &'a [Value], kind: &str) -> impl Iterator<Item = &'a Value> + 'a {
    let kind = kind.to_string();
    records
        .iter()
        .filter(move |r| r["exchange"] == EXCHANGE && r["kind"] == kind.as_str())
}

fn symbols_of(records: &[Value], kind: &str) -> HashSet<String> {
    of_kind(records, kind)
        .filter_map(|r| r["raw_symbol"].as_str().map(str::to_string))
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bitget_collects_every_linear_perpetual_exactly_as_served() {
    let cfg = InstanceConfig::new(EXCHANGE, ExchangeKind::Bitget);
    let emulator = exchange_emulator::spawn(
        EmulatorConfig {
            instances: vec![cfg.clone()],
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    // The same deterministic universe the emulator serves (symbols, statuses, parameters).
    let universe = Universe::build(&cfg, exchange_emulator::exchanges::now_ms());
    let perpetuals: Vec<&Instrument> = universe
        .instruments
        .iter()
        .filter(|i| i.is_perpetual() && i.is_trading())
        .collect();
    assert!(perpetuals.len() > 300, "a realistic universe");

    let dir = tempfile::tempdir().unwrap();
    let intervals =
        "[exchanges.bitget.intervals]\ninstruments = \"1h\"\ntickers = \"1s\"\nfunding = \"1s\"\n";
    let host = RunningHost::start_exchange(
        dir.path(),
        "fc_plugin_bitget",
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
    // One more cycle of each, so every kind has several rounds to compare.
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
        // No dated contract is labelled perpetual; every record is a known perpetual.
        let raw = record["raw_symbol"].as_str().unwrap();
        let inst = universe
            .get(raw)
            .unwrap_or_else(|| panic!("unknown symbol {raw}"));
        assert!(inst.is_perpetual(), "dated contract leaked: {record}");
        assert_eq!(record["market_type"], "linear_perpetual");
    }

    // Instruments: identity, tick, contract size, interval as listed.
    let instruments: Vec<&Value> = of_kind(&records, "instrument").collect();
    assert!(instruments.len() >= perpetuals.len());
    for r in &instruments {
        let inst = universe.get(r["raw_symbol"].as_str().unwrap()).unwrap();
        let coin = if inst.base == "TONCOIN" {
            "TON"
        } else {
            &inst.base
        };
        assert_eq!(
            r["symbol"],
            format!("{coin}/{}:{}", inst.quote, inst.quote),
            "{r}"
        );
        assert!(close(r["tick_size"].as_f64().unwrap(), inst.tick()), "{r}");
        assert_eq!(r["contract_size"].as_f64(), Some(1.0), "{r}");
        assert_eq!(
            r["interval_hours"].as_f64(),
            Some(f64::from(inst.funding_hours)),
            "{r}"
        );
        assert!(r["status"].is_string(), "{r}");
        if inst.base.starts_with("1000") {
            assert_eq!(r["extra"]["multiplier"], "1000", "{r}");
        }
    }

    // Tickers: every numeric field as served.
    let mut compared = 0usize;
    let tickers: Vec<&Value> = of_kind(&records, "ticker").collect();
    for r in &tickers {
        let inst = universe.get(r["raw_symbol"].as_str().unwrap()).unwrap();
        let ts = r["exchange_ts"].as_i64().expect("ticker ts");
        let row: Value = serde_json::from_str(&ticker_row_json(inst, ts as u64)).unwrap();
        if num(&row, "ts") as i64 != ts {
            continue;
        }
        compared += 1;
        for (field, key) in [
            ("last", "lastPr"),
            ("bid", "bidPr"),
            ("ask", "askPr"),
            ("mark", "markPrice"),
            ("index", "indexPrice"),
            ("volume_24h_base", "baseVolume"),
            ("volume_24h_quote", "quoteVolume"),
            ("open_interest_base", "holdingAmount"),
        ] {
            assert_eq!(
                r[field].as_f64(),
                Some(num(&row, key)),
                "{field} of {r} vs {row}"
            );
        }
        for price in ["last", "bid", "ask", "mark", "index"] {
            assert!(r[price].as_f64().unwrap() > 0.0, "{price} of {r}");
        }
        let oi_quote = num(&row, "holdingAmount") * num(&row, "markPrice");
        assert!(
            close(r["open_interest_quote"].as_f64().unwrap(), oi_quote),
            "{r}"
        );
        assert_eq!(r["extra"]["oi_quote_derived"], "true", "{r}");
    }
    assert!(
        compared as f64 >= MIN_COMPARED * tickers.len() as f64,
        "compared {compared} of {} tickers",
        tickers.len()
    );

    // Funding: every field of the bulk current-fund-rate row, at the envelope's requestTime.
    let funding: Vec<&Value> = of_kind(&records, "funding").collect();
    assert!(!funding.is_empty());
    for r in &funding {
        let inst = universe.get(r["raw_symbol"].as_str().unwrap()).unwrap();
        let at = r["exchange_ts"].as_i64().expect("requestTime") as u64;
        let row: Value = serde_json::from_str(&fund_rate_row_json(inst, at)).unwrap();
        assert_eq!(
            r["rate"].as_f64(),
            Some(num(&row, "fundingRate")),
            "{r} vs {row}"
        );
        assert_eq!(
            r["interval_hours"].as_f64(),
            Some(num(&row, "fundingRateInterval")),
            "{r}"
        );
        assert_eq!(r["interval_source"], "reported", "{r}");
        assert_eq!(
            r["next_funding_ts"].as_i64(),
            Some(num(&row, "nextUpdate") as i64),
            "{r}"
        );
        assert_eq!(
            r["rate_cap"].as_f64(),
            Some(num(&row, "maxFundingRate")),
            "{r}"
        );
        assert_eq!(
            r["rate_floor"].as_f64(),
            Some(num(&row, "minFundingRate")),
            "{r}"
        );
        // Bitget serves no next-period prediction: absent, never 0.
        assert!(r["predicted_rate"].is_null(), "{r}");
        let hours = f64::from(inst.funding_hours);
        let rate_8h = r["rate_8h"].as_f64().unwrap();
        assert!(close(rate_8h, r["rate"].as_f64().unwrap() * 8.0 / hours) || rate_8h == 0.0);
    }
    // The odd intervals reach the funding records.
    for hours in [1.0, 4.0, 8.0] {
        assert!(
            funding
                .iter()
                .any(|r| r["interval_hours"].as_f64() == Some(hours)),
            "{hours} h"
        );
    }
}

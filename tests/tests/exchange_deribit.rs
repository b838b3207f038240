//! Deribit end to end: the real host with the real `fc_plugin_deribit` `.so` against the
//! emulator's Deribit instance (JSON-RPC over GET, one request per settlement currency). Every
//! record validates against the schema; at least 99% of the emulated perpetuals (linear and
//! inverse) get ticker and funding records; every number equals what the emulator served for
//! that instrument at that second; funding is continuous (no settlement time, `funding_8h` as
//! the 8 h rate, `current_funding` in extra); no dated future is labelled perpetual; a few
//! garbled book summaries at the start do not stop collection.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use exchange_emulator::{
    exchanges::deribit::{contract_size, is_inverse, summary, SummaryText},
    market::{Instrument, Universe},
    EmulatorConfig, ExchangeKind, FaultSpec, InstanceConfig,
};
use integration_tests::{assert_schema_valid, wait_until, RunningHost};
use serde_json::Value;

const NAME: &str = "deribit";
/// Seconds before a record's `received_ts` whose emulated values it may carry.
const SECONDS_BACK: i64 = 3;
/// Relative tolerance of a value the plugin derives from two served ones.
const DERIVED_TOLERANCE: f64 = 1e-12;
/// Required share of perpetuals with ticker and funding records.
const COVERAGE: f64 = 0.99;

fn num(v: &str) -> f64 {
    v.parse().expect("a served number")
}

fn candidates(inst: &Instrument, received_ts: i64) -> Vec<SummaryText> {
    (0..=SECONDS_BACK)
        .map(|back| summary(inst, (received_ts - back * 1000) as u64))
        .collect()
}

fn symbols_with(records: &[Value], kind: &str) -> BTreeSet<String> {
    records
        .iter()
        .filter(|r| r["kind"] == kind)
        .map(|r| r["raw_symbol"].as_str().unwrap().to_owned())
        .collect()
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a / b - 1.0).abs() < DERIVED_TOLERANCE)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deribit_records_equal_what_the_emulator_served() {
    let instance = InstanceConfig::new(NAME, ExchangeKind::Deribit);
    let emulator = exchange_emulator::spawn(
        EmulatorConfig {
            instances: vec![instance.clone()],
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let universe = Universe::build(&instance, exchange_emulator::exchanges::now_ms());
    let perps: Vec<&Instrument> = universe
        .instruments
        .iter()
        .filter(|i| i.is_perpetual())
        .collect();
    let dated: BTreeSet<&str> = universe
        .instruments
        .iter()
        .filter(|i| !i.is_perpetual())
        .map(|i| i.symbol.as_str())
        .collect();
    assert!(perps.len() > 150 && !dated.is_empty());

    // The first two book summaries are garbled: the other currencies' records of those rounds
    // still come out, and collection recovers on the next cycles. The first instruments round
    // loses one settlement currency (four HTTP 500s: the three first attempts and the first
    // retry): the host repeats a partly failed instruments round as soon as a failed one, not
    // after its hour, so that currency's perpetuals are covered too.
    emulator.inject(
        serde_json::from_value::<FaultSpec>(serde_json::json!({
            "instance": NAME,
            "fault": "status",
            "status": 500,
            "count": 4,
            "path_prefix": "/api/v2/public/get_instruments"
        }))
        .unwrap(),
    );
    for fault in ["truncated", "html"] {
        emulator.inject(
            serde_json::from_value::<FaultSpec>(serde_json::json!({
                "instance": NAME,
                "fault": fault,
                "count": 1,
                "path_prefix": "/api/v2/public/get_book_summary_by_currency"
            }))
            .unwrap(),
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let intervals =
        "[exchanges.deribit.intervals]\ninstruments = \"1h\"\ntickers = \"1s\"\nfunding = \"1s\"\n";
    let host = RunningHost::start_exchange(
        dir.path(),
        "fc_plugin_deribit",
        NAME,
        &emulator.base_url(NAME),
        intervals,
    );
    let covered = |records: &[Value]| {
        let tickers = symbols_with(records, "ticker");
        let funding = symbols_with(records, "funding");
        let both = perps
            .iter()
            .filter(|i| tickers.contains(&i.symbol) && funding.contains(&i.symbol))
            .count();
        both as f64 >= COVERAGE * perps.len() as f64
    };
    let took = wait_until(Duration::from_secs(40), || covered(&host.records())).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let records = host.records();
    host.stop().await;
    let stats = emulator.stats();
    emulator.shutdown().await;
    assert!(took.is_some(), "coverage not reached: {}", tally(&records));
    assert!(stats.instance(NAME).faulted >= 6, "the faults were served");

    assert_schema_valid(&records);

    let mut compared = BTreeMap::<&str, usize>::new();
    for r in &records {
        assert_eq!(r["exchange"], NAME);
        let raw = r["raw_symbol"].as_str().unwrap();
        assert!(!dated.contains(raw), "dated {raw} published: {r}");
        let inst = universe
            .get(raw)
            .unwrap_or_else(|| panic!("{raw} is not an emulated instrument"));
        let inverse = is_inverse(inst);
        let (want_type, want_symbol) = if inverse {
            (
                "inverse_perpetual",
                format!("{}/USD:{}", inst.coin, inst.coin),
            )
        } else {
            ("linear_perpetual", format!("{}/USDC:USDC", inst.coin))
        };
        assert_eq!(r["market_type"], want_type, "{r}");
        assert_eq!(r["symbol"].as_str().unwrap(), want_symbol);
        let received = r["received_ts"].as_i64().unwrap();
        match r["kind"].as_str().unwrap() {
            "instrument" => {
                assert_eq!(
                    r["contract_size"].as_f64(),
                    Some(contract_size(inst)),
                    "{r}"
                );
                assert_eq!(r["tick_size"].as_f64(), Some(inst.tick()), "{r}");
                assert_eq!(r["status"], "trading");
                assert!(
                    r["delisting_ts"].is_null(),
                    "year-3000 expiry published: {r}"
                );
                assert_eq!(r["listing_ts"].as_i64(), Some(inst.listed_ms as i64));
            }
            "ticker" => {
                let ok = candidates(inst, received).into_iter().any(|c| {
                    let oi = num(&c.open_interest);
                    let mark = num(&c.mark_price);
                    let oi_ok = if inverse {
                        r["open_interest_quote"].as_f64() == Some(oi)
                            && close(r["open_interest_base"].as_f64(), oi / mark)
                    } else {
                        r["open_interest_base"].as_f64() == Some(oi)
                            && close(r["open_interest_quote"].as_f64(), oi * mark)
                    };
                    r["last"].as_f64() == Some(num(&c.last))
                        && r["bid"].as_f64() == Some(num(&c.bid_price))
                        && r["ask"].as_f64() == Some(num(&c.ask_price))
                        && r["mark"].as_f64() == Some(mark)
                        && r["index"].as_f64() == Some(num(&c.estimated_delivery_price))
                        && r["volume_24h_base"].as_f64() == Some(num(&c.volume))
                        && r["volume_24h_quote"].as_f64() == Some(num(&c.volume_usd))
                        && r["exchange_ts"].as_i64() == Some(c.creation_timestamp as i64)
                        && oi_ok
                });
                assert!(
                    ok,
                    "{r} is no served summary of {raw}: {:?}",
                    candidates(inst, received)
                );
                *compared.entry("ticker").or_default() += 1;
            }
            "funding" => {
                // Continuous funding: nothing settles at a time, nothing is predicted.
                assert!(r["next_funding_ts"].is_null(), "{r}");
                assert!(r["predicted_rate"].is_null(), "{r}");
                assert!(r["rate_cap"].is_null() && r["rate_floor"].is_null(), "{r}");
                assert_eq!(r["interval_hours"], 8.0, "{r}");
                assert_eq!(r["interval_source"], "default", "{r}");
                assert_eq!(r["extra"]["rate_figure"], "funding_8h", "{r}");
                let rate = r["rate"].as_f64().unwrap();
                let ok = candidates(inst, received).iter().any(|c| {
                    c.funding_8h.as_deref().map(num) == Some(rate)
                        && r["extra"]["current_funding"].as_str().map(num)
                            == c.current_funding.as_deref().map(num)
                });
                assert!(ok, "{r} is no served funding of {raw}");
                assert_eq!(r["rate_8h"].as_f64(), Some(rate), "{r}");
                *compared.entry("funding").or_default() += 1;
            }
            other => panic!("unexpected kind {other}"),
        }
    }
    assert!(compared["ticker"] >= perps.len() && compared["funding"] >= perps.len());
    let instruments = symbols_with(&records, "instrument");
    for inst in &perps {
        assert!(instruments.contains(&inst.symbol), "{}", inst.symbol);
    }
}

fn tally(records: &[Value]) -> String {
    let mut t = BTreeMap::<String, usize>::new();
    for r in records {
        *t.entry(r["kind"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    format!("{t:?}")
}

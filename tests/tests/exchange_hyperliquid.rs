//! Hyperliquid end to end: the real host with the real `fc_plugin_hyperliquid` `.so` against
//! the emulator's Hyperliquid instance (`POST /info`). Every record validates against the
//! schema; at least 99% of the emulated live perps get ticker and funding records; every number
//! equals what the emulator served for that coin at that second; nothing is published where
//! nothing is served (no last/bid/ask, no predicted rate, no records for delisted coins); every
//! record is a linear perpetual of the emulated universe; a few garbled answers at the start
//! do not stop collection.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use exchange_emulator::{
    exchanges::hyperliquid::{asset_ctx, is_delisted, is_listed, sz_decimals},
    market::{Instrument, Universe},
    EmulatorConfig, ExchangeKind, FaultSpec, InstanceConfig,
};
use integration_tests::{assert_schema_valid, wait_until, RunningHost};
use serde_json::Value;

const NAME: &str = "hyperliquid";
const HOUR_MS: i64 = 3_600_000;
/// Seconds before a record's `received_ts` whose emulated values it may carry (the answer is
/// built on arrival; a loaded machine may take a while to deliver and parse it).
const SECONDS_BACK: i64 = 3;
/// Relative tolerance of a value the plugin derives by multiplying two served ones (the
/// product's last bit may differ once written as JSON).
const DERIVED_TOLERANCE: f64 = 1e-12;
/// Required share of live perps with ticker and funding records.
const COVERAGE: f64 = 0.99;

fn num(v: &str) -> f64 {
    v.parse().expect("a served number")
}

/// The emulated values of `inst` at the seconds a record received at `received_ts` may show.
fn candidates(
    inst: &Instrument,
    received_ts: i64,
) -> Vec<exchange_emulator::exchanges::hyperliquid::AssetCtxText> {
    (0..=SECONDS_BACK)
        .map(|back| asset_ctx(inst, (received_ts - back * 1000) as u64))
        .collect()
}

fn symbols_with(records: &[Value], kind: &str) -> BTreeSet<String> {
    records
        .iter()
        .filter(|r| r["kind"] == kind)
        .map(|r| r["raw_symbol"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyperliquid_records_equal_what_the_emulator_served() {
    let instance = InstanceConfig::new(NAME, ExchangeKind::Hyperliquid);
    let emulator = exchange_emulator::spawn(
        EmulatorConfig {
            instances: vec![instance.clone()],
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    // The same universe the instance built (deterministic from its seed; only the late
    // listings' times depend on the start, and they lie 30 minutes ahead).
    let started = exchange_emulator::exchanges::now_ms();
    let universe = Universe::build(&instance, started);
    let live: Vec<&Instrument> = universe
        .instruments
        .iter()
        .filter(|i| is_listed(i, started) && !is_delisted(i))
        .collect();
    let delisted: BTreeSet<&str> = universe
        .instruments
        .iter()
        .filter(|i| is_delisted(i))
        .map(|i| i.symbol.as_str())
        .collect();
    assert!(live.len() > 200 && !delisted.is_empty());

    // The first answers are garbled: collection recovers on the next cycles.
    for fault in ["truncated", "html"] {
        emulator.inject(
            serde_json::from_value::<FaultSpec>(
                serde_json::json!({"instance": NAME, "fault": fault, "count": 1}),
            )
            .unwrap(),
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let intervals = "[exchanges.hyperliquid.intervals]\ninstruments = \"1h\"\ntickers = \"1s\"\nfunding = \"1s\"\n";
    let host = RunningHost::start_exchange(
        dir.path(),
        "fc_plugin_hyperliquid",
        NAME,
        &emulator.base_url(NAME),
        intervals,
    );
    let covered = |records: &[Value]| {
        let tickers = symbols_with(records, "ticker");
        let funding = symbols_with(records, "funding");
        let both = live
            .iter()
            .filter(|i| tickers.contains(&i.symbol) && funding.contains(&i.symbol))
            .count();
        both as f64 >= COVERAGE * live.len() as f64
    };
    let took = wait_until(Duration::from_secs(40), || covered(&host.records())).await;
    // A few more cycles, so that records of several seconds are compared.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let records = host.records();
    host.stop().await;
    let stats = emulator.stats();
    emulator.shutdown().await;
    assert!(took.is_some(), "coverage not reached: {}", tally(&records));
    assert!(stats.instance(NAME).faulted >= 2, "the faults were served");

    assert_schema_valid(&records);

    let mut compared = BTreeMap::<&str, usize>::new();
    for r in &records {
        assert_eq!(r["exchange"], NAME);
        assert_eq!(r["market_type"], "linear_perpetual", "{r}");
        let raw = r["raw_symbol"].as_str().unwrap();
        let inst = universe
            .get(raw)
            .unwrap_or_else(|| panic!("{raw} is not an emulated coin"));
        assert_eq!(
            r["symbol"].as_str().unwrap(),
            format!("{}/USDC:USDC", raw.to_ascii_uppercase())
        );
        let kind = r["kind"].as_str().unwrap();
        if kind != "instrument" {
            assert!(!delisted.contains(raw), "{kind} record for delisted {raw}");
        }
        let received = r["received_ts"].as_i64().unwrap();
        match kind {
            "instrument" => {
                assert_eq!(r["contract_size"], 1.0);
                let tick = 10f64.powi(-(6 - sz_decimals(inst) as i32));
                assert_eq!(r["tick_size"].as_f64(), Some(tick), "{r}");
                let want = if is_delisted(inst) {
                    "delisted"
                } else {
                    "trading"
                };
                assert_eq!(r["status"], want, "{r}");
                if raw.starts_with('k') {
                    assert_eq!(r["extra"]["multiplier"], "1000", "{r}");
                }
            }
            "ticker" => {
                // No trade price and no top of book are served: absent, never 0.
                for absent in ["last", "bid", "ask", "exchange_ts"] {
                    assert!(r[absent].is_null(), "{absent} in {r}");
                }
                let matches = candidates(inst, received).into_iter().any(|c| {
                    let oi = num(&c.open_interest);
                    let mark = num(&c.mark_px);
                    r["mark"].as_f64() == Some(mark)
                        && r["index"].as_f64() == Some(num(&c.oracle_px))
                        && r["volume_24h_base"].as_f64() == Some(num(&c.day_base_vlm))
                        && r["volume_24h_quote"].as_f64() == Some(num(&c.day_ntl_vlm))
                        && r["open_interest_base"].as_f64() == Some(oi)
                        && r["open_interest_quote"]
                            .as_f64()
                            .is_some_and(|q| (q / (oi * mark) - 1.0).abs() < DERIVED_TOLERANCE)
                        && r["extra"]["mid_px"].as_str().map(num) == c.mid_px.as_deref().map(num)
                });
                assert!(
                    matches,
                    "{r} is no served ticker of {raw}: {:?}",
                    candidates(inst, received)
                );
                *compared.entry("ticker").or_default() += 1;
            }
            "funding" => {
                assert!(r["predicted_rate"].is_null(), "{r}");
                assert!(r["rate_cap"].is_null() && r["rate_floor"].is_null(), "{r}");
                assert_eq!(r["interval_hours"], 1.0, "{r}");
                assert_eq!(r["interval_source"], "reported", "{r}");
                let next = r["next_funding_ts"].as_i64().unwrap();
                assert_eq!(next % HOUR_MS, 0, "{r}");
                assert!(next > received - SECONDS_BACK * 1000 && next <= received + HOUR_MS);
                let rate = r["rate"].as_f64().unwrap();
                let served = candidates(inst, received)
                    .iter()
                    .any(|c| num(&c.funding) == rate);
                assert!(served, "{r} is no served funding of {raw}");
                let r8 = r["rate_8h"].as_f64().unwrap();
                assert!((r8 - rate * 8.0).abs() < 1e-15, "{r}");
                assert_eq!(
                    r["extra"]["predicted_rate_hlperp"].as_str().map(num),
                    Some(rate),
                    "HlPerp predicts the same hour: {r}"
                );
                *compared.entry("funding").or_default() += 1;
            }
            other => panic!("unexpected kind {other}"),
        }
    }
    assert!(compared["ticker"] >= live.len() && compared["funding"] >= live.len());
    // Every coin of the universe (delisted ones included) has an instrument record.
    let instruments = symbols_with(&records, "instrument");
    for inst in universe
        .instruments
        .iter()
        .filter(|i| is_listed(i, started))
    {
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

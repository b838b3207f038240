//! dYdX v4 end to end: the real host with the real `fc_plugin_dydx` `.so` against the
//! emulator's dYdX indexer instance. Every record validates against the schema; at least 99%
//! of the emulated live markets get ticker and funding records; every number equals what the
//! emulator served for that market at that second; what the indexer does not serve stays null
//! (no last/bid/ask/base volume, no predicted rate, no caps); every symbol is
//! `<COIN>/USDC:USDC`; `exchange_ts` is an ISO-8601 block time of `/v4/height`; funding is
//! hourly and settles at the next full hour after that block; markets that are initializing or
//! settled get no ticker or funding; a few garbled answers at the start do not stop collection.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use exchange_emulator::{
    exchanges::dydx::{is_live, latest_block, market, market_status, MarketText, BLOCK_MS},
    market::{Instrument, Universe},
    EmulatorConfig, ExchangeKind, FaultSpec, InstanceConfig,
};
use integration_tests::{assert_schema_valid, wait_until, RunningHost};
use serde_json::Value;

const NAME: &str = "dydx";
const HOUR_MS: i64 = 3_600_000;
/// Seconds before a record's `received_ts` whose emulated values it may carry (the answer is
/// built on arrival; a loaded machine may take a while to deliver and parse it).
const SECONDS_BACK: i64 = 3;
/// Relative tolerance of a value the plugin derives by multiplying two served ones.
const DERIVED_TOLERANCE: f64 = 1e-12;
/// Required share of live markets with ticker and funding records.
const COVERAGE: f64 = 0.99;

fn num(v: &str) -> f64 {
    v.parse().expect("a served number")
}

/// The emulated values of `inst` at the seconds a record received at `received_ts` may show.
fn candidates(inst: &Instrument, received_ts: i64) -> Vec<MarketText> {
    (0..=SECONDS_BACK)
        .map(|back| market(inst, (received_ts - back * 1000) as u64))
        .collect()
}

fn symbols_with(records: &[Value], kind: &str) -> BTreeSet<String> {
    records
        .iter()
        .filter(|r| r["kind"] == kind)
        .map(|r| r["raw_symbol"].as_str().unwrap().to_owned())
        .collect()
}

/// The record's `exchange_ts`: a block time the emulator served shortly before arrival.
fn block_time(r: &Value) -> i64 {
    let ts = r["exchange_ts"]
        .as_i64()
        .unwrap_or_else(|| panic!("no block time in {r}"));
    let received = r["received_ts"].as_i64().unwrap();
    assert_eq!(
        latest_block(ts as u64).1 as i64,
        ts,
        "exchange_ts is no block time: {r}"
    );
    assert!(
        ts <= received && received - ts < SECONDS_BACK * 1000 + BLOCK_MS as i64,
        "block time {ts} far from arrival {received}: {r}"
    );
    ts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dydx_records_equal_what_the_emulator_served() {
    let instance = InstanceConfig::new(NAME, ExchangeKind::Dydx);
    let emulator = exchange_emulator::spawn(
        EmulatorConfig {
            instances: vec![instance.clone()],
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let universe = Universe::build(&instance, exchange_emulator::exchanges::now_ms());
    let live: Vec<&Instrument> = universe.instruments.iter().filter(|i| is_live(i)).collect();
    let not_live: BTreeSet<&str> = universe
        .instruments
        .iter()
        .filter(|i| !is_live(i))
        .map(|i| i.symbol.as_str())
        .collect();
    assert!(live.len() > 200 && !not_live.is_empty());

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
    let intervals =
        "[exchanges.dydx.intervals]\ninstruments = \"1h\"\ntickers = \"1s\"\nfunding = \"1s\"\n";
    let host = RunningHost::start_exchange(
        dir.path(),
        "fc_plugin_dydx",
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
            .unwrap_or_else(|| panic!("{raw} is not an emulated market"));
        // `BTC-USD` is `BTC/USDC:USDC`: quote and settle forced to USDC, as ccxt does.
        assert_eq!(r["symbol"], format!("{}/USDC:USDC", inst.coin), "{r}");
        assert_eq!(r["quote"], "USDC", "{r}");
        assert_eq!(r["settle"], "USDC", "{r}");
        let kind = r["kind"].as_str().unwrap();
        if kind != "instrument" {
            assert!(!not_live.contains(raw), "{kind} record for {raw}: {r}");
        }
        let received = r["received_ts"].as_i64().unwrap();
        match kind {
            "instrument" => {
                assert_eq!(r["contract_size"], 1.0, "{r}");
                assert_eq!(r["tick_size"].as_f64(), Some(inst.tick()), "{r}");
                let raw_status = market_status(inst);
                assert_eq!(r["extra"]["raw_status"], raw_status, "{r}");
                assert_eq!(r["status"], fc_plugin_dydx::status_word(raw_status), "{r}");
            }
            "ticker" => {
                // The indexer's bulk answer has no trade, no book and no base volume.
                for absent in ["last", "bid", "ask", "volume_24h_base"] {
                    assert!(r[absent].is_null(), "{absent} in {r}");
                }
                block_time(r);
                let matches = candidates(inst, received).into_iter().any(|c| {
                    let oracle = num(&c.oracle_price);
                    let oi = num(&c.open_interest);
                    r["mark"].as_f64() == Some(oracle)
                        && r["index"].as_f64() == Some(oracle)
                        && r["volume_24h_quote"].as_f64() == Some(num(&c.volume_24h))
                        && r["open_interest_base"].as_f64() == Some(oi)
                        && r["open_interest_quote"]
                            .as_f64()
                            .is_some_and(|q| (q / (oi * oracle) - 1.0).abs() < DERIVED_TOLERANCE)
                        && r["extra"]["trades_24h"].as_str().map(num) == Some(c.trades_24h as f64)
                });
                assert!(
                    matches,
                    "{r} is no served market of {raw}: {:?}",
                    candidates(inst, received)
                );
                assert_eq!(r["extra"]["mark_source"], "oracle", "{r}");
                *compared.entry("ticker").or_default() += 1;
            }
            "funding" => {
                for absent in ["predicted_rate", "rate_cap", "rate_floor", "last"] {
                    assert!(r[absent].is_null(), "{absent} in {r}");
                }
                assert_eq!(r["interval_hours"], 1.0, "{r}");
                assert_eq!(r["interval_source"], "default", "{r}");
                let block = block_time(r);
                let next = r["next_funding_ts"].as_i64().unwrap();
                assert_eq!(next, (block / HOUR_MS + 1) * HOUR_MS, "{r}");
                assert_eq!(r["extra"]["next_funding_ts_source"], "block_time", "{r}");
                assert_eq!(r["extra"]["rate_figure"], "current_hour_estimate", "{r}");
                let rate = r["rate"].as_f64().unwrap();
                let served = candidates(inst, received).iter().any(|c| {
                    num(&c.next_funding_rate) == rate
                        && r["mark"].as_f64() == Some(num(&c.oracle_price))
                });
                assert!(served, "{r} is no served funding of {raw}");
                let r8 = r["rate_8h"].as_f64().unwrap();
                assert!((r8 - rate * 8.0).abs() < 1e-15, "{r}");
                *compared.entry("funding").or_default() += 1;
            }
            other => panic!("unexpected kind {other}"),
        }
    }
    assert!(compared["ticker"] >= live.len() && compared["funding"] >= live.len());
    // Every market of the universe, live or not, has an instrument record.
    let instruments = symbols_with(&records, "instrument");
    for inst in &universe.instruments {
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

/// The indexer writes `Retry-After` in milliseconds; the plugin tells the host so
/// (`PluginInfo::extra` `http.retry_after_unit = ms`). A 429 with `Retry-After: 2000` pauses
/// collection for 2 s, not 2,000 s (or the host's 5-minute cap on any pause).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dydx_retry_after_is_read_in_milliseconds() {
    let instance = InstanceConfig::new(NAME, ExchangeKind::Dydx);
    let emulator = exchange_emulator::spawn(
        EmulatorConfig {
            instances: vec![instance],
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let intervals =
        "[exchanges.dydx.intervals]\ninstruments = \"1h\"\ntickers = \"1s\"\nfunding = \"off\"\n";
    let host = RunningHost::start_exchange(
        dir.path(),
        "fc_plugin_dydx",
        NAME,
        &emulator.base_url(NAME),
        intervals,
    );
    let tickers = |records: &[Value]| records.iter().filter(|r| r["kind"] == "ticker").count();
    assert!(
        wait_until(Duration::from_secs(20), || tickers(&host.records()) > 0)
            .await
            .is_some(),
        "no tickers before the fault"
    );
    emulator.inject(
        serde_json::from_value::<FaultSpec>(serde_json::json!({
            "instance": NAME, "fault": "rate_limit", "retry_after_s": 2, "count": 1
        }))
        .unwrap(),
    );
    assert!(
        wait_until(Duration::from_secs(10), || emulator
            .stats()
            .instance(NAME)
            .faulted
            >= 1)
        .await
        .is_some(),
        "the 429 was not served"
    );
    let after_fault = tickers(&host.records());
    // The emulator's values change about every third second per market: new ticker records
    // arrive within a few cycles once the 2 s pause is over.
    let resumed = wait_until(Duration::from_secs(15), || {
        tickers(&host.records()) > after_fault
    })
    .await;
    host.stop().await;
    emulator.shutdown().await;
    assert!(
        resumed.is_some(),
        "collection did not resume within 15 s of a 429 with Retry-After 2000 (ms)"
    );
}

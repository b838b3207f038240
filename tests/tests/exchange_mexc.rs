//! MEXC end to end: the real host with the real `fc_plugin_mexc` `.so` against the emulator's
//! MEXC instance. Every record validates against the schema; at least 99% of the emulated
//! quoted linear perps get ticker and funding records; every number equals what the emulator
//! served for that contract at that second (contracts converted with the contract size); the
//! funding interval is MEXC's `collectCycle`; hidden contracts never appear and offline ones get
//! no ticker or funding; every record is a perpetual; a few garbled answers at the start do not
//! stop collection.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use exchange_emulator::{
    exchanges::mexc::{funding_values, is_hidden, is_quoted, state, ticker_values},
    market::{Contract, Instrument, Universe},
    EmulatorConfig, ExchangeKind, FaultSpec, InstanceConfig,
};
use integration_tests::{assert_schema_valid, wait_until, RunningHost};
use serde_json::Value;

const NAME: &str = "mexc";
/// Seconds before a record's `received_ts` whose emulated values it may carry.
const SECONDS_BACK: u64 = 3;
/// Required share of quoted linear perps with ticker and funding records.
const COVERAGE: f64 = 0.99;
/// Relative tolerance of a value the plugin derives by multiplying or dividing served ones.
const DERIVED_TOLERANCE: f64 = 1e-12;

fn close(got: &Value, want: f64) -> bool {
    got.as_f64()
        .is_some_and(|g| g == want || ((g - want) / want).abs() < DERIVED_TOLERANCE)
}

fn symbols_with(records: &[Value], kind: &str) -> BTreeSet<String> {
    records
        .iter()
        .filter(|r| r["kind"] == kind)
        .map(|r| r["raw_symbol"].as_str().unwrap().to_owned())
        .collect()
}

fn seconds(received_ts: i64) -> impl Iterator<Item = u64> {
    (0..=SECONDS_BACK).map(move |back| received_ts as u64 - back * 1000)
}

fn ticker_matches(r: &Value, inst: &Instrument) -> bool {
    let cs = inst.ct_val;
    seconds(r["received_ts"].as_i64().unwrap()).any(|t| {
        let v = ticker_values(inst, t);
        let prices = r["last"].as_f64() == Some(v.last_price)
            && r["bid"].as_f64() == Some(v.bid1)
            && r["ask"].as_f64() == Some(v.ask1)
            && r["mark"].as_f64() == Some(v.fair_price)
            && r["index"].as_f64() == Some(v.index_price)
            && r["exchange_ts"].as_u64() == Some(v.timestamp);
        let sizes = if inst.contract == Contract::InversePerpetual {
            let oi_quote = v.hold_vol * cs;
            close(&r["volume_24h_quote"], v.volume24 * cs)
                && r["volume_24h_base"].as_f64() == Some(v.amount24)
                && close(&r["open_interest_quote"], oi_quote)
                && close(&r["open_interest_base"], oi_quote / v.fair_price)
        } else {
            let oi_base = v.hold_vol * cs;
            close(&r["volume_24h_base"], v.volume24 * cs)
                && r["volume_24h_quote"].as_f64() == Some(v.amount24)
                && close(&r["open_interest_base"], oi_base)
                && close(&r["open_interest_quote"], oi_base * v.fair_price)
        };
        prices && sizes
    })
}

fn funding_matches(r: &Value, inst: &Instrument) -> bool {
    seconds(r["received_ts"].as_i64().unwrap()).any(|t| {
        let v = funding_values(inst, t);
        r["rate"].as_f64() == Some(v.funding_rate)
            && r["rate_cap"].as_f64() == Some(v.max_funding_rate)
            && r["rate_floor"].as_f64() == Some(v.min_funding_rate)
            && r["interval_hours"].as_f64() == Some(f64::from(v.collect_cycle))
            && r["next_funding_ts"].as_u64() == Some(v.next_settle_time)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mexc_records_equal_what_the_emulator_served() {
    let instance = InstanceConfig::new(NAME, ExchangeKind::Mexc);
    let emulator = exchange_emulator::spawn(
        EmulatorConfig {
            instances: vec![instance.clone()],
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let universe = Universe::build(&instance, exchange_emulator::exchanges::now_ms());
    let linear: Vec<&Instrument> = universe
        .instruments
        .iter()
        .filter(|i| i.contract == Contract::Perpetual && is_quoted(i))
        .collect();
    assert!(linear.len() > 300);
    assert!(universe.instruments.iter().any(is_hidden));
    assert!(universe.instruments.iter().any(|i| state(i) == 3));

    for fault in ["truncated", "html"] {
        emulator.inject(
            serde_json::from_value::<FaultSpec>(
                serde_json::json!({"instance": NAME, "path_prefix": "/api/v1/contract/ticker", "fault": fault, "count": 1}),
            )
            .unwrap(),
        );
    }
    emulator.inject(
        serde_json::from_value::<FaultSpec>(
            serde_json::json!({"instance": NAME, "path_prefix": "/api/v1/contract/funding_rate", "fault": "error_code", "count": 1}),
        )
        .unwrap(),
    );

    let dir = tempfile::tempdir().unwrap();
    let intervals =
        "[exchanges.mexc.intervals]\ninstruments = \"1h\"\ntickers = \"1s\"\nfunding = \"1s\"\n";
    let host = RunningHost::start_exchange(
        dir.path(),
        "fc_plugin_mexc",
        NAME,
        &emulator.base_url(NAME),
        intervals,
    );
    let covered = |records: &[Value]| {
        let tickers = symbols_with(records, "ticker");
        let funding = symbols_with(records, "funding");
        let both = linear
            .iter()
            .filter(|i| tickers.contains(&i.symbol) && funding.contains(&i.symbol))
            .count();
        both as f64 >= COVERAGE * linear.len() as f64
    };
    let took = wait_until(Duration::from_secs(40), || covered(&host.records())).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let records = host.records();
    host.stop().await;
    let faulted = emulator.stats().instance(NAME).faulted;
    emulator.shutdown().await;
    assert!(took.is_some(), "coverage not reached: {}", tally(&records));
    assert!(faulted >= 3, "the faults were served");

    assert_schema_valid(&records);

    let mut compared = BTreeMap::<String, usize>::new();
    for r in &records {
        assert_eq!(r["exchange"], NAME);
        let raw = r["raw_symbol"].as_str().unwrap();
        let inst = universe
            .get(raw)
            .unwrap_or_else(|| panic!("{raw} is not an emulated contract"));
        assert!(!is_hidden(inst), "hidden {raw} published");
        let inverse = inst.contract == Contract::InversePerpetual;
        let (market, settle) = if inverse {
            ("inverse_perpetual", inst.coin.as_str())
        } else {
            ("linear_perpetual", inst.quote)
        };
        assert_eq!(r["market_type"], market, "{r}");
        assert_eq!(
            r["symbol"].as_str().unwrap(),
            format!("{}/{}:{settle}", inst.coin, inst.quote)
        );
        let kind = r["kind"].as_str().unwrap();
        if kind != "instrument" {
            assert!(is_quoted(inst), "{kind} for offline {raw}");
        }
        match kind {
            "instrument" => {
                assert_eq!(r["contract_size"].as_f64(), Some(inst.ct_val), "{r}");
                assert_eq!(r["tick_size"].as_f64(), Some(inst.tick()), "{r}");
                let want = match state(inst) {
                    0 => "trading",
                    3 => "delisted",
                    _ => "halted",
                };
                assert_eq!(r["status"], want, "{r}");
            }
            "ticker" => {
                assert!(ticker_matches(r, inst), "{r} is no served ticker of {raw}");
            }
            "funding" => {
                assert!(
                    funding_matches(r, inst),
                    "{r} is no served funding of {raw}"
                );
                assert_eq!(r["interval_source"], "reported", "{r}");
                assert!(r["predicted_rate"].is_null(), "{r}");
                let (rate, h) = (
                    r["rate"].as_f64().unwrap(),
                    r["interval_hours"].as_f64().unwrap(),
                );
                assert!(close(&r["rate_8h"], rate * 8.0 / h) || rate == 0.0, "{r}");
            }
            other => panic!("unexpected kind {other}"),
        }
        *compared.entry(kind.to_owned()).or_default() += 1;
    }
    assert!(compared["ticker"] >= linear.len() && compared["funding"] >= linear.len());
    // 1 h and 4 h contracts are reported as such, not as an assumed 8 h.
    let hours: BTreeSet<u64> = records
        .iter()
        .filter(|r| r["kind"] == "funding")
        .map(|r| r["interval_hours"].as_f64().unwrap() as u64)
        .collect();
    assert_eq!(hours.into_iter().collect::<Vec<_>>(), [1, 4, 8]);
    // Every visible contract has an instrument record.
    let instruments = symbols_with(&records, "instrument");
    for inst in universe.instruments.iter().filter(|i| !is_hidden(i)) {
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

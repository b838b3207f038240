//! The rate budget plan against Binance's real weights (issue 19), the real plugin `.so` and the
//! emulator, measured at the emulator (when each request arrived):
//!
//! - the scenario, the defaults shipped until then (tickers 5 s, funding 30 s, open
//!   interest 2 min, `rate_limit_share` 0.5 = 1,200 weight/min; base.toml now asks for open
//!   interest every 4 min): the per-symbol open-interest round (~650 requests) is paced, so
//!   no gap between two ticker rounds exceeds 1.5 × 5 s while open interest is asked for every
//!   trading perpetual in the round (sent as a burst it took the minute's budget and tickers
//!   stopped for ~20 s);
//! - intervals that need about twice the budget: every kind keeps at least 40% of its
//!   cadence, tickers and funding never wait 3 intervals, and the status shows the plan (the
//!   warning's wording is pinned by `collect::plan`'s unit tests).

use std::time::Duration;

use exchange_emulator::{EmulatorConfig, ExchangeKind, InstanceConfig};
use integration_tests::{config_text, deploy_plugin, wait_until, RunningHost};
use serde_json::Value;

const TICKERS: &str = "/fapi/v1/ticker/24hr";
const FUNDING: &str = "/fapi/v1/fundingInfo";
const OPEN_INTEREST: &str = "/fapi/v1/openInterest";

async fn binance_emulator() -> exchange_emulator::EmulatorHandle {
    exchange_emulator::spawn(
        EmulatorConfig {
            instances: vec![InstanceConfig::new("binance", ExchangeKind::Binance)],
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

fn start(
    dir: &std::path::Path,
    emu: &exchange_emulator::EmulatorHandle,
    intervals: &str,
) -> RunningHost {
    let plugin_dir = dir.join("plugins");
    std::fs::create_dir(&plugin_dir).unwrap();
    deploy_plugin("fc_plugin_binance", &plugin_dir);
    let section = format!("[exchanges.binance.intervals]\n{intervals}");
    RunningHost::start(
        dir,
        &config_text(
            dir,
            &plugin_dir,
            &[("binance", emu.base_url("binance"), &section)],
        ),
    )
}

/// Gaps (ms) between consecutive arrivals of requests whose path starts with `path`.
fn gaps(emu: &exchange_emulator::EmulatorHandle, path: &str) -> Vec<u64> {
    let ts = emu.stats().instance("binance").timestamps(path);
    ts.windows(2).map(|w| w[1] - w[0]).collect()
}

/// Trading perpetuals among the instrument records.
fn trading_perpetuals(records: &[Value]) -> usize {
    let mut symbols: Vec<&str> = records
        .iter()
        .filter(|r| {
            r["kind"] == "instrument"
                && r["status"] == "trading"
                && r["market_type"]
                    .as_str()
                    .is_some_and(|m| m.ends_with("perpetual"))
        })
        .filter_map(|r| r["raw_symbol"].as_str())
        .collect();
    symbols.sort_unstable();
    symbols.dedup();
    symbols.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_binance_intervals_never_stall_tickers_behind_open_interest() {
    let emu = binance_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let host = start(
        dir.path(),
        &emu,
        "instruments = \"1h\"\ntickers = \"5s\"\nfunding = \"30s\"\nopen_interest = \"2m\"\n",
    );
    let asked = |host: &RunningHost| {
        let wanted = trading_perpetuals(&host.records());
        let asked = emu
            .stats()
            .instance("binance")
            .timestamps(OPEN_INTEREST)
            .len();
        wanted > 0 && asked >= wanted
    };
    // The round is paced over 80% of its 2 minutes; watch at least 100 s either way (sent as
    // a burst, it stalled the tickers between ~40 s and ~60 s).
    let started = std::time::Instant::now();
    let round = wait_until(Duration::from_secs(130), || asked(&host)).await;
    if let Some(rest) = Duration::from_secs(100).checked_sub(started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    let records = host.records();
    let with_oi = records
        .iter()
        .filter(|r| r["kind"] == "ticker" && r["open_interest_base"].is_number())
        .filter_map(|r| r["raw_symbol"].as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    host.stop().await;
    let wanted = trading_perpetuals(&records);
    let asked_n = emu
        .stats()
        .instance("binance")
        .timestamps(OPEN_INTEREST)
        .len();
    assert!(
        round.is_some(),
        "open interest asked for {asked_n} of {wanted} trading perpetuals within 130 s"
    );
    let ticker_gaps = gaps(&emu, TICKERS);
    let worst = ticker_gaps.iter().copied().max().unwrap_or(0);
    eprintln!(
        "open-interest round of {asked_n} requests in {:?}; {} ticker rounds, longest gap {worst} ms; {with_oi} symbols with open interest",
        round.unwrap_or_default(),
        ticker_gaps.len() + 1
    );
    assert!(ticker_gaps.len() >= 15, "{ticker_gaps:?}");
    assert!(
        worst <= 7_500,
        "tickers waited {worst} ms (more than 1.5 × 5 s) beside the open-interest round: {ticker_gaps:?}"
    );
    // Its records arrive when the round ends (the plugin values it at the round's marks).
    assert!(
        with_oi as f64 >= 0.99 * wanted as f64,
        "{with_oi} of {wanted} symbols got open interest"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twice_the_budget_slows_every_kind_and_stops_none() {
    let emu = binance_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    // Tickers 1,100 + funding 66 + open interest ~975 per minute: ~1.9 × the 1,140 planned.
    let host = start(
        dir.path(),
        &emu,
        "instruments = \"1h\"\ntickers = \"3s\"\nfunding = \"10s\"\nopen_interest = \"40s\"\n",
    );
    assert!(
        wait_until(Duration::from_secs(20), || {
            host.telemetry
                .snapshot(Duration::from_secs(60))
                .exchanges
                .iter()
                .any(|e| e.budget_plan.as_ref().is_some_and(|p| p.kinds.len() >= 4))
        })
        .await
        .is_some(),
        "no plan with every kind in the status"
    );
    tokio::time::sleep(Duration::from_secs(45)).await;
    let status = host.telemetry.snapshot(Duration::from_secs(60));
    host.stop().await;
    let plan = status
        .exchanges
        .iter()
        .find_map(|e| e.budget_plan.clone())
        .unwrap();
    let rule = &plan.rules[0];
    assert!(
        rule.needed > 1.7 * rule.budget * 0.95 && rule.planned <= rule.budget,
        "{rule:?}"
    );
    for kind in &plan.kinds {
        assert!(
            kind.cadence >= 0.4 && kind.cadence < 1.0 || kind.kind == "instruments",
            "{kind:?}"
        );
    }
    // Measured at the emulator: tickers and funding keep >= 40% of their cadence and never
    // go 3 intervals without a round.
    for (path, interval_ms) in [(TICKERS, 3_000u64), (FUNDING, 10_000)] {
        let g = gaps(&emu, path);
        assert!(!g.is_empty(), "{path}: no rounds");
        let mean = g.iter().sum::<u64>() as f64 / g.len() as f64;
        let worst = g.iter().copied().max().unwrap_or(0);
        eprintln!(
            "{path}: {} rounds, mean gap {mean:.0} ms, longest {worst} ms",
            g.len() + 1
        );
        assert!(
            mean <= interval_ms as f64 / 0.4,
            "{path}: mean gap {mean:.0} ms, under 40% of the {interval_ms} ms cadence: {g:?}"
        );
        assert!(
            worst < 3 * interval_ms,
            "{path}: a gap of {worst} ms: {g:?}"
        );
    }
    emu.shutdown().await;
}

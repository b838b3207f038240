//! The shipped demo profile, as the README runs it: the real binary with `config/` (base ←
//! development ← demo) against the exchange emulator serving every exchange type at once. Every
//! exchange the demo profile enables delivers ticker and funding records concurrently, each
//! record validates against the schema, no exchange reports a failed cycle, and no exchange's
//! intervals need more than its rate budget (the plan logs no warning). The exchanges
//! come from `config/demo.toml` itself, so a venue added there is covered here.
//!
//! Only the addresses change: the emulator listens on a free port instead of 8900, and the web
//! server on a free port; the plugin directory holds the built plugins.

mod collector_process;

use std::{collections::BTreeMap, path::Path, process::Command, time::Duration};

use collector_process::{status, Collector};
use integration_tests::{
    host_binary, plugin_dir_with, read_records, record_validator, wait_until, workspace_root,
    REAL_PLUGINS,
};

/// How long every exchange gets to deliver both kinds (debug build, all venues on two cores;
/// the demo's funding interval is 10 s).
const ALL_KINDS_WITHIN: Duration = Duration::from_secs(90);
/// The address the shipped demo profile expects the emulator on.
const DEMO_EMULATOR: &str = "http://127.0.0.1:8900/";

/// The exchanges `demo.toml` configures (every section; none is disabled there).
fn demo_exchanges(config_dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(config_dir.join("demo.toml")).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    let exchanges = doc["exchanges"].as_table().unwrap();
    assert!(
        exchanges.values().all(|e| e.get("enabled").is_none()),
        "demo.toml disables an exchange; this test expects every section enabled"
    );
    exchanges.keys().cloned().collect()
}

/// `config/` copied into `dir/config` with the emulator's address in place of the demo's.
fn demo_config(dir: &Path, emulator_root: &str) -> std::path::PathBuf {
    let shipped = workspace_root().join("config");
    let copy = dir.join("config");
    std::fs::create_dir(&copy).unwrap();
    for entry in std::fs::read_dir(&shipped).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".toml") || name.starts_with("local.") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(copy.join(&name), text.replace(DEMO_EMULATOR, emulator_root)).unwrap();
    }
    copy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_profile_collects_from_every_exchange_at_once() {
    let emu = integration_tests::spawn_default_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let plugin_dir = plugin_dir_with(dir.path(), &REAL_PLUGINS);
    let emulator_root = format!("http://{}/", emu.addr());
    let config = demo_config(dir.path(), &emulator_root);
    let exchanges = demo_exchanges(&config);
    assert!(exchanges.len() >= REAL_PLUGINS.len(), "{exchanges:?}");

    let mut command = Command::new(host_binary());
    command
        .args([
            "--log-format",
            "json",
            "run",
            "--profile",
            "demo",
            "--config",
        ])
        .arg(&config)
        .env("FUTURES_COLLECTOR__PLUGINS__DIR", &plugin_dir)
        .env("FUTURES_COLLECTOR__WEB__LISTEN", "127.0.0.1:0");
    let collector = Collector::spawn(command);
    let base = collector.web_base().await;
    // demo.toml writes `../data/demo-records.jsonl`, relative to the config directory.
    let records_path = dir.path().join("data/demo-records.jsonl");

    let kinds_per_exchange = |records: &[serde_json::Value]| {
        let mut seen: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for r in records {
            let entry = seen.entry(r["exchange"].as_str().unwrap_or("?").to_owned());
            let counts = entry.or_default();
            match r["kind"].as_str() {
                Some("ticker") => counts.0 += 1,
                Some("funding") => counts.1 += 1,
                _ => {}
            }
        }
        seen
    };
    let complete = |seen: &BTreeMap<String, (usize, usize)>| {
        exchanges
            .iter()
            .all(|e| seen.get(e).is_some_and(|&(t, f)| t > 0 && f > 0))
    };
    let waited = wait_until(ALL_KINDS_WITHIN, || {
        complete(&kinds_per_exchange(&read_records(&records_path)))
    })
    .await;
    let records = read_records(&records_path);
    let seen = kinds_per_exchange(&records);
    assert!(
        waited.is_some(),
        "not every exchange delivered tickers and funding within {ALL_KINDS_WITHIN:?}: \
         (tickers, funding) per exchange {seen:?}, expected {exchanges:?}"
    );

    let validator = record_validator();
    for record in &records {
        let errors: Vec<String> = validator
            .iter_errors(record)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?} in {record}");
    }

    // The shipped demo intervals fit every exchange's rate budget: no plan warning.
    let over_budget: Vec<String> = collector
        .log
        .lock()
        .unwrap()
        .iter()
        .filter_map(|l| l["message"].as_str())
        .filter(|m| m.starts_with("rate budget:"))
        .map(str::to_owned)
        .collect();
    assert!(over_budget.is_empty(), "{over_budget:#?}");

    let s = status(&base).await;
    let listed = s["exchanges"].as_array().cloned().unwrap_or_default();
    for exchange in &exchanges {
        let e = listed.iter().find(|e| e["id"] == exchange.as_str());
        let e = e.unwrap_or_else(|| panic!("{exchange} missing from /api/status: {s}"));
        assert_eq!(e["status"], "healthy", "{exchange}: {e}");
        assert_eq!(e["breaker"], "closed", "{exchange}: {e}");
    }
    eprintln!(
        "{} records from {} exchanges in {waited:?}: {seen:?}",
        records.len(),
        exchanges.len()
    );

    let exit = collector.stop();
    assert_eq!(exit.code(), Some(0), "exit after SIGTERM: {exit:?}");
    emu.shutdown().await;
}

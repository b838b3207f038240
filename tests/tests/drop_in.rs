//! Plugins dropped into the watched directory at run time: a new plugin (write, then rename)
//! for an enabled exchange starts producing records within 2 seconds, without a restart; a
//! replaced plugin file is loaded from a new private copy and collection goes on (with the
//! canary off: `canary_cycles = 0` serves a replacement at once).

use std::time::Duration;

use exchange_emulator::EmulatorConfig;
use futures_collector::plugins::PluginEvent;
use integration_tests::{config_text, deploy_plugin, wait_until, RunningHost};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_in_plugin_starts_collecting_without_restart() {
    let emulator = exchange_emulator::spawn(
        EmulatorConfig::default_three(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let plugin_dir = dir.path().join("plugins");
    std::fs::create_dir(&plugin_dir).unwrap();
    // Only Binance is there at start; OKX is enabled but its plugin is missing.
    deploy_plugin("fc_plugin_binance", &plugin_dir);
    let exchanges = [
        (
            "binance",
            emulator.base_url("binance"),
            "[exchanges.binance.intervals]\ntickers = \"1s\"",
        ),
        (
            "okx",
            emulator.base_url("okx"),
            "[exchanges.okx.intervals]\ntickers = \"1s\"\nfunding = \"1s\"",
        ),
    ];
    let (events_tx, mut events_rx) = tokio::sync::mpsc::unbounded_channel::<PluginEvent>();
    // Replacements serve at once here (`canary_cycles = 0`); tests/tests/plugin_canary.rs
    // covers the canary.
    let config = config_text(dir.path(), &plugin_dir, &exchanges).replacen(
        "[plugins]\n",
        "[plugins]\ncanary_cycles = 0\n",
        1,
    );
    let host = RunningHost::start_with_events(dir.path(), &config, events_tx);

    assert!(wait_until(Duration::from_secs(15), || host
        .records()
        .iter()
        .any(|r| r["exchange"] == "binance"))
    .await
    .is_some());
    assert!(!host.records().iter().any(|r| r["exchange"] == "okx"));

    let dropped_at = std::time::Instant::now();
    deploy_plugin("fc_plugin_okx", &plugin_dir);
    let okx_seen = wait_until(Duration::from_secs(10), || {
        host.records()
            .iter()
            .any(|r| r["exchange"] == "okx" && r["kind"] != "instrument")
    })
    .await;
    let took = dropped_at.elapsed();
    assert!(okx_seen.is_some(), "okx never started");
    // "Starts collecting within 2 s": its first request goes out within 2 s; the first
    // ticker/funding record follows one emulator round trip later.
    assert!(
        took < Duration::from_millis(2_500),
        "okx records took {took:?} after the drop-in"
    );
    let loaded = events_rx.recv().await.expect("plugin event");
    assert!(
        matches!(&loaded, PluginEvent::Loaded { exchange_id, replaced: false, .. } if exchange_id == "okx"),
        "{loaded:?}"
    );

    // Replace the OKX plugin file (new inode and mtime, same content): loaded again from a
    // fresh copy; collection goes on.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    deploy_plugin("fc_plugin_okx", &plugin_dir);
    let replaced = tokio::time::timeout(Duration::from_secs(5), events_rx.recv())
        .await
        .expect("replace event in time")
        .expect("event");
    assert!(
        matches!(&replaced, PluginEvent::Loaded { exchange_id, replaced: true, .. } if exchange_id == "okx"),
        "{replaced:?}"
    );
    let before = host
        .records()
        .iter()
        .filter(|r| r["exchange"] == "okx")
        .count();
    assert!(
        wait_until(Duration::from_secs(5), || host
            .records()
            .iter()
            .filter(|r| r["exchange"] == "okx")
            .count()
            > before)
        .await
        .is_some(),
        "okx kept collecting after the replacement"
    );
    host.stop().await;
    emulator.shutdown().await;
}

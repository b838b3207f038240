//! Graceful shutdown of the real binary: SIGTERM during collection → every record already
//! handed to the sink is written, the last line is complete, exit code 0. A second signal
//! exits at once.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use exchange_emulator::EmulatorConfig;
use integration_tests::{
    config_text, deploy_plugin, host_binary, read_records, wait_until, REAL_PLUGINS,
};

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

fn setup(
    dir: &std::path::Path,
    emu: &exchange_emulator::EmulatorHandle,
    extra: &str,
) -> std::path::PathBuf {
    let plugin_dir = dir.join("plugins");
    std::fs::create_dir_all(&plugin_dir).unwrap();
    for lib in REAL_PLUGINS {
        deploy_plugin(lib, &plugin_dir);
    }
    let fast =
        |id: &str| format!("[exchanges.{id}.intervals]\ntickers = \"1s\"\nfunding = \"1s\"\n");
    let (b, y, o) = (fast("binance"), fast("bybit"), fast("okx"));
    let exchanges = [
        ("binance", emu.base_url("binance"), b.as_str()),
        ("bybit", emu.base_url("bybit"), y.as_str()),
        ("okx", emu.base_url("okx"), o.as_str()),
    ];
    let mut text = config_text(dir, &plugin_dir, &exchanges);
    text.push_str(extra);
    let path = dir.join("collector.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_writes_every_parsed_record_and_exits_0() {
    let emu = exchange_emulator::spawn(
        EmulatorConfig::default_three(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), &emu, "");
    let output = dir.path().join("records.jsonl");
    let mut child = Command::new(host_binary())
        .args(["--log-format", "json", "run", "--config"])
        .arg(&config)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(15), || read_records(&output).len()
            > 500)
        .await
        .is_some(),
        "collecting"
    );

    signal(child.id(), "TERM");
    let started = Instant::now();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "exit code after SIGTERM");
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "stopped within the grace period"
    );

    // The log's final count equals the lines in the file: nothing handed to the sink was lost.
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let stopped = stderr
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
        .find(|v| v["message"] == "stopped")
        .expect("a 'stopped' log line");
    let written = stopped["records_written"].as_u64().unwrap();
    let text = std::fs::read_to_string(&output).unwrap();
    assert!(text.ends_with('\n'), "last line complete");
    let lines = text.lines().count() as u64;
    assert_eq!(
        written, lines,
        "records the sink reported written vs lines in the file"
    );
    assert!(text
        .lines()
        .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_signal_exits_at_once() {
    let emu = exchange_emulator::spawn(
        EmulatorConfig::default_three(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Every exchange hangs, requests wait up to 2 s, and the grace period is long: the first
    // signal waits for cycles in flight; the second must not.
    let config = setup(dir.path(), &emu, "\n[shutdown]\ngrace = \"30s\"\n");
    for ex in ["binance", "bybit", "okx"] {
        emu.inject(
            serde_json::from_value(serde_json::json!({"instance": ex, "fault": "hang"})).unwrap(),
        );
    }
    let log = dir.path().join("collector.log");
    let mut child = Command::new(host_binary())
        .args(["run", "--config"])
        .arg(&config)
        .stderr(std::fs::File::create(&log).unwrap())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Up and collecting (its cycles hang) before the first signal.
    assert!(
        wait_until(Duration::from_secs(20), || std::fs::read_to_string(&log)
            .is_ok_and(
                |t| t.contains("web server listening") && t.contains("plugins loaded")
            ))
        .await
        .is_some(),
        "the collector did not start"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(child.id(), "TERM");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    signal(child.id(), "TERM");
    let status = child.wait().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "second signal: exit at once ({:?})",
        started.elapsed()
    );
    assert_eq!(status.code(), Some(130));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains('\x1b'),
        "a log written to a file has no colour codes: {text}"
    );
    emu.shutdown().await;
}

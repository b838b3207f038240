//! Config hot reload against the real host, the real plugins and the emulator: a change is
//! applied as a diff within 2 s of saving (only the changed exchange restarts; the others keep
//! their worker, breaker and caches), a broken file changes nothing and the error is visible,
//! a fixed file is applied, a change that fails to apply is rolled back while collection goes
//! on, SIGHUP reloads when file watching is off, and a 50 MB value in a local override is
//! rejected at every attempt without flooding the log.

use std::time::{Duration, Instant};

use exchange_emulator::{EmulatorConfig, EmulatorHandle, ExchangeKind, FaultSpec, InstanceConfig};
use futures_collector::observe::telemetry::{ExchangeStatus, ReloadResult, Telemetry};
use integration_tests::{config_text, deploy_plugin, wait_until, RunningHost, REAL_PLUGINS};
use serde_json::json;

const UNIVERSE: usize = 40;

async fn emulator() -> EmulatorHandle {
    let instances = [
        ("binance", ExchangeKind::Binance),
        ("bybit", ExchangeKind::Bybit),
        ("okx", ExchangeKind::Okx),
    ]
    .into_iter()
    .map(|(name, kind)| {
        let mut c = InstanceConfig::new(name, kind);
        c.universe = UNIVERSE;
        c
    })
    .collect();
    exchange_emulator::spawn(EmulatorConfig { instances }, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// Config for the three exchanges, tickers every `binance_tickers` on Binance and 1 s
/// elsewhere; `extra` is appended.
fn config(
    dir: &std::path::Path,
    emu: &EmulatorHandle,
    binance_tickers: &str,
    extra: &str,
) -> String {
    let plugin_dir = dir.join("plugins");
    let sections: Vec<(String, String)> = ["binance", "bybit", "okx"]
        .iter()
        .map(|id| {
            let tickers = if *id == "binance" { binance_tickers } else { "1s" };
            let oi = if *id == "binance" { "open_interest = \"off\"\n" } else { "" };
            (
                id.to_string(),
                format!("[exchanges.{id}.intervals]\ninstruments = \"1h\"\ntickers = \"{tickers}\"\nfunding = \"off\"\n{oi}"),
            )
        })
        .collect();
    let exchanges: Vec<(&str, String, &str)> = sections
        .iter()
        .map(|(id, s)| (id.as_str(), emu.base_url(id), s.as_str()))
        .collect();
    // The whole documented budget: Binance's ticker round weighs 55, so 2 s fits (1,650 of
    // 2,280 weight/min) where a 1 s cadence is planned down to fit.
    let mut text = config_text(dir, &plugin_dir, &exchanges)
        .replace("[http]\n", "[http]\nrate_limit_share = 1.0\n");
    text.push_str("\n[reload]\nsettle = \"200ms\"\n");
    text.push_str(extra);
    text
}

fn deploy(dir: &std::path::Path) {
    let plugin_dir = dir.join("plugins");
    std::fs::create_dir_all(&plugin_dir).unwrap();
    for lib in REAL_PLUGINS {
        deploy_plugin(lib, &plugin_dir);
    }
}

fn exchange(t: &Telemetry, id: &str) -> ExchangeStatus {
    t.snapshot(Duration::from_secs(60))
        .exchanges
        .into_iter()
        .find(|e| e.id == id)
        .unwrap_or_else(|| panic!("{id} not in the status"))
}

fn last_reload(t: &Telemetry) -> Option<(ReloadResult, String, i64)> {
    t.snapshot(Duration::from_secs(60))
        .config
        .last_reload
        .map(|r| (r.result, r.message, r.ts_ms))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Mean gap (ms) between requests to `path` since `since_ms`, and how many requests.
fn mean_gap(emu: &EmulatorHandle, instance: &str, path: &str, since_ms: u64) -> (f64, usize) {
    let ts: Vec<u64> = emu
        .stats()
        .instance(instance)
        .timestamps(path)
        .into_iter()
        .filter(|t| *t >= since_ms)
        .collect();
    let gaps: Vec<u64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
    if gaps.is_empty() {
        return (f64::NAN, ts.len());
    }
    (
        gaps.iter().sum::<u64>() as f64 / gaps.len() as f64,
        ts.len(),
    )
}

async fn wait_for_reload(t: &Telemetry, after_ms: i64, within: Duration) -> (ReloadResult, String) {
    let mut seen = None;
    wait_until(within, || {
        seen = last_reload(t).filter(|(_, _, ts)| *ts >= after_ms);
        seen.is_some()
    })
    .await;
    let (result, message, _) =
        seen.unwrap_or_else(|| panic!("no reload reported within {within:?}"));
    (result, message)
}

/// The emulator, a folder with the real plugins, the first config (tickers every 1 s) and a
/// reloading host on it, warmed up.
async fn start() -> (EmulatorHandle, tempfile::TempDir, String, RunningHost) {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    deploy(dir.path());
    let good = config(dir.path(), &emu, "1s", "");
    let host = RunningHost::start_reloading(dir.path(), &good);
    warm_up(&host).await;
    (emu, dir, good, host)
}

async fn warm_up(host: &RunningHost) {
    assert!(
        wait_until(Duration::from_secs(15), || {
            let r = host.records();
            ["binance", "okx"].iter().all(|ex| {
                r.iter()
                    .any(|x| x["exchange"] == *ex && x["kind"] == "ticker")
            })
        })
        .await
        .is_some(),
        "no tickers from binance and okx"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interval_change_restarts_only_that_exchange_within_2s() {
    let emu = emulator().await;
    // Bybit fails on everything: its breaker opens and its failures pile up.
    emu.inject(
        serde_json::from_value::<FaultSpec>(
            json!({"instance": "bybit", "fault": "status", "status": 500}),
        )
        .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    deploy(dir.path());
    let host = RunningHost::start_reloading(dir.path(), &config(dir.path(), &emu, "1s", ""));
    warm_up(&host).await;
    assert!(
        wait_until(Duration::from_secs(10), || {
            exchange(&host.telemetry, "bybit").consecutive_failures >= 3
        })
        .await
        .is_some(),
        "bybit never failed"
    );
    let before: Vec<ExchangeStatus> = ["binance", "bybit", "okx"]
        .iter()
        .map(|id| exchange(&host.telemetry, id))
        .collect();
    for ex in &before {
        assert_eq!(ex.worker_starts, 1, "{}", ex.id);
    }
    let okx_instruments = emu
        .stats()
        .instance("okx")
        .count_prefix("/api/v5/public/instruments");
    let bybit_failures = before[1].consecutive_failures;

    // Binance tickers every 2 s instead of 1 s.
    let saved = now_ms();
    RunningHost::write_config(dir.path(), &config(dir.path(), &emu, "2s", ""));
    let (result, message) =
        wait_for_reload(&host.telemetry, saved as i64, Duration::from_secs(2)).await;
    assert_eq!(result, ReloadResult::Ok, "{message}");
    assert!(message.contains("restarted binance"), "{message}");
    assert!(message.contains("kept bybit, okx"), "{message}");
    let live_after = now_ms() - saved;
    assert!(live_after <= 2000, "change live after {live_after} ms");

    let since = now_ms() + 500;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let (binance, n) = mean_gap(&emu, "binance", "/fapi/v1/ticker/24hr", since);
    assert!(
        (1800.0..=2200.0).contains(&binance),
        "binance tickers every {binance:.0} ms after the reload ({n} requests); want 2 s"
    );
    let (okx, n) = mean_gap(&emu, "okx", "/api/v5/market/tickers", since);
    assert!(
        (900.0..=1100.0).contains(&okx),
        "okx tickers every {okx:.0} ms ({n} requests); its cadence must not change"
    );

    // Untouched: the same worker (no second start, no new instruments request), the same
    // breaker history (failures keep counting up instead of starting again from zero).
    let after_binance = exchange(&host.telemetry, "binance");
    let after_bybit = exchange(&host.telemetry, "bybit");
    let after_okx = exchange(&host.telemetry, "okx");
    assert_eq!(after_binance.worker_starts, 2);
    assert_eq!(after_bybit.worker_starts, 1);
    assert_eq!(after_okx.worker_starts, 1);
    assert_eq!(after_okx.worker_started_ms, before[2].worker_started_ms);
    assert_eq!(after_bybit.worker_started_ms, before[1].worker_started_ms);
    assert_eq!(
        emu.stats()
            .instance("okx")
            .count_prefix("/api/v5/public/instruments"),
        okx_instruments,
        "okx fetched its instruments again: its worker was restarted"
    );
    assert!(
        after_bybit.consecutive_failures > bybit_failures,
        "bybit's failure count restarted ({} → {}): its breaker state was lost",
        bybit_failures,
        after_bybit.consecutive_failures
    );
    assert_ne!(
        after_bybit.breaker,
        futures_collector::observe::health::BreakerState::Closed,
        "bybit's breaker was reset by a reload that did not concern it"
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_file_keeps_the_old_config_and_a_fixed_file_applies() {
    let (emu, dir, good, host) = start().await;
    let version = host
        .telemetry
        .snapshot(Duration::from_secs(60))
        .config
        .version;

    // A typo'd key and a zero interval: rejected, both named, nothing changes.
    let broken = good
        .replace("[http]\n", "[http]\ntimeuot = \"1s\"\n")
        .replace("tickers = \"1s\"", "tickers = \"0s\"");
    let saved = now_ms() as i64;
    RunningHost::write_config(dir.path(), &broken);
    let (result, message) = wait_for_reload(&host.telemetry, saved, Duration::from_secs(3)).await;
    assert_eq!(result, ReloadResult::Invalid, "{message}");
    assert!(
        message.contains("timeuot"),
        "the unknown key is not named: {message}"
    );
    let status = host.telemetry.snapshot(Duration::from_secs(60));
    assert_eq!(status.config.version, version, "the running config changed");
    for ex in &status.exchanges {
        assert_eq!(
            ex.worker_starts, 1,
            "{} was restarted by a rejected config",
            ex.id
        );
    }
    // Still collecting on the old config.
    let lines = host.records().len();
    assert!(
        wait_until(Duration::from_secs(5), || host.records().len() > lines + 10)
            .await
            .is_some(),
        "collection stopped after a broken config"
    );

    // Fixed, with a real change: applied.
    let saved = now_ms() as i64;
    RunningHost::write_config(dir.path(), &config(dir.path(), &emu, "3s", ""));
    let (result, message) = wait_for_reload(&host.telemetry, saved, Duration::from_secs(3)).await;
    assert_eq!(result, ReloadResult::Ok, "{message}");
    assert_ne!(
        host.telemetry
            .snapshot(Duration::from_secs(60))
            .config
            .version,
        version
    );
    assert_eq!(exchange(&host.telemetry, "binance").worker_starts, 2);
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_that_cannot_start_is_rolled_back_and_collection_goes_on() {
    let (emu, dir, _good, host) = start().await;
    let version = host
        .telemetry
        .snapshot(Duration::from_secs(60))
        .config
        .version;

    // Binance's cadence now (its 1 s is planned down to what its budget allows).
    let since = now_ms();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (cadence, _) = mean_gap(&emu, "binance", "/fapi/v1/ticker/24hr", since);

    // The new sink path lies under a regular file: it validates, but cannot be opened. The
    // same reload also changes Binance's interval to 4 s, which must not be applied either.
    std::fs::write(dir.path().join("blocker"), "a file, not a folder").unwrap();
    let unopenable = dir.path().join("blocker").join("records.jsonl");
    let bad = config(dir.path(), &emu, "4s", "").replace(
        &format!(
            "path = {:?}",
            dir.path().join("records.jsonl").display().to_string()
        ),
        &format!("path = {:?}", unopenable.display().to_string()),
    );
    assert_ne!(
        bad,
        config(dir.path(), &emu, "4s", ""),
        "the sink path was not replaced"
    );
    let saved = now_ms() as i64;
    RunningHost::write_config(dir.path(), &bad);
    let (result, message) = wait_for_reload(&host.telemetry, saved, Duration::from_secs(5)).await;
    assert_eq!(result, ReloadResult::RolledBack, "{message}");
    assert!(message.contains("sink"), "{message}");
    let status = host.telemetry.snapshot(Duration::from_secs(60));
    assert_eq!(status.config.version, version);
    assert_eq!(exchange(&host.telemetry, "binance").worker_starts, 1);
    let lines = host.records().len();
    assert!(
        wait_until(Duration::from_secs(5), || host.records().len() > lines + 10)
            .await
            .is_some(),
        "collection into the old file stopped after a rolled-back reload"
    );
    let since = now_ms();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (binance, _) = mean_gap(&emu, "binance", "/fapi/v1/ticker/24hr", since);
    assert!(
        (0.85 * cadence..=1.15 * cadence).contains(&binance),
        "binance at {binance:.0} ms, {cadence:.0} ms before: the rolled-back interval change was applied"
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_change_moves_records_to_the_new_file_without_loss() {
    let (_emu, dir, good, host) = start().await;

    let second = dir.path().join("second.jsonl");
    let moved = good.replace(
        &format!(
            "path = {:?}",
            dir.path().join("records.jsonl").display().to_string()
        ),
        &format!("path = {:?}", second.display().to_string()),
    );
    let saved = now_ms() as i64;
    RunningHost::write_config(dir.path(), &moved);
    let (result, message) = wait_for_reload(&host.telemetry, saved, Duration::from_secs(3)).await;
    assert_eq!(result, ReloadResult::Ok, "{message}");
    assert!(message.contains("sink swapped"), "{message}");
    assert!(message.contains("kept binance, bybit, okx"), "{message}");
    assert!(
        wait_until(Duration::from_secs(5), || integration_tests::read_records(
            &second
        )
        .len()
            > 10)
        .await
        .is_some(),
        "nothing reached the new file"
    );
    let summary = host.stop().await;
    let first = integration_tests::read_records(&dir.path().join("records.jsonl")).len();
    let second = integration_tests::read_records(&second).len();
    assert_eq!(
        summary.sink.records_written as usize,
        first + second,
        "records written ({}) ≠ lines in the two files ({first} + {second})",
        summary.sink.records_written
    );
    assert_eq!(summary.sink.records_not_written, 0);
}

/// The real binary: with `[reload] watch = false` a saved file is not picked up, SIGHUP is.
#[test]
fn sighup_reloads_when_watching_is_off() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let emu = rt.block_on(emulator());
    let dir = tempfile::tempdir().unwrap();
    deploy(dir.path());
    let path = RunningHost::config_path(dir.path());
    let text = |tickers: &str| {
        config(dir.path(), &emu, tickers, "").replace(
            "[reload]\nsettle = \"200ms\"\n",
            "[reload]\nwatch = false\n",
        )
    };
    std::fs::write(&path, text("2s")).unwrap();
    let child = std::process::Command::new(integration_tests::host_binary())
        .args(["--log-format", "json", "run", "--config"])
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let records = dir.path().join("records.jsonl");
    let deadline = Instant::now() + Duration::from_secs(15);
    while integration_tests::read_records(&records).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !integration_tests::read_records(&records).is_empty(),
        "no records"
    );

    // Saved, not watched: the 2 s cadence stays.
    RunningHost::write_config(dir.path(), &text("3s"));
    std::thread::sleep(Duration::from_millis(1500));
    let since = now_ms();
    std::thread::sleep(Duration::from_secs(5));
    let (gap, _) = mean_gap(&emu, "binance", "/fapi/v1/ticker/24hr", since);
    assert!(
        (1800.0..=2200.0).contains(&gap),
        "applied without SIGHUP: {gap:.0} ms"
    );

    // SIGHUP: applied.
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(1500));
    let since = now_ms();
    std::thread::sleep(Duration::from_secs(7));
    let (gap, n) = mean_gap(&emu, "binance", "/fapi/v1/ticker/24hr", since);
    assert!(
        (2700.0..=3300.0).contains(&gap),
        "after SIGHUP binance tickers every {gap:.0} ms ({n} requests); want 3 s"
    );
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "exit {:?}", out.status);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("SIGHUP"), "no SIGHUP in the log:\n{log}");
    assert!(
        log.contains("config reloaded"),
        "no reload in the log:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_server_moves_and_a_missing_plugin_dir_is_rolled_back() {
    let (_emu, dir, good, host) = start().await;
    let old_addr = host.telemetry.web_addr().expect("web server listening");

    // A free port for the new address.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let moved = good.replace(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
    );
    let saved = now_ms() as i64;
    RunningHost::write_config(dir.path(), &moved);
    let (result, message) = wait_for_reload(&host.telemetry, saved, Duration::from_secs(3)).await;
    assert_eq!(result, ReloadResult::Ok, "{message}");
    assert!(message.contains("web server restarted"), "{message}");
    let client = reqwest::Client::new();
    let status = client
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .expect("new address answers");
    assert!(status.status().is_success());
    assert!(
        client
            .get(format!("http://{old_addr}/healthz"))
            .send()
            .await
            .is_err(),
        "the old address still answers"
    );

    // A plugin directory that does not exist: validated as a path, fails to open, rolled back;
    // the web server change in the same reload is not applied either.
    let other_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let missing = dir.path().join("no-such-plugins");
    let bad = moved
        .replace(
            &format!(
                "dir = {:?}",
                dir.path().join("plugins").display().to_string()
            ),
            &format!("dir = {:?}", missing.display().to_string()),
        )
        .replace(
            &format!("listen = \"127.0.0.1:{port}\""),
            &format!("listen = \"127.0.0.1:{other_port}\""),
        );
    assert_ne!(bad, moved);
    let saved = now_ms() as i64;
    RunningHost::write_config(dir.path(), &bad);
    let (result, message) = wait_for_reload(&host.telemetry, saved, Duration::from_secs(3)).await;
    assert_eq!(result, ReloadResult::RolledBack, "{message}");
    assert!(message.contains("no-such-plugins"), "{message}");
    assert!(
        client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_ok(),
        "the web server was not kept on its address"
    );
    let lines = host.records().len();
    assert!(
        wait_until(Duration::from_secs(5), || host.records().len() > lines + 10)
            .await
            .is_some(),
        "collection stopped after a rolled-back plugin directory change"
    );
    host.stop().await;
}

/// Bytes of log one rejected reload attempt may add (its trigger line and its error line).
const LOG_BYTES_PER_REJECTED_RELOAD: usize = 16 * 1024;

/// The real binary on a config directory: a local override with a 50 MB value is rejected at
/// every attempt, each adding less than [`LOG_BYTES_PER_REJECTED_RELOAD`] to the whole log; the
/// status API shows the error naming the file, and collection goes on with the old config.
#[test]
fn a_50_mb_value_in_a_local_override_is_rejected_without_flooding_the_log() {
    use std::io::Read as _;
    const VALUE_BYTES: usize = 50 * 1024 * 1024;
    const ATTEMPTS: usize = 2;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let emu = rt.block_on(emulator());
    let dir = tempfile::tempdir().unwrap();
    deploy(dir.path());
    std::fs::write(
        dir.path().join("base.toml"),
        config(dir.path(), &emu, "1s", ""),
    )
    .unwrap();
    std::fs::write(dir.path().join("development.toml"), "").unwrap();
    let mut cmd = std::process::Command::new(integration_tests::host_binary());
    for (k, _) in std::env::vars() {
        if k.starts_with("FUTURES_COLLECTOR") || k == "KUBERNETES_SERVICE_HOST" {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .args(["--log-format", "json", "run", "--config"])
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let mut stderr = child.stderr.take().unwrap();
    let sink = log.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 64 * 1024];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let log_text = || String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    let rejections = || log_text().matches("config reload rejected").count();
    let wait = |what: &str, within: Duration, done: &dyn Fn() -> bool| {
        let deadline = Instant::now() + within;
        while !done() {
            assert!(Instant::now() < deadline, "{what}:\n{}", log_text());
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let records = dir.path().join("records.jsonl");
    wait("no records", Duration::from_secs(15), &|| {
        !integration_tests::read_records(&records).is_empty()
    });
    let web = log_text()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("web server listening"))
        })
        .and_then(|l| l["addr"].as_str().map(str::to_owned))
        .expect("the web server's address in the log");

    let local = dir.path().join("local.json");
    let logged_before = log.lock().unwrap().len();
    for attempt in 0..ATTEMPTS {
        let seen = rejections();
        let value = char::from(b'a' + attempt as u8)
            .to_string()
            .repeat(VALUE_BYTES);
        let tmp = dir.path().join(".local.json.tmp");
        std::fs::write(
            &tmp,
            format!("{{\"sink\": {{\"type\": \"jsonl\", \"path\": \"{value}\"}}}}"),
        )
        .unwrap();
        std::fs::rename(&tmp, &local).unwrap();
        wait(
            "the override was not rejected",
            Duration::from_secs(60),
            &|| rejections() > seen,
        );
    }
    // Let any further attempt of the last save finish.
    std::thread::sleep(Duration::from_secs(2));
    let attempts = rejections();
    let grown = log.lock().unwrap().len() - logged_before;
    eprintln!("the log grew by {grown} bytes over {attempts} rejected reloads");
    assert!(attempts >= ATTEMPTS, "{attempts} rejections");
    assert!(
        grown < LOG_BYTES_PER_REJECTED_RELOAD * attempts,
        "the log grew by {grown} bytes over {attempts} rejected reloads"
    );
    let text = log_text();
    let rejected = text
        .lines()
        .rfind(|l| l.contains("config reload rejected"))
        .unwrap();
    // Far above the file limit: refused by its size, the file named, nothing of it quoted.
    assert!(
        rejected.contains("local.json: ")
            && rejected.contains(&format!(
                "bytes, larger than the {}-byte limit for a config file",
                futures_collector::config::MAX_CONFIG_FILE_BYTES
            )),
        "{rejected}"
    );

    // The status API shows the error; the process runs on the old config, into the old file.
    let status = rt.block_on(async {
        reqwest::get(format!("http://{web}/api/status"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let last = &status["config"]["last_reload"];
    assert_eq!(last["result"], "invalid", "{last}");
    let message = last["message"].as_str().unwrap();
    assert!(message.contains("local.json: "), "{message}");
    assert!(child.try_wait().unwrap().is_none(), "the collector exited");
    let lines = integration_tests::read_records(&records).len();
    wait("collection stopped", Duration::from_secs(10), &|| {
        integration_tests::read_records(&records).len() > lines + 10
    });

    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
    reader.join().unwrap();
}

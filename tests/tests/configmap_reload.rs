//! Hot reload of a Kubernetes ConfigMap mounted as a directory (deploy/kubernetes/): the kubelet
//! never writes the visible files. It writes the new contents into a fresh timestamped folder
//! (`..2026_12_05_18_40_00.123456789`), points a new symlink `..data_tmp` at it, renames that
//! over `..data` (the atomic swap), and the visible files are symlinks `base.toml ->
//! ..data/base.toml` that never change; the old folder is then removed. The real collector
//! binary runs on such a directory (`run --config DIR --profile production`, as in the pod):
//! an update is applied by the hot reload without SIGHUP, and a broken update is refused with
//! the running config kept, as for a plain file save (config_reload.rs).

mod collector_process;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use collector_process::{status, status_where, Collector};
use integration_tests::{host_binary, plugin_dir_with, read_records, REAL_PLUGINS};
use serde_json::Value;

/// A ConfigMap volume as the kubelet lays it out, updated the way the kubelet updates it.
struct ConfigMapVolume {
    mount: PathBuf,
    generation: u32,
}

impl ConfigMapVolume {
    fn new(mount: PathBuf) -> Self {
        std::fs::create_dir(&mount).unwrap();
        Self {
            mount,
            generation: 0,
        }
    }

    /// The folder `..data` points at now.
    fn current(&self) -> Option<PathBuf> {
        std::fs::read_link(self.mount.join("..data"))
            .ok()
            .map(|target| self.mount.join(target))
    }

    /// Writes `files` as the ConfigMap's new contents: new timestamped folder, `..data_tmp`
    /// symlink to it renamed over `..data`, visible symlinks for new keys, old folder removed.
    fn update(&mut self, files: &[(&str, &str)]) {
        use std::os::unix::fs::symlink;
        self.generation += 1;
        let name = format!(
            "..2026_12_05_18_40_{:02}.{}",
            self.generation,
            100_000_000 + self.generation
        );
        let folder = self.mount.join(&name);
        std::fs::create_dir(&folder).unwrap();
        for (file, text) in files {
            std::fs::write(folder.join(file), text).unwrap();
        }
        let old = self.current();
        let tmp = self.mount.join("..data_tmp");
        symlink(&name, &tmp).unwrap();
        std::fs::rename(&tmp, self.mount.join("..data")).unwrap();
        for (file, _) in files {
            let visible = self.mount.join(file);
            if std::fs::symlink_metadata(&visible).is_err() {
                symlink(format!("..data/{file}"), &visible).unwrap();
            }
        }
        if let Some(old) = old {
            std::fs::remove_dir_all(old).unwrap();
        }
    }
}

fn base_toml(
    dir: &Path,
    plugin_dir: &Path,
    emu: &exchange_emulator::EmulatorHandle,
    binance_tickers: &str,
) -> String {
    let mut text = format!(
        "[plugins]\ndir = {:?}\nsettle = \"100ms\"\n\n[sink]\ntype = \"jsonl\"\npath = {:?}\n\n[web]\nlisten = \"127.0.0.1:0\"\n\n[reload]\nsettle = \"200ms\"\n\n[http]\ntimeout = \"2s\"\nretries = 1\nbackoff_base = \"50ms\"\nbackoff_cap = \"200ms\"\n",
        plugin_dir.display().to_string(),
        dir.join("records.jsonl").display().to_string()
    );
    for id in ["binance", "bybit", "okx"] {
        let tickers = if id == "binance" {
            binance_tickers
        } else {
            "1s"
        };
        let oi = if id == "binance" {
            "open_interest = \"off\"\n"
        } else {
            ""
        };
        text.push_str(&format!(
            "\n[exchanges.{id}]\nbase_url = {:?}\n[exchanges.{id}.intervals]\ninstruments = \"1h\"\ntickers = \"{tickers}\"\nfunding = \"off\"\n{oi}",
            emu.base_url(id)
        ));
    }
    text
}

const PRODUCTION: &str = "[http]\nrate_limit_share = 0.4\n";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Waits for a reload reported after `since_ms`; returns `config.last_reload` and how long
/// after `since_ms` the status showed it.
async fn reload_after(base: &str, since_ms: i64) -> (Value, Duration) {
    let start = Instant::now();
    let s = status_where(base, |s| {
        s["config"]["last_reload"]["ts_ms"]
            .as_i64()
            .is_some_and(|ts| ts >= since_ms)
    })
    .await;
    (s["config"]["last_reload"].clone(), start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configmap_swap_is_hot_reloaded_and_a_broken_one_keeps_the_running_config() {
    let emu = integration_tests::spawn_default_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let plugin_dir = plugin_dir_with(dir.path(), &REAL_PLUGINS);
    let mut volume = ConfigMapVolume::new(dir.path().join("config"));
    let good = base_toml(dir.path(), &plugin_dir, &emu, "1s");
    volume.update(&[("base.toml", &good), ("production.toml", PRODUCTION)]);
    assert!(
        std::fs::symlink_metadata(volume.mount.join("base.toml"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the visible file is a symlink into ..data"
    );

    let mut command = Command::new(host_binary());
    command
        .args([
            "--log-format",
            "json",
            "run",
            "--profile",
            "production",
            "--config",
        ])
        .arg(&volume.mount);
    let collector = Collector::spawn(command);
    let base = collector.web_base().await;
    let records = dir.path().join("records.jsonl");
    let first = status_where(&base, |s| s["config"]["version"].is_string()).await;
    let v1 = first["config"]["version"].clone();
    assert!(
        integration_tests::wait_until(collector_process::PATIENCE, || {
            read_records(&records)
                .iter()
                .any(|r| r["exchange"] == "binance")
        })
        .await
        .is_some(),
        "no records from binance"
    );

    // A ConfigMap update with a real change: applied by the watcher (no SIGHUP is sent).
    let saved = now_ms();
    volume.update(&[
        ("base.toml", &base_toml(dir.path(), &plugin_dir, &emu, "3s")),
        ("production.toml", PRODUCTION),
    ]);
    let (last, after) = reload_after(&base, saved).await;
    assert_eq!(last["result"], "ok", "{last}");
    let message = last["message"].as_str().unwrap_or_default();
    assert!(message.contains("restarted binance"), "{message}");
    assert!(
        after <= Duration::from_secs(5),
        "the swap was applied only after {after:?}"
    );
    let v2 = status(&base).await["config"]["version"].clone();
    assert_ne!(v2, v1, "the running config did not change");

    // A broken update (unknown key, zero interval): refused, the running config stays.
    let saved = now_ms();
    let broken = base_toml(dir.path(), &plugin_dir, &emu, "0s")
        .replace("[http]\n", "[http]\ntimeuot = \"1s\"\n");
    volume.update(&[("base.toml", &broken), ("production.toml", PRODUCTION)]);
    let (last, _) = reload_after(&base, saved).await;
    assert_eq!(last["result"], "invalid", "{last}");
    let message = last["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("timeuot"),
        "the problem is not named: {message}"
    );
    assert_eq!(
        status(&base).await["config"]["version"],
        v2,
        "a broken ConfigMap changed the running config"
    );
    let lines = read_records(&records).len();
    assert!(
        integration_tests::wait_until(Duration::from_secs(10), || {
            read_records(&records).len() > lines + 10
        })
        .await
        .is_some(),
        "collection stopped after a broken ConfigMap"
    );

    // Fixed again: applied.
    let saved = now_ms();
    volume.update(&[("base.toml", &good), ("production.toml", PRODUCTION)]);
    let (last, _) = reload_after(&base, saved).await;
    assert_eq!(last["result"], "ok", "{last}");
    assert_eq!(status(&base).await["config"]["version"], v1);

    let exit = collector.stop();
    assert_eq!(exit.code(), Some(0), "exit after SIGTERM: {exit:?}");
    emu.shutdown().await;
}

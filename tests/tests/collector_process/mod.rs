//! The real collector binary as the plugin tests run it: a child process with its JSON log
//! lines collected, a scene (temporary directory, real plugins, the exchange emulator, a config
//! collecting every exchange each second), and polling of its web API (`/api/status`,
//! `/metrics`, with the bearer token when one is set). Owns no assertions about behaviour.
#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use exchange_emulator::EmulatorHandle;
use integration_tests::{
    config_text, host_binary, plugin_dir_with, read_records, spawn_default_emulator, wait_until,
};
use serde_json::Value;

/// How long a test waits for something the collector should do within a few seconds.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The real binary, its JSON log lines collected as they come.
pub struct Collector {
    pub child: Child,
    pub log: Arc<Mutex<Vec<Value>>>,
}

impl Collector {
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the collector");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        Self { child, log }
    }

    /// `futures-collector --log-format json run --config <config>`.
    pub fn run(config: &Path) -> Self {
        let mut command = Command::new(host_binary());
        command
            .args(["--log-format", "json", "run", "--config"])
            .arg(config);
        Self::spawn(command)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Log lines whose `message` is `message`.
    pub fn logged(&self, message: &str) -> Vec<Value> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|v| v["message"] == message)
            .cloned()
            .collect()
    }

    pub async fn web_base(&self) -> String {
        let mut addr = None;
        wait_until(PATIENCE, || {
            addr = self
                .log
                .lock()
                .unwrap()
                .iter()
                .find(|v| {
                    v["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("web server listening"))
                })
                .and_then(|v| v["addr"].as_str().map(str::to_owned));
            addr.is_some()
        })
        .await
        .expect("the web server listens");
        format!("http://{}", addr.unwrap())
    }

    pub fn stop(mut self) -> ExitStatus {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        self.child.wait().expect("wait")
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET `path` of the collector's web server, with the bearer token when given.
pub async fn get_text(base: &str, path: &str, token: Option<&str>) -> String {
    let mut request = reqwest::Client::new().get(format!("{base}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().text().await.unwrap()
}

pub async fn status(base: &str) -> Value {
    status_as(base, None).await
}

pub async fn status_as(base: &str, token: Option<&str>) -> Value {
    serde_json::from_str(&get_text(base, "/api/status", token).await).unwrap()
}

pub async fn metrics(base: &str) -> String {
    get_text(base, "/metrics", None).await
}

/// Polls `/api/status` until `check` holds; returns that status.
pub async fn status_where(base: &str, check: impl Fn(&Value) -> bool) -> Value {
    status_where_as(base, None, check).await
}

pub async fn status_where_as(
    base: &str,
    token: Option<&str>,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let s = status_as(base, token).await;
        if check(&s) {
            return s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "status never matched: {s:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The exchanges every scene configures (the emulator's three).
pub const EXCHANGES: [&str; 3] = ["binance", "bybit", "okx"];

/// A test directory with `plugins/` holding some real plugins, the exchange emulator, and a
/// config collecting every exchange each second with alerts evaluated each second.
pub struct Scene {
    pub emu: EmulatorHandle,
    pub dir: tempfile::TempDir,
    pub plugin_dir: PathBuf,
    pub config: PathBuf,
    pub output: PathBuf,
}

impl Scene {
    /// `plugins_keys` go into `[plugins]`, `extra` at the end of the config.
    pub async fn new(libs: &[&str], plugins_keys: &str, extra: &str) -> Self {
        let emu = spawn_default_emulator().await;
        let dir = tempfile::tempdir().unwrap();
        let plugin_dir = plugin_dir_with(dir.path(), libs);
        let exchanges = EXCHANGES.map(|id| (id, emu.base_url(id), ""));
        let mut text = config_text(dir.path(), &plugin_dir, &exchanges).replacen(
            "[plugins]\n",
            &format!("[plugins]\n{plugins_keys}"),
            1,
        );
        for id in EXCHANGES {
            text.push_str(&format!(
                "\n[exchanges.{id}.intervals]\ntickers = \"1s\"\nfunding = \"1s\"\nopen_interest = \"off\"\n"
            ));
        }
        text.push_str("\n[alerts]\nevaluate_every = \"1s\"\n");
        text.push_str(extra);
        let config = dir.path().join("collector.toml");
        std::fs::write(&config, text).unwrap();
        let output = dir.path().join("records.jsonl");
        Self {
            emu,
            dir,
            plugin_dir,
            config,
            output,
        }
    }

    pub fn plugin(&self, name: &str) -> PathBuf {
        self.plugin_dir.join(name)
    }

    /// Runs the collector on this scene and waits for its web server.
    pub async fn run(&self) -> (Collector, String) {
        self.run_with_env(&[]).await
    }

    /// Like [`Scene::run`], with these environment variables set for the collector.
    pub async fn run_with_env(&self, env: &[(&str, &str)]) -> (Collector, String) {
        let mut command = Command::new(host_binary());
        command
            .args(["--log-format", "json", "run", "--config"])
            .arg(&self.config)
            .envs(env.iter().copied());
        let collector = Collector::spawn(command);
        let base = collector.web_base().await;
        (collector, base)
    }

    pub fn records_of(&self, exchange: &str) -> usize {
        read_records(&self.output)
            .iter()
            .filter(|r| r["exchange"] == exchange)
            .count()
    }

    /// Waits until `exchange` wrote more records than `than`.
    pub async fn more_records(&self, exchange: &str, than: usize) -> bool {
        wait_until(PATIENCE, || self.records_of(exchange) > than)
            .await
            .is_some()
    }

    /// Stops the collector with SIGTERM (it must exit 0) and the emulator.
    pub async fn finish(self, collector: Collector) {
        assert_eq!(collector.stop().code(), Some(0), "clean exit after SIGTERM");
        self.emu.shutdown().await;
        drop(self.dir);
    }
}

/// The alert of `rule` in a status, if it fires.
pub fn alert<'a>(s: &'a Value, rule: &str) -> Option<&'a Value> {
    s["alerts"].as_array()?.iter().find(|a| a["rule"] == rule)
}

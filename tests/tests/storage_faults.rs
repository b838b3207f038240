//! Storage faults with the real binary, the real plugins and the exchange emulator: the sink's
//! files live on a small tmpfs that fills up and is then grown again (`mount -o remount`), or
//! the collector is killed with SIGKILL in the middle of its writes and started again.
//! Checked from outside: the JSONL file parses line by line with no duplicate and holds every
//! record the collector reports written; the AMQP consumer receives every record once; while
//! the disk is full the sink reports `failing`, `/readyz` says not ready and `sink_failing`
//! fires; nothing is dropped while the memory buffer has room.
//!
//! Mounting a tmpfs needs root (CI and these machines run the tests as root); without it the
//! tests fail with a message that says so, they are not skipped.

mod amqp_support;

use std::{
    collections::{BTreeMap, HashSet},
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use amqp_support::{broker_shared, unique, Broker, Cleanup, Proxy};
use integration_tests::{
    config_text, host_binary, plugin_dir_with, spawn_default_emulator, wait_until, REAL_PLUGINS,
};

/// Size of the small filesystem that fills up.
const SMALL_FS: &str = "2m";
/// Size it is grown to when "space returns".
const LARGE_FS: &str = "256m";

/// A tmpfs mounted on a fresh folder; unmounted when dropped (test passed or not).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().expect("mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "these tests mount a {size} tmpfs to fill a disk and need root (CI runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Grows (or shrinks) the filesystem in place: its files stay.
    fn resize(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.path())
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "remount: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .output();
    }
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The emulator's three exchanges, a plugin folder, and the config text for a collector that
/// polls them every second with `sink` as its `[sink]` section and its web server on
/// `web_port`. Unchanged records are not re-sent during a test (heartbeat 1 h), so every record
/// is a distinct change.
fn collector_config(
    dir: &Path,
    emu: &exchange_emulator::EmulatorHandle,
    web_port: u16,
    sink: &str,
) -> PathBuf {
    let plugin_dir = plugin_dir_with(dir, &REAL_PLUGINS);
    let fast = "[exchanges.ID.intervals]\ntickers = \"1s\"\nfunding = \"1s\"\n";
    let (b, y, o) = (
        fast.replace("ID", "binance"),
        fast.replace("ID", "bybit"),
        fast.replace("ID", "okx"),
    );
    let exchanges = [
        ("binance", emu.base_url("binance"), b.as_str()),
        ("bybit", emu.base_url("bybit"), y.as_str()),
        ("okx", emu.base_url("okx"), o.as_str()),
    ];
    let text = config_text(dir, &plugin_dir, &exchanges);
    // Replace the default JSONL sink and web address of `config_text`.
    let (head, rest) = text.split_once("[sink]").expect("sink section");
    let (_, after_sink) = rest.split_once("[web]").expect("web section");
    let (_, after_web) = after_sink.split_once("\n\n").expect("web section end");
    let text = format!(
        "{head}{sink}\n\n[web]\nlisten = \"127.0.0.1:{web_port}\"\n\n{after_web}\n[change_detection]\nheartbeat = \"1h\"\n\n[alerts]\nsink_failing_after = \"1s\"\n"
    );
    let path = dir.join("collector.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The collector, started with `config`; its stderr (JSON log lines) is kept in a file.
struct Collector {
    child: Child,
    log: PathBuf,
    web_port: u16,
}

impl Collector {
    fn start(config: &Path, log: PathBuf, web_port: u16) -> Self {
        let stderr = std::fs::File::create(&log).expect("log file");
        let child = Command::new(host_binary())
            .args(["--log-format", "json", "run", "--config"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start the collector");
        Self {
            child,
            log,
            web_port,
        }
    }

    async fn get(&self, path: &str) -> Option<(u16, serde_json::Value)> {
        let response = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}{path}", self.web_port))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        let status = response.status().as_u16();
        Some((
            status,
            serde_json::from_slice(&response.bytes().await.ok()?).ok()?,
        ))
    }

    async fn status(&self) -> serde_json::Value {
        self.get("/api/status")
            .await
            .map(|(_, v)| v)
            .unwrap_or_default()
    }

    /// Waits until `/api/status` satisfies `check`; panics with the last status otherwise.
    async fn wait_status(
        &self,
        what: &str,
        timeout: Duration,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let status = self.status().await;
            if check(&status) {
                return status;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "{what}: not within {timeout:?}; sink status {}",
                    status["sink"]
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// While the sink cannot write: `/readyz` says not ready, `sink_failing` fires, and
    /// collection goes on into the memory buffer.
    async fn shows_the_full_disk(&self) {
        let (code, ready) = self.get("/readyz").await.expect("/readyz answers");
        assert_eq!(code, 503, "not ready while the disk is full: {ready}");
        self.wait_status("sink_failing alert", Duration::from_secs(15), |s| {
            s["alerts"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| a["rule"] == "sink_failing"))
        })
        .await;
        self.wait_status("records buffered in memory", Duration::from_secs(15), |s| {
            s["sink"]["buffer_depth"].as_u64().unwrap_or(0) > 3_000
        })
        .await;
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, exit 0 expected; returns the fields of the final `stopped` log line.
    fn stop(mut self) -> serde_json::Value {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = self.child.wait().expect("wait");
        assert_eq!(exit.code(), Some(0), "exit code after SIGTERM");
        let log = std::fs::File::open(&self.log).expect("log");
        BufReader::new(log)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
            .find(|v| v["message"] == "stopped")
            .expect("a 'stopped' log line")
    }

    /// Log lines (JSON) whose message contains `text`.
    fn log_lines(&self, text: &str) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(text))
            .count()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every line of a JSONL file parsed; panics naming the first line that does not parse.
fn jsonl_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{} ends in a partial line",
        path.display()
    );
    text.lines()
        .enumerate()
        .map(|(n, line)| {
            assert!(
                serde_json::from_str::<serde_json::Value>(line).is_ok(),
                "{} line {}: not one JSON record: {:.200}",
                path.display(),
                n + 1,
                line
            );
            line.to_owned()
        })
        .collect()
}

/// Lines that appear more than once (a record written twice).
fn duplicates(lines: &[String]) -> usize {
    let mut seen = HashSet::new();
    lines.iter().filter(|l| !seen.insert(l.as_str())).count()
}

/// The JSONL file on a disk that fills: the sink reports failing (status, readiness, alert),
/// collection goes on into the memory buffer, and when space returns every record is written
/// once: no torn line, no duplicate, nothing dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonl_on_a_full_disk_loses_nothing_and_duplicates_nothing() {
    let emu = spawn_default_emulator().await;
    let fs = Tmpfs::mount(SMALL_FS);
    let dir = tempfile::tempdir().unwrap();
    let records = fs.path().join("records.jsonl");
    let web_port = free_port();
    let sink = format!(
        "[sink]\ntype = \"jsonl\"\npath = {:?}\nbuffer_max_records = 1000000",
        records.display().to_string()
    );
    let config = collector_config(dir.path(), &emu, web_port, &sink);
    let collector = Collector::start(&config, dir.path().join("collector.log"), web_port);

    // 2 MiB fill within a few cycles; the sink then fails.
    let failing = collector
        .wait_status(
            "sink failing on the full disk",
            Duration::from_secs(30),
            |s| s["sink"]["state"] == "failing",
        )
        .await;
    let detail = failing["sink"]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("No space left"), "reason shown: {detail}");
    collector.shows_the_full_disk().await;
    let while_full = jsonl_lines(&records);
    assert_eq!(
        duplicates(&while_full),
        0,
        "duplicates while the disk is full"
    );

    // Space returns: the backlog is written and the sink is healthy again.
    fs.resize(LARGE_FS);
    let recovered = collector
        .wait_status(
            "sink ok after space returned",
            Duration::from_secs(30),
            |s| s["sink"]["state"] == "ok" && s["sink"]["buffer_depth"] == 0,
        )
        .await;
    assert_eq!(recovered["sink"]["dropped"], 0);
    assert_eq!(recovered["sink"]["failed"], 0, "retries are not failures");
    assert!(
        recovered["sink"]["retries"].as_u64().unwrap_or(0) > 0,
        "the retries are counted: {}",
        recovered["sink"]
    );
    let (code, _) = collector.get("/readyz").await.expect("/readyz answers");
    assert_eq!(code, 200, "ready again");

    let stopped = collector.stop();
    let lines = jsonl_lines(&records);
    assert_eq!(duplicates(&lines), 0, "a record written twice");
    assert_eq!(
        stopped["records_written"].as_u64(),
        Some(lines.len() as u64),
        "every record the collector wrote is in the file once: {stopped}"
    );
    assert_eq!(stopped["records_not_written"], 0, "{stopped}");
    assert!(
        lines.len() > while_full.len() + 3_000,
        "the buffered records reached the file: {} before, {} after",
        while_full.len(),
        lines.len()
    );
    emu.shutdown().await;
}

/// SIGKILL in the middle of the JSONL writes, again and again: after each restart the file
/// parses line by line (a torn last line is cut off at open) and holds no duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonl_killed_mid_write_keeps_whole_lines_after_restart() {
    let emu = spawn_default_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("out/records.jsonl");
    let web_port = free_port();
    let sink = format!(
        "[sink]\ntype = \"jsonl\"\npath = {:?}",
        records.display().to_string()
    );
    let config = collector_config(dir.path(), &emu, web_port, &sink);
    for round in 0..4u64 {
        let before = jsonl_lines(&records).len();
        let collector = Collector::start(
            &config,
            dir.path().join(format!("collector-{round}.log")),
            web_port,
        );
        // Killed while records stream in (a cycle writes ~1 MB in several writes).
        assert!(
            wait_until(Duration::from_secs(20), || std::fs::metadata(&records)
                .map(|m| m.len())
                .unwrap_or(0)
                > 0
                && std::fs::read_to_string(&records)
                    .map(|t| t.lines().count())
                    .unwrap_or(0)
                    > before + 500)
            .await
            .is_some(),
            "round {round}: collecting"
        );
        tokio::time::sleep(Duration::from_millis(137 * (round + 1))).await;
        collector.kill();
    }
    // The last start cuts whatever the last kill tore; then a clean stop.
    let collector = Collector::start(&config, dir.path().join("collector-last.log"), web_port);
    collector
        .wait_status("collecting after the kills", Duration::from_secs(20), |s| {
            s["sink"]["sent"].as_u64().unwrap_or(0) > 0
        })
        .await;
    collector.stop();
    let lines = jsonl_lines(&records);
    assert!(lines.len() > 2_000, "{} lines", lines.len());
    assert_eq!(duplicates(&lines), 0, "a record written twice");
    emu.shutdown().await;
}

/// Distinct deliveries: a record is one (message_id, received_ts) pair; the message id alone
/// repeats when a value comes back to an earlier one.
fn deliveries(got: &[amqp_support::Got]) -> BTreeMap<(String, i64), usize> {
    let mut map = BTreeMap::new();
    for g in got {
        let ts = g.body["received_ts"].as_i64().unwrap_or_default();
        *map.entry((g.message_id.clone(), ts)).or_insert(0) += 1;
    }
    map
}

/// The AMQP spool on a disk that fills while the broker is away: the sink reports failing with
/// the reason, nothing is lost or duplicated on disk, and once space and the broker return the
/// consumer receives every record the collector handed to the sink exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_spool_on_a_full_disk_delivers_every_record_once() {
    let _lock = broker_shared().await;
    let emu = spawn_default_emulator().await;
    let fs = Tmpfs::mount(SMALL_FS);
    let dir = tempfile::tempdir().unwrap();
    let exchange = unique("full-disk");
    let queue = unique("full-disk-q");
    let _cleanup = Cleanup::default().exchange(&exchange).queue(&queue);
    let proxy = Proxy::start(false).await;
    let web_port = free_port();
    let sink = format!(
        "[sink]\ntype = \"amqp\"\nurl = {:?}\nexchange = {exchange:?}\nspool_dir = {:?}\nspool_max_bytes = 1073741824\nbuffer_max_records = 1000000\nreconnect_backoff_base = \"100ms\"\nreconnect_backoff_cap = \"500ms\"\nbatch_max = 1\n\n[[sink.queues]]\nname = {queue:?}\nbindings = [\"#\"]",
        proxy.url(),
        fs.path().join("spool").display().to_string()
    );
    let config = collector_config(dir.path(), &emu, web_port, &sink);
    let collector = Collector::start(&config, dir.path().join("collector.log"), web_port);

    // Broker away: records go to the spool until the disk is full, then wait in memory.
    let failing = collector
        .wait_status(
            "sink failing on the full disk",
            Duration::from_secs(40),
            |s| s["sink"]["state"] == "failing",
        )
        .await;
    let detail = failing["sink"]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("No space left") && detail.contains("records in the spool"),
        "reason and real spool size shown: {detail}"
    );
    let spooled_now = failing["sink"]["spool_records"].as_u64().unwrap_or(0);
    assert!(
        spooled_now > 0,
        "the spool's real size: {}",
        failing["sink"]
    );
    collector.shows_the_full_disk().await;

    // Space returns first (spooling resumes), then the broker (the spool replays).
    fs.resize(LARGE_FS);
    collector
        .wait_status(
            "spooling again after space returned",
            Duration::from_secs(30),
            |s| s["sink"]["state"] == "spooling" && s["sink"]["buffer_depth"] == 0,
        )
        .await;
    proxy.set_up(true);
    let recovered = collector
        .wait_status("spool replayed", Duration::from_secs(60), |s| {
            s["sink"]["state"] == "ok" && s["sink"]["spool_records"] == 0
        })
        .await;
    assert_eq!(recovered["sink"]["dropped"], 0, "{}", recovered["sink"]);
    assert_eq!(
        collector.log_lines("entry checksum mismatch"),
        0,
        "the replay never met a damaged entry"
    );
    let stopped = collector.stop();
    let written = stopped["records_written"].as_u64().unwrap_or(0);
    assert_eq!(stopped["records_not_written"], 0, "{stopped}");

    let got = Broker::connect()
        .await
        .collect(&queue, Duration::from_secs(60), |got, _| {
            got.len() as u64 >= written
        })
        .await;
    let delivered = deliveries(&got);
    let twice = delivered.values().filter(|&&n| n > 1).count();
    assert_eq!(twice, 0, "records delivered more than once");
    assert_eq!(
        delivered.len() as u64,
        written,
        "every record the collector handed on reached the queue"
    );
    assert!(written > 6_000, "{written} records");
    // A restart finds a clean, empty spool.
    let mut spool_files: Vec<_> = std::fs::read_dir(fs.path().join("spool"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "spool"))
        .map(|e| std::fs::metadata(e.path()).map(|m| m.len()).unwrap_or(0))
        .collect();
    spool_files.retain(|&len| len > 8);
    assert!(spool_files.is_empty(), "spool left behind: {spool_files:?}");
    emu.shutdown().await;
}

/// SIGKILL while the AMQP sink spools (broker away), twice; then the broker returns: every
/// record spooled before each kill is delivered once, and the damaged tail a kill may leave is
/// cut at open without stopping the replay of what follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_killed_while_spooling_replays_everything_once_after_restart() {
    let _lock = broker_shared().await;
    let emu = spawn_default_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let exchange = unique("kill-spool");
    let queue = unique("kill-spool-q");
    let _cleanup = Cleanup::default().exchange(&exchange).queue(&queue);
    let proxy = Proxy::start(false).await;
    let web_port = free_port();
    let spool = dir.path().join("spool");
    let sink = format!(
        "[sink]\ntype = \"amqp\"\nurl = {:?}\nexchange = {exchange:?}\nspool_dir = {:?}\nreconnect_backoff_base = \"100ms\"\nreconnect_backoff_cap = \"500ms\"\nbatch_max = 1\n\n[[sink.queues]]\nname = {queue:?}\nbindings = [\"#\"]",
        proxy.url(),
        spool.display().to_string()
    );
    let config = collector_config(dir.path(), &emu, web_port, &sink);
    let mut spooled_before_kills = 0;
    for round in 0..2u64 {
        let collector = Collector::start(
            &config,
            dir.path().join(format!("collector-{round}.log")),
            web_port,
        );
        let status = collector
            .wait_status("spooling", Duration::from_secs(30), |s| {
                s["sink"]["spool_records"].as_u64().unwrap_or(0) > spooled_before_kills + 2_000
            })
            .await;
        spooled_before_kills = status["sink"]["spool_records"].as_u64().unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(211 * (round + 1))).await;
        collector.kill();
    }
    proxy.set_up(true);
    let collector = Collector::start(&config, dir.path().join("collector-last.log"), web_port);
    collector
        .wait_status("spool replayed", Duration::from_secs(60), |s| {
            s["sink"]["state"] == "ok" && s["sink"]["spool_records"] == 0
        })
        .await;
    let stopped = collector.stop();
    assert_eq!(stopped["records_not_written"], 0, "{stopped}");
    let got = Broker::connect()
        .await
        .collect(&queue, Duration::from_secs(30), |got, _| {
            got.len() as u64 >= spooled_before_kills
        })
        .await;
    let delivered = deliveries(&got);
    let twice = delivered.values().filter(|&&n| n > 1).count();
    assert_eq!(twice, 0, "records delivered more than once");
    assert!(
        delivered.len() as u64 >= spooled_before_kills,
        "{} delivered, {} were in the spool at the last kill",
        delivered.len(),
        spooled_before_kills
    );
    emu.shutdown().await;
}

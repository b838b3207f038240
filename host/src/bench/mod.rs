//! The collection benchmark behind `futures-collector bench`: the real plugins and the real
//! cycle code against the exchange emulator (a separate process, so the numbers are the
//! collector's own), concurrent against a sequential baseline, plus a scale mode.
//!
//! Owns measurement and the printed table. Must not be used by the running service (only its
//! `instruments` are: the cycle reports stage CPU times into them), and must not measure
//! anything but this process (CPU and memory come from /proc/self).

pub mod instruments;

pub use instruments::{thread_cpu_time, PipelineCpu, ResponseClock};

use std::{
    collections::BTreeMap,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures_util::future::join_all;
use tokio::{
    io::AsyncWriteExt,
    sync::{mpsc, watch},
};

use crate::{
    collect::http::HttpClient,
    collect::{
        cycle::CycleOutcome,
        worker::{OnDemandCollector, WorkerSpec},
    },
    config::{BreakerConfig, ChangeDetectionConfig, ExchangeConfig, HttpConfig},
    output::sink::{encode_json_lines, Batch},
    plugins::{PluginRegistry, PluginSet},
};

/// Realistic default universes (perpetuals listed by each exchange, late 2026).
pub const DEFAULT_UNIVERSES: [(&str, usize); 3] = [("binance", 650), ("bybit", 550), ("okx", 300)];
/// The kinds one benchmark cycle collects (instruments are loaded once before measuring;
/// per-symbol open interest is rate-limited by design and left out).
pub const CYCLE_KINDS: [&str; 2] = ["tickers", "funding"];
/// Batches (exchange × kind) the "p99 by batch" line names.
const SLOWEST_BATCHES_SHOWN: usize = 6;

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub plugin_dir: PathBuf,
    pub emulator: PathBuf,
    pub latency_ms: u64,
    pub jitter_ms: u64,
    /// Measured cycles per mode.
    pub cycles: u32,
    /// Exchange-instance counts for the scale mode (empty: skip it).
    pub scale: Vec<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("emulator: {0}")]
    Emulator(String),
    #[error("{0}")]
    Setup(String),
}

/// CPU seconds (user + system) of this process so far.
fn cpu_seconds() -> f64 {
    crate::observe::telemetry::process::ProcessStats::read()
        .map(|p| p.cpu_seconds)
        .unwrap_or(0.0)
}

/// Clock ticks per second of `/proc/self/stat` times (`_SC_CLK_TCK`; 100 on Linux).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// (user, system) CPU seconds of this process so far, from `/proc/self/stat`.
fn cpu_split_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / CLOCK_TICKS_PER_SECOND
    };
    (tick(11), tick(12))
}

/// Peak resident memory of this process, bytes (`VmHWM`).
fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

struct EmulatorProcess {
    child: Child,
    base: String,
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, BenchError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| BenchError::Emulator(e.to_string()))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| BenchError::Emulator(e.to_string()))
}

/// Starts the emulator with `instances` (name, type, universe) and waits until it answers.
async fn start_emulator(
    opts: &BenchOptions,
    instances: &[(String, &str, usize)],
) -> Result<EmulatorProcess, BenchError> {
    let port = free_port()?;
    let mut cmd = Command::new(&opts.emulator);
    cmd.arg("--listen").arg(format!("127.0.0.1:{port}"));
    for (name, kind, universe) in instances {
        cmd.arg("--instance").arg(format!(
            "{name}={kind}:{universe}:{}:{}",
            opts.latency_ms, opts.jitter_ms
        ));
    }
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            BenchError::Emulator(format!("cannot start {}: {e}", opts.emulator.display()))
        })?;
    let emulator = EmulatorProcess {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client
            .get(format!("{}/_admin/instances", emulator.base))
            .send()
            .await
            .is_ok()
        {
            return Ok(emulator);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(BenchError::Emulator(
        "did not start listening within 5 s".into(),
    ))
}

/// Response-to-sink latencies (ms), records written and encoding CPU, collected by the
/// benchmark's sink.
#[derive(Default)]
struct SinkLog {
    /// (`exchange/kind` of the batch, latency in ms).
    latencies_ms: Vec<(String, f64)>,
    records: u64,
    /// Thread CPU time spent encoding records to JSON lines.
    encode_cpu: Duration,
    /// A batch is being written right now.
    busy: bool,
}

/// A real JSONL sink (to a temporary file) that also notes, per batch, the time from the
/// newest response feeding it being received (the monotonic instant the HTTP executor took
/// when the body was complete, handed over through `clock`) to the write completing.
fn spawn_sink(
    path: &Path,
    log: Arc<Mutex<SinkLog>>,
    clock: ResponseClock,
) -> Result<(mpsc::Sender<Batch>, tokio::task::JoinHandle<()>), BenchError> {
    let (tx, mut rx) = mpsc::channel::<Batch>(crate::config::DEFAULT_SINK_QUEUE_BATCHES);
    let path = path.to_owned();
    let task = tokio::spawn(async move {
        // The same steps as `JsonlSink::write` (encode the batch into one buffer, append it,
        // flush), with the encoding timed on the thread CPU clock.
        let Ok(mut file) = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .await
        else {
            return;
        };
        let mut buf = Vec::with_capacity(64 * 1024);
        while let Some(batch) = rx.recv().await {
            log.lock().unwrap_or_else(|p| p.into_inner()).busy = true;
            let received_at = clock.take(&batch.exchange, &batch.kind);
            let started = thread_cpu_time();
            let (written, _) = encode_json_lines(&batch, &mut buf);
            let encode_cpu = thread_cpu_time().saturating_sub(started);
            let ok = file.write_all(&buf).await.is_ok() && file.flush().await.is_ok();
            let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(at) = received_at {
                let ms = at.elapsed().as_secs_f64() * 1e3;
                log.latencies_ms
                    .push((format!("{}/{}", batch.exchange, batch.kind), ms));
            }
            if ok {
                log.records += written;
            }
            log.encode_cpu += encode_cpu;
            log.busy = false;
        }
    });
    Ok((tx, task))
}

/// Waits until the sink has written everything queued (so a mode's encoding CPU is complete).
async fn sink_drained(tx: &mpsc::Sender<Batch>, log: &Mutex<SinkLog>) {
    for _ in 0..SINK_DRAIN_POLLS {
        let busy = log.lock().unwrap_or_else(|p| p.into_inner()).busy;
        if tx.capacity() == tx.max_capacity() && !busy {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Upper bound of 1 ms polls while waiting for the sink to drain.
const SINK_DRAIN_POLLS: u32 = 5_000;

fn encode_cpu(log: &Mutex<SinkLog>) -> Duration {
    log.lock().unwrap_or_else(|p| p.into_inner()).encode_cpu
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// One mode's measurements.
#[derive(Debug, Clone, Default)]
pub struct ModeResult {
    pub cycle_ms: Vec<f64>,
    pub records_per_cycle: f64,
    /// Whole process, user + system (HTTP, runtime, kernel network stack included).
    pub cpu_seconds: f64,
    pub user_seconds: f64,
    pub system_seconds: f64,
    /// Parse + merge + change detection (thread CPU clock in the cycle) + JSON encoding in the
    /// sink: the work done per record.
    pub pipeline_cpu_seconds: f64,
    /// The cycle's part of it, by stage.
    pub stages: PipelineCpu,
    /// The sink's part of it: JSON-lines encoding.
    pub encode_cpu_seconds: f64,
}

impl ModeResult {
    fn median_ms(&self) -> f64 {
        let mut v = self.cycle_ms.clone();
        v.sort_by(f64::total_cmp);
        percentile(&v, 0.5)
    }

    /// `seconds` spent over this mode's cycles, in ms per cycle.
    fn ms_per_cycle(&self, seconds: f64) -> f64 {
        seconds * 1e3 / self.cycle_ms.len().max(1) as f64
    }

    /// `seconds` spent over this mode's cycles, in ms per 1000 records.
    fn ms_per_1000_records(&self, seconds: f64) -> f64 {
        self.ms_per_cycle(seconds) / (self.records_per_cycle / 1000.0).max(1e-9)
    }
}

/// A scenario's results.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    pub instances: usize,
    pub instruments: usize,
    pub concurrent: ModeResult,
    pub sequential: Option<ModeResult>,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    /// p99 of each batch (`exchange/kind`), slowest first.
    pub latency_p99_by_batch: Vec<(String, f64)>,
    pub peak_rss_bytes: u64,
    /// Peak RSS after loading plugins and instruments and one warm-up cycle.
    pub setup_rss_bytes: u64,
}

/// Copies only the adapters this scenario measures (files named `*_<exchange>.so`, as
/// `cargo build` names them) into `to`: a deployment's plugin directory holds the adapters it
/// uses, not the test plugins a build directory also contains, and every loaded plugin costs
/// memory.
fn deploy_measured_plugins(
    from: &Path,
    to: &Path,
    instances: &[(String, &'static str, usize)],
) -> Result<(), BenchError> {
    let setup = |e: std::io::Error| BenchError::Setup(format!("plugins: {e}"));
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).map_err(setup)?;
    let files = crate::plugins::plugin_files(from).map_err(setup)?;
    let mut kinds: Vec<&str> = instances.iter().map(|(_, kind, _)| *kind).collect();
    kinds.sort_unstable();
    kinds.dedup();
    for kind in kinds {
        let suffix = format!("_{kind}");
        let file = files
            .iter()
            .find(|f| {
                f.file_stem()
                    .is_some_and(|stem| stem.to_string_lossy().ends_with(&suffix))
            })
            .ok_or_else(|| {
                BenchError::Setup(format!("no *_{kind} plugin file in {}", from.display()))
            })?;
        let name = file.file_name().unwrap_or_default();
        std::fs::copy(file, to.join(name)).map_err(setup)?;
    }
    Ok(())
}

async fn run_scenario(
    opts: &BenchOptions,
    instances: Vec<(String, &'static str, usize)>,
    with_sequential: bool,
) -> Result<ScenarioResult, BenchError> {
    let emulator = start_emulator(opts, &instances).await?;
    let dir = std::env::temp_dir().join(format!("futures-collector-bench-{}", std::process::id()));
    let plugin_dir = dir.join("plugins");
    deploy_measured_plugins(&opts.plugin_dir, &plugin_dir, &instances)?;
    let (mut registry, plugins_rx) = PluginRegistry::new(plugin_dir);
    registry.rescan();
    let set: Arc<PluginSet> = plugins_rx.borrow().clone();
    for (_, kind, _) in &instances {
        if set.get(kind).is_none() {
            return Err(BenchError::Setup(format!(
                "no {kind} plugin in {}",
                opts.plugin_dir.display()
            )));
        }
    }
    let client = HttpClient::new().map_err(|e| BenchError::Setup(e.to_string()))?;
    let log = Arc::new(Mutex::new(SinkLog::default()));
    let clock = ResponseClock::default();
    let (sink_tx, sink_task) =
        spawn_sink(&dir.join("records.jsonl"), Arc::clone(&log), clock.clone())?;

    let mut collectors = Vec::new();
    for (name, kind, _) in &instances {
        let config = ExchangeConfig {
            enabled: true,
            plugin: Some((*kind).to_owned()),
            base_url: Some(format!("{}/{name}", emulator.base)),
            intervals: BTreeMap::new(),
            options: BTreeMap::new(),
            breaker: None,
        };
        let spec = WorkerSpec {
            instance_id: name.clone(),
            config,
            http: HttpConfig::default(),
            breaker: BreakerConfig::default(),
            change_detection: ChangeDetectionConfig::default(),
            telemetry: crate::observe::telemetry::Telemetry::default(),
        };
        let (_keep, rx) = watch::channel(Arc::clone(&set));
        // The emulator has no limits; the budget would only measure itself (Binance: 66 weight
        // per cycle against 1200 per minute).
        let collector = OnDemandCollector::new(spec, client.clone(), rx, sink_tx.clone(), false)
            .map_err(BenchError::Setup)?;
        collector.measure_responses(clock.clone());
        collectors.push(collector);
    }
    // Load instruments once (not measured).
    let loaded = join_all(collectors.iter().map(|c| c.collect("instruments"))).await;
    let instruments: usize = loaded
        .iter()
        .map(|r| r.as_ref().map(|r| r.records).unwrap_or(0))
        .sum();

    /// (records, pipeline CPU) of one exchange's cycle.
    fn tally(outcomes: &[Result<CycleOutcome, String>]) -> (usize, PipelineCpu) {
        outcomes.iter().filter_map(|r| r.as_ref().ok()).fold(
            (0, PipelineCpu::default()),
            |(n, mut cpu), o| {
                cpu += o.pipeline_cpu;
                (n + o.records, cpu)
            },
        )
    }
    async fn cycle_of(c: &OnDemandCollector) -> (usize, PipelineCpu) {
        tally(&join_all(CYCLE_KINDS.iter().map(|k| c.collect(k))).await)
    }
    async fn sequential_cycle_of(c: &OnDemandCollector) -> (usize, PipelineCpu) {
        let mut outcomes = Vec::with_capacity(CYCLE_KINDS.len());
        for k in CYCLE_KINDS {
            outcomes.push(c.collect(k).await);
        }
        tally(&outcomes)
    }

    // Warm-up cycle (connections, adaptive timeouts), then the measured ones.
    join_all(collectors.iter().map(cycle_of)).await;
    sink_drained(&sink_tx, &log).await;
    log.lock()
        .unwrap_or_else(|p| p.into_inner())
        .latencies_ms
        .clear();
    let setup_rss_bytes = peak_rss_bytes();

    /// Process CPU and encoding CPU when a mode starts.
    struct Start {
        cpu: f64,
        split: (f64, f64),
        encode: Duration,
    }
    let start = |log: &Mutex<SinkLog>| Start {
        cpu: cpu_seconds(),
        split: cpu_split_seconds(),
        encode: encode_cpu(log),
    };
    let finish = |m: &mut ModeResult,
                  s: Start,
                  log: &Mutex<SinkLog>,
                  records: usize,
                  stages: PipelineCpu| {
        m.cpu_seconds = cpu_seconds() - s.cpu;
        let (user, system) = cpu_split_seconds();
        m.user_seconds = user - s.split.0;
        m.system_seconds = system - s.split.1;
        let encode = encode_cpu(log).saturating_sub(s.encode);
        m.pipeline_cpu_seconds = (stages.total() + encode).as_secs_f64();
        m.stages = stages;
        m.encode_cpu_seconds = encode.as_secs_f64();
        m.records_per_cycle = records as f64 / opts.cycles.max(1) as f64;
    };

    let mut concurrent = ModeResult::default();
    let s = start(&log);
    let (mut records, mut pipeline) = (0usize, PipelineCpu::default());
    for _ in 0..opts.cycles {
        let started = Instant::now();
        for (n, cpu) in join_all(collectors.iter().map(cycle_of)).await {
            records += n;
            pipeline += cpu;
        }
        concurrent
            .cycle_ms
            .push(started.elapsed().as_secs_f64() * 1e3);
    }
    sink_drained(&sink_tx, &log).await;
    finish(&mut concurrent, s, &log, records, pipeline);

    let sequential = if with_sequential {
        let mut seq = ModeResult::default();
        let s = start(&log);
        let (mut records, mut pipeline) = (0usize, PipelineCpu::default());
        for _ in 0..opts.cycles {
            let started = Instant::now();
            for c in &collectors {
                let (n, cpu) = sequential_cycle_of(c).await;
                records += n;
                pipeline += cpu;
            }
            seq.cycle_ms.push(started.elapsed().as_secs_f64() * 1e3);
        }
        sink_drained(&sink_tx, &log).await;
        finish(&mut seq, s, &log, records, pipeline);
        Some(seq)
    } else {
        None
    };

    drop(collectors);
    drop(sink_tx);
    let _ = sink_task.await;
    let _ = std::fs::remove_dir_all(&dir);
    let by_batch = std::mem::take(&mut log.lock().unwrap_or_else(|p| p.into_inner()).latencies_ms);
    let mut latencies: Vec<f64> = by_batch.iter().map(|(_, ms)| *ms).collect();
    latencies.sort_by(f64::total_cmp);
    let mut per_batch: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for (name, ms) in by_batch {
        per_batch.entry(name).or_default().push(ms);
    }
    let mut latency_p99_by_batch: Vec<(String, f64)> = per_batch
        .into_iter()
        .map(|(name, mut v)| {
            v.sort_by(f64::total_cmp);
            (name, percentile(&v, 0.99))
        })
        .collect();
    latency_p99_by_batch.sort_by(|a, b| b.1.total_cmp(&a.1));
    drop(emulator);
    Ok(ScenarioResult {
        instances: instances.len(),
        instruments,
        concurrent,
        sequential,
        latency_p50_ms: percentile(&latencies, 0.5),
        latency_p99_ms: percentile(&latencies, 0.99),
        latency_p99_by_batch,
        peak_rss_bytes: peak_rss_bytes(),
        setup_rss_bytes,
    })
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Runs the benchmark and prints its tables to stdout.
pub async fn run(opts: BenchOptions) -> Result<Vec<ScenarioResult>, BenchError> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("futures-collector bench — {cores} cores, latency {} ms ± {} ms, {} measured cycles per mode", opts.latency_ms, opts.jitter_ms, opts.cycles);
    println!(
        "one cycle = {} of every exchange; instruments loaded once beforehand\n",
        CYCLE_KINDS.join(" + ")
    );

    let base: Vec<(String, &'static str, usize)> = DEFAULT_UNIVERSES
        .iter()
        .map(|(k, n)| ((*k).to_owned(), *k, *n))
        .collect();
    let three = run_scenario(&opts, base, true).await?;
    let c = &three.concurrent;
    println!("3 exchanges ({} instruments)", three.instruments);
    println!(
        "{:<12} {:>12} {:>12} {:>14} {:>10} {:>12} {:>17} {:>14} {:>16}",
        "mode",
        "cycle p50",
        "cycle max",
        "records/cycle",
        "records/s",
        "CPU/cycle",
        "(user + system)",
        "CPU/1000 rec",
        "pipeline/1000"
    );
    let row = |name: &str, m: &ModeResult| {
        let p50 = m.median_ms();
        let max = m.cycle_ms.iter().copied().fold(0.0, f64::max);
        let cpu_cycle_ms = m.ms_per_cycle(m.cpu_seconds);
        let per_1000 = m.ms_per_1000_records(m.cpu_seconds);
        let pipeline_per_1000 = m.ms_per_1000_records(m.pipeline_cpu_seconds);
        let rps = m.records_per_cycle / (p50 / 1e3).max(1e-9);
        let split = format!(
            "({:.1} + {:.1})",
            m.ms_per_cycle(m.user_seconds),
            m.ms_per_cycle(m.system_seconds)
        );
        println!("{name:<12} {p50:>9.1} ms {max:>9.1} ms {:>14.0} {rps:>10.0} {cpu_cycle_ms:>9.2} ms {split:>17} {per_1000:>11.3} ms {pipeline_per_1000:>13.3} ms", m.records_per_cycle);
    };
    println!(
        "  CPU: whole process (HTTP, runtime and kernel included); pipeline: parse + merge + change detection + JSON encoding, thread CPU clock"
    );
    row("concurrent", c);
    let stage = |seconds: f64| c.ms_per_1000_records(seconds);
    println!(
        "  concurrent pipeline/1000 by stage: parse {:.3} ms, merge {:.3} ms, change detection {:.3} ms, JSON encoding {:.3} ms",
        stage(c.stages.parse.as_secs_f64()),
        stage(c.stages.merge.as_secs_f64()),
        stage(c.stages.change_detection.as_secs_f64()),
        stage(c.encode_cpu_seconds),
    );
    if let Some(s) = &three.sequential {
        row("sequential", s);
        println!(
            "speed-up (sequential p50 / concurrent p50): {:.2}x",
            s.median_ms() / c.median_ms().max(1e-9)
        );
    }
    println!(
        "cycle p50 / slowest exchange latency: {:.2} (target ≤ 1.2)",
        c.median_ms() / (opts.latency_ms as f64 + opts.jitter_ms as f64).max(1.0)
    );
    println!(
        "response → sink latency: p50 {:.2} ms, p99 {:.2} ms (monotonic clock, per batch)",
        three.latency_p50_ms, three.latency_p99_ms
    );
    let slowest: Vec<String> = three
        .latency_p99_by_batch
        .iter()
        .take(SLOWEST_BATCHES_SHOWN)
        .map(|(name, ms)| format!("{name} {ms:.2} ms"))
        .collect();
    println!("  p99 by batch, slowest first: {}", slowest.join(", "));
    println!(
        "peak RSS: {:.1} MiB ({:.1} MiB after setup and one warm-up cycle)\n",
        mib(three.peak_rss_bytes),
        mib(three.setup_rss_bytes)
    );

    let mut results = vec![three];
    if !opts.scale.is_empty() {
        println!("scale: N exchange instances (binance/bybit/okx in turn, default universes), concurrent");
        println!(
            "{:>10} {:>12} {:>12} {:>14} {:>12} {:>16} {:>16} {:>14}",
            "instances",
            "instruments",
            "cycle p50",
            "records/cycle",
            "CPU/cycle",
            "CPU/1000 rec",
            "pipeline/1000",
            "peak RSS"
        );
        for &n in &opts.scale {
            let instances: Vec<(String, &'static str, usize)> = (0..n)
                .map(|i| {
                    let (kind, universe) = DEFAULT_UNIVERSES[i % DEFAULT_UNIVERSES.len()];
                    (
                        format!("{kind}-{}", i / DEFAULT_UNIVERSES.len() + 1),
                        kind,
                        universe,
                    )
                })
                .collect();
            let r = run_scenario(&opts, instances, false).await?;
            let m = &r.concurrent;
            println!(
                "{:>10} {:>12} {:>9.1} ms {:>14.0} {:>9.1} ms {:>13.3} ms {:>13.3} ms {:>10.1} MiB",
                r.instances,
                r.instruments,
                m.median_ms(),
                m.records_per_cycle,
                m.ms_per_cycle(m.cpu_seconds),
                m.ms_per_1000_records(m.cpu_seconds),
                m.ms_per_1000_records(m.pipeline_cpu_seconds),
                mib(r.peak_rss_bytes)
            );
            results.push(r);
        }
    }
    Ok(results)
}

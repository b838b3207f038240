//! One benchmark scenario: the emulator with a set of exchange instances, the real plugins and
//! collectors against it, a warm-up cycle, then the measured cycles of each mode (all exchanges
//! concurrently; optionally one after another as the baseline) and the latency summary.
//!
//! Owns the scenario's setup, its measured loops and their tallies. Must not print (the report
//! does) and must not touch anything outside its temporary directory and the emulator.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures_util::future::join_all;
use tokio::sync::{mpsc, watch};

use super::{
    cpu_seconds, cpu_split_seconds,
    emulator::{start_emulator, EmulatorProcess},
    peak_rss_bytes, percentile,
    sink::{encode_cpu, sink_drained, spawn_sink, SinkLog},
    BenchError, BenchOptions, ModeResult, PipelineCpu, ResponseClock, ScenarioResult, CYCLE_KINDS,
};
use crate::{
    collect::http::HttpClient,
    collect::{cycle::CycleOutcome, exchange::WorkerSpec, worker::OnDemandCollector},
    config::{BreakerConfig, ChangeDetectionConfig, ExchangeConfig, HttpConfig},
    output::sink::Batch,
    plugins::{PluginRegistry, PluginSet},
};

/// An exchange instance the scenario runs: (instance name, exchange type, universe size).
pub(super) type Instance = (String, &'static str, usize);

/// Runs one scenario and returns its measurements.
pub(super) async fn run_scenario(
    opts: &BenchOptions,
    instances: Vec<Instance>,
    with_sequential: bool,
) -> Result<ScenarioResult, BenchError> {
    let emulator = start_emulator(opts, &instances).await?;
    let rig = Rig::start(opts, &instances, &emulator)?;
    let instruments = rig.load_instruments().await;

    // Warm-up cycle (connections, adaptive timeouts), then the measured ones.
    join_all(rig.collectors.iter().map(cycle_of)).await;
    sink_drained(&rig.sink_tx, &rig.log).await;
    rig.lock_log().latencies_ms.clear();
    let setup_rss_bytes = peak_rss_bytes();

    let concurrent = rig.measure(opts, Mode::Concurrent).await;
    let sequential = if with_sequential {
        Some(rig.measure(opts, Mode::Sequential).await)
    } else {
        None
    };
    let latencies = rig.finish().await;
    drop(emulator);
    Ok(ScenarioResult {
        instances: instances.len(),
        instruments,
        concurrent,
        sequential,
        latency_p50_ms: latencies.p50_ms,
        latency_p99_ms: latencies.p99_ms,
        latency_p99_by_batch: latencies.p99_by_batch,
        peak_rss_bytes: peak_rss_bytes(),
        setup_rss_bytes,
    })
}

/// How a mode runs one cycle of every exchange.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// All exchanges and kinds at once (what the service does).
    Concurrent,
    /// One exchange after another, one kind after another: the baseline.
    Sequential,
}

/// The scenario's running parts: collectors, the bench sink and its log, the temp directory.
struct Rig {
    dir: PathBuf,
    collectors: Vec<OnDemandCollector>,
    sink_tx: mpsc::Sender<Batch>,
    sink_task: tokio::task::JoinHandle<()>,
    log: Arc<Mutex<SinkLog>>,
}

impl Rig {
    /// Deploys the measured plugins, starts the bench sink and one collector per instance.
    fn start(
        opts: &BenchOptions,
        instances: &[Instance],
        emulator: &EmulatorProcess,
    ) -> Result<Rig, BenchError> {
        let dir =
            std::env::temp_dir().join(format!("futures-collector-bench-{}", std::process::id()));
        let plugin_dir = dir.join("plugins");
        deploy_measured_plugins(&opts.plugin_dir, &plugin_dir, instances)?;
        let (mut registry, plugins_rx) = PluginRegistry::new(plugin_dir);
        registry.rescan();
        let set: Arc<PluginSet> = plugins_rx.borrow().clone();
        if let Some((_, kind, _)) = instances
            .iter()
            .find(|(_, kind, _)| set.get(kind).is_none())
        {
            return Err(BenchError::Setup(format!(
                "no {kind} plugin in {}",
                opts.plugin_dir.display()
            )));
        }
        let client = HttpClient::new().map_err(|e| BenchError::Setup(e.to_string()))?;
        let log = Arc::new(Mutex::new(SinkLog::default()));
        let clock = ResponseClock::default();
        let (sink_tx, sink_task) =
            spawn_sink(&dir.join("records.jsonl"), Arc::clone(&log), clock.clone())?;
        let collectors = instances
            .iter()
            .map(|(name, kind, _)| {
                let spec = worker_spec(name, kind, &emulator.base);
                let (_keep, rx) = watch::channel(Arc::clone(&set));
                // The emulator has no limits; the budget would only measure itself (Binance:
                // 66 weight per cycle against 1200 per minute).
                let collector =
                    OnDemandCollector::new(spec, client.clone(), rx, sink_tx.clone(), false)
                        .map_err(BenchError::Setup)?;
                collector.measure_responses(clock.clone());
                Ok(collector)
            })
            .collect::<Result<Vec<_>, BenchError>>()?;
        Ok(Rig {
            dir,
            collectors,
            sink_tx,
            sink_task,
            log,
        })
    }

    fn lock_log(&self) -> std::sync::MutexGuard<'_, SinkLog> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Loads every instance's instruments once (not measured); returns how many there are.
    async fn load_instruments(&self) -> usize {
        join_all(self.collectors.iter().map(|c| c.collect("instruments")))
            .await
            .iter()
            .map(|r| r.as_ref().map(|r| r.records).unwrap_or(0))
            .sum()
    }

    /// Runs `opts.cycles` measured cycles in `mode` and tallies them.
    async fn measure(&self, opts: &BenchOptions, mode: Mode) -> ModeResult {
        let mut result = ModeResult::default();
        let start = ModeStart::now(&self.log);
        let (mut records, mut pipeline) = (0usize, PipelineCpu::default());
        for _ in 0..opts.cycles {
            let started = Instant::now();
            let per_exchange = match mode {
                Mode::Concurrent => join_all(self.collectors.iter().map(cycle_of)).await,
                Mode::Sequential => {
                    let mut all = Vec::with_capacity(self.collectors.len());
                    for c in &self.collectors {
                        all.push(sequential_cycle_of(c).await);
                    }
                    all
                }
            };
            for (n, cpu) in per_exchange {
                records += n;
                pipeline += cpu;
            }
            result.cycle_ms.push(started.elapsed().as_secs_f64() * 1e3);
        }
        sink_drained(&self.sink_tx, &self.log).await;
        start.finish(&mut result, &self.log, opts.cycles, records, pipeline);
        result
    }

    /// Stops the collectors and the sink, removes the temp directory and summarises the
    /// response → sink latencies of the measured cycles.
    async fn finish(self) -> Latencies {
        let Rig {
            dir,
            collectors,
            sink_tx,
            sink_task,
            log,
        } = self;
        drop(collectors);
        drop(sink_tx);
        let _ = sink_task.await;
        let _ = std::fs::remove_dir_all(&dir);
        let by_batch =
            std::mem::take(&mut log.lock().unwrap_or_else(|p| p.into_inner()).latencies_ms);
        Latencies::of(by_batch)
    }
}

/// The worker spec of one benchmarked instance: defaults everywhere, the emulator as base URL.
fn worker_spec(name: &str, kind: &str, emulator_base: &str) -> WorkerSpec {
    let config = ExchangeConfig {
        enabled: true,
        plugin: Some(kind.to_owned()),
        base_url: Some(format!("{emulator_base}/{name}")),
        intervals: BTreeMap::new(),
        options: BTreeMap::new(),
        breaker: None,
    };
    WorkerSpec {
        instance_id: name.to_owned(),
        config,
        http: HttpConfig::default(),
        breaker: BreakerConfig::default(),
        change_detection: ChangeDetectionConfig::default(),
        telemetry: crate::observe::telemetry::Telemetry::default(),
    }
}

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

/// One exchange's cycle with its kinds at once.
async fn cycle_of(c: &OnDemandCollector) -> (usize, PipelineCpu) {
    tally(&join_all(CYCLE_KINDS.iter().map(|k| c.collect(k))).await)
}

/// One exchange's cycle with its kinds one after another.
async fn sequential_cycle_of(c: &OnDemandCollector) -> (usize, PipelineCpu) {
    let mut outcomes = Vec::with_capacity(CYCLE_KINDS.len());
    for k in CYCLE_KINDS {
        outcomes.push(c.collect(k).await);
    }
    tally(&outcomes)
}

/// Process CPU and encoding CPU when a mode starts.
struct ModeStart {
    cpu: f64,
    split: (f64, f64),
    encode: Duration,
}

impl ModeStart {
    fn now(log: &Mutex<SinkLog>) -> ModeStart {
        ModeStart {
            cpu: cpu_seconds(),
            split: cpu_split_seconds(),
            encode: encode_cpu(log),
        }
    }

    /// Fills `m` with what was spent since `self`.
    fn finish(
        self,
        m: &mut ModeResult,
        log: &Mutex<SinkLog>,
        cycles: u32,
        records: usize,
        stages: PipelineCpu,
    ) {
        m.cpu_seconds = cpu_seconds() - self.cpu;
        let (user, system) = cpu_split_seconds();
        m.user_seconds = user - self.split.0;
        m.system_seconds = system - self.split.1;
        let encode = encode_cpu(log).saturating_sub(self.encode);
        m.pipeline_cpu_seconds = (stages.total() + encode).as_secs_f64();
        m.stages = stages;
        m.encode_cpu_seconds = encode.as_secs_f64();
        m.records_per_cycle = records as f64 / cycles.max(1) as f64;
    }
}

/// Response → sink latencies of the measured cycles.
struct Latencies {
    p50_ms: f64,
    p99_ms: f64,
    /// p99 of each batch (`exchange/kind`), slowest first.
    p99_by_batch: Vec<(String, f64)>,
}

impl Latencies {
    fn of(by_batch: Vec<(String, f64)>) -> Latencies {
        let mut all: Vec<f64> = by_batch.iter().map(|(_, ms)| *ms).collect();
        all.sort_by(f64::total_cmp);
        let mut per_batch: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for (name, ms) in by_batch {
            per_batch.entry(name).or_default().push(ms);
        }
        let mut p99_by_batch: Vec<(String, f64)> = per_batch
            .into_iter()
            .map(|(name, mut v)| {
                v.sort_by(f64::total_cmp);
                (name, percentile(&v, 0.99))
            })
            .collect();
        p99_by_batch.sort_by(|a, b| b.1.total_cmp(&a.1));
        Latencies {
            p50_ms: percentile(&all, 0.5),
            p99_ms: percentile(&all, 0.99),
            p99_by_batch,
        }
    }
}

/// Copies only the adapters this scenario measures (files named `*_<exchange>.so`, as
/// `cargo build` names them) into `to`: a deployment's plugin directory holds the adapters it
/// uses, not the test plugins a build directory also contains, and every loaded plugin costs
/// memory.
fn deploy_measured_plugins(
    from: &Path,
    to: &Path,
    instances: &[Instance],
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

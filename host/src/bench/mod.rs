//! The collection benchmark behind `futures-collector bench`: the real plugins and the real
//! cycle code against the exchange emulator (a separate process, so the numbers are the
//! collector's own), concurrent against a sequential baseline, plus a scale mode.
//!
//! Owns the options, the results and the order of the run; `scenario` sets up and measures one
//! scenario, `emulator` runs the emulator process, `sink` is the measuring JSONL sink, `report`
//! prints the tables. Must not be used by the running service (only its `instruments` are: the
//! cycle reports stage CPU times into them), and must not measure anything but this process
//! (CPU and memory come from /proc/self).

pub mod instruments;

pub use instruments::{thread_cpu_time, PipelineCpu, ResponseClock};

mod emulator;
mod report;
mod scenario;
mod sink;

use std::path::PathBuf;

use scenario::{run_scenario, Instance};

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

/// Runs the benchmark and prints its tables to stdout.
pub async fn run(opts: BenchOptions) -> Result<Vec<ScenarioResult>, BenchError> {
    report::print_header(&opts);
    let base: Vec<Instance> = DEFAULT_UNIVERSES
        .iter()
        .map(|(k, n)| ((*k).to_owned(), *k, *n))
        .collect();
    let three = run_scenario(&opts, base, true).await?;
    report::print_three(&opts, &three);
    let mut results = vec![three];
    if !opts.scale.is_empty() {
        report::print_scale_header();
        for &n in &opts.scale {
            let r = run_scenario(&opts, scale_instances(n), false).await?;
            report::print_scale_row(&r);
            results.push(r);
        }
    }
    Ok(results)
}

/// `n` instances of the default exchanges in turn (`binance-1`, `bybit-1`, `okx-1`,
/// `binance-2`, ...), each with its default universe.
fn scale_instances(n: usize) -> Vec<Instance> {
    (0..n)
        .map(|i| {
            let (kind, universe) = DEFAULT_UNIVERSES[i % DEFAULT_UNIVERSES.len()];
            (
                format!("{kind}-{}", i / DEFAULT_UNIVERSES.len() + 1),
                kind,
                universe,
            )
        })
        .collect()
}

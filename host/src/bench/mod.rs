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

/// Every shipped exchange with a realistic universe (instruments listed, late 2026; the
/// emulator's defaults), in the order `--exchanges all` measures them.
pub const EXCHANGE_UNIVERSES: [(&str, usize); 14] = [
    ("binance", 650),
    ("bybit", 550),
    ("okx", 300),
    ("bitget", 450),
    ("gate", 500),
    ("hyperliquid", 230),
    ("mexc", 400),
    ("kucoinfutures", 400),
    ("htx", 250),
    ("bitmex", 220),
    ("krakenfutures", 280),
    ("deribit", 200),
    ("dydx", 250),
    ("bingx", 300),
];
/// The exchanges measured unless `--exchanges` says otherwise: the first three adapters, so
/// that numbers stay comparable with every earlier run in docs/benchmarks.md.
pub const DEFAULT_BENCH_EXCHANGES: [&str; 3] = ["binance", "bybit", "okx"];
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
    /// The exchanges measured, one instance each (ids of [`EXCHANGE_UNIVERSES`]); the scale
    /// mode cycles through them.
    pub exchanges: Vec<String>,
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
    let measured = measured_exchanges(&opts.exchanges)?;
    report::print_header(&opts);
    let base: Vec<Instance> = measured
        .iter()
        .map(|&(kind, n)| (kind.to_owned(), kind, n))
        .collect();
    let first = run_scenario(&opts, base, true).await?;
    report::print_base(&opts, &first);
    let mut results = vec![first];
    if !opts.scale.is_empty() {
        report::print_scale_header();
        for &n in &opts.scale {
            let r = run_scenario(&opts, scale_instances(&measured, n), false).await?;
            report::print_scale_row(&r);
            results.push(r);
        }
    }
    Ok(results)
}

/// The `(id, universe)` of each exchange asked for, or which id is unknown.
fn measured_exchanges(ids: &[String]) -> Result<Vec<(&'static str, usize)>, BenchError> {
    if ids.is_empty() {
        return Err(BenchError::Setup("no exchange to measure".to_owned()));
    }
    ids.iter()
        .map(|id| {
            EXCHANGE_UNIVERSES
                .iter()
                .find(|(known, _)| known == id)
                .copied()
                .ok_or_else(|| {
                    let known: Vec<&str> = EXCHANGE_UNIVERSES.iter().map(|(k, _)| *k).collect();
                    BenchError::Setup(format!(
                        "unknown exchange {id:?} (known: {}, or all)",
                        known.join(", ")
                    ))
                })
        })
        .collect()
}

/// `n` instances of the measured exchanges in turn (`binance-1`, `bybit-1`, `okx-1`,
/// `binance-2`, ...), each with its universe.
fn scale_instances(measured: &[(&'static str, usize)], n: usize) -> Vec<Instance> {
    (0..n)
        .map(|i| {
            let (kind, universe) = measured[i % measured.len()];
            (format!("{kind}-{}", i / measured.len() + 1), kind, universe)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measured_exchanges_are_named_ids_or_a_clear_error() {
        let ids = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            measured_exchanges(&ids(&DEFAULT_BENCH_EXCHANGES)).unwrap(),
            [("binance", 650), ("bybit", 550), ("okx", 300)]
        );
        let e = measured_exchanges(&ids(&["okx", "kraken"])).unwrap_err();
        assert!(e.to_string().contains("unknown exchange \"kraken\""), "{e}");
        assert!(measured_exchanges(&[]).is_err());
        let scaled = scale_instances(&[("okx", 300), ("gate", 500)], 3);
        let names: Vec<&str> = scaled.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(names, ["okx-1", "gate-1", "okx-2"]);
    }
}

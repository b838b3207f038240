//! The benchmark's printed tables: the three-exchange scenario (both modes, stages, latencies,
//! memory) and the scale table.
//!
//! Owns the wording and layout of `futures-collector bench`'s output. Must not measure.

use super::{BenchOptions, ModeResult, ScenarioResult, CYCLE_KINDS, SLOWEST_BATCHES_SHOWN};

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The header printed before anything is measured.
pub(super) fn print_header(opts: &BenchOptions) {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("futures-collector bench — {cores} cores, latency {} ms ± {} ms, {} measured cycles per mode", opts.latency_ms, opts.jitter_ms, opts.cycles);
    println!(
        "one cycle = {} of every exchange; instruments loaded once beforehand\n",
        CYCLE_KINDS.join(" + ")
    );
}

/// One mode's row of the measured exchanges' table.
fn print_mode_row(name: &str, m: &ModeResult) {
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
}

/// The three-exchange scenario: both modes, the concurrent stages, latencies and memory.
pub(super) fn print_base(opts: &BenchOptions, three: &ScenarioResult) {
    let c = &three.concurrent;
    println!(
        "{} exchanges: {} ({} instruments)",
        opts.exchanges.len(),
        opts.exchanges.join(", "),
        three.instruments
    );
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
    println!(
        "  CPU: whole process (HTTP, runtime and kernel included); pipeline: parse + merge + change detection + JSON encoding, thread CPU clock"
    );
    print_mode_row("concurrent", c);
    let stage = |seconds: f64| c.ms_per_1000_records(seconds);
    println!(
        "  concurrent pipeline/1000 by stage: parse {:.3} ms, merge {:.3} ms, change detection {:.3} ms, JSON encoding {:.3} ms",
        stage(c.stages.parse.as_secs_f64()),
        stage(c.stages.merge.as_secs_f64()),
        stage(c.stages.change_detection.as_secs_f64()),
        stage(c.encode_cpu_seconds),
    );
    if let Some(s) = &three.sequential {
        print_mode_row("sequential", s);
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
}

/// The scale table's title and column names.
pub(super) fn print_scale_header() {
    println!(
        "scale: N exchange instances (binance/bybit/okx in turn, default universes), concurrent"
    );
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
}

/// One row of the scale table.
pub(super) fn print_scale_row(r: &ScenarioResult) {
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
}

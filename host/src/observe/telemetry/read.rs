//! The reading side of the handle: the metrics exposition, the status snapshot, readiness,
//! the history, the event feed and the funding table.
//!
//! Owns how reports become what operators read. Must not change state beyond pruning.

use std::time::Duration;

use crate::{clock::now_ms, observe::health::BreakerState};

use super::{
    funding::FundingRow, history, metrics::Format, process, state::age_seconds,
    state::ExchangeState, state::State, status::ExchangeStatus, status::HistorySnapshot,
    status::KindStatus, status::LatencyMs, status::ProcessStatus, status::Readiness,
    status::Snapshot, truncate, Telemetry, MAX_ERROR_TEXT,
};

impl Telemetry {
    // ---- reading ----

    /// The metrics exposition.
    pub fn render_metrics(&self, format: Format) -> Result<String, std::fmt::Error> {
        self.inner.registries.render(format)
    }

    pub fn readiness(&self) -> Readiness {
        let state = self.state();
        self.inner.shared.readiness(&state)
    }

    /// Everything at this instant; latency and rates over `window`.
    pub fn snapshot(&self, window: Duration) -> Snapshot {
        let now = now_ms();
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let health = self.inner.shared.health.snapshot();
        let process = process::ProcessStats::read().ok().map(|p| ProcessStatus {
            cpu_seconds: p.cpu_seconds,
            resident_memory_bytes: p.resident_memory_bytes,
            open_fds: p.open_fds,
        });
        let state = self.state();
        let ready = self.inner.shared.readiness(&state);
        let mut ids: Vec<&String> = state.exchanges.keys().collect();
        for id in health.keys() {
            if !state.exchanges.contains_key(id) {
                ids.push(id);
            }
        }
        ids.sort();
        let exchanges = ids
            .into_iter()
            .map(|id| {
                exchange_status(
                    id,
                    health.get(id),
                    state.exchanges.get(id),
                    &state,
                    now,
                    window_ms,
                )
            })
            .collect();
        Snapshot {
            now_ms: now,
            version: env!("CARGO_PKG_VERSION"),
            started_ms: self.inner.started_ms,
            uptime_seconds: (now - self.inner.started_ms).max(0) as f64 / 1000.0,
            ready,
            exchanges,
            sink: state.sink.clone(),
            config: state.config.clone(),
            plugins: state.plugins.values().cloned().collect(),
            plugin_refusals: state.plugin_refusals.clone(),
            retired_plugins: state.retired_plugins,
            plugin_canaries: state.plugin_canaries.values().cloned().collect(),
            alerts: state.alerts.clone(),
            notifiers: state.notifiers.clone(),
            process,
            funding_symbols: state.funding.symbols(),
            web_addr: state.web_addr,
        }
    }

    /// Chart series of every exchange over the last `span` (5 s buckets up to an hour, 1 min
    /// buckets up to 24 h).
    pub fn history(&self, span: Duration) -> HistorySnapshot {
        let now = now_ms();
        let span_ms = i64::try_from(span.as_millis()).unwrap_or(i64::MAX);
        let bucket_ms = if span_ms <= history::FINE_BUCKET_MS * history::FINE_BUCKETS as i64 {
            history::FINE_BUCKET_MS
        } else {
            history::COARSE_BUCKET_MS
        };
        let state = self.state();
        HistorySnapshot {
            bucket_seconds: bucket_ms as f64 / 1000.0,
            from_ms: now - span_ms,
            to_ms: now,
            exchanges: state
                .exchanges
                .iter()
                .map(|(id, e)| (id.clone(), e.history.points(now, span_ms)))
                .collect(),
        }
    }

    /// Up to `limit` funding rows, widest annualized spread first.
    pub fn funding_rows(&self, limit: usize) -> Vec<FundingRow> {
        let now = now_ms();
        self.state().funding.rows(now, limit)
    }
}

/// One exchange's row of the snapshot: health (`h`, from the workers' table), the live window
/// and per-kind numbers (`ex`, from this handle's state), its plugin.
fn exchange_status(
    id: &str,
    h: Option<&crate::observe::health::ExchangeHealth>,
    ex: Option<&ExchangeState>,
    state: &State,
    now: i64,
    window_ms: i64,
) -> ExchangeStatus {
    let window = ex
        .map(|e| e.history.summary(now, window_ms))
        .unwrap_or_default();
    let kinds: Vec<KindStatus> = ex
        .map(|e| {
            e.kinds
                .iter()
                .map(|(kind, k)| KindStatus {
                    kind: kind.clone(),
                    cycles: k.cycles,
                    last_success_ms: k.last_success_ms,
                    newest_data_ms: k.newest_data_ms,
                    data_age_seconds: age_seconds(now, k.newest_data_ms),
                    parsed_total: k.parsed_total,
                    suppressed_total: k.suppressed_total,
                    sent_total: k.sent_total,
                })
                .collect()
        })
        .unwrap_or_default();
    let data_age_seconds = kinds
        .iter()
        .filter_map(|k| k.data_age_seconds)
        .min_by(|a, b| a.total_cmp(b));
    let plugin_id = ex.and_then(|e| e.plugin_id.as_deref()).unwrap_or(id);
    ExchangeStatus {
        id: id.to_owned(),
        status: h.map(|h| h.status),
        breaker: h
            .map(|h| h.breaker)
            .or(ex.map(|e| e.breaker))
            .unwrap_or(BreakerState::Closed),
        breaker_since_ms: ex.and_then(|e| e.breaker_since_ms),
        last_success_ms: h.and_then(|h| h.last_success_ms),
        last_error: h.and_then(|h| h.last_error.as_deref().map(|e| truncate(e, MAX_ERROR_TEXT))),
        last_error_ms: h.and_then(|h| h.last_error_ms),
        consecutive_failures: h.map(|h| h.consecutive_failures).unwrap_or(0),
        latency_ms: LatencyMs {
            p50: window.p50.map(|s| s * 1000.0),
            p95: window.p95.map(|s| s * 1000.0),
            p99: window.p99.map(|s| s * 1000.0),
        },
        records_per_second: window.records_per_second(),
        requests_per_second: window.requests_per_second(),
        error_ratio: window.error_ratio(),
        window,
        data_age_seconds,
        kinds,
        plugin: state.plugins.get(plugin_id).cloned(),
        first_seen_ms: ex.map(|e| e.first_seen_ms).unwrap_or(now),
        worker_started_ms: ex.and_then(|e| e.worker_started_ms),
        worker_starts: ex.map(|e| e.worker_starts).unwrap_or(0),
        point: ex.and_then(|e| e.history.current_point(now)),
        budget_plan: ex.and_then(|e| e.budget_plan.clone()),
    }
}

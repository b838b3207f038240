//! Telemetry: the one handle through which every part of the collector reports what it does —
//! requests, cycles, breaker changes, sink progress, config reloads, plugin loads — and the
//! logging setup. Owns the metrics registry, the in-memory history the dashboard draws, the
//! cross-exchange funding table, the event feed and the readiness verdict.
//!
//! Must not decide anything for collection and must never make a caller wait: every call is a
//! few atomic increments and one short lock, no I/O (process metrics are read from `/proc` only
//! when someone asks: a scrape, the status API, the alert rules). Reads the [`HealthTable`]
//! (workers write it) and never writes it.
//!
//! Logs: `FUTURES_COLLECTOR_LOG` (or `RUST_LOG`) sets the filter; `--log-format json` for
//! production; every line is at most [`log_lines::MAX_LOG_LINE_BYTES`] long (`log_lines`).
//! [`init`] installs the subscriber and must not be called twice per process.
//!
//! Files: `mod.rs` the handle and the reports of collection, the sink, config, alerts and the
//! web server; `plugin_reports` the registry's and canaries' reports; `read` the reading side;
//! `vocabulary` the reported values (outcomes, states, reasons); `status` the snapshot's
//! shapes; `state` what is kept between reports; `scrape` scrape-time metrics; `metrics` the
//! families; `events`, `history`, `funding`, `process`; `logging` and `log_lines`.

pub mod events;
pub mod funding;
pub mod history;
pub mod internal_events;
pub mod log_lines;
mod logging;
pub mod metrics;
mod plugin_reports;
pub mod plugin_vocabulary;
pub mod process;
mod read;
mod scrape;
mod state;
mod status;
mod vocabulary;

pub use log_lines::LogFormat;
pub use logging::{init, DEFAULT_LOG_FILTER};
use scrape::*;
use state::*;
pub use status::*;
pub use vocabulary::*;

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use plugin_api::Record;
use tokio::sync::broadcast;

pub use events::{Event, EventKind, Severity};
pub use funding::{FundingCell, FundingRow};
pub use history::{Point, Summary};
pub use metrics::Format;

use crate::{
    clock::now_ms,
    observe::health::{BreakerState, HealthTable},
};
use events::EventFeed;
use metrics::{
    ExchangeKindLabels, ExchangeLabels, Metrics, ReasonLabels, Registries, RequestLabels,
    ResultLabels, RuleLabels,
};

/// Window of the "live" numbers (cards, `/api/status`): latency percentiles, rates.
pub const LIVE_WINDOW: Duration = Duration::from_secs(60);
/// Most exchange instances whose history is kept (a bound on memory: ~200 KiB each).
pub const MAX_TRACKED_EXCHANGES: usize = 64;
/// Longest last-error text kept and shown.
pub const MAX_ERROR_TEXT: usize = 300;

struct Inner {
    metrics: Metrics,
    registries: Registries,
    shared: Arc<Shared>,
    events: EventFeed,
    started_ms: i64,
}

/// The telemetry handle: cheap to clone, shared by the supervisor, workers, the HTTP executor,
/// the sink task, the plugin registry, the web server and the alert engine.
#[derive(Clone)]
pub struct Telemetry {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("started_ms", &self.inner.started_ms)
            .finish_non_exhaustive()
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new(HealthTable::default())
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

impl Telemetry {
    /// A handle reading exchange health from `health` (the table the workers write).
    pub fn new(health: HealthTable) -> Self {
        let now = now_ms();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(now)),
            health,
        });
        let (metrics, registries) =
            Metrics::new(vec![Box::new(ScrapeCollector(Arc::clone(&shared)))]);
        Self {
            inner: Arc::new(Inner {
                metrics,
                registries,
                shared,
                events: EventFeed::default(),
                started_ms: now,
            }),
        }
    }

    /// The health table this handle reads.
    pub fn health(&self) -> &HealthTable {
        &self.inner.shared.health
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.shared.lock()
    }

    fn ek(exchange: &str, kind: &str) -> ExchangeKindLabels {
        ExchangeKindLabels {
            exchange: exchange.to_owned(),
            kind: kind.to_owned(),
        }
    }

    // ---- lifecycle (supervisor) ----

    /// An enabled exchange instance and the plugin id it runs; it shows on the dashboard
    /// before its first request.
    pub fn exchange_configured(&self, exchange: &str, plugin_id: &str) {
        let now = now_ms();
        if let Some(ex) = self.state().exchange(exchange, now) {
            ex.plugin_id = Some(plugin_id.to_owned());
        }
    }

    /// A worker for this exchange instance started (at start-up, or restarted by a reload).
    pub fn worker_started(&self, exchange: &str) {
        let now = now_ms();
        if let Some(ex) = self.state().exchange(exchange, now) {
            ex.worker_started_ms = Some(now);
            ex.worker_starts += 1;
        }
    }

    /// An exchange instance left the config: forget its state and its funding rates.
    pub fn exchange_removed(&self, exchange: &str) {
        let mut state = self.state();
        state.exchanges.remove(exchange);
        state.funding.forget_exchange(exchange);
    }

    // ---- requests (worker / HTTP executor) ----

    /// One HTTP request attempt and its final outcome. `duration` and `response_bytes` are
    /// ignored for `HeldBack` (nothing was sent).
    pub fn request(
        &self,
        exchange: &str,
        kind: &str,
        outcome: RequestOutcome,
        duration: Duration,
        response_bytes: u64,
    ) {
        let m = &self.inner.metrics;
        m.requests
            .get_or_create(&RequestLabels {
                exchange: exchange.to_owned(),
                kind: kind.to_owned(),
                outcome: outcome.as_str(),
            })
            .inc();
        if outcome == RequestOutcome::HeldBack {
            return;
        }
        let labels = Self::ek(exchange, kind);
        m.request_duration
            .get_or_create(&labels)
            .observe(duration.as_secs_f64());
        if response_bytes > 0 {
            m.response_bytes
                .get_or_create(&labels)
                .inc_by(response_bytes);
        }
        let now = now_ms();
        if let Some(ex) = self.state().exchange(exchange, now) {
            ex.history
                .request(now, duration.as_secs_f64(), outcome.is_failure());
        }
    }

    /// A failed request is retried within the cycle.
    pub fn retry(&self, exchange: &str, kind: &str) {
        self.inner
            .metrics
            .retries
            .get_or_create(&Self::ek(exchange, kind))
            .inc();
    }

    /// A request waited `waited` for the exchange's rate budget (call only when it waited).
    pub fn rate_limit_wait(&self, exchange: &str, waited: Duration) {
        let labels = ExchangeLabels {
            exchange: exchange.to_owned(),
        };
        let m = &self.inner.metrics;
        m.rate_limit_waits.get_or_create(&labels).inc();
        m.rate_limit_wait_seconds
            .get_or_create(&labels)
            .inc_by(waited.as_secs_f64());
    }

    // ---- records (worker) ----

    /// One finished cycle of `kind`: records parsed, suppressed as unchanged, and sent to the
    /// sink; the newest exchange timestamp among the parsed records. A cycle with `parsed > 0`
    /// is a success: it sets the last-success time and refreshes the data age.
    pub fn cycle(
        &self,
        exchange: &str,
        kind: &str,
        parsed: usize,
        suppressed: usize,
        sent: usize,
        newest_exchange_ts_ms: Option<i64>,
    ) {
        let labels = Self::ek(exchange, kind);
        let m = &self.inner.metrics;
        m.cycles.get_or_create(&labels).inc();
        m.records_parsed
            .get_or_create(&labels)
            .inc_by(parsed as u64);
        m.records_suppressed
            .get_or_create(&labels)
            .inc_by(suppressed as u64);
        m.records_sent.get_or_create(&labels).inc_by(sent as u64);
        let now = now_ms();
        if parsed > 0 {
            m.last_success
                .get_or_create(&labels)
                .set(now as f64 / 1000.0);
        }
        let mut state = self.state();
        let Some(ex) = state.exchange(exchange, now) else {
            return;
        };
        ex.history.records(now, parsed, sent);
        let k = ex.kinds.entry(kind.to_owned()).or_default();
        k.cycles += 1;
        k.parsed_total += parsed as u64;
        k.suppressed_total += suppressed as u64;
        k.sent_total += sent as u64;
        if parsed > 0 {
            k.last_success_ms = Some(now);
            let newest = newest_exchange_ts_ms.unwrap_or(now);
            k.newest_data_ms = Some(k.newest_data_ms.map_or(newest, |n| n.max(newest)));
        }
    }

    /// The latest funding records of one exchange (pass the cycle's merged records *before*
    /// change detection, so unchanged rates stay in the table; other kinds are ignored).
    pub fn funding(&self, exchange: &str, records: &[Record]) {
        let now = now_ms();
        self.state().funding.update(exchange, records, now);
    }

    // ---- breaker (worker) ----

    /// The exchange's breaker is now `state`. A change is counted and goes to the event feed.
    /// Keeps `exchange`'s rate budget plan for the status.
    pub fn budget_plan(&self, exchange: &str, plan: &BudgetPlan) {
        let now = now_ms();
        if let Some(ex) = self.state().exchange(exchange, now) {
            ex.budget_plan = Some(plan.clone());
        }
    }

    pub fn breaker(&self, exchange: &str, state: BreakerState) {
        let labels = ExchangeLabels {
            exchange: exchange.to_owned(),
        };
        let m = &self.inner.metrics;
        m.breaker_state.get_or_create(&labels).set(match state {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        });
        let now = now_ms();
        let changed = {
            let mut s = self.state();
            match s.exchange(exchange, now) {
                Some(ex) if ex.breaker != state => {
                    ex.breaker = state;
                    ex.breaker_since_ms = Some(now);
                    true
                }
                _ => false,
            }
        };
        if changed {
            m.breaker_transitions.get_or_create(&labels).inc();
            let (severity, message) = match state {
                BreakerState::Open => (
                    Severity::Warning,
                    "circuit breaker open: requests held back until the next probe",
                ),
                BreakerState::HalfOpen => (Severity::Info, "circuit breaker half-open: probing"),
                BreakerState::Closed => {
                    (Severity::Info, "circuit breaker closed: exchange recovered")
                }
            };
            self.publish(EventKind::Breaker, severity, Some(exchange), message.into());
        }
    }

    // ---- sink (sink task) ----

    pub fn sink_sent(&self, n: u64) {
        self.inner.metrics.sink_sent.inc_by(n);
        self.state().sink.sent += n;
    }
    pub fn sink_confirmed(&self, n: u64) {
        self.inner.metrics.sink_confirmed.inc_by(n);
        self.state().sink.confirmed += n;
    }
    /// One write attempt of the sink task; `retry` when it repeats one that failed.
    pub fn sink_write_attempt(&self, retry: bool) {
        self.inner.metrics.sink_writes.inc();
        if retry {
            self.inner.metrics.sink_write_retries.inc();
        }
        let mut s = self.state();
        s.sink.writes += 1;
        s.sink.retries += u64::from(retry);
    }
    /// Records given up for good (not retried records: those are still on their way).
    pub fn sink_failed(&self, n: u64) {
        self.inner.metrics.sink_failed.inc_by(n);
        self.state().sink.failed += n;
    }
    pub fn sink_spooled(&self, n: u64) {
        self.inner.metrics.sink_spooled.inc_by(n);
        self.state().sink.spooled += n;
    }
    /// Records a bounded buffer dropped, by its policy.
    pub fn sink_dropped(&self, reason: DropReason, n: u64) {
        self.inner
            .metrics
            .sink_dropped
            .get_or_create(&ReasonLabels {
                reason: reason.as_str(),
            })
            .inc_by(n);
        let mut s = self.state();
        s.sink.dropped += n;
        *s.sink.dropped_by_reason.entry(reason.as_str()).or_default() += n;
    }
    /// The AMQP spool's size now.
    pub fn sink_spool(&self, records: u64, bytes: u64) {
        let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.inner.metrics.sink_spool_records.set(gauge(records));
        self.inner.metrics.sink_spool_bytes.set(gauge(bytes));
        let mut s = self.state();
        s.sink.spool_records = records;
        s.sink.spool_bytes = bytes;
    }
    /// Bytes of damaged spool data skipped or cut off.
    pub fn sink_spool_damaged_bytes(&self, n: u64) {
        self.inner.metrics.sink_spool_damaged_bytes.inc_by(n);
    }
    /// Records waiting in the sink's memory buffer now.
    pub fn sink_buffer_depth(&self, n: u64) {
        self.inner
            .metrics
            .sink_buffer_depth
            .set(i64::try_from(n).unwrap_or(i64::MAX));
        self.state().sink.buffer_depth = n;
    }

    /// The sink's state; `detail` says why (shown in status, never a secret). A change goes to
    /// the event feed.
    pub fn sink_state(&self, state: SinkState, detail: &str) {
        let now = now_ms();
        let detail = truncate(detail, MAX_ERROR_TEXT);
        let changed = {
            let mut s = self.state();
            let changed = s.sink.state != state;
            if changed {
                s.sink.state = state;
                s.sink.since_ms = now;
            }
            s.sink.detail = detail.clone();
            changed
        };
        if changed {
            let severity = match state {
                SinkState::Failing => Severity::Critical,
                SinkState::Spooling => Severity::Warning,
                _ => Severity::Info,
            };
            let message = if detail.is_empty() {
                format!("sink {}", state.as_str())
            } else {
                format!("sink {}: {detail}", state.as_str())
            };
            self.publish(EventKind::Sink, severity, None, message);
        }
    }

    // ---- config (supervisor) ----

    /// The config the process started with.
    pub fn config_loaded(&self, version: &str) {
        {
            let mut s = self.state();
            s.config.loaded = true;
            s.config.version = Some(version.to_owned());
        }
        self.publish(
            EventKind::ConfigReload,
            Severity::Info,
            None,
            format!("config {version} loaded"),
        );
    }

    /// A reload attempt: `version` is the version it tried to apply, `message` what went
    /// wrong (or what changed).
    pub fn config_reload(&self, result: ReloadResult, version: &str, message: &str) {
        let now = now_ms();
        let m = &self.inner.metrics;
        m.config_reloads
            .get_or_create(&ResultLabels {
                result: result.as_str(),
            })
            .inc();
        m.config_last_reload_successful
            .set(i64::from(result == ReloadResult::Ok));
        m.config_last_reload_timestamp.set(now as f64 / 1000.0);
        let message = truncate(message, MAX_ERROR_TEXT);
        {
            let mut s = self.state();
            if result == ReloadResult::Ok {
                s.config.loaded = true;
                s.config.version = Some(version.to_owned());
            }
            s.config.last_reload = Some(ReloadInfo {
                result,
                version: version.to_owned(),
                message: message.clone(),
                ts_ms: now,
            });
        }
        let (severity, text) = match result {
            ReloadResult::Ok => (Severity::Info, format!("config {version} applied")),
            ReloadResult::Invalid => (
                Severity::Warning,
                format!("config {version} rejected, previous config kept: {message}"),
            ),
            ReloadResult::RolledBack => (
                Severity::Critical,
                format!("config {version} failed to apply, rolled back: {message}"),
            ),
        };
        self.publish(EventKind::ConfigReload, severity, None, text);
    }

    // ---- event feed ----

    /// Adds an event to the feed (lifecycle messages, anything an operator should see).
    pub fn publish(
        &self,
        kind: EventKind,
        severity: Severity,
        exchange: Option<&str>,
        message: String,
    ) -> Event {
        self.inner
            .events
            .publish(now_ms(), kind, severity, exchange, message)
    }

    /// Live events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// Kept events newer than `after_id`, oldest first.
    pub fn events_after(&self, after_id: u64) -> Vec<Event> {
        self.inner.events.recent_after(after_id)
    }

    /// The newest `n` events, newest first.
    pub fn recent_events(&self, n: usize) -> Vec<Event> {
        self.inner.events.newest(n)
    }

    // ---- alert engine ----

    /// The alerts firing now (replaces the previous list) and the `alerts_firing` gauges.
    pub fn set_alerts(&self, active: Vec<ActiveAlert>) {
        for rule in crate::config::ALERT_RULE_IDS {
            let n = active.iter().filter(|a| a.rule == rule).count();
            self.inner
                .metrics
                .alerts_firing
                .get_or_create(&RuleLabels {
                    rule: rule.to_owned(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        self.state().alerts = active;
    }

    /// The configured notifiers (already redacted).
    pub fn set_notifiers(&self, notifiers: Vec<NotifierInfo>) {
        self.state().notifiers = notifiers;
    }

    /// One notification attempt: `sent`, `failed`, `rate_limited` or `dropped`.
    pub fn alert_notification(&self, notifier: &str, outcome: &'static str) {
        self.inner
            .metrics
            .alert_notifications
            .get_or_create(&metrics::NotifierLabels {
                notifier: notifier.to_owned(),
                outcome,
            })
            .inc();
    }

    // ---- web server ----

    pub fn set_web_addr(&self, addr: SocketAddr) {
        self.state().web_addr = Some(addr);
    }

    /// Where the web server listens, once bound (tests with `listen = "127.0.0.1:0"`).
    pub fn web_addr(&self) -> Option<SocketAddr> {
        self.state().web_addr
    }

    /// The web server started serving a connection.
    pub fn web_connection_opened(&self) {
        self.inner.metrics.web_connections_open.inc();
    }

    /// A connection the web server served is closed.
    pub fn web_connection_closed(&self) {
        self.inner.metrics.web_connections_open.dec();
    }

    /// A limit refused a web client.
    pub fn web_connection_refused(&self, reason: WebRefusal) {
        self.inner
            .metrics
            .web_connections_refused
            .get_or_create(&metrics::ReasonLabels {
                reason: reason.as_str(),
            })
            .inc();
    }

    /// The web server refused a request without a valid token (401).
    pub fn web_request_unauthorized(&self, reason: WebUnauthorized) {
        self.inner
            .metrics
            .web_requests_unauthorized
            .get_or_create(&metrics::ReasonLabels {
                reason: reason.as_str(),
            })
            .inc();
    }

    /// A timeout closed a web connection.
    pub fn web_connection_timed_out(&self, reason: WebTimeout) {
        self.inner
            .metrics
            .web_connections_timed_out
            .get_or_create(&metrics::ReasonLabels {
                reason: reason.as_str(),
            })
            .inc();
    }

    /// Adds one past sample to an exchange's chart history only (no metrics): for tests that
    /// need an hour of history without waiting an hour (feature `test-support`, which only the
    /// integration tests enable).
    #[cfg(feature = "test-support")]
    pub fn history_sample_at(
        &self,
        exchange: &str,
        at_ms: i64,
        latency: Duration,
        failed: bool,
        records: usize,
    ) {
        if let Some(ex) = self.state().exchange(exchange, at_ms) {
            ex.history.request(at_ms, latency.as_secs_f64(), failed);
            ex.history.records(at_ms, records, records);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::RefusalReason;
    use plugin_vocabulary::{PluginEvent, RegistrySummary};

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn metrics_follow_what_is_fed() {
        let t = Telemetry::default();
        for _ in 0..3 {
            t.request(
                "binance",
                "tickers",
                RequestOutcome::Ok,
                Duration::from_millis(20),
                1000,
            );
        }
        t.request(
            "binance",
            "tickers",
            RequestOutcome::Timeout,
            Duration::from_secs(1),
            0,
        );
        t.request(
            "binance",
            "tickers",
            RequestOutcome::HeldBack,
            Duration::ZERO,
            0,
        );
        t.retry("binance", "tickers");
        t.rate_limit_wait("binance", Duration::from_millis(500));
        t.cycle("binance", "tickers", 10, 7, 3, Some(now_ms() - 2_000));
        t.breaker("binance", BreakerState::Open);
        t.sink_confirmed(3);
        let text = t.render_metrics(Format::Prometheus).unwrap();
        let ok = "futures_collector_requests_total{exchange=\"binance\",kind=\"tickers\",outcome=\"ok\"}";
        assert_eq!(value(&text, ok), Some(3.0), "{text}");
        let held = "futures_collector_requests_total{exchange=\"binance\",kind=\"tickers\",outcome=\"held_back\"}";
        assert_eq!(value(&text, held), Some(1.0));
        let count = "futures_collector_request_duration_seconds_count{exchange=\"binance\",kind=\"tickers\"}";
        assert_eq!(value(&text, count), Some(4.0), "held back is not timed");
        let bytes = "futures_collector_response_bytes_total{exchange=\"binance\",kind=\"tickers\"}";
        assert_eq!(value(&text, bytes), Some(3000.0));
        let breaker = "futures_collector_breaker_state{exchange=\"binance\"}";
        assert_eq!(value(&text, breaker), Some(2.0));
        let age = "futures_collector_data_age_seconds{exchange=\"binance\",kind=\"tickers\"}";
        assert!(value(&text, age).unwrap() >= 2.0);
        assert_eq!(
            value(&text, "futures_collector_sink_records_confirmed_total"),
            Some(3.0)
        );
        assert!(value(&text, "process_resident_memory_bytes").unwrap() > 0.0);
        let snap = t.snapshot(LIVE_WINDOW);
        let ex = &snap.exchanges[0];
        assert_eq!(ex.window.requests, 4);
        assert_eq!(ex.error_ratio, Some(0.25));
        assert_eq!(ex.breaker, BreakerState::Open);
        assert_eq!(t.recent_events(1)[0].kind, EventKind::Breaker);
    }

    #[test]
    fn readiness_needs_config_sink_and_a_healthy_exchange() {
        let t = Telemetry::default();
        assert!(!t.readiness().ready);
        t.config_loaded("v1");
        t.sink_state(SinkState::Ok, "");
        assert!(!t.readiness().ready, "no exchange healthy yet");
        t.health().success("binance", now_ms());
        assert!(t.readiness().ready);
        t.sink_state(SinkState::Spooling, "broker unreachable");
        let r = t.readiness();
        assert!(!r.ready && !r.sink.ok && r.exchanges.ok, "{r:?}");
        t.sink_state(SinkState::Ok, "");
        t.health().breaker("binance", BreakerState::Open);
        assert!(!t.readiness().ready);
    }

    #[test]
    fn plugin_versions_replace_each_other() {
        let t = Telemetry::default();
        let load = |v: &str, replaced| PluginEvent::Loaded {
            file: "/p/libfc_plugin_x.so".into(),
            exchange_id: "x".into(),
            version: v.into(),
            replaced,
        };
        t.plugin_event(&load("0.1.0", false));
        t.plugin_event(&load("0.2.0", true));
        let text = t.render_metrics(Format::Prometheus).unwrap();
        assert!(
            text.contains("futures_collector_plugins_loaded{exchange=\"x\",version=\"0.2.0\"} 1")
        );
        assert!(
            !text.contains("futures_collector_plugins_loaded{exchange=\"x\",version=\"0.1.0\"}"),
            "{text}"
        );
        assert_eq!(t.snapshot(LIVE_WINDOW).plugins[0].file, "libfc_plugin_x.so");
        t.plugin_event(&PluginEvent::Removed {
            file: "/p/libfc_plugin_x.so".into(),
            exchange_id: "x".into(),
        });
        assert!(t.snapshot(LIVE_WINDOW).plugins.is_empty());
    }

    #[test]
    fn plugin_registry_standing_is_exported() {
        use crate::trust::Refusal;
        let t = Telemetry::default();
        let text = t.render_metrics(Format::Prometheus).unwrap();
        let refused = "futures_collector_plugin_files_refused{reason=\"writable\"}";
        assert_eq!(
            value(&text, refused),
            Some(0.0),
            "exported before any refusal"
        );
        assert_eq!(
            value(&text, "futures_collector_plugins_retired_max"),
            Some(16.0)
        );
        t.plugin_event(&PluginEvent::Summary(RegistrySummary {
            refused: vec![Refusal::new(
                std::path::Path::new("/p/x.so"),
                RefusalReason::Writable,
                "/p/x.so: plugin file refused: writable by others (mode 0666)".into(),
            )],
            retired_versions: 3,
            retired_mapped_bytes: 3 << 20,
            max_retired: 2,
        }));
        let text = t.render_metrics(Format::Prometheus).unwrap();
        assert_eq!(value(&text, refused), Some(1.0), "{text}");
        assert_eq!(value(&text, "futures_collector_plugins_retired"), Some(3.0));
        assert_eq!(
            value(&text, "futures_collector_plugins_retired_mapped_bytes"),
            Some(3145728.0)
        );
        let snap = t.snapshot(LIVE_WINDOW);
        assert_eq!(snap.plugin_refusals[0].path, "/p/x.so");
        assert_eq!(snap.plugin_refusals[0].reason, "writable");
        assert_eq!(snap.retired_plugins.versions, 3);
        assert!(
            t.recent_events(1)[0]
                .message
                .contains("3 retired plugin versions"),
            "passing the limit goes to the feed"
        );
    }

    #[test]
    fn reload_results_are_counted() {
        let t = Telemetry::default();
        t.config_loaded("v1");
        t.config_reload(ReloadResult::Invalid, "v2", "http.timeout: must be > 0");
        let s = t.snapshot(LIVE_WINDOW);
        assert_eq!(s.config.version.as_deref(), Some("v1"), "old config kept");
        let text = t.render_metrics(Format::Prometheus).unwrap();
        assert_eq!(
            value(&text, "futures_collector_config_last_reload_successful"),
            Some(0.0)
        );
        t.config_reload(ReloadResult::Ok, "v3", "");
        assert_eq!(
            t.snapshot(LIVE_WINDOW).config.version.as_deref(),
            Some("v3")
        );
    }
}

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

pub mod events;
pub mod funding;
pub mod history;
pub mod log_lines;
pub mod metrics;
pub mod process;

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use plugin_api::Record;
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeLabelSet},
};
use serde::Serialize;
use tokio::sync::broadcast;
use tracing_subscriber::{fmt, fmt::MakeWriter, util::SubscriberInitExt as _, EnvFilter};

pub use events::{Event, EventKind, Severity};
pub use funding::{FundingCell, FundingRow};
pub use history::{Point, Summary};
pub use metrics::Format;

use crate::{
    clock::now_ms,
    observe::health::BreakerState,
    observe::health::{HealthStatus, HealthTable},
    plugins::{
        canary::Verdict, CanaryEvent, CanaryState, CanaryStatus, Decider, PluginEvent,
        RefusalReason, RegistrySummary,
    },
};
use events::EventFeed;
use funding::FundingTable;
use history::History;
use metrics::{
    encode_gauge_family, encode_gauge_value, CanaryCycleLabels, CanaryFieldLabels,
    CanaryStateLabels, ExchangeKindLabels, ExchangeLabels, Metrics, PluginLabels, ReasonLabels,
    Registries, RequestLabels, ResultLabels, RuleLabels,
};

/// Default filter when neither variable is set.
pub const DEFAULT_LOG_FILTER: &str = "info";

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Installs the global subscriber, writing to stderr (stdout may carry records).
pub fn init(format: LogFormat) {
    let filter = std::env::var("FUTURES_COLLECTOR_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_LOG_FILTER));
    let _ = subscriber(format, filter, std::io::stderr, colours_on_stderr()).try_init();
}

/// ANSI colours only where a person reads them: stderr is a terminal and `NO_COLOR`
/// (no-color.org) is not set. A log written to a file or a journal stays plain text.
fn colours_on_stderr() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The subscriber [`init`] installs: `format` lines through `filter` to `writer`, each line cut
/// at [`log_lines::MAX_LOG_LINE_BYTES`], with ANSI colours only when `colours` (pretty format).
fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    colours: bool,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = fmt()
        .with_ansi(colours && format == LogFormat::Pretty)
        .with_env_filter(filter)
        .with_writer(log_lines::BoundedLines::new(writer, format));
    match format {
        LogFormat::Pretty => Box::new(builder.finish()),
        LogFormat::Json => Box::new(builder.json().flatten_event(true).finish()),
    }
}

/// Window of the "live" numbers (cards, `/api/status`): latency percentiles, rates.
pub const LIVE_WINDOW: Duration = Duration::from_secs(60);
/// Most exchange instances whose history is kept (a bound on memory: ~200 KiB each).
pub const MAX_TRACKED_EXCHANGES: usize = 64;
/// Longest last-error text kept and shown.
pub const MAX_ERROR_TEXT: usize = 300;

/// What became of one HTTP request (the `outcome` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestOutcome {
    /// Answered and accepted by the plugin.
    Ok,
    Timeout,
    /// Could not connect (refused, DNS, TLS).
    Connect,
    /// The connection broke while reading the body, or the body was too large.
    Body,
    /// HTTP 5xx.
    Http5xx,
    /// HTTP 429/418, or a rate-limit code in the body.
    RateLimited,
    /// The body is not what the exchange documents (HTML, truncated JSON).
    Parse,
    /// The exchange answered with a transient error code in the body ("system busy").
    ExchangeError,
    /// A permanent error (unknown symbol, bad request): retrying does not help.
    Permanent,
    /// Not sent: the breaker is open or another request is probing.
    HeldBack,
    Other,
}

impl RequestOutcome {
    pub const ALL: [Self; 11] = [
        Self::Ok,
        Self::Timeout,
        Self::Connect,
        Self::Body,
        Self::Http5xx,
        Self::RateLimited,
        Self::Parse,
        Self::ExchangeError,
        Self::Permanent,
        Self::HeldBack,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Body => "body",
            Self::Http5xx => "http_5xx",
            Self::RateLimited => "rate_limited",
            Self::Parse => "parse",
            Self::ExchangeError => "exchange_error",
            Self::Permanent => "permanent",
            Self::HeldBack => "held_back",
            Self::Other => "other",
        }
    }

    /// Counts against the error rate: the request went out and did not succeed.
    pub fn is_failure(self) -> bool {
        !matches!(self, Self::Ok | Self::HeldBack)
    }

    /// The outcome of an answered request the plugin rejected with an error of `class`.
    pub fn from_plugin_error(class: plugin_api::ErrorClass) -> Self {
        match class {
            plugin_api::ErrorClass::RATE_LIMITED => Self::RateLimited,
            plugin_api::ErrorClass::PARSE => Self::Parse,
            plugin_api::ErrorClass::PERMANENT => Self::Permanent,
            plugin_api::ErrorClass::TRANSIENT => Self::ExchangeError,
            _ => Self::Other,
        }
    }
}

/// The sink's condition, as the sink reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkState {
    /// Opened, nothing delivered yet.
    Starting,
    /// Accepting and delivering records.
    Ok,
    /// Destination unreachable; records go to the on-disk spool.
    Spooling,
    /// Writes fail and are retried; records wait in memory.
    Failing,
    /// Closed at shutdown.
    Closed,
}

impl SinkState {
    pub const ALL: [Self; 5] = [
        Self::Starting,
        Self::Ok,
        Self::Spooling,
        Self::Failing,
        Self::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Ok => "ok",
            Self::Spooling => "spooling",
            Self::Failing => "failing",
            Self::Closed => "closed",
        }
    }
}

/// Why a sink dropped records on purpose: the policy of one of its bounded buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The memory buffer that holds batches while the sink fails was full: its oldest waiting
    /// batch went.
    BufferFull,
    /// The AMQP spool was full: its oldest segment went (or a message larger than the spool).
    SpoolFull,
    /// Lost with damaged AMQP spool entries.
    SpoolDamaged,
}

impl DropReason {
    pub const ALL: [Self; 3] = [Self::BufferFull, Self::SpoolFull, Self::SpoolDamaged];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::BufferFull => "buffer_full",
            Self::SpoolFull => "spool_full",
            Self::SpoolDamaged => "spool_damaged",
        }
    }
}

/// Result of one config reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReloadResult {
    /// Validated and applied.
    Ok,
    /// Rejected by validation; the running config is unchanged.
    Invalid,
    /// Valid, but applying it failed; the previous config was restored.
    RolledBack,
}

impl ReloadResult {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Invalid => "invalid",
            Self::RolledBack => "rolled_back",
        }
    }
}

/// Which web server limit refused a client (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebRefusal {
    /// `[web] max_connections` connections were open: answered 503 and closed.
    MaxConnections,
    /// `[web] max_sse_clients` event streams were open: the request got 503.
    MaxSseClients,
}

impl WebRefusal {
    pub const ALL: [Self; 2] = [Self::MaxConnections, Self::MaxSseClients];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MaxConnections => "max_connections",
            Self::MaxSseClients => "max_sse_clients",
        }
    }
}

/// Why the web server answered a request 401 (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebUnauthorized {
    /// No token was presented (or a request that is not GET or HEAD, with no token set).
    Missing,
    /// A token was presented and is not the configured one.
    Invalid,
}

impl WebUnauthorized {
    pub const ALL: [Self; 2] = [Self::Missing, Self::Invalid];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Invalid => "invalid",
        }
    }
}

/// Which web server timeout closed a connection (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebTimeout {
    /// No complete request head within `[web] header_read_timeout`.
    HeaderRead,
    /// No request on a keep-alive connection within `[web] idle_timeout`.
    Idle,
}

impl WebTimeout {
    pub const ALL: [Self; 2] = [Self::HeaderRead, Self::Idle];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::HeaderRead => "header_read",
            Self::Idle => "idle",
        }
    }
}

/// Per exchange and kind.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KindStatus {
    pub kind: String,
    pub cycles: u64,
    /// Unix ms of the last cycle that parsed at least one record.
    pub last_success_ms: Option<i64>,
    /// Unix ms of the newest data: the newest exchange timestamp seen, or the time of a
    /// successful cycle whose records carry none.
    pub newest_data_ms: Option<i64>,
    /// Seconds since `newest_data_ms` (at the time of the snapshot).
    pub data_age_seconds: Option<f64>,
    pub parsed_total: u64,
    pub suppressed_total: u64,
    pub sent_total: u64,
}

/// The plugin an exchange runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PluginStatus {
    /// The plugin's exchange id.
    pub exchange_id: String,
    pub version: String,
    /// File name in the plugin directory.
    pub file: String,
    pub loaded_ms: i64,
    pub replaced: bool,
}

/// A plugin file (or the plugin directory) refused now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PluginRefusal {
    /// The path in the plugin directory (or the directory).
    pub path: String,
    /// `owner`, `writable`, `not_a_file`, `swapped`, `pin` or `duplicate`.
    pub reason: &'static str,
    /// One line naming the path and the fix.
    pub message: String,
}

/// Retired plugin versions: libraries mapped in this process that serve no exchange (replaced,
/// removed, duplicates, rejected after mapping). Libraries are never unloaded: a restart
/// reclaims them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct RetiredPlugins {
    pub versions: u64,
    /// Address space they map (an estimate of the memory a restart reclaims).
    pub mapped_bytes: u64,
    /// `[plugins] max_retired`: above it the `plugins_retired` alert fires.
    pub max: u64,
}

/// The sink's condition and counts.
#[derive(Debug, Clone, Serialize)]
pub struct SinkStatus {
    pub state: SinkState,
    /// Unix ms since the state holds.
    pub since_ms: i64,
    pub detail: String,
    pub sent: u64,
    pub confirmed: u64,
    /// Write attempts, retries included.
    pub writes: u64,
    /// Write attempts that repeated a failed one.
    pub retries: u64,
    /// Records given up for good (unencodable, unroutable, abandoned at shutdown).
    pub failed: u64,
    pub spooled: u64,
    /// Records dropped by a bounded buffer's policy (all reasons).
    pub dropped: u64,
    /// `dropped` by reason (`buffer_full`, `spool_full`, `spool_damaged`).
    pub dropped_by_reason: BTreeMap<&'static str, u64>,
    /// Records held in memory by the sink task (in flight and waiting).
    pub buffer_depth: u64,
    /// Records and bytes in the AMQP spool (0 for other sinks).
    pub spool_records: u64,
    pub spool_bytes: u64,
}

/// The last config reload.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadInfo {
    pub result: ReloadResult,
    pub version: String,
    pub message: String,
    pub ts_ms: i64,
}

/// Which config runs and how the last reload went.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConfigStatus {
    pub loaded: bool,
    pub version: Option<String>,
    pub last_reload: Option<ReloadInfo>,
}

/// An alert that is firing (the alert engine sets these).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActiveAlert {
    pub rule: String,
    /// What it is about: an exchange, `exchange/kind`, or nothing for process-wide rules.
    pub subject: Option<String>,
    pub severity: Severity,
    pub summary: String,
    pub since_ms: i64,
    /// Notifications sent for it so far (first + repeats).
    pub notifications: u32,
}

/// A configured notifier, secrets redacted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotifierInfo {
    pub name: String,
    pub kind: &'static str,
    /// Scheme and host only; the path, query and tokens are never shown.
    pub destination: String,
}

/// One readiness check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub ok: bool,
    pub detail: String,
}

/// `/readyz`: ready when the config is loaded, the sink delivers (state `ok`) and at least one
/// exchange is healthy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Readiness {
    pub ready: bool,
    pub config: Check,
    pub sink: Check,
    pub exchanges: Check,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct LatencyMs {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

/// One exchange as `/api/status` and the live feed show it.
#[derive(Debug, Clone, Serialize)]
pub struct ExchangeStatus {
    pub id: String,
    /// `None` until the worker reported anything.
    pub status: Option<HealthStatus>,
    pub breaker: BreakerState,
    pub breaker_since_ms: Option<i64>,
    pub last_success_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_ms: Option<i64>,
    pub consecutive_failures: u32,
    /// Over the snapshot's window.
    pub latency_ms: LatencyMs,
    pub records_per_second: f64,
    pub requests_per_second: f64,
    pub error_ratio: Option<f64>,
    pub window: Summary,
    /// Age of the freshest kind's data, seconds.
    pub data_age_seconds: Option<f64>,
    pub kinds: Vec<KindStatus>,
    pub plugin: Option<PluginStatus>,
    /// When telemetry first heard of this exchange, Unix ms.
    pub first_seen_ms: i64,
    /// When the running worker started, Unix ms (a config reload that changes this exchange
    /// restarts it; other exchanges keep theirs).
    pub worker_started_ms: Option<i64>,
    /// How many workers this exchange has had since the process started.
    pub worker_starts: u64,
    /// The newest 5-second chart point (the live feed appends it).
    pub point: Option<Point>,
}

/// Process numbers for status and rules.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ProcessStatus {
    pub cpu_seconds: f64,
    pub resident_memory_bytes: u64,
    pub open_fds: u64,
}

/// Everything `/api/status`, the live feed and the alert rules read, at one instant.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub now_ms: i64,
    pub version: &'static str,
    pub started_ms: i64,
    pub uptime_seconds: f64,
    pub ready: Readiness,
    pub exchanges: Vec<ExchangeStatus>,
    pub sink: SinkStatus,
    pub config: ConfigStatus,
    pub plugins: Vec<PluginStatus>,
    /// Plugin files and the plugin directory refused now.
    pub plugin_refusals: Vec<PluginRefusal>,
    pub retired_plugins: RetiredPlugins,
    /// Replaced plugins parsing beside the running version until promoted (shadow canaries).
    pub plugin_canaries: Vec<CanaryStatus>,
    pub alerts: Vec<ActiveAlert>,
    pub notifiers: Vec<NotifierInfo>,
    pub process: Option<ProcessStatus>,
    pub funding_symbols: usize,
    /// Where the web server listens, once bound.
    pub web_addr: Option<SocketAddr>,
}

/// Chart series for `/api/history`.
#[derive(Debug, Clone, Serialize)]
pub struct HistorySnapshot {
    pub bucket_seconds: f64,
    pub from_ms: i64,
    pub to_ms: i64,
    pub exchanges: BTreeMap<String, Vec<Point>>,
}

#[derive(Debug, Default)]
struct KindState {
    cycles: u64,
    last_success_ms: Option<i64>,
    newest_data_ms: Option<i64>,
    parsed_total: u64,
    suppressed_total: u64,
    sent_total: u64,
}

#[derive(Debug)]
struct ExchangeState {
    first_seen_ms: i64,
    plugin_id: Option<String>,
    worker_started_ms: Option<i64>,
    worker_starts: u64,
    history: History,
    kinds: BTreeMap<String, KindState>,
    breaker: BreakerState,
    breaker_since_ms: Option<i64>,
}

impl ExchangeState {
    fn new(now_ms: i64) -> Self {
        Self {
            first_seen_ms: now_ms,
            plugin_id: None,
            worker_started_ms: None,
            worker_starts: 0,
            history: History::default(),
            kinds: BTreeMap::new(),
            breaker: BreakerState::Closed,
            breaker_since_ms: None,
        }
    }
}

#[derive(Debug)]
struct State {
    exchanges: BTreeMap<String, ExchangeState>,
    funding: FundingTable,
    sink: SinkStatus,
    config: ConfigStatus,
    /// By plugin exchange id.
    plugins: BTreeMap<String, PluginStatus>,
    plugin_refusals: Vec<PluginRefusal>,
    retired_plugins: RetiredPlugins,
    plugin_canaries: BTreeMap<String, CanaryStatus>,
    /// Candidates (by generation) decided or superseded lately: late reports are ignored.
    ended_canaries: std::collections::VecDeque<u64>,
    alerts: Vec<ActiveAlert>,
    notifiers: Vec<NotifierInfo>,
    web_addr: Option<SocketAddr>,
}

impl State {
    fn new(now_ms: i64) -> Self {
        Self {
            exchanges: BTreeMap::new(),
            funding: FundingTable::default(),
            sink: SinkStatus {
                state: SinkState::Starting,
                since_ms: now_ms,
                detail: String::new(),
                sent: 0,
                confirmed: 0,
                writes: 0,
                retries: 0,
                failed: 0,
                spooled: 0,
                dropped: 0,
                dropped_by_reason: DropReason::ALL.iter().map(|r| (r.as_str(), 0)).collect(),
                buffer_depth: 0,
                spool_records: 0,
                spool_bytes: 0,
            },
            config: ConfigStatus::default(),
            plugins: BTreeMap::new(),
            plugin_canaries: BTreeMap::new(),
            ended_canaries: std::collections::VecDeque::new(),
            plugin_refusals: Vec::new(),
            retired_plugins: RetiredPlugins {
                max: crate::config::DEFAULT_MAX_RETIRED_PLUGINS as u64,
                ..RetiredPlugins::default()
            },
            alerts: Vec::new(),
            notifiers: Vec::new(),
            web_addr: None,
        }
    }

    /// The exchange's state, created on first mention (up to [`MAX_TRACKED_EXCHANGES`]).
    fn exchange(&mut self, exchange: &str, now_ms: i64) -> Option<&mut ExchangeState> {
        if !self.exchanges.contains_key(exchange) {
            if self.exchanges.len() >= MAX_TRACKED_EXCHANGES {
                return None;
            }
            self.exchanges
                .insert(exchange.to_owned(), ExchangeState::new(now_ms));
        }
        self.exchanges.get_mut(exchange)
    }
}

/// What the scrape-time collector and the handle share.
#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    health: HealthTable,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn readiness(&self, state: &State) -> Readiness {
        let config = Check {
            ok: state.config.loaded,
            detail: match &state.config.version {
                Some(v) if state.config.loaded => format!("config {v} loaded"),
                _ if state.config.loaded => "config loaded".to_owned(),
                _ => "no config loaded yet".to_owned(),
            },
        };
        let sink = Check {
            ok: state.sink.state == SinkState::Ok,
            detail: if state.sink.detail.is_empty() {
                format!("sink {}", state.sink.state.as_str())
            } else {
                format!("sink {}: {}", state.sink.state.as_str(), state.sink.detail)
            },
        };
        let health = self.health.snapshot();
        let healthy = health
            .values()
            .filter(|h| h.status == HealthStatus::Healthy)
            .count();
        let known = health.len().max(state.exchanges.len());
        let exchanges = Check {
            ok: healthy > 0,
            detail: format!("{healthy} of {known} exchanges healthy"),
        };
        Readiness {
            ready: config.ok && sink.ok && exchanges.ok,
            config,
            sink,
            exchanges,
        }
    }
}

fn age_seconds(now_ms: i64, then_ms: Option<i64>) -> Option<f64> {
    then_ms.map(|t| ((now_ms - t).max(0)) as f64 / 1000.0)
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HealthLabels {
    exchange: String,
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

/// Values computed at scrape time: data age, exchange health, sink state, readiness.
#[derive(Debug)]
struct ScrapeCollector(Arc<Shared>);

impl Collector for ScrapeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let now = now_ms();
        let (ages, sink_state, ready) = {
            let state = self.0.lock();
            let mut ages = Vec::new();
            for (exchange, ex) in &state.exchanges {
                for (kind, k) in &ex.kinds {
                    if let Some(age) = age_seconds(now, k.newest_data_ms) {
                        let labels = ExchangeKindLabels {
                            exchange: exchange.clone(),
                            kind: kind.clone(),
                        };
                        ages.push((labels, age));
                    }
                }
            }
            (ages, state.sink.state, self.0.readiness(&state).ready)
        };
        encode_gauge_family(
            &mut encoder,
            "data_age",
            "Age of the newest data per exchange and kind: now minus the newest exchange timestamp (or the time of the last successful cycle when records carry none).",
            Some(&prometheus_client::registry::Unit::Seconds),
            &ages,
        )?;
        let mut health = Vec::new();
        for (exchange, h) in self.0.health.snapshot() {
            for (status, name) in [
                (HealthStatus::Healthy, "healthy"),
                (HealthStatus::Degraded, "degraded"),
                (HealthStatus::Down, "down"),
            ] {
                let labels = HealthLabels {
                    exchange: exchange.clone(),
                    status: name,
                };
                health.push((labels, if h.status == status { 1.0 } else { 0.0 }));
            }
        }
        encode_gauge_family(
            &mut encoder,
            "exchange_health",
            "Exchange health: 1 for the current status (healthy, degraded, down), 0 for the others.",
            None,
            &health,
        )?;
        let states: Vec<(StateLabels, f64)> = SinkState::ALL
            .iter()
            .map(|s| {
                let v = if *s == sink_state { 1.0 } else { 0.0 };
                (StateLabels { state: s.as_str() }, v)
            })
            .collect();
        encode_gauge_family(
            &mut encoder,
            "sink_state",
            "Sink state: 1 for the current state (starting, ok, spooling, failing, closed).",
            None,
            &states,
        )?;
        let up = if sink_state == SinkState::Ok {
            1.0
        } else {
            0.0
        };
        encode_gauge_value(
            &mut encoder,
            "sink_up",
            "1 when the sink accepts and delivers records (state ok).",
            up,
        )?;
        encode_gauge_value(
            &mut encoder,
            "ready",
            "1 when /readyz answers ready: config loaded, sink ok, at least one exchange healthy.",
            if ready { 1.0 } else { 0.0 },
        )?;
        Ok(())
    }
}

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

/// What the retired plugin versions cost, for the event feed and the alert.
pub fn retired_summary(retired: &RetiredPlugins) -> String {
    format!(
        "{} retired plugin versions keep {:.1} MiB mapped (limit {}, [plugins] max_retired): a restart reclaims the memory.",
        retired.versions,
        retired.mapped_bytes as f64 / 1048576.0,
        retired.max
    )
}

/// Decided or superseded canaries remembered so that late worker reports are ignored.
const MAX_ENDED_CANARIES: usize = 64;

/// One line on a held-back canary: what differs, and what the operator can do (events, alert).
pub fn canary_held_back_summary(status: &CanaryStatus) -> String {
    format!(
        "plugin canary held back: {} {} disagrees with the running {}: {}. The running version keeps serving; `futures-collector canary promote {}` or `canary reject {}` decides.",
        status.file,
        status.version,
        status.active_version,
        status.reason.as_deref().unwrap_or("no reason recorded"),
        status.exchange_id,
        status.exchange_id,
    )
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

    // ---- plugins (plugin registry) ----

    /// A plugin was loaded, rejected or removed.
    pub fn plugin_event(&self, event: &PluginEvent) {
        let now = now_ms();
        let m = &self.inner.metrics;
        let file_name = |f: &std::path::Path| {
            f.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        match event {
            PluginEvent::Loaded {
                file,
                exchange_id,
                version,
                replaced,
            } => {
                let previous = self.state().plugins.insert(
                    exchange_id.clone(),
                    PluginStatus {
                        exchange_id: exchange_id.clone(),
                        version: version.clone(),
                        file: file_name(file),
                        loaded_ms: now,
                        replaced: *replaced,
                    },
                );
                if let Some(old) = previous {
                    m.plugins_loaded.remove(&PluginLabels {
                        exchange: old.exchange_id,
                        version: old.version,
                    });
                }
                m.plugins_loaded
                    .get_or_create(&PluginLabels {
                        exchange: exchange_id.clone(),
                        version: version.clone(),
                    })
                    .set(1);
                let verb = if *replaced { "replaced" } else { "loaded" };
                self.publish(
                    EventKind::Plugin,
                    Severity::Info,
                    Some(exchange_id),
                    format!("plugin {verb}: {} {version}", file_name(file)),
                );
            }
            PluginEvent::Failed { file, error } => {
                m.plugin_load_failures.inc();
                self.publish(
                    EventKind::Plugin,
                    Severity::Warning,
                    None,
                    truncate(
                        &format!("plugin rejected: {}: {error}", file_name(file)),
                        MAX_ERROR_TEXT,
                    ),
                );
            }
            PluginEvent::Refused { reason, error, .. } => {
                let severity = if *reason == RefusalReason::Duplicate {
                    Severity::Warning
                } else {
                    Severity::Critical
                };
                self.publish(
                    EventKind::Plugin,
                    severity,
                    None,
                    truncate(error, MAX_ERROR_TEXT),
                );
            }
            PluginEvent::Insecure { warning, .. } => {
                self.publish(
                    EventKind::Plugin,
                    Severity::Warning,
                    None,
                    truncate(warning, MAX_ERROR_TEXT),
                );
            }
            PluginEvent::Summary(summary) => self.plugin_registry(summary),
            PluginEvent::Canary {
                exchange_id,
                file,
                version,
                generation,
                event,
            } => self.canary_event(exchange_id, &file_name(file), version, *generation, event),
            PluginEvent::Removed { file, exchange_id } => {
                if let Some(old) = self.state().plugins.remove(exchange_id) {
                    m.plugins_loaded.remove(&PluginLabels {
                        exchange: old.exchange_id,
                        version: old.version,
                    });
                }
                self.publish(
                    EventKind::Plugin,
                    Severity::Warning,
                    Some(exchange_id),
                    format!("plugin file removed: {}", file_name(file)),
                );
            }
        }
    }

    /// A canary candidate started, was decided or superseded.
    fn canary_event(
        &self,
        exchange_id: &str,
        file: &str,
        version: &str,
        generation: u64,
        event: &CanaryEvent,
    ) {
        let (severity, text) = match event {
            CanaryEvent::Started {
                active_version,
                status,
            } => {
                self.canary_progress(status, Verdict::Continue);
                (
                    Severity::Info,
                    format!(
                        "plugin canary started: {file} {version} parses beside the running {active_version} ({} agreeing cycles per kind before it serves)",
                        status.cycles_required
                    ),
                )
            }
            CanaryEvent::Promoted { by } => (
                Severity::Info,
                format!(
                    "plugin canary promoted: {file} {version} serves now ({})",
                    match by {
                        Decider::Canary => "every kind agreed",
                        Decider::Operator => "by an operator",
                    }
                ),
            ),
            CanaryEvent::Rejected { by } => (
                Severity::Warning,
                format!(
                    "plugin canary rejected{}: {file} {version} will not serve; the running version stays until the file changes",
                    match by {
                        Decider::Canary => "",
                        Decider::Operator => " by an operator",
                    }
                ),
            ),
            CanaryEvent::Superseded => (
                Severity::Info,
                format!("plugin canary ended: {file} {version} was replaced or removed before a decision"),
            ),
        };
        if !matches!(event, CanaryEvent::Started { .. }) {
            let mut state = self.state();
            // A worker's report still on its way must not bring the canary back.
            if state.ended_canaries.len() >= MAX_ENDED_CANARIES {
                state.ended_canaries.pop_front();
            }
            state.ended_canaries.push_back(generation);
            if state
                .plugin_canaries
                .get(exchange_id)
                .is_some_and(|c| c.generation == generation)
            {
                state.plugin_canaries.remove(exchange_id);
                drop(state);
                self.set_canary_state(exchange_id, None);
            }
        }
        self.publish(EventKind::Plugin, severity, Some(exchange_id), text);
    }

    /// `plugin_canary{exchange, state}`: 1 for `state`, 0 for the others (all 0: none).
    fn set_canary_state(&self, exchange_id: &str, state: Option<CanaryState>) {
        for s in CanaryState::ALL {
            self.inner
                .metrics
                .plugin_canary
                .get_or_create(&CanaryStateLabels {
                    exchange: exchange_id.to_owned(),
                    state: s.as_str(),
                })
                .set(i64::from(Some(s) == state));
        }
    }

    /// A canary compared a cycle (`verdict`: what it concluded); `status` is its standing now.
    pub fn canary_progress(&self, status: &CanaryStatus, verdict: Verdict) {
        let m = &self.inner.metrics;
        let exchange = status.exchange_id.clone();
        let result = match verdict {
            Verdict::Continue | Verdict::Promote => Some("agreed"),
            Verdict::HoldBack => Some("diverged"),
            Verdict::Ignored => None,
        };
        if result.is_some() {
            // Both series exist from the first report on, at 0.
            for result in ["agreed", "diverged"] {
                let _ = m.plugin_canary_cycles.get_or_create(&CanaryCycleLabels {
                    exchange: exchange.clone(),
                    result,
                });
            }
        }
        let counted = |s: &CanaryStatus| s.kinds.iter().map(|k| k.agreed + k.diverged).sum::<u32>();
        let previous = {
            let mut state = self.state();
            if state.ended_canaries.contains(&status.generation) {
                return;
            }
            let previous = state
                .plugin_canaries
                .get(&exchange)
                .filter(|p| p.generation == status.generation)
                .cloned();
            // Reports of two instances may arrive out of order: never go back.
            if previous
                .as_ref()
                .is_some_and(|p| counted(p) > counted(status))
            {
                return;
            }
            state
                .plugin_canaries
                .insert(exchange.clone(), status.clone());
            previous
        };
        let before = previous.as_ref().map_or(0, counted);
        if let (Some(result), true) = (result, counted(status) > before) {
            m.plugin_canary_cycles
                .get_or_create(&CanaryCycleLabels {
                    exchange: exchange.clone(),
                    result,
                })
                .inc_by(u64::from(counted(status) - before));
        }
        for divergence in &status.divergences {
            let before = previous
                .as_ref()
                .and_then(|p| p.divergences.iter().find(|d| d.field == divergence.field))
                .map_or(0, |d| d.records);
            if divergence.records > before {
                m.plugin_canary_divergent_records
                    .get_or_create(&CanaryFieldLabels {
                        exchange: exchange.clone(),
                        field: divergence.field.clone(),
                    })
                    .inc_by(divergence.records - before);
            }
        }
        self.set_canary_state(&exchange, Some(status.state));
        let was_held = previous.is_some_and(|p| p.state == CanaryState::HeldBack);
        if status.state == CanaryState::HeldBack && !was_held {
            self.publish(
                EventKind::Plugin,
                Severity::Critical,
                Some(&exchange),
                truncate(&canary_held_back_summary(status), MAX_ERROR_TEXT),
            );
        }
    }

    /// The plugin registry's standing: refused files (gauge by reason, status list) and
    /// retired versions (gauges, status; a feed event when they pass the limit).
    fn plugin_registry(&self, summary: &RegistrySummary) {
        let m = &self.inner.metrics;
        for reason in RefusalReason::ALL {
            let n = summary
                .refused
                .iter()
                .filter(|r| r.reason == reason)
                .count();
            m.plugin_files_refused
                .get_or_create(&ReasonLabels {
                    reason: reason.as_str(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        let retired = RetiredPlugins {
            versions: summary.retired_versions,
            mapped_bytes: summary.retired_mapped_bytes,
            max: summary.max_retired as u64,
        };
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        m.plugins_retired.set(gauge(retired.versions));
        m.plugins_retired_mapped_bytes
            .set(gauge(retired.mapped_bytes));
        m.plugins_retired_max.set(gauge(retired.max));
        let was_over = {
            let mut state = self.state();
            state.plugin_refusals = summary
                .refused
                .iter()
                .map(|r| PluginRefusal {
                    path: r.path.display().to_string(),
                    reason: r.reason.as_str(),
                    message: truncate(&r.message, MAX_ERROR_TEXT),
                })
                .collect();
            let previous = std::mem::replace(&mut state.retired_plugins, retired);
            previous.versions > previous.max
        };
        if retired.versions > retired.max && !was_over {
            self.publish(
                EventKind::Plugin,
                Severity::Warning,
                None,
                retired_summary(&retired),
            );
        }
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

    /// Adds one past sample to an exchange's chart history only (no metrics): for demos and
    /// tests that need an hour of history without waiting an hour.
    #[doc(hidden)]
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
                let h = health.get(id);
                let ex = state.exchanges.get(id);
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
                let plugin_id = ex
                    .and_then(|e| e.plugin_id.as_deref())
                    .unwrap_or(id.as_str());
                ExchangeStatus {
                    id: id.clone(),
                    status: h.map(|h| h.status),
                    breaker: h
                        .map(|h| h.breaker)
                        .or(ex.map(|e| e.breaker))
                        .unwrap_or(BreakerState::Closed),
                    breaker_since_ms: ex.and_then(|e| e.breaker_since_ms),
                    last_success_ms: h.and_then(|h| h.last_success_ms),
                    last_error: h
                        .and_then(|h| h.last_error.as_deref().map(|e| truncate(e, MAX_ERROR_TEXT))),
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
                }
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

#[cfg(test)]
mod tests {
    use super::*;

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
        use crate::plugins::{Refusal, RegistrySummary};
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

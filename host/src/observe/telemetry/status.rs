//! The status as `/api/status`, the dashboard and the alert rules read it: per exchange, the
//! sink, config, plugins (loaded, refused, retired, canaries), alerts, notifiers, process,
//! readiness; and the one-line summaries shown for retired versions and held-back canaries.
//!
//! Owns the shapes of the snapshot. Must not compute them (the handle's reading side does).

use std::{collections::BTreeMap, net::SocketAddr};

use serde::Serialize;

use super::vocabulary::BudgetPlan;

use crate::{observe::health::BreakerState, observe::health::HealthStatus};

use super::{
    events::Severity, history::Point, history::Summary, plugin_vocabulary::CanaryStatus,
    vocabulary::ReloadResult, vocabulary::SinkState,
};

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
    /// The rate budget plan: per rule what the kinds need at their intervals against the
    /// budget, and the cadence each kind keeps (`null` until the first rounds were built).
    pub budget_plan: Option<BudgetPlan>,
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

/// What the retired plugin versions cost, for the event feed and the alert.
pub fn retired_summary(retired: &RetiredPlugins) -> String {
    format!(
        "{} retired plugin versions keep {:.1} MiB mapped (limit {}, [plugins] max_retired): a restart reclaims the memory.",
        retired.versions,
        retired.mapped_bytes as f64 / 1048576.0,
        retired.max
    )
}

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

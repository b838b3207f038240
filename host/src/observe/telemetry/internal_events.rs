//! Typed events in the manner of Vector's `internal_events`: one type per thing that happens,
//! whose `emit` writes its log line and updates its metrics, the status and the event feed
//! together, so that no caller logs and counts separately.
//!
//! Owns the log lines of these events. Must not decide anything: the callers say what
//! happened.

use std::time::Duration;

use super::{BudgetPlan, ReloadResult, RequestOutcome, SinkState, Telemetry};
use crate::{
    observe::health::BreakerState,
    observe::telemetry::plugin_vocabulary::{CanaryEvent, CanaryStatus, PluginEvent, Verdict},
};

/// Something that happened in the collector, reported in one call.
pub trait InternalEvent {
    fn emit(self, telemetry: &Telemetry);
}

impl Telemetry {
    /// Reports `event`: its log line, metrics, status and feed entry.
    pub fn emit(&self, event: impl InternalEvent) {
        event.emit(self);
    }
}

/// An exchange's circuit breaker changed state.
#[derive(Debug, Clone, Copy)]
pub struct BreakerTransitioned<'a> {
    pub exchange: &'a str,
    pub from: BreakerState,
    pub to: BreakerState,
    /// For `Open`: how long until the next probe.
    pub cool_down: Option<Duration>,
}

impl InternalEvent for BreakerTransitioned<'_> {
    fn emit(self, telemetry: &Telemetry) {
        let exchange = self.exchange;
        telemetry.health().breaker(exchange, self.to);
        telemetry.breaker(exchange, self.to);
        match self.to {
            BreakerState::Open => {
                tracing::warn!(exchange = %exchange, from = ?self.from, cool_down = ?self.cool_down, "circuit breaker open: requests held back until the next probe")
            }
            BreakerState::HalfOpen => {
                tracing::info!(exchange = %exchange, "circuit breaker half-open: probing")
            }
            BreakerState::Closed => {
                tracing::info!(exchange = %exchange, "circuit breaker closed: exchange recovered")
            }
        }
    }
}

/// The supervisor started an exchange's worker (at start-up, or when a reload added or
/// restarted it).
#[derive(Debug, Clone, Copy)]
pub struct ExchangeStarted<'a> {
    pub exchange: &'a str,
    /// The plugin serving it (the exchange id unless the config names another).
    pub plugin_id: &'a str,
    /// Whether a plugin with that id is loaded now (if not, the worker waits for one).
    pub plugin_loaded: bool,
}

impl InternalEvent for ExchangeStarted<'_> {
    fn emit(self, telemetry: &Telemetry) {
        if !self.plugin_loaded {
            tracing::warn!(exchange = %self.exchange, plugin = %self.plugin_id, "enabled, but no plugin with this exchange id is loaded; it starts when one is dropped into the plugin directory");
        }
        telemetry.exchange_configured(self.exchange, self.plugin_id);
        telemetry.worker_started(self.exchange);
    }
}

/// A reload removed an exchange, or restarted it with new settings (`restarted`): its status
/// and health go; a restarted one starts again with a closed breaker and no failures.
#[derive(Debug, Clone, Copy)]
pub struct ExchangeStopped<'a> {
    pub exchange: &'a str,
    pub restarted: bool,
}

impl InternalEvent for ExchangeStopped<'_> {
    fn emit(self, telemetry: &Telemetry) {
        if !self.restarted {
            telemetry.exchange_removed(self.exchange);
        }
        telemetry.health().remove(self.exchange);
    }
}

/// A config reload was applied, rejected (invalid) or rolled back.
#[derive(Debug, Clone, Copy)]
pub struct ConfigReloaded<'a> {
    pub result: ReloadResult,
    /// The new config's version (`invalid` when it could not be read).
    pub version: &'a str,
    /// What changed, or why it failed.
    pub message: &'a str,
}

impl InternalEvent for ConfigReloaded<'_> {
    fn emit(self, telemetry: &Telemetry) {
        let (version, message) = (self.version, self.message);
        match self.result {
            ReloadResult::Ok => {
                tracing::info!(version = %version, changes = %message, "config reloaded")
            }
            ReloadResult::Invalid => {
                tracing::error!(error = %message, "config reload rejected; the running config stays")
            }
            ReloadResult::RolledBack => {
                tracing::error!(version = %version, error = %message, "config reload failed to apply; rolled back to the previous config")
            }
        }
        telemetry.config_reload(self.result, version, message);
    }
}

/// A request to an exchange got no usable answer (transport failure, retries included).
#[derive(Clone, Copy)]
pub struct RequestFailed<'a> {
    pub exchange: &'a str,
    pub kind: &'a str,
    pub tag: &'a str,
    pub path: &'a str,
    pub outcome: RequestOutcome,
    pub elapsed: Duration,
    pub error: &'a dyn std::fmt::Display,
}

impl InternalEvent for RequestFailed<'_> {
    fn emit(self, telemetry: &Telemetry) {
        telemetry.request(self.exchange, self.kind, self.outcome, self.elapsed, 0);
        tracing::warn!(exchange = %self.exchange, kind = %self.kind, tag = %self.tag, path = %self.path, error = %self.error, "request failed");
    }
}

/// A kind's cycle is over: what it parsed, suppressed as unchanged and sent.
#[derive(Debug, Clone, Copy)]
pub struct CycleFinished<'a> {
    pub exchange: &'a str,
    pub kind: &'a str,
    pub requests: usize,
    pub held_back: usize,
    pub failures: usize,
    pub parsed: usize,
    pub suppressed: usize,
    pub sent: usize,
    /// The newest exchange timestamp among the cycle's records (data age).
    pub newest_exchange_ts: Option<i64>,
    pub elapsed: Duration,
}

impl InternalEvent for CycleFinished<'_> {
    fn emit(self, telemetry: &Telemetry) {
        telemetry.cycle(
            self.exchange,
            self.kind,
            self.parsed,
            self.suppressed,
            self.sent,
            self.newest_exchange_ts,
        );
        tracing::debug!(exchange = %self.exchange, kind = %self.kind, requests = self.requests, held_back = self.held_back, failures = self.failures, records = self.parsed, sent = self.sent, elapsed_ms = self.elapsed.as_millis() as u64, "cycle done");
    }
}

/// The sink wrote what it was handed (`delivered` of `handed`: the rest was unencodable or
/// unroutable, given up for good).
#[derive(Debug, Clone, Copy)]
pub struct SinkWritten<'a> {
    pub sink: &'a str,
    pub handed: u64,
    pub delivered: u64,
    /// The write succeeded after failed attempts.
    pub after_retry: bool,
    /// Records waiting in the memory buffer behind this write.
    pub waiting: usize,
    /// The sink state is this write's to report (a sink that reports its own, AMQP, is not).
    pub report_state: bool,
}

impl InternalEvent for SinkWritten<'_> {
    fn emit(self, telemetry: &Telemetry) {
        telemetry.sink_sent(self.delivered);
        telemetry.sink_failed(self.handed.saturating_sub(self.delivered));
        if self.report_state {
            telemetry.sink_state(SinkState::Ok, self.sink);
        }
        if self.after_retry {
            tracing::info!(
                sink = self.sink,
                records = self.handed,
                waiting = self.waiting,
                "sink write succeeded again"
            );
        }
    }
}

/// A sink write failed; it is retried while new batches wait in memory.
#[derive(Clone, Copy)]
pub struct SinkWriteFailed<'a> {
    pub sink: &'a str,
    pub error: &'a dyn std::fmt::Display,
    /// The first failure of this write (later ones are logged at debug level).
    pub first: bool,
    /// As in [`SinkWritten`].
    pub report_state: bool,
}

impl InternalEvent for SinkWriteFailed<'_> {
    fn emit(self, telemetry: &Telemetry) {
        if self.report_state {
            telemetry.sink_state(SinkState::Failing, &self.error.to_string());
        }
        if self.first {
            tracing::error!(sink = self.sink, error = %self.error, "sink write failed; retrying, new batches wait in memory");
        } else {
            tracing::debug!(sink = self.sink, error = %self.error, "sink write failed again");
        }
    }
}

/// A plugin was loaded, refused, removed; the registry's standing; a canary's course.
impl InternalEvent for &PluginEvent {
    fn emit(self, telemetry: &Telemetry) {
        log_plugin_event(self);
        telemetry.plugin_event(self);
    }
}

fn log_plugin_event(event: &PluginEvent) {
    match event {
        PluginEvent::Loaded {
            file,
            exchange_id,
            version,
            replaced,
        } => {
            tracing::info!(file = %file.display(), exchange = %exchange_id, version = %version, replaced, "plugin loaded")
        }
        PluginEvent::Failed { error, .. } => tracing::error!(error = %error, "plugin rejected"),
        PluginEvent::Refused {
            file,
            reason,
            error,
        } => {
            tracing::error!(file = %file.display(), reason = reason.as_str(), error = %error, "plugin refused")
        }
        PluginEvent::Insecure { file, warning } => {
            tracing::warn!(file = %file.display(), warning = %warning, "plugin trust check waived")
        }
        PluginEvent::Removed { file, exchange_id } => {
            tracing::warn!(file = %file.display(), exchange = %exchange_id, "plugin file removed")
        }
        PluginEvent::Summary(summary) if summary.retired_versions > summary.max_retired as u64 => {
            tracing::warn!(
                retired = summary.retired_versions,
                mapped_bytes = summary.retired_mapped_bytes,
                max_retired = summary.max_retired,
                "retired plugin versions above [plugins] max_retired: their code stays mapped until a restart"
            )
        }
        PluginEvent::Summary(summary) => {
            tracing::debug!(
                refused = summary.refused.len(),
                retired = summary.retired_versions,
                "plugin registry"
            )
        }
        PluginEvent::Canary {
            exchange_id,
            file,
            version,
            event,
            ..
        } => match event {
            CanaryEvent::Started {
                active_version,
                status,
            } => tracing::info!(
                file = %file.display(), exchange = %exchange_id, version = %version,
                active_version = %active_version, cycles = status.cycles_required,
                "plugin canary started: the new version parses beside the running one and serves once every kind agreed"
            ),
            CanaryEvent::Promoted { by } => tracing::info!(
                file = %file.display(), exchange = %exchange_id, version = %version, by = ?by,
                "plugin canary promoted"
            ),
            CanaryEvent::Rejected { by } => tracing::warn!(
                file = %file.display(), exchange = %exchange_id, version = %version, by = ?by,
                "plugin canary rejected: the running version stays until the file changes"
            ),
            CanaryEvent::Superseded => tracing::info!(
                file = %file.display(), exchange = %exchange_id, version = %version,
                "plugin canary ended: its file changed or went away"
            ),
        },
    }
}

/// A canary (a new plugin version parsing the same responses as the running one) was compared
/// over one cycle of `kind`, with this verdict.
#[derive(Debug, Clone, Copy)]
pub struct CanaryCycleCompared<'a> {
    pub kind: &'a str,
    pub status: &'a CanaryStatus,
    pub verdict: Verdict,
}

impl InternalEvent for CanaryCycleCompared<'_> {
    fn emit(self, telemetry: &Telemetry) {
        let (exchange, kind, status) = (&self.status.exchange_id, self.kind, self.status);
        match self.verdict {
            Verdict::HoldBack => {
                tracing::error!(exchange = %exchange, kind = %kind, version = %status.version, reason = status.reason.as_deref().unwrap_or(""), "plugin canary held back: the new version disagrees with the running one, which keeps serving")
            }
            Verdict::Promote => {
                tracing::info!(exchange = %exchange, kind = %kind, version = %status.version, "plugin canary agreed on every kind: promoting")
            }
            Verdict::Continue => {
                tracing::debug!(exchange = %exchange, kind = %kind, version = %status.version, "plugin canary cycle agreed")
            }
            // Already decided by another kind's cycle: nothing to report.
            Verdict::Ignored => return,
        }
        telemetry.canary_progress(status, self.verdict);
    }
}

/// An exchange's rate budget plan changed (a kind's round weight, the instruments, the
/// config). A rule's over-budget warning is logged when the rule becomes over budget (not again
/// while only its numbers change), and once when every rule fits again.
#[derive(Debug, Clone, Copy)]
pub struct BudgetPlanned<'a> {
    pub exchange: &'a str,
    pub plan: &'a BudgetPlan,
    /// The plan's warnings, one per rule in `over_budget` (same order).
    pub warnings: &'a [String],
    /// The rules over budget now and in the previous plan (`collect::plan`).
    pub over_budget: &'a [String],
    pub previously_over_budget: &'a [String],
}

impl InternalEvent for BudgetPlanned<'_> {
    fn emit(self, telemetry: &Telemetry) {
        telemetry.budget_plan(self.exchange, self.plan);
        for (rule, w) in self.over_budget.iter().zip(self.warnings) {
            if !self.previously_over_budget.contains(rule) {
                tracing::warn!(exchange = %self.exchange, "rate budget: {w}");
            }
        }
        if self.over_budget.is_empty() && !self.previously_over_budget.is_empty() {
            tracing::info!(exchange = %self.exchange, "rate budget: every kind runs at its configured interval again");
        }
    }
}

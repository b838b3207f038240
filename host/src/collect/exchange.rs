//! One exchange instance's state shared by its kind tasks, which survives plugin replacement:
//! its spec, instruments, record store, change detection, circuit breaker and the plugin set
//! (current plugin and canary), with the breaker and health accounting of its requests, and
//! the rate budget plan of its kinds.
//!
//! Owns that state and the accounting. Must not run cycles (`cycle` does) or start and stop
//! tasks (`worker` does); depends on neither.

use std::{sync::Arc, time::Duration};

use plugin_api::{KindSpec, Record};
use tokio::sync::{mpsc, watch, Mutex, RwLock};

use crate::{
    bench::instruments::ResponseClock,
    clock::now_ms,
    collect::breaker::{CircuitBreaker, Transition},
    collect::plan::{BudgetPlan, KindDemand, RuleBudget},
    config::{BreakerConfig, ChangeDetectionConfig, ExchangeConfig, HttpConfig},
    observe::telemetry::internal_events::{BreakerTransitioned, BudgetPlanned},
    observe::telemetry::Telemetry,
    output::sink::Batch,
    plugins::{canary::Verdict, Canary, LoadedPlugin, PluginSet},
    state::change_detection::ChangeDetector,
    state::record_store::RecordStore,
};

/// What the supervisor hands a worker.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    pub instance_id: String,
    pub config: ExchangeConfig,
    pub http: HttpConfig,
    pub breaker: BreakerConfig,
    pub change_detection: ChangeDetectionConfig,
    /// Metrics, events and the exchange health table (`telemetry.health()`).
    pub telemetry: Telemetry,
}

impl WorkerSpec {
    pub fn plugin_id(&self) -> &str {
        self.config.plugin_id(&self.instance_id)
    }
}

/// State shared by one exchange's kind tasks; survives plugin replacement.
pub(super) struct Shared {
    pub(super) spec: WorkerSpec,
    pub(super) instruments: RwLock<Arc<Vec<Record>>>,
    pub(super) instruments_ready: watch::Sender<bool>,
    pub(super) store: Mutex<RecordStore>,
    pub(super) changes: Mutex<ChangeDetector>,
    pub(super) breaker: std::sync::Mutex<CircuitBreaker>,
    pub(super) plugins: watch::Receiver<Arc<PluginSet>>,
    pub(super) sink: mpsc::Sender<Batch>,
    /// Set only by benchmarks ([`OnDemandCollector::measure_responses`]).
    pub(super) response_clock: std::sync::OnceLock<ResponseClock>,
    /// The rate budget plan of the running kinds.
    pub(super) plan: std::sync::Mutex<PlanBook>,
}

/// What the plan is made from, and the plan.
#[derive(Default)]
pub(super) struct PlanBook {
    demands: Vec<KindDemand>,
    plan: BudgetPlan,
    /// The rules over budget in the last plan (`BudgetPlan::over_budget_rules`).
    over_budget: Vec<String>,
}

impl Shared {
    pub(super) fn new(
        spec: WorkerSpec,
        plugins: watch::Receiver<Arc<PluginSet>>,
        sink: mpsc::Sender<Batch>,
    ) -> Arc<Self> {
        let (ready_tx, _) = watch::channel(false);
        let changes = ChangeDetector::new(
            spec.change_detection.heartbeat.0,
            spec.change_detection.max_entries,
        );
        let breaker = CircuitBreaker::new(spec.breaker.clone());
        Arc::new(Shared {
            spec,
            instruments: RwLock::new(Arc::new(Vec::new())),
            instruments_ready: ready_tx,
            store: Mutex::new(RecordStore::new()),
            changes: Mutex::new(changes),
            breaker: std::sync::Mutex::new(breaker),
            plugins,
            sink,
            response_clock: std::sync::OnceLock::new(),
            plan: std::sync::Mutex::new(PlanBook::default()),
        })
    }

    pub(super) fn current_plugin(&self) -> Option<Arc<LoadedPlugin>> {
        self.plugins.borrow().get(self.spec.plugin_id()).cloned()
    }

    /// The canary candidate compared with `plugin` on `kind`, if one is comparing.
    pub(super) fn canary_for(&self, plugin: &LoadedPlugin, kind: &str) -> Option<Arc<Canary>> {
        self.plugins
            .borrow()
            .canary(self.spec.plugin_id())
            .filter(|c| c.active_generation == plugin.generation && c.compares(kind))
            .cloned()
    }

    /// Tells the current canary candidate (if any) which kinds this instance runs.
    pub(super) fn enlist_in_canary(&self, plugin: &LoadedPlugin) {
        let canary = self.plugins.borrow().canary(self.spec.plugin_id()).cloned();
        if let Some(canary) = canary.filter(|c| c.active_generation == plugin.generation) {
            let kinds: Vec<(String, Option<Duration>)> = plugin
                .info
                .kinds
                .iter()
                .map(|k| (k.name.to_string(), interval_for(&self.spec.config, k)))
                .collect();
            canary.enlist(&self.spec.instance_id, &kinds);
            // An enlisted kind the candidate lacks holds it back at once.
            if canary.state() == crate::plugins::CanaryState::HeldBack {
                self.spec
                    .telemetry
                    .canary_progress(&canary.status(), Verdict::HoldBack);
            }
        }
    }

    /// Notes what `demand`'s kind asked of the budget this round and plans again; returns the
    /// cadence the kind keeps.
    pub(super) fn plan_round(&self, rules: &[RuleBudget], demand: KindDemand) -> f64 {
        let mut book = self.plan.lock().unwrap_or_else(|p| p.into_inner());
        let kind = demand.kind.clone();
        match book.demands.iter_mut().find(|d| d.kind == kind) {
            Some(d) => *d = demand,
            None => book.demands.push(demand),
        }
        let plan = BudgetPlan::new(rules, &book.demands);
        let cadence = plan.cadence(&kind);
        if plan != book.plan {
            let warnings = plan.warnings(&self.spec.instance_id);
            let over_budget = plan.over_budget_rules();
            self.spec.telemetry.emit(BudgetPlanned {
                exchange: &self.spec.instance_id,
                plan: &plan,
                warnings: &warnings,
                over_budget: &over_budget,
                previously_over_budget: &book.over_budget,
            });
            book.plan = plan;
            book.over_budget = over_budget;
        }
        cadence
    }

    /// The cadence the plan gives `kind` (1 until its first round is planned).
    pub(super) fn cadence(&self, kind: &str) -> f64 {
        self.plan
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .plan
            .cadence(kind)
    }

    /// Forgets the kinds of a previous plugin (its tasks are being replaced).
    pub(super) fn reset_plan(&self) {
        self.plan
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .demands
            .clear();
    }

    pub(super) fn on_transition(&self, t: Transition) {
        self.spec.telemetry.emit(BreakerTransitioned {
            exchange: &self.spec.instance_id,
            from: t.from,
            to: t.to,
            cool_down: t.cool_down,
        });
    }

    pub(super) fn breaker(&self) -> std::sync::MutexGuard<'_, CircuitBreaker> {
        self.breaker.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one request for the breaker and the health table.
    pub(super) fn record_outcome(&self, ok: bool, error: Option<&str>) {
        let now = tokio::time::Instant::now();
        let exchange = self.spec.instance_id.as_str();
        let transition = if ok {
            self.spec.telemetry.health().success(exchange, now_ms());
            self.breaker().record_success(now)
        } else {
            self.spec
                .telemetry
                .health()
                .failure(exchange, now_ms(), error.unwrap_or("failed"));
            self.breaker().record_failure(now)
        };
        if let Some(t) = transition {
            self.on_transition(t);
        }
    }
}

/// The configured interval of a kind, the plugin's default when not configured, `None` if off.
pub(super) fn interval_for(config: &ExchangeConfig, kind: &KindSpec) -> Option<Duration> {
    match config.intervals.get(kind.name.as_str()) {
        Some(configured) => configured.0,
        None => Some(Duration::from_millis(kind.default_interval_ms)),
    }
}

//! One exchange instance's collection loop: a task per data kind on its own interval, all
//! sharing the exchange's instruments, record store, HTTP budget and current plugin.
//!
//! Owns the exchange's shared state (instruments, record store, change detection, breaker,
//! current plugin and its canary) and the kind tasks' lifecycle: started when a plugin
//! arrives, kept or restarted when it is replaced, stopped when it goes. The cycle itself is
//! `cycle`. Must not let anything of this exchange block another exchange.

use std::{sync::Arc, time::Duration};

use plugin_api::{KindSpec, Record, RecordKind};
use tokio::{
    sync::{mpsc, watch, Mutex, RwLock},
    task::JoinSet,
};

use super::cycle::{CycleOutcome, KindTask, SeenWarnings};
use crate::{
    bench::instruments::ResponseClock,
    clock::now_ms,
    collect::breaker::{CircuitBreaker, Transition},
    collect::http::{ExchangeHttp, HttpClient},
    config::{BreakerConfig, ChangeDetectionConfig, ExchangeConfig, HttpConfig},
    observe::telemetry::internal_events::BreakerTransitioned,
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

/// What decides whether kind tasks must be restarted when the plugin is replaced.
#[derive(Debug, Clone, PartialEq)]
struct Layout {
    base_url: String,
    kinds: Vec<(String, Option<Duration>, bool)>,
    rate_limits: Vec<(String, u32, u64)>,
}

fn layout(spec: &WorkerSpec, plugin: &LoadedPlugin) -> Layout {
    let info = &plugin.info;
    Layout {
        base_url: spec
            .config
            .base_url
            .clone()
            .unwrap_or_else(|| info.default_base_url.to_string()),
        kinds: info
            .kinds
            .iter()
            .map(|k| {
                (
                    k.name.to_string(),
                    interval_for(&spec.config, k),
                    k.needs_instruments,
                )
            })
            .collect(),
        rate_limits: info
            .rate_limits
            .iter()
            .map(|r| (r.path_prefix.to_string(), r.limit, r.window_ms))
            .collect(),
    }
}

/// The configured interval of a kind, the plugin's default when not configured, `None` if off.
fn interval_for(config: &ExchangeConfig, kind: &KindSpec) -> Option<Duration> {
    match config.intervals.get(kind.name.as_str()) {
        Some(configured) => configured.0,
        None => Some(Duration::from_millis(kind.default_interval_ms)),
    }
}

/// Runs one exchange instance until `stop` turns true. Waits for its plugin if none is loaded,
/// follows plugin replacements, and stops collecting if the plugin file is removed.
pub async fn run_exchange(
    spec: WorkerSpec,
    client: HttpClient,
    plugins: watch::Receiver<Arc<PluginSet>>,
    sink: mpsc::Sender<Batch>,
    mut stop: watch::Receiver<bool>,
) {
    let exchange = spec.instance_id.clone();
    let shared = Shared::new(spec, plugins.clone(), sink);
    let mut plugin_changes = plugins;
    let mut running: Option<(Layout, u64, JoinSet<()>)> = None;
    let mut waiting_logged = false;

    loop {
        let plugin = shared.current_plugin();
        match (&plugin, &mut running) {
            (None, _) => {
                if let Some((_, _, tasks)) = running.take() {
                    tracing::warn!(exchange = %exchange, plugin = shared.spec.plugin_id(), "plugin removed; collection paused");
                    drop(tasks);
                }
                if !waiting_logged {
                    tracing::warn!(exchange = %exchange, plugin = shared.spec.plugin_id(), "no plugin loaded for this exchange yet; waiting for one");
                    waiting_logged = true;
                }
            }
            // The plugin we run is still the current one: nothing to do.
            (Some(p), Some((_, generation, _))) if *generation == p.generation => {}
            (Some(p), slot) => {
                let new_layout = layout(&shared.spec, p);
                let keep = matches!(slot, Some((l, _, _)) if *l == new_layout);
                if keep {
                    if let Some((_, generation, _)) = slot.as_mut() {
                        *generation = p.generation;
                    }
                    tracing::info!(exchange = %exchange, version = %p.info.plugin_version, "plugin replaced; new requests use the new copy");
                } else {
                    if slot.is_some() {
                        tracing::info!(exchange = %exchange, version = %p.info.plugin_version, "plugin replaced with different kinds or limits; restarting kind tasks");
                    } else {
                        tracing::info!(exchange = %exchange, version = %p.info.plugin_version, base_url = %new_layout.base_url, "starting collection");
                    }
                    let tasks = spawn_kind_tasks(&shared, &new_layout, p, &client, &stop);
                    *slot = Some((new_layout, p.generation, tasks));
                }
                waiting_logged = false;
            }
        }
        if let Some(p) = &plugin {
            shared.enlist_in_canary(p);
        }

        tokio::select! {
            _ = stop.changed() => break,
            changed = plugin_changes.changed() => {
                if changed.is_err() {
                    break;
                }
            }
        }
    }

    // Graceful: kind tasks see `stop` too and finish their current cycle.
    if let Some((_, _, mut tasks)) = running.take() {
        while tasks.join_next().await.is_some() {}
    }
    tracing::debug!(exchange = %exchange, "worker stopped");
}

fn spawn_kind_tasks(
    shared: &Arc<Shared>,
    layout: &Layout,
    plugin: &LoadedPlugin,
    client: &HttpClient,
    stop: &watch::Receiver<bool>,
) -> JoinSet<()> {
    let http = Arc::new(ExchangeHttp::new(
        client.clone(),
        &layout.base_url,
        plugin.info.rate_limits.as_slice(),
        shared.spec.http.clone(),
        &shared.spec.instance_id,
        shared.spec.telemetry.clone(),
    ));
    let has_instruments = plugin.info.kinds.iter().any(|k| {
        k.emits == RecordKind::INSTRUMENT && interval_for(&shared.spec.config, k).is_some()
    });
    for name in shared.spec.config.intervals.keys() {
        if !plugin.info.kinds.iter().any(|k| k.name.as_str() == name) {
            tracing::warn!(exchange = %shared.spec.instance_id, kind = %name, "configured interval for a kind this plugin does not have; ignored");
        }
    }
    let mut tasks = JoinSet::new();
    for kind in plugin.info.kinds.iter() {
        let Some(period) = interval_for(&shared.spec.config, kind) else {
            tracing::info!(exchange = %shared.spec.instance_id, kind = %kind.name, "kind is off");
            continue;
        };
        let wait_for_instruments = kind.needs_instruments && has_instruments;
        if kind.needs_instruments && !has_instruments {
            tracing::warn!(exchange = %shared.spec.instance_id, kind = %kind.name, "needs instruments but the instruments kind is off; running without them");
        }
        let task = KindTask {
            shared: Arc::clone(shared),
            http: Arc::clone(&http),
            kind: kind.name.to_string(),
            emits: kind.emits,
            period,
            wait_for_instruments,
            warnings: Default::default(),
        };
        tasks.spawn(task.run(stop.clone()));
    }
    tasks
}

/// One exchange collected on demand, with exactly the cycle code the scheduled kind tasks run
/// (requests, budget, breaker, merge, change detection, sink), but no schedule. For
/// benchmarks and tools.
pub struct OnDemandCollector {
    shared: Arc<Shared>,
    http: Arc<ExchangeHttp>,
    warnings: Arc<std::sync::Mutex<SeenWarnings>>,
}

impl OnDemandCollector {
    /// Needs the exchange's plugin in `plugins` now. `respect_rate_limits: false` drops the
    /// plugin's documented limits (only against the emulator, to measure the pipeline itself).
    pub fn new(
        spec: WorkerSpec,
        client: HttpClient,
        plugins: watch::Receiver<Arc<PluginSet>>,
        sink: mpsc::Sender<Batch>,
        respect_rate_limits: bool,
    ) -> Result<Self, String> {
        let shared = Shared::new(spec, plugins, sink);
        let plugin = shared.current_plugin().ok_or_else(|| {
            format!(
                "no plugin loaded for exchange id {}",
                shared.spec.plugin_id()
            )
        })?;
        let layout = layout(&shared.spec, &plugin);
        let rules = if respect_rate_limits {
            plugin.info.rate_limits.as_slice()
        } else {
            &[]
        };
        let http = Arc::new(ExchangeHttp::new(
            client,
            &layout.base_url,
            rules,
            shared.spec.http.clone(),
            &shared.spec.instance_id,
            shared.spec.telemetry.clone(),
        ));
        Ok(Self {
            shared,
            http,
            warnings: Default::default(),
        })
    }

    /// Notes, for every batch this collector sends, when its newest response was received
    /// (see [`ResponseClock`]). Only the first clock set counts.
    pub fn measure_responses(&self, clock: ResponseClock) {
        let _ = self.shared.response_clock.set(clock);
    }

    /// Runs one cycle of `kind` now.
    pub async fn collect(&self, kind: &str) -> Result<CycleOutcome, String> {
        let plugin = self.shared.current_plugin().ok_or("plugin gone")?;
        let spec = plugin
            .info
            .kinds
            .iter()
            .find(|k| k.name.as_str() == kind)
            .ok_or_else(|| format!("plugin {} has no kind {kind}", plugin.exchange_id()))?;
        let task = KindTask {
            shared: Arc::clone(&self.shared),
            http: Arc::clone(&self.http),
            kind: kind.to_owned(),
            emits: spec.emits,
            period: Duration::from_millis(spec.default_interval_ms),
            wait_for_instruments: false,
            warnings: Arc::clone(&self.warnings),
        };
        Ok(task.cycle().await)
    }
}

//! One exchange instance's collection loop: a task per data kind on its own interval, all
//! sharing the exchange's instruments, record store, HTTP budget and current plugin.
//!
//! Owns the cycle: build requests → execute → parse (follow pagination) → merge → sink, and
//! while a replaced plugin is a canary candidate, the candidate's parse of the same responses
//! for comparison (its records are never published). Must not let anything of this exchange
//! block another exchange: every wait here is this exchange's own (its budget, its timeouts,
//! its sink back-pressure share).

use std::{
    collections::{BTreeMap, HashSet},
    sync::Arc,
    time::Duration,
};

use futures_util::future::join_all;
use plugin_api::{
    abi_stable::std_types::{ROption, RSlice, RStr},
    Context, HttpRequest, HttpResponse, IdentityStr, KeyValueRef, KindSpec, Record, RecordKind,
};
use tokio::{
    sync::{mpsc, watch, Mutex, RwLock},
    task::JoinSet,
};

use crate::{
    bench::instruments::{timed, PipelineCpu, ResponseClock},
    clock::now_ms,
    collect::breaker::{CircuitBreaker, Transition},
    collect::http::{ExchangeHttp, HttpClient, RawResponse, TransportError},
    config::{BreakerConfig, ChangeDetectionConfig, ExchangeConfig, HttpConfig},
    observe::health::BreakerState,
    observe::telemetry::{RequestOutcome, Telemetry},
    output::sink::Batch,
    plugins::{
        canary::{CycleComparison, Verdict},
        Canary, LoadedPlugin, PluginSet,
    },
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
struct Shared {
    spec: WorkerSpec,
    instruments: RwLock<Arc<Vec<Record>>>,
    instruments_ready: watch::Sender<bool>,
    store: Mutex<RecordStore>,
    changes: Mutex<ChangeDetector>,
    breaker: std::sync::Mutex<CircuitBreaker>,
    plugins: watch::Receiver<Arc<PluginSet>>,
    sink: mpsc::Sender<Batch>,
    /// Set only by benchmarks ([`OnDemandCollector::measure_responses`]).
    response_clock: std::sync::OnceLock<ResponseClock>,
}

impl Shared {
    fn new(
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

    fn current_plugin(&self) -> Option<Arc<LoadedPlugin>> {
        self.plugins.borrow().get(self.spec.plugin_id()).cloned()
    }

    /// The canary candidate compared with `plugin` on `kind`, if one is comparing.
    fn canary_for(&self, plugin: &LoadedPlugin, kind: &str) -> Option<Arc<Canary>> {
        self.plugins
            .borrow()
            .canary(self.spec.plugin_id())
            .filter(|c| c.active_generation == plugin.generation && c.compares(kind))
            .cloned()
    }

    /// Tells the current canary candidate (if any) which kinds this instance runs.
    fn enlist_in_canary(&self, plugin: &LoadedPlugin) {
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

    fn on_transition(&self, t: Transition) {
        let exchange = self.spec.instance_id.as_str();
        self.spec.telemetry.health().breaker(exchange, t.to);
        self.spec.telemetry.breaker(exchange, t.to);
        match t.to {
            BreakerState::Open => {
                tracing::warn!(exchange = %exchange, from = ?t.from, cool_down = ?t.cool_down, "circuit breaker open: requests held back until the next probe")
            }
            BreakerState::HalfOpen => {
                tracing::info!(exchange = %exchange, "circuit breaker half-open: probing")
            }
            BreakerState::Closed => {
                tracing::info!(exchange = %exchange, "circuit breaker closed: exchange recovered")
            }
        }
    }

    fn breaker(&self) -> std::sync::MutexGuard<'_, CircuitBreaker> {
        self.breaker.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one request for the breaker and the health table.
    fn record_outcome(&self, ok: bool, error: Option<&str>) {
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

/// Pause before retrying when the breaker is half-open and another kind holds the probe.
const PROBE_BUSY_RETRY: Duration = Duration::from_millis(250);

/// What one cycle achieved.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CycleOutcome {
    /// Records the plugin produced.
    pub records: usize,
    /// Failed requests and rejected responses.
    pub failures: usize,
    /// Requests not sent because the breaker is open or probing.
    pub held_back: usize,
    /// CPU time this cycle spent on its records on the calling thread (not the network, not
    /// the sink), by stage.
    pub pipeline_cpu: PipelineCpu,
}

impl CycleOutcome {
    fn failed_entirely(&self) -> bool {
        self.records == 0 && self.failures > 0
    }
}

struct KindTask {
    shared: Arc<Shared>,
    http: Arc<ExchangeHttp>,
    kind: String,
    emits: RecordKind,
    period: Duration,
    wait_for_instruments: bool,
    /// Plugin warnings already logged at WARN (the same skipped dated contracts every cycle
    /// would otherwise flood the log).
    warnings: Arc<std::sync::Mutex<SeenWarnings>>,
}

/// Most distinct warnings remembered per kind; beyond it the set starts over (so a warning
/// is then logged at WARN again, which is fine).
const MAX_REMEMBERED_WARNINGS: usize = 256;

/// Warnings seen, by a hash of their text with digits removed (counts vary between cycles).
#[derive(Default)]
struct SeenWarnings {
    seen: HashSet<u64>,
}

impl SeenWarnings {
    fn first_time(&mut self, warning: &str) -> bool {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        warning
            .chars()
            .filter(|c| !c.is_ascii_digit())
            .for_each(|c| c.hash(&mut h));
        if self.seen.len() >= MAX_REMEMBERED_WARNINGS {
            self.seen.clear();
        }
        self.seen.insert(h.finish())
    }
}

/// The outcome of one request, as the breaker and health table count it.
enum Attempt {
    Answered(RawResponse),
    /// Not sent: the breaker is open or another request is probing.
    HeldBack,
    /// No usable response (retries included).
    Failed(TransportError),
}

impl KindTask {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        if self.wait_for_instruments {
            let mut ready = self.shared.instruments_ready.subscribe();
            tokio::select! {
                _ = stop.changed() => return,
                r = ready.wait_for(|ready| *ready) => if r.is_err() { return },
            }
        }
        let mut next = tokio::time::Instant::now();
        let mut failed_streak = 0u32;
        loop {
            tokio::select! {
                biased;
                _ = stop.changed() => return,
                _ = tokio::time::sleep_until(next) => {}
            }
            if *stop.borrow() {
                return;
            }
            let started = tokio::time::Instant::now();
            let outcome = self.cycle().await;
            let now = tokio::time::Instant::now();
            next = if outcome.held_back > 0 && outcome.records == 0 {
                // The breaker holds requests back: come back when it lets the next probe out.
                let open_until = self.shared.breaker().open_until();
                open_until
                    .unwrap_or(now + PROBE_BUSY_RETRY)
                    .max(now + PROBE_BUSY_RETRY)
            } else if outcome.failed_entirely() {
                // Nothing came back: try again soon, never only after a long interval such as
                // the hourly instruments refresh. Bounded by the breaker's cool-down cap so a
                // recovered exchange is noticed as fast as the breaker allows.
                failed_streak = failed_streak.saturating_add(1);
                now + self.failed_cycle_delay(failed_streak)
            } else {
                failed_streak = 0;
                (started + self.period).max(now)
            };
        }
    }

    /// 1×, 2×, 4× … the breaker's first cool-down, capped by its longest and by the period.
    fn failed_cycle_delay(&self, streak: u32) -> Duration {
        let b = &self.shared.spec.breaker;
        b.open_base
            .0
            .saturating_mul(1u32 << streak.saturating_sub(1).min(16))
            .min(b.open_max.0)
            .min(self.period)
    }

    /// Sends one request unless the breaker holds it back.
    async fn execute(&self, request: &HttpRequest) -> Attempt {
        let (allowed, transition) = self.shared.breaker().allow(tokio::time::Instant::now());
        if let Some(t) = transition {
            self.shared.on_transition(t);
        }
        let telemetry = &self.shared.spec.telemetry;
        let exchange = self.shared.spec.instance_id.as_str();
        if !allowed {
            telemetry.request(
                exchange,
                &self.kind,
                RequestOutcome::HeldBack,
                Duration::ZERO,
                0,
            );
            return Attempt::HeldBack;
        }
        let started = tokio::time::Instant::now();
        match self.http.execute(request, &self.kind).await {
            // Reported after `parse`, which may still reject the body.
            Ok(response) => Attempt::Answered(response),
            Err(e) => {
                let took = started.elapsed();
                telemetry.request(exchange, &self.kind, e.kind.outcome(), took, 0);
                Attempt::Failed(e)
            }
        }
    }

    /// One collection cycle of this kind. Failures are logged here and never propagate.
    async fn cycle(&self) -> CycleOutcome {
        let exchange = self.shared.spec.instance_id.as_str();
        let Some(plugin) = self.shared.current_plugin() else {
            return CycleOutcome::default();
        };
        let instruments = Arc::clone(&*self.shared.instruments.read().await);
        let options: Vec<KeyValueRef<'_>> = self
            .shared
            .spec
            .config
            .options
            .iter()
            .map(|(k, v)| KeyValueRef {
                key: RStr::from_str(k),
                value: RStr::from_str(v),
            })
            .collect();
        let ctx = Context {
            exchange_id: RStr::from_str(exchange),
            now_ms: now_ms(),
            instruments: RSlice::from_slice(&instruments),
            options: RSlice::from_slice(&options),
            credentials: ROption::RNone,
        };

        let mut round: Vec<HttpRequest> = match plugin.build_requests(&self.kind, &ctx) {
            Ok(requests) => requests.into_iter().collect(),
            Err(e) => {
                tracing::warn!(exchange = %exchange, kind = %self.kind, error = %e, "plugin could not build requests");
                return CycleOutcome {
                    failures: 1,
                    ..CycleOutcome::default()
                };
            }
        };
        let started = tokio::time::Instant::now();
        let mut records: Vec<Record> = Vec::new();
        let mut outcome = CycleOutcome::default();
        let mut requests_sent = 0usize;
        let mut newest_response: Option<std::time::Instant> = None;
        let mut pages = 0u32;
        // Requests the plugin classified as worth retrying (rate-limit or transient codes in a
        // body), and how many such retry rounds this cycle has had.
        let mut plugin_retries = 0u32;
        let canary = self.shared.canary_for(&plugin, &self.kind);
        let mut comparison = CycleComparison::default();
        while !round.is_empty() {
            let results = join_all(round.iter().map(|r| self.execute(r))).await;
            let mut answered: Vec<(&HttpRequest, RawResponse)> = Vec::with_capacity(round.len());
            for (request, result) in round.iter().zip(results) {
                match result {
                    Attempt::Answered(response) => {
                        requests_sent += 1;
                        newest_response = newest_response.max(Some(response.received_at));
                        answered.push((request, response));
                    }
                    Attempt::HeldBack => outcome.held_back += 1,
                    Attempt::Failed(e) => {
                        requests_sent += 1;
                        outcome.failures += 1;
                        if e.class != plugin_api::ErrorClass::PERMANENT {
                            self.shared
                                .record_outcome(false, Some(&format!("{}: {e}", request.path)));
                        }
                        tracing::warn!(exchange = %exchange, kind = %self.kind, tag = %request.tag, path = %request.path, error = %e, "request failed");
                    }
                }
            }
            if answered.is_empty() {
                break;
            }
            let header_refs: Vec<Vec<KeyValueRef<'_>>> = answered
                .iter()
                .map(|(_, r)| {
                    r.headers
                        .iter()
                        .map(|(k, v)| KeyValueRef {
                            key: RStr::from_str(k),
                            value: RStr::from_str(v),
                        })
                        .collect()
                })
                .collect();
            let responses: Vec<HttpResponse<'_>> = answered
                .iter()
                .zip(&header_refs)
                .map(|((request, r), headers)| HttpResponse {
                    request,
                    status: r.status,
                    headers: RSlice::from_slice(headers),
                    body: RSlice::from_slice(&r.body),
                    received_ts: r.received_ts,
                })
                .collect();
            let out = timed(&mut outcome.pipeline_cpu.parse, || {
                plugin.parse(&self.kind, &responses, &ctx)
            });
            if let Some(canary) = &canary {
                // The candidate parses the same responses; only the comparison is kept.
                let shadow = canary.candidate.parse(&self.kind, &responses, &ctx);
                comparison.add_round(&out, &shadow, canary.declared_changes());
            }
            for warning in out.warnings.iter() {
                if self
                    .warnings
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .first_time(warning.as_str())
                {
                    tracing::warn!(exchange = %exchange, kind = %self.kind, warning = %warning, "plugin warning (repeats are logged at debug level)");
                } else {
                    tracing::debug!(exchange = %exchange, kind = %self.kind, warning = %warning, "plugin warning");
                }
            }
            let mut retry: Vec<HttpRequest> = Vec::new();
            for (request, response) in &answered {
                let errors: Vec<&plugin_api::PluginError> = out
                    .errors
                    .iter()
                    .filter(|e| e.request_tag == request.tag)
                    .collect();
                // Exchange health counts what the exchange did: a rate-limit or server-busy
                // code or garbage is a failure; a permanent error (bad symbol) or a plugin
                // panic is not the exchange being down.
                let unhealthy = errors.iter().find(|e| {
                    matches!(
                        e.class,
                        plugin_api::ErrorClass::TRANSIENT
                            | plugin_api::ErrorClass::RATE_LIMITED
                            | plugin_api::ErrorClass::PARSE
                    )
                });
                match unhealthy {
                    Some(e) => self.shared.record_outcome(false, Some(&e.to_string())),
                    None => self.shared.record_outcome(true, None),
                }
                let reported = match errors.first() {
                    Some(e) => RequestOutcome::from_plugin_error(e.class),
                    None => RequestOutcome::Ok,
                };
                self.shared.spec.telemetry.request(
                    exchange,
                    &self.kind,
                    reported,
                    response.elapsed,
                    response.body.len() as u64,
                );
                for e in errors {
                    if e.class == plugin_api::ErrorClass::RATE_LIMITED {
                        let wait = e.retry_after_ms.into_option().map(Duration::from_millis);
                        self.http.slow_down(&request.path, wait).await;
                    }
                    if matches!(
                        e.class,
                        plugin_api::ErrorClass::RATE_LIMITED | plugin_api::ErrorClass::TRANSIENT
                    ) && !retry.iter().any(|r| r.tag == request.tag)
                    {
                        retry.push((*request).clone());
                    }
                }
            }
            for error in out.errors.iter() {
                outcome.failures += 1;
                tracing::warn!(exchange = %exchange, kind = %self.kind, error = %error, "response rejected by plugin");
            }
            records.extend(out.records);
            round = out.next_requests.into_iter().collect();
            if !retry.is_empty() && plugin_retries < self.shared.spec.http.retries {
                plugin_retries += 1;
                for _ in &retry {
                    self.shared.spec.telemetry.retry(exchange, &self.kind);
                }
                let delay = crate::collect::http::backoff_delay(
                    plugin_retries - 1,
                    self.shared.spec.http.backoff_base.0,
                    self.shared.spec.http.backoff_cap.0,
                );
                tokio::time::sleep(delay).await;
                round.extend(retry);
            }
            pages += 1;
            if pages >= self.shared.spec.http.max_pages && !round.is_empty() {
                tracing::warn!(exchange = %exchange, kind = %self.kind, pages, "stopped following pages at http.max_pages");
                outcome.failures += 1;
                break;
            }
        }

        if let Some(canary) = canary.filter(|_| !comparison.is_empty()) {
            self.report_canary(&canary, comparison);
        }
        let parsed = records.len();
        outcome.records = parsed;
        if self.emits == RecordKind::INSTRUMENT {
            self.update_instruments(&records, outcome.failures == 0 && outcome.held_back == 0)
                .await;
        }
        let default_interval = plugin.info.default_funding_interval_hours;
        let merged = {
            let mut store = self.shared.store.lock().await;
            timed(&mut outcome.pipeline_cpu.merge, || {
                store.apply(records, exchange, default_interval)
            })
        };
        let telemetry = &self.shared.spec.telemetry;
        if self.emits == RecordKind::FUNDING {
            // Before change detection: unchanged rates stay in the dashboard's table.
            telemetry.funding(exchange, &merged);
        }
        let newest_exchange_ts = merged
            .iter()
            .filter_map(|r| r.exchange_ts.into_option())
            .max();
        let (to_send, suppressed) = if self.shared.spec.change_detection.enabled {
            let mut changes = self.shared.changes.lock().await;
            let now = tokio::time::Instant::now();
            let (kept, stats) = timed(&mut outcome.pipeline_cpu.change_detection, || {
                changes.filter(merged, now)
            });
            drop(changes);
            tracing::debug!(exchange = %exchange, kind = %self.kind, changed = stats.changed, heartbeats = stats.heartbeats, suppressed = stats.suppressed, "change detection");
            (kept, stats.suppressed)
        } else {
            (merged, 0)
        };
        telemetry.cycle(
            exchange,
            &self.kind,
            parsed,
            suppressed,
            to_send.len(),
            newest_exchange_ts,
        );
        tracing::debug!(exchange = %exchange, kind = %self.kind, requests = requests_sent, held_back = outcome.held_back, failures = outcome.failures, records = parsed, sent = to_send.len(), elapsed_ms = started.elapsed().as_millis() as u64, "cycle done");
        if !to_send.is_empty() {
            let batch = Batch {
                exchange: exchange.to_owned(),
                kind: self.kind.clone(),
                records: to_send,
            };
            if let (Some(clock), Some(at)) = (self.shared.response_clock.get(), newest_response) {
                clock.note(exchange, &self.kind, at);
            }
            if self.shared.sink.send(batch).await.is_err() {
                tracing::error!(exchange = %exchange, kind = %self.kind, "sink is gone; records of this cycle lost");
            }
        }
        outcome
    }

    /// Counts a compared cycle in the canary and reports its standing.
    fn report_canary(&self, canary: &Canary, comparison: CycleComparison) {
        let exchange = self.shared.spec.instance_id.as_str();
        let verdict = canary.observe(exchange, &self.kind, comparison);
        let status = canary.status();
        match verdict {
            Verdict::HoldBack => {
                tracing::error!(exchange = %exchange, kind = %self.kind, version = %status.version, reason = status.reason.as_deref().unwrap_or(""), "plugin canary held back: the new version disagrees with the running one, which keeps serving")
            }
            Verdict::Promote => {
                tracing::info!(exchange = %exchange, kind = %self.kind, version = %status.version, "plugin canary agreed on every kind: promoting")
            }
            Verdict::Continue => {
                tracing::debug!(exchange = %exchange, kind = %self.kind, version = %status.version, "plugin canary cycle agreed")
            }
            // Already decided by another kind's cycle: nothing to report.
            Verdict::Ignored => return,
        }
        self.shared.spec.telemetry.canary_progress(&status, verdict);
        if verdict == Verdict::Promote {
            canary.request_promotion();
        }
    }

    /// Replaces the instrument snapshot after a complete cycle; after a partial one, only adds
    /// and updates (a failed page must not delist half the universe). A complete cycle also
    /// forgets the latest values and hashes of instruments that left the universe.
    async fn update_instruments(&self, records: &[Record], complete: bool) {
        if records.is_empty() {
            return;
        }
        let exchange = self.shared.spec.instance_id.as_str();
        let mut by_symbol: BTreeMap<IdentityStr, Record> = if complete {
            BTreeMap::new()
        } else {
            self.shared
                .instruments
                .read()
                .await
                .iter()
                .map(|r| (r.raw_symbol.clone(), r.clone()))
                .collect()
        };
        for r in records.iter().filter(|r| r.kind == RecordKind::INSTRUMENT) {
            let mut r = r.clone();
            r.exchange = exchange.into();
            by_symbol.insert(r.raw_symbol.clone(), r);
        }
        // Sorted by raw symbol, as `Context::instruments` promises.
        let next: Vec<Record> = by_symbol.into_values().collect();
        let count = next.len();
        if complete {
            let keep: HashSet<&str> = next.iter().map(|r| r.raw_symbol.as_str()).collect();
            self.shared.store.lock().await.retain_symbols(&keep);
            self.shared.changes.lock().await.retain_symbols(&keep);
        }
        *self.shared.instruments.write().await = Arc::new(next);
        let first = !*self.shared.instruments_ready.borrow();
        self.shared.instruments_ready.send_replace(true);
        if first {
            tracing::info!(exchange = %exchange, instruments = count, "instruments loaded");
        }
    }
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

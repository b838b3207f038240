//! One exchange instance's collection loop: a task per data kind on its own interval, all
//! sharing the exchange's instruments, record store, HTTP budget and current plugin.
//!
//! Owns the cycle: build requests → execute → parse (follow pagination) → merge → sink. Must
//! not let anything of this exchange block another exchange: every wait here is this
//! exchange's own (its budget, its timeouts, its sink back-pressure share).

use std::{
    collections::{BTreeMap, HashSet},
    sync::Arc,
    time::Duration,
};

use futures_util::future::join_all;
use plugin_api::{
    abi_stable::std_types::{ROption, RSlice, RStr, RString},
    Context, HttpRequest, HttpResponse, KeyValueRef, KindSpec, Record, RecordKind,
};
use tokio::{
    sync::{mpsc, watch, Mutex, RwLock},
    task::JoinSet,
};

use crate::{
    config::{ExchangeConfig, HttpConfig},
    http::{now_ms, ExchangeHttp, HttpClient, RawResponse},
    plugins::{LoadedPlugin, PluginSet},
    record_store::RecordStore,
    sink::Batch,
};

/// What the supervisor hands a worker.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    pub instance_id: String,
    pub config: ExchangeConfig,
    pub http: HttpConfig,
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
    plugins: watch::Receiver<Arc<PluginSet>>,
    sink: mpsc::Sender<Batch>,
}

impl Shared {
    fn current_plugin(&self) -> Option<Arc<LoadedPlugin>> {
        self.plugins.borrow().get(self.spec.plugin_id()).cloned()
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
    let (ready_tx, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        spec,
        instruments: RwLock::new(Arc::new(Vec::new())),
        instruments_ready: ready_tx,
        store: Mutex::new(RecordStore::new()),
        plugins: plugins.clone(),
        sink,
    });
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
            (Some(p), Some((current_layout, generation, _))) if *generation == p.generation => {
                let _ = current_layout;
            }
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
        };
        tasks.spawn(task.run(stop.clone()));
    }
    tasks
}

/// Shortest wait before retrying a kind whose whole cycle failed.
pub const FAILED_CYCLE_RETRY_MIN: Duration = Duration::from_secs(1);
/// Longest such wait (the kind's own interval caps it too).
pub const FAILED_CYCLE_RETRY_MAX: Duration = Duration::from_secs(60);

/// Retry delay after `streak` failed cycles in a row: 1 s, 2 s, 4 s … capped at 60 s.
fn failed_cycle_delay(streak: u32) -> Duration {
    FAILED_CYCLE_RETRY_MIN
        .saturating_mul(1u32 << streak.saturating_sub(1).min(16))
        .min(FAILED_CYCLE_RETRY_MAX)
}

/// What one cycle achieved.
#[derive(Debug, Default, Clone, Copy)]
struct CycleOutcome {
    records: usize,
    failures: usize,
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
            next = if outcome.failed_entirely() {
                // Nothing came back: try again soon (growing delay), never only after a long
                // interval such as the hourly instruments refresh.
                failed_streak = failed_streak.saturating_add(1);
                tokio::time::Instant::now() + failed_cycle_delay(failed_streak).min(self.period)
            } else {
                failed_streak = 0;
                (started + self.period).max(tokio::time::Instant::now())
            };
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
                    records: 0,
                    failures: 1,
                };
            }
        };
        let started = tokio::time::Instant::now();
        let mut records: Vec<Record> = Vec::new();
        let mut failures = 0usize;
        let mut requests_done = 0usize;
        let mut pages = 0u32;
        while !round.is_empty() {
            requests_done += round.len();
            let results = join_all(round.iter().map(|r| self.http.execute(r))).await;
            let mut answered: Vec<(&HttpRequest, RawResponse)> = Vec::with_capacity(round.len());
            for (request, result) in round.iter().zip(results) {
                match result {
                    Ok(response) => answered.push((request, response)),
                    Err(e) => {
                        failures += 1;
                        tracing::warn!(exchange = %exchange, kind = %self.kind, tag = %request.tag, path = %request.path, error = %e, "request failed");
                    }
                }
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
            if responses.is_empty() {
                break;
            }
            let out = plugin.parse(&self.kind, &responses, &ctx);
            for warning in out.warnings.iter() {
                tracing::warn!(exchange = %exchange, kind = %self.kind, warning = %warning, "plugin warning");
            }
            for error in out.errors.iter() {
                failures += 1;
                tracing::warn!(exchange = %exchange, kind = %self.kind, error = %error, "response rejected by plugin");
            }
            records.extend(out.records);
            round = out.next_requests.into_iter().collect();
            pages += 1;
            if pages >= self.shared.spec.http.max_pages && !round.is_empty() {
                tracing::warn!(exchange = %exchange, kind = %self.kind, pages, "stopped following pages at http.max_pages");
                failures += 1;
                break;
            }
        }

        let parsed = records.len();
        if self.emits == RecordKind::INSTRUMENT {
            self.update_instruments(&records, failures == 0).await;
        }
        let default_interval = plugin.info.default_funding_interval_hours;
        let out = self
            .shared
            .store
            .lock()
            .await
            .apply(records, exchange, default_interval);
        if self.emits == RecordKind::INSTRUMENT && failures == 0 {
            let instruments = Arc::clone(&*self.shared.instruments.read().await);
            let keep: HashSet<&str> = instruments.iter().map(|r| r.raw_symbol.as_str()).collect();
            self.shared.store.lock().await.retain_symbols(&keep);
        }
        tracing::debug!(exchange = %exchange, kind = %self.kind, requests = requests_done, failures, records = parsed, elapsed_ms = started.elapsed().as_millis() as u64, "cycle done");
        if !out.is_empty() {
            let batch = Batch {
                exchange: exchange.to_owned(),
                kind: self.kind.clone(),
                records: out,
            };
            if self.shared.sink.send(batch).await.is_err() {
                tracing::error!(exchange = %exchange, kind = %self.kind, "sink is gone; records of this cycle lost");
            }
        }
        CycleOutcome {
            records: parsed,
            failures,
        }
    }

    /// Replaces the instrument snapshot after a complete cycle; after a partial one, only adds
    /// and updates (a failed page must not delist half the universe).
    async fn update_instruments(&self, records: &[Record], complete: bool) {
        if records.is_empty() {
            return;
        }
        let exchange = self.shared.spec.instance_id.as_str();
        let mut by_symbol: BTreeMap<RString, Record> = if complete {
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
        *self.shared.instruments.write().await = Arc::new(next);
        let first = !*self.shared.instruments_ready.borrow();
        self.shared.instruments_ready.send_replace(true);
        if first {
            tracing::info!(exchange = %exchange, instruments = count, "instruments loaded");
        }
    }
}

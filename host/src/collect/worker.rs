//! One exchange instance's collection loop: a task per data kind on its own interval, all
//! sharing the exchange's state (`exchange`: instruments, record store, HTTP budget, breaker,
//! current plugin).
//!
//! Owns the kind tasks' lifecycle: started when a plugin arrives, kept or restarted when it is
//! replaced, stopped when it goes; and the on-demand collector the benchmark drives. The cycle
//! itself is `cycle`. Must not let anything of this exchange block another exchange.

use std::{sync::Arc, time::Duration};

use plugin_api::RecordKind;
use tokio::{
    sync::{mpsc, watch},
    task::JoinSet,
};

use super::cycle::{CycleOutcome, KindTask, SeenWarnings};
use super::exchange::{interval_for, Shared, WorkerSpec};
use crate::{
    bench::instruments::ResponseClock,
    collect::http::{ExchangeHttp, HttpClient},
    output::sink::Batch,
    plugins::{LoadedPlugin, PluginSet},
};

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

/// Whether the plugin says its exchange writes `Retry-After` in milliseconds.
fn retry_after_in_ms(plugin: &LoadedPlugin) -> bool {
    plugin
        .info
        .extra
        .iter()
        .any(|kv| kv.key.as_str() == plugin_api::INFO_RETRY_AFTER_UNIT && kv.value.as_str() == "ms")
}

fn spawn_kind_tasks(
    shared: &Arc<Shared>,
    layout: &Layout,
    plugin: &LoadedPlugin,
    client: &HttpClient,
    stop: &watch::Receiver<bool>,
) -> JoinSet<()> {
    let http = Arc::new(
        ExchangeHttp::new(
            client.clone(),
            &layout.base_url,
            plugin.info.rate_limits.as_slice(),
            shared.spec.http.clone(),
            &shared.spec.instance_id,
            shared.spec.telemetry.clone(),
        )
        .with_retry_after_in_ms(retry_after_in_ms(plugin)),
    );
    let has_instruments = plugin.info.kinds.iter().any(|k| {
        k.emits == RecordKind::INSTRUMENT && interval_for(&shared.spec.config, k).is_some()
    });
    for name in shared.spec.config.intervals.keys() {
        if !plugin.info.kinds.iter().any(|k| k.name.as_str() == name) {
            tracing::warn!(exchange = %shared.spec.instance_id, kind = %name, "configured interval for a kind this plugin does not have; ignored");
        }
    }
    shared.reset_plan();
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
            stop: Some(stop.clone()),
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
        let http = Arc::new(
            ExchangeHttp::new(
                client,
                &layout.base_url,
                rules,
                shared.spec.http.clone(),
                &shared.spec.instance_id,
                shared.spec.telemetry.clone(),
            )
            .with_retry_after_in_ms(retry_after_in_ms(&plugin)),
        );
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
            stop: None,
            warnings: Arc::clone(&self.warnings),
        };
        Ok(task.cycle().await)
    }
}

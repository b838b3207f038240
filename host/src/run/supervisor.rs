//! The orchestrator: owns the lifecycle of everything that runs — the sink task, the plugin
//! registry and its watcher, the web server, alerts, one worker per enabled exchange — applies
//! config reloads as a diff with rollback, and shuts everything down in order.
//! Must not collect, parse or validate anything itself (validation is the config loader's).
//!
//! Reload: the new config arrives validated. The steps that can fail run first, each undone if
//! a later one fails: sink swap → plugin directory → web server → alerts. Then the exchanges:
//! removed ones stop, changed ones restart, the others keep running untouched (their breaker,
//! change-detection cache and connections stay).
//!
//! Shutdown order: stop scheduling (workers finish the cycle in progress, up to the grace
//! deadline) → close the sink queue → the sink writes everything queued → return.

use crate::observe::telemetry::internal_events::{
    ConfigReloaded, ExchangeStarted, ExchangeStopped,
};
use std::{collections::BTreeMap, sync::Arc, time::Duration};

use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};

use crate::{
    collect::exchange::WorkerSpec,
    collect::http::HttpClient,
    collect::worker::run_exchange,
    config::{Config, PluginsConfig, WebConfig},
    observe::telemetry::{ReloadResult, Telemetry},
    output::sink::{Batch, SinkControl, SinkTotals},
    plugins::{PluginControl, PluginEvent, PluginRegistry, PluginSet, Refusal, RegistryOptions},
    run::reload::{ConfigSource, ConfigWatcher, ReloadPlan, WorkerSettings},
    trust,
};

/// How long a reload waits for a restarted or removed exchange's cycle in progress before it
/// abandons it: short, so a change is live within two seconds of saving the file.
pub const WORKER_RESTART_GRACE: Duration = Duration::from_secs(1);
/// How long shutdown waits for an abandoned sink task to report its totals.
const SINK_ABANDON_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("sink: {0}")]
    Sink(#[from] crate::output::sink::SinkError),
    #[error("http client: {0}")]
    Http(#[from] reqwest::Error),
    #[error(transparent)]
    Web(#[from] crate::observe::web::WebError),
    #[error(transparent)]
    Alerts(#[from] crate::observe::alerts::AlertsError),
    #[error("plugin directory {dir}: {source}")]
    PluginDir {
        dir: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    PluginDirRefused(Refusal),
}

/// What a finished run reports.
#[derive(Debug, Clone, Copy)]
pub struct RunSummary {
    pub sink: SinkTotals,
}

/// Where reloads come from.
#[derive(Debug)]
pub struct ReloadOptions {
    /// Asked for the new config at every reload.
    pub source: Arc<dyn ConfigSource>,
    /// Watch these files and folders (from the initial load) and reload when they change
    /// (unless `[reload] watch = false`); every reload refreshes the list.
    pub watch_paths: Vec<std::path::PathBuf>,
    /// External "reload now" requests (SIGHUP).
    pub triggers: Option<mpsc::UnboundedReceiver<()>>,
}

impl ReloadOptions {
    pub fn watching(source: Arc<dyn ConfigSource>, watch_paths: Vec<std::path::PathBuf>) -> Self {
        Self {
            source,
            watch_paths,
            triggers: None,
        }
    }
}

/// Optional observers of a run (tests, and later the dashboard's event feed).
#[derive(Debug, Default)]
pub struct RunOptions {
    /// Receives every plugin load, failure and removal after start-up.
    pub plugin_events: Option<mpsc::UnboundedSender<PluginEvent>>,
    /// Metrics, events, and the exchange health table (`telemetry.health()`), shared with the
    /// web server, alerts and observers.
    pub telemetry: Telemetry,
    /// Hot reload; `None` runs the given config until shutdown.
    pub reload: Option<ReloadOptions>,
    /// The config's version as its loader computed it (without secret values); `None`: a
    /// fingerprint of the config itself.
    pub config_version: Option<String>,
}

/// A short fingerprint of a config, shown as its version in the status API and metrics.
pub fn config_version(config: &Config) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    serde_json::to_string(config)
        .unwrap_or_default()
        .hash(&mut h);
    format!("{:016x}", h.finish())
}

/// Runs the collector until `shutdown` resolves, then stops gracefully.
pub async fn run(
    config: Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<RunSummary, StartError> {
    run_with(config, RunOptions::default(), shutdown).await
}

/// The plugin directory in use: its registry lives in the watcher task, which forwards every
/// plugin set to the fleet's own channel (so reopening another directory needs no worker
/// restart).
struct PluginDirectory {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl PluginDirectory {
    /// The directory must be readable and pass the trust checks. One that fails is not opened
    /// at all: at start-up the process stops with the error, a reload keeps the previous
    /// directory.
    fn check_directory(config: &PluginsConfig) -> Result<(), StartError> {
        let dir = &config.dir;
        std::fs::read_dir(dir).map_err(|source| StartError::PluginDir {
            dir: dir.clone(),
            source,
        })?;
        match trust::open_directory(
            trust::Subject::PluginDirectory,
            dir,
            config.allow_insecure_permissions,
        ) {
            Err(trust::OpenError::Refused(refusal)) => Err(StartError::PluginDirRefused(refusal)),
            Err(trust::OpenError::Io { path, source }) => {
                Err(StartError::PluginDir { dir: path, source })
            }
            Ok(_) => Ok(()),
        }
    }

    fn open(
        config: &PluginsConfig,
        fleet: &watch::Sender<Arc<PluginSet>>,
        events: &mpsc::UnboundedSender<PluginEvent>,
        telemetry: &Telemetry,
        control: &PluginControl,
    ) -> Result<Self, StartError> {
        let dir = config.dir.clone();
        Self::check_directory(config)?;
        let options = RegistryOptions {
            incumbents: fleet
                .borrow()
                .by_exchange
                .iter()
                .map(|(id, plugin)| (id.clone(), plugin.source.clone()))
                .collect(),
            ..RegistryOptions::from_config(config)
        };
        let (mut registry, mut set_rx) = PluginRegistry::with_options(dir, options);
        for event in registry.rescan() {
            telemetry.emit(&event);
        }
        let loaded = set_rx.borrow_and_update().clone();
        tracing::info!(dir = %config.dir.display(), plugins = loaded.by_exchange.len(), "plugins loaded");
        // Operators' promotions and rejections reach the registry only while it is watched
        // (without a watcher nothing is replaced, so there is no canary).
        control.attach(config.watch.then(|| registry.commands()));
        fleet.send_replace(loaded);

        let (stop_tx, mut stop_rx) = watch::channel(false);
        let fleet = fleet.clone();
        let events = events.clone();
        let (watch, settle) = (config.watch, config.settle.0);
        let task = tokio::spawn(async move {
            let watcher_stop = stop_rx.clone();
            let watcher = async move {
                if !watch {
                    return std::future::pending().await;
                }
                if let Err(e) =
                    crate::plugins::watch_directory(registry, settle, events, watcher_stop).await
                {
                    tracing::error!(error = %e, "plugin directory watcher failed; new plugins need a restart");
                }
                std::future::pending::<()>().await
            };
            let forward = async move {
                while set_rx.changed().await.is_ok() {
                    let set = set_rx.borrow_and_update().clone();
                    fleet.send_replace(set);
                }
                std::future::pending::<()>().await
            };
            tokio::select! {
                _ = stop_rx.changed() => {}
                _ = watcher => {}
                _ = forward => {}
            }
        });
        Ok(Self {
            stop: stop_tx,
            task,
        })
    }

    async fn close(self) {
        self.stop.send_replace(true);
        let mut task = self.task;
        if tokio::time::timeout(WORKER_RESTART_GRACE, &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

struct RunningWorker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Everything a run keeps alive, and how to change it.
struct Fleet {
    config: Config,
    version: String,
    telemetry: Telemetry,
    client: HttpClient,
    sink_tx: mpsc::Sender<Batch>,
    sink: SinkControl,
    plugins_tx: watch::Sender<Arc<PluginSet>>,
    plugin_dir: Option<PluginDirectory>,
    plugin_events: mpsc::UnboundedSender<PluginEvent>,
    plugin_control: PluginControl,
    web: Option<crate::observe::web::WebServer>,
    alerts: Option<crate::observe::alerts::Alerts>,
    workers: BTreeMap<String, RunningWorker>,
}

/// One step of a reload that has been done and can be undone.
enum Applied {
    Sink,
    Plugins,
    Web,
    Alerts,
}

impl Fleet {
    fn spawn_worker(&mut self, id: &str) {
        let Some(settings) = WorkerSettings::of(&self.config, id) else {
            return;
        };
        let spec = WorkerSpec {
            instance_id: id.to_owned(),
            config: settings.exchange,
            http: settings.http,
            breaker: settings.breaker,
            change_detection: settings.change_detection,
            telemetry: self.telemetry.clone(),
        };
        let plugin_id = spec.plugin_id().to_owned();
        let plugin_loaded = self.plugins_tx.borrow().get(&plugin_id).is_some();
        self.telemetry.emit(ExchangeStarted {
            exchange: id,
            plugin_id: &plugin_id,
            plugin_loaded,
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run_exchange(
            spec,
            self.client.clone(),
            self.plugins_tx.subscribe(),
            self.sink_tx.clone(),
            stop_rx,
        ));
        self.workers.insert(
            id.to_owned(),
            RunningWorker {
                stop: stop_tx,
                task,
            },
        );
    }

    /// Stops the given workers together; a cycle still running after `grace` is abandoned.
    async fn stop_workers(&mut self, ids: &[String], grace: Duration) {
        let mut stopping = Vec::new();
        for id in ids {
            if let Some(worker) = self.workers.remove(id) {
                worker.stop.send_replace(true);
                stopping.push((id.clone(), worker.task));
            }
        }
        let deadline = tokio::time::Instant::now() + grace;
        for (id, mut task) in stopping {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                tracing::warn!(exchange = %id, grace = ?grace, "cycle in progress did not finish in time; abandoned");
                task.abort();
                let _ = task.await;
            }
        }
    }

    async fn start_web(
        config: &WebConfig,
        telemetry: &Telemetry,
        control: &PluginControl,
    ) -> Result<Option<crate::observe::web::WebServer>, StartError> {
        if config.enabled {
            Ok(Some(
                crate::observe::web::spawn(config, telemetry.clone(), control.clone()).await?,
            ))
        } else {
            Ok(None)
        }
    }

    /// Replaces the web server. A new address is bound before the old server stops; the same
    /// address is released first and, if binding fails, the old settings are served again.
    async fn replace_web(&mut self, new: &WebConfig, old: &WebConfig) -> Result<(), StartError> {
        if new.enabled {
            // A missing token refuses the reload while the running server keeps serving.
            crate::observe::web::check_access(new)?;
        }
        let same_address = new.enabled && old.enabled && new.listen == old.listen;
        if same_address || !new.enabled {
            if let Some(web) = self.web.take() {
                web.shutdown().await;
            }
            match Self::start_web(new, &self.telemetry, &self.plugin_control).await {
                Ok(web) => self.web = web,
                Err(e) => {
                    self.web = Self::start_web(old, &self.telemetry, &self.plugin_control).await.unwrap_or_else(|e| {
                        tracing::error!(error = %e, "web server could not be restarted with the previous settings");
                        None
                    });
                    return Err(e);
                }
            }
        } else {
            let web = Self::start_web(new, &self.telemetry, &self.plugin_control).await?;
            if let Some(old) = std::mem::replace(&mut self.web, web) {
                old.shutdown().await;
            }
        }
        Ok(())
    }

    fn replace_alerts(&mut self, new: &Config) -> Result<(), StartError> {
        match &self.alerts {
            Some(alerts) => alerts.reconfigure(&new.alerts)?,
            None => {
                self.alerts = Some(crate::observe::alerts::spawn(
                    &new.alerts,
                    self.telemetry.clone(),
                )?)
            }
        }
        Ok(())
    }

    fn replace_plugins(&mut self, new: &PluginsConfig) -> Result<PluginDirectory, StartError> {
        PluginDirectory::open(
            new,
            &self.plugins_tx,
            &self.plugin_events,
            &self.telemetry,
            &self.plugin_control,
        )
    }

    /// Applies `new` as a diff. On error everything done so far is undone and the previous
    /// config keeps running; the error says what failed.
    async fn apply(&mut self, new: Config) -> Result<ReloadPlan, String> {
        let old = self.config.clone();
        let plan = ReloadPlan::between(&old, &new);
        let mut done: Vec<Applied> = Vec::new();
        let result: Result<(), String> = async {
            if plan.sink {
                self.sink
                    .swap(new.sink.clone())
                    .await
                    .map_err(|e| format!("sink: {e}"))?;
                done.push(Applied::Sink);
            }
            if plan.plugins {
                let directory = self
                    .replace_plugins(&new.plugins)
                    .map_err(|e| e.to_string())?;
                if let Some(previous) = self.plugin_dir.replace(directory) {
                    previous.close().await;
                }
                done.push(Applied::Plugins);
            }
            if plan.web {
                self.replace_web(&new.web, &old.web)
                    .await
                    .map_err(|e| e.to_string())?;
                done.push(Applied::Web);
            }
            if plan.alerts {
                self.replace_alerts(&new).map_err(|e| e.to_string())?;
                done.push(Applied::Alerts);
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            self.undo(done, &old, &new).await;
            return Err(e);
        }

        // Infallible from here: exchanges.
        let mut leaving = plan.stop.clone();
        leaving.extend(plan.restart.iter().cloned());
        self.stop_workers(&leaving, WORKER_RESTART_GRACE).await;
        for (id, restarted) in plan
            .stop
            .iter()
            .map(|id| (id, false))
            .chain(plan.restart.iter().map(|id| (id, true)))
        {
            self.telemetry.emit(ExchangeStopped {
                exchange: id,
                restarted,
            });
        }
        self.config = new;
        for id in plan.start.iter().chain(plan.restart.iter()) {
            self.spawn_worker(id);
        }
        Ok(plan)
    }

    /// Undoes the applied steps, newest first, by applying the old settings again.
    async fn undo(&mut self, done: Vec<Applied>, old: &Config, new: &Config) {
        for step in done.into_iter().rev() {
            let outcome = match step {
                Applied::Sink => self
                    .sink
                    .swap(old.sink.clone())
                    .await
                    .map_err(|e| format!("sink: {e}")),
                Applied::Plugins => match self.replace_plugins(&old.plugins) {
                    Ok(directory) => {
                        if let Some(previous) = self.plugin_dir.replace(directory) {
                            previous.close().await;
                        }
                        Ok(())
                    }
                    Err(e) => Err(e.to_string()),
                },
                Applied::Web => self
                    .replace_web(&old.web, &new.web)
                    .await
                    .map_err(|e| e.to_string()),
                Applied::Alerts => self.replace_alerts(old).map_err(|e| e.to_string()),
            };
            if let Err(e) = outcome {
                tracing::error!(error = %e, "rollback step failed; this part keeps the new settings");
            }
        }
    }

    /// One reload: load, validate, apply as a diff (or keep everything as it is).
    async fn reload(&mut self, source: &dyn ConfigSource) -> Option<Vec<std::path::PathBuf>> {
        let loaded = match source.load() {
            Ok(loaded) => loaded,
            Err(message) => {
                self.telemetry.emit(ConfigReloaded {
                    result: ReloadResult::Invalid,
                    version: "invalid",
                    message: &message,
                });
                return None;
            }
        };
        for warning in &loaded.warnings {
            tracing::warn!("config: {warning}");
        }
        let version = loaded.version.clone();
        if loaded.config == self.config {
            tracing::debug!("config files changed, effective config did not");
            return Some(loaded.watch_paths);
        }
        match self.apply(loaded.config).await {
            Ok(plan) => {
                self.version = version.clone();
                self.telemetry.emit(ConfigReloaded {
                    result: ReloadResult::Ok,
                    version: &version,
                    message: &plan.summary(),
                });
            }
            Err(message) => {
                self.telemetry.emit(ConfigReloaded {
                    result: ReloadResult::RolledBack,
                    version: &version,
                    message: &message,
                });
            }
        }
        Some(loaded.watch_paths)
    }
}

/// [`run`] with observers and hot reload.
pub async fn run_with(
    config: Config,
    options: RunOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<RunSummary, StartError> {
    let RunOptions {
        plugin_events,
        telemetry,
        reload,
        config_version: version,
    } = options;
    let (mut fleet, background) = start(config, telemetry, version, plugin_events).await?;
    serve_until(shutdown, &mut fleet, reload).await;
    Ok(stop(fleet, background).await)
}

/// The tasks beside the fleet that shutdown ends: the plugin event forwarder and the sink.
struct Background {
    events_task: JoinHandle<()>,
    sink_task: JoinHandle<SinkTotals>,
    /// Tells the sink to give up what it could not write (after the shutdown grace).
    abandon: watch::Sender<bool>,
}

/// Starts the web server (first, so liveness answers while the rest starts), alerts, the
/// plugin directory, the sink and a worker per enabled exchange.
async fn start(
    config: Config,
    telemetry: Telemetry,
    version: Option<String>,
    observer: Option<mpsc::UnboundedSender<PluginEvent>>,
) -> Result<(Fleet, Background), StartError> {
    let version = version.unwrap_or_else(|| config_version(&config));
    telemetry.config_loaded(&version);
    let plugin_control = PluginControl::default();
    let web = Fleet::start_web(&config.web, &telemetry, &plugin_control).await?;
    let alerts = crate::observe::alerts::spawn(&config.alerts, telemetry.clone())?;
    let client = HttpClient::new()?;

    let (events_tx, mut events_rx) = mpsc::unbounded_channel::<PluginEvent>();
    let (plugins_tx, _) = watch::channel(Arc::new(PluginSet::default()));
    let plugin_dir = PluginDirectory::open(
        &config.plugins,
        &plugins_tx,
        &events_tx,
        &telemetry,
        &plugin_control,
    )?;
    let events_telemetry = telemetry.clone();
    let events_task = tokio::spawn(async move {
        while let Some(event) = events_rx.recv().await {
            events_telemetry.emit(&event);
            if let Some(observer) = &observer {
                let _ = observer.send(event);
            }
        }
    });

    let (sink_tx, sink_rx) = mpsc::channel(config.sink.queue_batches());
    let (abandon, abandon_rx) = watch::channel(false);
    let (sink, sink_task) =
        crate::output::sink::spawn_sink(&config.sink, sink_rx, abandon_rx, telemetry.clone())
            .await?;

    let mut fleet = Fleet {
        config,
        version,
        telemetry,
        client,
        sink_tx,
        sink,
        plugins_tx,
        plugin_dir: Some(plugin_dir),
        plugin_events: events_tx,
        plugin_control,
        web,
        alerts: Some(alerts),
        workers: BTreeMap::new(),
    };
    let ids: Vec<String> = fleet
        .config
        .enabled_exchanges()
        .map(|(id, _)| id.clone())
        .collect();
    for id in &ids {
        fleet.spawn_worker(id);
    }
    tracing::info!(exchanges = fleet.workers.len(), "collector running");
    Ok((
        fleet,
        Background {
            events_task,
            sink_task,
            abandon,
        },
    ))
}

/// Applies config reloads (the watcher of the config files and external requests such as
/// SIGHUP) until `shutdown` resolves.
async fn serve_until(
    shutdown: impl std::future::Future<Output = ()>,
    fleet: &mut Fleet,
    reload: Option<ReloadOptions>,
) {
    let (trigger_tx, mut trigger_rx) = mpsc::unbounded_channel::<()>();
    let mut source = None;
    let mut watcher = None;
    if let Some(reload) = reload {
        if let Some(mut external) = reload.triggers {
            let tx = trigger_tx.clone();
            tokio::spawn(async move {
                while external.recv().await.is_some() {
                    if tx.send(()).is_err() {
                        return;
                    }
                }
            });
        }
        watcher = start_watcher(&fleet.config.reload, &reload.watch_paths, &trigger_tx);
        source = Some(reload.source);
    }

    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(()) = trigger_rx.recv() => {
                // Several requests while one was pending are one reload.
                while trigger_rx.try_recv().is_ok() {}
                if let Some(source) = &source {
                    tracing::info!("config change: reloading");
                    if let Some(paths) = fleet.reload(source.as_ref()).await {
                        drop(watcher.take());
                        watcher = start_watcher(&fleet.config.reload, &paths, &trigger_tx);
                    }
                } else {
                    tracing::warn!("reload requested, but this run has no config source to reload from");
                }
            }
        }
    }
}

/// Graceful stop: workers finish their cycles (up to the grace), the sink drains what is
/// queued (or is abandoned, counting what it gave up), then alerts and the web server stop.
async fn stop(mut fleet: Fleet, background: Background) -> RunSummary {
    let grace = fleet.config.shutdown.grace.0;
    tracing::info!("shutting down: finishing cycles in progress");
    let ids: Vec<String> = fleet.workers.keys().cloned().collect();
    fleet.stop_workers(&ids, grace).await;
    if let Some(directory) = fleet.plugin_dir.take() {
        directory.close().await;
    }
    let Fleet {
        sink_tx,
        sink,
        plugin_events,
        web,
        alerts,
        ..
    } = fleet;
    drop(plugin_events);
    background.events_task.abort();
    // The queue closes when its last sender (ours; the workers' are gone) is dropped.
    drop(sink_tx);
    // Nothing more to swap: the sink task ends once the queue is drained.
    #[allow(clippy::drop_non_drop)]
    drop(sink);
    let totals = drain_sink(background.sink_task, &background.abandon, grace).await;
    if let Some(alerts) = alerts {
        alerts.stop().await;
    }
    if let Some(web) = web {
        web.shutdown().await;
    }
    tracing::info!(
        records_written = totals.records_written,
        records_not_written = totals.records_not_written,
        "stopped"
    );
    RunSummary { sink: totals }
}

/// Waits up to `grace` for the sink to drain; then abandons it and takes its report.
async fn drain_sink(
    mut sink_task: JoinHandle<SinkTotals>,
    abandon: &watch::Sender<bool>,
    grace: Duration,
) -> SinkTotals {
    let joined = match tokio::time::timeout(grace, &mut sink_task).await {
        Ok(joined) => Some(joined),
        Err(_) => {
            abandon.send_replace(true);
            tracing::error!("sink did not drain in time");
            // Abandoned, it stops at once and reports what it wrote and what it gave up.
            tokio::time::timeout(SINK_ABANDON_WAIT, sink_task)
                .await
                .ok()
        }
    };
    match joined {
        Some(Ok(totals)) => totals,
        Some(Err(e)) => {
            tracing::error!(error = %e, "sink task failed");
            SinkTotals::default()
        }
        None => SinkTotals::default(),
    }
}

fn start_watcher(
    settings: &crate::config::ReloadConfig,
    paths: &[std::path::PathBuf],
    triggers: &mpsc::UnboundedSender<()>,
) -> Option<ConfigWatcher> {
    if !settings.watch || paths.is_empty() {
        return None;
    }
    match ConfigWatcher::start(paths, settings.settle.0, triggers.clone()) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::error!(error = %e, "cannot watch the config files; reload with SIGHUP");
            None
        }
    }
}

//! The orchestrator: owns the lifecycle of everything that runs — the sink task, the plugin
//! registry and its watcher, one worker per enabled exchange — and shuts them down in order.
//! Must not collect or parse anything itself.
//!
//! Shutdown order: stop scheduling (workers finish the cycle in progress, up to the grace
//! deadline) → close the sink queue → the sink writes everything queued → return.

use tokio::{
    sync::{mpsc, watch},
    task::JoinSet,
};

use crate::{
    config::Config,
    http::HttpClient,
    plugins::{PluginEvent, PluginRegistry},
    sink::{open_sink, run_sink_observed, SinkTotals},
    telemetry::Telemetry,
    worker::{run_exchange, WorkerSpec},
};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("sink: {0}")]
    Sink(#[from] crate::sink::SinkError),
    #[error("http client: {0}")]
    Http(#[from] reqwest::Error),
    #[error(transparent)]
    Web(#[from] crate::web::WebError),
    #[error(transparent)]
    Alerts(#[from] crate::alerts::AlertsError),
    #[error("plugin directory {dir}: {source}")]
    PluginDir {
        dir: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// What a finished run reports.
#[derive(Debug, Clone, Copy)]
pub struct RunSummary {
    pub sink: SinkTotals,
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
        PluginEvent::Removed { file, exchange_id } => {
            tracing::warn!(file = %file.display(), exchange = %exchange_id, "plugin file removed")
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
}

/// A short fingerprint of a config, shown as its version in the status API and metrics.
fn config_version(config: &Config) -> String {
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

/// [`run`] with observers.
pub async fn run_with(
    config: Config,
    options: RunOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<RunSummary, StartError> {
    let telemetry = options.telemetry.clone();
    telemetry.config_loaded(&config_version(&config));
    // The web server first, so liveness answers while everything else starts.
    let web = if config.web.enabled {
        Some(crate::web::spawn(&config.web, telemetry.clone()).await?)
    } else {
        None
    };
    let alerts = crate::alerts::spawn(&config.alerts, telemetry.clone())?;
    let sink = open_sink(&config.sink).await?;
    let client = HttpClient::new()?;

    let dir = config.plugins.dir.clone();
    std::fs::read_dir(&dir).map_err(|source| StartError::PluginDir {
        dir: dir.clone(),
        source,
    })?;
    let (mut registry, plugins_rx) = PluginRegistry::new(dir);
    for event in registry.rescan() {
        log_plugin_event(&event);
        telemetry.plugin_event(&event);
    }
    {
        let set = plugins_rx.borrow();
        tracing::info!(dir = %config.plugins.dir.display(), plugins = set.by_exchange.len(), "plugins loaded");
        for (id, _) in config.enabled_exchanges() {
            let plugin_id = config.exchanges[id].plugin_id(id);
            if set.get(plugin_id).is_none() {
                tracing::warn!(exchange = %id, plugin = plugin_id, "enabled, but no plugin with this exchange id is loaded; it starts when one is dropped into the plugin directory");
            }
        }
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let (events_tx, mut events_rx) = mpsc::unbounded_channel::<PluginEvent>();
    let mut background = JoinSet::new();
    if config.plugins.watch {
        let settle = config.plugins.settle.0;
        let stop = stop_rx.clone();
        background.spawn(async move {
            if let Err(e) = crate::plugins::watch_directory(registry, settle, events_tx, stop).await {
                tracing::error!(error = %e, "plugin directory watcher failed; new plugins need a restart");
            }
        });
    } else {
        drop(events_tx);
    }
    let events_telemetry = telemetry.clone();
    background.spawn(async move {
        while let Some(event) = events_rx.recv().await {
            log_plugin_event(&event);
            events_telemetry.plugin_event(&event);
            if let Some(observer) = &options.plugin_events {
                let _ = observer.send(event);
            }
        }
    });

    let (sink_tx, sink_rx) = mpsc::channel(config.sink.queue_batches());
    let (abandon_tx, abandon_rx) = watch::channel(false);
    let sink_task = tokio::spawn(run_sink_observed(
        sink,
        sink_rx,
        abandon_rx,
        telemetry.clone(),
    ));

    let mut workers = JoinSet::new();
    for (id, exchange) in config.enabled_exchanges() {
        let spec = WorkerSpec {
            instance_id: id.clone(),
            config: exchange.clone(),
            http: config.http.clone(),
            breaker: exchange
                .breaker
                .clone()
                .unwrap_or_else(|| config.breaker.clone()),
            change_detection: config.change_detection.clone(),
            telemetry: telemetry.clone(),
        };
        telemetry.exchange_configured(id, exchange.plugin_id(id));
        workers.spawn(run_exchange(
            spec,
            client.clone(),
            plugins_rx.clone(),
            sink_tx.clone(),
            stop_rx.clone(),
        ));
    }
    drop(sink_tx);
    tracing::info!(exchanges = workers.len(), "collector running");

    shutdown.await;
    let grace = config.shutdown.grace.0;
    tracing::info!("shutting down: finishing cycles in progress");
    stop_tx.send_replace(true);
    let drained = tokio::time::timeout(grace, async {
        while workers.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(grace = ?grace, "workers did not finish in time; abandoning their cycles");
        workers.shutdown().await;
    }
    background.shutdown().await;
    let totals = match tokio::time::timeout(grace, sink_task).await {
        Ok(Ok(totals)) => totals,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "sink task failed");
            SinkTotals::default()
        }
        Err(_) => {
            abandon_tx.send_replace(true);
            tracing::error!("sink did not drain in time");
            SinkTotals::default()
        }
    };
    alerts.stop().await;
    if let Some(web) = web {
        web.shutdown().await;
    }
    tracing::info!(records_written = totals.records_written, "stopped");
    Ok(RunSummary { sink: totals })
}

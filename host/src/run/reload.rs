//! Config hot reload, the parts that touch nothing running: where a new config comes from
//! (`ConfigSource`), when to look again (a debounced watcher of the config files, plus external
//! triggers such as SIGHUP), and what changed between two configs (`ReloadPlan`).
//! Must not start or stop anything: the supervisor applies a plan, with rollback.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Debug,
    path::{Path, PathBuf},
    time::Duration,
};

use tokio::sync::mpsc;

use crate::config::{BreakerConfig, ChangeDetectionConfig, Config, ExchangeConfig, HttpConfig};

/// A config as loaded (and validated) from its source.
#[derive(Debug, Clone)]
pub struct SourcedConfig {
    pub config: Config,
    /// A short fingerprint shown in the status API and metrics; never derived from secret
    /// values.
    pub version: String,
    /// Files and folders whose change means "look again" (a folder: an optional layer could
    /// appear in it).
    pub watch_paths: Vec<PathBuf>,
    /// Non-fatal findings (logged at every load).
    pub warnings: Vec<String>,
}

/// Where the running config comes from; asked again at every reload.
pub trait ConfigSource: Send + Sync + Debug {
    /// Reads and validates the config as it is now. The error lists the problems and never
    /// contains a secret value; it is logged and shown as is, so it must stay short whatever
    /// the input ([`crate::config::ConfigErrors`] quotes values by a prefix and lists at most
    /// [`crate::config::MAX_PROBLEMS_SHOWN`]).
    fn load(&self) -> Result<SourcedConfig, String>;
}

/// The layered config (a directory with profiles, or one file), read again with the process
/// environment at every reload.
#[derive(Debug, Clone)]
pub struct LayeredSource {
    pub request: crate::config::LoadRequest,
}

impl LayeredSource {
    /// A single file or a config directory, with the default profile selection.
    pub fn path(path: impl Into<PathBuf>) -> Self {
        Self {
            request: crate::config::LoadRequest {
                path: path.into(),
                profile: None,
            },
        }
    }
}

impl ConfigSource for LayeredSource {
    fn load(&self) -> Result<SourcedConfig, String> {
        let loaded =
            crate::config::load(&self.request, &crate::config::Environment::from_process())
                .map_err(|errors| errors.to_string())?;
        Ok(SourcedConfig {
            version: loaded.version(),
            watch_paths: loaded.watch_paths.clone(),
            warnings: loaded.warnings.clone(),
            config: loaded.config,
        })
    }
}

/// What must change to go from one config to another.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReloadPlan {
    /// Exchanges new in the config (or newly enabled).
    pub start: Vec<String>,
    /// Exchanges whose effective settings changed: stopped, then started with the new ones.
    pub restart: Vec<String>,
    /// Exchanges removed (or disabled).
    pub stop: Vec<String>,
    /// Exchanges left running untouched (breaker, change-detection cache, connections kept).
    pub keep: Vec<String>,
    pub sink: bool,
    pub plugins: bool,
    pub web: bool,
    pub alerts: bool,
    /// `[shutdown]` changed (only read at shutdown: nothing to restart).
    pub shutdown: bool,
    /// `[reload]` changed (the file watcher restarts after every reload anyway).
    pub reload: bool,
    /// Changes that only take effect at the next start, named by key.
    pub needs_restart: Vec<String>,
}

/// Everything one exchange worker is built from: a worker restarts when this changes.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSettings {
    pub exchange: ExchangeConfig,
    pub http: HttpConfig,
    pub breaker: BreakerConfig,
    pub change_detection: ChangeDetectionConfig,
}

impl WorkerSettings {
    pub fn of(config: &Config, id: &str) -> Option<Self> {
        let exchange = config.exchanges.get(id).filter(|e| e.enabled)?;
        Some(Self {
            exchange: exchange.clone(),
            http: config.http.clone(),
            breaker: exchange
                .breaker
                .clone()
                .unwrap_or_else(|| config.breaker.clone()),
            change_detection: config.change_detection.clone(),
        })
    }
}

impl ReloadPlan {
    pub fn between(old: &Config, new: &Config) -> Self {
        let ids: BTreeSet<&String> = old.exchanges.keys().chain(new.exchanges.keys()).collect();
        let mut plan = Self::default();
        for id in ids {
            match (WorkerSettings::of(old, id), WorkerSettings::of(new, id)) {
                (None, None) => {}
                (None, Some(_)) => plan.start.push(id.clone()),
                (Some(_), None) => plan.stop.push(id.clone()),
                (Some(a), Some(b)) if a == b => plan.keep.push(id.clone()),
                (Some(_), Some(_)) => plan.restart.push(id.clone()),
            }
        }
        // The queue between workers and the sink is sized once: changing it needs a restart;
        // every other sink setting is applied by swapping the sink.
        let queue_changed = old.sink.queue_batches() != new.sink.queue_batches();
        if queue_changed {
            plan.needs_restart.push("sink.queue_batches".to_owned());
        }
        plan.sink = !same_sink_ignoring_queue(old, new);
        plan.plugins = old.plugins != new.plugins;
        plan.web = old.web != new.web;
        plan.alerts = old.alerts != new.alerts;
        plan.shutdown = old.shutdown != new.shutdown;
        plan.reload = old.reload != new.reload;
        plan
    }

    /// True when nothing at all changed.
    pub fn is_empty(&self) -> bool {
        self.start.is_empty()
            && self.restart.is_empty()
            && self.stop.is_empty()
            && !self.sink
            && !self.plugins
            && !self.web
            && !self.alerts
            && !self.shutdown
            && !self.reload
            && self.needs_restart.is_empty()
    }

    /// One line for logs, events and the status API, e.g.
    /// `restarted binance; kept bybit, okx; sink swapped`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        let list = |verb: &str, ids: &[String], parts: &mut Vec<String>| {
            if !ids.is_empty() {
                parts.push(format!("{verb} {}", ids.join(", ")));
            }
        };
        list("started", &self.start, &mut parts);
        list("restarted", &self.restart, &mut parts);
        list("stopped", &self.stop, &mut parts);
        list("kept", &self.keep, &mut parts);
        for (changed, what) in [
            (self.sink, "sink swapped"),
            (self.plugins, "plugin directory reopened"),
            (self.web, "web server restarted"),
            (self.alerts, "alerts reconfigured"),
            (self.shutdown, "shutdown settings updated"),
            (self.reload, "reload settings updated"),
        ] {
            if changed {
                parts.push(what.to_owned());
            }
        }
        if !self.needs_restart.is_empty() {
            parts.push(format!(
                "needs a restart to take effect: {}",
                self.needs_restart.join(", ")
            ));
        }
        if parts.is_empty() {
            "no change".to_owned()
        } else {
            parts.join("; ")
        }
    }
}

fn same_sink_ignoring_queue(old: &Config, new: &Config) -> bool {
    use crate::config::SinkConfig;
    let mut a = old.sink.clone();
    let b = &new.sink;
    let queue = b.queue_batches();
    match &mut a {
        SinkConfig::Jsonl { queue_batches, .. } | SinkConfig::Stdout { queue_batches, .. } => {
            *queue_batches = queue
        }
        SinkConfig::Amqp(amqp) => amqp.queue_batches = queue,
    }
    &a == b
}

/// Watches config files (and folders where optional layers may appear) and sends `()` on
/// `triggers` once a change has settled. Dropping it stops watching.
pub struct ConfigWatcher {
    _watcher: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ConfigWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The symlink a Kubernetes ConfigMap (or Secret) volume swaps atomically on an update (a new
/// `..data_tmp` renamed over it): the visible files are symlinks through it and never change
/// themselves, so a change of this name in a watched folder is a change of every file in it.
const KUBERNETES_DATA_LINK: &str = "..data";

/// File names editors write next to the real file and that never hold config.
fn is_config_file_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".toml", ".yaml", ".yml", ".json"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

impl ConfigWatcher {
    /// Starts watching `paths`. A file is watched through its folder, so editors that save by
    /// writing a temporary file and renaming it over the original are seen like any write.
    pub fn start(
        paths: &[PathBuf],
        settle: Duration,
        triggers: mpsc::UnboundedSender<()>,
    ) -> Result<Self, notify::Error> {
        use notify::{RecursiveMode, Watcher};

        // Folder → which names in it matter (None: any config file).
        let mut interest: BTreeMap<PathBuf, Option<BTreeSet<std::ffi::OsString>>> = BTreeMap::new();
        for path in paths {
            let path = absolute(path);
            if path.is_dir() {
                interest.insert(path, None);
            } else if let (Some(dir), Some(name)) = (path.parent(), path.file_name()) {
                if let Some(names) = interest
                    .entry(dir.to_owned())
                    .or_insert_with(|| Some(BTreeSet::new()))
                {
                    names.insert(name.to_owned());
                }
            }
        }
        let filter = interest.clone();
        let (raw_tx, mut raw_rx) = mpsc::unbounded_channel::<()>();
        let mut watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                let Ok(event) = res else { return };
                if event.kind.is_access() {
                    return;
                }
                let relevant = event.paths.iter().any(|p| {
                    let (Some(dir), Some(name)) = (p.parent(), p.file_name()) else {
                        return false;
                    };
                    match filter.get(dir) {
                        Some(_) if name == KUBERNETES_DATA_LINK => true,
                        Some(Some(names)) => names.contains(name),
                        Some(None) => is_config_file_name(&name.to_string_lossy()),
                        None => false,
                    }
                });
                if relevant {
                    let _ = raw_tx.send(());
                }
            })?;
        for dir in interest.keys() {
            watcher.watch(dir, RecursiveMode::NonRecursive)?;
        }
        let task = tokio::spawn(async move {
            while raw_rx.recv().await.is_some() {
                // Debounce: wait until nothing happened for `settle`.
                while let Ok(Some(())) = tokio::time::timeout(settle, raw_rx.recv()).await {}
                if triggers.send(()).is_err() {
                    return;
                }
            }
        });
        Ok(Self {
            _watcher: watcher,
            task,
        })
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
        [plugins]
        dir = "p"
        [sink]
        type = "jsonl"
        path = "out.jsonl"
        [exchanges.binance]
        [exchanges.binance.intervals]
        tickers = "5s"
        [exchanges.bybit]
        [exchanges.okx]
        breaker = { failure_threshold = 3 }
    "#;

    fn config(text: &str) -> Config {
        Config::from_toml_str(text, Path::new("/cfg")).unwrap()
    }

    #[test]
    fn unchanged_config_is_an_empty_plan() {
        let plan = ReloadPlan::between(&config(BASE), &config(BASE));
        assert!(plan.is_empty(), "{plan:?}");
        assert_eq!(plan.keep, ["binance", "bybit", "okx"]);
        assert_eq!(plan.summary(), "kept binance, bybit, okx");
    }

    #[test]
    fn only_the_changed_exchange_restarts() {
        let new = BASE.replace("tickers = \"5s\"", "tickers = \"2s\"");
        let plan = ReloadPlan::between(&config(BASE), &config(&new));
        assert_eq!(plan.restart, ["binance"]);
        assert_eq!(plan.keep, ["bybit", "okx"]);
        assert!(plan.start.is_empty() && plan.stop.is_empty());
        assert!(!plan.sink && !plan.web && !plan.alerts && !plan.plugins);
    }

    #[test]
    fn global_settings_restart_the_exchanges_that_inherit_them() {
        // okx has its own breaker, so a change of [breaker] leaves it alone.
        let new = format!("{BASE}\n[breaker]\nfailure_threshold = 9\n");
        let plan = ReloadPlan::between(&config(BASE), &config(&new));
        assert_eq!(plan.restart, ["binance", "bybit"]);
        assert_eq!(plan.keep, ["okx"]);
        // [http] is used by every exchange.
        let new = format!("{BASE}\n[http]\nretries = 5\n");
        let plan = ReloadPlan::between(&config(BASE), &config(&new));
        assert_eq!(plan.restart, ["binance", "bybit", "okx"]);
    }

    #[test]
    fn added_removed_and_disabled_exchanges() {
        let new = BASE
            .replace(
                "[exchanges.bybit]\n",
                "[exchanges.bybit]\nenabled = false\n",
            )
            .replace("[exchanges.okx]", "[exchanges.gate]\n[exchanges.okx]");
        let plan = ReloadPlan::between(&config(BASE), &config(&new));
        assert_eq!(plan.start, ["gate"]);
        assert_eq!(plan.stop, ["bybit"]);
        assert_eq!(plan.keep, ["binance", "okx"]);
        assert_eq!(
            plan.summary(),
            "started gate; stopped bybit; kept binance, okx"
        );
    }

    #[test]
    fn sink_changes_swap_the_sink_and_queue_size_needs_a_restart() {
        let new = BASE.replace("out.jsonl", "other.jsonl");
        let plan = ReloadPlan::between(&config(BASE), &config(&new));
        assert!(plan.sink && plan.needs_restart.is_empty());
        assert_eq!(plan.keep.len(), 3);

        let new = BASE.replace(
            "path = \"out.jsonl\"",
            "path = \"out.jsonl\"\nqueue_batches = 8",
        );
        let plan = ReloadPlan::between(&config(BASE), &config(&new));
        assert!(!plan.sink, "only the queue size changed: {plan:?}");
        assert_eq!(plan.needs_restart, ["sink.queue_batches"]);
        assert!(!plan.is_empty());
    }

    #[test]
    fn web_alerts_plugins_and_shutdown_are_told_apart() {
        let new = format!(
            "{BASE}\n[web]\nlisten = \"127.0.0.1:0\"\n[alerts]\nrepeat_every = \"5m\"\n[shutdown]\ngrace = \"3s\"\n"
        )
        .replace("dir = \"p\"", "dir = \"q\"");
        let plan = ReloadPlan::between(&config(BASE), &config(&new));
        assert!(plan.web && plan.alerts && plan.plugins && plan.shutdown);
        assert!(!plan.sink);
        assert_eq!(plan.keep.len(), 3);
    }

    #[tokio::test]
    async fn watcher_fires_once_per_save_including_rename_saves() {
        let dir = std::env::temp_dir().join(format!("fc-reload-watch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("app.toml");
        std::fs::write(&file, "a = 1\n").unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _watcher =
            ConfigWatcher::start(std::slice::from_ref(&file), Duration::from_millis(100), tx)
                .unwrap();
        // Unrelated files in the same folder are ignored.
        std::fs::write(dir.join("notes.txt"), "x").unwrap();
        std::fs::write(dir.join("other.toml"), "x").unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(400), rx.recv())
                .await
                .is_err(),
            "an unrelated file triggered a reload"
        );
        // A burst of writes is one trigger.
        for i in 0..5 {
            std::fs::write(&file, format!("a = {i}\n")).unwrap();
        }
        tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .expect("no trigger after a write")
            .unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(400), rx.recv())
                .await
                .is_err(),
            "one burst of writes gave two triggers"
        );
        // Save by rename, as vim and many editors do.
        let tmp = dir.join(".app.toml.swp");
        std::fs::write(&tmp, "a = 9\n").unwrap();
        std::fs::rename(&tmp, &file).unwrap();
        tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .expect("no trigger after a rename save")
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn watcher_fires_on_a_kubernetes_configmap_swap() {
        use std::os::unix::fs::symlink;
        let dir = std::env::temp_dir().join(format!("fc-reload-k8s-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("..2026_01_01_00_00_00.1")).unwrap();
        std::fs::write(dir.join("..2026_01_01_00_00_00.1/app.toml"), "a = 1\n").unwrap();
        symlink("..2026_01_01_00_00_00.1", dir.join("..data")).unwrap();
        symlink("..data/app.toml", dir.join("app.toml")).unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _watcher =
            ConfigWatcher::start(&[dir.join("app.toml")], Duration::from_millis(100), tx).unwrap();
        // The kubelet's update: new folder, `..data_tmp` renamed over `..data`.
        std::fs::create_dir(dir.join("..2026_01_01_00_00_01.2")).unwrap();
        std::fs::write(dir.join("..2026_01_01_00_00_01.2/app.toml"), "a = 2\n").unwrap();
        symlink("..2026_01_01_00_00_01.2", dir.join("..data_tmp")).unwrap();
        std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
        tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .expect("no trigger after a ConfigMap swap")
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}

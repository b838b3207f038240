//! Plugin loading, verification and the plugin directory watcher.
//!
//! Owns: turning a file into a verified [`LoadedPlugin`] and keeping the set of loaded plugins
//! current as files appear or change. Must not: load the watched file itself (a loaded `.so`
//! that is overwritten in place crashes the process), unload a library (memory a plugin returned
//! is freed through that plugin's code), or call `RootModule::load_from_*` (it caches one module
//! per type: the second plugin would silently be the first).
//!
//! Every load copies the file to a private, unique path, opens that copy with
//! `lib_header_from_path` + `init_root_module`, then deletes the copy (the mapping stays valid).

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, SystemTime},
};

use abi_stable::{
    library::{lib_header_from_path, LibraryError},
    std_types::{RResult, RSlice, RStr, RVec},
};
use plugin_api::{
    Context, ErrorClass, ExchangePluginRef, HttpRequest, HttpResponse, ParseOutput, PluginError,
    PluginInfo,
};
use tokio::sync::{mpsc, watch};

/// The platform's shared-library extension; other files in the plugin directory are ignored.
pub const PLUGIN_EXTENSION: &str = std::env::consts::DLL_EXTENSION;

/// Why a file could not be used as a plugin. Each variant prints as one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{file}: cannot copy to a private path: {source}")]
    Copy {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: not a futures-collector plugin: {reason}")]
    NotAPlugin { file: PathBuf, reason: String },
    #[error("{file}: incompatible plugin interface: {reason}")]
    Incompatible { file: PathBuf, reason: String },
    #[error("{file}: plugin panicked while loading: {reason}")]
    Panicked { file: PathBuf, reason: String },
    #[error("{file}: plugin reported an error from info(): {reason}")]
    InfoFailed { file: PathBuf, reason: String },
    #[error("{file}: invalid plugin info: {reason}")]
    InvalidInfo { file: PathBuf, reason: String },
}

/// A verified plugin, loaded from a private copy of `source`. Never unloaded.
pub struct LoadedPlugin {
    pub source: PathBuf,
    pub info: PluginInfo,
    module: ExchangePluginRef,
    /// Increases with every load in this process; tells replaced plugins apart.
    pub generation: u64,
}

impl fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("source", &self.source)
            .field("exchange_id", &self.info.exchange_id)
            .field("plugin_version", &self.info.plugin_version)
            .field("generation", &self.generation)
            .finish()
    }
}

impl LoadedPlugin {
    pub fn exchange_id(&self) -> &str {
        self.info.exchange_id.as_str()
    }

    /// Calls the plugin's `build_requests` (panics inside are already contained by the plugin).
    pub fn build_requests(
        &self,
        kind: &str,
        ctx: &Context<'_>,
    ) -> Result<RVec<HttpRequest>, PluginError> {
        match (self.module.build_requests())(RStr::from_str(kind), ctx) {
            RResult::ROk(requests) => Ok(requests),
            RResult::RErr(e) => Err(e),
        }
    }

    /// Calls the plugin's `parse`.
    pub fn parse(
        &self,
        kind: &str,
        responses: &[HttpResponse<'_>],
        ctx: &Context<'_>,
    ) -> ParseOutput {
        (self.module.parse())(RStr::from_str(kind), RSlice::from_slice(responses), ctx)
    }
}

static LOAD_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Directory for private plugin copies: `$TMPDIR/futures-collector-<pid>`.
fn private_copy_dir() -> PathBuf {
    std::env::temp_dir().join(format!("futures-collector-{}", std::process::id()))
}

/// Loads and verifies the plugin in `file`.
pub fn load_plugin(file: &Path) -> Result<LoadedPlugin, LoadError> {
    let file = std::path::absolute(file).unwrap_or_else(|_| file.to_owned());
    let generation = LOAD_COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
    let copy_dir = private_copy_dir();
    let copy_error = |source| LoadError::Copy {
        file: file.clone(),
        source,
    };
    std::fs::create_dir_all(&copy_dir).map_err(copy_error)?;
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("plugin");
    let copy = copy_dir.join(format!("{stem}-{generation}.{PLUGIN_EXTENSION}"));
    std::fs::copy(&file, &copy).map_err(copy_error)?;

    let result = open_copy(&file, &copy);
    // The library stays mapped after the copy is unlinked; nothing accumulates on disk.
    let _ = std::fs::remove_file(&copy);
    let module = result?;

    let info = match std::panic::catch_unwind(|| (module.info())()) {
        Ok(RResult::ROk(info)) => info,
        Ok(RResult::RErr(e)) if e.class == ErrorClass::PLUGIN_PANIC => {
            return Err(LoadError::Panicked {
                file,
                reason: e.message.to_string(),
            })
        }
        Ok(RResult::RErr(e)) => {
            return Err(LoadError::InfoFailed {
                file,
                reason: e.to_string(),
            })
        }
        Err(_) => {
            return Err(LoadError::Panicked {
                file,
                reason: "info() unwound".into(),
            })
        }
    };
    validate_info(&info).map_err(|reason| LoadError::InvalidInfo {
        file: file.clone(),
        reason,
    })?;
    Ok(LoadedPlugin {
        source: file,
        info,
        module,
        generation,
    })
}

fn open_copy(file: &Path, copy: &Path) -> Result<ExchangePluginRef, LoadError> {
    let header = lib_header_from_path(copy).map_err(|e| classify_library_error(file, e))?;
    header
        .init_root_module::<ExchangePluginRef>()
        .map_err(|e| classify_library_error(file, e))
}

fn one_line(text: impl fmt::Display) -> String {
    text.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn classify_library_error(file: &Path, e: LibraryError) -> LoadError {
    let file = file.to_owned();
    match e {
        LibraryError::OpenError { .. } | LibraryError::GetSymbolError { .. } => {
            LoadError::NotAPlugin { file, reason: one_line(&e) }
        }
        LibraryError::RootModule { .. } => LoadError::Panicked { file, reason: one_line(&e) },
        LibraryError::AbiInstability(_) => {
            LoadError::Incompatible {
                file,
                reason: format!(
                    "type layout differs from this host's plugin-api {} (rebuild the plugin against it): {}",
                    plugin_api::INTERFACE_VERSION,
                    layout_error_summary(&one_line(&e))
                ),
            }
        }
        LibraryError::IncompatibleVersionNumber { .. } | LibraryError::ParseVersionError(_) | LibraryError::InvalidAbiHeader(_) | LibraryError::InvalidCAbi { .. } => {
            LoadError::Incompatible { file, reason: one_line(&e) }
        }
        other => LoadError::NotAPlugin { file, reason: one_line(&other) },
    }
}

/// The `Error:` parts of abi_stable's very long layout report, shortened to one line.
fn layout_error_summary(report: &str) -> String {
    let parts: Vec<&str> = report.split("Error:").skip(1).map(|p| p.trim()).collect();
    if parts.is_empty() {
        return first_chars(report, 200);
    }
    parts
        .iter()
        .map(|p| first_chars(p, 160))
        .collect::<Vec<_>>()
        .join("; ")
}

fn first_chars(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn validate_info(info: &PluginInfo) -> Result<(), String> {
    let id = info.exchange_id.as_str();
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "exchange_id {id:?} must be letters, digits, '-' or '_'"
        ));
    }
    if info.kinds.is_empty() {
        return Err("declares no data kinds".into());
    }
    for k in info.kinds.iter() {
        if k.default_interval_ms == 0 {
            return Err(format!("kind {} has a zero default interval", k.name));
        }
    }
    let hours = info.default_funding_interval_hours;
    if !(hours.is_finite() && hours > 0.0) {
        return Err("default_funding_interval_hours must be > 0".into());
    }
    Ok(())
}

/// True for files the loader considers (by extension; hidden and temporary files are skipped).
pub fn is_plugin_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    !name.starts_with('.') && path.extension().and_then(|e| e.to_str()) == Some(PLUGIN_EXTENSION)
}

/// The candidate plugin files in `dir`, sorted.
pub fn plugin_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_plugin_file(p))
        .collect();
    files.sort();
    Ok(files)
}

/// Loaded plugins by exchange id, as seen by workers. Replaced as a whole on every change.
#[derive(Debug, Default, Clone)]
pub struct PluginSet {
    pub by_exchange: BTreeMap<String, Arc<LoadedPlugin>>,
}

impl PluginSet {
    pub fn get(&self, exchange_id: &str) -> Option<&Arc<LoadedPlugin>> {
        self.by_exchange.get(exchange_id)
    }
}

/// A change to the plugin set, for logs and (later) the event feed.
#[derive(Debug, Clone)]
pub enum PluginEvent {
    Loaded {
        file: PathBuf,
        exchange_id: String,
        version: String,
        replaced: bool,
    },
    Failed {
        file: PathBuf,
        error: String,
    },
    Removed {
        file: PathBuf,
        exchange_id: String,
    },
}

/// Keeps the plugin set of one directory current.
pub struct PluginRegistry {
    dir: PathBuf,
    /// What each file last loaded as, with the file's fingerprint at that time.
    by_file: HashMap<PathBuf, (Fingerprint, Result<Arc<LoadedPlugin>, String>)>,
    set_tx: watch::Sender<Arc<PluginSet>>,
}

/// Size and modification time: enough to skip reloading an unchanged file on spurious events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    len: u64,
    modified: Option<SystemTime>,
}

fn fingerprint(path: &Path) -> Option<Fingerprint> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Fingerprint {
        len: meta.len(),
        modified: meta.modified().ok(),
    })
}

impl PluginRegistry {
    pub fn new(dir: PathBuf) -> (Self, watch::Receiver<Arc<PluginSet>>) {
        let (set_tx, set_rx) = watch::channel(Arc::new(PluginSet::default()));
        (
            Self {
                dir,
                by_file: HashMap::new(),
                set_tx,
            },
            set_rx,
        )
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<PluginSet>> {
        self.set_tx.subscribe()
    }

    /// Re-examines every file in the directory; returns what changed.
    pub fn rescan(&mut self) -> Vec<PluginEvent> {
        let files = match plugin_files(&self.dir) {
            Ok(files) => files,
            Err(e) => {
                return vec![PluginEvent::Failed {
                    file: self.dir.clone(),
                    error: format!("{}: cannot read plugin directory: {e}", self.dir.display()),
                }]
            }
        };
        let mut events = Vec::new();
        for file in &files {
            events.extend(self.examine(file));
        }
        let gone: Vec<PathBuf> = self
            .by_file
            .keys()
            .filter(|f| !files.contains(f))
            .cloned()
            .collect();
        for file in gone {
            if let Some((_, Ok(plugin))) = self.by_file.remove(&file) {
                events.push(PluginEvent::Removed {
                    file,
                    exchange_id: plugin.exchange_id().to_owned(),
                });
            }
        }
        if !events.is_empty() {
            self.publish();
        }
        events
    }

    /// Loads `file` if it is new or changed since its last load.
    fn examine(&mut self, file: &Path) -> Option<PluginEvent> {
        let fp = fingerprint(file)?;
        if let Some((old_fp, _)) = self.by_file.get(file) {
            if *old_fp == fp {
                return None;
            }
        }
        let replaced = matches!(self.by_file.get(file), Some((_, Ok(_))));
        match load_plugin(file) {
            Ok(plugin) => {
                let plugin = Arc::new(plugin);
                let event = PluginEvent::Loaded {
                    file: file.to_owned(),
                    exchange_id: plugin.exchange_id().to_owned(),
                    version: plugin.info.plugin_version.to_string(),
                    replaced,
                };
                self.by_file.insert(file.to_owned(), (fp, Ok(plugin)));
                Some(event)
            }
            Err(e) => {
                let error = e.to_string();
                self.by_file
                    .insert(file.to_owned(), (fp, Err(error.clone())));
                Some(PluginEvent::Failed {
                    file: file.to_owned(),
                    error,
                })
            }
        }
    }

    /// Publishes the current set: per exchange id, the most recently loaded plugin wins.
    fn publish(&self) {
        let mut set = PluginSet::default();
        let mut loaded: Vec<&Arc<LoadedPlugin>> = self
            .by_file
            .values()
            .filter_map(|(_, r)| r.as_ref().ok())
            .collect();
        loaded.sort_by_key(|p| p.generation);
        for plugin in loaded {
            set.by_exchange
                .insert(plugin.exchange_id().to_owned(), Arc::clone(plugin));
        }
        self.set_tx.send_replace(Arc::new(set));
    }
}

/// Watches the plugin directory and keeps `registry` current until `stop` fires. Changes are
/// debounced by `settle` (a file being written is loaded once it is quiet).
pub async fn watch_directory(
    mut registry: PluginRegistry,
    settle: Duration,
    events_tx: mpsc::UnboundedSender<PluginEvent>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), notify::Error> {
    use notify::{RecursiveMode, Watcher};

    let (fs_tx, mut fs_rx) = mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if res.is_ok() {
            let _ = fs_tx.send(());
        }
    })?;
    watcher.watch(registry.dir(), RecursiveMode::NonRecursive)?;

    loop {
        tokio::select! {
            _ = stop.changed() => return Ok(()),
            got = fs_rx.recv() => {
                if got.is_none() {
                    return Ok(());
                }
                // Debounce: wait until no event arrived for `settle`.
                while let Ok(Some(())) = tokio::time::timeout(settle, fs_rx.recv()).await {}
                for event in registry.rescan() {
                    let _ = events_tx.send(event);
                }
            }
        }
    }
}

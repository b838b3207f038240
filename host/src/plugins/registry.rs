//! The plugin set of one directory: which file serves each exchange id, kept current as files
//! appear, change or go, and the directory watcher that triggers it.
//!
//! Owns the rules of the set: one plugin per exchange id (a second file declaring a served id
//! is refused naming both, the running one stays; when no file served the id before — at
//! start-up — every claimant is refused, none is picked); a new version of a file that is
//! refused or fails leaves the file's running version in place; a new version of a file that
//! serves an exchange id becomes that id's canary candidate (`canary`) instead of serving at
//! once, and serves only when promoted (by the canary's verdict or an operator's command);
//! versions that stop serving are counted as retired (their code stays mapped).
//! Must not log or count: it returns [`PluginEvent`]s.

use std::{
    collections::BTreeMap,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime},
};

use tokio::sync::{mpsc, watch};

use super::{
    canary::{Canary, CanarySettings, Decider, RegistryCommand},
    load::{load_plugin_with, mapped_libraries, LoadError, LoadPolicy, LoadedPlugin},
    plugin_files, CanaryEvent, PluginEvent, PluginSet, RegistrySummary,
};
use crate::{
    clock::now_ms,
    config::{
        PluginsConfig, DEFAULT_CANARY_CYCLES, DEFAULT_CANARY_MAX_KIND_INTERVAL,
        DEFAULT_MAX_RETIRED_PLUGINS,
    },
    trust::{open_directory, OpenError, Refusal, RefusalReason, Subject},
};

/// How a registry judges files and what it starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryOptions {
    pub policy: LoadPolicy,
    /// Retired versions tolerated before the summary says a restart should reclaim them.
    pub max_retired: usize,
    /// The file serving each exchange id before this registry existed (a reopened directory
    /// keeps them serving when duplicates appear).
    pub incumbents: BTreeMap<String, PathBuf>,
    /// How a replacement is tried before it serves.
    pub canary: CanarySettings,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        Self {
            policy: LoadPolicy::default(),
            max_retired: DEFAULT_MAX_RETIRED_PLUGINS,
            incumbents: BTreeMap::new(),
            canary: CanarySettings {
                cycles: DEFAULT_CANARY_CYCLES,
                max_kind_interval: DEFAULT_CANARY_MAX_KIND_INTERVAL,
            },
        }
    }
}

impl RegistryOptions {
    pub fn from_config(config: &PluginsConfig) -> Self {
        Self {
            policy: LoadPolicy::from_config(config),
            max_retired: config.max_retired,
            incumbents: BTreeMap::new(),
            canary: CanarySettings {
                cycles: config.canary_cycles,
                max_kind_interval: config.canary_max_kind_interval.0,
            },
        }
    }
}

/// Size, times, identity, owner and mode: a change in any of them makes the file examined
/// again (a `chmod` that fixes a refused file included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    dev: u64,
    ino: u64,
    len: u64,
    modified: Option<SystemTime>,
    ctime: (i64, i64),
    mode: u32,
    uid: u32,
}

fn fingerprint(path: &Path) -> Option<Fingerprint> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Fingerprint {
        dev: meta.dev(),
        ino: meta.ino(),
        len: meta.len(),
        modified: meta.modified().ok(),
        ctime: (meta.ctime(), meta.ctime_nsec()),
        mode: meta.mode(),
        uid: meta.uid(),
    })
}

#[derive(Debug)]
struct FileState {
    fingerprint: Fingerprint,
    /// The file's serving version: it keeps serving when a later version is refused or fails,
    /// and while a later version is a canary candidate.
    good: Option<Arc<LoadedPlugin>>,
    /// The file's newer version, parsing beside `good` until promoted or rejected.
    canary: Option<Arc<Canary>>,
    /// Why the file's current content is refused, if it is.
    refusal: Option<Refusal>,
}

/// A file that declares an exchange id another file declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DuplicateFile {
    pub file: PathBuf,
    pub exchange_id: String,
    /// The file that keeps serving the id, if one does.
    pub serving: Option<PathBuf>,
    /// Every other file declaring the id.
    pub others: Vec<PathBuf>,
}

impl DuplicateFile {
    fn refusal(&self) -> Refusal {
        let file = self.file.display();
        let id = &self.exchange_id;
        let message = match &self.serving {
            Some(serving) => format!(
                "{file}: plugin file refused: declares exchange id {id}, which {} already serves; remove one of the two files (the running plugin stays)",
                serving.display()
            ),
            None => format!(
                "{file}: plugin file refused: declares exchange id {id}, as does {}; none of them is loaded until only one remains",
                self.others
                    .iter()
                    .map(|o| o.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        Refusal::new(&self.file, RefusalReason::Duplicate, message)
    }
}

/// Which file serves each exchange id. `candidates`: per exchange id, every file whose
/// plugin declares it (sorted); `incumbents`: the file that served each id until now. A
/// single claimant serves; among several, the incumbent keeps serving and the others are
/// duplicates; without an incumbent among them, all are duplicates and none serves.
pub(crate) fn assign_exchanges(
    candidates: &BTreeMap<String, Vec<PathBuf>>,
    incumbents: &BTreeMap<String, PathBuf>,
) -> (BTreeMap<String, PathBuf>, Vec<DuplicateFile>) {
    let mut serving = BTreeMap::new();
    let mut duplicates = Vec::new();
    for (id, files) in candidates {
        let winner = match files.as_slice() {
            [only] => Some(only.clone()),
            _ => incumbents.get(id).filter(|f| files.contains(f)).cloned(),
        };
        for file in files {
            if Some(file) == winner.as_ref() {
                continue;
            }
            duplicates.push(DuplicateFile {
                file: file.clone(),
                exchange_id: id.clone(),
                serving: winner.clone(),
                others: files.iter().filter(|f| *f != file).cloned().collect(),
            });
        }
        if let Some(winner) = winner {
            serving.insert(id.clone(), winner);
        }
    }
    (serving, duplicates)
}

/// Keeps the plugin set of one directory current.
pub struct PluginRegistry {
    dir: PathBuf,
    options: RegistryOptions,
    by_file: BTreeMap<PathBuf, FileState>,
    /// Set while the plugin directory itself fails the trust checks: nothing new is loaded.
    directory_refusal: Option<Refusal>,
    directory_warned: bool,
    /// The file serving each exchange id.
    serving: BTreeMap<String, PathBuf>,
    duplicates: BTreeMap<PathBuf, Refusal>,
    summary: Option<RegistrySummary>,
    set_tx: watch::Sender<Arc<PluginSet>>,
    /// Promotions and rejections: canary verdicts and operators' commands.
    commands_tx: mpsc::UnboundedSender<RegistryCommand>,
    commands_rx: Option<mpsc::UnboundedReceiver<RegistryCommand>>,
}

impl PluginRegistry {
    /// A registry with the default options (permissions enforced, no pins).
    pub fn new(dir: PathBuf) -> (Self, watch::Receiver<Arc<PluginSet>>) {
        Self::with_options(dir, RegistryOptions::default())
    }

    pub fn with_options(
        dir: PathBuf,
        options: RegistryOptions,
    ) -> (Self, watch::Receiver<Arc<PluginSet>>) {
        let (set_tx, set_rx) = watch::channel(Arc::new(PluginSet::default()));
        let serving = options.incumbents.clone();
        let (commands_tx, commands_rx) = mpsc::unbounded_channel();
        (
            Self {
                dir,
                options,
                by_file: BTreeMap::new(),
                directory_refusal: None,
                directory_warned: false,
                serving,
                duplicates: BTreeMap::new(),
                summary: None,
                set_tx,
                commands_tx,
                commands_rx: Some(commands_rx),
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

    /// Where promotions and rejections are sent (see [`PluginRegistry::command`]).
    pub fn commands(&self) -> mpsc::UnboundedSender<RegistryCommand> {
        self.commands_tx.clone()
    }

    /// Carries out a promotion or rejection; answers an operator's command through its reply.
    pub fn command(&mut self, command: RegistryCommand) -> Vec<PluginEvent> {
        let mut events = Vec::new();
        let (result, reply) = match command {
            RegistryCommand::Promote {
                exchange_id,
                generation,
                by,
                reply,
            } => (
                self.promote(&exchange_id, generation, by, &mut events),
                reply,
            ),
            RegistryCommand::Reject {
                exchange_id,
                by,
                reply,
            } => (self.reject(&exchange_id, by, &mut events), reply),
        };
        if let Some(reply) = reply {
            let _ = reply.send(result);
        }
        self.assign(&mut events);
        self.summarize(&mut events);
        events
    }

    /// Takes the canary candidate (of `generation`, if given) of the file serving
    /// `exchange_id`; returns the file's state with it.
    fn take_canary(
        &mut self,
        exchange_id: &str,
        generation: Option<u64>,
    ) -> Result<(&mut FileState, Arc<Canary>), String> {
        let file = self
            .serving
            .get(exchange_id)
            .cloned()
            .ok_or_else(|| format!("no plugin serves exchange id {exchange_id}"))?;
        self.by_file
            .get_mut(&file)
            .and_then(|state| {
                let canary = state
                    .canary
                    .take_if(|c| generation.is_none_or(|g| g == c.candidate.generation))?;
                Some((state, canary))
            })
            .ok_or_else(|| {
                format!("no new version of {exchange_id} is waiting (no canary candidate)")
            })
    }

    fn promote(
        &mut self,
        exchange_id: &str,
        generation: Option<u64>,
        by: Decider,
        events: &mut Vec<PluginEvent>,
    ) -> Result<String, String> {
        let (state, canary) = self.take_canary(exchange_id, generation)?;
        let was = state
            .good
            .replace(Arc::clone(&canary.candidate))
            .map(|p| p.info.plugin_version.to_string())
            .unwrap_or_default();
        events.push(canary.event(CanaryEvent::Promoted { by }));
        Ok(format!(
            "{exchange_id}: version {} promoted (was {was})",
            canary.candidate.info.plugin_version
        ))
    }

    fn reject(
        &mut self,
        exchange_id: &str,
        by: Decider,
        events: &mut Vec<PluginEvent>,
    ) -> Result<String, String> {
        let (_, canary) = self.take_canary(exchange_id, None)?;
        events.push(canary.event(CanaryEvent::Rejected { by }));
        Ok(format!(
            "{exchange_id}: version {} rejected; the running version keeps serving until the file changes again",
            canary.candidate.info.plugin_version
        ))
    }

    /// Re-examines the directory and every file in it; returns what changed.
    pub fn rescan(&mut self) -> Vec<PluginEvent> {
        let mut events = Vec::new();
        let trusted_directory = self.check_directory(&mut events);
        let files = match plugin_files(&self.dir) {
            Ok(files) => files,
            Err(e) => {
                events.push(PluginEvent::Failed {
                    file: self.dir.clone(),
                    error: format!("{}: cannot read plugin directory: {e}", self.dir.display()),
                });
                return events;
            }
        };
        self.by_file.retain(|file, _| files.contains(file));
        if trusted_directory {
            for file in &files {
                events.extend(self.examine(file));
            }
        }
        self.assign(&mut events);
        self.summarize(&mut events);
        events
    }

    /// Judges the plugin directory; false while it is refused.
    fn check_directory(&mut self, events: &mut Vec<PluginEvent>) -> bool {
        let allow = self.options.policy.allow_insecure_permissions;
        match open_directory(Subject::PluginDirectory, &self.dir, allow) {
            Ok((_, warning)) => {
                self.directory_refusal = None;
                match warning {
                    Some(warning) if !self.directory_warned => {
                        self.directory_warned = true;
                        events.push(PluginEvent::Insecure {
                            file: self.dir.clone(),
                            warning,
                        });
                    }
                    Some(_) => {}
                    None => self.directory_warned = false,
                }
                true
            }
            Err(OpenError::Refused(refusal)) => {
                if self.directory_refusal.as_ref() != Some(&refusal) {
                    events.push(refused_event(&refusal));
                    self.directory_refusal = Some(refusal);
                }
                false
            }
            // Unreadable: listing it reports the error.
            Err(OpenError::Io { .. }) => true,
        }
    }

    /// Loads `file` if it is new or changed since it was last examined.
    fn examine(&mut self, file: &Path) -> Vec<PluginEvent> {
        let Some(fp) = fingerprint(file) else {
            return Vec::new();
        };
        if self
            .by_file
            .get(file)
            .is_some_and(|state| state.fingerprint == fp)
        {
            return Vec::new();
        }
        let mut events = Vec::new();
        let (loaded, refusal) = match load_plugin_with(file, &self.options.policy) {
            Ok(plugin) => {
                events.extend(plugin.warnings.iter().map(|warning| PluginEvent::Insecure {
                    file: file.to_owned(),
                    warning: warning.clone(),
                }));
                (Some(Arc::new(plugin)), None)
            }
            Err(LoadError::Refused(refusal)) => {
                events.push(refused_event(&refusal));
                (None, Some(refusal))
            }
            Err(e) => {
                events.push(PluginEvent::Failed {
                    file: file.to_owned(),
                    error: e.to_string(),
                });
                (None, None)
            }
        };
        let (previous_good, previous_canary) = match self.by_file.remove(file) {
            Some(state) => (state.good, state.canary),
            None => (None, None),
        };
        // The file's content changed: a candidate loaded from its earlier content is over.
        if let Some(old) = previous_canary {
            events.push(old.event(CanaryEvent::Superseded));
        }
        // A new version of the plugin serving its exchange id is tried as a canary first.
        let serving_same_id = previous_good.as_ref().filter(|active| {
            loaded
                .as_ref()
                .is_some_and(|new| new.exchange_id() == active.exchange_id())
                && self.serving.get(active.exchange_id()).map(PathBuf::as_path) == Some(file)
        });
        let (good, canary) = match (loaded, serving_same_id) {
            (Some(new), Some(active)) if self.options.canary.cycles > 0 => {
                let canary = Canary::new(
                    new,
                    active,
                    self.options.canary,
                    now_ms(),
                    self.commands_tx.clone(),
                );
                events.push(canary.event(CanaryEvent::Started {
                    active_version: active.info.plugin_version.to_string(),
                    status: Box::new(canary.status()),
                }));
                (previous_good, Some(Arc::new(canary)))
            }
            (Some(new), _) => (Some(new), None),
            (None, _) => (previous_good, None),
        };
        self.by_file.insert(
            file.to_owned(),
            FileState {
                fingerprint: fp,
                good,
                canary,
                refusal,
            },
        );
        events
    }

    /// Decides which file serves each exchange id and publishes the set if it changed.
    fn assign(&mut self, events: &mut Vec<PluginEvent>) {
        let mut candidates: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
        for (file, state) in &self.by_file {
            if let Some(plugin) = &state.good {
                candidates
                    .entry(plugin.exchange_id().to_owned())
                    .or_default()
                    .push(file.clone());
            }
        }
        let (serving, duplicates) = assign_exchanges(&candidates, &self.serving);
        let duplicates: BTreeMap<PathBuf, Refusal> = duplicates
            .iter()
            .map(|d| (d.file.clone(), d.refusal()))
            .collect();
        for (file, refusal) in &duplicates {
            if self.duplicates.get(file) != Some(refusal) {
                events.push(refused_event(refusal));
            }
        }
        self.duplicates = duplicates;
        self.serving = serving;

        let previous = self.set_tx.borrow().clone();
        let mut set = PluginSet::default();
        for (id, file) in &self.serving {
            let Some(state) = self.by_file.get(file) else {
                continue;
            };
            if let Some(plugin) = &state.good {
                set.by_exchange.insert(id.clone(), Arc::clone(plugin));
            }
            if let Some(canary) = &state.canary {
                set.canaries.insert(id.clone(), Arc::clone(canary));
            }
        }
        let canaries_changed = set.canaries.len() != previous.canaries.len()
            || set
                .canaries
                .iter()
                .any(|(id, c)| previous.canaries.get(id).is_none_or(|p| !Arc::ptr_eq(p, c)));
        let mut changed = canaries_changed;
        for (id, plugin) in &set.by_exchange {
            let before = previous.get(id).map(|p| p.generation);
            if before != Some(plugin.generation) {
                changed = true;
                events.push(PluginEvent::Loaded {
                    file: plugin.source.clone(),
                    exchange_id: id.clone(),
                    version: plugin.info.plugin_version.to_string(),
                    replaced: before.is_some(),
                });
            }
        }
        for (id, plugin) in &previous.by_exchange {
            if !set.by_exchange.contains_key(id) {
                changed = true;
                events.push(PluginEvent::Removed {
                    file: plugin.source.clone(),
                    exchange_id: id.clone(),
                });
            }
        }
        if changed {
            self.set_tx.send_replace(Arc::new(set));
        }
    }

    /// The standing now; an event when it changed.
    fn summarize(&mut self, events: &mut Vec<PluginEvent>) {
        let mut refused: Vec<Refusal> = self.directory_refusal.iter().cloned().collect();
        refused.extend(self.by_file.values().filter_map(|s| s.refusal.clone()));
        refused.extend(self.duplicates.values().cloned());
        let set = self.set_tx.borrow().clone();
        let live = set
            .by_exchange
            .values()
            .chain(set.canaries.values().map(|c| &c.candidate));
        let serving_bytes: u64 = live.clone().map(|p| p.mapped_bytes).sum();
        let mapped = mapped_libraries();
        let summary = RegistrySummary {
            refused,
            retired_versions: mapped.count.saturating_sub(live.count() as u64),
            retired_mapped_bytes: mapped.bytes.saturating_sub(serving_bytes),
            max_retired: self.options.max_retired,
        };
        if self.summary.as_ref() != Some(&summary) {
            self.summary = Some(summary.clone());
            events.push(PluginEvent::Summary(summary));
        }
    }
}

fn refused_event(refusal: &Refusal) -> PluginEvent {
    PluginEvent::Refused {
        file: refusal.path.clone(),
        reason: refusal.reason,
        error: refusal.message.clone(),
    }
}

/// Watches the plugin directory and keeps `registry` current until `stop` fires; carries out
/// the promotions and rejections sent to [`PluginRegistry::commands`]. Changes are debounced
/// by `settle` (a file being written is loaded once it is quiet).
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
    let Some(mut commands) = registry.commands_rx.take() else {
        return Ok(());
    };

    loop {
        tokio::select! {
            _ = stop.changed() => return Ok(()),
            Some(command) = commands.recv() => {
                for event in registry.command(command) {
                    let _ = events_tx.send(event);
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn one_plugin_per_exchange_id() {
        struct Case {
            name: &'static str,
            candidates: &'static [(&'static str, &'static [&'static str])],
            incumbents: &'static [(&'static str, &'static str)],
            serving: &'static [(&'static str, &'static str)],
            // (file, serving file) of each duplicate
            duplicates: &'static [(&'static str, Option<&'static str>)],
        }
        let cases = [
            Case {
                name: "one file per id",
                candidates: &[("a", &["/p/a.so"]), ("b", &["/p/b.so"])],
                incumbents: &[],
                serving: &[("a", "/p/a.so"), ("b", "/p/b.so")],
                duplicates: &[],
            },
            Case {
                name: "start-up with two claimants: neither serves",
                candidates: &[("a", &["/p/a.so", "/p/a2.so"])],
                incumbents: &[],
                serving: &[],
                duplicates: &[("/p/a.so", None), ("/p/a2.so", None)],
            },
            Case {
                name: "a second claimant of a served id: the running one stays",
                candidates: &[("a", &["/p/a.so", "/p/z.so"])],
                incumbents: &[("a", "/p/z.so")],
                serving: &[("a", "/p/z.so")],
                duplicates: &[("/p/a.so", Some("/p/z.so"))],
            },
            Case {
                name: "the incumbent's file is gone, two remain: neither serves",
                candidates: &[("a", &["/p/b.so", "/p/c.so"])],
                incumbents: &[("a", "/p/a.so")],
                serving: &[],
                duplicates: &[("/p/b.so", None), ("/p/c.so", None)],
            },
            Case {
                name: "the conflict resolves: the remaining file serves",
                candidates: &[("a", &["/p/b.so"])],
                incumbents: &[],
                serving: &[("a", "/p/b.so")],
                duplicates: &[],
            },
        ];
        for case in cases {
            let candidates = case
                .candidates
                .iter()
                .map(|(id, files)| (id.to_string(), paths(files)))
                .collect();
            let incumbents = case
                .incumbents
                .iter()
                .map(|(id, f)| (id.to_string(), PathBuf::from(f)))
                .collect();
            let (serving, duplicates) = assign_exchanges(&candidates, &incumbents);
            let expected: BTreeMap<String, PathBuf> = case
                .serving
                .iter()
                .map(|(id, f)| (id.to_string(), PathBuf::from(f)))
                .collect();
            assert_eq!(serving, expected, "{}", case.name);
            let got: Vec<(PathBuf, Option<PathBuf>)> = duplicates
                .iter()
                .map(|d| (d.file.clone(), d.serving.clone()))
                .collect();
            let want: Vec<(PathBuf, Option<PathBuf>)> = case
                .duplicates
                .iter()
                .map(|(f, s)| (PathBuf::from(f), s.map(PathBuf::from)))
                .collect();
            assert_eq!(got, want, "{}", case.name);
        }
    }

    #[test]
    fn duplicate_refusals_name_both_files() {
        let running = DuplicateFile {
            file: "/p/copy.so".into(),
            exchange_id: "binance".into(),
            serving: Some("/p/libfc_plugin_binance.so".into()),
            others: vec!["/p/libfc_plugin_binance.so".into()],
        }
        .refusal();
        assert_eq!(running.reason, RefusalReason::Duplicate);
        assert!(
            running.message.starts_with("/p/copy.so: "),
            "{}",
            running.message
        );
        assert!(
            running
                .message
                .contains("/p/libfc_plugin_binance.so already serves"),
            "{}",
            running.message
        );
        let start = DuplicateFile {
            serving: None,
            ..DuplicateFile {
                file: "/p/a.so".into(),
                exchange_id: "x".into(),
                serving: None,
                others: vec!["/p/b.so".into(), "/p/c.so".into()],
            }
        }
        .refusal();
        assert!(
            start
                .message
                .contains("as does /p/b.so, /p/c.so; none of them is loaded"),
            "{}",
            start.message
        );
    }

    #[test]
    fn a_refused_directory_loads_nothing_new() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.so"), b"not a plugin").unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let (mut registry, _) = PluginRegistry::new(dir.path().to_owned());
        let events = registry.rescan();
        assert!(
            matches!(&events[0], PluginEvent::Refused { reason: RefusalReason::Writable, file, .. } if file == dir.path()),
            "{events:?}"
        );
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, PluginEvent::Failed { .. })),
            "x.so must not even be read: {events:?}"
        );
        let Some(PluginEvent::Summary(summary)) = events.last() else {
            panic!("{events:?}");
        };
        assert_eq!(summary.refused.len(), 1);
        assert!(
            registry.rescan().is_empty(),
            "an unchanged refusal is reported once"
        );

        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let events = registry.rescan();
        assert!(
            events
                .iter()
                .any(|e| matches!(e, PluginEvent::Failed { error, .. } if error.contains("x.so"))),
            "examined once the directory is fixed: {events:?}"
        );
    }
}

//! Plugins: loading, trust checks and the watched plugin set.
//!
//! - the trust checks themselves (owner, permissions, the race-free open) are the crate's
//!   `trust` module, shared with the config loader;
//! - `pins`: the SHA-256 of a plugin file and `[plugins.pins]`;
//! - `elf`: the structure a file must have before it is mapped (no truncated or damaged ELF);
//! - `private_copy`: the sealed memfd (or private 0700 directory) a plugin is loaded from;
//! - `probe`: the same copy mapped first in a throwaway process of the collector's binary, so a
//!   file whose mapping crashes is refused instead of ending the collector;
//! - `load`: one file to a verified [`LoadedPlugin`];
//! - `registry`: the plugin set of one directory (one plugin per exchange id, retired versions)
//!   and its watcher;
//! - `canary`: a replacement parses beside the running version and is compared with it before
//!   it serves; `PluginControl` lets an operator promote or reject it.
//!
//! Owns everything between a file in the plugin directory and the [`PluginSet`] workers read.
//! Must not map a file before its trust checks (mapping runs the library's initializers), run
//! plugin code other than those and `info()` while loading, or log and count: what happens is
//! reported as [`PluginEvent`]s for the supervisor and telemetry.

pub mod canary;
mod elf;
mod load;
pub mod pins;
mod private_copy;
pub mod probe;
mod registry;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use tokio::sync::{mpsc, oneshot};

pub use crate::observe::telemetry::plugin_vocabulary::{CanaryEvent, PluginEvent, RegistrySummary};
pub use crate::observe::web::decisions::ControlError;
pub use crate::trust::{Refusal, RefusalReason};
pub use canary::{Canary, CanaryState, CanaryStatus, Decider, RegistryCommand};
pub use load::{
    file_sha256, load_plugin, load_plugin_with, mapped_libraries, LoadError, LoadPolicy,
    LoadedPlugin, MappedLibraries, MAX_PLUGIN_FILE_BYTES,
};
pub use private_copy::{
    private_directory, remove_private_directory, CopyMethod, PRIVATE_DIRECTORY_PREFIX,
};
pub use registry::{watch_directory, PluginRegistry, RegistryOptions};

/// The platform's shared-library extension; other files in the plugin directory are ignored.
pub const PLUGIN_EXTENSION: &str = std::env::consts::DLL_EXTENSION;

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
    /// The version serving each exchange id.
    pub by_exchange: BTreeMap<String, Arc<LoadedPlugin>>,
    /// A newer version per exchange id, parsing beside the serving one until promoted.
    pub canaries: BTreeMap<String, Arc<Canary>>,
}

impl PluginSet {
    pub fn get(&self, exchange_id: &str) -> Option<&Arc<LoadedPlugin>> {
        self.by_exchange.get(exchange_id)
    }

    pub fn canary(&self, exchange_id: &str) -> Option<&Arc<Canary>> {
        self.canaries.get(exchange_id)
    }
}

/// An operator's handle on the registry of the plugin directory in use: promotes or rejects
/// canary candidates. Cheap to clone; a reopened directory attaches its registry.
#[derive(Debug, Clone, Default)]
pub struct PluginControl {
    commands: Arc<Mutex<Option<mpsc::UnboundedSender<RegistryCommand>>>>,
}

impl PluginControl {
    /// Sends later commands to this registry (`None`: the directory is not watched).
    pub fn attach(&self, commands: Option<mpsc::UnboundedSender<RegistryCommand>>) {
        *self.commands.lock().unwrap_or_else(|p| p.into_inner()) = commands;
    }

    /// Makes the canary candidate of `exchange_id` serve now, whatever its comparison says.
    pub async fn promote(&self, exchange_id: &str) -> Result<String, ControlError> {
        self.send(|reply| RegistryCommand::Promote {
            exchange_id: exchange_id.to_owned(),
            generation: None,
            by: Decider::Operator,
            reply: Some(reply),
        })
        .await
    }

    /// Drops the canary candidate of `exchange_id`; the running version keeps serving.
    pub async fn reject(&self, exchange_id: &str) -> Result<String, ControlError> {
        self.send(|reply| RegistryCommand::Reject {
            exchange_id: exchange_id.to_owned(),
            by: Decider::Operator,
            reply: Some(reply),
        })
        .await
    }

    async fn send(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<String, String>>) -> RegistryCommand,
    ) -> Result<String, ControlError> {
        let (reply_tx, reply_rx) = oneshot::channel();
        let sent = self
            .commands
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|tx| tx.send(command(reply_tx)).is_ok());
        if !sent {
            return Err(ControlError::NotWatching);
        }
        match reply_rx.await {
            Ok(result) => result.map_err(ControlError::Refused),
            Err(_) => Err(ControlError::NotWatching),
        }
    }
}

impl crate::observe::web::decisions::CanaryDecisions for PluginControl {
    fn decide<'a>(
        &'a self,
        exchange_id: &'a str,
        decision: crate::observe::web::decisions::Decision,
    ) -> crate::observe::web::decisions::DecisionFuture<'a> {
        use crate::observe::web::decisions::Decision;
        Box::pin(async move {
            match decision {
                Decision::Promote => self.promote(exchange_id).await,
                Decision::Reject => self.reject(exchange_id).await,
            }
        })
    }
}

//! Loading one plugin file: trust checks on the opened file, its bytes read through that
//! descriptor, the pin check, the ELF structure check, a private copy, `dlopen` of the copy, the ABI check and the
//! plugin's own description. Owns [`LoadedPlugin`], [`LoadError`] and the process-wide count of
//! mapped plugin libraries.
//!
//! Must not load the watched file itself (a loaded `.so` that is overwritten in place crashes
//! the process), unload a library (memory a plugin returned is freed through that plugin's
//! code), or call `RootModule::load_from_*` (it caches one module per type: the second plugin
//! would silently be the first). Each file is opened with `lib_header_from_path` +
//! `init_root_module`.

use std::{
    fmt,
    io::Read,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use abi_stable::{
    library::{lib_header_from_path, LibraryError},
    std_types::{RResult, RSlice, RStr, RVec},
};
use plugin_api::{
    Context, ErrorClass, ExchangePluginRef, HttpRequest, HttpResponse, ParseOutput, PluginError,
    PluginInfo,
};

use super::{
    elf::check_shared_object,
    pins::{sha256_hex, Pins},
    private_copy::{CopyMethod, PrivateCopy},
};
use crate::{
    config::{is_identifier, PluginsConfig},
    trust::{open_plugin_file, OpenError, Refusal},
};

/// Largest plugin file read (a debug build of an adapter is ~17 MB, a release build ~3 MB): a
/// bound on the memory one file in the plugin directory can make the loader allocate.
pub const MAX_PLUGIN_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// How files are judged and copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadPolicy {
    /// Load files that fail the ownership/permission checks (each still gives a warning).
    pub allow_insecure_permissions: bool,
    pub pins: Pins,
    pub copy: CopyMethod,
}

impl LoadPolicy {
    pub fn from_config(config: &PluginsConfig) -> Self {
        Self {
            allow_insecure_permissions: config.allow_insecure_permissions,
            pins: Pins::new(&config.pins),
            copy: CopyMethod::Auto,
        }
    }
}

/// Why a file could not be used as a plugin. Each variant prints as one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Failed a trust check (ownership, permissions, file type, pin).
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("{file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: {len} bytes is more than a plugin may have ({MAX_PLUGIN_FILE_BYTES})")]
    TooLarge { file: PathBuf, len: u64 },
    #[error("{file}: cannot make a private copy: {source}")]
    Copy {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: not a futures-collector plugin: {reason}")]
    NotAPlugin { file: PathBuf, reason: String },
    #[error("{file}: refused by the probe load: {reason}")]
    ProbeFailed { file: PathBuf, reason: String },
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
    /// SHA-256 of the file as it was read (hex); computed only when pins are set (hashing a
    /// debug build's 17 MB is not free, and nothing else needs it).
    pub sha256: Option<String>,
    /// Address space mapped from the copy (what a retired version keeps).
    pub mapped_bytes: u64,
    /// Checks `allow_insecure_permissions` waived, one message each.
    pub warnings: Vec<String>,
}

impl fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("source", &self.source)
            .field("exchange_id", &self.info.exchange_id)
            .field("plugin_version", &self.info.plugin_version)
            .field("generation", &self.generation)
            .field("sha256", &self.sha256)
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
static MAPPED_LIBRARIES: AtomicU64 = AtomicU64::new(0);
static MAPPED_BYTES: AtomicU64 = AtomicU64::new(0);

/// Plugin libraries this process mapped (loaded or rejected after mapping), never unloaded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MappedLibraries {
    pub count: u64,
    pub bytes: u64,
}

/// Every plugin library mapped so far in this process.
pub fn mapped_libraries() -> MappedLibraries {
    MappedLibraries {
        count: MAPPED_LIBRARIES.load(Ordering::Relaxed),
        bytes: MAPPED_BYTES.load(Ordering::Relaxed),
    }
}

/// Loads and verifies the plugin in `file` with the default policy (permissions enforced, no
/// pins).
pub fn load_plugin(file: &Path) -> Result<LoadedPlugin, LoadError> {
    load_plugin_with(file, &LoadPolicy::default())
}

/// Loads and verifies the plugin in `file`.
pub fn load_plugin_with(file: &Path, policy: &LoadPolicy) -> Result<LoadedPlugin, LoadError> {
    let file = std::path::absolute(file).unwrap_or_else(|_| file.to_owned());
    let (bytes, warnings) = read_trusted(&file, policy.allow_insecure_permissions)?;
    let sha256 = (!policy.pins.is_empty()).then(|| sha256_hex(&bytes));
    if let Some(digest) = &sha256 {
        policy.pins.check_digest(&file, digest)?;
    }

    check_shared_object(&bytes).map_err(|reason| LoadError::NotAPlugin {
        file: file.clone(),
        reason,
    })?;

    let generation = LOAD_COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("plugin");
    let copy = PrivateCopy::write(&bytes, stem, generation, policy.copy).map_err(|source| {
        LoadError::Copy {
            file: file.clone(),
            source,
        }
    })?;
    drop(bytes);
    super::probe::probe(copy.path()).map_err(|reason| LoadError::ProbeFailed {
        file: file.clone(),
        reason,
    })?;
    let (module, mapped_bytes) = open_copy(&file, copy)?;

    let info = call_info(&file, module)?;
    validate_info(&info).map_err(|reason| LoadError::InvalidInfo {
        file: file.clone(),
        reason,
    })?;
    if let Some(digest) = &sha256 {
        policy
            .pins
            .check_exchange(&file, digest, info.exchange_id.as_str())?;
    }
    Ok(LoadedPlugin {
        source: file,
        info,
        module,
        generation,
        sha256,
        mapped_bytes,
        warnings,
    })
}

/// The SHA-256 of a plugin file, read through the same checked open as a load (for
/// `plugins --dir`); `allow_insecure` reads files that fail the checks too.
pub fn file_sha256(file: &Path, allow_insecure: bool) -> Result<String, LoadError> {
    read_trusted(file, allow_insecure).map(|(bytes, _)| sha256_hex(&bytes))
}

/// The file's bytes, read through a descriptor that passed the trust checks.
fn read_trusted(file: &Path, allow_insecure: bool) -> Result<(Vec<u8>, Vec<String>), LoadError> {
    let trusted = open_plugin_file(file, allow_insecure).map_err(|e| match e {
        OpenError::Refused(refusal) => LoadError::Refused(refusal),
        OpenError::Io { source, .. } => LoadError::Read {
            file: file.to_owned(),
            source,
        },
    })?;
    let len = trusted.meta.len();
    if len > MAX_PLUGIN_FILE_BYTES {
        return Err(LoadError::TooLarge {
            file: file.to_owned(),
            len,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    (&trusted.file)
        .take(MAX_PLUGIN_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| LoadError::Read {
            file: file.to_owned(),
            source,
        })?;
    let read = bytes.len() as u64;
    if read > MAX_PLUGIN_FILE_BYTES {
        return Err(LoadError::TooLarge {
            file: file.to_owned(),
            len: read,
        });
    }
    Ok((bytes, trusted.warnings))
}

/// Opens the copy; from the moment `dlopen` may have mapped it, the copy is kept (its name
/// must never be reused) and its mapping counted.
fn open_copy(file: &Path, copy: PrivateCopy) -> Result<(ExchangePluginRef, u64), LoadError> {
    let copy_name = copy.path().display().to_string();
    let classify = |e: LibraryError| classify_library_error(file, &copy_name, e);
    let header = match lib_header_from_path(copy.path()) {
        Ok(header) => header,
        // Not mapped: the copy goes.
        Err(e @ LibraryError::OpenError { .. }) => return Err(classify(e)),
        Err(e) => {
            count_mapping(copy.keep_mapped());
            return Err(classify(e));
        }
    };
    let mapped_bytes = copy.keep_mapped();
    count_mapping(mapped_bytes);
    let module = header
        .init_root_module::<ExchangePluginRef>()
        .map_err(classify)?;
    Ok((module, mapped_bytes))
}

fn count_mapping(bytes: u64) {
    if bytes > 0 {
        MAPPED_LIBRARIES.fetch_add(1, Ordering::Relaxed);
        MAPPED_BYTES.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// Calls the plugin's `info()`.
fn call_info(file: &Path, module: ExchangePluginRef) -> Result<PluginInfo, LoadError> {
    let file = file.to_owned();
    match std::panic::catch_unwind(|| (module.info())()) {
        Ok(RResult::ROk(info)) => Ok(info),
        Ok(RResult::RErr(e)) if e.class == ErrorClass::PLUGIN_PANIC => Err(LoadError::Panicked {
            file,
            reason: e.message.to_string(),
        }),
        Ok(RResult::RErr(e)) => Err(LoadError::InfoFailed {
            file,
            reason: e.to_string(),
        }),
        Err(_) => Err(LoadError::Panicked {
            file,
            reason: "info() unwound".into(),
        }),
    }
}

fn one_line(text: impl fmt::Display) -> String {
    text.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// abi_stable's error as one line, naming the plugin file instead of its private copy.
fn classify_library_error(file: &Path, copy_name: &str, e: LibraryError) -> LoadError {
    let file = file.to_owned();
    let line = |e: &LibraryError| one_line(e).replace(copy_name, &file.display().to_string());
    match e {
        LibraryError::OpenError { .. } | LibraryError::GetSymbolError { .. } => {
            LoadError::NotAPlugin { reason: line(&e), file }
        }
        LibraryError::RootModule { .. } => LoadError::Panicked { reason: line(&e), file },
        LibraryError::AbiInstability(_) => {
            LoadError::Incompatible {
                reason: format!(
                    "type layout differs from this host's plugin-api {} (rebuild the plugin against it): {}",
                    plugin_api::INTERFACE_VERSION,
                    layout_error_summary(&line(&e))
                ),
                file,
            }
        }
        LibraryError::IncompatibleVersionNumber { .. } | LibraryError::ParseVersionError(_) | LibraryError::InvalidAbiHeader(_) | LibraryError::InvalidCAbi { .. } => {
            LoadError::Incompatible { reason: line(&e), file }
        }
        other => LoadError::NotAPlugin { reason: line(&other), file },
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
    if !is_identifier(id) {
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

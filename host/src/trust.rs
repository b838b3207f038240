//! Trust checks: who owns a plugin file, its directory and the config location, and who can
//! write them (used by the plugin loader and the config loader alike). Owns the permission predicate ([`distrust`]), the refusals it produces (each
//! naming the path and the fix) and the race-free open of a plugin file: the directory and the
//! file are opened first (`openat` with `O_NOFOLLOW`) and the *opened* descriptors are judged
//! (`fstat`), so a file swapped between a check and the open is never the one read.
//!
//! Must not load or execute anything, and depends on nothing else in the crate: the config
//! loader calls [`config_location_problems`] for the config directory.
//!
//! What lies on a read-only mount is trusted whatever its mode (nobody can write it): a
//! Kubernetes ConfigMap volume's root has mode 0777 but is mounted read-only.
//!
//! Symlinks in the plugin directory are resolved; the target and the directory holding it are
//! judged, and so is the plugin directory itself. Ancestors further up are not: a directory
//! an attacker swaps in above them is owned by the attacker and refused here.

use std::{
    fmt,
    fs::{File, Metadata},
    io,
    os::unix::fs::{MetadataExt, OpenOptionsExt},
    path::{Path, PathBuf},
};

use rustix::fs::{openat, Mode, OFlags};

/// The owner of files every process trusts.
pub const ROOT_UID: u32 = 0;
/// Mode bit: writable by the file's group.
const GROUP_WRITE: u32 = 0o020;
/// Mode bit: writable by everyone else.
const OTHERS_WRITE: u32 = 0o002;
/// Permission bits shown in messages (`0755`).
const PERMISSION_BITS: u32 = 0o7777;

/// The user the process runs as (its effective uid): the only owner besides root whose files
/// it trusts.
pub fn service_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Whether an opened file or directory lies on a read-only mount: then nobody can write it
/// (short of root remounting it, and root is trusted anyway), whatever its mode and owner say.
/// Kubernetes mounts ConfigMap and Secret volumes read-only on an `emptyDir` whose root has
/// mode 0777; judged by its mode alone such a config directory would be refused. A mount whose
/// flags cannot be read is judged by mode and owner.
pub fn on_read_only_mount(opened: &File) -> bool {
    rustix::fs::fstatvfs(opened)
        .is_ok_and(|vfs| vfs.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY))
}

/// One reason not to trust a file or directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distrust {
    /// Owned by neither the service user nor root.
    Owner { uid: u32, service_uid: u32 },
    /// Writable by its group and/or by everyone.
    Writable {
        group: bool,
        others: bool,
        mode: u32,
    },
}

/// The permission predicate: every reason a file or directory owned by `uid` with permission
/// `mode` must not be trusted by a process running as `service_uid` (empty: trusted).
pub fn distrust(mode: u32, uid: u32, service_uid: u32) -> Vec<Distrust> {
    let mut reasons = Vec::new();
    if uid != service_uid && uid != ROOT_UID {
        reasons.push(Distrust::Owner { uid, service_uid });
    }
    let (group, others) = (mode & GROUP_WRITE != 0, mode & OTHERS_WRITE != 0);
    if group || others {
        reasons.push(Distrust::Writable {
            group,
            others,
            mode: mode & PERMISSION_BITS,
        });
    }
    reasons
}

/// Why a plugin file (or its directory) was refused; the metric's `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RefusalReason {
    /// Owned by another user than the service user or root.
    Owner,
    /// Writable by group or others.
    Writable,
    /// Not a regular file (a device, a FIFO, a directory behind a link).
    NotAFile,
    /// Replaced by a symlink between the directory listing and the open.
    Swapped,
    /// Its SHA-256 matches no `[plugins.pins]` entry, or it declares another exchange id than
    /// the one it is pinned for.
    Pin,
    /// Another file declares the same exchange id.
    Duplicate,
}

impl RefusalReason {
    pub const ALL: [Self; 6] = [
        Self::Owner,
        Self::Writable,
        Self::NotAFile,
        Self::Swapped,
        Self::Pin,
        Self::Duplicate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Writable => "writable",
            Self::NotAFile => "not_a_file",
            Self::Swapped => "swapped",
            Self::Pin => "pin",
            Self::Duplicate => "duplicate",
        }
    }

    /// Whether `[plugins] allow_insecure_permissions` waives it.
    pub fn is_permission(self) -> bool {
        matches!(self, Self::Owner | Self::Writable)
    }
}

/// A refused file or directory: the path it concerns, why, and a one-line message naming the
/// path and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub path: PathBuf,
    pub reason: RefusalReason,
    pub message: String,
}

impl Refusal {
    pub fn new(path: &Path, reason: RefusalReason, message: String) -> Self {
        Self {
            path: path.to_owned(),
            reason,
            message,
        }
    }
}

/// What a path is, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    PluginFile,
    PluginDirectory,
    ConfigFile,
    ConfigDirectory,
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PluginFile => "plugin file",
            Self::PluginDirectory => "plugin directory",
            Self::ConfigFile => "config file",
            Self::ConfigDirectory => "config directory",
        })
    }
}

fn writers(group: bool, others: bool) -> &'static str {
    match (group, others) {
        (true, true) => "group and others",
        (true, false) => "its group",
        _ => "others",
    }
}

/// The refusal of `path` for `reasons` (none when empty), naming it (as `shown`: a link and its
/// target) and the commands that fix it.
pub fn describe(
    subject: Subject,
    path: &Path,
    shown: &str,
    reasons: &[Distrust],
) -> Option<Refusal> {
    let first = reasons.first()?;
    let mut what = Vec::new();
    let mut fixes = Vec::new();
    for reason in reasons {
        match *reason {
            Distrust::Owner { uid, service_uid } => {
                what.push(format!(
                    "owned by uid {uid}, neither the service user (uid {service_uid}) nor root"
                ));
                fixes.push(format!("`chown {service_uid} '{}'`", target(shown)));
            }
            Distrust::Writable {
                group,
                others,
                mode,
            } => {
                what.push(format!(
                    "writable by {} (mode {mode:04o})",
                    writers(group, others)
                ));
                fixes.push(format!("`chmod go-w '{}'`", target(shown)));
            }
        }
    }
    let reason = match first {
        Distrust::Owner { .. } => RefusalReason::Owner,
        Distrust::Writable { .. } => RefusalReason::Writable,
    };
    Some(Refusal::new(
        path,
        reason,
        format!(
            "{shown}: {subject} refused: {}; fix: {} (or, for development only, set [plugins] allow_insecure_permissions = true)",
            what.join(" and "),
            fixes.join(" and ")
        ),
    ))
}

/// The path a fix applies to: the target of `link (→ target)`.
fn target(shown: &str) -> &str {
    shown
        .split_once(" (→ ")
        .map_or(shown, |(_, t)| t.trim_end_matches(')'))
}

/// The verdict on one opened file or directory: `Ok(None)` trusted, `Ok(Some(warning))`
/// untrusted but allowed by `allow_insecure`, `Err` refused.
pub fn judge(
    subject: Subject,
    path: &Path,
    shown: &str,
    opened: &File,
    meta: &Metadata,
    allow_insecure: bool,
) -> Result<Option<String>, Refusal> {
    let reasons = if on_read_only_mount(opened) {
        Vec::new()
    } else {
        distrust(meta.mode(), meta.uid(), service_uid())
    };
    match describe(subject, path, shown, &reasons) {
        None => Ok(None),
        Some(refusal) if allow_insecure => Ok(Some(format!(
            "{} — loaded anyway because [plugins] allow_insecure_permissions = true",
            refusal.message
        ))),
        Some(refusal) => Err(refusal),
    }
}

/// Why a plugin file could not be opened for reading.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("{path}: cannot open: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// A plugin file opened for reading after its checks, with the metadata of the descriptor
/// itself and the warnings of waived checks.
#[derive(Debug)]
pub struct TrustedFile {
    pub file: File,
    pub meta: Metadata,
    /// Where the plugin directory's entry points after resolving symlinks.
    pub resolved: PathBuf,
    pub warnings: Vec<String>,
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> OpenError + '_ {
    move |source| OpenError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Opens a directory and judges the opened descriptor.
pub fn open_directory(
    subject: Subject,
    dir: &Path,
    allow_insecure: bool,
) -> Result<(File, Option<String>), OpenError> {
    let handle = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(dir)
        .map_err(io_error(dir))?;
    let meta = handle.metadata().map_err(io_error(dir))?;
    let warning = judge(
        subject,
        dir,
        &dir.display().to_string(),
        &handle,
        &meta,
        allow_insecure,
    )?;
    Ok((handle, warning))
}

/// Opens `path` (an entry of the plugin directory, possibly a symlink) for reading: resolves
/// it, opens the directory holding the target, opens the target relative to that descriptor
/// without following a link, and judges both descriptors.
pub fn open_plugin_file(path: &Path, allow_insecure: bool) -> Result<TrustedFile, OpenError> {
    let resolved = std::fs::canonicalize(path).map_err(io_error(path))?;
    let shown = if resolved == path {
        path.display().to_string()
    } else {
        format!("{} (→ {})", path.display(), resolved.display())
    };
    let (Some(parent), Some(name)) = (resolved.parent(), resolved.file_name()) else {
        return Err(Refusal::new(
            path,
            RefusalReason::NotAFile,
            format!("{shown}: not a plugin file"),
        )
        .into());
    };
    let mut warnings = Vec::new();
    let (dir, warning) = open_directory(Subject::PluginDirectory, parent, allow_insecure)?;
    warnings.extend(warning);
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
    let fd = openat(&dir, name, flags, Mode::empty()).map_err(|e| {
        if e == rustix::io::Errno::LOOP {
            OpenError::Refused(Refusal::new(
                path,
                RefusalReason::Swapped,
                format!("{shown}: plugin file refused: it became a symlink while being checked; it is examined again at its next change"),
            ))
        } else {
            OpenError::Io {
                path: path.to_owned(),
                source: e.into(),
            }
        }
    })?;
    let file = File::from(fd);
    let meta = file.metadata().map_err(io_error(path))?;
    if !meta.is_file() {
        return Err(Refusal::new(
            path,
            RefusalReason::NotAFile,
            format!("{shown}: plugin file refused: not a regular file"),
        )
        .into());
    }
    warnings.extend(judge(
        Subject::PluginFile,
        path,
        &shown,
        &file,
        &meta,
        allow_insecure,
    )?);
    Ok(TrustedFile {
        file,
        meta,
        resolved,
        warnings,
    })
}

/// Permission problems of the config location: every layer file and every directory holding
/// one, each a message naming the path and the fix. Files that cannot be examined are skipped
/// (reading them already failed or will fail with its own error).
pub fn config_location_problems(files: &[PathBuf]) -> Vec<String> {
    let mut paths: Vec<(Subject, PathBuf)> = Vec::new();
    for file in files {
        if let Some(dir) = file.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            let entry = (Subject::ConfigDirectory, dir.to_owned());
            if !paths.contains(&entry) {
                paths.push(entry);
            }
        }
        paths.push((Subject::ConfigFile, file.clone()));
    }
    let uid = service_uid();
    paths
        .into_iter()
        .filter_map(|(subject, path)| {
            let opened = File::open(&path).ok()?;
            let meta = opened.metadata().ok()?;
            if on_read_only_mount(&opened) {
                return None;
            }
            let reasons = distrust(meta.mode(), meta.uid(), uid);
            describe(subject, &path, &path.display().to_string(), &reasons).map(|r| r.message)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    const ME: u32 = 1000;
    const NOBODY: u32 = 65534;

    #[test]
    fn permission_predicate_over_modes_and_owners() {
        // (mode, owner, service user, expected reasons)
        let table: &[(u32, u32, u32, &[&str])] = &[
            (0o755, ME, ME, &[]),
            (0o644, ME, ME, &[]),
            (0o700, ROOT_UID, ME, &[]),
            (0o555, ROOT_UID, ROOT_UID, &[]),
            (0o4755, ROOT_UID, ME, &[]),
            (0o775, ME, ME, &["writable by its group (mode 0775)"]),
            (0o757, ME, ME, &["writable by others (mode 0757)"]),
            (
                0o666,
                ROOT_UID,
                ROOT_UID,
                &["writable by group and others (mode 0666)"],
            ),
            (
                0o1777,
                ROOT_UID,
                ROOT_UID,
                &["writable by group and others (mode 1777)"],
            ),
            (0o755, NOBODY, ROOT_UID, &["owner 65534"]),
            (0o755, NOBODY, ME, &["owner 65534"]),
            (0o755, ME, NOBODY, &["owner 1000"]),
            (
                0o777,
                NOBODY,
                ROOT_UID,
                &["owner 65534", "writable by group and others (mode 0777)"],
            ),
        ];
        for (mode, uid, service, expected) in table {
            let got: Vec<String> = distrust(*mode, *uid, *service)
                .iter()
                .map(|d| match d {
                    Distrust::Owner { uid, .. } => format!("owner {uid}"),
                    Distrust::Writable {
                        group,
                        others,
                        mode,
                    } => format!("writable by {} (mode {mode:04o})", writers(*group, *others)),
                })
                .collect();
            assert_eq!(
                got, *expected,
                "mode {mode:o}, owner {uid}, service {service}"
            );
        }
    }

    #[test]
    fn refusal_names_the_path_and_the_fix() {
        let path = Path::new("/opt/fc/plugins/libx.so");
        let reasons = distrust(0o666, NOBODY, ROOT_UID);
        let r = describe(
            Subject::PluginFile,
            path,
            "/opt/fc/plugins/libx.so",
            &reasons,
        )
        .unwrap();
        assert_eq!(r.reason, RefusalReason::Owner);
        for part in [
            "/opt/fc/plugins/libx.so: plugin file refused",
            "owned by uid 65534",
            "writable by group and others (mode 0666)",
            "`chown 0 '/opt/fc/plugins/libx.so'`",
            "`chmod go-w '/opt/fc/plugins/libx.so'`",
        ] {
            assert!(r.message.contains(part), "{part} missing: {}", r.message);
        }
        assert!(describe(Subject::PluginFile, path, "", &[]).is_none());
        // A link is fixed at its target.
        let r = describe(Subject::PluginFile, path, "/p/l.so (→ /q/t.so)", &reasons).unwrap();
        assert!(
            r.message.contains("`chmod go-w '/q/t.so'`"),
            "{}",
            r.message
        );
    }

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn chown_nobody(path: &Path) {
        std::os::unix::fs::lchown(path, Some(NOBODY), None).unwrap();
    }

    #[test]
    fn opened_files_are_judged() {
        // The tests run as root (the service user is then root): a file owned by nobody is a
        // foreign file.
        assert_eq!(service_uid(), ROOT_UID, "these tests expect to run as root");
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.so");
        std::fs::write(&good, b"x").unwrap();
        chmod(&good, 0o755);
        let opened = open_plugin_file(&good, false).unwrap();
        assert!(opened.warnings.is_empty());
        assert_eq!(opened.meta.len(), 1);

        let open_refusal = |path: &Path, allow| match open_plugin_file(path, allow) {
            Err(OpenError::Refused(r)) => r,
            other => panic!("{} not refused: {other:?}", path.display()),
        };
        let writable = dir.path().join("writable.so");
        std::fs::write(&writable, b"x").unwrap();
        chmod(&writable, 0o666);
        let r = open_refusal(&writable, false);
        assert_eq!(r.reason, RefusalReason::Writable);
        assert!(r.message.contains("writable.so"), "{}", r.message);
        let relaxed = open_plugin_file(&writable, true).unwrap();
        assert_eq!(
            relaxed.warnings.len(),
            1,
            "a waived check is still reported"
        );

        let foreign = dir.path().join("foreign.so");
        std::fs::write(&foreign, b"x").unwrap();
        chmod(&foreign, 0o755);
        chown_nobody(&foreign);
        assert_eq!(open_refusal(&foreign, false).reason, RefusalReason::Owner);

        // A symlink is resolved: the target and its directory are judged.
        let open_dir = tempfile::tempdir().unwrap();
        chmod(open_dir.path(), 0o777);
        let target = open_dir.path().join("target.so");
        std::fs::write(&target, b"x").unwrap();
        chmod(&target, 0o755);
        let link = dir.path().join("link.so");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let r = open_refusal(&link, false);
        assert_eq!(r.reason, RefusalReason::Writable);
        assert!(
            r.message.contains("plugin directory refused"),
            "{}",
            r.message
        );

        let link_to_good = dir.path().join("link-good.so");
        std::os::unix::fs::symlink(&good, &link_to_good).unwrap();
        assert_eq!(
            open_plugin_file(&link_to_good, false).unwrap().resolved,
            good.canonicalize().unwrap()
        );

        let fifo = dir.path().join("fifo.so");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert_eq!(open_refusal(&fifo, false).reason, RefusalReason::NotAFile);
    }

    #[test]
    fn config_location_is_judged_file_by_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("base.toml");
        std::fs::write(&file, "").unwrap();
        chmod(&file, 0o644);
        assert!(config_location_problems(std::slice::from_ref(&file)).is_empty());
        chmod(dir.path(), 0o777);
        let problems = config_location_problems(std::slice::from_ref(&file));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("config directory refused"),
            "{}",
            problems[0]
        );
        assert!(problems[0].contains("allow_insecure_permissions"));
        chmod(dir.path(), 0o700);
        chown_nobody(&file);
        let problems = config_location_problems(&[file]);
        assert!(
            problems[0].contains("config file refused: owned by uid 65534"),
            "{problems:?}"
        );
    }
}

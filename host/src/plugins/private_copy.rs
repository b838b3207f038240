//! The private copy a plugin is loaded from: its bytes (read through a checked descriptor) in a
//! sealed anonymous memory file (`memfd_create`), opened by `dlopen` as `/proc/self/fd/N`. No
//! other user can reach it, nothing is left on disk, and a replaced or overwritten source file
//! never affects the loaded code.
//!
//! Fallback where memfd is unavailable (or `/proc` is not mounted): a private directory created
//! fresh with a random name and mode 0700 (never reused), the copy created in it with
//! `O_CREAT|O_EXCL|O_NOFOLLOW`, unlinked right after `dlopen`, and the directory removed at exit
//! ([`remove_private_directory`]).
//!
//! Must not decide whether a file is trusted (the trust checks do) and must not unload a
//! library. A memfd stays open for the life of the process: its number is the library's
//! `dlopen` name, and glibc would hand out the old library again for a reused name.

use std::{
    fs::File,
    io::{self, Write},
    os::{
        fd::{AsRawFd, IntoRawFd, OwnedFd},
        unix::fs::{DirBuilderExt, MetadataExt},
    },
    path::{Path, PathBuf},
    sync::Mutex,
};

use rustix::fs::{memfd_create, openat, unlinkat, AtFlags, MemfdFlags, Mode, OFlags, SealFlags};

/// Prefix of the fallback directory in the system temp directory (a random suffix follows).
pub const PRIVATE_DIRECTORY_PREFIX: &str = "futures-collector-";
/// Random characters after the prefix.
const PRIVATE_DIRECTORY_RANDOM_LEN: usize = 16;
/// Attempts at a fresh random name before giving up (a collision is already unlikely).
const PRIVATE_DIRECTORY_ATTEMPTS: usize = 8;
/// Prefix of memfd names (shown in `/proc/<pid>/maps` as `/memfd:<name> (deleted)`).
const MEMFD_NAME_PREFIX: &str = "futures-collector-plugin";
/// Linux limits a memfd name to 249 bytes; the plugin's file stem is cut to fit.
const MEMFD_STEM_MAX: usize = 200;
/// Mode of the copy in the fallback directory: the owner reads and maps it, nobody else.
const PRIVATE_COPY_MODE: u32 = 0o700;
/// Mode of the fallback directory.
const PRIVATE_DIRECTORY_MODE: u32 = 0o700;

/// How to make the private copy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CopyMethod {
    /// A memfd, else the private directory.
    #[default]
    Auto,
    /// Only a memfd.
    Memfd,
    /// Only the private directory (tests of the fallback).
    PrivateDirectory,
}

/// A private copy ready to be opened by `dlopen`.
#[derive(Debug)]
pub struct PrivateCopy {
    /// What `dlopen` is given.
    path: PathBuf,
    /// The name its mappings carry in `/proc/self/maps`.
    mapped_as: String,
    backing: Backing,
}

#[derive(Debug)]
enum Backing {
    Memfd(OwnedFd),
    /// A memfd whose descriptor was handed over to the process for good.
    KeptMemfd,
    /// A file in the private directory, unlinked when the copy is dropped.
    File {
        dir: PathBuf,
        name: String,
    },
}

impl PrivateCopy {
    /// Writes `bytes` to a new private copy; `stem` names it (for `/proc/<pid>/maps`),
    /// `generation` makes the name unique in this process.
    pub fn write(
        bytes: &[u8],
        stem: &str,
        generation: u64,
        method: CopyMethod,
    ) -> io::Result<Self> {
        match method {
            CopyMethod::Memfd => Self::memfd(bytes, stem, generation),
            CopyMethod::PrivateDirectory => Self::in_private_directory(bytes, stem, generation),
            CopyMethod::Auto => Self::memfd(bytes, stem, generation)
                .or_else(|_| Self::in_private_directory(bytes, stem, generation)),
        }
    }

    fn memfd(bytes: &[u8], stem: &str, generation: u64) -> io::Result<Self> {
        let stem: String = stem.chars().take(MEMFD_STEM_MAX).collect();
        let name = format!("{MEMFD_NAME_PREFIX}-{generation}-{stem}");
        let flags = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
        // MFD_EXEC keeps the file executable where `vm.memfd_noexec` would seal it noexec;
        // kernels before 6.3 do not know the flag.
        let fd = match memfd_create(&name, flags | MemfdFlags::EXEC) {
            Err(rustix::io::Errno::INVAL) => memfd_create(&name, flags)?,
            other => other?,
        };
        let mut file = File::from(fd);
        file.write_all(bytes)?;
        let fd = OwnedFd::from(file);
        rustix::fs::fcntl_add_seals(
            &fd,
            SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE,
        )?;
        let path = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        // Without /proc the memfd cannot be named to dlopen.
        std::fs::metadata(&path)?;
        Ok(Self {
            path,
            mapped_as: format!("/memfd:{name}"),
            backing: Backing::Memfd(fd),
        })
    }

    fn in_private_directory(bytes: &[u8], stem: &str, generation: u64) -> io::Result<Self> {
        let mut guard = PRIVATE_DIRECTORY
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let dir = match &*guard {
            Some(dir) => dir.clone(),
            None => guard.insert(create_private_directory()?).clone(),
        };
        let dir_handle = File::open(&dir)?;
        let name = format!("{stem}-{generation}.{}", super::PLUGIN_EXTENSION);
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = openat(
            &dir_handle,
            &name,
            flags,
            Mode::from_raw_mode(PRIVATE_COPY_MODE),
        )?;
        let copy = Self {
            path: dir.join(&name),
            mapped_as: dir.join(&name).display().to_string(),
            backing: Backing::File { dir, name },
        };
        File::from(fd).write_all(bytes)?;
        Ok(copy)
    }

    /// What to hand to `dlopen`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Call once `dlopen` mapped the copy: returns the bytes mapped from it (an estimate of the
    /// memory the library holds: its address space, not counting its heap) and keeps the
    /// memfd open for the life of the process. A file copy is unlinked when this returns.
    pub fn keep_mapped(mut self) -> u64 {
        let bytes = mapped_bytes(&self.mapped_as);
        if matches!(self.backing, Backing::Memfd(_)) {
            if let Backing::Memfd(fd) = std::mem::replace(&mut self.backing, Backing::KeptMemfd) {
                // Deliberately never closed: see the module header.
                let _ = fd.into_raw_fd();
            }
        }
        // A file copy is unlinked as `self` drops here.
        bytes
    }
}

impl Drop for PrivateCopy {
    fn drop(&mut self) {
        if let Backing::File { dir, name } = &self.backing {
            // The mapping stays valid; the name goes.
            if let Ok(handle) = File::open(dir) {
                let _ = unlinkat(&handle, name.as_str(), AtFlags::empty());
            }
        }
    }
}

/// The fallback directory of this process, once created.
static PRIVATE_DIRECTORY: Mutex<Option<PathBuf>> = Mutex::new(None);

fn create_private_directory() -> io::Result<PathBuf> {
    let temp = std::env::temp_dir();
    let mut last_error = io::Error::from(io::ErrorKind::AlreadyExists);
    for _ in 0..PRIVATE_DIRECTORY_ATTEMPTS {
        let suffix: String = std::iter::repeat_with(fastrand::alphanumeric)
            .take(PRIVATE_DIRECTORY_RANDOM_LEN)
            .collect();
        let dir = temp.join(format!("{PRIVATE_DIRECTORY_PREFIX}{suffix}"));
        // mkdir fails on anything already there (a directory, a file, a symlink): the
        // directory is always new, and ours.
        match std::fs::DirBuilder::new()
            .mode(PRIVATE_DIRECTORY_MODE)
            .create(&dir)
        {
            Ok(()) => {
                let meta = std::fs::symlink_metadata(&dir)?;
                if !meta.is_dir()
                    || meta.uid() != crate::trust::service_uid()
                    || meta.mode() & 0o077 != 0
                {
                    return Err(io::Error::other(format!(
                        "{}: not a private directory after creating it",
                        dir.display()
                    )));
                }
                return Ok(dir);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_error = e,
            Err(e) => return Err(e),
        }
    }
    Err(last_error)
}

/// The fallback directory, if this process created one (it is empty between loads).
pub fn private_directory() -> Option<PathBuf> {
    PRIVATE_DIRECTORY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

/// Removes the fallback directory, if any (call at exit; a later load creates a new one).
pub fn remove_private_directory() {
    let mut guard = PRIVATE_DIRECTORY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(dir) = guard.take() {
        let _ = std::fs::remove_dir(&dir);
    }
}

/// Bytes of address space mapped from `name` (a `/proc/self/maps` path name; a deleted file
/// carries a ` (deleted)` suffix). 0 when the maps cannot be read.
fn mapped_bytes(name: &str) -> u64 {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return 0;
    };
    maps.lines()
        .filter_map(|line| {
            // address perms offset dev inode pathname
            let mut fields = line.splitn(6, ' ');
            let range = fields.next()?;
            let path = fields.nth(4)?.trim_start();
            let path = path.strip_suffix(" (deleted)").unwrap_or(path);
            (path == name).then_some(range)?;
            let (start, end) = range.split_once('-')?;
            let start = u64::from_str_radix(start, 16).ok()?;
            let end = u64::from_str_radix(end, 16).ok()?;
            end.checked_sub(start)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn memfd_copy_is_sealed_and_readable_by_path() {
        let copy = PrivateCopy::write(b"plugin bytes", "libx", 1, CopyMethod::Memfd).unwrap();
        assert!(copy.path().starts_with("/proc/self/fd"));
        assert_eq!(std::fs::read(copy.path()).unwrap(), b"plugin bytes");
        // Sealed: not even this process can change it.
        let reopened = std::fs::OpenOptions::new().write(true).open(copy.path());
        let write = reopened.and_then(|mut f| f.write_all(b"evil"));
        assert!(write.is_err(), "a sealed memfd must refuse writes");
        assert_eq!(std::fs::read(copy.path()).unwrap(), b"plugin bytes");
    }

    #[test]
    fn private_directory_is_fresh_private_and_emptied() {
        let copy =
            PrivateCopy::write(b"plugin bytes", "liby", 2, CopyMethod::PrivateDirectory).unwrap();
        let dir = private_directory().unwrap();
        assert!(dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(PRIVATE_DIRECTORY_PREFIX));
        let meta = std::fs::symlink_metadata(&dir).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o700);
        let file_meta = std::fs::symlink_metadata(copy.path()).unwrap();
        assert_eq!(file_meta.permissions().mode() & 0o777, 0o700);
        assert_eq!(std::fs::read(copy.path()).unwrap(), b"plugin bytes");
        let path = copy.path().to_owned();
        copy.keep_mapped();
        assert!(!path.exists(), "the copy is unlinked once mapped");
        let failed = PrivateCopy::write(b"x", "liby", 3, CopyMethod::PrivateDirectory).unwrap();
        let path = failed.path().to_owned();
        drop(failed);
        assert!(!path.exists(), "and when dlopen failed");
        remove_private_directory();
        assert!(!dir.exists());
    }

    #[test]
    fn maps_are_measured_by_name() {
        assert!(mapped_bytes("[stack]") > 0, "the stack is mapped");
        assert_eq!(mapped_bytes("/memfd:no-such-copy"), 0);
    }
}

//! The probe load: before a plugin is mapped into the collector, a separate process of the
//! collector's own binary maps the same private copy, runs its initializers and `info()`, and
//! exits. A file whose mapping crashes (`SIGSEGV`/`SIGBUS` inside `dlopen`: damaged ELF data that
//! the header checks of `elf` cannot see) or hangs then costs a refused file, not the collector.
//!
//! Owns the probe process (start, time limit, reading its verdict) and the probe's own side
//! ([`probe_in_this_process`], run by the hidden `__probe-plugin` command). Must not be mistaken
//! for a sandbox: a well-formed hostile plugin passes the probe and then runs in the collector;
//! the trust checks are that defence. The probe is on only when the binary enables it
//! ([`enable_probe`]): a library user (tests running the host in-process) has no collector binary
//! to run, and loads without it.

use std::{
    io::Read as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use abi_stable::{library::lib_header_from_path, std_types::RResult};
use plugin_api::ExchangePluginRef;

/// The hidden subcommand of the collector binary that probes one file.
pub const PROBE_COMMAND: &str = "__probe-plugin";
/// Longest a probe may take (mapping, initializers, `info()`); past it the probe is killed and
/// the file refused. Generous: a debug build of a plugin maps in tens of milliseconds.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(20);
/// How often a running probe is checked.
const PROBE_POLL: Duration = Duration::from_millis(5);
/// Most bytes of the probe's output kept for the error message.
const PROBE_OUTPUT_MAX: u64 = 2048;

static PROBE_PROGRAM: OnceLock<PathBuf> = OnceLock::new();

/// Turns the probe on: every later load first maps the file in a process running `program`
/// (the collector's own binary) with [`PROBE_COMMAND`].
pub fn enable_probe(program: PathBuf) {
    let _ = PROBE_PROGRAM.set(program);
}

/// The path under which another process of this user opens the same private copy: a memfd's
/// `/proc/self/fd/N` is this process's, so it becomes `/proc/<pid>/fd/N`.
fn path_for_child(copy: &Path) -> PathBuf {
    match copy.strip_prefix("/proc/self") {
        Ok(rest) => Path::new("/proc")
            .join(std::process::id().to_string())
            .join(rest),
        Err(_) => copy.to_owned(),
    }
}

/// Maps `copy` in a probe process when the probe is on; `Err` says why the file must not be
/// mapped here (the probe crashed, hung, or found no usable plugin). Loads run on the async
/// runtime (start-up, the directory watcher): on a multi-thread runtime this worker hands its
/// other tasks away while it waits, so signals, the web server and collection go on.
pub(super) fn probe(copy: &Path) -> Result<(), String> {
    let Some(program) = PROBE_PROGRAM.get() else {
        return Ok(());
    };
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| run_probe(program, copy))
        }
        _ => run_probe(program, copy),
    }
}

fn run_probe(program: &Path, copy: &Path) -> Result<(), String> {
    let mut child = Command::new(program)
        .arg(PROBE_COMMAND)
        .arg(path_for_child(copy))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the probe process {}: {e}", program.display()))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= PROBE_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "loading it did not finish within {PROBE_TIMEOUT:?} in a probe process; not mapped into the collector"
                ));
            }
            Ok(None) => std::thread::sleep(PROBE_POLL),
            Err(e) => return Err(format!("cannot wait for the probe process: {e}")),
        }
    };
    let mut output = String::new();
    if let Some(stderr) = child.stderr.take() {
        let _ = stderr.take(PROBE_OUTPUT_MAX).read_to_string(&mut output);
    }
    let output = output.split_whitespace().collect::<Vec<_>>().join(" ");
    if status.success() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(signal) = status.signal() {
            return Err(format!(
                "loading it crashed a probe process (signal {signal}{}); not mapped into the collector",
                signal_name(signal).map(|n| format!(", {n}")).unwrap_or_default()
            ));
        }
    }
    Err(if output.is_empty() {
        format!("the probe process failed ({status})")
    } else {
        output
    })
}

fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        _ => return None,
    })
}

/// The probe's side: maps `path`, runs the plugin's initializers and `info()`; returns its
/// exchange id, or why it is not a usable plugin. Runs in the throwaway probe process only.
pub fn probe_in_this_process(path: &Path) -> Result<String, String> {
    let header = lib_header_from_path(path).map_err(|e| e.to_string())?;
    let module = header
        .init_root_module::<ExchangePluginRef>()
        .map_err(|e| e.to_string())?;
    match std::panic::catch_unwind(|| (module.info())()) {
        Ok(RResult::ROk(info)) => Ok(info.exchange_id.to_string()),
        Ok(RResult::RErr(e)) => Err(format!("info() failed: {e}")),
        Err(_) => Err("info() panicked".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memfd_path_is_named_through_this_process_for_the_probe() {
        let pid = std::process::id();
        assert_eq!(
            path_for_child(Path::new("/proc/self/fd/7")),
            PathBuf::from(format!("/proc/{pid}/fd/7"))
        );
        assert_eq!(
            path_for_child(Path::new("/tmp/fc-plugins-x/a-1.so")),
            PathBuf::from("/tmp/fc-plugins-x/a-1.so")
        );
    }

    #[test]
    fn without_a_probe_program_nothing_is_started() {
        // No test enables the probe: the library loads in-process.
        assert!(PROBE_PROGRAM.get().is_none());
        assert_eq!(probe(Path::new("/nonexistent")), Ok(()));
    }
}

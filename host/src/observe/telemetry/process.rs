//! Process resource use read from `/proc/self` at scrape time: CPU seconds, resident and virtual
//! memory, open and maximum file descriptors, start time. Exported under the standard
//! `process_*` names every Prometheus client library uses.
//!
//! Owns the parsing of `/proc/self/{stat,limits,fd}` and `/proc/stat`. Must not cache: every
//! read is fresh. Off Linux the read fails and no process metrics are exported.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("cannot read {file}: {source}")]
    Read {
        file: &'static str,
        source: std::io::Error,
    },
    #[error("unexpected format of {0}")]
    Format(&'static str),
}

/// One reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    /// User + system CPU time, seconds.
    pub cpu_seconds: f64,
    pub resident_memory_bytes: u64,
    pub virtual_memory_bytes: u64,
    pub open_fds: u64,
    /// Soft limit of open files (`None` when unlimited).
    pub max_fds: Option<u64>,
    /// Unix seconds when the process started.
    pub start_time_seconds: Option<f64>,
}

fn read(file: &'static str) -> Result<String, ProcessError> {
    std::fs::read_to_string(file).map_err(|source| ProcessError::Read { file, source })
}

impl ProcessStats {
    /// Reads the current process's numbers.
    pub fn read() -> Result<Self, ProcessError> {
        let stat = read("/proc/self/stat")?;
        let fields = stat_fields(&stat).ok_or(ProcessError::Format("/proc/self/stat"))?;
        let ticks = rustix::param::clock_ticks_per_second() as f64;
        let page = rustix::param::page_size() as u64;
        let field = |i: usize| -> Result<u64, ProcessError> {
            fields
                .get(i)
                .and_then(|f| f.parse().ok())
                .ok_or(ProcessError::Format("/proc/self/stat"))
        };
        // Indices after the command name: field 3 (state) is index 0.
        let utime = field(11)?;
        let stime = field(12)?;
        let start_ticks = field(19)?;
        let vsize = field(20)?;
        let rss_pages = field(21)?;
        let boot_time = read("/proc/stat")
            .ok()
            .and_then(|s| parse_boot_time(&s))
            .map(|b| b as f64);
        let open_fds = std::fs::read_dir(Path::new("/proc/self/fd"))
            .map_err(|source| ProcessError::Read {
                file: "/proc/self/fd",
                source,
            })?
            .count() as u64;
        let max_fds = read("/proc/self/limits")
            .ok()
            .and_then(|s| parse_max_open_files(&s));
        Ok(Self {
            cpu_seconds: (utime + stime) as f64 / ticks,
            resident_memory_bytes: rss_pages * page,
            virtual_memory_bytes: vsize,
            open_fds,
            max_fds,
            start_time_seconds: boot_time.map(|b| b + start_ticks as f64 / ticks),
        })
    }
}

/// The fields of `/proc/<pid>/stat` after the command name (which may contain spaces and
/// parentheses, so it is skipped up to the last `)`).
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().collect())
}

fn parse_boot_time(proc_stat: &str) -> Option<u64> {
    proc_stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

fn parse_max_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()
        .and_then(|soft| soft.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_formats() {
        let stat = "42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1234 104857600 2560 18446744073709551615";
        let f = stat_fields(stat).unwrap();
        assert_eq!(f[0], "S");
        assert_eq!(f[11], "250");
        assert_eq!(f[12], "50");
        assert_eq!(f[19], "1234");
        assert_eq!(f[20], "104857600");
        assert_eq!(f[21], "2560");
        assert_eq!(
            parse_boot_time("cpu  1 2 3\nbtime 1700000000\nprocesses 5\n"),
            Some(1_700_000_000)
        );
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
        assert_eq!(parse_max_open_files(limits), Some(1024));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_max_open_files(unlimited), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process() {
        let s = ProcessStats::read().unwrap();
        assert!(s.resident_memory_bytes > 1024 * 1024);
        assert!(s.open_fds >= 3);
        assert!(s.cpu_seconds >= 0.0);
        assert!(s.start_time_seconds.unwrap() > 1_600_000_000.0);
    }
}

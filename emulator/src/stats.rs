//! Request accounting per instance: totals, per-path counts and the timestamps of the most
//! recent requests (bounded), so tests can check what a client asked for and how fast.
//!
//! Owns: the counters and their snapshot types (`Stats`, served by `GET /_admin/stats`).
//! Must not: decide responses or hold a lock across an `.await`.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::Mutex,
};

use serde::{Deserialize, Serialize};

use crate::config::ExchangeKind;

/// How many recent requests each instance remembers.
pub const RECENT_LIMIT: usize = 10_000;

/// One request as the emulator saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Arrival time, Unix ms.
    pub ts_ms: u64,
    /// Path below the instance prefix, e.g. `/fapi/v1/ticker/24hr`.
    pub path: String,
    /// Raw query string (empty when none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
    /// The fault applied to this request (`status`, `hang`, ...), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

/// Counters of one instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceStats {
    pub exchange: Option<ExchangeKind>,
    /// Requests since start or the last reset.
    pub total: u64,
    /// Requests that got a fault instead of (or on top of) the normal answer.
    pub faulted: u64,
    /// Requests per path (below the instance prefix).
    pub by_path: BTreeMap<String, u64>,
    /// The last [`RECENT_LIMIT`] requests, oldest first.
    pub recent: Vec<RequestRecord>,
}

impl InstanceStats {
    /// Requests whose path starts with `prefix`.
    pub fn count_prefix(&self, prefix: &str) -> u64 {
        self.by_path
            .iter()
            .filter(|(p, _)| p.starts_with(prefix))
            .map(|(_, n)| *n)
            .sum()
    }

    /// Arrival times (ms) of the remembered requests whose path starts with `prefix`.
    pub fn timestamps(&self, prefix: &str) -> Vec<u64> {
        self.recent
            .iter()
            .filter(|r| r.path.starts_with(prefix))
            .map(|r| r.ts_ms)
            .collect()
    }
}

/// A snapshot of every instance's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub instances: BTreeMap<String, InstanceStats>,
}

impl Stats {
    /// One instance's counters (empty ones when the name is unknown).
    pub fn instance(&self, name: &str) -> InstanceStats {
        self.instances.get(name).cloned().unwrap_or_default()
    }

    /// Total requests of an instance.
    pub fn total(&self, name: &str) -> u64 {
        self.instances.get(name).map_or(0, |s| s.total)
    }

    /// Requests of an instance to exactly `path`.
    pub fn count(&self, name: &str, path: &str) -> u64 {
        self.instances
            .get(name)
            .and_then(|s| s.by_path.get(path))
            .copied()
            .unwrap_or(0)
    }
}

#[derive(Default)]
struct Inner {
    total: u64,
    faulted: u64,
    by_path: BTreeMap<String, u64>,
    recent: VecDeque<RequestRecord>,
}

/// Live counters of one instance.
pub struct StatsCell {
    exchange: ExchangeKind,
    inner: Mutex<Inner>,
}

impl StatsCell {
    pub fn new(exchange: ExchangeKind) -> Self {
        StatsCell {
            exchange,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the counters inconsistent enough to matter.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one request.
    pub fn record(&self, ts_ms: u64, path: &str, query: &str, fault: Option<&str>) {
        let mut g = self.lock();
        g.total += 1;
        if fault.is_some() {
            g.faulted += 1;
        }
        match g.by_path.get_mut(path) {
            Some(n) => *n += 1,
            None => {
                g.by_path.insert(path.to_string(), 1);
            }
        }
        if g.recent.len() >= RECENT_LIMIT {
            g.recent.pop_front();
        }
        g.recent.push_back(RequestRecord {
            ts_ms,
            path: path.to_string(),
            query: query.to_string(),
            fault: fault.map(str::to_string),
        });
    }

    /// A copy of the counters; `with_recent = false` leaves `recent` empty.
    pub fn snapshot(&self, with_recent: bool) -> InstanceStats {
        let g = self.lock();
        InstanceStats {
            exchange: Some(self.exchange),
            total: g.total,
            faulted: g.faulted,
            by_path: g.by_path.clone(),
            recent: if with_recent {
                g.recent.iter().cloned().collect()
            } else {
                Vec::new()
            },
        }
    }

    /// Zeroes everything.
    pub fn reset(&self) {
        *self.lock() = Inner::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_is_bounded_and_counts_add_up() {
        let cell = StatsCell::new(ExchangeKind::Okx);
        for i in 0..(RECENT_LIMIT as u64 + 5) {
            cell.record(
                i,
                if i % 2 == 0 { "/a" } else { "/b/c" },
                "",
                (i == 3).then_some("status"),
            );
        }
        let s = cell.snapshot(true);
        assert_eq!(s.total, RECENT_LIMIT as u64 + 5);
        assert_eq!(s.faulted, 1);
        assert_eq!(s.recent.len(), RECENT_LIMIT);
        assert_eq!(s.recent[0].ts_ms, 5);
        assert_eq!(s.count_prefix("/b"), (RECENT_LIMIT as u64 + 5) / 2);
        cell.reset();
        assert_eq!(cell.snapshot(true).total, 0);
    }
}

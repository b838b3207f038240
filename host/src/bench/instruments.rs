//! Benchmark instruments the collection cycle reports into: the receive time of the newest
//! response behind each batch (`ResponseClock`, for response → sink latency) and the thread CPU
//! time of each pipeline stage (`PipelineCpu`, `thread_cpu_time`, `timed`).
//!
//! Owns the measuring, not the cycle: the worker calls `timed` around its stages and notes
//! receive times only when a benchmark set a clock. Must not change what a cycle does.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
    time::Duration,
};

/// When the newest response behind each batch was received, on the monotonic clock, per
/// (exchange instance, kind) in send order: lets a benchmark sink measure response → sink
/// latency with sub-millisecond resolution. Bounded: a key keeps at most
/// [`MAX_PENDING_RESPONSE_TIMES`] entries (older ones are dropped if nobody takes them).
#[derive(Debug, Clone, Default)]
pub struct ResponseClock {
    pending: Arc<std::sync::Mutex<PendingResponseTimes>>,
}

/// Receive times not yet taken, per (exchange instance, kind), oldest first.
type PendingResponseTimes = HashMap<(String, String), VecDeque<std::time::Instant>>;

/// Most unclaimed response times kept per (exchange, kind).
pub const MAX_PENDING_RESPONSE_TIMES: usize = 64;

impl ResponseClock {
    pub(crate) fn note(&self, exchange: &str, kind: &str, at: std::time::Instant) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let queue = pending
            .entry((exchange.to_owned(), kind.to_owned()))
            .or_default();
        if queue.len() >= MAX_PENDING_RESPONSE_TIMES {
            queue.pop_front();
        }
        queue.push_back(at);
    }

    /// The receive time of the oldest batch of (exchange, kind) not taken yet.
    pub fn take(&self, exchange: &str, kind: &str) -> Option<std::time::Instant> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending
            .get_mut(&(exchange.to_owned(), kind.to_owned()))
            .and_then(VecDeque::pop_front)
    }
}

/// Thread CPU time of a cycle's record pipeline, by stage.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PipelineCpu {
    /// Plugin `parse` (JSON decoding and mapping onto records), across the ABI.
    pub parse: Duration,
    /// Merge into the record store, with normalization.
    pub merge: Duration,
    pub change_detection: Duration,
}

impl PipelineCpu {
    pub fn total(&self) -> Duration {
        self.parse + self.merge + self.change_detection
    }
}

impl std::ops::AddAssign for PipelineCpu {
    fn add_assign(&mut self, other: Self) {
        self.parse += other.parse;
        self.merge += other.merge;
        self.change_detection += other.change_detection;
    }
}

/// CPU time consumed by the calling thread so far (`CLOCK_THREAD_CPUTIME_ID`). Measures a
/// synchronous section exactly, whatever else the process runs meanwhile.
pub fn thread_cpu_time() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec that outlives the call; the clock id is a
    // constant Linux supports. On failure `t` stays zero, which only under-reports a duration.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// Runs `f` and adds the CPU time it took on this thread to `total`.
pub(crate) fn timed<T>(total: &mut Duration, f: impl FnOnce() -> T) -> T {
    let start = thread_cpu_time();
    let out = f();
    *total += thread_cpu_time().saturating_sub(start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_clock_hands_out_times_per_key_in_order_and_is_bounded() {
        let clock = ResponseClock::default();
        let t0 = std::time::Instant::now();
        let t1 = t0 + Duration::from_millis(1);
        clock.note("binance", "tickers", t0);
        clock.note("binance", "tickers", t1);
        clock.note("okx", "tickers", t1);
        assert_eq!(clock.take("binance", "tickers"), Some(t0));
        assert_eq!(clock.take("okx", "tickers"), Some(t1));
        assert_eq!(clock.take("binance", "tickers"), Some(t1));
        assert_eq!(clock.take("binance", "tickers"), None);
        assert_eq!(clock.take("binance", "funding"), None);
        for i in 0..MAX_PENDING_RESPONSE_TIMES + 5 {
            clock.note("x", "k", t0 + Duration::from_millis(i as u64));
        }
        // The oldest were dropped: the first left is the 6th noted.
        assert_eq!(clock.take("x", "k"), Some(t0 + Duration::from_millis(5)));
    }

    #[test]
    fn thread_cpu_time_counts_this_threads_work() {
        let mut spent = Duration::ZERO;
        let sum = timed(&mut spent, || {
            (0..2_000_000u64).fold(0u64, |a, b| a.wrapping_add(b * b))
        });
        assert!(sum > 0);
        assert!(spent > Duration::ZERO, "{spent:?}");
        assert!(thread_cpu_time() >= spent);
    }
}

//! In-memory history of one exchange for the dashboard, the status API and the alert rules:
//! requests, errors, records and a latency histogram per time bucket, at two resolutions —
//! 5-second buckets for the last hour and 1-minute buckets for the last 24 hours.
//!
//! Owns the bucket arithmetic and its bounds (a fixed number of fixed-size buckets per
//! exchange: about 200 KiB). Must not read clocks: callers pass the time, so tests drive it.

use std::collections::VecDeque;

use serde::Serialize;

/// Width of a fine bucket.
pub const FINE_BUCKET_MS: i64 = 5_000;
/// Fine buckets kept: one hour.
pub const FINE_BUCKETS: usize = 720;
/// Width of a coarse bucket.
pub const COARSE_BUCKET_MS: i64 = 60_000;
/// Coarse buckets kept: 24 hours.
pub const COARSE_BUCKETS: usize = 1_440;

/// Shortest span a rate divides by (a bucket that just started would show huge rates).
const MIN_RATE_SPAN_MS: i64 = 1_000;

/// Upper bounds (seconds) of the latency histogram buckets, shared with the Prometheus
/// request-duration histogram so the dashboard and Prometheus agree.
pub const LATENCY_BOUNDS_SECONDS: [f64; 20] = [
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5,
    2.5, 5.0, 10.0, 30.0,
];
const LATENCY_SLOTS: usize = LATENCY_BOUNDS_SECONDS.len() + 1;

/// Counts of one time bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Unix ms of the bucket's start.
    pub start_ms: i64,
    /// Requests that went out (held-back ones are not requests).
    pub requests: u32,
    /// Requests that failed.
    pub errors: u32,
    /// Records parsed from responses.
    pub records: u32,
    /// Records handed to the sink.
    pub sent: u32,
    latency: [u32; LATENCY_SLOTS],
}

impl Bucket {
    fn new(start_ms: i64) -> Self {
        Self {
            start_ms,
            requests: 0,
            errors: 0,
            records: 0,
            sent: 0,
            latency: [0; LATENCY_SLOTS],
        }
    }
}

/// Totals over a window, with latency percentiles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Summary {
    pub requests: u64,
    pub errors: u64,
    pub records: u64,
    pub sent: u64,
    /// Seconds, `None` without requests.
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    /// Length of the window the rates below divide by, seconds.
    pub window_seconds: f64,
}

impl Summary {
    pub fn records_per_second(&self) -> f64 {
        per_second(self.records, self.window_seconds)
    }
    pub fn requests_per_second(&self) -> f64 {
        per_second(self.requests, self.window_seconds)
    }
    /// Failed share of requests, `None` without requests.
    pub fn error_ratio(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.errors as f64 / self.requests as f64)
    }
}

fn per_second(n: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        n as f64 / seconds
    } else {
        0.0
    }
}

/// One series of buckets of one width, bounded.
#[derive(Debug, Clone)]
struct Ring {
    width_ms: i64,
    capacity: usize,
    buckets: VecDeque<Bucket>,
}

impl Ring {
    fn new(width_ms: i64, capacity: usize) -> Self {
        Self {
            width_ms,
            capacity,
            buckets: VecDeque::new(),
        }
    }

    /// The bucket holding `now_ms`, created if needed. A clock that went backwards lands in
    /// the newest bucket rather than reordering the series.
    fn at(&mut self, now_ms: i64) -> &mut Bucket {
        let start = now_ms - now_ms.rem_euclid(self.width_ms);
        let needs_new = self.buckets.back().is_none_or(|b| b.start_ms < start);
        if needs_new {
            if self.buckets.len() >= self.capacity {
                self.buckets.pop_front();
            }
            self.buckets.push_back(Bucket::new(start));
        }
        let last = self.buckets.len() - 1;
        &mut self.buckets[last]
    }

    /// Buckets that start after `now_ms - span_ms`, oldest first.
    fn since(&self, now_ms: i64, span_ms: i64) -> impl Iterator<Item = &Bucket> {
        let from = now_ms - span_ms;
        self.buckets.iter().filter(move |b| b.start_ms > from)
    }
}

/// The history of one exchange.
#[derive(Debug, Clone)]
pub struct History {
    fine: Ring,
    coarse: Ring,
}

impl Default for History {
    fn default() -> Self {
        Self {
            fine: Ring::new(FINE_BUCKET_MS, FINE_BUCKETS),
            coarse: Ring::new(COARSE_BUCKET_MS, COARSE_BUCKETS),
        }
    }
}

fn latency_slot(seconds: f64) -> usize {
    LATENCY_BOUNDS_SECONDS
        .iter()
        .position(|b| seconds <= *b)
        .unwrap_or(LATENCY_BOUNDS_SECONDS.len())
}

impl History {
    /// One request that went out: its latency, and whether it failed.
    pub fn request(&mut self, now_ms: i64, seconds: f64, failed: bool) {
        let slot = latency_slot(seconds);
        for ring in [&mut self.fine, &mut self.coarse] {
            let b = ring.at(now_ms);
            b.requests = b.requests.saturating_add(1);
            if failed {
                b.errors = b.errors.saturating_add(1);
            }
            b.latency[slot] = b.latency[slot].saturating_add(1);
        }
    }

    /// Records of one cycle.
    pub fn records(&mut self, now_ms: i64, parsed: usize, sent: usize) {
        let parsed = u32::try_from(parsed).unwrap_or(u32::MAX);
        let sent = u32::try_from(sent).unwrap_or(u32::MAX);
        for ring in [&mut self.fine, &mut self.coarse] {
            let b = ring.at(now_ms);
            b.records = b.records.saturating_add(parsed);
            b.sent = b.sent.saturating_add(sent);
        }
    }

    /// Totals over the last `window_ms` (fine buckets within the last hour, coarse beyond).
    pub fn summary(&self, now_ms: i64, window_ms: i64) -> Summary {
        let ring = if window_ms <= FINE_BUCKET_MS * FINE_BUCKETS as i64 {
            &self.fine
        } else {
            &self.coarse
        };
        let mut s = Summary {
            window_seconds: window_ms as f64 / 1000.0,
            ..Summary::default()
        };
        let mut latency = [0u64; LATENCY_SLOTS];
        let mut oldest: Option<i64> = None;
        for b in ring.since(now_ms, window_ms) {
            oldest.get_or_insert(b.start_ms);
            s.requests += u64::from(b.requests);
            s.errors += u64::from(b.errors);
            s.records += u64::from(b.records);
            s.sent += u64::from(b.sent);
            for (total, n) in latency.iter_mut().zip(b.latency) {
                *total += u64::from(n);
            }
        }
        // Rates divide by the time the included buckets cover (a history younger than the
        // window, or a window starting mid-bucket), at least one bucket.
        if let Some(oldest) = oldest {
            let covered = (now_ms - oldest)
                .max(ring.width_ms)
                .min(window_ms.max(ring.width_ms));
            s.window_seconds = covered as f64 / 1000.0;
        }
        s.p50 = quantile(&latency, 0.50);
        s.p95 = quantile(&latency, 0.95);
        s.p99 = quantile(&latency, 0.99);
        s
    }

    /// Chart points over the last `span_ms`: fine buckets up to an hour, coarse beyond.
    pub fn points(&self, now_ms: i64, span_ms: i64) -> Vec<Point> {
        let ring = if span_ms <= FINE_BUCKET_MS * FINE_BUCKETS as i64 {
            &self.fine
        } else {
            &self.coarse
        };
        ring.since(now_ms, span_ms)
            .map(|b| Point::of(b, ring.width_ms))
            .collect()
    }

    /// The newest fine bucket as a chart point (the live feed sends it as it fills): its rate
    /// divides by the part of the bucket that has passed, so a filling bucket does not dip.
    pub fn current_point(&self, now_ms: i64) -> Option<Point> {
        self.fine.buckets.back().map(|b| {
            let elapsed = (now_ms - b.start_ms).clamp(MIN_RATE_SPAN_MS, self.fine.width_ms);
            Point::of(b, elapsed)
        })
    }
}

/// One chart point: a bucket's rates and latency percentiles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    /// Unix ms of the bucket's start.
    pub t: i64,
    /// Latency percentiles in milliseconds (`None` without requests).
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    /// Records parsed per second.
    pub records_per_s: f64,
    pub requests: u32,
    pub errors: u32,
}

impl Point {
    /// `span_ms`: the time the bucket's counts cover (its width, or less while it fills).
    fn of(b: &Bucket, span_ms: i64) -> Self {
        let latency: Vec<u64> = b.latency.iter().map(|n| u64::from(*n)).collect();
        Self {
            t: b.start_ms,
            p50_ms: quantile(&latency, 0.50).map(|s| s * 1000.0),
            p95_ms: quantile(&latency, 0.95).map(|s| s * 1000.0),
            records_per_s: per_second(u64::from(b.records), span_ms as f64 / 1000.0),
            requests: b.requests,
            errors: b.errors,
        }
    }
}

/// The `q` quantile of a histogram over [`LATENCY_BOUNDS_SECONDS`], interpolated linearly inside
/// the bucket it falls in (as Prometheus' `histogram_quantile` does). Beyond the last bound it
/// answers the last bound.
pub fn quantile(counts: &[u64], q: f64) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut seen = 0u64;
    for (i, n) in counts.iter().enumerate() {
        if *n == 0 {
            continue;
        }
        if (seen + n) as f64 >= rank {
            let Some(upper) = LATENCY_BOUNDS_SECONDS.get(i) else {
                return LATENCY_BOUNDS_SECONDS.last().copied();
            };
            let lower = if i == 0 {
                0.0
            } else {
                LATENCY_BOUNDS_SECONDS[i - 1]
            };
            let within = ((rank - seen as f64) / *n as f64).clamp(0.0, 1.0);
            return Some(lower + (upper - lower) * within);
        }
        seen += n;
    }
    LATENCY_BOUNDS_SECONDS.last().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_roll_and_stay_bounded() {
        let mut h = History::default();
        let t0 = 1_700_000_000_000;
        for i in 0..(FINE_BUCKETS as i64 + 50) {
            h.request(t0 + i * FINE_BUCKET_MS, 0.02, i % 4 == 0);
        }
        assert_eq!(h.fine.buckets.len(), FINE_BUCKETS);
        assert!(h.coarse.buckets.len() <= COARSE_BUCKETS);
        let now = t0 + (FINE_BUCKETS as i64 + 49) * FINE_BUCKET_MS;
        let s = h.summary(now, 60_000);
        assert_eq!(s.requests, 12, "12 five-second buckets in a minute");
        assert!((0.15..=0.35).contains(&s.error_ratio().unwrap()));
        let p = s.p50.unwrap();
        assert!((0.01..=0.025).contains(&p), "{p}");
        assert_eq!(h.points(now, 3_600_000).len(), FINE_BUCKETS);
        assert!(h.points(now, 86_400_000).len() >= 60);
    }

    #[test]
    fn percentiles_and_rates() {
        let mut h = History::default();
        let now = 1_000_000;
        for _ in 0..90 {
            h.request(now, 0.004, false);
        }
        for _ in 0..10 {
            h.request(now, 2.0, true);
        }
        h.records(now, 600, 100);
        let s = h.summary(now, 60_000);
        assert!(s.p50.unwrap() <= 0.005);
        let p95 = s.p95.unwrap();
        assert!((1.0..=2.5).contains(&p95), "{p95}");
        // One bucket of history: the rate divides by the bucket's 5 s, not the whole window.
        assert!((s.records_per_second() - 120.0).abs() < 1e-9, "{s:?}");
        assert_eq!(s.error_ratio(), Some(0.1));
        assert_eq!(History::default().summary(now, 60_000).p95, None);
        assert_eq!(quantile(&[0, 0, 0], 0.5), None);
        let mut over = [0u64; LATENCY_SLOTS];
        over[LATENCY_SLOTS - 1] = 3;
        assert_eq!(
            quantile(&over, 0.5),
            Some(30.0),
            "overflow answers the last bound"
        );
    }

    #[test]
    fn clock_going_back_does_not_reorder() {
        let mut h = History::default();
        h.request(100_000, 0.01, false);
        h.request(50_000, 0.01, false);
        assert_eq!(h.fine.buckets.len(), 1);
        assert_eq!(h.fine.buckets[0].requests, 2);
    }
}

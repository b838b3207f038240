//! The per-exchange circuit breaker and the exchange health derived from it (R3.1).
//!
//! Closed → Open after `failure_threshold` consecutive failures, or when the failure ratio over
//! the last `window` outcomes reaches `failure_ratio` (with at least `min_samples`); Open for a
//! cool-down that doubles while probes keep failing (capped); then HalfOpen: one probe at a
//! time; `success_threshold` successes close it again, one failure re-opens it.
//!
//! Owns the state machine and its clock arithmetic only. Must not sleep, log or do I/O: the
//! worker asks `allow()` before a cycle and reports `record_success`/`record_failure`.

use std::{collections::VecDeque, time::Duration};

use tokio::time::Instant;

use crate::config::BreakerConfig;
use crate::observe::health::BreakerState;

/// A state change, for the log, the metrics, the health table and the event feed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    pub from: BreakerState,
    pub to: BreakerState,
    /// For `Open`: how long until the next probe.
    pub cool_down: Option<Duration>,
}

#[derive(Debug)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    state: BreakerState,
    consecutive_failures: u32,
    recent: VecDeque<bool>,
    open_until: Instant,
    cool_down: Duration,
    half_open_successes: u32,
    probe_in_flight: bool,
}

impl CircuitBreaker {
    pub fn new(config: BreakerConfig) -> Self {
        let base = config.open_base.0;
        Self {
            config,
            state: BreakerState::Closed,
            consecutive_failures: 0,
            recent: VecDeque::new(),
            open_until: Instant::now(),
            cool_down: base,
            half_open_successes: 0,
            probe_in_flight: false,
        }
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// When an open breaker lets the next probe through.
    pub fn open_until(&self) -> Option<Instant> {
        (self.state == BreakerState::Open).then_some(self.open_until)
    }

    /// May a request go out now? In HalfOpen only one probe at a time.
    pub fn allow(&mut self, now: Instant) -> (bool, Option<Transition>) {
        match self.state {
            BreakerState::Closed => (true, None),
            BreakerState::Open if now >= self.open_until => {
                let t = self.go(BreakerState::HalfOpen, None);
                self.half_open_successes = 0;
                self.probe_in_flight = true;
                (true, Some(t))
            }
            BreakerState::Open => (false, None),
            BreakerState::HalfOpen if !self.probe_in_flight => {
                self.probe_in_flight = true;
                (true, None)
            }
            BreakerState::HalfOpen => (false, None),
        }
    }

    pub fn record_success(&mut self, _now: Instant) -> Option<Transition> {
        self.consecutive_failures = 0;
        self.push_outcome(true);
        match self.state {
            BreakerState::HalfOpen => {
                self.probe_in_flight = false;
                self.half_open_successes += 1;
                if self.half_open_successes >= self.config.success_threshold {
                    self.cool_down = self.config.open_base.0;
                    self.recent.clear();
                    return Some(self.go(BreakerState::Closed, None));
                }
                None
            }
            _ => None,
        }
    }

    pub fn record_failure(&mut self, now: Instant) -> Option<Transition> {
        self.consecutive_failures += 1;
        self.push_outcome(false);
        match self.state {
            BreakerState::Closed => {
                let failures = self.recent.iter().filter(|ok| !**ok).count();
                let ratio_trips = self.recent.len() >= self.config.min_samples as usize
                    && failures as f64 / self.recent.len() as f64 >= self.config.failure_ratio;
                if self.consecutive_failures >= self.config.failure_threshold || ratio_trips {
                    self.cool_down = self.config.open_base.0;
                    return Some(self.open(now));
                }
                None
            }
            BreakerState::HalfOpen => {
                self.probe_in_flight = false;
                self.cool_down = self.cool_down.saturating_mul(2).min(self.config.open_max.0);
                Some(self.open(now))
            }
            BreakerState::Open => None,
        }
    }

    fn open(&mut self, now: Instant) -> Transition {
        self.open_until = now + self.cool_down;
        let cool_down = self.cool_down;
        self.go(BreakerState::Open, Some(cool_down))
    }

    fn go(&mut self, to: BreakerState, cool_down: Option<Duration>) -> Transition {
        let from = self.state;
        self.state = to;
        Transition {
            from,
            to,
            cool_down,
        }
    }

    fn push_outcome(&mut self, ok: bool) {
        self.recent.push_back(ok);
        while self.recent.len() > self.config.window as usize {
            self.recent.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::duration::ConfigDuration;

    fn cfg() -> BreakerConfig {
        BreakerConfig {
            failure_threshold: 3,
            failure_ratio: 0.5,
            window: 10,
            min_samples: 6,
            open_base: ConfigDuration(Duration::from_secs(1)),
            open_max: ConfigDuration(Duration::from_secs(8)),
            success_threshold: 2,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn opens_probes_backs_off_and_closes() {
        let mut b = CircuitBreaker::new(cfg());
        let now = Instant::now;
        assert!(b.record_failure(now()).is_none());
        assert!(b.record_failure(now()).is_none());
        let t = b.record_failure(now()).unwrap();
        assert_eq!(
            (t.from, t.to, t.cool_down),
            (
                BreakerState::Closed,
                BreakerState::Open,
                Some(Duration::from_secs(1))
            )
        );
        assert!(!b.allow(now()).0, "open: nothing goes out");

        // Cool-down doubles while probes fail: 1 s, 2 s, 4 s, 8 s, 8 s (capped).
        for expected in [2u64, 4, 8, 8] {
            tokio::time::advance(b.open_until().unwrap() - now()).await;
            let (ok, t) = b.allow(now());
            assert!(ok);
            assert_eq!(t.unwrap().to, BreakerState::HalfOpen);
            assert!(!b.allow(now()).0, "one probe at a time");
            let t = b.record_failure(now()).unwrap();
            assert_eq!(t.cool_down, Some(Duration::from_secs(expected)));
        }

        // The exchange recovers: two good probes close it; the cool-down resets.
        tokio::time::advance(Duration::from_secs(8)).await;
        assert!(b.allow(now()).0);
        assert!(b.record_success(now()).is_none());
        assert!(b.allow(now()).0);
        let t = b.record_success(now()).unwrap();
        assert_eq!(
            (t.from, t.to),
            (BreakerState::HalfOpen, BreakerState::Closed)
        );
        assert!(b.allow(now()).0);
        for _ in 0..3 {
            b.record_failure(now());
        }
        assert_eq!(
            b.open_until().unwrap() - now(),
            Duration::from_secs(1),
            "cool-down starts over"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn ratio_over_window_trips_without_a_streak() {
        let mut b = CircuitBreaker::new(cfg());
        // Alternating outcomes never reach 3 in a row, but 50% of ≥ 6 samples trips.
        let mut opened_at = None;
        for i in 0..10 {
            let t = if i % 2 == 0 {
                b.record_failure(Instant::now())
            } else {
                b.record_success(Instant::now())
            };
            if t.is_some_and(|t| t.to == BreakerState::Open) {
                opened_at = Some(i);
                break;
            }
        }
        assert_eq!(opened_at, Some(6), "7th outcome: 4 failures of 7");
    }

    #[test]
    fn config_problems_name_keys() {
        let mut c = cfg();
        c.failure_ratio = 0.0;
        c.open_base = ConfigDuration(Duration::from_secs(100));
        let p = c.problems("breaker");
        assert!(
            p.iter().any(|p| p.starts_with("breaker.failure_ratio")),
            "{p:?}"
        );
        assert!(
            p.iter().any(|p| p.starts_with("breaker.open_base")),
            "{p:?}"
        );
    }
}

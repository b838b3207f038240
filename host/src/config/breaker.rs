//! `[breaker]`: the circuit breaker's thresholds (global, overridable per exchange) and their
//! defaults. The breaker itself is `collect::breaker`.
//!
//! Owns the keys, their defaults and their checks. Must not run anything.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::duration::ConfigDuration;

pub const DEFAULT_FAILURE_THRESHOLD: u32 = 5;
pub const DEFAULT_FAILURE_RATIO: f64 = 0.5;
pub const DEFAULT_WINDOW: u32 = 20;
pub const DEFAULT_MIN_SAMPLES: u32 = 10;
pub const DEFAULT_OPEN_BASE: Duration = Duration::from_secs(1);
/// Cool-down cap. Small on purpose: an open breaker costs one probe request per cool-down,
/// and the cap bounds how long after an exchange recovers collection resumes (goal: < 5 s).
pub const DEFAULT_OPEN_MAX: Duration = Duration::from_secs(4);
pub const DEFAULT_SUCCESS_THRESHOLD: u32 = 2;

/// Breaker thresholds (`[breaker]` in config, overridable per exchange).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    /// Consecutive failed requests that open the breaker.
    #[serde(default = "d_failure_threshold")]
    pub failure_threshold: u32,
    /// Failure ratio over the last `window` requests that opens the breaker.
    #[serde(default = "d_failure_ratio")]
    pub failure_ratio: f64,
    /// Outcomes remembered for the ratio.
    #[serde(default = "d_window")]
    pub window: u32,
    /// Outcomes needed before the ratio is considered.
    #[serde(default = "d_min_samples")]
    pub min_samples: u32,
    /// First cool-down while open; doubles per failed probe.
    #[serde(default = "d_open_base")]
    pub open_base: ConfigDuration,
    /// Longest cool-down.
    #[serde(default = "d_open_max")]
    pub open_max: ConfigDuration,
    /// Successful probes that close a half-open breaker.
    #[serde(default = "d_success_threshold")]
    pub success_threshold: u32,
}

fn d_failure_threshold() -> u32 {
    DEFAULT_FAILURE_THRESHOLD
}
fn d_failure_ratio() -> f64 {
    DEFAULT_FAILURE_RATIO
}
fn d_window() -> u32 {
    DEFAULT_WINDOW
}
fn d_min_samples() -> u32 {
    DEFAULT_MIN_SAMPLES
}
fn d_open_base() -> ConfigDuration {
    ConfigDuration(DEFAULT_OPEN_BASE)
}
fn d_open_max() -> ConfigDuration {
    ConfigDuration(DEFAULT_OPEN_MAX)
}
fn d_success_threshold() -> u32 {
    DEFAULT_SUCCESS_THRESHOLD
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: DEFAULT_FAILURE_THRESHOLD,
            failure_ratio: DEFAULT_FAILURE_RATIO,
            window: DEFAULT_WINDOW,
            min_samples: DEFAULT_MIN_SAMPLES,
            open_base: d_open_base(),
            open_max: d_open_max(),
            success_threshold: DEFAULT_SUCCESS_THRESHOLD,
        }
    }
}

impl BreakerConfig {
    /// Problems with these settings, each naming the key under `prefix`.
    pub fn problems(&self, prefix: &str) -> Vec<String> {
        let mut p = Vec::new();
        if self.failure_threshold == 0 {
            p.push(format!("{prefix}.failure_threshold: must be at least 1"));
        }
        if !(self.failure_ratio > 0.0 && self.failure_ratio <= 1.0) {
            p.push(format!(
                "{prefix}.failure_ratio: {} is not in (0, 1]",
                self.failure_ratio
            ));
        }
        if self.window == 0 || self.min_samples > self.window {
            p.push(format!(
                "{prefix}.min_samples: {} must be between 1 and window ({})",
                self.min_samples, self.window
            ));
        }
        if self.open_base.0.is_zero() || self.open_base.0 > self.open_max.0 {
            p.push(format!(
                "{prefix}.open_base: {} must be > 0 and <= open_max ({})",
                self.open_base, self.open_max
            ));
        }
        if self.success_threshold == 0 {
            p.push(format!("{prefix}.success_threshold: must be at least 1"));
        }
        p
    }
}

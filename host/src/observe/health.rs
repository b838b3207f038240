//! Exchange health as operators, metrics, the status API and alerts see it:
//! `healthy` / `degraded` / `down`, the breaker state, last success and last error.
//!
//! Owns the shared health table and the vocabulary of breaker states it reports
//! ([`BreakerState`]; the breaker in `collect` moves between them). Must not decide anything:
//! workers report outcomes and breaker transitions; this module only derives and stores the
//! status.

use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock},
};

use serde::Serialize;

/// A circuit breaker's state, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Breaker closed and the latest request succeeded.
    Healthy,
    /// Breaker closed or probing, with recent failures.
    Degraded,
    /// Breaker open: requests are held back until the next probe.
    Down,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExchangeHealth {
    pub status: HealthStatus,
    pub breaker: BreakerState,
    /// Unix ms of the last successful request.
    pub last_success_ms: Option<i64>,
    /// The last failure, one line.
    pub last_error: Option<String>,
    pub last_error_ms: Option<i64>,
    pub consecutive_failures: u32,
}

impl Default for ExchangeHealth {
    fn default() -> Self {
        Self {
            status: HealthStatus::Degraded,
            breaker: BreakerState::Closed,
            last_success_ms: None,
            last_error: None,
            last_error_ms: None,
            consecutive_failures: 0,
        }
    }
}

impl ExchangeHealth {
    fn derive_status(&mut self) {
        self.status = match self.breaker {
            BreakerState::Open => HealthStatus::Down,
            BreakerState::HalfOpen => HealthStatus::Degraded,
            BreakerState::Closed
                if self.consecutive_failures == 0 && self.last_success_ms.is_some() =>
            {
                HealthStatus::Healthy
            }
            BreakerState::Closed => HealthStatus::Degraded,
        };
    }
}

/// The health of every exchange instance, shared by workers (writers) and observers.
#[derive(Debug, Clone, Default)]
pub struct HealthTable {
    inner: Arc<RwLock<BTreeMap<String, ExchangeHealth>>>,
}

impl HealthTable {
    pub fn snapshot(&self) -> BTreeMap<String, ExchangeHealth> {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn get(&self, exchange: &str) -> Option<ExchangeHealth> {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(exchange)
            .cloned()
    }

    fn update(&self, exchange: &str, f: impl FnOnce(&mut ExchangeHealth)) {
        let mut map = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let entry = map.entry(exchange.to_owned()).or_default();
        f(entry);
        entry.derive_status();
    }

    pub fn success(&self, exchange: &str, now_ms: i64) {
        self.update(exchange, |h| {
            h.last_success_ms = Some(now_ms);
            h.consecutive_failures = 0;
        });
    }

    pub fn failure(&self, exchange: &str, now_ms: i64, error: &str) {
        self.update(exchange, |h| {
            h.last_error = Some(error.to_owned());
            h.last_error_ms = Some(now_ms);
            h.consecutive_failures = h.consecutive_failures.saturating_add(1);
        });
    }

    pub fn breaker(&self, exchange: &str, state: BreakerState) {
        self.update(exchange, |h| h.breaker = state);
    }

    pub fn remove(&self, exchange: &str) {
        self.inner
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(exchange);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_outcomes_and_breaker() {
        let t = HealthTable::default();
        t.failure("x", 1, "timeout");
        assert_eq!(t.get("x").unwrap().status, HealthStatus::Degraded);
        t.success("x", 2);
        let h = t.get("x").unwrap();
        assert_eq!(h.status, HealthStatus::Healthy);
        assert_eq!(
            h.last_error.as_deref(),
            Some("timeout"),
            "last error is kept for operators"
        );
        t.breaker("x", BreakerState::Open);
        assert_eq!(t.get("x").unwrap().status, HealthStatus::Down);
        t.breaker("x", BreakerState::HalfOpen);
        assert_eq!(t.get("x").unwrap().status, HealthStatus::Degraded);
    }
}

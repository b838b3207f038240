//! Values computed when Prometheus scrapes: data age, exchange health, sink state, readiness.
//!
//! Owns the scrape-time collector. Must not change state.

use std::sync::Arc;

use prometheus_client::{
    collector::Collector, encoding::DescriptorEncoder, encoding::EncodeLabelSet,
};

use crate::{clock::now_ms, observe::health::HealthStatus};

use super::{
    metrics::encode_gauge_family, metrics::encode_gauge_value, metrics::ExchangeKindLabels,
    state::age_seconds, state::Shared, vocabulary::SinkState,
};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct HealthLabels {
    pub(super) exchange: String,
    pub(super) status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct StateLabels {
    pub(super) state: &'static str,
}

/// Values computed at scrape time: data age, exchange health, sink state, readiness.
#[derive(Debug)]
pub(super) struct ScrapeCollector(pub(super) Arc<Shared>);

impl Collector for ScrapeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let now = now_ms();
        let (ages, sink_state, ready) = {
            let state = self.0.lock();
            let mut ages = Vec::new();
            for (exchange, ex) in &state.exchanges {
                for (kind, k) in &ex.kinds {
                    if let Some(age) = age_seconds(now, k.newest_data_ms) {
                        let labels = ExchangeKindLabels {
                            exchange: exchange.clone(),
                            kind: kind.clone(),
                        };
                        ages.push((labels, age));
                    }
                }
            }
            (ages, state.sink.state, self.0.readiness(&state).ready)
        };
        encode_gauge_family(
            &mut encoder,
            "data_age",
            "Age of the newest data per exchange and kind: now minus the newest exchange timestamp (or the time of the last successful cycle when records carry none).",
            Some(&prometheus_client::registry::Unit::Seconds),
            &ages,
        )?;
        let mut health = Vec::new();
        for (exchange, h) in self.0.health.snapshot() {
            for (status, name) in [
                (HealthStatus::Healthy, "healthy"),
                (HealthStatus::Degraded, "degraded"),
                (HealthStatus::Down, "down"),
            ] {
                let labels = HealthLabels {
                    exchange: exchange.clone(),
                    status: name,
                };
                health.push((labels, if h.status == status { 1.0 } else { 0.0 }));
            }
        }
        encode_gauge_family(
            &mut encoder,
            "exchange_health",
            "Exchange health: 1 for the current status (healthy, degraded, down), 0 for the others.",
            None,
            &health,
        )?;
        let states: Vec<(StateLabels, f64)> = SinkState::ALL
            .iter()
            .map(|s| {
                let v = if *s == sink_state { 1.0 } else { 0.0 };
                (StateLabels { state: s.as_str() }, v)
            })
            .collect();
        encode_gauge_family(
            &mut encoder,
            "sink_state",
            "Sink state: 1 for the current state (starting, ok, spooling, failing, closed).",
            None,
            &states,
        )?;
        let up = if sink_state == SinkState::Ok {
            1.0
        } else {
            0.0
        };
        encode_gauge_value(
            &mut encoder,
            "sink_up",
            "1 when the sink accepts and delivers records (state ok).",
            up,
        )?;
        encode_gauge_value(
            &mut encoder,
            "ready",
            "1 when /readyz answers ready: config loaded, sink ok, at least one exchange healthy.",
            if ready { 1.0 } else { 0.0 },
        )?;
        Ok(())
    }
}

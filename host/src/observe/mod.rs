//! What operators watch: `telemetry` (logging, metrics, status, events, history), `health`
//! (the exchange health table workers report into), `alerts`
//! (rules over telemetry snapshots and their notifiers) and `web` (metrics, health, status API,
//! event stream and the dashboard; the canary decisions of operators).
//!
//! Must not change what is collected or written: it receives reports through the `Telemetry`
//! handle, and the one change it can ask for (a canary decision) goes through
//! `web::decisions::CanaryDecisions`, which the plugin registry's control handle implements.

pub mod alerts;
pub mod health;
pub mod telemetry;
pub mod web;

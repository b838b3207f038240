//! Collection: everything between a plugin and a batch of records for the sink, per exchange
//! instance.
//!
//! - `worker`: an exchange instance's kind tasks: started, kept, restarted and stopped as its
//!   plugin comes, changes and goes;
//! - `exchange`: the state an instance's kind tasks share (instruments, store, breaker, plugin);
//! - `cycle`: one kind's schedule and cycle (build requests, execute, parse, merge, change
//!   detection, send);
//! - `http`: the HTTP executor (pooled client, rate-limit budget, timeouts, retries);
//! - `plan`: the rate budget plan (each kind's need per rule window, the cadence it keeps);
//! - `breaker`: the per-exchange circuit breaker.
//!
//! Must not write records anywhere but the sink queue, and must not reach into the web server,
//! alerts or the sinks: what it observes goes to telemetry and the health table (`observe`).

pub mod breaker;
pub mod cycle;
pub mod exchange;
pub mod http;
pub mod plan;
pub mod worker;

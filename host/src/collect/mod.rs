//! Collection: everything between a plugin and a batch of records for the sink, per exchange
//! instance.
//!
//! - `worker`: the exchange's kind tasks and their cycle (build requests, execute, parse, merge,
//!   change detection, send);
//! - `http`: the HTTP executor (pooled client, rate-limit budget, timeouts, retries);
//! - `breaker`: the per-exchange circuit breaker.
//!
//! Must not write records anywhere but the sink queue, and must not reach into the web server,
//! alerts or the sinks: what it observes goes to telemetry and the health table (`observe`).

pub mod breaker;
pub mod http;
pub mod worker;

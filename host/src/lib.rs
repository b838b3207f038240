//! futures-collector host: loads exchange plugins, polls exchanges concurrently, merges and
//! normalizes records, and writes them to a sink. The binary (`main.rs`) is a thin CLI over this
//! library so integration tests can run the same code in-process.
//!
//! The folders are the architecture:
//! - `config`: the settings (types, defaults, loading, validation); uses nothing that runs;
//! - `plugins`: plugin files to loaded plugins (trust checks, loading, registry, canary);
//! - `collect`: per exchange, requests → plugin parse → records (worker, HTTP, breaker, health);
//! - `state`: what a cycle keeps (latest records, change detection);
//! - `output`: the message format and the sinks;
//! - `observe`: telemetry, alerts and the web server;
//! - `run`: the supervisor that wires them together, and config reload;
//! - `bench`: the benchmark and its instruments;
//! - `trust`: who may change the code and config the collector runs (file ownership and
//!   permission checks, the race-free open of a plugin file).

pub mod bench;
pub mod clock;
pub mod collect;
pub mod config;
pub mod observe;
pub mod output;
pub mod plugins;
mod record_fields;
pub mod run;
pub mod state;
pub mod trust;

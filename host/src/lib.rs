//! futures-collector host: loads exchange plugins, polls exchanges concurrently, merges and
//! normalizes records, and writes them to a sink. The binary (`main.rs`) is a thin CLI over this
//! library so integration tests can run the same code in-process.

pub mod alerts;
pub mod bench;
pub mod breaker;
pub mod config;
pub mod dedup;
pub mod duration;
pub mod health;
pub mod http;
pub mod message;
pub mod plugins;
pub mod record_store;
pub mod reload;
pub mod sink;
pub mod supervisor;
pub mod symbol_slots;
pub mod telemetry;
pub mod web;
pub mod worker;

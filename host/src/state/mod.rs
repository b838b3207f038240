//! Per-exchange state the cycle keeps between runs: the latest record of every instrument
//! (`record_store`, with the normalization applied on merge), what was last sent
//! (`change_detection`), and the per-symbol slot layout both use (`symbol_slots`).
//!
//! Must not do I/O or know about plugins, HTTP or sinks: the worker feeds records in and takes
//! records out.

pub mod change_detection;
pub mod record_store;
pub mod symbol_slots;

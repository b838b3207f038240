//! Running the collector: the `supervisor` starts the sink, the plugin directory, the workers,
//! the web server and alerts, applies config reloads as diffs and shuts down gracefully;
//! `reload` watches and reads the config files for it.
//!
//! Must not collect, encode or write records itself: it wires the parts together.

pub mod reload;
pub mod supervisor;

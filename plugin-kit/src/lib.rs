//! The adapter kit: what every futures-collector exchange adapter needs once, so that an adapter
//! supplies only its exchange's formats (paths, field mapping, code table).
//!
//! Owns: decoding response bodies ([`json`], through the fast reader), numbers and timestamps
//! ([`numbers`], [`de`]; other units, ISO-8601 and countdowns in [`time`]), classifying failed responses ([`envelope`]: the exchange supplies its
//! code table), rate-limit waits with one cap ([`wait`]), the skipped-symbol warning
//! ([`SkippedSymbols`]), joining several responses per instrument ([`InstrumentTable`]), ccxt
//! unified symbols and multiplier prefixes ([`symbols`]); with feature `conformance` (adapters'
//! dev-dependency only) the conformance suite (`conformance`) and the fixture harness (`fixtures`).
//! Must not: be part of the ABI (that is `plugin-api`: a change here never forces a deployed
//! plugin to be rebuilt), do I/O, read clocks (time comes from `Context::now_ms`), keep state
//! between calls, log, or panic on any input.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod envelope;
mod fast_json;
#[cfg(feature = "conformance")]
pub mod fixtures;
#[cfg(any(test, feature = "conformance"))]
pub mod fuzz;
pub mod info;
mod instrument_table;
pub mod json;
pub mod numbers;
mod skipped;
pub mod symbols;
pub mod testing;
pub mod time;
pub mod wait;

pub use instrument_table::InstrumentTable;
pub use json::{check_json_body, json_from_body, snippet};
pub use numbers::{de, decimal, hours_between, nonzero_decimal, timestamp_ms};
pub use skipped::{examples, SkippedSymbols, MAX_EXAMPLES};

//! Request descriptors per data kind: BitMEX serves instruments, tickers and funding of every
//! active contract in one call, `GET /api/v1/instrument/active`.
//!
//! Owns: the path, its weight and its tag (the tag `parse.rs` routes on).
//! Must not: perform I/O, read clocks, keep state, or parse anything.

use plugin_api::{Context, HttpRequest, PluginError};

/// Kind names (the config's `intervals` keys), in the order `info()` lists them.
pub const KIND_INSTRUMENTS: &str = "instruments";
pub const KIND_TICKERS: &str = "tickers";
pub const KIND_FUNDING: &str = "funding";

/// Every public REST path is under this prefix and counts against the same budget.
pub const API_PREFIX: &str = "/api/v1/";
/// Every active instrument (perpetuals, dated futures, spot) with its ticker and funding fields.
pub const PATH_INSTRUMENT_ACTIVE: &str = "/api/v1/instrument/active";
/// BitMEX counts requests, not weights: one request is one of the 30 per minute.
pub const WEIGHT_INSTRUMENT_ACTIVE: u32 = 1;

pub const TAG_INSTRUMENT_ACTIVE: &str = "instrumentActive";

/// The requests of one cycle of `kind`.
pub fn build_requests(kind: &str, _ctx: &Context<'_>) -> Result<Vec<HttpRequest>, PluginError> {
    match kind {
        KIND_INSTRUMENTS | KIND_TICKERS | KIND_FUNDING => Ok(vec![HttpRequest::get(
            PATH_INSTRUMENT_ACTIVE,
            TAG_INSTRUMENT_ACTIVE,
        )
        .weight(WEIGHT_INSTRUMENT_ACTIVE)]),
        other => Err(PluginError::permanent(
            "",
            format!("unknown kind `{other}` (bitmex knows instruments, tickers, funding)"),
        )),
    }
}

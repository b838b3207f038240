//! Request descriptors per data kind: Kraken Futures serves every contract in one
//! `GET /derivatives/api/v3/instruments` and every ticker, with its funding fields, in one
//! `GET /derivatives/api/v3/tickers`.
//!
//! Owns: the paths, their weights and their tags (the tags `parse.rs` routes on).
//! Must not: perform I/O, read clocks, keep state, or parse anything.

use plugin_api::{Context, HttpRequest, PluginError};

/// Kind names (the config's `intervals` keys), in the order `info()` lists them.
pub const KIND_INSTRUMENTS: &str = "instruments";
pub const KIND_TICKERS: &str = "tickers";
pub const KIND_FUNDING: &str = "funding";

/// Every public REST path this plugin asks is under this prefix and counts against one budget.
pub const API_PREFIX: &str = "/derivatives/api/v3/";
/// Every contract (perpetual, dated, index) with its contract size, tick and funding cap.
pub const PATH_INSTRUMENTS: &str = "/derivatives/api/v3/instruments";
/// Every contract's and index's ticker; perpetual rows carry the ABSOLUTE funding rate.
pub const PATH_TICKERS: &str = "/derivatives/api/v3/tickers";
/// Kraken counts public requests, not weights (ccxt gives every endpoint cost 1).
pub const WEIGHT_INSTRUMENTS: u32 = 1;
pub const WEIGHT_TICKERS: u32 = 1;

pub const TAG_INSTRUMENTS: &str = "instruments";
pub const TAG_TICKERS: &str = "tickers";

/// The requests of one cycle of `kind`.
pub fn build_requests(kind: &str, _ctx: &Context<'_>) -> Result<Vec<HttpRequest>, PluginError> {
    match kind {
        KIND_INSTRUMENTS => Ok(vec![
            HttpRequest::get(PATH_INSTRUMENTS, TAG_INSTRUMENTS).weight(WEIGHT_INSTRUMENTS)
        ]),
        KIND_TICKERS | KIND_FUNDING => Ok(vec![
            HttpRequest::get(PATH_TICKERS, TAG_TICKERS).weight(WEIGHT_TICKERS)
        ]),
        other => Err(PluginError::permanent(
            "",
            format!("unknown kind `{other}` (krakenfutures knows instruments, tickers, funding)"),
        )),
    }
}

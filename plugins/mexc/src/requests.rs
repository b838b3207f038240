//! Request descriptors per data kind: which MEXC contract endpoints one collection cycle reads.
//!
//! Owns: paths, weights and tags (the tags `parse.rs` routes on).
//! Must not: perform I/O, read clocks, keep state, or parse anything.

use plugin_api::{Context, HttpRequest, PluginError};

/// Kind names (the config's `intervals` keys), in the order `info()` lists them.
pub const KIND_INSTRUMENTS: &str = "instruments";
pub const KIND_TICKERS: &str = "tickers";
pub const KIND_FUNDING: &str = "funding";

/// The prefix of every path (the rate-limit rule's).
pub const PATH_CONTRACT: &str = "/api/v1/contract";
pub const PATH_DETAIL: &str = "/api/v1/contract/detail";
/// Without `symbol`: every contract (with it, `data` is one object).
pub const PATH_TICKER: &str = "/api/v1/contract/ticker";
/// Without a `/{symbol}` suffix: every contract.
pub const PATH_FUNDING_RATE: &str = "/api/v1/contract/funding_rate";

pub const TAG_DETAIL: &str = "detail";
pub const TAG_TICKER: &str = "ticker";
pub const TAG_FUNDING_RATE: &str = "funding_rate";

/// ccxt's costs (`ccxt:mexc.py:300-321`): `detail` 100, `ticker` and `funding_rate` 2.
pub const WEIGHT_DETAIL: u32 = 100;
pub const WEIGHT_TICKER: u32 = 2;
pub const WEIGHT_FUNDING_RATE: u32 = 2;

/// The requests of one cycle of `kind`.
pub fn build_requests(kind: &str, _ctx: &Context<'_>) -> Result<Vec<HttpRequest>, PluginError> {
    match kind {
        KIND_INSTRUMENTS => Ok(vec![
            HttpRequest::get(PATH_DETAIL, TAG_DETAIL).weight(WEIGHT_DETAIL)
        ]),
        KIND_TICKERS => Ok(vec![
            HttpRequest::get(PATH_TICKER, TAG_TICKER).weight(WEIGHT_TICKER)
        ]),
        KIND_FUNDING => Ok(vec![
            HttpRequest::get(PATH_FUNDING_RATE, TAG_FUNDING_RATE).weight(WEIGHT_FUNDING_RATE)
        ]),
        other => Err(PluginError::permanent(
            "",
            format!("unknown kind `{other}` (mexc knows instruments, tickers, funding)"),
        )),
    }
}

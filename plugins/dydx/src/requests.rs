//! Request descriptors per data kind: which dYdX v4 indexer GET endpoints one collection cycle
//! reads. `/v4/perpetualMarkets` answers every market in one request (instruments, prices, open
//! interest and funding alike); `/v4/height` adds the indexer's latest block and its ISO-8601
//! time, the only clock the indexer shows for that state.
//!
//! Owns: paths, query parameters, weights and tags (the tags `parse.rs` routes on).
//! Must not: perform I/O, read clocks, keep state, or parse anything.

use plugin_api::{Context, HttpRequest, PluginError};

/// Kind names (the config's `intervals` keys), in the order `info()` lists them.
pub const KIND_INSTRUMENTS: &str = "instruments";
pub const KIND_TICKERS: &str = "tickers";
pub const KIND_FUNDING: &str = "funding";

/// Every indexer endpoint is under this prefix and charged to the same per-IP budget.
pub const PATH_PREFIX: &str = "/v4/";
/// Every perpetual market, as an object keyed by ticker (`{"markets":{"BTC-USD":{…}}}`).
pub const PATH_MARKETS: &str = "/v4/perpetualMarkets";
/// The latest indexed block: `{"height":"66624132","time":"2025-12-08T16:11:59.450Z"}`.
pub const PATH_HEIGHT: &str = "/v4/height";

pub const TAG_MARKETS: &str = "perpetualMarkets";
pub const TAG_HEIGHT: &str = "height";

/// One point of the indexer's budget per request (comlink's rate limiter charges every GET
/// without pagination one point).
const WEIGHT: u32 = 1;

/// `GET /v4/perpetualMarkets` (no `limit`: the indexer then lists every market).
pub fn markets_request() -> HttpRequest {
    HttpRequest::get(PATH_MARKETS, TAG_MARKETS).weight(WEIGHT)
}

/// `GET /v4/height`.
pub fn height_request() -> HttpRequest {
    HttpRequest::get(PATH_HEIGHT, TAG_HEIGHT).weight(WEIGHT)
}

/// The requests of one cycle of `kind`.
pub fn build_requests(kind: &str, _ctx: &Context<'_>) -> Result<Vec<HttpRequest>, PluginError> {
    match kind {
        KIND_INSTRUMENTS => Ok(vec![markets_request()]),
        KIND_TICKERS | KIND_FUNDING => Ok(vec![markets_request(), height_request()]),
        other => Err(PluginError::permanent(
            "",
            format!("unknown kind `{other}` (dydx knows instruments, tickers, funding)"),
        )),
    }
}

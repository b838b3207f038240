//! Request descriptors per data kind: which OKX v5 public endpoints one collection cycle reads,
//! and the per-instrument funding requests used when `instId=ANY` is refused.
//!
//! Owns: paths, query parameters, weights and tags (the tags `parse.rs` routes on).
//! Must not: perform I/O, read clocks, keep state, or parse anything.

use plugin_api::{Context, HttpRequest, PluginError};

/// Kind names (the config's `intervals` keys), in the order `info()` lists them.
pub const KIND_INSTRUMENTS: &str = "instruments";
pub const KIND_TICKERS: &str = "tickers";
pub const KIND_FUNDING: &str = "funding";

pub const PATH_INSTRUMENTS: &str = "/api/v5/public/instruments";
pub const PATH_TICKERS: &str = "/api/v5/market/tickers";
pub const PATH_MARK_PRICE: &str = "/api/v5/public/mark-price";
pub const PATH_OPEN_INTEREST: &str = "/api/v5/public/open-interest";
pub const PATH_INDEX_TICKERS: &str = "/api/v5/market/index-tickers";
pub const PATH_FUNDING_RATE: &str = "/api/v5/public/funding-rate";

pub const TAG_INSTRUMENTS: &str = "instruments";
pub const TAG_TICKERS: &str = "tickers";
pub const TAG_MARK_PRICE: &str = "mark-price";
pub const TAG_OPEN_INTEREST: &str = "open-interest";
/// Index tickers are tagged `index:<quoteCcy>`.
pub const TAG_INDEX_PREFIX: &str = "index:";
/// The all-swaps funding request; per-instrument fallbacks are tagged `funding:<instId>`.
pub const TAG_FUNDING: &str = "funding";
pub const TAG_FUNDING_PREFIX: &str = "funding:";

/// `instId` value that makes `/public/funding-rate` return every swap.
pub const ANY_INSTRUMENT: &str = "ANY";

/// Quote currencies of OKX's indices that swaps settle against (`BTC-USDT`, `BTC-USD`,
/// `BTC-USDC`); one index-tickers request each.
pub const INDEX_QUOTES: [&str; 3] = ["USDT", "USD", "USDC"];

/// The requests of one cycle of `kind`.
pub fn build_requests(kind: &str, _ctx: &Context<'_>) -> Result<Vec<HttpRequest>, PluginError> {
    match kind {
        KIND_INSTRUMENTS => Ok(vec![
            HttpRequest::get(PATH_INSTRUMENTS, TAG_INSTRUMENTS).query("instType", "SWAP")
        ]),
        KIND_TICKERS => {
            let mut requests = vec![
                HttpRequest::get(PATH_TICKERS, TAG_TICKERS).query("instType", "SWAP"),
                HttpRequest::get(PATH_MARK_PRICE, TAG_MARK_PRICE).query("instType", "SWAP"),
                HttpRequest::get(PATH_OPEN_INTEREST, TAG_OPEN_INTEREST).query("instType", "SWAP"),
            ];
            requests.extend(INDEX_QUOTES.iter().map(|quote| {
                HttpRequest::get(PATH_INDEX_TICKERS, format!("{TAG_INDEX_PREFIX}{quote}"))
                    .query("quoteCcy", *quote)
            }));
            Ok(requests)
        }
        KIND_FUNDING => Ok(vec![
            HttpRequest::get(PATH_FUNDING_RATE, TAG_FUNDING).query("instId", ANY_INSTRUMENT)
        ]),
        other => Err(PluginError::permanent(
            "",
            format!("unknown kind `{other}` (okx knows instruments, tickers, funding)"),
        )),
    }
}

/// The funding request for one instrument (fallback when `instId=ANY` is refused).
pub fn funding_request(inst_id: &str) -> HttpRequest {
    HttpRequest::get(PATH_FUNDING_RATE, format!("{TAG_FUNDING_PREFIX}{inst_id}"))
        .query("instId", inst_id)
}

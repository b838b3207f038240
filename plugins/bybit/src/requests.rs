//! The HTTP requests behind each kind, and the follow-up request for the next instruments page.
//!
//! Owns: endpoint paths, query parameters, request tags and weights.
//! Must not: execute requests, read clocks, or depend on anything but `kind` (and, for the next
//! page, the request that produced the cursor).
//!
//! | kind          | request                                                        | tag                 |
//! |---------------|----------------------------------------------------------------|---------------------|
//! | `instruments` | `GET /v5/market/instruments-info?category=linear&limit=1000`   | `instruments`       |
//! |   next pages  | same query `&cursor=<nextPageCursor>`                          | `instruments:p<N>`  |
//! | `tickers`     | `GET /v5/market/tickers?category=linear`                       | `tickers`           |
//! | `funding`     | `GET /v5/market/tickers?category=linear` (no bulk funding API) | `funding`           |
//!
//! Every request costs 1 against the IP limit (600 requests per 5 s).

use plugin_api::{Context, HttpRequest, PluginError};

pub(crate) const KIND_INSTRUMENTS: &str = "instruments";
pub(crate) const KIND_TICKERS: &str = "tickers";
pub(crate) const KIND_FUNDING: &str = "funding";

/// `linear`: USDT and USDC perpetuals (and USDT/USDC dated futures, which `parse` skips).
const CATEGORY: &str = "linear";
const INSTRUMENTS_PATH: &str = "/v5/market/instruments-info";
const TICKERS_PATH: &str = "/v5/market/tickers";
/// The largest page `instruments-info` accepts (default 500).
const INSTRUMENTS_PAGE_LIMIT: &str = "1000";
const CURSOR: &str = "cursor";
const PAGE_TAG_PREFIX: &str = "instruments:p";

/// Pages after which pagination stops (50 000 instruments): a guard against a cursor loop.
pub(crate) const MAX_INSTRUMENT_PAGES: u32 = 50;

/// Requests for one cycle of `kind`.
pub fn build_requests(kind: &str, _ctx: &Context<'_>) -> Result<Vec<HttpRequest>, PluginError> {
    match kind {
        KIND_INSTRUMENTS => Ok(vec![HttpRequest::get(INSTRUMENTS_PATH, KIND_INSTRUMENTS)
            .query("category", CATEGORY)
            .query("limit", INSTRUMENTS_PAGE_LIMIT)]),
        KIND_TICKERS | KIND_FUNDING => Ok(vec![
            HttpRequest::get(TICKERS_PATH, kind).query("category", CATEGORY)
        ]),
        other => Err(unknown_kind("", other)),
    }
}

/// The error for a kind this plugin does not know.
pub(crate) fn unknown_kind(tag: &str, kind: &str) -> PluginError {
    PluginError::permanent(
        tag,
        format!(
            "unknown kind `{kind}`: this plugin collects `{KIND_INSTRUMENTS}`, `{KIND_TICKERS}` \
             and `{KIND_FUNDING}`"
        ),
    )
}

/// Whether `request` asked for a follow-up instruments page (it carries a cursor).
pub(crate) fn is_follow_up_page(request: &HttpRequest) -> bool {
    request.query_value(CURSOR).is_some()
}

/// The cursor `request` was sent with, if any.
pub(crate) fn cursor_of(request: &HttpRequest) -> Option<&str> {
    request.query_value(CURSOR)
}

/// The 1-based page number of an instruments request, from its tag.
pub(crate) fn instruments_page(request: &HttpRequest) -> u32 {
    request
        .tag
        .as_str()
        .strip_prefix(PAGE_TAG_PREFIX)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// The request for the page after `previous`: the same path and query with `cursor` set.
pub(crate) fn next_instruments_page(previous: &HttpRequest, cursor: &str) -> HttpRequest {
    let page = instruments_page(previous).saturating_add(1);
    let mut next = HttpRequest::get(previous.path.clone(), format!("{PAGE_TAG_PREFIX}{page}"))
        .weight(previous.weight);
    next.headers = previous.headers.clone();
    for kv in previous.query.iter().filter(|kv| kv.key.as_str() != CURSOR) {
        next = next.query(kv.key.clone(), kv.value.clone());
    }
    next.query(CURSOR, cursor)
}

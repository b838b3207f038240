//! The HTTP requests behind each kind.
//!
//! Owns: endpoint paths, query parameters, headers, request tags and weights.
//! Must not: execute requests, read clocks, or depend on anything but `kind`.
//!
//! | kind          | request                          | tag           |
//! |---------------|----------------------------------|---------------|
//! | `instruments` | `GET /futures/usdt/contracts`    | `contracts`   |
//! | `tickers`     | `GET /futures/usdt/tickers`      | `tickers`     |
//! | `funding`     | `GET /futures/usdt/contracts`    | `funding`     |
//!
//! Every request costs 1 against its endpoint's IP limit (200 requests per 10 s) and sends
//! `X-Gate-Size-Decimal: 1`, so sizes may come as decimal strings (exchange-notes errata 4);
//! the parser accepts integers too.

use plugin_api::{Context, HttpRequest, KeyValue, PluginError};

pub const KIND_INSTRUMENTS: &str = "instruments";
pub const KIND_TICKERS: &str = "tickers";
pub const KIND_FUNDING: &str = "funding";

pub const PATH_CONTRACTS: &str = "/futures/usdt/contracts";
pub const PATH_TICKERS: &str = "/futures/usdt/tickers";

/// Asks Gate for decimal-string sizes (contracts that allow fractional sizes).
pub const SIZE_DECIMAL_HEADER: &str = "X-Gate-Size-Decimal";

/// Gate's cost of each public request.
const WEIGHT: u32 = 1;

/// Requests for one cycle of `kind`.
pub fn build_requests(kind: &str, _ctx: &Context<'_>) -> Result<Vec<HttpRequest>, PluginError> {
    let (path, tag) = match kind {
        KIND_INSTRUMENTS => (PATH_CONTRACTS, "contracts"),
        KIND_TICKERS => (PATH_TICKERS, "tickers"),
        KIND_FUNDING => (PATH_CONTRACTS, "funding"),
        other => return Err(unknown_kind("", other)),
    };
    let mut request = HttpRequest::get(path, tag).weight(WEIGHT);
    request
        .headers
        .push(KeyValue::new(SIZE_DECIMAL_HEADER, "1"));
    Ok(vec![request])
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

//! Request descriptors per data kind: which endpoints one collection cycle reads.
//!
//! Owns: paths, query parameters, weights and tags (the tags `parse.rs` routes on).
//! Must not: perform I/O, read clocks, keep state, or parse anything.

use plugin_api::{Context, HttpRequest, PluginError};

/// Kind names (the config's `intervals` keys), in the order `info()` lists them.
pub const KIND_INSTRUMENTS: &str = "instruments";
pub const KIND_TICKERS: &str = "tickers";
pub const KIND_FUNDING: &str = "funding";

/// The prefix every path shares (the rate-limit rule's). TODO(exchange).
pub const PATH_PREFIX: &str = "/api/v1/";
/// TODO(exchange): the bulk endpoint of each kind.
pub const PATH_INSTRUMENTS: &str = "/api/v1/instruments";
pub const PATH_TICKERS: &str = "/api/v1/tickers";
pub const PATH_FUNDING: &str = "/api/v1/funding";

/// The requests of one cycle of `kind`: one tagged request each (tag = kind).
pub fn build_requests(kind: &str, _ctx: &Context<'_>) -> Result<Vec<HttpRequest>, PluginError> {
    let path = match kind {
        KIND_INSTRUMENTS => PATH_INSTRUMENTS,
        KIND_TICKERS => PATH_TICKERS,
        KIND_FUNDING => PATH_FUNDING,
        other => return Err(unknown_kind(other)),
    };
    Ok(vec![HttpRequest::get(path, kind)])
}

/// The error for a kind this plugin does not know.
pub fn unknown_kind(kind: &str) -> PluginError {
    PluginError::permanent(
        "",
        format!("unknown kind `{kind}` (template knows instruments, tickers, funding)"),
    )
}

//! The HTTP requests behind each kind: one request per product type and kind.
//!
//! Owns: endpoint paths, query parameters, request tags and weights.
//! Must not: execute requests, read clocks, or depend on anything but `kind`.
//!
//! | kind          | request (per productType)                                     | tag                      |
//! |---------------|----------------------------------------------------------------|--------------------------|
//! | `instruments` | `GET /api/v2/mix/market/contracts?productType=USDT-FUTURES`    | `contracts:USDT-FUTURES` |
//! | `tickers`     | `GET /api/v2/mix/market/tickers?productType=USDT-FUTURES`      | `tickers:USDT-FUTURES`   |
//! | `funding`     | `GET /api/v2/mix/market/current-fund-rate?productType=…` (bulk: no `symbol`) | `funding:USDT-FUTURES` |
//!
//! Every request costs 1 against its endpoint's IP limit (20 requests per second).

use plugin_api::{Context, HttpRequest, PluginError};

pub const KIND_INSTRUMENTS: &str = "instruments";
pub const KIND_TICKERS: &str = "tickers";
pub const KIND_FUNDING: &str = "funding";

pub const PATH_CONTRACTS: &str = "/api/v2/mix/market/contracts";
pub const PATH_TICKERS: &str = "/api/v2/mix/market/tickers";
pub const PATH_CURRENT_FUND_RATE: &str = "/api/v2/mix/market/current-fund-rate";

/// The linear product types collected: USDT-margined and USDC-margined perpetuals (their
/// lists may also hold dated delivery contracts, which `parse` skips).
pub const PRODUCT_TYPES: [&str; 2] = ["USDT-FUTURES", "USDC-FUTURES"];
pub(crate) const PRODUCT_TYPE: &str = "productType";

/// Bitget's documented cost of each request (ccxt's cost table: 1).
const WEIGHT: u32 = 1;

/// Requests for one cycle of `kind`.
pub fn build_requests(kind: &str, _ctx: &Context<'_>) -> Result<Vec<HttpRequest>, PluginError> {
    let (path, tag) = match kind {
        KIND_INSTRUMENTS => (PATH_CONTRACTS, "contracts"),
        KIND_TICKERS => (PATH_TICKERS, "tickers"),
        KIND_FUNDING => (PATH_CURRENT_FUND_RATE, "funding"),
        other => return Err(unknown_kind("", other)),
    };
    Ok(PRODUCT_TYPES
        .iter()
        .map(|product| {
            HttpRequest::get(path, format!("{tag}:{product}"))
                .query(PRODUCT_TYPE, *product)
                .weight(WEIGHT)
        })
        .collect())
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

//! Request descriptors per data kind: which HTX public endpoints one collection cycle reads,
//! and the per-swap v5 funding requests used when the legacy bulk endpoint is gone.
//!
//! Owns: paths, query parameters and tags (the tags `parse.rs` routes on).
//! Must not: perform I/O, read clocks, keep state, or parse anything.

use plugin_api::{Context, HttpRequest, PluginError};

/// Kind names (the config's `intervals` keys), in the order `info()` lists them.
pub const KIND_INSTRUMENTS: &str = "instruments";
pub const KIND_TICKERS: &str = "tickers";
pub const KIND_FUNDING: &str = "funding";

/// Legacy linear-swap REST (`status`/`err_code` envelope).
pub const LEGACY_PREFIX: &str = "/linear-swap-api/";
/// v2 market data (same envelope, numbers as strings).
pub const MARKET_V2_PREFIX: &str = "/v2/linear-swap-ex/";
/// v5 market data (`code`/`message` envelope).
pub const V5_MARKET_PREFIX: &str = "/v5/market/";

pub const PATH_CONTRACT_INFO: &str = "/linear-swap-api/v1/swap_contract_info";
pub const PATH_BATCH_MERGED: &str = "/v2/linear-swap-ex/market/detail/batch_merged";
pub const PATH_OPEN_INTEREST: &str = "/linear-swap-api/v1/swap_open_interest";
pub const PATH_BATCH_FUNDING: &str = "/linear-swap-api/v1/swap_batch_funding_rate";
pub const PATH_V5_FUNDING: &str = "/v5/market/funding_rate";

pub const TAG_CONTRACTS: &str = "contracts";
pub const TAG_TICKERS: &str = "batch_merged";
pub const TAG_OPEN_INTEREST: &str = "open_interest";
pub const TAG_FUNDING: &str = "funding";
/// Per-swap v5 funding requests are tagged `funding:<contract_code>`.
pub const TAG_FUNDING_PREFIX: &str = "funding:";

/// `business_type=swap`: without it HTX mixes dated futures into the lists.
const BUSINESS_TYPE: &str = "business_type";
const SWAP: &str = "swap";

/// The requests of one cycle of `kind`.
pub fn build_requests(kind: &str, _ctx: &Context<'_>) -> Result<Vec<HttpRequest>, PluginError> {
    match kind {
        KIND_INSTRUMENTS => Ok(vec![
            HttpRequest::get(PATH_CONTRACT_INFO, TAG_CONTRACTS).query(BUSINESS_TYPE, SWAP)
        ]),
        KIND_TICKERS => Ok(vec![
            HttpRequest::get(PATH_BATCH_MERGED, TAG_TICKERS).query(BUSINESS_TYPE, SWAP),
            HttpRequest::get(PATH_OPEN_INTEREST, TAG_OPEN_INTEREST).query(BUSINESS_TYPE, SWAP),
        ]),
        KIND_FUNDING => Ok(vec![HttpRequest::get(PATH_BATCH_FUNDING, TAG_FUNDING)]),
        other => Err(PluginError::permanent(
            "",
            format!("unknown kind `{other}` (htx knows instruments, tickers, funding)"),
        )),
    }
}

/// The v5 funding request for one swap (fallback when the bulk endpoint is gone).
pub fn funding_request_v5(contract_code: &str) -> HttpRequest {
    HttpRequest::get(
        PATH_V5_FUNDING,
        format!("{TAG_FUNDING_PREFIX}{contract_code}"),
    )
    .query("contract_code", contract_code)
}

//! Request descriptors per data kind: which KuCoin Futures public endpoints one collection
//! cycle reads, and their weights in KuCoin's public resource pool.
//!
//! Owns: paths, query parameters, weights and tags (the tags `parse.rs` routes on).
//! Must not: perform I/O, read clocks, keep state, or parse anything.

use plugin_api::{Context, HttpRequest, PluginError};

/// Kind names (the config's `intervals` keys), in the order `info()` lists them.
pub const KIND_INSTRUMENTS: &str = "instruments";
pub const KIND_TICKERS: &str = "tickers";
pub const KIND_FUNDING: &str = "funding";

/// Every public endpoint is under this prefix and charged to the same pool.
pub const PUBLIC_POOL_PREFIX: &str = "/api/v1/";
/// Instruments with mark, index, 24 h stats, open interest and funding, all in one call.
pub const PATH_CONTRACTS_ACTIVE: &str = "/api/v1/contracts/active";
/// Last trade and best bid/ask of every contract.
pub const PATH_ALL_TICKERS: &str = "/api/v1/allTickers";

/// KuCoin's weights ("PW") in the public pool (ccxt kucoin cost ÷ 2, exchange-notes §6.2).
pub const WEIGHT_CONTRACTS_ACTIVE: u32 = 3;
pub const WEIGHT_ALL_TICKERS: u32 = 5;

pub const TAG_CONTRACTS: &str = "contracts";
pub const TAG_ALL_TICKERS: &str = "allTickers";

/// The requests of one cycle of `kind`.
pub fn build_requests(kind: &str, _ctx: &Context<'_>) -> Result<Vec<HttpRequest>, PluginError> {
    let contracts =
        || HttpRequest::get(PATH_CONTRACTS_ACTIVE, TAG_CONTRACTS).weight(WEIGHT_CONTRACTS_ACTIVE);
    match kind {
        KIND_INSTRUMENTS | KIND_FUNDING => Ok(vec![contracts()]),
        KIND_TICKERS => Ok(vec![
            contracts(),
            HttpRequest::get(PATH_ALL_TICKERS, TAG_ALL_TICKERS).weight(WEIGHT_ALL_TICKERS),
        ]),
        other => Err(PluginError::permanent(
            "",
            format!("unknown kind `{other}` (kucoinfutures knows instruments, tickers, funding)"),
        )),
    }
}

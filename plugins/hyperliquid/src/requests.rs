//! Request descriptors per data kind: which `POST /info` bodies one collection cycle sends.
//!
//! Owns: the path, the JSON bodies, the content type, weights and tags (the tags `parse.rs`
//! routes on).
//! Must not: perform I/O, read clocks, keep state, or parse anything.

use plugin_api::{Context, HttpMethod, HttpRequest, KeyValue, PluginError};

/// Kind names (the config's `intervals` keys), in the order `info()` lists them.
pub const KIND_INSTRUMENTS: &str = "instruments";
pub const KIND_TICKERS: &str = "tickers";
pub const KIND_FUNDING: &str = "funding";

/// The one market-data path: every query is a POST here with a JSON body.
pub const PATH_INFO: &str = "/info";

pub const TAG_META: &str = "meta";
pub const TAG_META_AND_ASSET_CTXS: &str = "metaAndAssetCtxs";
pub const TAG_PREDICTED_FUNDINGS: &str = "predictedFundings";

/// Weight of `meta`, `metaAndAssetCtxs` and `predictedFundings`: every info request that is not
/// one of the light ones (`l2Book`, `allMids`, ... weigh 2) weighs 20 (exchange-notes §9.2).
pub const WEIGHT_INFO: u32 = 20;

const CONTENT_TYPE: &str = "Content-Type";
const JSON: &str = "application/json";

/// `POST /info` with body `{"type":"<info_type>"}`, tagged with the info type.
pub fn info_request(info_type: &str) -> HttpRequest {
    let body = format!("{{\"type\":\"{info_type}\"}}");
    HttpRequest {
        method: HttpMethod::POST,
        path: PATH_INFO.into(),
        query: Default::default(),
        headers: vec![KeyValue::new(CONTENT_TYPE, JSON)].into(),
        body: body.into_bytes().into(),
        weight: WEIGHT_INFO,
        tag: info_type.into(),
    }
}

/// The requests of one cycle of `kind`.
pub fn build_requests(kind: &str, _ctx: &Context<'_>) -> Result<Vec<HttpRequest>, PluginError> {
    match kind {
        KIND_INSTRUMENTS => Ok(vec![info_request(TAG_META)]),
        KIND_TICKERS => Ok(vec![info_request(TAG_META_AND_ASSET_CTXS)]),
        KIND_FUNDING => Ok(vec![
            info_request(TAG_META_AND_ASSET_CTXS),
            info_request(TAG_PREDICTED_FUNDINGS),
        ]),
        other => Err(PluginError::permanent(
            "",
            format!("unknown kind `{other}` (hyperliquid knows instruments, tickers, funding)"),
        )),
    }
}

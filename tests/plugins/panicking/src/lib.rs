//! Test plugin whose `parse` panics (and whose `build_requests` panics for kind `boom`).
//! Owns nothing but the proof that plugin-api's export macro contains panics at the ABI
//! boundary. Never shipped: it is not a default workspace member.

use plugin_api::{
    Context, HttpRequest, HttpResponse, KindSpec, ParseOutput, PluginError, PluginInfo,
    RateLimitRule, RecordKind,
};

fn info() -> PluginInfo {
    PluginInfo {
        exchange_id: "panicking".into(),
        name: "Test plugin that panics in parse".into(),
        plugin_version: env!("CARGO_PKG_VERSION").into(),
        interface_version: "".into(),
        kinds: vec![KindSpec {
            name: "tickers".into(),
            emits: RecordKind::TICKER,
            default_interval_ms: 1_000,
            needs_instruments: false,
            description: "asks the emulator for Binance tickers, then panics".into(),
        }]
        .into(),
        default_base_url: "http://127.0.0.1:1".into(),
        rate_limits: vec![RateLimitRule {
            path_prefix: "".into(),
            limit: 100,
            window_ms: 1_000,
        }]
        .into(),
        default_funding_interval_hours: 8.0,
        extra: Default::default(),
    }
}

fn build_requests(kind: &str, _ctx: &Context<'_>) -> Result<Vec<HttpRequest>, PluginError> {
    if kind == "boom" {
        panic!("build_requests exploded on purpose");
    }
    Ok(vec![HttpRequest::get(
        "/fapi/v1/ticker/bookTicker",
        "bookTicker",
    )])
}

fn parse(_kind: &str, responses: &[HttpResponse<'_>], _ctx: &Context<'_>) -> ParseOutput {
    let index: usize = responses.len() + 41;
    let empty: Vec<u8> = Vec::new();
    // Index out of bounds: a real-world style panic, not an explicit `panic!`.
    let _ = empty[index];
    ParseOutput::default()
}

plugin_api::export_plugin! { info: info, build_requests: build_requests, parse: parse }

//! Hyperliquid's error answers described for plugin-kit's [`envelope`](plugin_kit::envelope).
//!
//! Owns: [`HyperliquidEnvelope`]. A successful `/info` body is the payload itself (an array or
//! a `{"universe":...}` object), so `parse.rs` calls `envelope::check` and decodes the body
//! after it.
//! Must not: map fields or build records.
//!
//! Classes (exchange-notes §9.4):
//! - rate-limited: HTTP 429 (the host classifies it before `parse`; kept here for completeness
//!   by plugin-kit's status rules), waiting `Retry-After` when sent;
//! - transient: HTTP 408 and 5xx;
//! - permanent: an invalid body answers HTTP 4xx (422 in practice) with a plain-text message;
//!   `{"status":"err","response":"..."}` is the exchange-action error envelope. UNCONFIRMED:
//!   whether an `/info` request can answer that envelope at all; when it does, it is permanent.
//! - parse: a 2xx whose body is empty, HTML, not JSON, truncated or not the documented shape.

use plugin_kit::envelope::{CodeTable, Envelope};

/// `{"status":"err","response":"<message>"}`; success bodies carry no `status`.
pub struct HyperliquidEnvelope;

impl Envelope for HyperliquidEnvelope {
    const CODE_FIELD: &'static str = "status";
    const MESSAGE_FIELD: &'static str = "response";
    const PAYLOAD_FIELD: Option<&'static str> = None;
    const CODES: CodeTable = CodeTable {
        success: &["ok"],
        rate_limited: &[],
        transient: &[],
    };
}

//! Gate's error body and labels, described for plugin-kit's [`envelope`](plugin_kit::envelope):
//! a success body is the payload itself (a JSON array), an error is a non-2xx status with
//! `{"label":"…","message":"…"}`, so `parse.rs` uses `envelope::check` before decoding.
//!
//! Owns: [`GateEnvelope`] (field names, the label table).
//! Must not: map fields or build records; decide anything plugin-kit decides for every exchange.
//!
//! Classes (exchange-notes §4.4, ccxt's gate exception table):
//! - rate-limited: `TOO_MANY_REQUESTS` (HTTP 429), waiting `Retry-After` when sent;
//! - transient: `SERVER_ERROR`, `INTERNAL` (5xx, normally handled by the host before `parse`);
//! - permanent: every other label, e.g. `CONTRACT_NOT_FOUND` (an unknown contract),
//!   `INVALID_PARAM_VALUE`, `MISSING_REQUIRED_PARAM`, `INVALID_PROTOCOL`; other 4xx;
//! - parse: a 2xx whose body is empty, HTML, not JSON, truncated, or not an array of rows.

use plugin_kit::envelope::{CodeTable, Envelope};

/// Gate's error body: `{"label":"CONTRACT_NOT_FOUND","message":"…"}`.
pub struct GateEnvelope;

impl Envelope for GateEnvelope {
    const CODE_FIELD: &'static str = "label";
    const MESSAGE_FIELD: &'static str = "message";
    /// A success body is the payload itself.
    const PAYLOAD_FIELD: Option<&'static str> = None;
    const CODES: CodeTable = CodeTable {
        // Gate's success bodies carry no label: any label is an error.
        success: &[],
        rate_limited: &["TOO_MANY_REQUESTS"],
        transient: &["SERVER_ERROR", "INTERNAL"],
    };
}

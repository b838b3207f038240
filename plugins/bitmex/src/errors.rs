//! BitMEX's error answers described for plugin-kit's [`envelope`](plugin_kit::envelope).
//!
//! Owns: [`BitmexEnvelope`]. A successful `/api/v1/instrument/active` body is the payload itself
//! (a JSON array of instrument rows), so `parse.rs` calls `envelope::check` and decodes the body
//! after it.
//! Must not: map fields or build records.
//!
//! BitMEX errors (exchange-notes §12.4) are `{"error":{"message":"…","name":"HTTPError"}}` under
//! an HTTP 4xx/5xx status: there is no code, so the class comes from the status:
//! - rate-limited: HTTP 429 (30 requests/min unauthenticated), waiting `Retry-After` when sent;
//!   BitMEX's own `x-ratelimit-reset` header (Unix seconds) is UNCONFIRMED and not read;
//! - transient: HTTP 408 and 5xx (503 "Service unavailable" / "overloaded");
//! - permanent: other 4xx (400 bad filter, 401/403 "Invalid API Key.", 404);
//! - parse: a 2xx whose body is empty, HTML, not JSON, truncated, an object instead of the
//!   array of rows, or rows of the wrong shape.
//!
//! The nested `error` object is not a code the kit can read (`CODE_FIELD` names it so that a
//! code-shaped `error` — a string — would still be seen as an error): the body's text is part
//! of the message the kit builds from the status.

use plugin_kit::envelope::{CodeTable, Envelope};

/// `{"error":{"message":"…","name":"…"}}`; success bodies are arrays.
pub struct BitmexEnvelope;

impl Envelope for BitmexEnvelope {
    const CODE_FIELD: &'static str = "error";
    const MESSAGE_FIELD: &'static str = "message";
    const PAYLOAD_FIELD: Option<&'static str> = None;
    const CODES: CodeTable = CodeTable {
        success: &[],
        rate_limited: &[],
        transient: &[],
    };
}

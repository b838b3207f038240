//! MEXC's contract-API envelope and codes described for plugin-kit's
//! [`envelope`](plugin_kit::envelope), which turns statuses, codes and garbage bodies into
//! classified errors naming the request's tag.
//!
//! Owns: [`MexcEnvelope`] (where the envelope's fields sit, the code table).
//! Must not: map fields or build records.
//!
//! The envelope is `{"success":true,"code":0,"data":...}` with a JSON-number code; errors come
//! as HTTP 200 `{"success":false,"code":<n>,"message":"..."}` (exchange-notes §5.4,
//! `ccxt:mexc.py:6077-6100`; some answers spell the message `msg`, then the message is empty).
//! Classes (`ccxt:mexc.py:925-945`):
//! - rate-limited: 510 "requests too frequent", 429 "too many requests"; HTTP 418/429;
//! - transient: 501/503 busy or unavailable, 604 maintenance; HTTP 408 and 5xx;
//! - permanent: every other code (1001 "contract does not exist", 600 "param error", ...);
//! - parse: a 2xx whose body is empty, HTML, not JSON, truncated, without `code`, or whose
//!   `data` is not the documented shape.

use plugin_kit::envelope::{CodeTable, Envelope};

/// `{"success":true,"code":0,"data":[...]}`.
pub struct MexcEnvelope;

impl Envelope for MexcEnvelope {
    const CODE_FIELD: &'static str = "code";
    const MESSAGE_FIELD: &'static str = "message";
    const PAYLOAD_FIELD: Option<&'static str> = Some("data");
    const CODES: CodeTable = CodeTable {
        success: &["0"],
        rate_limited: &["510", "429"],
        transient: &["501", "503", "604"],
    };
}

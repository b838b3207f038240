//! OKX's error envelope and codes: the v5 envelope (`code` / `msg` / `data`) described for
//! plugin-kit's [`envelope`](plugin_kit::envelope), which turns statuses, codes and garbage
//! bodies into classified errors naming the request's tag.
//!
//! Owns: [`OkxEnvelope`] (where the envelope's fields sit, the code table, the wait hint) and the
//! codes `parse.rs` reacts to.
//! Must not: map fields or build records; decide anything plugin-kit decides for every exchange.
//!
//! Classes (OKX v5 docs, "Error Code" and "Rate Limits" sections; ccxt's OKX table agrees):
//! - rate-limited: 50011 "Rate limit reached" (HTTP 200) / "Too Many Requests" (HTTP 429),
//!   50061 "maximum order rate limit for this account" (sub-account limit); HTTP 418/429,
//!   waiting `Retry-After` when it is sent;
//! - transient: 50001 "Service temporarily unavailable" (503), 50004 "API endpoint request
//!   timeout", 50013 "Systems are busy" (429), 50026 "System error. Try again later" (500);
//!   HTTP 408 and 5xx (normally handled by the host before `parse`);
//! - permanent: everything else: 51000 "Parameter {param0} error" (400), 51001 "Instrument ID
//!   ... doesn't exist" (200), 50014 "Parameter {param0} can not be empty" (400), 50005
//!   "API endpoint is inactive or unavailable" (410: removed), auth and trading codes; other 4xx;
//! - parse: a 2xx whose body is empty, HTML, not JSON, truncated, without `code`, or whose
//!   `data` is not the documented array of rows.

use plugin_kit::envelope::{CodeTable, Envelope};

/// "Parameter {param} error": what OKX answers when it refuses a parameter value.
pub const PARAMETER_ERROR: &str = "51000";
/// "Instrument ID does not exist" (HTTP 200).
pub const INSTRUMENT_NOT_FOUND: &str = "51001";

/// The OKX v5 envelope: `{"code":"0","msg":"","data":[...]}`.
pub struct OkxEnvelope;

impl Envelope for OkxEnvelope {
    const CODE_FIELD: &'static str = "code";
    const MESSAGE_FIELD: &'static str = "msg";
    const PAYLOAD_FIELD: Option<&'static str> = Some("data");
    const CODES: CodeTable = CodeTable {
        success: &["0"],
        rate_limited: &["50011", "50061"],
        transient: &["50001", "50004", "50013", "50026"],
    };
}

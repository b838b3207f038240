//! KuCoin's error envelope and codes: `{"code":"200000","data":…}` on success, any other
//! `code` (with `msg`) an error, described for plugin-kit's
//! [`envelope`](plugin_kit::envelope), which turns statuses, codes and garbage bodies into
//! classified errors naming the request's tag.
//!
//! Owns: [`KucoinEnvelope`] (where the envelope's fields sit, the code table).
//! Must not: map fields or build records; decide anything plugin-kit decides for every exchange.
//!
//! Classes (exchange-notes §6.4, ccxt kucoin `handleErrors`):
//! - rate-limited: `429000` "Too many requests" (HTTP 429 or 200); the wait comes from
//!   `Retry-After` when sent (KuCoin's own `gw-ratelimit-reset` header is a countdown the
//!   host's default back-off covers);
//! - transient: `500000` "Internal Server Error" — UNCONFIRMED (not in the stored notes; KuCoin's
//!   generic server-error code as seen in its docs' error list) — and HTTP 408/5xx;
//! - permanent: everything else (`400100` bad parameter, `400001`… auth, `404000` no such URL),
//!   other 4xx;
//! - parse: a 2xx whose body is empty, HTML, not JSON, truncated, without `code`, or whose `data`
//!   is not the documented array of rows.

use plugin_kit::envelope::{CodeTable, Envelope};

/// The KuCoin envelope: `{"code":"200000","data":[...]}` (`msg` on errors).
pub struct KucoinEnvelope;

impl Envelope for KucoinEnvelope {
    const CODE_FIELD: &'static str = "code";
    const MESSAGE_FIELD: &'static str = "msg";
    const PAYLOAD_FIELD: Option<&'static str> = Some("data");
    const CODES: CodeTable = CodeTable {
        success: &["200000"],
        rate_limited: &["429000"],
        transient: &["500000"],
    };
}

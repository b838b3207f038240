//! Bybit's error envelope and codes: the v5 envelope (`retCode` / `retMsg` / `result` / `time`)
//! described for plugin-kit's [`envelope`](plugin_kit::envelope), which turns statuses, codes
//! and garbage bodies into classified errors naming the request's tag.
//!
//! Owns: [`BybitEnvelope`] (where the envelope's fields sit, the code table, the IP-ban status,
//! the rate-limit reset header).
//! Must not: map fields or build records; decide anything plugin-kit decides for every exchange.
//!
//! Classes (<https://bybit-exchange.github.io/docs/v5/error>, `/docs/v5/rate-limit`):
//! - rate-limited: 10006 "Too many visits" (per-UID API limit), 10018 "Exceeded the IP rate
//!   limit", 10429 "system level frequency protection", waiting until
//!   `X-Bapi-Limit-Reset-Timestamp`; HTTP 403 ("access too frequent": the IP is banned, the
//!   docs say to wait at least 10 minutes), 429, 418;
//! - transient: 10000 "Server Timeout", 10016 "Server error / service is restarting"; HTTP 408
//!   and 5xx (normally handled by the host before `parse`);
//! - permanent: everything else (10001 request parameter error, e.g. an unknown category or
//!   symbol; 10002-10005 auth/permission; 10017 route not found; 110xxx trading errors), and
//!   other 4xx;
//! - parse: a 2xx whose body is empty, HTML, not JSON, truncated, or not the documented shape.

use plugin_api::ErrorClass;
use plugin_kit::{
    envelope::{CodeTable, Envelope, StatusRule},
    wait::{WaitHint, MAX_WAIT_MS},
};

/// The Bybit v5 envelope: `{"retCode":0,"retMsg":"OK","result":{...},"time":...}`.
pub struct BybitEnvelope;

impl Envelope for BybitEnvelope {
    const CODE_FIELD: &'static str = "retCode";
    const MESSAGE_FIELD: &'static str = "retMsg";
    const PAYLOAD_FIELD: Option<&'static str> = Some("result");
    const TIME_FIELD: Option<&'static str> = Some("time");
    const CODES: CodeTable = CodeTable {
        success: &["0"],
        rate_limited: &["10006", "10018", "10429"],
        transient: &["10000", "10016"],
    };
    const STATUS_RULES: &'static [StatusRule] = &[StatusRule {
        status: 403,
        class: ErrorClass::RATE_LIMITED,
        // "Wait for at least 10 minutes": the kit's cap is exactly that ban.
        wait_ms: Some(MAX_WAIT_MS),
        note: "Bybit bans an IP over 600 requests per 5 s for ~10 minutes",
    }];
    const WAIT_HINTS: &'static [WaitHint] = &[WaitHint::ResetTimestampHeader(
        "x-bapi-limit-reset-timestamp",
    )];
}

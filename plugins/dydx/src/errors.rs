//! The dYdX v4 indexer's answers: a success body is the payload itself; a failure is an HTTP
//! status with `{"errors":[{"msg":"…"}]}` and no code of its own (dydxprotocol/v4-chain,
//! indexer comlink: `create4xxResponse`, `handleValidationErrors`, `handleNotFoundError`,
//! `lib/rate-limit.ts`). plugin-kit's [`Envelope`](plugin_kit::envelope::Envelope) reads a code
//! field, which these bodies lack, so this module opens answers with plugin-kit's pieces (JSON
//! checks, status classes, the reset-time wait hint).
//!
//! Owns: [`open`] and the wait of a rate-limited answer.
//! Must not: map fields or build records.
//!
//! Classes (exchange-notes §10.4; the body shape is UNCONFIRMED there and taken from the
//! indexer's source):
//! - rate-limited: HTTP 429 `{"errors":[{"msg":"Too many requests"}]}` (and 418). The wait is
//!   `RateLimit-Reset` (an absolute Unix **ms** time) or else `Retry-After`, which the indexer
//!   fills with rate-limiter-flexible's `msBeforeNext`: **milliseconds**, not the seconds RFC
//!   9110 means (a naive reading waits 1000 times too long). UNCONFIRMED against a live answer.
//! - transient: HTTP 408 and 5xx (`{"errors":[{"msg":"Internal Server Error"}]}`);
//! - permanent: every other 4xx (400 invalid parameters, 404 `BTC-XYZ not found in markets of
//!   type PERPETUAL`), and an error body under a 2xx status (never seen);
//! - parse: a 2xx whose body is empty, HTML, not JSON, truncated, or not the documented shape.

use plugin_api::{ErrorClass, HttpResponse, PluginError};
use plugin_kit::{
    envelope::{class_of_status, http_error_text},
    json::{check_json_body, json_from_body, snippet},
    wait::{WaitHint, MAX_WAIT_MS},
};
use serde::Deserialize;

use crate::model::ErrorBody;

/// `RateLimit-Reset`: the Unix ms time the indexer's per-IP window frees up.
pub const HEADER_RATE_LIMIT_RESET: &str = "ratelimit-reset";
/// `Retry-After`, which the indexer writes in milliseconds.
pub const HEADER_RETRY_AFTER: &str = "retry-after";

/// How long a rate-limited answer asks us to wait, capped at plugin-kit's [`MAX_WAIT_MS`]:
/// `RateLimit-Reset` (absolute ms) first, else `Retry-After` read as milliseconds.
pub fn rate_limit_wait_ms(response: &HttpResponse<'_>, now_ms: i64) -> Option<u64> {
    WaitHint::ResetTimestampHeader(HEADER_RATE_LIMIT_RESET)
        .wait_ms(response, "", now_ms)
        .or_else(|| {
            let ms = response
                .header(HEADER_RETRY_AFTER)?
                .trim()
                .parse::<u64>()
                .ok()?;
            Some(ms.min(MAX_WAIT_MS)).filter(|ms| *ms > 0)
        })
}

/// The messages of an error body (`msg; msg`), if `body` is one.
fn error_messages(body: &[u8]) -> Option<String> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let errors = json_from_body::<ErrorBody>(body).ok()?.errors?;
    let messages: Vec<String> = errors.into_iter().filter_map(|e| e.msg).collect();
    (!messages.is_empty()).then(|| messages.join("; "))
}

/// The classified error of a non-2xx answer.
fn status_error(response: &HttpResponse<'_>, now_ms: i64) -> PluginError {
    let tag = response.tag();
    let status = response.status;
    let text = match error_messages(response.body()) {
        Some(messages) => format!("HTTP {status}: {messages}"),
        None => http_error_text(status, response.body()),
    };
    let class = class_of_status(status);
    if class == ErrorClass::RATE_LIMITED {
        PluginError::rate_limited(tag, text, rate_limit_wait_ms(response, now_ms))
    } else {
        PluginError::new(class, tag, text)
    }
}

/// Checks status and body of one response and decodes its payload, or returns the classified
/// error naming the request's tag.
pub fn open<'a, T: Deserialize<'a>>(
    response: &HttpResponse<'a>,
    now_ms: i64,
) -> Result<T, PluginError> {
    let tag = response.tag();
    if !(200..300).contains(&response.status) {
        return Err(status_error(response, now_ms));
    }
    let body = response.body();
    check_json_body(body, tag)?;
    json_from_body::<T>(body).map_err(|e| match error_messages(body) {
        Some(messages) => PluginError::permanent(
            tag,
            format!("HTTP {} with an error body: {messages}", response.status),
        ),
        None => PluginError::parse(
            tag,
            format!("unexpected response body ({e}): {}", snippet(body)),
        ),
    })
}

//! OKX failure detection and classification: HTTP statuses, the v5 envelope (`code` / `msg`)
//! and garbage bodies, each turned into a [`PluginError`] naming the request's tag.
//!
//! Owns: [`open`] (the only way `parse.rs` gets at a response's `data` rows) and the
//! `code` → [`ErrorClass`] table.
//! Must not: map fields or build records; never let a malformed body through as an empty
//! success, and never panic on any input.
//!
//! Classes (OKX v5 docs, "Error Code" and "Rate Limits" sections; ccxt's OKX table agrees):
//! - rate-limited: 50011 "Rate limit reached" (HTTP 200) / "Too Many Requests" (HTTP 429),
//!   50061 "maximum order rate limit for this account" (sub-account limit); HTTP 418/429;
//! - transient: 50001 "Service temporarily unavailable" (503), 50004 "API endpoint request
//!   timeout", 50013 "Systems are busy" (429), 50026 "System error. Try again later" (500);
//!   HTTP 408 and 5xx (normally handled by the host before `parse`);
//! - permanent: everything else: 51000 "Parameter {param0} error" (400), 51001 "Instrument ID
//!   ... doesn't exist" (200), 50014 "Parameter {param0} can not be empty" (400), 50005
//!   "API endpoint is inactive or unavailable" (410: removed), auth and trading codes; other 4xx;
//! - parse: a 2xx whose body is empty, HTML, not JSON, truncated, without `code`, or whose
//!   `data` is not the documented array of rows.

use plugin_api::{ErrorClass, HttpResponse, PluginError};
use plugin_kit::{check_json_body, snippet};
use serde::Deserialize;

use crate::model::{Envelope, EnvelopeHead};

/// "Parameter {param} error": what OKX answers when it refuses a parameter value.
pub const PARAMETER_ERROR: &str = "51000";
/// "Instrument ID does not exist" (HTTP 200).
pub const INSTRUMENT_NOT_FOUND: &str = "51001";

/// Longest wait taken from a `Retry-After` header.
const MAX_RETRY_AFTER_MS: u64 = 600_000;

/// The error class of a non-zero OKX `code`.
pub fn class_of_code(code: &str) -> ErrorClass {
    match code {
        "50011" | "50061" => ErrorClass::RATE_LIMITED,
        "50001" | "50004" | "50013" | "50026" => ErrorClass::TRANSIENT,
        _ => ErrorClass::PERMANENT,
    }
}

/// Checks status, body and envelope of one response and returns its `data` rows, or the
/// classified error. Successful bodies are parsed once, borrowing from the body.
pub fn open<'a, T: Deserialize<'a>>(response: &HttpResponse<'a>) -> Result<Vec<T>, PluginError> {
    let tag = response.tag();
    let body = response.body();

    if !(200..300).contains(&response.status) {
        return Err(match error_envelope(body) {
            Some((code, message)) => envelope_error(&code, &message, response),
            None => http_error(response),
        });
    }

    check_json_body(body, tag)?;

    match plugin_kit::json_from_body::<Envelope<T>>(body) {
        Ok(envelope) => match (envelope.code.as_deref(), envelope.data) {
            (Some("0"), Some(rows)) => Ok(rows),
            (Some("0"), None) => Err(PluginError::parse(
                tag,
                format!("code 0 without a `data` array: {}", snippet(body)),
            )),
            (Some(code), _) => {
                let message = error_envelope(body).map(|(_, m)| m).unwrap_or_default();
                Err(envelope_error(code, &message, response))
            }
            (None, _) => Err(PluginError::parse(
                tag,
                format!("no `code` in the body: {}", snippet(body)),
            )),
        },
        // An error envelope may carry a `data` that does not fit the rows: look at the head
        // alone before calling the body malformed.
        Err(e) => Err(match error_envelope(body) {
            Some((code, message)) => envelope_error(&code, &message, response),
            None => PluginError::parse(
                tag,
                format!("unexpected response body ({e}): {}", snippet(body)),
            ),
        }),
    }
}

/// `Some((code, msg))` when the body is a JSON envelope with a non-zero `code`.
fn error_envelope(body: &[u8]) -> Option<(String, String)> {
    let head: EnvelopeHead = serde_json::from_slice(body).ok()?;
    let code = head.code.filter(|c| !c.is_empty() && c != "0")?;
    Some((code, head.msg.unwrap_or_default()))
}

/// A classified error for a non-zero `code`, with the code in `code`.
pub fn envelope_error(code: &str, message: &str, response: &HttpResponse<'_>) -> PluginError {
    let tag = response.tag();
    let text = if response.status == 200 {
        format!("code {code}: {message}")
    } else {
        format!("HTTP {}, code {code}: {message}", response.status)
    };
    let class = class_of_code(code);
    let error = if class == ErrorClass::RATE_LIMITED {
        PluginError::rate_limited(tag, text, retry_after_ms(response))
    } else {
        PluginError::new(class, tag, text)
    };
    error.with_code(code)
}

/// A classified error for a non-2xx response without an OKX error envelope.
fn http_error(response: &HttpResponse<'_>) -> PluginError {
    let tag = response.tag();
    let text = plugin_kit::envelope::http_error_text(response.status, response.body());
    match plugin_kit::envelope::class_of_status(response.status) {
        ErrorClass::RATE_LIMITED => PluginError::rate_limited(tag, text, retry_after_ms(response)),
        class => PluginError::new(class, tag, text),
    }
}

/// Wait from a `Retry-After: <seconds>` header, when the response has one.
fn retry_after_ms(response: &HttpResponse<'_>) -> Option<u64> {
    let seconds: u64 = response.header("retry-after")?.trim().parse().ok()?;
    Some(seconds.saturating_mul(1_000).min(MAX_RETRY_AFTER_MS)).filter(|ms| *ms > 0)
}

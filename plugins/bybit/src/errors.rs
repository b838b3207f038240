//! Bybit failure detection and classification: HTTP statuses, the v5 envelope (`retCode` /
//! `retMsg`) and garbage bodies, each turned into a [`PluginError`] naming the request's tag.
//!
//! Owns: [`open`] (the only way `parse.rs` gets at a response's `result`), the `retCode` →
//! [`ErrorClass`] table and retry-after hints.
//! Must not: map fields or build records; never let a malformed body through as an empty
//! success, and never panic on any input.
//!
//! Classes (<https://bybit-exchange.github.io/docs/v5/error>, `/docs/v5/rate-limit`):
//! - rate-limited: 10006 "Too many visits" (per-UID API limit), 10018 "Exceeded the IP rate
//!   limit", 10429 "system level frequency protection"; HTTP 403 ("access too frequent": the IP
//!   is banned, the docs say to wait at least 10 minutes), 429, 418;
//! - transient: 10000 "Server Timeout", 10016 "Server error / service is restarting"; HTTP 408
//!   and 5xx (normally handled by the host before `parse`);
//! - permanent: everything else (10001 request parameter error, e.g. an unknown category or
//!   symbol; 10002-10005 auth/permission; 10017 route not found; 110xxx trading errors), and
//!   other 4xx;
//! - parse: a 2xx whose body is empty, HTML, not JSON, truncated, or not the documented shape.

use plugin_api::{Context, ErrorClass, HttpResponse, PluginError};
use plugin_kit::{check_json_body, snippet, timestamp_ms};
use serde::Deserialize;

use crate::model::{Envelope, EnvelopeHead};

/// How long Bybit bans an IP that breached its HTTP limit ("wait for at least 10 minutes").
pub(crate) const IP_BAN_MS: u64 = 600_000;

/// Longest wait taken from a `X-Bapi-Limit-Reset-Timestamp` header (guards against clock skew).
const MAX_HEADER_WAIT_MS: i64 = 600_000;

/// The `result` of a successful (`retCode` 0) response, with the envelope's server time.
pub(crate) struct Payload<T> {
    pub result: T,
    pub time: Option<i64>,
}

/// The error class of a non-zero `retCode`.
pub(crate) fn class_of_ret_code(code: i64) -> ErrorClass {
    match code {
        10006 | 10018 | 10429 => ErrorClass::RATE_LIMITED,
        10000 | 10016 => ErrorClass::TRANSIENT,
        _ => ErrorClass::PERMANENT,
    }
}

/// Checks status, body and envelope of one response and returns its `result`, or the
/// classified error. Successful bodies are parsed once, borrowing from the body.
pub(crate) fn open<'a, T: Deserialize<'a>>(
    response: &HttpResponse<'a>,
    ctx: &Context<'_>,
) -> Result<Payload<T>, PluginError> {
    let tag = response.tag();
    let body = response.body();

    if !(200..300).contains(&response.status) {
        return Err(match error_envelope(body) {
            Some((code, message)) => envelope_error(code, &message, response, ctx),
            None => http_error(response, ctx),
        });
    }

    check_json_body(body, tag)?;

    match plugin_kit::json_from_body::<Envelope<T>>(body) {
        Ok(envelope) => match (envelope.ret_code, envelope.result) {
            (Some(0), Some(result)) => Ok(Payload {
                result,
                time: envelope.time,
            }),
            (Some(0), None) => Err(PluginError::parse(
                tag,
                format!("retCode 0 without a `result` object: {}", snippet(body)),
            )),
            (Some(code), _) => {
                let message = error_envelope(body).map(|(_, m)| m).unwrap_or_default();
                Err(envelope_error(code, &message, response, ctx))
            }
            (None, _) => Err(PluginError::parse(
                tag,
                format!("no `retCode` in the body: {}", snippet(body)),
            )),
        },
        // An error envelope usually carries `"result":{}`, which does not fit `T`: look at the
        // envelope alone before calling the body malformed.
        Err(e) => Err(match error_envelope(body) {
            Some((code, message)) => envelope_error(code, &message, response, ctx),
            None => PluginError::parse(
                tag,
                format!("unexpected response body ({e}): {}", snippet(body)),
            ),
        }),
    }
}

/// `Some((retCode, retMsg))` when the body is a JSON envelope with a non-zero `retCode`.
fn error_envelope(body: &[u8]) -> Option<(i64, String)> {
    let head: EnvelopeHead = serde_json::from_slice(body).ok()?;
    let code = head.ret_code.filter(|c| *c != 0)?;
    Some((code, head.ret_msg.unwrap_or_default()))
}

/// A classified error for a non-zero `retCode`, with the code in `code`.
pub(crate) fn envelope_error(
    code: i64,
    message: &str,
    response: &HttpResponse<'_>,
    ctx: &Context<'_>,
) -> PluginError {
    let tag = response.tag();
    let text = if response.status == 200 {
        format!("retCode {code}: {message}")
    } else {
        format!("HTTP {}, retCode {code}: {message}", response.status)
    };
    let class = class_of_ret_code(code);
    let error = if class == ErrorClass::RATE_LIMITED {
        PluginError::rate_limited(tag, text, reset_wait_ms(response, ctx))
    } else {
        PluginError::new(class, tag, text)
    };
    error.with_code(code.to_string())
}

/// A classified error for a non-2xx response without a Bybit error envelope.
fn http_error(response: &HttpResponse<'_>, ctx: &Context<'_>) -> PluginError {
    let tag = response.tag();
    let text = plugin_kit::envelope::http_error_text(response.status, response.body());
    if response.status == 403 {
        return PluginError::rate_limited(
            tag,
            format!("{text} (Bybit bans an IP over 600 requests per 5 s for ~10 minutes)"),
            Some(IP_BAN_MS),
        );
    }
    match plugin_kit::envelope::class_of_status(response.status) {
        ErrorClass::RATE_LIMITED => {
            PluginError::rate_limited(tag, text, reset_wait_ms(response, ctx))
        }
        class => PluginError::new(class, tag, text),
    }
}

/// Wait derived from `X-Bapi-Limit-Reset-Timestamp` (when the per-UID limit resets), if it is
/// in the future of the host's clock.
fn reset_wait_ms(response: &HttpResponse<'_>, ctx: &Context<'_>) -> Option<u64> {
    let reset = timestamp_ms(response.header("x-bapi-limit-reset-timestamp")?)?;
    let wait = reset.checked_sub(ctx.now_ms)?;
    u64::try_from(wait.clamp(0, MAX_HEADER_WAIT_MS))
        .ok()
        .filter(|w| *w > 0)
}

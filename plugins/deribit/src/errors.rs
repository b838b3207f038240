//! Deribit's JSON-RPC answers: `{"jsonrpc":"2.0","result":…,"usIn":…}` on success,
//! `{"jsonrpc":"2.0","error":{"code":10028,"message":"too_many_requests","data":…}}` on errors
//! (HTTP 400 for most, 429 or 200 also seen through proxies). The error's code sits in a
//! nested object, which plugin-kit's [`Envelope`](plugin_kit::envelope::Envelope) (a flat code
//! field) cannot describe, so this module opens the answer itself with plugin-kit's pieces
//! (JSON checks, status classes, wait hints). A generic "nested error object" envelope would
//! belong in plugin-kit; it is written here because the kit must not change in this wave.
//!
//! Owns: [`open_result`] and the code table.
//! Must not: map fields or build records.
//!
//! Classes (exchange-notes §11.4; ccxt deribit `exceptions`):
//! - rate-limited: `10028` too_many_requests (HTTP 429 or 400), waiting `Retry-After` when sent;
//! - transient: `10040` retry, `10041` settlement_in_progress, `11051` system_maintenance,
//!   `11094` internal_server_error, `13028` temporarily_unavailable, `13888` timed_out —
//!   UNCONFIRMED (not in the stored notes; Deribit's error list as ccxt maps it from memory) —
//!   and HTTP 408/5xx without an error object;
//! - permanent: every other code (`13020` not_found, `11050` bad_request, `-32602` invalid
//!   params, `-32601` method not found), other 4xx;
//! - parse: a 2xx whose body is empty, HTML, not JSON, truncated, has neither `result` nor
//!   `error`, or whose `result` is not the documented array of rows.

use plugin_api::{ErrorClass, HttpResponse, PluginError};
use plugin_kit::{
    envelope::{class_of_status, http_error_text},
    json::{check_json_body, json_from_body, snippet},
    wait::{first_wait_ms, WaitHint},
};
use serde::Deserialize;

use crate::model::RpcError;

/// `too_many_requests`.
pub const RATE_LIMITED_CODE: i64 = 10028;
/// Codes worth retrying with backoff (see the module docs; UNCONFIRMED beyond the notes).
const TRANSIENT_CODES: [i64; 6] = [10040, 10041, 11051, 11094, 13028, 13888];
/// Where Deribit says how long to wait.
const WAIT_HINTS: &[WaitHint] = &[WaitHint::RetryAfter];

/// The class of a JSON-RPC error code.
pub fn class_of_code(code: i64) -> ErrorClass {
    if code == RATE_LIMITED_CODE {
        ErrorClass::RATE_LIMITED
    } else if TRANSIENT_CODES.contains(&code) {
        ErrorClass::TRANSIENT
    } else {
        ErrorClass::PERMANENT
    }
}

/// `{"result": T, "error": {...}}`, every other member skipped.
#[derive(Deserialize)]
struct Wire<T> {
    #[serde(default = "Option::default")]
    result: Option<T>,
    #[serde(default)]
    error: Option<RpcError>,
}

/// The head alone: is this an error answer?
#[derive(Deserialize)]
struct Head {
    #[serde(default)]
    error: Option<RpcError>,
}

/// The classified error of a JSON-RPC error object.
fn rpc_error(response: &HttpResponse<'_>, error: &RpcError, now_ms: i64) -> PluginError {
    let tag = response.tag();
    let code = error.code.unwrap_or_default();
    let class = error.code.map_or(ErrorClass::PERMANENT, class_of_code);
    let text = format!(
        "HTTP {}, error {code}: {}",
        response.status,
        error.message.as_deref().unwrap_or("")
    );
    let e = if class == ErrorClass::RATE_LIMITED {
        let wait = first_wait_ms(
            WAIT_HINTS,
            response,
            error.message.as_deref().unwrap_or(""),
            now_ms,
        );
        PluginError::rate_limited(tag, text, wait)
    } else {
        PluginError::new(class, tag, text)
    };
    e.with_code(code.to_string())
}

/// The error object of a body that is one, whatever its status.
fn head_error(response: &HttpResponse<'_>, now_ms: i64) -> Option<PluginError> {
    let body = response.body();
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let head = json_from_body::<Head>(body).ok()?;
    head.error.map(|e| rpc_error(response, &e, now_ms))
}

/// Checks status, body and JSON-RPC envelope of one response and returns its `result`, or the
/// classified error naming the request's tag.
pub fn open_result<'a, T: Deserialize<'a>>(
    response: &HttpResponse<'a>,
    now_ms: i64,
) -> Result<T, PluginError> {
    let tag = response.tag();
    let body = response.body();
    if !(200..300).contains(&response.status) {
        return Err(head_error(response, now_ms).unwrap_or_else(|| {
            let text = http_error_text(response.status, body);
            let class = class_of_status(response.status);
            if class == ErrorClass::RATE_LIMITED {
                PluginError::rate_limited(
                    tag,
                    text,
                    first_wait_ms(WAIT_HINTS, response, "", now_ms),
                )
            } else {
                PluginError::new(class, tag, text)
            }
        }));
    }
    check_json_body(body, tag)?;
    match json_from_body::<Wire<T>>(body) {
        Ok(Wire {
            error: Some(error), ..
        }) => Err(rpc_error(response, &error, now_ms)),
        Ok(Wire {
            result: Some(result),
            ..
        }) => Ok(result),
        Ok(_) => Err(PluginError::parse(
            tag,
            format!(
                "neither `result` nor `error` in the body: {}",
                snippet(body)
            ),
        )),
        Err(e) => Err(head_error(response, now_ms).unwrap_or_else(|| {
            PluginError::parse(
                tag,
                format!("unexpected response body ({e}): {}", snippet(body)),
            )
        })),
    }
}

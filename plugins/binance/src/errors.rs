//! Error-envelope detection and Binance's error codes → [`ErrorClass`].
//!
//! Owns: deciding whether a response is an error (non-2xx status, or a `{"code":..,"msg":..}`
//! envelope under any status), which class it gets, and the retry-after hint of a rate limit.
//! Must not: parse data rows or judge whether a 2xx body has the right shape (that is `parse`'s
//! job, with a `PARSE` error); must not retry, sleep or log.
//!
//! Codes (Binance USDⓈ-M "Error Codes"): -1003 TOO_MANY_REQUESTS → rate-limited; -1000 UNKNOWN,
//! -1001 DISCONNECTED, -1006 UNEXPECTED_RESP, -1007 TIMEOUT, -1008 SERVER_BUSY / request
//! throttled → transient; every other code (-11xx bad parameters, -1121 invalid symbol, -2xxx,
//! -4xxx, ...) → permanent.

use plugin_api::{ErrorClass, HttpResponse, PluginError};

use crate::model::ErrorEnvelope;

/// Codes worth retrying with backoff.
pub const TRANSIENT_CODES: &[i64] = &[-1000, -1001, -1006, -1007, -1008];
/// Codes that mean "slow down".
pub const RATE_LIMIT_CODES: &[i64] = &[-1003];

/// The class of a Binance error code.
pub fn class_of_code(code: i64) -> ErrorClass {
    if RATE_LIMIT_CODES.contains(&code) {
        ErrorClass::RATE_LIMITED
    } else if TRANSIENT_CODES.contains(&code) {
        ErrorClass::TRANSIENT
    } else {
        ErrorClass::PERMANENT
    }
}

/// The class of a non-2xx status whose body is not a Binance envelope. The host handles
/// 5xx/429/418 itself; they are classified here anyway so nothing falls through.
pub fn class_of_status(status: u16) -> ErrorClass {
    match status {
        // 429 rate limit, 418 IP ban, 403 WAF limit violated (Binance "HTTP Return Codes").
        429 | 418 | 403 => ErrorClass::RATE_LIMITED,
        // 408: timeout waiting for the backend; 5xx: Binance's side.
        408 | 500..=599 => ErrorClass::TRANSIENT,
        _ => ErrorClass::PERMANENT,
    }
}

/// Checks a response before its body is decoded: `Err` for a non-2xx status or an error envelope
/// (classified, with the exchange's code), `Ok` otherwise. `Ok` says nothing about the body's
/// shape. `now_ms` is the host's clock (`Context::now_ms`), used for "banned until" messages.
pub fn check_response(response: &HttpResponse<'_>, now_ms: i64) -> Result<(), PluginError> {
    let status = response.status;
    let body = response.body();
    let ok_status = (200..300).contains(&status);

    if let Some((code, msg)) = envelope(body) {
        let class = class_of_code(code);
        let message = if ok_status {
            format!("error envelope in HTTP {status}: {msg}")
        } else {
            format!("HTTP {status}: {msg}")
        };
        return Err(error(class, response, now_ms, message).with_code(code.to_string()));
    }
    if ok_status {
        return Ok(());
    }
    let class = class_of_status(status);
    let text = plugin_kit::snippet(body);
    let message = if text.is_empty() {
        format!("HTTP {status} with an empty body")
    } else {
        format!("HTTP {status}: {text}")
    };
    Err(error(class, response, now_ms, message))
}

/// `(code, msg)` when the body is a JSON object carrying a non-zero numeric `code`.
fn envelope(body: &[u8]) -> Option<(i64, String)> {
    let first = body.iter().copied().find(|b| !b.is_ascii_whitespace())?;
    if first != b'{' {
        return None;
    }
    let env: ErrorEnvelope<'_> = serde_json::from_slice(body).ok()?;
    let code = env.code.filter(|c| *c != 0 && *c != 200)?;
    let msg = env.msg.into_owned();
    Some((code, msg))
}

fn error(
    class: ErrorClass,
    response: &HttpResponse<'_>,
    now_ms: i64,
    message: String,
) -> PluginError {
    let tag = response.tag();
    if class == ErrorClass::RATE_LIMITED {
        PluginError::rate_limited(
            tag,
            message.as_str(),
            retry_after_ms(response, &message, now_ms),
        )
    } else {
        PluginError::new(class, tag, message)
    }
}

/// How long Binance asked us to wait: the `Retry-After` header (seconds), else the
/// "IP banned until <unix ms>" timestamp in the message, relative to `now_ms`.
pub fn retry_after_ms(response: &HttpResponse<'_>, message: &str, now_ms: i64) -> Option<u64> {
    if let Some(secs) = response
        .header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Some(secs.saturating_mul(1000));
    }
    banned_until_ms(message)
        .map(|until| until.saturating_sub(now_ms))
        .filter(|wait| *wait > 0)
        .and_then(|wait| u64::try_from(wait).ok())
}

/// The timestamp in "... IP banned until 1663055331178. ..." (Binance -1003 message).
fn banned_until_ms(message: &str) -> Option<i64> {
    let (_, rest) = message.split_once("until")?;
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    plugin_kit::timestamp_ms(&digits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_api::{HttpRequest, KeyValueRef};

    fn response<'a>(
        request: &'a HttpRequest,
        status: u16,
        headers: &'a [KeyValueRef<'a>],
        body: &'a [u8],
    ) -> HttpResponse<'a> {
        HttpResponse {
            request,
            status,
            headers: headers.into(),
            body: body.into(),
            received_ts: 1,
        }
    }

    #[test]
    fn codes_map_to_classes() {
        let cases: &[(i64, ErrorClass)] = &[
            (-1003, ErrorClass::RATE_LIMITED),
            (-1000, ErrorClass::TRANSIENT),
            (-1001, ErrorClass::TRANSIENT),
            (-1006, ErrorClass::TRANSIENT),
            (-1007, ErrorClass::TRANSIENT),
            (-1008, ErrorClass::TRANSIENT),
            (-1100, ErrorClass::PERMANENT),
            (-1121, ErrorClass::PERMANENT),
            (-1130, ErrorClass::PERMANENT),
            (-4000, ErrorClass::PERMANENT),
            (-2015, ErrorClass::PERMANENT),
        ];
        for (code, class) in cases {
            assert_eq!(class_of_code(*code), *class, "code {code}");
        }
    }

    #[test]
    fn statuses_map_to_classes() {
        let cases: &[(u16, ErrorClass)] = &[
            (400, ErrorClass::PERMANENT),
            (404, ErrorClass::PERMANENT),
            (451, ErrorClass::PERMANENT),
            (403, ErrorClass::RATE_LIMITED),
            (418, ErrorClass::RATE_LIMITED),
            (429, ErrorClass::RATE_LIMITED),
            (408, ErrorClass::TRANSIENT),
            (502, ErrorClass::TRANSIENT),
        ];
        for (status, class) in cases {
            assert_eq!(class_of_status(*status), *class, "status {status}");
        }
    }

    #[test]
    fn envelope_in_any_status_is_an_error_with_its_code() {
        let req = HttpRequest::get("/fapi/v1/openInterest", "oi:FOO");
        let body = br#"{"code":-1121,"msg":"Invalid symbol."}"#;
        for status in [200, 400] {
            let e = check_response(&response(&req, status, &[], body), 0).unwrap_err();
            assert_eq!(e.class, ErrorClass::PERMANENT);
            assert_eq!(e.code.as_str(), "-1121");
            assert_eq!(e.request_tag.as_str(), "oi:FOO");
            assert!(e.message.contains("Invalid symbol."), "{}", e.message);
        }
    }

    #[test]
    fn plain_data_passes() {
        let req = HttpRequest::get("/fapi/v1/openInterest", "oi:BTCUSDT");
        let body = br#"{"openInterest":"1","symbol":"BTCUSDT","time":1}"#;
        assert!(check_response(&response(&req, 200, &[], body), 0).is_ok());
        assert!(check_response(&response(&req, 200, &[], b"[]"), 0).is_ok());
        // Garbage under 200 is not this module's call: parse reports it.
        assert!(check_response(&response(&req, 200, &[], b"<html>"), 0).is_ok());
    }

    #[test]
    fn non_json_error_status_is_classified_by_status() {
        let req = HttpRequest::get("/fapi/v1/ticker/24hr", "ticker24hr");
        let e = check_response(&response(&req, 400, &[], b"Bad Request"), 0).unwrap_err();
        assert_eq!(e.class, ErrorClass::PERMANENT);
        assert!(e.code.is_empty());
        assert_eq!(e.request_tag.as_str(), "ticker24hr");
        let e = check_response(&response(&req, 400, &[], b""), 0).unwrap_err();
        assert!(e.message.contains("empty body"), "{}", e.message);
    }

    #[test]
    fn rate_limit_carries_retry_after() {
        let req = HttpRequest::get("/fapi/v1/ticker/24hr", "ticker24hr");
        let headers = [KeyValueRef {
            key: "retry-after".into(),
            value: "7".into(),
        }];
        let body = br#"{"code":-1003,"msg":"Too many requests."}"#;
        let e = check_response(&response(&req, 429, &headers, body), 0).unwrap_err();
        assert_eq!(e.class, ErrorClass::RATE_LIMITED);
        assert_eq!(e.retry_after_ms.into_option(), Some(7_000));

        let body = br#"{"code":-1003,"msg":"Way too much request weight used; IP banned until 1663055331178. Please use the websocket for live updates to avoid bans."}"#;
        let e = check_response(&response(&req, 418, &[], body), 1_663_055_330_000).unwrap_err();
        assert_eq!(e.retry_after_ms.into_option(), Some(1_178));
        // A ban already over gives no hint.
        let e = check_response(&response(&req, 418, &[], body), 1_663_055_340_000).unwrap_err();
        assert_eq!(e.retry_after_ms.into_option(), None);
    }
}

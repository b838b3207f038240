//! Binance's error envelope and codes: a success body is the payload itself, and an error is
//! `{"code":-1121,"msg":"..."}` under any status; described for plugin-kit's
//! [`envelope`](plugin_kit::envelope) (`check`), which classifies it, or the status when there
//! is no envelope, naming the request's tag.
//!
//! Owns: [`BinanceEnvelope`] (where the envelope's fields sit, the code table, the WAF status,
//! the retry-after and "banned until" hints).
//! Must not: parse data rows or judge whether a 2xx body has the right shape (that is `parse`'s
//! job, with a `PARSE` error); decide anything plugin-kit decides for every exchange.
//!
//! Codes (Binance USDⓈ-M "Error Codes"): -1003 TOO_MANY_REQUESTS → rate-limited (waiting
//! `Retry-After`, else the "IP banned until <ms>" of its message); -1000 UNKNOWN, -1001
//! DISCONNECTED, -1006 UNEXPECTED_RESP, -1007 TIMEOUT, -1008 SERVER_BUSY / request throttled →
//! transient; every other code (-11xx bad parameters, -1121 invalid symbol, -2xxx, -4xxx, ...)
//! → permanent; 0 and 200 are not errors. Statuses ("HTTP Return Codes"): 429 rate limit, 418
//! IP ban, 403 WAF limit violated → rate-limited; 408 and 5xx → transient; other 4xx permanent.

use plugin_api::ErrorClass;
use plugin_kit::{
    envelope::{CodeTable, Envelope, StatusRule},
    wait::WaitHint,
};

/// Binance's error envelope: `{"code":-1121,"msg":"Invalid symbol."}`; success bodies are bare.
pub struct BinanceEnvelope;

impl Envelope for BinanceEnvelope {
    const CODE_FIELD: &'static str = "code";
    const MESSAGE_FIELD: &'static str = "msg";
    const PAYLOAD_FIELD: Option<&'static str> = None;
    const CODES: CodeTable = CodeTable {
        success: &["0", "200"],
        rate_limited: &["-1003"],
        transient: &["-1000", "-1001", "-1006", "-1007", "-1008"],
    };
    const STATUS_RULES: &'static [StatusRule] = &[StatusRule {
        status: 403,
        class: ErrorClass::RATE_LIMITED,
        wait_ms: None,
        note: "WAF limit violated",
    }];
    const WAIT_HINTS: &'static [WaitHint] = &[WaitHint::RetryAfter, WaitHint::BannedUntilInMessage];
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_api::{HttpRequest, HttpResponse, KeyValueRef, PluginError};
    use plugin_kit::{
        envelope::{check, class_of_code},
        testing::response,
    };

    fn check_response(response: &HttpResponse<'_>, now_ms: i64) -> Result<(), PluginError> {
        check::<BinanceEnvelope>(response, now_ms)
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
            let code = code.to_string();
            assert_eq!(
                class_of_code::<BinanceEnvelope>(&code),
                Some(*class),
                "code {code}"
            );
        }
        assert_eq!(class_of_code::<BinanceEnvelope>("0"), None);
        assert_eq!(class_of_code::<BinanceEnvelope>("200"), None);
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
        let req = HttpRequest::get("/fapi/v1/ticker/24hr", "ticker24hr");
        for (status, class) in cases {
            let e = check_response(&response(&req, *status, &[], b"<html></html>"), 0).unwrap_err();
            assert_eq!(e.class, *class, "status {status}");
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

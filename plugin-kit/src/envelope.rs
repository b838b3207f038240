//! Classification of failed responses: an HTTP status without an exchange envelope, and the
//! text an error message shows for it.
//!
//! Owns: the status → [`ErrorClass`] defaults every exchange shares.
//! Must not: know one exchange's codes (the adapter supplies them).

use plugin_api::ErrorClass;

use crate::json::snippet;

/// The class of a non-2xx status whose body carries no exchange error envelope: 418/429
/// rate-limited, 408 and 5xx transient, anything else permanent. (The host classifies
/// 418/429/5xx itself before `parse`; this keeps a plugin's answer right if one arrives.)
pub fn class_of_status(status: u16) -> ErrorClass {
    match status {
        418 | 429 => ErrorClass::RATE_LIMITED,
        408 | 500..=599 => ErrorClass::TRANSIENT,
        _ => ErrorClass::PERMANENT,
    }
}

/// `HTTP 503` or `HTTP 503: <first characters of the body>`, for error messages.
pub fn http_error_text(status: u16, body: &[u8]) -> String {
    let detail = snippet(body);
    if detail.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_classify() {
        let cases = [
            (429, ErrorClass::RATE_LIMITED),
            (418, ErrorClass::RATE_LIMITED),
            (408, ErrorClass::TRANSIENT),
            (503, ErrorClass::TRANSIENT),
            (400, ErrorClass::PERMANENT),
            (404, ErrorClass::PERMANENT),
        ];
        for (status, class) in cases {
            assert_eq!(class_of_status(status), class, "{status}");
        }
        assert_eq!(http_error_text(502, b""), "HTTP 502");
        assert_eq!(
            http_error_text(400, b" bad \n request "),
            "HTTP 400: bad   request"
        );
    }
}

//! BingX's error envelope and codes: `{"code":0,"msg":"","data":…}` on success, any other
//! `code` (with `msg`) an error, usually under HTTP 200 (exchange-notes §8.4); described for
//! plugin-kit's [`envelope`](plugin_kit::envelope), which turns statuses, codes and garbage
//! bodies into classified errors naming the request's tag.
//!
//! Owns: [`BingxEnvelope`] (where the envelope's fields sit, the code table).
//! Must not: map fields or build records; decide anything plugin-kit decides for every exchange.
//!
//! Classes (exchange-notes §8.4, ccxt bingx `exceptions`):
//! - rate-limited: `100410` "system busy / frequency limit" — the notes call it transient; it is
//!   classified rate-limited so that the host also slows its budget down (both readings retry),
//!   and HTTP 429 (the host's default);
//! - transient: `100500` "The current system is busy, please try again later" (ccxt
//!   `OperationFailed`), HTTP 408/5xx;
//! - permanent: everything else (`80014` / `109400` invalid parameters such as an unknown
//!   symbol, `100001` / `100413` authentication, `100421` pair restricted from the API), other
//!   4xx;
//! - parse: a 2xx whose body is empty, HTML, not JSON, truncated, without `code`, or whose
//!   `data` is not the documented row(s).
//!
//! BingX's official rate-limit error codes and per-IP limits are UNCONFIRMED (not in a stored
//! source); the table follows the notes and ccxt.

use plugin_kit::envelope::{CodeTable, Envelope};

/// "System busy" / request frequency limit.
pub const CODE_RATE_LIMITED: &str = "100410";
/// "The current system is busy, please try again later".
pub const CODE_BUSY: &str = "100500";

/// The BingX envelope: `{"code":0,"msg":"","data":…}`; some answers add `timestamp` (ms).
pub struct BingxEnvelope;

impl Envelope for BingxEnvelope {
    const CODE_FIELD: &'static str = "code";
    const MESSAGE_FIELD: &'static str = "msg";
    const PAYLOAD_FIELD: Option<&'static str> = Some("data");
    const TIME_FIELD: Option<&'static str> = Some("timestamp");
    const CODES: CodeTable = CodeTable {
        success: &["0"],
        rate_limited: &[CODE_RATE_LIMITED],
        transient: &[CODE_BUSY],
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_api::ErrorClass;
    use plugin_kit::envelope::class_of_code;

    #[test]
    fn codes_map_to_classes() {
        let cases: &[(&str, Option<ErrorClass>)] = &[
            ("0", None),
            ("100410", Some(ErrorClass::RATE_LIMITED)),
            ("100500", Some(ErrorClass::TRANSIENT)),
            ("80014", Some(ErrorClass::PERMANENT)),
            ("109400", Some(ErrorClass::PERMANENT)),
            ("100001", Some(ErrorClass::PERMANENT)),
            ("100421", Some(ErrorClass::PERMANENT)),
        ];
        for (code, class) in cases {
            assert_eq!(class_of_code::<BingxEnvelope>(code), *class, "code {code}");
        }
    }
}

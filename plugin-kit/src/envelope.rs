//! One way to tell a good response from a failed one, for every exchange: HTTP status, the
//! exchange's in-body code, and bodies that are empty, HTML, truncated or of the wrong shape
//! all end as one classified [`PluginError`] naming the request's tag, or as the payload.
//!
//! An exchange supplies only an [`Envelope`]: where its code, message, payload (and server
//! time) sit, its [`CodeTable`] (which codes are success, rate-limited, transient; every other
//! code is permanent), the statuses it means something special by ([`StatusRule`]), and where
//! it says how long to wait ([`WaitHint`]).
//!
//! Owns: the algorithm ([`open`] for enveloped payloads, [`check`] for exchanges whose success
//! body is the payload itself), the status defaults, and the texts of its errors.
//! Must not: know one exchange's codes or field names, map fields, or let a malformed body
//! through as an empty success; never panic on any input.

use std::{borrow::Cow, fmt, marker::PhantomData};

use plugin_api::{ErrorClass, HttpResponse, PluginError};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::{
    json::{check_json_body, json_from_body, snippet},
    wait::{first_wait_ms, WaitHint},
};

/// What an exchange's codes mean. Codes are compared as text (`"0"`, `"-1121"`, `"10006"`)
/// whether the exchange writes them as strings or numbers.
#[derive(Debug, Clone, Copy)]
pub struct CodeTable {
    /// Codes of a successful response (`"0"`).
    pub success: &'static [&'static str],
    /// "Slow down": the error is rate-limited, with a wait when the exchange gives one.
    pub rate_limited: &'static [&'static str],
    /// Worth retrying with backoff (busy, timeout, restarting).
    pub transient: &'static [&'static str],
}

impl CodeTable {
    /// The class of `code`: `None` for a success code, permanent for any code not listed.
    pub fn class_of(&self, code: &str) -> Option<ErrorClass> {
        if self.success.contains(&code) {
            None
        } else if self.rate_limited.contains(&code) {
            Some(ErrorClass::RATE_LIMITED)
        } else if self.transient.contains(&code) {
            Some(ErrorClass::TRANSIENT)
        } else {
            Some(ErrorClass::PERMANENT)
        }
    }
}

/// A non-2xx status an exchange means something special by, when its body is no envelope.
#[derive(Debug, Clone, Copy)]
pub struct StatusRule {
    pub status: u16,
    pub class: ErrorClass,
    /// A fixed wait (a ban of known length); `None`: read the envelope's wait hints.
    pub wait_ms: Option<u64>,
    /// Appended to the message in parentheses, saying what the status means here.
    pub note: &'static str,
}

/// Where an exchange's response envelope keeps what [`open`] and [`check`] read, and what its
/// codes and statuses mean. Implemented by a unit type in each adapter's `errors.rs`.
pub trait Envelope {
    /// The field holding the exchange's code (`"code"`, `"retCode"`); also its name in messages.
    const CODE_FIELD: &'static str;
    /// The field holding the exchange's message (`"msg"`, `"retMsg"`).
    const MESSAGE_FIELD: &'static str;
    /// The field holding a success's payload (`"data"`, `"result"`); `None` when a success body
    /// is the payload itself and only error bodies are envelopes (Binance): use [`check`].
    const PAYLOAD_FIELD: Option<&'static str>;
    /// The field holding the server's time of the response (Unix ms), if the envelope has one.
    const TIME_FIELD: Option<&'static str> = None;
    /// What the codes mean.
    const CODES: CodeTable;
    /// Statuses classified otherwise than [`class_of_status`] does.
    const STATUS_RULES: &'static [StatusRule] = &[];
    /// Where a rate-limited response says how long to wait, first match wins.
    const WAIT_HINTS: &'static [WaitHint] = &[WaitHint::RetryAfter];
}

/// A successful response's payload and the server time its envelope carried.
#[derive(Debug)]
pub struct Opened<T> {
    pub payload: T,
    pub time_ms: Option<i64>,
}

/// Checks status, body and envelope of one response and returns its payload, or the classified
/// error. The body is decoded once, borrowing from it.
pub fn open<'a, E: Envelope, T: Deserialize<'a>>(
    response: &HttpResponse<'a>,
    now_ms: i64,
) -> Result<Opened<T>, PluginError> {
    let tag = response.tag();
    let body = response.body();
    if !is_success_status(response.status) {
        return Err(failed_status::<E>(response, now_ms));
    }
    check_json_body(body, tag)?;
    let payload_field = E::PAYLOAD_FIELD.unwrap_or("payload");
    match json_from_body::<Wire<'a, E, T>>(body) {
        Ok(wire) => match wire.code {
            Some(code) => match E::CODES.class_of(&code) {
                None => match wire.payload {
                    Some(payload) => Ok(Opened {
                        payload,
                        time_ms: wire.time_ms,
                    }),
                    None => Err(PluginError::parse(
                        tag,
                        format!(
                            "{} {code} without `{payload_field}`: {}",
                            E::CODE_FIELD,
                            snippet(body)
                        ),
                    )),
                },
                Some(class) => Err(code_error::<E>(
                    class,
                    &code,
                    &wire.message,
                    response,
                    now_ms,
                )),
            },
            None => Err(PluginError::parse(
                tag,
                format!("no `{}` in the body: {}", E::CODE_FIELD, snippet(body)),
            )),
        },
        // An error envelope may carry a payload that does not fit `T` (`"result":{}`): look at
        // the head alone before calling the body malformed.
        Err(e) => Err(head_error::<E>(response, now_ms).unwrap_or_else(|| {
            PluginError::parse(
                tag,
                format!("unexpected response body ({e}): {}", snippet(body)),
            )
        })),
    }
}

/// For an exchange whose success body is the payload itself: `Err` for an error envelope (under
/// any status) or a non-2xx status, `Ok` otherwise. `Ok` says nothing about the body's shape:
/// decoding it, and a `PARSE` error when it does not fit, is the caller's.
pub fn check<E: Envelope>(response: &HttpResponse<'_>, now_ms: i64) -> Result<(), PluginError> {
    if let Some(error) = head_error::<E>(response, now_ms) {
        return Err(error);
    }
    if is_success_status(response.status) {
        Ok(())
    } else {
        Err(status_error::<E>(response, now_ms))
    }
}

/// The class of `code` under `E`'s table (`PERMANENT` for unknown codes; success codes are
/// not errors and have no class: `None`).
pub fn class_of_code<E: Envelope>(code: &str) -> Option<ErrorClass> {
    E::CODES.class_of(code)
}

fn is_success_status(status: u16) -> bool {
    (200..300).contains(&status)
}

/// A non-2xx response: its envelope's error if it has one, else its status's.
fn failed_status<E: Envelope>(response: &HttpResponse<'_>, now_ms: i64) -> PluginError {
    head_error::<E>(response, now_ms).unwrap_or_else(|| status_error::<E>(response, now_ms))
}

/// The error an envelope with a non-success code stands for, whatever its payload holds;
/// `None` when the body is no such envelope.
fn head_error<E: Envelope>(response: &HttpResponse<'_>, now_ms: i64) -> Option<PluginError> {
    let body = response.body();
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let head = json_from_body::<Wire<'_, E, IgnoredAny>>(body).ok()?;
    let code = head.code?;
    let class = E::CODES.class_of(&code)?;
    Some(code_error::<E>(
        class,
        &code,
        &head.message,
        response,
        now_ms,
    ))
}

/// A classified error for a non-success `code`, with the code in `code`.
fn code_error<E: Envelope>(
    class: ErrorClass,
    code: &str,
    message: &str,
    response: &HttpResponse<'_>,
    now_ms: i64,
) -> PluginError {
    let field = E::CODE_FIELD;
    let text = if is_success_status(response.status) {
        format!("{field} {code}: {message}")
    } else {
        format!("HTTP {}, {field} {code}: {message}", response.status)
    };
    classified::<E>(class, response, text, None, message, now_ms).with_code(code)
}

/// A classified error for a non-2xx response without an error envelope.
fn status_error<E: Envelope>(response: &HttpResponse<'_>, now_ms: i64) -> PluginError {
    let text = http_error_text(response.status, response.body());
    match E::STATUS_RULES.iter().find(|r| r.status == response.status) {
        Some(rule) => {
            let text = format!("{text} ({})", rule.note);
            classified::<E>(rule.class, response, text, rule.wait_ms, "", now_ms)
        }
        None => classified::<E>(
            class_of_status(response.status),
            response,
            text,
            None,
            "",
            now_ms,
        ),
    }
}

fn classified<E: Envelope>(
    class: ErrorClass,
    response: &HttpResponse<'_>,
    text: String,
    fixed_wait_ms: Option<u64>,
    exchange_message: &str,
    now_ms: i64,
) -> PluginError {
    let tag = response.tag();
    if class == ErrorClass::RATE_LIMITED {
        let wait = fixed_wait_ms
            .or_else(|| first_wait_ms(E::WAIT_HINTS, response, exchange_message, now_ms));
        PluginError::rate_limited(tag, text, wait)
    } else {
        PluginError::new(class, tag, text)
    }
}

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

/// `HTTP 503 with an empty body` or `HTTP 503: <first characters of the body>`, for error
/// messages.
pub fn http_error_text(status: u16, body: &[u8]) -> String {
    let detail = snippet(body);
    if detail.is_empty() {
        format!("HTTP {status} with an empty body")
    } else {
        format!("HTTP {status}: {detail}")
    }
}

/// An envelope as `E` describes it: its code, message, payload (`T`; `IgnoredAny` to read the
/// head alone) and server time; every other field skipped.
struct Wire<'a, E, T> {
    code: Option<Cow<'a, str>>,
    message: Cow<'a, str>,
    payload: Option<T>,
    time_ms: Option<i64>,
    envelope: PhantomData<E>,
}

impl<'de, E: Envelope, T: Deserialize<'de>> Deserialize<'de> for Wire<'de, E, T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(WireVisitor::<E, T>(PhantomData))
    }
}

struct WireVisitor<E, T>(PhantomData<(E, T)>);

impl<'de, E: Envelope, T: Deserialize<'de>> Visitor<'de> for WireVisitor<E, T> {
    type Value = Wire<'de, E, T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object with `{}`", E::CODE_FIELD)
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut wire = Wire {
            code: None,
            message: Cow::Borrowed(""),
            payload: None,
            time_ms: None,
            envelope: PhantomData,
        };
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            let key = key.as_ref();
            if key == E::CODE_FIELD {
                // Surrounding blanks are no part of a code (`" 0"` is success).
                wire.code = map
                    .next_value::<Option<Text<'de>>>()?
                    .map(|Text(code)| match code {
                        Cow::Borrowed(code) => Cow::Borrowed(code.trim()),
                        Cow::Owned(code) => Cow::Owned(code.trim().to_owned()),
                    });
            } else if key == E::MESSAGE_FIELD {
                wire.message = map
                    .next_value::<Option<Text<'de>>>()?
                    .map_or(Cow::Borrowed(""), |t| t.0);
            } else if Some(key) == E::PAYLOAD_FIELD {
                wire.payload = map.next_value::<Option<T>>()?;
            } else if Some(key) == E::TIME_FIELD {
                wire.time_ms = map.next_value::<Timestamp>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(wire)
    }
}

/// A key, a message or an exchange code: a JSON string (borrowed from the body when it has no
/// escapes) or an integer (codes such as `10006`, `-1121`), as text.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an integer")
            }
            fn visit_borrowed_str<Err: de::Error>(self, v: &'de str) -> Result<Self::Value, Err> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<Err: de::Error>(self, v: &str) -> Result<Self::Value, Err> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_i64<Err: de::Error>(self, v: i64) -> Result<Self::Value, Err> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_u64<Err: de::Error>(self, v: u64) -> Result<Self::Value, Err> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

/// A server time as [`crate::de::opt_ts`] reads it.
struct Timestamp(Option<i64>);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::numbers::de::opt_ts(deserializer).map(Timestamp)
    }
}

#[cfg(test)]
mod tests {
    use plugin_api::{HttpRequest, KeyValueRef};

    use super::*;
    use crate::{testing::response, wait::MAX_WAIT_MS};

    /// `{"code":"0","msg":"","data":[...]}`, codes as strings (OKX v5).
    struct CodeMsgData;
    impl Envelope for CodeMsgData {
        const CODE_FIELD: &'static str = "code";
        const MESSAGE_FIELD: &'static str = "msg";
        const PAYLOAD_FIELD: Option<&'static str> = Some("data");
        const CODES: CodeTable = CodeTable {
            success: &["0"],
            rate_limited: &["50011"],
            transient: &["50001"],
        };
    }

    /// `{"errorCode":0,"errorMessage":"OK","result":{...},"serverTime":...}`: other names,
    /// integer codes, a server time, an IP-ban status and a reset header (Bybit's kind).
    struct RetCodeResult;
    impl Envelope for RetCodeResult {
        const CODE_FIELD: &'static str = "errorCode";
        const MESSAGE_FIELD: &'static str = "errorMessage";
        const PAYLOAD_FIELD: Option<&'static str> = Some("result");
        const TIME_FIELD: Option<&'static str> = Some("serverTime");
        const CODES: CodeTable = CodeTable {
            success: &["0"],
            rate_limited: &["10006"],
            transient: &["10016"],
        };
        const STATUS_RULES: &'static [StatusRule] = &[StatusRule {
            status: 403,
            class: ErrorClass::RATE_LIMITED,
            wait_ms: Some(MAX_WAIT_MS),
            note: "IP banned",
        }];
        const WAIT_HINTS: &'static [WaitHint] = &[WaitHint::ResetTimestampHeader("x-reset")];
    }

    /// A bare payload; `{"error":-1121,"reason":"..."}` only on errors (Binance's kind).
    struct BarePayload;
    impl Envelope for BarePayload {
        const CODE_FIELD: &'static str = "error";
        const MESSAGE_FIELD: &'static str = "reason";
        const PAYLOAD_FIELD: Option<&'static str> = None;
        const CODES: CodeTable = CodeTable {
            success: &["0", "200"],
            rate_limited: &["-1003"],
            transient: &["-1001"],
        };
        const STATUS_RULES: &'static [StatusRule] = &[StatusRule {
            status: 403,
            class: ErrorClass::RATE_LIMITED,
            wait_ms: None,
            note: "WAF limit",
        }];
        const WAIT_HINTS: &'static [WaitHint] =
            &[WaitHint::RetryAfter, WaitHint::BannedUntilInMessage];
    }

    const NOW_MS: i64 = 1_700_000_000_000;

    /// What a case must give: the payload's length, or an error's class, code and wait.
    #[derive(Debug, PartialEq)]
    enum Want {
        Rows(usize),
        Error(ErrorClass, &'static str, Option<u64>),
    }
    use Want::{Error, Rows};

    fn outcome<T>(result: Result<Vec<T>, PluginError>) -> Want {
        match result {
            Ok(rows) => Rows(rows.len()),
            Err(e) => {
                assert_eq!(e.request_tag.as_str(), "tag", "{e}");
                assert!(!e.message.is_empty());
                let code: &'static str = Box::leak(e.code.to_string().into_boxed_str());
                Error(e.class, code, e.retry_after_ms.into_option())
            }
        }
    }

    const NESTED: &str = "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[";

    #[test]
    fn enveloped_payloads_and_failures_classify() {
        use ErrorClass as C;
        let retry = [KeyValueRef {
            key: "Retry-After".into(),
            value: "2".into(),
        }];
        let cases: &[(u16, &[KeyValueRef<'_>], &str, Want)] = &[
            (200, &[], r#"{"code":"0","msg":"","data":[1,2,3]}"#, Rows(3)),
            (
                200,
                &[],
                r#"{"data":[1],"code":0,"extra":{"a":[1,{"b":2}]}}"#,
                Rows(1),
            ),
            (200, &[], r#"{"code":"0","msg":"","data":[]}"#, Rows(0)),
            (200, &[], r#"{"code":" 0 ","msg":"","data":[4]}"#, Rows(1)),
            (
                200,
                &[],
                r#"{"code":null,"data":[4]}"#,
                Error(C::PARSE, "", None),
            ),
            (200, &[], r#"{"code":"0","msg":"x\"y","data":[1]}"#, Rows(1)),
            (
                200,
                &[],
                r#"{"code":"51001","msg":"Instrument ID does not exist","data":[]}"#,
                Error(C::PERMANENT, "51001", None),
            ),
            (
                200,
                &retry,
                r#"{"code":"50011","msg":"Rate limit reached","data":[]}"#,
                Error(C::RATE_LIMITED, "50011", Some(2_000)),
            ),
            (
                200,
                &[],
                r#"{"code":"50011","msg":"Rate limit reached","data":{}}"#,
                Error(C::RATE_LIMITED, "50011", None),
            ),
            (
                200,
                &[],
                r#"{"code":50001,"msg":"busy","data":{"not":"rows"}}"#,
                Error(C::TRANSIENT, "50001", None),
            ),
            (
                400,
                &[],
                r#"{"code":"51000","msg":"Parameter instId error","data":[]}"#,
                Error(C::PERMANENT, "51000", None),
            ),
            (
                429,
                &retry,
                r#"{"code":"0"}"#,
                Error(C::RATE_LIMITED, "", Some(2_000)),
            ),
            (503, &[], "", Error(C::TRANSIENT, "", None)),
            (
                404,
                &[],
                "<html>Not Found</html>",
                Error(C::PERMANENT, "", None),
            ),
            (200, &[], "", Error(C::PARSE, "", None)),
            (200, &[], "  \n ", Error(C::PARSE, "", None)),
            (
                200,
                &[],
                "<html><body>502 Bad Gateway</body></html>",
                Error(C::PARSE, "", None),
            ),
            (200, &[], "Service Unavailable", Error(C::PARSE, "", None)),
            (
                200,
                &[],
                r#"{"code":"0","msg":"","data":[1,2"#,
                Error(C::PARSE, "", None),
            ),
            (
                200,
                &[],
                r#"{"code":"0","msg":"","data":{"a":1}}"#,
                Error(C::PARSE, "", None),
            ),
            (
                200,
                &[],
                r#"{"code":"0","msg":""}"#,
                Error(C::PARSE, "", None),
            ),
            (
                200,
                &[],
                r#"{"code":"0","data":null}"#,
                Error(C::PARSE, "", None),
            ),
            (
                200,
                &[],
                r#"{"msg":"","data":[1]}"#,
                Error(C::PARSE, "", None),
            ),
            (
                200,
                &[],
                r#"{"code":1.5,"data":[1]}"#,
                Error(C::PARSE, "", None),
            ),
            (
                200,
                &[],
                r#"{"code":"0","data":[1e999]}"#,
                Error(C::PARSE, "", None),
            ),
            (200, &[], "[1,2,3]", Error(C::PARSE, "", None)),
            (200, &[], NESTED, Error(C::PARSE, "", None)),
        ];
        let request = HttpRequest::get("/x", "tag");
        for (status, headers, body, want) in cases {
            let r = response(&request, *status, headers, body.as_bytes());
            let got = outcome(open::<CodeMsgData, Vec<u32>>(&r, NOW_MS).map(|o| o.payload));
            assert_eq!(got, *want, "HTTP {status} {body}");
        }
    }

    #[test]
    fn envelope_fields_are_the_exchanges() {
        use ErrorClass as C;
        let reset = [KeyValueRef {
            key: "x-reset".into(),
            value: "1700000004000".into(),
        }];
        let cases: &[(u16, &[KeyValueRef<'_>], &str, Want)] = &[
            (
                200,
                &[],
                r#"{"errorCode":0,"errorMessage":"OK","result":[7],"serverTime":1700000000001}"#,
                Rows(1),
            ),
            (
                200,
                &[],
                r#"{"code":"0","data":[1]}"#,
                Error(C::PARSE, "", None),
            ),
            (
                200,
                &[],
                r#"{"errorCode":10001,"errorMessage":"params error","result":{}}"#,
                Error(C::PERMANENT, "10001", None),
            ),
            (
                200,
                &reset,
                r#"{"errorCode":10006,"errorMessage":"Too many visits","result":{}}"#,
                Error(C::RATE_LIMITED, "10006", Some(4_000)),
            ),
            (
                200,
                &[],
                r#"{"errorCode":10016,"errorMessage":"restarting","result":null}"#,
                Error(C::TRANSIENT, "10016", None),
            ),
            (403, &[], "", Error(C::RATE_LIMITED, "", Some(MAX_WAIT_MS))),
            (
                403,
                &[],
                r#"{"errorCode":10001,"errorMessage":"no"}"#,
                Error(C::PERMANENT, "10001", None),
            ),
            (429, &reset, "", Error(C::RATE_LIMITED, "", Some(4_000))),
        ];
        let request = HttpRequest::get("/x", "tag");
        for (status, headers, body, want) in cases {
            let r = response(&request, *status, headers, body.as_bytes());
            let got = outcome(open::<RetCodeResult, Vec<u32>>(&r, NOW_MS).map(|o| o.payload));
            assert_eq!(got, *want, "HTTP {status} {body}");
        }
        let body = br#"{"errorCode":0,"result":[7],"serverTime":"1700000000001"}"#;
        let opened =
            open::<RetCodeResult, Vec<u32>>(&response(&request, 200, &[], body), NOW_MS).unwrap();
        assert_eq!(opened.time_ms, Some(1_700_000_000_001));
        let e = open::<RetCodeResult, Vec<u32>>(&response(&request, 403, &[], b""), NOW_MS)
            .unwrap_err();
        assert!(
            e.message.contains("HTTP 403") && e.message.contains("IP banned"),
            "{e}"
        );
        let body = br#"{"errorCode":10001,"errorMessage":"Illegal category"}"#;
        let e = open::<RetCodeResult, Vec<u32>>(&response(&request, 400, &[], body), NOW_MS)
            .unwrap_err();
        assert_eq!(
            e.message.as_str(),
            "HTTP 400, errorCode 10001: Illegal category"
        );
    }

    #[test]
    fn bare_payloads_are_checked_for_error_envelopes() {
        use ErrorClass as C;
        let banned = br#"{"error":-1003,"reason":"Way too much request weight used; IP banned until 1700000001178. Please use the websocket for live updates to avoid bans."}"#;
        let retry = [KeyValueRef {
            key: "retry-after".into(),
            value: "7".into(),
        }];
        type Case<'c> = (u16, &'c [KeyValueRef<'c>], &'c [u8], Option<Want>);
        let cases: &[Case<'_>] = &[
            (
                200,
                &[],
                br#"{"openInterest":"1","symbol":"BTCUSDT","time":1}"#,
                None,
            ),
            (200, &[], b"[]", None),
            (200, &[], b"<html>", None),
            (200, &[], b"", None),
            (200, &[], br#"{"error":200,"reason":"success"}"#, None),
            (
                200,
                &[],
                br#"{"error":-1121,"reason":"Invalid symbol."}"#,
                Some(Error(C::PERMANENT, "-1121", None)),
            ),
            (
                400,
                &[],
                br#"{"error":-1121,"reason":"Invalid symbol."}"#,
                Some(Error(C::PERMANENT, "-1121", None)),
            ),
            (
                503,
                &[],
                br#"{"error":-1001,"reason":"Internal error; unable to process your request."}"#,
                Some(Error(C::TRANSIENT, "-1001", None)),
            ),
            (
                429,
                &retry,
                br#"{"error":-1003,"reason":"Too many requests."}"#,
                Some(Error(C::RATE_LIMITED, "-1003", Some(7_000))),
            ),
            (
                418,
                &[],
                banned,
                Some(Error(C::RATE_LIMITED, "-1003", Some(1_178))),
            ),
            (
                418,
                &retry,
                banned,
                Some(Error(C::RATE_LIMITED, "-1003", Some(7_000))),
            ),
            (
                403,
                &[],
                b"<html>403 Forbidden</html>",
                Some(Error(C::RATE_LIMITED, "", None)),
            ),
            (
                400,
                &[],
                b"Bad Request",
                Some(Error(C::PERMANENT, "", None)),
            ),
            (400, &[], b"", Some(Error(C::PERMANENT, "", None))),
            (
                400,
                &[],
                br#"{"error":0,"reason":""}"#,
                Some(Error(C::PERMANENT, "", None)),
            ),
            (
                502,
                &[],
                b"{\"error\":",
                Some(Error(C::TRANSIENT, "", None)),
            ),
        ];
        let request = HttpRequest::get("/x", "tag");
        for (status, headers, body, want) in cases {
            let r = response(&request, *status, headers, body);
            let got = check::<BarePayload>(&r, NOW_MS)
                .err()
                .map(|e| outcome::<()>(Err(e)));
            assert_eq!(
                got,
                *want,
                "HTTP {status} {}",
                String::from_utf8_lossy(body)
            );
        }
        let e = check::<BarePayload>(&response(&request, 400, &[], b""), NOW_MS).unwrap_err();
        assert!(e.message.contains("empty body"), "{e}");
        assert_eq!(class_of_code::<BarePayload>("-1003"), Some(C::RATE_LIMITED));
        assert_eq!(class_of_code::<BarePayload>("200"), None);
        assert_eq!(class_of_code::<BarePayload>("-4000"), Some(C::PERMANENT));
    }

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
        assert_eq!(http_error_text(502, b""), "HTTP 502 with an empty body");
        assert_eq!(
            http_error_text(400, b" bad \n request "),
            "HTTP 400: bad   request"
        );
    }
}

//! Response bodies as JSON: a first look before serde sees them (empty, HTML, not JSON), the
//! decoding itself (through the fast reader, same result as serde_json), and a printable
//! excerpt for error messages.
//!
//! Owns: the body checks every adapter makes and [`json_from_body`], the one way adapters decode.
//! Must not: classify exchange error envelopes (`envelope` does) or panic on any input.

use plugin_api::PluginError;

/// Checks a body before JSON parsing and returns a classified error for the common failures:
/// empty, an HTML error page, or not JSON at all. `tag` names the request.
pub fn check_json_body(body: &[u8], tag: &str) -> Result<(), PluginError> {
    let first = body.iter().copied().find(|b| !b.is_ascii_whitespace());
    match first {
        None => Err(PluginError::parse(tag, "empty response body")),
        Some(b'{') | Some(b'[') => Ok(()),
        Some(b'<') => Err(PluginError::parse(
            tag,
            format!("HTML instead of JSON: {}", snippet(body)),
        )),
        Some(_) => Err(PluginError::parse(
            tag,
            format!("not JSON: {}", snippet(body)),
        )),
    }
}

/// The first 120 characters of a body, for error messages.
pub fn snippet(body: &[u8]) -> String {
    const MAX: usize = 120;
    let text = String::from_utf8_lossy(body.get(..MAX).unwrap_or(body));
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if body.len() > MAX {
        format!("{}…", one_line.trim())
    } else {
        one_line.trim().to_owned()
    }
}

/// Decodes a response body as JSON, borrowing strings from it: the same value, or the same
/// `serde_json::Error`, as `serde_json::from_slice` gives, at a fraction of the cost.
///
/// The body's UTF-8 is checked once, up front (a fast whole-buffer scan). A fast reader
/// (`fast_json`) then decodes the common case: it skips the fields a struct does not declare
/// without handing them to the struct (wire types must ignore unknown fields, which every
/// plugin's do: exchanges add fields without notice; a `deny_unknown_fields` type would not see
/// them here). When it meets anything it does not decide itself (an escape sequence, an
/// oversized integer, any error), serde_json decodes the body again and its result is returned.
pub fn json_from_body<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(body) {
        Ok(text) => match crate::fast_json::decode(text) {
            Some(value) => Ok(value),
            None => serde_json::from_str(text),
        },
        Err(e) => Err(<serde_json::Error as serde::de::Error>::custom(
            format_args!("body is not UTF-8: {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_checks_classify() {
        assert!(check_json_body(b"  {\"a\":1}", "t").is_ok());
        assert!(check_json_body(b"[]", "t").is_ok());
        let e = check_json_body(b"", "t").unwrap_err();
        assert_eq!(e.class, plugin_api::ErrorClass::PARSE);
        let e =
            check_json_body(b"<html><body>502 Bad Gateway</body></html>", "tickers").unwrap_err();
        assert!(e.message.contains("HTML"), "{}", e.message);
        assert_eq!(e.request_tag.as_str(), "tickers");
        assert!(check_json_body(b"Service Unavailable", "t").is_err());
    }

    #[test]
    fn bodies_decode_like_from_slice() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Row<'a> {
            s: &'a str,
        }
        let row: Row<'_> = json_from_body(br#"{"s":"BTC"}"#).unwrap();
        assert_eq!(row, Row { s: "BTC" });
        assert!(json_from_body::<Row<'_>>(b"{\"s\":\"\xff\"}").is_err());
        let e = json_from_body::<Row<'_>>(br#"{"s":"BT"#).unwrap_err();
        assert!(e.is_eof());
    }
}

//! Bounded text for messages: quoting an offending value by a short prefix, and cutting any
//! text to a byte budget with a visible mark. Owns the shape of both marks (`"abc…" (N bytes)`
//! and `… [truncated N bytes]`), so redaction can recognise a cut and logs can reuse the cut.
//! Must not know about files, keys or secrets: callers scrub secrets and name keys.

use std::borrow::Cow;

use serde_json::Value;

/// Most characters of a value quoted in an error message; a longer value shows this prefix,
/// a cut mark and its size in bytes.
pub const QUOTE_MAX_CHARS: usize = 64;

/// The character that starts every cut mark: text before it may end inside a cut value.
pub const CUT_MARK: char = '…';

/// Bytes kept free for the mark when [`cut`] shortens a text (`… [truncated N bytes]` with
/// a 20-digit N is 44 bytes).
pub const CUT_MARK_RESERVE: usize = 48;

/// The largest character boundary of `text` at or below `index` (`str::floor_char_boundary`,
/// stable only since Rust 1.91, above this crate's MSRV).
pub fn char_floor(text: &str, index: usize) -> usize {
    if index >= text.len() {
        return text.len();
    }
    (0..=index)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

/// `value` quoted for a message: whole when short (`"5s"`), else its first
/// [`QUOTE_MAX_CHARS`] characters, the cut mark and its size: `"aaaa…" (52428800 bytes)`.
/// Never cuts inside a character; escapes as Rust's `{:?}` does.
pub fn quote(value: &str) -> String {
    match value.char_indices().nth(QUOTE_MAX_CHARS) {
        None => format!("{value:?}"),
        Some((end, _)) => {
            let escaped = format!("{:?}", &value[..end]);
            let open = escaped.strip_suffix('"').unwrap_or(&escaped);
            format!("{open}{CUT_MARK}\" ({} bytes)", value.len())
        }
    }
}

/// A JSON value for a message: a string as [`quote`] shows it, anything else as compact JSON
/// cut the same way (`[1,2,3,… (N bytes)`: a message, not JSON).
pub fn quote_json(value: &Value) -> String {
    match value {
        Value::String(s) => quote(s),
        other => {
            let text = other.to_string();
            match text.char_indices().nth(QUOTE_MAX_CHARS) {
                None => text,
                Some((end, _)) => format!("{}{CUT_MARK} ({} bytes)", &text[..end], text.len()),
            }
        }
    }
}

/// `message` with a long `value` (more than [`QUOTE_MAX_CHARS`] characters), wherever it
/// appears whole, `{:?}`-quoted (serde's and the duration parser's style) or verbatim (other
/// libraries'), replaced by [`quote`]. For messages a library built around a value.
pub fn shorten_value_in(message: &str, value: &str) -> String {
    if value.chars().nth(QUOTE_MAX_CHARS).is_none() {
        return message.to_owned();
    }
    let quoted = quote(value);
    message
        .replace(&format!("{value:?}"), &quoted)
        .replace(value, &quoted)
}

/// The mark that replaces `removed` bytes cut off the end of a text.
pub fn cut_mark(removed: usize) -> String {
    format!("{CUT_MARK} [truncated {removed} bytes]")
}

/// `text` in at most `max_bytes` bytes: whole when it fits, else its start (never cut inside
/// a character) and [`cut_mark`]. A budget below [`CUT_MARK_RESERVE`] keeps only the mark.
pub fn cut(text: &str, max_bytes: usize) -> Cow<'_, str> {
    if text.len() <= max_bytes {
        return Cow::Borrowed(text);
    }
    let keep = char_floor(text, max_bytes.saturating_sub(CUT_MARK_RESERVE));
    Cow::Owned(format!("{}{}", &text[..keep], cut_mark(text.len() - keep)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_quoted_whole() {
        assert_eq!(quote("5s"), "\"5s\"");
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
        let exactly = "x".repeat(QUOTE_MAX_CHARS);
        assert_eq!(quote(&exactly), format!("{exactly:?}"));
    }

    #[test]
    fn long_values_show_a_prefix_and_their_size() {
        let long = "a".repeat(52_428_800);
        let q = quote(&long);
        assert_eq!(
            q,
            format!("\"{}…\" (52428800 bytes)", "a".repeat(QUOTE_MAX_CHARS))
        );
    }

    /// Table: multibyte characters at the cut point stay whole (2-, 3- and 4-byte UTF-8).
    #[test]
    fn the_prefix_never_cuts_inside_a_character() {
        for ch in ['é', '€', '😀', 'ß'] {
            for lead in 0..4 {
                let value = format!("{}{}", "a".repeat(lead), ch.to_string().repeat(200));
                let q = quote(&value);
                let inner = q
                    .strip_prefix('"')
                    .and_then(|s| s.split_once("…\""))
                    .map(|(prefix, _)| prefix)
                    .unwrap_or_else(|| panic!("{q}"));
                assert_eq!(inner.chars().count(), QUOTE_MAX_CHARS, "{ch} {lead}: {q}");
                assert!(value.starts_with(inner), "{ch} {lead}: {q}");
                assert!(q.ends_with(&format!("({} bytes)", value.len())), "{q}");
            }
        }
    }

    #[test]
    fn a_library_message_gets_the_value_quoted() {
        let long = "h".repeat(5000);
        let m = shorten_value_in(
            &format!("invalid type: string {long:?}, expected u32"),
            &long,
        );
        assert_eq!(
            m,
            format!("invalid type: string {}, expected u32", quote(&long))
        );
        let m = shorten_value_in(&format!("Invalid URL: '{long}'"), &long);
        assert_eq!(m, format!("Invalid URL: '{}'", quote(&long)));
        assert_eq!(shorten_value_in("bad \"5x\"", "5x"), "bad \"5x\"");
    }

    #[test]
    fn json_values_are_quoted_compactly() {
        assert_eq!(quote_json(&serde_json::json!(5)), "5");
        assert_eq!(quote_json(&serde_json::json!("x")), "\"x\"");
        let list = serde_json::json!(vec![1; 1000]);
        let q = quote_json(&list);
        assert!(q.starts_with("[1,1,"), "{q}");
        assert!(q.ends_with("… (2001 bytes)"), "{q}");
        assert!(q.len() < 100, "{q}");
    }

    #[test]
    fn cut_keeps_the_budget_and_whole_characters() {
        assert_eq!(cut("short", 100), "short");
        for ch in ['a', 'é', '€', '😀'] {
            let text = ch.to_string().repeat(10_000);
            for max in [CUT_MARK_RESERVE, 100, 101, 102, 103, 1000] {
                let c = cut(&text, max);
                assert!(c.len() <= max, "{ch} {max}: {} bytes", c.len());
                let (kept, mark) = c.split_once('…').unwrap();
                assert!(text.starts_with(kept), "{ch} {max}");
                assert_eq!(
                    mark,
                    format!(" [truncated {} bytes]", text.len() - kept.len())
                );
            }
        }
        assert_eq!(cut("abcdef", 3), "… [truncated 6 bytes]");
    }
}

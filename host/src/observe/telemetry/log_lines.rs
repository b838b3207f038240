//! Log lines of bounded length: a writer for the tracing subscriber that cuts any one log line
//! (one event as formatted, text or JSON) to [`MAX_LOG_LINE_BYTES`], marking the cut with
//! `… [truncated N bytes]`. A JSON line stays one valid JSON object with its fields in order:
//! the longest string values are shortened, nothing else. Must not filter, reorder or drop
//! events, and must not format them (tracing-subscriber does).

use std::{borrow::Cow, io, ops::Range};

use tracing_subscriber::fmt::MakeWriter;

use crate::config::{char_floor, cut_mark, CUT_MARK_RESERVE};

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Longest log line written (one event, its newline included). Enough for any message the
/// collector writes; what is longer comes from input it does not control (a config value, a
/// response body in an error) and would otherwise fill the disk one line at a time.
pub const MAX_LOG_LINE_BYTES: usize = 16 * 1024;

/// Resets colours (SGR 0), written after a cut text line that used any, so the cut does not
/// leave the terminal coloured.
const ANSI_RESET: &str = "\x1b[0m";

/// Makes [`BoundedLine`] writers around the writers `inner` makes.
#[derive(Debug, Clone)]
pub struct BoundedLines<M> {
    inner: M,
    format: LogFormat,
    max_bytes: usize,
}

impl<M> BoundedLines<M> {
    /// Lines of `format` from `inner`, cut at [`MAX_LOG_LINE_BYTES`].
    pub fn new(inner: M, format: LogFormat) -> Self {
        Self {
            inner,
            format,
            max_bytes: MAX_LOG_LINE_BYTES,
        }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for BoundedLines<M> {
    type Writer = BoundedLine<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        BoundedLine::new(self.inner.make_writer(), self)
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        BoundedLine::new(self.inner.make_writer_for(meta), self)
    }
}

/// One event's output: collected, then written (cut when too long) on flush or drop. The
/// subscriber makes one per event and writes the formatted event into it at once.
pub struct BoundedLine<W: io::Write> {
    inner: W,
    line: Vec<u8>,
    format: LogFormat,
    max_bytes: usize,
}

impl<W: io::Write> BoundedLine<W> {
    fn new<M>(inner: W, lines: &BoundedLines<M>) -> Self {
        Self {
            inner,
            line: Vec::new(),
            format: lines.format,
            max_bytes: lines.max_bytes,
        }
    }

    fn emit(&mut self) -> io::Result<()> {
        if self.line.is_empty() {
            return Ok(());
        }
        let line = std::mem::take(&mut self.line);
        self.inner
            .write_all(&bound_line(&line, self.format, self.max_bytes))
    }
}

impl<W: io::Write> io::Write for BoundedLine<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.emit()?;
        self.inner.flush()
    }
}

impl<W: io::Write> Drop for BoundedLine<W> {
    fn drop(&mut self) {
        // Nowhere to report a failed log write; the subscriber ignores them too.
        let _ = self.emit();
    }
}

/// `line` (one event, ending in a newline) in at most `max_bytes` bytes.
fn bound_line(line: &[u8], format: LogFormat, max_bytes: usize) -> Cow<'_, [u8]> {
    if line.len() <= max_bytes {
        return Cow::Borrowed(line);
    }
    let text = String::from_utf8_lossy(line);
    let body = text.strip_suffix('\n').unwrap_or(&text);
    // The newline is kept outside the budget of the body.
    let budget = max_bytes.saturating_sub(1);
    let mut out = match format {
        LogFormat::Pretty => cut_text_line(body, budget),
        LogFormat::Json => cut_json_line(body, budget),
    };
    out.push('\n');
    Cow::Owned(out.into_bytes())
}

/// A text line cut at a character boundary outside any colour code, then the mark.
fn cut_text_line(body: &str, budget: usize) -> String {
    let room = budget.saturating_sub(CUT_MARK_RESERVE + ANSI_RESET.len());
    let mut kept = &body[..char_floor(body, room)];
    // An escape sequence (`ESC [ … m`) cut in half would garble the terminal.
    if let Some(esc) = kept.rfind('\x1b') {
        if !kept[esc..].contains('m') {
            kept = &kept[..esc];
        }
    }
    let reset = if kept.contains('\x1b') {
        ANSI_RESET
    } else {
        ""
    };
    format!("{kept}{reset}{}", cut_mark(body.len() - kept.len()))
}

/// A JSON line with its longest string values cut (each ending in the mark), so it fits and
/// stays valid JSON; a line that cannot fit that way becomes `{"message":"… [truncated N
/// bytes]"}`.
fn cut_json_line(body: &str, budget: usize) -> String {
    let spans = json_string_spans(body);
    let Some(cuts) = plan_cuts(&spans, body.len().saturating_sub(budget)) else {
        return format!("{{\"message\":\"{}\"}}", cut_mark(body.len()));
    };
    let mut out = String::with_capacity(budget);
    let mut copied = 0;
    for (span, keep) in cuts {
        let end = safe_cut(body, &span, keep);
        out.push_str(&body[copied..end]);
        out.push_str(&cut_mark(span.end - end));
        copied = span.end;
    }
    out.push_str(&body[copied..]);
    out
}

/// Which string contents to cut, and how many bytes of each to keep, to remove `excess` bytes
/// (marks included): the longest first. `None` when cutting every string is not enough.
fn plan_cuts(spans: &[Range<usize>], excess: usize) -> Option<Vec<(Range<usize>, usize)>> {
    let mut longest: Vec<&Range<usize>> = spans.iter().collect();
    longest.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut remaining = excess;
    let mut cuts = Vec::new();
    for span in longest {
        if remaining == 0 || span.len() <= CUT_MARK_RESERVE {
            break;
        }
        let removable = span.len() - CUT_MARK_RESERVE;
        let removed = removable.min(remaining);
        cuts.push((span.clone(), removable - removed));
        remaining -= removed;
    }
    if remaining > 0 {
        return None;
    }
    cuts.sort_by_key(|(span, _)| span.start);
    Some(cuts)
}

/// Byte ranges of the contents (between the quotes) of every JSON string in `json`, keys
/// included.
fn json_string_spans(json: &str) -> Vec<Range<usize>> {
    let bytes = json.as_bytes();
    let mut spans = Vec::new();
    let mut start = None;
    let mut i = 0;
    while i < bytes.len() {
        match (start, bytes[i]) {
            (Some(_), b'\\') => i += 1,
            (Some(s), b'"') => {
                spans.push(s..i);
                start = None;
            }
            (None, b'"') => start = Some(i + 1),
            _ => {}
        }
        i += 1;
    }
    spans
}

/// The end of the first `keep` bytes (or fewer) of a string's contents, never inside a
/// character or an escape sequence (`\n`, `\u00e9`, a `\ud83d\ude00` surrogate pair).
fn safe_cut(json: &str, span: &Range<usize>, keep: usize) -> usize {
    let limit = span.start + keep;
    let mut pos = span.start;
    while pos < span.end {
        let step = if json.as_bytes()[pos] == b'\\' {
            escape_len(json, pos)
        } else {
            json.get(pos..)
                .and_then(|rest| rest.chars().next())
                .map_or(1, char::len_utf8)
        };
        if pos + step > limit {
            break;
        }
        pos += step;
    }
    // Only malformed JSON (an escape before a multibyte character) could leave `pos` inside one.
    char_floor(json, pos)
}

/// Length of the escape sequence at `pos`: 2 (`\n`), 6 (`\u00e9`) or 12 (a surrogate pair).
fn escape_len(json: &str, pos: usize) -> usize {
    if json.as_bytes().get(pos + 1) != Some(&b'u') {
        return 2;
    }
    let high_surrogate = json
        .get(pos + 2..pos + 6)
        .and_then(|hex| u16::from_str_radix(hex, 16).ok())
        .is_some_and(|unit| (0xD800..0xDC00).contains(&unit));
    if high_surrogate && json.get(pos + 6..pos + 8) == Some("\\u") {
        12
    } else {
        6
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::{json, Value};

    use super::*;

    const MAX: usize = 1024;

    fn cut(line: &str, format: LogFormat) -> String {
        String::from_utf8(bound_line(line.as_bytes(), format, MAX).into_owned()).unwrap()
    }

    /// The number in the last `… [truncated N bytes]` of `s`.
    fn truncated(s: &str) -> usize {
        let (_, rest) = s.rsplit_once("… [truncated ").unwrap();
        rest.split(' ').next().unwrap().parse().unwrap()
    }

    /// The keys of a JSON text in the order written (strings followed by a colon).
    fn keys_in_order(json: &str) -> Vec<&str> {
        json_string_spans(json)
            .into_iter()
            .filter(|s| json.as_bytes().get(s.end + 1) == Some(&b':'))
            .map(|s| &json[s])
            .collect()
    }

    #[test]
    fn short_lines_pass_unchanged() {
        for format in [LogFormat::Pretty, LogFormat::Json] {
            let line = "{\"message\":\"hello\"}\n";
            assert_eq!(cut(line, format), line);
        }
    }

    /// Table: text lines of 1-, 2-, 3- and 4-byte characters, cut at every offset around the
    /// budget, are a prefix of the line, whole characters, the mark and the newline.
    #[test]
    fn text_lines_are_cut_with_a_mark() {
        for ch in ["a", "é", "€", "😀"] {
            for extra in 0..8 {
                let body = format!("{}{}", "x".repeat(extra), ch.repeat(5000));
                let out = cut(&format!("{body}\n"), LogFormat::Pretty);
                assert!(out.len() <= MAX, "{ch} {extra}: {}", out.len());
                assert!(out.ends_with(" bytes]\n"), "{out}");
                let (kept, _) = out.split_once('…').unwrap();
                assert!(body.starts_with(kept), "{ch} {extra}");
                assert_eq!(kept.len() + truncated(&out), body.len());
            }
        }
    }

    #[test]
    fn a_text_cut_never_splits_a_colour_code() {
        let body = format!("\x1b[31mERROR\x1b[0m {}", "\x1b[2mdim\x1b[0m".repeat(500));
        let out = cut(&format!("{body}\n"), LogFormat::Pretty);
        assert!(out.len() <= MAX);
        let (kept, _) = out.split_once('…').unwrap();
        let kept = kept.strip_suffix(ANSI_RESET).unwrap();
        assert!(body.starts_with(kept));
        let last_esc = kept.rfind('\x1b').unwrap();
        assert!(kept[last_esc..].contains('m'), "{kept:?}");
    }

    /// JSON lines stay valid JSON with the same keys in the same order; the longest strings are
    /// cut at whole characters and escapes, marked, and the other fields are untouched.
    #[test]
    fn json_lines_stay_valid_json() {
        let tricky = "é\"\\\n\u{1}😀".repeat(2000);
        let cases = [
            json!({"timestamp": "t", "level": "ERROR", "error": "x".repeat(50_000), "target": "fc"}),
            json!({"timestamp": "t", "level": "WARN", "error": tricky, "target": "fc"}),
            json!({"level": "INFO", "a": "a".repeat(700), "b": "b".repeat(600), "c": "c".repeat(500), "n": 5}),
            json!({"level": "INFO", "span": {"name": "cycle", "exchange": "€".repeat(9000)}}),
        ];
        for case in cases {
            let line = format!("{case}\n");
            let out = cut(&line, LogFormat::Json);
            assert!(out.len() <= MAX, "{} bytes", out.len());
            assert!(out.ends_with("}\n"));
            let parsed: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
            assert_eq!(keys_in_order(&out), keys_in_order(&line), "{out}");
            assert_eq!(parsed["level"], case["level"]);
            assert!(out.contains("… [truncated "), "{out}");
        }
        // Escaped surrogate pairs are kept or cut whole.
        let pairs = format!("{{\"message\":\"{}\"}}\n", "\\ud83d\\ude00".repeat(500));
        let out = cut(&pairs, LogFormat::Json);
        let parsed: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert!(parsed["message"].as_str().unwrap().starts_with("😀😀"));
        // Nothing to cut (numbers only): still one valid object saying what was dropped.
        let numbers = format!("[{}]\n", vec!["1"; 2000].join(","));
        let out = cut(&numbers, LogFormat::Json);
        let parsed: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed["message"], "… [truncated 4001 bytes]");
    }

    /// Through the subscriber the collector installs: one huge event, text and JSON.
    #[test]
    fn the_installed_subscriber_cuts_long_events() {
        #[derive(Clone, Default)]
        struct Captured(Arc<Mutex<Vec<u8>>>);
        impl io::Write for Captured {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let huge = "v".repeat(1_000_000);
        for format in [LogFormat::Pretty, LogFormat::Json] {
            let captured = Captured::default();
            let writer = captured.clone();
            let subscriber = super::super::logging::subscriber(
                format,
                tracing_subscriber::EnvFilter::new("info"),
                move || writer.clone(),
                false,
            );
            tracing::subscriber::with_default(subscriber, || {
                tracing::error!(error = %huge, "config reload rejected");
                tracing::info!("next");
            });
            let out = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
            let lines: Vec<&str> = out.lines().collect();
            assert_eq!(lines.len(), 2, "{format:?}");
            assert!(lines[0].len() < MAX_LOG_LINE_BYTES, "{format:?}");
            assert!(lines[0].contains("… [truncated "), "{format:?}");
            assert!(lines[1].contains("next"), "{format:?}");
            assert!(
                !out.contains('\x1b'),
                "no colour codes in a log file: {out:?}"
            );
            if format == LogFormat::Json {
                let v: Value = serde_json::from_str(lines[0]).unwrap();
                assert_eq!(v["level"], "ERROR");
                assert_eq!(v["message"], "config reload rejected");
            }
        }
    }
}

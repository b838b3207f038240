//! The fast path of [`crate::json::json_from_body`]: a serde `Deserializer` over a UTF-8
//! checked body that covers what exchange rows are made of (objects, arrays, strings without
//! escapes, integers, `true`/`false`/`null`), and skips the fields a struct does not declare
//! without handing them to its visitor.
//!
//! Owns: JSON syntax for that subset, and the rule that keeps it exactly as correct as
//! serde_json: it makes the same visitor calls serde_json's deserializer makes, and wherever it
//! would have to decide something serde_json decides differently or more leniently (an escape
//! sequence, a number that does not fit, an array where a struct is expected, any error at all)
//! it gives up. The caller then decodes the body again with serde_json and returns that result,
//! value or error. A body therefore decodes to the same value, or fails with the same
//! `serde_json::Error`, as `serde_json::from_str` gives; this module only makes the common case
//! cheaper.
//! Must not: accept a document serde_json rejects, allocate, or panic.
//!
//! Why it is faster (docs/benchmarks.md): string ends are found 16 bytes at a time, unknown
//! fields of a struct (most of an exchange row: two thirds of its bytes) are skipped here
//! instead of going through the struct's field visitor and `IgnoredAny` (a 128-bit filter of
//! the declared names, built once per list of rows, rejects almost every undeclared key with
//! one test), and no error values are built on the hot path.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// Nesting deeper than this gives up (serde_json's own limit is 128).
const MAX_DEPTH: u32 = 128;

/// Decodes `text` as one JSON document into `T`, or `None` when the fast path gives up.
pub(crate) fn decode<'a, T: de::Deserialize<'a>>(text: &'a str) -> Option<T> {
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
        last_struct: None,
    };
    let value = T::deserialize(&mut reader).ok()?;
    reader.skip_whitespace();
    (reader.pos == reader.bytes.len()).then_some(value)
}

/// "The fast path cannot decide this": never shown to anyone, the caller falls back to
/// serde_json, which produces the real error message.
#[derive(Debug)]
pub(crate) struct GiveUp;

impl std::fmt::Display for GiveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fast JSON path gave up")
    }
}

impl std::error::Error for GiveUp {}

impl de::Error for GiveUp {
    fn custom<T: std::fmt::Display>(_msg: T) -> Self {
        GiveUp
    }
}

type Result<T> = std::result::Result<T, GiveUp>;

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: u32,
    /// The field filter of the struct decoded last (rows of a list are one struct over and
    /// over: the filter is built once per list, not per row).
    last_struct: Option<(&'static [&'static str], FieldFilter)>,
}

impl<'a> Reader<'a> {
    /// JSON whitespace, as serde_json accepts it: space, tab, LF, CR.
    #[inline]
    fn skip_whitespace(&mut self) {
        while let Some(&b) = self.bytes.get(self.pos) {
            if !matches!(b, b' ' | b'\n' | b'\t' | b'\r') {
                break;
            }
            self.pos += 1;
        }
    }

    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes.get(self.pos).copied()
    }

    #[inline]
    fn expect(&mut self, byte: u8) -> Result<()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(GiveUp)
        }
    }

    /// A string at the current position (its opening quote not yet consumed), borrowed from the
    /// body. Escapes and control characters give up.
    #[inline]
    fn string(&mut self) -> Result<&'a str> {
        if self.peek() != Some(b'"') {
            return Err(GiveUp);
        }
        let start = self.pos + 1;
        let end = string_end(self.bytes, start);
        if self.bytes.get(end) != Some(&b'"') {
            return Err(GiveUp);
        }
        self.pos = end + 1;
        debug_assert!(self.text.is_char_boundary(start) && self.text.is_char_boundary(end));
        // SAFETY: `start` is just after an ASCII quote and `end` is at one (checked above), both
        // inside `text`; an ASCII byte is never inside a multi-byte UTF-8 sequence, so both are
        // char boundaries of the (valid UTF-8) text and the slice is valid UTF-8.
        Ok(unsafe { self.text.get_unchecked(start..end) })
    }

    /// The literal `word` (after its first byte has been peeked).
    #[inline]
    fn literal(&mut self, word: &[u8]) -> Result<()> {
        let end = self.pos + word.len();
        if self.bytes.get(self.pos..end) == Some(word) {
            self.pos = end;
            Ok(())
        } else {
            Err(GiveUp)
        }
    }

    /// A number lexeme by JSON's grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    /// Returns it and whether it is an integer (no fraction, no exponent).
    fn number_lexeme(&mut self) -> Result<(&'a str, bool)> {
        let start = self.pos;
        let bytes = self.bytes;
        let mut i = start;
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        // End of the run of ASCII digits from `i`.
        let digits_end = |mut i: usize| {
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        match bytes.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => i = digits_end(i),
            _ => return Err(GiveUp),
        }
        let mut integer = true;
        if bytes.get(i) == Some(&b'.') {
            integer = false;
            let end = digits_end(i + 1);
            if end == i + 1 {
                return Err(GiveUp);
            }
            i = end;
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            integer = false;
            i += 1;
            if matches!(bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let end = digits_end(i);
            if end == i {
                return Err(GiveUp);
            }
            i = end;
        }
        self.pos = i;
        Ok((self.text.get(start..i).ok_or(GiveUp)?, integer))
    }

    /// A number, visited the way serde_json visits it: non-negative integers as `u64`, negative
    /// ones as `i64`, everything else as `f64` (parsed by serde_json itself, so the value is
    /// bit-for-bit the one it would give). Integers that do not fit, and `-0`, give up.
    fn number<V: Visitor<'a>>(&mut self, visitor: V) -> Result<V::Value> {
        let (lexeme, integer) = self.number_lexeme()?;
        if !integer {
            let value: f64 = serde_json::from_str(lexeme).map_err(|_| GiveUp)?;
            return visitor.visit_f64(value);
        }
        let (negative, digits) = match lexeme.strip_prefix('-') {
            Some(digits) => (true, digits),
            None => (false, lexeme),
        };
        let mut magnitude: u64 = 0;
        for d in digits.bytes() {
            magnitude = magnitude
                .checked_mul(10)
                .and_then(|m| m.checked_add(u64::from(d - b'0')))
                .ok_or(GiveUp)?;
        }
        if !negative {
            return visitor.visit_u64(magnitude);
        }
        // serde_json: -1 ..= -2^63 are i64; -0 and anything below -2^63 become f64.
        if magnitude == 0 || magnitude > 1u64 << 63 {
            return Err(GiveUp);
        }
        visitor.visit_i64((magnitude as i64).wrapping_neg())
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(GiveUp)
        } else {
            Ok(())
        }
    }

    /// Skips one value of any kind, checking its syntax.
    fn skip_value(&mut self) -> Result<()> {
        match self.peek().ok_or(GiveUp)? {
            b'"' => self.string().map(drop),
            b'{' => self.skip_container(b'}', |r| {
                r.string()?;
                r.expect(b':')?;
                r.skip_value()
            }),
            b'[' => self.skip_container(b']', Self::skip_value),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number_lexeme().map(drop),
            _ => Err(GiveUp),
        }
    }

    /// Skips an object or array whose opening byte is next: `entry` skips one member, members
    /// are separated by commas, `close` ends it.
    fn skip_container(
        &mut self,
        close: u8,
        mut entry: impl FnMut(&mut Self) -> Result<()>,
    ) -> Result<()> {
        self.pos += 1;
        self.enter()?;
        if self.peek() == Some(close) {
            self.pos += 1;
        } else {
            loop {
                entry(self)?;
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b) if b == close => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(GiveUp),
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    fn map<V: Visitor<'a>>(
        &mut self,
        fields: Option<&'static [&'static str]>,
        visitor: V,
    ) -> Result<V::Value> {
        self.expect(b'{')?;
        self.enter()?;
        let filter = fields.map(|fields| match self.last_struct {
            Some((last, filter)) if std::ptr::eq(last, fields) => filter,
            _ => {
                let filter = FieldFilter::of(fields);
                self.last_struct = Some((fields, filter));
                filter
            }
        });
        let value = visitor.visit_map(Entries {
            reader: self,
            filter,
            first: true,
        })?;
        // The visitor has read every entry; anything but the closing brace (a trailing entry it
        // left, a trailing comma) is serde_json's error to report.
        self.expect(b'}')?;
        self.depth -= 1;
        Ok(value)
    }

    fn seq<V: Visitor<'a>>(&mut self, visitor: V) -> Result<V::Value> {
        self.expect(b'[')?;
        self.enter()?;
        let value = visitor.visit_seq(Elements {
            reader: self,
            first: true,
        })?;
        self.expect(b']')?;
        self.depth -= 1;
        Ok(value)
    }
}

/// Index of the first byte at or after `from` that ends the run of plain string bytes: a quote,
/// a backslash, a control character, or the end of `bytes`.
#[inline]
fn string_end(bytes: &[u8], from: usize) -> usize {
    let rest = bytes.get(from..).unwrap_or_default();
    let mut offset = from;
    #[cfg(target_arch = "x86_64")]
    let rest = {
        let mut chunks = rest.chunks_exact(16);
        for chunk in &mut chunks {
            if let Ok(chunk) = <&[u8; 16]>::try_from(chunk) {
                let mask = sse2::special_bytes(chunk);
                if mask != 0 {
                    return offset + mask.trailing_zeros() as usize;
                }
            }
            offset += 16;
        }
        chunks.remainder()
    };
    for &b in rest {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        offset += 1;
    }
    offset
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };

    /// Bit `k` set when byte `k` of the 16 is `"`, `\` or below 0x20.
    #[inline]
    pub(super) fn special_bytes(chunk: &[u8; 16]) -> u32 {
        // SAFETY: `chunk` is 16 readable bytes, `_mm_loadu_si128` has no alignment requirement,
        // and SSE2 is part of the x86_64 baseline every x86_64 CPU has.
        unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            // v <= 0x1f (unsigned) exactly when max(v, 0x1f) == 0x1f.
            let limit = _mm_set1_epi8(0x1f);
            let control = _mm_cmpeq_epi8(_mm_max_epu8(v, limit), limit);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
        }
    }
}

/// Which keys may be a field of a struct: one bit of 128 per declared name (aliases included),
/// chosen by the name's length, first and last byte. A key whose bit is clear is certainly not
/// declared and is skipped here, without reaching the struct's visitor; a key whose bit is set
/// goes to the visitor, which matches it exactly (an undeclared key that shares a bit is then
/// ignored by the visitor through `deserialize_ignored_any`, as serde_json would).
#[derive(Clone, Copy)]
struct FieldFilter(u128);

impl FieldFilter {
    fn of(fields: &[&str]) -> Self {
        Self(
            fields
                .iter()
                .fold(0, |set, f| set | Self::bit(f.as_bytes())),
        )
    }

    #[inline]
    fn bit(key: &[u8]) -> u128 {
        let first = u32::from(key.first().copied().unwrap_or(0));
        let last = u32::from(key.last().copied().unwrap_or(0));
        let slot = (key.len() as u32)
            .wrapping_mul(31)
            .wrapping_add(first.wrapping_mul(7))
            .wrapping_add(last)
            % 128;
        1 << slot
    }

    #[inline]
    fn may_contain(self, key: &str) -> bool {
        self.0 & Self::bit(key.as_bytes()) != 0
    }
}

/// Entries of an object. With a `filter` (built from a struct's declared names), entries whose
/// keys are certainly not declared are skipped here: the struct's visitor would ignore them.
struct Entries<'r, 'a> {
    reader: &'r mut Reader<'a>,
    filter: Option<FieldFilter>,
    first: bool,
}

impl<'a> MapAccess<'a> for Entries<'_, 'a> {
    type Error = GiveUp;

    fn next_key_seed<K: DeserializeSeed<'a>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        loop {
            let r = &mut *self.reader;
            match r.peek() {
                Some(b'}') => return Ok(None),
                Some(b',') if !self.first => {
                    r.pos += 1;
                }
                Some(b'"') if self.first => {}
                _ => return Err(GiveUp),
            }
            self.first = false;
            let key = r.string()?;
            r.expect(b':')?;
            if self.filter.is_some_and(|filter| !filter.may_contain(key)) {
                r.skip_value()?;
                continue;
            }
            return seed.deserialize(Key(key)).map(Some);
        }
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.reader)
    }
}

struct Elements<'r, 'a> {
    reader: &'r mut Reader<'a>,
    first: bool,
}

impl<'a> SeqAccess<'a> for Elements<'_, 'a> {
    type Error = GiveUp;

    fn next_element_seed<T: DeserializeSeed<'a>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        let r = &mut *self.reader;
        match r.peek() {
            Some(b']') => return Ok(None),
            Some(b',') if !self.first => r.pos += 1,
            Some(_) if self.first => {}
            _ => return Err(GiveUp),
        }
        self.first = false;
        seed.deserialize(&mut *self.reader).map(Some)
    }
}

/// An object key, as serde_json hands it to a key's visitor: a borrowed string, whatever the
/// visitor asks for. Keys read as numbers or booleans (serde_json parses those out of the
/// string) fail in their visitor, and the fast path gives up.
struct Key<'a>(&'a str);

impl<'de> de::Deserializer<'de> for Key<'de> {
    type Error = GiveUp;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_borrowed_str(self.0)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

/// serde_json reads every fixed-size number type the same way: a number token visited as
/// `u64`/`i64`/`f64` (the visitor converts), anything else an error.
macro_rules! number_methods {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value> {
                match self.peek() {
                    Some(b'-' | b'0'..=b'9') => self.number(visitor),
                    _ => Err(GiveUp),
                }
            }
        )*
    };
}

impl<'a> de::Deserializer<'a> for &mut Reader<'a> {
    type Error = GiveUp;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value> {
        match self.peek().ok_or(GiveUp)? {
            b'"' => visitor.visit_borrowed_str(self.string()?),
            b'{' => self.map(None, visitor),
            b'[' => self.seq(visitor),
            b't' => {
                self.literal(b"true")?;
                visitor.visit_bool(true)
            }
            b'f' => {
                self.literal(b"false")?;
                visitor.visit_bool(false)
            }
            b'n' => {
                self.literal(b"null")?;
                visitor.visit_unit()
            }
            b'-' | b'0'..=b'9' => self.number(visitor),
            _ => Err(GiveUp),
        }
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_str<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_borrowed_str(self.string()?)
    }

    fn deserialize_string<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_borrowed_str(self.string()?)
    }

    fn deserialize_identifier<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_borrowed_str(self.string()?)
    }

    fn deserialize_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        // serde_json also accepts an array here (fields by position); that is its call.
        self.map(Some(fields), visitor)
    }

    fn deserialize_map<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value> {
        self.map(None, visitor)
    }

    fn deserialize_seq<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value> {
        self.seq(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value> {
        self.skip_value()?;
        visitor.visit_unit()
    }

    fn deserialize_char<V: Visitor<'a>>(self, _: V) -> Result<V::Value> {
        Err(GiveUp)
    }

    fn deserialize_bytes<V: Visitor<'a>>(self, _: V) -> Result<V::Value> {
        Err(GiveUp)
    }

    fn deserialize_byte_buf<V: Visitor<'a>>(self, _: V) -> Result<V::Value> {
        Err(GiveUp)
    }

    fn deserialize_unit_struct<V: Visitor<'a>>(self, _: &'static str, _: V) -> Result<V::Value> {
        Err(GiveUp)
    }

    fn deserialize_tuple<V: Visitor<'a>>(self, _: usize, _: V) -> Result<V::Value> {
        Err(GiveUp)
    }

    fn deserialize_tuple_struct<V: Visitor<'a>>(
        self,
        _: &'static str,
        _: usize,
        _: V,
    ) -> Result<V::Value> {
        Err(GiveUp)
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value> {
        Err(GiveUp)
    }

    fn deserialize_bool<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value> {
        match self.peek() {
            Some(b't') => {
                self.literal(b"true")?;
                visitor.visit_bool(true)
            }
            Some(b'f') => {
                self.literal(b"false")?;
                visitor.visit_bool(false)
            }
            _ => Err(GiveUp),
        }
    }

    fn deserialize_unit<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value> {
        if self.peek() != Some(b'n') {
            return Err(GiveUp);
        }
        self.literal(b"null")?;
        visitor.visit_unit()
    }

    fn deserialize_i128<V: Visitor<'a>>(self, _: V) -> Result<V::Value> {
        Err(GiveUp)
    }

    fn deserialize_u128<V: Visitor<'a>>(self, _: V) -> Result<V::Value> {
        Err(GiveUp)
    }

    number_methods! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_u8
        deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32 deserialize_f64
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use serde::Deserialize;
    use serde_json::Value;

    use super::decode;
    use crate::numbers::de::{opt_f64, opt_ts};

    /// The fast path's contract: when it decodes, serde_json decodes too, to the same value.
    fn agrees_with_serde(text: &str) -> Option<Value> {
        let fast: Option<Value> = decode(text);
        let serde: Result<Value, _> = serde_json::from_str(text);
        if let Some(fast) = &fast {
            let serde = serde.as_ref().unwrap_or_else(|e| {
                panic!("fast path accepted what serde_json rejects ({e}): {text:?}")
            });
            assert_eq!(fast, serde, "{text:?}");
        }
        fast
    }

    #[test]
    fn documents_decode_like_serde_json_or_give_up() {
        // (document, whether the fast path decodes it itself)
        let cases: &[(&str, bool)] = &[
            (
                r#"{"a":"b","c":[1,-2,3.5,1e3,true,false,null],"d":{}}"#,
                true,
            ),
            (" [ ] ", true),
            ("\n{ \"k\" :\t\"v\" }\r\n", true),
            (
                r#"[{"symbol":"BTCUSDT","lastPrice":"94626.1","count":6000000}]"#,
                true,
            ),
            ("18446744073709551615", true),
            ("-9223372036854775808", true),
            ("[0.1,-0.0,1E-7,2.5e+2]", true),
            (r#""caf\u00e9""#, false),
            (r#"{"a":"line\nbreak"}"#, false),
            ("18446744073709551616", false),
            ("-0", false),
            ("-9223372036854775809", false),
            ("[1,]", false),
            ("[,1]", false),
            (r#"{"a":1,}"#, false),
            (r#"{"a" 1}"#, false),
            (r#"{"a":1 "b":2}"#, false),
            ("[1 2]", false),
            ("01", false),
            ("1.", false),
            (".5", false),
            ("1e", false),
            ("-", false),
            ("+1", false),
            ("[1] x", false),
            ("", false),
            ("   ", false),
            ("nul", false),
            ("tru", false),
            ("[\"unterminated", false),
            ("{\"a\":\"tab\there\"}", false),
            ("NaN", false),
            (r#"{"a":[{"b":[]}],"c":"\u0000"}"#, false),
        ];
        for (text, decoded_fast) in cases {
            let fast = agrees_with_serde(text);
            assert_eq!(fast.is_some(), *decoded_fast, "{text:?}");
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(agrees_with_serde(&deep).is_none(), "nesting past the limit");
        let fine = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(agrees_with_serde(&fine).is_some());
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Row<'a> {
        #[serde(borrow)]
        symbol: Cow<'a, str>,
        #[serde(default, deserialize_with = "opt_f64")]
        last_price: Option<f64>,
        #[serde(default, deserialize_with = "opt_ts")]
        close_time: Option<i64>,
        #[serde(default)]
        status: Option<&'a str>,
        #[serde(default, alias = "qty")]
        size: Option<u32>,
    }

    fn rows_agree(text: &str) -> Option<Vec<Row<'_>>> {
        let fast: Option<Vec<Row<'_>>> = decode(text);
        let serde = serde_json::from_str::<Vec<Row<'_>>>(text);
        if let Some(fast) = &fast {
            assert_eq!(Some(fast), serde.as_ref().ok(), "{text:?}");
        }
        fast
    }

    #[test]
    fn structs_skip_undeclared_fields_and_keep_serde_semantics() {
        let text = r#"[{"priceChange":"-1","symbol":"BTCUSDT","lastPrice":"1.5","closeTime":1700000000000,
            "nested":{"x":[1,{"y":"z"}]},"status":null,"qty":7},
            {"symbol":"ETHUSDT","lastPrice":"","closeTime":0}]"#;
        let rows = rows_agree(text).expect("decoded by the fast path");
        assert!(matches!(rows[0].symbol, Cow::Borrowed("BTCUSDT")));
        assert_eq!(rows[0].last_price, Some(1.5));
        assert_eq!(rows[0].close_time, Some(1_700_000_000_000));
        assert_eq!(rows[0].size, Some(7), "an alias is a declared name");
        assert_eq!(rows[1].last_price, None);
        assert_eq!(rows[1].close_time, None);

        // Decided by serde_json: a duplicate field, a missing required field, a wrong type,
        // a row given as an array, an escaped symbol.
        for text in [
            r#"[{"symbol":"A","symbol":"B"}]"#,
            r#"[{"lastPrice":"1"}]"#,
            r#"[{"symbol":"A","size":-1}]"#,
            r#"[{"symbol":"A","lastPrice":true}]"#,
            r#"[["A","1.5"]]"#,
            r#"[{"symbol":"\u0041"}]"#,
            r#"[{"symbol":"A","unknown":"bad\u00"}]"#,
            r#"[{"symbol":"A","unknown":01}]"#,
        ] {
            assert!(rows_agree(text).is_none(), "{text}");
        }
    }

    /// The key filter never hides a declared name, and an undeclared key it lets through (one
    /// that shares a bit with a declared name) is ignored by the struct's visitor, as serde_json
    /// ignores it: same rows either way.
    #[test]
    fn undeclared_keys_passing_the_filter_are_still_ignored() {
        const FIELDS: &[&str] = &["symbol", "lastPrice", "closeTime", "status", "size", "qty"];
        let filter = super::FieldFilter::of(FIELDS);
        assert!(FIELDS.iter().all(|f| filter.may_contain(f)));

        // Varied first and last letters and lengths, none of them a declared name.
        let candidates: Vec<String> = (0..2000u32)
            .map(|i| {
                let letter = |n: u32| char::from(b'a' + (n % 26) as u8);
                let middle = "0".repeat((i % 13) as usize);
                format!("{}{middle}{}", letter(i), letter(i / 26))
            })
            .filter(|k| !FIELDS.contains(&k.as_str()))
            .collect();
        let colliding: Vec<&String> = candidates
            .iter()
            .filter(|k| filter.may_contain(k))
            .take(20)
            .collect();
        let rejected = candidates.iter().filter(|k| !filter.may_contain(k)).count();
        assert!(
            colliding.len() == 20 && rejected > candidates.len() / 2,
            "{} colliding, {rejected} of {} rejected",
            colliding.len(),
            candidates.len()
        );

        let values = [
            r#""1.5""#,
            "-3",
            "null",
            r#"{"symbol":"X","a":[1,2]}"#,
            "[true,false]",
        ];
        let mut row = String::from(r#"{"symbol":"BTCUSDT""#);
        for (i, key) in colliding.iter().enumerate() {
            row.push_str(&format!(r#","{key}":{}"#, values[i % values.len()]));
        }
        row.push_str(r#","lastPrice":"2.5","qty":3}"#);
        let text = format!("[{row},{row}]");
        let rows = rows_agree(&text).expect("decoded by the fast path");
        assert_eq!(rows[1].last_price, Some(2.5));
        assert_eq!(rows[1].size, Some(3));
    }

    /// Every recorded and documented body in ../shared decodes through the fast path to
    /// serde_json's value (the ones with escape sequences are left to serde_json).
    #[test]
    fn recorded_exchange_bodies_agree_with_serde_json() {
        let root = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/exchange-fixtures"
        );
        let mut files = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(root)];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("../shared/exchange-fixtures is readable") {
                let path = entry.expect("directory entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "json") {
                    files.push(path);
                }
            }
        }
        assert!(files.len() >= 50, "found {} fixture files", files.len());
        let mut fast = 0;
        for path in &files {
            let text = std::fs::read_to_string(path).expect("fixture is UTF-8");
            if serde_json::from_str::<Value>(&text).is_err() {
                continue;
            }
            if agrees_with_serde(&text).is_some() {
                fast += 1;
            }
        }
        assert!(
            fast * 10 >= files.len() * 8,
            "only {fast} of {} fixtures took the fast path",
            files.len()
        );
    }

    /// Damaged documents (cut short, a byte changed): the fast path never accepts one that
    /// serde_json rejects, and never decodes one to another value.
    #[test]
    fn damaged_documents_never_decode_differently() {
        let text = r#"{"retCode":0,"result":{"list":[{"symbol":"BTCUSDT","lastPrice":"94619.1","fundingRate":"-0.0001","nextFundingTime":"1796256000000","deliveryTime":"0","n":[1,2.5,-3,true,null,{}]}]},"time":1796235780819}"#;
        for end in 0..text.len() {
            agrees_with_serde(&text[..end]);
        }
        let replacements = b"\"\\{}[]:,.-+eE0 9atfnu\t\x01";
        let mut damaged = 0;
        for at in 0..text.len() {
            for &b in replacements {
                let mut bytes = text.as_bytes().to_vec();
                bytes[at] = b;
                if let Ok(s) = std::str::from_utf8(&bytes) {
                    agrees_with_serde(s);
                    damaged += 1;
                }
            }
        }
        assert!(damaged > 1000);
    }
}

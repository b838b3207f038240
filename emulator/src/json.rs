//! A tiny append-only JSON writer for the hot response bodies (tickers, funding, instruments).
//!
//! Owns: comma placement, string escaping and fixed-point decimal formatting (the exchanges send
//! most numbers as decimal *strings* with a fixed number of places). Bodies are built straight
//! into one `String`, no intermediate `serde_json::Value`.
//! Must not: know any exchange's field names or choose values; callers decide both.

use std::fmt::Write as _;

/// Writes one JSON object into `buf`; `f` adds its fields.
pub fn object(buf: &mut String, f: impl FnOnce(&mut Obj<'_>)) {
    buf.push('{');
    f(&mut Obj { buf, first: true });
    buf.push('}');
}

/// Writes one JSON array into `buf`; `f` adds its elements.
pub fn array(buf: &mut String, f: impl FnOnce(&mut Arr<'_>)) {
    buf.push('[');
    f(&mut Arr { buf, first: true });
    buf.push(']');
}

/// An open JSON object.
pub struct Obj<'a> {
    buf: &'a mut String,
    first: bool,
}

impl Obj<'_> {
    fn key(&mut self, key: &str) {
        if !self.first {
            self.buf.push(',');
        }
        self.first = false;
        push_str_lit(self.buf, key);
        self.buf.push(':');
    }

    /// `"key":"value"` (escaped).
    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        push_str_lit(self.buf, value);
        self
    }

    /// `"key":"123.4500"`: a decimal string with exactly `places` places.
    pub fn dec(&mut self, key: &str, value: f64, places: u32) -> &mut Self {
        self.key(key);
        self.buf.push('"');
        push_fixed(self.buf, value, places, false);
        self.buf.push('"');
        self
    }

    /// `"key":"123.45"`: like [`Obj::dec`] with trailing zeros (and a bare dot) removed.
    pub fn dec_trim(&mut self, key: &str, value: f64, places: u32) -> &mut Self {
        self.key(key);
        self.buf.push('"');
        push_fixed(self.buf, value, places, true);
        self.buf.push('"');
        self
    }

    /// `"key":123` (a JSON number).
    pub fn int(&mut self, key: &str, value: i64) -> &mut Self {
        self.key(key);
        let _ = write!(self.buf, "{value}");
        self
    }

    /// `"key":"123"` (an integer as a string, as Bybit and OKX send timestamps).
    pub fn int_str(&mut self, key: &str, value: i64) -> &mut Self {
        self.key(key);
        let _ = write!(self.buf, "\"{value}\"");
        self
    }

    /// `"key":true|false`.
    pub fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key);
        self.buf.push_str(if value { "true" } else { "false" });
        self
    }

    /// `"key":null`.
    pub fn null(&mut self, key: &str) -> &mut Self {
        self.key(key);
        self.buf.push_str("null");
        self
    }

    /// `"key":<raw>`; `raw` must already be valid JSON.
    pub fn raw(&mut self, key: &str, raw: &str) -> &mut Self {
        self.key(key);
        self.buf.push_str(raw);
        self
    }

    /// `"key":{...}`.
    pub fn obj(&mut self, key: &str, f: impl FnOnce(&mut Obj<'_>)) -> &mut Self {
        self.key(key);
        object(self.buf, f);
        self
    }

    /// `"key":[...]`.
    pub fn arr(&mut self, key: &str, f: impl FnOnce(&mut Arr<'_>)) -> &mut Self {
        self.key(key);
        array(self.buf, f);
        self
    }
}

/// An open JSON array.
pub struct Arr<'a> {
    buf: &'a mut String,
    first: bool,
}

impl Arr<'_> {
    fn sep(&mut self) {
        if !self.first {
            self.buf.push(',');
        }
        self.first = false;
    }

    /// An object element.
    pub fn obj(&mut self, f: impl FnOnce(&mut Obj<'_>)) -> &mut Self {
        self.sep();
        object(self.buf, f);
        self
    }

    /// A string element.
    pub fn str(&mut self, value: &str) -> &mut Self {
        self.sep();
        push_str_lit(self.buf, value);
        self
    }

    /// A raw element; `raw` must already be valid JSON.
    pub fn raw(&mut self, raw: &str) -> &mut Self {
        self.sep();
        self.buf.push_str(raw);
        self
    }
}

/// Appends `s` as a JSON string literal.
pub fn push_str_lit(buf: &mut String, s: &str) {
    buf.push('"');
    for c in s.chars() {
        match c {
            '"' => buf.push_str("\\\""),
            '\\' => buf.push_str("\\\\"),
            '\n' => buf.push_str("\\n"),
            '\r' => buf.push_str("\\r"),
            '\t' => buf.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(buf, "\\u{:04x}", c as u32);
            }
            c => buf.push(c),
        }
    }
    buf.push('"');
}

const POW10: [i64; 17] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    100_000_000_000,
    1_000_000_000_000,
    10_000_000_000_000,
    100_000_000_000_000,
    1_000_000_000_000_000,
    10_000_000_000_000_000,
];

/// Appends `value` rounded to `places` decimal places (at most 16), e.g. `0.5` with 3 places is
/// `0.500`; with `trim` trailing zeros go (`0.5`, and `2.000` becomes `2`). Non-finite values are
/// written as `0`.
pub fn push_fixed(buf: &mut String, value: f64, places: u32, trim: bool) {
    let places = places.min(16);
    let value = if value.is_finite() { value } else { 0.0 };
    let scale = POW10[places as usize];
    let scaled = (value * scale as f64).round();
    if scaled.abs() >= 9.0e18 {
        // Out of i64 range: fall back to the (slower) float formatter.
        let start = buf.len();
        let _ = write!(buf, "{value:.*}", places as usize);
        if trim {
            trim_zeros(buf, start);
        }
        return;
    }
    let scaled = scaled as i64;
    if scaled < 0 {
        buf.push('-');
    }
    let abs = scaled.unsigned_abs();
    let scale = scale as u64;
    let _ = write!(buf, "{}", abs / scale);
    if places > 0 {
        let start = buf.len();
        let _ = write!(buf, ".{:0width$}", abs % scale, width = places as usize);
        if trim {
            trim_zeros(buf, start);
        }
    }
}

/// Removes trailing zeros after a decimal point that starts at or after `start`.
fn trim_zeros(buf: &mut String, start: usize) {
    if !buf[start..].contains('.') {
        return;
    }
    while buf.ends_with('0') {
        buf.pop();
    }
    if buf.ends_with('.') {
        buf.pop();
    }
}

/// `value` as a decimal string (see [`push_fixed`]).
pub fn fixed(value: f64, places: u32, trim: bool) -> String {
    let mut s = String::with_capacity(24);
    push_fixed(&mut s, value, places, trim);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_formats_and_trims() {
        assert_eq!(fixed(0.5, 3, false), "0.500");
        assert_eq!(fixed(0.5, 3, true), "0.5");
        assert_eq!(fixed(2.0, 3, true), "2");
        assert_eq!(fixed(-0.00012345, 8, false), "-0.00012345");
        assert_eq!(fixed(95123.44999, 2, false), "95123.45");
        assert_eq!(fixed(1e-4, 4, true), "0.0001");
        assert_eq!(fixed(10_000_000.0, 0, true), "10000000");
        assert_eq!(fixed(0.0000792386885340, 16, false), "0.0000792386885340");
        assert_eq!(fixed(f64::NAN, 2, false), "0.00");
        assert_eq!(fixed(1e30, 2, true), "1000000000000000019884624838656");
    }

    #[test]
    fn writer_produces_valid_json() {
        let mut s = String::new();
        object(&mut s, |o| {
            o.str("a", "x\"y\n")
                .dec("b", 1.5, 2)
                .int("c", -3)
                .int_str("d", 4)
                .bool("e", true)
                .null("f")
                .arr("g", |a| {
                    a.str("1").obj(|o| {
                        o.raw("h", "{}");
                    });
                });
        });
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["a"], "x\"y\n");
        assert_eq!(v["b"], "1.50");
        assert_eq!(v["c"], -3);
        assert_eq!(v["d"], "4");
        assert_eq!(v["g"][1]["h"], serde_json::json!({}));
    }
}

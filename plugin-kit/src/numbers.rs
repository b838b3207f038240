//! Numbers and timestamps from exchange JSON: decimal strings, JSON numbers, empty strings and
//! `null`, with absent kept absent (never 0), and the serde field helpers built on them.
//!
//! Owns: the fast exact path for the decimal forms exchanges print, and what "absent" means for
//! a timestamp (`<= 0`, empty, unparsable).
//! Must not: decide that a zero is absent for a field (the adapter knows its exchange's
//! convention: [`nonzero_decimal`] is there when it does), or round values.

/// A decimal number from an exchange string. Empty or whitespace is absent (`None`); text that is
/// not a finite number is absent too. "0" stays `Some(0.0)`: whether a zero means "absent" is the
/// adapter's call, made where it knows the exchange's convention.
pub fn decimal(s: &str) -> Option<f64> {
    if let Some(value) = plain_decimal(s.as_bytes()) {
        return Some(value);
    }
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Powers of ten that are exact in an `f64` (10^22 is the largest).
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The form almost every exchange number takes, `-?digits[.digits]` with at most 2^53 as its
/// digits read as an integer, converted without the general parser: the digits and the power
/// of ten are both exact `f64`s, so one IEEE division gives the correctly rounded value, the
/// same bits `str::parse::<f64>` returns (it takes this path too, after more checks). Anything
/// else (exponents, signs, whitespace, long mantissas) is `None`, left to the general parser.
fn plain_decimal(bytes: &[u8]) -> Option<f64> {
    /// Largest integer below which every integer is exact in an `f64`.
    const EXACT_INTEGER_LIMIT: u64 = 1 << 53;
    /// More digits than this could overflow the `u64` accumulator.
    const MAX_DIGITS: usize = 19;
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    // Wrapping arithmetic: a value of more than MAX_DIGITS digits is discarded below.
    let mut mantissa: u64 = 0;
    let integer_digits = take_digits(digits, &mut mantissa);
    let mut i = integer_digits;
    let mut fraction_digits = 0;
    if digits.get(i) == Some(&b'.') {
        fraction_digits = take_digits(digits.get(i + 1..).unwrap_or_default(), &mut mantissa);
        i += 1 + fraction_digits;
    }
    let count = integer_digits + fraction_digits;
    if i != digits.len() || count == 0 || count > MAX_DIGITS || mantissa > EXACT_INTEGER_LIMIT {
        return None;
    }
    let power = *EXACT_POWERS_OF_TEN.get(fraction_digits)?;
    let magnitude = mantissa as f64 / power;
    Some(if negative { -magnitude } else { magnitude })
}

/// Appends the leading ASCII digits of `bytes` to `mantissa` (wrapping) and returns how many
/// there were.
fn take_digits(bytes: &[u8], mantissa: &mut u64) -> usize {
    let mut count = 0;
    for &c in bytes {
        let d = c.wrapping_sub(b'0');
        if d >= 10 {
            break;
        }
        *mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
        count += 1;
    }
    count
}

/// Like [`decimal`], but a value of exactly zero is absent. For fields where the exchange writes
/// 0 for "not applicable" (Binance `nextFundingTime` on delivery contracts).
pub fn nonzero_decimal(s: &str) -> Option<f64> {
    decimal(s).filter(|v| *v != 0.0)
}

/// Unix-ms timestamp from an exchange string; empty, unparsable or `<= 0` is absent.
pub fn timestamp_ms(s: &str) -> Option<i64> {
    plain_integer(s.as_bytes())
        .or_else(|| s.trim().parse::<i64>().ok())
        .filter(|v| *v > 0)
}

/// Digits only (at most 18, so no overflow), the form every exchange timestamp takes, without
/// the trim and the general parser; anything else is `None`, left to `str::parse`.
fn plain_integer(bytes: &[u8]) -> Option<i64> {
    /// 18 decimal digits always fit an `i64`.
    const MAX_DIGITS: usize = 18;
    let mut value: u64 = 0;
    let digits = take_digits(bytes, &mut value);
    (digits == bytes.len() && (1..=MAX_DIGITS).contains(&digits)).then_some(value as i64)
}

/// Hours between two timestamps, if both are present and the later is after the earlier.
pub fn hours_between(earlier_ms: i64, later_ms: i64) -> Option<f64> {
    (later_ms > earlier_ms).then(|| (later_ms - earlier_ms) as f64 / 3_600_000.0)
}

/// Serde helpers: exchange JSON writes numbers as strings, numbers, or empty strings.
///
/// Each helper is a direct visitor over the JSON token (no intermediate `Content` buffer as an
/// untagged enum would build for every field): the hot path of every ticker row.
pub mod de {
    use std::fmt;

    use serde::{
        de::{self, Visitor},
        Deserializer,
    };

    /// A number from a JSON string, number or null; what "absent" means is the caller's.
    struct Number<T> {
        from_str: fn(&str) -> Option<T>,
        from_f64: fn(f64) -> Option<T>,
        from_i64: fn(i64) -> Option<T>,
        from_u64: fn(u64) -> Option<T>,
    }

    impl<'de, T> Visitor<'de> for Number<T> {
        type Value = Option<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number, a decimal string, or null")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok((self.from_str)(v))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok((self.from_f64)(v))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok((self.from_i64)(v))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok((self.from_u64)(v))
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    /// `"1.5"`, `1.5`, `""`, `null` or missing → `Option<f64>` (empty and null are `None`).
    pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        d.deserialize_any(Number {
            from_str: super::decimal,
            from_f64: |n| Some(n).filter(|v| v.is_finite()),
            from_i64: |n| Some(n as f64),
            from_u64: |n| Some(n as f64),
        })
    }

    /// `"1700000000000"`, `1700000000000`, `""`, `0` or missing → `Option<i64>` (0 is `None`).
    pub fn opt_ts<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        d.deserialize_any(Number {
            from_str: super::timestamp_ms,
            from_f64: |n| Some(n as i64).filter(|v| *v > 0),
            from_i64: |n| Some(n).filter(|v| *v > 0),
            from_u64: |n| i64::try_from(n).ok().filter(|v| *v > 0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_keep_absent_absent() {
        let cases: &[(&str, Option<f64>)] = &[
            ("1.5", Some(1.5)),
            ("0.00000000", Some(0.0)),
            ("", None),
            ("  ", None),
            ("abc", None),
            ("NaN", None),
            ("inf", None),
            ("-0.0001", Some(-0.0001)),
        ];
        for (input, want) in cases {
            assert_eq!(decimal(input), *want, "input {input:?}");
        }
        assert_eq!(nonzero_decimal("0.00000000"), None);
        assert_eq!(nonzero_decimal("0.1"), Some(0.1));
    }

    /// The shortcut gives the general parser's bits for every form it takes, and leaves the
    /// rest to it.
    #[test]
    fn plain_decimals_match_the_general_parser() {
        let mut inputs: Vec<String> = [
            "0",
            "-0",
            "0.0",
            "-0.00000000",
            "1",
            "94626.1",
            "0.00028116",
            "-2.328",
            "19014199057.01",
            "0.1",
            "0.3",
            "2.675",
            "1.005",
            "9007199254740992",
            "9007199254740993",
            "0.000000000000000000001",
            "123456789012345.678",
            ".5",
            "5.",
            "18446744073709551615",
            "99999999999999999999",
            "1e5",
            "+1",
            " 1",
            "1 ",
            "1.2.3",
            "",
            ".",
            "-",
            "--1",
            "1_0",
            "0x10",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Every mantissa/scale pair of a small grid, the way exchanges print prices and rates.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let digits = seed % 10_u64.pow((seed >> 40) as u32 % 17 + 1);
            let scale = (seed >> 20) as usize % 12;
            let mut s = digits.to_string();
            if scale > 0 {
                if s.len() <= scale {
                    s = format!("{}{s}", "0".repeat(scale - s.len() + 1));
                }
                s.insert(s.len() - scale, '.');
            }
            if seed & 1 == 1 {
                s.insert(0, '-');
            }
            inputs.push(s);
        }
        for input in &inputs {
            let general = input.trim().parse::<f64>().ok().filter(|v| v.is_finite());
            if let Some(fast) = plain_decimal(input.as_bytes()) {
                assert_eq!(Some(fast.to_bits()), general.map(f64::to_bits), "{input:?}");
            }
            assert_eq!(
                decimal(input).map(f64::to_bits),
                if input.trim().is_empty() {
                    None
                } else {
                    general.map(f64::to_bits)
                },
                "{input:?}"
            );
        }
        assert!(
            plain_decimal(b"94626.1").is_some(),
            "the common form takes the shortcut"
        );
        assert!(plain_decimal(b"1e5").is_none());
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp_ms("1703116800000"), Some(1_703_116_800_000));
        assert_eq!(timestamp_ms("0"), None);
        assert_eq!(timestamp_ms(""), None);
        assert_eq!(timestamp_ms("x"), None);
        for input in [
            "1",
            "007",
            " 1703116800000 ",
            "-5",
            "+5",
            "999999999999999999",
            "9223372036854775807",
            "9223372036854775808",
            "1.5",
            "",
        ] {
            assert_eq!(
                timestamp_ms(input),
                input.trim().parse::<i64>().ok().filter(|v| *v > 0),
                "{input:?}"
            );
        }
        assert_eq!(
            hours_between(1_703_088_000_000, 1_703_116_800_000),
            Some(8.0)
        );
        assert_eq!(hours_between(5, 5), None);
    }

    #[test]
    fn serde_helpers_read_strings_numbers_and_null() {
        #[derive(serde::Deserialize)]
        struct Row {
            #[serde(default, deserialize_with = "de::opt_f64")]
            v: Option<f64>,
            #[serde(default, deserialize_with = "de::opt_ts")]
            t: Option<i64>,
        }
        let cases: &[(&str, Option<f64>, Option<i64>)] = &[
            (
                r#"{"v":"1.5","t":"1700000000000"}"#,
                Some(1.5),
                Some(1_700_000_000_000),
            ),
            (
                r#"{"v":1.5,"t":1700000000000}"#,
                Some(1.5),
                Some(1_700_000_000_000),
            ),
            (r#"{"v":-2,"t":-5}"#, Some(-2.0), None),
            (r#"{"v":"","t":""}"#, None, None),
            (r#"{"v":null,"t":null}"#, None, None),
            (r#"{}"#, None, None),
            (r#"{"v":"0","t":0}"#, Some(0.0), None),
            (r#"{"v":"\u0031.25","t":"\u0031"}"#, Some(1.25), Some(1)),
            (r#"{"v":"NaN","t":"x"}"#, None, None),
            (
                r#"{"v":18446744073709551615,"t":1.7e12}"#,
                Some(1.8446744073709552e19),
                Some(1_700_000_000_000),
            ),
            (r#"{"t":18446744073709551615}"#, None, None),
        ];
        for (json, v, t) in cases {
            let row: Row = serde_json::from_str(json).unwrap();
            assert_eq!((row.v, row.t), (*v, *t), "{json}");
        }
        for bad in [r#"{"v":true}"#, r#"{"v":[1]}"#, r#"{"t":{"a":1}}"#] {
            assert!(serde_json::from_str::<Row>(bad).is_err(), "{bad}");
        }
    }
}

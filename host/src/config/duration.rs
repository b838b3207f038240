//! Human-readable durations in config (`500ms`, `5s`, `1m`, `1h`, `1d`, or `off`).
//! Owns parsing and printing only; never reads clocks.

use std::{fmt, str::FromStr, time::Duration};

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A config duration. `off` (or `0`) is `Interval(None)` where a duration may be disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConfigDuration(pub Duration);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {input:?}: {reason} (use e.g. \"500ms\", \"5s\", \"1m\", \"1h\", \"1d\")"
)]
pub struct DurationError {
    input: String,
    reason: &'static str,
}

impl FromStr for ConfigDuration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| DurationError {
            input: s.to_owned(),
            reason,
        };
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| err("missing unit"))?;
        let (number, unit) = t.split_at(split);
        let value: f64 = number.parse().map_err(|_| err("not a number"))?;
        let millis_per_unit = match unit.trim() {
            "ms" => 1.0,
            "s" => 1_000.0,
            "m" | "min" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            _ => return Err(err("unknown unit")),
        };
        let millis = value * millis_per_unit;
        if !millis.is_finite() || !(0.0..=1e13).contains(&millis) {
            return Err(err("out of range"));
        }
        Ok(Self(
            Duration::from_micros((millis * 1000.0).round() as u64),
        ))
    }
}

impl fmt::Display for ConfigDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        const UNITS: [(u128, &str); 4] = [
            (86_400_000, "d"),
            (3_600_000, "h"),
            (60_000, "m"),
            (1_000, "s"),
        ];
        for (size, unit) in UNITS {
            if ms >= size && ms.is_multiple_of(size) {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{ms}ms")
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

impl Serialize for ConfigDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl schemars::JsonSchema for ConfigDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[0-9]+(\\.[0-9]+)?(ms|s|m|min|h|d)$",
            "description": "A duration: a number and a unit (ms, s, m, h, d), e.g. \"5s\"."
        })
    }
}

/// A poll interval that may be switched off with `"off"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PollInterval(pub Option<Duration>);

impl<'de> Deserialize<'de> for PollInterval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim().eq_ignore_ascii_case("off") {
            return Ok(Self(None));
        }
        let parsed: ConfigDuration = s.parse().map_err(de::Error::custom)?;
        if parsed.0.is_zero() {
            return Err(de::Error::custom(format!(
                "interval {s:?} must be greater than zero (or \"off\")"
            )));
        }
        Ok(Self(Some(parsed.0)))
    }
}

impl Serialize for PollInterval {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            None => s.serialize_str("off"),
            Some(d) => s.collect_str(&ConfigDuration(d)),
        }
    }
}

impl schemars::JsonSchema for PollInterval {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PollInterval".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^(off|[0-9]+(\\.[0-9]+)?(ms|s|m|min|h|d))$",
            "description": "A poll interval (\"5s\", \"1h\") or \"off\" to disable the kind."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let cases = [
            ("500ms", 500),
            ("5s", 5_000),
            ("1.5s", 1_500),
            ("1m", 60_000),
            ("1h", 3_600_000),
            ("1d", 86_400_000),
        ];
        for (input, ms) in cases {
            let d: ConfigDuration = input.parse().unwrap();
            assert_eq!(d.0, Duration::from_millis(ms), "{input}");
        }
        assert_eq!(
            ConfigDuration(Duration::from_millis(90_000)).to_string(),
            "90s"
        );
        assert_eq!(
            ConfigDuration(Duration::from_millis(3_600_000)).to_string(),
            "1h"
        );
        assert_eq!(
            ConfigDuration(Duration::from_millis(1_500)).to_string(),
            "1500ms"
        );
    }

    #[test]
    fn rejects_garbage_with_a_reason() {
        for bad in ["", "5", "s", "5 parsecs", "-1s", "abc"] {
            let e = bad.parse::<ConfigDuration>().unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn poll_interval_off_and_zero() {
        let off: PollInterval = serde_json::from_str("\"off\"").unwrap();
        assert_eq!(off.0, None);
        let e = serde_json::from_str::<PollInterval>("\"0s\"").unwrap_err();
        assert!(e.to_string().contains("greater than zero"), "{e}");
    }
}

//! Timestamps in the forms exchanges write them, to Unix milliseconds: integers or decimals in
//! seconds (Gate), milliseconds, microseconds or nanoseconds (KuCoin's ticker `ts`), ISO-8601
//! date-times (dYdX's indexer, BitMEX), and countdowns relative to `ctx.now_ms`.
//!
//! Owns: unit conversion and the ISO-8601 reader. Must not: guess a unit from a value's size
//! (the adapter states the unit its exchange documents), read a clock (a countdown takes the
//! caller's `now_ms`), or treat a date-time without a zone as a point in time.

/// The unit of an exchange's numeric timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Seconds,
    Millis,
    Micros,
    Nanos,
}

const MS_PER_SECOND: i64 = 1_000;
const MICROS_PER_MS: i64 = 1_000;
const NANOS_PER_MS: i64 = 1_000_000;
const MS_PER_DAY: i64 = 86_400_000;
const MS_PER_HOUR: i64 = 3_600_000;
const MS_PER_MINUTE: i64 = 60_000;

impl TimeUnit {
    /// `value` in this unit as Unix ms (sub-millisecond parts truncated); `None` when it does
    /// not fit.
    pub fn to_ms(self, value: i64) -> Option<i64> {
        match self {
            Self::Seconds => value.checked_mul(MS_PER_SECOND),
            Self::Millis => Some(value),
            Self::Micros => Some(value / MICROS_PER_MS),
            Self::Nanos => Some(value / NANOS_PER_MS),
        }
    }

    /// A decimal `value` in this unit (`1703116800.5` seconds) as Unix ms, rounded to the
    /// nearest millisecond; `None` when it is not finite or does not fit.
    pub fn decimal_to_ms(self, value: f64) -> Option<i64> {
        let per_ms = match self {
            Self::Seconds => 1.0 / MS_PER_SECOND as f64,
            Self::Millis => 1.0,
            Self::Micros => MICROS_PER_MS as f64,
            Self::Nanos => NANOS_PER_MS as f64,
        };
        let ms = (value / per_ms).round();
        (ms.is_finite() && ms.abs() < i64::MAX as f64).then_some(ms as i64)
    }
}

/// A timestamp string in `unit` (an integer or a decimal) as Unix ms; empty, unparsable or not
/// after the epoch is absent.
pub fn timestamp_in(s: &str, unit: TimeUnit) -> Option<i64> {
    let s = s.trim();
    let ms = match s.parse::<i64>() {
        Ok(v) => unit.to_ms(v),
        Err(_) => s.parse::<f64>().ok().and_then(|v| unit.decimal_to_ms(v)),
    };
    ms.filter(|v| *v > 0)
}

/// The absolute time of a countdown (`remaining_ms` from `now_ms`, as KuCoin's
/// `nextFundingRateTime`); a negative countdown is absent.
pub fn countdown_to_ms(now_ms: i64, remaining_ms: i64) -> Option<i64> {
    (remaining_ms >= 0)
        .then(|| now_ms.checked_add(remaining_ms))
        .flatten()
}

/// An ISO-8601 date-time with a zone (`2024-02-29T12:34:56.789Z`, `…+02:00`, `…-0530`; a space
/// for the `T`; any number of fraction digits, truncated to milliseconds) as Unix ms. Before
/// the epoch is negative (BitMEX writes durations as times after 2000-01-01). A date-time
/// without a zone, an impossible date or anything else is `None`.
pub fn iso8601_ms(s: &str) -> Option<i64> {
    let mut r = Reader(s.trim().as_bytes());
    let year = r.digits(4)?;
    r.expect(b'-')?;
    let month = r.digits(2)?;
    r.expect(b'-')?;
    let day = r.digits(2)?;
    match r.next()? {
        b'T' | b't' | b' ' => {}
        _ => return None,
    }
    let hour = r.digits(2)?;
    r.expect(b':')?;
    let minute = r.digits(2)?;
    r.expect(b':')?;
    let second = r.digits(2)?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let millis = if r.peek() == Some(b'.') {
        r.next();
        r.fraction_ms()?
    } else {
        0
    };
    let offset_ms = r.zone_offset_ms()?;
    if !r.0.is_empty() {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let local = days * MS_PER_DAY
        + hour * MS_PER_HOUR
        + minute * MS_PER_MINUTE
        + second * MS_PER_SECOND
        + millis;
    Some(local - offset_ms)
}

/// A cursor over the bytes of a date-time.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn next(&mut self) -> Option<u8> {
        let (first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*first)
    }

    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    /// Exactly `n` decimal digits.
    fn digits(&mut self, n: usize) -> Option<i64> {
        (0..n).try_fold(0i64, |value, _| {
            let b = self.next()?;
            b.is_ascii_digit().then(|| value * 10 + i64::from(b - b'0'))
        })
    }

    /// One or more fraction digits, as milliseconds (the first three; the rest truncated).
    fn fraction_ms(&mut self) -> Option<i64> {
        let mut millis = 0;
        let mut count = 0;
        while let Some(b) = self.peek().filter(u8::is_ascii_digit) {
            self.next();
            if count < 3 {
                millis = millis * 10 + i64::from(b - b'0');
            }
            count += 1;
        }
        if count == 0 {
            return None;
        }
        for _ in count..3 {
            millis *= 10;
        }
        Some(millis)
    }

    /// `Z`, `±HH:MM` or `±HHMM`, as the zone's offset from UTC in ms.
    fn zone_offset_ms(&mut self) -> Option<i64> {
        let sign = match self.next()? {
            b'Z' | b'z' => return Some(0),
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let hours = self.digits(2)?;
        if self.peek() == Some(b':') {
            self.next();
        }
        let minutes = self.digits(2)?;
        (hours <= 23 && minutes <= 59)
            .then_some(sign * (hours * MS_PER_HOUR + minutes * MS_PER_MINUTE))
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the proleptic Gregorian date (the days-from-civil algorithm: years
/// counted from March, so the leap day ends a year).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    /// Days in a 400-year era of the Gregorian calendar.
    const DAYS_PER_ERA: i64 = 146_097;
    /// Days from 0000-03-01 to 1970-01-01.
    const EPOCH_OFFSET_DAYS: i64 = 719_468;
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * DAYS_PER_ERA + day_of_era - EPOCH_OFFSET_DAYS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_date_times() {
        let cases: &[(&str, Option<i64>)] = &[
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2024-02-29T12:34:56.789Z", Some(1_709_210_096_789)),
            ("2000-01-01T08:00:00.000Z", Some(946_713_600_000)),
            (
                "2021-12-31T23:59:59.999999999+02:00",
                Some(1_640_987_999_999),
            ),
            ("2024-03-10T05:00:00-0530", Some(1_710_066_600_000)),
            ("2024-03-10 05:00:00-05:30", Some(1_710_066_600_000)),
            ("1969-12-31T23:59:59Z", Some(-1_000)),
            ("2024-02-29T12:34:56.7Z", Some(1_709_210_096_700)),
            // without a zone it is no point in time
            ("2024-02-29T12:34:56", None),
            ("2023-02-29T00:00:00Z", None),
            ("2024-13-01T00:00:00Z", None),
            ("2024-04-31T00:00:00Z", None),
            ("2024-01-01T24:00:00Z", None),
            ("2024-01-01T00:60:00Z", None),
            ("2024-01-01T00:00:00.Z", None),
            ("2024-01-01T00:00:00Zjunk", None),
            ("2024-1-01T00:00:00Z", None),
            ("", None),
            ("not a date", None),
            ("1703116800000", None),
        ];
        for (input, expected) in cases {
            assert_eq!(iso8601_ms(input), *expected, "{input:?}");
        }
    }

    #[test]
    fn days_from_civil_agrees_with_counting() {
        // Walk day by day across leap years and a century that is not one.
        let mut days = days_from_civil(1899, 12, 31);
        for year in 1900..=2104 {
            for month in 1..=12 {
                for day in 1..=days_in_month(year, month) {
                    days += 1;
                    assert_eq!(
                        days_from_civil(year, month, day),
                        days,
                        "{year}-{month}-{day}"
                    );
                }
            }
        }
    }

    #[test]
    fn units_convert_to_ms() {
        let cases: &[(&str, TimeUnit, Option<i64>)] = &[
            ("1703116800", TimeUnit::Seconds, Some(1_703_116_800_000)),
            ("1703116800.5", TimeUnit::Seconds, Some(1_703_116_800_500)),
            ("1703116800000", TimeUnit::Millis, Some(1_703_116_800_000)),
            (
                "1703116800000123",
                TimeUnit::Micros,
                Some(1_703_116_800_000),
            ),
            (
                "1703116800000123456",
                TimeUnit::Nanos,
                Some(1_703_116_800_000),
            ),
            ("0", TimeUnit::Seconds, None),
            ("-5", TimeUnit::Millis, None),
            ("", TimeUnit::Nanos, None),
            ("soon", TimeUnit::Seconds, None),
            ("9223372036854775807", TimeUnit::Seconds, None),
            ("NaN", TimeUnit::Seconds, None),
        ];
        for (input, unit, expected) in cases {
            assert_eq!(timestamp_in(input, *unit), *expected, "{input:?} {unit:?}");
        }
    }

    #[test]
    fn countdowns_are_absolute_times() {
        assert_eq!(countdown_to_ms(1_000, 500), Some(1_500));
        assert_eq!(countdown_to_ms(1_000, 0), Some(1_000));
        assert_eq!(countdown_to_ms(1_000, -1), None);
        assert_eq!(countdown_to_ms(i64::MAX, 1), None);
    }
}

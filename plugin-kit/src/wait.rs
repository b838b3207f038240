//! How long a rate-limited response asks us to wait: a `Retry-After` header (delay-seconds or
//! an HTTP-date), a rate-limit reset timestamp header (Unix ms), or a "banned until <Unix ms>"
//! in the exchange's message; every answer capped by one constant.
//!
//! Owns: reading those three forms, relative to the host's clock (`Context::now_ms`), and
//! [`MAX_WAIT_MS`].
//! Must not: read a clock, sleep, or decide the error class (the envelope does).

use plugin_api::HttpResponse;

use crate::numbers::timestamp_ms;

/// Longest wait any hint can ask for, 10 minutes: Bybit's documented IP ban, and more than any
/// other exchange asks. A longer hint is a skewed clock or a wrong header, and waiting longer
/// would hide the exchange from the operator for no reason.
pub const MAX_WAIT_MS: u64 = 600_000;

/// Milliseconds per second.
const MS_PER_SECOND: u64 = 1_000;
/// Seconds per day, hour and minute (UTC has no leap seconds in Unix time).
const SECONDS_PER_DAY: i64 = 86_400;
const SECONDS_PER_HOUR: u32 = 3_600;
const SECONDS_PER_MINUTE: u32 = 60;

/// Where an exchange puts its wait hint. An envelope lists the ones its exchange uses, in
/// order; the first that gives a wait wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitHint {
    /// `Retry-After: <seconds>` or `Retry-After: <HTTP-date>` (RFC 9110, section 10.2.3).
    RetryAfter,
    /// A header holding the Unix-ms time the limit resets (Bybit `X-Bapi-Limit-Reset-Timestamp`).
    ResetTimestampHeader(&'static str),
    /// "... banned until 1663055331178 ..." in the error message (Binance -1003).
    BannedUntilInMessage,
}

impl WaitHint {
    /// The wait this hint gives for `response` (its error `message` for message hints), relative
    /// to `now_ms`, capped at [`MAX_WAIT_MS`]; `None` when the hint is absent, malformed, or
    /// already past.
    pub fn wait_ms(self, response: &HttpResponse<'_>, message: &str, now_ms: i64) -> Option<u64> {
        match self {
            Self::RetryAfter => retry_after_ms(response.header("retry-after")?, now_ms),
            Self::ResetTimestampHeader(name) => {
                until_ms(timestamp_ms(response.header(name)?)?, now_ms)
            }
            Self::BannedUntilInMessage => until_ms(banned_until_ms(message)?, now_ms),
        }
    }
}

/// The first wait `hints` give for `response`, if any.
pub fn first_wait_ms(
    hints: &[WaitHint],
    response: &HttpResponse<'_>,
    message: &str,
    now_ms: i64,
) -> Option<u64> {
    hints
        .iter()
        .find_map(|hint| hint.wait_ms(response, message, now_ms))
}

/// A `Retry-After` value: delay-seconds, or an HTTP-date relative to `now_ms`; capped, and
/// `None` for zero, the past, or anything else.
pub fn retry_after_ms(value: &str, now_ms: i64) -> Option<u64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return cap(seconds.saturating_mul(MS_PER_SECOND));
    }
    until_ms(http_date_ms(value)?, now_ms)
}

/// The wait from `now_ms` until `until_ms`, capped; `None` when it is not in the future.
pub fn until_ms(until_ms: i64, now_ms: i64) -> Option<u64> {
    cap(u64::try_from(until_ms.checked_sub(now_ms)?).ok()?)
}

fn cap(wait_ms: u64) -> Option<u64> {
    Some(wait_ms.min(MAX_WAIT_MS)).filter(|ms| *ms > 0)
}

/// The timestamp in "... IP banned until 1663055331178. ..." (Binance -1003 message).
fn banned_until_ms(message: &str) -> Option<i64> {
    let (_, rest) = message.split_once("until")?;
    let rest = rest.trim_start();
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .map_or(rest, |end| rest.get(..end).unwrap_or_default());
    timestamp_ms(digits)
}

/// Months as HTTP-dates spell them.
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, the form RFC 9110 requires senders to
/// use) as Unix ms; `None` for anything else, including the obsolete forms.
pub fn http_date_ms(text: &str) -> Option<i64> {
    let (_weekday, rest) = text.split_once(", ")?;
    let mut parts = rest.split(' ');
    let day: u32 = parts.next()?.parse().ok()?;
    let month = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == month)? as u32 + 1;
    let year: i64 = parts.next()?.parse().ok()?;
    let clock = parts.next()?;
    if parts.next()? != "GMT" || parts.next().is_some() {
        return None;
    }
    let mut hms = clock.split(':').map(|p| p.parse::<u32>().ok());
    let (hour, minute, second) = (hms.next()??, hms.next()??, hms.next()??);
    if hms.next().is_some() || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * SECONDS_PER_DAY
        + i64::from(hour * SECONDS_PER_HOUR + minute * SECONDS_PER_MINUTE + second);
    seconds.checked_mul(MS_PER_SECOND as i64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`:
/// years counted from March, in 400-year eras of 146,097 days; 719,468 days from 0000-03-01 to
/// 1970-01-01).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use plugin_api::{HttpRequest, KeyValueRef};

    use super::*;
    use crate::testing::response;

    /// 2026-12-05T16:00:00Z.
    const NOW_MS: i64 = 1_796_486_400_000;

    #[test]
    fn retry_after_values() {
        let cases: &[(&str, Option<u64>)] = &[
            ("7", Some(7_000)),
            (" 2 ", Some(2_000)),
            ("0", None),
            ("600", Some(MAX_WAIT_MS)),
            ("86400", Some(MAX_WAIT_MS)),
            ("18446744073709551615", Some(MAX_WAIT_MS)),
            ("-5", None),
            ("1.5", None),
            ("", None),
            ("soon", None),
            ("Sat, 05 Dec 2026 16:00:30 GMT", Some(30_000)),
            ("Sat, 05 Dec 2026 17:00:00 GMT", Some(MAX_WAIT_MS)),
            ("Sat, 05 Dec 2026 15:59:00 GMT", None),
            ("Sat, 05 Dec 2026 16:00:00 GMT", None),
            ("Saturday, 05-Dec-26 16:00:30 GMT", None),
            ("Sat Dec  5 16:00:30 2026", None),
            ("Sat, 05 Dec 2026 16:00:30 UTC", None),
            ("Sat, 32 Dec 2026 16:00:30 GMT", None),
            ("Sat, 05 Foo 2026 16:00:30 GMT", None),
            ("Sat, 05 Dec 2026 24:00:30 GMT", None),
            ("Sat, 05 Dec 2026 16:00 GMT", None),
        ];
        for (value, want) in cases {
            assert_eq!(retry_after_ms(value, NOW_MS), *want, "{value:?}");
        }
    }

    #[test]
    fn http_dates_are_unix_time() {
        let cases: &[(&str, i64)] = &[
            ("Thu, 01 Jan 1970 00:00:00 GMT", 0),
            ("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777_000),
            ("Tue, 29 Feb 2000 12:00:00 GMT", 951_825_600_000),
            ("Sat, 05 Dec 2026 16:00:00 GMT", NOW_MS),
        ];
        for (text, want) in cases {
            assert_eq!(http_date_ms(text), Some(*want), "{text}");
        }
    }

    #[test]
    fn hints_read_headers_and_messages() {
        let request = HttpRequest::get("/x", "tag");
        let headers = [
            KeyValueRef {
                key: "retry-after".into(),
                value: "3".into(),
            },
            KeyValueRef {
                key: "x-reset".into(),
                value: "1796486405000".into(),
            },
        ];
        let response = response(&request, 429, &headers, b"");
        let banned = "Way too much request weight used; IP banned until 1796486410000. Please use the websocket.";
        let cases: &[(WaitHint, &str, Option<u64>)] = &[
            (WaitHint::RetryAfter, "", Some(3_000)),
            (WaitHint::ResetTimestampHeader("x-reset"), "", Some(5_000)),
            (WaitHint::ResetTimestampHeader("x-absent"), "", None),
            (WaitHint::BannedUntilInMessage, banned, Some(10_000)),
            (
                WaitHint::BannedUntilInMessage,
                "banned until tomorrow",
                None,
            ),
            (
                WaitHint::BannedUntilInMessage,
                "IP banned until 1000.",
                None,
            ),
            (WaitHint::BannedUntilInMessage, "no hint", None),
            (
                WaitHint::BannedUntilInMessage,
                "banned until 99999999999999",
                Some(MAX_WAIT_MS),
            ),
        ];
        for (hint, message, want) in cases {
            assert_eq!(
                hint.wait_ms(&response, message, NOW_MS),
                *want,
                "{hint:?} {message:?}"
            );
        }
        let order = [WaitHint::BannedUntilInMessage, WaitHint::RetryAfter];
        assert_eq!(
            first_wait_ms(&order, &response, banned, NOW_MS),
            Some(10_000)
        );
        assert_eq!(first_wait_ms(&order, &response, "", NOW_MS), Some(3_000));
        assert_eq!(first_wait_ms(&[], &response, banned, NOW_MS), None);
    }
}

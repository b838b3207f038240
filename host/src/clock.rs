//! The wall clock, in the one unit records and reports use.
//!
//! Owns `now_ms`. Must not hold state: every module that stamps time (collection, telemetry,
//! alerts, the registry) reads it here, so none of them depends on another for the time.

/// Unix time in milliseconds (0 if the system clock is before 1970).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

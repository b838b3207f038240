//! The AMQP sink's counters and link state ([`AmqpStats`], shared by the facade and the
//! publisher task) and their copy into telemetry every second.
//!
//! Owns the numbers. Must not publish or decide anything.

use std::{
    sync::atomic::AtomicU64, sync::atomic::AtomicU8, sync::atomic::Ordering, sync::Arc,
    time::Duration,
};

use super::Command;
use tokio::sync::mpsc;

/// State of the link to the broker, as kept in [`AmqpStats::state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum LinkState {
    /// Trying to connect (also the state at start).
    Connecting = 0,
    /// Connected and publishing.
    Connected = 1,
    /// Connected, but the broker refuses publishes (resource alarm): records are spooled.
    Blocked = 2,
    /// Not connected; waiting to retry. Records are spooled.
    Down = 3,
    /// The sink was closed.
    Closed = 4,
}

impl LinkState {
    pub(super) fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Connected,
            2 => Self::Blocked,
            3 => Self::Down,
            4 => Self::Closed,
            _ => Self::Connecting,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Connected => "connected",
            Self::Blocked => "blocked",
            Self::Down => "down",
            Self::Closed => "closed",
        }
    }
}

/// The sink's counters (totals since start unless marked as a gauge), shared with whoever
/// reports them (metrics, tests). Relaxed atomics: each value is exact, a set of them is not
/// one consistent instant.
#[derive(Debug)]
pub struct AmqpStats {
    /// `basic.publish` calls, republishing included.
    pub published_messages: AtomicU64,
    /// Records the broker confirmed and routed to at least one queue (replayed ones included).
    pub confirmed_records: AtomicU64,
    /// Messages the broker nacked (each nack is retried).
    pub nacked_messages: AtomicU64,
    /// Records confirmed but unroutable (returned: no queue bound for their routing key).
    pub returned_records: AtomicU64,
    /// Records written to the spool.
    pub spooled_records: AtomicU64,
    /// Spooled records later confirmed by the broker.
    pub replayed_records: AtomicU64,
    /// Records dropped because the spool was full (the oldest go first) or a message was
    /// larger than the whole spool.
    pub dropped_records: AtomicU64,
    /// Records lost with damaged spool entries (found while replaying).
    pub damaged_records: AtomicU64,
    /// Bytes of damaged spool data skipped or cut off.
    pub damaged_bytes: AtomicU64,
    /// Spooled records the broker returned as unroutable when they were replayed (records
    /// returned while being written are reported through the write's result).
    pub replay_returned_records: AtomicU64,
    /// Why the last spool write failed, while it keeps failing (a full disk); `None` once a
    /// write succeeds again.
    pub spool_write_error: std::sync::Mutex<Option<String>>,
    /// Records that could not be encoded (unknown enum values from a newer plugin).
    pub unencodable_records: AtomicU64,
    /// Gauge: messages published and awaiting a confirm.
    pub unconfirmed_messages: AtomicU64,
    /// Gauge: records in the spool.
    pub spool_records: AtomicU64,
    /// Gauge: bytes of the spool's files.
    pub spool_bytes: AtomicU64,
    /// Successful connections (the first included).
    pub connections: AtomicU64,
    /// Gauge: [`LinkState`] as a number.
    pub state: AtomicU8,
}

impl Default for AmqpStats {
    fn default() -> Self {
        Self {
            published_messages: AtomicU64::new(0),
            confirmed_records: AtomicU64::new(0),
            nacked_messages: AtomicU64::new(0),
            returned_records: AtomicU64::new(0),
            spooled_records: AtomicU64::new(0),
            replayed_records: AtomicU64::new(0),
            dropped_records: AtomicU64::new(0),
            damaged_records: AtomicU64::new(0),
            damaged_bytes: AtomicU64::new(0),
            replay_returned_records: AtomicU64::new(0),
            spool_write_error: std::sync::Mutex::new(None),
            unencodable_records: AtomicU64::new(0),
            unconfirmed_messages: AtomicU64::new(0),
            spool_records: AtomicU64::new(0),
            spool_bytes: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            state: AtomicU8::new(LinkState::Connecting as u8),
        }
    }
}

/// A copy of [`AmqpStats`] at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmqpStatsSnapshot {
    pub published_messages: u64,
    pub confirmed_records: u64,
    pub nacked_messages: u64,
    pub returned_records: u64,
    pub spooled_records: u64,
    pub replayed_records: u64,
    pub dropped_records: u64,
    pub damaged_records: u64,
    pub damaged_bytes: u64,
    pub replay_returned_records: u64,
    pub unencodable_records: u64,
    pub unconfirmed_messages: u64,
    pub spool_records: u64,
    pub spool_bytes: u64,
    pub connections: u64,
    pub state: LinkState,
}

impl AmqpStats {
    pub fn snapshot(&self) -> AmqpStatsSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        AmqpStatsSnapshot {
            published_messages: g(&self.published_messages),
            confirmed_records: g(&self.confirmed_records),
            nacked_messages: g(&self.nacked_messages),
            returned_records: g(&self.returned_records),
            spooled_records: g(&self.spooled_records),
            replayed_records: g(&self.replayed_records),
            dropped_records: g(&self.dropped_records),
            damaged_records: g(&self.damaged_records),
            damaged_bytes: g(&self.damaged_bytes),
            replay_returned_records: g(&self.replay_returned_records),
            unencodable_records: g(&self.unencodable_records),
            unconfirmed_messages: g(&self.unconfirmed_messages),
            spool_records: g(&self.spool_records),
            spool_bytes: g(&self.spool_bytes),
            connections: g(&self.connections),
            state: self.state(),
        }
    }

    pub fn state(&self) -> LinkState {
        LinkState::from_u8(self.state.load(Ordering::Relaxed))
    }

    pub(super) fn set_state(&self, state: LinkState) {
        self.state.store(state as u8, Ordering::Relaxed);
    }

    pub(super) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Why spool writes fail now, if they do.
    pub fn spool_write_error(&self) -> Option<String> {
        self.spool_write_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(super) fn set_spool_write_error(&self, error: Option<String>) {
        *self
            .spool_write_error
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = error;
    }
}

/// How often the broker-side counters are copied into telemetry.
pub(super) const TELEMETRY_INTERVAL: Duration = Duration::from_secs(1);

/// Copies the sink's counters into `telemetry` every [`TELEMETRY_INTERVAL`] (as deltas) and
/// maps the link state to the sink state readiness and alerts use. Ends with the sink.
pub(super) async fn report_stats(
    stats: Arc<AmqpStats>,
    telemetry: crate::observe::telemetry::Telemetry,
    commands: mpsc::WeakSender<Command>,
) {
    use crate::observe::telemetry::{DropReason, SinkState};
    let mut last = stats.snapshot();
    let mut last_state = None;
    let mut tick = tokio::time::interval(TELEMETRY_INTERVAL);
    loop {
        tick.tick().await;
        if commands.upgrade().is_none() {
            return;
        }
        let now = stats.snapshot();
        let delta = |f: fn(&AmqpStatsSnapshot) -> u64| f(&now).saturating_sub(f(&last));
        telemetry.sink_confirmed(delta(|s| s.confirmed_records));
        telemetry.sink_spooled(delta(|s| s.spooled_records));
        telemetry.sink_dropped(DropReason::SpoolFull, delta(|s| s.dropped_records));
        telemetry.sink_dropped(DropReason::SpoolDamaged, delta(|s| s.damaged_records));
        telemetry.sink_spool_damaged_bytes(delta(|s| s.damaged_bytes));
        telemetry.sink_failed(delta(|s| s.replay_returned_records));
        telemetry.sink_spool(now.spool_records, now.spool_bytes);
        let write_error = stats.spool_write_error();
        let state = match now.state {
            _ if write_error.is_some() => SinkState::Failing,
            LinkState::Connected if now.spool_records == 0 => SinkState::Ok,
            LinkState::Connected | LinkState::Blocked | LinkState::Down | LinkState::Connecting => {
                SinkState::Spooling
            }
            LinkState::Closed => SinkState::Closed,
        };
        // Computed afresh every tick from the link state and the spool's real size.
        let mut detail = format!(
            "broker link {}, {} records in the spool ({} bytes)",
            now.state.as_str(),
            now.spool_records,
            now.spool_bytes
        );
        if let Some(error) = write_error {
            detail = format!("cannot write the spool ({error}); batches wait in memory; {detail}");
        }
        if last_state.as_ref() != Some(&(state, detail.clone())) {
            telemetry.sink_state(state, &detail);
            last_state = Some((state, detail));
        }
        last = now;
    }
}

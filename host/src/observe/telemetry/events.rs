//! The event feed: breaker changes, config reloads, alerts, plugin loads and sink state
//! changes, as a bounded list of recent events plus a broadcast for live subscribers (the
//! `/api/events` server-sent-events stream and the dashboard).
//!
//! Owns event ids and the bounds. Must not block a publisher: a subscriber that falls behind
//! loses the oldest events (it sees a gap in ids), it never slows down collection.

use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
};

use serde::Serialize;
use tokio::sync::broadcast;

/// Events kept for late joiners (`/api/status`, a dashboard that just connected).
pub const RECENT_EVENTS: usize = 200;
/// Events a live subscriber may lag behind before it starts losing the oldest ones.
pub const SUBSCRIBER_BUFFER: usize = 256;

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Breaker,
    ConfigReload,
    Alert,
    Plugin,
    Sink,
    Lifecycle,
}

/// How much an operator should care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// One entry of the feed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Increases by one per event in this process (SSE `id`).
    pub id: u64,
    /// Unix ms.
    pub ts_ms: i64,
    pub kind: EventKind,
    pub severity: Severity,
    /// The exchange instance the event is about, if any.
    pub exchange: Option<String>,
    pub message: String,
}

/// Recent events and the live broadcast.
#[derive(Debug)]
pub struct EventFeed {
    next_id: AtomicU64,
    recent: Mutex<VecDeque<Event>>,
    live: broadcast::Sender<Event>,
}

impl Default for EventFeed {
    fn default() -> Self {
        let (live, _) = broadcast::channel(SUBSCRIBER_BUFFER);
        Self {
            next_id: AtomicU64::new(1),
            recent: Mutex::new(VecDeque::with_capacity(RECENT_EVENTS)),
            live,
        }
    }
}

impl EventFeed {
    /// Records an event and hands it to live subscribers; returns it.
    pub fn publish(
        &self,
        ts_ms: i64,
        kind: EventKind,
        severity: Severity,
        exchange: Option<&str>,
        message: String,
    ) -> Event {
        let event = Event {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            ts_ms,
            kind,
            severity,
            exchange: exchange.map(str::to_owned),
            message,
        };
        {
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            if recent.len() >= RECENT_EVENTS {
                recent.pop_front();
            }
            recent.push_back(event.clone());
        }
        // No subscriber is not an error.
        let _ = self.live.send(event.clone());
        event
    }

    /// Events after `after_id` (all kept ones for 0), oldest first.
    pub fn recent_after(&self, after_id: u64) -> Vec<Event> {
        self.recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|e| e.id > after_id)
            .cloned()
            .collect()
    }

    /// The newest `n` events, newest first.
    pub fn newest(&self, n: usize) -> Vec<Event> {
        self.recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .rev()
            .take(n)
            .cloned()
            .collect()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.live.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_ordered() {
        let feed = EventFeed::default();
        let mut rx = feed.subscribe();
        for i in 0..(RECENT_EVENTS + 10) {
            feed.publish(
                i as i64,
                EventKind::Plugin,
                Severity::Info,
                Some("x"),
                format!("e{i}"),
            );
        }
        let all = feed.recent_after(0);
        assert_eq!(all.len(), RECENT_EVENTS, "oldest dropped");
        assert_eq!(all[0].id, 11);
        assert_eq!(feed.recent_after(all[all.len() - 2].id).len(), 1);
        assert_eq!(feed.newest(2)[0].message, format!("e{}", RECENT_EVENTS + 9));
        assert_eq!(rx.try_recv().map(|e| e.id).ok(), Some(1));
    }
}

//! Change detection (R2.2): a content hash per (kind, raw symbol) of one exchange; a record
//! whose content did not change since it was last sent is suppressed, except once every
//! `heartbeat`, so consumers can tell "unchanged" from "dead".
//!
//! Owns the hash cache and its bounds. Must not modify records or decide what a record
//! contains; timestamps (`exchange_ts`, `received_ts`) are excluded from the hash.

use std::time::Duration;

use rustc_hash::FxHashMap as HashMap;

use crate::state::symbol_slots::SymbolSlots;

use plugin_api::{Record, RecordKind};
use tokio::time::Instant;

/// Which timestamps [`encode_content`] includes. `received_ts` never is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timestamps {
    /// None: the hash says whether the *data* changed (change detection).
    None,
    /// `exchange_ts` too: one id per record version (AMQP `message_id`).
    Exchange,
}

/// Writes a canonical byte encoding of a record's content into `buf` (cleared first): every
/// field with its presence, lengths before strings, `received_ts` never, `exchange_ts` as
/// `timestamps` says. One encoding for every content hash in the collector.
pub fn encode_content(r: &Record, buf: &mut Vec<u8>, timestamps: Timestamps) {
    // Exhaustive on purpose: a new field in `Record` fails to compile here until it is hashed.
    #[rustfmt::skip]
    let Record {
        kind, exchange, symbol, raw_symbol, base, quote, settle, market_type,
        exchange_ts, received_ts: _,
        last, bid, ask, mark, index, volume_24h_base, volume_24h_quote,
        open_interest_base, open_interest_quote,
        rate, interval_hours, interval_source, next_funding_ts, predicted_rate,
        rate_8h, rate_annualized, rate_cap, rate_floor,
        contract_size, tick_size, status, listing_ts, delisting_ts,
        extra,
    } = r;
    let mut w = ContentWriter(buf);
    w.0.clear();
    w.0.push(kind.0);
    for s in [exchange, symbol, raw_symbol, base, quote, settle] {
        w.str(s.as_str());
    }
    w.0.push(market_type.0);
    match timestamps {
        Timestamps::Exchange => w.i64(exchange_ts.into_option()),
        Timestamps::None => w.0.push(ABSENT_BY_CHOICE),
    }
    for v in [last, bid, ask, mark, index] {
        w.f64(v.into_option());
    }
    for v in [volume_24h_base, volume_24h_quote] {
        w.f64(v.into_option());
    }
    for v in [open_interest_base, open_interest_quote] {
        w.f64(v.into_option());
    }
    for v in [rate, interval_hours] {
        w.f64(v.into_option());
    }
    match interval_source.into_option() {
        None => w.0.push(ABSENT),
        Some(s) => w.0.extend_from_slice(&[PRESENT, s.0]),
    }
    w.i64(next_funding_ts.into_option());
    for v in [predicted_rate, rate_8h, rate_annualized] {
        w.f64(v.into_option());
    }
    for v in [rate_cap, rate_floor, contract_size, tick_size] {
        w.f64(v.into_option());
    }
    match status.as_ref().into_option() {
        None => w.0.push(ABSENT),
        Some(s) => {
            w.0.push(PRESENT);
            w.str(s.as_str());
        }
    }
    w.i64(listing_ts.into_option());
    w.i64(delisting_ts.into_option());
    w.0.extend_from_slice(&(extra.len() as u32).to_le_bytes());
    for kv in extra.iter() {
        w.str(kv.key.as_str());
        w.str(kv.value.as_str());
    }
}

/// Presence tags of [`encode_content`]: a value follows `PRESENT`; `ABSENT_BY_CHOICE` stands for
/// `exchange_ts` when the encoding leaves timestamps out.
const ABSENT: u8 = 0;
const PRESENT: u8 = 1;
const ABSENT_BY_CHOICE: u8 = 2;

/// [`encode_content`]'s byte writer: strings length-prefixed (u32 LE), optional numbers as a
/// presence tag and then their 8 little-endian bytes.
struct ContentWriter<'a>(&'a mut Vec<u8>);

impl ContentWriter<'_> {
    fn str(&mut self, s: &str) {
        self.0.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
    }

    fn f64(&mut self, v: Option<f64>) {
        match v {
            None => self.0.push(ABSENT),
            Some(v) => {
                self.0.push(PRESENT);
                self.0.extend_from_slice(&v.to_bits().to_le_bytes());
            }
        }
    }

    fn i64(&mut self, v: Option<i64>) {
        match v {
            None => self.0.push(ABSENT),
            Some(v) => {
                self.0.push(PRESENT);
                self.0.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
}

/// The content hash of a record: every field except the two timestamps (XXH3-64 over
/// [`encode_content`]).
pub fn content_hash(r: &Record) -> u64 {
    CONTENT_BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        encode_content(r, &mut buf, Timestamps::None);
        twox_hash::XxHash3_64::oneshot(&buf)
    })
}

thread_local! {
    /// Reused encoding buffer (records are a few hundred bytes).
    static CONTENT_BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(512));
}

struct Entry {
    hash: u64,
    sent_at: Instant,
    seen_at: Instant,
}

/// What a filter pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FilterStats {
    pub changed: usize,
    pub heartbeats: usize,
    pub suppressed: usize,
}

/// The per-exchange cache, per kind by raw symbol in the order records arrive
/// ([`SymbolSlots`]: a cycle walks the entries front to back).
pub struct ChangeDetector {
    heartbeat: Duration,
    max_entries: usize,
    entries: HashMap<RecordKind, SymbolSlots<Entry>>,
}

impl ChangeDetector {
    pub fn new(heartbeat: Duration, max_entries: usize) -> Self {
        Self {
            heartbeat,
            max_entries: max_entries.max(1),
            entries: HashMap::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.values().map(SymbolSlots::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keeps the records to send: changed ones, and unchanged ones whose last send is at least
    /// `heartbeat` ago. Remembers what was sent.
    pub fn filter(&mut self, records: Vec<Record>, now: Instant) -> (Vec<Record>, FilterStats) {
        let mut stats = FilterStats::default();
        let heartbeat = self.heartbeat;
        let entries = &mut self.entries;
        // In place: the kept records stay in the caller's buffer (no second vector of records).
        let mut records = records;
        records.retain(|record| {
            let hash = content_hash(record);
            let by_symbol = entries.entry(record.kind).or_default();
            match by_symbol.get_mut(record.raw_symbol.as_str()) {
                Some(e) if e.hash == hash => {
                    e.seen_at = now;
                    if now.duration_since(e.sent_at) >= heartbeat {
                        e.sent_at = now;
                        stats.heartbeats += 1;
                        true
                    } else {
                        stats.suppressed += 1;
                        false
                    }
                }
                Some(e) => {
                    *e = Entry {
                        hash,
                        sent_at: now,
                        seen_at: now,
                    };
                    stats.changed += 1;
                    true
                }
                None => {
                    by_symbol.insert(
                        record.raw_symbol.clone(),
                        Entry {
                            hash,
                            sent_at: now,
                            seen_at: now,
                        },
                    );
                    stats.changed += 1;
                    true
                }
            }
        });
        self.enforce_bound();
        (records, stats)
    }

    /// The raw symbols with an entry, per kind in slot order.
    #[cfg(test)]
    fn symbols(&self) -> Vec<String> {
        let mut kinds: Vec<&RecordKind> = self.entries.keys().collect();
        kinds.sort_unstable_by_key(|k| k.0);
        kinds
            .into_iter()
            .flat_map(|k| self.entries[k].iter().map(|(raw, _)| raw.to_owned()))
            .collect()
    }

    /// Forgets instruments that left the exchange's universe.
    pub fn retain_symbols(&mut self, keep: &std::collections::HashSet<&str>) {
        for by_symbol in self.entries.values_mut() {
            by_symbol.retain(|raw, _| keep.contains(raw));
        }
    }

    /// Forgets entries not seen for `max_age` (instruments that disappeared).
    pub fn expire(&mut self, now: Instant, max_age: Duration) {
        for by_symbol in self.entries.values_mut() {
            by_symbol.retain(|_, e| now.duration_since(e.seen_at) < max_age);
        }
    }

    fn enforce_bound(&mut self) {
        let len = self.len();
        if len <= self.max_entries {
            return;
        }
        // Evict the `len - max_entries` entries seen longest ago (ties: in kind, then slot order).
        let mut seen: Vec<Instant> = self
            .entries
            .values()
            .flat_map(|by_symbol| by_symbol.iter().map(|(_, e)| e.seen_at))
            .collect();
        seen.sort_unstable();
        let excess = len - self.max_entries;
        let cutoff = seen[excess - 1];
        // Entries strictly older than the cutoff all go; of those seen exactly at it, as many as
        // are still needed.
        let mut at_cutoff = excess - seen.iter().take_while(|s| **s < cutoff).count();
        let mut kinds: Vec<RecordKind> = self.entries.keys().copied().collect();
        kinds.sort_unstable_by_key(|k| k.0);
        for kind in kinds {
            if let Some(by_symbol) = self.entries.get_mut(&kind) {
                by_symbol.retain(|_, e| {
                    if e.seen_at < cutoff {
                        false
                    } else if e.seen_at == cutoff && at_cutoff > 0 {
                        at_cutoff -= 1;
                        false
                    } else {
                        true
                    }
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_api::{abi_stable::std_types::ROption::RSome, MarketType};

    fn ticker(raw: &str, last: f64, ts: i64) -> Record {
        let mut r = Record::new(
            RecordKind::TICKER,
            "x",
            raw,
            "B",
            "USDT",
            "USDT",
            MarketType::LINEAR_PERPETUAL,
            ts,
        );
        r.last = RSome(last);
        r.exchange_ts = RSome(ts);
        r
    }

    #[test]
    fn timestamps_do_not_change_the_hash() {
        assert_eq!(
            content_hash(&ticker("A", 1.0, 1)),
            content_hash(&ticker("A", 1.0, 2))
        );
        assert_ne!(
            content_hash(&ticker("A", 1.0, 1)),
            content_hash(&ticker("A", 1.5, 1))
        );
        let mut a = ticker("A", 1.0, 1);
        a.bid = RSome(0.0);
        assert_ne!(
            content_hash(&a),
            content_hash(&ticker("A", 1.0, 1)),
            "0 differs from absent"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn suppresses_unchanged_and_resends_on_heartbeat() {
        let mut d = ChangeDetector::new(Duration::from_secs(60), 100);
        let t0 = Instant::now();
        let (out, s) = d.filter(vec![ticker("A", 1.0, 1), ticker("B", 2.0, 1)], t0);
        assert_eq!((out.len(), s.changed), (2, 2));

        tokio::time::advance(Duration::from_secs(5)).await;
        let (out, s) = d.filter(
            vec![ticker("A", 1.0, 2), ticker("B", 2.5, 2)],
            Instant::now(),
        );
        assert_eq!(out.len(), 1, "only the change goes out");
        assert_eq!(out[0].raw_symbol.as_str(), "B");
        assert_eq!((s.changed, s.suppressed, s.heartbeats), (1, 1, 0));

        tokio::time::advance(Duration::from_secs(55)).await;
        let (out, s) = d.filter(
            vec![ticker("A", 1.0, 3), ticker("B", 2.5, 3)],
            Instant::now(),
        );
        assert_eq!(
            out.len(),
            1,
            "A is 60 s old: heartbeat; B was sent 55 s ago"
        );
        assert_eq!(out[0].raw_symbol.as_str(), "A");
        assert_eq!(s.heartbeats, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn cache_is_bounded_and_expires() {
        let mut d = ChangeDetector::new(Duration::from_secs(60), 3);
        for i in 0..5 {
            d.filter(vec![ticker(&format!("S{i}"), 1.0, 1)], Instant::now());
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        assert_eq!(d.len(), 3);
        assert_eq!(
            d.symbols(),
            ["S2", "S3", "S4"],
            "the entries seen longest ago go"
        );
        tokio::time::advance(Duration::from_secs(100)).await;
        d.filter(vec![ticker("S4", 1.0, 1)], Instant::now());
        d.expire(Instant::now(), Duration::from_secs(50));
        assert_eq!(d.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn bound_holds_when_many_entries_were_seen_at_the_same_instant() {
        let mut d = ChangeDetector::new(Duration::from_secs(60), 4);
        d.filter(vec![ticker("OLD", 1.0, 1)], Instant::now());
        tokio::time::advance(Duration::from_secs(1)).await;
        let cycle: Vec<Record> = (0..5).map(|i| ticker(&format!("S{i}"), 1.0, 1)).collect();
        d.filter(cycle, Instant::now());
        assert_eq!(d.len(), 4, "exactly the bound, not fewer");
        assert!(!d.symbols().contains(&"OLD".to_owned()));
        // Still found after the eviction rebuilt the index: unchanged, so suppressed.
        let (out, s) = d.filter(vec![ticker("S4", 1.0, 2)], Instant::now());
        assert_eq!((out.len(), s.suppressed), (0, 1));
    }
}

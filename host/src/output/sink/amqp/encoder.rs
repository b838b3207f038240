//! Records to AMQP messages: routing keys, message ids (a content hash), and the grouping of
//! records into batch messages (`batch_max`). Bodies come from the message module's writer,
//! the one the JSONL and stdout sinks use.
//!
//! Owns the wire names and ids. Must not publish: it runs on the caller's task, before the
//! publisher gets the messages.

use plugin_api::Record;

use crate::{config::AMQP_SHORT_STRING_MAX, output::message::write_json};

use super::{
    stats::AmqpStats, Batch, BATCH_ROUTING_WORD, ENCODED_RECORD_CAPACITY, ID_BUFFER_CAPACITY,
};
use crate::output::sink::wire::OutMessage;

/// The `message_id` of a record: 32 lowercase hex digits of the XXH3-128 hash of every field
/// of the record except `received_ts` (kind, exchange, symbols, market type, every value with
/// its presence, extras). A republished record keeps its id; a record whose content changed in
/// any field gets a new one; a heartbeat re-send of an unchanged record has the same id.
pub fn record_message_id(record: &Record) -> String {
    let mut buf = Vec::with_capacity(ID_BUFFER_CAPACITY);
    format!("{:032x}", record_hash(record, &mut buf))
}

/// Hashes a record's content (not `received_ts`) through `buf` (cleared first).
pub(super) fn record_hash(r: &Record, buf: &mut Vec<u8>) -> u128 {
    crate::state::change_detection::encode_content(
        r,
        buf,
        crate::state::change_detection::Timestamps::Exchange,
    );
    twox_hash::XxHash3_128::oneshot(buf)
}

/// One word of a routing key: `.` would split it, so it becomes `_`.
pub(super) fn push_word(out: &mut String, word: &str) {
    out.extend(word.chars().map(|c| if c == '.' { '_' } else { c }));
}

/// `<kind>.<exchange>.<BASE>-<QUOTE>-<SETTLE>`.
pub fn record_routing_key(kind: &str, r: &Record) -> String {
    let mut key = String::with_capacity(
        kind.len() + r.exchange.len() + r.base.len() + r.quote.len() + r.settle.len() + 4,
    );
    key.push_str(kind);
    key.push('.');
    push_word(&mut key, r.exchange.as_str());
    key.push('.');
    push_word(&mut key, r.base.as_str());
    key.push('-');
    push_word(&mut key, r.quote.as_str());
    key.push('-');
    push_word(&mut key, r.settle.as_str());
    key
}

/// Turns batches into messages. Lives on the caller's task (encoding is CPU work that needs
/// no connection).
#[derive(Debug)]
pub(super) struct Encoder {
    pub(super) batch_max: usize,
    pub(super) id_buf: Vec<u8>,
}

/// A record encoded on its own.
pub(super) struct Encoded {
    pub(super) kind: &'static str,
    pub(super) routing_key: String,
    pub(super) hash: u128,
    pub(super) timestamp: u64,
    pub(super) body: Vec<u8>,
}

impl Encoder {
    pub(super) fn encode_record(&mut self, r: &Record) -> Result<Encoded, String> {
        let kind = r.kind.as_str().ok_or("unknown record kind")?;
        // The one encoder of the message format, as the JSONL and stdout sinks write it.
        let mut body = Vec::with_capacity(ENCODED_RECORD_CAPACITY);
        write_json(r, &mut body).map_err(|e| e.to_string())?;
        let routing_key = record_routing_key(kind, r);
        if routing_key.len() > AMQP_SHORT_STRING_MAX {
            return Err(format!(
                "routing key longer than {AMQP_SHORT_STRING_MAX} bytes"
            ));
        }
        Ok(Encoded {
            kind,
            routing_key,
            hash: record_hash(r, &mut self.id_buf),
            timestamp: u64::try_from(r.received_ts / 1000).unwrap_or(0),
            body,
        })
    }

    /// Encodes a batch; unencodable records are counted, logged and skipped.
    pub(super) fn encode(&mut self, batch: &Batch, stats: &AmqpStats) -> Vec<OutMessage> {
        self.encode_many(std::slice::from_ref(batch), stats)
    }

    /// Encodes several batches (gathered by `linger`) together: with batching, records of the
    /// same kind and exchange from different batches share messages. Per routing key the order
    /// of records is kept.
    pub(super) fn encode_many(&mut self, batches: &[Batch], stats: &AmqpStats) -> Vec<OutMessage> {
        let total = batches.iter().map(|b| b.records.len()).sum();
        let mut encoded = Vec::with_capacity(total);
        for batch in batches {
            for r in &batch.records {
                match self.encode_record(r) {
                    Ok(e) => encoded.push(e),
                    Err(error) => {
                        AmqpStats::add(&stats.unencodable_records, 1);
                        tracing::warn!(exchange = %batch.exchange, kind = %batch.kind, raw_symbol = %r.raw_symbol, %error, "record not encodable; skipped");
                    }
                }
            }
        }
        if self.batch_max > 1 && batches.len() > 1 {
            // Stable: the records of one kind and exchange stay in the order they came.
            encoded.sort_by(|a, b| {
                (a.kind, a.routing_key.split('.').nth(1))
                    .cmp(&(b.kind, b.routing_key.split('.').nth(1)))
            });
        }
        if self.batch_max <= 1 {
            return encoded
                .into_iter()
                .map(|e| OutMessage {
                    routing_key: e.routing_key,
                    message_id: format!("{:032x}", e.hash),
                    kind: e.kind.to_owned(),
                    timestamp: e.timestamp,
                    records: 1,
                    body: e.body,
                })
                .collect();
        }
        let mut out = Vec::new();
        let mut rest = &encoded[..];
        while let Some(first) = rest.first() {
            // One message: up to batch_max consecutive records of one kind and exchange.
            let exchange_word = first
                .routing_key
                .split('.')
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            let same = rest
                .iter()
                .take(self.batch_max)
                .take_while(|e| {
                    e.kind == first.kind
                        && e.routing_key.split('.').nth(1) == Some(exchange_word.as_str())
                })
                .count();
            let (group, tail) = rest.split_at(same.max(1));
            rest = tail;
            let body_len = group.iter().map(|e| e.body.len() + 1).sum::<usize>() + 1;
            let mut body = Vec::with_capacity(body_len);
            body.push(b'[');
            self.id_buf.clear();
            for (i, e) in group.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(&e.body);
                self.id_buf.extend_from_slice(&e.hash.to_le_bytes());
            }
            body.push(b']');
            out.push(OutMessage {
                routing_key: format!("{}.{exchange_word}.{BATCH_ROUTING_WORD}", first.kind),
                message_id: format!("{:032x}", twox_hash::XxHash3_128::oneshot(&self.id_buf)),
                kind: first.kind.to_owned(),
                timestamp: group.iter().map(|e| e.timestamp).max().unwrap_or(0),
                records: group.len() as u32,
                body,
            });
        }
        out
    }
}

//! One AMQP message as it is published and as the spool keeps it: routing key, message id,
//! kind, timestamp, record count and body; its AMQP properties and its framed spool entry
//! (length, CRC-32, fields, body).
//!
//! Owns the message's bytes on the wire and on disk. Must not publish or write: the publisher
//! (`amqp`) and the spool (`spool`) do, and both depend on this, not on each other.

use lapin::{types::ShortString, BasicProperties};

use crate::config::AMQP_SHORT_STRING_MAX;

/// `content_type` of every message.
const CONTENT_TYPE: &str = "application/json";
/// AMQP `delivery_mode` of persistent messages.
const PERSISTENT: u8 = 2;

/// One message ready to publish (or spool): everything needed to publish it again identically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutMessage {
    pub routing_key: String,
    pub message_id: String,
    /// The `type` property: the record kind.
    pub kind: String,
    /// The `timestamp` property, Unix seconds.
    pub timestamp: u64,
    /// Records in the body (1, or the length of a batch array).
    pub records: u32,
    pub body: Vec<u8>,
}

impl OutMessage {
    /// Bytes of the spool payload (see `encode_entry`).
    pub(crate) fn encoded_len(&self) -> usize {
        4 + 8
            + 1
            + self.routing_key.len()
            + 1
            + self.message_id.len()
            + 1
            + self.kind.len()
            + self.body.len()
    }

    /// Appends the framed spool entry: `[len][crc32][records u32][timestamp u64]
    /// [u8 len + routing key][u8 len + message id][u8 len + kind][body]`, little-endian.
    pub(crate) fn encode_entry(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&(self.encoded_len() as u32).to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        let payload = out.len();
        out.extend_from_slice(&self.records.to_le_bytes());
        out.extend_from_slice(&self.timestamp.to_le_bytes());
        for short in [&self.routing_key, &self.message_id, &self.kind] {
            // Short strings are at most 255 bytes by construction (`Encoder`).
            out.push(short.len().min(AMQP_SHORT_STRING_MAX) as u8);
            out.extend_from_slice(&short.as_bytes()[..short.len().min(AMQP_SHORT_STRING_MAX)]);
        }
        out.extend_from_slice(&self.body);
        let crc = crc32fast::hash(&out[payload..]);
        out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    }

    /// Parses a spool payload (the part after length and CRC).
    pub(crate) fn decode_payload(p: &[u8]) -> Option<Self> {
        let records = u32::from_le_bytes(p.get(0..4)?.try_into().ok()?);
        let timestamp = u64::from_le_bytes(p.get(4..12)?.try_into().ok()?);
        let mut at = 12;
        let mut short = || -> Option<String> {
            let len = usize::from(*p.get(at)?);
            let s = std::str::from_utf8(p.get(at + 1..at + 1 + len)?).ok()?;
            at += 1 + len;
            Some(s.to_owned())
        };
        let routing_key = short()?;
        let message_id = short()?;
        let kind = short()?;
        Some(Self {
            routing_key,
            message_id,
            kind,
            timestamp,
            records,
            body: p.get(at..)?.to_vec(),
        })
    }

    pub(crate) fn properties(&self, app_id: &ShortString) -> BasicProperties {
        BasicProperties::default()
            .with_content_type(CONTENT_TYPE.into())
            .with_delivery_mode(PERSISTENT)
            .with_message_id(self.message_id.as_str().into())
            .with_timestamp(self.timestamp)
            .with_type(self.kind.as_str().into())
            .with_app_id(app_id.clone())
    }
}

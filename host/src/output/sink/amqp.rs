//! The RabbitMQ (AMQP 0-9-1) sink: publishes records to a durable topic exchange with
//! publisher confirms, survives broker outages, and keeps what it cannot deliver yet in a
//! bounded on-disk spool (`spool.rs`) that it replays in order. Owns its connection, channel,
//! spool folder and counters ([`AmqpStats`]). Must not log or print credentials (they come from
//! environment variables at each connection attempt and only go to the broker), must not block
//! collection while the broker is away (it spools instead), and must not drop a record
//! silently: unencodable, unroutable and spool-overflow records are counted and logged.
//!
//! Wire format (docs/amqp.md): routing key `<kind>.<exchange>.<BASE>-<QUOTE>-<SETTLE>` (`.` in a
//! word becomes `_`), body one JSON record (schemas/records.schema.json), or with `batch_max` >
//! 1 a JSON array of records of one exchange and kind under `<kind>.<exchange>.batch`
//! (schemas/batch.schema.json). Properties: `content_type` application/json, `delivery_mode` 2,
//! `message_id` (see [`record_message_id`]), `timestamp` (the record's `received_ts`, seconds),
//! `type` = kind, `app_id`. Published `mandatory`: unroutable messages come back and are counted.
//!
//! How it runs: [`AmqpSink`] (the `Sink` the supervisor drives) encodes each batch on the
//! caller's task and hands it to one publisher task, which owns everything else and does one
//! thing at a time, so ordering needs no locks:
//! - connected, spool empty: publish the batch pipelined (at most `max_unconfirmed` awaiting a
//!   confirm), wait for every confirm; nacked messages are published again
//!   ([`NACK_RETRIES`] times), what is still unconfirmed goes to the spool;
//! - not connected, blocked by a broker alarm, or spool not empty: append the batch to the
//!   spool (synced to disk) — `write` returns as soon as that is done;
//! - connected, spool not empty, no write waiting: replay a chunk of the spool, oldest first;
//! - connection or channel lost, or no confirm progress for `confirm_timeout`: drop the
//!   connection and reconnect with jittered exponential backoff, forever, declaring the
//!   exchange and configured queues again.
//!
//! `write` returns the records confirmed (and routed) by the broker plus those written to the
//! spool: both are durable. Delivery is at-least-once; duplicates keep their `message_id`.

use std::{
    collections::VecDeque,
    future::Future,
    path::PathBuf,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, AtomicU8, Ordering},
        Arc,
    },
    task::Poll,
    time::Duration,
};

use futures_util::{Stream, StreamExt as _};
use lapin::{
    options::{
        BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
        QueueDeclareOptions,
    },
    types::{AMQPValue, FieldTable, LongString, ShortString},
    Channel, Confirmation, Connection, ConnectionProperties, Event, ExchangeKind, PublisherConfirm,
};
use plugin_api::Record;
use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
    time::Instant,
};

use super::{
    spool::{Spool, SpoolError},
    wire::OutMessage,
    Batch, Sink, SinkError, SinkFuture,
};
use crate::{
    config::{AmqpQueueConfig, AmqpQueueType, AmqpSinkConfig, AMQP_SHORT_STRING_MAX},
    output::message::write_json,
};

/// Times a nacked message is published again within one write before it goes to the spool
/// (from where it is retried until the broker takes it).
pub const NACK_RETRIES: u32 = 3;
/// Pause before publishing nacked messages again (multiplied by the attempt number).
pub const NACK_RETRY_DELAY: Duration = Duration::from_millis(200);
/// Most messages read from the spool and published as one replay step.
pub const REPLAY_CHUNK_MESSAGES: usize = 1024;
/// Most body bytes read from the spool in one replay step (bounds the memory of a replay).
pub const REPLAY_CHUNK_BYTES: usize = 4 * 1024 * 1024;
/// How long a write waits for a connection attempt in progress (at start-up, after an outage)
/// before it spools instead: long enough for a local or LAN broker to answer, short enough not
/// to hold up collection.
pub const WRITE_WAITS_FOR_CONNECTION: Duration = Duration::from_secs(1);
/// How often a publish round in progress checks whether the broker blocked the connection.
const BLOCKED_POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Longest wait for the broker to answer a channel/connection close at shutdown.
const CLOSE_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(1);
/// A repeated warning (still unreachable, records dropped, unroutable) is logged at most once
/// per this interval; the counters carry the exact numbers.
const REPEAT_LOG_INTERVAL: Duration = Duration::from_secs(30);
/// Largest exponent of the reconnection backoff (the cap applies long before).
const MAX_BACKOFF_DOUBLINGS: u32 = 20;
/// Initial capacity of one record's JSON body (a ticker is ~400 bytes).
const ENCODED_RECORD_CAPACITY: usize = 512;
/// Third word of the routing key of batch messages.
const BATCH_ROUTING_WORD: &str = "batch";
/// Initial capacity of the buffer a record's identity is hashed from.
const ID_BUFFER_CAPACITY: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum AmqpError {
    #[error("invalid AMQP sink settings: {0}")]
    Config(String),
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error("spool task failed: {0}")]
    Task(String),
}

// ---------------------------------------------------------------------------------------------
// Counters

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
    fn from_u8(v: u8) -> Self {
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

    fn set_state(&self, state: LinkState) {
        self.state.store(state as u8, Ordering::Relaxed);
    }

    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Why spool writes fail now, if they do.
    pub fn spool_write_error(&self) -> Option<String> {
        self.spool_write_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_spool_write_error(&self, error: Option<String>) {
        *self
            .spool_write_error
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = error;
    }
}

// ---------------------------------------------------------------------------------------------
// Messages

/// The `message_id` of a record: 32 lowercase hex digits of the XXH3-128 hash of every field
/// of the record except `received_ts` (kind, exchange, symbols, market type, every value with
/// its presence, extras). A republished record keeps its id; a record whose content changed in
/// any field gets a new one; a heartbeat re-send of an unchanged record has the same id.
pub fn record_message_id(record: &Record) -> String {
    let mut buf = Vec::with_capacity(ID_BUFFER_CAPACITY);
    format!("{:032x}", record_hash(record, &mut buf))
}

/// Hashes a record's content (not `received_ts`) through `buf` (cleared first).
fn record_hash(r: &Record, buf: &mut Vec<u8>) -> u128 {
    crate::state::change_detection::encode_content(
        r,
        buf,
        crate::state::change_detection::Timestamps::Exchange,
    );
    twox_hash::XxHash3_128::oneshot(buf)
}

/// One word of a routing key: `.` would split it, so it becomes `_`.
fn push_word(out: &mut String, word: &str) {
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
struct Encoder {
    batch_max: usize,
    id_buf: Vec<u8>,
}

/// A record encoded on its own.
struct Encoded {
    kind: &'static str,
    routing_key: String,
    hash: u128,
    timestamp: u64,
    body: Vec<u8>,
}

impl Encoder {
    fn encode_record(&mut self, r: &Record) -> Result<Encoded, String> {
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
    fn encode(&mut self, batch: &Batch, stats: &AmqpStats) -> Vec<OutMessage> {
        self.encode_many(std::slice::from_ref(batch), stats)
    }

    /// Encodes several batches (gathered by `linger`) together: with batching, records of the
    /// same kind and exchange from different batches share messages. Per routing key the order
    /// of records is kept.
    fn encode_many(&mut self, batches: &[Batch], stats: &AmqpStats) -> Vec<OutMessage> {
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

// ---------------------------------------------------------------------------------------------
// The sink handle

/// Settings the publisher task needs (credentials are not among them: they are read from the
/// environment at each connection attempt).
struct Settings {
    /// Broker URL without credentials (checked), safe to log.
    url: String,
    username_env: String,
    password_env: String,
    exchange: ShortString,
    declare_exchange: bool,
    app_id: ShortString,
    queues: Vec<AmqpQueueConfig>,
    max_unconfirmed: usize,
    confirm_timeout: Duration,
    connect_timeout: Duration,
    backoff_base: Duration,
    backoff_cap: Duration,
    close_timeout: Duration,
    spool_dir: PathBuf,
    spool_max_bytes: u64,
    /// Extra trusted CA certificates (PEM) for amqps://, read at open.
    tls_ca_pem: Option<String>,
}

enum Command {
    Write {
        messages: Vec<OutMessage>,
        reply: oneshot::Sender<Result<u64, std::io::Error>>,
    },
    Close {
        reply: oneshot::Sender<()>,
    },
}

/// The RabbitMQ sink. See the module documentation.
pub struct AmqpSink {
    settings: Arc<Settings>,
    stats: Arc<AmqpStats>,
    encoder: Encoder,
    /// `[sink] linger`: how long the sink task gathers batches before a write.
    linger: Duration,
    commands: mpsc::Sender<Command>,
    task: JoinHandle<()>,
}

impl AmqpSink {
    /// Checks the settings, opens the spool (replaying what a previous run left there once the
    /// broker is reachable) and starts connecting in the background. Does not wait for the
    /// broker: a broker that is down at start-up only means records are spooled.
    pub async fn open(config: &AmqpSinkConfig) -> Result<Self, AmqpError> {
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(AmqpError::Config(problems.join("; ")));
        }
        let tls_ca_pem = match &config.tls_ca_file {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                AmqpError::Config(format!(
                    "sink.tls_ca_file: cannot read {}: {e}",
                    path.display()
                ))
            })?),
            None => None,
        };
        let settings = Arc::new(Settings {
            tls_ca_pem,
            url: config.url.trim().to_owned(),
            username_env: config.username_env.clone(),
            password_env: config.password_env.clone(),
            exchange: config.exchange.as_str().into(),
            declare_exchange: config.declare_exchange,
            app_id: config.app_id.as_str().into(),
            queues: config.queues.clone(),
            max_unconfirmed: config.max_unconfirmed,
            confirm_timeout: config.confirm_timeout.0,
            connect_timeout: config.connect_timeout.0,
            backoff_base: config.reconnect_backoff_base.0,
            backoff_cap: config.reconnect_backoff_cap.0,
            close_timeout: config.close_timeout.0,
            spool_dir: config.spool_dir.clone(),
            spool_max_bytes: config.spool_max_bytes,
        });
        let stats = Arc::new(AmqpStats::default());
        let spool = open_spool(&settings, &stats).await?;
        let (commands, task) = Publisher::spawn(settings.clone(), stats.clone(), Some(spool));
        tracing::info!(url = %settings.url, exchange = %settings.exchange, spool = %settings.spool_dir.display(), "amqp sink started");
        Ok(Self {
            settings,
            stats,
            encoder: Encoder {
                batch_max: config.batch_max,
                id_buf: Vec::with_capacity(ID_BUFFER_CAPACITY),
            },
            linger: config.linger.0,
            commands,
            task,
        })
    }

    /// The sink's live counters.
    pub fn stats(&self) -> Arc<AmqpStats> {
        self.stats.clone()
    }

    /// Restarts the publisher task if it ended (it only ends on a bug: a panic); the new one
    /// reopens the spool from disk, so nothing spooled is lost.
    fn ensure_publisher(&mut self) {
        if self.task.is_finished() {
            tracing::error!("amqp publisher task ended unexpectedly; restarting it");
            let (commands, task) =
                Publisher::spawn(self.settings.clone(), self.stats.clone(), None);
            self.commands = commands;
            self.task = task;
        }
    }
}

fn publisher_gone() -> SinkError {
    SinkError::Write(std::io::Error::other("amqp publisher task stopped"))
}

/// How often the broker-side counters are copied into telemetry.
const TELEMETRY_INTERVAL: Duration = Duration::from_secs(1);

/// Copies the sink's counters into `telemetry` every [`TELEMETRY_INTERVAL`] (as deltas) and
/// maps the link state to the sink state readiness and alerts use. Ends with the sink.
async fn report_stats(
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

impl AmqpSink {
    /// Hands encoded messages to the publisher task and waits until each is confirmed by the
    /// broker or safely spooled.
    async fn publish(&mut self, messages: Vec<OutMessage>) -> Result<u64, SinkError> {
        if messages.is_empty() {
            return Ok(0);
        }
        self.ensure_publisher();
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Write { messages, reply })
            .await
            .map_err(|_| publisher_gone())?;
        match answer.await {
            Ok(Ok(delivered)) => Ok(delivered),
            Ok(Err(e)) => Err(SinkError::Write(e)),
            Err(_) => Err(publisher_gone()),
        }
    }
}

impl Sink for AmqpSink {
    fn reports_state(&self) -> bool {
        true
    }

    fn attach_telemetry(&mut self, telemetry: crate::observe::telemetry::Telemetry) {
        tokio::spawn(report_stats(
            Arc::clone(&self.stats),
            telemetry,
            self.commands.downgrade(),
        ));
    }

    fn linger(&self) -> Option<super::Linger> {
        (!self.linger.is_zero()).then_some(super::Linger {
            wait: self.linger,
            records: self.encoder.batch_max,
        })
    }

    fn write_many<'a>(&'a mut self, batches: &'a [Batch]) -> SinkFuture<'a> {
        Box::pin(async move {
            let messages = self.encoder.encode_many(batches, &self.stats);
            self.publish(messages).await
        })
    }

    fn write<'a>(&'a mut self, batch: &'a Batch) -> SinkFuture<'a> {
        Box::pin(async move {
            let messages = self.encoder.encode(batch, &self.stats);
            self.publish(messages).await
        })
    }

    fn close(&mut self) -> SinkFuture<'_> {
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            if self.commands.send(Command::Close { reply }).await.is_ok() {
                let _ = answer.await;
            }
            let s = self.stats.snapshot();
            tracing::info!(
                confirmed = s.confirmed_records,
                spooled = s.spooled_records,
                replayed = s.replayed_records,
                left_in_spool = s.spool_records,
                dropped = s.dropped_records,
                returned = s.returned_records,
                nacked = s.nacked_messages,
                "amqp sink closed"
            );
            Ok(0)
        })
    }

    fn name(&self) -> &'static str {
        "amqp"
    }
}

async fn open_spool(settings: &Settings, stats: &AmqpStats) -> Result<Spool, AmqpError> {
    let dir = settings.spool_dir.clone();
    let max = settings.spool_max_bytes;
    let (spool, report) = tokio::task::spawn_blocking(move || Spool::open(&dir, max))
        .await
        .map_err(|e| AmqpError::Task(e.to_string()))??;
    if report.records > 0 {
        tracing::info!(records = report.records, messages = report.messages, spool = %settings.spool_dir.display(), "spooled records from an earlier run will be replayed");
    }
    if report.damaged_bytes > 0 {
        tracing::error!(bytes = report.damaged_bytes, spool = %settings.spool_dir.display(), "damaged spool data was cut off");
    }
    stats
        .spool_records
        .store(spool.records(), Ordering::Relaxed);
    stats.spool_bytes.store(spool.bytes(), Ordering::Relaxed);
    Ok(spool)
}

// ---------------------------------------------------------------------------------------------
// The publisher task

type EventStream = Pin<Box<dyn Stream<Item = Event> + Send>>;

/// A live connection with its publishing channel. (Its event stream is kept beside it, in
/// the publisher: a stream is not `Sync`, and `Up` is borrowed across awaits.)
struct Up {
    connection: Connection,
    channel: Channel,
    blocked: bool,
}

impl Up {
    fn is_blocked(&self) -> bool {
        self.blocked || self.connection.status().blocked()
    }
}

enum Link {
    Down { retry_at: Instant },
    Connecting(JoinHandle<Result<(Box<Up>, EventStream), String>>),
    Up(Box<Up>),
}

/// What happened to one message of a publish round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Not confirmed: not published, connection lost, or no confirm in time.
    Unconfirmed,
    Confirmed,
    /// Confirmed but unroutable.
    Returned,
    Nacked,
}

struct RoundOutcome {
    fates: Vec<Fate>,
    /// Why the link must be dropped, if it must.
    link_error: Option<String>,
    blocked: bool,
}

/// What the main loop woke up for.
enum Wake {
    Command(Option<Command>),
    Event(Option<Event>),
    Connected(Result<(Box<Up>, EventStream), String>),
    Retry,
    Replay,
}

struct Publisher {
    settings: Arc<Settings>,
    stats: Arc<AmqpStats>,
    /// `None` only while a blocking spool operation runs, or after one failed badly (then it
    /// is reopened from disk at the next use).
    spool: Option<Spool>,
    link: Link,
    /// Events of the current connection (blocked, unblocked, errors); `Some` while `Up`.
    events: Option<EventStream>,
    /// Failed connection attempts since the last confirmed publish.
    attempts: u32,
    /// No replay before this instant (after a nack).
    replay_hold: Instant,
    last_unreachable_log: Option<Instant>,
    last_drop_log: Option<Instant>,
    last_return_log: Option<Instant>,
    last_spool_error_log: Option<Instant>,
}

impl Publisher {
    fn spawn(
        settings: Arc<Settings>,
        stats: Arc<AmqpStats>,
        spool: Option<Spool>,
    ) -> (mpsc::Sender<Command>, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(1);
        let publisher = Self {
            settings,
            stats,
            spool,
            link: Link::Down {
                retry_at: Instant::now(),
            },
            events: None,
            attempts: 0,
            replay_hold: Instant::now(),
            last_unreachable_log: None,
            last_drop_log: None,
            last_return_log: None,
            last_spool_error_log: None,
        };
        (tx, tokio::spawn(publisher.run(rx)))
    }

    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        // Dropping the sink without `close` closes the command channel: the task then closes
        // the connection and ends; the spool on disk is consistent at every step.
        self.start_connecting();
        let mut last_was_write = false;
        loop {
            let replay_ready = self.spool.as_ref().is_some_and(|s| !s.is_empty())
                && matches!(&self.link, Link::Up(up) if !up.is_blocked());
            let hold = self.replay_hold;
            // Fairness: after a write, a due replay step goes first, so a steady stream of
            // writes (appended behind the spool) cannot starve the replay.
            if replay_ready && last_was_write && hold <= Instant::now() {
                last_was_write = false;
                self.replay_chunk().await;
                continue;
            }
            last_was_write = false;
            let wake = {
                let link = &mut self.link;
                let events = &mut self.events;
                let link_wake = async {
                    match link {
                        Link::Down { retry_at } => {
                            tokio::time::sleep_until(*retry_at).await;
                            Wake::Retry
                        }
                        Link::Connecting(handle) => Wake::Connected(match handle.await {
                            Ok(result) => result,
                            Err(e) => Err(format!("connection task failed: {e}")),
                        }),
                        Link::Up(_) => {
                            let next_event = async {
                                match events {
                                    Some(events) => events.next().await,
                                    None => None,
                                }
                            };
                            if replay_ready {
                                tokio::select! {
                                    biased;
                                    event = next_event => Wake::Event(event),
                                    _ = tokio::time::sleep_until(hold) => Wake::Replay,
                                }
                            } else {
                                Wake::Event(next_event.await)
                            }
                        }
                    }
                };
                tokio::select! {
                    biased;
                    command = commands.recv() => Wake::Command(command),
                    wake = link_wake => wake,
                }
            };
            match wake {
                Wake::Command(None) => {
                    // The sink was dropped without `close`.
                    self.shutdown_link().await;
                    return;
                }
                Wake::Command(Some(Command::Write { messages, reply })) => {
                    last_was_write = true;
                    let result = self.handle_write(messages).await;
                    if result.is_ok() && self.stats.spool_write_error().is_some() {
                        tracing::info!(spool = %self.settings.spool_dir.display(), "amqp spool writable again");
                        self.stats.set_spool_write_error(None);
                    }
                    let _ = reply.send(result);
                }
                Wake::Command(Some(Command::Close { reply })) => {
                    self.handle_close().await;
                    let _ = reply.send(());
                    return;
                }
                Wake::Event(event) => self.handle_event(event),
                Wake::Connected(Ok((up, events))) => self.on_connected(up, events),
                Wake::Connected(Err(error)) => self.on_connect_failed(&error),
                Wake::Retry => self.start_connecting(),
                Wake::Replay => self.replay_chunk().await,
            }
        }
    }

    fn start_connecting(&mut self) {
        let settings = self.settings.clone();
        self.stats.set_state(LinkState::Connecting);
        self.link = Link::Connecting(tokio::spawn(async move {
            match tokio::time::timeout(settings.connect_timeout, connect(&settings)).await {
                Ok(result) => result,
                Err(_) => Err(format!(
                    "no connection within {:?}",
                    settings.connect_timeout
                )),
            }
        }));
    }

    fn on_connected(&mut self, up: Box<Up>, events: EventStream) {
        AmqpStats::add(&self.stats.connections, 1);
        let blocked = up.is_blocked();
        self.stats.set_state(if blocked {
            LinkState::Blocked
        } else {
            LinkState::Connected
        });
        let spooled = self.spool.as_ref().map_or(0, Spool::records);
        tracing::info!(url = %self.settings.url, exchange = %self.settings.exchange, spooled, blocked, "amqp connected");
        self.last_unreachable_log = None;
        self.link = Link::Up(up);
        self.events = Some(events);
    }

    fn on_connect_failed(&mut self, error: &str) {
        self.attempts = self.attempts.saturating_add(1);
        let delay = self.backoff_delay();
        let now = Instant::now();
        let spooled = self.spool.as_ref().map_or(0, Spool::records);
        if self
            .last_unreachable_log
            .is_none_or(|t| now.duration_since(t) >= REPEAT_LOG_INTERVAL)
        {
            self.last_unreachable_log = Some(now);
            tracing::warn!(url = %self.settings.url, attempts = self.attempts, retry_in = ?delay, spooled, %error, "amqp broker unreachable; spooling records");
        } else {
            tracing::debug!(url = %self.settings.url, attempts = self.attempts, retry_in = ?delay, %error, "amqp connection attempt failed");
        }
        self.stats.set_state(LinkState::Down);
        self.link = Link::Down {
            retry_at: now + delay,
        };
    }

    /// Jittered exponential backoff: half the step plus a random share of the other half.
    fn backoff_delay(&self) -> Duration {
        let doublings = self.attempts.saturating_sub(1).min(MAX_BACKOFF_DOUBLINGS);
        let step = self
            .settings
            .backoff_base
            .saturating_mul(1u32 << doublings)
            .min(self.settings.backoff_cap);
        let half = step / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// Drops the connection (its unconfirmed messages are the caller's to spool) and schedules
    /// a reconnection.
    fn link_lost(&mut self, reason: &str) {
        if let Link::Up(up) = std::mem::replace(
            &mut self.link,
            Link::Down {
                retry_at: Instant::now(),
            },
        ) {
            tracing::warn!(url = %self.settings.url, %reason, "amqp connection lost; spooling records and reconnecting");
            tokio::spawn(close_quietly(*up));
        }
        self.events = None;
        self.attempts = self.attempts.saturating_add(1);
        self.link = Link::Down {
            retry_at: Instant::now() + self.backoff_delay(),
        };
        self.stats.set_state(LinkState::Down);
        self.stats.unconfirmed_messages.store(0, Ordering::Relaxed);
    }

    fn set_blocked(&mut self, blocked: bool, reason: &str) {
        if let Link::Up(up) = &mut self.link {
            if up.blocked != blocked {
                up.blocked = blocked;
                if blocked {
                    tracing::warn!(url = %self.settings.url, %reason, "amqp broker blocked publishing (resource alarm); spooling records");
                } else {
                    tracing::info!(url = %self.settings.url, "amqp broker unblocked publishing");
                }
            }
            self.stats.set_state(if up.is_blocked() {
                LinkState::Blocked
            } else {
                LinkState::Connected
            });
        }
    }

    fn handle_event(&mut self, event: Option<Event>) {
        match event {
            Some(Event::ConnectionBlocked(reason)) => self.set_blocked(true, &reason),
            Some(Event::ConnectionUnblocked) => self.set_blocked(false, ""),
            Some(Event::SendFlow(active)) => self.set_blocked(!active, "channel flow paused"),
            Some(Event::Error(error)) => self.link_lost(&error.to_string()),
            None => self.link_lost("connection event stream ended"),
            Some(_) => {}
        }
    }

    /// Waits (at most until `deadline`) for a connection attempt in progress to finish.
    async fn await_connecting(&mut self, deadline: Instant) {
        if let Link::Connecting(handle) = &mut self.link {
            if let Ok(joined) = tokio::time::timeout_at(deadline, handle).await {
                match joined {
                    Ok(Ok((up, events))) => self.on_connected(up, events),
                    Ok(Err(error)) => self.on_connect_failed(&error),
                    Err(e) => self.on_connect_failed(&format!("connection task failed: {e}")),
                }
            }
        }
    }

    async fn handle_write(&mut self, messages: Vec<OutMessage>) -> Result<u64, std::io::Error> {
        if matches!(self.link, Link::Down { retry_at } if retry_at <= Instant::now()) {
            self.start_connecting();
        }
        self.await_connecting(Instant::now() + WRITE_WAITS_FOR_CONNECTION)
            .await;
        let spool_waiting = self.spool.as_ref().is_none_or(|s| !s.is_empty());
        let can_publish = matches!(&self.link, Link::Up(up) if !up.is_blocked());
        if spool_waiting || !can_publish {
            return self.spool_messages(messages).await;
        }
        let mut todo: Vec<usize> = (0..messages.len()).collect();
        let mut unconfirmed: Vec<usize> = Vec::new();
        let mut delivered = 0u64;
        for attempt in 0..=NACK_RETRIES {
            let outcome = match &self.link {
                Link::Up(up) if !up.is_blocked() => {
                    let round: Vec<&OutMessage> = todo.iter().map(|&i| &messages[i]).collect();
                    publish_round(up, &self.settings, &self.stats, &round).await
                }
                _ => {
                    unconfirmed.append(&mut todo);
                    break;
                }
            };
            let mut nacked = Vec::new();
            for (&i, fate) in todo.iter().zip(&outcome.fates) {
                match fate {
                    Fate::Confirmed => delivered += u64::from(messages[i].records),
                    Fate::Returned => {}
                    Fate::Nacked => nacked.push(i),
                    Fate::Unconfirmed => unconfirmed.push(i),
                }
            }
            self.after_round(&outcome, todo.iter().map(|&i| &messages[i]));
            if nacked.is_empty() {
                break;
            }
            if attempt == NACK_RETRIES {
                tracing::warn!(
                    messages = nacked.len(),
                    "amqp broker keeps nacking; spooling them for later"
                );
                unconfirmed.append(&mut nacked);
                break;
            }
            tokio::time::sleep(NACK_RETRY_DELAY * (attempt + 1)).await;
            todo = nacked;
        }
        if unconfirmed.is_empty() {
            return Ok(delivered);
        }
        unconfirmed.sort_unstable();
        let mut slots: Vec<Option<OutMessage>> = messages.into_iter().map(Some).collect();
        let leftovers: Vec<OutMessage> = unconfirmed
            .into_iter()
            .filter_map(|i| slots.get_mut(i).and_then(Option::take))
            .collect();
        Ok(delivered + self.spool_messages(leftovers).await?)
    }

    /// Counts and logs a round's results; drops the link if it failed.
    fn after_round<'m>(
        &mut self,
        outcome: &RoundOutcome,
        messages: impl Iterator<Item = &'m OutMessage>,
    ) {
        let mut confirmed = 0;
        let mut returned = 0;
        let mut nacked = 0;
        let mut sample = None;
        for (fate, m) in outcome.fates.iter().zip(messages) {
            match fate {
                Fate::Confirmed => confirmed += u64::from(m.records),
                Fate::Returned => {
                    returned += u64::from(m.records);
                    sample.get_or_insert_with(|| m.routing_key.clone());
                }
                Fate::Nacked => nacked += 1,
                Fate::Unconfirmed => {}
            }
        }
        AmqpStats::add(&self.stats.confirmed_records, confirmed);
        AmqpStats::add(&self.stats.returned_records, returned);
        AmqpStats::add(&self.stats.nacked_messages, nacked);
        if confirmed > 0 {
            self.attempts = 0;
        }
        if let Some(routing_key) = sample {
            let now = Instant::now();
            if self
                .last_return_log
                .is_none_or(|t| now.duration_since(t) >= REPEAT_LOG_INTERVAL)
            {
                self.last_return_log = Some(now);
                tracing::warn!(exchange = %self.settings.exchange, %routing_key, records = returned, total = self.stats.returned_records.load(Ordering::Relaxed), "unroutable records (no queue bound for their routing key); not delivered");
            }
        }
        if outcome.blocked {
            self.set_blocked(true, "connection blocked during publish");
        }
        if let Some(error) = &outcome.link_error {
            self.link_lost(error);
        }
    }

    /// Runs a blocking spool operation off the async runtime; reopens the spool first if an
    /// earlier operation lost it.
    async fn with_spool<T: Send + 'static>(
        &mut self,
        op: impl FnOnce(&mut Spool) -> Result<T, SpoolError> + Send + 'static,
    ) -> Result<T, std::io::Error> {
        let mut spool = match self.spool.take() {
            Some(spool) => spool,
            None => open_spool(&self.settings, &self.stats)
                .await
                .map_err(std::io::Error::other)?,
        };
        let joined = tokio::task::spawn_blocking(move || {
            let result = op(&mut spool);
            (spool, result)
        })
        .await;
        match joined {
            Ok((mut spool, result)) => {
                let drops = spool.take_drops();
                AmqpStats::add(&self.stats.dropped_records, drops.full_records);
                AmqpStats::add(&self.stats.damaged_records, drops.damaged_records);
                AmqpStats::add(&self.stats.damaged_bytes, drops.damaged_bytes);
                self.stats
                    .spool_records
                    .store(spool.records(), Ordering::Relaxed);
                self.stats
                    .spool_bytes
                    .store(spool.bytes(), Ordering::Relaxed);
                self.spool = Some(spool);
                result.map_err(std::io::Error::other)
            }
            Err(e) => Err(std::io::Error::other(format!("spool task failed: {e}"))),
        }
    }

    /// Appends to the spool; returns the records it took. An I/O error is returned so the
    /// caller retries the batch (back-pressure) instead of losing it.
    async fn spool_messages(&mut self, messages: Vec<OutMessage>) -> Result<u64, std::io::Error> {
        if messages.is_empty() {
            return Ok(0);
        }
        let report = match self.with_spool(move |s| s.append(&messages)).await {
            Ok(report) => report,
            Err(e) => {
                let now = Instant::now();
                if self
                    .last_spool_error_log
                    .is_none_or(|t| now.duration_since(t) >= REPEAT_LOG_INTERVAL)
                {
                    self.last_spool_error_log = Some(now);
                    tracing::error!(error = %e, spool = %self.settings.spool_dir.display(), "cannot write the amqp spool; the batch waits in memory and is retried");
                }
                self.stats.set_spool_write_error(Some(e.to_string()));
                return Err(e);
            }
        };
        AmqpStats::add(&self.stats.spooled_records, report.spooled_records);
        if report.dropped_records > 0 {
            let now = Instant::now();
            if self
                .last_drop_log
                .is_none_or(|t| now.duration_since(t) >= REPEAT_LOG_INTERVAL)
            {
                self.last_drop_log = Some(now);
                tracing::error!(
                    dropped_now = report.dropped_records,
                    dropped_total = self.stats.dropped_records.load(Ordering::Relaxed),
                    spool_max_bytes = self.settings.spool_max_bytes,
                    "amqp spool full: oldest spooled records dropped"
                );
            }
        }
        Ok(report.spooled_records)
    }

    /// Publishes the oldest spooled messages and removes those confirmed in order.
    async fn replay_chunk(&mut self) {
        let chunk = match self
            .with_spool(|s| s.peek(REPLAY_CHUNK_MESSAGES, REPLAY_CHUNK_BYTES))
            .await
        {
            Ok(chunk) => chunk,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the amqp spool; retrying");
                self.replay_hold = Instant::now() + self.settings.backoff_cap;
                return;
            }
        };
        if chunk.is_empty() {
            return;
        }
        let outcome = match &self.link {
            Link::Up(up) => {
                let round: Vec<&OutMessage> = chunk.iter().collect();
                publish_round(up, &self.settings, &self.stats, &round).await
            }
            _ => return,
        };
        let done = outcome
            .fates
            .iter()
            .take_while(|f| matches!(f, Fate::Confirmed | Fate::Returned))
            .count();
        let replayed: u64 = chunk[..done]
            .iter()
            .zip(&outcome.fates)
            .filter(|(_, f)| **f == Fate::Confirmed)
            .map(|(m, _)| u64::from(m.records))
            .sum();
        AmqpStats::add(&self.stats.replayed_records, replayed);
        let returned: u64 = chunk[..done]
            .iter()
            .zip(&outcome.fates)
            .filter(|(_, f)| **f == Fate::Returned)
            .map(|(m, _)| u64::from(m.records))
            .sum();
        AmqpStats::add(&self.stats.replay_returned_records, returned);
        if outcome.fates.get(done) == Some(&Fate::Nacked) {
            self.replay_hold = Instant::now() + NACK_RETRY_DELAY;
        }
        self.after_round(&outcome, chunk.iter());
        if let Err(e) = self.with_spool(move |s| s.consume(done)).await {
            tracing::error!(error = %e, "cannot update the amqp spool position; some records may be replayed twice");
        }
        if self.spool.as_ref().is_some_and(Spool::is_empty) {
            tracing::info!(
                replayed_total = self.stats.replayed_records.load(Ordering::Relaxed),
                "amqp spool replayed"
            );
        }
    }

    /// At shutdown: replay what the spool holds while the broker takes it (bounded by
    /// `close_timeout`), then close the connection. Whatever is left stays on disk.
    async fn handle_close(&mut self) {
        let deadline = Instant::now() + self.settings.close_timeout;
        self.await_connecting(deadline).await;
        while Instant::now() < deadline
            && self.spool.as_ref().is_some_and(|s| !s.is_empty())
            && matches!(&self.link, Link::Up(up) if !up.is_blocked())
        {
            if tokio::time::timeout_at(deadline, self.replay_chunk())
                .await
                .is_err()
            {
                break;
            }
        }
        self.shutdown_link().await;
    }

    async fn shutdown_link(&mut self) {
        match std::mem::replace(
            &mut self.link,
            Link::Down {
                retry_at: Instant::now(),
            },
        ) {
            Link::Up(up) => close_quietly(*up).await,
            Link::Connecting(handle) => handle.abort(),
            Link::Down { .. } => {}
        }
        self.events = None;
        self.stats.set_state(LinkState::Closed);
    }
}

/// Closes a connection politely, without waiting long or reporting errors.
async fn close_quietly(up: Up) {
    let _ = tokio::time::timeout(CLOSE_HANDSHAKE_TIMEOUT, async {
        let _ = up.channel.close(200, "closing".into()).await;
        let _ = up.connection.close(200, "closing".into()).await;
    })
    .await;
}

/// Connects, opens a confirm-mode channel and declares the topology.
async fn connect(settings: &Settings) -> Result<(Box<Up>, EventStream), String> {
    let mut uri: lapin::uri::AMQPUri = settings.url.parse().map_err(|e: String| e)?;
    // Credentials: from the environment, never from config, never logged.
    if let Ok(user) = std::env::var(&settings.username_env) {
        uri.authority.userinfo.username = user;
    }
    if let Ok(password) = std::env::var(&settings.password_env) {
        uri.authority.userinfo.password = password;
    }
    let properties = ConnectionProperties::default()
        .with_connection_name(LongString::from(settings.app_id.as_str()));
    let connection = match &settings.tls_ca_pem {
        Some(pem) => {
            let tls = lapin::tcp::OwnedTLSConfig {
                identity: None,
                cert_chain: Some(pem.clone()),
            };
            let runtime = lapin::runtime::default_runtime().map_err(|e| e.to_string())?;
            Connection::connect_uri_with_config(uri, properties, tls, runtime).await
        }
        None => Connection::connect_uri(uri, properties).await,
    }
    .map_err(|e| e.to_string())?;
    let events: EventStream = Box::pin(connection.events_listener());
    let channel = connection
        .create_channel()
        .await
        .map_err(|e| e.to_string())?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    channel
        .exchange_declare(
            settings.exchange.clone(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                passive: !settings.declare_exchange,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(|e| format!("exchange {}: {e}", settings.exchange))?;
    for queue in &settings.queues {
        declare_queue(&channel, &settings.exchange, queue)
            .await
            .map_err(|e| format!("queue {}: {e}", queue.name))?;
    }
    let blocked = connection.status().blocked();
    Ok((
        Box::new(Up {
            connection,
            channel,
            blocked,
        }),
        events,
    ))
}

/// The `x-…` arguments of a configured queue.
pub fn queue_arguments(queue: &AmqpQueueConfig) -> FieldTable {
    let mut args = FieldTable::default();
    let long = |n: u64| AMQPValue::LongLongInt(i64::try_from(n).unwrap_or(i64::MAX));
    match queue.queue_type {
        AmqpQueueType::Classic => {}
        AmqpQueueType::Quorum => {
            args.insert(
                "x-queue-type".into(),
                AMQPValue::LongString("quorum".into()),
            );
        }
        AmqpQueueType::Stream => {
            args.insert(
                "x-queue-type".into(),
                AMQPValue::LongString("stream".into()),
            );
        }
    }
    if let Some(n) = queue.max_length {
        args.insert("x-max-length".into(), long(n));
    }
    if let Some(n) = queue.max_length_bytes {
        args.insert("x-max-length-bytes".into(), long(n));
    }
    if let Some(ttl) = queue.message_ttl {
        if queue.queue_type == AmqpQueueType::Stream {
            let seconds = ttl.0.as_secs().max(1);
            args.insert(
                "x-max-age".into(),
                AMQPValue::LongString(format!("{seconds}s").into()),
            );
        } else {
            args.insert(
                "x-message-ttl".into(),
                long(u64::try_from(ttl.0.as_millis()).unwrap_or(u64::MAX)),
            );
        }
    }
    if let Some(overflow) = queue.overflow {
        args.insert(
            "x-overflow".into(),
            AMQPValue::LongString(overflow.as_str().into()),
        );
    }
    args
}

async fn declare_queue(
    channel: &Channel,
    exchange: &ShortString,
    queue: &AmqpQueueConfig,
) -> Result<(), lapin::Error> {
    channel
        .queue_declare(
            queue.name.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            queue_arguments(queue),
        )
        .await?;
    for key in &queue.bindings {
        channel
            .queue_bind(
                queue.name.as_str().into(),
                exchange.clone(),
                key.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}

/// A publish on its way: frames queued for the socket, then the broker's confirm awaited.
enum InFlight<'a> {
    /// Frames queued; resolves (to the confirm future) once they are written.
    Sending(Pin<Box<dyn Future<Output = lapin::Result<PublisherConfirm>> + Send + 'a>>),
    /// Written; awaiting the broker's ack or nack.
    Sent(PublisherConfirm),
}

/// Publishes `messages` pipelined (at most `max_unconfirmed` on their way at once) and waits
/// for their confirms. Gives up on the connection when a publish fails or nothing progresses
/// for `confirm_timeout`; stops publishing (and leaves what is out unconfirmed) when the broker
/// blocks the connection.
///
/// Pipelining: each `basic_publish` future is polled once right away, which queues its frames
/// and takes its delivery tag in order; the futures are then awaited oldest first, so the
/// connection's I/O thread writes many messages per wake-up instead of one.
async fn publish_round(
    up: &Up,
    settings: &Settings,
    stats: &AmqpStats,
    messages: &[&OutMessage],
) -> RoundOutcome {
    let mut out = RoundOutcome {
        fates: vec![Fate::Unconfirmed; messages.len()],
        link_error: None,
        blocked: false,
    };
    let window = settings.max_unconfirmed.max(1);
    let mut in_flight: VecDeque<(usize, InFlight<'_>)> =
        VecDeque::with_capacity(window.min(messages.len()));
    let mut deadline = Instant::now() + settings.confirm_timeout;
    let options = BasicPublishOptions {
        mandatory: true,
        immediate: false,
    };
    let set_gauge = |n: usize| {
        stats
            .unconfirmed_messages
            .store(n as u64, Ordering::Relaxed)
    };
    'publish: for (i, message) in messages.iter().enumerate() {
        if up.is_blocked() {
            out.blocked = true;
            break;
        }
        while in_flight.len() >= window {
            let Some((j, pending)) = in_flight.pop_front() else {
                break;
            };
            match settle(up, pending, deadline, settings.confirm_timeout).await {
                Ok(Some(fate)) => {
                    out.fates[j] = fate;
                    deadline = Instant::now() + settings.confirm_timeout;
                }
                Ok(None) => {
                    out.blocked = true;
                    break 'publish;
                }
                Err(error) => {
                    out.link_error = Some(error);
                    break 'publish;
                }
            }
        }
        let mut publish = Box::pin(up.channel.basic_publish(
            settings.exchange.clone(),
            message.routing_key.as_str().into(),
            options,
            &message.body,
            message.properties(&settings.app_id),
        ));
        let pending = match poll_once(&mut publish).await {
            Poll::Ready(Ok(confirm)) => InFlight::Sent(confirm),
            Poll::Ready(Err(e)) => {
                out.link_error = Some(format!("publish failed: {e}"));
                break;
            }
            Poll::Pending => InFlight::Sending(publish),
        };
        AmqpStats::add(&stats.published_messages, 1);
        in_flight.push_back((i, pending));
        set_gauge(in_flight.len());
    }
    if out.link_error.is_none() {
        while let Some((j, pending)) = in_flight.pop_front() {
            set_gauge(in_flight.len() + 1);
            match settle(up, pending, deadline, settings.confirm_timeout).await {
                Ok(Some(fate)) => {
                    out.fates[j] = fate;
                    deadline = Instant::now() + settings.confirm_timeout;
                }
                Ok(None) => {
                    // Blocked: what is still out stays unconfirmed (spooled by the caller;
                    // the broker may still take it later, giving a duplicate).
                    out.blocked = true;
                    break;
                }
                Err(error) => {
                    out.link_error = Some(error);
                    break;
                }
            }
        }
    }
    set_gauge(0);
    out
}

/// Polls a future once with the current task's waker.
async fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *fut).poll(cx))).await
}

enum Waited<T> {
    Done(T),
    Blocked,
    TimedOut,
}

/// Awaits `fut` until `deadline`, giving up early when the broker blocks the connection.
async fn wait_unless_blocked<F: Future + Unpin>(
    up: &Up,
    mut fut: F,
    deadline: Instant,
) -> Waited<F::Output> {
    loop {
        let step = (Instant::now() + BLOCKED_POLL_INTERVAL).min(deadline);
        match tokio::time::timeout_at(step, &mut fut).await {
            Ok(output) => return Waited::Done(output),
            Err(_) if up.is_blocked() => return Waited::Blocked,
            Err(_) if Instant::now() >= deadline => return Waited::TimedOut,
            Err(_) => {}
        }
    }
}

/// Waits for one publish to be written and confirmed: `Ok(None)` when the broker blocked the
/// connection meanwhile, `Err` when the connection failed or nothing came in time.
async fn settle(
    up: &Up,
    pending: InFlight<'_>,
    deadline: Instant,
    timeout: Duration,
) -> Result<Option<Fate>, String> {
    let confirm = match pending {
        InFlight::Sent(confirm) => confirm,
        InFlight::Sending(publish) => match wait_unless_blocked(up, publish, deadline).await {
            Waited::Done(Ok(confirm)) => confirm,
            Waited::Done(Err(e)) => return Err(format!("publish failed: {e}")),
            Waited::Blocked => return Ok(None),
            Waited::TimedOut => {
                return Err(format!(
                    "publish stalled for {timeout:?} (broker blocked or unreachable)"
                ))
            }
        },
    };
    match wait_unless_blocked(up, confirm, deadline).await {
        Waited::Done(Ok(Confirmation::Ack(None) | Confirmation::NotRequested)) => {
            Ok(Some(Fate::Confirmed))
        }
        Waited::Done(Ok(Confirmation::Ack(Some(_)))) => Ok(Some(Fate::Returned)),
        Waited::Done(Ok(Confirmation::Nack(_))) => Ok(Some(Fate::Nacked)),
        Waited::Done(Err(e)) => Err(format!("confirm failed: {e}")),
        Waited::Blocked => Ok(None),
        Waited::TimedOut => Err(format!("no publisher confirm for {timeout:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_api::{
        abi_stable::std_types::ROption::RSome, IntervalSource, KeyValue, MarketType, RecordKind,
    };

    fn funding(raw: &str, rate: f64, received_ts: i64) -> Record {
        let mut r = Record::new(
            RecordKind::FUNDING,
            "binance",
            raw,
            "BTC",
            "USDT",
            "USDT",
            MarketType::LINEAR_PERPETUAL,
            received_ts,
        );
        r.rate = RSome(rate);
        r.interval_hours = RSome(8.0);
        r.interval_source = RSome(IntervalSource::REPORTED);
        r
    }

    /// Gathered batches (linger): records of one exchange and kind from different batches
    /// share messages; another exchange's records never join them; order per key is kept.
    #[test]
    fn gathered_batches_share_messages_per_exchange_and_kind() {
        let stats = AmqpStats::default();
        let batch = |exchange: &str, names: &[&str]| Batch {
            exchange: exchange.into(),
            kind: "funding".into(),
            records: names
                .iter()
                .map(|n| {
                    let mut r = funding(n, 0.0001, 1_700_000_000_000);
                    r.exchange = exchange.into();
                    r
                })
                .collect(),
        };
        let batches = [
            batch("binance", &["A1", "A2"]),
            batch("okx", &["O1"]),
            batch("binance", &["A3"]),
            batch("okx", &["O2", "O3"]),
        ];
        let mut encoder = Encoder {
            batch_max: 10,
            id_buf: Vec::new(),
        };
        let messages = encoder.encode_many(&batches, &stats);
        let summary: Vec<(String, Vec<String>)> = messages
            .iter()
            .map(|m| {
                let array: Vec<serde_json::Value> = serde_json::from_slice(&m.body).unwrap();
                let names = array
                    .iter()
                    .map(|v| v["raw_symbol"].as_str().unwrap().to_owned())
                    .collect();
                (m.routing_key.clone(), names)
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "funding.binance.batch".to_owned(),
                    vec!["A1".to_owned(), "A2".into(), "A3".into()]
                ),
                (
                    "funding.okx.batch".to_owned(),
                    vec!["O1".to_owned(), "O2".into(), "O3".into()]
                ),
            ]
        );
        // One record per message: every record is its own message, in the order given.
        let mut single = Encoder {
            batch_max: 1,
            id_buf: Vec::new(),
        };
        assert_eq!(single.encode_many(&batches, &stats).len(), 6);
    }

    #[test]
    fn message_id_ignores_received_ts_and_follows_content() {
        let a = funding("BTCUSDT", 0.0001, 1);
        let b = funding("BTCUSDT", 0.0001, 2);
        let c = funding("BTCUSDT", 0.0002, 1);
        assert_eq!(record_message_id(&a), record_message_id(&b));
        assert_ne!(record_message_id(&a), record_message_id(&c));
        let mut d = a.clone();
        d.extra.push(KeyValue {
            key: "k".into(),
            value: "v".into(),
        });
        assert_ne!(record_message_id(&a), record_message_id(&d));
        let mut e = a.clone();
        e.mark = RSome(0.0);
        assert_ne!(
            record_message_id(&a),
            record_message_id(&e),
            "0 is not absent"
        );
        assert_eq!(record_message_id(&a).len(), 32);
    }

    #[test]
    fn routing_keys_and_batches() {
        let mut r = funding("BTCUSDT", 0.0001, 1_700_000_000_123);
        assert_eq!(
            record_routing_key("funding", &r),
            "funding.binance.BTC-USDT-USDT"
        );
        r.base = "B.TC".into();
        assert_eq!(
            record_routing_key("funding", &r),
            "funding.binance.B_TC-USDT-USDT"
        );
        let stats = AmqpStats::default();
        let records: Vec<Record> = (0..5)
            .map(|i| funding(&format!("S{i}"), 0.0001 * f64::from(i), 1_700_000_000_123))
            .collect();
        let batch = Batch {
            exchange: "binance".into(),
            kind: "funding".into(),
            records,
        };
        let mut single = Encoder {
            batch_max: 1,
            id_buf: Vec::new(),
        };
        let one = single.encode(&batch, &stats);
        assert_eq!(one.len(), 5);
        assert_eq!(one[0].timestamp, 1_700_000_000);
        assert_eq!(one[0].kind, "funding");
        assert_eq!(one[0].message_id, record_message_id(&batch.records[0]));
        let mut batched = Encoder {
            batch_max: 2,
            id_buf: Vec::new(),
        };
        let many = batched.encode(&batch, &stats);
        assert_eq!(
            many.iter().map(|m| m.records).collect::<Vec<_>>(),
            [2, 2, 1]
        );
        assert_eq!(many[0].routing_key, "funding.binance.batch");
        let array: serde_json::Value = serde_json::from_slice(&many[0].body).unwrap();
        assert_eq!(array.as_array().unwrap().len(), 2);
        let again = batched.encode(&batch, &stats);
        assert_eq!(many[0].message_id, again[0].message_id, "stable");
        assert_ne!(many[0].message_id, many[1].message_id);
    }

    /// One encoder for every sink: an AMQP body is the JSONL line without its newline, and a
    /// batch body is those objects in an array; the bytes are pinned.
    #[test]
    fn amqp_bodies_are_the_jsonl_lines() {
        let stats = AmqpStats::default();
        let mut r = funding("BTCUSDT", 0.0001, 1_700_000_000_123);
        r.next_funding_ts = RSome(1_700_028_800_000);
        r.extra.push(KeyValue::new("raw_status", "TRADING"));
        let pinned = r#"{"kind":"funding","exchange":"binance","symbol":"BTC/USDT:USDT","raw_symbol":"BTCUSDT","base":"BTC","quote":"USDT","settle":"USDT","market_type":"linear_perpetual","exchange_ts":null,"received_ts":1700000000123,"rate":0.0001,"interval_hours":8.0,"interval_source":"reported","next_funding_ts":1700028800000,"predicted_rate":null,"rate_8h":null,"rate_annualized":null,"rate_cap":null,"rate_floor":null,"mark":null,"index":null,"extra":{"raw_status":"TRADING"}}"#;
        let mut line = Vec::new();
        crate::output::message::write_json_line(&r, &mut line).unwrap();
        assert_eq!(String::from_utf8_lossy(&line), format!("{pinned}\n"));
        let batch = Batch {
            exchange: "binance".into(),
            kind: "funding".into(),
            records: vec![r.clone(), r],
        };
        let mut single = Encoder {
            batch_max: 1,
            id_buf: Vec::new(),
        };
        let one = single.encode(&batch, &stats);
        assert_eq!(String::from_utf8_lossy(&one[0].body), pinned);
        let mut batched = Encoder {
            batch_max: 10,
            id_buf: Vec::new(),
        };
        let many = batched.encode(&batch, &stats);
        assert_eq!(
            String::from_utf8_lossy(&many[0].body),
            format!("[{pinned},{pinned}]")
        );
    }

    #[test]
    fn spool_payload_round_trips() {
        let m = OutMessage {
            routing_key: "ticker.okx.BTC-USDT-USDT".into(),
            message_id: "0123456789abcdef0123456789abcdef".into(),
            kind: "ticker".into(),
            timestamp: 1_700_000_000,
            records: 3,
            body: br#"[{"a":1}]"#.to_vec(),
        };
        let mut out = Vec::new();
        m.encode_entry(&mut out);
        assert_eq!(out.len(), 8 + m.encoded_len());
        assert_eq!(OutMessage::decode_payload(&out[8..]), Some(m));
    }

    #[test]
    fn backoff_grows_to_the_cap_with_jitter() {
        let settings = Arc::new(Settings {
            url: "amqp://127.0.0.1".into(),
            username_env: "U".into(),
            password_env: "P".into(),
            exchange: "x".into(),
            declare_exchange: true,
            app_id: "a".into(),
            queues: Vec::new(),
            tls_ca_pem: None,
            max_unconfirmed: 1,
            confirm_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_secs(2),
            close_timeout: Duration::from_secs(1),
            spool_dir: PathBuf::new(),
            spool_max_bytes: 1 << 20,
        });
        let mut p = Publisher {
            settings,
            stats: Arc::new(AmqpStats::default()),
            spool: None,
            link: Link::Down {
                retry_at: Instant::now(),
            },
            events: None,
            attempts: 1,
            replay_hold: Instant::now(),
            last_unreachable_log: None,
            last_drop_log: None,
            last_return_log: None,
            last_spool_error_log: None,
        };
        let first = p.backoff_delay();
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        p.attempts = 30;
        let late = p.backoff_delay();
        assert!(late >= Duration::from_secs(1) && late <= Duration::from_secs(2));
    }
}

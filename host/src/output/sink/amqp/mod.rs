//! The RabbitMQ (AMQP 0-9-1) sink: publishes records to a durable topic exchange with
//! publisher confirms, survives broker outages, and keeps what it cannot deliver yet in a
//! bounded on-disk spool (`../spool/`) that it replays in order. Owns its connection, channel,
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
    path::PathBuf,
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use lapin::types::ShortString;
use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
};

mod broker;
mod encoder;
mod publisher;
mod stats;

pub use broker::queue_arguments;
use encoder::*;
pub use encoder::{record_message_id, record_routing_key};
use publisher::*;
use stats::*;
pub use stats::{AmqpStats, AmqpStatsSnapshot, LinkState};

use super::{
    spool::{Spool, SpoolError},
    wire::OutMessage,
    Batch, Sink, SinkError, SinkFuture,
};
use crate::config::{AmqpQueueConfig, AmqpSinkConfig};

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

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_api::{
        abi_stable::std_types::ROption::RSome, IntervalSource, KeyValue, MarketType, Record,
        RecordKind,
    };
    use tokio::time::Instant;

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

//! Helpers for the AMQP sink tests against the local RabbitMQ (127.0.0.1:5672, guest/guest):
//! unique names, a consumer, cleanup of exchanges and queues (even when a test panics), a TCP
//! proxy that can "take the broker away" without touching the shared broker, record
//! generators, and a cross-process lock so that tests which stop the broker never run beside
//! other broker tests (nextest runs test binaries in parallel). Owns no assertions.
#![allow(dead_code)]

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::Path,
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use futures_collector::{
    config::duration::ConfigDuration,
    config::AmqpSinkConfig,
    output::sink::{amqp::AmqpSink, Batch, Sink},
};
use futures_util::StreamExt as _;
use lapin::{
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicQosOptions, ExchangeDeleteOptions,
        QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
    },
    types::FieldTable,
    Connection, ConnectionProperties,
};
use plugin_api::{abi_stable::std_types::ROption::RSome, MarketType, Record, RecordKind};
use serde_json::Value;
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};

/// Messages a test consumer may hold unacknowledged.
const PREFETCH: u16 = 1000;
/// A test consumer acks every this many messages (with `multiple`).
const ACK_EVERY: usize = 100;

/// The local broker.
pub const BROKER_URL: &str = "amqp://127.0.0.1:5672/%2f";
pub const BROKER_ADDR: &str = "127.0.0.1:5672";

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "fc-test-{prefix}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Held while a test uses the broker: shared by ordinary tests, exclusive by tests that stop
/// or alarm the broker. Released when dropped.
pub struct BrokerLock(#[allow(dead_code)] std::fs::File);

async fn lock(exclusive: bool) -> BrokerLock {
    let path = std::env::temp_dir().join("futures-collector-amqp-tests.lock");
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .expect("open the broker lock file");
        let op = if exclusive {
            rustix::fs::FlockOperation::LockExclusive
        } else {
            rustix::fs::FlockOperation::LockShared
        };
        rustix::fs::flock(&file, op).expect("lock the broker lock file");
        BrokerLock(file)
    })
    .await
    .expect("lock task")
}

/// For tests that only publish and consume.
pub async fn broker_shared() -> BrokerLock {
    let lock = lock(false).await;
    wait_for_broker(Duration::from_secs(60)).await;
    lock
}

/// For tests that stop the broker or raise an alarm on it.
pub async fn broker_exclusive() -> BrokerLock {
    let lock = lock(true).await;
    wait_for_broker(Duration::from_secs(60)).await;
    lock
}

/// Waits until the broker accepts AMQP connections.
pub async fn wait_for_broker(timeout: Duration) {
    let start = Instant::now();
    loop {
        if let Ok(conn) = Connection::connect(BROKER_URL, ConnectionProperties::default()).await {
            let _ = conn.close(200, "ok".into()).await;
            return;
        }
        assert!(
            start.elapsed() < timeout,
            "RabbitMQ at {BROKER_ADDR} is not reachable (start it: rabbitmq-server -detached)"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sink settings for tests: fast reconnects, a private spool folder.
pub fn sink_config(url: &str, exchange: &str, spool_dir: &Path) -> AmqpSinkConfig {
    let mut c = AmqpSinkConfig::new(url, spool_dir);
    c.exchange = exchange.to_owned();
    c.reconnect_backoff_base = ConfigDuration(Duration::from_millis(100));
    c.reconnect_backoff_cap = ConfigDuration(Duration::from_millis(500));
    c.connect_timeout = ConfigDuration(Duration::from_secs(3));
    c.confirm_timeout = ConfigDuration(Duration::from_secs(3));
    c
}

/// `n` funding records with distinct content (so distinct message ids), spread over
/// `symbols` base currencies; `seed` keeps separate calls distinct.
pub fn funding_records(exchange: &str, seed: u64, n: usize, symbols: usize) -> Vec<Record> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    (0..n)
        .map(|i| {
            let base = format!("C{}", i % symbols.max(1));
            let mut r = Record::new(
                RecordKind::FUNDING,
                exchange,
                &format!("{base}USDT"),
                &base,
                "USDT",
                "USDT",
                MarketType::LINEAR_PERPETUAL,
                now,
            );
            r.rate = RSome((seed * 1_000_000 + i as u64) as f64 * 1e-9);
            r.interval_hours = RSome(8.0);
            r.interval_source = RSome(plugin_api::IntervalSource::REPORTED);
            r.next_funding_ts = RSome(now + 3_600_000);
            r.mark = RSome(100.0 + i as f64);
            r
        })
        .collect()
}

pub fn batch(exchange: &str, records: Vec<Record>) -> Batch {
    Batch {
        exchange: exchange.to_owned(),
        kind: "funding".to_owned(),
        records,
    }
}

/// Opens the sink the way the host does.
pub async fn open_sink(config: &AmqpSinkConfig) -> AmqpSink {
    AmqpSink::open(config).await.expect("amqp sink opens")
}

/// Writes a batch, retrying like the sink task does; returns what `write` reported.
pub async fn write(sink: &mut AmqpSink, batch: &Batch) -> u64 {
    for _ in 0..100 {
        match sink.write(batch).await {
            Ok(n) => return n,
            Err(e) => {
                eprintln!("write failed (retrying): {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    panic!("write kept failing");
}

/// A message as a consumer saw it.
#[derive(Debug, Clone)]
pub struct Got {
    pub routing_key: String,
    pub message_id: String,
    pub kind: String,
    pub content_type: String,
    pub delivery_mode: u8,
    pub timestamp: u64,
    pub app_id: String,
    pub body: Value,
    /// When this consumer received it.
    pub arrived: Instant,
}

fn short(v: &Option<lapin::types::ShortString>) -> String {
    v.as_ref().map(|s| s.to_string()).unwrap_or_default()
}

/// An admin/consumer connection to the local broker.
pub struct Broker {
    pub connection: Connection,
    pub channel: lapin::Channel,
}

impl Broker {
    pub async fn connect() -> Self {
        let connection = Connection::connect(BROKER_URL, ConnectionProperties::default())
            .await
            .expect("connect to the local RabbitMQ");
        let channel = connection.create_channel().await.expect("channel");
        Self {
            connection,
            channel,
        }
    }

    /// Declares a durable topic exchange and a queue bound to it with `keys`.
    pub async fn queue_bound(&self, exchange: &str, queue: &str, keys: &[&str]) {
        self.channel
            .exchange_declare(
                exchange.into(),
                lapin::ExchangeKind::Topic,
                lapin::options::ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("declare exchange");
        self.channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("declare queue");
        for key in keys {
            self.channel
                .queue_bind(
                    queue.into(),
                    exchange.into(),
                    (*key).into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .expect("bind queue");
        }
    }

    /// Consumes from `queue` until `done(messages, distinct message ids)` holds, or `timeout`. Acks each
    /// message it keeps: what the broker pushed but this did not read goes back to the queue.
    pub async fn collect(
        &self,
        queue: &str,
        timeout: Duration,
        done: impl Fn(&[Got], usize) -> bool,
    ) -> Vec<Got> {
        let channel = self
            .connection
            .create_channel()
            .await
            .expect("consumer channel");
        channel
            .basic_qos(PREFETCH, BasicQosOptions::default())
            .await
            .expect("qos");
        let mut consumer = channel
            .basic_consume(
                queue.into(),
                unique("consumer").as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("consume");
        let mut got = Vec::new();
        let mut last_unacked = None;
        let mut distinct = std::collections::HashSet::new();
        let deadline = tokio::time::Instant::now() + timeout;
        while !done(&got, distinct.len()) {
            match tokio::time::timeout_at(deadline, consumer.next()).await {
                Ok(Some(Ok(d))) => {
                    if got.len() % ACK_EVERY == ACK_EVERY - 1 {
                        d.ack(BasicAckOptions { multiple: true })
                            .await
                            .expect("ack");
                        last_unacked = None;
                    } else {
                        last_unacked = Some(d.acker.clone());
                    }
                    let p = &d.properties;
                    distinct.insert(short(p.message_id()));
                    got.push(Got {
                        routing_key: d.routing_key.to_string(),
                        message_id: short(p.message_id()),
                        kind: short(p.kind()),
                        content_type: short(p.content_type()),
                        delivery_mode: p.delivery_mode().unwrap_or(0),
                        timestamp: p.timestamp().unwrap_or(0),
                        app_id: short(p.app_id()),
                        body: serde_json::from_slice(&d.data).expect("JSON body"),
                        arrived: Instant::now(),
                    });
                }
                Ok(Some(Err(e))) => panic!("consumer failed: {e}"),
                Ok(None) | Err(_) => break,
            }
        }
        if let Some(acker) = last_unacked {
            acker
                .ack(BasicAckOptions { multiple: true })
                .await
                .expect("ack");
        }
        let _ = channel.close(200, "done".into()).await;
        got
    }

    /// Messages ready in `queue`.
    pub async fn depth(&self, queue: &str) -> u32 {
        self.channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map(|q| q.message_count())
            .unwrap_or(0)
    }
}

/// Deletes exchanges and queues when dropped (also when the test panics), from a thread of
/// its own so it works outside the async context.
#[derive(Default)]
pub struct Cleanup {
    pub exchanges: Vec<String>,
    pub queues: Vec<String>,
}

impl Cleanup {
    pub fn exchange(mut self, name: &str) -> Self {
        self.exchanges.push(name.to_owned());
        self
    }

    pub fn queue(mut self, name: &str) -> Self {
        self.queues.push(name.to_owned());
        self
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let exchanges = std::mem::take(&mut self.exchanges);
        let queues = std::mem::take(&mut self.queues);
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Ok(Ok(conn)) = tokio::time::timeout(
                    Duration::from_secs(10),
                    Connection::connect(BROKER_URL, ConnectionProperties::default()),
                )
                .await
                else {
                    return;
                };
                let Ok(channel) = conn.create_channel().await else {
                    return;
                };
                for q in queues {
                    let _ = channel
                        .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                        .await;
                }
                for x in exchanges {
                    let _ = channel
                        .exchange_delete(x.as_str().into(), ExchangeDeleteOptions::default())
                        .await;
                }
                let _ = conn.close(200, "cleanup".into()).await;
            });
        })
        .join();
    }
}

/// A TCP proxy in front of the broker that the test can switch off (existing connections are
/// cut, new ones closed at once) and on again: a broker outage without touching the broker.
pub struct Proxy {
    pub port: u16,
    up: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(up: bool) -> Self {
        let target: SocketAddr = BROKER_ADDR.parse().expect("broker address");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let (tx, rx) = watch::channel(up);
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut state = rx.clone();
                if !*state.borrow_and_update() {
                    drop(client);
                    continue;
                }
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = state.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Self { port, up: tx, task }
    }

    pub fn url(&self) -> String {
        format!("amqp://127.0.0.1:{}/%2f", self.port)
    }

    pub fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.up.send_replace(false);
        self.task.abort();
    }
}

/// Distinct message ids and, per id, whether every copy had the same body.
pub fn by_message_id(got: &[Got]) -> BTreeMap<String, Vec<&Got>> {
    let mut map: BTreeMap<String, Vec<&Got>> = BTreeMap::new();
    for g in got {
        map.entry(g.message_id.clone()).or_default().push(g);
    }
    map
}

/// Resident memory of this process in KiB (Linux), for memory-bound checks.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Polls `check` until it holds or `timeout` passes.
pub async fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}

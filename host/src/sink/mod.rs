//! Sinks: where records go. Owns the `Sink` trait, the JSONL file and stdout sinks, and the
//! sink task that drains the bounded queue between workers and the sink.
//! Must not drop records silently: a record that cannot be encoded is counted and logged;
//! a write that fails is retried until shutdown.
//!
//! A sink implementation lives in its own file next to this one when it grows beyond a few
//! lines (e.g. `amqp.rs`).

pub mod amqp;
mod spool;

use std::{future::Future, path::PathBuf, pin::Pin, time::Duration};

use plugin_api::Record;
use tokio::{io::AsyncWriteExt, sync::mpsc};

use crate::{config::SinkConfig, message::write_json_line};

/// Records handed to the sink together (one exchange, one kind, one cycle).
#[derive(Debug)]
pub struct Batch {
    pub exchange: String,
    pub kind: String,
    pub records: Vec<Record>,
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("write failed: {0}")]
    Write(#[from] std::io::Error),
    #[error("sink type {0} is not available")]
    Unsupported(&'static str),
    #[error("the sink task has stopped")]
    Stopped,
}

/// What `Sink::write` returns: the number of records delivered.
pub type SinkFuture<'a> = Pin<Box<dyn Future<Output = Result<u64, SinkError>> + Send + 'a>>;

/// A destination for records. `write` must not return `Ok` before the batch is durably handed
/// to the destination (flushed, or confirmed by a broker): the caller then counts it delivered.
/// On `Err` the caller retries the same batch, so a sink that delivered part of a batch must
/// remember that itself (or tolerate duplicates, as at-least-once delivery allows).
pub trait Sink: Send {
    /// Delivers every record of `batch`; returns how many were delivered (records that cannot
    /// be encoded are counted by the sink and skipped).
    fn write<'a>(&'a mut self, batch: &'a Batch) -> SinkFuture<'a>;
    /// Starts reporting sink-specific counters (broker confirms, spool) to `telemetry`. The
    /// sink task calls it once before the first write; the default reports nothing extra.
    fn attach_telemetry(&mut self, _telemetry: crate::telemetry::Telemetry) {}
    /// True when the sink reports its own state (e.g. spooling while the broker is away);
    /// otherwise the sink task derives it from write results.
    fn reports_state(&self) -> bool {
        false
    }
    /// Whether the sink task should gather batches before writing (AMQP `linger`): `None`
    /// writes every batch as it comes.
    fn linger(&self) -> Option<Linger> {
        None
    }
    /// Delivers several gathered batches as one write (called only when `linger` is set); same
    /// contract as `write`. The default writes them one by one, so a sink that gathers must
    /// override it to keep a failed write from repeating the batches already delivered.
    fn write_many<'a>(&'a mut self, batches: &'a [Batch]) -> SinkFuture<'a> {
        Box::pin(async move {
            let mut delivered = 0;
            for batch in batches {
                delivered += self.write(batch).await?;
            }
            Ok(delivered)
        })
    }
    /// Flushes and releases resources at shutdown.
    fn close(&mut self) -> SinkFuture<'_> {
        Box::pin(async { Ok(0) })
    }
    fn name(&self) -> &'static str;
}

/// How a sink wants batches gathered before a write: for up to `wait` after the first one,
/// or until `records` are pending, whichever comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Linger {
    pub wait: Duration,
    pub records: usize,
}

/// Encodes a batch as JSON lines into `buf` (cleared first); returns (encoded, unencodable).
pub fn encode_json_lines(batch: &Batch, buf: &mut Vec<u8>) -> (u64, u64) {
    buf.clear();
    let (mut ok, mut bad) = (0, 0);
    for record in &batch.records {
        match write_json_line(record, buf) {
            Ok(()) => ok += 1,
            Err(e) => {
                bad += 1;
                tracing::warn!(exchange = %batch.exchange, kind = %batch.kind, error = %e, "record not encodable; skipped");
            }
        }
    }
    (ok, bad)
}

/// Appends JSON lines to a file (created with its parent folders if missing).
pub struct JsonlSink {
    file: tokio::fs::File,
    buf: Vec<u8>,
}

impl JsonlSink {
    pub async fn open(path: &std::path::Path) -> Result<Self, SinkError> {
        let open_err = |source| SinkError::Open {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(open_err)?;
        }
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await
            .map_err(open_err)?;
        Ok(Self {
            file,
            buf: Vec::with_capacity(64 * 1024),
        })
    }
}

/// Capacity above which the encode buffer is released after a batch (one huge batch must not
/// pin memory for the life of the process).
const MAX_RETAINED_BUFFER: usize = 4 * 1024 * 1024;

impl Sink for JsonlSink {
    fn write<'a>(&'a mut self, batch: &'a Batch) -> SinkFuture<'a> {
        Box::pin(async move {
            let (ok, _) = encode_json_lines(batch, &mut self.buf);
            self.file.write_all(&self.buf).await?;
            self.file.flush().await?;
            if self.buf.capacity() > MAX_RETAINED_BUFFER {
                self.buf = Vec::with_capacity(64 * 1024);
            }
            Ok(ok)
        })
    }

    fn name(&self) -> &'static str {
        "jsonl"
    }
}

/// Writes JSON lines to standard output.
pub struct StdoutSink {
    out: tokio::io::Stdout,
    buf: Vec<u8>,
}

impl Sink for StdoutSink {
    fn write<'a>(&'a mut self, batch: &'a Batch) -> SinkFuture<'a> {
        Box::pin(async move {
            let (ok, _) = encode_json_lines(batch, &mut self.buf);
            self.out.write_all(&self.buf).await?;
            self.out.flush().await?;
            if self.buf.capacity() > MAX_RETAINED_BUFFER {
                self.buf = Vec::new();
            }
            Ok(ok)
        })
    }

    fn name(&self) -> &'static str {
        "stdout"
    }
}

/// Builds the sink a config asks for.
pub async fn open_sink(config: &SinkConfig) -> Result<Box<dyn Sink>, SinkError> {
    Ok(match config {
        SinkConfig::Jsonl { path, .. } => Box::new(JsonlSink::open(path).await?),
        SinkConfig::Stdout { .. } => Box::new(StdoutSink {
            out: tokio::io::stdout(),
            buf: Vec::new(),
        }),
        // Never waits for the broker: it connects in the background and spools meanwhile.
        SinkConfig::Amqp(amqp) => {
            Box::new(
                amqp::AmqpSink::open(amqp)
                    .await
                    .map_err(|e| SinkError::Open {
                        path: amqp.spool_dir.clone(),
                        source: std::io::Error::other(e),
                    })?,
            )
        }
    })
}

/// Delay between attempts when the destination refuses a write.
const WRITE_RETRY_DELAY: Duration = Duration::from_millis(500);

/// Totals kept by the sink task, returned when it ends.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SinkTotals {
    /// Records the sink reported delivered.
    pub records_written: u64,
    /// Records handed to the sink and not reported delivered (unencodable, or abandoned).
    pub records_not_written: u64,
}

/// Drains `rx` into `sink` until every sender is gone, then closes it and returns the totals.
/// A failed write is retried (the batch is kept) until it succeeds or `abandon` fires.
pub async fn run_sink(
    sink: Box<dyn Sink>,
    rx: mpsc::Receiver<Batch>,
    abandon: tokio::sync::watch::Receiver<bool>,
) -> SinkTotals {
    run_sink_observed(sink, rx, abandon, crate::telemetry::Telemetry::default()).await
}

/// [`run_sink`], reporting deliveries, failures, queue depth and state to `telemetry`.
pub async fn run_sink_observed(
    sink: Box<dyn Sink>,
    rx: mpsc::Receiver<Batch>,
    abandon: tokio::sync::watch::Receiver<bool>,
    telemetry: crate::telemetry::Telemetry,
) -> SinkTotals {
    // No control handle: the command channel closes at once and is ignored.
    let (_, commands) = mpsc::channel(1);
    SinkTask::new(sink, None, telemetry)
        .run(rx, commands, abandon)
        .await
}

/// Asks the running sink task to switch to another sink (config reload).
#[derive(Debug, Clone)]
pub struct SinkControl {
    commands: mpsc::Sender<SinkCommand>,
}

#[derive(Debug)]
enum SinkCommand {
    Swap {
        config: Box<SinkConfig>,
        reply: tokio::sync::oneshot::Sender<Result<(), SinkError>>,
    },
}

impl SinkControl {
    /// Switches the sink task to `new` without losing a record: the task stops taking batches
    /// from the queue (they wait there; workers feel back-pressure), closes the current sink
    /// (flushed; an AMQP sink waits for confirms and leaves anything unconfirmed in its spool),
    /// and only then opens the new one, so two sinks never share a file or spool directory.
    /// If the new sink cannot be opened, a sink is reopened from the previous config and the
    /// error is returned; the task goes on either way.
    pub async fn swap(&self, new: SinkConfig) -> Result<(), SinkError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.commands
            .send(SinkCommand::Swap {
                config: Box::new(new),
                reply,
            })
            .await
            .map_err(|_| SinkError::Stopped)?;
        answer.await.map_err(|_| SinkError::Stopped)?
    }
}

/// Opens the sink `config` asks for and starts the sink task draining `rx` into it; the
/// returned [`SinkControl`] swaps it at run time. The task ends when every sender of `rx` is
/// gone and the queue is drained, and returns the totals.
pub async fn spawn_sink(
    config: &SinkConfig,
    rx: mpsc::Receiver<Batch>,
    abandon: tokio::sync::watch::Receiver<bool>,
    telemetry: crate::telemetry::Telemetry,
) -> Result<(SinkControl, tokio::task::JoinHandle<SinkTotals>), SinkError> {
    let sink = open_sink(config).await?;
    let (commands_tx, commands_rx) = mpsc::channel(1);
    let task = SinkTask::new(sink, Some(config.clone()), telemetry);
    Ok((
        SinkControl {
            commands: commands_tx,
        },
        tokio::spawn(task.run(rx, commands_rx, abandon)),
    ))
}

/// Takes more batches from the queue until `linger.records` are gathered, `linger.wait` has
/// passed since the first, or the queue is closed (shutdown: what is gathered is written).
async fn gather(rx: &mut mpsc::Receiver<Batch>, batches: &mut Vec<Batch>, linger: Linger) {
    let deadline = tokio::time::Instant::now() + linger.wait;
    let mut records: usize = batches.iter().map(|b| b.records.len()).sum();
    while records < linger.records {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(batch)) => {
                records += batch.records.len();
                batches.push(batch);
            }
            Ok(None) | Err(_) => return,
        }
    }
}

/// The sink task's state: the open sink and the config it was opened from.
struct SinkTask {
    sink: Box<dyn Sink>,
    config: Option<SinkConfig>,
    telemetry: crate::telemetry::Telemetry,
    own_state: bool,
    totals: SinkTotals,
}

impl SinkTask {
    fn new(
        sink: Box<dyn Sink>,
        config: Option<SinkConfig>,
        telemetry: crate::telemetry::Telemetry,
    ) -> Self {
        let mut task = Self {
            own_state: false,
            sink,
            config,
            telemetry,
            totals: SinkTotals::default(),
        };
        task.attach();
        task
    }

    fn attach(&mut self) {
        use crate::telemetry::SinkState;
        self.own_state = self.sink.reports_state();
        if !self.own_state {
            self.telemetry.sink_state(SinkState::Ok, self.sink.name());
        }
        self.sink.attach_telemetry(self.telemetry.clone());
    }

    async fn run(
        mut self,
        mut rx: mpsc::Receiver<Batch>,
        mut commands: mpsc::Receiver<SinkCommand>,
        mut abandon: tokio::sync::watch::Receiver<bool>,
    ) -> SinkTotals {
        let mut commands_open = true;
        loop {
            tokio::select! {
                // A swap waits for the batch being written, never the other way round.
                biased;
                command = commands.recv(), if commands_open => match command {
                    Some(SinkCommand::Swap { config, reply }) => {
                        let _ = reply.send(self.swap(*config).await);
                    }
                    None => commands_open = false,
                },
                batch = rx.recv() => match batch {
                    Some(batch) => {
                        let mut batches = vec![batch];
                        if let Some(linger) = self.sink.linger() {
                            gather(&mut rx, &mut batches, linger).await;
                        }
                        self.telemetry.sink_buffer_depth(rx.len() as u64);
                        if !self.deliver(&batches, &mut abandon).await {
                            return self.totals;
                        }
                    }
                    None => break,
                },
            }
        }
        self.close().await;
        self.totals
    }

    /// Writes the batches, retrying until they are delivered; false when abandoned at
    /// shutdown.
    async fn deliver(
        &mut self,
        batches: &[Batch],
        abandon: &mut tokio::sync::watch::Receiver<bool>,
    ) -> bool {
        use crate::telemetry::SinkState;
        let handed: u64 = batches.iter().map(|b| b.records.len() as u64).sum();
        loop {
            let written = match batches {
                [one] => self.sink.write(one).await,
                many => self.sink.write_many(many).await,
            };
            match written {
                Ok(delivered) => {
                    self.telemetry.sink_sent(delivered);
                    if !self.own_state {
                        self.telemetry.sink_state(SinkState::Ok, self.sink.name());
                    }
                    self.totals.records_written += delivered;
                    self.totals.records_not_written += handed.saturating_sub(delivered);
                    return true;
                }
                Err(e) => {
                    self.telemetry.sink_failed(handed);
                    if !self.own_state {
                        self.telemetry
                            .sink_state(SinkState::Failing, &e.to_string());
                    }
                    tracing::error!(sink = self.sink.name(), error = %e, "sink write failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(WRITE_RETRY_DELAY) => {}
                        _ = abandon.changed() => {
                            tracing::error!(sink = self.sink.name(), records = handed, "sink abandoned at shutdown; batch lost");
                            self.totals.records_not_written += handed;
                            return false;
                        }
                    }
                }
            }
        }
    }

    async fn close(&mut self) {
        if let Err(e) = self.sink.close().await {
            tracing::error!(sink = self.sink.name(), error = %e, "sink close failed");
        }
        self.telemetry
            .sink_state(crate::telemetry::SinkState::Closed, self.sink.name());
    }

    /// Close the current sink, open `new`; on failure reopen the previous config.
    async fn swap(&mut self, new: SinkConfig) -> Result<(), SinkError> {
        let Some(previous) = self.config.clone() else {
            return Err(SinkError::Unsupported(
                "swapping a sink started without a config",
            ));
        };
        self.close().await;
        match open_sink(&new).await {
            Ok(sink) => {
                tracing::info!(from = self.sink.name(), to = sink.name(), "sink swapped");
                self.sink = sink;
                self.config = Some(new);
                self.attach();
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "new sink cannot be opened; reopening the previous one");
                self.sink = match open_sink(&previous).await {
                    Ok(sink) => sink,
                    // Keep trying at every write: batches wait in the queue meanwhile.
                    Err(again) => {
                        tracing::error!(error = %again, "the previous sink cannot be reopened either; retrying at every write");
                        Box::new(ReopeningSink {
                            config: previous,
                            inner: None,
                        })
                    }
                };
                self.attach();
                Err(e)
            }
        }
    }
}

/// A sink that could not be (re)opened: every write tries to open it again first.
struct ReopeningSink {
    config: SinkConfig,
    inner: Option<Box<dyn Sink>>,
}

impl Sink for ReopeningSink {
    fn write<'a>(&'a mut self, batch: &'a Batch) -> SinkFuture<'a> {
        Box::pin(async move {
            if self.inner.is_none() {
                self.inner = Some(open_sink(&self.config).await?);
            }
            match self.inner.as_mut() {
                Some(sink) => sink.write(batch).await,
                None => Err(SinkError::Unsupported("sink not open")),
            }
        })
    }

    fn close(&mut self) -> SinkFuture<'_> {
        Box::pin(async move {
            match self.inner.as_mut() {
                Some(sink) => sink.close().await,
                None => Ok(0),
            }
        })
    }

    fn name(&self) -> &'static str {
        self.inner.as_ref().map_or("reopening", |s| s.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_api::{MarketType, RecordKind};

    #[tokio::test]
    async fn jsonl_appends_one_line_per_record() {
        let dir = std::env::temp_dir().join(format!("fc-sink-test-{}", std::process::id()));
        let path = dir.join("nested/records.jsonl");
        let _ = std::fs::remove_file(&path);
        let sink = JsonlSink::open(&path).await.unwrap();
        let (tx, rx) = mpsc::channel(4);
        let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(run_sink(Box::new(sink), rx, stop_rx));
        for n in 0..3 {
            let records = (0..2)
                .map(|i| {
                    Record::new(
                        RecordKind::TICKER,
                        "x",
                        &format!("S{n}{i}"),
                        "S",
                        "USDT",
                        "USDT",
                        MarketType::LINEAR_PERPETUAL,
                        1,
                    )
                })
                .collect();
            tx.send(Batch {
                exchange: "x".into(),
                kind: "tickers".into(),
                records,
            })
            .await
            .unwrap();
        }
        drop(tx);
        let totals = task.await.unwrap();
        assert_eq!(totals.records_written, 6);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 6);
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["kind"], "ticker");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn batch(n: usize, tag: &str) -> Batch {
        Batch {
            exchange: "x".into(),
            kind: "tickers".into(),
            records: (0..n)
                .map(|i| {
                    Record::new(
                        RecordKind::TICKER,
                        "x",
                        &format!("{tag}-{i}"),
                        "S",
                        "USDT",
                        "USDT",
                        MarketType::LINEAR_PERPETUAL,
                        1,
                    )
                })
                .collect(),
        }
    }

    fn symbols(path: &std::path::Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["raw_symbol"].as_str().unwrap().to_owned()
            })
            .collect()
    }

    fn jsonl(path: &std::path::Path) -> SinkConfig {
        SinkConfig::Jsonl {
            path: path.to_owned(),
            queue_batches: 4,
        }
    }

    /// A sink task on a JSONL file: its queue, its control, its task, and the abandon switch.
    async fn start_jsonl(
        path: &std::path::Path,
    ) -> (
        mpsc::Sender<Batch>,
        SinkControl,
        tokio::task::JoinHandle<SinkTotals>,
        tokio::sync::watch::Sender<bool>,
    ) {
        let (tx, rx) = mpsc::channel(4);
        let (abandon_tx, abandon_rx) = tokio::sync::watch::channel(false);
        let (control, task) = spawn_sink(
            &jsonl(path),
            rx,
            abandon_rx,
            crate::telemetry::Telemetry::default(),
        )
        .await
        .unwrap();
        (tx, control, task, abandon_tx)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn swap_moves_the_flow_to_the_new_file_losing_and_doubling_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
        let (tx, control, task, _abandon) = start_jsonl(&first).await;
        // A producer that never pauses while the swap happens.
        let producer = tokio::spawn(async move {
            for n in 0..200 {
                tx.send(batch(5, &format!("b{n}"))).await.unwrap();
                if n % 20 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        control.swap(jsonl(&second)).await.unwrap();
        producer.await.unwrap();
        drop(control);
        let totals = task.await.unwrap();
        assert_eq!(totals.records_written, 1000);
        let (a, b) = (symbols(&first), symbols(&second));
        assert!(!b.is_empty(), "nothing reached the new file");
        let mut all: Vec<String> = a.iter().chain(b.iter()).cloned().collect();
        assert_eq!(all.len(), 1000, "{} + {} lines", a.len(), b.len());
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 1000, "a record was written twice");
    }

    #[tokio::test]
    async fn a_sink_that_cannot_open_is_refused_and_the_old_one_keeps_writing() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("a.jsonl");
        std::fs::write(dir.path().join("blocker"), "a file").unwrap();
        let unopenable = dir.path().join("blocker").join("b.jsonl");
        let (tx, control, task, _abandon) = start_jsonl(&first).await;
        tx.send(batch(3, "before")).await.unwrap();
        let e = control.swap(jsonl(&unopenable)).await.unwrap_err();
        assert!(e.to_string().contains("b.jsonl"), "{e}");
        tx.send(batch(3, "after")).await.unwrap();
        drop(tx);
        drop(control);
        let totals = task.await.unwrap();
        assert_eq!(totals.records_written, 6);
        assert_eq!(symbols(&first).len(), 6);
        assert!(!unopenable.exists());
    }

    /// When a write happened and the sizes of the batches it received.
    type WriteLog = std::sync::Arc<std::sync::Mutex<Vec<(std::time::Instant, Vec<usize>)>>>;

    /// A sink that gathers (like AMQP with `linger`) and records what each write received.
    struct Gathering {
        linger: Linger,
        writes: WriteLog,
    }

    impl Sink for Gathering {
        fn linger(&self) -> Option<Linger> {
            Some(self.linger)
        }
        fn write<'a>(&'a mut self, batch: &'a Batch) -> SinkFuture<'a> {
            self.write_many(std::slice::from_ref(batch))
        }
        fn write_many<'a>(&'a mut self, batches: &'a [Batch]) -> SinkFuture<'a> {
            Box::pin(async move {
                let sizes: Vec<usize> = batches.iter().map(|b| b.records.len()).collect();
                let n = sizes.iter().sum::<usize>() as u64;
                self.writes
                    .lock()
                    .unwrap()
                    .push((std::time::Instant::now(), sizes));
                Ok(n)
            })
        }
        fn name(&self) -> &'static str {
            "gathering"
        }
    }

    #[tokio::test]
    async fn linger_gathers_batches_until_enough_records_or_the_wait_is_over() {
        let wait = std::time::Duration::from_millis(300);
        let writes = std::sync::Arc::default();
        let sink = Gathering {
            linger: Linger { wait, records: 10 },
            writes: std::sync::Arc::clone(&writes),
        };
        let (tx, rx) = mpsc::channel(16);
        let (_abandon_tx, abandon_rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(run_sink(Box::new(sink), rx, abandon_rx));

        // Three small batches in quick succession: one write, after the wait.
        let start = std::time::Instant::now();
        for tag in ["a", "b", "c"] {
            tx.send(batch(2, tag)).await.unwrap();
        }
        tokio::time::sleep(wait * 2).await;
        // Enough records at once: written without waiting.
        let enough = std::time::Instant::now();
        tx.send(batch(4, "d")).await.unwrap();
        tx.send(batch(7, "e")).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        // A lone record, then shutdown while it lingers: flushed, not lost.
        tx.send(batch(1, "f")).await.unwrap();
        drop(tx);
        let totals = task.await.unwrap();
        assert_eq!(totals.records_written, 6 + 11 + 1);

        let writes = writes.lock().unwrap();
        let sizes: Vec<Vec<usize>> = writes.iter().map(|(_, s)| s.clone()).collect();
        assert_eq!(sizes, [vec![2, 2, 2], vec![4, 7], vec![1]]);
        let first = writes[0].0.duration_since(start);
        assert!(
            first >= wait && first < wait + std::time::Duration::from_millis(200),
            "first write after {first:?}, linger {wait:?}"
        );
        let second = writes[1].0.duration_since(enough);
        assert!(
            second < std::time::Duration::from_millis(100),
            "a full gathering waited {second:?}"
        );
    }
}

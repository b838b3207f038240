//! Sinks: where records go. Owns the `Sink` trait, the JSONL file and stdout sinks, and the
//! sink task that drains the bounded queue between workers and the sink.
//! Must not drop records silently: a record that cannot be encoded is counted and logged;
//! a write that fails is retried until shutdown.
//!
//! While a sink's writes fail (a full disk), the sink task keeps the batch it is retrying and
//! keeps taking batches from the queue into a memory buffer of at most `buffer_max_records`
//! records, so collection goes on; past that, the oldest waiting batch is dropped and counted
//! (`sink_records_dropped_total{reason="buffer_full"}`). When the sink recovers, everything
//! buffered is written once, in order. With `buffer_max_records = 0` nothing is dropped:
//! the queue fills and the workers wait.
//!
//! The JSONL file sink never leaves a partial line: a failed write is cut back to the file's
//! length before it, so the retry neither joins two records on one line nor duplicates the
//! part that made it; a torn last line left by a crash is cut off when the file is opened.
//!
//! A sink implementation lives in its own file next to this one when it grows beyond a few
//! lines (e.g. `amqp/`, with `spool.rs` and `wire.rs` beside it).

use crate::observe::telemetry::internal_events::{SinkWriteFailed, SinkWritten};
pub mod amqp;
mod spool;
pub mod wire;

use std::{future::Future, path::PathBuf, pin::Pin, time::Duration};

use plugin_api::Record;
use tokio::{io::AsyncWriteExt, sync::mpsc};

use crate::{config::SinkConfig, output::message::write_json_line};

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
    fn attach_telemetry(&mut self, _telemetry: crate::observe::telemetry::Telemetry) {}
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
    path: PathBuf,
    /// The file and the encode buffer; `None` only while a write runs on the blocking pool
    /// (or after that task itself failed; then the file is reopened).
    open: Option<(std::fs::File, Vec<u8>)>,
    /// A failed write could not be cut back: cut the file to this length before writing again.
    cut_to: Option<u64>,
}

impl JsonlSink {
    pub async fn open(path: &std::path::Path) -> Result<Self, SinkError> {
        let owned = path.to_owned();
        let file = tokio::task::spawn_blocking(move || open_jsonl(&owned))
            .await
            .map_err(|e| SinkError::Open {
                path: path.to_owned(),
                source: std::io::Error::other(e),
            })??;
        Ok(Self {
            path: path.to_owned(),
            open: Some((file, Vec::with_capacity(64 * 1024))),
            cut_to: None,
        })
    }
}

/// Opens (creates) a JSON-lines file for appending; a torn last line (a crash in the middle of
/// a write) is cut off first, so the next record starts on a line of its own.
fn open_jsonl(path: &std::path::Path) -> Result<std::fs::File, SinkError> {
    let open_err = |source| SinkError::Open {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(open_err)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
        .map_err(open_err)?;
    let torn = cut_torn_line(&file).map_err(open_err)?;
    if torn > 0 {
        tracing::warn!(path = %path.display(), bytes = torn, "records file ended in a torn line (the collector stopped in the middle of a write); cut off");
    }
    Ok(file)
}

/// Bytes read at a time when looking back for the last newline.
const TORN_LINE_CHUNK: u64 = 64 * 1024;

/// Cuts `file` back to just after its last newline; returns the bytes cut.
fn cut_torn_line(file: &std::fs::File) -> std::io::Result<u64> {
    use std::os::unix::fs::FileExt as _;
    let len = file.metadata()?.len();
    let mut end = len;
    let mut chunk = Vec::new();
    while end > 0 {
        let start = end.saturating_sub(TORN_LINE_CHUNK);
        chunk.resize(usize::try_from(end - start).unwrap_or(0), 0);
        file.read_exact_at(&mut chunk, start)?;
        if let Some(at) = chunk.iter().rposition(|&b| b == b'\n') {
            let keep = start + at as u64 + 1;
            if keep < len {
                file.set_len(keep)?;
            }
            return Ok(len - keep);
        }
        end = start;
    }
    if len > 0 {
        file.set_len(0)?;
    }
    Ok(len)
}

/// Writes `bytes` at the end of `file`, all or nothing: on an error the file is cut back to
/// the length it had. Returns the error and, when even the cut failed, the length to cut to.
fn append_whole(
    file: &mut std::fs::File,
    bytes: &[u8],
) -> Result<(), (std::io::Error, Option<u64>)> {
    use std::io::Write as _;
    let before = file.metadata().map_err(|e| (e, None))?.len();
    match file.write_all(bytes) {
        Ok(()) => Ok(()),
        Err(e) => match file.set_len(before) {
            Ok(()) => Err((e, None)),
            Err(_) => Err((e, Some(before))),
        },
    }
}

/// Capacity above which the encode buffer is released after a batch (one huge batch must not
/// pin memory for the life of the process).
const MAX_RETAINED_BUFFER: usize = 4 * 1024 * 1024;

impl Sink for JsonlSink {
    fn write<'a>(&'a mut self, batch: &'a Batch) -> SinkFuture<'a> {
        Box::pin(async move {
            let (mut file, mut buf) = match self.open.take() {
                Some(open) => open,
                None => {
                    let path = self.path.clone();
                    let file = tokio::task::spawn_blocking(move || open_jsonl(&path))
                        .await
                        .map_err(|e| SinkError::Write(std::io::Error::other(e)))??;
                    (file, Vec::with_capacity(64 * 1024))
                }
            };
            let (ok, _) = encode_json_lines(batch, &mut buf);
            let cut_to = self.cut_to;
            let (file, mut buf, result) = tokio::task::spawn_blocking(move || {
                if let Some(len) = cut_to {
                    if let Err(e) = file.set_len(len) {
                        return (file, buf, Err((e, Some(len))));
                    }
                }
                let result = append_whole(&mut file, &buf);
                (file, buf, result)
            })
            .await
            .map_err(|e| SinkError::Write(std::io::Error::other(e)))?;
            if buf.capacity() > MAX_RETAINED_BUFFER {
                buf = Vec::with_capacity(64 * 1024);
            }
            self.open = Some((file, buf));
            match result {
                Ok(()) => {
                    self.cut_to = None;
                    Ok(ok)
                }
                Err((e, cut_to)) => {
                    self.cut_to = cut_to;
                    Err(SinkError::Write(e))
                }
            }
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
    run_sink_observed(
        sink,
        rx,
        abandon,
        crate::observe::telemetry::Telemetry::default(),
    )
    .await
}

/// [`run_sink`], reporting deliveries, failures, queue depth and state to `telemetry`.
pub async fn run_sink_observed(
    sink: Box<dyn Sink>,
    rx: mpsc::Receiver<Batch>,
    abandon: tokio::sync::watch::Receiver<bool>,
    telemetry: crate::observe::telemetry::Telemetry,
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
    telemetry: crate::observe::telemetry::Telemetry,
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

/// Takes more batches (from the backlog first, then the queue) until `linger.records` are
/// gathered, `linger.wait` has passed since the first, or the queue is closed (shutdown: what
/// is gathered is written).
async fn gather(
    rx: &mut mpsc::Receiver<Batch>,
    backlog: &mut Backlog,
    batches: &mut Vec<Batch>,
    linger: Linger,
) {
    let deadline = tokio::time::Instant::now() + linger.wait;
    let mut records: usize = batches.iter().map(|b| b.records.len()).sum();
    while records < linger.records {
        if let Some(batch) = backlog.pop() {
            records += batch.records.len();
            batches.push(batch);
            continue;
        }
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(batch)) => {
                records += batch.records.len();
                batches.push(batch);
            }
            Ok(None) | Err(_) => return,
        }
    }
}

/// Batches taken from the queue while the sink fails, oldest first, bounded in records.
#[derive(Debug, Default)]
struct Backlog {
    batches: std::collections::VecDeque<Batch>,
    records: usize,
    max_records: usize,
}

impl Backlog {
    fn pop(&mut self) -> Option<Batch> {
        let batch = self.batches.pop_front()?;
        self.records -= batch.records.len();
        Some(batch)
    }

    /// Adds a batch; past the limit drops the oldest waiting batches (the newest one is kept,
    /// even alone over the limit). Returns the records dropped.
    fn push(&mut self, batch: Batch) -> u64 {
        self.records += batch.records.len();
        self.batches.push_back(batch);
        let mut dropped = 0;
        while self.records > self.max_records && self.batches.len() > 1 {
            if let Some(oldest) = self.pop() {
                dropped += oldest.records.len() as u64;
            }
        }
        dropped
    }
}

/// How often a run of drops is logged (each drop is counted).
const DROP_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The sink task's state: the open sink and the config it was opened from.
struct SinkTask {
    sink: Box<dyn Sink>,
    config: Option<SinkConfig>,
    telemetry: crate::observe::telemetry::Telemetry,
    own_state: bool,
    totals: SinkTotals,
    backlog: Backlog,
    last_drop_log: Option<tokio::time::Instant>,
}

impl SinkTask {
    fn new(
        sink: Box<dyn Sink>,
        config: Option<SinkConfig>,
        telemetry: crate::observe::telemetry::Telemetry,
    ) -> Self {
        let max_records = config.as_ref().map_or(
            crate::config::DEFAULT_SINK_BUFFER_MAX_RECORDS,
            SinkConfig::buffer_max_records,
        );
        let mut task = Self {
            own_state: false,
            sink,
            config,
            telemetry,
            totals: SinkTotals::default(),
            backlog: Backlog {
                max_records,
                ..Backlog::default()
            },
            last_drop_log: None,
        };
        task.attach();
        task
    }

    fn attach(&mut self) {
        use crate::observe::telemetry::SinkState;
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
            // What waited in memory while the sink failed goes first, in order.
            let next = match self.backlog.pop() {
                Some(batch) => Some(batch),
                None => tokio::select! {
                    // A swap waits for the batch being written, never the other way round.
                    biased;
                    command = commands.recv(), if commands_open => {
                        match command {
                            Some(SinkCommand::Swap { config, reply }) => {
                                let _ = reply.send(self.swap(*config).await);
                            }
                            None => commands_open = false,
                        }
                        continue;
                    }
                    batch = rx.recv() => batch,
                },
            };
            let Some(batch) = next else { break };
            let mut batches = vec![batch];
            if let Some(linger) = self.sink.linger() {
                gather(&mut rx, &mut self.backlog, &mut batches, linger).await;
            }
            if !self.deliver(&batches, &mut rx, &mut abandon).await {
                return self.totals;
            }
        }
        self.close().await;
        self.totals
    }

    /// Records held in memory: `in_flight` plus the backlog.
    fn report_depth(&self, in_flight: u64) {
        self.telemetry
            .sink_buffer_depth(in_flight + self.backlog.records as u64);
    }

    /// Writes the batches, retrying until they are delivered; false when abandoned at
    /// shutdown. While it retries, batches keep coming off the queue into the backlog.
    async fn deliver(
        &mut self,
        batches: &[Batch],
        rx: &mut mpsc::Receiver<Batch>,
        abandon: &mut tokio::sync::watch::Receiver<bool>,
    ) -> bool {
        let handed: u64 = batches.iter().map(|b| b.records.len() as u64).sum();
        let mut retry = false;
        let mut queue_open = true;
        loop {
            self.report_depth(handed);
            self.telemetry.sink_write_attempt(retry);
            let written = match batches {
                [one] => self.sink.write(one).await,
                many => self.sink.write_many(many).await,
            };
            match written {
                Ok(delivered) => {
                    self.telemetry.emit(SinkWritten {
                        sink: self.sink.name(),
                        handed,
                        delivered,
                        after_retry: retry,
                        waiting: self.backlog.records,
                        report_state: !self.own_state,
                    });
                    self.totals.records_written += delivered;
                    self.totals.records_not_written += handed.saturating_sub(delivered);
                    self.report_depth(0);
                    return true;
                }
                Err(e) => {
                    self.telemetry.emit(SinkWriteFailed {
                        sink: self.sink.name(),
                        error: &e,
                        first: !retry,
                        report_state: !self.own_state,
                    });
                    retry = true;
                    let wait = tokio::time::sleep(WRITE_RETRY_DELAY);
                    tokio::pin!(wait);
                    loop {
                        tokio::select! {
                            biased;
                            _ = abandon.changed() => {
                                let lost = handed + self.backlog.records as u64;
                                tracing::error!(sink = self.sink.name(), records = lost, "sink abandoned at shutdown; the records it held are lost");
                                self.telemetry.sink_failed(lost);
                                self.totals.records_not_written += lost;
                                self.backlog = Backlog::default();
                                self.report_depth(0);
                                return false;
                            }
                            _ = &mut wait => break,
                            batch = rx.recv(), if queue_open && self.backlog.max_records > 0 => match batch {
                                Some(batch) => self.buffer(batch, handed),
                                None => queue_open = false,
                            },
                        }
                    }
                }
            }
        }
    }

    /// Keeps a batch that came while the sink fails; drops (and counts) the oldest waiting
    /// ones past the limit.
    fn buffer(&mut self, batch: Batch, in_flight: u64) {
        let dropped = self.backlog.push(batch);
        self.report_depth(in_flight);
        if dropped == 0 {
            return;
        }
        self.telemetry
            .sink_dropped(crate::observe::telemetry::DropReason::BufferFull, dropped);
        self.totals.records_not_written += dropped;
        let now = tokio::time::Instant::now();
        if self
            .last_drop_log
            .is_none_or(|t| now.duration_since(t) >= DROP_LOG_INTERVAL)
        {
            self.last_drop_log = Some(now);
            tracing::error!(
                sink = self.sink.name(),
                dropped,
                max_records = self.backlog.max_records,
                "sink memory buffer full while the sink fails: oldest waiting records dropped"
            );
        }
    }

    async fn close(&mut self) {
        if let Err(e) = self.sink.close().await {
            tracing::error!(sink = self.sink.name(), error = %e, "sink close failed");
        }
        self.telemetry.sink_state(
            crate::observe::telemetry::SinkState::Closed,
            self.sink.name(),
        );
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
                self.backlog.max_records = new.buffer_max_records();
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
            buffer_max_records: crate::config::DEFAULT_SINK_BUFFER_MAX_RECORDS,
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
            crate::observe::telemetry::Telemetry::default(),
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
        // A producer that never pauses while the swap happens, and goes on for a while after
        // it (however fast or slow this machine is), so both files must get records.
        let swapped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = std::sync::Arc::clone(&swapped);
        let producer = tokio::spawn(async move {
            let (mut n, mut after_swap) = (0usize, 0usize);
            while after_swap < 20 {
                tx.send(batch(5, &format!("b{n}"))).await.unwrap();
                n += 1;
                if seen.load(std::sync::atomic::Ordering::SeqCst) {
                    after_swap += 1;
                }
                if n % 20 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            n
        });
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        control.swap(jsonl(&second)).await.unwrap();
        swapped.store(true, std::sync::atomic::Ordering::SeqCst);
        let batches = producer.await.unwrap();
        drop(control);
        let totals = task.await.unwrap();
        assert_eq!(totals.records_written, 5 * batches as u64);
        let (a, b) = (symbols(&first), symbols(&second));
        assert!(!b.is_empty(), "nothing reached the new file");
        let mut all: Vec<String> = a.iter().chain(b.iter()).cloned().collect();
        assert_eq!(all.len(), 5 * batches, "{} + {} lines", a.len(), b.len());
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 5 * batches, "a record was written twice");
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

    #[test]
    fn a_torn_last_line_is_cut_off_when_the_file_is_opened() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&[u8], &[u8]); 5] = [
            (b"", b""),
            (b"{\"a\":1}\n", b"{\"a\":1}\n"),
            (b"{\"a\":1}\n{\"b\":", b"{\"a\":1}\n"),
            (b"{\"torn\"", b""),
            (b"{\"a\":1}\n{\"b\":2}\n", b"{\"a\":1}\n{\"b\":2}\n"),
        ];
        for (n, (before, after)) in cases.iter().enumerate() {
            let path = dir.path().join(format!("{n}.jsonl"));
            std::fs::write(&path, before).unwrap();
            drop(open_jsonl(&path).unwrap());
            assert_eq!(std::fs::read(&path).unwrap(), *after, "case {n}");
        }
        // A torn line longer than one look-back chunk.
        let path = dir.path().join("long.jsonl");
        let mut long = b"{\"a\":1}\n".to_vec();
        long.extend(std::iter::repeat_n(b'x', 3 * TORN_LINE_CHUNK as usize));
        std::fs::write(&path, &long).unwrap();
        drop(open_jsonl(&path).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"a\":1}\n");
    }

    #[test]
    fn a_write_that_cannot_be_cut_back_is_cut_before_the_next_one() {
        // /dev/full refuses every write (ENOSPC) and cannot be truncated.
        let mut full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let (e, cut_to) = append_whole(&mut full, b"{}\n").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(28), "{e}");
        assert_eq!(cut_to, Some(0));
    }

    /// A sink whose writes fail while `failing` is set; it records what it delivered.
    struct Flaky {
        failing: std::sync::Arc<std::sync::atomic::AtomicBool>,
        delivered: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    }

    impl Sink for Flaky {
        fn write<'a>(&'a mut self, batch: &'a Batch) -> SinkFuture<'a> {
            Box::pin(async move {
                if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
                    return Err(SinkError::Write(std::io::Error::from_raw_os_error(28)));
                }
                let mut delivered = self.delivered.lock().unwrap();
                delivered.extend(batch.records.iter().map(|r| r.raw_symbol.to_string()));
                Ok(batch.records.len() as u64)
            })
        }
        fn name(&self) -> &'static str {
            "flaky"
        }
    }

    /// Runs a sink task on a `Flaky` sink with a memory buffer of `max_records`; the producer
    /// sends `batches` batches of 10 records while the sink fails, then the sink recovers.
    async fn through_a_failing_sink(
        max_records: usize,
        batches: usize,
    ) -> (
        Vec<String>,
        SinkTotals,
        crate::observe::telemetry::Telemetry,
    ) {
        let failing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let delivered = std::sync::Arc::default();
        let sink = Flaky {
            failing: failing.clone(),
            delivered: std::sync::Arc::clone(&delivered),
        };
        let telemetry = crate::observe::telemetry::Telemetry::default();
        let mut task = SinkTask::new(Box::new(sink), None, telemetry.clone());
        task.backlog.max_records = max_records;
        let (tx, rx) = mpsc::channel(2);
        let (_commands_tx, commands_rx) = mpsc::channel(1);
        let (_abandon_tx, abandon_rx) = tokio::sync::watch::channel(false);
        let handle = tokio::spawn(task.run(rx, commands_rx, abandon_rx));
        // The producer is never held up for long by the failing sink: the queue holds 2.
        let sent = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            for n in 0..batches {
                tx.send(batch(10, &format!("b{n:03}"))).await.unwrap();
            }
        })
        .await;
        assert!(sent.is_ok(), "the producer was blocked by a failing sink");
        // Let the task take what is queued into its buffer before the sink recovers.
        tokio::time::sleep(WRITE_RETRY_DELAY * 2).await;
        failing.store(false, std::sync::atomic::Ordering::SeqCst);
        drop(tx);
        let totals = handle.await.unwrap();
        let delivered = delivered.lock().unwrap().clone();
        (delivered, totals, telemetry)
    }

    #[tokio::test]
    async fn a_failing_sink_buffers_in_memory_and_writes_everything_once_in_order() {
        let (delivered, totals, telemetry) = through_a_failing_sink(1_000, 30).await;
        let want: Vec<String> = (0..30)
            .flat_map(|n| (0..10).map(move |i| format!("b{n:03}-{i}")))
            .collect();
        assert_eq!(delivered, want);
        assert_eq!(totals.records_written, 300);
        assert_eq!(totals.records_not_written, 0);
        let sink = telemetry.snapshot(std::time::Duration::from_secs(60)).sink;
        assert_eq!((sink.dropped, sink.failed), (0, 0));
        assert!(sink.retries >= 1, "{sink:?}");
        assert_eq!(sink.writes, sink.retries + 30);
        assert_eq!(sink.buffer_depth, 0);
    }

    #[tokio::test]
    async fn past_the_buffer_limit_the_oldest_waiting_batches_are_dropped_and_counted() {
        let (delivered, totals, telemetry) = through_a_failing_sink(50, 30).await;
        // The batch being retried (the first) is kept, then the newest 50 records.
        let mut want: Vec<String> = (0..10).map(|i| format!("b000-{i}")).collect();
        want.extend((25..30).flat_map(|n| (0..10).map(move |i| format!("b{n:03}-{i}"))));
        assert_eq!(delivered, want);
        assert_eq!(totals.records_written, 60);
        assert_eq!(totals.records_not_written, 240);
        let sink = telemetry.snapshot(std::time::Duration::from_secs(60)).sink;
        assert_eq!(sink.dropped, 240);
        assert_eq!(sink.dropped_by_reason["buffer_full"], 240);
        assert_eq!(sink.failed, 0, "a drop is not a failure");
    }
}

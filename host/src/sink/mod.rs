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
    /// Flushes and releases resources at shutdown.
    fn close(&mut self) -> SinkFuture<'_> {
        Box::pin(async { Ok(0) })
    }
    fn name(&self) -> &'static str;
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
    mut sink: Box<dyn Sink>,
    mut rx: mpsc::Receiver<Batch>,
    mut abandon: tokio::sync::watch::Receiver<bool>,
    telemetry: crate::telemetry::Telemetry,
) -> SinkTotals {
    use crate::telemetry::SinkState;
    let mut totals = SinkTotals::default();
    let own_state = sink.reports_state();
    if !own_state {
        telemetry.sink_state(SinkState::Ok, sink.name());
    }
    sink.attach_telemetry(telemetry.clone());
    while let Some(batch) = rx.recv().await {
        telemetry.sink_buffer_depth(rx.len() as u64);
        let handed = batch.records.len() as u64;
        loop {
            match sink.write(&batch).await {
                Ok(delivered) => {
                    telemetry.sink_sent(delivered);
                    if !own_state {
                        telemetry.sink_state(SinkState::Ok, sink.name());
                    }
                    totals.records_written += delivered;
                    totals.records_not_written += handed.saturating_sub(delivered);
                    break;
                }
                Err(e) => {
                    telemetry.sink_failed(handed);
                    if !own_state {
                        telemetry.sink_state(SinkState::Failing, &e.to_string());
                    }
                    tracing::error!(sink = sink.name(), error = %e, "sink write failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(WRITE_RETRY_DELAY) => {}
                        _ = abandon.changed() => {
                            tracing::error!(sink = sink.name(), records = handed, "sink abandoned at shutdown; batch lost");
                            totals.records_not_written += handed;
                            return totals;
                        }
                    }
                }
            }
        }
    }
    if let Err(e) = sink.close().await {
        tracing::error!(sink = sink.name(), error = %e, "sink close failed");
    }
    telemetry.sink_state(SinkState::Closed, sink.name());
    totals
}

// ---- placeholder until the sink swap lands (wip-amqp) ----

/// Asks the running sink task to switch sinks.
#[derive(Debug)]
pub struct SinkControl;

impl SinkControl {
    pub async fn swap(&self, _new: SinkConfig) -> Result<(), SinkError> {
        Err(SinkError::Unsupported("sink swap"))
    }
}

/// Opens the sink and starts the sink task.
pub async fn spawn_sink(
    config: &SinkConfig,
    rx: mpsc::Receiver<Batch>,
    abandon: tokio::sync::watch::Receiver<bool>,
    telemetry: crate::telemetry::Telemetry,
) -> Result<(SinkControl, tokio::task::JoinHandle<SinkTotals>), SinkError> {
    let sink = open_sink(config).await?;
    Ok((
        SinkControl,
        tokio::spawn(run_sink_observed(sink, rx, abandon, telemetry)),
    ))
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
}

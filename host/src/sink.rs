//! Sinks: where records go. Owns the `Sink` trait, the JSONL file and stdout sinks, and the
//! sink task that drains the bounded queue between workers and the sink.
//! Must not drop records silently: a record that cannot be serialized is counted and logged;
//! a write that fails is retried until shutdown.

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
}

pub type SinkFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>>;

/// A destination for encoded records. `write` must not return before the bytes are handed to
/// the destination (flushed): the caller then counts them as delivered.
pub trait Sink: Send {
    /// Writes `lines` (newline-terminated JSON records) and flushes.
    fn write<'a>(&'a mut self, lines: &'a [u8]) -> SinkFuture<'a>;
    fn name(&self) -> &'static str;
}

/// Appends JSON lines to a file (created with its parent folders if missing).
pub struct JsonlSink {
    file: tokio::fs::File,
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
        Ok(Self { file })
    }
}

impl Sink for JsonlSink {
    fn write<'a>(&'a mut self, lines: &'a [u8]) -> SinkFuture<'a> {
        Box::pin(async move {
            self.file.write_all(lines).await?;
            self.file.flush().await?;
            Ok(())
        })
    }

    fn name(&self) -> &'static str {
        "jsonl"
    }
}

/// Writes JSON lines to standard output.
pub struct StdoutSink {
    out: tokio::io::Stdout,
}

impl Sink for StdoutSink {
    fn write<'a>(&'a mut self, lines: &'a [u8]) -> SinkFuture<'a> {
        Box::pin(async move {
            self.out.write_all(lines).await?;
            self.out.flush().await?;
            Ok(())
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
        }),
    })
}

/// Delay between attempts when the destination refuses a write.
const WRITE_RETRY_DELAY: Duration = Duration::from_millis(500);

/// Totals kept by the sink task, returned when it ends.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SinkTotals {
    pub records_written: u64,
    pub records_unencodable: u64,
}

/// Drains `rx` into `sink` until every sender is gone, then returns the totals. A failed write
/// is retried (the batch is kept) until it succeeds or `abandon` fires.
pub async fn run_sink(
    mut sink: Box<dyn Sink>,
    mut rx: mpsc::Receiver<Batch>,
    mut abandon: tokio::sync::watch::Receiver<bool>,
) -> SinkTotals {
    let mut totals = SinkTotals::default();
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    while let Some(batch) = rx.recv().await {
        buf.clear();
        let mut written = 0u64;
        for record in &batch.records {
            match write_json_line(record, &mut buf) {
                Ok(()) => written += 1,
                Err(e) => {
                    totals.records_unencodable += 1;
                    tracing::warn!(exchange = %batch.exchange, kind = %batch.kind, error = %e, "record not written");
                }
            }
        }
        loop {
            match sink.write(&buf).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::error!(sink = sink.name(), error = %e, "sink write failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(WRITE_RETRY_DELAY) => {}
                        _ = abandon.changed() => {
                            tracing::error!(sink = sink.name(), records = written, "sink abandoned at shutdown; batch lost");
                            return totals;
                        }
                    }
                }
            }
        }
        totals.records_written += written;
        // Keep the buffer from growing without bound after one huge batch.
        if buf.capacity() > 4 * 1024 * 1024 {
            buf = Vec::with_capacity(64 * 1024);
        }
    }
    totals
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

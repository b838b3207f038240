//! The benchmark's sink: a real JSONL file sink that also notes, per batch, the time from the
//! response feeding it to the write completing, and the thread CPU time spent encoding.
//!
//! Owns the sink task and its log. Must not be used by the running service (its sinks live in
//! `output/`); it reuses their encoder so the encoding measured is the one shipped.

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{io::AsyncWriteExt, sync::mpsc};

use super::{instruments::thread_cpu_time, BenchError, ResponseClock};
use crate::output::sink::{encode_json_lines, Batch};

/// Size the encoding buffer starts with.
const ENCODE_BUFFER_BYTES: usize = 64 * 1024;

/// Response-to-sink latencies (ms), records written and encoding CPU, collected by the
/// benchmark's sink.
#[derive(Default)]
pub(super) struct SinkLog {
    /// (`exchange/kind` of the batch, latency in ms).
    pub(super) latencies_ms: Vec<(String, f64)>,
    records: u64,
    /// Thread CPU time spent encoding records to JSON lines.
    encode_cpu: Duration,
    /// A batch is being written right now.
    busy: bool,
}

/// A real JSONL sink (to a temporary file) that also notes, per batch, the time from the
/// newest response feeding it being received (the monotonic instant the HTTP executor took
/// when the body was complete, handed over through `clock`) to the write completing.
pub(super) fn spawn_sink(
    path: &Path,
    log: Arc<Mutex<SinkLog>>,
    clock: ResponseClock,
) -> Result<(mpsc::Sender<Batch>, tokio::task::JoinHandle<()>), BenchError> {
    let (tx, mut rx) = mpsc::channel::<Batch>(crate::config::DEFAULT_SINK_QUEUE_BATCHES);
    let path = path.to_owned();
    let task = tokio::spawn(async move {
        // The same steps as `JsonlSink::write` (encode the batch into one buffer, append it,
        // flush), with the encoding timed on the thread CPU clock.
        let Ok(mut file) = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .await
        else {
            return;
        };
        let mut buf = Vec::with_capacity(ENCODE_BUFFER_BYTES);
        while let Some(batch) = rx.recv().await {
            log.lock().unwrap_or_else(|p| p.into_inner()).busy = true;
            let received_at = clock.take(&batch.exchange, &batch.kind);
            let started = thread_cpu_time();
            let (written, _) = encode_json_lines(&batch, &mut buf);
            let encode_cpu = thread_cpu_time().saturating_sub(started);
            let ok = file.write_all(&buf).await.is_ok() && file.flush().await.is_ok();
            let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(at) = received_at {
                let ms = at.elapsed().as_secs_f64() * 1e3;
                log.latencies_ms
                    .push((format!("{}/{}", batch.exchange, batch.kind), ms));
            }
            if ok {
                log.records += written;
            }
            log.encode_cpu += encode_cpu;
            log.busy = false;
        }
    });
    Ok((tx, task))
}

/// Waits until the sink has written everything queued (so a mode's encoding CPU is complete).
pub(super) async fn sink_drained(tx: &mpsc::Sender<Batch>, log: &Mutex<SinkLog>) {
    for _ in 0..SINK_DRAIN_POLLS {
        let busy = log.lock().unwrap_or_else(|p| p.into_inner()).busy;
        if tx.capacity() == tx.max_capacity() && !busy {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Upper bound of 1 ms polls while waiting for the sink to drain.
const SINK_DRAIN_POLLS: u32 = 5_000;

pub(super) fn encode_cpu(log: &Mutex<SinkLog>) -> Duration {
    log.lock().unwrap_or_else(|p| p.into_inner()).encode_cpu
}

//! The AMQP sink's spool limit, in a test binary of its own because it measures this
//! process's resident memory (other tests running beside it would add theirs): with the broker
//! unreachable, ~60 MB of records go into a 2 MiB spool; the oldest are dropped and counted,
//! the folder stays within its limit, memory stays flat, and the newest are delivered once the
//! broker is back.

mod amqp_support;

use std::{collections::BTreeSet, time::Duration};

use amqp_support::*;
use futures_collector::output::sink::{amqp::record_message_id, Sink};

/// The spool's size limit: past it the oldest records are dropped and counted, the folder
/// stays within the limit, memory stays flat, and what is left is delivered afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_spool_drops_oldest_counts_them_and_bounds_memory() {
    let _lock = broker_shared().await;
    let exchange = unique("full");
    let q = unique("full-q");
    let _cleanup = Cleanup::default().exchange(&exchange).queue(&q);
    let broker = Broker::connect().await;
    broker.queue_bound(&exchange, &q, &["#"]).await;
    let proxy = Proxy::start(false).await;
    let spool = tempfile::tempdir().unwrap();
    let max = 2 * 1024 * 1024;
    let mut config = sink_config(&proxy.url(), &exchange, spool.path());
    config.spool_max_bytes = max;
    let mut sink = open_sink(&config).await;
    let stats = sink.stats();

    let rss_before = rss_kib();
    let mut handed = 0u64;
    let mut last_ids = Vec::new();
    for round in 0..150u64 {
        let records = funding_records("x", 1000 + round, 1000, 50);
        handed += records.len() as u64;
        last_ids = records.iter().map(record_message_id).collect();
        let started = std::time::Instant::now();
        assert_eq!(write(&mut sink, &batch("x", records)).await, 1000);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a spooled write stays fast"
        );
        assert!(spool_bytes(spool.path()) <= max, "spool over its limit");
    }
    let grown_kib = rss_kib().saturating_sub(rss_before);
    let s = stats.snapshot();
    assert_eq!(s.spooled_records, handed);
    assert!(s.dropped_records > 0, "{s:?}");
    assert_eq!(
        s.dropped_records + s.spool_records,
        handed,
        "every record is either still spooled or counted as dropped: {s:?}"
    );
    // ~60 MB of JSON went through; the process keeps none of it.
    eprintln!("resident memory grew {grown_kib} KiB while {handed} records were spooled");
    assert!(
        grown_kib < 40 * 1024,
        "resident memory grew {grown_kib} KiB"
    );

    proxy.set_up(true);
    let left = s.spool_records as usize;
    let got = broker
        .collect(&q, Duration::from_secs(20), |g, _| g.len() >= left)
        .await;
    assert_eq!(got.len(), left);
    let got_ids: BTreeSet<&str> = got.iter().map(|g| g.message_id.as_str()).collect();
    assert!(
        last_ids.iter().all(|id| got_ids.contains(id.as_str())),
        "the newest records are kept"
    );
    sink.close().await.unwrap();
}

fn spool_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "spool"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

//! The AMQP sink against the real broker going away: `rabbitmqctl stop_app` / `start_app`
//! mid-stream, and a memory alarm that blocks publishers. These tests change the shared local
//! broker, so each holds the exclusive broker lock (no other broker test runs meanwhile, in
//! this binary or another) and a guard that puts the broker back even when the test fails.

mod amqp_support;

use std::{collections::BTreeSet, process::Command, time::Duration};

use amqp_support::*;
use futures_collector::{
    config::duration::ConfigDuration,
    config::{AmqpQueueConfig, AmqpQueueType},
    output::sink::{
        amqp::{record_message_id, LinkState},
        run_sink, Sink,
    },
};

fn rabbitmqctl(args: &[&str]) -> String {
    let out = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("rabbitmqctl {args:?}: {e}"));
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Starts the broker application again when dropped (test passed or not).
struct StartAppOnDrop;

impl Drop for StartAppOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl").arg("start_app").output();
        let _ = Command::new("rabbitmqctl")
            .args(["await_startup", "--timeout", "60"])
            .output();
    }
}

/// Restores the memory high watermark when dropped.
struct WatermarkOnDrop(String);

impl Drop for WatermarkOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl")
            .args(["set_vm_memory_high_watermark", &self.0])
            .output();
    }
}

fn durable_queue(name: &str) -> AmqpQueueConfig {
    AmqpQueueConfig {
        name: name.to_owned(),
        bindings: vec!["#".to_owned()],
        queue_type: AmqpQueueType::Classic,
        max_length: None,
        max_length_bytes: None,
        message_ttl: None,
        overflow: None,
    }
}

/// The broker is stopped mid-stream and started again: every record handed to the sink task
/// reaches the (durable) queue at least once, copies carry one message_id and one body, and
/// handing records to the sink never stalls for long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_stopped_and_started_mid_stream_loses_nothing() {
    let _lock = broker_exclusive().await;
    let exchange = unique("stop-start");
    let q = unique("stop-start-q");
    let _cleanup = Cleanup::default().exchange(&exchange).queue(&q);
    let spool = tempfile::tempdir().unwrap();
    let mut config = sink_config(BROKER_URL, &exchange, spool.path());
    config.queues = vec![durable_queue(&q)];
    config.close_timeout = ConfigDuration(Duration::from_secs(30));
    let sink = open_sink(&config).await;
    let stats = sink.stats();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let (_abandon_tx, abandon_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(run_sink(Box::new(sink), rx, abandon_rx));
    let _restart = StartAppOnDrop;
    let chaos = tokio::task::spawn_blocking(|| {
        let t = std::time::Instant::now();
        std::thread::sleep(Duration::from_millis(1500));
        rabbitmqctl(&["stop_app"]);
        eprintln!("T stopped {:?}", t.elapsed());
        std::thread::sleep(Duration::from_secs(2));
        rabbitmqctl(&["start_app"]);
        eprintln!("T started {:?}", t.elapsed());
    });

    let mut want = BTreeSet::new();
    let mut handed = 0u64;
    let mut round = 0u64;
    let mut after_chaos = 0;
    while after_chaos < 20 {
        if chaos.is_finished() {
            after_chaos += 1;
        }
        let records = funding_records("x", 500 + round, 40, 8);
        want.extend(records.iter().map(record_message_id));
        handed += records.len() as u64;
        let started = std::time::Instant::now();
        tx.send(batch("x", records)).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "collection blocked for {:?} by the outage",
            started.elapsed()
        );
        round += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t0 = std::time::Instant::now();
    eprintln!("T produce done rounds={round}");
    chaos.await.unwrap();
    drop(tx);
    let totals = task.await.unwrap();
    eprintln!("T sink done {:?}", t0.elapsed());
    assert_eq!(totals.records_written, handed);
    let s = stats.snapshot();
    assert!(s.connections >= 2, "reconnected after the restart: {s:?}");
    assert_eq!(s.spool_records, 0, "spool replayed before close: {s:?}");

    let got = Broker::connect()
        .await
        .collect(&q, Duration::from_secs(30), |_, distinct| {
            distinct >= want.len()
        })
        .await;
    eprintln!("T collected {:?}", t0.elapsed());
    let ids = by_message_id(&got);
    let missing = want.iter().filter(|id| !ids.contains_key(*id)).count();
    assert_eq!(
        missing,
        0,
        "{missing} of {} records lost: {s:?}",
        want.len()
    );
    for (id, copies) in &ids {
        assert!(want.contains(id), "unexpected id {id}");
        assert!(
            copies.iter().all(|c| c.body == copies[0].body),
            "copies of {id} differ"
        );
    }
    eprintln!(
        "handed {handed}, delivered {} ({} duplicates), spooled {}, connections {}",
        got.len(),
        got.len() - ids.len(),
        s.spooled_records,
        s.connections
    );
}

/// A broker resource alarm blocks publishing: the sink notices within a write, spools
/// instead of waiting (then and while the block lasts), and replays when the alarm clears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_connection_pauses_publishing_and_spools() {
    let _lock = broker_exclusive().await;
    let exchange = unique("blocked");
    let q = unique("blocked-q");
    let _cleanup = Cleanup::default().exchange(&exchange).queue(&q);
    let spool = tempfile::tempdir().unwrap();
    let mut config = sink_config(BROKER_URL, &exchange, spool.path());
    config.queues = vec![durable_queue(&q)];
    let mut sink = open_sink(&config).await;
    let stats = sink.stats();
    let first = funding_records("x", 800, 20, 5);
    assert_eq!(write(&mut sink, &batch("x", first.clone())).await, 20);
    assert_eq!(stats.snapshot().confirmed_records, 20);

    let watermark = rabbitmqctl(&["eval", "vm_memory_monitor:get_vm_memory_high_watermark()."]);
    let restore = if watermark.parse::<f64>().is_ok() {
        watermark
    } else {
        "0.4".to_owned()
    };
    let guard = WatermarkOnDrop(restore);
    rabbitmqctl(&["set_vm_memory_high_watermark", "0.0000001"]);

    // RabbitMQ blocks a connection when it next publishes: this write notices the block while
    // waiting for confirms and spools what was not confirmed, instead of waiting it out.
    let second = funding_records("x", 801, 30, 5);
    let started = std::time::Instant::now();
    assert_eq!(write(&mut sink, &batch("x", second.clone())).await, 30);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a write while blocked spools at once ({:?})",
        started.elapsed()
    );
    let s = stats.snapshot();
    assert_eq!(s.state, LinkState::Blocked, "{s:?}");
    assert_eq!(
        s.confirmed_records, 20,
        "nothing confirmed while blocked: {s:?}"
    );
    assert_eq!(s.spool_records, 30, "{s:?}");
    // Further writes go straight to the spool.
    let third = funding_records("x", 802, 10, 5);
    let started = std::time::Instant::now();
    assert_eq!(write(&mut sink, &batch("x", third.clone())).await, 10);
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(stats.snapshot().spool_records, 40);

    drop(guard);
    let unblocked = eventually(Duration::from_secs(20), || {
        let s = stats.snapshot();
        s.state == LinkState::Connected && s.spool_records == 0
    })
    .await;
    assert!(
        unblocked,
        "no replay after the alarm: {:?}",
        stats.snapshot()
    );
    let want: BTreeSet<String> = first
        .iter()
        .chain(&second)
        .chain(&third)
        .map(record_message_id)
        .collect();
    let got = Broker::connect()
        .await
        .collect(&q, Duration::from_secs(20), |_, distinct| {
            distinct >= want.len()
        })
        .await;
    let ids: BTreeSet<String> = got.iter().map(|g| g.message_id.clone()).collect();
    assert_eq!(ids, want);
    sink.close().await.unwrap();
}

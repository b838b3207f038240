//! Throughput of the AMQP sink against a real broker (default: the local RabbitMQ at
//! amqp://127.0.0.1:5672/%2f, guest/guest; `FC_BENCH_AMQP_URL` overrides it), with publisher
//! confirms on: records/s from the first `write` to the last one returning, i.e. every record
//! confirmed by the broker. Per queue type, two runs: one record per message, and batched.
//!
//! Run: `cargo bench -p futures-collector --bench amqp_throughput`
//!
//! Knobs (environment): `FC_BENCH_RECORDS` records per run (100000); `FC_BENCH_BATCH_MAX`
//! records per message in the batched run (250); `FC_BENCH_QUEUE` the bound queue types,
//! comma-separated (default `classic,quorum,stream`; also `classic2` = classic queue version 2,
//! and `none` = no queue: every message comes back unroutable, which measures the path without
//! queue work); `FC_BENCH_WINDOW` the sink's `max_unconfirmed`.
//!
//! Uses its own exchange and a bounded queue (so the broker does not keep what it is sent),
//! deleted at the end. Owns no production code: it drives the public sink API.

use std::time::{Duration, Instant};

use futures_collector::{
    config::{AmqpOverflow, AmqpQueueConfig, AmqpQueueType, AmqpSinkConfig},
    output::sink::{amqp::AmqpSink, Batch, Sink},
};
use lapin::{
    options::{ExchangeDeleteOptions, QueueDeleteOptions},
    Connection, ConnectionProperties,
};
use plugin_api::{abi_stable::std_types::ROption::RSome, MarketType, Record, RecordKind};

/// Records per `write` (one exchange's ticker cycle is a few hundred to a thousand).
const RECORDS_PER_WRITE: usize = 1000;
/// Records per run unless `FC_BENCH_RECORDS` says otherwise.
const DEFAULT_RECORDS: usize = 100_000;
/// Queue types measured unless `FC_BENCH_QUEUE` names others (comma-separated).
const DEFAULT_QUEUES: [&str; 3] = ["classic", "quorum", "stream"];
/// Records per message in the batched run.
const BATCH_MAX: usize = 250;
/// The bench queue keeps at most this many messages (oldest dropped).
const QUEUE_MAX_LENGTH: u64 = 50_000;
/// The bench stream keeps at most this many bytes (a stream's only bound).
const STREAM_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Records written before timing starts (connection, declarations, warm caches).
const WARM_UP_RECORDS: usize = 5_000;

fn tickers(n: usize, seed: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let base = format!("COIN{}", i % 500);
            let mut r = Record::new(
                RecordKind::TICKER,
                "binance",
                &format!("{base}USDT"),
                &base,
                "USDT",
                "USDT",
                MarketType::LINEAR_PERPETUAL,
                1_700_000_000_000 + (seed * n + i) as i64,
            );
            let p = 100.0 + (seed * n + i) as f64 * 0.001;
            r.exchange_ts = RSome(1_700_000_000_000 + (seed * n + i) as i64);
            r.last = RSome(p);
            r.bid = RSome(p - 0.01);
            r.ask = RSome(p + 0.01);
            r.mark = RSome(p);
            r.index = RSome(p - 0.02);
            r.volume_24h_base = RSome(123_456.789);
            r.volume_24h_quote = RSome(123_456.789 * p);
            r.open_interest_base = RSome(9_876.5);
            r.open_interest_quote = RSome(9_876.5 * p);
            r
        })
        .collect()
}

async fn run(
    url: &str,
    queue: &str,
    batch_max: usize,
    records: usize,
) -> Result<(f64, u64), String> {
    let name = format!("fc-bench-{}-{queue}-{batch_max}", std::process::id());
    let spool = std::env::temp_dir().join(format!("{name}-spool"));
    let mut config = AmqpSinkConfig::new(url, &spool);
    config.exchange = name.clone();
    config.batch_max = batch_max;
    let queue_type = match queue {
        "quorum" => AmqpQueueType::Quorum,
        "stream" => AmqpQueueType::Stream,
        _ => AmqpQueueType::Classic,
    };
    config.max_unconfirmed = std::env::var("FC_BENCH_WINDOW")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(config.max_unconfirmed);
    config.queues = vec![AmqpQueueConfig {
        name: name.clone(),
        bindings: vec!["#".into()],
        queue_type,
        // Streams are bounded by size only.
        max_length: (queue_type != AmqpQueueType::Stream).then_some(QUEUE_MAX_LENGTH),
        max_length_bytes: (queue_type == AmqpQueueType::Stream).then_some(STREAM_MAX_BYTES),
        message_ttl: None,
        overflow: (queue_type != AmqpQueueType::Stream).then_some(AmqpOverflow::DropHead),
    }];
    if queue == "none" {
        config.queues.clear();
    }
    if queue == "classic2" {
        config.queues.clear();
        declare_v2(url, &name).await?;
    }
    let mut sink = AmqpSink::open(&config).await.map_err(|e| e.to_string())?;
    let stats = sink.stats();
    let batches: Vec<Batch> = (0..records.div_ceil(RECORDS_PER_WRITE))
        .map(|i| Batch {
            exchange: "binance".into(),
            kind: "tickers".into(),
            records: tickers(RECORDS_PER_WRITE, i),
        })
        .collect();
    let warm = Batch {
        exchange: "binance".into(),
        kind: "tickers".into(),
        records: tickers(WARM_UP_RECORDS, 1_000_000),
    };
    sink.write(&warm).await.map_err(|e| e.to_string())?;
    let before = stats.snapshot();
    if before.spooled_records > 0 {
        return Err(format!(
            "broker at {url} not reachable (records were spooled)"
        ));
    }
    let start = Instant::now();
    let mut delivered = 0;
    for batch in &batches {
        delivered += sink.write(batch).await.map_err(|e| e.to_string())?;
    }
    let elapsed = start.elapsed();
    let after = stats.snapshot();
    sink.close().await.map_err(|e| e.to_string())?;
    cleanup(url, &name).await;
    let _ = std::fs::remove_dir_all(&spool);
    if after.spooled_records > 0 {
        return Err(format!(
            "{} records were spooled: the broker went away",
            after.spooled_records
        ));
    }
    let messages = after.published_messages - before.published_messages;
    println!(
        "  {queue:<8} batch_max={batch_max:<4} {delivered} records in {:.2} s  ->  {:>9.0} records/s, {:>8.0} messages/s (all confirmed)",
        elapsed.as_secs_f64(),
        delivered as f64 / elapsed.as_secs_f64(),
        messages as f64 / elapsed.as_secs_f64(),
    );
    Ok((delivered as f64 / elapsed.as_secs_f64(), messages))
}

async fn declare_v2(url: &str, name: &str) -> Result<(), String> {
    use lapin::{options::*, types::*};
    let conn = Connection::connect(url, ConnectionProperties::default())
        .await
        .map_err(|e| e.to_string())?;
    let ch = conn.create_channel().await.map_err(|e| e.to_string())?;
    ch.exchange_declare(
        name.into(),
        lapin::ExchangeKind::Topic,
        ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut args = FieldTable::default();
    args.insert("x-queue-version".into(), AMQPValue::LongLongInt(2));
    args.insert(
        "x-max-length".into(),
        AMQPValue::LongLongInt(QUEUE_MAX_LENGTH as i64),
    );
    ch.queue_declare(
        name.into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        args,
    )
    .await
    .map_err(|e| e.to_string())?;
    ch.queue_bind(
        name.into(),
        name.into(),
        "#".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let _ = conn.close(200, "ok".into()).await;
    Ok(())
}

async fn cleanup(url: &str, name: &str) {
    let Ok(Ok(conn)) = tokio::time::timeout(
        Duration::from_secs(5),
        Connection::connect(url, ConnectionProperties::default()),
    )
    .await
    else {
        return;
    };
    if let Ok(channel) = conn.create_channel().await {
        let _ = channel
            .queue_delete(name.into(), QueueDeleteOptions::default())
            .await;
        let _ = channel
            .exchange_delete(name.into(), ExchangeDeleteOptions::default())
            .await;
    }
    let _ = conn.close(200, "bench done".into()).await;
}

fn main() {
    let url =
        std::env::var("FC_BENCH_AMQP_URL").unwrap_or_else(|_| "amqp://127.0.0.1:5672/%2f".into());
    let records = std::env::var("FC_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_RECORDS);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            std::process::exit(1);
        }
    };
    let queues: Vec<String> = std::env::var("FC_BENCH_QUEUE")
        .unwrap_or_else(|_| DEFAULT_QUEUES.join(","))
        .split(',')
        .map(|q| q.trim().to_owned())
        .filter(|q| !q.is_empty())
        .collect();
    let batch_max = std::env::var("FC_BENCH_BATCH_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(BATCH_MAX);
    println!("AMQP sink throughput, publisher confirms on, {records} ticker records per run, {RECORDS_PER_WRITE} per write");
    let result = runtime.block_on(async {
        let mut rows = Vec::new();
        for queue in &queues {
            let (single, _) = run(&url, queue, 1, records).await?;
            let batched = if queue == "none" {
                None
            } else {
                Some(run(&url, queue, batch_max, records).await?.0)
            };
            rows.push((queue.clone(), single, batched));
        }
        Ok::<_, String>(rows)
    });
    match result {
        Ok(rows) => {
            println!("queue     one record per message (target >= 20000/s)   batched (target >= 100000/s)");
            for (queue, single, batched) in rows {
                let met = |v: f64, target: f64| if v >= target { "met" } else { "missed" };
                let batched = batched.map_or("-".to_owned(), |b| {
                    format!("{b:>9.0} records/s {}", met(b, 100_000.0))
                });
                println!(
                    "{queue:<9} {single:>9.0} records/s {:<6}                        {batched}",
                    met(single, 20_000.0)
                );
            }
        }
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            std::process::exit(1);
        }
    }
}

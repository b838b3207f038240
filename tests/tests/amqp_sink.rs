//! The AMQP sink against the local RabbitMQ: wire format (routing keys, properties, schema),
//! batching, queue declaration, unroutable and nacked messages, outages (through a TCP proxy
//! the test switches off, so the shared broker keeps running for other tests), broker down at
//! start-up with the real host, and the spool across restarts. Every test uses its own
//! exchange and queues and deletes them. Tests that stop the broker itself live in
//! `amqp_restart.rs`; the spool's size limit (which measures this process's memory, so it runs
//! alone) in `amqp_spool_limit.rs`.

mod amqp_support;

use std::{collections::BTreeSet, time::Duration};

use amqp_support::*;
use futures_collector::{
    config::duration::ConfigDuration,
    config::{AmqpOverflow, AmqpQueueConfig, AmqpQueueType},
    output::sink::{
        amqp::{record_message_id, AmqpSink, LinkState},
        run_sink, Sink,
    },
};
use integration_tests::{config_text, deploy_plugin, exchange_emulator, RunningHost};
use lapin::{options::QueueDeclareOptions, types::FieldTable};
use plugin_api::{abi_stable::std_types::ROption::RSome, MarketType, Record, RecordKind};

fn queue(name: &str, bindings: &[&str]) -> AmqpQueueConfig {
    AmqpQueueConfig {
        name: name.to_owned(),
        bindings: bindings.iter().map(|b| (*b).to_owned()).collect(),
        queue_type: AmqpQueueType::Classic,
        max_length: None,
        max_length_bytes: None,
        message_ttl: None,
        overflow: None,
    }
}

fn ticker(base: &str, last: f64) -> Record {
    let mut r = Record::new(
        RecordKind::TICKER,
        "okx",
        &format!("{base}-USDT-SWAP"),
        base,
        "USDT",
        "USDT",
        MarketType::LINEAR_PERPETUAL,
        1_700_000_000_500,
    );
    r.last = RSome(last);
    r
}

/// Routing keys, every property, schema-valid bodies, queues declared from config with
/// binding patterns, and `message_id` = the documented content hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_arrive_with_routing_keys_properties_and_valid_bodies() {
    let _lock = broker_shared().await;
    let exchange = unique("wire");
    let (q_funding, q_btc) = (unique("funding"), unique("btc"));
    let _cleanup = Cleanup::default()
        .exchange(&exchange)
        .queue(&q_funding)
        .queue(&q_btc);
    let spool = tempfile::tempdir().unwrap();
    let mut config = sink_config(BROKER_URL, &exchange, spool.path());
    config.app_id = "fc-test".into();
    config.queues = vec![
        queue(&q_funding, &["funding.#"]),
        queue(&q_btc, &["*.*.BTC-USDT-USDT"]),
    ];
    let mut sink = open_sink(&config).await;
    let stats = sink.stats();

    let mut funding = funding_records("binance", 1, 3, 3);
    funding[0].base = "BTC".into();
    let tickers = vec![ticker("BTC", 42_000.5), ticker("ETH", 2_000.25)];
    assert_eq!(
        write(&mut sink, &batch("binance", funding.clone())).await,
        3
    );
    let ticker_batch = futures_collector::output::sink::Batch {
        exchange: "okx".into(),
        kind: "tickers".into(),
        records: tickers.clone(),
    };
    // The ETH ticker matches no binding: returned by the broker, counted, not delivered.
    assert_eq!(write(&mut sink, &ticker_batch).await, 1);
    let s = stats.snapshot();
    assert_eq!(s.confirmed_records, 4);
    assert_eq!(s.returned_records, 1);
    assert_eq!(s.spooled_records, 0);
    assert_eq!(s.state, LinkState::Connected);

    let broker = Broker::connect().await;
    let got_funding = broker
        .collect(&q_funding, Duration::from_secs(10), |g, _| g.len() >= 3)
        .await;
    let got_btc = broker
        .collect(&q_btc, Duration::from_secs(10), |g, _| g.len() >= 2)
        .await;
    assert_eq!(got_funding.len(), 3);
    assert_eq!(got_btc.len(), 2, "BTC funding + BTC ticker: {got_btc:?}");
    let validator = integration_tests::record_validator();
    for g in got_funding.iter().chain(&got_btc) {
        assert_eq!(g.content_type, "application/json");
        assert_eq!(g.delivery_mode, 2, "persistent");
        assert_eq!(g.app_id, "fc-test");
        assert_eq!(g.kind, g.body["kind"].as_str().unwrap(), "type = kind");
        assert_eq!(
            g.routing_key,
            format!(
                "{}.{}.{}-{}-{}",
                g.body["kind"].as_str().unwrap(),
                g.body["exchange"].as_str().unwrap(),
                g.body["base"].as_str().unwrap(),
                g.body["quote"].as_str().unwrap(),
                g.body["settle"].as_str().unwrap()
            )
        );
        assert_eq!(
            g.timestamp,
            g.body["received_ts"].as_u64().unwrap() / 1000,
            "timestamp = received_ts in seconds"
        );
        let errors: Vec<String> = validator
            .iter_errors(&g.body)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", g.body);
    }
    let funding_ids: BTreeSet<String> = funding.iter().map(record_message_id).collect();
    let got_ids: BTreeSet<String> = got_funding.iter().map(|g| g.message_id.clone()).collect();
    assert_eq!(got_ids, funding_ids);
    assert!(got_funding
        .iter()
        .any(|g| g.routing_key == "funding.binance.BTC-USDT-USDT"));
    assert!(got_btc
        .iter()
        .any(|g| g.routing_key == "ticker.okx.BTC-USDT-USDT" && g.body["last"] == 42_000.5));
    sink.close().await.unwrap();
    assert_eq!(stats.snapshot().state, LinkState::Closed);
}

/// `batch_max` > 1: JSON arrays of up to `batch_max` records, valid against
/// schemas/batch.schema.json, routing key `<kind>.<exchange>.batch`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_json_arrays_valid_against_the_batch_schema() {
    let _lock = broker_shared().await;
    let exchange = unique("batch");
    let q = unique("batch-q");
    let _cleanup = Cleanup::default().exchange(&exchange).queue(&q);
    let spool = tempfile::tempdir().unwrap();
    let mut config = sink_config(BROKER_URL, &exchange, spool.path());
    config.batch_max = 40;
    config.queues = vec![queue(&q, &["funding.*.batch"])];
    let mut sink = open_sink(&config).await;
    let records = funding_records("bybit", 2, 100, 100);
    assert_eq!(
        write(&mut sink, &batch("bybit", records.clone())).await,
        100
    );
    sink.close().await.unwrap();

    let got = Broker::connect()
        .await
        .collect(&q, Duration::from_secs(10), |g, _| g.len() >= 3)
        .await;
    let sizes: Vec<usize> = got
        .iter()
        .map(|g| g.body.as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [40, 40, 20]);
    let schema = futures_collector::output::message::batch_schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for g in &got {
        assert_eq!(g.routing_key, "funding.bybit.batch");
        assert_eq!(g.kind, "funding");
        assert!(validator.is_valid(&g.body), "{}", g.body);
    }
    let ids: BTreeSet<_> = got.iter().map(|g| g.message_id.clone()).collect();
    assert_eq!(ids.len(), 3, "one id per batch message");
    // Order is kept inside and across batch messages.
    let rates: Vec<f64> = got
        .iter()
        .flat_map(|g| g.body.as_array().unwrap().iter())
        .map(|r| r["rate"].as_f64().unwrap())
        .collect();
    let want: Vec<f64> = records.iter().map(|r| r.rate.unwrap()).collect();
    assert_eq!(rates.len(), want.len());
    // (serde_json parses floats to within an ulp unless built with `float_roundtrip`.)
    assert!(rates
        .iter()
        .zip(&want)
        .all(|(a, b)| (a - b).abs() <= b.abs() * 1e-12));
}

/// Queues declared from config get their type and limits: declaring them again with other
/// arguments is refused by the broker (PRECONDITION_FAILED), with the same ones accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_queues_are_declared_with_type_and_limits() {
    let _lock = broker_shared().await;
    let exchange = unique("queues");
    let (classic, quorum, stream) = (unique("classic"), unique("quorum"), unique("stream"));
    let _cleanup = Cleanup::default()
        .exchange(&exchange)
        .queue(&classic)
        .queue(&quorum)
        .queue(&stream);
    let spool = tempfile::tempdir().unwrap();
    let mut config = sink_config(BROKER_URL, &exchange, spool.path());
    let mut c = queue(&classic, &["ticker.#"]);
    c.max_length = Some(3);
    c.message_ttl = Some(ConfigDuration(Duration::from_secs(60)));
    let mut q = queue(&quorum, &["funding.#", "instrument.#"]);
    q.queue_type = AmqpQueueType::Quorum;
    q.max_length_bytes = Some(1_000_000);
    q.overflow = Some(AmqpOverflow::RejectPublish);
    let mut s = queue(&stream, &["#"]);
    s.queue_type = AmqpQueueType::Stream;
    s.max_length_bytes = Some(10_000_000);
    s.message_ttl = Some(ConfigDuration(Duration::from_secs(3600)));
    config.queues = vec![c.clone(), q.clone(), s.clone()];
    let mut sink = open_sink(&config).await;
    let tickers = futures_collector::output::sink::Batch {
        exchange: "okx".into(),
        kind: "tickers".into(),
        records: (0..5).map(|i| ticker(&format!("T{i}"), 1.0)).collect(),
    };
    assert_eq!(write(&mut sink, &tickers).await, 5);
    sink.close().await.unwrap();

    let broker = Broker::connect().await;
    assert_eq!(broker.depth(&classic).await, 3, "x-max-length 3 keeps 3");
    for (cfg, other) in [
        (&c, FieldTable::default()),
        (&q, FieldTable::default()),
        (&s, FieldTable::default()),
    ] {
        let same = futures_collector::output::sink::amqp::queue_arguments(cfg);
        let channel = broker.connection.create_channel().await.unwrap();
        channel
            .queue_declare(
                cfg.name.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                same,
            )
            .await
            .unwrap_or_else(|e| panic!("{}: same arguments refused: {e}", cfg.name));
        let refused = channel
            .queue_declare(
                cfg.name.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                other,
            )
            .await;
        let error = refused.expect_err("different arguments must be refused");
        assert!(
            error.to_string().contains("PRECONDITION_FAILED")
                || error.to_string().contains("inequivalent"),
            "{}: {error}",
            cfg.name
        );
    }
}

/// A record whose routing key matches no binding is returned by the broker: counted as
/// returned, not as delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unroutable_records_are_counted_and_not_delivered() {
    let _lock = broker_shared().await;
    let exchange = unique("unroutable");
    let _cleanup = Cleanup::default().exchange(&exchange);
    let spool = tempfile::tempdir().unwrap();
    let config = sink_config(BROKER_URL, &exchange, spool.path());
    let mut sink = open_sink(&config).await;
    let delivered = write(&mut sink, &batch("x", funding_records("x", 3, 7, 7))).await;
    let s = sink.stats().snapshot();
    assert_eq!(delivered, 0);
    assert_eq!(s.returned_records, 7);
    assert_eq!(s.confirmed_records, 0);
    assert_eq!(s.spooled_records, 0, "unroutable is final, not retried");
    sink.close().await.unwrap();
}

/// A full queue with `overflow = reject-publish` nacks; the sink retries, spools what stays
/// nacked, and delivers it once a consumer makes room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nacked_messages_are_retried_until_the_broker_takes_them() {
    let _lock = broker_shared().await;
    let exchange = unique("nack");
    let q = unique("nack-q");
    let _cleanup = Cleanup::default().exchange(&exchange).queue(&q);
    let spool = tempfile::tempdir().unwrap();
    let mut config = sink_config(BROKER_URL, &exchange, spool.path());
    let mut small = queue(&q, &["#"]);
    small.max_length = Some(5);
    small.overflow = Some(AmqpOverflow::RejectPublish);
    config.queues = vec![small];
    let mut sink = open_sink(&config).await;
    let stats = sink.stats();
    let records = funding_records("x", 4, 12, 12);
    let want: BTreeSet<String> = records.iter().map(record_message_id).collect();
    // Every record is durably handed over: 5 confirmed, 7 spooled after the nack retries.
    assert_eq!(write(&mut sink, &batch("x", records)).await, 12);
    let s = stats.snapshot();
    assert!(s.nacked_messages >= 7, "{s:?}");
    assert_eq!(s.confirmed_records, 5);
    assert_eq!(s.spooled_records, 7);

    let broker = Broker::connect().await;
    let got = broker
        .collect(&q, Duration::from_secs(20), |_, distinct| {
            distinct >= want.len()
        })
        .await;
    let ids: BTreeSet<String> = got.iter().map(|g| g.message_id.clone()).collect();
    assert_eq!(ids, want, "every record arrives once the queue has room");
    assert!(
        eventually(Duration::from_secs(5), || stats.snapshot().spool_records
            == 0)
        .await,
        "{:?}",
        stats.snapshot()
    );
    sink.close().await.unwrap();
}

/// The connection is cut mid-stream (proxy off) and restored: every record handed to the sink
/// task arrives at least once, duplicates carry the same message_id and body, and the sink
/// task never blocked for long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_mid_stream_loses_nothing() {
    let _lock = broker_shared().await;
    let exchange = unique("outage");
    let q = unique("outage-q");
    let _cleanup = Cleanup::default().exchange(&exchange).queue(&q);
    let broker = Broker::connect().await;
    broker.queue_bound(&exchange, &q, &["#"]).await;
    let proxy = Proxy::start(true).await;
    let spool = tempfile::tempdir().unwrap();
    let config = sink_config(&proxy.url(), &exchange, spool.path());
    let sink = open_sink(&config).await;
    let stats = sink.stats();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let (_abandon_tx, abandon_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(run_sink(Box::new(sink), rx, abandon_rx));

    let mut want = BTreeSet::new();
    let mut handed = 0u64;
    for round in 0..60u64 {
        if round == 15 {
            proxy.set_up(false);
        }
        if round == 40 {
            proxy.set_up(true);
        }
        let records = funding_records("x", 100 + round, 50, 10);
        want.extend(records.iter().map(record_message_id));
        handed += records.len() as u64;
        let started = std::time::Instant::now();
        tx.send(batch("x", records)).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "collection blocked by the outage"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    drop(tx);
    let totals = task.await.unwrap();
    assert_eq!(totals.records_written, handed);
    let s = stats.snapshot();
    assert!(s.spooled_records > 0, "the outage was spooled: {s:?}");
    assert!(s.connections >= 2, "reconnected: {s:?}");

    let got = broker
        .collect(&q, Duration::from_secs(20), |_, distinct| {
            distinct >= want.len()
        })
        .await;
    let ids = by_message_id(&got);
    let missing: Vec<_> = want.iter().filter(|id| !ids.contains_key(*id)).collect();
    assert!(missing.is_empty(), "{} records lost: {s:?}", missing.len());
    for (id, copies) in &ids {
        assert!(want.contains(id));
        assert!(copies.iter().all(|c| c.body == copies[0].body), "{id}");
    }
    // Order: the queue receives records of one symbol in the order they were handed over.
    let rates: Vec<f64> = got
        .iter()
        .filter(|g| g.body["base"] == "C0")
        .map(|g| g.body["rate"].as_f64().unwrap())
        .collect();
    let mut seen = BTreeSet::new();
    let first_copies: Vec<f64> = rates
        .iter()
        .filter(|r| seen.insert(r.to_bits()))
        .copied()
        .collect();
    assert!(
        first_copies.windows(2).all(|w| w[0] < w[1]),
        "first deliveries in order"
    );
}

/// Broker unreachable at start-up: the real host starts, collects from the emulator, spools;
/// once the broker is reachable everything written is delivered, spooled records first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_starts_with_the_broker_down_spools_then_delivers() {
    let _lock = broker_shared().await;
    let exchange = unique("host");
    let q = unique("host-q");
    let _cleanup = Cleanup::default().exchange(&exchange).queue(&q);
    let broker = Broker::connect().await;
    broker.queue_bound(&exchange, &q, &["#"]).await;
    let proxy = Proxy::start(false).await;
    let emulator = exchange_emulator::spawn(
        exchange_emulator::EmulatorConfig::default_three(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let plugin_dir = dir.path().join("plugins");
    std::fs::create_dir(&plugin_dir).unwrap();
    deploy_plugin("fc_plugin_binance", &plugin_dir);
    let spool_dir = dir.path().join("spool");
    let intervals = "[exchanges.binance.intervals]\ninstruments = \"1h\"\ntickers = \"1s\"\nfunding = \"1s\"\nopen_interest = \"off\"\n";
    let text = config_text(
        dir.path(),
        &plugin_dir,
        &[("binance", emulator.base_url("binance"), intervals)],
    );
    let start = text.find("[sink]").unwrap();
    let end = text.find("[http]").unwrap();
    let sink = format!(
        "[sink]\ntype = \"amqp\"\nurl = \"{}\"\nexchange = \"{exchange}\"\nspool_dir = {spool_dir:?}\nreconnect_backoff_base = \"100ms\"\nreconnect_backoff_cap = \"300ms\"\n\n[[sink.queues]]\nname = \"{q}\"\nbindings = [\"#\"]\n\n",
        proxy.url()
    );
    let text = format!("{}{sink}{}", &text[..start], &text[end..]);
    let host = RunningHost::start(dir.path(), &text);

    // Collecting goes on while the broker is away: records pile up in the spool.
    let spooled = eventually(Duration::from_secs(20), || spool_bytes(&spool_dir) > 10_000).await;
    assert!(spooled, "nothing spooled while the broker was down");
    let outage_end_ms = now_ms();
    proxy.set_up(true);
    // The spool drains, then records flow directly.
    let got_early = broker
        .collect(&q, Duration::from_secs(20), |g, _| {
            g.last()
                .is_some_and(|m| m.body["received_ts"].as_i64().unwrap() > outage_end_ms + 1000)
        })
        .await;
    let summary = host.stop().await;
    assert!(
        spool_bytes(&spool_dir) < 100,
        "spool not drained: {} bytes",
        spool_bytes(&spool_dir)
    );
    let written = summary.sink.records_written as usize;
    let got_late = broker
        .collect(&q, Duration::from_secs(10), |g, _| {
            got_early.len() + g.len() >= written
        })
        .await;
    let got: Vec<Got> = got_early.into_iter().chain(got_late).collect();
    assert!(
        got.len() >= written,
        "{} delivered of {written} written",
        got.len()
    );
    assert!(
        got.iter()
            .any(|m| m.body["received_ts"].as_i64().unwrap() < outage_end_ms),
        "records collected during the outage were delivered"
    );
    let validator = integration_tests::record_validator();
    assert!(got.iter().all(|m| validator.is_valid(&m.body)));
    for kind in ["instrument", "ticker", "funding"] {
        assert!(got.iter().any(|m| m.body["kind"] == kind), "{kind}");
    }
    emulator.shutdown().await;
}

/// Spooled records survive a restart of the collector: a new sink on the same folder replays
/// them when the broker is reachable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spool_is_replayed_after_a_restart() {
    let _lock = broker_shared().await;
    let exchange = unique("restart");
    let q = unique("restart-q");
    let _cleanup = Cleanup::default().exchange(&exchange).queue(&q);
    let broker = Broker::connect().await;
    broker.queue_bound(&exchange, &q, &["#"]).await;
    let spool = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(false).await;
    let records = funding_records("x", 7, 300, 30);
    let want: BTreeSet<String> = records.iter().map(record_message_id).collect();
    {
        let mut sink = open_sink(&sink_config(&proxy.url(), &exchange, spool.path())).await;
        assert_eq!(write(&mut sink, &batch("x", records)).await, 300);
        assert_eq!(sink.stats().snapshot().spool_records, 300);
        sink.close().await.unwrap();
    }
    let mut sink = open_sink(&sink_config(BROKER_URL, &exchange, spool.path())).await;
    let stats = sink.stats();
    assert_eq!(stats.snapshot().spool_records, 300, "found at open");
    let got = broker
        .collect(&q, Duration::from_secs(20), |g, _| g.len() >= 300)
        .await;
    let ids: BTreeSet<String> = got.iter().map(|g| g.message_id.clone()).collect();
    assert_eq!(ids, want);
    assert!(
        eventually(Duration::from_secs(5), || stats.snapshot().replayed_records
            == 300)
        .await
    );
    sink.close().await.unwrap();
}

/// A config the sink cannot use fails at start (credentials in the URL are refused and never
/// echoed); a broker that is merely down does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_settings_fail_at_open_but_a_down_broker_does_not() {
    let spool = tempfile::tempdir().unwrap();
    let mut config = sink_config("amqp://user:hunter2@127.0.0.1:5672/%2f", "x", spool.path());
    let error = AmqpSink::open(&config).await.err().unwrap().to_string();
    assert!(error.contains("credentials"), "{error}");
    assert!(!error.contains("hunter2"), "password echoed: {error}");
    // Port 1 on loopback: nothing listens.
    config.url = "amqp://127.0.0.1:1/%2f".into();
    let mut sink = AmqpSink::open(&config)
        .await
        .expect("opens with the broker down");
    assert_eq!(
        write(&mut sink, &batch("x", funding_records("x", 9, 5, 5))).await,
        5
    );
    assert_eq!(sink.stats().snapshot().spool_records, 5);
    sink.close().await.unwrap();
}

fn spool_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "spool"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len().saturating_sub(8))
                .sum()
        })
        .unwrap_or(0)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// `linger`: records of several cycles handed to the sink task one after another are packed
/// into one batch message; a lone record is published once it has waited `linger`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linger_packs_several_cycles_into_one_message() {
    let _lock = broker_shared().await;
    let exchange = unique("linger");
    let q = unique("linger-q");
    let _cleanup = Cleanup::default().exchange(&exchange).queue(&q);
    let spool = tempfile::tempdir().unwrap();
    let mut config = sink_config(BROKER_URL, &exchange, spool.path());
    config.batch_max = 50;
    config.linger = ConfigDuration(Duration::from_millis(400));
    config.queues = vec![queue(&q, &["funding.#"])];
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let (_abandon_tx, abandon_rx) = tokio::sync::watch::channel(false);
    let (_control, task) = futures_collector::output::sink::spawn_sink(
        &futures_collector::config::SinkConfig::Amqp(config),
        rx,
        abandon_rx,
        futures_collector::observe::telemetry::Telemetry::default(),
    )
    .await
    .unwrap();
    let broker = Broker::connect().await;
    // Five cycles of 4 records, 30 ms apart: one message of 20 records.
    for seed in 0..5 {
        tx.send(batch("binance", funding_records("binance", seed, 4, 4)))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let got = broker
        .collect(&q, Duration::from_secs(10), |g, _| !g.is_empty())
        .await;
    assert_eq!(got.len(), 1, "{} messages", got.len());
    assert_eq!(got[0].body.as_array().unwrap().len(), 20);
    assert_eq!(got[0].routing_key, "funding.binance.batch");

    // A lone record: published after about `linger`, not before.
    let sent = std::time::Instant::now();
    tx.send(batch("binance", funding_records("binance", 9, 1, 1)))
        .await
        .unwrap();
    let got = broker
        .collect(&q, Duration::from_secs(10), |g, _| !g.is_empty())
        .await;
    let waited = sent.elapsed();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body.as_array().unwrap().len(), 1);
    assert!(
        waited >= Duration::from_millis(380) && waited < Duration::from_secs(3),
        "lone record published after {waited:?} (linger 400 ms)"
    );
    drop(tx);
    let totals = task.await.unwrap();
    assert_eq!(totals.records_written, 21);
}

/// A config reload swaps one AMQP sink for another on the same spool folder while records
/// keep coming: the old one is closed before the new one opens, and every record arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapping_amqp_sinks_under_load_delivers_every_record() {
    let _lock = broker_shared().await;
    let exchange = unique("swap");
    let q = unique("swap-q");
    let _cleanup = Cleanup::default().exchange(&exchange).queue(&q);
    let spool = tempfile::tempdir().unwrap();
    let mut first = sink_config(BROKER_URL, &exchange, spool.path());
    first.queues = vec![queue(&q, &["funding.#"])];
    let mut second = first.clone();
    second.batch_max = 10;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let (_abandon_tx, abandon_rx) = tokio::sync::watch::channel(false);
    let (control, task) = futures_collector::output::sink::spawn_sink(
        &futures_collector::config::SinkConfig::Amqp(first),
        rx,
        abandon_rx,
        futures_collector::observe::telemetry::Telemetry::default(),
    )
    .await
    .unwrap();
    let producer = tokio::spawn(async move {
        for seed in 0..60 {
            tx.send(batch("bybit", funding_records("bybit", seed, 10, 10)))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    control
        .swap(futures_collector::config::SinkConfig::Amqp(second))
        .await
        .expect("swap to the second sink");
    producer.await.unwrap();
    drop(control);
    let totals = task.await.unwrap();
    assert_eq!(totals.records_written, 600);

    let got = Broker::connect()
        .await
        .collect(&q, Duration::from_secs(15), |g, _| {
            g.iter()
                .map(|m| m.body.as_array().map_or(1, Vec::len))
                .sum::<usize>()
                >= 600
        })
        .await;
    let mut rates = BTreeSet::new();
    let (mut singles, mut batches) = (0, 0);
    for g in &got {
        match g.body.as_array() {
            Some(array) => {
                batches += 1;
                for r in array {
                    rates.insert(r["rate"].to_string());
                }
            }
            None => {
                singles += 1;
                rates.insert(g.body["rate"].to_string());
            }
        }
    }
    assert_eq!(rates.len(), 600, "distinct records at the consumer");
    assert!(
        singles > 0 && batches > 0,
        "singles {singles}, batches {batches}: no swap seen"
    );
}

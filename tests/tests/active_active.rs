//! High availability on the broker (deploy/kubernetes runs two replicas): an active-active pair
//! of real collector processes with the same exchanges publishes to one RabbitMQ exchange, the
//! same record under the same `message_id`. One instance is killed (SIGKILL) mid-stream. A
//! consumer of one queue bound to everything shows:
//! - both instances published the same records under the same ids while both ran;
//! - one content, one id (and one id, one content): deduplicating by id loses nothing and keeps
//!   no duplicate;
//! - every instrument kept arriving across the kill, never silent for longer than the heartbeat
//!   plus the interval (with slack for a loaded machine), and the survivor covers every
//!   instrument the pair covered;
//! - after deduplication the consumer's latest value of every instrument is the survivor's.
//!
//! Needs the local RabbitMQ (scripts/test starts it).

mod amqp_support;
mod collector_process;

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    path::Path,
    time::{Duration, Instant},
};

use amqp_support::{broker_shared, unique, Broker, Cleanup, Got, BROKER_URL};
use collector_process::Collector;
use integration_tests::{plugin_dir_with, REAL_PLUGINS};
use serde_json::Value;

/// Exchanges the pair collects (two, to keep the test light on two cores).
const PAIR_EXCHANGES: [&str; 2] = ["binance", "okx"];
/// Ticker interval and heartbeat of both instances: every instrument is published at least
/// every `HEARTBEAT` (changed or not), polled every `INTERVAL`.
const INTERVAL: Duration = Duration::from_secs(1);
const HEARTBEAT: Duration = Duration::from_secs(2);
/// Extra silence tolerated per instrument on a loaded machine (a slow cycle, the broker).
const SLACK: Duration = Duration::from_secs(3);
/// How long the pair runs before one is killed, and the survivor alone after it.
const BOTH_RUN: Duration = Duration::from_secs(8);
const SURVIVOR_RUNS: Duration = Duration::from_secs(10);

fn config(
    dir: &Path,
    plugin_dir: &Path,
    emu: &exchange_emulator::EmulatorHandle,
    exchange: &str,
    app_id: &str,
) -> String {
    let spool = dir.join(format!("spool-{app_id}"));
    let mut text = format!(
        "[plugins]\ndir = {plugins:?}\n\n[web]\nlisten = \"127.0.0.1:0\"\n\n\
         [change_detection]\nheartbeat = \"{heartbeat}s\"\n\n\
         [http]\ntimeout = \"2s\"\nretries = 1\nbackoff_base = \"50ms\"\nbackoff_cap = \"200ms\"\n\n\
         [sink]\ntype = \"amqp\"\nurl = {url:?}\nexchange = {exchange:?}\napp_id = {app_id:?}\n\
         spool_dir = {spool:?}\nreconnect_backoff_base = \"100ms\"\nreconnect_backoff_cap = \"500ms\"\n",
        plugins = plugin_dir.display().to_string(),
        heartbeat = HEARTBEAT.as_secs(),
        url = BROKER_URL,
        spool = spool.display().to_string(),
    );
    for id in PAIR_EXCHANGES {
        let oi = if id == "binance" {
            "open_interest = \"off\"\n"
        } else {
            ""
        };
        text.push_str(&format!(
            "\n[exchanges.{id}]\nbase_url = {:?}\n[exchanges.{id}.intervals]\ninstruments = \"1h\"\n\
             tickers = \"{}s\"\nfunding = \"off\"\n{oi}",
            emu.base_url(id),
            INTERVAL.as_secs()
        ));
    }
    text
}

/// The record without `received_ts`: what `message_id` is the hash of.
fn content(body: &Value) -> String {
    let mut b = body.clone();
    if let Some(map) = b.as_object_mut() {
        map.remove("received_ts");
    }
    b.to_string()
}

/// `(exchange, symbol)` of a ticker record.
fn instrument(body: &Value) -> (String, String) {
    (
        body["exchange"].as_str().unwrap_or_default().to_owned(),
        body["symbol"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_publishes_the_same_ids_and_the_survivor_carries_on_when_one_is_killed() {
    let _broker = broker_shared().await;
    let emu = integration_tests::spawn_default_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let plugin_dir = plugin_dir_with(dir.path(), &REAL_PLUGINS);
    let exchange = unique("active-active");
    let queue = unique("active-active-q");
    let _cleanup = Cleanup::default().exchange(&exchange).queue(&queue);
    Broker::connect()
        .await
        .queue_bound(&exchange, &queue, &["#"])
        .await;

    let total = BOTH_RUN + SURVIVOR_RUNS + Duration::from_secs(30);
    let consumer_queue = queue.clone();
    let consumer = tokio::spawn(async move {
        let broker = Broker::connect().await;
        // Runs until the end marker the test publishes last; arrival instants are kept.
        broker
            .collect(&consumer_queue, total, |got, _| {
                got.last().is_some_and(|g| g.routing_key == END_MARKER)
            })
            .await
    });

    let start = |app_id: &str| {
        let path = dir.path().join(format!("{app_id}.toml"));
        std::fs::write(
            &path,
            config(dir.path(), &plugin_dir, &emu, &exchange, app_id),
        )
        .unwrap();
        Collector::run(&path)
    };
    let a = start("collector-a");
    let b = start("collector-b");
    a.web_base().await;
    b.web_base().await;
    tokio::time::sleep(BOTH_RUN).await;
    let mut a = a;
    a.child.kill().unwrap(); // SIGKILL: no shutdown, no flush
    a.child.wait().unwrap();
    let killed_at = Instant::now();
    tokio::time::sleep(SURVIVOR_RUNS).await;
    let stopped_at = Instant::now();
    assert_eq!(b.stop().code(), Some(0));
    // Everything the survivor published is in the queue before the marker.
    publish_end_marker(&exchange).await;
    let got: Vec<Got> = consumer.await.unwrap();
    assert!(
        got.last().is_some_and(|g| g.routing_key == END_MARKER),
        "the consumer ended before the end marker ({} messages)",
        got.len()
    );
    let tickers: Vec<&Got> = got.iter().filter(|g| g.body["kind"] == "ticker").collect();
    assert!(!tickers.is_empty(), "no ticker reached the queue");
    check_pair(&tickers, killed_at, stopped_at);
    emu.shutdown().await;
}

/// Routing key of the message that tells the consumer everything has been published.
const END_MARKER: &str = "test.end";

async fn publish_end_marker(exchange: &str) {
    let broker = Broker::connect().await;
    broker
        .channel
        .basic_publish(
            exchange.into(),
            END_MARKER.into(),
            lapin::options::BasicPublishOptions::default(),
            b"{}",
            lapin::BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
}

fn check_pair(tickers: &[&Got], killed_at: Instant, stopped_at: Instant) {
    // Same records, same ids, from both instances while both ran.
    let ids_of = |app: &str| -> BTreeSet<&str> {
        tickers
            .iter()
            .filter(|g| g.app_id == app && g.arrived < killed_at)
            .map(|g| g.message_id.as_str())
            .collect()
    };
    let (from_a, from_b) = (ids_of("collector-a"), ids_of("collector-b"));
    let shared = from_a.intersection(&from_b).count();
    assert!(
        !from_a.is_empty() && shared * 5 >= from_a.len(),
        "the pair did not publish the same ids: {} from a, {} from b, {shared} shared",
        from_a.len(),
        from_b.len()
    );
    let after_kill = tickers
        .iter()
        .filter(|g| g.app_id == "collector-a" && g.arrived > killed_at + Duration::from_secs(1))
        .count();
    assert_eq!(
        after_kill, 0,
        "messages from the killed instance after the kill"
    );

    // One content, one id; one id, one content.
    let mut ids_by_content: HashMap<String, BTreeSet<&str>> = HashMap::new();
    let mut contents_by_id: HashMap<&str, BTreeSet<String>> = HashMap::new();
    for g in tickers {
        let c = content(&g.body);
        ids_by_content
            .entry(c.clone())
            .or_default()
            .insert(&g.message_id);
        contents_by_id.entry(&g.message_id).or_default().insert(c);
    }
    for (c, ids) in &ids_by_content {
        assert_eq!(ids.len(), 1, "one record under several ids {ids:?}: {c}");
    }
    for (id, cs) in &contents_by_id {
        assert_eq!(cs.len(), 1, "one id {id} for different records: {cs:?}");
    }

    // Every instrument keeps arriving across the kill.
    let mut arrivals: BTreeMap<(String, String), Vec<Instant>> = BTreeMap::new();
    for g in tickers {
        arrivals
            .entry(instrument(&g.body))
            .or_default()
            .push(g.arrived);
    }
    let limit = HEARTBEAT + INTERVAL + SLACK;
    let mut worst = (Duration::ZERO, None);
    for (inst, times) in &arrivals {
        let mut times = times.clone();
        times.sort();
        times.push(stopped_at);
        for w in times.windows(2) {
            let gap = w[1].saturating_duration_since(w[0]);
            if gap > worst.0 {
                worst = (gap, Some(inst.clone()));
            }
        }
    }
    assert!(
        worst.0 <= limit,
        "an instrument went silent for {:?} (limit {limit:?}): {:?}",
        worst.0,
        worst.1
    );
    let survivor_covers: BTreeSet<(String, String)> = tickers
        .iter()
        .filter(|g| g.app_id == "collector-b" && g.arrived > killed_at)
        .map(|g| instrument(&g.body))
        .collect();
    let all: BTreeSet<(String, String)> = arrivals.keys().cloned().collect();
    assert_eq!(
        survivor_covers, all,
        "instruments the survivor did not publish after the kill"
    );

    // A deduplicating consumer's latest value of every instrument is the survivor's last one.
    let mut seen = BTreeSet::new();
    let mut latest: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut survivor_last: BTreeMap<(String, String), String> = BTreeMap::new();
    for g in tickers {
        if g.app_id == "collector-b" {
            survivor_last.insert(instrument(&g.body), content(&g.body));
        }
        if seen.insert(g.message_id.as_str()) {
            latest.insert(instrument(&g.body), content(&g.body));
        }
    }
    assert_eq!(
        latest, survivor_last,
        "the deduplicated view differs from the survivor's"
    );
    eprintln!(
        "{} ticker messages, {} distinct ids, {} instruments; {} ids from a before the kill, \
         {shared} of them also from b; longest silence of an instrument {:?}",
        tickers.len(),
        contents_by_id.len(),
        all.len(),
        from_a.len(),
        worst.0
    );
}

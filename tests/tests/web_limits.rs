//! Web server limits (issue 17) on the real binary, collecting from the exchange emulator:
//! 2,000 idle connections are closed by the header-read timeout, the connection past
//! `max_connections` gets a 503 and `/healthz` answers again once connections are released, a
//! quiet keep-alive connection is closed by the idle timeout (not earlier by the header-read
//! one), and the event stream past `max_sse_clients` gets a 503 while the first ones keep
//! streaming past both timeouts. Collection keeps going meanwhile (its cycle counter grows).
//! And (in process) shutdown ends event streams and closes waiting connections at once.
//!
//! Clients here are raw TCP, one connection per request unless a test holds one: a pooled HTTP
//! client would keep connections the limits count.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use exchange_emulator::{EmulatorConfig, EmulatorHandle, ExchangeKind, InstanceConfig};
use integration_tests::{config_text, deploy_plugin, host_binary};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Longest wait for one whole response.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Allowed lateness of a timeout on a shared 2-core machine.
const MARGIN: Duration = Duration::from_secs(3);
/// Allowed earliness (timer granularity).
const EARLY: Duration = Duration::from_millis(100);
const CYCLES: &str = "futures_collector_cycles_total{exchange=\"binance\",kind=\"tickers\"}";

/// The collector binary, killed on drop.
struct Collector {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn emulator() -> EmulatorHandle {
    let mut binance = InstanceConfig::new("binance", ExchangeKind::Binance);
    binance.universe = 20;
    exchange_emulator::spawn(
        EmulatorConfig {
            instances: vec![binance],
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

/// Starts the binary collecting binance tickers every 2 s, with `web` added to `[web]`;
/// returns once its web server listens and a ticker cycle has run.
async fn start(emu: &EmulatorHandle, web: &str) -> Collector {
    let dir = tempfile::tempdir().unwrap();
    let plugin_dir = dir.path().join("plugins");
    std::fs::create_dir_all(&plugin_dir).unwrap();
    deploy_plugin("fc_plugin_binance", &plugin_dir);
    // Binance's ticker round weighs 55: every 2 s with the whole documented budget it fits
    // (at 1 s the budget plan would slow it down).
    let intervals = "[exchanges.binance.intervals]\ninstruments = \"1h\"\ntickers = \"2s\"\nfunding = \"off\"\nopen_interest = \"off\"\n";
    let text = config_text(
        dir.path(),
        &plugin_dir,
        &[("binance", emu.base_url("binance"), intervals)],
    )
    .replace("[http]\n", "[http]\nrate_limit_share = 1.0\n")
    .replace(
        "[web]\nlisten = \"127.0.0.1:0\"\n",
        &format!("[web]\nlisten = \"127.0.0.1:0\"\n{web}\n"),
    );
    let config = dir.path().join("collector.toml");
    std::fs::write(&config, text).unwrap();
    let mut child = Command::new(host_binary())
        .args(["--log-format", "json", "run", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The log names the bound address; the rest of the log is drained so the child never
    // blocks on a full pipe.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let listening = v["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("web server listening"));
            if let (true, Some(addr)) = (listening, v["addr"].as_str()) {
                let _ = tx.send(addr.parse::<SocketAddr>().unwrap());
            }
        }
    });
    let addr = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(20)))
        .await
        .unwrap()
        .expect("the collector logs its web address");
    let collector = Collector {
        child,
        addr,
        _dir: dir,
    };
    let started = Instant::now();
    while cycles(addr).await < 1.0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no ticker cycle"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    collector
}

/// A response: status code, head (lowercase) and body.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

fn parse(bytes: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Answer {
        status,
        head: head.to_lowercase(),
        body: body.to_owned(),
    }
}

/// One request on a fresh connection that the server closes after answering.
async fn get(addr: SocketAddr, path: &str) -> Answer {
    let mut s = TcpStream::connect(addr).await.unwrap();
    // A refused connection may already be closed for writing: the answer still counts.
    let _ = s
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(RESPONSE_TIMEOUT, s.read_to_end(&mut buf))
        .await
        .unwrap_or_else(|_| panic!("GET {path}: no complete answer within {RESPONSE_TIMEOUT:?}"));
    parse(&buf)
}

/// The value of one sample line (`name{labels}`) in Prometheus text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn metrics(addr: SocketAddr) -> String {
    let a = get(addr, "/metrics").await;
    assert_eq!(a.status, 200, "{}", a.head);
    a.body
}

async fn cycles(addr: SocketAddr) -> f64 {
    sample(&metrics(addr).await, CYCLES).unwrap_or(0.0)
}

fn metric(text: &str, series: &str) -> f64 {
    sample(text, series).unwrap_or_else(|| panic!("{series} missing from:\n{text}"))
}

/// Waits until the server closes `s` (EOF or reset), at most `limit`; returns whether it
/// did, and the bytes it sent before.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> (bool, Vec<u8>) {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return (false, received),
            Ok(Ok(0)) | Ok(Err(_)) => return (true, received),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one response on a keep-alive connection (its body has a Content-Length).
async fn read_response(s: &mut TcpStream) -> Answer {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(RESPONSE_TIMEOUT, s.read(&mut chunk))
            .await
            .expect("response in time")
            .expect("read");
        assert!(n > 0, "closed before the response was complete");
        buf.extend_from_slice(&chunk[..n]);
        let a = parse(&buf);
        let length = a
            .head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|v| v.trim().parse::<usize>().ok());
        if let Some(length) = length {
            if a.body.len() >= length {
                return a;
            }
        }
    }
}

/// Lets this process (and the collector it starts) open `n` descriptors.
fn allow_descriptors(n: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_some_and(|c| c < n) {
        let raised = rustix::process::Rlimit {
            current: Some(limit.maximum.map_or(n, |m| m.min(n))),
            maximum: limit.maximum,
        };
        setrlimit(Resource::Nofile, raised).expect("raise RLIMIT_NOFILE");
    }
    let now = getrlimit(Resource::Nofile).current;
    assert!(
        now.is_none_or(|c| c >= n),
        "RLIMIT_NOFILE is {now:?}, the test needs {n}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_by_the_header_read_timeout_while_collection_goes_on() {
    const IDLE_CLIENTS: usize = 2_000;
    const HEADER_READ: Duration = Duration::from_secs(2);
    allow_descriptors(10_000);
    let emu = emulator().await;
    let c = start(
        &emu,
        "header_read_timeout = \"2s\"\nidle_timeout = \"1m\"\nmax_connections = 4096",
    )
    .await;
    let before = metrics(c.addr).await;
    let fds_before = metric(&before, "process_open_fds");

    let mut waiting = Vec::with_capacity(IDLE_CLIENTS);
    for _ in 0..IDLE_CLIENTS {
        let mut s = TcpStream::connect(c.addr).await.expect("connect");
        let connected = Instant::now();
        waiting.push(tokio::spawn(async move {
            let (closed, received) = closed_within(&mut s, HEADER_READ + MARGIN).await;
            (closed, received, connected.elapsed())
        }));
    }
    let mut latest = Duration::ZERO;
    let mut earliest = Duration::MAX;
    for w in waiting {
        let (closed, received, after) = w.await.unwrap();
        assert!(closed, "a silent connection still open after {after:?}");
        assert!(
            received.is_empty(),
            "a silent connection was answered: {:?}",
            String::from_utf8_lossy(&received)
        );
        latest = latest.max(after);
        earliest = earliest.min(after);
    }
    assert!(
        earliest >= HEADER_READ - EARLY,
        "closed after {earliest:?}, before the header-read timeout"
    );
    assert!(
        latest <= HEADER_READ + MARGIN,
        "closed only after {latest:?}"
    );

    let after = metrics(c.addr).await;
    assert!(
        metric(
            &after,
            "futures_collector_web_connections_timed_out_total{reason=\"header_read\"}"
        ) >= IDLE_CLIENTS as f64
    );
    assert_eq!(
        metric(
            &after,
            "futures_collector_web_connections_timed_out_total{reason=\"idle\"}"
        ),
        0.0
    );
    // Only the scrape itself is open, and the descriptors are back.
    assert_eq!(
        metric(&after, "futures_collector_web_connections_open"),
        1.0
    );
    assert!(
        metric(&after, "process_open_fds") < fds_before + 50.0,
        "descriptors: {fds_before} before, {} after",
        metric(&after, "process_open_fds")
    );
    assert!(
        metric(&after, CYCLES) > metric(&before, CYCLES),
        "collection stalled during the flood"
    );
    drop(c);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_past_max_connections_gets_503_and_healthz_recovers() {
    const MAX: usize = 4;
    let emu = emulator().await;
    let c = start(
        &emu,
        "header_read_timeout = \"30s\"\nmax_connections = 4\nmax_sse_clients = 2",
    )
    .await;
    let before = metrics(c.addr).await;
    // Wait until no other connection is open (the scrape's own closes after its answer).
    let mut held = Vec::new();
    let started = Instant::now();
    while metric(
        &metrics(c.addr).await,
        "futures_collector_web_connections_open",
    ) > 1.0
    {
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..MAX {
        held.push(TcpStream::connect(c.addr).await.unwrap());
    }

    // The next one, silent, is answered 503 and closed at once.
    let mut extra = TcpStream::connect(c.addr).await.unwrap();
    let (closed, received) = closed_within(&mut extra, MARGIN).await;
    let refusal = parse(&received);
    assert!(closed, "the extra connection stays open");
    assert_eq!(refusal.status, 503, "{}", refusal.head);
    assert!(refusal.head.starts_with("http/1.1 503 service unavailable"));
    assert!(
        refusal.head.contains("connection: close"),
        "{}",
        refusal.head
    );
    // One that sends its request first (as curl does) reads the same answer.
    let healthz = get(c.addr, "/healthz").await;
    assert_eq!(healthz.status, 503, "{}", healthz.head);
    assert_eq!(healthz.body, "too many connections\n");
    // Collection does not care: ticker cycles (every 2 s) go on while the server is full.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(get(c.addr, "/healthz").await.status, 503, "still full");

    drop(held);
    let started = Instant::now();
    loop {
        let a = get(c.addr, "/healthz").await;
        if a.status == 200 {
            assert!(a.body.contains("\"alive\""), "{}", a.body);
            break;
        }
        assert!(
            started.elapsed() < MARGIN,
            "/healthz still {} after the connections were released",
            a.status
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let after = metrics(c.addr).await;
    assert!(
        metric(
            &after,
            "futures_collector_web_connections_refused_total{reason=\"max_connections\"}"
        ) >= 2.0
    );
    assert!(
        metric(&after, CYCLES) >= metric(&before, CYCLES) + 2.0,
        "collection stalled while the web server was full"
    );
    drop(c);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_keep_alive_connection_is_closed_by_the_idle_timeout() {
    const HEADER_READ: Duration = Duration::from_secs(1);
    const IDLE: Duration = Duration::from_secs(3);
    let emu = emulator().await;
    let c = start(&emu, "header_read_timeout = \"1s\"\nidle_timeout = \"3s\"").await;

    // One request on a keep-alive connection, then silence: open past the header-read
    // timeout, closed at the idle timeout.
    let mut s = TcpStream::connect(c.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let a = read_response(&mut s).await;
    assert_eq!(a.status, 200, "{}", a.head);
    let answered = Instant::now();
    // A second request on it within the idle timeout is served.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let a = read_response(&mut s).await;
    assert_eq!(
        a.status,
        200,
        "second request after {:?}",
        answered.elapsed()
    );
    let answered = Instant::now();
    let (closed, received) = closed_within(&mut s, IDLE + MARGIN).await;
    let after = answered.elapsed();
    assert!(closed, "idle connection still open after {after:?}");
    assert!(received.is_empty());
    assert!(
        after >= IDLE - EARLY,
        "closed after {after:?}, before the idle timeout"
    );

    // A client that starts a request head and never finishes it is closed at the header-read
    // timeout.
    let mut s = TcpStream::connect(c.addr).await.unwrap();
    let connected = Instant::now();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: te")
        .await
        .unwrap();
    let (closed, _) = closed_within(&mut s, HEADER_READ + MARGIN).await;
    let after = connected.elapsed();
    assert!(closed, "half a request head still open after {after:?}");
    assert!(after >= HEADER_READ - EARLY, "closed after {after:?}");

    let m = metrics(c.addr).await;
    assert!(
        metric(
            &m,
            "futures_collector_web_connections_timed_out_total{reason=\"idle\"}"
        ) >= 1.0
    );
    assert!(
        metric(
            &m,
            "futures_collector_web_connections_timed_out_total{reason=\"header_read\"}"
        ) >= 1.0
    );
    drop(c);
    emu.shutdown().await;
}

/// Opens `/api/events` and returns the connection after its response head.
async fn event_stream(addr: SocketAddr) -> (TcpStream, Answer) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /api/events HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(RESPONSE_TIMEOUT, s.read(&mut chunk))
            .await
            .expect("head in time")
            .expect("read");
        assert!(n > 0, "closed before the response head");
        buf.extend_from_slice(&chunk[..n]);
    }
    (s, parse(&buf))
}

/// Counts `tick` events read from `s` during `span`; fails if the stream ends.
async fn ticks_during(s: &mut TcpStream, span: Duration) -> usize {
    let deadline = tokio::time::Instant::now() + span;
    let mut text = String::new();
    let mut chunk = [0u8; 16 * 1024];
    while let Ok(read) = tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
        let n = read.expect("event stream read");
        assert!(n > 0, "event stream ended");
        text.push_str(&String::from_utf8_lossy(&chunk[..n]));
    }
    text.matches("event: tick").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_past_max_sse_clients_gets_503_and_the_first_ones_keep_streaming() {
    let emu = emulator().await;
    // Both timeouts far shorter than the streams last: streams in flight are not cut.
    let c = start(
        &emu,
        "header_read_timeout = \"1s\"\nidle_timeout = \"1s\"\nlive_interval = \"200ms\"\nmax_sse_clients = 2",
    )
    .await;
    let before = metrics(c.addr).await;
    let (mut first, a) = event_stream(c.addr).await;
    assert_eq!(a.status, 200, "{}", a.head);
    assert!(a.head.contains("content-type: text/event-stream"));
    let (mut second, a) = event_stream(c.addr).await;
    assert_eq!(a.status, 200, "{}", a.head);

    let third = get(c.addr, "/api/events").await;
    assert_eq!(third.status, 503, "{}", third.head);
    let error: serde_json::Value = serde_json::from_str(&third.body).expect("a JSON error");
    assert_eq!(error["error"], "too many event-stream clients");
    assert_eq!(error["max_sse_clients"], 2);
    // Other endpoints still answer.
    assert_eq!(get(c.addr, "/healthz").await.status, 200);

    // Past both timeouts, the first two keep receiving ticks (every 200 ms).
    let span = Duration::from_secs(3);
    let (a, b) = tokio::join!(
        ticks_during(&mut first, span),
        ticks_during(&mut second, span)
    );
    assert!(a >= 5 && b >= 5, "ticks in {span:?}: {a} and {b}");

    // A closed stream frees its place.
    drop(first);
    let started = Instant::now();
    let (_again, a) = loop {
        let (s, a) = event_stream(c.addr).await;
        if a.status == 200 {
            break (s, a);
        }
        assert!(
            started.elapsed() < MARGIN,
            "still {} after a stream closed",
            a.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(a.status, 200);

    let after = metrics(c.addr).await;
    assert!(
        metric(
            &after,
            "futures_collector_web_connections_refused_total{reason=\"max_sse_clients\"}"
        ) >= 1.0
    );
    assert_eq!(
        metric(
            &after,
            "futures_collector_web_connections_refused_total{reason=\"max_connections\"}"
        ),
        0.0
    );
    assert!(metric(&after, CYCLES) > metric(&before, CYCLES));
    drop(c);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_event_streams_and_closes_waiting_connections_without_the_grace() {
    use futures_collector::{
        config::duration::ConfigDuration,
        config::WebConfig,
        observe::telemetry::Telemetry,
        observe::web::{self, SHUTDOWN_GRACE},
    };
    // Timeouts far longer than the test: only the shutdown may close these connections.
    let config = WebConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        live_interval: ConfigDuration(Duration::from_millis(200)),
        header_read_timeout: ConfigDuration(Duration::from_secs(60)),
        idle_timeout: ConfigDuration(Duration::from_secs(60)),
        ..WebConfig::default()
    };
    let server = web::spawn(
        &config,
        Telemetry::default(),
        futures_collector::plugins::PluginControl::default(),
    )
    .await
    .unwrap();
    let addr = server.local_addr();
    let (mut stream, a) = event_stream(addr).await;
    assert_eq!(a.status, 200);
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut kept_alive = TcpStream::connect(addr).await.unwrap();
    kept_alive
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut kept_alive).await.status, 200);

    let started = Instant::now();
    server.shutdown().await;
    let took = started.elapsed();
    assert!(
        took < SHUTDOWN_GRACE,
        "shutdown needed the grace period ({took:?}): something stayed open"
    );
    for (name, s) in [
        ("event stream", &mut stream),
        ("silent", &mut silent),
        ("kept alive", &mut kept_alive),
    ] {
        let (closed, _) = closed_within(s, Duration::from_secs(1)).await;
        assert!(closed, "{name} connection still open after shutdown");
    }
    // The port is free again (a reload with the same address binds it).
    let rebound = WebConfig {
        listen: addr,
        ..config
    };
    web::spawn(
        &rebound,
        Telemetry::default(),
        futures_collector::plugins::PluginControl::default(),
    )
    .await
    .expect("the address is released")
    .shutdown()
    .await;
}

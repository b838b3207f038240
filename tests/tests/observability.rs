//! Observability over HTTP (issue 6): the real web server on 127.0.0.1:0 with a `Telemetry`
//! fed by hand the way workers, the sink and the supervisor will feed it. Shows that metrics
//! follow faults (failures counted, breaker gauge, freshness grows), that `promtool` accepts
//! the real `/metrics` output and the shipped alert rules, that the rules and the Grafana
//! dashboard only name metrics that exist, that `/readyz` flips with the sink and the
//! exchanges, that `/api/status` reports everything without leaking secrets, and that
//! `/api/events` streams ticks and events.
//!
//! `promtool` comes from the Debian package `prometheus` (scripts/test installs it).

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use futures_collector::{
    clock::now_ms,
    config::duration::ConfigDuration,
    config::{AlertsConfig, NotifierConfig, WebConfig},
    observe::health::BreakerState,
    observe::telemetry::{DropReason, ReloadResult, RequestOutcome, SinkState, Telemetry},
    observe::web::{self, WebServer},
    plugins::{
        canary::{FieldDivergence, KindProgress, Verdict},
        CanaryState, CanaryStatus, PluginEvent,
    },
};
use plugin_api::{abi_stable::std_types::ROption, MarketType, Record, RecordKind};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

async fn serve(t: &Telemetry) -> WebServer {
    let config = WebConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        live_interval: ConfigDuration(Duration::from_millis(200)),
        ..WebConfig::default()
    };
    web::spawn(
        &config,
        t.clone(),
        futures_collector::plugins::PluginControl::default(),
    )
    .await
    .expect("web server starts")
}

async fn get(server: &WebServer, path: &str) -> (u16, String) {
    let url = format!("http://{}{path}", server.local_addr());
    let r = reqwest::get(&url).await.expect(&url);
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

/// The value of one sample line (`name{labels}`) in Prometheus text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn promtool() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("promtool"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("promtool not found: scripts/test installs it (Debian package `prometheus`); or run `apt-get install prometheus`")
    })
}

fn funding_record(exchange: &str, base: &str, annualized: f64) -> Record {
    let mut r = Record::new(
        RecordKind::FUNDING,
        exchange,
        &format!("{base}USDT"),
        base,
        "USDT",
        "USDT",
        MarketType::LINEAR_PERPETUAL,
        now_ms(),
    );
    r.rate = ROption::RSome(annualized / 1095.0);
    r.rate_8h = ROption::RSome(annualized / 1095.0);
    r.rate_annualized = ROption::RSome(annualized);
    r.interval_hours = ROption::RSome(8.0);
    r.next_funding_ts = ROption::RSome(now_ms() + 3_600_000);
    r
}

/// Feeds one healthy exchange the way the wiring will: requests, a cycle, health.
fn feed_healthy(t: &Telemetry, exchange: &str) {
    for ms in [12, 15, 20, 35] {
        t.request(
            exchange,
            "tickers",
            RequestOutcome::Ok,
            Duration::from_millis(ms),
            40_000,
        );
    }
    t.cycle(exchange, "tickers", 200, 150, 50, Some(now_ms() - 300));
    t.health().success(exchange, now_ms());
}

/// Touches every metric family so the exposition holds them all.
fn feed_everything(t: &Telemetry) {
    feed_healthy(t, "binance");
    t.retry("binance", "tickers");
    t.rate_limit_wait("binance", Duration::from_millis(250));
    t.breaker("binance", BreakerState::Closed);
    t.funding("binance", &[funding_record("binance", "BTC", 0.1)]);
    t.sink_sent(5);
    t.sink_confirmed(5);
    t.sink_failed(1);
    t.sink_spooled(1);
    t.sink_write_attempt(true);
    t.sink_dropped(DropReason::BufferFull, 1);
    t.sink_spool(4, 4096);
    t.sink_spool_damaged_bytes(10);
    t.sink_buffer_depth(3);
    t.sink_state(SinkState::Ok, "");
    t.config_loaded("v1");
    t.config_reload(ReloadResult::Ok, "v2", "");
    t.plugin_event(&PluginEvent::Loaded {
        file: "/srv/plugins/libfc_plugin_binance.so".into(),
        exchange_id: "binance".into(),
        version: "0.1.0".into(),
        replaced: false,
    });
    t.plugin_event(&PluginEvent::Failed {
        file: "/srv/plugins/libbroken.so".into(),
        error: "not a futures-collector plugin".into(),
    });
    let mut canary = CanaryStatus::new(
        "binance",
        9,
        "libfc_plugin_binance.so",
        "0.1.1",
        "0.1.0",
        3,
        now_ms(),
    );
    canary.state = CanaryState::HeldBack;
    canary.divergences.push(FieldDivergence {
        field: "mark".into(),
        instruments: 1,
        records: 1,
        examples: Vec::new(),
    });
    canary.kinds.push(KindProgress {
        exchange: "binance".into(),
        kind: "tickers".into(),
        required: true,
        agreed: 0,
        diverged: 1,
    });
    t.canary_progress(&canary, Verdict::HoldBack);
    t.set_alerts(Vec::new());
    t.alert_notification("slack", "sent");
}

#[tokio::test]
async fn metrics_follow_faults_and_pass_promtool() {
    let t = Telemetry::default();
    let server = serve(&t).await;
    feed_everything(&t);
    let (status, before) = get(&server, "/metrics").await;
    assert_eq!(status, 200);
    let ok =
        "futures_collector_requests_total{exchange=\"binance\",kind=\"tickers\",outcome=\"ok\"}";
    assert_eq!(sample(&before, ok), Some(4.0), "{before}");
    let age_series = "futures_collector_data_age_seconds{exchange=\"binance\",kind=\"tickers\"}";
    let age_before = sample(&before, age_series).expect("data age exported");

    // Faults: timeouts and 5xx, the breaker opens, requests are held back.
    for _ in 0..3 {
        t.request(
            "binance",
            "tickers",
            RequestOutcome::Timeout,
            Duration::from_secs(1),
            0,
        );
        t.health().failure("binance", now_ms(), "timeout");
    }
    t.request(
        "binance",
        "funding",
        RequestOutcome::Http5xx,
        Duration::from_millis(80),
        120,
    );
    t.health().breaker("binance", BreakerState::Open);
    t.breaker("binance", BreakerState::Open);
    t.request(
        "binance",
        "tickers",
        RequestOutcome::HeldBack,
        Duration::ZERO,
        0,
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    let (_, after) = get(&server, "/metrics").await;
    let timeouts = "futures_collector_requests_total{exchange=\"binance\",kind=\"tickers\",outcome=\"timeout\"}";
    assert_eq!(sample(&after, timeouts), Some(3.0));
    let http5xx = "futures_collector_requests_total{exchange=\"binance\",kind=\"funding\",outcome=\"http_5xx\"}";
    assert_eq!(sample(&after, http5xx), Some(1.0));
    let held = "futures_collector_requests_total{exchange=\"binance\",kind=\"tickers\",outcome=\"held_back\"}";
    assert_eq!(sample(&after, held), Some(1.0));
    assert_eq!(
        sample(
            &after,
            "futures_collector_breaker_state{exchange=\"binance\"}"
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &after,
            "futures_collector_exchange_health{exchange=\"binance\",status=\"down\"}"
        ),
        Some(1.0)
    );
    let age_after = sample(&after, age_series).unwrap();
    assert!(
        age_after >= age_before + 1.0,
        "freshness grows while no data comes: {age_before} -> {age_after}"
    );
    assert_eq!(sample(&after, "futures_collector_ready"), Some(0.0));
    let count =
        "futures_collector_request_duration_seconds_count{exchange=\"binance\",kind=\"tickers\"}";
    assert_eq!(sample(&after, count), Some(7.0), "held back is not timed");

    // promtool lints the real exposition.
    let mut child = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(after.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{after}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // OpenMetrics for scrapers that ask for it.
    let url = format!("http://{}/metrics", server.local_addr());
    let r = reqwest::Client::new()
        .get(&url)
        .header("accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    assert!(r.text().await.unwrap().ends_with("# EOF\n"));
    server.shutdown().await;
}

/// Every `futures_collector_*` / `process_*` name in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    for prefix in ["futures_collector_", "process_"] {
        let mut from = 0;
        while let Some(i) = text[from..].find(prefix) {
            let start = from + i;
            let end = text[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(text.len(), |e| start + e);
            let boundary = start == 0
                || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
            if boundary {
                names.insert(text[start..end].to_owned());
            }
            from = end;
        }
    }
    names
}

#[tokio::test]
async fn shipped_rules_and_dashboard_use_real_metrics() {
    let rules = repo().join("deploy/prometheus/alerts.yml");
    let out = Command::new(promtool())
        .arg("check")
        .arg("rules")
        .arg(&rules)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool check rules: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(promtool())
        .arg("test")
        .arg("rules")
        .arg(repo().join("deploy/prometheus/alerts_test.yml"))
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool test rules: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let t = Telemetry::default();
    feed_everything(&t);
    let exposition = t
        .render_metrics(futures_collector::observe::telemetry::Format::Prometheus)
        .unwrap();
    let exported: BTreeSet<String> = exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect();
    let dashboard_text =
        std::fs::read_to_string(repo().join("deploy/grafana/dashboard.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard_text).unwrap();
    assert_eq!(dashboard["uid"], "futures-collector");
    assert!(dashboard["panels"].as_array().unwrap().len() >= 10);
    for (file, text) in [
        ("alerts.yml", std::fs::read_to_string(&rules).unwrap()),
        ("dashboard.json", dashboard_text),
    ] {
        let names = metric_names(&text);
        assert!(names.len() >= 8, "{file}: {names:?}");
        for name in names {
            assert!(
                exported.contains(&name),
                "{file} uses {name}, which /metrics does not export"
            );
        }
    }
}

#[tokio::test]
async fn readyz_flips_with_sink_and_exchanges() {
    let t = Telemetry::default();
    let server = serve(&t).await;
    let ready = |server: &WebServer| {
        let url = format!("http://{}/readyz", server.local_addr());
        async move {
            let r = reqwest::get(&url).await.unwrap();
            let status = r.status().as_u16();
            let body: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            (status, body)
        }
    };
    let (status, body) = ready(&server).await;
    assert_eq!(status, 503);
    assert_eq!(body["config"]["ok"], false);
    assert_eq!(
        get(&server, "/healthz").await.0,
        200,
        "alive while not ready"
    );

    t.config_loaded("v1");
    t.sink_state(SinkState::Ok, "");
    feed_healthy(&t, "binance");
    feed_healthy(&t, "okx");
    let (status, body) = ready(&server).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ready"], true);

    // The sink goes down, comes back.
    t.sink_state(SinkState::Failing, "broker unreachable");
    let (status, body) = ready(&server).await;
    assert_eq!(status, 503);
    assert_eq!(body["sink"]["ok"], false);
    assert!(body["sink"]["detail"]
        .as_str()
        .unwrap()
        .contains("broker unreachable"));
    t.sink_state(SinkState::Ok, "");
    assert_eq!(ready(&server).await.0, 200);

    // One exchange down: still ready. Both down: not ready. One back: ready.
    t.health().breaker("binance", BreakerState::Open);
    assert_eq!(ready(&server).await.0, 200);
    t.health().breaker("okx", BreakerState::Open);
    let (status, body) = ready(&server).await;
    assert_eq!(status, 503);
    assert_eq!(body["exchanges"]["detail"], "0 of 2 exchanges healthy");
    t.health().breaker("okx", BreakerState::Closed);
    t.health().success("okx", now_ms());
    assert_eq!(ready(&server).await.0, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn status_api_reports_everything_and_redacts_secrets() {
    let t = Telemetry::default();
    feed_everything(&t);
    feed_healthy(&t, "okx");
    t.funding("okx", &[funding_record("okx", "BTC", -0.05)]);
    t.health()
        .failure("okx", now_ms(), "HTTP 503 from http://127.0.0.1/x");
    let alerts = AlertsConfig {
        notifiers: vec![
            NotifierConfig::Slack {
                webhook_url: Some("https://hooks.slack.com/services/T0/B0/SLACKSECRET".into()),
                webhook_url_env: "UNUSED".into(),
            },
            NotifierConfig::Telegram {
                bot_token: Some("123456:TELEGRAMSECRET".into()),
                bot_token_env: "UNUSED".into(),
                chat_id: "-100200300".into(),
                api_base: "https://api.telegram.org".into(),
            },
        ],
        ..AlertsConfig::default()
    };
    let engine = futures_collector::observe::alerts::spawn(&alerts, t.clone()).unwrap();
    let server = serve(&t).await;
    let (status, text) = get(&server, "/api/status").await;
    assert_eq!(status, 200);
    assert!(!text.contains("SECRET"), "a secret leaked: {text}");
    let s: serde_json::Value = serde_json::from_str(&text).unwrap();
    let ex = s["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "binance")
        .unwrap();
    assert_eq!(ex["status"], "healthy");
    assert_eq!(ex["breaker"], "closed");
    assert!(ex["latency_ms"]["p50"].as_f64().unwrap() > 0.0);
    assert!(ex["latency_ms"]["p95"].as_f64().unwrap() >= ex["latency_ms"]["p50"].as_f64().unwrap());
    assert!(ex["records_per_second"].as_f64().unwrap() > 0.0);
    assert!(ex["last_success_ms"].as_i64().is_some());
    assert_eq!(ex["plugin"]["version"], "0.1.0");
    assert_eq!(ex["plugin"]["file"], "libfc_plugin_binance.so");
    let okx = s["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "okx")
        .unwrap();
    assert_eq!(okx["status"], "degraded");
    assert!(okx["last_error"].as_str().unwrap().contains("HTTP 503"));
    assert_eq!(s["sink"]["state"], "ok");
    assert_eq!(s["sink"]["confirmed"], 5);
    assert_eq!(s["config"]["version"], "v2");
    assert_eq!(s["config"]["last_reload"]["result"], "ok");
    let notifiers = s["notifiers"].as_array().unwrap();
    assert_eq!(
        notifiers[0]["destination"],
        "https://hooks.slack.com/<redacted>"
    );
    assert_eq!(notifiers[1]["kind"], "telegram");
    assert!(s["recent_events"].as_array().unwrap().len() >= 3);

    let (_, funding) = get(&server, "/api/funding?limit=10").await;
    let f: serde_json::Value = serde_json::from_str(&funding).unwrap();
    assert_eq!(f["exchanges"], serde_json::json!(["binance", "okx"]));
    let row = &f["rows"][0];
    assert_eq!(row["symbol"], "BTC/USDT:USDT");
    assert!((row["spread"].as_f64().unwrap() - 0.15).abs() < 1e-9);
    assert_eq!(row["highest"], "binance");

    let (_, history) = get(&server, "/api/history?range=1h").await;
    let h: serde_json::Value = serde_json::from_str(&history).unwrap();
    assert_eq!(h["bucket_seconds"], 5.0);
    assert!(!h["exchanges"]["binance"].as_array().unwrap().is_empty());
    let (_, day) = get(&server, "/api/history?range=24h").await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&day).unwrap()["bucket_seconds"],
        60.0
    );
    assert_eq!(get(&server, "/api/history?range=soon").await.0, 400);
    assert_eq!(get(&server, "/nope").await.0, 404);
    let (status, html) = get(&server, "/").await;
    assert_eq!(status, 200);
    assert!(html.contains("/assets/app.js"));
    assert_eq!(get(&server, "/assets/app.js").await.0, 200);
    assert_eq!(get(&server, "/assets/style.css").await.0, 200);
    engine.stop().await;
    server.shutdown().await;
}

/// Reads the event stream until `want` appears (or the deadline).
async fn read_until(r: &mut reqwest::Response, buf: &mut String, want: &str) -> bool {
    read_until_count(r, buf, want, 1).await
}

/// Reads the event stream until `want` appears `n` times (or the deadline).
async fn read_until_count(
    r: &mut reqwest::Response,
    buf: &mut String,
    want: &str,
    n: usize,
) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while buf.matches(want).count() < n {
        match tokio::time::timeout_at(deadline, r.chunk()).await {
            Ok(Ok(Some(chunk))) => buf.push_str(&String::from_utf8_lossy(&chunk)),
            _ => return false,
        }
    }
    true
}

#[tokio::test]
async fn event_stream_sends_ticks_events_and_replays_missed_ones() {
    let t = Telemetry::default();
    feed_healthy(&t, "bybit");
    let server = serve(&t).await;
    let url = format!("http://{}/api/events", server.local_addr());
    let mut r = reqwest::get(&url).await.unwrap();
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut buf = String::new();
    assert!(read_until(&mut r, &mut buf, "event: tick").await, "{buf}");
    assert!(
        buf.contains("\"id\":\"bybit\""),
        "ticks carry exchanges: {buf}"
    );
    t.breaker("bybit", BreakerState::Open);
    assert!(
        read_until(&mut r, &mut buf, "circuit breaker open").await,
        "{buf}"
    );
    assert!(buf.contains("event: event"));
    // Live samples keep coming every live_interval (200 ms here).
    let ticks = buf.matches("event: tick").count();
    assert!(
        read_until_count(&mut r, &mut buf, "event: tick", ticks + 2).await,
        "{buf}"
    );
    drop(r);

    // A reconnecting client gets what it missed after its Last-Event-ID.
    let first = t.recent_events(1)[0].id;
    t.breaker("bybit", BreakerState::HalfOpen);
    t.breaker("bybit", BreakerState::Closed);
    let mut r = reqwest::Client::new()
        .get(&url)
        .header("last-event-id", first.to_string())
        .send()
        .await
        .unwrap();
    let mut replay = String::new();
    assert!(
        read_until(&mut r, &mut replay, "exchange recovered").await,
        "{replay}"
    );
    assert!(replay.contains("half-open"));
    assert!(
        !replay.contains(&format!("id: {first}\n")),
        "already seen: {replay}"
    );
    drop(r);
    server.shutdown().await;
}

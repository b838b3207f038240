//! The dashboard renders with live data in headless Chromium (issue 6): the real web server
//! on 127.0.0.1:0 serves a `Telemetry` fed by hand like a running collector (three exchanges,
//! one of them down, an hour of history, funding rates, events, an alert), the page is loaded
//! in Chromium, and the rendered DOM must show exchange cards with values, the funding table
//! sorted by spread, live ticks received over server-sent events, the events and the alert.
//! Screenshots go to `target/observability/` for a person to look at.

#[path = "../browser/chromium.rs"]
mod chromium;

use std::{path::PathBuf, time::Duration};

use futures_collector::{
    clock::now_ms,
    config::duration::ConfigDuration,
    config::{AlertsConfig, WebConfig},
    observe::health::BreakerState,
    observe::telemetry::{RequestOutcome, SinkState, Telemetry},
    observe::web,
    plugins::{
        canary::{FieldDivergence, FieldExample, KindProgress, Verdict},
        CanaryState, CanaryStatus, PluginEvent,
    },
};
use plugin_api::{abi_stable::std_types::ROption, MarketType, Record, RecordKind};

const EXCHANGES: [&str; 3] = ["binance", "bybit", "okx"];
const BASES: [&str; 12] = [
    "BTC", "ETH", "SOL", "XRP", "DOGE", "BNB", "ADA", "AVAX", "LINK", "LTC", "SUI", "PEPE",
];

/// A deterministic wobble in [0, 1) for test data.
fn wobble(i: i64, seed: i64) -> f64 {
    (((i * 7919 + seed * 104_729) % 1000) as f64) / 1000.0
}

/// A latency that drifts slowly (a sine over ~10 minutes of samples) with a little noise.
fn latency(exchange: &str, i: i64) -> Duration {
    let (base, swing) = match exchange {
        "binance" => (45.0, 15.0),
        "bybit" => (95.0, 35.0),
        _ => (160.0, 50.0),
    };
    let ms = base + swing * ((i as f64) / 18.0).sin() + 8.0 * wobble(i, base as i64);
    Duration::from_micros((ms * 1000.0) as u64)
}

fn funding(exchange: &str, base: &str, annualized: f64) -> Record {
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
    r.rate_annualized = ROption::RSome(annualized);
    r.interval_hours = ROption::RSome(8.0);
    r.next_funding_ts = ROption::RSome(now_ms() + 2 * 3_600_000);
    r
}

fn feed(t: &Telemetry) {
    let now = now_ms();
    // A day of minute samples, then an hour of 5-second samples (history only).
    for (seed, ex) in EXCHANGES.iter().enumerate() {
        let mut at = now - 24 * 3_600_000;
        let mut i = 0;
        while at < now - 1_000 {
            let step = if at < now - 3_600_000 { 60_000 } else { 5_000 };
            // ~150 records/s, with a slow swell.
            let per_second = 150.0 + 40.0 * ((i as f64) / 25.0 + seed as f64).cos();
            let records = (per_second * step as f64 / 1000.0) as usize;
            t.history_sample_at(ex, at, latency(ex, i), i % 37 == 0, records);
            at += step;
            i += 1;
        }
    }
    for ex in EXCHANGES {
        t.exchange_configured(ex, ex);
        t.plugin_event(&PluginEvent::Loaded {
            file: format!("/srv/fc/plugins/libfc_plugin_{ex}.so").into(),
            exchange_id: ex.to_owned(),
            version: "0.1.0".to_owned(),
            replaced: false,
        });
    }
    // A replaced binance plugin held back by its canary.
    t.canary_progress(&held_back_canary(), Verdict::HoldBack);
    t.config_loaded("3f9c2a1");
    t.sink_state(SinkState::Ok, "");
    t.sink_sent(120_000);
    t.sink_confirmed(120_000);
    for (e, ex) in EXCHANGES.iter().enumerate() {
        let rows: Vec<Record> = BASES
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let a = 0.08 + 0.25 * (wobble(i as i64, e as i64 + 1) - 0.45);
                funding(ex, b, a)
            })
            .collect();
        t.funding(ex, &rows);
    }
    // okx fails: its breaker opens.
    t.health().failure(
        "okx",
        now,
        "GET /api/v5/market/tickers: timeout: no complete answer within 1.2s",
    );
    t.health().breaker("okx", BreakerState::Open);
    t.breaker("okx", BreakerState::Open);
}

/// What a canary reports after a build that scales the 24 h quote volume disagreed.
fn held_back_canary() -> CanaryStatus {
    let example = |symbol: &str, running: f64| FieldExample {
        kind: "ticker".into(),
        raw_symbol: symbol.into(),
        active: serde_json::json!(running),
        candidate: serde_json::json!(running * 1000.0),
    };
    CanaryStatus {
        state: CanaryState::HeldBack,
        kinds: vec![
            KindProgress {
                exchange: "binance".into(),
                kind: "tickers".into(),
                required: true,
                agreed: 0,
                diverged: 1,
            },
            KindProgress {
                exchange: "binance".into(),
                kind: "funding".into(),
                required: true,
                agreed: 1,
                diverged: 0,
            },
        ],
        records_compared: 1_310,
        divergences: vec![FieldDivergence {
            field: "volume_24h_quote".into(),
            instruments: 655,
            records: 655,
            examples: vec![example("BTCUSDT", 8.1e9), example("ETHUSDT", 4.2e9)],
        }],
        reason: Some("binance tickers: field volume_24h_quote differs on 655 instruments".into()),
        ..CanaryStatus::new(
            "binance",
            7,
            "libfc_plugin_binance.so",
            "0.1.1",
            "0.1.0",
            3,
            now_ms() - 5_000,
        )
    }
}

/// Keeps feeding like running workers until the test ends.
fn spawn_workers(t: Telemetry) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut i = 0i64;
        loop {
            for ex in ["binance", "bybit"] {
                for _ in 0..3 {
                    t.request(ex, "tickers", RequestOutcome::Ok, latency(ex, i), 80_000);
                    i += 1;
                }
                // ~150 records/s, like the history.
                t.cycle(ex, "tickers", 12, 9, 3, Some(now_ms() - 200));
                t.cycle(ex, "funding", 3, 3, 0, Some(now_ms() - 400));
                t.health().success(ex, now_ms());
            }
            t.request(
                "okx",
                "tickers",
                RequestOutcome::HeldBack,
                Duration::ZERO,
                0,
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

/// The text of the `<dd data-k="{key}">` inside the card of `exchange`.
fn card_value(dom: &str, exchange: &str, key: &str) -> Option<String> {
    let start = dom.find(&format!("data-exchange=\"{exchange}\""))?;
    let card = &dom[start..start + dom[start..].find("</article>")?];
    let at = card.find(&format!("data-k=\"{key}\""))?;
    let open = at + card[at..].find('>')? + 1;
    let close = open + card[open..].find('<')?;
    Some(card[open..close].to_owned())
}

fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test> → target/observability
    exe.ancestors()
        .nth(3)
        .map(|target| target.join("observability"))
        .unwrap_or_else(|| std::env::temp_dir().join("fc-observability"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_renders_live_data_in_headless_chromium() {
    let t = Telemetry::default();
    feed(&t);
    let workers = spawn_workers(t.clone());
    let alerts = AlertsConfig {
        evaluate_every: ConfigDuration(Duration::from_millis(100)),
        breaker_open_after: ConfigDuration(Duration::ZERO),
        ..AlertsConfig::default()
    };
    let engine = futures_collector::observe::alerts::spawn(&alerts, t.clone()).unwrap();
    let config = WebConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        live_interval: ConfigDuration(Duration::from_millis(500)),
        ..WebConfig::default()
    };
    let server = web::spawn(
        &config,
        t.clone(),
        futures_collector::plugins::PluginControl::default(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let url = format!("http://{}/", server.local_addr());

    let dir = screenshot_dir();
    let full = dir.join("dashboard-1440.png");
    let laptop = dir.join("dashboard-1366x768.png");
    let (dom, waited) = {
        let (full, laptop) = (full.clone(), laptop.clone());
        tokio::task::spawn_blocking(move || {
            let mut b = chromium::Browser::launch(1440, 900);
            b.open(&url, 1440, 900);
            // Live: at least two ticks over server-sent events, cards and funding rendered.
            let ready = "document.body.dataset.ticks >= 2 \
                && document.querySelectorAll('.card').length === 3 \
                && document.querySelectorAll('#funding tr[data-symbol]').length > 0";
            let waited = b.wait_for(ready, Duration::from_secs(20));
            let dom = b.html();
            b.screenshot(&full, true);
            b.resize(1366, 768);
            std::thread::sleep(Duration::from_millis(300));
            b.screenshot(&laptop, false);
            (dom, waited)
        })
        .await
        .expect("browser thread")
    };
    println!("screenshots: {} {}", full.display(), laptop.display());
    assert!(waited, "the page never showed live data: {dom}");
    for ex in EXCHANGES {
        assert!(
            dom.contains(&format!("data-exchange=\"{ex}\"")),
            "card for {ex}: {dom}"
        );
    }
    assert!(
        dom.contains("class=\"card healthy\" data-exchange=\"binance\""),
        "{dom}"
    );
    assert!(
        dom.contains("class=\"card down\" data-exchange=\"okx\""),
        "{dom}"
    );
    let p50 = card_value(&dom, "binance", "p50").expect("p50 shown");
    assert!(p50.ends_with(" ms") && p50 != "–", "binance p50 {p50:?}");
    let p95 = card_value(&dom, "bybit", "p95").expect("p95 shown");
    assert!(p95.ends_with(" ms"), "bybit p95 {p95:?}");
    let rps = card_value(&dom, "binance", "rps").expect("records/s shown");
    assert!(
        rps.replace(',', "").parse::<f64>().is_ok_and(|v| v > 0.0),
        "records/s {rps:?}"
    );
    let age = card_value(&dom, "binance", "age").expect("age shown");
    assert!(age.ends_with("ago") || age == "now", "age {age:?}");
    // Funding: every symbol, annualized values, widest spread first.
    let first_row = dom.find("<tr data-symbol=").expect("funding rows");
    assert!(
        dom[first_row..].contains("%</td>"),
        "annualized rates shown"
    );
    assert_eq!(dom.matches("<tr data-symbol=").count(), BASES.len());
    let top = t.funding_rows(1)[0].symbol.clone();
    assert!(
        dom[first_row..].starts_with(&format!("<tr data-symbol=\"{top}\"")),
        "widest spread first ({top})"
    );
    // Live: ticks arrived over server-sent events and were applied.
    let ticks: u32 = dom
        .split("data-ticks=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!(ticks >= 2, "live ticks reached the page: {ticks}");
    assert!(dom.contains("data-state=\"live\""));
    assert!(dom.contains("circuit breaker open"), "events listed");
    assert!(
        dom.contains("class=\"rule\">breaker_open · okx"),
        "alert banner: {dom}"
    );
    assert!(dom.contains(">ready<") || dom.contains(">not ready<"));
    // Plugins: every loaded version, and the held-back canary with the field that differs.
    for ex in EXCHANGES {
        assert!(
            dom.contains(&format!("<tr data-plugin=\"{ex}\">")),
            "plugin row {ex}"
        );
    }
    assert!(
        dom.contains("class=\"canary held_back\" data-canary=\"binance\""),
        "canary block: {dom}"
    );
    assert!(
        dom.contains("<tr data-field=\"volume_24h_quote\"><td>volume_24h_quote</td><td>655</td>"),
        "divergent field listed: {dom}"
    );
    assert!(
        dom.contains("BTCUSDT: 8100000000 → 8100000000000"),
        "example: {dom}"
    );
    assert!(
        dom.contains("class=\"rule\">plugin_canary_held_back · binance"),
        "canary alert banner"
    );

    engine.stop().await;
    server.shutdown().await;
    workers.abort();
}

/// The dashboard of a real running host (three real plugins against the emulator) in headless
/// Chromium: every exchange card shows live latency, the funding table has rows from all three
/// exchanges, and ticks arrive over server-sent events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_of_a_running_host_shows_live_data() {
    use exchange_emulator::{EmulatorConfig, ExchangeKind, InstanceConfig};
    use integration_tests::{config_text, deploy_plugin, wait_until, RunningHost, REAL_PLUGINS};

    let instances = [
        ("binance", ExchangeKind::Binance),
        ("bybit", ExchangeKind::Bybit),
        ("okx", ExchangeKind::Okx),
    ]
    .into_iter()
    .map(|(name, kind)| {
        let mut c = InstanceConfig::new(name, kind);
        c.universe = 30;
        c
    })
    .collect();
    let emu =
        exchange_emulator::spawn(EmulatorConfig { instances }, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let plugin_dir = dir.path().join("plugins");
    std::fs::create_dir(&plugin_dir).unwrap();
    for lib in REAL_PLUGINS {
        deploy_plugin(lib, &plugin_dir);
    }
    let fast =
        |id: &str| format!("[exchanges.{id}.intervals]\ntickers = \"1s\"\nfunding = \"1s\"\n");
    let (b, y, o) = (fast("binance"), fast("bybit"), fast("okx"));
    let exchanges = [
        ("binance", emu.base_url("binance"), b.as_str()),
        ("bybit", emu.base_url("bybit"), y.as_str()),
        ("okx", emu.base_url("okx"), o.as_str()),
    ];
    let text = config_text(dir.path(), &plugin_dir, &exchanges).replace(
        "[web]\nlisten = \"127.0.0.1:0\"\n",
        "[web]\nlisten = \"127.0.0.1:0\"\nlive_interval = \"500ms\"\n",
    );
    let host = RunningHost::start(dir.path(), &text);
    assert!(wait_until(Duration::from_secs(10), || host
        .telemetry
        .web_addr()
        .is_some())
    .await
    .is_some());
    let url = format!("http://{}/", host.telemetry.web_addr().unwrap());
    // Let every exchange complete a few cycles.
    assert!(wait_until(Duration::from_secs(15), || {
        let r = host.records();
        ["binance", "bybit", "okx"].iter().all(|ex| {
            r.iter()
                .any(|x| x["exchange"] == *ex && x["kind"] == "funding")
        })
    })
    .await
    .is_some());

    let shot = screenshot_dir().join("dashboard-live-host.png");
    let (dom, waited) = {
        let shot = shot.clone();
        tokio::task::spawn_blocking(move || {
            let mut b = chromium::Browser::launch(1440, 1000);
            b.open(&url, 1440, 1000);
            let ready = "document.body.dataset.ticks >= 2 \
                && document.querySelectorAll('.card').length === 3 \
                && document.querySelectorAll('#funding tr[data-symbol]').length > 0";
            let waited = b.wait_for(ready, Duration::from_secs(30));
            let dom = b.html();
            b.screenshot(&shot, false);
            (dom, waited)
        })
        .await
        .expect("browser thread")
    };
    host.stop().await;
    emu.shutdown().await;
    println!("screenshot: {}", shot.display());
    assert!(waited, "the page never showed live data: {dom}");
    for ex in ["binance", "bybit", "okx"] {
        assert!(
            dom.contains(&format!("class=\"card healthy\" data-exchange=\"{ex}\"")),
            "{ex} card healthy: {dom}"
        );
        let p50 = card_value(&dom, ex, "p50").expect("p50 shown");
        assert!(p50.ends_with(" ms"), "{ex} p50 {p50:?}");
    }
    // Funding rows carry annualized rates from the three exchanges.
    let first_row = dom.find("<tr data-symbol=").expect("funding rows");
    assert!(
        dom[first_row..].contains("%</td>"),
        "annualized rates shown"
    );
    assert!(
        dom.matches("<tr data-symbol=").count() >= 20,
        "funding rows for the universe"
    );
}

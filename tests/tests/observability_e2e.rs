//! Observability end to end: the real host (three real plugins against the exchange emulator)
//! reporting through `Telemetry` to the web server — readiness, metrics following an injected
//! fault (failures counted, breaker gauge, the event stream), recovery, and the funding table
//! across exchanges.
//!

use std::time::Duration;

use exchange_emulator::{EmulatorConfig, ExchangeKind, FaultSpec, InstanceConfig};
use futures_collector::observe::telemetry::Telemetry;
use integration_tests::{config_text, deploy_plugin, wait_until, REAL_PLUGINS};

const UNIVERSE: usize = 20;

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn get(base: &str, path: &str) -> (u16, String) {
    match reqwest::get(format!("{base}{path}")).await {
        Ok(r) => {
            let s = r.status().as_u16();
            (s, r.text().await.unwrap_or_default())
        }
        Err(_) => (0, String::new()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_reports_faults_and_recovery_through_the_web_server() {
    let instances = [
        ("binance", ExchangeKind::Binance),
        ("bybit", ExchangeKind::Bybit),
        ("okx", ExchangeKind::Okx),
    ]
    .into_iter()
    .map(|(name, kind)| {
        let mut c = InstanceConfig::new(name, kind);
        c.universe = UNIVERSE;
        c
    })
    .collect();
    let emu =
        exchange_emulator::spawn(EmulatorConfig { instances }, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let plugin_dir = dir.path().join("plugins");
    std::fs::create_dir_all(&plugin_dir).unwrap();
    for lib in REAL_PLUGINS {
        deploy_plugin(lib, &plugin_dir);
    }
    let intervals = "[exchanges.{id}.intervals]\ninstruments = \"1h\"\ntickers = \"1s\"\nfunding = \"1s\"\nopen_interest = \"off\"\n";
    let sections: Vec<(String, String)> = ["binance", "bybit", "okx"]
        .iter()
        .map(|id| (id.to_string(), intervals.replace("{id}", id)))
        .collect();
    let exchanges: Vec<(&str, String, &str)> = sections
        .iter()
        .map(|(id, s)| (id.as_str(), emu.base_url(id), s.as_str()))
        .collect();
    let mut text = config_text(dir.path(), &plugin_dir, &exchanges);
    text = text.replace(
        "[web]\nlisten = \"127.0.0.1:0\"\n",
        "[web]\nlisten = \"127.0.0.1:0\"\nlive_interval = \"200ms\"\n",
    );
    let config_path = dir.path().join("collector.toml");
    std::fs::write(&config_path, &text).unwrap();
    let config = futures_collector::config::Config::load(&config_path).unwrap();

    let telemetry = Telemetry::default();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let options = futures_collector::run::supervisor::RunOptions {
        telemetry: telemetry.clone(),
        ..Default::default()
    };
    let host = tokio::spawn(futures_collector::run::supervisor::run_with(
        config,
        options,
        async {
            let _ = stop_rx.await;
        },
    ));

    assert!(
        wait_until(Duration::from_secs(10), || telemetry.web_addr().is_some())
            .await
            .is_some()
    );
    let base = format!("http://{}", telemetry.web_addr().unwrap());
    // Ready once the sink delivers and an exchange answers.
    let mut ready = false;
    for _ in 0..200 {
        if get(&base, "/readyz").await.0 == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "{}", get(&base, "/readyz").await.1);
    // Ready needs one healthy exchange (instruments may be all it has done yet): wait for the
    // first ticker cycle to be counted.
    let ok =
        "futures_collector_requests_total{exchange=\"binance\",kind=\"tickers\",outcome=\"ok\"}";
    let mut metrics = String::new();
    for _ in 0..200 {
        metrics = get(&base, "/metrics").await.1;
        if sample(&metrics, ok).unwrap_or(0.0) >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sample(&metrics, ok).unwrap_or(0.0) >= 1.0, "{metrics}");
    assert!(metrics.contains("futures_collector_plugins_loaded{exchange=\"okx\",version="));

    // Bybit answers 500: failures counted, breaker opens, still ready (two others healthy).
    let mut spec: FaultSpec = serde_json::from_value(serde_json::json!({
        "instance": "bybit", "fault": "status", "status": 500
    }))
    .unwrap();
    spec.path_prefix = Some("/v5/market/tickers".into());
    emu.inject(spec);
    let mut opened = false;
    for _ in 0..200 {
        let (_, m) = get(&base, "/metrics").await;
        if sample(&m, "futures_collector_breaker_state{exchange=\"bybit\"}") == Some(2.0) {
            let failed = "futures_collector_requests_total{exchange=\"bybit\",kind=\"tickers\",outcome=\"http_5xx\"}";
            assert!(sample(&m, failed).unwrap_or(0.0) >= 1.0, "{m}");
            opened = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(opened, "bybit breaker never opened");
    assert_eq!(get(&base, "/readyz").await.0, 200);
    let (_, status) = get(&base, "/api/status").await;
    assert!(status.contains("circuit breaker open"), "{status}");

    // Recovery.
    emu.clear_faults(Some("bybit"));
    let mut closed = false;
    for _ in 0..200 {
        let (_, m) = get(&base, "/metrics").await;
        if sample(&m, "futures_collector_breaker_state{exchange=\"bybit\"}") == Some(0.0) {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(closed, "bybit breaker never closed");

    // The funding table spans exchanges.
    let (_, funding) = get(&base, "/api/funding?limit=5").await;
    let f: serde_json::Value = serde_json::from_str(&funding).unwrap();
    assert!(f["exchanges"].as_array().unwrap().len() >= 2, "{f}");
    assert!(f["rows"][0]["spread"].is_number(), "{f}");

    let _ = stop_tx.send(());
    host.await.unwrap().unwrap();
}

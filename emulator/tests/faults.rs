//! Every fault kind as a real HTTP client sees it, fault targeting and counting, the admin API
//! over HTTP, request stats and latency.

mod common;

use std::time::{Duration, Instant};

use common::*;
use exchange_emulator::{
    EmulatorConfig, ExchangeKind, Fault, FaultSpec, InstanceConfig, ResetMode,
};
use serde_json::{json, Value};

const TICKER: &str = "/fapi/v1/ticker/24hr";

fn spec(v: Value) -> FaultSpec {
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn status_fault_hits_count_requests_on_its_prefix_only() {
    let emu = start(small(20)).await;
    emu.inject(spec(json!({"instance": "binance", "path_prefix": "/fapi/v1/ticker", "fault": "status", "status": 503, "count": 2})));
    let c = client();
    let url = format!("{}{TICKER}", emu.base_url("binance"));
    // Another path of the same instance is untouched and does not use up the count.
    let other = c
        .get(format!("{}/fapi/v1/premiumIndex", emu.base_url("binance")))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status().as_u16(), 200);
    for _ in 0..2 {
        let r = c.get(&url).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 503);
        assert_eq!(r.text().await.unwrap(), "503 Service Unavailable\n");
    }
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    serde_json::from_str::<Value>(&r.text().await.unwrap()).unwrap();
    assert!(emu.faults().is_empty(), "a spent fault is removed");
    let st = emu.stats().instance("binance");
    assert_eq!(st.faulted, 2);
    assert_eq!(
        st.recent
            .iter()
            .filter(|r| r.fault.as_deref() == Some("status"))
            .count(),
        2
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn rate_limit_sends_retry_after_and_the_exchange_body() {
    let emu = start(small(20)).await;
    let c = client();
    emu.inject(spec(
        json!({"instance": "binance", "fault": "rate_limit", "retry_after_s": 7, "count": 1}),
    ));
    let r = c
        .get(format!("{}{TICKER}", emu.base_url("binance")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    let body: Value = r.json_value().await;
    assert_eq!(body["code"], -1003);

    emu.inject(spec(json!({"instance": "binance", "fault": "rate_limit", "status": 418, "retry_after_s": 60, "count": 1})));
    let r = c
        .get(format!("{}{TICKER}", emu.base_url("binance")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 418);
    assert_eq!(r.headers()["retry-after"], "60");
    let body: Value = r.json_value().await;
    assert!(
        body["msg"].as_str().unwrap().contains("banned until"),
        "{body}"
    );

    emu.inject(spec(
        json!({"instance": "bybit", "fault": "rate_limit", "count": 1}),
    ));
    let r = c
        .get(format!(
            "{}/v5/market/tickers?category=linear",
            emu.base_url("bybit")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["retry-after"].to_str().unwrap()
        ),
        (429, "1")
    );
    assert_eq!(r.json_value().await["retCode"], 10006);

    emu.inject(spec(
        json!({"instance": "okx", "fault": "rate_limit", "count": 1}),
    ));
    let r = c
        .get(format!(
            "{}/api/v5/market/tickers?instType=SWAP",
            emu.base_url("okx")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.json_value().await["code"], "50011");
    emu.shutdown().await;
}

#[tokio::test]
async fn garbage_bodies_invalid_json_truncated_html() {
    let emu = start(small(30)).await;
    let c = client();
    let url = format!(
        "{}/api/v5/market/tickers?instType=SWAP",
        emu.base_url("okx")
    );
    let full = c.get(&url).send().await.unwrap().text().await.unwrap();

    emu.inject(FaultSpec::new("okx", Fault::InvalidJson {}).times(1));
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.text().await.unwrap(), "{\"oops\": [1,2");

    emu.inject(FaultSpec::new("okx", Fault::Truncated {}).times(1));
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let declared: usize = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = r.text().await.unwrap();
    assert_eq!(body.len(), declared, "Content-Length matches the cut body");
    assert!(
        body.len().abs_diff(full.len() / 2) < full.len() / 10,
        "about half: {} of {}",
        body.len(),
        full.len()
    );
    assert!(full.starts_with(&body[..20]));
    assert!(serde_json::from_str::<Value>(&body).is_err());

    emu.inject(spec(
        json!({"instance": "okx", "fault": "html", "count": 1}),
    ));
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "text/html");
    let page = r.text().await.unwrap();
    assert!(
        page.starts_with("<html>") && page.contains("502 Bad Gateway") && page.contains("nginx"),
        "{page}"
    );

    // The next request is normal again.
    let r = c.get(&url).send().await.unwrap();
    serde_json::from_str::<Value>(&r.text().await.unwrap()).unwrap();
    emu.shutdown().await;
}

#[tokio::test]
async fn reset_drops_the_connection_before_or_during_the_body() {
    let emu = start(small(30)).await;
    let url = format!(
        "{}/v5/market/tickers?category=linear",
        emu.base_url("bybit")
    );

    emu.inject(
        FaultSpec::new(
            "bybit",
            Fault::Reset {
                mode: ResetMode::BeforeHeaders,
            },
        )
        .times(1),
    );
    let err = client()
        .get(&url)
        .send()
        .await
        .expect_err("no response at all");
    assert!(!err.is_timeout(), "{err:?}");

    emu.inject(
        FaultSpec::new(
            "bybit",
            Fault::Reset {
                mode: ResetMode::MidBody,
            },
        )
        .times(1),
    );
    let r = client().get(&url).send().await.expect("headers arrive");
    assert_eq!(r.status().as_u16(), 200);
    let declared: u64 = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(declared > 1000);
    let err = r.bytes().await.expect_err("the body is cut off");
    assert!(
        err.is_body() || err.is_decode() || err.is_request(),
        "{err:?}"
    );

    // The server keeps serving.
    let (status, _) = get_json(&url).await;
    assert_eq!(status, 200);
    assert_eq!(emu.stats().instance("bybit").faulted, 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn hang_never_answers_until_the_client_gives_up() {
    let emu = start(small(10)).await;
    emu.inject(spec(json!({"instance": "okx", "fault": "hang"})));
    let c = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let url = format!(
        "{}/api/v5/public/funding-rate?instId=ANY",
        emu.base_url("okx")
    );
    let started = Instant::now();
    let err = c.get(&url).send().await.expect_err("hangs");
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() >= Duration::from_millis(290));
    // Other instances are unaffected while one hangs.
    let (status, _) = get_json(&format!("{}/fapi/v1/ping", emu.base_url("binance"))).await;
    assert_eq!(status, 200);
    emu.clear_faults(Some("okx"));
    let (status, _) = get_json(&url).await;
    assert_eq!(status, 200);

    // A bounded hang closes the connection without a response.
    emu.inject(spec(
        json!({"instance": "okx", "fault": "hang", "duration_ms": 150, "count": 1}),
    ));
    let started = Instant::now();
    let err = client()
        .get(&url)
        .send()
        .await
        .expect_err("closed without a response");
    assert!(
        !err.is_timeout() && started.elapsed() >= Duration::from_millis(140),
        "{err:?}"
    );

    // Shutdown does not wait for hanging requests.
    emu.inject(spec(json!({"instance": "okx", "fault": "hang"})));
    let pending = tokio::spawn(async move { client().get(&url).send().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    tokio::time::timeout(Duration::from_secs(2), emu.shutdown())
        .await
        .expect("shutdown is prompt");
    assert!(pending.await.unwrap().is_err());
}

#[tokio::test]
async fn slow_body_dribbles_the_real_body() {
    let emu = start(small(30)).await;
    emu.inject(spec(json!({"instance": "binance", "path_prefix": "/fapi/v1/premiumIndex", "fault": "slow_body", "duration_ms": 600, "chunk_bytes": 100, "count": 1})));
    let url = format!("{}/fapi/v1/premiumIndex", emu.base_url("binance"));
    let started = Instant::now();
    let mut r = client().get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let declared: usize = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut body = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = r.chunk().await.unwrap() {
        body.extend_from_slice(&chunk);
        chunks += 1;
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(chunks >= 10, "{chunks} chunks");
    assert_eq!(body.len(), declared);
    let rows: Value = serde_json::from_slice(&body).unwrap();
    assert!(rows.as_array().unwrap().len() > 20);
    emu.shutdown().await;
}

#[tokio::test]
async fn oversized_streams_a_huge_body() {
    let emu = start(small(10)).await;
    let url = format!(
        "{}/v5/market/tickers?category=linear",
        emu.base_url("bybit")
    );
    emu.inject(spec(
        json!({"instance": "bybit", "fault": "oversized", "mib": 3, "count": 1}),
    ));
    let mut r = client().get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers().get("content-length").is_none(),
        "chunked by default"
    );
    let mut total = 0usize;
    let mut first = Vec::new();
    while let Some(chunk) = r.chunk().await.unwrap() {
        if first.len() < 64 {
            first.extend_from_slice(&chunk[..chunk.len().min(64)]);
        }
        total += chunk.len();
    }
    assert!(
        (3 * 1024 * 1024..4 * 1024 * 1024).contains(&total),
        "{total}"
    );
    assert!(first.starts_with(b"[{\"symbol\""));

    emu.inject(spec(json!({"instance": "bybit", "fault": "oversized", "mib": 2, "content_length": true, "count": 1})));
    let r = client().get(&url).send().await.unwrap();
    let declared: usize = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = r.bytes().await.unwrap();
    assert_eq!(body.len(), declared);
    let parsed: Value = serde_json::from_slice(&body).expect("a valid (huge) JSON array");
    assert!(parsed.as_array().unwrap().len() > 10_000);
    emu.shutdown().await;
}

#[tokio::test]
async fn error_code_uses_each_exchange_envelope() {
    let emu = start(small(20)).await;
    let c = client();
    for (inst, path) in [
        ("binance", TICKER),
        ("bybit", "/v5/market/tickers?category=linear"),
        ("okx", "/api/v5/market/tickers?instType=SWAP"),
    ] {
        emu.inject(spec(
            json!({"instance": inst, "fault": "error_code", "count": 1}),
        ));
        let r = c
            .get(format!("{}{path}", emu.base_url(inst)))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json_value().await;
        match inst {
            "binance" => {
                assert_eq!(status, 429);
                assert_eq!(body["code"], -1003);
                assert!(body["msg"].is_string());
            }
            "bybit" => {
                assert_eq!(status, 200);
                assert_eq!(
                    (body["retCode"].as_i64(), body["retMsg"].as_str()),
                    (Some(10006), Some("Too many visits!"))
                );
                assert_eq!(body["result"], json!({}));
            }
            _ => {
                assert_eq!(status, 200);
                assert_eq!(
                    body,
                    json!({"code": "50011", "msg": "Too Many Requests", "data": []})
                );
            }
        }
    }
    emu.inject(spec(
        json!({"instance": "okx", "fault": "error_code", "code": 50013, "count": 1}),
    ));
    let body: Value = c
        .get(format!(
            "{}/api/v5/public/mark-price?instType=SWAP",
            emu.base_url("okx")
        ))
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    assert_eq!(body["code"], "50013");
    emu.inject(spec(json!({"instance": "binance", "fault": "error_code", "code": -1001, "msg": "Internal error", "count": 1})));
    let r = c
        .get(format!("{}{TICKER}", emu.base_url("binance")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 500);
    assert_eq!(
        r.json_value().await,
        json!({"code": -1001, "msg": "Internal error"})
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn delay_and_instance_latency_slow_answers_down() {
    let mut cfg = small(10);
    cfg.instances.push(InstanceConfig {
        latency_ms: 150,
        latency_jitter_ms: 30,
        ..InstanceConfig::new("slow", ExchangeKind::Bybit)
    });
    let emu = start(cfg).await;
    let started = Instant::now();
    let (status, _) = get_json(&format!(
        "{}/v5/market/tickers?category=linear",
        emu.base_url("slow")
    ))
    .await;
    assert_eq!(status, 200);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_millis(1500),
        "{took:?}"
    );

    emu.inject(spec(
        json!({"instance": "binance", "fault": "delay", "delay_ms": 250, "count": 1}),
    ));
    let started = Instant::now();
    let (status, _) = get_json(&format!("{}/fapi/v1/premiumIndex", emu.base_url("binance"))).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(250));
    emu.shutdown().await;
}

#[tokio::test]
async fn wildcard_faults_and_clearing() {
    let emu = start(small(10)).await;
    let c = client();
    let id = emu.inject(spec(
        json!({"instance": "*", "fault": "status", "status": 502}),
    ));
    for inst in ["binance", "bybit", "okx"] {
        assert_eq!(
            c.get(format!("{}/anything", emu.base_url(inst)))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
            502
        );
    }
    assert_eq!(emu.faults().len(), 1);
    assert!(emu.remove_fault(id));
    assert_eq!(
        c.get(format!("{}/fapi/v1/ping", emu.base_url("binance")))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    emu.inject(FaultSpec::new("okx", Fault::InvalidJson {}));
    emu.inject(FaultSpec::new("bybit", Fault::InvalidJson {}));
    emu.clear_faults(Some("okx"));
    assert_eq!(emu.faults().len(), 1);
    emu.clear_faults(None);
    assert!(emu.faults().is_empty());
    emu.shutdown().await;
}

#[tokio::test]
async fn admin_api_over_http() {
    let emu = start(small(10)).await;
    let c = client();
    let admin = format!("http://{}/_admin", emu.addr());

    let instances: Value = c
        .get(format!("{admin}/instances"))
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    let list = instances.as_array().unwrap();
    assert_eq!(list.len(), ExchangeKind::ALL.len());
    assert_eq!(list[0]["name"], "binance");
    assert_eq!(list[0]["exchange"], "binance");
    assert_eq!(list[0]["base_url"], emu.base_url("binance"));
    assert_eq!(list[0]["listed"], 10);

    let r = c.post(format!("{admin}/faults")).body(r#"{"instance":"okx","path_prefix":"/api/v5/market","fault":"status","status":500,"count":3}"#).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let id = r.json_value().await["id"].as_u64().unwrap();
    let faults: Value = c
        .get(format!("{admin}/faults"))
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    assert_eq!(faults[0]["id"], id);
    assert_eq!(faults[0]["remaining"], 3);
    assert_eq!(faults[0]["spec"]["fault"], "status");
    assert_eq!(
        c.get(format!(
            "{}/api/v5/market/tickers?instType=SWAP",
            emu.base_url("okx")
        ))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16(),
        500
    );
    let faults: Value = c
        .get(format!("{admin}/faults"))
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    assert_eq!(faults[0]["remaining"], 2);

    for bad in [
        r#"{"instance":"nope","fault":"hang"}"#,
        r#"{"instance":"okx","fault":"explode"}"#,
        "not json",
        r#"{"instance":"okx","fault":"status","status":42}"#,
    ] {
        let r = c
            .post(format!("{admin}/faults"))
            .body(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{bad}");
        assert!(r.json_value().await["error"].is_string());
    }

    let cleared: Value = c
        .delete(format!("{admin}/faults?instance=okx"))
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    assert_eq!(cleared["cleared"], 1);
    c.post(format!("{admin}/faults"))
        .body(r#"{"instance":"*","fault":"html"}"#)
        .send()
        .await
        .unwrap();
    let cleared: Value = c
        .delete(format!("{admin}/faults"))
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    assert_eq!(cleared["cleared"], 1);

    let stats: Value = c
        .get(format!("{admin}/stats?instance=okx"))
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    assert_eq!(stats["instances"].as_object().unwrap().len(), 1);
    assert_eq!(stats["instances"]["okx"]["total"], 1);
    assert_eq!(
        stats["instances"]["okx"]["by_path"]["/api/v5/market/tickers"],
        1
    );
    assert_eq!(stats["instances"]["okx"]["recent"][0]["fault"], "status");
    let r = c.post(format!("{admin}/reset-stats")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let stats: Value = c
        .get(format!("{admin}/stats?recent=false"))
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    assert_eq!(stats["instances"]["okx"]["total"], 0);
    assert_eq!(
        stats["instances"].as_object().unwrap().len(),
        ExchangeKind::ALL.len()
    );
    // Admin requests are not counted anywhere.
    assert_eq!(
        emu.stats().instances.values().map(|s| s.total).sum::<u64>(),
        0
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn stats_count_paths_and_keep_request_times() {
    let emu = start(EmulatorConfig {
        instances: vec![InstanceConfig {
            universe: 30,
            ..InstanceConfig::new("b", ExchangeKind::Binance)
        }],
    })
    .await;
    let c = client();
    let base = emu.base_url("b");
    let before = now_ms() as u64;
    for sym in ["BTCUSDT", "ETHUSDT", "SOLUSDT"] {
        c.get(format!("{base}/fapi/v1/openInterest?symbol={sym}"))
            .send()
            .await
            .unwrap();
    }
    c.get(format!("{base}/fapi/v1/premiumIndex"))
        .send()
        .await
        .unwrap();
    let after = now_ms() as u64;
    let stats = emu.stats();
    assert_eq!(stats.total("b"), 4);
    assert_eq!(stats.count("b", "/fapi/v1/openInterest"), 3);
    assert_eq!(stats.count("b", "/fapi/v1/premiumIndex"), 1);
    let st = stats.instance("b");
    let times = st.timestamps("/fapi/v1/openInterest");
    assert_eq!(times.len(), 3);
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert!(times[0] >= before && times[2] <= after);
    assert_eq!(st.recent[1].query, "symbol=ETHUSDT");
    emu.reset_stats();
    assert_eq!(emu.stats().total("b"), 0);
    emu.shutdown().await;
}

//! The BitMEX and Kraken Futures instances over real HTTP: their paths answer in the exchange's
//! own shape (a bare array; a `result`/`serverTime` object), unknown paths are 404, and every
//! fault mode answers with each exchange's own error body and status.

mod common;

use common::*;
use exchange_emulator::{EmulatorConfig, ExchangeKind, FaultSpec, InstanceConfig};
use serde_json::{json, Value};

fn config() -> EmulatorConfig {
    EmulatorConfig {
        instances: vec![
            InstanceConfig {
                universe: 60,
                ..InstanceConfig::new("bitmex", ExchangeKind::Bitmex)
            },
            InstanceConfig {
                universe: 60,
                ..InstanceConfig::new("krakenfutures", ExchangeKind::KrakenFutures)
            },
        ],
    }
}

fn spec(v: Value) -> FaultSpec {
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn paths_answer_in_each_exchanges_shape() {
    let emu = start(config()).await;
    let v = ok_json(&emu, "bitmex", "/api/v1/instrument/active").await;
    let rows = v.as_array().expect("a bare array");
    assert_eq!(rows.len(), 60);
    assert!(rows.iter().any(|r| r["symbol"] == "XBTUSD"));

    let v = ok_json(&emu, "krakenfutures", "/derivatives/api/v3/instruments").await;
    assert_eq!(v["result"], "success");
    assert!(v["serverTime"].as_str().unwrap().ends_with('Z'));
    let instruments = v["instruments"].as_array().unwrap();
    assert!(instruments.iter().any(|r| r["symbol"] == "PI_XBTUSD"));
    let v = ok_json(&emu, "krakenfutures", "/derivatives/api/v3/tickers").await;
    let tickers = v["tickers"].as_array().unwrap();
    let pf = tickers.iter().find(|r| r["symbol"] == "PF_XBTUSD").unwrap();
    assert!(pf["fundingRate"].is_number() && pf["tag"] == "perpetual");

    for (instance, path) in [
        ("bitmex", "/api/v1/nothing"),
        ("krakenfutures", "/derivatives/api/v3/nothing"),
    ] {
        let r = client()
            .get(format!("{}{path}", emu.base_url(instance)))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404, "{instance}");
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn faults_use_each_exchanges_error_body() {
    let emu = start(config()).await;
    let bitmex = format!("{}/api/v1/instrument/active", emu.base_url("bitmex"));
    let kraken = format!(
        "{}/derivatives/api/v3/tickers",
        emu.base_url("krakenfutures")
    );

    emu.inject(spec(
        json!({"instance": "bitmex", "fault": "rate_limit", "count": 1}),
    ));
    let r = client().get(&bitmex).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    let v = r.json_value().await;
    assert_eq!(v["error"]["name"], "HTTPError");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Rate limit"));

    emu.inject(spec(
        json!({"instance": "bitmex", "fault": "error_code", "code": 503, "count": 1}),
    ));
    let (status, v) = get_json(&bitmex).await;
    assert_eq!(status, 503);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("overloaded"));

    emu.inject(spec(
        json!({"instance": "krakenfutures", "fault": "rate_limit", "count": 1}),
    ));
    let r = client().get(&kraken).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    let v = r.json_value().await;
    assert_eq!(
        (v["result"].as_str(), v["error"].as_str()),
        (Some("error"), Some("apiLimitExceeded"))
    );

    emu.inject(spec(
        json!({"instance": "krakenfutures", "fault": "error_code", "code": 503, "count": 1}),
    ));
    let (status, v) = get_json(&kraken).await;
    assert_eq!((status, v["error"].as_str()), (503, Some("Unavailable")));

    // A code that is no HTTP status: Kraken's `result: error` under HTTP 200.
    emu.inject(spec(
        json!({"instance": "krakenfutures", "fault": "error_code", "code": 1,
        "msg": "marketUnavailable", "count": 1}),
    ));
    let (status, v) = get_json(&kraken).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (200, Some("marketUnavailable"))
    );

    let (status, v) = get_json(&kraken).await;
    assert_eq!((status, v["result"].as_str()), (200, Some("success")));
    emu.shutdown().await;
}

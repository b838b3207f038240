//! The Hyperliquid and MEXC instances over real HTTP: Hyperliquid's `POST /info` bodies reach
//! the exchange module (also when a fault needs the real answer), and every fault mode answers
//! with each exchange's own error envelope and status.

mod common;

use common::*;
use exchange_emulator::{EmulatorConfig, ExchangeKind, FaultSpec, InstanceConfig};
use serde_json::{json, Value};

fn config() -> EmulatorConfig {
    EmulatorConfig {
        instances: vec![
            InstanceConfig::new("hyperliquid", ExchangeKind::Hyperliquid),
            InstanceConfig::new("mexc", ExchangeKind::Mexc),
        ],
    }
}

fn spec(v: Value) -> FaultSpec {
    serde_json::from_value(v).unwrap()
}

async fn info(emu: &exchange_emulator::EmulatorHandle, body: &str) -> reqwest::Response {
    client()
        .post(format!("{}/info", emu.base_url("hyperliquid")))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn hyperliquid_answers_post_bodies_and_refuses_get() {
    let emu = start(config()).await;
    let r = info(&emu, r#"{"type":"metaAndAssetCtxs"}"#).await;
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json_value().await;
    assert_eq!(
        v[0]["universe"].as_array().unwrap().len(),
        v[1].as_array().unwrap().len()
    );
    assert_eq!(v[0]["universe"][0]["name"], "BTC");
    let r = info(&emu, r#"{"type":"predictedFundings"}"#).await;
    let v: Value = r.json_value().await;
    assert_eq!(v[0][0], "BTC");
    let r = info(&emu, r#"{"type":"nope"}"#).await;
    assert_eq!(r.status().as_u16(), 422);
    let r = client()
        .get(format!("{}/info", emu.base_url("hyperliquid")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(emu.stats().count("hyperliquid", "/info"), 4);
}

#[tokio::test]
async fn faults_use_each_exchanges_envelope_and_the_real_body() {
    let emu = start(config()).await;
    // Truncated: half of the real answer to the POSTed query, not of an error.
    emu.inject(spec(
        json!({"instance": "hyperliquid", "fault": "truncated", "count": 1}),
    ));
    let full = info(&emu, r#"{"type":"meta"}"#).await.text().await.unwrap();
    assert!(
        full.starts_with("{\"universe\":[{\"szDecimals\""),
        "{full:.80}"
    );
    assert!(serde_json::from_str::<Value>(&full).is_err());

    emu.inject(spec(
        json!({"instance": "hyperliquid", "fault": "rate_limit", "count": 1}),
    ));
    let r = info(&emu, r#"{"type":"meta"}"#).await;
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    let v: Value = r.json_value().await;
    assert_eq!(v["status"], "err");

    emu.inject(spec(
        json!({"instance": "hyperliquid", "fault": "error_code", "count": 1}),
    ));
    let r = info(&emu, r#"{"type":"meta"}"#).await;
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.json_value().await["status"], "err");

    let ticker = format!("{}/api/v1/contract/ticker", emu.base_url("mexc"));
    emu.inject(spec(
        json!({"instance": "mexc", "fault": "rate_limit", "count": 1}),
    ));
    let r = client().get(&ticker).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    let v: Value = r.json_value().await;
    assert_eq!(
        (v["success"].clone(), v["code"].clone()),
        (json!(false), json!(510))
    );

    emu.inject(spec(
        json!({"instance": "mexc", "fault": "error_code", "code": 604, "count": 1}),
    ));
    let (status, v) = get_json(&ticker).await;
    assert_eq!(status, 200);
    assert_eq!(v["code"], 604);
    assert_eq!(v["message"], "System maintenance");

    let (status, v) = get_json(&ticker).await;
    assert_eq!(status, 200);
    assert_eq!(v["success"], true);
    assert!(v["data"][0]["lastPrice"].is_number());
}

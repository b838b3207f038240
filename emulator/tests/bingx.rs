//! The BingX instance over real HTTP: the per-symbol open-interest endpoint (no bulk form),
//! `symbol=` answers as one object, and every fault mode answering with BingX's own error
//! envelope (`{"code":100410,...}`) and status.

mod common;

use common::*;
use exchange_emulator::{EmulatorConfig, ExchangeKind, FaultSpec, InstanceConfig};
use serde_json::{json, Value};

fn config() -> EmulatorConfig {
    EmulatorConfig {
        instances: vec![InstanceConfig {
            universe: 80,
            ..InstanceConfig::new("bingx", ExchangeKind::Bingx)
        }],
    }
}

fn spec(v: Value) -> FaultSpec {
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn open_interest_is_per_symbol_and_faults_speak_bingx() {
    let emu = start(config()).await;
    let base = emu.base_url("bingx");
    let oi = format!("{base}/openApi/swap/v2/quote/openInterest");

    let (status, v) = get_json(&format!("{oi}?symbol=ETH-USDT")).await;
    assert_eq!(status, 200);
    assert_eq!(
        (v["code"].clone(), v["data"]["symbol"].clone()),
        (json!(0), json!("ETH-USDT"))
    );
    assert!(
        v["data"]["openInterest"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
            > 0.0
    );
    // No bulk form: a missing symbol is BingX's "invalid parameters" under HTTP 200.
    let (status, v) = get_json(&oi).await;
    assert_eq!((status, v["code"].clone()), (200, json!(80014)));

    let (_, v) = get_json(&format!(
        "{base}/openApi/swap/v2/quote/premiumIndex?symbol=BTC-USDT"
    ))
    .await;
    assert!(v["data"].is_object() && v["data"]["symbol"] == "BTC-USDT");

    emu.inject(spec(
        json!({"instance": "bingx", "fault": "rate_limit", "count": 1}),
    ));
    let r = client()
        .get(format!("{oi}?symbol=BTC-USDT"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    let v: Value = r.json_value().await;
    assert_eq!(v["code"], 100410);
    assert!(v["msg"].as_str().unwrap().contains("busy"));

    emu.inject(spec(
        json!({"instance": "bingx", "fault": "error_code", "count": 1}),
    ));
    let (status, v) = get_json(&format!("{oi}?symbol=BTC-USDT")).await;
    assert_eq!((status, v["code"].clone()), (200, json!(100410)));

    emu.inject(spec(
        json!({"instance": "bingx", "fault": "error_code", "code": 109400, "count": 1}),
    ));
    let (status, v) = get_json(&format!("{oi}?symbol=BTC-USDT")).await;
    assert_eq!((status, v["code"].clone()), (200, json!(109400)));

    let (status, v) = get_json(&format!("{oi}?symbol=BTC-USDT")).await;
    assert_eq!((status, v["code"].clone()), (200, json!(0)));
    let stats = emu.stats().instance("bingx");
    assert_eq!(stats.count_prefix("/openApi/swap/v2/quote/openInterest"), 6);
    emu.shutdown().await;
}

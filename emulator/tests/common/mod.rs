//! Helpers shared by the emulator's integration tests: start an emulator, fetch JSON with a real
//! HTTP client.
#![allow(dead_code)]

use std::time::Duration;

use exchange_emulator::{EmulatorConfig, EmulatorHandle, ExchangeKind, InstanceConfig};
use serde_json::Value;

pub async fn start(config: EmulatorConfig) -> EmulatorHandle {
    exchange_emulator::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

pub async fn start_default() -> EmulatorHandle {
    start(EmulatorConfig::default_three()).await
}

/// One instance of each kind with `universe` instruments.
pub fn small(universe: usize) -> EmulatorConfig {
    EmulatorConfig {
        instances: ExchangeKind::ALL
            .iter()
            .map(|k| InstanceConfig {
                universe,
                ..InstanceConfig::new(k.as_str(), *k)
            })
            .collect(),
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// GET `url`; (status, parsed JSON body). Panics when the body is not JSON.
pub async fn get_json(url: &str) -> (u16, Value) {
    let resp = client()
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {text:.200}"));
    (status, value)
}

/// GET `{base}{path}` expecting HTTP 200 JSON.
pub async fn ok_json(emu: &EmulatorHandle, instance: &str, path: &str) -> Value {
    let url = format!("{}{path}", emu.base_url(instance));
    let (status, v) = get_json(&url).await;
    assert_eq!(status, 200, "GET {url}: {v}");
    v
}

pub fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}

/// A decimal string field as f64 (panics when it is not a string holding a number).
pub fn num(v: &Value, key: &str) -> f64 {
    s(v, key)
        .parse::<f64>()
        .unwrap_or_else(|e| panic!("{key}={:?}: {e} in {v}", v[key]))
}

pub fn int(v: &Value, key: &str) -> i64 {
    v[key]
        .as_i64()
        .unwrap_or_else(|| panic!("{key} is not an integer in {v}"))
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// `Response::json` without reqwest's `json` feature.
pub trait JsonBody {
    fn json_value(self) -> impl std::future::Future<Output = Value>;
}

impl JsonBody for reqwest::Response {
    async fn json_value(self) -> Value {
        let text = self.text().await.unwrap();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:.200}"))
    }
}

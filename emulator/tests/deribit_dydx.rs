//! The Deribit and dYdX instances over real HTTP: their paths answer, and every rate-limit or
//! error-code fault answers in the exchange's own body and headers (Deribit's JSON-RPC error
//! object; the dYdX indexer's `{"errors":[{"msg"}]}` with a millisecond `Retry-After` and a
//! `RateLimit-Reset` time).

mod common;

use common::*;
use exchange_emulator::{EmulatorConfig, ExchangeKind, FaultSpec, InstanceConfig};
use serde_json::{json, Value};

fn config() -> EmulatorConfig {
    EmulatorConfig {
        instances: vec![
            InstanceConfig::new("deribit", ExchangeKind::Deribit),
            InstanceConfig::new("dydx", ExchangeKind::Dydx),
        ],
    }
}

fn spec(v: Value) -> FaultSpec {
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn both_answer_their_paths() {
    let emu = start(config()).await;
    let v = ok_json(
        &emu,
        "deribit",
        "/api/v2/public/get_book_summary_by_currency?currency=BTC&kind=future",
    )
    .await;
    assert_eq!(v["result"][0]["instrument_name"], "BTC-PERPETUAL");
    let v = ok_json(&emu, "dydx", "/v4/perpetualMarkets").await;
    assert_eq!(v["markets"]["BTC-USD"]["ticker"], "BTC-USD");
    let v = ok_json(&emu, "dydx", "/v4/height").await;
    assert!(s(&v, "time").ends_with('Z'), "{v}");
    let (status, v) = get_json(&format!(
        "{}/v4/perpetualMarkets?ticker=NOPE-USD",
        emu.base_url("dydx")
    ))
    .await;
    assert_eq!(status, 404);
    assert!(s(&v["errors"][0], "msg").contains("NOPE-USD"));
}

#[tokio::test]
async fn faults_answer_in_each_exchanges_body_and_headers() {
    let emu = start(config()).await;
    emu.inject(spec(
        json!({"instance": "deribit", "fault": "rate_limit", "retry_after_s": 2, "count": 1}),
    ));
    let r = client()
        .get(format!(
            "{}/api/v2/public/get_instruments?currency=BTC",
            emu.base_url("deribit")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "2");
    let v: Value = r.json_value().await;
    assert_eq!(v["error"]["code"], 10028);
    assert_eq!(v["error"]["message"], "too_many_requests");

    emu.inject(spec(
        json!({"instance": "dydx", "fault": "rate_limit", "retry_after_s": 2, "count": 1}),
    ));
    let before = exchange_emulator::exchanges::now_ms();
    let r = client()
        .get(format!("{}/v4/perpetualMarkets", emu.base_url("dydx")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    // The indexer writes Retry-After in milliseconds and says when its window frees up.
    assert_eq!(r.headers()["retry-after"], "2000");
    let reset: u64 = r.headers()["ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        reset >= before + 2_000 && reset < before + 12_000,
        "{reset}"
    );
    assert_eq!(r.headers()["ratelimit-limit"], "100");
    let v: Value = r.json_value().await;
    assert_eq!(v, json!({"errors": [{"msg": "Too many requests"}]}));

    emu.inject(spec(
        json!({"instance": "dydx", "fault": "error_code", "code": 500, "count": 1}),
    ));
    let (status, v) = get_json(&format!("{}/v4/height", emu.base_url("dydx"))).await;
    assert_eq!(status, 500);
    assert_eq!(v["errors"][0]["msg"], "Internal Server Error");

    emu.inject(spec(
        json!({"instance": "deribit", "fault": "error_code", "code": 13020, "count": 1}),
    ));
    let (status, v) = get_json(&format!(
        "{}/api/v2/public/get_instruments?currency=BTC",
        emu.base_url("deribit")
    ))
    .await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["code"], 13020);
}

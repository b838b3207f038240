//! The Bitget and Gate instances over real HTTP: paths, query errors, wire habits (Bitget's
//! strings and envelope, Gate's bare arrays, seconds and integer-or-decimal sizes), and the
//! server's fault modes answered in each exchange's own error body.
//!
//! Owns: the Bitget/Gate-specific endpoint and fault checks.
//! Must not: depend on the collector or its plugins.

mod common;

use common::*;
use exchange_emulator::{EmulatorConfig, ExchangeKind, FaultSpec, InstanceConfig};
use serde_json::{json, Value};

fn spec(v: Value) -> FaultSpec {
    serde_json::from_value(v).unwrap()
}

async fn two() -> exchange_emulator::EmulatorHandle {
    start(EmulatorConfig {
        instances: vec![
            InstanceConfig::new("bitget", ExchangeKind::Bitget),
            InstanceConfig::new("gate", ExchangeKind::Gate),
        ],
    })
    .await
}

/// GET a path; (status, headers' retry-after, JSON body).
async fn get(
    emu: &exchange_emulator::EmulatorHandle,
    inst: &str,
    path: &str,
) -> (u16, Option<String>, Value) {
    let r = client()
        .get(format!("{}{path}", emu.base_url(inst)))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let text = r.text().await.unwrap();
    (
        status,
        retry,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn bitget_lists_perpetuals_dated_and_usdc_contracts_as_strings() {
    let emu = two().await;
    let v = ok_json(
        &emu,
        "bitget",
        "/api/v2/mix/market/contracts?productType=USDT-FUTURES",
    )
    .await;
    assert_eq!(v["code"], "00000");
    assert!(v["requestTime"].is_i64());
    let rows = v["data"].as_array().unwrap();
    assert!(rows.len() > 300);
    assert!(rows.iter().any(|r| r["symbolType"] == "delivery"
        && r["symbol"].as_str().unwrap().contains('_')
        && r["deliveryTime"].as_str().unwrap().parse::<u64>().is_ok()));
    assert!(rows.iter().any(|r| r["symbolStatus"] == "listed"));
    assert!(rows
        .iter()
        .any(|r| r["symbolStatus"] == "off" && r["offTime"] != "-1"));
    for r in rows {
        assert_eq!(r["quoteCoin"], "USDT");
        assert!(r["fundInterval"].is_string() && r["pricePlace"].is_string());
    }
    let usdc = ok_json(
        &emu,
        "bitget",
        "/api/v2/mix/market/tickers?productType=usdc-futures",
    )
    .await;
    let rows = usdc["data"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows
        .iter()
        .all(|r| r["symbol"].as_str().unwrap().ends_with("PERP")));
    for r in rows {
        for (k, val) in r.as_object().unwrap() {
            assert!(
                val.is_string() || val.is_null(),
                "bitget sends strings: {k} in {r}"
            );
        }
    }
    let funding = ok_json(
        &emu,
        "bitget",
        "/api/v2/mix/market/current-fund-rate?productType=USDT-FUTURES",
    )
    .await;
    let rows = funding["data"].as_array().unwrap();
    assert!(
        rows.iter()
            .all(|r| !r["symbol"].as_str().unwrap().contains('_')),
        "perpetuals only"
    );
    for hours in ["1", "4", "8"] {
        assert!(
            rows.iter().any(|r| r["fundingRateInterval"] == hours),
            "{hours}"
        );
    }
    let coin = ok_json(
        &emu,
        "bitget",
        "/api/v2/mix/market/tickers?productType=COIN-FUTURES",
    )
    .await;
    assert_eq!(coin["data"], json!([]));

    let (status, _, body) = get(&emu, "bitget", "/api/v2/mix/market/tickers").await;
    assert_eq!((status, body["code"].as_str()), (400, Some("40019")));
    let (status, _, body) = get(
        &emu,
        "bitget",
        "/api/v2/mix/market/tickers?productType=SPOT",
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("40017")));
    let (status, _, body) = get(
        &emu,
        "bitget",
        "/api/v2/mix/market/tickers?productType=USDT-FUTURES&symbol=NOPEUSDT",
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("40034")));
    emu.shutdown().await;
}

#[tokio::test]
async fn gate_serves_bare_arrays_in_seconds_and_contracts() {
    let emu = two().await;
    let rows = ok_json(&emu, "gate", "/futures/usdt/contracts").await;
    let rows = rows.as_array().unwrap();
    assert!(rows.len() > 300);
    for r in rows {
        assert!(
            r["funding_interval"].is_u64() && r["funding_next_apply"].is_u64(),
            "{r}"
        );
        assert!(
            r["funding_next_apply"].as_u64().unwrap() < 10_000_000_000,
            "seconds: {r}"
        );
        assert!(r["quanto_multiplier"].is_string());
        assert!(r["position_size"].is_u64() || r["position_size"].is_string());
    }
    assert!(rows.iter().any(|r| r["position_size"].is_string()));
    assert!(rows.iter().any(|r| r["in_delisting"] == true));
    assert!(rows.iter().any(|r| r["is_pre_market"] == true));
    let prefixed = ok_json(&emu, "gate", "/api/v4/futures/usdt/tickers").await;
    let tickers = prefixed.as_array().unwrap();
    assert!(
        tickers.len() < rows.len(),
        "only trading contracts have tickers"
    );
    let one = ok_json(&emu, "gate", "/futures/usdt/contracts/BTC_USDT").await;
    assert_eq!(one["quanto_multiplier"], "0.0001");
    let btc = ok_json(&emu, "gate", "/futures/btc/tickers").await;
    assert_eq!(btc, json!([]));

    let (status, _, body) = get(&emu, "gate", "/futures/usdt/contracts/NOPE_USDT").await;
    assert_eq!(
        (status, body["label"].as_str()),
        (404, Some("CONTRACT_NOT_FOUND"))
    );
    let (status, _, body) = get(&emu, "gate", "/futures/eur/tickers").await;
    assert_eq!(
        (status, body["label"].as_str()),
        (400, Some("INVALID_PARAM_VALUE"))
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn faults_answer_in_each_exchange_body() {
    let emu = two().await;
    let bitget = "/api/v2/mix/market/tickers?productType=USDT-FUTURES";
    let gate = "/futures/usdt/tickers";

    emu.inject(spec(
        json!({"instance": "bitget", "fault": "rate_limit", "retry_after_s": 3, "count": 1}),
    ));
    let (status, retry, body) = get(&emu, "bitget", bitget).await;
    assert_eq!((status, retry.as_deref()), (429, Some("3")));
    assert_eq!(
        (body["code"].as_str(), body["msg"].as_str()),
        (Some("429"), Some("Too Many Requests"))
    );

    emu.inject(spec(
        json!({"instance": "gate", "fault": "rate_limit", "retry_after_s": 2, "count": 1}),
    ));
    let (status, retry, body) = get(&emu, "gate", gate).await;
    assert_eq!((status, retry.as_deref()), (429, Some("2")));
    assert_eq!(body["label"], "TOO_MANY_REQUESTS");

    emu.inject(spec(
        json!({"instance": "bitget", "fault": "error_code", "count": 1}),
    ));
    let (status, _, body) = get(&emu, "bitget", bitget).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("429")));
    emu.inject(spec(
        json!({"instance": "bitget", "fault": "error_code", "code": 40015, "count": 1}),
    ));
    let (status, _, body) = get(&emu, "bitget", bitget).await;
    assert_eq!((status, body["code"].as_str()), (500, Some("40015")));

    emu.inject(spec(
        json!({"instance": "gate", "fault": "error_code", "code": 500, "count": 1}),
    ));
    let (status, _, body) = get(&emu, "gate", gate).await;
    assert_eq!(
        (status, body["label"].as_str()),
        (500, Some("SERVER_ERROR"))
    );

    // Garbage faults are the server's and apply to both unchanged; the next answer is normal.
    emu.inject(spec(
        json!({"instance": "*", "fault": "html", "status": 200, "count": 2}),
    ));
    let (status, _, body) = get(&emu, "gate", gate).await;
    assert_eq!((status, body), (200, Value::Null));
    let (_, _, body) = get(&emu, "bitget", bitget).await;
    assert_eq!(body, Value::Null);
    let (status, _, body) = get(&emu, "gate", gate).await;
    assert!(status == 200 && body.is_array());
    emu.shutdown().await;
}

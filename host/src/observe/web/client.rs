//! The operator's side of the web API: the requests `futures-collector canary` sends to a
//! running collector (its canary status, promote, reject), found through the same config.
//!
//! Owns the address and token resolution for the CLI and the text it prints. Must not print
//! or put into an error the token itself (only the variable's name).

use std::{
    fmt::Write as _,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};

use serde_json::Value;

use crate::config::WebConfig;

/// How long the CLI waits for the collector's answer.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the web server is disabled ([web] enabled = false): the collector cannot be asked; enable it or pass --url")]
    Disabled,
    #[error("[web] listen {0} has port 0 (chosen when the collector starts; its log line `web server listening` names it): pass --url")]
    PortChosenAtStart(SocketAddr),
    #[error("${variable} is not set: a decision needs the web token the collector reads from it ([web] token_env)")]
    NoToken { variable: String },
    #[error("cannot reach the collector at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url}: HTTP {status}: {message}")]
    Refused {
        url: String,
        status: u16,
        message: String,
    },
}

/// The collector's web address as a client reaches it: an unspecified listen address
/// (`0.0.0.0`, `::`) is reached on loopback.
pub fn base_url(config: &WebConfig) -> Result<String, ClientError> {
    if !config.enabled {
        return Err(ClientError::Disabled);
    }
    if config.listen.port() == 0 {
        return Err(ClientError::PortChosenAtStart(config.listen));
    }
    let ip = match config.listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Ok(format!(
        "http://{}",
        SocketAddr::new(ip, config.listen.port())
    ))
}

/// The token from `[web] token_env`, if set.
pub fn token(config: &WebConfig) -> Option<String> {
    std::env::var(&config.token_env)
        .ok()
        .filter(|t| !t.is_empty())
}

/// Asks the collector at `base` to `decision` (`promote` or `reject`) the canary candidate of
/// `exchange_id`; returns the collector's one-line answer.
pub async fn decide(
    base: &str,
    token: &str,
    exchange_id: &str,
    decision: &str,
) -> Result<String, ClientError> {
    let url = format!("{base}/api/plugins/{exchange_id}/{decision}");
    let body = send(client()?.post(&url).bearer_auth(token), &url).await?;
    Ok(body["result"].as_str().unwrap_or_default().to_owned())
}

/// The collector's canaries (`plugin_canaries` of `/api/status`), as text.
pub async fn canary_report(base: &str, token: Option<&str>) -> Result<String, ClientError> {
    let url = format!("{base}/api/status");
    let mut request = client()?.get(&url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let status = send(request, &url).await?;
    Ok(describe_canaries(&status["plugin_canaries"]))
}

fn client() -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .build()
        .map_err(|e| ClientError::Unreachable {
            url: String::new(),
            reason: e.to_string(),
        })
}

async fn send(request: reqwest::RequestBuilder, url: &str) -> Result<Value, ClientError> {
    let unreachable = |e: reqwest::Error| ClientError::Unreachable {
        url: url.to_owned(),
        reason: e.to_string(),
    };
    let response = request.send().await.map_err(unreachable)?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(unreachable)?;
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if !status.is_success() {
        let message = body["error"]
            .as_str()
            .or_else(|| body["detail"].as_str())
            .unwrap_or("no detail")
            .to_owned();
        return Err(ClientError::Refused {
            url: url.to_owned(),
            status: status.as_u16(),
            message,
        });
    }
    Ok(body)
}

/// One paragraph per canary: versions, state, progress per kind, and what disagrees.
pub fn describe_canaries(canaries: &Value) -> String {
    let Some(list) = canaries.as_array().filter(|l| !l.is_empty()) else {
        return "no plugin canary: no replaced plugin is waiting\n".to_owned();
    };
    let mut out = String::new();
    for c in list {
        let s = |key: &str| c[key].as_str().unwrap_or("-").to_owned();
        let _ = writeln!(
            out,
            "{}: {} {} ({}), running {}; {} records compared, {} agreeing cycles needed per kind",
            s("exchange_id"),
            s("file"),
            s("version"),
            s("state"),
            s("active_version"),
            c["records_compared"],
            c["cycles_required"],
        );
        for k in c["kinds"].as_array().into_iter().flatten() {
            let _ = writeln!(
                out,
                "  {} {}: {} agreed, {} diverged{}",
                k["exchange"].as_str().unwrap_or("-"),
                k["kind"].as_str().unwrap_or("-"),
                k["agreed"],
                k["diverged"],
                if k["required"].as_bool() == Some(true) {
                    ""
                } else {
                    " (not waited for)"
                }
            );
        }
        for d in c["divergences"].as_array().into_iter().flatten() {
            let example = d["examples"]
                .get(0)
                .map(|e| {
                    format!(
                        ", e.g. {} {}: running {} vs new {}",
                        e["kind"].as_str().unwrap_or("-"),
                        e["raw_symbol"].as_str().unwrap_or("-"),
                        e["active"],
                        e["candidate"]
                    )
                })
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  field {} differs on {} instruments{example}",
                d["field"].as_str().unwrap_or("-"),
                d["instruments"],
            );
        }
        if let Some(reason) = c["reason"].as_str() {
            let _ = writeln!(out, "  held back: {reason}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web(listen: &str, enabled: bool) -> WebConfig {
        let mut config: WebConfig = serde_json::from_value(serde_json::json!({})).unwrap();
        config.listen = listen.parse().unwrap();
        config.enabled = enabled;
        config
    }

    #[test]
    fn unspecified_addresses_are_reached_on_loopback() {
        for (listen, url) in [
            ("0.0.0.0:9480", "http://127.0.0.1:9480"),
            ("[::]:9480", "http://[::1]:9480"),
            ("127.0.0.1:1234", "http://127.0.0.1:1234"),
            ("10.1.2.3:80", "http://10.1.2.3:80"),
        ] {
            assert_eq!(base_url(&web(listen, true)).unwrap(), url, "{listen}");
        }
        assert!(matches!(
            base_url(&web("127.0.0.1:1", false)),
            Err(ClientError::Disabled)
        ));
        assert!(matches!(
            base_url(&web("127.0.0.1:0", true)),
            Err(ClientError::PortChosenAtStart(_))
        ));
    }

    #[test]
    fn canaries_are_described_with_their_divergences() {
        assert_eq!(
            describe_canaries(&serde_json::json!([])),
            "no plugin canary: no replaced plugin is waiting\n"
        );
        let text = describe_canaries(&serde_json::json!([{
            "exchange_id": "binance", "file": "libfc_plugin_binance.so", "version": "0.2.0",
            "active_version": "0.1.0", "state": "held_back", "records_compared": 1300,
            "cycles_required": 3,
            "kinds": [{"exchange": "binance", "kind": "tickers", "required": true, "agreed": 0, "diverged": 1}],
            "divergences": [{"field": "volume_24h_quote", "instruments": 650, "records": 650,
                "examples": [{"kind": "ticker", "raw_symbol": "BTCUSDT", "active": 1.5, "candidate": 1500.0}]}],
            "reason": "binance tickers: field volume_24h_quote differs on 650 instruments"
        }]));
        for expected in [
            "binance: libfc_plugin_binance.so 0.2.0 (held_back), running 0.1.0",
            "binance tickers: 0 agreed, 1 diverged\n",
            "field volume_24h_quote differs on 650 instruments, e.g. ticker BTCUSDT: running 1.5 vs new 1500.0",
            "held back: binance tickers",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from\n{text}");
        }
    }
}

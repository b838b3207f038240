//! Injectable faults: what can go wrong on the wire, which requests it hits, and how each one is
//! rendered into (or instead of) a response.
//!
//! Owns: `FaultSpec` (the admin JSON shape), the store of active faults (matching by instance
//! and path prefix, counting down `count`), and the wire behaviour of every fault kind.
//! Must not: build the normal exchange payloads (it asks for them through a closure) or count
//! requests.
//!
//! Wire behaviour, per kind (see also the crate docs):
//! - `hang`: no response at all; after `duration_ms` (default: never) the connection is closed.
//! - `status`: HTTP `status` (default 500), `text/plain` body `body` or `"<code> <reason>"`.
//! - `rate_limit`: HTTP `status` (default 429; Binance also uses 418), `Retry-After:
//!   <retry_after_s>`, the exchange's rate-limit envelope as body. dYdX writes its
//!   `Retry-After` in milliseconds (`retry_after_s × 1000`) beside a `RateLimit-Reset` time, as
//!   its indexer does.
//! - `invalid_json`: 200, `application/json`, body `{"oops": [1,2`.
//! - `truncated`: 200, the real body's first half, `Content-Length` of that half.
//! - `html`: HTTP `status` (default 200), `text/html`, an nginx "502 Bad Gateway" page.
//! - `reset`: `before_headers` (default) closes the connection without sending a byte;
//!   `mid_body` sends the headers (with the full `Content-Length`) and half the body, then aborts.
//! - `slow_body`: the real body (full `Content-Length`) in `chunk_bytes` pieces spread over
//!   `duration_ms` (default 5000).
//! - `oversized`: 200, a valid JSON array of `mib` MiB (default 64) streamed in 64 KiB chunks,
//!   chunked encoding unless `content_length: true`.
//! - `error_code`: the exchange's error envelope: Binance `{"code":-1003,...}` with HTTP 429,
//!   Bybit `retCode 10006` with HTTP 200, OKX `code "50011"` with HTTP 200; `code`, `msg`,
//!   `status` override.
//! - `delay`: the real answer after an extra `delay_ms`.

use std::{
    io,
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    http::{header, HeaderValue},
    response::Response,
};
use serde::{Deserialize, Serialize};

use crate::{
    config::ExchangeKind,
    exchanges::{default_error_msg, error_envelope, status_code, ApiResponse},
};

/// A fault to inject: which requests it hits, how many, and what it does.
///
/// JSON: `{"instance":"binance","path_prefix":"/fapi/v1/ticker","fault":"status","status":500,"count":3}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultSpec {
    /// Instance name, or `*` for every instance.
    pub instance: String,
    /// Only requests whose path below the instance prefix starts with this (e.g.
    /// `/fapi/v1/ticker`); a prefix that includes `/<instance>` works too. None: every path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Hit only the next `count` matching requests; None: until cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// What happens.
    #[serde(flatten)]
    pub fault: Fault,
}

impl FaultSpec {
    /// A fault on every path of `instance`, until cleared.
    pub fn new(instance: &str, fault: Fault) -> Self {
        FaultSpec {
            instance: instance.to_string(),
            path_prefix: None,
            count: None,
            fault,
        }
    }

    /// Restricts the fault to paths starting with `prefix`.
    pub fn path(mut self, prefix: &str) -> Self {
        self.path_prefix = Some(prefix.to_string());
        self
    }

    /// Limits the fault to the next `n` matching requests.
    pub fn times(mut self, n: u64) -> Self {
        self.count = Some(n);
        self
    }

    fn matches(&self, instance: &str, path: &str) -> bool {
        if self.instance != "*" && self.instance != instance {
            return false;
        }
        match self.path_prefix.as_deref() {
            None | Some("") => true,
            Some(p) => {
                path.starts_with(p)
                    || p.strip_prefix('/')
                        .and_then(|rest| rest.strip_prefix(instance))
                        .is_some_and(|below| path.starts_with(below))
            }
        }
    }
}

/// How `reset` drops the connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetMode {
    /// Close without sending anything.
    #[default]
    BeforeHeaders,
    /// Send headers and half the body, then abort.
    MidBody,
}

/// The fault kinds (`"fault": "<snake_case name>"` in JSON); see the module docs for the wire
/// behaviour of each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum Fault {
    Hang {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
    },
    Status {
        #[serde(default = "d500")]
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    RateLimit {
        #[serde(default = "d429")]
        status: u16,
        #[serde(default = "d1")]
        retry_after_s: u64,
    },
    InvalidJson {},
    Truncated {},
    Html {
        #[serde(default = "d200")]
        status: u16,
    },
    Reset {
        #[serde(default)]
        mode: ResetMode,
    },
    SlowBody {
        #[serde(default = "d5000")]
        duration_ms: u64,
        #[serde(default = "d256")]
        chunk_bytes: usize,
    },
    Oversized {
        #[serde(default = "d64")]
        mib: u64,
        #[serde(default)]
        content_length: bool,
    },
    ErrorCode {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        msg: Option<String>,
    },
    Delay {
        delay_ms: u64,
    },
}

fn d500() -> u16 {
    500
}
fn d429() -> u16 {
    429
}
fn d200() -> u16 {
    200
}
fn d1() -> u64 {
    1
}
fn d5000() -> u64 {
    5000
}
fn d256() -> usize {
    256
}
fn d64() -> u64 {
    64
}

impl Fault {
    /// The snake_case kind name (as in JSON and in request records).
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Hang { .. } => "hang",
            Fault::Status { .. } => "status",
            Fault::RateLimit { .. } => "rate_limit",
            Fault::InvalidJson {} => "invalid_json",
            Fault::Truncated {} => "truncated",
            Fault::Html { .. } => "html",
            Fault::Reset { .. } => "reset",
            Fault::SlowBody { .. } => "slow_body",
            Fault::Oversized { .. } => "oversized",
            Fault::ErrorCode { .. } => "error_code",
            Fault::Delay { .. } => "delay",
        }
    }

    /// Rejects values that cannot be put on the wire.
    pub fn validate(&self) -> Result<(), String> {
        let status_ok = |s: u16| {
            if (100..=999).contains(&s) {
                Ok(())
            } else {
                Err(format!("invalid HTTP status {s}"))
            }
        };
        match self {
            Fault::Status { status, .. }
            | Fault::RateLimit { status, .. }
            | Fault::Html { status } => status_ok(*status),
            Fault::ErrorCode {
                status: Some(s), ..
            } => status_ok(*s),
            Fault::SlowBody { chunk_bytes: 0, .. } => Err("chunk_bytes must be at least 1".into()),
            Fault::Oversized { mib, .. } if *mib > MAX_OVERSIZED_MIB => {
                Err(format!("mib is capped at {MAX_OVERSIZED_MIB}"))
            }
            _ => Ok(()),
        }
    }
}

/// Longest delay any fault waits (a day); longer values are cut to it.
pub const MAX_FAULT_DELAY_MS: u64 = 86_400_000;
/// Largest `oversized` body.
pub const MAX_OVERSIZED_MIB: u64 = 16 * 1024;

fn capped(ms: u64) -> Duration {
    Duration::from_millis(ms.min(MAX_FAULT_DELAY_MS))
}

/// A fault in the store, as listed by `GET /_admin/faults`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveFault {
    pub id: u64,
    /// Requests it will still hit (None: until cleared).
    pub remaining: Option<u64>,
    pub spec: FaultSpec,
}

/// Active faults, first injected first matched.
#[derive(Default)]
pub struct FaultStore {
    next_id: AtomicU64,
    list: Mutex<Vec<ActiveFault>>,
}

impl FaultStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<ActiveFault>> {
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a fault; returns its id. A `count` of 0 is stored as already spent (never applies).
    pub fn add(&self, spec: FaultSpec) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        if spec.count != Some(0) {
            self.lock().push(ActiveFault {
                id,
                remaining: spec.count,
                spec,
            });
        }
        id
    }

    /// The fault for this request, if any, counting it down.
    pub fn take(&self, instance: &str, path: &str) -> Option<Fault> {
        let mut list = self.lock();
        let pos = list.iter().position(|f| f.spec.matches(instance, path))?;
        let fault = list[pos].spec.fault.clone();
        if let Some(n) = list[pos].remaining.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                list.remove(pos);
            }
        }
        Some(fault)
    }

    /// Removes every fault (of `instance`, when given; `*` faults go only when clearing all or
    /// `instance` is `*`). Returns how many were removed.
    pub fn clear(&self, instance: Option<&str>) -> usize {
        let mut list = self.lock();
        let before = list.len();
        match instance {
            None => list.clear(),
            Some(name) => list.retain(|f| f.spec.instance != name),
        }
        before - list.len()
    }

    /// Removes one fault by id.
    pub fn remove(&self, id: u64) -> bool {
        let mut list = self.lock();
        let before = list.len();
        list.retain(|f| f.id != id);
        before != list.len()
    }

    /// The active faults.
    pub fn list(&self) -> Vec<ActiveFault> {
        self.lock().clone()
    }
}

/// Marks a response whose connection must be dropped instead of answered.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

fn drop_connection() -> Response {
    let mut resp = Response::new(Body::empty());
    resp.extensions_mut().insert(DropConnection);
    resp
}

fn reason(status: u16) -> &'static str {
    status_code(status).canonical_reason().unwrap_or("Error")
}

/// Renders `fault` for an instance of `kind`; `real` builds the normal answer when needed.
pub async fn render(
    fault: &Fault,
    kind: ExchangeKind,
    now_ms: u64,
    real: impl FnOnce() -> ApiResponse,
) -> Response {
    match fault {
        Fault::Hang { duration_ms } => {
            match duration_ms {
                Some(ms) => tokio::time::sleep(capped(*ms)).await,
                None => std::future::pending::<()>().await,
            }
            drop_connection()
        }
        Fault::Status { status, body } => {
            let body = body
                .clone()
                .unwrap_or_else(|| format!("{status} {}\n", reason(*status)));
            ApiResponse::text(*status, body).into_response()
        }
        Fault::RateLimit {
            status,
            retry_after_s,
        } => {
            let body = match (kind, *status) {
                (ExchangeKind::Binance, 418) => {
                    let until = now_ms.saturating_add(retry_after_s.saturating_mul(1000));
                    let msg = format!(
                        "Way too many requests; IP(127.0.0.1) banned until {until}. Please use the websocket for live updates to avoid bans."
                    );
                    error_envelope(kind, -1003, &msg, now_ms)
                }
                (ExchangeKind::Binance, _) => {
                    error_envelope(kind, -1003, default_error_msg(kind, -1003), now_ms)
                }
                (ExchangeKind::Bybit, _) => {
                    error_envelope(kind, 10006, default_error_msg(kind, 10006), now_ms)
                }
                (ExchangeKind::Okx, _) => {
                    error_envelope(kind, 50011, default_error_msg(kind, 50011), now_ms)
                }
                (ExchangeKind::Bitget, _) => error_envelope(
                    kind,
                    crate::exchanges::bitget::RATE_LIMITED,
                    default_error_msg(kind, crate::exchanges::bitget::RATE_LIMITED),
                    now_ms,
                ),
                (ExchangeKind::Gate, _) => error_envelope(
                    kind,
                    crate::exchanges::gate::RATE_LIMITED,
                    default_error_msg(kind, crate::exchanges::gate::RATE_LIMITED),
                    now_ms,
                ),
                (ExchangeKind::Hyperliquid, _) => {
                    error_envelope(kind, 429, default_error_msg(kind, 429), now_ms)
                }
                (ExchangeKind::Mexc, _) => {
                    error_envelope(kind, 510, default_error_msg(kind, 510), now_ms)
                }
                (ExchangeKind::KucoinFutures, _) => {
                    error_envelope(kind, 429000, default_error_msg(kind, 429000), now_ms)
                }
                (ExchangeKind::Htx, _) => {
                    error_envelope(kind, 1032, default_error_msg(kind, 1032), now_ms)
                }
                (ExchangeKind::Bitmex | ExchangeKind::KrakenFutures, _) => {
                    error_envelope(kind, 429, default_error_msg(kind, 429), now_ms)
                }
                (ExchangeKind::Deribit, _) => error_envelope(
                    kind,
                    crate::exchanges::deribit::RATE_LIMITED,
                    default_error_msg(kind, crate::exchanges::deribit::RATE_LIMITED),
                    now_ms,
                ),
                (ExchangeKind::Dydx, _) => error_envelope(
                    kind,
                    crate::exchanges::dydx::RATE_LIMITED,
                    default_error_msg(kind, crate::exchanges::dydx::RATE_LIMITED),
                    now_ms,
                ),
                (ExchangeKind::Bingx, _) => error_envelope(
                    kind,
                    crate::exchanges::bingx::RATE_LIMITED,
                    default_error_msg(kind, crate::exchanges::bingx::RATE_LIMITED),
                    now_ms,
                ),
            };
            let response = ApiResponse::json(*status, body);
            match kind {
                // The indexer's own headers: `Retry-After` in milliseconds, a reset time.
                ExchangeKind::Dydx => {
                    crate::exchanges::dydx::rate_limit_headers(*retry_after_s, now_ms)
                        .into_iter()
                        .fold(response, |r, (name, value)| r.with_header(name, value))
                }
                _ => response.with_header("retry-after", retry_after_s.to_string()),
            }
            .into_response()
        }
        Fault::InvalidJson {} => ApiResponse::json(200, "{\"oops\": [1,2".into()).into_response(),
        Fault::Truncated {} => {
            let mut r = real();
            let mut cut = r.body.len() / 2;
            while !r.body.is_char_boundary(cut) {
                cut -= 1;
            }
            r.body.truncate(cut);
            r.status = 200;
            r.into_response()
        }
        Fault::Html { status } => {
            let title = if *status == 200 {
                "502 Bad Gateway".to_string()
            } else {
                format!("{status} {}", reason(*status))
            };
            let page = format!(
                "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            );
            ApiResponse {
                status: *status,
                content_type: "text/html",
                headers: Vec::new(),
                body: page,
            }
            .into_response()
        }
        Fault::Reset {
            mode: ResetMode::BeforeHeaders,
        } => drop_connection(),
        Fault::Reset {
            mode: ResetMode::MidBody,
        } => {
            let r = real();
            let full = Bytes::from(r.body);
            let half = full.slice(..full.len() / 2);
            // Pause before failing so the headers and the first half reach the client first
            // (hyper would otherwise drop its unflushed buffer along with the connection).
            let stream = futures_util::stream::unfold(0u8, move |step| {
                let half = half.clone();
                async move {
                    match step {
                        0 => Some((Ok(half), 1)),
                        1 => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            Some((
                                Err(io::Error::new(
                                    io::ErrorKind::ConnectionReset,
                                    "emulated reset",
                                )),
                                2,
                            ))
                        }
                        _ => None,
                    }
                }
            });
            streamed(
                r.status,
                r.content_type,
                Some(full.len() as u64),
                Body::from_stream(stream),
            )
        }
        Fault::SlowBody {
            duration_ms,
            chunk_bytes,
        } => {
            let r = real();
            let full = Bytes::from(r.body);
            let body_len = full.len();
            let len = body_len.max(1);
            // At most one chunk per 10 ms, so the total time stays close to `duration_ms`.
            let by_size = len.div_ceil((*chunk_bytes).max(1));
            let duration = capped(*duration_ms);
            let by_time = (duration.as_millis() / 10).max(1) as usize;
            let n = by_size.min(by_time).max(1);
            let size = len.div_ceil(n);
            let pause = duration / u32::try_from(n).unwrap_or(u32::MAX);
            let stream = futures_util::stream::unfold(0usize, move |pos| {
                let full = full.clone();
                async move {
                    if pos >= full.len() {
                        return None;
                    }
                    tokio::time::sleep(pause).await;
                    let end = (pos + size).min(full.len());
                    Some((Ok::<Bytes, io::Error>(full.slice(pos..end)), end))
                }
            });
            streamed(
                r.status,
                r.content_type,
                Some(body_len as u64),
                Body::from_stream(stream),
            )
        }
        Fault::Oversized {
            mib,
            content_length,
        } => oversized(*mib, *content_length),
        Fault::ErrorCode { status, code, msg } => {
            let code = code.unwrap_or(match kind {
                ExchangeKind::Binance => -1003,
                ExchangeKind::Bybit => 10006,
                ExchangeKind::Okx => 50011,
                ExchangeKind::Bitget => crate::exchanges::bitget::RATE_LIMITED,
                ExchangeKind::Gate => crate::exchanges::gate::RATE_LIMITED,
                ExchangeKind::Hyperliquid => 429,
                ExchangeKind::Mexc => 510,
                ExchangeKind::KucoinFutures => 429000,
                ExchangeKind::Htx => 1032,
                ExchangeKind::Bitmex | ExchangeKind::KrakenFutures => 429,
                ExchangeKind::Deribit => crate::exchanges::deribit::RATE_LIMITED,
                ExchangeKind::Dydx => crate::exchanges::dydx::RATE_LIMITED,
                ExchangeKind::Bingx => crate::exchanges::bingx::RATE_LIMITED,
            });
            let status = status.unwrap_or(match (kind, code) {
                (ExchangeKind::Binance, -1003) => 429,
                (ExchangeKind::Binance, -1000 | -1001) => 500,
                (ExchangeKind::Binance, _) => 400,
                (ExchangeKind::Bitget, code) => crate::exchanges::bitget::status_of(code),
                (ExchangeKind::Gate, code) => crate::exchanges::gate::status_of(code),
                (ExchangeKind::Hyperliquid, 429) => 429,
                (ExchangeKind::KucoinFutures, 429000) => 429,
                (ExchangeKind::Bitmex, code) => crate::exchanges::bitmex::status_of(code),
                (ExchangeKind::KrakenFutures, code) => {
                    crate::exchanges::krakenfutures::status_of(code)
                }
                (ExchangeKind::Deribit, code) => crate::exchanges::deribit::status_of(code),
                (ExchangeKind::Dydx, code) => crate::exchanges::dydx::status_of(code),
                _ => 200,
            });
            let msg = msg
                .clone()
                .unwrap_or_else(|| default_error_msg(kind, code).to_string());
            ApiResponse::json(status, error_envelope(kind, code, &msg, now_ms)).into_response()
        }
        Fault::Delay { delay_ms } => {
            tokio::time::sleep(capped(*delay_ms)).await;
            real().into_response()
        }
    }
}

fn streamed(status: u16, content_type: &'static str, len: Option<u64>, body: Body) -> Response {
    let mut resp = Response::new(body);
    *resp.status_mut() = status_code(status);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(len) = len {
        resp.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    resp
}

const OVERSIZED_CHUNK: usize = 64 * 1024;
const OVERSIZED_TAIL: &str = "{\"end\":true}]";

/// A valid JSON array of about `mib` MiB, generated chunk by chunk (one 64 KiB chunk in memory).
fn oversized(mib: u64, content_length: bool) -> Response {
    let mut chunk = String::with_capacity(OVERSIZED_CHUNK + 128);
    let mut i = 0u64;
    while chunk.len() < OVERSIZED_CHUNK {
        chunk.push_str(&format!(
            "{{\"symbol\":\"PAD{i:06}USDT\",\"price\":\"1.00000000\",\"qty\":\"0.001\"}},"
        ));
        i += 1;
    }
    let chunk = Bytes::from(chunk);
    let target = mib.clamp(1, MAX_OVERSIZED_MIB) * 1024 * 1024;
    let n = target.div_ceil(chunk.len() as u64);
    let total = 1 + n * chunk.len() as u64 + OVERSIZED_TAIL.len() as u64;
    let head = std::iter::once(Bytes::from_static(b"["));
    let middle = (0..n).map(move |_| chunk.clone());
    let tail = std::iter::once(Bytes::from_static(OVERSIZED_TAIL.as_bytes()));
    let stream =
        futures_util::stream::iter(head.chain(middle).chain(tail).map(Ok::<Bytes, io::Error>));
    streamed(
        200,
        "application/json",
        content_length.then_some(total),
        Body::from_stream(stream),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_json_shape_roundtrips() {
        let spec: FaultSpec = serde_json::from_str(
            r#"{"instance":"binance","path_prefix":"/fapi/v1/ticker","fault":"status","status":502,"count":3}"#,
        )
        .unwrap();
        assert_eq!(
            spec.fault,
            Fault::Status {
                status: 502,
                body: None
            }
        );
        assert_eq!(spec.count, Some(3));
        let again: FaultSpec =
            serde_json::from_value(serde_json::to_value(&spec).unwrap()).unwrap();
        assert_eq!(again, spec);
        for name in [
            "hang",
            "invalid_json",
            "truncated",
            "html",
            "reset",
            "slow_body",
            "oversized",
            "error_code",
            "rate_limit",
        ] {
            let spec: FaultSpec = serde_json::from_value(
                serde_json::json!({"instance": "x", "fault": name, "count": 1}),
            )
            .unwrap();
            assert_eq!(spec.fault.kind(), name);
            assert_eq!(spec.count, Some(1));
        }
        assert!(serde_json::from_value::<FaultSpec>(
            serde_json::json!({"instance": "x", "fault": "nope"})
        )
        .is_err());
        let spec: FaultSpec = serde_json::from_value(
            serde_json::json!({"instance": "x", "fault": "reset", "mode": "mid_body"}),
        )
        .unwrap();
        assert_eq!(
            spec.fault,
            Fault::Reset {
                mode: ResetMode::MidBody
            }
        );
    }

    #[test]
    fn store_matches_counts_down_and_clears() {
        let store = FaultStore::default();
        store.add(
            FaultSpec::new("a", Fault::InvalidJson {})
                .path("/x")
                .times(2),
        );
        store.add(FaultSpec::new("*", Fault::Truncated {}));
        assert_eq!(
            store.take("a", "/x/1").map(|f| f.kind()),
            Some("invalid_json")
        );
        assert_eq!(store.take("a", "/y").map(|f| f.kind()), Some("truncated"));
        assert_eq!(
            store.take("a", "/x").map(|f| f.kind()),
            Some("invalid_json")
        );
        assert_eq!(store.take("a", "/x").map(|f| f.kind()), Some("truncated"));
        assert_eq!(store.clear(Some("a")), 0);
        assert_eq!(store.clear(None), 1);
        assert!(store.take("b", "/").is_none());
        // A prefix written with the instance name matches too.
        store.add(FaultSpec::new("okx", Fault::InvalidJson {}).path("/okx/api/v5/market"));
        assert!(store.take("okx", "/api/v5/market/tickers").is_some());
        assert!(store.take("okx", "/api/v5/public/instruments").is_none());
    }
}

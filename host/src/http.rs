//! The HTTP executor: one pooled client, per-exchange rate-limit budgets, concurrency limits,
//! timeouts, body-size limits and retries of transient transport failures.
//!
//! Owns all network I/O of the collector. Must not interpret bodies (plugins do) beyond the
//! status line: 429/418/5xx and transport failures are classified here, everything else is
//! handed to the plugin's `parse`.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use plugin_api::{ErrorClass, HttpMethod, HttpRequest, RateLimitRule};
use tokio::sync::{Mutex, Semaphore};

use crate::config::HttpConfig;

/// A response as received (any status the executor did not classify as a failure).
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Lower-case header names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub received_ts: i64,
    pub elapsed: Duration,
}

/// A request that produced no usable response, classified for retry decisions.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct TransportError {
    pub class: ErrorClass,
    pub kind: TransportErrorKind,
    pub message: String,
    pub retry_after: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportErrorKind {
    Timeout,
    Connect,
    /// The connection broke while reading (reset, truncated chunked body).
    Body,
    BodyTooLarge,
    /// HTTP 429 or 418.
    RateLimited,
    /// HTTP 5xx.
    ServerError,
    /// The request could not be built (bad URL or method).
    Request,
}

impl std::fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Body => "body",
            Self::BodyTooLarge => "body_too_large",
            Self::RateLimited => "rate_limited",
            Self::ServerError => "server_error",
            Self::Request => "request",
        })
    }
}

/// The process-wide HTTP client (connection pool shared by every exchange).
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
}

impl HttpClient {
    pub fn new() -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("futures-collector/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .build()?;
        Ok(Self { client })
    }
}

/// One exchange's view of the network: its base URL, budget, concurrency and retry policy.
pub struct ExchangeHttp {
    client: HttpClient,
    base_url: String,
    settings: HttpConfig,
    budgets: Vec<RateBudget>,
    in_flight: Semaphore,
}

impl ExchangeHttp {
    pub fn new(
        client: HttpClient,
        base_url: &str,
        rules: &[RateLimitRule],
        settings: HttpConfig,
    ) -> Self {
        let share = settings.rate_limit_share;
        let budgets = rules.iter().map(|r| RateBudget::new(r, share)).collect();
        let permits = settings.max_in_flight.max(1) as usize;
        Self {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
            settings,
            budgets,
            in_flight: Semaphore::new(permits),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Executes `request`, retrying transient failures with capped exponential backoff and full
    /// jitter, and waiting as told on 429/418. Every attempt is charged to the rate budget.
    pub async fn execute(&self, request: &HttpRequest) -> Result<RawResponse, TransportError> {
        let mut attempt = 0u32;
        loop {
            let result = self.execute_once(request).await;
            let error = match result {
                Ok(response) => return Ok(response),
                Err(e) => e,
            };
            if attempt >= self.settings.retries || error.class == ErrorClass::PERMANENT {
                return Err(error);
            }
            let delay = match error.retry_after {
                // Waiting longer than the backoff cap inside one cycle would stall the kind:
                // give the request up for this cycle; the next cycle tries again.
                Some(wait) if wait > self.settings.backoff_cap.0 => return Err(error),
                Some(wait) => wait,
                None => backoff_delay(
                    attempt,
                    self.settings.backoff_base.0,
                    self.settings.backoff_cap.0,
                ),
            };
            tracing::debug!(path = %request.path, attempt, ?delay, error = %error, "retrying request");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn execute_once(&self, request: &HttpRequest) -> Result<RawResponse, TransportError> {
        for budget in self
            .budgets
            .iter()
            .filter(|b| request.path.starts_with(b.path_prefix.as_str()))
        {
            budget.acquire(request.weight.max(1)).await;
        }
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| request_error("executor closed"))?;

        let method = match request.method {
            HttpMethod::GET => reqwest::Method::GET,
            HttpMethod::POST => reqwest::Method::POST,
            other => return Err(request_error(&format!("unsupported method {}", other.0))),
        };
        let url = format!("{}{}", self.base_url, request.path);
        let query: Vec<(&str, &str)> = request
            .query
            .iter()
            .map(|kv| (kv.key.as_str(), kv.value.as_str()))
            .collect();
        let mut builder = self
            .client
            .client
            .request(method, &url)
            .query(&query)
            .timeout(self.settings.timeout.0);
        for kv in request.headers.iter() {
            builder = builder.header(kv.key.as_str(), kv.value.as_str());
        }
        if !request.body.is_empty() {
            builder = builder.body(request.body.to_vec());
        }

        let started = Instant::now();
        let mut response = builder.send().await.map_err(classify_reqwest)?;
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter_map(|(k, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (k.as_str().to_ascii_lowercase(), v.to_owned()))
            })
            .collect();

        if status == 429 || status == 418 {
            let retry_after = headers
                .iter()
                .find(|(k, _)| k == "retry-after")
                .and_then(|(_, v)| parse_retry_after(v));
            return Err(TransportError {
                class: ErrorClass::RATE_LIMITED,
                kind: TransportErrorKind::RateLimited,
                message: format!("HTTP {status} from {url}"),
                retry_after,
            });
        }
        if status >= 500 {
            return Err(TransportError {
                class: ErrorClass::TRANSIENT,
                kind: TransportErrorKind::ServerError,
                message: format!("HTTP {status} from {url}"),
                retry_after: None,
            });
        }

        let limit = self.settings.max_body_bytes;
        if response.content_length().is_some_and(|len| len > limit) {
            return Err(too_large(limit, &url));
        }
        let mut body =
            Vec::with_capacity(response.content_length().unwrap_or(16 * 1024).min(limit) as usize);
        while let Some(chunk) = response.chunk().await.map_err(classify_reqwest)? {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_large(limit, &url));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(RawResponse {
            status,
            headers,
            body,
            received_ts: now_ms(),
            elapsed: started.elapsed(),
        })
    }
}

fn too_large(limit: u64, url: &str) -> TransportError {
    TransportError {
        class: ErrorClass::TRANSIENT,
        kind: TransportErrorKind::BodyTooLarge,
        message: format!("body from {url} exceeds http.max_body_bytes ({limit})"),
        retry_after: None,
    }
}

fn request_error(message: &str) -> TransportError {
    TransportError {
        class: ErrorClass::PERMANENT,
        kind: TransportErrorKind::Request,
        message: message.to_owned(),
        retry_after: None,
    }
}

fn classify_reqwest(e: reqwest::Error) -> TransportError {
    let kind = if e.is_timeout() {
        TransportErrorKind::Timeout
    } else if e.is_connect() {
        TransportErrorKind::Connect
    } else if e.is_builder() {
        return request_error(&e.to_string());
    } else {
        TransportErrorKind::Body
    };
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    TransportError {
        class: ErrorClass::TRANSIENT,
        kind,
        message,
        retry_after: None,
    }
}

/// `Retry-After` as seconds (the HTTP-date form is rare for APIs and treated as absent).
fn parse_retry_after(value: &str) -> Option<Duration> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Exponential backoff with full jitter: uniform in [0, min(cap, base × 2^attempt)].
pub fn backoff_delay(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = base.saturating_mul(1u32 << attempt.min(20)).min(cap);
    ceiling.mul_f64(fastrand::f64())
}

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A token bucket over one documented limit, holding `share` of it. Weighted acquisitions wait
/// until enough budget has refilled; the bucket starts full.
pub struct RateBudget {
    path_prefix: String,
    capacity: f64,
    refill_per_sec: f64,
    state: Mutex<BudgetState>,
}

struct BudgetState {
    tokens: f64,
    updated: tokio::time::Instant,
}

impl RateBudget {
    pub fn new(rule: &RateLimitRule, share: f64) -> Self {
        let capacity = (rule.limit as f64 * share).max(1.0);
        let window = Duration::from_millis(rule.window_ms.max(1)).as_secs_f64();
        Self {
            path_prefix: rule.path_prefix.to_string(),
            capacity,
            refill_per_sec: capacity / window,
            state: Mutex::new(BudgetState {
                tokens: capacity,
                updated: tokio::time::Instant::now(),
            }),
        }
    }

    /// Waits until `weight` units are available and takes them. Callers queue in FIFO order
    /// (the mutex is fair), so a heavy request is not starved by light ones.
    pub async fn acquire(&self, weight: u32) {
        let need = (weight as f64).min(self.capacity);
        let mut state = self.state.lock().await;
        loop {
            let now = tokio::time::Instant::now();
            let elapsed = now.duration_since(state.updated).as_secs_f64();
            state.tokens = (state.tokens + elapsed * self.refill_per_sec).min(self.capacity);
            state.updated = now;
            if state.tokens >= need {
                state.tokens -= need;
                return;
            }
            let wait = (need - state.tokens) / self.refill_per_sec;
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
    }
}

/// Shared handle type used by workers.
pub type SharedExchangeHttp = Arc<ExchangeHttp>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_bounds() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        for attempt in 0..30 {
            for _ in 0..100 {
                let d = backoff_delay(attempt, base, cap);
                let ceiling = base.saturating_mul(1 << attempt.min(20)).min(cap);
                assert!(d <= ceiling, "attempt {attempt}: {d:?} > {ceiling:?}");
            }
        }
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn budget_holds_the_rate() {
        // 100 per second at share 0.5 → 50 per second.
        let rule = RateLimitRule {
            path_prefix: "".into(),
            limit: 100,
            window_ms: 1_000,
        };
        let budget = RateBudget::new(&rule, 0.5);
        let start = tokio::time::Instant::now();
        for _ in 0..150 {
            budget.acquire(1).await;
        }
        // 50 from the full bucket, 100 more at 50/s → ~2 s.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(1_990) && took <= Duration::from_millis(2_100),
            "{took:?}"
        );
        // A weight above capacity is clamped, never blocks forever.
        budget.acquire(10_000).await;
    }
}

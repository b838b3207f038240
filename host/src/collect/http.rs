//! The HTTP executor: one pooled client, per-exchange rate-limit budgets, concurrency limits,
//! timeouts, body-size limits and retries of transient transport failures.
//!
//! Owns all network I/O of the collector. Must not interpret bodies (plugins do) beyond the
//! status line: 429/418/5xx and transport failures are classified here, everything else is
//! handed to the plugin's `parse`.

use std::{
    collections::VecDeque,
    sync::Arc,
    time::{Duration, Instant},
};

use plugin_api::{ErrorClass, HttpMethod, HttpRequest, RateLimitRule};
use tokio::sync::{Mutex, Semaphore};

use crate::{
    clock::now_ms,
    config::HttpConfig,
    observe::telemetry::{RequestOutcome, Telemetry},
};

/// A response as received (any status the executor did not classify as a failure).
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Lower-case header names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub received_ts: i64,
    /// When the body was complete, on the monotonic clock (sub-millisecond; for latency
    /// measurements that `received_ts`'s 1 ms wall-clock resolution cannot make).
    pub received_at: Instant,
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

impl TransportErrorKind {
    /// How a request the executor gave up on is reported.
    pub fn outcome(self) -> RequestOutcome {
        match self {
            Self::Timeout => RequestOutcome::Timeout,
            Self::Connect => RequestOutcome::Connect,
            Self::Body | Self::BodyTooLarge => RequestOutcome::Body,
            Self::RateLimited => RequestOutcome::RateLimited,
            Self::ServerError => RequestOutcome::Http5xx,
            Self::Request => RequestOutcome::Permanent,
        }
    }
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

/// One exchange's view of the network: its base URL, budget, concurrency, timeouts and retry
/// policy.
pub struct ExchangeHttp {
    client: HttpClient,
    /// Exchange instance id, for telemetry labels.
    exchange: String,
    telemetry: Telemetry,
    base_url: String,
    settings: HttpConfig,
    budgets: Vec<RateBudget>,
    /// The exchange writes `Retry-After` in milliseconds (the plugin says so).
    retry_after_in_ms: bool,
    in_flight: Semaphore,
    timeouts: std::sync::Mutex<std::collections::HashMap<String, AdaptiveTimeout>>,
}

/// Weight of the deviation in the timeout estimate (RFC 6298's K).
const TIMEOUT_DEVIATION_WEIGHT: f64 = 4.0;

/// A request timeout learned from observed latency per endpoint, RFC 6298 style:
/// `multiplier × (smoothed + 4 × deviation)`, clamped to [floor, ceiling]; doubled after a
/// timeout until the next success.
#[derive(Debug, Clone, Copy)]
pub struct AdaptiveTimeout {
    smoothed: f64,
    deviation: f64,
    backoff: u32,
}

impl AdaptiveTimeout {
    fn first(sample: f64) -> Self {
        Self {
            smoothed: sample,
            deviation: sample / 2.0,
            backoff: 0,
        }
    }

    fn observe(&mut self, sample: f64) {
        self.deviation = 0.75 * self.deviation + 0.25 * (self.smoothed - sample).abs();
        self.smoothed = 0.875 * self.smoothed + 0.125 * sample;
        self.backoff = 0;
    }

    /// The timeout for the next request.
    pub fn timeout(&self, multiplier: f64, floor: Duration, ceiling: Duration) -> Duration {
        let base = multiplier * (self.smoothed + TIMEOUT_DEVIATION_WEIGHT * self.deviation);
        let backed_off = base * f64::from(1u32 << self.backoff.min(10));
        Duration::from_secs_f64(backed_off.max(0.0)).clamp(floor, ceiling)
    }
}

impl ExchangeHttp {
    pub fn new(
        client: HttpClient,
        base_url: &str,
        rules: &[RateLimitRule],
        settings: HttpConfig,
        exchange: &str,
        telemetry: Telemetry,
    ) -> Self {
        let share = settings.rate_limit_share;
        let budgets = rules.iter().map(|r| RateBudget::new(r, share)).collect();
        let permits = settings.max_in_flight.max(1) as usize;
        Self {
            client,
            exchange: exchange.to_owned(),
            telemetry,
            base_url: base_url.trim_end_matches('/').to_owned(),
            settings,
            budgets,
            retry_after_in_ms: false,
            in_flight: Semaphore::new(permits),
            timeouts: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// The budgets as the plan sees them: each rule's window and the weight allowed in it.
    pub fn rule_budgets(&self) -> Vec<crate::collect::plan::RuleBudget> {
        self.budgets
            .iter()
            .map(|b| crate::collect::plan::RuleBudget {
                path_prefix: b.path_prefix.clone(),
                window: b.rule_window,
                budget: b.limit,
            })
            .collect()
    }

    /// Reads `Retry-After` as milliseconds (a plugin's [`plugin_api::INFO_RETRY_AFTER_UNIT`]).
    pub fn with_retry_after_in_ms(mut self, in_ms: bool) -> Self {
        self.retry_after_in_ms = in_ms;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The timeout the next request to `path` gets.
    pub fn timeout_for(&self, path: &str) -> Duration {
        let ceiling = self.settings.timeout.0;
        if !self.settings.adaptive_timeout {
            return ceiling;
        }
        let floor = self.settings.timeout_floor.0.min(ceiling);
        let map = self.timeouts.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(path) {
            Some(t) => t.timeout(self.settings.timeout_multiplier, floor, ceiling),
            None => ceiling,
        }
    }

    fn observe_latency(&self, path: &str, elapsed: Duration) {
        let mut map = self.timeouts.lock().unwrap_or_else(|p| p.into_inner());
        let sample = elapsed.as_secs_f64();
        match map.get_mut(path) {
            Some(t) => t.observe(sample),
            None => {
                map.insert(path.to_owned(), AdaptiveTimeout::first(sample));
            }
        }
    }

    fn observe_timeout(&self, path: &str) {
        let mut map = self.timeouts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = map.get_mut(path) {
            t.backoff = t.backoff.saturating_add(1);
        }
    }

    /// The exchange (or the plugin, from a rate-limit code in a body) said we are too fast.
    pub async fn slow_down(&self, path: &str, retry_after: Option<Duration>) {
        for budget in self.budgets.iter().filter(|b| b.applies_to(path)) {
            budget.penalize(retry_after).await;
        }
    }

    /// Executes `request`, retrying transient failures with capped exponential backoff and full
    /// jitter, and waiting as told on 429/418. Every attempt is charged to the rate budget.
    pub async fn execute(
        &self,
        request: &HttpRequest,
        kind: &str,
    ) -> Result<RawResponse, TransportError> {
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
            tracing::debug!(
                exchange = %self.exchange,
                path = %request.path, attempt, ?delay, error = %error, "retrying request");
            self.telemetry.retry(&self.exchange, kind);
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn execute_once(&self, request: &HttpRequest) -> Result<RawResponse, TransportError> {
        for budget in self.budgets.iter().filter(|b| b.applies_to(&request.path)) {
            let waited = budget.acquire(request.weight.max(1)).await;
            if !waited.is_zero() {
                self.telemetry.rate_limit_wait(&self.exchange, waited);
            }
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
        let timeout = self.timeout_for(&request.path);
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
            .timeout(timeout);
        for kv in request.headers.iter() {
            builder = builder.header(kv.key.as_str(), kv.value.as_str());
        }
        if !request.body.is_empty() {
            builder = builder.body(request.body.to_vec());
        }

        let started = Instant::now();
        let result = self.receive(builder, &url, timeout, &request.path).await;
        match &result {
            Ok(r) => self.observe_latency(&request.path, r.elapsed),
            Err(e) if e.kind == TransportErrorKind::Timeout => self.observe_timeout(&request.path),
            Err(_) => {}
        }
        result.map(|mut r| {
            r.elapsed = started.elapsed();
            r
        })
    }

    async fn receive(
        &self,
        builder: reqwest::RequestBuilder,
        url: &str,
        timeout: Duration,
        path: &str,
    ) -> Result<RawResponse, TransportError> {
        let started = Instant::now();
        let mut response = builder
            .send()
            .await
            .map_err(|e| classify_reqwest(e, timeout))?;
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
                .and_then(|(_, v)| parse_retry_after(v, self.retry_after_in_ms));
            self.slow_down(path, retry_after).await;
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
            return Err(too_large(limit, url));
        }
        let mut body =
            Vec::with_capacity(response.content_length().unwrap_or(16 * 1024).min(limit) as usize);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| classify_reqwest(e, timeout))?
        {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_large(limit, url));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(RawResponse {
            status,
            headers,
            body,
            received_ts: now_ms(),
            received_at: Instant::now(),
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

fn classify_reqwest(e: reqwest::Error, timeout: Duration) -> TransportError {
    let kind = if e.is_timeout() {
        TransportErrorKind::Timeout
    } else if e.is_connect() {
        TransportErrorKind::Connect
    } else if e.is_builder() {
        return request_error(&e.to_string());
    } else {
        TransportErrorKind::Body
    };
    let mut message = if kind == TransportErrorKind::Timeout {
        format!("no complete answer within {timeout:?}: {e}")
    } else {
        e.to_string()
    };
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

/// `Retry-After` as seconds, or milliseconds for exchanges that write it so (the HTTP-date
/// form is rare for APIs and treated as absent).
fn parse_retry_after(value: &str, in_ms: bool) -> Option<Duration> {
    let unit = if in_ms { 1e-3 } else { 1.0 };
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| Duration::from_secs_f64(v * unit))
}

/// Exponential backoff with full jitter: uniform in [0, min(cap, base × 2^attempt)].
pub fn backoff_delay(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = base.saturating_mul(1u32 << attempt.min(20)).min(cap);
    ceiling.mul_f64(fastrand::f64())
}

/// How much a 429/418 shrinks an exchange's budget (the rest recovers over time).
pub const RATE_LIMIT_SLOWDOWN: f64 = 0.5;
/// Smallest share of the configured budget a run of 429s can shrink it to.
pub const RATE_LIMIT_MIN_FACTOR: f64 = 0.1;
/// After this long without a 429 the budget grows back by `RATE_LIMIT_RECOVERY_STEP`.
pub const RATE_LIMIT_RECOVERY_AFTER: Duration = Duration::from_secs(30);
pub const RATE_LIMIT_RECOVERY_STEP: f64 = 1.25;
/// Pause after a 429/418 that came without a Retry-After.
pub const RATE_LIMIT_DEFAULT_PAUSE: Duration = Duration::from_secs(1);
/// Longest pause a Retry-After can impose: a header in an unexpected unit (milliseconds read
/// as seconds) must not silence an exchange for hours.
pub const RATE_LIMIT_MAX_PAUSE: Duration = Duration::from_secs(300);

/// Added to every budget window: the exchange counts arrivals, we count departures, and two
/// requests can arrive closer together than they left. 50 ms or 2% of the window.
fn window_margin(window: Duration) -> Duration {
    (window / 50).max(Duration::from_millis(50))
}

/// A sliding-window budget over one documented limit, holding `share` of it: the weight sent
/// in ANY window of `window` length never exceeds `limit × share` (a token bucket would allow
/// twice that across a window boundary). Waiters are served in order (the mutex is fair).
pub struct RateBudget {
    path_prefix: String,
    limit: f64,
    /// The documented window (what the plan reasons in).
    rule_window: Duration,
    /// The window enforced: the documented one plus a margin.
    window: Duration,
    state: Mutex<BudgetState>,
}

struct BudgetState {
    /// (send time, weight) of the requests inside the current window.
    log: VecDeque<(tokio::time::Instant, u32)>,
    used: u64,
    /// No request before this instant (the exchange told us to wait).
    paused_until: Option<tokio::time::Instant>,
    /// Multiplier on `limit` after 429s; recovers towards 1.
    factor: f64,
    last_penalty: Option<tokio::time::Instant>,
}

impl RateBudget {
    pub fn new(rule: &RateLimitRule, share: f64) -> Self {
        Self {
            path_prefix: rule.path_prefix.to_string(),
            limit: (rule.limit as f64 * share).max(1.0),
            rule_window: Duration::from_millis(rule.window_ms.max(1)),
            window: {
                let window = Duration::from_millis(rule.window_ms.max(1));
                window + window_margin(window)
            },
            state: Mutex::new(BudgetState {
                log: VecDeque::new(),
                used: 0,
                paused_until: None,
                factor: 1.0,
                last_penalty: None,
            }),
        }
    }

    pub fn applies_to(&self, path: &str) -> bool {
        path.starts_with(self.path_prefix.as_str())
    }

    /// Waits until `weight` fits in the window, then takes it. Returns how long it waited.
    pub async fn acquire(&self, weight: u32) -> Duration {
        let started = tokio::time::Instant::now();
        let mut state = self.state.lock().await;
        loop {
            let now = tokio::time::Instant::now();
            if let Some(until) = state.paused_until {
                if now < until {
                    tokio::time::sleep_until(until).await;
                    continue;
                }
                state.paused_until = None;
            }
            if state.factor < 1.0
                && state
                    .last_penalty
                    .is_some_and(|t| now.duration_since(t) >= RATE_LIMIT_RECOVERY_AFTER)
            {
                state.factor = (state.factor * RATE_LIMIT_RECOVERY_STEP).min(1.0);
                state.last_penalty = Some(now);
            }
            while let Some(&(sent, w)) = state.log.front() {
                if now.duration_since(sent) >= self.window {
                    state.log.pop_front();
                    state.used -= w as u64;
                } else {
                    break;
                }
            }
            let limit = (self.limit * state.factor).max(1.0);
            let need = (weight.max(1) as f64).min(limit) as u64;
            if state.used + need <= limit as u64 {
                state.log.push_back((now, need as u32));
                state.used += need;
                return started.elapsed();
            }
            match state.log.front() {
                Some(&(oldest, _)) => tokio::time::sleep_until(oldest + self.window).await,
                None => return started.elapsed(),
            }
        }
    }

    /// The exchange said "too many requests": pause, and shrink the budget for a while.
    pub async fn penalize(&self, retry_after: Option<Duration>) {
        let mut state = self.state.lock().await;
        let now = tokio::time::Instant::now();
        let pause = retry_after
            .unwrap_or(RATE_LIMIT_DEFAULT_PAUSE)
            .min(RATE_LIMIT_MAX_PAUSE);
        let until = now + pause;
        state.paused_until = Some(state.paused_until.map_or(until, |u| u.max(until)));
        state.factor = (state.factor * RATE_LIMIT_SLOWDOWN).max(RATE_LIMIT_MIN_FACTOR);
        state.last_penalty = Some(now);
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
    fn retry_after_seconds_or_milliseconds() {
        assert_eq!(parse_retry_after("2", false), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after(" 0.5 ", false),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", false),
            None
        );
        assert_eq!(parse_retry_after("-1", false), None);
        assert_eq!(
            parse_retry_after("2500", true),
            Some(Duration::from_millis(2500))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_pauses_at_most_the_cap() {
        let rule = RateLimitRule {
            path_prefix: "".into(),
            limit: 10,
            window_ms: 1_000,
        };
        let budget = RateBudget::new(&rule, 1.0);
        // dYdX's "2500" read as seconds would be 42 minutes.
        budget.penalize(Some(Duration::from_secs(2500))).await;
        let waited = budget.acquire(1).await;
        assert!(
            waited >= RATE_LIMIT_MAX_PAUSE
                && waited < RATE_LIMIT_MAX_PAUSE + Duration::from_secs(1),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn budget_never_exceeds_the_window() {
        // 100 per second at share 0.5 → at most 50 in ANY 1 s window.
        let rule = RateLimitRule {
            path_prefix: "".into(),
            limit: 100,
            window_ms: 1_000,
        };
        let budget = RateBudget::new(&rule, 0.5);
        let start = tokio::time::Instant::now();
        let mut sent = Vec::new();
        for i in 0..160u32 {
            budget.acquire(if i % 7 == 0 { 3 } else { 1 }).await;
            sent.push((tokio::time::Instant::now(), if i % 7 == 0 { 3 } else { 1 }));
        }
        for (i, (t, _)) in sent.iter().enumerate() {
            let in_window: u32 = sent[i..]
                .iter()
                .take_while(|(u, _)| u.duration_since(*t) < Duration::from_secs(1))
                .map(|(_, w)| w)
                .sum();
            assert!(
                in_window <= 50,
                "window starting at request {i} holds {in_window}"
            );
        }
        assert!(
            start.elapsed() >= Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        // A weight above the whole budget is clamped, never blocks forever.
        budget.acquire(10_000).await;
    }

    #[test]
    fn adaptive_timeout_follows_latency_within_bounds() {
        let floor = Duration::from_secs(1);
        let ceiling = Duration::from_secs(10);
        let mut t = AdaptiveTimeout::first(0.2);
        for _ in 0..50 {
            t.observe(0.2);
        }
        // Steady 200 ms: 2 × (0.2 + 4 × ~0) ≈ 0.4 s → clamped up to the floor.
        assert_eq!(t.timeout(2.0, floor, ceiling), floor);
        for _ in 0..50 {
            t.observe(2.0);
        }
        let slow = t.timeout(2.0, floor, ceiling);
        assert!(slow > Duration::from_secs(3) && slow < ceiling, "{slow:?}");
        // Timeouts double it until the ceiling.
        t.backoff = 5;
        assert_eq!(t.timeout(2.0, floor, ceiling), ceiling);
        t.observe(2.0);
        assert!(
            t.timeout(2.0, floor, ceiling) < ceiling,
            "a success resets the backoff"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_pauses_and_slows_down() {
        let rule = RateLimitRule {
            path_prefix: "".into(),
            limit: 10,
            window_ms: 1_000,
        };
        let budget = RateBudget::new(&rule, 1.0);
        budget.penalize(Some(Duration::from_secs(3))).await;
        let waited = budget.acquire(1).await;
        assert!(
            waited >= Duration::from_secs(3),
            "honours Retry-After: {waited:?}"
        );
        // Budget halved: 5 per window now.
        for _ in 0..4 {
            budget.acquire(1).await;
        }
        let waited = budget.acquire(1).await;
        assert!(
            waited >= Duration::from_millis(900),
            "6th request in the window waits: {waited:?}"
        );
    }
}

//! What the parts of the collector report, as values: request outcomes, sink states, drop
//! reasons, reload results, web refusals and time-outs (each with its metric label), and an
//! exchange's rate budget plan (computed by `collect::plan`).
//!
//! Owns the names operators see in labels and the status API. Must not count anything.

use serde::Serialize;

/// What became of one HTTP request (the `outcome` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestOutcome {
    /// Answered and accepted by the plugin.
    Ok,
    Timeout,
    /// Could not connect (refused, DNS, TLS).
    Connect,
    /// The connection broke while reading the body, or the body was too large.
    Body,
    /// HTTP 5xx.
    Http5xx,
    /// HTTP 429/418, or a rate-limit code in the body.
    RateLimited,
    /// The body is not what the exchange documents (HTML, truncated JSON).
    Parse,
    /// The exchange answered with a transient error code in the body ("system busy").
    ExchangeError,
    /// A permanent error (unknown symbol, bad request): retrying does not help.
    Permanent,
    /// Not sent: the breaker is open or another request is probing.
    HeldBack,
    Other,
}

impl RequestOutcome {
    pub const ALL: [Self; 11] = [
        Self::Ok,
        Self::Timeout,
        Self::Connect,
        Self::Body,
        Self::Http5xx,
        Self::RateLimited,
        Self::Parse,
        Self::ExchangeError,
        Self::Permanent,
        Self::HeldBack,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Body => "body",
            Self::Http5xx => "http_5xx",
            Self::RateLimited => "rate_limited",
            Self::Parse => "parse",
            Self::ExchangeError => "exchange_error",
            Self::Permanent => "permanent",
            Self::HeldBack => "held_back",
            Self::Other => "other",
        }
    }

    /// Counts against the error rate: the request went out and did not succeed.
    pub fn is_failure(self) -> bool {
        !matches!(self, Self::Ok | Self::HeldBack)
    }

    /// The outcome of an answered request the plugin rejected with an error of `class`.
    pub fn from_plugin_error(class: plugin_api::ErrorClass) -> Self {
        match class {
            plugin_api::ErrorClass::RATE_LIMITED => Self::RateLimited,
            plugin_api::ErrorClass::PARSE => Self::Parse,
            plugin_api::ErrorClass::PERMANENT => Self::Permanent,
            plugin_api::ErrorClass::TRANSIENT => Self::ExchangeError,
            _ => Self::Other,
        }
    }
}

/// The sink's condition, as the sink reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkState {
    /// Opened, nothing delivered yet.
    Starting,
    /// Accepting and delivering records.
    Ok,
    /// Destination unreachable; records go to the on-disk spool.
    Spooling,
    /// Writes fail and are retried; records wait in memory.
    Failing,
    /// Closed at shutdown.
    Closed,
}

impl SinkState {
    pub const ALL: [Self; 5] = [
        Self::Starting,
        Self::Ok,
        Self::Spooling,
        Self::Failing,
        Self::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Ok => "ok",
            Self::Spooling => "spooling",
            Self::Failing => "failing",
            Self::Closed => "closed",
        }
    }
}

/// Why a sink dropped records on purpose: the policy of one of its bounded buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The memory buffer that holds batches while the sink fails was full: its oldest waiting
    /// batch went.
    BufferFull,
    /// The AMQP spool was full: its oldest segment went (or a message larger than the spool).
    SpoolFull,
    /// Lost with damaged AMQP spool entries.
    SpoolDamaged,
}

impl DropReason {
    pub const ALL: [Self; 3] = [Self::BufferFull, Self::SpoolFull, Self::SpoolDamaged];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::BufferFull => "buffer_full",
            Self::SpoolFull => "spool_full",
            Self::SpoolDamaged => "spool_damaged",
        }
    }
}

/// Result of one config reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReloadResult {
    /// Validated and applied.
    Ok,
    /// Rejected by validation; the running config is unchanged.
    Invalid,
    /// Valid, but applying it failed; the previous config was restored.
    RolledBack,
}

impl ReloadResult {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Invalid => "invalid",
            Self::RolledBack => "rolled_back",
        }
    }
}

/// Which web server limit refused a client (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebRefusal {
    /// `[web] max_connections` connections were open: answered 503 and closed.
    MaxConnections,
    /// `[web] max_sse_clients` event streams were open: the request got 503.
    MaxSseClients,
}

impl WebRefusal {
    pub const ALL: [Self; 2] = [Self::MaxConnections, Self::MaxSseClients];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MaxConnections => "max_connections",
            Self::MaxSseClients => "max_sse_clients",
        }
    }
}

/// Why the web server answered a request 401 (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebUnauthorized {
    /// No token was presented (or a request that is not GET or HEAD, with no token set).
    Missing,
    /// A token was presented and is not the configured one.
    Invalid,
}

impl WebUnauthorized {
    pub const ALL: [Self; 2] = [Self::Missing, Self::Invalid];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Invalid => "invalid",
        }
    }
}

/// Which web server timeout closed a connection (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebTimeout {
    /// No complete request head within `[web] header_read_timeout`.
    HeaderRead,
    /// No request on a keep-alive connection within `[web] idle_timeout`.
    Idle,
}

impl WebTimeout {
    pub const ALL: [Self; 2] = [Self::HeaderRead, Self::Idle];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::HeaderRead => "header_read",
            Self::Idle => "idle",
        }
    }
}

/// One kind in the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindPlan {
    pub kind: String,
    pub primary: bool,
    pub interval_ms: u64,
    /// Share of the configured cadence the kind keeps (1: as configured).
    pub cadence: f64,
    /// The interval it actually runs at (`interval / cadence`).
    pub effective_interval_ms: u64,
}

/// One rule in the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RulePlan {
    pub path_prefix: String,
    pub window_ms: u64,
    pub budget: f64,
    /// Weight per window the kinds need at their configured intervals.
    pub needed: f64,
    /// Per kind (only kinds that use this rule).
    pub needed_by_kind: Vec<(String, f64)>,
    /// Weight per window after the cadences are applied.
    pub planned: f64,
}

/// The plan of one exchange instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BudgetPlan {
    pub rules: Vec<RulePlan>,
    pub kinds: Vec<KindPlan>,
}

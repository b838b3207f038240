//! The web server (axum, on the collector's runtime): `/metrics`, `/healthz`, `/readyz`,
//! `/api/status`, `/api/history`, `/api/funding`, `/api/events` (server-sent events), the
//! dashboard at `/`, whose assets are compiled into the binary (no build step, no CDN), and
//! `POST /api/plugins/{exchange_id}/promote|reject`, an operator's decision on a plugin canary.
//!
//! Owns the routes, the response formats and the server's lifecycle. Must not change anything
//! it serves: it reads the `Telemetry` handle (and counts its own connections and refused
//! requests there); the one change it can ask for, a canary decision, goes through the
//! registry's control handle (behind `decisions::CanaryDecisions`) and needs the token. Listens on loopback unless configured otherwise; beyond loopback it
//! requires a bearer token, and no request but GET/HEAD passes without one anywhere (`auth`).
//! Every response is bounded (history and funding rows are capped), and so are the clients:
//! connections (`listener`), their header-read and idle timeouts (`connection`) and event
//! streams (`api`), so that no client can take the file descriptors collection needs.

mod api;
mod auth;
pub mod client;
mod connection;
pub mod decisions;
mod listener;

pub use auth::{is_loopback, TokenError, MIN_TOKEN_BYTES, TOKEN_COOKIE};

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    middleware,
    routing::{get, post},
    Router,
};
use tokio::{
    sync::{watch, Semaphore},
    task::JoinHandle,
};

use crate::{
    config::{WebConfig, DEFAULT_WEB_MAX_SSE_CLIENTS},
    observe::telemetry::Telemetry,
};

/// How long [`WebServer::shutdown`] waits for open connections to finish.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error(
        "web server: cannot listen on {addr}: {source} (set [web] listen, or enabled = false)"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// No usable token where one is required (names the variable, never the token).
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// The `/api/events` streams allowed at once (`[web] max_sse_clients`).
#[derive(Clone)]
pub(crate) struct EventStreamSlots {
    pub slots: Arc<Semaphore>,
    pub max: usize,
}

impl EventStreamSlots {
    fn new(max: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max)),
            max,
        }
    }
}

/// Decisions for a router built without a plugin registry: there is no canary to decide.
struct NoRegistry;

impl decisions::CanaryDecisions for NoRegistry {
    fn decide<'a>(
        &'a self,
        _exchange_id: &'a str,
        _decision: decisions::Decision,
    ) -> decisions::DecisionFuture<'a> {
        Box::pin(async { Err(decisions::ControlError::NotWatching) })
    }
}

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct AppState {
    pub telemetry: Telemetry,
    pub live_interval: Duration,
    pub event_streams: EventStreamSlots,
    /// Carries out operators' canary decisions (the plugin registry's control handle).
    pub plugins: Arc<dyn decisions::CanaryDecisions>,
    /// Turns true at shutdown: open event streams end so the server can stop.
    pub stopping: watch::Receiver<bool>,
    /// Keeps the sender of `stopping` alive for a router built without a server.
    _stop: Option<Arc<watch::Sender<bool>>>,
}

/// The routes, for embedding or testing without a socket (event streams capped at
/// [`DEFAULT_WEB_MAX_SSE_CLIENTS`]; the embedding server bounds connections and its clients:
/// without a token, only GET and HEAD pass).
pub fn router(telemetry: Telemetry, live_interval: Duration) -> Router {
    let (tx, rx) = watch::channel(false);
    let gate = auth::Gate::new(auth::Access::open(), telemetry.clone());
    build_router(
        AppState {
            telemetry,
            live_interval,
            event_streams: EventStreamSlots::new(DEFAULT_WEB_MAX_SSE_CLIENTS),
            plugins: Arc::new(NoRegistry),
            stopping: rx,
            _stop: Some(Arc::new(tx)),
        },
        gate,
    )
}

/// Whether `config` can start as far as its token goes: checked before a reload stops the
/// running server, so a missing token leaves that server running.
pub fn check_access(config: &WebConfig) -> Result<(), WebError> {
    auth::Access::from_environment(config)?;
    Ok(())
}

/// The routes behind the token check (which covers the fallback too).
fn build_router(state: AppState, gate: auth::Gate) -> Router {
    Router::new()
        .route("/", get(api::index))
        .route("/assets/app.js", get(api::app_js))
        .route("/assets/style.css", get(api::style_css))
        .route("/favicon.svg", get(api::favicon))
        .route("/metrics", get(api::metrics))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/api/status", get(api::status))
        .route("/api/history", get(api::history))
        .route("/api/funding", get(api::funding))
        .route("/api/events", get(api::events))
        .route(
            "/api/plugins/{exchange_id}/{decision}",
            post(api::canary_decision),
        )
        .fallback(api::not_found)
        .with_state(state)
        .layer(middleware::from_fn_with_state(gate, auth::authorize))
}

/// A running web server.
pub struct WebServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Reads the token (`[web] token_env`), binds `config.listen` and serves until
/// [`WebServer::shutdown`], within the limits of `config` (connections, timeouts, event
/// streams). Fails before binding when the address needs a token and there is none. The bound
/// address (useful with port 0) is also recorded in the telemetry (`Telemetry::web_addr`).
pub async fn spawn(
    config: &WebConfig,
    telemetry: Telemetry,
    plugins: impl decisions::CanaryDecisions,
) -> Result<WebServer, WebError> {
    let access = auth::Access::from_environment(config)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| WebError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| WebError::Bind {
        addr: config.listen,
        source,
    })?;
    telemetry.set_web_addr(addr);
    let (stop_tx, stop_rx) = watch::channel(false);
    let auth = access.describe();
    if access.open_beyond_loopback {
        tracing::warn!(
            %addr,
            token_env = %config.token_env,
            "web server serves WITHOUT AUTHENTICATION beyond loopback ([web] allow_unauthenticated = true): whoever reaches it reads metrics, status and the dashboard; set the token variable to require a bearer token"
        );
    }
    let app = build_router(
        AppState {
            telemetry: telemetry.clone(),
            live_interval: config.live_interval.0,
            event_streams: EventStreamSlots::new(config.max_sse_clients),
            plugins: Arc::new(plugins),
            stopping: stop_rx.clone(),
            _stop: None,
        },
        auth::Gate::new(access, telemetry.clone()),
    );
    let limits = listener::Limits {
        max_connections: config.max_connections,
        timeouts: connection::Timeouts {
            header_read: config.header_read_timeout.0,
            idle: config.idle_timeout.0,
        },
    };
    let task = tokio::spawn(listener::accept_connections(
        listener, app, limits, telemetry, stop_rx,
    ));
    tracing::info!(%addr, auth, "web server listening: dashboard, /metrics, /healthz, /readyz, /api/status");
    Ok(WebServer {
        addr,
        stop: stop_tx,
        task,
    })
}

impl WebServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, ends event streams and idle connections, waits up to
    /// [`SHUTDOWN_GRACE`] for requests in flight, then drops what is still open.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        let mut task = self.task;
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
            .await
            .is_err()
        {
            task.abort();
            let _ = task.await;
        }
    }
}

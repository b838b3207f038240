//! The web server (axum, on the collector's runtime): `/metrics`, `/healthz`, `/readyz`,
//! `/api/status`, `/api/history`, `/api/funding`, `/api/events` (server-sent events) and the
//! dashboard at `/`, whose assets are compiled into the binary (no build step, no CDN).
//!
//! Owns the routes, the response formats and the server's lifecycle. Must not change anything
//! it serves: it only reads the `Telemetry` handle. Listens on loopback unless configured
//! otherwise; every response is bounded (history and funding rows are capped).

mod api;

use std::{net::SocketAddr, time::Duration};

use axum::{routing::get, Router};
use tokio::{sync::watch, task::JoinHandle};

use crate::{config::WebConfig, telemetry::Telemetry};

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
}

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct AppState {
    pub telemetry: Telemetry,
    pub live_interval: Duration,
    /// Turns true at shutdown: open event streams end so the server can stop.
    pub stopping: watch::Receiver<bool>,
    /// Keeps the sender of `stopping` alive for a router built without a server.
    _stop: Option<std::sync::Arc<watch::Sender<bool>>>,
}

/// The routes, for embedding or testing without a socket.
pub fn router(telemetry: Telemetry, live_interval: Duration) -> Router {
    let (tx, rx) = watch::channel(false);
    build_router(AppState {
        telemetry,
        live_interval,
        stopping: rx,
        _stop: Some(std::sync::Arc::new(tx)),
    })
}

fn build_router(state: AppState) -> Router {
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
        .fallback(api::not_found)
        .with_state(state)
}

/// A running web server.
pub struct WebServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Binds `config.listen` and serves until [`WebServer::shutdown`]. The bound address (useful
/// with port 0) is also recorded in the telemetry (`Telemetry::web_addr`).
pub async fn spawn(config: &WebConfig, telemetry: Telemetry) -> Result<WebServer, WebError> {
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
    let app = build_router(AppState {
        telemetry,
        live_interval: config.live_interval.0,
        stopping: stop_rx.clone(),
        _stop: None,
    });
    let mut stopped = stop_rx;
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "web server failed");
        }
    });
    tracing::info!(%addr, "web server listening: dashboard, /metrics, /healthz, /readyz, /api/status");
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

    /// Stops accepting, ends event streams, and waits up to [`SHUTDOWN_GRACE`].
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        let mut task = self.task;
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

//! The HTTP side: our own accept loop (hyper HTTP/1.1 connections around an axum router), the
//! per-request pipeline of an exchange instance (count → pick fault → latency → answer/fault),
//! and the handle tests and the CLI hold.
//!
//! Owns: sockets, connection tasks, shutdown, instance lookup by path prefix.
//! Must not: format exchange payloads (see `exchanges`) or decide fault wire behaviour (see
//! `faults`).
//!
//! Why not `axum::serve`: a handler there must answer; the `reset` and `hang` faults need to close
//! a connection without a response, which hyper does when the service returns an error.

use std::{collections::HashMap, fmt, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    body::Body,
    extract::{Request, State},
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{net::TcpListener, sync::watch, task::JoinSet};
use tower::ServiceExt;

use crate::{
    admin,
    config::{EmulatorConfig, InstanceConfig},
    exchanges::{self, now_ms, Query, Venue},
    faults::{self, ActiveFault, DropConnection, Fault, FaultSpec, FaultStore},
    stats::{Stats, StatsCell},
};

/// One served instance: its market and its counters.
pub(crate) struct Instance {
    pub venue: Venue,
    pub stats: StatsCell,
}

/// Shared state of a running emulator.
pub(crate) struct App {
    pub instances: Vec<Instance>,
    by_name: HashMap<String, usize>,
    pub faults: FaultStore,
    pub addr: SocketAddr,
}

impl App {
    pub fn instance(&self, name: &str) -> Option<&Instance> {
        self.by_name.get(name).and_then(|&i| self.instances.get(i))
    }

    /// `http://127.0.0.1:PORT/<name>` (an unspecified listen IP becomes loopback).
    pub fn base_url(&self, name: &str) -> String {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{addr}/{name}")
    }

    pub fn stats(&self, only: Option<&str>, with_recent: bool) -> Stats {
        let instances = self
            .instances
            .iter()
            .filter(|i| only.is_none_or(|n| n == i.venue.cfg.name))
            .map(|i| (i.venue.cfg.name.clone(), i.stats.snapshot(with_recent)))
            .collect();
        Stats { instances }
    }

    pub fn reset_stats(&self, only: Option<&str>) {
        for i in self
            .instances
            .iter()
            .filter(|i| only.is_none_or(|n| n == i.venue.cfg.name))
        {
            i.stats.reset();
        }
    }
}

/// A running emulator. Dropping it stops the server too (without waiting); prefer
/// [`EmulatorHandle::shutdown`].
pub struct EmulatorHandle {
    app: Arc<App>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl EmulatorHandle {
    /// The bound listen address (the real port when listening on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.app.addr
    }

    /// The base URL a client uses for `instance`: `http://127.0.0.1:PORT/<instance>`.
    pub fn base_url(&self, instance: &str) -> String {
        self.app.base_url(instance)
    }

    /// The configured instances.
    pub fn instances(&self) -> Vec<InstanceConfig> {
        self.app
            .instances
            .iter()
            .map(|i| i.venue.cfg.clone())
            .collect()
    }

    /// Adds a fault; returns its id (for [`EmulatorHandle::remove_fault`]). A fault naming an
    /// unknown instance is kept but never matches.
    pub fn inject(&self, fault: FaultSpec) -> u64 {
        if fault.instance != "*" && self.app.instance(&fault.instance).is_none() {
            tracing::warn!(instance = %fault.instance, "fault for an unknown instance will never apply");
        }
        self.app.faults.add(fault)
    }

    /// Removes all faults, or those of one instance.
    pub fn clear_faults(&self, instance: Option<&str>) {
        self.app.faults.clear(instance);
    }

    /// Removes one fault by id; false when it is gone already.
    pub fn remove_fault(&self, id: u64) -> bool {
        self.app.faults.remove(id)
    }

    /// The active faults.
    pub fn faults(&self) -> Vec<ActiveFault> {
        self.app.faults.list()
    }

    /// Counters of every instance (with the recent-request log).
    pub fn stats(&self) -> Stats {
        self.app.stats(None, true)
    }

    /// Zeroes every instance's counters.
    pub fn reset_stats(&self) {
        self.app.reset_stats(None);
    }

    /// Stops accepting, closes every connection (hanging ones included) and waits for the
    /// server task.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Binds `listen` and serves `config` until the handle is shut down or dropped.
pub async fn spawn(config: EmulatorConfig, listen: SocketAddr) -> anyhow::Result<EmulatorHandle> {
    config.validate()?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr()?;
    let mut by_name = HashMap::new();
    let mut instances = Vec::with_capacity(config.instances.len());
    for (i, cfg) in config.instances.into_iter().enumerate() {
        by_name.insert(cfg.name.clone(), i);
        let stats = StatsCell::new(cfg.exchange);
        instances.push(Instance {
            venue: Venue::new(cfg),
            stats,
        });
    }
    let app = Arc::new(App {
        instances,
        by_name,
        faults: FaultStore::default(),
        addr,
    });
    let router = router(app.clone());
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, router, stopped));
    Ok(EmulatorHandle {
        app,
        stop,
        task: Some(task),
    })
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route(
            "/_admin/faults",
            get(admin::list_faults)
                .post(admin::add_fault)
                .delete(admin::clear_faults),
        )
        .route("/_admin/stats", get(admin::stats))
        .route("/_admin/reset-stats", post(admin::reset_stats))
        .route("/_admin/instances", get(admin::instances))
        .fallback(exchange_request)
        .with_state(app)
}

async fn accept_loop(listener: TcpListener, router: Router, mut stopped: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            changed = stopped.changed() => {
                if changed.is_err() || *stopped.borrow() {
                    break;
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve_connection(stream, router.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    // Dropping the set aborts every connection task, hanging and streaming ones included.
    connections.shutdown().await;
}

/// Returned to hyper to make it close the connection without a response.
#[derive(Debug)]
struct ConnectionDropped;

impl fmt::Display for ConnectionDropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for ConnectionDropped {}

async fn serve_connection(stream: tokio::net::TcpStream, router: Router) {
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let router = router.clone();
        async move {
            let resp = match router.oneshot(req.map(Body::new)).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
            if resp.extensions().get::<DropConnection>().is_some() {
                Err(ConnectionDropped)
            } else {
                Ok(resp)
            }
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service);
    if let Err(e) = conn.await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Splits `/binance/fapi/v1/x` into (`binance`, `/fapi/v1/x`).
fn split_instance(path: &str) -> (&str, &str) {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    match trimmed.find('/') {
        Some(i) => (&trimmed[..i], &trimmed[i..]),
        None => (trimmed, "/"),
    }
}

/// The largest request body read (exchange queries are a few hundred bytes).
const MAX_REQUEST_BODY: usize = 64 * 1024;

/// Everything below `/<instance>/`.
async fn exchange_request(State(app): State<Arc<App>>, req: Request) -> Response {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let raw_query = req.uri().query().map(str::to_string);
    // Hyperliquid's queries are POST bodies; an unreadable or oversized body reads as empty.
    let body = axum::body::to_bytes(req.into_body(), MAX_REQUEST_BODY)
        .await
        .unwrap_or_default();
    let (name, below) = split_instance(&path);
    let Some(inst) = app.instance(name) else {
        return (
            axum::http::StatusCode::NOT_FOUND,
            format!("no emulated exchange instance {name:?}\n"),
        )
            .into_response();
    };
    let arrival = now_ms();
    let fault = app.faults.take(name, below);
    inst.stats.record(
        arrival,
        below,
        raw_query.as_deref().unwrap_or(""),
        fault.as_ref().map(Fault::kind),
    );
    tracing::debug!(instance = name, %method, path = below, query = raw_query.as_deref().unwrap_or(""), fault = fault.as_ref().map(Fault::kind), "request");

    let cfg = &inst.venue.cfg;
    let latency = if !matches!(fault, Some(Fault::Hang { .. }))
        && (cfg.latency_ms > 0 || cfg.latency_jitter_ms > 0)
    {
        let jitter = if cfg.latency_jitter_ms > 0 {
            fastrand::u64(0..=cfg.latency_jitter_ms)
        } else {
            0
        };
        Duration::from_millis(cfg.latency_ms + jitter)
    } else {
        Duration::ZERO
    };
    let answer_at = tokio::time::Instant::now() + latency;
    let query = Query::parse(raw_query.as_deref());
    match fault {
        None => {
            // The configured latency is the exchange's whole response time, its own work
            // included: the body is built first and sent when the latency is up, so building
            // it does not add to the latency a client sees (unless it takes longer).
            let answer =
                exchanges::respond_with_body(&inst.venue, &method, below, &query, &body, now_ms());
            tokio::time::sleep_until(answer_at).await;
            answer.into_response()
        }
        Some(fault) => {
            tokio::time::sleep_until(answer_at).await;
            let now = now_ms();
            let real =
                || exchanges::respond_with_body(&inst.venue, &method, below, &query, &body, now);
            faults::render(&fault, cfg.exchange, now, real).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split_instance;

    #[test]
    fn instance_prefix_split() {
        assert_eq!(
            split_instance("/binance/fapi/v1/ping"),
            ("binance", "/fapi/v1/ping")
        );
        assert_eq!(split_instance("/okx"), ("okx", "/"));
        assert_eq!(split_instance("/"), ("", "/"));
    }
}

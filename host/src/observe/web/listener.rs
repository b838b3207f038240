//! The web server's accept loop: takes connections off the listening socket, serves at most
//! `[web] max_connections` at once, and answers one more with a fixed `503 Service Unavailable`
//! written straight to the socket before closing it (no HTTP parsing, no hyper connection).
//!
//! Owns the connection slots, the refusal and the wait for open connections at shutdown. Must
//! not serve HTTP itself (`connection` does) and must not touch anything but the web listener:
//! collection never waits for it.

use std::{
    io::{self, Write as _},
    pin::pin,
    sync::Arc,
    time::Duration,
};

use axum::Router;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{watch, OwnedSemaphorePermit, Semaphore},
    task::JoinSet,
    time::Instant,
};

use super::connection::{self, Timeouts};
use crate::observe::telemetry::{Telemetry, WebRefusal};

/// The answer to a connection over `max_connections`: complete, self-delimited, and small
/// enough for an empty socket buffer, so it is written without waiting.
pub(super) const REFUSAL_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: text/plain; charset=utf-8\r\n\
content-length: 21\r\n\
connection: close\r\n\
retry-after: 1\r\n\
\r\n\
too many connections\n";

/// How long a refused connection is kept after the 503 to read what the client sent: closing
/// a socket with unread input sends a reset, and a reset can destroy the 503 before the client
/// reads it.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);
/// Most bytes read from a refused connection before it is closed anyway.
const REFUSAL_DRAIN_BYTES: usize = 64 * 1024;
/// Refused connections lingering at once; past this, a refused connection is closed at once
/// (a flood must not hold more descriptors than the served connections do).
const MAX_LINGERING_REFUSALS: usize = 64;
/// Pause after an accept error that is not the client's (out of file descriptors), so the
/// loop does not spin while nothing can be accepted.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);
/// Shortest time between two warnings that the connection limit refuses clients.
const REFUSAL_WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// What the accept loop enforces.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub max_connections: usize,
    pub timeouts: Timeouts,
}

/// A served connection's slot; the open-connections gauge follows it.
struct ServedConnection {
    _slot: OwnedSemaphorePermit,
    telemetry: Telemetry,
}

impl ServedConnection {
    fn new(slot: OwnedSemaphorePermit, telemetry: &Telemetry) -> Self {
        telemetry.web_connection_opened();
        Self {
            _slot: slot,
            telemetry: telemetry.clone(),
        }
    }
}

impl Drop for ServedConnection {
    fn drop(&mut self) {
        self.telemetry.web_connection_closed();
    }
}

/// Accepts until `stopping` turns true, then waits for the open connections (told to finish
/// through the same signal). Dropping this future drops every connection.
pub(super) async fn accept_connections(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    telemetry: Telemetry,
    stopping: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let lingering = Arc::new(Semaphore::new(MAX_LINGERING_REFUSALS));
    let mut connections = JoinSet::new();
    let mut last_warning: Option<Instant> = None;
    let mut signal = stopping.clone();
    let mut stopped = pin!(async move {
        let _ = signal.wait_for(|stop| *stop).await;
    });
    loop {
        tokio::select! {
            () = &mut stopped => break,
            Some(ended) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = ended {
                    if e.is_panic() {
                        tracing::error!(error = %e, "web connection task panicked");
                    }
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => match Arc::clone(&slots).try_acquire_owned() {
                    Ok(slot) => {
                        let served = ServedConnection::new(slot, &telemetry);
                        let serving = connection::serve(
                            stream,
                            router.clone(),
                            limits.timeouts,
                            telemetry.clone(),
                            stopping.clone(),
                        );
                        connections.spawn(async move {
                            serving.await;
                            drop(served);
                        });
                    }
                    Err(_) => {
                        refused(&telemetry, limits.max_connections, &mut last_warning);
                        if let Some(close) = refuse(stream, &lingering) {
                            connections.spawn(close);
                        }
                    }
                },
                Err(e) if is_client_error(&e) => {}
                Err(e) => {
                    tracing::error!(error = %e, pause = ?ACCEPT_ERROR_PAUSE, "web server cannot accept connections");
                    tokio::select! {
                        () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => {}
                        () = &mut stopped => break,
                    }
                }
            },
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// Counts a refusal; warns once per [`REFUSAL_WARNING_INTERVAL`] at most.
fn refused(telemetry: &Telemetry, max_connections: usize, last_warning: &mut Option<Instant>) {
    telemetry.web_connection_refused(WebRefusal::MaxConnections);
    let now = Instant::now();
    if last_warning.is_none_or(|at| now.duration_since(at) >= REFUSAL_WARNING_INTERVAL) {
        *last_warning = Some(now);
        tracing::warn!(
            max_connections,
            "web server full: refusing connections with 503 (see futures_collector_web_connections_refused_total)"
        );
    } else {
        tracing::debug!(max_connections, "web connection refused");
    }
}

/// Writes the 503 without waiting and returns the gentle close to run, or closes at once when
/// too many refused connections linger already.
fn refuse(
    stream: TcpStream,
    lingering: &Arc<Semaphore>,
) -> Option<impl std::future::Future<Output = ()> + Send + 'static> {
    // Written through the std socket: a fresh socket's send buffer is empty, so the write
    // completes at once, while tokio's `try_write` refuses to try before its reactor has seen
    // the socket writable.
    let stream = stream.into_std().ok()?;
    if let Err(e) = (&stream).write_all(REFUSAL_RESPONSE) {
        tracing::debug!(error = %e, "could not write the 503 to a refused connection");
    }
    let permit = Arc::clone(lingering).try_acquire_owned().ok()?;
    let stream = TcpStream::from_std(stream).ok()?;
    Some(async move {
        close_gently(stream).await;
        drop(permit);
    })
}

/// Ends the response (FIN), then reads and discards what the client sends until it closes,
/// [`REFUSAL_LINGER`] passes or [`REFUSAL_DRAIN_BYTES`] arrived.
async fn close_gently(mut stream: TcpStream) {
    let drain = async {
        stream.shutdown().await?;
        let mut buf = [0u8; 4096];
        let mut drained = 0;
        while drained < REFUSAL_DRAIN_BYTES {
            match stream.read(&mut buf).await? {
                0 => break,
                n => drained += n,
            }
        }
        io::Result::Ok(())
    };
    let _ = tokio::time::timeout(REFUSAL_LINGER, drain).await;
}

/// An accept error caused by one client (it gave up before the accept), not by the server.
fn is_client_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_is_a_complete_503_that_closes_the_connection() {
        let text = std::str::from_utf8(REFUSAL_RESPONSE).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let mut lines = head.split("\r\n");
        assert_eq!(lines.next(), Some("HTTP/1.1 503 Service Unavailable"));
        let headers: Vec<(&str, &str)> = lines.map(|l| l.split_once(": ").unwrap()).collect();
        assert!(headers.contains(&("connection", "close")));
        let length: usize = headers
            .iter()
            .find(|(k, _)| *k == "content-length")
            .unwrap()
            .1
            .parse()
            .unwrap();
        assert_eq!(length, body.len());
    }
}

//! One web connection: serves its HTTP/1.1 requests with hyper and closes it when the client
//! is too slow to send a request head (`[web] header_read_timeout`) or keeps a keep-alive
//! connection open without asking anything (`[web] idle_timeout`).
//!
//! Owns the connection's activity record (requests in flight, since when it waits for a
//! request, the first byte of that request) and the watchdog that closes it. Must never cut a
//! request in progress: a deadline applies only while no request is in flight, so an event
//! stream lasts as long as its client and the server want (the SSE cap bounds those).
//!
//! hyper's own `header_read_timeout` is off: hyper restarts it whenever a keep-alive connection
//! waits for its next request, so it would also be the idle timeout.

use std::{
    convert::Infallible,
    future::Future,
    io,
    pin::{pin, Pin},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    Router,
};
use hyper::{
    body::{Body as HttpBody, Frame, Incoming, SizeHint},
    server::conn::http1,
    service::Service,
    Request, Response,
};
use hyper_util::{rt::TokioIo, service::TowerToHyperService};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    sync::{watch, Notify},
    time::Instant,
};

use crate::observe::telemetry::{Telemetry, WebTimeout};

/// The two deadlines of a connection without a request in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Timeouts {
    /// From the accept to the complete head of the first request, and from the first byte of
    /// any later request to its complete head.
    pub header_read: Duration,
    /// From the end of a response to the first byte of the next request.
    pub idle: Duration,
}

/// What the watchdog knows about a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ConnectionActivity {
    /// Requests whose response has not been sent completely.
    in_flight: usize,
    /// Requests this connection has started.
    requests: u64,
    /// When the connection began to wait for its next request: its accept, or the end of the
    /// last response.
    waiting_since: Instant,
    /// The first byte received while waiting. Bytes of a pipelined request read while a
    /// response was in flight do not count: such a head is parsed at once, or waits at most
    /// `idle` instead of `header_read`.
    first_byte_at: Option<Instant>,
}

impl ConnectionActivity {
    fn new(accepted: Instant) -> Self {
        Self {
            in_flight: 0,
            requests: 0,
            waiting_since: accepted,
            first_byte_at: None,
        }
    }

    /// When, and by which timeout, the connection closes if nothing happens before; `None`
    /// while a request is in flight.
    fn deadline(&self, timeouts: &Timeouts) -> Option<(Instant, WebTimeout)> {
        if self.in_flight > 0 {
            return None;
        }
        Some(match (self.requests, self.first_byte_at) {
            (0, _) => (
                self.waiting_since + timeouts.header_read,
                WebTimeout::HeaderRead,
            ),
            (_, Some(first_byte)) => (first_byte + timeouts.header_read, WebTimeout::HeaderRead),
            (_, None) => (self.waiting_since + timeouts.idle, WebTimeout::Idle),
        })
    }

    fn bytes_received(&mut self, now: Instant) -> bool {
        let first = self.in_flight == 0 && self.first_byte_at.is_none();
        if first {
            self.first_byte_at = Some(now);
        }
        first
    }

    fn request_started(&mut self) {
        self.in_flight += 1;
        self.requests += 1;
    }

    fn request_finished(&mut self, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.in_flight == 0 {
            self.waiting_since = now;
            self.first_byte_at = None;
        }
    }
}

/// The activity of one connection, shared by its stream, its service and its watchdog (all in
/// the connection's task, so the lock is never contended).
#[derive(Debug)]
struct ActivityRecord {
    activity: Mutex<ConnectionActivity>,
    /// Wakes the watchdog when a deadline may have moved.
    changed: Notify,
}

impl ActivityRecord {
    fn new(accepted: Instant) -> Self {
        Self {
            activity: Mutex::new(ConnectionActivity::new(accepted)),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ConnectionActivity> {
        self.activity.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn deadline(&self, timeouts: &Timeouts) -> Option<(Instant, WebTimeout)> {
        self.lock().deadline(timeouts)
    }

    fn bytes_received(&self) {
        if self.lock().bytes_received(Instant::now()) {
            self.changed.notify_one();
        }
    }

    fn request_started(self: &Arc<Self>) -> RequestInFlight {
        self.lock().request_started();
        self.changed.notify_one();
        RequestInFlight(Arc::clone(self))
    }
}

/// A request from its head until its response body is sent or dropped.
#[derive(Debug)]
struct RequestInFlight(Arc<ActivityRecord>);

impl Drop for RequestInFlight {
    fn drop(&mut self) {
        self.0.lock().request_finished(Instant::now());
        self.0.changed.notify_one();
    }
}

/// The TCP stream, noting the first byte of each request in the activity record.
struct WatchedStream {
    stream: TcpStream,
    record: Arc<ActivityRecord>,
}

impl AsyncRead for WatchedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.record.bytes_received();
        }
        read
    }
}

impl AsyncWrite for WatchedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The routes, marking each request in flight until its response body is done.
#[derive(Clone)]
struct TrackedRouter {
    router: TowerToHyperService<Router>,
    record: Arc<ActivityRecord>,
}

type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<Response<TrackedBody>, Infallible>> + Send>>;

impl Service<Request<Incoming>> for TrackedRouter {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let in_flight = self.record.request_started();
        let response = self.router.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| TrackedBody {
                body,
                _in_flight: in_flight,
            }))
        })
    }
}

/// A response body that keeps its request in flight until hyper has sent or dropped it.
struct TrackedBody {
    body: Body,
    _in_flight: RequestInFlight,
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Resolves at `deadline`, never without one.
async fn expiry(deadline: Option<(Instant, WebTimeout)>) {
    match deadline {
        Some((at, _)) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Serves `stream` until the client closes it, a timeout closes it, or the server stops
/// (`stopping` turns true: requests in flight finish, a connection without one closes at once).
pub(super) async fn serve(
    stream: TcpStream,
    router: Router,
    timeouts: Timeouts,
    telemetry: Telemetry,
    mut stopping: watch::Receiver<bool>,
) {
    let record = Arc::new(ActivityRecord::new(Instant::now()));
    let io = TokioIo::new(WatchedStream {
        stream,
        record: Arc::clone(&record),
    });
    let service = TrackedRouter {
        router: TowerToHyperService::new(router),
        record: Arc::clone(&record),
    };
    let mut builder = http1::Builder::new();
    builder.header_read_timeout(None);
    let mut connection = pin!(builder.serve_connection(io, service));
    let mut draining = false;
    loop {
        let deadline = record.deadline(&timeouts);
        if draining && deadline.is_some() {
            return;
        }
        let changed = record.changed.notified();
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!(error = %e, "web connection ended with an error");
                }
                return;
            }
            () = changed => {}
            () = expiry(deadline) => {
                let now = Instant::now();
                if let Some((_, reason)) = record.deadline(&timeouts).filter(|(at, _)| *at <= now) {
                    telemetry.web_connection_timed_out(reason);
                    tracing::debug!(reason = reason.as_str(), "web connection closed by its timeout");
                    return;
                }
            }
            _ = stopping.wait_for(|stop| *stop), if !draining => {
                draining = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUTS: Timeouts = Timeouts {
        header_read: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    };

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn a_new_connection_must_send_its_head_within_header_read_of_the_accept() {
        let t0 = Instant::now();
        let mut a = ConnectionActivity::new(t0);
        assert_eq!(
            a.deadline(&TIMEOUTS),
            Some((t0 + secs(10), WebTimeout::HeaderRead))
        );
        // A first byte does not extend it (a client trickling its head byte by byte).
        assert!(a.bytes_received(t0 + secs(5)));
        assert!(!a.bytes_received(t0 + secs(6)));
        assert_eq!(
            a.deadline(&TIMEOUTS),
            Some((t0 + secs(10), WebTimeout::HeaderRead))
        );
    }

    #[test]
    fn a_request_in_flight_has_no_deadline_however_long_it_lasts() {
        let t0 = Instant::now();
        let mut a = ConnectionActivity::new(t0);
        a.request_started();
        assert_eq!(a.deadline(&TIMEOUTS), None);
        // Bytes read while it is in flight (a pipelined request) do not start a head deadline.
        assert!(!a.bytes_received(t0 + secs(1)));
        a.request_started();
        a.request_finished(t0 + secs(3_600));
        assert_eq!(a.deadline(&TIMEOUTS), None, "one of two still in flight");
        a.request_finished(t0 + secs(7_200));
        assert_eq!(
            a.deadline(&TIMEOUTS),
            Some((t0 + secs(7_200 + 60), WebTimeout::Idle))
        );
    }

    #[test]
    fn a_quiet_keep_alive_connection_gets_idle_then_a_started_head_gets_header_read() {
        let t0 = Instant::now();
        let mut a = ConnectionActivity::new(t0);
        a.request_started();
        a.request_finished(t0 + secs(1));
        assert_eq!(
            a.deadline(&TIMEOUTS),
            Some((t0 + secs(61), WebTimeout::Idle))
        );
        // The next request's first byte arrives late in the idle period: its head has
        // header_read from then, so the idle timeout does not cut it.
        assert!(a.bytes_received(t0 + secs(59)));
        assert_eq!(
            a.deadline(&TIMEOUTS),
            Some((t0 + secs(69), WebTimeout::HeaderRead))
        );
        a.request_started();
        a.request_finished(t0 + secs(70));
        assert_eq!(
            a.deadline(&TIMEOUTS),
            Some((t0 + secs(130), WebTimeout::Idle)),
            "each response restarts the idle period"
        );
    }
}

//! The handlers of the web server: metrics exposition, liveness, readiness, the JSON API, the
//! server-sent event stream and the embedded dashboard assets.
//!
//! Owns the wire formats of these endpoints and the cap on event streams. Must not write to
//! telemetry (beyond counting the event streams it refuses), and must not expose secrets (the
//! snapshot only carries redacted notifier destinations).

use std::{collections::VecDeque, convert::Infallible, sync::Arc, time::Duration};

use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{
        sse::{Event as SseEvent, KeepAlive, Sse},
        IntoResponse, Response,
    },
    Json,
};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::{
    broadcast::{self, error::RecvError},
    OwnedSemaphorePermit,
};

use super::AppState;
use crate::{
    config::duration::ConfigDuration,
    observe::telemetry::{
        funding::DEFAULT_FUNDING_ROWS, metrics, Event, Format, Snapshot, Telemetry, WebRefusal,
        LIVE_WINDOW,
    },
};

/// Events `/api/status` includes and a new event-stream subscriber is sent first.
pub const STATUS_EVENTS: usize = 50;
/// Most funding rows one request may ask for.
pub const MAX_FUNDING_ROWS: usize = 1_000;
/// Default and longest span of `/api/history`.
pub const DEFAULT_HISTORY_SPAN: Duration = Duration::from_secs(60 * 60);
pub const MAX_HISTORY_SPAN: Duration = Duration::from_secs(24 * 60 * 60);

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");
const FAVICON_SVG: &str = include_str!("assets/favicon.svg");

/// Seconds a refused event-stream client is asked to wait before trying again.
const SSE_RETRY_AFTER: &str = "5";

/// Only our own scripts, styles and connections.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
        ],
        body,
    )
        .into_response()
}

fn json_no_store<T: Serialize>(status: StatusCode, body: &T) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(body),
    )
        .into_response()
}

pub(super) async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

pub(super) async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

pub(super) async fn style_css() -> Response {
    asset("text/css; charset=utf-8", STYLE_CSS)
}

pub(super) async fn favicon() -> Response {
    asset("image/svg+xml", FAVICON_SVG)
}

pub(super) async fn not_found() -> Response {
    json_no_store(
        StatusCode::NOT_FOUND,
        &serde_json::json!({ "error": "not found", "endpoints": ["/", "/metrics", "/healthz", "/readyz", "/api/status", "/api/history", "/api/funding", "/api/events", "POST /api/plugins/{exchange_id}/promote", "POST /api/plugins/{exchange_id}/reject"] }),
    )
}

/// `POST /api/plugins/{exchange_id}/promote` or `/reject`: an operator's decision on the
/// exchange id's canary candidate (the token check in front of every route lets no POST
/// through without the token). 200 with what was done; 404 when there is no candidate; 409
/// when the plugin directory is not watched.
pub(super) async fn canary_decision(
    State(app): State<AppState>,
    Path((exchange_id, decision)): Path<(String, String)>,
) -> Response {
    use super::decisions::{ControlError, Decision};
    let wanted = match decision.as_str() {
        "promote" => Decision::Promote,
        "reject" => Decision::Reject,
        _ => return not_found().await,
    };
    let result = app.plugins.decide(&exchange_id, wanted).await;
    match result {
        Ok(done) => json_no_store(
            StatusCode::OK,
            &serde_json::json!({ "exchange_id": exchange_id, "decision": decision, "result": done }),
        ),
        Err(e) => {
            let status = match e {
                ControlError::NotWatching => StatusCode::CONFLICT,
                ControlError::Refused(_) => StatusCode::NOT_FOUND,
            };
            json_no_store(
                status,
                &serde_json::json!({ "exchange_id": exchange_id, "decision": decision, "error": e.to_string() }),
            )
        }
    }
}

/// Prometheus text by default; OpenMetrics when the scraper asks for it.
pub(super) async fn metrics(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let wants_openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    let (format, content_type) = if wants_openmetrics {
        (Format::OpenMetrics, metrics::OPENMETRICS_CONTENT_TYPE)
    } else {
        (Format::Prometheus, metrics::PROMETHEUS_TEXT_CONTENT_TYPE)
    };
    match app.telemetry.render_metrics(format) {
        Ok(text) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            text,
        )
            .into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "metrics could not be encoded",
        )
            .into_response(),
    }
}

/// Liveness: the process runs and its runtime answers.
pub(super) async fn healthz(State(app): State<AppState>) -> Response {
    let snap_started = app.telemetry.snapshot(Duration::ZERO);
    json_no_store(
        StatusCode::OK,
        &serde_json::json!({
            "status": "alive",
            "version": snap_started.version,
            "uptime_seconds": snap_started.uptime_seconds,
        }),
    )
}

/// Readiness: 200 when the config is loaded, the sink delivers and an exchange is healthy,
/// else 503; the body says which check failed.
pub(super) async fn readyz(State(app): State<AppState>) -> Response {
    let r = app.telemetry.readiness();
    let status = if r.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_no_store(status, &r)
}

#[derive(Serialize)]
struct StatusBody {
    #[serde(flatten)]
    snapshot: Snapshot,
    recent_events: Vec<Event>,
}

pub(super) async fn status(State(app): State<AppState>) -> Response {
    let body = StatusBody {
        snapshot: app.telemetry.snapshot(LIVE_WINDOW),
        recent_events: app.telemetry.recent_events(STATUS_EVENTS),
    };
    json_no_store(StatusCode::OK, &body)
}

#[derive(Deserialize)]
pub(super) struct HistoryQuery {
    /// `1h`, `24h`, `15m` …
    range: Option<String>,
}

pub(super) async fn history(
    State(app): State<AppState>,
    Query(q): Query<HistoryQuery>,
) -> Response {
    let span = match q.range.as_deref().map(str::parse::<ConfigDuration>) {
        None => DEFAULT_HISTORY_SPAN,
        Some(Ok(d)) if !d.0.is_zero() => d.0.min(MAX_HISTORY_SPAN),
        Some(_) => {
            return json_no_store(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({ "error": "range: use a duration such as 1h or 24h" }),
            )
        }
    };
    json_no_store(StatusCode::OK, &app.telemetry.history(span))
}

#[derive(Deserialize)]
pub(super) struct FundingQuery {
    limit: Option<usize>,
}

pub(super) async fn funding(
    State(app): State<AppState>,
    Query(q): Query<FundingQuery>,
) -> Response {
    let limit = q
        .limit
        .unwrap_or(DEFAULT_FUNDING_ROWS)
        .min(MAX_FUNDING_ROWS);
    let rows = app.telemetry.funding_rows(limit);
    let mut exchanges: Vec<&String> = rows.iter().flat_map(|r| r.rates.keys()).collect();
    exchanges.sort();
    exchanges.dedup();
    json_no_store(
        StatusCode::OK,
        &serde_json::json!({ "exchanges": exchanges, "rows": rows }),
    )
}

/// What the event stream still has to send.
struct LiveStream {
    /// This stream's place among `[web] max_sse_clients`, freed when the stream ends.
    _slot: OwnedSemaphorePermit,
    telemetry: Telemetry,
    backlog: VecDeque<Event>,
    live: broadcast::Receiver<Event>,
    ticker: tokio::time::Interval,
    stopping: tokio::sync::watch::Receiver<bool>,
    last_id: u64,
    first_tick: bool,
}

fn tick_event(telemetry: &Telemetry) -> SseEvent {
    let snap = telemetry.snapshot(LIVE_WINDOW);
    SseEvent::default()
        .event("tick")
        .json_data(&snap)
        .unwrap_or_else(|_| SseEvent::default().event("tick").data("{}"))
}

fn feed_event(e: &Event) -> SseEvent {
    SseEvent::default()
        .event("event")
        .id(e.id.to_string())
        .json_data(e)
        .unwrap_or_else(|_| SseEvent::default().comment("unencodable event"))
}

/// Server-sent events: `tick` (a snapshot of every exchange, every `live_interval`) and
/// `event` (breaker changes, reloads, alerts, plugin loads, sink changes; with `id`, so a
/// reconnecting client sends `Last-Event-ID` and gets what it missed, if still kept).
/// With `max_sse_clients` streams open, 503 and a JSON error instead.
pub(super) async fn events(State(app): State<AppState>, headers: HeaderMap) -> Response {
    match Arc::clone(&app.event_streams.slots).try_acquire_owned() {
        Ok(slot) => live_stream(app, &headers, slot).into_response(),
        Err(_) => {
            app.telemetry
                .web_connection_refused(WebRefusal::MaxSseClients);
            tracing::debug!(
                max_sse_clients = app.event_streams.max,
                "event stream refused"
            );
            (
                [(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(SSE_RETRY_AFTER),
                )],
                json_no_store(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &serde_json::json!({
                        "error": "too many event-stream clients",
                        "max_sse_clients": app.event_streams.max,
                    }),
                ),
            )
                .into_response()
        }
    }
}

fn live_stream(
    app: AppState,
    headers: &HeaderMap,
    slot: OwnedSemaphorePermit,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let after: u64 = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    // Subscribe first so nothing published between the backlog read and now is lost;
    // duplicates are skipped by id.
    let live = app.telemetry.subscribe();
    let backlog: VecDeque<Event> = if after == 0 {
        let mut newest = app.telemetry.recent_events(STATUS_EVENTS);
        newest.reverse();
        newest.into()
    } else {
        app.telemetry.events_after(after).into()
    };
    let mut ticker = tokio::time::interval(app.live_interval.max(Duration::from_millis(100)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let state = LiveStream {
        _slot: slot,
        telemetry: app.telemetry.clone(),
        backlog,
        live,
        ticker,
        stopping: app.stopping.clone(),
        last_id: after,
        first_tick: true,
    };
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        if s.first_tick {
            s.first_tick = false;
            s.ticker.reset();
            let e = tick_event(&s.telemetry);
            return Some((Ok(e), s));
        }
        if let Some(e) = s.backlog.pop_front() {
            s.last_id = s.last_id.max(e.id);
            let sse = feed_event(&e);
            return Some((Ok(sse), s));
        }
        loop {
            if *s.stopping.borrow() {
                return None;
            }
            tokio::select! {
                _ = s.stopping.changed() => return None,
                _ = s.ticker.tick() => {
                    let e = tick_event(&s.telemetry);
                    return Some((Ok(e), s));
                }
                received = s.live.recv() => match received {
                    Ok(e) if e.id <= s.last_id => continue,
                    Ok(e) => {
                        s.last_id = e.id;
                        let sse = feed_event(&e);
                        return Some((Ok(sse), s));
                    }
                    // Fell behind: the client sees a gap in ids and refreshes /api/status.
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                },
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

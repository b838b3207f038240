//! The admin API under `/_admin` (outside every instance prefix): inject/list/clear faults,
//! read/reset request stats, list instances. JSON in, JSON out; errors are
//! `400 {"error":"..."}`.
//!
//! Owns: the admin routes' request parsing and response shapes.
//! Must not: be reachable below an instance prefix, or be counted in an instance's stats.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};

use crate::{config::InstanceConfig, faults::FaultSpec, server::App};

fn bad_request(msg: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "error": msg.into() })),
    )
        .into_response()
}

/// `POST /_admin/faults` with a [`FaultSpec`] body → `{"id": N}`.
pub(crate) async fn add_fault(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let spec: FaultSpec = match serde_json::from_slice(&body) {
        Ok(spec) => spec,
        Err(e) => return bad_request(format!("invalid fault: {e}")),
    };
    if spec.instance != "*" && app.instance(&spec.instance).is_none() {
        return bad_request(format!("unknown instance {:?}", spec.instance));
    }
    if let Err(e) = spec.fault.validate() {
        return bad_request(e);
    }
    tracing::info!(instance = %spec.instance, fault = spec.fault.kind(), path_prefix = ?spec.path_prefix, count = ?spec.count, "fault injected");
    let id = app.faults.add(spec);
    Json(serde_json::json!({ "id": id })).into_response()
}

/// `GET /_admin/faults` → the active faults with their remaining counts.
pub(crate) async fn list_faults(State(app): State<Arc<App>>) -> Response {
    Json(app.faults.list()).into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct ClearParams {
    instance: Option<String>,
    id: Option<u64>,
}

/// `DELETE /_admin/faults[?instance=NAME|?id=N]` → `{"cleared": N}`.
pub(crate) async fn clear_faults(
    State(app): State<Arc<App>>,
    Query(p): Query<ClearParams>,
) -> Response {
    let cleared = match (p.id, p.instance.as_deref()) {
        (Some(id), _) => usize::from(app.faults.remove(id)),
        (None, instance) => app.faults.clear(instance),
    };
    Json(serde_json::json!({ "cleared": cleared })).into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct StatsParams {
    instance: Option<String>,
    /// `false` leaves out the per-request log.
    recent: Option<bool>,
}

/// `GET /_admin/stats[?instance=NAME][&recent=false]` → [`crate::Stats`].
pub(crate) async fn stats(State(app): State<Arc<App>>, Query(p): Query<StatsParams>) -> Response {
    if let Some(name) = p.instance.as_deref() {
        if app.instance(name).is_none() {
            return bad_request(format!("unknown instance {name:?}"));
        }
    }
    Json(app.stats(p.instance.as_deref(), p.recent.unwrap_or(true))).into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct ResetParams {
    instance: Option<String>,
}

/// `POST /_admin/reset-stats[?instance=NAME]` → `{"reset": true}`.
pub(crate) async fn reset_stats(
    State(app): State<Arc<App>>,
    Query(p): Query<ResetParams>,
) -> Response {
    app.reset_stats(p.instance.as_deref());
    Json(serde_json::json!({ "reset": true })).into_response()
}

/// One row of `GET /_admin/instances`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceInfo {
    #[serde(flatten)]
    pub config: InstanceConfig,
    pub base_url: String,
    /// Instruments listed by the instruments endpoint.
    pub listed: usize,
    /// Of those, the ones shown by ticker/price endpoints.
    pub trading: usize,
}

/// `GET /_admin/instances` → `[InstanceInfo]`.
pub(crate) async fn instances(State(app): State<Arc<App>>) -> Response {
    let list: Vec<InstanceInfo> = app
        .instances
        .iter()
        .map(|i| InstanceInfo {
            config: i.venue.cfg.clone(),
            base_url: app.base_url(&i.venue.cfg.name),
            listed: i.venue.universe.instruments.len(),
            trading: i.venue.universe.trading().count(),
        })
        .collect();
    Json(list).into_response()
}

//! Liveness and readiness probes.

use crate::app::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

/// `GET /health/live`: the process answers.
pub async fn live() -> (StatusCode, Json<Value>) {
    (StatusCode::OK, Json(json!({"status": "live"})))
}

/// `GET /health/ready`: migrations ran and the database answers.
pub async fn ready(State(app): State<Arc<App>>) -> (StatusCode, Json<Value>) {
    if !app.is_ready() {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "starting"})));
    }
    if app.store.pool.ping().await {
        (StatusCode::OK, Json(json!({"status": "ready", "backend": format!("{:?}", app.store.backend())})))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "database unreachable"})))
    }
}

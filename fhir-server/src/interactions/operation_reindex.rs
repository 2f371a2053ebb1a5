//! `[base]/$reindex`: the progress of background reindexing (GET) and a full reindex on request
//! (POST). A job is created whenever a SearchParameter is added, changed or removed; its
//! parameters answer 503 "not ready" until it finishes.

use crate::access::{Access, Permission};
use crate::app::App;
use crate::rest::{self, format};
use crate::store::indexing::Job;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use std::sync::Arc;

/// One job as a `job` parameter with parts.
fn job_parameter(j: &Job) -> Value {
    let mut parts = vec![
        json!({"name": "id", "valueString": j.id.to_string()}),
        json!({"name": "status", "valueCode": if j.finished_at.is_some() { "completed" } else { "in-progress" }}),
        json!({"name": "done", "valueInteger": j.done.min(i32::MAX as i64)}),
        json!({"name": "total", "valueInteger": j.total.min(i32::MAX as i64)}),
        json!({"name": "created", "valueInstant": crate::clock::fhir_instant(j.created_at)}),
    ];
    if let Some(f) = j.finished_at {
        parts.push(json!({"name": "finished", "valueInstant": crate::clock::fhir_instant(f)}));
    }
    let params = j.param_pairs();
    if params.is_empty() {
        parts.push(json!({"name": "parameter", "valueString": "*"}));
    }
    for (t, c) in params {
        parts.push(json!({"name": "parameter", "valueString": format!("{t}.{c}")}));
    }
    json!({"name": "job", "part": parts})
}

/// `GET [base]/$reindex`: every job, newest first. Its counts cover every stored resource, so it
/// needs read of every resource.
pub async fn status(State(app): State<Arc<App>>, access: Access, RawQuery(q): RawQuery, headers: HeaderMap) -> Response {
    rest::respond(
        async {
            access.require_everything(&app, Permission::Read, "GET $reindex")?;
            let params = rest::query_pairs(&q);
            rest::only_params(&params, &["_format", "_pretty"])?;
            let render = format::negotiate(&headers, &params)?;
            let jobs = app.store.indexing.jobs().await?;
            let body = json!({"resourceType": "Parameters", "parameter": jobs.iter().map(job_parameter).collect::<Vec<_>>()});
            Ok(format::stored_response(StatusCode::OK, body.to_string(), render))
        }
        .await,
    )
}

/// `POST [base]/$reindex`: reindexes every stored resource in the background; 202 with the job.
/// It rewrites what every resource is found by, so it needs update of every resource.
pub async fn start(State(app): State<Arc<App>>, access: Access, RawQuery(q): RawQuery, headers: HeaderMap) -> Response {
    rest::respond(
        async {
            access.require_everything(&app, Permission::Update, "$reindex")?;
            let params = rest::query_pairs(&q);
            rest::only_params(&params, &["_format", "_pretty"])?;
            let render = format::negotiate(&headers, &params)?;
            let job = app.store.indexing.reindex_everything().await?;
            let body = json!({"resourceType": "Parameters", "parameter": [job_parameter(&job)]});
            let mut r = format::stored_response(StatusCode::ACCEPTED, body.to_string(), render);
            if let Ok(v) = format!("{}/$reindex", app.base).parse() {
                r.headers_mut().insert("content-location", v);
            }
            Ok(r)
        }
        .await,
    )
}

//! HTTP surface: routing, request decoding and response headers.

pub mod format;
pub mod subset;

use crate::app::App;
use crate::clock;
use crate::error::{FhirError, FhirResult};
use crate::interactions::{self, write::Written};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use format::{Render, Return};
use std::sync::Arc;

/// Shared state handle.
pub type State = Arc<App>;

/// Query parameters, percent-decoded, in order.
pub fn query_pairs(raw: &Option<String>) -> Vec<(String, String)> {
    raw.as_deref().map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
}

/// Refuses parameters an interaction does not understand (strict handling is our default).
pub fn only_params(params: &[(String, String)], allowed: &[&str]) -> FhirResult<()> {
    for (k, _) in params {
        if !allowed.contains(&k.as_str()) {
            return Err(FhirError::bad_request(format!("parameter '{k}' is not supported by this interaction")).at(k.clone()));
        }
    }
    Ok(())
}

/// The parameters every interaction accepts.
pub const FORMAT_PARAMS: [&str; 2] = ["_format", "_pretty"];

/// Sets ETag / Last-Modified / Location headers for a version.
pub fn version_headers(r: &mut Response, base: &str, res_type: &str, id: &str, version: i64, last_updated: i64, location: bool) {
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("W/\"{version}\"")) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&clock::http_date(last_updated)) {
        h.insert(header::LAST_MODIFIED, v);
    }
    if location {
        if let Ok(v) = HeaderValue::from_str(&format!("{base}/{res_type}/{id}/_history/{version}")) {
            h.insert(header::LOCATION, v);
        }
    }
}

/// The response to a successful write, shaped by `Prefer: return`.
pub fn written_response(app: &App, w: &Written, headers: &HeaderMap, render: Render) -> Response {
    let mut r = match format::prefer_return(headers) {
        Return::Minimal => {
            let mut r = Response::new(axum::body::Body::empty());
            *r.status_mut() = w.status;
            r
        }
        Return::OperationOutcome => {
            let msg = match w.status {
                StatusCode::CREATED => format!("created {}", w.location()),
                _ => format!("updated {}", w.location()),
            };
            format::json_response(w.status, &crate::error::info_outcome(msg), render.pretty)
        }
        Return::Representation => format::stored_response(w.status, w.content.clone().unwrap_or_default(), render),
    };
    version_headers(&mut r, &app.base, &w.res_type, &w.id, w.version, w.last_updated, true);
    r
}

/// Turns a handler result into a response.
pub fn respond(r: FhirResult<Response>) -> Response {
    r.unwrap_or_else(axum::response::IntoResponse::into_response)
}

/// Parses an optional `If-Match` header.
pub fn if_match(headers: &HeaderMap) -> FhirResult<Option<i64>> {
    match headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) {
        None => Ok(None),
        Some(v) => interactions::write::parse_etag(v).map(Some),
    }
}

/// Largest request body accepted (transaction Bundles can be large).
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Turns any error response not produced by our handlers (axum's extractor rejections, body limit)
/// into an OperationOutcome with the same status, so clients always get FHIR errors.
async fn ensure_outcome(r: Response) -> Response {
    let status = r.status();
    let plain = r.headers().get(header::CONTENT_TYPE).map(|v| v.as_bytes().starts_with(b"text/plain")).unwrap_or(true);
    if !(status.is_client_error() || status.is_server_error()) || !plain {
        return r;
    }
    let text = axum::body::to_bytes(r.into_body(), 64 * 1024).await.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "too-costly",
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::METHOD_NOT_ALLOWED | StatusCode::UNSUPPORTED_MEDIA_TYPE => "not-supported",
        s if s.is_server_error() => "exception",
        _ => "invalid",
    };
    let msg = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_string() } else { text };
    axum::response::IntoResponse::into_response(FhirError::new(status, code, msg))
}

async fn fallback() -> Response {
    respond(Err(FhirError::not_found("no such endpoint")))
}

/// The full HTTP router: FHIR API under `base_path`, health probes at the root.
pub fn router(state: State, base_path: &str) -> Router {
    use interactions::*;
    let api = Router::new()
        .route("/", post(bundle::handle).get(search::system_get))
        .route("/_search", post(search::system_post))
        .route("/metadata", get(capabilities::handle))
        .route("/_history", get(history::system))
        .route("/$reindex", get(operation_reindex::status).post(operation_reindex::start))
        .route("/{res_type}", post(create::handle).get(search::get).put(update::conditional).delete(delete::conditional).patch(patch::conditional))
        .route("/{res_type}/_search", post(search::post))
        .route("/{res_type}/_history", get(history::type_level))
        .route("/{res_type}/{id}", get(read::read).put(update::handle).delete(delete::handle).patch(patch::handle))
        .route("/{res_type}/{id}/_history", get(history::instance))
        .route("/{compartment}/{id}/{res_type}", get(search::compartment))
        .route("/{res_type}/{id}/_history/{vid}", get(read::vread))
        .fallback(fallback)
        .method_not_allowed_fallback(|| async { respond(Err(FhirError::new(StatusCode::METHOD_NOT_ALLOWED, "not-supported", "method not allowed here"))) });
    let base_path = base_path.trim_end_matches('/');
    let root = Router::new().route("/health/live", get(health::live)).route("/health/ready", get(health::ready));
    let app = if base_path.is_empty() { root.merge(api) } else { root.nest(base_path, api) };
    app.fallback(fallback)
        .layer(axum::middleware::map_response(ensure_outcome))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

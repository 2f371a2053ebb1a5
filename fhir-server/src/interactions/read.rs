//! read and vread, with `If-None-Match`, `If-Modified-Since`, `_summary` and `_elements`.

use super::write;
use crate::access::{Access, Permission};
use crate::app::App;
use crate::clock;
use crate::error::{FhirError, FhirResult};
use crate::rest::{self, format, subset};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;
use std::sync::Arc;

const READ_PARAMS: [&str; 4] = ["_format", "_pretty", "_summary", "_elements"];

/// Renders a stored resource, subsetting only when asked (the common case sends stored bytes as-is).
fn render_resource(text: String, params: &[(String, String)], render: format::Render) -> FhirResult<Response> {
    match subset::from_params(params)? {
        None | Some(subset::Subset::Count) => Ok(format::stored_response(StatusCode::OK, text, render)),
        Some(s) => {
            let mut v: Value = serde_json::from_str(&text).map_err(FhirError::internal)?;
            subset::apply(&mut v, &s);
            Ok(format::json_response(StatusCode::OK, &v, render.pretty))
        }
    }
}

fn not_modified(res_version: i64, last_updated: i64, headers: &HeaderMap) -> FhirResult<bool> {
    if let Some(v) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        if v.trim() == "*" {
            return Ok(true);
        }
        return Ok(v.split(',').map(write::parse_etag).any(|e| matches!(e, Ok(n) if n == res_version)));
    }
    if let Some(v) = headers.get(header::IF_MODIFIED_SINCE).and_then(|v| v.to_str().ok()) {
        let since = clock::parse_http_date(v).ok_or_else(|| FhirError::bad_request(format!("malformed If-Modified-Since '{v}'")))?;
        // HTTP dates have second resolution.
        return Ok(last_updated / 1_000_000 <= since / 1_000_000);
    }
    Ok(false)
}

fn gone(base: &str, res_type: &str, id: &str, version: i64, last_updated: i64) -> Response {
    let mut r = axum::response::IntoResponse::into_response(FhirError::new(StatusCode::GONE, "deleted", format!("{res_type}/{id} has been deleted")));
    rest::version_headers(&mut r, base, res_type, id, version, last_updated, false);
    r
}

/// `GET [type]/[id]`.
pub async fn read(State(app): State<Arc<App>>, access: Access, Path((res_type, id)): Path<(String, String)>, RawQuery(q): RawQuery, headers: HeaderMap) -> Response {
    rest::respond(
        async {
            let params = rest::query_pairs(&q);
            rest::only_params(&params, &READ_PARAMS)?;
            let render = format::negotiate(&headers, &params)?;
            write::check_type(&res_type)?;
            let restriction = access.restriction(&app, Permission::Read, &res_type)?;
            let cur = app.store.read(&res_type, &id).await?;
            if let Some(r) = &restriction {
                r.require_visible(&app, &id, cur.as_ref()).await?;
            }
            let cur = cur.ok_or_else(|| FhirError::not_found(format!("{res_type}/{id} is not known")))?;
            if cur.deleted {
                return Ok(gone(&app.base, &res_type, &id, cur.version, cur.last_updated));
            }
            let mut r = if not_modified(cur.version, cur.last_updated, &headers)? {
                let mut r = Response::new(axum::body::Body::empty());
                *r.status_mut() = StatusCode::NOT_MODIFIED;
                r
            } else {
                render_resource(cur.content.unwrap_or_default(), &params, render)?
            };
            rest::version_headers(&mut r, &app.base, &res_type, &id, cur.version, cur.last_updated, false);
            Ok(r)
        }
        .await,
    )
}

/// `GET [type]/[id]/_history/[vid]`.
pub async fn vread(State(app): State<Arc<App>>, access: Access, Path((res_type, id, vid)): Path<(String, String, String)>, RawQuery(q): RawQuery, headers: HeaderMap) -> Response {
    rest::respond(
        async {
            let params = rest::query_pairs(&q);
            rest::only_params(&params, &READ_PARAMS)?;
            let render = format::negotiate(&headers, &params)?;
            write::check_type(&res_type)?;
            let restriction = access.restriction(&app, Permission::Read, &res_type)?;
            // One message whether the version is absent or unseen.
            let unknown = || FhirError::not_found(format!("{res_type}/{id}/_history/{vid} is not known"));
            if let Some(r) = &restriction {
                r.require_visible(&app, &id, app.store.read(&res_type, &id).await?.as_ref()).await.map_err(|_| unknown())?;
            }
            let version: i64 = vid.parse().map_err(|_| FhirError::not_found(format!("version '{vid}' is not known")))?;
            let v = app.store.vread(&res_type, &id, version).await?.ok_or_else(unknown)?;
            if restriction.is_some_and(|r| !r.version_visible(&app.registry(), v.content.as_deref())) {
                return Err(unknown());
            }
            if v.deleted {
                return Ok(gone(&app.base, &res_type, &id, v.version, v.last_updated));
            }
            let mut r = render_resource(v.content.unwrap_or_default(), &params, render)?;
            rest::version_headers(&mut r, &app.base, &res_type, &id, v.version, v.last_updated, false);
            Ok(r)
        }
        .await,
    )
}

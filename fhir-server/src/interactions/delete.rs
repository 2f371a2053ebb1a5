//! delete and conditional delete (several matches are all deleted: conditionalDelete = multiple).

use super::write;
use crate::access::{Access, Permission};
use crate::app::App;
use crate::error::{info_outcome, FhirError, FhirResult};
use crate::rest::{self, format};
use crate::store::Tx;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::sync::Arc;

/// Most resources one conditional delete may remove; more is refused rather than half-done.
pub const MAX_CONDITIONAL_DELETE: i64 = 1000;

/// Deletes every match of `query` among what the token may delete; returns how many were deleted.
pub async fn conditional_delete(app: &App, access: &Access, tx: &mut Tx, res_type: &str, query: &str) -> FhirResult<usize> {
    let ids = write::find_matches(app, access, Permission::Delete, tx, res_type, query, MAX_CONDITIONAL_DELETE + 1).await?;
    if ids.len() as i64 > MAX_CONDITIONAL_DELETE {
        return Err(FhirError::new(StatusCode::PRECONDITION_FAILED, "too-costly", format!("more than {MAX_CONDITIONAL_DELETE} {res_type} match '{query}'")));
    }
    let mut n = 0;
    for id in &ids {
        if write::delete(app, access, tx, res_type, id).await?.is_some() {
            n += 1;
        }
    }
    Ok(n)
}

fn deleted_response(msg: String, headers: &HeaderMap, render: format::Render) -> Response {
    match format::prefer_return_opt(headers) {
        Some(format::Return::OperationOutcome) | Some(format::Return::Representation) => format::json_response(StatusCode::OK, &info_outcome(msg), render.pretty),
        _ => {
            let mut r = Response::new(axum::body::Body::empty());
            *r.status_mut() = StatusCode::NO_CONTENT;
            r
        }
    }
}

/// `DELETE [type]/[id]`.
pub async fn handle(State(app): State<Arc<App>>, access: Access, Path((res_type, id)): Path<(String, String)>, RawQuery(q): RawQuery, headers: HeaderMap) -> Response {
    rest::respond(
        async {
            let params = rest::query_pairs(&q);
            rest::only_params(&params, &rest::FORMAT_PARAMS)?;
            let render = format::negotiate(&headers, &params)?;
            write::check_type(&res_type)?;
            access.require(&app, Permission::Delete, &res_type)?;
            let mut tx = app.store.begin().await?;
            let w = write::delete(&app, &access, &mut tx, &res_type, &id).await?;
            tx.commit().await?;
            let mut r = deleted_response(
                if w.is_some() { format!("deleted {res_type}/{id}") } else { format!("{res_type}/{id} did not exist or was already deleted") },
                &headers,
                render,
            );
            if let Some(w) = w {
                rest::version_headers(&mut r, &app.base, &res_type, &id, w.version, w.last_updated, false);
            }
            Ok(r)
        }
        .await,
    )
}

/// `DELETE [type]?criteria`.
pub async fn conditional(State(app): State<Arc<App>>, access: Access, Path(res_type): Path<String>, RawQuery(q): RawQuery, headers: HeaderMap) -> Response {
    rest::respond(
        async {
            let render = format::negotiate(&headers, &rest::query_pairs(&q))?;
            write::check_type(&res_type)?;
            access.require(&app, Permission::Delete, &res_type)?;
            let mut tx = app.store.begin().await?;
            let n = conditional_delete(&app, &access, &mut tx, &res_type, q.as_deref().unwrap_or("")).await?;
            tx.commit().await?;
            Ok(deleted_response(format!("deleted {n} {res_type}"), &headers, render))
        }
        .await,
    )
}

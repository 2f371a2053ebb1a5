//! create, with conditional create (`If-None-Exist`).

use super::write::{self, Written};
use crate::access::{Access, Permission};
use crate::app::App;
use crate::error::{FhirError, FhirResult};
use crate::rest::{self, format};
use crate::store::Tx;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;
use std::sync::Arc;

/// Creates a resource, or with `if_none_exist` returns the single existing match (200) instead;
/// the matches are among what the token may search.
pub async fn create(app: &App, access: &Access, tx: &mut Tx, res_type: &str, body: Value, if_none_exist: Option<&str>) -> FhirResult<Written> {
    access.require(app, Permission::Create, res_type)?;
    if let Some(query) = if_none_exist {
        let ids = write::find_matches(app, access, Permission::Search, tx, res_type, query, 2).await?;
        match ids.as_slice() {
            [] => {}
            [id] => {
                let cur = write::current_in(app, tx, res_type, id).await?;
                return Ok(Written { status: StatusCode::OK, res_type: res_type.into(), id: id.clone(), version: cur.version, last_updated: cur.last_updated, content: cur.content });
            }
            _ => return Err(FhirError::new(StatusCode::PRECONDITION_FAILED, "multiple-matches", format!("If-None-Exist '{query}' matches more than one {res_type}"))),
        }
    }
    write::create_new(app, access, Permission::Create, tx, res_type, body).await
}

/// `POST [type]`.
pub async fn handle(State(app): State<Arc<App>>, access: Access, Path(res_type): Path<String>, RawQuery(q): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    rest::respond(
        async {
            let params = rest::query_pairs(&q);
            rest::only_params(&params, &rest::FORMAT_PARAMS)?;
            let render = format::negotiate(&headers, &params)?;
            write::check_type(&res_type)?;
            let restriction = access.restriction(&app, Permission::Create, &res_type)?;
            format::check_json_body(&headers)?;
            let body = format::parse_body(&body)?;
            let ine = headers.get("if-none-exist").map(|v| v.to_str().map(str::to_string)).transpose().map_err(|_| FhirError::bad_request("If-None-Exist is not valid text"))?;
            // A plain create needs nothing from the database to be checked and indexed, so that
            // work happens before the transaction (SQLite has one writer; keep its hold short).
            let w = match ine {
                Some(q) => {
                    let mut tx = app.store.begin().await?;
                    let w = create(&app, &access, &mut tx, &res_type, body, Some(&q)).await?;
                    tx.commit().await?;
                    w
                }
                None => {
                    let p = write::prepare(&app.registry(), &res_type, &uuid::Uuid::new_v4().to_string(), None, body, "POST")?;
                    let mut tx = app.store.begin().await?;
                    let w = write::commit(&app, &mut tx, vec![p]).await?.remove(0);
                    if let Some(r) = &restriction {
                        r.require_written(&app, &mut tx, Permission::Create, std::slice::from_ref(&w.id)).await?;
                    }
                    tx.commit().await?;
                    w
                }
            };
            Ok(rest::written_response(&app, &w, &headers, render))
        }
        .await,
    )
}

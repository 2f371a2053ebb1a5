//! update (including update-as-create) and conditional update.

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

/// Conditional update: no match creates (under the body's id if it has one), one match is
/// updated, several are refused with 412; matches are among what the token may update.
pub async fn conditional_update(app: &App, access: &Access, tx: &mut Tx, res_type: &str, query: &str, body: Value, if_match: Option<i64>) -> FhirResult<Written> {
    let ids = write::find_matches(app, access, Permission::Update, tx, res_type, query, 2).await?;
    let body_id = body.get("id").and_then(Value::as_str).map(str::to_string);
    match ids.as_slice() {
        [] => match body_id {
            Some(id) => write::update(app, access, tx, res_type, &id, body, if_match, "PUT").await,
            None => write::create_new(app, access, Permission::Update, tx, res_type, body).await,
        },
        [id] => {
            if let Some(b) = &body_id {
                if b != id {
                    return Err(FhirError::bad_request(format!("resource id '{b}' differs from the matched {res_type}/{id}")).at(format!("{res_type}.id")));
                }
            }
            let mut body = body;
            body["id"] = Value::String(id.clone());
            write::update(app, access, tx, res_type, id, body, if_match, "PUT").await
        }
        _ => Err(FhirError::new(StatusCode::PRECONDITION_FAILED, "multiple-matches", format!("more than one {res_type} matches '{query}'"))),
    }
}

#[allow(clippy::too_many_arguments)] // the two handlers' parts, passed through once
async fn run(app: &App, access: &Access, res_type: &str, id: Option<&str>, query: &str, headers: &HeaderMap, body: &[u8], params: &[(String, String)]) -> FhirResult<Response> {
    let render = format::negotiate(headers, params)?;
    write::check_type(res_type)?;
    access.require(app, Permission::Update, res_type)?;
    format::check_json_body(headers)?;
    let body = format::parse_body(body)?;
    let im = rest::if_match(headers)?;
    let mut tx = app.store.begin().await?;
    let w = match id {
        Some(id) => write::update(app, access, &mut tx, res_type, id, body, im, "PUT").await?,
        None => conditional_update(app, access, &mut tx, res_type, query, body, im).await?,
    };
    tx.commit().await?;
    Ok(rest::written_response(app, &w, headers, render))
}

/// `PUT [type]/[id]`.
pub async fn handle(State(app): State<Arc<App>>, access: Access, Path((res_type, id)): Path<(String, String)>, RawQuery(q): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    let params = rest::query_pairs(&q);
    rest::respond(match rest::only_params(&params, &rest::FORMAT_PARAMS) {
        Err(e) => Err(e),
        Ok(()) => run(&app, &access, &res_type, Some(&id), "", &headers, &body, &params).await,
    })
}

/// `PUT [type]?criteria`.
pub async fn conditional(State(app): State<Arc<App>>, access: Access, Path(res_type): Path<String>, RawQuery(q): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    let params = rest::query_pairs(&q);
    rest::respond(run(&app, &access, &res_type, None, q.as_deref().unwrap_or(""), &headers, &body, &params).await)
}

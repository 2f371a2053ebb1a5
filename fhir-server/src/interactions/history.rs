//! history at instance, type and system level, with `_since`, `_at`, `_count` and keyset paging.

use super::bundle_text::{self, Entry};
use super::write;
use crate::access::{Access, Permission};
use crate::app::App;
use crate::clock;
use crate::error::{FhirError, FhirResult};
use crate::rest::{self, format};
use crate::store::HistoryQuery;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;
use std::sync::Arc;

/// Page size when `_count` is absent, and the most we return in one page.
pub const DEFAULT_COUNT: i64 = 50;
pub const MAX_COUNT: i64 = 1000;

const PARAMS: [&str; 6] = ["_format", "_pretty", "_count", "_since", "_at", "_cursor"];

/// Reads `_count` (bounded by [`MAX_COUNT`]).
pub fn parse_count(params: &[(String, String)]) -> FhirResult<i64> {
    match params.iter().find(|(k, _)| k == "_count") {
        None => Ok(DEFAULT_COUNT),
        Some((_, v)) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| n.min(MAX_COUNT))
            .ok_or_else(|| FhirError::bad_request(format!("_count must be a non-negative integer, not '{v}'")).at("_count")),
    }
}

fn parse_instant(name: &str, v: &str) -> FhirResult<(i64, i64)> {
    search::extract::date_range(v).ok_or_else(|| FhirError::bad_request(format!("{name} must be a FHIR date/dateTime/instant, not '{v}'")).at(name.to_string()))
}

async fn history(app: &App, access: &Access, res_type: Option<String>, res_id: Option<String>, raw: Option<String>, headers: HeaderMap) -> FhirResult<Response> {
    let params = rest::query_pairs(&raw);
    rest::only_params(&params, &PARAMS)?;
    let render = format::negotiate(&headers, &params)?;
    if let Some(t) = &res_type {
        write::check_type(t)?;
    }
    let count = parse_count(&params)?;
    let mut q = HistoryQuery { res_type: res_type.clone(), res_id: res_id.clone(), limit: count + 1, ..Default::default() };
    for (k, v) in &params {
        match k.as_str() {
            "_since" => {
                if v.len() < 20 {
                    return Err(FhirError::bad_request(format!("_since must be an instant (with time and zone), not '{v}'")).at("_since"));
                }
                q.since = Some(parse_instant("_since", v)?.0)
            }
            "_at" => q.at = Some(parse_instant("_at", v)?),
            "_cursor" => q.before_seq = Some(v.parse().map_err(|_| FhirError::bad_request("malformed _cursor").at("_cursor"))?),
            _ => {}
        }
    }
    // Which versions the token may see: of an instance it may read, or of resources it may search.
    let mut restricted = std::collections::HashMap::new();
    if let (Some(t), Some(i)) = (&res_type, &res_id) {
        let restriction = access.restriction(app, Permission::Read, t)?;
        let cur = app.store.read(t, i).await?;
        if let Some(r) = restriction {
            r.require_visible(app, i, cur.as_ref()).await?;
            restricted.insert(t.clone(), r);
        }
        if cur.is_none() {
            return Err(FhirError::not_found(format!("{t}/{i} is not known")));
        }
    } else if !access.is_open() {
        // Every type, so that the scope's "all of them" means all of them; it leaves out the others.
        let types = match &res_type {
            Some(t) => vec![t.clone()],
            None => app.registry().resource_types().to_vec(),
        };
        let (visible, by_type) = access.history_scope(app, &types)?;
        q.visible = visible;
        restricted = by_type;
    }
    let mut rows = app.store.history(&q).await?;
    let more = rows.len() as i64 > count;
    rows.truncate(count as usize);
    // The page's extent (and its next link) is the rows read; a version the grant hides leaves a gap.
    let next_seq = rows.last().map(|v| v.seq);
    if !restricted.is_empty() {
        let reg = app.registry();
        rows.retain(|v| restricted.get(&v.res_type).is_none_or(|r| r.version_visible(&reg, v.content.as_deref())));
    }
    let path = match (&res_type, &res_id) {
        (Some(t), Some(i)) => format!("{}/{t}/{i}/_history", app.base),
        (Some(t), None) => format!("{}/{t}/_history", app.base),
        _ => format!("{}/_history", app.base),
    };
    let mut links = vec![bundle_text::link("self", &bundle_text::page_url(&path, &params, q.before_seq.map(|s| s.to_string()).as_deref()))];
    if more {
        if let Some(last) = next_seq {
            links.push(bundle_text::link("next", &bundle_text::page_url(&path, &params, Some(&last.to_string()))));
        }
    }
    let entries: Vec<Entry> = rows
        .into_iter()
        .map(|v| {
            let (method, url, status) = match v.method.as_str() {
                "DELETE" => ("DELETE", format!("{}/{}", v.res_type, v.res_id), "204"),
                "POST" => ("POST", v.res_type.clone(), "201"),
                m => (if m == "PATCH" { "PATCH" } else { "PUT" }, format!("{}/{}", v.res_type, v.res_id), if v.version == 1 { "201" } else { "200" }),
            };
            Entry {
                fields: json!({
                    "fullUrl": format!("{}/{}/{}", app.base, v.res_type, v.res_id),
                    "request": {"method": method, "url": url},
                    "response": {"status": status, "etag": format!("W/\"{}\"", v.version), "lastModified": clock::fhir_instant(v.last_updated)}
                })
                .into(),
                resource: v.content,
            }
        })
        .collect();
    let text = bundle_text::bundle(json!({"resourceType": "Bundle", "type": "history", "link": links}), &entries);
    Ok(format::stored_response(StatusCode::OK, text, render))
}

/// `GET [type]/[id]/_history`.
pub async fn instance(State(app): State<Arc<App>>, access: Access, Path((t, i)): Path<(String, String)>, RawQuery(q): RawQuery, h: HeaderMap) -> Response {
    rest::respond(history(&app, &access, Some(t), Some(i), q, h).await)
}

/// `GET [type]/_history`.
pub async fn type_level(State(app): State<Arc<App>>, access: Access, Path(t): Path<String>, RawQuery(q): RawQuery, h: HeaderMap) -> Response {
    rest::respond(history(&app, &access, Some(t), None, q, h).await)
}

/// `GET /_history`.
pub async fn system(State(app): State<Arc<App>>, access: Access, RawQuery(q): RawQuery, h: HeaderMap) -> Response {
    rest::respond(history(&app, &access, None, None, q, h).await)
}

//! Type-level search (GET and POST `_search`), strict: what the search engine does not understand is refused.

use super::bundle_text::{self, Entry};
use super::history::parse_count;
use super::write;
use crate::app::App;
use crate::error::{FhirError, FhirResult};
use crate::rest::{self, format, subset};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use std::sync::Arc;

/// Result parameters this search understands; the rest are refused until implemented.
const RESULT_PARAMS: [&str; 7] = ["_format", "_pretty", "_count", "_cursor", "_total", "_summary", "_elements"];

async fn run(app: &App, res_type: &str, params: Vec<(String, String)>, headers: &HeaderMap) -> FhirResult<Response> {
    let render = format::negotiate(headers, &params)?;
    write::check_type(res_type)?;
    let reg = search::Registry::r4();
    let q = reg.parse_query(res_type, &params).map_err(|e| FhirError::bad_request(e.message).at(e.param))?;
    let mut cursor = None;
    let mut total_mode = "none";
    for (k, v) in &q.control {
        if !RESULT_PARAMS.contains(&k.as_str()) {
            return Err(FhirError::bad_request(format!("search result parameter '{k}' is not supported yet")).at(k.clone()));
        }
        match k.as_str() {
            "_cursor" => cursor = Some(v.parse::<i64>().map_err(|_| FhirError::bad_request("malformed _cursor").at("_cursor"))?),
            "_total" => {
                total_mode = match v.as_str() {
                    "none" | "estimate" | "accurate" => v,
                    _ => return Err(FhirError::bad_request(format!("_total must be none, estimate or accurate, not '{v}'")).at("_total")),
                }
            }
            _ => {}
        }
    }
    let count = parse_count(&q.control)?;
    let sub = subset::from_params(&q.control)?;
    let filter = q.to_sql(2);
    let only_count = sub == Some(subset::Subset::Count);
    let mut rows = if only_count { Vec::new() } else { app.store.search_page(res_type, &filter, cursor, count + 1).await? };
    let more = rows.len() as i64 > count;
    rows.truncate(count as usize);
    let total = if only_count || total_mode == "accurate" || total_mode == "estimate" {
        Some(app.store.search_count(res_type, &filter).await?)
    } else if cursor.is_none() && !more {
        Some(rows.len() as i64)
    } else {
        None
    };
    let path = format!("{}/{res_type}", app.base);
    let mut links = vec![bundle_text::link("self", &bundle_text::page_url(&path, &params, cursor))];
    if more {
        if let Some((rid, _, _)) = rows.last() {
            links.push(bundle_text::link("next", &bundle_text::page_url(&path, &params, Some(*rid))));
        }
    }
    let mut head = json!({"resourceType": "Bundle", "type": "searchset"});
    if let Some(t) = total {
        head["total"] = json!(t);
    }
    head["link"] = Value::Array(links);
    let mut entries = Vec::with_capacity(rows.len());
    for (_, id, text) in rows {
        let resource = match &sub {
            None | Some(subset::Subset::Count) => text,
            Some(s) => {
                let mut v: Value = serde_json::from_str(&text).map_err(FhirError::internal)?;
                subset::apply(&mut v, s);
                v.to_string()
            }
        };
        entries.push(Entry { fields: json!({"fullUrl": format!("{path}/{id}"), "search": {"mode": "match"}}), resource: Some(resource) });
    }
    Ok(format::stored_response(StatusCode::OK, bundle_text::bundle(head, &entries), render))
}

/// `GET [type]?params`.
pub async fn get(State(app): State<Arc<App>>, Path(res_type): Path<String>, RawQuery(q): RawQuery, headers: HeaderMap) -> Response {
    rest::respond(run(&app, &res_type, rest::query_pairs(&q), &headers).await)
}

/// `POST [type]/_search` with form-encoded parameters (URL parameters are merged in).
pub async fn post(State(app): State<Arc<App>>, Path(res_type): Path<String>, RawQuery(q): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    let ct = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !body.is_empty() && !ct.starts_with("application/x-www-form-urlencoded") {
        return rest::respond(Err(FhirError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "not-supported", "POST _search takes application/x-www-form-urlencoded parameters")));
    }
    let mut params = rest::query_pairs(&q);
    params.extend(form_urlencoded::parse(&body).into_owned());
    rest::respond(run(&app, &res_type, params, &headers).await)
}

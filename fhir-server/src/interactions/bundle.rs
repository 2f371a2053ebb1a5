//! batch and transaction Bundles (R4 http.html#transaction).
//! A transaction is one database transaction: every entry commits or none does. Entries run in the
//! spec's order (DELETE, POST, PUT/PATCH, GET); `urn:uuid:` and conditional references are rewritten
//! first; responses come back in request order. A batch runs each entry on its own.

use super::bundle_text::{self, Entry};
use super::{create, delete, patch, update, write};
use crate::access::{self, Access, Permission};
use crate::app::App;
use crate::clock;
use crate::error::{FhirError, FhirResult};
use crate::rest::{self, format};
use crate::store::Tx;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// One parsed `Bundle.entry.request`.
struct Request {
    index: usize,
    method: String,
    /// Resource type from the URL.
    res_type: String,
    /// `Type/id` target, if the URL names one.
    id: Option<String>,
    version: Option<i64>,
    /// Query string (conditional or search criteria), without `?`.
    query: Option<String>,
    if_none_exist: Option<String>,
    if_match: Option<i64>,
    full_url: Option<String>,
    resource: Option<Value>,
}

/// What one entry produced.
struct Outcome {
    status: StatusCode,
    location: Option<String>,
    etag: Option<String>,
    last_modified: Option<i64>,
    resource: Option<String>,
    outcome: Option<Value>,
    /// GET results always carry their resource, whatever `Prefer` says.
    is_read: bool,
}

impl Outcome {
    fn from_written(w: &write::Written) -> Self {
        Outcome { status: w.status, location: Some(w.location()), etag: Some(w.etag()), last_modified: Some(w.last_updated), resource: w.content.clone(), outcome: None, is_read: false }
    }
    fn from_error(e: &FhirError) -> Self {
        Outcome { status: e.status, location: None, etag: None, last_modified: None, resource: None, outcome: Some(e.outcome()), is_read: false }
    }
}

fn parse_request(app: &App, index: usize, entry: &Value) -> FhirResult<Request> {
    let at = |f: &str| format!("Bundle.entry[{index}].{f}");
    let req = entry.get("request").ok_or_else(|| FhirError::bad_request("entry has no request").at(at("request")))?;
    let method = req.get("method").and_then(Value::as_str).ok_or_else(|| FhirError::bad_request("request has no method").at(at("request.method")))?.to_string();
    if !matches!(method.as_str(), "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE") {
        return Err(FhirError::bad_request(format!("unknown request method '{method}'")).at(at("request.method")));
    }
    let raw_url = req.get("url").and_then(Value::as_str).ok_or_else(|| FhirError::bad_request("request has no url").at(at("request.url")))?;
    let url = raw_url.strip_prefix(&app.base).map(|u| u.trim_start_matches('/')).unwrap_or(raw_url);
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p, Some(q.to_string())),
        None => (url, None),
    };
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (res_type, id, version) = match segs.as_slice() {
        [t] => (t.to_string(), None, None),
        [t, i] => (t.to_string(), Some(i.to_string()), None),
        [t, i, "_history", v] => (t.to_string(), Some(i.to_string()), Some(v.parse::<i64>().map_err(|_| FhirError::bad_request(format!("bad version in '{raw_url}'")).at(at("request.url")))?)),
        _ => return Err(FhirError::bad_request(format!("unsupported request url '{raw_url}'")).at(at("request.url"))),
    };
    write::check_type(&res_type).map_err(|e| FhirError { status: StatusCode::BAD_REQUEST, ..e }.within(&at("request.url")))?;
    let if_match = match req.get("ifMatch").and_then(Value::as_str) {
        Some(v) => Some(write::parse_etag(v).map_err(|e| e.within(&at("request.ifMatch")))?),
        None => None,
    };
    let resource = entry.get("resource").cloned();
    if matches!(method.as_str(), "POST" | "PUT" | "PATCH") && resource.is_none() {
        return Err(FhirError::bad_request(format!("{method} entry has no resource")).at(at("resource")));
    }
    Ok(Request {
        index,
        method,
        res_type,
        id,
        version,
        query,
        if_none_exist: req.get("ifNoneExist").and_then(Value::as_str).map(str::to_string),
        if_match,
        full_url: entry.get("fullUrl").and_then(Value::as_str).map(str::to_string),
        resource,
    })
}

/// Replaces every `reference` found in `map` (fullUrl → `Type/id`).
fn rewrite_references(v: &mut Value, map: &HashMap<String, String>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o.iter_mut() {
                if k == "reference" {
                    if let Value::String(s) = child {
                        if let Some(new) = map.get(s.as_str()) {
                            *s = new.clone();
                        }
                        continue;
                    }
                }
                rewrite_references(child, map);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| rewrite_references(c, map)),
        _ => {}
    }
}

/// Collects conditional references (`Type?criteria`) used anywhere in a resource.
fn conditional_references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                match (k.as_str(), child) {
                    ("reference", Value::String(s)) if s.contains('?') && !s.starts_with("urn:") && !s.starts_with("http") => out.push(s.clone()),
                    _ => conditional_references(child, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|c| conditional_references(c, out)),
        _ => {}
    }
}

/// Decodes the patch a PATCH entry carries: a Binary holding JSON Patch, or a FHIRPath Patch Parameters.
fn patch_document(r: &Request) -> FhirResult<patch::PatchDoc> {
    let res = r.resource.as_ref().ok_or_else(|| FhirError::bad_request("PATCH entry has no resource"))?;
    match res.get("resourceType").and_then(Value::as_str) {
        Some("Binary") => {
            let ct = res.get("contentType").and_then(Value::as_str).unwrap_or("");
            if !ct.starts_with("application/json-patch+json") {
                return Err(FhirError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "not-supported", format!("PATCH Binary must be application/json-patch+json, not '{ct}'")).at("resource.contentType"));
            }
            let data = res.get("data").and_then(Value::as_str).unwrap_or("");
            let bytes = base64::engine::general_purpose::STANDARD.decode(data).map_err(|e| FhirError::bad_request(format!("Binary.data is not base64: {e}")).at("resource.data"))?;
            let doc: Value = serde_json::from_slice(&bytes).map_err(|e| FhirError::bad_request(format!("patch is not JSON: {e}")).at("resource.data"))?;
            if !doc.is_array() {
                return Err(FhirError::bad_request("a JSON Patch document is an array of operations").at("resource.data"));
            }
            Ok(patch::PatchDoc::Json(doc))
        }
        Some("Parameters") => Ok(patch::PatchDoc::FhirPath(res.clone())),
        _ => Err(FhirError::bad_request("PATCH entry resource must be a Binary holding a JSON Patch or a FHIRPath Patch Parameters").at("resource")),
    }
}

/// What the token must be allowed on the entry's type for it to run at all (403 otherwise).
fn require_entry(app: &App, access: &Access, r: &Request) -> FhirResult<()> {
    access.require(app, access::permission_of(&r.method, r.id.is_some()), &r.res_type)?;
    if r.method == "POST" && r.if_none_exist.is_some() {
        access.require(app, Permission::Search, &r.res_type)?;
    }
    Ok(())
}

/// Runs one entry (after references were rewritten) inside `tx`.
async fn run_entry(app: &App, access: &Access, tx: &mut Tx, r: &Request) -> FhirResult<Outcome> {
    match r.method.as_str() {
        "POST" => {
            let body = r.resource.clone().unwrap_or(Value::Null);
            let w = create::create(app, access, tx, &r.res_type, body, r.if_none_exist.as_deref()).await?;
            Ok(Outcome::from_written(&w))
        }
        "PUT" => {
            let body = r.resource.clone().unwrap_or(Value::Null);
            let w = match (&r.id, &r.query) {
                (Some(id), _) => write::update(app, access, tx, &r.res_type, id, body, r.if_match, "PUT").await?,
                (None, Some(q)) => update::conditional_update(app, access, tx, &r.res_type, q, body, r.if_match).await?,
                (None, None) => return Err(FhirError::bad_request("PUT needs Type/id or search criteria").at("request.url")),
            };
            Ok(Outcome::from_written(&w))
        }
        "PATCH" => {
            let doc = patch_document(r)?;
            let w = match (&r.id, &r.query) {
                (Some(id), _) => patch::patch(app, access, tx, &r.res_type, id, &doc, r.if_match).await?,
                (None, Some(q)) => patch::conditional_patch(app, access, tx, &r.res_type, q, &doc, r.if_match).await?,
                (None, None) => return Err(FhirError::bad_request("PATCH needs Type/id or search criteria").at("request.url")),
            };
            Ok(Outcome::from_written(&w))
        }
        "DELETE" => {
            let status = match (&r.id, &r.query) {
                (Some(id), _) => {
                    let w = write::delete(app, access, tx, &r.res_type, id).await?;
                    return Ok(Outcome {
                        status: StatusCode::NO_CONTENT,
                        location: None,
                        etag: w.as_ref().map(|w| w.etag()),
                        last_modified: w.map(|w| w.last_updated),
                        resource: None,
                        outcome: None,
                        is_read: false,
                    });
                }
                (None, Some(q)) => {
                    delete::conditional_delete(app, access, tx, &r.res_type, q).await?;
                    StatusCode::NO_CONTENT
                }
                (None, None) => return Err(FhirError::bad_request("DELETE needs Type/id or search criteria").at("request.url")),
            };
            Ok(Outcome { status, location: None, etag: None, last_modified: None, resource: None, outcome: None, is_read: false })
        }
        _ => run_get(app, access, tx, r).await,
    }
}

async fn run_get(app: &App, access: &Access, tx: &mut Tx, r: &Request) -> FhirResult<Outcome> {
    let restriction = match &r.id {
        Some(id) => {
            let restriction = access.restriction(app, Permission::Read, &r.res_type)?;
            if let Some(rs) = &restriction {
                let cur = app.store.read_for_write(tx, &r.res_type, id).await?;
                if !rs.sees_in(app, tx, id, cur.as_ref()).await? {
                    // Worded as for an absent resource or version.
                    let what = match r.version {
                        Some(v) => format!("{}/{id}/_history/{v}", r.res_type),
                        None => format!("{}/{id}", r.res_type),
                    };
                    return Err(FhirError::not_found(format!("{what} is not known")));
                }
            }
            restriction
        }
        None => None,
    };
    match (&r.id, r.version) {
        (Some(id), None) => {
            let c = write::current_in(app, tx, &r.res_type, id).await?;
            Ok(Outcome { status: StatusCode::OK, location: None, etag: Some(format!("W/\"{}\"", c.version)), last_modified: Some(c.last_updated), resource: c.content, outcome: None, is_read: true })
        }
        (Some(id), Some(v)) => {
            let unknown = || FhirError::not_found(format!("{}/{id}/_history/{v} is not known", r.res_type));
            let ver = app.store.vread_in(tx, &r.res_type, id, v).await?.ok_or_else(unknown)?;
            if restriction.is_some_and(|rs| !rs.version_visible(&app.registry(), ver.content.as_deref())) {
                return Err(unknown());
            }
            if ver.deleted {
                return Err(FhirError::new(StatusCode::GONE, "deleted", format!("{}/{id} version {v} is a deletion", r.res_type)));
            }
            Ok(Outcome { status: StatusCode::OK, location: None, etag: Some(format!("W/\"{v}\"")), last_modified: Some(ver.last_updated), resource: ver.content, outcome: None, is_read: true })
        }
        (None, _) => {
            let params: Vec<(String, String)> = form_urlencoded::parse(r.query.as_deref().unwrap_or("").as_bytes()).into_owned().collect();
            let mut q = super::search_terminology::parse_criteria(app, access, &r.res_type, &params).await?;
            if let Some((k, _)) = q.control.first() {
                return Err(FhirError::bad_request(format!("'{k}' is not supported inside a Bundle search yet")).at(k.clone()));
            }
            access.restrict_query(app, Permission::Search, &mut q)?;
            let ids = app.store.search_ids_in(tx, &search::scoped_sql(std::slice::from_ref(&q)), super::history::MAX_COUNT).await?;
            let mut entries = Vec::with_capacity(ids.len());
            for id in ids {
                let c = write::current_in(app, tx, &r.res_type, &id).await?;
                entries.push(Entry::matched(format!("{}/{}/{id}", app.base, r.res_type), c.content));
            }
            let head = json!({"resourceType": "Bundle", "type": "searchset", "total": entries.len()});
            Ok(Outcome { status: StatusCode::OK, location: None, etag: None, last_modified: None, resource: Some(bundle_text::bundle(head, &entries)), outcome: None, is_read: true })
        }
    }
}

fn status_line(s: StatusCode) -> String {
    format!("{} {}", s.as_u16(), s.canonical_reason().unwrap_or(""))
}

fn response_entry(o: Outcome, with_resource: bool) -> Entry {
    let mut resp = json!({"status": status_line(o.status)});
    if let Some(l) = o.location {
        resp["location"] = json!(l);
    }
    if let Some(e) = o.etag {
        resp["etag"] = json!(e);
    }
    if let Some(t) = o.last_modified {
        resp["lastModified"] = json!(clock::fhir_instant(t));
    }
    if let Some(oo) = o.outcome {
        resp["outcome"] = oo;
    }
    Entry { fields: json!({"response": resp}).into(), resource: if with_resource || o.is_read { o.resource } else { None } }
}

/// Order of processing within a transaction.
fn phase(method: &str) -> u8 {
    match method {
        "DELETE" => 0,
        "POST" => 1,
        "PUT" | "PATCH" => 2,
        _ => 3,
    }
}

async fn transaction(app: &App, access: &Access, mut reqs: Vec<Request>) -> FhirResult<Vec<Outcome>> {
    // The same resource may not be the target of two entries.
    let mut seen = HashSet::new();
    for r in &reqs {
        if let (Some(id), "PUT" | "PATCH" | "DELETE") = (&r.id, r.method.as_str()) {
            if !seen.insert(format!("{}/{id}", r.res_type)) {
                return Err(FhirError::bad_request(format!("{}/{id} is the target of more than one entry", r.res_type)).at(format!("Bundle.entry[{}].request.url", r.index)));
            }
        }
    }
    // An entry the token may not run on its type fails the transaction before anything is touched.
    for r in &reqs {
        require_entry(app, access, r).map_err(|e| e.within(&format!("Bundle.entry[{}]", r.index)))?;
    }
    let started = std::time::Instant::now();
    let mut tx = app.store.begin().await?;
    let mut map: HashMap<String, String> = HashMap::new();
    let mut preassigned: HashMap<usize, String> = HashMap::new();
    let mut existing: HashMap<usize, Outcome> = HashMap::new();
    for r in &reqs {
        let at = format!("Bundle.entry[{}]", r.index);
        match r.method.as_str() {
            "POST" => {
                let id = match &r.if_none_exist {
                    Some(q) => {
                        let ids = write::find_matches(app, access, Permission::Search, &mut tx, &r.res_type, q, 2).await.map_err(|e| e.within(&format!("{at}.request.ifNoneExist")))?;
                        match ids.as_slice() {
                            [] => None,
                            [id] => {
                                let c = write::current_in(app, &mut tx, &r.res_type, id).await?;
                                existing.insert(r.index, Outcome { status: StatusCode::OK, location: Some(format!("{}/{id}/_history/{}", r.res_type, c.version)), etag: Some(format!("W/\"{}\"", c.version)), last_modified: Some(c.last_updated), resource: c.content, outcome: None, is_read: false });
                                Some(id.clone())
                            }
                            _ => return Err(FhirError::new(StatusCode::PRECONDITION_FAILED, "multiple-matches", format!("ifNoneExist '{q}' matches more than one {}", r.res_type)).at(format!("{at}.request.ifNoneExist"))),
                        }
                    }
                    None => None,
                };
                let id = match id {
                    Some(id) => id,
                    None => {
                        let id = uuid::Uuid::new_v4().to_string();
                        preassigned.insert(r.index, id.clone());
                        id
                    }
                };
                if let Some(f) = &r.full_url {
                    map.insert(f.clone(), format!("{}/{id}", r.res_type));
                }
            }
            "PUT" => {
                if let (Some(f), Some(id)) = (&r.full_url, &r.id) {
                    if f.starts_with("urn:") {
                        map.insert(f.clone(), format!("{}/{id}", r.res_type));
                    }
                }
            }
            _ => {}
        }
    }
    // Conditional references resolve to exactly one existing resource.
    let mut conds = Vec::new();
    for r in &reqs {
        if let Some(res) = &r.resource {
            let mut found = Vec::new();
            conditional_references(res, &mut found);
            conds.extend(found.into_iter().map(|c| (r.index, c)));
        }
    }
    for (index, c) in conds {
        if map.contains_key(&c) {
            continue;
        }
        let (t, q) = c.split_once('?').unwrap_or((&c, ""));
        let at = format!("Bundle.entry[{index}].resource");
        write::check_type(t).map_err(|e| FhirError { status: StatusCode::BAD_REQUEST, ..e }.within(&at))?;
        let ids = write::find_matches(app, access, Permission::Search, &mut tx, t, q, 2).await.map_err(|e| e.within(&at))?;
        match ids.as_slice() {
            [id] => {
                map.insert(c.clone(), format!("{t}/{id}"));
            }
            [] => return Err(FhirError::new(StatusCode::NOT_FOUND, "not-found", format!("conditional reference '{c}' matches no resource")).at(at)),
            _ => return Err(FhirError::new(StatusCode::PRECONDITION_FAILED, "multiple-matches", format!("conditional reference '{c}' matches more than one resource")).at(at)),
        }
    }
    if !map.is_empty() {
        for r in &mut reqs {
            if let Some(res) = &mut r.resource {
                rewrite_references(res, &map);
            }
        }
    }
    let resolved = started.elapsed();
    let mut order: Vec<usize> = (0..reqs.len()).collect();
    order.sort_by_key(|&i| (phase(&reqs[i].method), i));
    let mut outcomes: Vec<Option<Outcome>> = (0..reqs.len()).map(|_| None).collect();
    // Creates under pre-assigned ids are stored together when the POST phase ends.
    let mut creates: Vec<(usize, write::Prepared)> = Vec::new();
    for i in order {
        let r = &reqs[i];
        if phase(&r.method) > 1 && !creates.is_empty() {
            flush_creates(app, access, &mut tx, std::mem::take(&mut creates), &mut outcomes).await?;
        }
        let at = format!("Bundle.entry[{}]", r.index);
        if let Some(o) = existing.remove(&r.index) {
            outcomes[i] = Some(o);
        } else if let (Some(id), "POST") = (preassigned.get(&r.index), r.method.as_str()) {
            let body = r.resource.clone().unwrap_or(Value::Null);
            creates.push((i, write::prepare(&app.registry(), &r.res_type, id, None, body, "POST").map_err(|e| e.within(&at))?));
        } else {
            outcomes[i] = Some(run_entry(app, access, &mut tx, r).await.map_err(|e| e.within(&at))?);
        }
    }
    let prepared = started.elapsed();
    flush_creates(app, access, &mut tx, creates, &mut outcomes).await?;
    let written = started.elapsed();
    tx.commit().await?;
    tracing::debug!(entries = reqs.len(), ?resolved, ?prepared, ?written, total = ?started.elapsed(), "transaction");
    Ok(outcomes.into_iter().map(|o| o.expect("every entry ran")).collect())
}

/// Stores the creates gathered so far; each must lie within what the token may create (one
/// look-up per type), else the transaction fails at that entry.
async fn flush_creates(app: &App, access: &Access, tx: &mut Tx, creates: Vec<(usize, write::Prepared)>, outcomes: &mut [Option<Outcome>]) -> FhirResult<()> {
    let (slots, prepared): (Vec<usize>, Vec<write::Prepared>) = creates.into_iter().unzip();
    let written = write::commit(app, tx, prepared).await?;
    if !access.is_open() {
        let mut by_type: Vec<(&str, Vec<(usize, String)>)> = Vec::new();
        for (slot, w) in slots.iter().zip(&written) {
            match by_type.iter_mut().find(|(t, _)| *t == w.res_type) {
                Some((_, v)) => v.push((*slot, w.id.clone())),
                None => by_type.push((&w.res_type, vec![(*slot, w.id.clone())])),
            }
        }
        for (t, entries) in by_type {
            let Some(r) = access.restriction(app, Permission::Create, t)? else { continue };
            let ids: Vec<String> = entries.iter().map(|(_, id)| id.clone()).collect();
            let seen = r.visible_ids_in(app, tx, &ids).await?;
            if let Some((slot, id)) = entries.iter().find(|(_, id)| !seen.contains(id)) {
                return Err(FhirError::forbidden(format!("the access token does not allow to create {t}/{id} with this content: it would lie outside what the token grants"))
                    .at(format!("Bundle.entry[{slot}].resource")));
            }
        }
    }
    for (slot, w) in slots.into_iter().zip(written) {
        outcomes[slot] = Some(Outcome::from_written(&w));
    }
    Ok(())
}

async fn batch(app: &App, access: &Access, reqs: Vec<Result<Request, FhirError>>) -> Vec<Outcome> {
    let mut out = Vec::with_capacity(reqs.len());
    for r in reqs {
        let o = match r {
            Err(e) => Outcome::from_error(&e),
            Ok(r) => {
                let res: FhirResult<Outcome> = async {
                    require_entry(app, access, &r)?;
                    let mut tx = app.store.begin().await?;
                    let o = run_entry(app, access, &mut tx, &r).await?;
                    tx.commit().await?;
                    Ok(o)
                }
                .await;
                res.unwrap_or_else(|e| Outcome::from_error(&e))
            }
        };
        out.push(o);
    }
    out
}

/// `POST [base]` with a batch or transaction Bundle.
pub async fn handle(State(app): State<Arc<App>>, access: Access, RawQuery(q): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    rest::respond(
        async {
            let params = rest::query_pairs(&q);
            rest::only_params(&params, &rest::FORMAT_PARAMS)?;
            let render = format::negotiate(&headers, &params)?;
            format::check_json_body(&headers)?;
            let bundle = format::parse_body(&body)?;
            if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
                return Err(FhirError::bad_request("POST to the base URL takes a batch or transaction Bundle").at("resourceType"));
            }
            let kind = bundle.get("type").and_then(Value::as_str).unwrap_or("").to_string();
            let entries = match bundle.get("entry") {
                None => Vec::new(),
                Some(Value::Array(a)) => a.clone(),
                Some(_) => return Err(FhirError::bad_request("Bundle.entry must be an array").at("Bundle.entry")),
            };
            let with_resource = format::prefer_return_opt(&headers) == Some(format::Return::Representation);
            let outcomes = match kind.as_str() {
                "transaction" => {
                    let reqs = entries.iter().enumerate().map(|(i, e)| parse_request(&app, i, e)).collect::<FhirResult<Vec<_>>>()?;
                    transaction(&app, &access, reqs).await?
                }
                "batch" => batch(&app, &access, entries.iter().enumerate().map(|(i, e)| parse_request(&app, i, e)).collect()).await,
                other => return Err(FhirError::bad_request(format!("Bundle.type must be batch or transaction, not '{other}'")).at("Bundle.type")),
            };
            let entries: Vec<Entry> = outcomes.into_iter().map(|o| response_entry(o, with_resource)).collect();
            let head = json!({"resourceType": "Bundle", "type": format!("{kind}-response")});
            Ok(format::stored_response(StatusCode::OK, bundle_text::bundle(head, &entries), render))
        }
        .await,
    )
}

//! The write path every interaction shares: check, stamp meta, index, store one version.

use crate::access::{Access, Permission};
use crate::app::App;
use crate::clock;
use crate::error::{FhirError, FhirResult, OutcomeIssue};
use crate::store::{Current, NewVersion, Tx};
use axum::http::StatusCode;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The result of a write.
#[derive(Debug, Clone)]
pub struct Written {
    pub status: StatusCode,
    pub res_type: String,
    pub id: String,
    pub version: i64,
    pub last_updated: i64,
    /// The stored JSON (None for deletes).
    pub content: Option<String>,
}

impl Written {
    /// `Type/id/_history/v` relative location.
    pub fn location(&self) -> String {
        format!("{}/{}/_history/{}", self.res_type, self.id, self.version)
    }
    /// Weak ETag of the version.
    pub fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }
}

/// Checks an id against the R4 id rule.
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// Checks that a URL segment names a resource type we serve.
pub fn check_type(res_type: &str) -> FhirResult<()> {
    if profiles::Package::r4_core().is_resource_type(res_type) {
        Ok(())
    } else {
        Err(FhirError::not_found(format!("unknown resource type '{res_type}'")))
    }
}

/// Parses an `If-Match` / `If-None-Match` ETag (`W/"3"` or `"3"`) into a version.
pub fn parse_etag(v: &str) -> FhirResult<i64> {
    let t = v.trim().trim_start_matches("W/").trim_matches('"');
    t.parse().map_err(|_| FhirError::bad_request(format!("malformed ETag '{v}' (expected W/\"<version>\")")))
}

/// Validates a resource body for a write to `res_type`; `id` is the id it will be stored under.
fn check_body(res_type: &str, body: &Value) -> FhirResult<()> {
    match body.get("resourceType").and_then(Value::as_str) {
        None => return Err(FhirError::bad_request("resource has no resourceType").at("resourceType")),
        Some(t) if t != res_type => {
            return Err(FhirError::bad_request(format!("resourceType '{t}' does not match the URL's type '{res_type}'")).at("resourceType"))
        }
        _ => {}
    }
    let issues = profiles::Package::r4_core().validator().validate(body);
    let errors: Vec<OutcomeIssue> = issues
        .into_iter()
        .filter(|i| i.severity == profiles::Severity::Error)
        .map(|i| OutcomeIssue { severity: "error", code: i.code, diagnostics: i.message, expression: Some(i.expression) })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(FhirError { status: StatusCode::BAD_REQUEST, issues: errors, challenge: None })
    }
}

/// Puts `id` and `meta.versionId/lastUpdated` at the head of the resource, keeping the client's
/// other meta (profile, tag, security, source).
fn stamp(body: Value, id: &str, version: i64, last_updated: i64) -> Value {
    let Value::Object(mut src) = body else { return body };
    let mut meta = match src.remove("meta") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    meta.insert("versionId".into(), json!(version.to_string()));
    meta.insert("lastUpdated".into(), json!(clock::fhir_instant(last_updated)));
    let mut out = Map::with_capacity(src.len() + 2);
    if let Some(rt) = src.remove("resourceType") {
        out.insert("resourceType".into(), rt);
    }
    src.remove("id");
    out.insert("id".into(), json!(id));
    out.insert("meta".into(), Value::Object(meta));
    out.extend(src);
    Value::Object(out)
}

/// A checked, stamped and indexed version, ready to be stored.
pub struct Prepared {
    rid: Option<i64>,
    existed: bool,
    res_type: String,
    id: String,
    version: i64,
    last_updated: i64,
    method: &'static str,
    text: String,
    index: Vec<search::IndexRow>,
    contained: Vec<search::ContainedRows>,
    /// The registry `index` was extracted with.
    registry: Arc<search::Registry>,
}

/// A SearchParameter that is to take effect must be one the registry can use.
fn check_search_parameter(reg: &search::Registry, sp: &Value) -> FhirResult<()> {
    if !search::takes_effect(sp) {
        return Ok(());
    }
    reg.check_custom(sp).map_err(|(at, why)| FhirError::bad_request(why).at(at))
}

/// Checks `body` and builds the next version of `res_type/id` after `current`, indexed with `reg`.
pub fn prepare(reg: &Arc<search::Registry>, res_type: &str, id: &str, current: Option<&Current>, body: Value, method: &'static str) -> FhirResult<Prepared> {
    check_body(res_type, &body)?;
    if res_type == "SearchParameter" {
        check_search_parameter(reg, &body)?;
    }
    let version = current.map(|c| c.version + 1).unwrap_or(1);
    let now = clock::now_micros().max(current.map(|c| c.last_updated + 1).unwrap_or(0));
    let stamped = stamp(body, id, version, now);
    let index = reg.extract(&stamped);
    let contained = reg.extract_contained(&stamped);
    let text = serde_json::to_string(&stamped).map_err(FhirError::internal)?;
    Ok(Prepared {
        rid: current.map(|c| c.rid),
        existed: current.map(|c| !c.deleted).unwrap_or(false),
        res_type: res_type.into(),
        id: id.into(),
        version,
        last_updated: now,
        method,
        text,
        index,
        contained,
        registry: reg.clone(),
    })
}

/// Stores prepared versions together (one set of multi-row statements).
pub async fn commit(app: &App, tx: &mut Tx, mut prepared: Vec<Prepared>) -> FhirResult<Vec<Written>> {
    // Prepared before the transaction held the write gate, under a registry since replaced:
    // index with the one in force, which cannot change until this transaction ends.
    let now = app.registry();
    for p in prepared.iter_mut().filter(|p| !Arc::ptr_eq(&p.registry, &now)) {
        let doc: Value = serde_json::from_str(&p.text).map_err(FhirError::internal)?;
        p.index = now.extract(&doc);
        p.contained = now.extract_contained(&doc);
        p.registry = now.clone();
    }
    let versions: Vec<NewVersion> = prepared
        .iter()
        .map(|p| NewVersion {
            rid: p.rid,
            res_type: &p.res_type,
            res_id: &p.id,
            version: p.version,
            last_updated: p.last_updated,
            deleted: false,
            method: p.method,
            content: Some(&p.text),
            index: &p.index,
            contained: &p.contained,
        })
        .collect();
    app.store.write_versions(tx, &versions).await?;
    drop(versions);
    Ok(prepared
        .into_iter()
        .map(|p| Written {
            status: if p.existed { StatusCode::OK } else { StatusCode::CREATED },
            res_type: p.res_type,
            id: p.id,
            version: p.version,
            last_updated: p.last_updated,
            content: Some(p.text),
        })
        .collect())
}

/// Stores a new version of `res_type/id` from `body`, which has already been checked against the URL.
pub async fn store_version(app: &App, tx: &mut Tx, res_type: &str, id: &str, current: Option<&Current>, body: Value, method: &'static str) -> FhirResult<Written> {
    let p = prepare(&app.registry(), res_type, id, current, body, method)?;
    Ok(commit(app, tx, vec![p]).await?.remove(0))
}

/// Creates a resource under a new server-assigned id (any id in the body is ignored, as R4 says);
/// the token's `perm` must reach the new content.
pub async fn create_new(app: &App, access: &Access, perm: Permission, tx: &mut Tx, res_type: &str, body: Value) -> FhirResult<Written> {
    let restriction = access.restriction(app, perm, res_type)?;
    let id = uuid::Uuid::new_v4().to_string();
    let w = store_version(app, tx, res_type, &id, None, body, "POST").await?;
    if let Some(r) = &restriction {
        r.require_written(app, tx, perm, std::slice::from_ref(&w.id)).await?;
    }
    Ok(w)
}

/// Update (or update-as-create) of `res_type/id`, honouring `If-Match`. Under a restricted grant
/// the resource must be one the token may update, before and after (see `access`).
#[allow(clippy::too_many_arguments)] // every caller has each of them at hand; a struct would only be filled and taken apart
pub async fn update(app: &App, access: &Access, tx: &mut Tx, res_type: &str, id: &str, body: Value, if_match: Option<i64>, method: &'static str) -> FhirResult<Written> {
    let restriction = access.restriction(app, Permission::Update, res_type)?;
    if !valid_id(id) {
        return Err(FhirError::bad_request(format!("'{id}' is not a valid resource id")).at("id"));
    }
    match body.get("id") {
        None => return Err(FhirError::bad_request("the resource must carry the id it is updated under").at(format!("{res_type}.id"))),
        Some(Value::String(b)) if b == id => {}
        Some(other) => {
            return Err(FhirError::bad_request(format!("resource id {other} does not match the URL id '{id}'")).at(format!("{res_type}.id")))
        }
    }
    tx.lock(&format!("{res_type}/{id}")).await?;
    let current = app.store.read_for_write(tx, res_type, id).await?;
    if let Some(r) = &restriction {
        if !r.sees_in(app, tx, id, current.as_ref()).await? {
            return Err(FhirError::not_found(format!("{res_type}/{id} is not known")));
        }
    }
    if let Some(want) = if_match {
        match &current {
            Some(c) if c.version == want && !c.deleted => {}
            Some(c) => {
                return Err(FhirError::new(StatusCode::PRECONDITION_FAILED, "conflict", format!("If-Match W/\"{want}\" does not match the current version W/\"{}\"", c.version)))
            }
            None => return Err(FhirError::new(StatusCode::PRECONDITION_FAILED, "conflict", format!("If-Match W/\"{want}\" given but {res_type}/{id} does not exist"))),
        }
    }
    let w = store_version(app, tx, res_type, id, current.as_ref(), body, method).await?;
    if let Some(r) = &restriction {
        r.require_written(app, tx, Permission::Update, std::slice::from_ref(&w.id)).await?;
    }
    Ok(w)
}

/// Deletes `res_type/id` by writing a tombstone version; deleting what is absent or already
/// deleted is a no-op, and so is deleting what the token may not delete (it must look absent).
pub async fn delete(app: &App, access: &Access, tx: &mut Tx, res_type: &str, id: &str) -> FhirResult<Option<Written>> {
    let restriction = access.restriction(app, Permission::Delete, res_type)?;
    tx.lock(&format!("{res_type}/{id}")).await?;
    let Some(current) = app.store.read_for_write(tx, res_type, id).await? else { return Ok(None) };
    if current.deleted {
        return Ok(None);
    }
    if let Some(r) = &restriction {
        if !r.sees_in(app, tx, id, Some(&current)).await? {
            return Ok(None);
        }
    }
    let version = current.version + 1;
    let now = clock::now_micros().max(current.last_updated + 1);
    app.store
        .write_version(
            tx,
            &NewVersion { rid: Some(current.rid), res_type, res_id: id, version, last_updated: now, deleted: true, method: "DELETE", content: None, index: &[], contained: &[] },
        )
        .await?;
    Ok(Some(Written { status: StatusCode::NO_CONTENT, res_type: res_type.into(), id: id.into(), version, last_updated: now, content: None }))
}

/// Ids matching a conditional-operation query (`identifier=a|b&…`) among what the token may
/// `perm`, serialised against other conditional writes on the same type so two concurrent
/// conditional creates cannot both miss.
pub async fn find_matches(app: &App, access: &Access, perm: Permission, tx: &mut Tx, res_type: &str, query: &str, limit: i64) -> FhirResult<Vec<String>> {
    // Rendering parameters may ride along on a conditional URL; they are not criteria.
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
        .into_owned()
        .filter(|(k, _)| k != "_format" && k != "_pretty")
        .collect();
    if pairs.is_empty() {
        return Err(FhirError::bad_request("a conditional operation needs search criteria"));
    }
    let mut q = super::search_terminology::parse_criteria(app, access, res_type, &pairs).await?;
    if let Some((k, _)) = q.control.first() {
        return Err(FhirError::bad_request(format!("'{k}' cannot be used in a conditional operation's criteria")).at(k.clone()));
    }
    access.restrict_query(app, perm, &mut q)?;
    tx.lock(&format!("conditional:{res_type}")).await?;
    Ok(app.store.search_ids_in(tx, &search::scoped_sql(std::slice::from_ref(&q)), limit).await?)
}

/// Reads the current version inside a transaction, as 404/410 errors when absent/deleted.
pub async fn current_in(app: &App, tx: &mut Tx, res_type: &str, id: &str) -> FhirResult<Current> {
    match app.store.read_for_write(tx, res_type, id).await? {
        None => Err(FhirError::not_found(format!("{res_type}/{id} is not known"))),
        Some(c) if c.deleted => Err(FhirError::new(StatusCode::GONE, "deleted", format!("{res_type}/{id} has been deleted"))),
        Some(c) => Ok(c),
    }
}

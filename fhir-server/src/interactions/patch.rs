//! PATCH with JSON Patch (RFC 6902) or FHIRPath Patch (a Parameters body), instance-level and conditional.

use super::write::{self, Written};
use crate::access::{Access, Permission};
use crate::app::App;
use crate::error::{FhirError, FhirResult};
use crate::rest::{self, format};
use crate::store::Tx;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;
use std::sync::Arc;

/// Applies a JSON Patch document to a JSON value; the error names the failing operation.
pub fn apply_json_patch(doc: &mut Value, patch: &Value) -> FhirResult<()> {
    let ops: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| FhirError::bad_request(format!("not a JSON Patch document: {e}")))?;
    json_patch::patch(doc, &ops).map_err(|e| {
        FhirError::new(StatusCode::UNPROCESSABLE_ENTITY, "processing", format!("JSON Patch failed: {e}")).at(format!("[{}]", e.operation))
    })
}

/// A patch document in one of the two formats R4 defines.
pub enum PatchDoc {
    /// RFC 6902 operations array.
    Json(Value),
    /// A Parameters resource of FHIRPath Patch operations.
    FhirPath(Value),
}

impl PatchDoc {
    fn apply(&self, app: &App, doc: &mut Value) -> FhirResult<()> {
        match self {
            PatchDoc::Json(p) => apply_json_patch(doc, p),
            PatchDoc::FhirPath(p) => super::fhirpath_patch::apply(app.fhirpath(), doc, p),
        }
    }
}

/// Patches the current version of `res_type/id` and stores the result as a new version; under a
/// restricted grant the resource must be one the token may update, before and after.
pub async fn patch(app: &App, access: &Access, tx: &mut Tx, res_type: &str, id: &str, patch: &PatchDoc, if_match: Option<i64>) -> FhirResult<Written> {
    let restriction = access.restriction(app, Permission::Update, res_type)?;
    tx.lock(&format!("{res_type}/{id}")).await?;
    if let Some(r) = &restriction {
        let cur = app.store.read_for_write(tx, res_type, id).await?;
        if !r.sees_in(app, tx, id, cur.as_ref()).await? {
            return Err(FhirError::not_found(format!("{res_type}/{id} is not known")));
        }
    }
    let current = write::current_in(app, tx, res_type, id).await?;
    if let Some(want) = if_match {
        if want != current.version {
            return Err(FhirError::new(StatusCode::PRECONDITION_FAILED, "conflict", format!("If-Match W/\"{want}\" does not match the current version W/\"{}\"", current.version)));
        }
    }
    let mut doc: Value = serde_json::from_str(current.content.as_deref().unwrap_or("{}")).map_err(FhirError::internal)?;
    patch.apply(app, &mut doc)?;
    if doc.get("resourceType").and_then(Value::as_str) != Some(res_type) {
        return Err(FhirError::new(StatusCode::UNPROCESSABLE_ENTITY, "processing", "a patch cannot change resourceType").at("resourceType"));
    }
    if doc.get("id").and_then(Value::as_str) != Some(id) {
        return Err(FhirError::new(StatusCode::UNPROCESSABLE_ENTITY, "processing", "a patch cannot change the resource id").at(format!("{res_type}.id")));
    }
    let w = write::store_version(app, tx, res_type, id, Some(&current), doc, "PATCH").await?;
    if let Some(r) = &restriction {
        r.require_written(app, tx, Permission::Update, std::slice::from_ref(&w.id)).await?;
    }
    Ok(w)
}

/// Conditional patch: exactly one match (among what the token may update) is patched; none is
/// 404, several 412.
pub async fn conditional_patch(app: &App, access: &Access, tx: &mut Tx, res_type: &str, query: &str, patch_doc: &PatchDoc, if_match: Option<i64>) -> FhirResult<Written> {
    let ids = write::find_matches(app, access, Permission::Update, tx, res_type, query, 2).await?;
    match ids.as_slice() {
        [] => Err(FhirError::not_found(format!("no {res_type} matches '{query}'"))),
        [id] => patch(app, access, tx, res_type, &id.clone(), patch_doc, if_match).await,
        _ => Err(FhirError::new(StatusCode::PRECONDITION_FAILED, "multiple-matches", format!("more than one {res_type} matches '{query}'"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON Patch conformance vectors (RFC 6902 appendix and edge cases).
    #[test]
    fn json_patch_test_vectors() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpora/fhir-test-cases-r4-misc/patch/json-patch-tests.json");
        let text = std::fs::read_to_string(path).expect("json-patch-tests.json (../shared/corpora)");
        let cases: Vec<Value> = serde_json::from_str(&text).unwrap();
        let mut ran = 0;
        for case in &cases {
            if case.get("disabled").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let comment = case.get("comment").cloned().unwrap_or(Value::Null);
            let mut doc = case["doc"].clone();
            let result = apply_json_patch(&mut doc, &case["patch"]);
            if case.get("error").is_some() {
                assert!(result.is_err(), "case {comment} must fail, got {doc}");
            } else if let Some(expected) = case.get("expected") {
                assert!(result.is_ok(), "case {comment} failed: {:?}", result.err());
                assert_eq!(&doc, expected, "case {comment}");
            } else {
                assert!(result.is_ok(), "case {comment} failed: {:?}", result.err());
            }
            ran += 1;
        }
        assert_eq!(ran, cases.len(), "every vector must run");
    }
}

/// Reads the body by its Content-Type: JSON Patch, or FHIRPath Patch in a Parameters resource.
fn parse_patch_body(headers: &HeaderMap, body: &[u8]) -> FhirResult<PatchDoc> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mt = ct.split(';').next().unwrap_or("").trim();
    let json = |what: &str| -> FhirResult<Value> { serde_json::from_slice(body).map_err(|e| FhirError::bad_request(format!("{what} body is not valid JSON: {e}"))) };
    match mt {
        "application/json-patch+json" => {
            let v = json("JSON Patch")?;
            if !v.is_array() {
                return Err(FhirError::bad_request("a JSON Patch document is an array of operations"));
            }
            Ok(PatchDoc::Json(v))
        }
        "application/fhir+json" | "application/json" => {
            let v = json("FHIRPath Patch")?;
            if v.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
                return Err(FhirError::bad_request("a FHIRPath Patch body is a Parameters resource; send JSON Patch as application/json-patch+json").at("resourceType"));
            }
            Ok(PatchDoc::FhirPath(v))
        }
        _ => Err(FhirError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not-supported",
            format!("PATCH needs Content-Type application/json-patch+json (JSON Patch) or application/fhir+json (FHIRPath Patch), not '{ct}'"),
        )),
    }
}

/// `PATCH [type]/[id]`.
pub async fn handle(State(app): State<Arc<App>>, access: Access, Path((res_type, id)): Path<(String, String)>, RawQuery(q): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    rest::respond(
        async {
            let params = rest::query_pairs(&q);
            rest::only_params(&params, &rest::FORMAT_PARAMS)?;
            let render = format::negotiate(&headers, &params)?;
            write::check_type(&res_type)?;
            access.require(&app, Permission::Update, &res_type)?;
            let doc = parse_patch_body(&headers, &body)?;
            let im = rest::if_match(&headers)?;
            let mut tx = app.store.begin().await?;
            let w = patch(&app, &access, &mut tx, &res_type, &id, &doc, im).await?;
            tx.commit().await?;
            Ok(rest::written_response(&app, &w, &headers, render))
        }
        .await,
    )
}

/// `PATCH [type]?criteria`.
pub async fn conditional(State(app): State<Arc<App>>, access: Access, Path(res_type): Path<String>, RawQuery(q): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    rest::respond(
        async {
            let render = format::negotiate(&headers, &rest::query_pairs(&q))?;
            write::check_type(&res_type)?;
            access.require(&app, Permission::Update, &res_type)?;
            let doc = parse_patch_body(&headers, &body)?;
            let im = rest::if_match(&headers)?;
            let mut tx = app.store.begin().await?;
            let w = conditional_patch(&app, &access, &mut tx, &res_type, q.as_deref().unwrap_or(""), &doc, im).await?;
            tx.commit().await?;
            Ok(rest::written_response(&app, &w, &headers, render))
        }
        .await,
    )
}

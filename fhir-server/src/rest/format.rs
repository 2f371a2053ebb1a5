//! Content negotiation (`Accept`, `_format`, `Content-Type`), `_pretty`, and response bodies.
//! Only JSON is served; XML is refused with 406/415 rather than mangled.

use crate::error::{FhirError, FhirResult};
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::Value;

/// The media type of every body we produce.
pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// How the client wants the response rendered.
#[derive(Debug, Clone, Copy, Default)]
pub struct Render {
    pub pretty: bool,
}

fn is_json(mt: &str) -> bool {
    matches!(mt, "application/fhir+json" | "application/json" | "application/json+fhir" | "json" | "text/json")
}

fn is_xml(mt: &str) -> bool {
    matches!(mt, "application/fhir+xml" | "application/xml" | "application/xml+fhir" | "text/xml" | "xml" | "html" | "text/html")
}

/// Chooses the response format from `_format` (wins) or `Accept`.
pub fn negotiate(headers: &HeaderMap, params: &[(String, String)]) -> FhirResult<Render> {
    let pretty = match params.iter().find(|(k, _)| k == "_pretty").map(|(_, v)| v.as_str()) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(FhirError::bad_request(format!("_pretty must be true or false, not '{other}'")).at("_pretty")),
    };
    if let Some((_, f)) = params.iter().find(|(k, _)| k == "_format") {
        let mt = f.split(';').next().unwrap_or("").trim();
        if is_json(mt) {
            return Ok(Render { pretty });
        }
        return Err(FhirError::new(StatusCode::NOT_ACCEPTABLE, "not-supported", format!("_format '{f}' is not supported; this server speaks application/fhir+json")).at("_format"));
    }
    if let Some(acc) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) {
        let mut any = false;
        for part in acc.split(',') {
            let mut it = part.split(';');
            let mt = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q_zero = it.any(|p| matches!(p.trim().strip_prefix("q="), Some(q) if q.parse::<f32>().map(|q| q == 0.0).unwrap_or(false)));
            if q_zero {
                continue;
            }
            if is_json(&mt) || mt == "*/*" || mt == "application/*" || mt.is_empty() {
                any = true;
            }
        }
        if !any {
            return Err(FhirError::new(StatusCode::NOT_ACCEPTABLE, "not-supported", format!("cannot produce any of '{acc}'; this server speaks application/fhir+json")));
        }
    }
    Ok(Render { pretty })
}

/// Checks a request body is declared as FHIR JSON (or plain JSON).
pub fn check_json_body(headers: &HeaderMap) -> FhirResult<()> {
    let Some(ct) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let mt = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if is_json(&mt) {
        Ok(())
    } else if is_xml(&mt) {
        Err(FhirError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "not-supported", "XML bodies are not supported yet; send application/fhir+json"))
    } else {
        Err(FhirError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "not-supported", format!("unsupported Content-Type '{ct}'; send application/fhir+json")))
    }
}

/// Parses a request body as a JSON object.
pub fn parse_body(bytes: &[u8]) -> FhirResult<Value> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(FhirError::new(StatusCode::BAD_REQUEST, "required", "request body is empty"));
    }
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| FhirError::new(StatusCode::BAD_REQUEST, "structure", format!("body is not valid JSON: {e}")))?;
    if !v.is_object() {
        return Err(FhirError::new(StatusCode::BAD_REQUEST, "structure", "body must be a JSON object (a FHIR resource)"));
    }
    Ok(v)
}

/// A JSON response from a value.
pub fn json_response(status: StatusCode, v: &Value, pretty: bool) -> Response {
    let body = if pretty { serde_json::to_string_pretty(v) } else { serde_json::to_string(v) }.unwrap_or_default();
    raw_response(status, body)
}

/// A JSON response from already-serialised text (the stored resource, no re-parsing).
pub fn raw_response(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    r
}

/// Renders stored JSON text, re-parsing only when pretty printing is asked for.
pub fn stored_response(status: StatusCode, text: String, render: Render) -> Response {
    if render.pretty {
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => json_response(status, &v, true),
            Err(_) => raw_response(status, text),
        }
    } else {
        raw_response(status, text)
    }
}

/// What `Prefer: return=` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Return {
    Minimal,
    Representation,
    OperationOutcome,
}

/// Reads `Prefer: return=…` (default: representation).
pub fn prefer_return(headers: &HeaderMap) -> Return {
    prefer_return_opt(headers).unwrap_or(Return::Representation)
}

/// Whether `Prefer: handling=lenient` asks search to ignore what it does not understand
/// (the default, and `handling=strict`, refuse it).
pub fn prefer_lenient(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("").split([',', ';']).map(|p| p.trim().replace(' ', "")).collect::<Vec<_>>())
        .any(|p| p == "handling=lenient")
}

/// Reads `Prefer: return=…` if given.
pub fn prefer_return_opt(headers: &HeaderMap) -> Option<Return> {
    for v in headers.get_all("prefer") {
        for p in v.to_str().unwrap_or("").split([',', ';']) {
            match p.trim().replace(' ', "").as_str() {
                "return=minimal" => return Some(Return::Minimal),
                "return=representation" => return Some(Return::Representation),
                "return=OperationOutcome" => return Some(Return::OperationOutcome),
                _ => {}
            }
        }
    }
    None
}

//! `POST [base]/auth/token`: the three grants, and the JSON answers every OAuth endpoint shares.

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use smart_auth::{ErrorCode, OAuthError};

use super::{form, grant_client_credentials, grant_code, grant_refresh, AuthState};

/// A JSON answer that no cache may keep (SMART requirements 86, 87).
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// An OAuth error answer (RFC 6749 §5.2): its status, and a challenge for failed client
/// authentication (RFC 6749 §5.2, 401 with `WWW-Authenticate`) or a refused bearer token.
pub fn error_response(e: &OAuthError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = json_response(status, &e.to_json());
    let challenge = match e.code {
        ErrorCode::InvalidClient => Some("Basic realm=\"fhir-server\"".to_string()),
        _ => e.www_authenticate(),
    };
    if let Some(v) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

/// `POST /auth/token`.
pub async fn handle(state: AuthState, headers: HeaderMap, body: Bytes) -> Response {
    let params = match form::form_body(&headers, &body) {
        Ok(p) => p,
        Err(e) => return error_response(&e),
    };
    let grant_type = params.get("grant_type").ok().flatten().unwrap_or("").to_string();
    let result = match grant_type.as_str() {
        "authorization_code" => grant_code::exchange(&state, &headers, &params).await,
        "refresh_token" => grant_refresh::exchange(&state, &headers, &params).await,
        "client_credentials" => grant_client_credentials::exchange(&state, &headers, &params).await,
        "" => Err(OAuthError::new(ErrorCode::InvalidRequest, "parameter grant_type is missing")),
        other => Err(OAuthError::new(ErrorCode::UnsupportedGrantType, format!("grant_type {other} is not supported"))),
    };
    match result {
        Ok(issued) => {
            let client_id = issued.client_id.as_str();
            tracing::info!(grant_type = %grant_type, client_id, jti = %issued.jti, scope = %issued.scope, "token issued");
            json_response(StatusCode::OK, &issued.body)
        }
        Err(e) => {
            let client_id = params.get("client_id").ok().flatten().unwrap_or("");
            tracing::warn!(grant_type = %grant_type, client_id, error = e.code.as_str(), description = %e.description, "token refused");
            error_response(&e)
        }
    }
}

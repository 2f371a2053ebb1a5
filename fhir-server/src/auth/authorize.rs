//! `GET` and `POST [base]/auth/authorize` (SMART requirements 48, 49): checks an authorization
//! request and opens the login page for it.
//!
//! An unknown client or an unregistered redirect URI is shown in the browser, never redirected
//! (RFC 6749 §4.1.2.1); every later problem goes back to the app's redirect URI with `error`
//! and `state`.

use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use smart_auth::{pkce, ErrorCode, OAuthError};
use smart_scopes::{parse_scopes, Scope};

use super::form::{self, Params};
use super::{clients, html, launches, login, pending, scopes, storage, AuthState, SmartAuth};

/// `GET /auth/authorize`.
pub async fn get(state: AuthState, RawQuery(query): RawQuery) -> Response {
    authorize(&state, Params::parse(query.unwrap_or_default().as_bytes())).await
}

/// `POST /auth/authorize` (`authorize-post`).
pub async fn post(state: AuthState, headers: HeaderMap, body: Bytes) -> Response {
    match form::form_body(&headers, &body) {
        Ok(params) => authorize(&state, params).await,
        Err(e) => html::error_page(StatusCode::BAD_REQUEST, &e.description),
    }
}

/// Where an answer goes once the client and its redirect URI are known.
pub struct Reply<'a> {
    /// The registered redirect URI.
    pub redirect_uri: &'a str,
    /// The client's `state`, if it sent one.
    pub state: Option<&'a str>,
}

impl Reply<'_> {
    /// Sends the browser back to the app with an error.
    pub fn error(&self, e: &OAuthError) -> Response {
        tracing::info!(error = e.code.as_str(), description = %e.description, "authorization request refused");
        let mut pairs = vec![("error", e.code.as_str()), ("error_description", e.description.as_str())];
        pairs.extend(self.state.map(|s| ("state", s)));
        redirect(self.redirect_uri, &pairs)
    }

    /// Sends the browser back to the app with its authorization code.
    pub fn code(&self, code: &str) -> Response {
        let mut pairs = vec![("code", code)];
        pairs.extend(self.state.map(|s| ("state", s)));
        redirect(self.redirect_uri, &pairs)
    }
}

/// A 302 to `uri` with `pairs` added to its query.
fn redirect(uri: &str, pairs: &[(&str, &str)]) -> Response {
    let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    let sep = if uri.contains('?') { '&' } else { '?' };
    let location = format!("{uri}{sep}{query}");
    let mut r = StatusCode::FOUND.into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn invalid(code: ErrorCode, description: impl Into<String>) -> OAuthError {
    OAuthError::new(code, description)
}

async fn authorize(auth: &SmartAuth, params: Params) -> Response {
    let shown = |message: &str| html::error_page(StatusCode::BAD_REQUEST, message);
    let client_id = match params.get("client_id") {
        Ok(Some(id)) => id,
        Ok(None) => return shown("The request names no client (client_id)."),
        Err(e) => return shown(&e.description),
    };
    let client = match clients::find(&auth.pool, client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return shown("This app (client_id) is not registered here."),
        Err(e) => return pending::server_error(&e),
    };
    let redirect_uri = match params.get("redirect_uri") {
        Ok(Some(uri)) if client.redirect_uris.iter().any(|r| r == uri) => uri,
        Ok(_) => return shown("The redirect_uri is not one registered for this app."),
        Err(e) => return shown(&e.description),
    };
    let state = params.get("state").ok().flatten();
    let reply = Reply { redirect_uri, state };
    match checked(auth, &client, &params).await {
        Ok(page) => page,
        Err(e) => reply.error(&e),
    }
}

/// The checks after client and redirect URI, in the order a client developer would fix them.
async fn checked(auth: &SmartAuth, client: &clients::Client, params: &Params) -> Result<Response, OAuthError> {
    let state = params.require("state")?;
    match params.require("response_type")? {
        "code" => {}
        other => return Err(invalid(ErrorCode::UnsupportedResponseType, format!("response_type {other} is not supported; use code"))),
    }
    let aud = params.require("aud")?;
    if aud.trim_end_matches('/') != auth.endpoints.base {
        return Err(invalid(ErrorCode::InvalidRequest, format!("aud must be this FHIR server's base URL, {}", auth.endpoints.base)));
    }
    pkce::check_method(params.get("code_challenge_method")?)?;
    let challenge = params.require("code_challenge")?;
    pkce::check_challenge(challenge)?;
    let requested = parse_scopes(params.require("scope")?).map_err(|e| invalid(ErrorCode::InvalidScope, e.to_string()))?;
    let nonce = params.get("nonce")?;

    let now = super::now();
    let launch = match params.get("launch")? {
        None => None,
        Some(value) => match launches::find_live(&auth.pool, value, &client.client_id, now).await.map_err(storage)? {
            Some(found) => Some(found),
            None => return Err(invalid(ErrorCode::InvalidRequest, "launch is unknown, expired, already used or for another app")),
        },
    };
    // Without a launch there is no EHR context to hand out: `launch` alone grants nothing.
    let requested: Vec<Scope> = requested.into_iter().filter(|s| launch.is_some() || *s != Scope::Launch).collect();
    let mut granted = scopes::limit(&requested, &client.allowed_scopes());
    granted.retain(|s| !scopes::has_system(std::slice::from_ref(s)));
    if !granted.iter().any(|s| matches!(s, Scope::Resource(_) | Scope::OpenId | Scope::FhirUser)) {
        return Err(invalid(ErrorCode::InvalidScope, "none of the requested scopes is allowed for this app"));
    }
    let (launch_hash, context) = match &launch {
        Some((hash, l)) => (Some(hash.as_str()), Some(l)),
        None => (None, None),
    };
    let scope = scopes::join(&granted);
    let new = pending::NewPending {
        client_id: &client.client_id,
        redirect_uri: params.require("redirect_uri")?,
        state,
        scope: &scope,
        code_challenge: challenge,
        nonce,
        launch_hash,
        patient: context.and_then(|c| c.patient.as_deref()),
        encounter: context.and_then(|c| c.encounter.as_deref()),
    };
    let handle = pending::create(&auth.pool, &new).await.map_err(storage)?;
    Ok(login::page(&handle, client, None))
}

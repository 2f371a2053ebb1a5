//! The login page and `POST [base]/auth/login`: the user signs in, then picks a patient when the
//! app needs one and none is in context, then consents.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use smart_auth::{ErrorCode, OAuthError};
use smart_scopes::parse_scopes;

use super::authorize::Reply;
use super::clients::Client;
use super::pending::{self, Handle, Pending, Stage};
use super::{clients, consent, form, html, launches, patient_picker, scopes, users, AuthState};

/// The login page of a request, with a message after a failed attempt.
pub fn page(handle: &Handle, client: &Client, message: Option<&str>) -> Response {
    let message = message.map(|m| format!("<p class=\"error\">{}</p>", html::escape(m))).unwrap_or_default();
    let body = format!(
        "<p><b>{app}</b> asks to use data on this FHIR server. Sign in to continue.</p>{message}\
         <form method=\"post\" action=\"login\">{fields}\
         <label>Username <input type=\"text\" name=\"username\" autocomplete=\"username\" required autofocus></label>\
         <label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label>\
         <button type=\"submit\">Sign in</button></form>",
        app = html::escape(&client.name),
        fields = handle.fields(),
    );
    html::page(if message.is_empty() { StatusCode::OK } else { StatusCode::UNAUTHORIZED }, "Sign in", &body)
}

/// The request's client, or the page saying it is gone.
pub async fn client_of(auth: &super::SmartAuth, p: &Pending) -> Result<Client, Response> {
    match clients::find(&auth.pool, &p.client_id).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(html::error_page(StatusCode::BAD_REQUEST, "This app is no longer registered.")),
        Err(e) => Err(pending::server_error(&e)),
    }
}

/// `POST /auth/login`.
pub async fn handle(state: super::AuthState, headers: HeaderMap, body: Bytes) -> Response {
    match sign_in(&state, &headers, &body).await {
        Ok(r) | Err(r) => r,
    }
}

async fn sign_in(auth: &AuthState, headers: &HeaderMap, body: &[u8]) -> Result<Response, Response> {
    let params = form::form_body(headers, body).map_err(|e| html::error_page(StatusCode::BAD_REQUEST, &e.description))?;
    let field = |name: &str| params.get(name).ok().flatten().unwrap_or("");
    let (p, handle) = pending::load(&auth.pool, field("request"), field("form_token"), Stage::Login).await?;
    let client = client_of(auth, &p).await?;
    let reply = Reply { redirect_uri: &p.redirect_uri, state: Some(&p.state) };
    let user = match users::authenticate(&auth.pool, field("username"), field("password")).await {
        Ok(Some(u)) => u,
        Ok(None) => {
            tracing::info!(client_id = %client.client_id, "sign-in refused: wrong username or password");
            return Ok(page(&handle, &client, Some("Wrong username or password.")));
        }
        Err(e) => return Err(pending::server_error(&e)),
    };
    if let Some(hash) = &p.launch_hash {
        match launches::find_by_hash(&auth.pool, hash, super::now()).await {
            Ok(Some(l)) if l.username.as_deref().is_some_and(|u| u != user.username) => {
                return Ok(page(&handle, &client, Some("This launch was opened for another user. Sign in as that user.")));
            }
            Ok(Some(_)) => {}
            Ok(None) => return Ok(reply.error(&OAuthError::new(ErrorCode::InvalidRequest, "the launch expired or was used meanwhile"))),
            Err(e) => return Err(pending::server_error(&e)),
        }
    }
    let scope = parse_scopes(&p.scope).unwrap_or_default();
    let needs_patient = scopes::needs_patient(&scope);
    let mut patient = p.patient.clone();
    // A patient signing in acts for their own record only.
    if let Some(own) = user.patient_id() {
        if patient.as_deref().is_some_and(|other| other != own) {
            return Ok(reply.error(&OAuthError::new(ErrorCode::AccessDenied, "the launch is about another patient than the one signed in")));
        }
        if needs_patient {
            patient = Some(own.to_string());
        }
    }
    tracing::info!(client_id = %client.client_id, username = %user.username, "user signed in for an authorization request");
    if needs_patient && patient.is_none() {
        pending::advance(&auth.pool, &p.id, Stage::Patient, Some(&user.username), None).await.map_err(|e| pending::server_error(&e))?;
        return patient_picker::page(auth, &handle, &client, "").await;
    }
    pending::advance(&auth.pool, &p.id, Stage::Consent, Some(&user.username), patient.as_deref()).await.map_err(|e| pending::server_error(&e))?;
    Ok(consent::page(&handle, &client, &scope, patient.as_deref(), p.encounter.as_deref(), &user))
}

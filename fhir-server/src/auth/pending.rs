//! Authorization requests in progress (`auth_request`), from `/authorize` to the consent.
//!
//! The browser carries the request id and a random form token in hidden fields from page to
//! page; the database keeps the token's hash and the stage reached, so each form is accepted
//! only with the token of its own request, only at its own stage, and only until it expires.

use axum::http::StatusCode;
use axum::response::Response;
use smart_auth::secrets::{hash_secret, random_token, verify_secret};
use sqlx::FromRow;

use super::{html, lifetime};
use crate::store::{Arg, Pool, Tx};

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Waiting for the user to sign in.
    Login,
    /// Waiting for a patient to be picked (standalone launch).
    Patient,
    /// Waiting for the user's consent.
    Consent,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::Login => "login",
            Stage::Patient => "patient",
            Stage::Consent => "consent",
        }
    }
}

/// A request in progress.
#[derive(Debug, Clone, FromRow)]
pub struct Pending {
    /// Its id, in the pages' hidden fields.
    pub id: String,
    /// Hash of the form token.
    pub form_token_hash: String,
    /// `login`, `patient` or `consent`.
    pub stage: String,
    /// The client asking.
    pub client_id: String,
    /// Where the answer goes.
    pub redirect_uri: String,
    /// The client's `state`, echoed.
    pub state: String,
    /// Scopes asked and allowed for the client, space separated.
    pub scope: String,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// OpenID Connect nonce.
    pub nonce: Option<String>,
    /// Hash of the EHR launch id.
    pub launch_hash: Option<String>,
    /// The signed-in user.
    pub username: Option<String>,
    /// Patient in context.
    pub patient: Option<String>,
    /// Encounter in context.
    pub encounter: Option<String>,
}

/// What `/authorize` accepted.
#[derive(Debug, Clone)]
pub struct NewPending<'a> {
    /// Client.
    pub client_id: &'a str,
    /// Registered redirect URI.
    pub redirect_uri: &'a str,
    /// `state`.
    pub state: &'a str,
    /// Allowed requested scopes.
    pub scope: &'a str,
    /// PKCE challenge.
    pub code_challenge: &'a str,
    /// Nonce.
    pub nonce: Option<&'a str>,
    /// EHR launch, by hash.
    pub launch_hash: Option<&'a str>,
    /// Launch patient.
    pub patient: Option<&'a str>,
    /// Launch encounter.
    pub encounter: Option<&'a str>,
}

/// A request and the token its pages must return.
#[derive(Debug, Clone)]
pub struct Handle {
    /// Request id.
    pub id: String,
    /// The form token, only ever in the page.
    pub form_token: String,
}

impl Handle {
    /// The two hidden fields every page's form carries.
    pub fn fields(&self) -> String {
        format!("{}{}", html::hidden("request", &self.id), html::hidden("form_token", &self.form_token))
    }
}

/// Stores a new request at the login stage.
pub async fn create(pool: &Pool, p: &NewPending<'_>) -> Result<Handle, sqlx::Error> {
    let handle = Handle { id: random_token(), form_token: random_token() };
    let now = super::now() as i64;
    let mut tx = pool.begin_outside_store().await?;
    tx.execute(
        "INSERT INTO auth_request (id, form_token_hash, stage, client_id, redirect_uri, state, scope, code_challenge, nonce, launch_hash, patient, encounter, created_at, expires_at) \
         VALUES ($1, $2, 'login', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        &[
            Arg::Text(&handle.id),
            Arg::Text(&hash_secret(&handle.form_token)),
            Arg::Text(p.client_id),
            Arg::Text(p.redirect_uri),
            Arg::Text(p.state),
            Arg::Text(p.scope),
            Arg::Text(p.code_challenge),
            Arg::OptText(p.nonce),
            Arg::OptText(p.launch_hash),
            Arg::OptText(p.patient),
            Arg::OptText(p.encounter),
            Arg::Int(now),
            Arg::Int(now + lifetime::REQUEST as i64),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(handle)
}

/// The request a form belongs to, if the form token is its own, it is at `stage` and has not
/// expired; otherwise the page to show instead.
pub async fn load(pool: &Pool, request: &str, form_token: &str, stage: Stage) -> Result<(Pending, Handle), Response> {
    let stale = || html::error_page(StatusCode::BAD_REQUEST, "This sign-in page has expired or was already used. Start again from the app.");
    let found: Option<Pending> = pool
        .fetch_opt(
            "SELECT id, form_token_hash, stage, client_id, redirect_uri, state, scope, code_challenge, nonce, launch_hash, username, patient, encounter \
             FROM auth_request WHERE id = $1 AND expires_at > $2",
            &[Arg::Text(request), Arg::Int(super::now() as i64)],
        )
        .await
        .map_err(|e| server_error(&e))?;
    match found {
        Some(p) if verify_secret(form_token, &p.form_token_hash) && p.stage == stage.as_str() => {
            let handle = Handle { id: p.id.clone(), form_token: form_token.to_string() };
            Ok((p, handle))
        }
        _ => Err(stale()),
    }
}

/// Moves a request on, recording the user and patient chosen so far.
pub async fn advance(pool: &Pool, id: &str, stage: Stage, username: Option<&str>, patient: Option<&str>) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin_outside_store().await?;
    tx.execute(
        "UPDATE auth_request SET stage = $2, username = $3, patient = $4 WHERE id = $1",
        &[Arg::Text(id), Arg::Text(stage.as_str()), Arg::OptText(username), Arg::OptText(patient)],
    )
    .await?;
    tx.commit().await
}

/// Ends a request; false when it was already ended (a form posted twice).
pub async fn finish(tx: &mut Tx, id: &str) -> Result<bool, sqlx::Error> {
    Ok(tx.execute("DELETE FROM auth_request WHERE id = $1", &[Arg::Text(id)]).await? == 1)
}

/// The page for a storage failure; the cause goes to the log only.
pub fn server_error(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "authorization storage failed");
    html::error_page(StatusCode::INTERNAL_SERVER_ERROR, "The authorization server failed. Try again later.")
}

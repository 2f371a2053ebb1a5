//! The `client_credentials` grant of SMART Backend Services: a client authenticated by a signed
//! assertion gets a short-lived token for `system/` scopes within its registration; no refresh
//! token (SMART requirement 248).

use axum::http::HeaderMap;
use smart_auth::{ErrorCode, OAuthError};
use smart_scopes::{parse_scopes, Scope};

use super::client_auth::{self, Method};
use super::form::Params;
use super::issue::{Grant, Issued};
use super::{lifetime, scopes, storage, SmartAuth};

/// Issues a backend service's access token.
pub async fn exchange(auth: &SmartAuth, headers: &HeaderMap, params: &Params) -> Result<Issued, OAuthError> {
    let now = super::now();
    let authenticated = client_auth::authenticate(auth, headers, params, now).await?;
    if authenticated.method != Method::PrivateKeyJwt {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "client_credentials is for backend services authenticating with a client assertion"));
    }
    let client = authenticated.client;
    let requested = parse_scopes(params.require("scope")?).map_err(|e| OAuthError::new(ErrorCode::InvalidScope, e.to_string()))?;
    let system: Vec<Scope> = requested.into_iter().filter(|s| scopes::has_system(std::slice::from_ref(s))).collect();
    let granted = scopes::limit(&system, &client.allowed_scopes());
    if granted.is_empty() {
        return Err(OAuthError::new(ErrorCode::InvalidScope, "none of the requested system/ scopes is allowed for this client"));
    }
    let grant = Grant {
        client_id: &client.client_id,
        grant_id: None,
        sub: &client.client_id,
        fhir_user: None,
        scope: &granted,
        patient: None,
        encounter: None,
        nonce: None,
        lifetime: lifetime::BACKEND_ACCESS_TOKEN,
        id_token: false,
        refresh: None,
    };
    let mut tx = auth.pool.begin_outside_store().await.map_err(storage)?;
    let issued = auth.issue(&mut tx, &grant, now).await?;
    tx.commit().await.map_err(storage)?;
    Ok(issued)
}

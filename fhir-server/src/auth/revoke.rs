//! `POST [base]/auth/revoke` (RFC 7009): a client revokes one of its refresh tokens (with every
//! token of that grant) or access tokens. Public clients identify with their `client_id`.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;
use smart_auth::{ErrorCode, OAuthError};

use super::client_auth;
use super::storage;
use super::token::{error_response, json_response};
use super::{form, refresh_tokens, AuthState, SmartAuth};
use crate::store::Arg;

/// `POST /auth/revoke`.
pub async fn handle(state: AuthState, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let params = form::form_body(&headers, &body)?;
        let caller = client_auth::authenticate(&state, &headers, &params, super::now()).await?;
        let token = params.require("token")?;
        match params.get("token_type_hint")? {
            None | Some("access_token" | "refresh_token") => {}
            Some(other) => return Err(OAuthError::new(ErrorCode::UnsupportedTokenType, format!("token_type_hint {other} is not revocable here"))),
        }
        revoke(&state, &caller.client.client_id, token).await
    }
    .await;
    match result {
        // RFC 7009 §2.2: success, and also for a token that is invalid or unknown.
        Ok(()) => json_response(StatusCode::OK, &json!({})),
        Err(e) => {
            tracing::info!(error = e.code.as_str(), description = %e.description, "revocation refused");
            error_response(&e)
        }
    }
}

fn not_yours() -> OAuthError {
    OAuthError::new(ErrorCode::UnauthorizedClient, "the token was issued to another client")
}

async fn revoke(auth: &SmartAuth, client_id: &str, token: &str) -> Result<(), OAuthError> {
    let now = super::now();
    if let Some(r) = refresh_tokens::find(&auth.pool, token).await.map_err(storage)? {
        if r.client_id != client_id {
            return Err(not_yours());
        }
        // RFC 7009 §2.1: revoking a refresh token also ends the access tokens of its grant.
        auth.revoke_grant(&r.grant_id, "refresh token revoked by its client").await.map_err(storage)?;
        return Ok(());
    }
    if let Ok(claims) = auth.verify_own(token, now).await {
        if claims.client_id != client_id {
            return Err(not_yours());
        }
        let mut tx = auth.pool.begin_outside_store().await.map_err(storage)?;
        tx.execute(
            "UPDATE auth_access_token SET revoked_at = $2 WHERE jti = $1 AND revoked_at IS NULL",
            &[Arg::Text(&claims.jti), Arg::Int(now as i64)],
        )
        .await
        .map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        auth.revoked.insert(&claims.jti, claims.exp);
        tracing::info!(client_id, jti = %claims.jti, "access token revoked by its client");
    }
    Ok(())
}

//! The `refresh_token` grant (RFC 6749 §6): rotation (each refresh token works once; a used one
//! presented again revokes its grant), narrowing but never widening the scopes (SMART
//! requirements 103, 104, 109), offline tokens renewed and online ones bound to the sign-in.

use axum::http::HeaderMap;
use smart_auth::{ErrorCode, OAuthError};
use smart_scopes::parse_scopes;

use super::client_auth::{self, Authenticated};
use super::{invalid_grant, storage};
use super::form::Params;
use super::issue::{Grant, Issued};
use super::refresh_tokens::{self, NewRefresh};
use super::{lifetime, scopes, users, SmartAuth};

/// Exchanges a refresh token for a new access token and its successor.
pub async fn exchange(auth: &SmartAuth, headers: &HeaderMap, params: &Params) -> Result<Issued, OAuthError> {
    let now = super::now();
    let Authenticated { client, .. } = client_auth::authenticate(auth, headers, params, now).await?;
    let presented = params.require("refresh_token")?;
    let Some(row) = refresh_tokens::find(&auth.pool, presented).await.map_err(storage)? else { return Err(invalid_grant("unknown refresh token")) };
    if row.client_id != client.client_id {
        return Err(invalid_grant("refresh token issued to another client"));
    }
    if row.revoked_at.is_some() {
        return Err(invalid_grant("refresh token revoked"));
    }
    if row.used_at.is_some() {
        // Rotation: a used token seen again means two holders, one of them not the app.
        auth.revoke_grant(&row.grant_id, "refresh token used twice").await.map_err(storage)?;
        return Err(invalid_grant("refresh token already used; its grant is revoked"));
    }
    if row.expires_at <= now as i64 {
        return Err(invalid_grant("refresh token expired"));
    }
    let original = parse_scopes(&row.scope).unwrap_or_default();
    let asked = match params.get("scope")? {
        None => original.clone(),
        Some(s) => {
            let asked = parse_scopes(s).map_err(|e| OAuthError::new(ErrorCode::InvalidScope, e.to_string()))?;
            if !scopes::within(&asked, &original) {
                return Err(OAuthError::new(ErrorCode::InvalidScope, "a refresh may narrow the granted scopes, not widen them"));
            }
            asked
        }
    };
    // The registration may have shrunk since the grant.
    let granted = scopes::limit(&asked, &client.allowed_scopes());
    let Some(user) = users::find(&auth.pool, &row.username).await.map_err(storage)? else { return Err(invalid_grant("the user no longer exists")) };

    let mut tx = auth.pool.begin_outside_store().await.map_err(storage)?;
    if !refresh_tokens::mark_used(&mut tx, &row.token_hash, now).await.map_err(storage)? {
        drop(tx);
        auth.revoke_grant(&row.grant_id, "refresh token used twice").await.map_err(storage)?;
        return Err(invalid_grant("refresh token already used; its grant is revoked"));
    }
    let expires_at = if row.offline { now + lifetime::OFFLINE_REFRESH } else { row.expires_at.max(0) as u64 };
    let grant = Grant {
        client_id: &client.client_id,
        grant_id: Some(&row.grant_id),
        sub: &user.sub,
        fhir_user: user.fhir_user.as_deref(),
        scope: &granted,
        patient: row.patient.as_deref(),
        encounter: row.encounter.as_deref(),
        nonce: None,
        lifetime: lifetime::ACCESS_TOKEN,
        id_token: false,
        // RFC 6749 §6: the new refresh token keeps the original scope, whatever this access token narrowed.
        refresh: Some(NewRefresh {
            grant_id: &row.grant_id,
            client_id: &client.client_id,
            username: &user.username,
            scope: &row.scope,
            patient: row.patient.as_deref(),
            encounter: row.encounter.as_deref(),
            offline: row.offline,
            expires_at,
        }),
    };
    let issued = auth.issue(&mut tx, &grant, now).await?;
    tx.commit().await.map_err(storage)?;
    Ok(issued)
}

//! The `authorization_code` grant (RFC 6749 §4.1.3, RFC 7636 §4.5): a single-use code, its
//! redirect URI and PKCE verifier, the client that asked for it.

use axum::http::HeaderMap;
use smart_auth::{pkce, OAuthError};
use smart_scopes::{parse_scopes, Scope};

use super::client_auth::{self, Authenticated};
use super::{invalid_grant, storage};
use super::form::Params;
use super::issue::{Grant, Issued};
use super::refresh_tokens::NewRefresh;
use super::{codes, lifetime, users, SmartAuth};

/// Exchanges a code for tokens.
pub async fn exchange(auth: &SmartAuth, headers: &HeaderMap, params: &Params) -> Result<Issued, OAuthError> {
    let now = super::now();
    let Authenticated { client, .. } = client_auth::authenticate(auth, headers, params, now).await?;
    let code = params.require("code")?;
    let redirect_uri = params.require("redirect_uri")?;
    let verifier = params.require("code_verifier")?;
    let Some(row) = codes::find(&auth.pool, code).await.map_err(storage)? else { return Err(invalid_grant("unknown authorization code")) };
    if row.used_at.is_some() {
        // RFC 6749 §4.1.2: a code used twice may have been stolen; what it gave is taken back.
        auth.revoke_grant(&row.grant_id, "authorization code used twice").await.map_err(storage)?;
        return Err(invalid_grant("authorization code already used; the tokens issued with it are revoked"));
    }
    if row.client_id != client.client_id {
        return Err(invalid_grant("authorization code issued to another client"));
    }
    if row.expires_at <= now as i64 {
        return Err(invalid_grant("authorization code expired"));
    }
    if row.redirect_uri != redirect_uri {
        return Err(invalid_grant("redirect_uri differs from the authorization request's"));
    }
    pkce::verify_s256(verifier, &row.code_challenge)?;
    let Some(user) = users::find(&auth.pool, &row.username).await.map_err(storage)? else { return Err(invalid_grant("the user no longer exists")) };

    let scope = parse_scopes(&row.scope).unwrap_or_default();
    let refresh = if scope.contains(&Scope::OfflineAccess) {
        Some((true, now + lifetime::OFFLINE_REFRESH))
    } else if scope.contains(&Scope::OnlineAccess) {
        Some((false, now + lifetime::ONLINE_REFRESH))
    } else {
        None
    };
    let mut tx = auth.pool.begin_outside_store().await.map_err(storage)?;
    if !codes::mark_used(&mut tx, &row.code_hash, now).await.map_err(storage)? {
        drop(tx);
        auth.revoke_grant(&row.grant_id, "authorization code used twice").await.map_err(storage)?;
        return Err(invalid_grant("authorization code already used; the tokens issued with it are revoked"));
    }
    let grant = Grant {
        client_id: &client.client_id,
        grant_id: Some(&row.grant_id),
        sub: &user.sub,
        fhir_user: user.fhir_user.as_deref(),
        scope: &scope,
        patient: row.patient.as_deref(),
        encounter: row.encounter.as_deref(),
        nonce: row.nonce.as_deref(),
        lifetime: lifetime::ACCESS_TOKEN,
        id_token: true,
        refresh: refresh.map(|(offline, expires_at)| NewRefresh {
            grant_id: &row.grant_id,
            client_id: &client.client_id,
            username: &user.username,
            scope: &row.scope,
            patient: row.patient.as_deref(),
            encounter: row.encounter.as_deref(),
            offline,
            expires_at,
        }),
    };
    let issued = auth.issue(&mut tx, &grant, now).await?;
    tx.commit().await.map_err(storage)?;
    Ok(issued)
}

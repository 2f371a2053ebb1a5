//! `POST [base]/auth/introspect` (RFC 7662, SMART requirements 271-283).
//!
//! Who may ask: a confidential client with its credentials (`client_secret_basic` or
//! `private_key_jwt`), or anyone holding an active access token of ours, sent as
//! `Authorization: Bearer` (SMART requirement 282); either may introspect any token
//! (requirement 283). Public clients have no credentials, so they use their own access token.

use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};
use smart_auth::{ErrorCode, OAuthError};

use super::client_auth::{self, Method};
use super::storage;
use super::token::{error_response, json_response};
use super::{form, refresh_tokens, users, verify, AuthState, SmartAuth};
use crate::store::Arg;

/// `POST /auth/introspect`.
pub async fn handle(state: AuthState, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let params = form::form_body(&headers, &body)?;
        authorize_caller(&state, &headers, &params).await?;
        let token = params.require("token")?;
        introspect(&state, token).await
    }
    .await;
    match result {
        Ok(answer) => json_response(StatusCode::OK, &answer),
        Err(e) => {
            tracing::info!(error = e.code.as_str(), description = %e.description, "introspection refused");
            error_response(&e)
        }
    }
}

async fn authorize_caller(auth: &SmartAuth, headers: &HeaderMap, params: &form::Params) -> Result<(), OAuthError> {
    let scheme = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.split(' ').next()).unwrap_or("");
    if scheme.eq_ignore_ascii_case("bearer") {
        auth.verify_token(verify::bearer(headers)?).await?;
        return Ok(());
    }
    let caller = client_auth::authenticate(auth, headers, params, super::now()).await?;
    if caller.method == Method::None {
        return Err(OAuthError::new(ErrorCode::InvalidClient, "introspection needs a confidential client's credentials or a bearer token"));
    }
    Ok(())
}

/// The introspection answer: an active access token's claims, an active refresh token's grant,
/// or `{"active": false}` for anything else (unknown, expired, revoked, used, foreign).
async fn introspect(auth: &SmartAuth, token: &str) -> Result<Value, OAuthError> {
    let now = super::now();
    if let Ok(claims) = auth.verify_own(token, now).await {
        let row: Option<(Option<i64>,)> =
            auth.pool.fetch_opt("SELECT revoked_at FROM auth_access_token WHERE jti = $1", &[Arg::Text(&claims.jti)]).await.map_err(storage)?;
        if !matches!(row, Some((None,))) || auth.revoked.contains(&claims.jti) {
            return Ok(json!({"active": false}));
        }
        let mut out = Map::new();
        out.insert("active".into(), json!(true));
        out.insert("scope".into(), json!(claims.scope));
        out.insert("client_id".into(), json!(claims.client_id));
        out.insert("token_type".into(), json!("Bearer"));
        out.insert("exp".into(), json!(claims.exp));
        out.insert("iat".into(), json!(claims.iat));
        out.insert("sub".into(), json!(claims.sub));
        out.insert("iss".into(), json!(claims.iss));
        out.insert("aud".into(), json!(auth.endpoints.base));
        out.insert("jti".into(), json!(claims.jti));
        for (name, value) in [("patient", claims.patient), ("encounter", claims.encounter), ("fhirUser", claims.fhir_user)] {
            if let Some(v) = value {
                out.insert(name.into(), json!(v));
            }
        }
        return Ok(Value::Object(out));
    }
    if let Some(r) = refresh_tokens::find(&auth.pool, token).await.map_err(storage)? {
        if r.is_active(now) {
            let sub = users::find(&auth.pool, &r.username).await.map_err(storage)?.map(|u| u.sub);
            let mut out = json!({
                "active": true,
                "scope": r.scope,
                "client_id": r.client_id,
                "token_type": "refresh_token",
                "exp": r.expires_at,
                "iat": r.created_at,
                "iss": auth.endpoints.issuer,
            });
            if let Some(sub) = sub {
                out["sub"] = json!(sub);
            }
            return Ok(out);
        }
    }
    Ok(json!({"active": false}))
}

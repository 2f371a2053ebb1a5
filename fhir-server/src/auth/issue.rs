//! Minting the token response shared by every grant: a signed access token (recorded by jti),
//! an ID token when OpenID Connect was granted, a refresh token when one was planned.

use serde_json::{json, Map, Value};
use smart_auth::{issue_access_token, issue_id_token, AccessClaims, IdClaims, OAuthError};
use smart_scopes::Scope;

use super::refresh_tokens::{self, NewRefresh};
use super::{scopes, server_error, SmartAuth};
use crate::store::{Arg, Tx};

/// What to issue.
#[derive(Debug, Clone)]
pub struct Grant<'a> {
    /// The client.
    pub client_id: &'a str,
    /// The authorization grant tokens descend from (None for client_credentials).
    pub grant_id: Option<&'a str>,
    /// Subject: the user's stable id, or the client's for backend services.
    pub sub: &'a str,
    /// The user's FHIR resource, relative (`Practitioner/1`).
    pub fhir_user: Option<&'a str>,
    /// Granted scopes.
    pub scope: &'a [Scope],
    /// Patient in context.
    pub patient: Option<&'a str>,
    /// Encounter in context.
    pub encounter: Option<&'a str>,
    /// OpenID Connect nonce of the authorization request.
    pub nonce: Option<&'a str>,
    /// Access token lifetime, seconds.
    pub lifetime: u64,
    /// Whether an ID token may come with this response (the authorization code exchange).
    pub id_token: bool,
    /// The refresh token to issue.
    pub refresh: Option<NewRefresh<'a>>,
}

/// An issued token response.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The response body (RFC 6749 §5.1 plus SMART launch context).
    pub body: Value,
    /// The access token's jti, for the log.
    pub jti: String,
    /// The client, for the log.
    pub client_id: String,
    /// Granted scopes.
    pub scope: String,
}

impl SmartAuth {
    /// The absolute URL of a relative FHIR reference.
    pub fn absolute(&self, reference: &str) -> String {
        format!("{}/{reference}", self.endpoints.base)
    }

    /// Issues the tokens of a grant inside `tx` (committed by the caller).
    pub async fn issue(&self, tx: &mut Tx, g: &Grant<'_>, now: u64) -> Result<Issued, OAuthError> {
        let keys = self.keys.current();
        let scope = scopes::join(g.scope);
        let fhir_user = g.fhir_user.map(|r| self.absolute(r));
        let mut claims = AccessClaims::new(&self.endpoints.issuer, &self.endpoints.base, g.sub, g.client_id, &scope, now, g.lifetime);
        claims.patient = g.patient.map(str::to_string);
        claims.encounter = g.encounter.map(str::to_string);
        claims.fhir_user = fhir_user.clone();
        let access_token = issue_access_token(&keys, &claims).map_err(|e| server_error("signing an access token failed", e))?;
        tx.execute(
            "INSERT INTO auth_access_token (jti, grant_id, client_id, sub, scope, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                Arg::Text(&claims.jti),
                Arg::OptText(g.grant_id),
                Arg::Text(g.client_id),
                Arg::Text(g.sub),
                Arg::Text(&scope),
                Arg::Int(now as i64),
                Arg::Int(claims.exp as i64),
            ],
        )
        .await
        .map_err(|e| server_error("recording an access token failed", e))?;

        let mut body = Map::new();
        body.insert("access_token".into(), json!(access_token));
        body.insert("token_type".into(), json!("Bearer"));
        body.insert("expires_in".into(), json!(g.lifetime));
        body.insert("scope".into(), json!(scope));
        if let Some(p) = g.patient {
            body.insert("patient".into(), json!(p));
        }
        if let Some(e) = g.encounter {
            body.insert("encounter".into(), json!(e));
        }
        let has = |s: &Scope| g.scope.contains(s);
        let profile = Scope::Other("profile".into());
        if g.id_token && has(&Scope::OpenId) && (has(&Scope::FhirUser) || has(&profile)) {
            let id = IdClaims {
                iss: self.endpoints.issuer.clone(),
                sub: g.sub.to_string(),
                aud: g.client_id.to_string(),
                exp: now + g.lifetime,
                iat: now,
                nonce: g.nonce.map(str::to_string),
                fhir_user: if has(&Scope::FhirUser) { fhir_user } else { None },
            };
            let id_token = issue_id_token(&keys, &id).map_err(|e| server_error("signing an ID token failed", e))?;
            body.insert("id_token".into(), json!(id_token));
        }
        if let Some(r) = &g.refresh {
            let token = refresh_tokens::insert(tx, r, now).await.map_err(|e| server_error("recording a refresh token failed", e))?;
            body.insert("refresh_token".into(), json!(token));
        }
        Ok(Issued { body: Value::Object(body), jti: claims.jti, client_id: g.client_id.to_string(), scope })
    }
}

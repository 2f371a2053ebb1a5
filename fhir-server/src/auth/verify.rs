//! Checking a bearer token (RFC 6750) for the FHIR interactions: ours (signature, algorithm,
//! issuer, audience, expiry, not revoked) or the external provider's.

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use smart_auth::{verify_access_token, AccessClaims, ErrorCode, OAuthError, TokenError};

use super::SmartAuth;

/// What a verified access token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// Who issued it: our issuer (the FHIR base URL) or the external provider's.
    pub issuer: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The user's stable id, or the client's for backend services.
    pub subject: String,
    /// Granted scopes, space separated.
    pub scope: String,
    /// Patient in context.
    pub patient: Option<String>,
    /// Encounter in context.
    pub encounter: Option<String>,
    /// The user's FHIR resource, absolute URL.
    pub fhir_user: Option<String>,
    /// Token id.
    pub jti: String,
    /// Expiry, Unix seconds.
    pub expires_at: u64,
}

impl From<AccessClaims> for VerifiedToken {
    fn from(c: AccessClaims) -> Self {
        VerifiedToken {
            issuer: c.iss,
            client_id: c.client_id,
            subject: c.sub,
            scope: c.scope,
            patient: c.patient,
            encounter: c.encounter,
            fhir_user: c.fhir_user,
            jti: c.jti,
            expires_at: c.exp,
        }
    }
}

fn invalid_token(description: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidToken, description)
}

/// The token of an `Authorization: Bearer` header.
pub fn bearer(headers: &HeaderMap) -> Result<&str, OAuthError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(invalid_token("send one Authorization: Bearer header with an access token"));
    };
    let value = value.to_str().map_err(|_| invalid_token("the Authorization header is not text"))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => Ok(token.trim()),
        _ => Err(invalid_token("the Authorization header is not a Bearer token")),
    }
}

/// The `iss` of a JWT, unverified, to choose whose keys to check it with.
fn peek_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.get("iss")?.as_str().map(str::to_string)
}

impl SmartAuth {
    /// Verifies the bearer token of a request.
    pub async fn verify_bearer(&self, headers: &HeaderMap) -> Result<VerifiedToken, OAuthError> {
        self.verify_token(bearer(headers)?).await
    }

    /// Verifies an access token.
    pub async fn verify_token(&self, token: &str) -> Result<VerifiedToken, OAuthError> {
        let now = super::now();
        if let Some(external) = &self.external {
            if peek_issuer(token).as_deref() == Some(external.provider.issuer.as_str()) {
                return external.verify(token, now).await.map(VerifiedToken::from);
            }
        }
        if !self.is_issuing() {
            return Err(invalid_token("the token was not issued by the accepted OpenID provider"));
        }
        // The set is taken before verifying, so an entry is never tagged with keys newer than
        // those that verified it.
        let keys = self.keys.current();
        let verified = match self.verified.get(token, &keys, now) {
            Some(v) => v,
            None => {
                let v = VerifiedToken::from(self.verify_own(token, now).await.map_err(|e| e.to_oauth_error())?);
                self.verified.insert(token, &keys, &v, now);
                v
            }
        };
        if self.revoked.contains(&verified.jti) {
            return Err(invalid_token("the token was revoked"));
        }
        Ok(verified)
    }

    /// Verifies one of our access tokens, revocation aside; a kid we lack makes us reload the
    /// keys once (another instance or the CLI rotated them).
    pub(crate) async fn verify_own(&self, token: &str, now: u64) -> Result<AccessClaims, TokenError> {
        let verify = |keys: &smart_auth::KeySet| verify_access_token(token, keys, &self.endpoints.issuer, &self.endpoints.base, now);
        match verify(&self.keys.current()) {
            Err(TokenError::UnknownKid(_)) if self.keys.reload_for_unknown_kid(&self.pool).await => verify(&self.keys.current()),
            other => other,
        }
    }
}

/// Our verifier as the FHIR interactions' authenticator: the token's scopes become the grant
/// they enforce (scopes that do not parse grant nothing rather than failing the request, since
/// an external provider may add scopes of its own).
#[async_trait::async_trait]
impl crate::access::Authenticate for SmartAuth {
    async fn authenticate(&self, headers: &HeaderMap) -> Result<crate::access::TokenAccess, crate::error::FhirError> {
        let t = self.verify_bearer(headers).await.map_err(|e| crate::error::FhirError::unauthorized(e.description.clone()))?;
        let scopes: Vec<smart_scopes::Scope> = t.scope.split(' ').filter_map(|s| smart_scopes::Scope::parse(s).ok()).collect();
        Ok(crate::access::TokenAccess {
            grant: smart_scopes::Grant::new(&scopes),
            scope: t.scope,
            client_id: t.client_id,
            subject: Some(t.subject),
            patient: t.patient,
            encounter: t.encounter,
            fhir_user: t.fhir_user,
        })
    }
}

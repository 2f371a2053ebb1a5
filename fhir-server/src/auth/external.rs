//! Access tokens of an external OpenID provider (`--auth-external-issuer`,
//! `--auth-external-jwks-url`): RFC 9068 JWTs checked against the provider's published keys.

use smart_auth::{verify_access_token, AccessClaims, ErrorCode, OAuthError, TokenError};

use super::jwks_cache::JwksCache;
use super::ExternalProvider;

/// The provider and its cached keys.
pub struct External {
    /// Issuer and JWKS URL.
    pub provider: ExternalProvider,
    audience: String,
    keys: JwksCache,
}

impl External {
    /// Accepts the provider's tokens meant for `audience` (or the FHIR base URL `base`).
    pub fn new(provider: ExternalProvider, base: &str, http: reqwest::Client) -> Self {
        let audience = provider.audience.clone().unwrap_or_else(|| base.to_string());
        External { provider, audience, keys: JwksCache::new(http) }
    }

    /// Verifies one of the provider's access tokens: its algorithms (never HMAC or none), key,
    /// signature, time, issuer and audience.
    pub async fn verify(&self, token: &str, now: u64) -> Result<AccessClaims, OAuthError> {
        let url = &self.provider.jwks_url;
        let keys = self.keys.get(url).await.map_err(|e| {
            tracing::warn!(url = %url, error = %e, "the external provider's keys are unavailable");
            OAuthError::new(ErrorCode::TemporarilyUnavailable, "the OpenID provider's keys cannot be fetched")
        })?;
        match verify_access_token(token, &*keys, &self.provider.issuer, &self.audience, now) {
            Err(TokenError::UnknownKid(kid)) => match self.keys.refetch_for_unknown_kid(url).await {
                Some(fresh) => verify_access_token(token, &*fresh, &self.provider.issuer, &self.audience, now),
                None => Err(TokenError::UnknownKid(kid)),
            },
            other => other,
        }
        .map_err(|e| e.to_oauth_error())
    }
}

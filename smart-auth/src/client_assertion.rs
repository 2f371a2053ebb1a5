//! Asymmetric client authentication (`private_key_jwt`, SMART `client-confidential-asymmetric`
//! and Backend Services): validating the client's signed assertion (SMART requirements 335-338).
//! The replay check on `jti` (requirement 336) needs storage shared by all server instances,
//! so the caller does it with the returned `jti` and `exp`.

use std::collections::HashMap;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::Algorithm;
use serde_json::Value;

use crate::error::{ErrorCode, OAuthError};
use crate::jws::{self, LEEWAY};
use crate::tokens::TokenError;

/// The only `client_assertion_type` (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Algorithms a client may sign its assertion with (SMART requirement 310).
pub const CLIENT_ASSERTION_ALGORITHMS: &[Algorithm] = &[Algorithm::RS384, Algorithm::ES384];

/// Longest assertion lifetime, in seconds: `exp` may be at most this far ahead (plus the leeway).
pub const MAX_ASSERTION_LIFETIME: u64 = 300;

/// Why a client assertion was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    /// `client_assertion_type` is not [`JWT_BEARER`].
    #[error("client_assertion_type must be {JWT_BEARER}")]
    WrongAssertionType,
    /// The JWT itself failed: shape, algorithm, key, signature, time, `iss` or `aud`.
    #[error(transparent)]
    Jwt(#[from] TokenError),
    /// The header's `jku` is not the JWKS URL registered for the client (requirement 338).
    #[error("jku is not the client's registered JWKS URL")]
    JkuNotRegistered,
    /// `iss` and `sub` differ; both must be the client_id.
    #[error("iss and sub must both be the client_id")]
    IssuerNotSubject,
    /// `exp` further ahead than [`MAX_ASSERTION_LIFETIME`] plus the leeway.
    #[error("exp is more than five minutes ahead")]
    ExpTooFarAhead,
    /// The same `jti` was already seen for this client (requirement 336).
    #[error("jti was already used")]
    ReplayedJti,
}

impl AssertionError {
    /// The OAuth error: `invalid_client` (401) as SMART requirement 340 asks for failed client
    /// authentication, except a wrong `client_assertion_type`, a malformed request
    /// (`invalid_request`, 400, which every Inferno version accepts).
    pub fn to_oauth_error(&self) -> OAuthError {
        let code = match self {
            Self::WrongAssertionType => ErrorCode::InvalidRequest,
            _ => ErrorCode::InvalidClient,
        };
        OAuthError::new(code, self.to_string())
    }
}

/// The registration a client authenticates against.
#[derive(Debug, Clone, Copy)]
pub struct RegisteredClient<'a> {
    /// The client's id; `iss` and `sub` must equal it.
    pub client_id: &'a str,
    /// The registered JWKS, or the one fetched from `jwks_url`.
    pub jwks: &'a JwkSet,
    /// The registered JWKS URL, the only `jku` accepted.
    pub jwks_url: Option<&'a str>,
}

/// A verified assertion, for the caller's replay check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedAssertion {
    /// The authenticated client.
    pub client_id: String,
    /// The assertion's id; refuse it if seen before for this client until `exp` (+ leeway).
    pub jti: String,
    /// Expiry, Unix seconds.
    pub exp: u64,
}

/// The `iss` of an assertion, unverified, so the caller can look the client up first.
pub fn unverified_client_id(assertion: &str) -> Result<String, AssertionError> {
    Ok(jws::string_claim(&jws::split(assertion)?.claims, "iss")?.to_owned())
}

/// Validates a client assertion posted to `token_endpoint` (its `aud`) at time `now`.
pub fn validate_client_assertion(
    assertion: &str,
    assertion_type: &str,
    client: &RegisteredClient<'_>,
    token_endpoint: &str,
    now: u64,
) -> Result<ValidatedAssertion, AssertionError> {
    if assertion_type != JWT_BEARER {
        return Err(AssertionError::WrongAssertionType);
    }
    let check_jku = |header: &serde_json::Map<String, Value>| match header.get("jku") {
        Some(jku) if jku.as_str().is_none() || jku.as_str() != client.jwks_url => Err(AssertionError::JkuNotRegistered),
        _ => Ok(()),
    };
    let verified = jws::verify(assertion, &client.jwks.keys, CLIENT_ASSERTION_ALGORITHMS, now, check_jku)?;
    let claims = &verified.claims;
    if verified.exp > now.saturating_add(MAX_ASSERTION_LIFETIME + LEEWAY) {
        return Err(AssertionError::ExpTooFarAhead);
    }
    let iss = jws::string_claim(claims, "iss")?;
    if jws::string_claim(claims, "sub")? != iss {
        return Err(AssertionError::IssuerNotSubject);
    }
    jws::check_issuer(claims, client.client_id)?;
    jws::check_audience(claims, token_endpoint)?;
    let jti = jws::string_claim(claims, "jti")?;
    Ok(ValidatedAssertion { client_id: iss.to_owned(), jti: jti.to_owned(), exp: verified.exp })
}

/// Seen `jti`s per client in memory, for a single server process and for tests; a server with
/// several instances keeps them in its database instead.
#[derive(Debug, Default)]
pub struct JtiCache {
    seen: HashMap<(String, String), u64>,
}

impl JtiCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the assertion's `jti`, refusing one already recorded and not yet expired;
    /// forgets expired entries on the way.
    pub fn check_and_remember(&mut self, assertion: &ValidatedAssertion, now: u64) -> Result<(), AssertionError> {
        self.seen.retain(|_, exp| exp.saturating_add(LEEWAY) >= now);
        let key = (assertion.client_id.clone(), assertion.jti.clone());
        if self.seen.contains_key(&key) {
            return Err(AssertionError::ReplayedJti);
        }
        self.seen.insert(key, assertion.exp);
        Ok(())
    }
}

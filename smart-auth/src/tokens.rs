//! Our access tokens and OpenID Connect ID tokens as signed JWTs: issuing them, and verifying
//! access tokens (ours, or an external OpenID provider's) with an explicit algorithm list.

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::Algorithm;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{ErrorCode, OAuthError};
use crate::jws;
use crate::keys::KeySet;
use crate::secrets::random_token;

/// Algorithms our own access tokens are signed and accepted with.
pub const ACCESS_TOKEN_ALGORITHMS: &[Algorithm] = &[Algorithm::ES384, Algorithm::RS384];

/// Algorithms accepted on access tokens from an external OpenID provider: ours plus RS256 and
/// ES256, the defaults of common providers. Never HMAC, never `none`.
pub const EXTERNAL_ACCESS_TOKEN_ALGORITHMS: &[Algorithm] =
    &[Algorithm::ES384, Algorithm::RS384, Algorithm::RS256, Algorithm::ES256];

/// Algorithm of our ID tokens: RS256, which OpenID Connect makes the default and SMART
/// requirement 210 (Inferno test `smart_openid_token_header`) demands.
pub const ID_TOKEN_ALGORITHMS: &[Algorithm] = &[Algorithm::RS256];

/// Why a JWT was refused or could not be issued; each refusal has its own variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a compact JWS with JSON header and payload.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// `alg: none`, an unsigned token.
    #[error("unsigned tokens (alg none) are refused")]
    AlgNone,
    /// HS256/HS384/HS512: refused because a verifier holding only public keys could be tricked
    /// into using a public key as the HMAC secret.
    #[error("symmetric algorithm {0} is refused")]
    SymmetricAlgorithm(String),
    /// An asymmetric algorithm not on this check's list.
    #[error("algorithm {0} is not accepted here")]
    UnsupportedAlgorithm(String),
    /// The header names no key.
    #[error("token header has no kid")]
    MissingKid,
    /// No key has the header's kid.
    #[error("no key with kid {0:?}")]
    UnknownKid(String),
    /// Keys with this kid exist but none fits the algorithm (type, curve, `alg` or `use`).
    #[error("key {kid:?} cannot verify {alg} signatures")]
    KeyAlgorithmMismatch {
        /// The header's kid.
        kid: String,
        /// The header's algorithm.
        alg: String,
    },
    /// Several keys with this kid fit: SMART requirement 338 says verification fails.
    #[error("more than one key with kid {0:?}")]
    AmbiguousKid(String),
    /// The chosen key's parameters are unusable.
    #[error("key {0:?} is not a valid public key")]
    InvalidKey(String),
    /// The signature does not verify with the chosen key.
    #[error("signature does not verify")]
    BadSignature,
    /// `exp` passed, beyond the leeway.
    #[error("token has expired")]
    Expired,
    /// `nbf` in the future, beyond the leeway.
    #[error("token is not valid yet")]
    NotYetValid,
    /// `iss` is not the expected issuer.
    #[error("token was issued by someone else")]
    WrongIssuer,
    /// `aud` does not name us.
    #[error("token is meant for another audience")]
    WrongAudience,
    /// A required claim is absent or empty.
    #[error("token has no {0} claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type.
    #[error("token claim {0} has the wrong type")]
    InvalidClaim(&'static str),
    /// The key set has no key of a kind that may sign this token.
    #[error("no signing key for {0}")]
    NoSigningKey(&'static str),
    /// The crypto library failed to sign.
    #[error("signing failed: {0}")]
    Signing(String),
}

impl TokenError {
    /// The OAuth error for a refused bearer token (`invalid_token`, 401), or `server_error`
    /// when we failed to issue one.
    pub fn to_oauth_error(&self) -> OAuthError {
        let code = match self {
            Self::NoSigningKey(_) | Self::Signing(_) => ErrorCode::ServerError,
            _ => ErrorCode::InvalidToken,
        };
        OAuthError::new(code, self.to_string())
    }
}

/// `aud` as RFC 7519 allows it: one string or several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer: the authorization server's URL.
    pub iss: String,
    /// The user, or the client for backend services.
    pub sub: String,
    /// The FHIR base URL the token is for.
    pub aud: Audience,
    /// Expiry, Unix seconds.
    pub exp: u64,
    /// Issue time, Unix seconds.
    pub iat: u64,
    /// Unique id, for revocation and introspection.
    pub jti: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Granted scopes, space separated.
    pub scope: String,
    /// Launch patient id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// Launch encounter id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encounter: Option<String>,
    /// The user's FHIR resource URL (`Practitioner/123`).
    #[serde(rename = "fhirUser", default, skip_serializing_if = "Option::is_none")]
    pub fhir_user: Option<String>,
}

impl AccessClaims {
    /// Claims for a new token valid `lifetime` seconds from `now`, with a fresh random `jti`;
    /// launch context fields start empty.
    pub fn new(issuer: &str, audience: &str, sub: &str, client_id: &str, scope: &str, now: u64, lifetime: u64) -> Self {
        Self {
            iss: issuer.to_owned(),
            sub: sub.to_owned(),
            aud: Audience::One(audience.to_owned()),
            exp: now + lifetime,
            iat: now,
            jti: random_token(),
            client_id: client_id.to_owned(),
            scope: scope.to_owned(),
            patient: None,
            encounter: None,
            fhir_user: None,
        }
    }

    /// The granted scopes one by one.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split_ascii_whitespace()
    }
}

/// The claims of an OpenID Connect ID token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdClaims {
    /// Issuer: the authorization server's URL, as in openid-configuration.
    pub iss: String,
    /// The user's stable id (under 256 characters).
    pub sub: String,
    /// The client the token is for.
    pub aud: String,
    /// Expiry, Unix seconds.
    pub exp: u64,
    /// Issue time, Unix seconds.
    pub iat: u64,
    /// The authorization request's `nonce`, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The user's FHIR resource URL, when the `fhirUser` scope was granted.
    #[serde(rename = "fhirUser", default, skip_serializing_if = "Option::is_none")]
    pub fhir_user: Option<String>,
}

/// Where the keys that may have signed an access token come from; each source has its own
/// accepted algorithm list.
#[derive(Debug, Clone, Copy)]
pub enum TrustedKeys<'a> {
    /// Our own keys: [`ACCESS_TOKEN_ALGORITHMS`].
    Own(&'a KeySet),
    /// An external OpenID provider's JWKS: [`EXTERNAL_ACCESS_TOKEN_ALGORITHMS`].
    External(&'a JwkSet),
}

impl TrustedKeys<'_> {
    /// The algorithms accepted from this source.
    pub fn algorithms(&self) -> &'static [Algorithm] {
        match self {
            Self::Own(_) => ACCESS_TOKEN_ALGORITHMS,
            Self::External(_) => EXTERNAL_ACCESS_TOKEN_ALGORITHMS,
        }
    }

    fn jwks(&self) -> Vec<&Jwk> {
        match self {
            Self::Own(set) => set.keys().iter().map(|k| k.public_jwk()).collect(),
            Self::External(set) => set.keys.iter().collect(),
        }
    }
}

impl<'a> From<&'a KeySet> for TrustedKeys<'a> {
    fn from(set: &'a KeySet) -> Self {
        Self::Own(set)
    }
}

impl<'a> From<&'a JwkSet> for TrustedKeys<'a> {
    fn from(set: &'a JwkSet) -> Self {
        Self::External(set)
    }
}

/// Signs an access token with the newest ES384 or RS384 key.
pub fn issue_access_token(keys: &KeySet, claims: &AccessClaims) -> Result<String, TokenError> {
    keys.newest(ACCESS_TOKEN_ALGORITHMS).ok_or(TokenError::NoSigningKey("access tokens (ES384 or RS384)"))?.sign(claims)
}

/// Verifies a bearer token: algorithm, key, signature, `exp`/`nbf` (60 s leeway), `iss`, `aud`,
/// then the presence of `sub`, `iat`, `jti`, `client_id` and `scope`.
pub fn verify_access_token<'a>(
    token: &str,
    keys: impl Into<TrustedKeys<'a>>,
    issuer: &str,
    audience: &str,
    now: u64,
) -> Result<AccessClaims, TokenError> {
    let keys = keys.into();
    let verified = jws::verify(token, keys.jwks(), keys.algorithms(), now, |_| Ok::<_, TokenError>(()))?;
    checked_claims(verified.claims, issuer, audience, &["sub", "iat", "jti", "client_id", "scope"])
}

/// Signs an ID token with the newest RS256 key.
pub fn issue_id_token(keys: &KeySet, claims: &IdClaims) -> Result<String, TokenError> {
    keys.newest(ID_TOKEN_ALGORITHMS).ok_or(TokenError::NoSigningKey("ID tokens (RS256)"))?.sign(claims)
}

/// Verifies one of our ID tokens as a client would (`aud` = its client_id); for tests and for
/// `id_token_hint`.
pub fn verify_id_token(
    token: &str,
    keys: &KeySet,
    issuer: &str,
    client_id: &str,
    now: u64,
) -> Result<IdClaims, TokenError> {
    let jwks = keys.keys().iter().map(|k| k.public_jwk());
    let verified = jws::verify(token, jwks, ID_TOKEN_ALGORITHMS, now, |_| Ok::<_, TokenError>(()))?;
    checked_claims(verified.claims, issuer, client_id, &["sub", "iat"])
}

fn checked_claims<T: DeserializeOwned>(
    claims: Map<String, Value>,
    issuer: &str,
    audience: &str,
    required: &[&'static str],
) -> Result<T, TokenError> {
    jws::check_issuer(&claims, issuer)?;
    jws::check_audience(&claims, audience)?;
    jws::require(&claims, required)?;
    serde_json::from_value(Value::Object(claims)).map_err(|_| TokenError::Malformed("claims have unexpected types"))
}

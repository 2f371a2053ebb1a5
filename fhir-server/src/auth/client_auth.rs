//! Client authentication at the token, introspection and revocation endpoints: a secret with
//! HTTP Basic (`client_secret_basic`), a signed assertion (`private_key_jwt`, SMART
//! requirements 335-340), or, for public clients, the `client_id` alone.

use std::sync::Arc;

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use smart_auth::secrets::verify_secret;
use smart_auth::{
    parse_jwks, unverified_client_id, validate_client_assertion, AssertionError, ErrorCode, JwkSet, OAuthError, RegisteredClient,
    TokenError, ValidatedAssertion,
};

use super::clients::{self, Client, ClientType};
use super::storage;
use super::form::Params;
use super::{replay, SmartAuth};

/// How the client proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A public client: nothing beyond its id.
    None,
    /// `client_secret_basic`.
    ClientSecretBasic,
    /// `private_key_jwt`.
    PrivateKeyJwt,
}

/// An authenticated client.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// Its registration.
    pub client: Client,
    /// How it authenticated.
    pub method: Method,
}

fn invalid_client(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, description)
}

/// Authenticates the client of a request by whichever single method it used.
pub async fn authenticate(auth: &SmartAuth, headers: &HeaderMap, params: &Params, now: u64) -> Result<Authenticated, OAuthError> {
    let basic = basic_credentials(headers)?;
    let assertion = params.get("client_assertion")?;
    let claimed = params.get("client_id")?;
    if params.get("client_secret")?.is_some() {
        return Err(invalid_client("client_secret_post is not supported: send the client secret with HTTP Basic"));
    }
    match (basic, assertion) {
        (Some(_), Some(_)) => Err(OAuthError::new(ErrorCode::InvalidRequest, "use one client authentication method, not two")),
        (Some((id, secret)), None) => {
            if claimed.is_some_and(|c| c != id) {
                return Err(invalid_client("client_id differs from the client authenticated"));
            }
            let client = clients::find(&auth.pool, &id).await.map_err(storage)?;
            match client {
                Some(c) if c.client_type == ClientType::ConfidentialSymmetric && c.secret_hash.as_deref().is_some_and(|h| verify_secret(&secret, h)) => {
                    Ok(Authenticated { client: c, method: Method::ClientSecretBasic })
                }
                Some(c) if c.client_type != ClientType::ConfidentialSymmetric => Err(invalid_client("this client does not authenticate with a secret")),
                _ => Err(invalid_client("unknown client or wrong secret")),
            }
        }
        (None, Some(assertion)) => {
            let assertion_type = params.get("client_assertion_type")?.unwrap_or("");
            let iss = unverified_client_id(assertion).map_err(|e| e.to_oauth_error())?;
            // SMART requirement 337: the client_id sent, if any, is the assertion's issuer.
            if claimed.is_some_and(|c| c != iss) {
                return Err(invalid_client("client_id differs from the assertion's iss"));
            }
            let Some(client) = clients::find(&auth.pool, &iss).await.map_err(storage)? else {
                return Err(invalid_client("unknown client"));
            };
            if client.client_type != ClientType::ConfidentialAsymmetric {
                return Err(invalid_client("this client does not authenticate with a key"));
            }
            let validated = validate(auth, &client, assertion, assertion_type, now).await?;
            if !replay::remember(&auth.pool, &client.client_id, &validated.jti, validated.exp, now).await.map_err(storage)? {
                return Err(AssertionError::ReplayedJti.to_oauth_error());
            }
            Ok(Authenticated { client, method: Method::PrivateKeyJwt })
        }
        (None, None) => {
            let Some(id) = claimed else { return Err(invalid_client("no client authentication and no client_id")) };
            match clients::find(&auth.pool, id).await.map_err(storage)? {
                Some(c) if c.client_type == ClientType::Public => Ok(Authenticated { client: c, method: Method::None }),
                Some(_) => Err(invalid_client("this client must authenticate")),
                None => Err(invalid_client("unknown client")),
            }
        }
    }
}

/// The client's keys: registered as a set, or fetched from its registered URL.
async fn client_keys(auth: &SmartAuth, client: &Client) -> Result<Arc<JwkSet>, OAuthError> {
    match (&client.jwks, &client.jwks_url) {
        (Some(doc), _) => parse_jwks(doc).map(Arc::new).map_err(|e| invalid_client(format!("the client's registered keys are unusable: {e}"))),
        (None, Some(url)) => auth.client_jwks.get(url).await.map_err(|e| {
            tracing::warn!(client_id = %client.client_id, url = %url, error = %e, "fetching a client's JWK Set failed");
            invalid_client("the client's JWK Set URL could not be read")
        }),
        (None, None) => Err(invalid_client("the client has no registered keys")),
    }
}

/// Validates an assertion, fetching a JWKS URL anew once when the kid is unknown (the client
/// rotated its keys).
async fn validate(auth: &SmartAuth, client: &Client, assertion: &str, assertion_type: &str, now: u64) -> Result<ValidatedAssertion, OAuthError> {
    let keys = client_keys(auth, client).await?;
    let check = |keys: &JwkSet| {
        let registered = RegisteredClient { client_id: &client.client_id, jwks: keys, jwks_url: client.jwks_url.as_deref() };
        validate_client_assertion(assertion, assertion_type, &registered, &auth.endpoints.token, now)
    };
    let result = match (check(&keys), &client.jwks_url) {
        (Err(AssertionError::Jwt(TokenError::UnknownKid(kid))), Some(url)) => match auth.client_jwks.refetch_for_unknown_kid(url).await {
            Some(fresh) => check(&fresh),
            None => Err(AssertionError::Jwt(TokenError::UnknownKid(kid))),
        },
        (result, _) => result,
    };
    result.map_err(|e| e.to_oauth_error())
}

/// `Authorization: Basic` credentials, each part form-decoded (RFC 6749 §2.3.1); None without
/// a Basic header.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return Ok(None) };
    let Some((scheme, encoded)) = value.split_once(' ') else { return Ok(None) };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let malformed = || invalid_client("malformed HTTP Basic credentials");
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let text = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = text.split_once(':').ok_or_else(malformed)?;
    let decode = |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8().map(|c| c.into_owned()).map_err(|_| malformed());
    Ok(Some((decode(id)?, decode(secret)?)))
}

//! The logic of the built-in SMART App Launch 2.x / OpenID Connect authorization server, with no
//! storage and no HTTP: the server owns the database rows and routes, this crate decides what is
//! valid. Time is always passed in (`now`, Unix seconds) so every check is testable.
//!
//! Crypto is RustCrypto through `jsonwebtoken` (pure Rust). Accepted algorithms are listed
//! explicitly per token kind: [`ACCESS_TOKEN_ALGORITHMS`], [`EXTERNAL_ACCESS_TOKEN_ALGORITHMS`],
//! [`ID_TOKEN_ALGORITHMS`], [`CLIENT_ASSERTION_ALGORITHMS`]; `none` and HMAC are never accepted.
#![warn(missing_docs)]

pub mod client_assertion;
pub mod discovery;
pub mod error;
mod jws;
pub mod keys;
pub mod pkce;
pub mod secrets;
pub mod tokens;

pub use client_assertion::{
    unverified_client_id, validate_client_assertion, AssertionError, JtiCache, RegisteredClient, ValidatedAssertion,
    CLIENT_ASSERTION_ALGORITHMS, JWT_BEARER, MAX_ASSERTION_LIFETIME,
};
pub use discovery::{Capabilities, ServerMetadata};
pub use error::{ErrorCode, OAuthError};
pub use jsonwebtoken::jwk::{Jwk, JwkSet};
pub use jsonwebtoken::Algorithm;
pub use jws::LEEWAY;
pub use keys::{jwk_thumbprint, parse_jwks, KeyError, KeySet, SigningKey, StoredKey, SIGNING_ALGORITHMS};
pub use tokens::{
    issue_access_token, issue_id_token, verify_access_token, verify_id_token, AccessClaims, Audience, IdClaims,
    TokenError, TrustedKeys, ACCESS_TOKEN_ALGORITHMS, EXTERNAL_ACCESS_TOKEN_ALGORITHMS, ID_TOKEN_ALGORITHMS,
};

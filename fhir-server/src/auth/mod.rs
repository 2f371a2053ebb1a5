//! The built-in SMART App Launch 2.x / OpenID Connect authorization server: its storage, its
//! endpoints and pages under `[base]/auth/`, discovery under `[base]/.well-known/`, the bearer
//! token check the FHIR interactions rely on ([`SmartAuth::verify_bearer`]), and the `auth` CLI.
//!
//! What is valid is decided by the `smart-auth` and `smart-scopes` crates; this module owns the
//! database rows (migration 0009), the HTTP surface and the clock.

pub mod authorize;
pub mod cli;
pub mod client_auth;
pub mod clients;
pub mod codes;
pub mod consent;
pub mod discovery;
pub mod external;
pub mod form;
pub mod grant_client_credentials;
pub mod grant_code;
pub mod grant_refresh;
pub mod html;
pub mod introspect;
pub mod issue;
pub mod jwks_cache;
pub mod keys;
pub mod launches;
pub mod login;
mod maintenance;
pub mod patient_picker;
pub mod records;
pub mod pending;
pub mod refresh_tokens;
pub mod replay;
pub mod revoke;
pub mod revoked;
pub mod scopes;
pub mod token;
pub mod users;
pub mod verified_tokens;
pub mod verify;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

use crate::store::Pool;

pub use verify::VerifiedToken;

/// Which authorization the server runs with (`--auth`, `FHIR_AUTH`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AuthMode {
    /// No authorization: the server stays on loopback unless told otherwise.
    #[default]
    None,
    /// Our own SMART authorization server (plus an external provider's tokens when configured).
    Smart,
    /// Only an external OpenID provider's access tokens; no authorization endpoints of our own.
    External,
}

/// An OpenID provider whose access tokens (RFC 9068 JWTs) are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalProvider {
    /// `iss` of its tokens.
    pub issuer: String,
    /// Where its public keys are published.
    pub jwks_url: String,
    /// `aud` its tokens must carry; the FHIR base URL when not set.
    pub audience: Option<String>,
}

/// Authorization settings of [`crate::ServeConfig`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthConfig {
    /// Whose tokens are issued and accepted.
    pub mode: AuthMode,
    /// An external provider whose tokens are accepted beside (mode smart) or instead of ours.
    pub external: Option<ExternalProvider>,
}

impl AuthConfig {
    /// No authorization at all (the default).
    pub fn off() -> Self {
        Self::default()
    }

    /// Our own authorization server only.
    pub fn smart() -> Self {
        AuthConfig { mode: AuthMode::Smart, external: None }
    }

    /// Whether requests must carry a token.
    pub fn is_on(&self) -> bool {
        self.mode != AuthMode::None
    }

    /// Refuses settings that contradict each other, rather than silently ignoring one.
    pub fn check(&self) -> anyhow::Result<()> {
        match (self.mode, &self.external) {
            (AuthMode::External, None) => {
                anyhow::bail!("--auth external needs --auth-external-issuer and --auth-external-jwks-url")
            }
            (AuthMode::None, Some(_)) => anyhow::bail!(
                "an external OpenID provider is configured but --auth is none: pass --auth smart (ours and theirs) or --auth external (theirs only)"
            ),
            _ => Ok(()),
        }
    }
}

/// Lifetimes, in seconds.
pub mod lifetime {
    /// Access tokens of users' apps: SMART recommends at most an hour (requirement 91).
    pub const ACCESS_TOKEN: u64 = 3600;
    /// Access tokens of backend services: SMART recommends five minutes (requirement 262).
    pub const BACKEND_ACCESS_TOKEN: u64 = 300;
    /// Authorization codes: short, since they travel in URLs (requirement 58).
    pub const CODE: u64 = 120;
    /// From `/authorize` to the consent: the time a person has to sign in and choose.
    pub const REQUEST: u64 = 600;
    /// EHR launch contexts, from their creation to the app's authorization request.
    pub const LAUNCH: u64 = 3600;
    /// `offline_access` refresh tokens, renewed at each use.
    pub const OFFLINE_REFRESH: u64 = 90 * 24 * 3600;
    /// `online_access` refresh tokens: the user's session, counted from the sign-in and never
    /// extended by a refresh.
    pub const ONLINE_REFRESH: u64 = 8 * 3600;
}

/// Unix seconds now.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The public URLs of the authorization server, all under the FHIR base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The FHIR base URL: `aud` of authorization requests and of our tokens.
    pub base: String,
    /// `iss` of our tokens; the FHIR base URL, so OpenID discovery sits at
    /// `[base]/.well-known/openid-configuration` as SMART wants.
    pub issuer: String,
    /// Authorization endpoint.
    pub authorize: String,
    /// Token endpoint, and `aud` of client assertions.
    pub token: String,
    /// RFC 7662 introspection.
    pub introspect: String,
    /// RFC 7009 revocation.
    pub revoke: String,
    /// Our public keys.
    pub jwks: String,
}

impl Endpoints {
    /// The URLs for a FHIR base URL (no trailing slash).
    pub fn new(base: &str) -> Self {
        let base = base.trim_end_matches('/').to_string();
        let at = |path: &str| format!("{base}/auth/{path}");
        Endpoints {
            issuer: base.clone(),
            authorize: at("authorize"),
            token: at("token"),
            introspect: at("introspect"),
            revoke: at("revoke"),
            jwks: at("jwks"),
            base,
        }
    }
}

/// The authorization server's state: storage, keys, caches.
pub struct SmartAuth {
    pub(crate) pool: Pool,
    /// Public URLs.
    pub endpoints: Endpoints,
    /// Whether we issue tokens ourselves (mode smart), or only accept an external provider's.
    issuing: bool,
    pub(crate) keys: keys::KeyRing,
    pub(crate) revoked: revoked::RevokedJtis,
    pub(crate) external: Option<external::External>,
    pub(crate) client_jwks: jwks_cache::JwksCache,
    /// Our tokens already verified here.
    pub(crate) verified: verified_tokens::VerifiedTokens,
}

impl SmartAuth {
    /// Sets up authorization for a server whose FHIR base URL is `base`: loads the signing keys
    /// (generating the first ones), the revoked tokens, and starts the background upkeep.
    /// `None` when authorization is off.
    pub async fn open(pool: Pool, base: &str, cfg: &AuthConfig) -> anyhow::Result<Option<Arc<SmartAuth>>> {
        cfg.check()?;
        let issuing = match cfg.mode {
            AuthMode::None => return Ok(None),
            AuthMode::Smart => true,
            AuthMode::External => false,
        };
        let endpoints = Endpoints::new(base);
        let http = jwks_cache::http_client()?;
        let keys = keys::KeyRing::default();
        if issuing {
            for key in keys::ensure_signing_keys(&pool).await? {
                tracing::info!(kid = key.kid(), alg = ?key.algorithm(), "generated a signing key (first start with authorization on)");
            }
            keys.reload(&pool).await?;
        }
        let external = cfg.external.clone().map(|p| external::External::new(p, &endpoints.base, http.clone()));
        let auth = Arc::new(SmartAuth {
            pool,
            endpoints,
            issuing,
            keys,
            revoked: revoked::RevokedJtis::default(),
            external,
            client_jwks: jwks_cache::JwksCache::new(http),
            verified: Default::default(),
        });
        auth.revoked.sync(&auth.pool, now()).await?;
        maintenance::spawn(Arc::downgrade(&auth));
        Ok(Some(auth))
    }

    /// Whether this server issues tokens (the endpoints are mounted).
    pub fn is_issuing(&self) -> bool {
        self.issuing
    }

    /// The endpoints under the FHIR base path (`/fhir`, or `` at the root); empty when we issue
    /// no tokens. Merged beside the FHIR API, whose `/{type}/{id}` routes they take precedence
    /// over (static segments win).
    pub fn routes(self: &Arc<Self>, base_path: &str) -> Router {
        if !self.issuing {
            return Router::new();
        }
        let at = |path: &str| format!("{base_path}{path}");
        Router::new()
            .route(&at("/.well-known/smart-configuration"), get(discovery::smart_configuration))
            .route(&at("/.well-known/openid-configuration"), get(discovery::openid_configuration))
            .route(&at("/auth/jwks"), get(discovery::jwks))
            .route(&at("/auth/authorize"), get(authorize::get).post(authorize::post))
            .route(&at("/auth/login"), post(login::handle))
            .route(&at("/auth/patient"), post(patient_picker::handle))
            .route(&at("/auth/consent"), post(consent::handle))
            .route(&at("/auth/token"), post(token::handle))
            .route(&at("/auth/introspect"), post(introspect::handle))
            .route(&at("/auth/revoke"), post(revoke::handle))
            .with_state(self.clone())
    }
}

/// The OAuth answer to an internal failure (`what` failed); the cause goes to the log only.
pub(crate) fn server_error(what: &str, e: impl std::fmt::Display) -> smart_auth::OAuthError {
    tracing::error!(error = %e, "{what}");
    smart_auth::OAuthError::new(smart_auth::ErrorCode::ServerError, "the authorization server failed")
}

/// The OAuth answer to a storage failure.
pub(crate) fn storage(e: sqlx::Error) -> smart_auth::OAuthError {
    server_error("authorization storage failed", e)
}

/// `invalid_grant`: a code or refresh token that does not hold.
pub(crate) fn invalid_grant(description: &str) -> smart_auth::OAuthError {
    smart_auth::OAuthError::new(smart_auth::ErrorCode::InvalidGrant, description)
}

/// Axum state of the handlers.
pub type AuthState = axum::extract::State<Arc<SmartAuth>>;

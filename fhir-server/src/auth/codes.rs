//! Authorization codes (`auth_code`): stored hashed, short-lived, single use, bound to the
//! client, redirect URI, PKCE challenge and everything the user decided.

use smart_auth::secrets::{hash_secret, random_token};
use sqlx::FromRow;

use super::lifetime;
use crate::store::{Arg, Pool, Tx};

/// What a code stands for.
#[derive(Debug, Clone)]
pub struct NewCode<'a> {
    /// The client it was issued to.
    pub client_id: &'a str,
    /// The redirect URI of the request; the token request must repeat it.
    pub redirect_uri: &'a str,
    /// PKCE S256 challenge.
    pub code_challenge: &'a str,
    /// Granted scopes.
    pub scope: &'a str,
    /// The signed-in user.
    pub username: &'a str,
    /// Patient in context.
    pub patient: Option<&'a str>,
    /// Encounter in context.
    pub encounter: Option<&'a str>,
    /// OpenID Connect nonce, for the ID token.
    pub nonce: Option<&'a str>,
}

/// A stored code.
#[derive(Debug, Clone, FromRow)]
pub struct Code {
    /// Its hash (the key).
    pub code_hash: String,
    /// Shared by every token issued from it.
    pub grant_id: String,
    /// Client.
    pub client_id: String,
    /// Redirect URI.
    pub redirect_uri: String,
    /// PKCE challenge.
    pub code_challenge: String,
    /// Granted scopes.
    pub scope: String,
    /// User.
    pub username: String,
    /// Patient in context.
    pub patient: Option<String>,
    /// Encounter in context.
    pub encounter: Option<String>,
    /// Nonce.
    pub nonce: Option<String>,
    /// Unix seconds.
    pub expires_at: i64,
    /// When it was exchanged.
    pub used_at: Option<i64>,
}

/// Stores a code and returns it.
pub async fn insert(tx: &mut Tx, c: &NewCode<'_>, now: u64) -> Result<String, sqlx::Error> {
    let code = random_token();
    let grant_id = uuid::Uuid::new_v4().to_string();
    tx.execute(
        "INSERT INTO auth_code (code_hash, grant_id, client_id, redirect_uri, code_challenge, scope, username, patient, encounter, nonce, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &[
            Arg::Text(&hash_secret(&code)),
            Arg::Text(&grant_id),
            Arg::Text(c.client_id),
            Arg::Text(c.redirect_uri),
            Arg::Text(c.code_challenge),
            Arg::Text(c.scope),
            Arg::Text(c.username),
            Arg::OptText(c.patient),
            Arg::OptText(c.encounter),
            Arg::OptText(c.nonce),
            Arg::Int(now as i64),
            Arg::Int((now + lifetime::CODE) as i64),
        ],
    )
    .await?;
    Ok(code)
}

/// The code presented, used or not.
pub async fn find(pool: &Pool, code: &str) -> Result<Option<Code>, sqlx::Error> {
    pool.fetch_opt(
        "SELECT code_hash, grant_id, client_id, redirect_uri, code_challenge, scope, username, patient, encounter, nonce, expires_at, used_at \
         FROM auth_code WHERE code_hash = $1",
        &[Arg::Text(&hash_secret(code))],
    )
    .await
}

/// Marks a code used; false when another request used it first.
pub async fn mark_used(tx: &mut Tx, code_hash: &str, now: u64) -> Result<bool, sqlx::Error> {
    let n = tx.execute("UPDATE auth_code SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL", &[Arg::Text(code_hash), Arg::Int(now as i64)]).await?;
    Ok(n == 1)
}

//! Refresh tokens (`auth_refresh_token`): hashed, rotated at each use, revocable by grant.

use smart_auth::secrets::{hash_secret, random_token};
use sqlx::FromRow;

use crate::store::{Arg, Pool, Tx};

/// A stored refresh token.
#[derive(Debug, Clone, FromRow)]
pub struct RefreshToken {
    /// Its hash.
    pub token_hash: String,
    /// The grant it descends from.
    pub grant_id: String,
    /// Client.
    pub client_id: String,
    /// User.
    pub username: String,
    /// Scopes originally granted.
    pub scope: String,
    /// Patient in context.
    pub patient: Option<String>,
    /// Encounter in context.
    pub encounter: Option<String>,
    /// `offline_access` (true) or `online_access`.
    pub offline: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// When it was exchanged (rotated).
    pub used_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
}

impl RefreshToken {
    /// Neither used, revoked nor expired.
    pub fn is_active(&self, now: u64) -> bool {
        self.used_at.is_none() && self.revoked_at.is_none() && self.expires_at > now as i64
    }
}

/// A refresh token to issue.
#[derive(Debug, Clone)]
pub struct NewRefresh<'a> {
    /// The grant.
    pub grant_id: &'a str,
    /// Client.
    pub client_id: &'a str,
    /// User.
    pub username: &'a str,
    /// Scopes originally granted (what later refreshes may ask for).
    pub scope: &'a str,
    /// Patient in context.
    pub patient: Option<&'a str>,
    /// Encounter in context.
    pub encounter: Option<&'a str>,
    /// Offline or online.
    pub offline: bool,
    /// Unix seconds.
    pub expires_at: u64,
}

/// Stores a refresh token and returns it.
pub async fn insert(tx: &mut Tx, r: &NewRefresh<'_>, now: u64) -> Result<String, sqlx::Error> {
    let token = random_token();
    tx.execute(
        "INSERT INTO auth_refresh_token (token_hash, grant_id, client_id, username, scope, patient, encounter, offline, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            Arg::Text(&hash_secret(&token)),
            Arg::Text(r.grant_id),
            Arg::Text(r.client_id),
            Arg::Text(r.username),
            Arg::Text(r.scope),
            Arg::OptText(r.patient),
            Arg::OptText(r.encounter),
            Arg::Bool(r.offline),
            Arg::Int(now as i64),
            Arg::Int(r.expires_at as i64),
        ],
    )
    .await?;
    Ok(token)
}

/// The refresh token presented, in whatever state.
pub async fn find(pool: &Pool, token: &str) -> Result<Option<RefreshToken>, sqlx::Error> {
    pool.fetch_opt(
        "SELECT token_hash, grant_id, client_id, username, scope, patient, encounter, offline, created_at, expires_at, used_at, revoked_at \
         FROM auth_refresh_token WHERE token_hash = $1",
        &[Arg::Text(&hash_secret(token))],
    )
    .await
}

/// Marks a token used; false when it was used or revoked meanwhile.
pub async fn mark_used(tx: &mut Tx, token_hash: &str, now: u64) -> Result<bool, sqlx::Error> {
    let n = tx
        .execute(
            "UPDATE auth_refresh_token SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL",
            &[Arg::Text(token_hash), Arg::Int(now as i64)],
        )
        .await?;
    Ok(n == 1)
}

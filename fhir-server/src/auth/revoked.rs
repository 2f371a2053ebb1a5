//! Revoked access tokens, by jti: in the database (`auth_access_token.revoked_at`) for every
//! instance, and in memory so checking a bearer token costs no query. Each instance picks up
//! the others' revocations every few seconds (see `maintenance`).

use std::collections::HashMap;
use std::sync::Mutex;

use smart_auth::LEEWAY;

use crate::store::{Arg, Pool, Tx};

/// How far back each sync looks before the previous one, for revocations committed late or
/// stamped by another instance's clock.
const SYNC_OVERLAP: i64 = 60;

#[derive(Default)]
struct Inner {
    jtis: HashMap<String, u64>,
    synced_to: Option<i64>,
}

/// The revoked jtis not yet expired.
#[derive(Default)]
pub struct RevokedJtis {
    inner: Mutex<Inner>,
}

impl RevokedJtis {
    /// Notes a revocation made here.
    pub fn insert(&self, jti: &str, exp: u64) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).jtis.insert(jti.to_string(), exp);
    }

    /// Whether a jti was revoked.
    pub fn contains(&self, jti: &str) -> bool {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).jtis.contains_key(jti)
    }

    /// Reads the revocations made since the last sync (all unexpired ones the first time) and
    /// forgets the jtis whose tokens expired, which fail verification anyway.
    pub async fn sync(&self, pool: &Pool, now: u64) -> Result<(), sqlx::Error> {
        let since = self.inner.lock().unwrap_or_else(|p| p.into_inner()).synced_to.map_or(0, |t| t - SYNC_OVERLAP);
        let rows: Vec<(String, i64)> = pool
            .fetch(
                "SELECT jti, expires_at FROM auth_access_token WHERE revoked_at IS NOT NULL AND revoked_at >= $1 AND expires_at >= $2",
                &[Arg::Int(since), Arg::Int(now as i64 - LEEWAY as i64)],
            )
            .await?;
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.jtis.retain(|_, exp| exp.saturating_add(LEEWAY) >= now);
        for (jti, exp) in rows {
            inner.jtis.insert(jti, exp.max(0) as u64);
        }
        inner.synced_to = Some(now as i64);
        Ok(())
    }
}

/// Revokes every token of a grant (an authorization code's descendants): its refresh tokens and
/// access tokens. Returns the access tokens revoked, for the in-memory set once committed.
pub async fn revoke_grant(tx: &mut Tx, grant_id: &str, now: u64) -> Result<Vec<(String, u64)>, sqlx::Error> {
    tx.execute(
        "UPDATE auth_refresh_token SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL",
        &[Arg::Text(grant_id), Arg::Int(now as i64)],
    )
    .await?;
    let rows: Vec<(String, i64)> = tx
        .fetch(
            "UPDATE auth_access_token SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL RETURNING jti, expires_at",
            &[Arg::Text(grant_id), Arg::Int(now as i64)],
        )
        .await?;
    Ok(rows.into_iter().map(|(j, e)| (j, e.max(0) as u64)).collect())
}

impl super::SmartAuth {
    /// Revokes a grant in its own transaction and in memory; the reason goes to the log.
    pub(crate) async fn revoke_grant(&self, grant_id: &str, reason: &str) -> Result<(), sqlx::Error> {
        let now = super::now();
        let mut tx = self.pool.begin_outside_store().await?;
        let revoked = revoke_grant(&mut tx, grant_id, now).await?;
        tx.commit().await?;
        for (jti, exp) in &revoked {
            self.revoked.insert(jti, *exp);
        }
        tracing::warn!(grant_id, access_tokens = revoked.len(), reason, "grant revoked");
        Ok(())
    }
}

//! Background upkeep of a running authorization server: revocations made by other instances,
//! keys rotated by the CLI, and rows past their use.

use std::sync::Weak;
use std::time::Duration;

use smart_auth::LEEWAY;

use super::SmartAuth;
use crate::store::{Arg, Pool};

/// How often revocations are synced.
const TICK: Duration = Duration::from_secs(5);
/// Every how many ticks keys are reloaded and old rows purged (one minute).
const SLOW_EVERY: u64 = 12;
/// How long a used code is kept, so its second use can still revoke what it gave.
const USED_CODE_KEPT: i64 = 24 * 3600;

/// Starts the upkeep; it ends when the server's [`SmartAuth`] is dropped.
pub(super) fn spawn(auth: Weak<SmartAuth>) {
    tokio::spawn(async move {
        for tick in 1u64.. {
            tokio::time::sleep(TICK).await;
            let Some(auth) = auth.upgrade() else { break };
            let now = super::now();
            if let Err(e) = auth.revoked.sync(&auth.pool, now).await {
                tracing::warn!(error = %e, "syncing revoked tokens failed");
            }
            if tick % SLOW_EVERY == 0 {
                if auth.is_issuing() {
                    if let Err(e) = auth.keys.reload(&auth.pool).await {
                        tracing::warn!(error = %e, "reloading signing keys failed");
                    }
                }
                if let Err(e) = purge(&auth.pool, now as i64).await {
                    tracing::warn!(error = %e, "purging expired authorization rows failed");
                }
            }
        }
    });
}

/// Deletes what can no longer be used nor needs remembering.
async fn purge(pool: &Pool, now: i64) -> Result<(), sqlx::Error> {
    let leeway = LEEWAY as i64;
    let mut tx = pool.begin_outside_store().await?;
    for (sql, before) in [
        ("DELETE FROM auth_request WHERE expires_at < $1", now),
        ("DELETE FROM auth_launch WHERE expires_at < $1", now),
        ("DELETE FROM auth_code WHERE expires_at < $1", now - USED_CODE_KEPT),
        ("DELETE FROM auth_refresh_token WHERE expires_at < $1", now),
        ("DELETE FROM auth_access_token WHERE expires_at < $1", now - leeway),
        ("DELETE FROM auth_assertion_jti WHERE expires_at < $1", now),
    ] {
        tx.execute(sql, &[Arg::Int(before)]).await?;
    }
    tx.commit().await
}

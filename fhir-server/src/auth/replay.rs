//! Client assertion ids seen (`auth_assertion_jti`), kept in the database so every server
//! instance refuses a replay (SMART requirement 336).

use smart_auth::LEEWAY;

use crate::store::{Arg, Pool};

/// Records an assertion's `jti` for its client until it expires; false when the same `jti` is
/// already recorded and still unexpired (a replay). An expired record is taken over.
pub async fn remember(pool: &Pool, client_id: &str, jti: &str, exp: u64, now: u64) -> Result<bool, sqlx::Error> {
    let keep_until = exp.saturating_add(LEEWAY) as i64;
    let mut tx = pool.begin_outside_store().await?;
    let n = tx
        .execute(
            "INSERT INTO auth_assertion_jti (client_id, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at WHERE auth_assertion_jti.expires_at < $4",
            &[Arg::Text(client_id), Arg::Text(jti), Arg::Int(keep_until), Arg::Int(now as i64)],
        )
        .await?;
    tx.commit().await?;
    Ok(n == 1)
}

//! Signing keys in the database (`auth_signing_key`) and the set the running server signs and
//! verifies with. Rotation without downtime: a new key signs from the moment a server loads it,
//! older unretired keys keep verifying, and a retired key drops out at the next reload.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use smart_auth::{Algorithm, KeySet, SigningKey, StoredKey, ACCESS_TOKEN_ALGORITHMS, ID_TOKEN_ALGORITHMS};
use sqlx::FromRow;

use crate::store::{Arg, Pool};

/// The least time between two reloads forced by a token whose kid we do not know, so a stream
/// of forged kids cannot turn into a stream of database reads.
const UNKNOWN_KID_RELOAD: Duration = Duration::from_secs(10);

/// A key as listed by `auth key list`.
#[derive(Debug, Clone, FromRow)]
pub struct KeyRow {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// JOSE algorithm.
    pub alg: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, when retired.
    pub retired_at: Option<i64>,
}

#[derive(FromRow)]
struct StoredRow {
    kid: String,
    alg: String,
    private_key_pem: String,
    created_at: i64,
}

/// The key set in use, reloadable while requests read it.
#[derive(Default)]
pub struct KeyRing {
    set: RwLock<Arc<KeySet>>,
    /// When an unknown kid last caused a reload (periodic reloads do not count).
    last_forced: Mutex<Option<Instant>>,
}

impl KeyRing {
    /// The keys now in use.
    pub fn current(&self) -> Arc<KeySet> {
        self.set.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the set with the unretired keys of the database.
    pub async fn reload(&self, pool: &Pool) -> anyhow::Result<()> {
        let set = load(pool).await?;
        *self.set.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
        Ok(())
    }

    /// Reloads for a token naming a kid we lack (a key rotated in by another instance or the
    /// CLI), at most once per [`UNKNOWN_KID_RELOAD`]; whether a reload happened.
    pub async fn reload_for_unknown_kid(&self, pool: &Pool) -> bool {
        {
            let mut last = self.last_forced.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < UNKNOWN_KID_RELOAD) {
                return false;
            }
            // Claimed before the read, so concurrent requests do not all reload.
            *last = Some(Instant::now());
        }
        match self.reload(pool).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "reloading signing keys failed");
                false
            }
        }
    }
}

/// The unretired keys; a row that does not load (altered, or kid not its thumbprint) is left
/// out with an error in the log rather than stopping the server.
pub async fn load(pool: &Pool) -> anyhow::Result<KeySet> {
    let rows: Vec<StoredRow> = pool
        .fetch("SELECT kid, alg, private_key_pem, created_at FROM auth_signing_key WHERE retired_at IS NULL ORDER BY created_at, kid", &[])
        .await?;
    let mut set = KeySet::default();
    for row in rows {
        let stored = StoredKey { kid: row.kid, alg: row.alg, created_at: row.created_at.max(0) as u64, private_key_pem: row.private_key_pem };
        match SigningKey::from_stored(&stored) {
            Ok(key) => set.insert(key)?,
            Err(e) => tracing::error!(kid = %stored.kid, error = %e, "signing key left out"),
        }
    }
    Ok(set)
}

/// Generates the keys a first start needs: one for access tokens (ES384) unless an ES384 or
/// RS384 key exists, one for ID tokens (RS256) unless one exists. Returns the new keys.
pub async fn ensure_signing_keys(pool: &Pool) -> anyhow::Result<Vec<SigningKey>> {
    let set = load(pool).await?;
    let mut wanted = Vec::new();
    if set.newest(ACCESS_TOKEN_ALGORITHMS).is_none() {
        wanted.push(Algorithm::ES384);
    }
    if set.newest(ID_TOKEN_ALGORITHMS).is_none() {
        wanted.push(Algorithm::RS256);
    }
    rotate(pool, &wanted).await
}

/// Generates and stores a new key for each algorithm; each signs from the next reload on.
pub async fn rotate(pool: &Pool, algs: &[Algorithm]) -> anyhow::Result<Vec<SigningKey>> {
    let mut made = Vec::new();
    for &alg in algs {
        // Newer than any key of its kind even within the same second: "newest signs" must pick it.
        let kind = if ID_TOKEN_ALGORITHMS.contains(&alg) { ID_TOKEN_ALGORITHMS } else { ACCESS_TOKEN_ALGORITHMS };
        let latest = newest_created(pool, kind).await?;
        let created = super::now().max(latest.map_or(0, |t| t + 1));
        let key = tokio::task::spawn_blocking(move || SigningKey::generate(alg, created)).await??;
        let stored = key.to_stored();
        let mut tx = pool.begin_outside_store().await?;
        tx.execute(
            "INSERT INTO auth_signing_key (kid, alg, private_key_pem, created_at) VALUES ($1, $2, $3, $4)",
            &[Arg::Text(&stored.kid), Arg::Text(&stored.alg), Arg::Text(&stored.private_key_pem), Arg::Int(created as i64)],
        )
        .await?;
        tx.commit().await?;
        made.push(key);
    }
    Ok(made)
}

async fn newest_created(pool: &Pool, kind: &[Algorithm]) -> anyhow::Result<Option<u64>> {
    let names: Vec<String> = kind.iter().map(|a| format!("{a:?}")).collect();
    let rows: Vec<(i64,)> = pool
        .fetch(
            "SELECT created_at FROM auth_signing_key WHERE retired_at IS NULL AND alg IN ($1, $2) ORDER BY created_at DESC LIMIT 1",
            &[Arg::Text(&names[0]), Arg::Text(names.get(1).unwrap_or(&names[0]))],
        )
        .await?;
    Ok(rows.first().map(|r| r.0.max(0) as u64))
}

/// Every key, retired ones too, oldest first.
pub async fn list(pool: &Pool) -> anyhow::Result<Vec<KeyRow>> {
    Ok(pool.fetch("SELECT kid, alg, created_at, retired_at FROM auth_signing_key ORDER BY created_at, kid", &[]).await?)
}

/// Retires a key: tokens it signed stop verifying at each server's next reload. Refuses the
/// last key of its kind, which would leave the server unable to sign.
pub async fn retire(pool: &Pool, kid: &str) -> anyhow::Result<()> {
    let rows = list(pool).await?;
    let Some(key) = rows.iter().find(|k| k.kid == kid) else { anyhow::bail!("no key {kid}") };
    if key.retired_at.is_some() {
        anyhow::bail!("key {kid} is already retired");
    }
    let kind: &[&str] = if key.alg == "RS256" { &["RS256"] } else { &["ES384", "RS384"] };
    let others = rows.iter().filter(|k| k.kid != kid && k.retired_at.is_none() && kind.contains(&k.alg.as_str())).count();
    if others == 0 {
        anyhow::bail!("key {kid} is the last {} key in use: rotate first (fhir-server auth key rotate)", kind.join("/"));
    }
    let mut tx = pool.begin_outside_store().await?;
    tx.execute("UPDATE auth_signing_key SET retired_at = $2 WHERE kid = $1", &[Arg::Text(kid), Arg::Int(super::now() as i64)]).await?;
    tx.commit().await?;
    Ok(())
}

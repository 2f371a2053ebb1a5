//! EHR launch contexts (`auth_launch`): the EHR side records who and what an app is launched
//! for, and hands the app an opaque `launch` id in its launch URL; the app's authorization
//! request must bring that id back.

use smart_auth::secrets::{hash_secret, random_token};
use sqlx::FromRow;

use super::{clients, lifetime, records, users};
use crate::store::{Arg, Pool, Tx};

/// What an EHR launch stands for.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Launch {
    /// The app launched.
    pub client_id: String,
    /// Patient in context.
    pub patient: Option<String>,
    /// Encounter in context.
    pub encounter: Option<String>,
    /// The only user who may sign in for it.
    pub username: Option<String>,
}

/// A launch just created.
#[derive(Debug, Clone)]
pub struct Created {
    /// The opaque `launch` value.
    pub launch: String,
    /// `<launch URL>?iss=<FHIR base>&launch=<launch>`, when the client has a launch URL.
    pub url: Option<String>,
}

/// Records a launch context after checking the client, patient, encounter and user exist.
pub async fn create(pool: &Pool, base: &str, context: &Launch) -> anyhow::Result<Created> {
    let Some(client) = clients::find(pool, &context.client_id).await? else { anyhow::bail!("no client {}", context.client_id) };
    if let Some(p) = &context.patient {
        if !records::exists(pool, "Patient", p).await? {
            anyhow::bail!("no Patient/{p} in the store");
        }
    }
    if let Some(e) = &context.encounter {
        if !records::exists(pool, "Encounter", e).await? {
            anyhow::bail!("no Encounter/{e} in the store");
        }
    }
    if let Some(u) = &context.username {
        if users::find(pool, u).await?.is_none() {
            anyhow::bail!("no user {u}");
        }
    }
    let launch = random_token();
    let now = super::now() as i64;
    let mut tx = pool.begin_outside_store().await?;
    tx.execute(
        "INSERT INTO auth_launch (launch_hash, client_id, patient, encounter, username, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            Arg::Text(&hash_secret(&launch)),
            Arg::Text(&context.client_id),
            Arg::OptText(context.patient.as_deref()),
            Arg::OptText(context.encounter.as_deref()),
            Arg::OptText(context.username.as_deref()),
            Arg::Int(now),
            Arg::Int(now + lifetime::LAUNCH as i64),
        ],
    )
    .await?;
    tx.commit().await?;
    let url = client.launch_url.map(|u| {
        let query = form_urlencoded::Serializer::new(String::new()).append_pair("iss", base).append_pair("launch", &launch).finish();
        format!("{u}{}{query}", if u.contains('?') { '&' } else { '?' })
    });
    Ok(Created { launch, url })
}

/// The live (unexpired, unused) launch with this value, for this client.
pub async fn find_live(pool: &Pool, launch: &str, client_id: &str, now: u64) -> Result<Option<(String, Launch)>, sqlx::Error> {
    let hash = hash_secret(launch);
    let found: Option<Launch> = pool
        .fetch_opt(
            "SELECT client_id, patient, encounter, username FROM auth_launch WHERE launch_hash = $1 AND client_id = $2 AND used_at IS NULL AND expires_at > $3",
            &[Arg::Text(&hash), Arg::Text(client_id), Arg::Int(now as i64)],
        )
        .await?;
    Ok(found.map(|l| (hash, l)))
}

/// The launch by its stored hash, if still unused and unexpired.
pub async fn find_by_hash(pool: &Pool, hash: &str, now: u64) -> Result<Option<Launch>, sqlx::Error> {
    pool.fetch_opt(
        "SELECT client_id, patient, encounter, username FROM auth_launch WHERE launch_hash = $1 AND used_at IS NULL AND expires_at > $2",
        &[Arg::Text(hash), Arg::Int(now as i64)],
    )
    .await
}

/// Marks a launch used; false when it was used (or expired) meanwhile.
pub async fn consume(tx: &mut Tx, hash: &str, now: u64) -> Result<bool, sqlx::Error> {
    let n = tx
        .execute(
            "UPDATE auth_launch SET used_at = $2 WHERE launch_hash = $1 AND used_at IS NULL AND expires_at > $2",
            &[Arg::Text(hash), Arg::Int(now as i64)],
        )
        .await?;
    Ok(n == 1)
}

//! People who sign in on the login page (`auth_user`): Argon2id password hashes and the FHIR
//! resource that represents each of them (`fhirUser`).

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sqlx::FromRow;

use crate::store::{Arg, Pool};

/// Resource types a `fhirUser` may be (SMART requirement 198).
pub const FHIR_USER_TYPES: [&str; 5] = ["Patient", "Practitioner", "PractitionerRole", "RelatedPerson", "Person"];

/// A user.
#[derive(Debug, Clone, FromRow)]
pub struct User {
    /// Sign-in name.
    pub username: String,
    /// Stable subject id in tokens.
    pub sub: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// `Practitioner/123`, relative to the FHIR base.
    pub fhir_user: Option<String>,
}

impl User {
    /// The id of the Patient this user is, when the user is a patient.
    pub fn patient_id(&self) -> Option<&str> {
        self.fhir_user.as_deref()?.strip_prefix("Patient/")
    }
}

/// The Argon2id hash (PHC string, random salt) of a password.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default().hash_password(password.as_bytes(), &salt).map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?.to_string())
}

/// Whether `password` matches a stored hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// The user with this name when the password is theirs. An unknown name costs the same hash
/// as a known one, so timing does not tell which names exist.
pub async fn authenticate(pool: &Pool, username: &str, password: &str) -> Result<Option<User>, sqlx::Error> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let user = find(pool, username).await?;
    let (hash, user) = match user {
        Some(u) => (u.password_hash.clone(), Some(u)),
        None => (DUMMY.get_or_init(|| hash_password("not a password of anyone").unwrap_or_default()).clone(), None),
    };
    let password = password.to_string();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false);
    Ok(user.filter(|_| ok))
}

/// The user with this name.
pub async fn find(pool: &Pool, username: &str) -> Result<Option<User>, sqlx::Error> {
    pool.fetch_opt("SELECT username, sub, password_hash, fhir_user FROM auth_user WHERE username = $1", &[Arg::Text(username)]).await
}

/// Every user, by name.
pub async fn list(pool: &Pool) -> Result<Vec<User>, sqlx::Error> {
    pool.fetch("SELECT username, sub, password_hash, fhir_user FROM auth_user ORDER BY username", &[]).await
}

/// Checks a `fhirUser` reference: `Type/id` of a type SMART allows.
pub fn check_fhir_user(reference: &str) -> anyhow::Result<()> {
    let ok = reference.split_once('/').is_some_and(|(ty, id)| {
        FHIR_USER_TYPES.contains(&ty) && (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    });
    if !ok {
        anyhow::bail!("fhirUser {reference:?} must be Type/id with Type one of {}", FHIR_USER_TYPES.join(", "));
    }
    Ok(())
}

/// Adds a user.
pub async fn add(pool: &Pool, username: &str, password: &str, fhir_user: Option<&str>) -> anyhow::Result<User> {
    if username.is_empty() || username.len() > 200 || username.chars().any(char::is_whitespace) {
        anyhow::bail!("a username is 1 to 200 characters without spaces");
    }
    if password.chars().count() < 8 {
        anyhow::bail!("a password has at least 8 characters");
    }
    if let Some(r) = fhir_user {
        check_fhir_user(r)?;
    }
    let password = password.to_string();
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password)).await??;
    let sub = uuid::Uuid::new_v4().to_string();
    let mut tx = pool.begin_outside_store().await?;
    let inserted = tx
        .execute(
            "INSERT INTO auth_user (username, sub, password_hash, fhir_user, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING",
            &[Arg::Text(username), Arg::Text(&sub), Arg::Text(&password_hash), Arg::OptText(fhir_user), Arg::Int(super::now() as i64)],
        )
        .await?;
    if inserted == 0 {
        anyhow::bail!("a user {username} exists already");
    }
    tx.commit().await?;
    Ok(User { username: username.to_string(), sub, password_hash, fhir_user: fhir_user.map(str::to_string) })
}

/// Removes a user, their refresh tokens and pending codes, and revokes their access tokens.
pub async fn remove(pool: &Pool, username: &str) -> anyhow::Result<()> {
    let Some(user) = find(pool, username).await? else { anyhow::bail!("no user {username}") };
    let mut tx = pool.begin_outside_store().await?;
    tx.execute("DELETE FROM auth_user WHERE username = $1", &[Arg::Text(username)]).await?;
    tx.execute("DELETE FROM auth_refresh_token WHERE username = $1", &[Arg::Text(username)]).await?;
    tx.execute("DELETE FROM auth_code WHERE username = $1", &[Arg::Text(username)]).await?;
    tx.execute(
        "UPDATE auth_access_token SET revoked_at = $2 WHERE sub = $1 AND revoked_at IS NULL",
        &[Arg::Text(&user.sub), Arg::Int(super::now() as i64)],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

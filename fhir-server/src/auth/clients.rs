//! Registered apps (`auth_client`): how each authenticates, where it may be redirected, which
//! scopes it may ever be granted.

use smart_auth::secrets::{hash_secret, random_token};
use smart_scopes::{parse_scopes, Context, Scope};
use sqlx::FromRow;

use crate::store::{Arg, Pool};

/// How a client authenticates at the token endpoint (SMART client profiles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    /// No authentication: PKCE alone binds the code to the app (`client-public`).
    Public,
    /// A client secret with HTTP Basic (`client-confidential-symmetric`).
    ConfidentialSymmetric,
    /// A signed JWT assertion, `private_key_jwt` (`client-confidential-asymmetric`, backend services).
    ConfidentialAsymmetric,
}

impl ClientType {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientType::Public => "public",
            ClientType::ConfidentialSymmetric => "confidential-symmetric",
            ClientType::ConfidentialAsymmetric => "confidential-asymmetric",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(s: &str) -> Option<Self> {
        [ClientType::Public, ClientType::ConfidentialSymmetric, ClientType::ConfidentialAsymmetric].into_iter().find(|t| t.as_str() == s)
    }
}

/// A registered client.
#[derive(Debug, Clone)]
pub struct Client {
    /// The id apps send.
    pub client_id: String,
    /// Shown on the consent page.
    pub name: String,
    /// Authentication profile.
    pub client_type: ClientType,
    /// SHA-256 of the secret (confidential-symmetric).
    pub secret_hash: Option<String>,
    /// Registered JWK Set document (confidential-asymmetric).
    pub jwks: Option<String>,
    /// Registered JWK Set URL (confidential-asymmetric).
    pub jwks_url: Option<String>,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Scopes the client may be granted, space separated.
    pub scopes: String,
    /// The app's launch URL, for EHR launches.
    pub launch_url: Option<String>,
}

impl Client {
    /// The allowed scopes, parsed (they were checked at registration).
    pub fn allowed_scopes(&self) -> Vec<Scope> {
        parse_scopes(&self.scopes).unwrap_or_default()
    }
}

#[derive(FromRow)]
struct ClientRow {
    client_id: String,
    name: String,
    client_type: String,
    secret_hash: Option<String>,
    jwks: Option<String>,
    jwks_url: Option<String>,
    redirect_uris: String,
    scopes: String,
    launch_url: Option<String>,
}

impl ClientRow {
    fn into_client(self) -> Option<Client> {
        Some(Client {
            client_type: ClientType::parse(&self.client_type)?,
            redirect_uris: serde_json::from_str(&self.redirect_uris).ok()?,
            client_id: self.client_id,
            name: self.name,
            secret_hash: self.secret_hash,
            jwks: self.jwks,
            jwks_url: self.jwks_url,
            scopes: self.scopes,
            launch_url: self.launch_url,
        })
    }
}

const COLUMNS: &str = "client_id, name, client_type, secret_hash, jwks, jwks_url, redirect_uris, scopes, launch_url";

/// The client with this id.
pub async fn find(pool: &Pool, client_id: &str) -> Result<Option<Client>, sqlx::Error> {
    let row: Option<ClientRow> = pool.fetch_opt(&format!("SELECT {COLUMNS} FROM auth_client WHERE client_id = $1"), &[Arg::Text(client_id)]).await?;
    Ok(row.and_then(ClientRow::into_client))
}

/// Every client, by id.
pub async fn list(pool: &Pool) -> Result<Vec<Client>, sqlx::Error> {
    let rows: Vec<ClientRow> = pool.fetch(&format!("SELECT {COLUMNS} FROM auth_client ORDER BY client_id"), &[]).await?;
    Ok(rows.into_iter().filter_map(ClientRow::into_client).collect())
}

/// A registration to make.
#[derive(Debug, Clone)]
pub struct NewClient {
    /// Chosen id; a random one when None.
    pub client_id: Option<String>,
    /// Display name.
    pub name: String,
    /// Authentication profile.
    pub client_type: ClientType,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Scopes the client may be granted, space separated.
    pub scopes: String,
    /// JWK Set document (asymmetric).
    pub jwks: Option<String>,
    /// JWK Set URL (asymmetric).
    pub jwks_url: Option<String>,
    /// Launch URL (EHR launch).
    pub launch_url: Option<String>,
}

/// A client just registered, with its secret: shown once, stored only hashed.
#[derive(Debug, Clone)]
pub struct Registered {
    /// The client id.
    pub client_id: String,
    /// The client secret of a confidential-symmetric client.
    pub secret: Option<String>,
}

/// Checks and stores a registration.
pub async fn add(pool: &Pool, new: NewClient) -> anyhow::Result<Registered> {
    validate(&new)?;
    let client_id = new.client_id.clone().unwrap_or_else(|| random_token()[..22].to_string());
    let secret = (new.client_type == ClientType::ConfidentialSymmetric).then(random_token);
    let secret_hash = secret.as_deref().map(hash_secret);
    let redirect_uris = serde_json::to_string(&new.redirect_uris)?;
    let mut tx = pool.begin_outside_store().await?;
    let inserted = tx
        .execute(
            "INSERT INTO auth_client (client_id, name, client_type, secret_hash, jwks, jwks_url, redirect_uris, scopes, launch_url, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (client_id) DO NOTHING",
            &[
                Arg::Text(&client_id),
                Arg::Text(&new.name),
                Arg::Text(new.client_type.as_str()),
                Arg::OptText(secret_hash.as_deref()),
                Arg::OptText(new.jwks.as_deref()),
                Arg::OptText(new.jwks_url.as_deref()),
                Arg::Text(&redirect_uris),
                Arg::Text(&normalized_scopes(&new.scopes)),
                Arg::OptText(new.launch_url.as_deref()),
                Arg::Int(super::now() as i64),
            ],
        )
        .await?;
    if inserted == 0 {
        anyhow::bail!("a client {client_id} is already registered");
    }
    tx.commit().await?;
    Ok(Registered { client_id, secret })
}

/// Removes a client, its refresh tokens, and revokes its access tokens.
pub async fn remove(pool: &Pool, client_id: &str) -> anyhow::Result<()> {
    let now = super::now() as i64;
    let mut tx = pool.begin_outside_store().await?;
    if tx.execute("DELETE FROM auth_client WHERE client_id = $1", &[Arg::Text(client_id)]).await? == 0 {
        anyhow::bail!("no client {client_id}");
    }
    tx.execute("DELETE FROM auth_refresh_token WHERE client_id = $1", &[Arg::Text(client_id)]).await?;
    tx.execute("DELETE FROM auth_code WHERE client_id = $1", &[Arg::Text(client_id)]).await?;
    tx.execute("DELETE FROM auth_launch WHERE client_id = $1", &[Arg::Text(client_id)]).await?;
    tx.execute(
        "UPDATE auth_access_token SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL",
        &[Arg::Text(client_id), Arg::Int(now)],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn normalized_scopes(scopes: &str) -> String {
    scopes.split([' ', ',']).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ")
}

fn validate(new: &NewClient) -> anyhow::Result<()> {
    if new.name.trim().is_empty() {
        anyhow::bail!("a client needs a name");
    }
    if let Some(id) = &new.client_id {
        if id.is_empty() || id.len() > 200 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)) {
            anyhow::bail!("client id {id:?}: use 1 to 200 of A-Z a-z 0-9 - . _ ~");
        }
    }
    for uri in &new.redirect_uris {
        check_url(uri, "redirect URI")?;
        if uri.contains('#') {
            anyhow::bail!("redirect URI {uri} has a fragment, which OAuth forbids");
        }
    }
    if let Some(url) = &new.launch_url {
        check_url(url, "launch URL")?;
    }
    let scopes = parse_scopes(&normalized_scopes(&new.scopes)).map_err(|e| anyhow::anyhow!("{e}"))?;
    if scopes.is_empty() {
        anyhow::bail!("a client needs the scopes it may be granted (--scope)");
    }
    let asymmetric = new.client_type == ClientType::ConfidentialAsymmetric;
    let system = scopes.iter().any(|s| matches!(s, Scope::Resource(r) if r.context == Context::System));
    if system && !asymmetric {
        anyhow::bail!("system/ scopes are for backend services, which authenticate with a key: use --jwks-file or --jwks-url");
    }
    if !asymmetric && new.redirect_uris.is_empty() {
        anyhow::bail!("a {} client needs at least one --redirect-uri", new.client_type.as_str());
    }
    match (asymmetric, &new.jwks, &new.jwks_url) {
        (true, None, None) => anyhow::bail!("a confidential-asymmetric client needs --jwks-file or --jwks-url"),
        (true, Some(_), Some(_)) => anyhow::bail!("give the client's keys once: --jwks-file or --jwks-url, not both"),
        (false, Some(_), _) | (false, _, Some(_)) => anyhow::bail!("keys are for confidential-asymmetric clients"),
        _ => {}
    }
    if let Some(jwks) = &new.jwks {
        let set = smart_auth::parse_jwks(jwks)?;
        if set.keys.iter().all(|k| k.common.key_id.is_none()) {
            anyhow::bail!("the JWK Set has no usable key with a kid");
        }
    }
    if let Some(url) = &new.jwks_url {
        check_url(url, "JWKS URL")?;
    }
    Ok(())
}

fn check_url(url: &str, what: &str) -> anyhow::Result<()> {
    let ok = (url.starts_with("https://") || url.starts_with("http://")) && url.len() > "http://".len() + 1 && !url.contains(char::is_whitespace);
    if !ok {
        anyhow::bail!("{what} {url:?} must be an absolute http(s) URL");
    }
    Ok(())
}

//! `fhir-server auth ...`: apps, users, signing keys and EHR launches, managed directly in the
//! database the server uses (same `--database-url` / `--data-dir` and environment variables).

use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use smart_auth::Algorithm;

use super::clients::{ClientType, NewClient};
use super::{clients, keys, launches, users};
use crate::store::{open::open, Pool};

/// `fhir-server auth`.
#[derive(Args, Debug)]
pub struct AuthArgs {
    /// postgres://… or sqlite://…; default: the embedded SQLite file in --data-dir.
    #[arg(long, env = "FHIR_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Folder of the embedded store.
    #[arg(long, env = "FHIR_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: String,
    #[command(subcommand)]
    pub command: AuthCommand,
}

/// What to manage.
#[derive(Subcommand, Debug)]
pub enum AuthCommand {
    /// Registered apps (OAuth clients).
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// People who sign in on the login page.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The server's signing keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Creates an EHR launch context and prints the app's launch URL.
    Launch(LaunchArgs),
}

/// Client profile, as typed.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    /// No secret: PKCE only (browser and mobile apps).
    Public,
    /// A client secret sent with HTTP Basic.
    ConfidentialSymmetric,
    /// A private key: signed JWT assertions (also backend services).
    ConfidentialAsymmetric,
}

/// `auth client ...`.
#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Registers an app; a confidential-symmetric app's secret is printed once.
    Add(ClientAdd),
    /// Lists the registered apps.
    List,
    /// Removes an app and revokes its tokens.
    Remove {
        /// The client id (a generated one may begin with '-').
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
}

/// `auth client add`.
#[derive(Args, Debug)]
pub struct ClientAdd {
    /// Name shown to users on the consent page.
    #[arg(long)]
    pub name: String,
    /// Client id to use (default: a random one).
    #[arg(long = "id")]
    pub client_id: Option<String>,
    /// Client profile (default: public, or confidential-asymmetric with --jwks-file/--jwks-url).
    #[arg(long = "type", value_enum)]
    pub kind: Option<ClientKind>,
    /// Exact redirect URI; repeat for several.
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    /// Scopes the app may be granted (space or comma separated; repeatable), e.g.
    /// "launch launch/patient openid fhirUser offline_access patient/*.rs".
    #[arg(long = "scope", required = true)]
    pub scopes: Vec<String>,
    /// The app's public keys as a JWK Set file.
    #[arg(long)]
    pub jwks_file: Option<PathBuf>,
    /// Where the app publishes its JWK Set.
    #[arg(long)]
    pub jwks_url: Option<String>,
    /// The app's launch URL (EHR launch).
    #[arg(long)]
    pub launch_url: Option<String>,
}

/// `auth user ...`.
#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Adds a user; the password is prompted for, or read from standard input.
    Add {
        /// Sign-in name.
        username: String,
        /// The FHIR resource that represents the user, e.g. Practitioner/123 or Patient/123.
        #[arg(long)]
        fhir_user: Option<String>,
        /// Read the password from the first line of standard input (for scripts).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Lists the users.
    List,
    /// Removes a user and revokes their tokens.
    Remove {
        /// Sign-in name.
        username: String,
    },
}

/// Signing key algorithm, as typed.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlg {
    /// ECDSA P-384, for access tokens.
    Es384,
    /// RSA SHA-384, for access tokens.
    Rs384,
    /// RSA SHA-256, for ID tokens.
    Rs256,
}

/// `auth key ...`.
#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Generates new keys; they sign from the servers' next reload (within a minute), older
    /// keys keep verifying until retired.
    Rotate {
        /// Algorithms to generate (default: ES384 for access tokens and RS256 for ID tokens).
        #[arg(long = "alg", value_enum)]
        algs: Vec<KeyAlg>,
    },
    /// Lists the keys, retired ones too.
    List,
    /// Retires a key: tokens it signed stop verifying within a minute.
    Retire {
        /// The key id: a base64url thumbprint, which begins with '-' one time in 64.
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

/// `auth launch`.
#[derive(Args, Debug)]
pub struct LaunchArgs {
    /// The app's client id (a generated one may begin with '-').
    #[arg(long, allow_hyphen_values = true)]
    pub client: String,
    /// Patient id in context.
    #[arg(long)]
    pub patient: Option<String>,
    /// Encounter id in context.
    #[arg(long)]
    pub encounter: Option<String>,
    /// The only user who may sign in for this launch.
    #[arg(long)]
    pub user: Option<String>,
    /// The server's public base URL (its `iss`), when behind a proxy.
    #[arg(long, env = "FHIR_PUBLIC_BASE")]
    pub public_base: Option<String>,
    /// The server's listen address, for its base URL.
    #[arg(long, env = "FHIR_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The server's FHIR path prefix, for its base URL.
    #[arg(long, env = "FHIR_BASE_PATH", default_value = "/fhir")]
    pub base_path: String,
}

impl LaunchArgs {
    /// The FHIR base URL the server announces (as `start` computes it).
    pub fn base(&self) -> String {
        let path = format!("/{}", self.base_path.trim_matches('/'));
        let path = path.trim_end_matches('/');
        self.public_base.clone().unwrap_or_else(|| format!("http://{}{path}", self.listen)).trim_end_matches('/').to_string()
    }
}

/// The database the server would use.
pub fn database_url(url: Option<&str>, data_dir: &str) -> String {
    url.map(str::to_string).unwrap_or_else(|| format!("sqlite://{}/fhir.db", data_dir.trim_end_matches('/')))
}

/// Runs an `auth` command.
pub async fn run(args: AuthArgs) -> anyhow::Result<()> {
    let url = database_url(args.database_url.as_deref(), &args.data_dir);
    let pool = open(&url, Some(2)).await.with_context(|| format!("opening {url}"))?;
    match args.command {
        AuthCommand::Client { command } => client(&pool, command).await,
        AuthCommand::User { command } => user(&pool, command).await,
        AuthCommand::Key { command } => key(&pool, command).await,
        AuthCommand::Launch(l) => launch(&pool, l).await,
    }
}

async fn client(pool: &Pool, command: ClientCommand) -> anyhow::Result<()> {
    match command {
        ClientCommand::Add(a) => {
            let jwks = a.jwks_file.as_ref().map(|f| std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))).transpose()?;
            let client_type = match (a.kind, jwks.is_some() || a.jwks_url.is_some()) {
                (Some(ClientKind::Public), _) | (None, false) => ClientType::Public,
                (Some(ClientKind::ConfidentialSymmetric), _) => ClientType::ConfidentialSymmetric,
                (Some(ClientKind::ConfidentialAsymmetric), _) | (None, true) => ClientType::ConfidentialAsymmetric,
            };
            let registered = clients::add(
                pool,
                NewClient {
                    client_id: a.client_id,
                    name: a.name,
                    client_type,
                    redirect_uris: a.redirect_uris,
                    scopes: a.scopes.join(" "),
                    jwks,
                    jwks_url: a.jwks_url,
                    launch_url: a.launch_url,
                },
            )
            .await?;
            println!("client_id: {}", registered.client_id);
            println!("type: {}", client_type.as_str());
            if let Some(secret) = registered.secret {
                println!("client_secret: {secret}");
                eprintln!("The secret is shown only now; it is stored hashed.");
            }
        }
        ClientCommand::List => {
            for c in clients::list(pool).await? {
                println!("{}\t{}\t{}\tredirect: {}\tscope: {}", c.client_id, c.client_type.as_str(), c.name, c.redirect_uris.join(" "), c.scopes);
            }
        }
        ClientCommand::Remove { client_id } => {
            clients::remove(pool, &client_id).await?;
            println!("removed client {client_id}");
        }
    }
    Ok(())
}

/// A password from the terminal (asked twice, not echoed) or from the first line of stdin.
fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let first = rpassword::prompt_password("Password: ")?;
    let again = rpassword::prompt_password("Password again: ")?;
    if first != again {
        anyhow::bail!("the passwords differ");
    }
    Ok(first)
}

async fn user(pool: &Pool, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add { username, fhir_user, password_stdin } => {
            let password = read_password(password_stdin)?;
            let u = users::add(pool, &username, &password, fhir_user.as_deref()).await?;
            println!("added user {} (sub {}{})", u.username, u.sub, u.fhir_user.map(|f| format!(", fhirUser {f}")).unwrap_or_default());
        }
        UserCommand::List => {
            for u in users::list(pool).await? {
                println!("{}\tsub {}\tfhirUser {}", u.username, u.sub, u.fhir_user.as_deref().unwrap_or("-"));
            }
        }
        UserCommand::Remove { username } => {
            users::remove(pool, &username).await?;
            println!("removed user {username}");
        }
    }
    Ok(())
}

async fn key(pool: &Pool, command: KeyCommand) -> anyhow::Result<()> {
    match command {
        KeyCommand::Rotate { algs } => {
            let algs: Vec<Algorithm> = if algs.is_empty() {
                vec![Algorithm::ES384, Algorithm::RS256]
            } else {
                algs.iter()
                    .map(|a| match a {
                        KeyAlg::Es384 => Algorithm::ES384,
                        KeyAlg::Rs384 => Algorithm::RS384,
                        KeyAlg::Rs256 => Algorithm::RS256,
                    })
                    .collect()
            };
            for k in keys::rotate(pool, &algs).await? {
                println!("new key {} ({:?}); running servers sign with it within a minute", k.kid(), k.algorithm());
            }
        }
        KeyCommand::List => {
            for k in keys::list(pool).await? {
                let state = k.retired_at.map(|t| format!("retired at {t}")).unwrap_or_else(|| "in use".into());
                println!("{}\t{}\tcreated at {}\t{state}", k.kid, k.alg, k.created_at);
            }
        }
        KeyCommand::Retire { kid } => {
            keys::retire(pool, &kid).await?;
            println!("retired key {kid}; running servers drop it within a minute");
        }
    }
    Ok(())
}

async fn launch(pool: &Pool, l: LaunchArgs) -> anyhow::Result<()> {
    let base = l.base();
    let context = launches::Launch { client_id: l.client, patient: l.patient, encounter: l.encounter, username: l.user };
    let created = launches::create(pool, &base, &context).await?;
    match created.url {
        Some(url) => println!("{url}"),
        None => {
            println!("launch: {}", created.launch);
            eprintln!("The client has no launch URL (--launch-url): send the app iss={base} and this launch value.");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        auth: AuthArgs,
    }

    /// Generated key and client ids are base64url and may begin with '-': they are taken as
    /// values, not refused as unknown options.
    #[test]
    fn generated_ids_that_begin_with_a_hyphen_are_values() {
        let parsed = |args: &[&str]| Cli::try_parse_from([&["auth"][..], args].concat()).map(|c| c.auth.command).map_err(|e| e.to_string());
        match parsed(&["key", "retire", "-17RCuUqpq1DbPj"]) {
            Ok(AuthCommand::Key { command: KeyCommand::Retire { kid } }) => assert_eq!(kid, "-17RCuUqpq1DbPj"),
            other => panic!("{other:?}"),
        }
        match parsed(&["client", "remove", "-QC6Dsw"]) {
            Ok(AuthCommand::Client { command: ClientCommand::Remove { client_id } }) => assert_eq!(client_id, "-QC6Dsw"),
            other => panic!("{other:?}"),
        }
        match parsed(&["launch", "--client", "-QC6Dsw", "--user", "alice"]) {
            Ok(AuthCommand::Launch(l)) => assert_eq!((l.client.as_str(), l.user.as_deref()), ("-QC6Dsw", Some("alice"))),
            other => panic!("{other:?}"),
        }
        // Options are still options.
        assert!(parsed(&["key", "rotate", "--alg", "es384"]).is_ok());
    }
}

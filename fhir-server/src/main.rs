//! `fhir-server`: runs the FHIR R4 server (default command).

use clap::{Parser, Subcommand};
use std::net::SocketAddr;

/// mimalloc for Rust and, through its `override` feature, for the bundled SQLite's C allocations:
/// a search page allocates and frees a string per row and per entry, where glibc's allocator took
/// a quarter of the server's CPU. Search mix, alternated: SQLite +9% at ×10, +22% at ×1 (Rust
/// only), then +7% and +11% with SQLite's allocations too; PostgreSQL +5% and +10%.
/// docs/performance.md, "Search".
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "fhir-server", version, about = "FHIR R4 server and interoperability hub")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Manage the built-in SMART authorization server: apps, users, signing keys, EHR launches.
    Auth(fhir_server::auth::cli::AuthArgs),
    /// Evaluate a FHIRPath expression over a resource file (`-` reads stdin) and print the result as JSON.
    Fhirpath {
        /// The FHIRPath expression.
        expression: String,
        /// A FHIR JSON resource file, or `-` for stdin.
        resource: String,
    },
}

#[derive(clap::Args, Clone)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "FHIR_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// postgres://… or sqlite://…; default: an embedded SQLite file in --data-dir.
    #[arg(long, env = "FHIR_DATABASE_URL")]
    database_url: Option<String>,
    /// Folder for the embedded store.
    #[arg(long, env = "FHIR_DATA_DIR", default_value = "./data")]
    data_dir: String,
    /// Path prefix of the FHIR API.
    #[arg(long, env = "FHIR_BASE_PATH", default_value = "/fhir")]
    base_path: String,
    /// Public base URL, when the server sits behind a proxy.
    #[arg(long, env = "FHIR_PUBLIC_BASE")]
    public_base: Option<String>,
    /// Database connections in the pool; default 16 on PostgreSQL, and on SQLite twice the CPU
    /// count for reads (plus the one writer).
    #[arg(long, env = "FHIR_DB_CONNECTIONS")]
    db_connections: Option<u32>,
    /// Resources per transaction when reindexing for a new or changed SearchParameter.
    #[arg(long, env = "FHIR_REINDEX_BATCH", default_value_t = 200)]
    reindex_batch: i64,
    /// Serve on a non-loopback address without authorization: anyone who can reach the server
    /// can read and change every resource. Without this flag such an address is refused.
    #[arg(long, env = "FHIR_ALLOW_UNAUTHENTICATED_NETWORK")]
    allow_unauthenticated_network: bool,
    /// Pause between reindex batches, in milliseconds (leaves the database to the interactions).
    #[arg(long, env = "FHIR_REINDEX_PAUSE_MS", default_value_t = 0)]
    reindex_pause_ms: u64,
    /// Authorization: none (loopback only unless allowed), smart (the built-in SMART App Launch
    /// authorization server), or external (only an external OpenID provider's access tokens).
    #[arg(long, env = "FHIR_AUTH", value_enum, default_value = "none")]
    auth: AuthFlag,
    /// Issuer (`iss`) of an external OpenID provider whose access tokens are accepted.
    #[arg(long, env = "FHIR_AUTH_EXTERNAL_ISSUER", requires = "auth_external_jwks_url")]
    auth_external_issuer: Option<String>,
    /// JWK Set URL of that provider.
    #[arg(long, env = "FHIR_AUTH_EXTERNAL_JWKS_URL", requires = "auth_external_issuer")]
    auth_external_jwks_url: Option<String>,
    /// Audience (`aud`) the provider's tokens carry; default: this server's FHIR base URL.
    #[arg(long, env = "FHIR_AUTH_EXTERNAL_AUDIENCE", requires = "auth_external_issuer")]
    auth_external_audience: Option<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum AuthFlag {
    None,
    Smart,
    External,
}

impl ServeArgs {
    fn auth_config(&self) -> fhir_server::auth::AuthConfig {
        use fhir_server::auth::{AuthConfig, AuthMode, ExternalProvider};
        let mode = match self.auth {
            AuthFlag::None => AuthMode::None,
            AuthFlag::Smart => AuthMode::Smart,
            AuthFlag::External => AuthMode::External,
        };
        let external = match (&self.auth_external_issuer, &self.auth_external_jwks_url) {
            (Some(issuer), Some(jwks_url)) => Some(ExternalProvider { issuer: issuer.clone(), jwks_url: jwks_url.clone(), audience: self.auth_external_audience.clone() }),
            _ => None,
        };
        AuthConfig { mode, external }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Serve(a)) => a,
        Some(Command::Auth(args)) => {
            if let Err(e) = fhir_server::auth::cli::run(args).await {
                eprintln!("error: {e:#}");
                std::process::exit(1);
            }
            return Ok(());
        }
        Some(Command::Fhirpath { expression, resource }) => {
            if let Err(e) = fhir_server::cli::fhirpath(&expression, &resource) {
                eprintln!("error: {e:#}");
                std::process::exit(1);
            }
            return Ok(());
        }
        None => cli.serve,
    };
    // Only the server logs; the tools keep stdout for their output.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()))
        .init();
    let database_url = args.database_url.clone().unwrap_or_else(|| format!("sqlite://{}/fhir.db", args.data_dir.trim_end_matches('/')));
    let auth = args.auth_config();
    let running = fhir_server::start(fhir_server::ServeConfig {
        listen: args.listen,
        database_url,
        base_path: args.base_path,
        public_base: args.public_base,
        max_connections: args.db_connections,
        reindex: fhir_server::store::indexing::ReindexConfig { batch: args.reindex_batch, pause: std::time::Duration::from_millis(args.reindex_pause_ms) },
        allow_unauthenticated_network: args.allow_unauthenticated_network,
        auth,
        authenticator: None,
    })
    .await?;
    println!("FHIR server ready at {}", running.base_url);
    tokio::select! {
        r = running.task => { r??; }
        _ = tokio::signal::ctrl_c() => { tracing::info!("shutting down"); }
    }
    Ok(())
}

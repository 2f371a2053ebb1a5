//! FHIR R4 server and interoperability hub: HTTP API, resource store, interactions.

pub mod access;
pub mod app;
pub mod cli;
pub mod clock;
pub mod error;
pub mod interactions;
pub mod rest;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;

/// How to run the server.
#[derive(Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    /// `sqlite://path/file.db` or `postgres://…`.
    pub database_url: String,
    /// Path prefix of the FHIR API (`/fhir`).
    pub base_path: String,
    /// Public base URL when behind a proxy; default `http://<listen><base_path>`.
    pub public_base: Option<String>,
    pub max_connections: u32,
    /// Pace of the background reindex after SearchParameters change.
    pub reindex: store::indexing::ReindexConfig,
    /// Serve without authorization on a non-loopback address: anyone who can reach it can read
    /// and change every resource. Off by default; without it such an address is refused.
    pub allow_unauthenticated_network: bool,
    /// Verifies access tokens on every FHIR interaction (`/metadata` and the probes excepted);
    /// None serves without authorization.
    pub authenticator: Option<Arc<dyn access::Authenticate>>,
}

impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("listen", &self.listen)
            .field("database_url", &self.database_url)
            .field("base_path", &self.base_path)
            .field("public_base", &self.public_base)
            .field("max_connections", &self.max_connections)
            .field("reindex", &self.reindex)
            .field("allow_unauthenticated_network", &self.allow_unauthenticated_network)
            .field("authenticator", &self.authenticator.as_ref().map(|_| "configured"))
            .finish()
    }
}

impl ServeConfig {
    /// Defaults for a server of one's own on `database_url`: loopback on a free port, `/fhir`.
    pub fn local(database_url: &str) -> ServeConfig {
        ServeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.to_string(),
            base_path: "/fhir".into(),
            public_base: None,
            max_connections: 8,
            reindex: Default::default(),
            allow_unauthenticated_network: false,
            authenticator: None,
        }
    }

    /// Refuses an unauthenticated server on an address others can reach, unless asked for by name.
    fn check_exposure(&self) -> anyhow::Result<()> {
        if !self.listen.ip().is_loopback() && !self.allow_unauthenticated_network && self.authenticator.is_none() {
            anyhow::bail!(
                "refusing to serve on {} without authorization: anyone who can reach it could read and change every resource. \
                 Listen on a loopback address (127.0.0.1), or pass --allow-unauthenticated-network (FHIR_ALLOW_UNAUTHENTICATED_NETWORK=true) to accept that risk",
                self.listen
            );
        }
        Ok(())
    }
}

/// A started server.
pub struct Running {
    /// Base URL of the FHIR API.
    pub base_url: String,
    pub local_addr: SocketAddr,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The background reindex; it runs until aborted.
    pub reindex: tokio::task::JoinHandle<()>,
}

/// Opens the store (running migrations), loads the R4 definitions, binds and starts serving.
pub async fn start(cfg: ServeConfig) -> anyhow::Result<Running> {
    cfg.check_exposure()?;
    let pool = store::open::open(&cfg.database_url, cfg.max_connections).await?;
    let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
    let local_addr = listener.local_addr()?;
    let base_path = format!("/{}", cfg.base_path.trim_matches('/')).trim_end_matches('/').to_string();
    let base_url = cfg.public_base.clone().unwrap_or_else(|| format!("http://{local_addr}{base_path}")).trim_end_matches('/').to_string();
    // Parse the definitions before the first request needs them, off the async workers.
    tokio::task::spawn_blocking(|| {
        let pkg = profiles::Package::r4_core();
        pkg.validator();
        search::Registry::r4();
    })
    .await?;
    let mut app = app::App::new(store::Store::new(pool, cfg.reindex.clone()).await?, base_url.clone());
    app.authenticator = cfg.authenticator.clone();
    let app = Arc::new(app);
    let reindex = tokio::spawn(app.store.indexing.clone().run());
    app.set_ready();
    let router = rest::router(app.clone(), &base_path).layer(tower_http::trace::TraceLayer::new_for_http());
    let task = tokio::spawn(async move { axum::serve(listener, router).await });
    tracing::info!(%base_url, backend = ?app.store.backend(), "FHIR server ready");
    if app.authenticator.is_some() {
        tracing::info!(%local_addr, "authorization is on: every FHIR interaction needs a bearer access token (/metadata and the health probes excepted)");
    } else if local_addr.ip().is_loopback() {
        tracing::warn!(%local_addr, "no authorization: reachable from this machine only (loopback)");
    } else {
        tracing::warn!(%local_addr, "no authorization on a network address (--allow-unauthenticated-network): anyone who can reach it can read and change every resource");
    }
    Ok(Running { base_url, local_addr, task, reindex })
}

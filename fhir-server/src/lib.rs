//! FHIR R4 server and interoperability hub: HTTP API, resource store, interactions.

pub mod access;
pub mod app;
pub mod auth;
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
    /// Database connections in the pool (on SQLite: the readers); None for the backend's default,
    /// see [`store::open::open`].
    pub max_connections: Option<u32>,
    /// Pace of the background reindex after SearchParameters change.
    pub reindex: store::indexing::ReindexConfig,
    /// Serve without authorization on a non-loopback address: anyone who can reach it can read
    /// and change every resource. Off by default; without it such an address is refused.
    pub allow_unauthenticated_network: bool,
    /// Verifies access tokens on every FHIR interaction (`/metadata` and the probes excepted);
    /// None serves without authorization.
    pub authenticator: Option<Arc<dyn access::Authenticate>>,
    /// Authorization: off, our own SMART authorization server, and/or an external provider.
    pub auth: auth::AuthConfig,
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
            .field("auth", &self.auth)
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
            // Test suites start many servers at once against one PostgreSQL (100 connections).
            max_connections: Some(8),
            reindex: Default::default(),
            allow_unauthenticated_network: false,
            authenticator: None,
            auth: auth::AuthConfig::off(),
        }
    }

    /// Refuses an unauthenticated server on an address others can reach, unless asked for by name.
    fn check_exposure(&self) -> anyhow::Result<()> {
        self.auth.check()?;
        if !self.listen.ip().is_loopback() && !self.allow_unauthenticated_network && !self.auth.is_on() && self.authenticator.is_none() {
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
    /// The authorization server, when authorization is on.
    pub auth: Option<Arc<auth::SmartAuth>>,
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
    let auth = auth::SmartAuth::open(pool.clone(), &base_url, &cfg.auth).await?;
    let mut app = app::App::new(store::Store::new(pool, cfg.reindex.clone()).await?, base_url.clone()).with_auth(auth.clone());
    // A plug-in authenticator takes precedence; otherwise our own verifies the bearer tokens.
    app.authenticator = cfg.authenticator.clone().or_else(|| auth.clone().map(|a| a as Arc<dyn access::Authenticate>));
    let app = Arc::new(app);
    let reindex = tokio::spawn(app.store.indexing.clone().run());
    app.set_ready();
    let mut router = rest::router(app.clone(), &base_path);
    if let Some(auth) = &auth {
        // Browser apps call discovery, the token endpoint and the API from their own origin
        // (SMART requirements 16, 17). Tokens travel in headers, not cookies, so any origin may
        // read answers; without authorization no CORS is offered, so a web page cannot read a
        // local open server through its visitor's browser.
        router = router.merge(auth.routes(&base_path)).layer(cors());
    }
    let router = router.layer(tower_http::trace::TraceLayer::new_for_http());
    let task = tokio::spawn(async move { axum::serve(listener, router).await });
    tracing::info!(%base_url, backend = ?app.store.backend(), "FHIR server ready");
    match (&auth, local_addr.ip().is_loopback()) {
        (Some(a), _) if a.is_issuing() => tracing::info!(%local_addr, discovery = %format!("{base_url}/.well-known/smart-configuration"), external = ?cfg.auth.external.as_ref().map(|e| &e.issuer), "SMART authorization on: every FHIR interaction needs a bearer access token (/metadata and the health probes excepted)"),
        (Some(_), _) => tracing::info!(%local_addr, external = ?cfg.auth.external.as_ref().map(|e| &e.issuer), "authorization by an external OpenID provider"),
        (None, _) if app.authenticator.is_some() => tracing::info!(%local_addr, "authorization is on: every FHIR interaction needs a bearer access token (/metadata and the health probes excepted)"),
        (None, true) => tracing::warn!(%local_addr, "no authorization: reachable from this machine only (loopback)"),
        (None, false) => tracing::warn!(%local_addr, "no authorization on a network address (--allow-unauthenticated-network): anyone who can reach it can read and change every resource"),
    }
    Ok(Running { base_url, local_addr, task, reindex, auth })
}

/// Cross-origin access for browser apps: any origin, the headers FHIR and OAuth requests carry,
/// and the response headers a FHIR client reads.
fn cors() -> tower_http::cors::CorsLayer {
    use axum::http::{header, HeaderName, Method};
    tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::IF_MODIFIED_SINCE,
            HeaderName::from_static("if-none-exist"),
            HeaderName::from_static("prefer"),
        ])
        .expose_headers([header::LOCATION, header::ETAG, header::LAST_MODIFIED, header::CONTENT_LOCATION, header::WWW_AUTHENTICATE])
        .max_age(std::time::Duration::from_secs(3600))
}

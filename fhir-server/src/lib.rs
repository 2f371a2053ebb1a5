//! FHIR R4 server and interoperability hub: HTTP API, resource store, interactions.

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
#[derive(Debug, Clone)]
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
    let app = Arc::new(app::App::new(store::Store::new(pool, cfg.reindex.clone()).await?, base_url.clone()));
    let reindex = tokio::spawn(app.store.indexing.clone().run());
    app.set_ready();
    let router = rest::router(app.clone(), &base_path).layer(tower_http::trace::TraceLayer::new_for_http());
    let task = tokio::spawn(async move { axum::serve(listener, router).await });
    tracing::info!(%base_url, backend = ?app.store.backend(), "FHIR server ready");
    Ok(Running { base_url, local_addr, task, reindex })
}

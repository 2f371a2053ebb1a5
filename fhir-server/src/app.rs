//! Shared server state.

use crate::access::Authenticate;
use crate::store::Store;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Everything a request handler needs.
pub struct App {
    pub store: Store,
    /// Public base URL of the FHIR API, without trailing slash (e.g. `http://127.0.0.1:8080/fhir`).
    pub base: String,
    /// Verifies access tokens; None serves without authorization (every request is `Access::Open`).
    pub authenticator: Option<Arc<dyn Authenticate>>,
    /// The authorization server, when authorization is on.
    pub auth: Option<Arc<crate::auth::SmartAuth>>,
    ready: AtomicBool,
}

impl App {
    /// New state; not ready until [`App::set_ready`].
    pub fn new(store: Store, base: String) -> Self {
        App { store, base, authenticator: None, auth: None, ready: AtomicBool::new(false) }
    }
    /// The same state with our authorization server on.
    pub fn with_auth(mut self, auth: Option<Arc<crate::auth::SmartAuth>>) -> Self {
        self.auth = auth;
        self
    }
    /// Marks start-up (migrations, definitions) as done.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }
    /// The FHIRPath engine over the R4 type model, the one search indexing uses (one cache, one set of type tables).
    pub fn fhirpath(&self) -> &'static fhirpath::Engine {
        search::Registry::r4().engine()
    }
    /// The search registry in force (the R4 parameters and the stored custom ones).
    pub fn registry(&self) -> Arc<search::Registry> {
        self.store.registry()
    }
    /// Whether start-up finished.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

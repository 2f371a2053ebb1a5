//! Harness for black-box HTTP suites. Each case runs against our server on embedded SQLite and on
//! PostgreSQL (started in-process on a throwaway database), or against any FHIR server whose base
//! URL is in `FHIR_BASE_URL`.
//!
//! PostgreSQL comes from `FHIR_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
//! When it is unreachable the PostgreSQL cases are skipped with a message, except under `CI=true`,
//! where they fail.

use reqwest::{Client, Method, Response};
use serde_json::Value;
use std::sync::OnceLock;

/// A server under test.
pub struct Target {
    pub base: String,
    pub name: &'static str,
    /// The store's database URL when the server is ours (for checks HTTP cannot see, like the outbox).
    pub database_url: Option<String>,
}

/// Which backend a case runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

fn start_in_thread(database_url: String) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        rt.block_on(async move {
            let running = fhir_server::start(fhir_server::ServeConfig::local(&database_url)).await;
            match running {
                Ok(r) => {
                    tx.send(Ok(r.base_url.clone())).unwrap();
                    let _ = r.task.await;
                }
                Err(e) => tx.send(Err(e.to_string())).unwrap(),
            }
        });
    });
    rx.recv().expect("server thread").unwrap_or_else(|e| panic!("server failed to start: {e}"))
}

fn external() -> Option<String> {
    std::env::var("FHIR_BASE_URL").ok().filter(|s| !s.is_empty()).map(|s| s.trim_end_matches('/').to_string())
}

/// The target for a backend, started once per test process; None means "skip".
pub fn target(backend: Backend) -> Option<&'static Target> {
    static SQLITE: OnceLock<Target> = OnceLock::new();
    static PG: OnceLock<Option<Target>> = OnceLock::new();
    if let Some(url) = external() {
        // An external server is one target; run each case once.
        return match backend {
            Backend::Sqlite => Some(SQLITE.get_or_init(|| Target { base: url, name: "external", database_url: None })),
            Backend::Postgres => None,
        };
    }
    match backend {
        Backend::Sqlite => Some(SQLITE.get_or_init(|| {
            let url = fresh_database(Backend::Sqlite).expect("SQLite needs no server");
            let base = start_in_thread(url.clone());
            Target { base, name: "sqlite", database_url: Some(url) }
        })),
        Backend::Postgres => PG.get_or_init(|| {
            let url = fresh_database(Backend::Postgres)?;
            Some(Target { base: start_in_thread(url.clone()), name: "postgres", database_url: Some(url) })
        })
        .as_ref(),
    }
}

/// The URL of a new, empty database for a server of our own: a SQLite file in a fresh folder, or
/// a new PostgreSQL database (None, after saying why, when PostgreSQL is unreachable outside CI).
pub fn fresh_database(backend: Backend) -> Option<String> {
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join(format!("fhir-ct-{}-{}", std::process::id(), uuid::Uuid::new_v4()));
            Some(format!("sqlite://{}/fhir.db", dir.display()))
        }
        Backend::Postgres => postgres_database(),
    }
}

fn postgres_database() -> Option<String> {
    let admin = std::env::var("FHIR_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let ours = format!("fhir_ct_{}_", std::process::id());
    let db = format!("{ours}{}", uuid::Uuid::new_v4().simple().to_string().get(..8).unwrap_or("x"));
    let created = std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect(&admin).await?;
                // Databases of earlier runs (other processes) are dropped; one still in use (a concurrent run) refuses
                // the drop, and that refusal is fine.
                let stale: Vec<(String,)> = sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'fhir\\_ct\\_%'").fetch_all(&mut c).await?;
                for (name,) in stale.into_iter().filter(|(n,)| !n.starts_with(&ours)) {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(&mut c).await;
                }
                sqlx::query(&format!("CREATE DATABASE {db}")).execute(&mut c).await?;
                Ok::<_, sqlx::Error>(())
            })
        })
        .join()
        .unwrap()
    });
    if let Err(e) = created {
        let ci = std::env::var("CI").map(|v| v == "true").unwrap_or(false);
        if ci {
            panic!("CI=true and PostgreSQL at {admin} is unreachable: {e}");
        }
        eprintln!("SKIP PostgreSQL cases: {admin} unreachable ({e}); set CI=true to make this fatal");
        return None;
    }
    Some(match admin.rsplit_once('/') {
        Some((head, _)) => format!("{head}/{db}"),
        None => admin.clone(),
    })
}

/// Runs one case body on a backend (skipping where [`target`] says so).
#[macro_export]
macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(t) = $crate::target($crate::Backend::Sqlite) {
                        super::$case(&$crate::Fhir::new(t)).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(t) = $crate::target($crate::Backend::Postgres) {
                        super::$case(&$crate::Fhir::new(t)).await;
                    }
                }
            )*
        }
    };
}

/// A small FHIR client for tests.
pub struct Fhir {
    pub base: String,
    pub backend: &'static str,
    pub database_url: Option<String>,
    pub http: Client,
}

/// A decoded response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("response is not JSON ({e}): {:?}", self.text))
    }
    /// A header value.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }
    /// The first OperationOutcome issue's expression.
    pub fn issue_expression(&self) -> Option<String> {
        self.json()["issue"].as_array()?.iter().find_map(|i| i["expression"][0].as_str().map(str::to_string))
    }
    /// Asserts the status, printing the body when it differs.
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        self
    }
}

impl Fhir {
    /// A client for a target.
    pub fn new(t: &Target) -> Self {
        Fhir { base: t.base.clone(), backend: t.name, database_url: t.database_url.clone(), http: Client::builder().pool_max_idle_per_host(4).build().unwrap() }
    }
    /// Absolute URL for a path relative to the base ("Patient/1") or already absolute.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else if path.is_empty() {
            self.base.clone()
        } else {
            format!("{}/{}", self.base, path.trim_start_matches('/'))
        }
    }
    /// Sends a request with optional JSON body and extra headers.
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>, headers: &[(&str, &str)]) -> Reply {
        let mut rb = self.http.request(method, self.url(path));
        if let Some(b) = body {
            rb = rb.header("content-type", "application/fhir+json").body(b.to_string());
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        let resp: Response = rb.send().await.unwrap_or_else(|e| panic!("request to {path} failed: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        Reply { status, headers, text }
    }
    /// GET.
    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None, &[]).await
    }
    /// POST a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, Some(body), &[]).await
    }
    /// PUT a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::PUT, path, Some(body), &[]).await
    }
    /// DELETE.
    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None, &[]).await
    }
    /// Creates a resource and returns the stored copy.
    pub async fn create(&self, resource: &Value) -> Value {
        let rt = resource["resourceType"].as_str().expect("resourceType");
        self.post(rt, resource).await.expect(201).json()
    }
}

/// `Type/id` of every resource entry of a searchset (matches and includes, not the outcome); an
/// entry without a resource type or id fails the test.
pub fn entry_ids(bundle: &serde_json::Value) -> std::collections::BTreeSet<String> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["search"]["mode"] != "outcome")
        .map(|e| {
            let r = &e["resource"];
            let field = |k: &str| r[k].as_str().unwrap_or_else(|| panic!("entry without {k}: {e}")).to_string();
            format!("{}/{}", field("resourceType"), field("id"))
        })
        .collect()
}

/// A fresh value for identifiers, so cases sharing a server never collide.
pub fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Path of the shared corpora (tests only; the product never reads it).
pub fn corpora() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora")
}

/// The `.json` files of a folder, sorted by name (corpora are read in a fixed order).
pub fn json_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// Proleptic Gregorian calendar arithmetic (H. Hinnant's algorithms), for tests and tools that
/// must compute dates without the server's own code.
pub mod calendar {
    /// Days since 1970-01-01 of (y, m, d).
    pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// (y, m, d) of a day counted from 1970-01-01.
    pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
    }
}

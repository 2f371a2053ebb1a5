//! Issue 5: the built-in SMART App Launch 2.x authorization server, driven through real flows
//! (browser pages parsed minimally, redirects not followed) on SQLite and PostgreSQL.
//!
//! Test names start with the Inferno SMART STU2/STU2.2 check they reproduce where one applies
//! (ids from shared/corpora/smart/smart-app-launch-test-kit/smart_stu2_2_requirements_coverage.csv);
//! conformance-tests/smart/inferno-coverage.csv maps every server SHALL requirement Inferno checks
//! to the tests here that assert it, and tests/smart_inferno_coverage.rs keeps that map whole.
//! The browser-and-app helpers driving the pages live in tests/common/smart.rs.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use common::smart::*;
use conformance_tests::{fresh_database, Backend};
use fhir_server::auth::clients::ClientType;
use fhir_server::auth::{keys, launches, users, AuthConfig, AuthMode, ExternalProvider, SmartAuth};
use fhir_server::store::{open::open, Pool};
use fhir_server::ServeConfig;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use smart_auth::{pkce, Algorithm, ErrorCode, SigningKey};

const APP_SCOPES: &str = "launch launch/patient launch/encounter openid fhirUser profile offline_access online_access patient/*.cruds user/*.rs";

/// A server with authorization on, and what was registered in it.
struct Fx {
    base: String,
    database_url: String,
    p1: String,
    p2: String,
    e1: String,
    practitioner: String,
    symmetric_secret: String,
    es_key: SigningKey,
    rs_key: SigningKey,
    backend_key: SigningKey,
    /// The JWK Set the `backend-url` client publishes, served from this process.
    published_jwks: Arc<Mutex<String>>,
}

/// Serves `doc` as JSON to every GET on a loopback port; returns its URL.
async fn serve_json(doc: Arc<Mutex<String>>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let doc = doc.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut read = 0;
                while let Ok(n) = socket.read(&mut buf[read..]).await {
                    read += n;
                    if n == 0 || buf[..read].windows(4).any(|w| w == b"\r\n\r\n") || read == buf.len() {
                        break;
                    }
                }
                let body = doc.lock().unwrap().clone();
                let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body.as_bytes()).await;
            });
        }
    });
    url
}

async fn setup(url: String) -> (Fx, fhir_server::Running) {
    let running = fhir_server::start(ServeConfig { auth: AuthConfig::smart(), ..ServeConfig::local(&url) }).await.expect("server with auth");
    let base = running.base_url.clone();
    let pool = open(&url, Some(2)).await.unwrap();
    let es_key = SigningKey::generate(Algorithm::ES384, now()).unwrap();
    let rs_key = SigningKey::generate(Algorithm::RS384, now()).unwrap();
    let backend_key = SigningKey::generate(Algorithm::ES384, now()).unwrap();
    let url_key = SigningKey::generate(Algorithm::RS384, now()).unwrap();
    let published_jwks = Arc::new(Mutex::new(jwks_of(&[&url_key])));
    let jwks_url = serve_json(published_jwks.clone()).await;
    register(&pool, "public-app", ClientType::Public, true, APP_SCOPES, None, None).await;
    let symmetric_secret = register(&pool, "symmetric-app", ClientType::ConfidentialSymmetric, true, APP_SCOPES, None, None).await.unwrap();
    register(&pool, "es384-app", ClientType::ConfidentialAsymmetric, true, APP_SCOPES, Some(jwks_of(&[&es_key])), None).await;
    register(&pool, "rs384-app", ClientType::ConfidentialAsymmetric, true, APP_SCOPES, Some(jwks_of(&[&rs_key])), None).await;
    register(&pool, "backend", ClientType::ConfidentialAsymmetric, false, "system/*.cruds", Some(jwks_of(&[&backend_key])), None).await;
    register(&pool, "backend-url", ClientType::ConfidentialAsymmetric, false, "system/Patient.rs system/Observation.rs", None, Some(jwks_url)).await;
    register(&pool, "narrow-app", ClientType::Public, true, "launch/patient openid patient/Observation.rs", None, None).await;

    // The data is written with a backend service's token, as it will have to be once the API
    // enforces tokens.
    let http = reqwest::Client::new();
    let token_url = format!("{base}/auth/token");
    let claims = json!({"iss": "backend", "sub": "backend", "aud": token_url, "exp": now() + 120, "jti": unique()});
    let assertion = backend_key.sign(&claims).unwrap();
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", "system/*.cruds"),
        ("client_assertion_type", smart_auth::JWT_BEARER),
        ("client_assertion", assertion.as_str()),
    ];
    let token: Value = http.post(&token_url).form(&form).send().await.unwrap().json().await.unwrap();
    let bearer = format!("Bearer {}", token["access_token"].as_str().expect("setup token"));
    let create = |doc: Value| {
        let (http, bearer, base) = (http.clone(), bearer.clone(), base.clone());
        async move {
            let rt = doc["resourceType"].as_str().unwrap().to_string();
            let r = http.post(format!("{base}/{rt}")).header("authorization", bearer).header("content-type", "application/fhir+json").body(doc.to_string()).send().await.unwrap();
            assert_eq!(r.status(), 201);
            r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
        }
    };
    let practitioner = create(json!({"resourceType": "Practitioner", "name": [{"family": "Clinician"}]})).await;
    let p1 = create(json!({"resourceType": "Patient", "name": [{"given": ["Alice"], "family": "Anders"}], "birthDate": "1970-01-01"})).await;
    let p2 = create(json!({"resourceType": "Patient", "name": [{"given": ["Bob"], "family": "Brown"}]})).await;
    let e1 = create(json!({"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"}, "subject": {"reference": format!("Patient/{p1}")}})).await;
    users::add(&pool, "clinician", PASSWORD, Some(&format!("Practitioner/{practitioner}"))).await.unwrap();
    users::add(&pool, "patient1", PASSWORD, Some(&format!("Patient/{p1}"))).await.unwrap();
    users::add(&pool, "nofhir", PASSWORD, None).await.unwrap();
    let fx = Fx { base, database_url: url, p1, p2, e1, practitioner, symmetric_secret, es_key, rs_key, backend_key, published_jwks };
    (fx, running)
}

/// The server of a backend, started once per test process on a fresh database.
fn fixture(backend: Backend) -> Option<&'static Fx> {
    static SQLITE: OnceLock<Option<Fx>> = OnceLock::new();
    static PG: OnceLock<Option<Fx>> = OnceLock::new();
    let cell = match backend {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &PG,
    };
    cell.get_or_init(|| {
        let url = fresh_database(backend)?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let (fx, running) = setup(url).await;
                tx.send(fx).unwrap();
                let _ = running.task.await;
            });
        });
        Some(rx.recv().expect("fixture thread"))
    })
    .as_ref()
}

macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(fx) = super::fixture(conformance_tests::Backend::Sqlite) {
                        super::$case(&super::Smart::new(fx)).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(fx) = super::fixture(conformance_tests::Backend::Postgres) {
                        super::$case(&super::Smart::new(fx)).await;
                    }
                }
            )*
        }
    };
}

/// A test's client of the server: the browser and app of `common::smart`, and what needs the fixture.
struct Smart {
    fx: &'static Fx,
    browser: Browser,
}

impl std::ops::Deref for Smart {
    type Target = Browser;
    fn deref(&self) -> &Browser {
        &self.browser
    }
}

impl Smart {
    fn new(fx: &'static Fx) -> Smart {
        Smart { fx, browser: Browser::new(&fx.base) }
    }
    async fn pool(&self) -> Pool {
        open(&self.fx.database_url, Some(2)).await.unwrap()
    }

    async fn introspect(&self, token: &str) -> Value {
        let r = Resp::from(
            self.http.post(self.url("auth/introspect")).basic_auth("symmetric-app", Some(&self.fx.symmetric_secret)).form(&[("token", token)]).send().await.unwrap(),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()
    }

    async fn backend_token(&self, scope: &str) -> Resp {
        self.token(&ClientAuth::Jwt("backend", &self.fx.backend_key), &[("grant_type", "client_credentials"), ("scope", scope)]).await
    }

    /// A verifier of its own over the same database (and so the same keys and revocations).
    async fn verifier(&self) -> Arc<SmartAuth> {
        SmartAuth::open(self.pool().await, &self.fx.base, &AuthConfig::smart()).await.unwrap().unwrap()
    }
}

// ---------------------------------------------------------------- Inferno's checks of a token response

/// Inferno `smart_token_response_headers`: `Cache-Control: no-store` and `Pragma: no-cache` on a
/// successful token response (the code exchange and, in the refresh groups, every refresh).
fn smart_token_response_headers(r: &Resp) {
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.header("cache-control").is_some_and(|v| v.to_ascii_lowercase().contains("no-store")), "{:?}", r.header("cache-control"));
    assert!(r.header("pragma").is_some_and(|v| v.to_ascii_lowercase().contains("no-cache")), "{:?}", r.header("pragma"));
}

/// The field checks of Inferno's `TokenPayloadValidation`: `access_token`, `token_type`,
/// `expires_in` and `scope` present and not blank, the string fields strings, `expires_in` a
/// number, `token_type` `bearer` in any case.
fn token_payload_fields(t: &Value) {
    for f in ["access_token", "token_type", "expires_in", "scope"] {
        assert!(t.get(f).is_some_and(|v| !v.is_null() && v.as_str() != Some("")), "{f} missing or blank: {t}");
    }
    for f in ["access_token", "token_type", "scope", "refresh_token"] {
        assert!(t.get(f).is_none_or(Value::is_string), "{f} is not a string: {t}");
    }
    assert!(t["expires_in"].is_number(), "expires_in is not a number: {t}");
    assert!(t["token_type"].as_str().unwrap().eq_ignore_ascii_case("bearer"), "{t}");
}

/// Inferno `smart_token_response_body_stu2_2` (requirements 73, 74, 75, 78, 84, 172, 178): the
/// token response is a JSON object with the required fields, and its `fhirContext`, when present,
/// is an array of objects each with `reference`, `canonical` or `identifier`, none of them the
/// Patient or Encounter context. This server has no launch context beyond patient and encounter:
/// it never sends `fhirContext`, and that is asserted too.
fn smart_token_response_body_stu2_2(t: &Value) {
    assert!(t.is_object(), "{t}");
    token_payload_fields(t);
    if let Some(context) = t.get("fhirContext") {
        for c in context.as_array().unwrap_or_else(|| panic!("fhirContext is not an array: {context}")) {
            assert!(["reference", "canonical", "identifier"].iter().any(|k| c.get(*k).is_some()), "{c}");
            let r = c["reference"].as_str().unwrap_or_default();
            assert!(!r.starts_with("Patient/") && !r.starts_with("Encounter/"), "{c}");
        }
    }
    assert!(t.get("fhirContext").is_none(), "no fhirContext is ever issued: {t}");
}

/// Inferno `smart_token_refresh_body` (requirements 110-114): the refresh response has the
/// required fields, and its scopes are among those granted before.
fn smart_token_refresh_body(t: &Value, original_scope: &str) {
    token_payload_fields(t);
    let before: Vec<&str> = original_scope.split(' ').collect();
    let extra: Vec<&str> = t["scope"].as_str().unwrap().split(' ').filter(|s| !before.contains(s)).collect();
    assert!(extra.is_empty(), "refresh widened the grant by {extra:?}");
}

// ---------------------------------------------------------------- discovery

async fn well_known_endpoint_and_capabilities_stu2(s: &Smart) {
    // SMART requirements 374, 377: JSON whatever Accept says.
    let r = Resp::from(s.http.get(s.url(".well-known/smart-configuration")).header("accept", "text/html").send().await.unwrap()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let doc = r.json();
    let base = &s.fx.base;
    assert_eq!(doc["issuer"], base.as_str());
    assert_eq!(doc["authorization_endpoint"], format!("{base}/auth/authorize"));
    assert_eq!(doc["token_endpoint"], format!("{base}/auth/token"));
    assert_eq!(doc["jwks_uri"], format!("{base}/auth/jwks"));
    assert_eq!(doc["introspection_endpoint"], format!("{base}/auth/introspect"));
    assert_eq!(doc["revocation_endpoint"], format!("{base}/auth/revoke"));
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(doc["grant_types_supported"], json!(["authorization_code", "refresh_token", "client_credentials"]));
    assert_eq!(doc["token_endpoint_auth_methods_supported"], json!(["client_secret_basic", "private_key_jwt"]));
    assert_eq!(doc["token_endpoint_auth_signing_alg_values_supported"], json!(["RS384", "ES384"]));
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    let caps: Vec<&str> = doc["capabilities"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(
        caps,
        [
            "launch-ehr", "launch-standalone", "authorize-post", "client-public", "client-confidential-symmetric", "client-confidential-asymmetric",
            "sso-openid-connect", "context-ehr-patient", "context-ehr-encounter", "context-standalone-patient", "permission-offline",
            "permission-online", "permission-patient", "permission-user", "permission-v1", "permission-v2"
        ]
    );
    // Every advertised endpoint answers as what it is.
    let token = s.form("auth/token", &[("grant_type", "authorization_code")]).await;
    token.oauth_error(401, ErrorCode::InvalidClient);
    let authorize = s.get("auth/authorize").await;
    assert_eq!(authorize.status, 400);
    assert!(authorize.text.contains("names no client"), "{}", authorize.text);
}

async fn smart_openid_required_configuration_fields_and_retrieve_jwks(s: &Smart) {
    let doc = s.get(".well-known/openid-configuration").await.json();
    for f in ["issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported", "subject_types_supported", "id_token_signing_alg_values_supported"] {
        assert!(doc.get(f).is_some(), "{f}");
    }
    assert_eq!(doc["issuer"], s.fx.base.as_str());
    assert_eq!(doc["id_token_signing_alg_values_supported"], json!(["RS256"]));
    let jwks = s.get("auth/jwks").await;
    assert_eq!(jwks.header("content-type"), Some("application/json"));
    let keys = jwks.json()["keys"].as_array().unwrap().clone();
    let algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    assert!(algs.contains(&"RS256") && algs.contains(&"ES384"), "{algs:?}");
    for k in &keys {
        assert!(k["kid"].is_string() && k["kty"].is_string());
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(k.get(private).is_none(), "private part {private} published");
        }
    }
    // smart_openid_retrieve_jwks: the JWKS at the configuration's jwks_uri holds RSA keys (bare
    // JWKs, requirement 207), each of which a JWT library imports.
    assert_eq!(doc["jwks_uri"], s.url("auth/jwks"));
    let rsa: Vec<&Value> = keys.iter().filter(|k| k["kty"] == "RSA").collect();
    assert!(!rsa.is_empty(), "no RSA key in {keys:?}");
    for k in rsa {
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(k.clone()).unwrap_or_else(|e| panic!("{e}: {k}"));
        jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap_or_else(|e| panic!("{e}: {k}"));
        assert!(k.get("x5c").is_none(), "a bare key, not a certificate chain");
    }
}

/// `Access-Control-Allow-Origin` is the origin or `*`, as Inferno's CORS checks accept.
fn allows_origin(r: &Resp, origin: &str) {
    let allowed = r.header("access-control-allow-origin");
    assert!(allowed == Some(origin) || allowed == Some("*"), "Access-Control-Allow-Origin {allowed:?}");
}

async fn smart_cors_well_known_endpoint_metadata_and_token_exchange(s: &Smart) {
    let origin = "https://app.example";
    // smart_cors_well_known_endpoint, smart_cors_metadata_request
    for path in [".well-known/smart-configuration", "metadata"] {
        let r = Resp::from(s.http.get(s.url(path)).header("origin", origin).header("accept", "application/json").send().await.unwrap()).await;
        assert_eq!(r.status, 200, "{path}");
        allows_origin(&r, origin);
    }
    // smart_cors_token_exchange: the code exchange itself, sent from the app's origin.
    let (code, verifier) = s.authorize(&Authz::new("public-app", "launch/patient openid fhirUser patient/*.rs")).await.code();
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT), ("code_verifier", verifier.as_str()), ("client_id", "public-app")];
    let r = Resp::from(s.http.post(s.url("auth/token")).header("origin", origin).form(&form).send().await.unwrap()).await;
    smart_token_response_headers(&r);
    allows_origin(&r, origin);
    // The refresh of the STU2.2 refresh groups is sent from the origin too.
    let t = s.tokens(&ClientAuth::Public("public-app"), &Authz::new("public-app", "user/*.rs offline_access")).await;
    let form = [("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap()), ("client_id", "public-app")];
    let r = Resp::from(s.http.post(s.url("auth/token")).header("origin", origin).form(&form).send().await.unwrap()).await;
    smart_token_response_headers(&r);
    allows_origin(&r, origin);
    let preflight = s
        .http
        .request(reqwest::Method::OPTIONS, s.url("auth/token"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers().get("access-control-allow-origin").unwrap(), "*");
    let methods = preflight.headers().get("access-control-allow-methods").unwrap().to_str().unwrap().to_string();
    assert!(methods.contains("POST"), "{methods}");
}

async fn capability_statement_security_lists_oauth_uris(s: &Smart) {
    let cs = s.get("metadata").await.json();
    let security = &cs["rest"][0]["security"];
    assert_eq!(security["service"][0]["coding"][0]["code"], "SMART-on-FHIR");
    let ext = security["extension"].as_array().unwrap().iter().find(|e| e["url"] == fhir_server::auth::discovery::OAUTH_URIS).expect("oauth-uris");
    let uris: HashMap<&str, &str> = ext["extension"].as_array().unwrap().iter().map(|e| (e["url"].as_str().unwrap(), e["valueUri"].as_str().unwrap())).collect();
    let discovery = s.get(".well-known/smart-configuration").await.json();
    assert_eq!(uris["authorize"], discovery["authorization_endpoint"].as_str().unwrap());
    assert_eq!(uris["token"], discovery["token_endpoint"].as_str().unwrap());
    assert_eq!(uris["introspect"], discovery["introspection_endpoint"].as_str().unwrap());
    assert_eq!(uris["revoke"], discovery["revocation_endpoint"].as_str().unwrap());
}

// ---------------------------------------------------------------- launches

async fn smart_standalone_launch_patient_picker_and_narrowed_consent(s: &Smart) {
    // A clinician picks Bob in the picker and unticks the write scope.
    // launch/encounter: no encounter is picked in a standalone launch, so it is not granted.
    let mut a = Authz::new("public-app", "launch/patient launch/encounter openid fhirUser patient/Patient.rs patient/Observation.cruds offline_access");
    a.pick = Some(s.fx.p2.clone());
    a.deselect = vec!["patient/Observation.cruds".into()];
    let t = s.tokens(&ClientAuth::Public("public-app"), &a).await;
    // smart_token_response_body_stu2_2
    smart_token_response_body_stu2_2(&t);
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 3600);
    assert_eq!(t["patient"], s.fx.p2.as_str());
    assert_eq!(scopes_of(&t), sorted("launch/patient openid fhirUser patient/Patient.rs offline_access"));
    assert!(t["refresh_token"].is_string(), "offline_access gives a refresh token");
    assert!(t.get("encounter").is_none());
    let claims = jwt_part(t["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["patient"], s.fx.p2.as_str());
    assert_eq!(claims["aud"], s.fx.base.as_str());
    assert_eq!(claims["client_id"], "public-app");

    // The picker lists the store's patients by name and filters them.
    let mut b = Authz::new("public-app", "launch/patient patient/*.rs");
    b.user = "clinician".into();
    let page = s.http.get(s.url("auth/authorize")).query(&[
        ("response_type", "code"), ("client_id", "public-app"), ("redirect_uri", REDIRECT), ("scope", "launch/patient patient/*.rs"),
        ("state", b.state.as_str()), ("aud", s.fx.base.as_str()), ("code_challenge", &pkce::s256_challenge(&unique().repeat(2))), ("code_challenge_method", "S256"),
    ]).send().await.unwrap().text().await.unwrap();
    let login = [("request", field(&page, "request")), ("form_token", field(&page, "form_token")), ("username", "clinician".into()), ("password", PASSWORD.into())];
    let picker = s.http.post(s.url("auth/login")).form(&login).send().await.unwrap().text().await.unwrap();
    assert!(picker.contains("Alice Anders") && picker.contains("Bob Brown"), "{picker}");
    let filter = [("request", field(&page, "request")), ("form_token", field(&page, "form_token")), ("action", "filter".into()), ("filter", "anders".into())];
    let filtered = s.http.post(s.url("auth/patient")).form(&filter).send().await.unwrap().text().await.unwrap();
    assert!(filtered.contains("Alice Anders") && !filtered.contains("Bob Brown"), "{filtered}");
}

async fn smart_ehr_launch_with_launch_context(s: &Smart) {
    let pool = s.pool().await;
    let context = launches::Launch { client_id: "public-app".into(), patient: Some(s.fx.p1.clone()), encounter: Some(s.fx.e1.clone()), username: Some("clinician".into()) };
    let created = launches::create(&pool, &s.fx.base, &context).await.unwrap();
    let url = reqwest::Url::parse(created.url.as_deref().unwrap()).unwrap();
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert!(url.as_str().starts_with("https://app.example/launch?"));
    assert_eq!(q["iss"], s.fx.base);
    assert_eq!(q["launch"], created.launch);

    let mut a = Authz::new("public-app", "launch openid fhirUser patient/*.rs online_access");
    a.launch = Some(created.launch.clone());
    let t = s.tokens(&ClientAuth::Public("public-app"), &a).await;
    smart_token_response_body_stu2_2(&t);
    assert_eq!(t["patient"], s.fx.p1.as_str(), "context-ehr-patient");
    assert_eq!(t["encounter"], s.fx.e1.as_str(), "context-ehr-encounter");
    assert_eq!(scopes_of(&t), sorted("launch openid fhirUser patient/*.rs online_access"));
    assert!(t["refresh_token"].is_string());
    // smart_ehr_refresh_without_scopes, then with the scopes received: smart_token_refresh_stu2,
    // smart_token_response_headers, smart_token_refresh_body.
    let public = ClientAuth::Public("public-app");
    let r = s.token(&public, &[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())]).await;
    smart_token_response_headers(&r);
    let refreshed = r.json();
    smart_token_refresh_body(&refreshed, t["scope"].as_str().unwrap());
    assert_eq!(scopes_of(&refreshed), scopes_of(&t), "no scope asked: the same scopes (requirement 109)");
    let r = s.token(&public, &[("grant_type", "refresh_token"), ("refresh_token", refreshed["refresh_token"].as_str().unwrap()), ("scope", t["scope"].as_str().unwrap())]).await;
    smart_token_response_headers(&r);
    smart_token_refresh_body(&r.json(), t["scope"].as_str().unwrap());
    assert_eq!(scopes_of(&r.json()), scopes_of(&t));

    // A launch is used once.
    let mut again = a.clone();
    again.state = unique();
    let (error, _) = s.authorize(&again).await.error(&again.state);
    assert_eq!(error, "invalid_request");

    // A launch opened for one user refuses another's sign-in.
    let created = launches::create(&pool, &s.fx.base, &context).await.unwrap();
    let mut other = Authz::new("public-app", "launch patient/*.rs");
    other.launch = Some(created.launch);
    other.user = "nofhir".into();
    let (status, body) = s.authorize(&other).await.page();
    assert_eq!(status, 401);
    assert!(body.contains("opened for another user"), "{body}");
    // A launch of another app is unknown to this one.
    let created = launches::create(&pool, &s.fx.base, &context).await.unwrap();
    let mut foreign = Authz::new("narrow-app", "launch/patient patient/Observation.rs");
    foreign.launch = Some(created.launch);
    let (error, _) = s.authorize(&foreign).await.error(&foreign.state);
    assert_eq!(error, "invalid_request");
}

async fn patient_user_gets_their_own_record_without_picker(s: &Smart) {
    let mut a = Authz::new("public-app", "launch/patient patient/*.rs");
    a.user = "patient1".into();
    a.pick = Some(s.fx.p2.clone()); // never offered
    let t = s.tokens(&ClientAuth::Public("public-app"), &a).await;
    assert_eq!(t["patient"], s.fx.p1.as_str());
    assert!(t.get("refresh_token").is_none(), "no offline_access or online_access: no refresh token");
    assert!(t.get("id_token").is_none(), "no openid: no ID token");
}

async fn scopes_are_limited_to_the_registration(s: &Smart) {
    // narrow-app may have patient/Observation.rs only: the rest is dropped, the grant says so.
    let a = Authz::new("narrow-app", "launch/patient openid fhirUser patient/*.cruds patient/Observation.cruds");
    let t = s.tokens(&ClientAuth::Public("narrow-app"), &Authz { pick: Some(s.fx.p1.clone()), ..a }).await;
    assert_eq!(scopes_of(&t), sorted("launch/patient openid patient/Observation.rs"));
    // Nothing allowed at all: invalid_scope.
    let a = Authz::new("narrow-app", "user/*.rs system/*.rs");
    let (error, _) = s.authorize(&a).await.error(&a.state);
    assert_eq!(error, "invalid_scope");
}

async fn denied_consent_and_wrong_password_issue_nothing(s: &Smart) {
    let mut a = Authz::new("public-app", "openid fhirUser user/*.rs");
    a.deny = true;
    let (error, _) = s.authorize(&a).await.error(&a.state);
    assert_eq!(error, "access_denied");
    let mut b = Authz::new("public-app", "openid fhirUser user/*.rs");
    b.password = "wrong password".into();
    let (status, body) = s.authorize(&b).await.page();
    assert_eq!(status, 401);
    assert!(body.contains("Wrong username or password") && body.contains("name=\"password\""), "{body}");
}

async fn forms_need_their_own_request_token_and_stage(s: &Smart) {
    let page = s.http.get(s.url("auth/authorize")).query(&[
        ("response_type", "code"), ("client_id", "public-app"), ("redirect_uri", REDIRECT), ("scope", "openid user/*.rs"),
        ("state", "st"), ("aud", s.fx.base.as_str()), ("code_challenge", &pkce::s256_challenge(&unique().repeat(2))), ("code_challenge_method", "S256"),
    ]).send().await.unwrap().text().await.unwrap();
    let request = field(&page, "request");
    // A forged form token, and the consent form before the login: both refused, nothing issued.
    let forged = s.form("auth/login", &[("request", &request), ("form_token", "forged"), ("username", "clinician"), ("password", PASSWORD)]).await;
    assert_eq!(forged.status, 400);
    assert!(forged.text.contains("expired or was already used"));
    let early = s.form("auth/consent", &[("request", &request), ("form_token", &field(&page, "form_token")), ("decision", "approve"), ("scope", "openid")]).await;
    assert_eq!(early.status, 400);
    assert!(early.header("location").is_none());
    assert!(early.text.contains("<") && !early.text.contains("<script"), "pages are plain HTML");
    assert_eq!(early.header("x-frame-options"), Some("DENY"));
}

async fn authorize_post_is_supported(s: &Smart) {
    let mut a = Authz::new("public-app", "openid fhirUser user/*.rs");
    a.post = true;
    let t = s.tokens(&ClientAuth::Public("public-app"), &a).await;
    assert_eq!(scopes_of(&t), sorted("openid fhirUser user/*.rs"));
}

// ---------------------------------------------------------------- OpenID Connect

async fn smart_openid_decode_id_token_header_payload_and_fhir_user_claim(s: &Smart) {
    let mut a = Authz::new("public-app", "openid fhirUser user/*.rs");
    a.nonce = Some(unique());
    let t = s.tokens(&ClientAuth::Public("public-app"), &a).await;
    let id_token = t["id_token"].as_str().expect("smart_openid_decode_id_token");
    // smart_openid_token_header: RS256, a kid of the published set; verified with an independent library.
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&s.get("auth/jwks").await.text).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("kid published");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&["public-app"]);
    validation.set_issuer(&[s.fx.base.as_str()]);
    let claims = jsonwebtoken::decode::<Value>(id_token, &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(), &validation).expect("signature verifies").claims;
    // smart_openid_token_payload: iss, sub, aud, exp and iat present; iss the OpenID
    // configuration's issuer, aud the client, exp ahead, sub not blank and under 256 characters.
    for c in ["iss", "sub", "aud", "exp", "iat"] {
        assert!(claims.get(c).is_some(), "{c} missing: {claims}");
    }
    let configuration = s.get(".well-known/openid-configuration").await.json();
    assert_eq!(claims["iss"], configuration["issuer"]);
    assert_eq!(claims["aud"], "public-app");
    let sub = claims["sub"].as_str().unwrap();
    assert!(!sub.trim().is_empty() && sub.len() < 256, "{sub}");
    assert_eq!(claims["nonce"], a.nonce.unwrap().as_str());
    assert!(claims["exp"].as_u64().unwrap() > now() && claims["iat"].as_u64().unwrap() <= now() + 1);
    // smart_openid_fhir_user_claim: resolvable, a Practitioner.
    let fhir_user = claims["fhirUser"].as_str().unwrap();
    assert_eq!(fhir_user, format!("{}/Practitioner/{}", s.fx.base, s.fx.practitioner));
    // Inferno reads it with the access token just issued (user/*.rs); without a token the API refuses.
    let who: Value = s.http.get(fhir_user).bearer_auth(t["access_token"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
    assert_eq!(who["resourceType"], "Practitioner");
    // The access token names the same subject.
    assert_eq!(jwt_part(t["access_token"].as_str().unwrap(), 1)["sub"], claims["sub"]);
    // Another key's signature does not verify: the check above can fail.
    let other = jwks.keys.iter().find(|k| k.common.key_id != header.kid).unwrap();
    assert!(jsonwebtoken::decode::<Value>(id_token, &jsonwebtoken::DecodingKey::from_jwk(other).unwrap(), &validation).is_err());

    // openid profile: an ID token without fhirUser; openid alone: none; a user with no FHIR record is not offered fhirUser.
    let t = s.tokens(&ClientAuth::Public("public-app"), &Authz::new("public-app", "openid profile user/*.rs")).await;
    assert!(jwt_part(t["id_token"].as_str().unwrap(), 1).get("fhirUser").is_none());
    let t = s.tokens(&ClientAuth::Public("public-app"), &Authz::new("public-app", "openid user/*.rs")).await;
    assert!(t.get("id_token").is_none());
    let mut n = Authz::new("public-app", "openid fhirUser user/*.rs");
    n.user = "nofhir".into();
    let t = s.tokens(&ClientAuth::Public("public-app"), &n).await;
    assert_eq!(scopes_of(&t), sorted("openid user/*.rs"));
}

/// Inferno `smart_openid_fhir_user_claim` with the scopes its launch groups ask for by default
/// (`launch/patient openid fhirUser offline_access patient/*.rs` standalone, `launch openid
/// fhirUser offline_access patient/*.rs` from the EHR): the user signed in is often a
/// Practitioner, whom no `patient/` scope reaches, and Inferno reads the `fhirUser` resource with
/// that access token. SMART's `fhirUser` scope is "permission to retrieve information about the
/// current logged-in user": it lets the token read (only) that one resource.
async fn smart_openid_fhir_user_claim_under_patient_scopes(s: &Smart) {
    let backend = s.backend_token("system/*.cruds").await.json();
    let system = backend["access_token"].as_str().unwrap();
    let other: Value = s.http.post(s.url("Practitioner")).bearer_auth(system).header("content-type", "application/fhir+json")
        .body(json!({"resourceType": "Practitioner", "name": [{"family": "Colleague"}]}).to_string()).send().await.unwrap().json().await.unwrap();
    let other = format!("Practitioner/{}", other["id"].as_str().unwrap());
    let mine = format!("Practitioner/{}", s.fx.practitioner);

    let mut a = Authz::new("public-app", "launch/patient openid fhirUser offline_access patient/*.rs");
    a.pick = Some(s.fx.p2.clone());
    let t = s.tokens(&ClientAuth::Public("public-app"), &a).await;
    smart_token_response_body_stu2_2(&t);
    let access = t["access_token"].as_str().unwrap();
    let fhir_user = jwt_part(t["id_token"].as_str().unwrap(), 1)["fhirUser"].as_str().unwrap().to_string();
    assert_eq!(fhir_user, s.url(&mine));
    let read = |url: String| {
        let http = s.http.clone();
        let access = access.to_string();
        async move { Resp::from(http.get(url).bearer_auth(access).send().await.unwrap()).await }
    };
    let who = read(fhir_user.clone()).await;
    assert_eq!(who.status, 200, "{}", who.text);
    assert_eq!((who.json()["resourceType"].as_str(), who.json()["id"].as_str()), (Some("Practitioner"), Some(s.fx.practitioner.as_str())));
    assert_eq!(read(format!("{fhir_user}/_history/1")).await.status, 200, "vread too");
    // Only that resource: another Practitioner stays unknown, and Practitioners cannot be searched.
    assert_eq!(read(s.url(&other)).await.status, 404);
    assert_eq!(read(s.url("Practitioner")).await.status, 403);
    assert_eq!(read(s.url(&format!("Patient/{}", s.fx.p1))).await.status, 404, "the other patient");
    assert_eq!(read(s.url(&format!("Patient/{}", s.fx.p2))).await.status, 200);
    // Without the fhirUser scope the token reads no Practitioner.
    let mut b = Authz::new("public-app", "launch/patient openid patient/*.rs");
    b.pick = Some(s.fx.p2.clone());
    let t = s.tokens(&ClientAuth::Public("public-app"), &b).await;
    let r = Resp::from(s.http.get(s.url(&mine)).bearer_auth(t["access_token"].as_str().unwrap()).send().await.unwrap()).await;
    assert_eq!(r.status, 403, "{}", r.text);

    // A patient signing in: their fhirUser is their own Patient, which patient/*.rs reaches anyway.
    let mut p = Authz::new("public-app", "launch/patient openid fhirUser offline_access patient/*.rs");
    p.user = "patient1".into();
    let t = s.tokens(&ClientAuth::Public("public-app"), &p).await;
    let fhir_user = jwt_part(t["id_token"].as_str().unwrap(), 1)["fhirUser"].as_str().unwrap().to_string();
    assert_eq!(fhir_user, s.url(&format!("Patient/{}", s.fx.p1)));
    let who = Resp::from(s.http.get(&fhir_user).bearer_auth(t["access_token"].as_str().unwrap()).send().await.unwrap()).await;
    assert_eq!(who.status, 200, "{}", who.text);
    assert_eq!(who.json()["resourceType"], "Patient");
}

/// Inferno `smart_cors_openid_fhir_user_claim`: the FHIR API answers a browser app's read of the
/// `fhirUser` resource, sent from its origin, with the CORS header.
async fn smart_cors_openid_fhir_user_claim(s: &Smart) {
    let origin = "https://app.example";
    let mut a = Authz::new("public-app", "launch openid fhirUser offline_access patient/*.rs");
    let pool = s.pool().await;
    let context = launches::Launch { client_id: "public-app".into(), patient: Some(s.fx.p1.clone()), encounter: None, username: None };
    a.launch = Some(launches::create(&pool, &s.fx.base, &context).await.unwrap().launch);
    let t = s.tokens(&ClientAuth::Public("public-app"), &a).await;
    let fhir_user = jwt_part(t["id_token"].as_str().unwrap(), 1)["fhirUser"].as_str().unwrap().to_string();
    let segments: Vec<&str> = fhir_user.rsplit('/').take(2).collect();
    assert!(["Patient", "Practitioner", "RelatedPerson", "Person"].contains(&segments[1]), "{fhir_user}");
    let r = Resp::from(s.http.get(s.url(&format!("{}/{}", segments[1], segments[0]))).bearer_auth(t["access_token"].as_str().unwrap()).header("origin", origin).send().await.unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    allows_origin(&r, origin);
    // Refusals carry it too, so a browser app can read why.
    let r = Resp::from(s.http.get(s.url("Practitioner")).bearer_auth(t["access_token"].as_str().unwrap()).header("origin", origin).send().await.unwrap()).await;
    assert_eq!(r.status, 403);
    allows_origin(&r, origin);
}

// ---------------------------------------------------------------- client authentication

async fn confidential_symmetric_client_secret_basic(s: &Smart) {
    let (code, verifier) = s.authorize(&Authz::new("symmetric-app", "openid fhirUser user/*.rs")).await.code();
    // Wrong secret, no authentication, secret in the body: invalid_client, and the code stays unused.
    let wrong = s.exchange(&ClientAuth::Basic("symmetric-app", "not-the-secret"), &code, &verifier).await;
    wrong.oauth_error(401, ErrorCode::InvalidClient);
    assert!(wrong.header("www-authenticate").unwrap().starts_with("Basic"));
    s.exchange(&ClientAuth::Public("symmetric-app"), &code, &verifier).await.oauth_error(401, ErrorCode::InvalidClient);
    let posted = s.token(&ClientAuth::Public("symmetric-app"), &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &verifier), ("client_secret", &s.fx.symmetric_secret)]).await;
    posted.oauth_error(401, ErrorCode::InvalidClient);
    let ok = s.exchange(&ClientAuth::Basic("symmetric-app", &s.fx.symmetric_secret), &code, &verifier).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(jwt_part(ok.json()["access_token"].as_str().unwrap(), 1)["client_id"], "symmetric-app");
}

async fn confidential_asymmetric_private_key_jwt_es384_and_rs384(s: &Smart) {
    for (client, key) in [("es384-app", &s.fx.es_key), ("rs384-app", &s.fx.rs_key)] {
        let t = s.tokens(&ClientAuth::Jwt(client, key), &Authz::new(client, "openid fhirUser user/*.rs")).await;
        assert_eq!(jwt_part(t["access_token"].as_str().unwrap(), 1)["client_id"], client);
        // Signed with the other client's key: refused.
        let (code, verifier) = s.authorize(&Authz::new(client, "user/*.rs")).await.code();
        let other = if client == "es384-app" { &s.fx.rs_key } else { &s.fx.es_key };
        s.exchange(&ClientAuth::Jwt(client, other), &code, &verifier).await.oauth_error(401, ErrorCode::InvalidClient);
    }
}

// ---------------------------------------------------------------- backend services

async fn smart_backend_services_auth_request_success_and_response_body(s: &Smart) {
    let r = s.backend_token("system/Patient.rs system/Observation.rs").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let t = r.json();
    // smart_backend_services_auth_response_body: access_token, token_type bearer, expires_in, scope.
    token_payload_fields(&t);
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 300);
    assert_eq!(scopes_of(&t), sorted("system/Patient.rs system/Observation.rs"));
    assert!(t.get("refresh_token").is_none() && t.get("id_token").is_none());
    let claims = jwt_part(t["access_token"].as_str().unwrap(), 1);
    assert_eq!((claims["sub"].as_str(), claims["client_id"].as_str()), (Some("backend"), Some("backend")));
    let info = s.introspect(t["access_token"].as_str().unwrap()).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["client_id"], "backend");
    // Only system/ scopes, and well-formed ones.
    s.backend_token("patient/*.rs openid").await.oauth_error(400, ErrorCode::InvalidScope);
    s.backend_token("system/Patient.xyz").await.oauth_error(400, ErrorCode::InvalidScope);
}

async fn smart_backend_services_invalid_client_assertion(s: &Smart) {
    let key = &s.fx.backend_key;
    let send = |assertion: String, assertion_type: &'static str| {
        let form = vec![("grant_type", "client_credentials".to_string()), ("scope", "system/*.rs".into()), ("client_assertion_type", assertion_type.into()), ("client_assertion", assertion)];
        let http = s.http.clone();
        let url = s.url("auth/token");
        async move { Resp::from(http.post(url).form(&form).send().await.unwrap()).await }
    };
    // Replayed jti: the first use works, the second is refused (SMART requirement 336).
    let jti = unique();
    let first = s.assertion("backend", key, 120, &jti);
    assert_eq!(send(first.clone(), smart_auth::JWT_BEARER).await.status, 200);
    let d = send(first, smart_auth::JWT_BEARER).await.oauth_error(401, ErrorCode::InvalidClient);
    assert!(d.contains("jti"), "{d}");
    // Expired, and lasting more than five minutes.
    let d = send(s.assertion("backend", key, -120, &unique()), smart_auth::JWT_BEARER).await.oauth_error(401, ErrorCode::InvalidClient);
    assert!(d.contains("expired"), "{d}");
    let d = send(s.assertion("backend", key, 3600, &unique()), smart_auth::JWT_BEARER).await.oauth_error(401, ErrorCode::InvalidClient);
    assert!(d.contains("five minutes"), "{d}");
    // Another audience, an unregistered key, iss not the client, a wrong assertion type.
    let wrong_aud = key.sign(&json!({"iss": "backend", "sub": "backend", "aud": "https://elsewhere/token", "exp": now() + 60, "jti": unique()})).unwrap();
    send(wrong_aud, smart_auth::JWT_BEARER).await.oauth_error(401, ErrorCode::InvalidClient);
    let stranger = SigningKey::generate(Algorithm::ES384, now()).unwrap();
    send(s.assertion("backend", &stranger, 60, &unique()), smart_auth::JWT_BEARER).await.oauth_error(401, ErrorCode::InvalidClient);
    send(s.assertion("nobody", key, 60, &unique()), smart_auth::JWT_BEARER).await.oauth_error(401, ErrorCode::InvalidClient);
    send(s.assertion("backend", key, 60, &unique()), "urn:ietf:params:oauth:client-assertion-type:saml2-bearer").await.oauth_error(400, ErrorCode::InvalidRequest);
    // What Inferno sends: a well-signed assertion under a made-up type, 400.
    send(s.assertion("backend", key, 60, &unique()), "not_an_assertion_type").await.oauth_error(400, ErrorCode::InvalidRequest);
}

async fn smart_backend_services_invalid_grant_type(s: &Smart) {
    let r = s.token(&ClientAuth::Jwt("backend", &s.fx.backend_key), &[("grant_type", "password"), ("scope", "system/*.rs")]).await;
    r.oauth_error(400, ErrorCode::UnsupportedGrantType);
    // What Inferno sends.
    let r = s.token(&ClientAuth::Jwt("backend", &s.fx.backend_key), &[("grant_type", "not_a_grant_type"), ("scope", "system/*.rs")]).await;
    r.oauth_error(400, ErrorCode::UnsupportedGrantType);
    // client_credentials is for key-authenticated backend services only.
    let r = s.token(&ClientAuth::Basic("symmetric-app", &s.fx.symmetric_secret), &[("grant_type", "client_credentials"), ("scope", "system/*.rs")]).await;
    r.oauth_error(400, ErrorCode::UnauthorizedClient);
}

async fn backend_service_keys_from_a_jwks_url_follow_rotation(s: &Smart) {
    let first = SigningKey::generate(Algorithm::ES384, now()).unwrap();
    let second = SigningKey::generate(Algorithm::RS384, now()).unwrap();
    *s.fx.published_jwks.lock().unwrap() = jwks_of(&[&first]);
    let r = s.token(&ClientAuth::Jwt("backend-url", &first), &[("grant_type", "client_credentials"), ("scope", "system/Patient.rs")]).await;
    // The URL may have been fetched earlier with other keys: an unknown kid fetches it again.
    assert_eq!(r.status, 200, "{}", r.text);
    // The client rotates: the new kid is unknown to the cache, one fetch later it verifies.
    *s.fx.published_jwks.lock().unwrap() = jwks_of(&[&first, &second]);
    // Asked beyond the registration (system/Patient.rs system/Observation.rs): narrowed, the rest left out.
    let r = s.token(&ClientAuth::Jwt("backend-url", &second), &[("grant_type", "client_credentials"), ("scope", "system/Patient.cruds system/Condition.rs")]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(scopes_of(&r.json()), ["system/Patient.rs"]);
}

// ---------------------------------------------------------------- refresh

async fn smart_token_refresh_stu2_rotation_and_scopes(s: &Smart) {
    let a = Authz::new("symmetric-app", "openid fhirUser user/*.rs patient/Patient.rs launch/patient offline_access");
    let auth = ClientAuth::Basic("symmetric-app", &s.fx.symmetric_secret);
    let t = s.tokens(&auth, &Authz { pick: Some(s.fx.p1.clone()), ..a }).await;
    let r1 = t["refresh_token"].as_str().unwrap().to_string();
    // smart_token_refresh_stu2 without scopes: the same scopes (requirement 109), and context again.
    let refreshed = s.token(&auth, &[("grant_type", "refresh_token"), ("refresh_token", &r1)]).await;
    smart_token_response_headers(&refreshed);
    let t2 = refreshed.json();
    smart_token_refresh_body(&t2, t["scope"].as_str().unwrap());
    assert_eq!(scopes_of(&t2), scopes_of(&t));
    assert_eq!(t2["patient"], s.fx.p1.as_str());
    assert_eq!(t2["expires_in"], 3600);
    let r2 = t2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r2, r1, "rotated");
    // With scopes: narrower is granted; wider is invalid_scope and issues nothing.
    let narrower = s.token(&auth, &[("grant_type", "refresh_token"), ("refresh_token", &r2), ("scope", "user/*.rs")]).await;
    smart_token_response_headers(&narrower);
    let t3 = narrower.json();
    smart_token_refresh_body(&t3, t["scope"].as_str().unwrap());
    assert_eq!(scopes_of(&t3), ["user/*.rs"]);
    let r3 = t3["refresh_token"].as_str().unwrap().to_string();
    s.token(&auth, &[("grant_type", "refresh_token"), ("refresh_token", &r3), ("scope", "user/*.cruds")]).await.oauth_error(400, ErrorCode::InvalidScope);
    // The successor keeps the original grant: the narrowing was for that access token only.
    let t4 = s.token(&auth, &[("grant_type", "refresh_token"), ("refresh_token", &r3)]).await.json();
    assert_eq!(scopes_of(&t4), scopes_of(&t));
    let r4 = t4["refresh_token"].as_str().unwrap().to_string();
    // Another client cannot use it.
    s.token(&ClientAuth::Public("public-app"), &[("grant_type", "refresh_token"), ("refresh_token", &r4)]).await.oauth_error(400, ErrorCode::InvalidGrant);
    // An old refresh token seen again: refused, and the whole grant (the newest token, the access tokens) is revoked.
    s.token(&auth, &[("grant_type", "refresh_token"), ("refresh_token", &r1)]).await.oauth_error(400, ErrorCode::InvalidGrant);
    s.token(&auth, &[("grant_type", "refresh_token"), ("refresh_token", &r4)]).await.oauth_error(400, ErrorCode::InvalidGrant);
    assert_eq!(s.introspect(t4["access_token"].as_str().unwrap()).await, json!({"active": false}));
}

async fn offline_access_online_access_or_no_refresh_token(s: &Smart) {
    let start = now() as i64;
    let offline = s.tokens(&ClientAuth::Public("public-app"), &Authz::new("public-app", "user/*.rs offline_access")).await;
    let online = s.tokens(&ClientAuth::Public("public-app"), &Authz::new("public-app", "user/*.rs online_access")).await;
    let none = s.tokens(&ClientAuth::Public("public-app"), &Authz::new("public-app", "user/*.rs")).await;
    assert!(none.get("refresh_token").is_none());
    let exp = |t: &Value| {
        let s = s;
        let token = t["refresh_token"].as_str().unwrap().to_string();
        async move {
            let info = s.introspect(&token).await;
            assert_eq!(info["active"], true);
            assert_eq!(info["token_type"], "refresh_token");
            info["exp"].as_i64().unwrap() - start
        }
    };
    let offline_life = exp(&offline).await;
    let online_life = exp(&online).await;
    assert!((90 * 86400 - 60..=90 * 86400 + 60).contains(&offline_life), "{offline_life}");
    assert!((8 * 3600 - 60..=8 * 3600 + 60).contains(&online_life), "{online_life}");
    // An online token's successor keeps the session's end; an offline one's moves on.
    let r = s.token(&ClientAuth::Public("public-app"), &[("grant_type", "refresh_token"), ("refresh_token", online["refresh_token"].as_str().unwrap())]).await.json();
    assert_eq!(exp(&r).await, online_life);
}

// ---------------------------------------------------------------- introspection and revocation

async fn smart_token_introspection_active_then_revoked(s: &Smart) {
    let mut a = Authz::new("public-app", "launch/patient openid fhirUser patient/*.rs");
    a.pick = Some(s.fx.p1.clone());
    let t = s.tokens(&ClientAuth::Public("public-app"), &a).await;
    smart_token_response_body_stu2_2(&t);
    let access = t["access_token"].as_str().unwrap();
    let id_claims = jwt_part(t["id_token"].as_str().unwrap(), 1);
    let info = s.introspect(access).await;
    // smart_token_introspection_response_group Test01: active; scope, client_id, exp as issued;
    // the launch context; iss and sub of the ID token (fhirUser too, recommended).
    assert_eq!(info["active"], true);
    assert_eq!(info["scope"], t["scope"]);
    assert!(info["exp"].as_u64().unwrap() >= now() - 600);
    assert_eq!(info["client_id"], "public-app");
    assert_eq!(info["patient"], s.fx.p1.as_str());
    assert_eq!(info["iss"], id_claims["iss"]);
    assert_eq!(info["sub"], id_claims["sub"]);
    assert_eq!(info["fhirUser"], id_claims["fhirUser"]);
    assert_eq!(info["token_type"], "Bearer");
    assert_eq!(info["exp"].as_u64().unwrap(), info["iat"].as_u64().unwrap() + t["expires_in"].as_u64().unwrap());
    // Requirement 95 beside it: the resource server honours the token for what its scope covers
    // (the launch patient) and for nothing else (tests/authorization.rs and tests/leak.rs go further).
    let api = |path: String| {
        let (http, url) = (s.http.clone(), s.url(&path));
        async move { http.get(url).bearer_auth(access).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(api(format!("Patient/{}", s.fx.p1)).await, 200);
    assert_eq!(api(format!("Patient/{}", s.fx.p2)).await, 404);
    assert_eq!(api("Practitioner".into()).await, 403);
    // An EHR launch's encounter is introspected too.
    let pool = s.pool().await;
    let context = launches::Launch { client_id: "public-app".into(), patient: Some(s.fx.p1.clone()), encounter: Some(s.fx.e1.clone()), username: None };
    let mut e = Authz::new("public-app", "launch patient/*.rs");
    e.launch = Some(launches::create(&pool, &s.fx.base, &context).await.unwrap().launch);
    let ehr = s.tokens(&ClientAuth::Public("public-app"), &e).await;
    let info = s.introspect(ehr["access_token"].as_str().unwrap()).await;
    assert_eq!((info["active"].as_bool(), info["patient"].as_str(), info["encounter"].as_str()), (Some(true), Some(s.fx.p1.as_str()), Some(s.fx.e1.as_str())));
    // A bearer token of ours also lets one introspect (SMART requirement 282); nothing else does.
    let backend = s.backend_token("system/*.rs").await.json();
    let r = Resp::from(s.http.post(s.url("auth/introspect")).bearer_auth(backend["access_token"].as_str().unwrap()).form(&[("token", access)]).send().await.unwrap()).await;
    assert_eq!(r.json()["active"], true);
    s.form("auth/introspect", &[("token", access)]).await.oauth_error(401, ErrorCode::InvalidClient);
    s.form("auth/introspect", &[("token", access), ("client_id", "public-app")]).await.oauth_error(401, ErrorCode::InvalidClient);
    let forged = Resp::from(s.http.post(s.url("auth/introspect")).bearer_auth("not.a.token").form(&[("token", access)]).send().await.unwrap()).await;
    forged.oauth_error(401, ErrorCode::InvalidToken);
    assert!(forged.header("www-authenticate").unwrap().starts_with("Bearer error=\"invalid_token\""));
    assert_eq!(s.introspect("garbage").await, json!({"active": false}));

    assert!(s.verifier().await.verify_bearer(&bearer(access)).await.is_ok());
    // Revoking: another client may not; the owner (a public client) may; then inactive everywhere.
    let other = Resp::from(s.http.post(s.url("auth/revoke")).basic_auth("symmetric-app", Some(&s.fx.symmetric_secret)).form(&[("token", access)]).send().await.unwrap()).await;
    other.oauth_error(400, ErrorCode::UnauthorizedClient);
    let revoked = s.form("auth/revoke", &[("token", access), ("client_id", "public-app"), ("token_type_hint", "access_token")]).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert_eq!(s.introspect(access).await, json!({"active": false}));
    let e = s.verifier().await.verify_bearer(&bearer(access)).await.unwrap_err();
    assert_eq!((e.code, e.description.as_str()), (ErrorCode::InvalidToken, "the token was revoked"));
    // Unknown tokens revoke quietly (RFC 7009 §2.2); unknown hints do not.
    assert_eq!(s.form("auth/revoke", &[("token", "unknown"), ("client_id", "public-app")]).await.status, 200);
    s.form("auth/revoke", &[("token", "x"), ("client_id", "public-app"), ("token_type_hint", "id_token")]).await.oauth_error(400, ErrorCode::UnsupportedTokenType);
}

async fn revoking_a_refresh_token_ends_its_grant(s: &Smart) {
    let t = s.tokens(&ClientAuth::Public("public-app"), &Authz::new("public-app", "user/*.rs offline_access")).await;
    let refresh = t["refresh_token"].as_str().unwrap();
    assert_eq!(s.form("auth/revoke", &[("token", refresh), ("client_id", "public-app")]).await.status, 200);
    s.token(&ClientAuth::Public("public-app"), &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await.oauth_error(400, ErrorCode::InvalidGrant);
    assert_eq!(s.introspect(t["access_token"].as_str().unwrap()).await["active"], false);
}

// ---------------------------------------------------------------- bad authorization requests

async fn bad_authorization_requests_are_refused_without_a_code(s: &Smart) {
    // Unknown client, unregistered redirect URI: shown, never redirected.
    for (client, redirect) in [("nobody", REDIRECT), ("public-app", "https://evil.example/callback")] {
        let mut a = Authz::new(client, "user/*.rs");
        a.redirect_uri = redirect.into();
        let (status, body) = s.authorize(&a).await.page();
        assert_eq!(status, 400);
        assert!(body.contains("not registered") || body.contains("not one registered"), "{body}");
    }
    let cases: Vec<(&str, Box<dyn Fn(&mut Authz)>, &str)> = vec![
        ("missing PKCE", Box::new(|a: &mut Authz| a.challenge = false), "invalid_request"),
        ("no challenge method (plain)", Box::new(|a: &mut Authz| a.method = None), "invalid_request"),
        ("plain method", Box::new(|a: &mut Authz| a.method = Some("plain".into())), "invalid_request"),
        ("wrong aud", Box::new(|a: &mut Authz| a.aud = Some("https://evil.example/fhir".into())), "invalid_request"),
        ("unknown scope syntax", Box::new(|a: &mut Authz| a.scope = "patient/Observation.xyz".into()), "invalid_scope"),
        ("unknown launch", Box::new(|a: &mut Authz| a.launch = Some("made-up".into())), "invalid_request"),
        ("repeated parameter", Box::new(|a: &mut Authz| a.extra = vec![("scope".into(), "openid".into())]), "invalid_request"),
    ];
    for (what, change, expected) in cases {
        let mut a = Authz::new("public-app", "openid user/*.rs");
        change(&mut a);
        let (error, _) = s.authorize(&a).await.error(&a.state);
        assert_eq!(error, expected, "{what}");
    }
    let r = s.http.get(s.url("auth/authorize")).query(&[("response_type", "token"), ("client_id", "public-app"), ("redirect_uri", REDIRECT), ("state", "st")]).send().await.unwrap();
    let query: HashMap<String, String> = reqwest::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap().query_pairs().into_owned().collect();
    let (error, _) = Outcome::Redirected { query }.error("st");
    assert_eq!(error, "unsupported_response_type");
    // Missing aud is refused like a wrong one.
    let r = s.http.get(s.url("auth/authorize")).query(&[
        ("response_type", "code"), ("client_id", "public-app"), ("redirect_uri", REDIRECT), ("scope", "user/*.rs"), ("state", "s"),
        ("code_challenge", &pkce::s256_challenge(&unique().repeat(2))), ("code_challenge_method", "S256"),
    ]).send().await.unwrap();
    let location = r.headers()["location"].to_str().unwrap();
    assert!(location.contains("error=invalid_request") && location.contains("aud") && !location.contains("code="), "{location}");
}

// ---------------------------------------------------------------- bad token requests

async fn bad_token_requests_are_refused_and_issue_nothing(s: &Smart) {
    let public = ClientAuth::Public("public-app");
    let (code, verifier) = s.authorize(&Authz::new("public-app", "openid fhirUser user/*.rs")).await.code();
    // Wrong verifier, missing verifier, wrong redirect_uri, another client: refused, the code is kept.
    let wrong = s.exchange(&public, &code, &format!("{}{}", unique(), unique())).await;
    wrong.oauth_error(400, ErrorCode::InvalidGrant);
    s.token(&public, &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)]).await.oauth_error(400, ErrorCode::InvalidRequest);
    s.token(&public, &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", "https://app.example/other"), ("code_verifier", &verifier)]).await.oauth_error(400, ErrorCode::InvalidGrant);
    s.exchange(&ClientAuth::Public("narrow-app"), &code, &verifier).await.oauth_error(400, ErrorCode::InvalidGrant);
    s.exchange(&ClientAuth::Public("nobody"), &code, &verifier).await.oauth_error(401, ErrorCode::InvalidClient);
    let first = s.exchange(&public, &code, &verifier).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let access = first.json()["access_token"].as_str().unwrap().to_string();
    // Reused: invalid_grant, and what the first use gave is revoked.
    let d = s.exchange(&public, &code, &verifier).await.oauth_error(400, ErrorCode::InvalidGrant);
    assert!(d.contains("already used"), "{d}");
    assert_eq!(s.introspect(&access).await["active"], false);
    // Not a form, unknown code, no grant type.
    let json_body = Resp::from(s.http.post(s.url("auth/token")).json(&json!({"grant_type": "authorization_code"})).send().await.unwrap()).await;
    json_body.oauth_error(400, ErrorCode::InvalidRequest);
    s.exchange(&public, "no-such-code", &verifier).await.oauth_error(400, ErrorCode::InvalidGrant);
    s.token(&public, &[("code", "x")]).await.oauth_error(400, ErrorCode::InvalidRequest);
}

// ---------------------------------------------------------------- verify_bearer

async fn verify_bearer_refuses_malformed_expired_forged_and_foreign_tokens(s: &Smart) {
    let auth = s.verifier().await;
    let pool = s.pool().await;
    let keys = keys::load(&pool).await.unwrap();
    let base = s.fx.base.as_str();
    let claims = |aud: &str, exp: u64| {
        let mut c = smart_auth::AccessClaims::new(base, aud, "someone", "public-app", "user/*.rs", now() - 10, 0);
        c.exp = exp;
        c
    };
    let check = |token: String, expected: &'static str| {
        let auth = auth.clone();
        async move {
            let e = auth.verify_bearer(&bearer(&token)).await.expect_err(expected);
            assert_eq!(e.code, ErrorCode::InvalidToken, "{expected}");
            assert!(e.description.contains(expected), "{expected}: {}", e.description);
        }
    };
    // A good one passes (the checks below can fail).
    let good = smart_auth::issue_access_token(&keys, &claims(base, now() + 600)).unwrap();
    let v = auth.verify_bearer(&bearer(&good)).await.unwrap();
    assert_eq!((v.client_id.as_str(), v.subject.as_str(), v.scope.as_str()), ("public-app", "someone", "user/*.rs"));

    check("abc".into(), "malformed").await;
    check("a.b.c".into(), "malformed").await;
    let e = auth.verify_bearer(&HeaderMap::new()).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidToken);
    check(smart_auth::issue_access_token(&keys, &claims(base, now() - 3600)).unwrap(), "expired").await;
    check(smart_auth::issue_access_token(&keys, &claims("https://other.example/fhir", now() + 600)).unwrap(), "another audience").await;
    // Signed by a key of nobody's, then made to name our key.
    let stranger = SigningKey::generate(Algorithm::ES384, now()).unwrap();
    let theirs = stranger.sign(&claims(base, now() + 600)).unwrap();
    check(theirs.clone(), "no key with kid").await;
    let our_kid = keys.newest(smart_auth::ACCESS_TOKEN_ALGORITHMS).unwrap().kid().to_string();
    let mut header = jwt_part(&theirs, 0);
    header["kid"] = json!(our_kid);
    let parts: Vec<&str> = theirs.split('.').collect();
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    check(format!("{}.{}.{}", b64(&header), parts[1], parts[2]), "signature does not verify").await;
    // alg none, and HS256 keyed with our public key (algorithm confusion).
    let payload = serde_json::to_value(claims(base, now() + 600)).unwrap();
    check(format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&payload)), "alg none").await;
    let public_key = serde_json::to_string(keys.newest(smart_auth::ACCESS_TOKEN_ALGORITHMS).unwrap().public_jwk()).unwrap();
    let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs.kid = Some(our_kid);
    let confused = jsonwebtoken::encode(&hs, &payload, &jsonwebtoken::EncodingKey::from_secret(public_key.as_bytes())).unwrap();
    check(confused, "symmetric algorithm HS256").await;
    // Another issuer with our keys.
    let mut foreign = claims(base, now() + 600);
    foreign.iss = "https://other.example".into();
    check(smart_auth::issue_access_token(&keys, &foreign).unwrap(), "issued by someone else").await;
    // Revoked (the revocation endpoint, then a verifier that syncs from the database).
    let t = s.tokens(&ClientAuth::Public("public-app"), &Authz::new("public-app", "user/*.rs")).await;
    let access = t["access_token"].as_str().unwrap().to_string();
    assert!(auth.verify_bearer(&bearer(&access)).await.is_ok());
    assert_eq!(s.form("auth/revoke", &[("token", access.as_str()), ("client_id", "public-app")]).await.status, 200);
    let fresh = s.verifier().await;
    let e = fresh.verify_bearer(&bearer(&access)).await.unwrap_err();
    assert_eq!((e.code, e.description.as_str()), (ErrorCode::InvalidToken, "the token was revoked"));
}

both_backends!(
    well_known_endpoint_and_capabilities_stu2,
    smart_openid_required_configuration_fields_and_retrieve_jwks,
    smart_cors_well_known_endpoint_metadata_and_token_exchange,
    capability_statement_security_lists_oauth_uris,
    smart_standalone_launch_patient_picker_and_narrowed_consent,
    smart_ehr_launch_with_launch_context,
    patient_user_gets_their_own_record_without_picker,
    scopes_are_limited_to_the_registration,
    denied_consent_and_wrong_password_issue_nothing,
    forms_need_their_own_request_token_and_stage,
    authorize_post_is_supported,
    smart_openid_decode_id_token_header_payload_and_fhir_user_claim,
    smart_openid_fhir_user_claim_under_patient_scopes,
    smart_cors_openid_fhir_user_claim,
    confidential_symmetric_client_secret_basic,
    confidential_asymmetric_private_key_jwt_es384_and_rs384,
    smart_backend_services_auth_request_success_and_response_body,
    smart_backend_services_invalid_client_assertion,
    smart_backend_services_invalid_grant_type,
    backend_service_keys_from_a_jwks_url_follow_rotation,
    smart_token_refresh_stu2_rotation_and_scopes,
    offline_access_online_access_or_no_refresh_token,
    smart_token_introspection_active_then_revoked,
    revoking_a_refresh_token_ends_its_grant,
    bad_authorization_requests_are_refused_without_a_code,
    bad_token_requests_are_refused_and_issue_nothing,
    verify_bearer_refuses_malformed_expired_forged_and_foreign_tokens,
);

// ---------------------------------------------------------------- without the HTTP server

async fn keys_rotate_without_downtime(backend: Backend) {
    let Some(url) = fresh_database(backend) else { return };
    let pool = open(&url, Some(2)).await.unwrap();
    let base = "http://fhir.test/fhir";
    let running = SmartAuth::open(pool.clone(), base, &AuthConfig::smart()).await.unwrap().unwrap();
    let claims = smart_auth::AccessClaims::new(base, base, "u", "c", "user/*.rs", now(), 300);
    let before = keys::load(&pool).await.unwrap();
    let old_kid = before.newest(smart_auth::ACCESS_TOKEN_ALGORITHMS).unwrap().kid().to_string();
    let old_token = smart_auth::issue_access_token(&before, &claims).unwrap();
    assert!(running.verify_token(&old_token).await.is_ok());
    // A new key signs at once; the running verifier learns it from the unknown kid.
    let new = keys::rotate(&pool, &[Algorithm::ES384]).await.unwrap();
    let after = keys::load(&pool).await.unwrap();
    assert_eq!(after.newest(smart_auth::ACCESS_TOKEN_ALGORITHMS).unwrap().kid(), new[0].kid());
    let new_token = smart_auth::issue_access_token(&after, &claims).unwrap();
    assert_eq!(jwt_part(&new_token, 0)["kid"], new[0].kid());
    assert!(running.verify_token(&new_token).await.is_ok(), "new key picked up");
    assert!(running.verify_token(&old_token).await.is_ok(), "old key still verifies");
    // Retired: gone from the set, its tokens refused; the last key of a kind cannot go.
    keys::retire(&pool, &old_kid).await.unwrap();
    let later = SmartAuth::open(pool.clone(), base, &AuthConfig::smart()).await.unwrap().unwrap();
    let e = later.verify_token(&old_token).await.unwrap_err();
    assert!(e.description.contains("no key with kid"), "{}", e.description);
    assert!(later.verify_token(&new_token).await.is_ok());
    let kids: Vec<String> = keys::load(&pool).await.unwrap().keys().iter().map(|k| k.kid().to_string()).collect();
    assert!(!kids.contains(&old_kid) && kids.contains(&new[0].kid().to_string()));
    let refused = keys::retire(&pool, new[0].kid()).await.unwrap_err().to_string();
    assert!(refused.contains("last"), "{refused}");
}

async fn external_provider_tokens_are_accepted_beside_or_instead_of_ours(backend: Backend) {
    let Some(url) = fresh_database(backend) else { return };
    let pool = open(&url, Some(2)).await.unwrap();
    let base = "http://fhir.test/fhir";
    let idp = "https://idp.example";
    let first = SigningKey::generate(Algorithm::RS256, now()).unwrap();
    let second = SigningKey::generate(Algorithm::ES384, now()).unwrap();
    let published = Arc::new(Mutex::new(jwks_of(&[&first])));
    let jwks_url = serve_json(published.clone()).await;
    let provider = ExternalProvider { issuer: idp.into(), jwks_url, audience: None };
    let both = SmartAuth::open(pool.clone(), base, &AuthConfig { mode: AuthMode::Smart, external: Some(provider.clone()) }).await.unwrap().unwrap();
    let claims = smart_auth::AccessClaims::new(idp, base, "idp-user", "idp-client", "user/*.rs", now(), 300);
    let v = both.verify_token(&first.sign(&claims).unwrap()).await.unwrap();
    assert_eq!((v.issuer.as_str(), v.subject.as_str(), v.client_id.as_str()), (idp, "idp-user", "idp-client"));
    // The provider rotates: an unknown kid fetches its keys again.
    *published.lock().unwrap() = jwks_of(&[&first, &second]);
    assert!(both.verify_token(&second.sign(&claims).unwrap()).await.is_ok());
    // Not published, another audience: refused.
    let stranger = SigningKey::generate(Algorithm::ES384, now()).unwrap();
    assert!(both.verify_token(&stranger.sign(&claims).unwrap()).await.unwrap_err().description.contains("no key with kid"));
    let mut other = claims.clone();
    other.aud = smart_auth::Audience::One("https://other.example/fhir".into());
    assert!(both.verify_token(&first.sign(&other).unwrap()).await.unwrap_err().description.contains("another audience"));
    // Ours still pass beside theirs; with the provider alone, ours do not.
    let ours = smart_auth::issue_access_token(&keys::load(&pool).await.unwrap(), &smart_auth::AccessClaims::new(base, base, "u", "c", "user/*.rs", now(), 300)).unwrap();
    assert!(both.verify_token(&ours).await.is_ok());
    let only = SmartAuth::open(pool.clone(), base, &AuthConfig { mode: AuthMode::External, external: Some(provider) }).await.unwrap().unwrap();
    assert!(!only.is_issuing());
    assert!(only.verify_token(&first.sign(&claims).unwrap()).await.is_ok());
    let e = only.verify_token(&ours).await.unwrap_err();
    assert!(e.description.contains("not issued by the accepted OpenID provider"), "{}", e.description);
}

macro_rules! each_backend {
    ($($case:ident),* $(,)?) => {
        mod without_server {
            $(
                pub mod $case {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn sqlite() {
                        super::super::$case(conformance_tests::Backend::Sqlite).await;
                    }
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn postgres() {
                        super::super::$case(conformance_tests::Backend::Postgres).await;
                    }
                }
            )*
        }
    };
}

each_backend!(keys_rotate_without_downtime, external_provider_tokens_are_accepted_beside_or_instead_of_ours);

/// With authorization on, the server may listen on a network address; contradictory settings are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_lets_a_network_address_through() {
    let url = fresh_database(Backend::Sqlite).unwrap();
    let exposed = ServeConfig { listen: "0.0.0.0:0".parse().unwrap(), auth: AuthConfig::smart(), ..ServeConfig::local(&url) };
    let running = fhir_server::start(exposed).await.expect("auth on: a network address is fine");
    assert!(running.local_addr.ip().is_unspecified());
    let doc: Value = reqwest::get(format!("http://127.0.0.1:{}/fhir/.well-known/smart-configuration", running.local_addr.port())).await.unwrap().json().await.unwrap();
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    running.task.abort();
    running.reindex.abort();
    let external_only = ServeConfig { auth: AuthConfig { mode: AuthMode::External, external: None }, ..ServeConfig::local(&url) };
    let refused = fhir_server::start(external_only).await.err().expect("external without a provider").to_string();
    assert!(refused.contains("--auth-external-issuer"), "{refused}");
    // Off by default: no discovery, no CORS.
    let off = fhir_server::start(ServeConfig::local(&url)).await.unwrap();
    let r = reqwest::Client::new().get(format!("{}/.well-known/smart-configuration", off.base_url)).header("origin", "https://app.example").send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    off.task.abort();
    off.reindex.abort();
}

//! Issue 5: the built-in SMART App Launch 2.x authorization server, driven through real flows
//! (browser pages parsed minimally, redirects not followed) on SQLite and PostgreSQL.
//!
//! Test names start with the Inferno SMART STU2/STU2.2 check they reproduce where one applies
//! (ids from shared/corpora/smart/smart-app-launch-test-kit/smart_stu2_2_requirements_coverage.csv).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use conformance_tests::{fresh_database, Backend};
use fhir_server::auth::clients::{self, ClientType, NewClient};
use fhir_server::auth::{keys, launches, users, AuthConfig, AuthMode, ExternalProvider, SmartAuth};
use fhir_server::store::{open::open, Pool};
use fhir_server::ServeConfig;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use smart_auth::{pkce, Algorithm, ErrorCode, SigningKey};

const REDIRECT: &str = "https://app.example/callback";
const PASSWORD: &str = "correct horse battery";
const APP_SCOPES: &str = "launch launch/patient launch/encounter openid fhirUser profile offline_access online_access patient/*.cruds user/*.rs";

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

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

fn jwks_of(keys: &[&SigningKey]) -> String {
    json!({"keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>()}).to_string()
}

async fn register(pool: &Pool, id: &str, client_type: ClientType, redirect: bool, scopes: &str, jwks: Option<String>, jwks_url: Option<String>) -> Option<String> {
    let new = NewClient {
        client_id: Some(id.into()),
        name: format!("Test app {id}"),
        client_type,
        redirect_uris: if redirect { vec![REDIRECT.into()] } else { vec![] },
        scopes: scopes.into(),
        jwks,
        jwks_url,
        launch_url: Some("https://app.example/launch".into()),
    };
    clients::add(pool, new).await.unwrap().secret
}

async fn setup(url: String) -> (Fx, fhir_server::Running) {
    let running = fhir_server::start(ServeConfig { auth: AuthConfig::smart(), ..ServeConfig::local(&url) }).await.expect("server with auth");
    let base = running.base_url.clone();
    let pool = open(&url, 2).await.unwrap();
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

/// An HTTP answer.
struct Resp {
    status: u16,
    headers: HeaderMap,
    text: String,
}

impl Resp {
    async fn from(r: reqwest::Response) -> Resp {
        Resp { status: r.status().as_u16(), headers: r.headers().clone(), text: r.text().await.unwrap_or_default() }
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// An OAuth error answer: status, no-store, and the error code.
    fn oauth_error(&self, status: u16, code: ErrorCode) -> String {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.header("cache-control"), Some("no-store"));
        let body = self.json();
        assert_eq!(body["error"], code.as_str(), "{}", self.text);
        assert!(body.get("access_token").is_none());
        body["error_description"].as_str().unwrap_or_default().to_string()
    }
}

/// How a client authenticates at the token endpoint.
enum ClientAuth<'a> {
    Public(&'a str),
    Basic(&'a str, &'a str),
    Jwt(&'a str, &'a SigningKey),
}

/// One authorization request and what the user does with it.
#[derive(Clone)]
struct Authz {
    client_id: String,
    scope: String,
    redirect_uri: String,
    state: String,
    aud: Option<String>,
    challenge: bool,
    method: Option<String>,
    launch: Option<String>,
    nonce: Option<String>,
    user: String,
    password: String,
    pick: Option<String>,
    deselect: Vec<String>,
    deny: bool,
    post: bool,
    extra: Vec<(String, String)>,
}

impl Authz {
    fn new(client_id: &str, scope: &str) -> Authz {
        Authz {
            client_id: client_id.into(),
            scope: scope.into(),
            redirect_uri: REDIRECT.into(),
            state: unique(),
            aud: None,
            challenge: true,
            method: Some("S256".into()),
            launch: None,
            nonce: None,
            user: "clinician".into(),
            password: PASSWORD.into(),
            pick: None,
            deselect: vec![],
            deny: false,
            post: false,
            extra: vec![],
        }
    }
}

/// Where a flow ended.
#[derive(Debug)]
enum Outcome {
    Code { code: String, verifier: String },
    Redirected { query: HashMap<String, String> },
    Page { status: u16, body: String },
}

impl Outcome {
    fn code(self) -> (String, String) {
        match self {
            Outcome::Code { code, verifier } => (code, verifier),
            other => panic!("expected a code, got {other:?}"),
        }
    }
    /// The redirected error, after checking no code came with it and state was echoed.
    fn error(self, state: &str) -> (String, String) {
        match self {
            Outcome::Redirected { query } => {
                assert!(!query.contains_key("code"), "{query:?}");
                assert_eq!(query.get("state").map(String::as_str), Some(state), "state echoed");
                (query["error"].clone(), query.get("error_description").cloned().unwrap_or_default())
            }
            other => panic!("expected a redirected error, got {other:?}"),
        }
    }
    fn page(self) -> (u16, String) {
        match self {
            Outcome::Page { status, body } => (status, body),
            other => panic!("expected a page, got {other:?}"),
        }
    }
}

/// The value of an attribute of a tag's text.
fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
}

/// (type, name, value) of every input of a page.
fn inputs(html: &str) -> Vec<(String, String, String)> {
    html.split("<input").skip(1).map(|t| {
        let tag = &t[..t.find('>').unwrap_or(t.len())];
        (attr(tag, "type").unwrap_or_default(), attr(tag, "name").unwrap_or_default(), attr(tag, "value").unwrap_or_default())
    }).collect()
}

fn field(html: &str, name: &str) -> String {
    inputs(html).into_iter().find(|(_, n, _)| n == name).map(|(_, _, v)| v).unwrap_or_else(|| panic!("no field {name} in {html}"))
}

/// A test's client of the server.
struct Smart {
    fx: &'static Fx,
    http: reqwest::Client,
}

impl Smart {
    fn new(fx: &'static Fx) -> Smart {
        Smart { fx, http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap() }
    }
    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.fx.base)
    }
    async fn pool(&self) -> Pool {
        open(&self.fx.database_url, 2).await.unwrap()
    }
    async fn get(&self, path: &str) -> Resp {
        Resp::from(self.http.get(self.url(path)).send().await.unwrap()).await
    }
    async fn form(&self, path: &str, pairs: &[(&str, &str)]) -> Resp {
        Resp::from(self.http.post(self.url(path)).form(pairs).send().await.unwrap()).await
    }

    /// Runs an authorization request through the pages to its end.
    async fn authorize(&self, a: &Authz) -> Outcome {
        let verifier = format!("{}{}", unique(), unique());
        let challenge = pkce::s256_challenge(&verifier);
        let aud = a.aud.clone().unwrap_or_else(|| self.fx.base.clone());
        let mut params: Vec<(String, String)> = vec![
            ("response_type".into(), "code".into()),
            ("client_id".into(), a.client_id.clone()),
            ("redirect_uri".into(), a.redirect_uri.clone()),
            ("scope".into(), a.scope.clone()),
            ("state".into(), a.state.clone()),
            ("aud".into(), aud),
        ];
        if a.challenge {
            params.push(("code_challenge".into(), challenge));
        }
        params.extend(a.method.clone().map(|m| ("code_challenge_method".to_string(), m)));
        params.extend(a.launch.clone().map(|l| ("launch".to_string(), l)));
        params.extend(a.nonce.clone().map(|n| ("nonce".to_string(), n)));
        params.extend(a.extra.clone());
        let url = self.url("auth/authorize");
        let mut resp = if a.post {
            self.http.post(&url).form(&params).send().await.unwrap()
        } else {
            self.http.get(&url).query(&params).send().await.unwrap()
        };
        for _ in 0..5 {
            if resp.status().as_u16() == 302 {
                let location = resp.headers()["location"].to_str().unwrap().to_string();
                assert!(location.starts_with(&format!("{}?", a.redirect_uri)), "{location}");
                let query: HashMap<String, String> = reqwest::Url::parse(&location).unwrap().query_pairs().into_owned().collect();
                if let Some(code) = query.get("code") {
                    assert_eq!(query.get("state"), Some(&a.state), "smart_app_redirect_stu2: state echoed");
                    return Outcome::Code { code: code.clone(), verifier };
                }
                return Outcome::Redirected { query };
            }
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap();
            if status != 200 {
                return Outcome::Page { status, body };
            }
            let (request, form_token) = (field(&body, "request"), field(&body, "form_token"));
            let mut form: Vec<(String, String)> = vec![("request".into(), request), ("form_token".into(), form_token)];
            let fields = inputs(&body);
            let path = if fields.iter().any(|(_, n, _)| n == "password") {
                form.push(("username".into(), a.user.clone()));
                form.push(("password".into(), a.password.clone()));
                "auth/login"
            } else if fields.iter().any(|(t, n, _)| t == "radio" && n == "patient") {
                let first = fields.iter().find(|(t, n, _)| t == "radio" && n == "patient").unwrap().2.clone();
                form.push(("patient".into(), a.pick.clone().unwrap_or(first)));
                form.push(("action".into(), "choose".into()));
                "auth/patient"
            } else if body.contains("name=\"decision\"") {
                for (t, n, v) in &fields {
                    if t == "checkbox" && n == "scope" && !a.deselect.contains(v) {
                        form.push(("scope".into(), v.clone()));
                    }
                }
                form.push(("decision".into(), if a.deny { "deny" } else { "approve" }.into()));
                "auth/consent"
            } else {
                return Outcome::Page { status, body };
            };
            resp = self.http.post(self.url(path)).form(&form).send().await.unwrap();
        }
        panic!("the flow did not end");
    }

    fn assertion(&self, client_id: &str, key: &SigningKey, exp_in: i64, jti: &str) -> String {
        let claims = json!({"iss": client_id, "sub": client_id, "aud": self.url("auth/token"), "exp": now() as i64 + exp_in, "jti": jti});
        key.sign(&claims).unwrap()
    }

    /// A token request with the client's authentication.
    async fn token(&self, auth: &ClientAuth<'_>, pairs: &[(&str, &str)]) -> Resp {
        let mut form: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut rb = self.http.post(self.url("auth/token"));
        match auth {
            ClientAuth::Public(id) => form.push(("client_id".into(), id.to_string())),
            ClientAuth::Basic(id, secret) => rb = rb.basic_auth(id, Some(secret)),
            ClientAuth::Jwt(id, key) => {
                form.push(("client_assertion_type".into(), smart_auth::JWT_BEARER.into()));
                form.push(("client_assertion".into(), self.assertion(id, key, 120, &unique())));
            }
        }
        Resp::from(rb.form(&form).send().await.unwrap()).await
    }

    async fn exchange(&self, auth: &ClientAuth<'_>, code: &str, verifier: &str) -> Resp {
        self.token(auth, &[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT), ("code_verifier", verifier)]).await
    }

    /// A successful token response, with the headers SMART requires (smart_token_response_headers).
    async fn tokens(&self, auth: &ClientAuth<'_>, a: &Authz) -> Value {
        let (code, verifier) = self.authorize(a).await.code();
        let r = self.exchange(auth, &code, &verifier).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(r.header("pragma"), Some("no-cache"));
        r.json()
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

fn scopes_of(v: &Value) -> Vec<String> {
    let mut s: Vec<String> = v["scope"].as_str().unwrap().split(' ').map(str::to_string).collect();
    s.sort();
    s
}

fn sorted(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.split(' ').map(str::to_string).collect();
    v.sort();
    v
}

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("authorization", format!("Bearer {token}").parse().unwrap());
    h
}

fn jwt_part(token: &str, i: usize) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(i).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
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
}

async fn smart_cors_well_known_endpoint_metadata_and_token_exchange(s: &Smart) {
    for path in [".well-known/smart-configuration", "metadata"] {
        let r = s.http.get(s.url(path)).header("origin", "https://app.example").send().await.unwrap();
        assert_eq!(r.headers().get("access-control-allow-origin").unwrap(), "*", "{path}");
    }
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
    assert_eq!(t["patient"], s.fx.p1.as_str(), "context-ehr-patient");
    assert_eq!(t["encounter"], s.fx.e1.as_str(), "context-ehr-encounter");
    assert_eq!(scopes_of(&t), sorted("launch openid fhirUser patient/*.rs online_access"));
    assert!(t["refresh_token"].is_string());

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
    // smart_openid_token_payload
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
}

async fn smart_backend_services_invalid_grant_type(s: &Smart) {
    let r = s.token(&ClientAuth::Jwt("backend", &s.fx.backend_key), &[("grant_type", "password"), ("scope", "system/*.rs")]).await;
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
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    assert_eq!(refreshed.header("cache-control"), Some("no-store"));
    let t2 = refreshed.json();
    assert_eq!(scopes_of(&t2), scopes_of(&t));
    assert_eq!(t2["patient"], s.fx.p1.as_str());
    assert_eq!(t2["expires_in"], 3600);
    let r2 = t2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r2, r1, "rotated");
    // With scopes: narrower is granted; wider is invalid_scope and issues nothing.
    let narrower = s.token(&auth, &[("grant_type", "refresh_token"), ("refresh_token", &r2), ("scope", "user/*.rs")]).await;
    assert_eq!(narrower.status, 200, "{}", narrower.text);
    let t3 = narrower.json();
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
    let access = t["access_token"].as_str().unwrap();
    let id_claims = jwt_part(t["id_token"].as_str().unwrap(), 1);
    let info = s.introspect(access).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["scope"], t["scope"]);
    assert_eq!(info["client_id"], "public-app");
    assert_eq!(info["patient"], s.fx.p1.as_str());
    assert_eq!(info["iss"], id_claims["iss"]);
    assert_eq!(info["sub"], id_claims["sub"]);
    assert_eq!(info["fhirUser"], id_claims["fhirUser"]);
    assert_eq!(info["token_type"], "Bearer");
    assert_eq!(info["exp"].as_u64().unwrap(), info["iat"].as_u64().unwrap() + t["expires_in"].as_u64().unwrap());
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
    let pool = open(&url, 2).await.unwrap();
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
    let pool = open(&url, 2).await.unwrap();
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

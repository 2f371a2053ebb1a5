//! The SMART authorization server driven as a browser and an app would drive it: the login,
//! patient picker and consent pages parsed minimally and posted, redirects read rather than
//! followed, and the token endpoint called with each kind of client authentication. Shared by
//! `smart_auth.rs` (the authorization server's own checks) and `leak.rs` (a real token's reach).

use std::collections::HashMap;

use fhir_server::auth::clients::{self, ClientType, NewClient};
use fhir_server::store::Pool;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use smart_auth::{pkce, ErrorCode, SigningKey};

pub const REDIRECT: &str = "https://app.example/callback";
pub const PASSWORD: &str = "correct horse battery";

pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

pub fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub fn jwks_of(keys: &[&SigningKey]) -> String {
    json!({"keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>()}).to_string()
}

pub async fn register(pool: &Pool, id: &str, client_type: ClientType, redirect: bool, scopes: &str, jwks: Option<String>, jwks_url: Option<String>) -> Option<String> {
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

/// An HTTP answer.
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Resp {
    pub async fn from(r: reqwest::Response) -> Resp {
        Resp { status: r.status().as_u16(), headers: r.headers().clone(), text: r.text().await.unwrap_or_default() }
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// An OAuth error answer: status, no-store, and the error code.
    pub fn oauth_error(&self, status: u16, code: ErrorCode) -> String {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.header("cache-control"), Some("no-store"));
        let body = self.json();
        assert_eq!(body["error"], code.as_str(), "{}", self.text);
        assert!(body.get("access_token").is_none());
        body["error_description"].as_str().unwrap_or_default().to_string()
    }
}

/// How a client authenticates at the token endpoint.
pub enum ClientAuth<'a> {
    Public(&'a str),
    Basic(&'a str, &'a str),
    Jwt(&'a str, &'a SigningKey),
}

/// One authorization request and what the user does with it.
#[derive(Clone)]
pub struct Authz {
    pub client_id: String,
    pub scope: String,
    pub redirect_uri: String,
    pub state: String,
    pub aud: Option<String>,
    pub challenge: bool,
    pub method: Option<String>,
    pub launch: Option<String>,
    pub nonce: Option<String>,
    pub user: String,
    pub password: String,
    pub pick: Option<String>,
    pub deselect: Vec<String>,
    pub deny: bool,
    pub post: bool,
    pub extra: Vec<(String, String)>,
}

impl Authz {
    pub fn new(client_id: &str, scope: &str) -> Authz {
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
pub enum Outcome {
    Code { code: String, verifier: String },
    Redirected { query: HashMap<String, String> },
    Page { status: u16, body: String },
}

impl Outcome {
    pub fn code(self) -> (String, String) {
        match self {
            Outcome::Code { code, verifier } => (code, verifier),
            other => panic!("expected a code, got {other:?}"),
        }
    }
    /// The redirected error, after checking no code came with it and state was echoed.
    pub fn error(self, state: &str) -> (String, String) {
        match self {
            Outcome::Redirected { query } => {
                assert!(!query.contains_key("code"), "{query:?}");
                assert_eq!(query.get("state").map(String::as_str), Some(state), "state echoed");
                (query["error"].clone(), query.get("error_description").cloned().unwrap_or_default())
            }
            other => panic!("expected a redirected error, got {other:?}"),
        }
    }
    pub fn page(self) -> (u16, String) {
        match self {
            Outcome::Page { status, body } => (status, body),
            other => panic!("expected a page, got {other:?}"),
        }
    }
}

/// The value of an attribute of a tag's text.
pub fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
}

/// (type, name, value) of every input of a page.
pub fn inputs(html: &str) -> Vec<(String, String, String)> {
    html.split("<input").skip(1).map(|t| {
        let tag = &t[..t.find('>').unwrap_or(t.len())];
        (attr(tag, "type").unwrap_or_default(), attr(tag, "name").unwrap_or_default(), attr(tag, "value").unwrap_or_default())
    }).collect()
}

pub fn field(html: &str, name: &str) -> String {
    inputs(html).into_iter().find(|(_, n, _)| n == name).map(|(_, _, v)| v).unwrap_or_else(|| panic!("no field {name} in {html}"))
}


/// A browser and an app in one: drives the authorization pages (redirects are not followed) and
/// calls the token endpoint.
pub struct Browser {
    pub base: String,
    pub http: reqwest::Client,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser { base: base.to_string(), http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap() }
    }
    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }
    pub async fn get(&self, path: &str) -> Resp {
        Resp::from(self.http.get(self.url(path)).send().await.unwrap()).await
    }
    pub async fn form(&self, path: &str, pairs: &[(&str, &str)]) -> Resp {
        Resp::from(self.http.post(self.url(path)).form(pairs).send().await.unwrap()).await
    }

    /// Runs an authorization request through the pages to its end.
    pub async fn authorize(&self, a: &Authz) -> Outcome {
        let verifier = format!("{}{}", unique(), unique());
        let challenge = pkce::s256_challenge(&verifier);
        let aud = a.aud.clone().unwrap_or_else(|| self.base.clone());
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

    pub fn assertion(&self, client_id: &str, key: &SigningKey, exp_in: i64, jti: &str) -> String {
        let claims = json!({"iss": client_id, "sub": client_id, "aud": self.url("auth/token"), "exp": now() as i64 + exp_in, "jti": jti});
        key.sign(&claims).unwrap()
    }

    /// A token request with the client's authentication.
    pub async fn token(&self, auth: &ClientAuth<'_>, pairs: &[(&str, &str)]) -> Resp {
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

    pub async fn exchange(&self, auth: &ClientAuth<'_>, code: &str, verifier: &str) -> Resp {
        self.token(auth, &[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT), ("code_verifier", verifier)]).await
    }

    /// A successful token response, with the headers SMART requires (smart_token_response_headers).
    pub async fn tokens(&self, auth: &ClientAuth<'_>, a: &Authz) -> Value {
        let (code, verifier) = self.authorize(a).await.code();
        let r = self.exchange(auth, &code, &verifier).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(r.header("pragma"), Some("no-cache"));
        r.json()
    }
}

pub fn scopes_of(v: &Value) -> Vec<String> {
    let mut s: Vec<String> = v["scope"].as_str().unwrap().split(' ').map(str::to_string).collect();
    s.sort();
    s
}

pub fn sorted(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.split(' ').map(str::to_string).collect();
    v.sort();
    v
}

pub fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("authorization", format!("Bearer {token}").parse().unwrap());
    h
}

pub fn jwt_part(token: &str, i: usize) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(i).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

//! Issue 5 acceptance, the leak test: with data for several patients (three Synthea patients,
//! and hand-made resources that cross-reference them), tokens for one patient issued through the
//! real authorization-code flow (authorize, login, patient picker, consent, token exchange, and a
//! refresh) try every interaction and search feature against the others' data, and receive none
//! of it; nothing of theirs changes. Both backends.
//!
//! What "none of it" means, checked on every response (status, headers and body):
//! - no UUID of the others' data: their resources' ids, and every UUID their content holds
//!   (identifiers, markers), unless A's own data holds it too (A's Observation may name B's as a
//!   member: that id is A's to see) or the request itself sent it (a 404 names the id asked for);
//! - no resource of theirs, by `resourceType` and `id`, anywhere in a body (searchset entries,
//!   includes, transaction and batch responses), echoed ids or not, and no `fullUrl` or
//!   `location` naming one;
//! - counts (`_total`, `_summary=count`) and paging see A's data only;
//! - afterwards, every resource of theirs has the version it had (read with a backend token),
//!   and their compartments hold as many resources as before.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use common::smart::*;
use conformance_tests::{corpora, entry_ids, fresh_database, Backend};
use fhir_server::auth::clients::ClientType;
use fhir_server::auth::{users, AuthConfig};
use fhir_server::store::open::open;
use fhir_server::ServeConfig;
use futures::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};
use smart_auth::{Algorithm, SigningKey};

/// The three smallest Synthea patients: A (whose tokens probe), B and C (the others).
const SYNTHEA: [&str; 3] = [
    "Denny_Bins_bc0fbd67-bfe3-46c8-8ce9-ef20b0705b46.json",
    "Louis_Miller_f8bbc4a5-8a9f-45ed-a807-b715feefb2ef.json",
    "Delbert_Williamson_61d8af4e-34ee-4e65-a055-db3806a0bcc2.json",
];

/// Every UUID (8-4-4-4-12 hex digits) in a text, wherever it stands (`Patient%2F<uuid>` too):
/// the ids of this server and Synthea's identifiers.
fn uuids_in(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 36 <= b.len() {
        let candidate = &b[i..i + 36];
        let ok = candidate.iter().enumerate().all(|(k, c)| if matches!(k, 8 | 13 | 18 | 23) { *c == b'-' } else { c.is_ascii_hexdigit() });
        if ok {
            out.push(&text[i..i + 36]);
            i += 36;
        } else {
            i += 1;
        }
    }
    out
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A request body.
enum Body {
    None,
    Json(Value),
    JsonPatch(Value),
    Form(String),
}

/// The server, its data, and the tokens under test.
struct Fx {
    browser: Browser,
    backend_key: SigningKey,
    a: String,
    b: String,
    c: String,
    /// (type, id) of every resource of B's and C's.
    foreign: BTreeSet<(String, String)>,
    /// UUIDs no response to A may carry, with where they come from.
    forbidden: HashMap<String, String>,
    /// Ids of the others' resources that A's own data names (and so A may see as strings).
    cross: BTreeSet<String>,
    /// Resource types of the others' data.
    types: BTreeSet<String>,
    /// Some of A's and B's resources, by role.
    ids: HashMap<&'static str, String>,
    /// B's Patient: an identifier value (a UUID) and the family name.
    b_identifier: String,
    b_family: String,
    /// `system|code` of one of B's Observations.
    b_obs_code: String,
    /// The tokens of A: (what they are, the access token).
    tokens: Vec<(&'static str, String)>,
}

impl Fx {
    fn id(&self, role: &str) -> &str {
        self.ids.get(role).unwrap_or_else(|| panic!("no {role}"))
    }

    /// A fresh backend-services token (they last five minutes) with every permission.
    async fn system(&self) -> String {
        let r = self.browser.token(&ClientAuth::Jwt("loader", &self.backend_key), &[("grant_type", "client_credentials"), ("scope", "system/*.cruds")]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()["access_token"].as_str().unwrap().to_string()
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else if path.starts_with('?') || path.is_empty() {
            format!("{}{path}", self.browser.base)
        } else {
            format!("{}/{path}", self.browser.base)
        }
    }

    /// Sends a request without looking at the answer (the system token's view).
    async fn raw(&self, token: &str, method: Method, path: &str, body: &Body, headers: &[(&str, &str)]) -> Resp {
        let mut rb = self.browser.http.request(method, self.url(path)).bearer_auth(token);
        rb = match body {
            Body::None => rb,
            Body::Json(v) => rb.header("content-type", "application/fhir+json").body(v.to_string()),
            Body::JsonPatch(v) => rb.header("content-type", "application/json-patch+json").body(v.to_string()),
            Body::Form(f) => rb.header("content-type", "application/x-www-form-urlencoded").body(f.clone()),
        };
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        Resp::from(rb.send().await.unwrap_or_else(|e| panic!("{path}: {e}"))).await
    }

    /// Sends a request with one of A's tokens and checks that the answer carries nothing of the others'.
    async fn probe(&self, token: &str, method: Method, path: &str, body: Body, headers: &[(&str, &str)]) -> Resp {
        let sent = match &body {
            Body::None => String::new(),
            Body::Json(v) | Body::JsonPatch(v) => v.to_string(),
            Body::Form(f) => f.clone(),
        };
        let what = format!("{method} {path}");
        let r = self.raw(token, method, path, &body, headers).await;
        let request = format!("{path} {sent} {headers:?}");
        self.check(&what, &request, &r);
        r
    }

    async fn get(&self, token: &str, path: &str) -> Resp {
        self.probe(token, Method::GET, path, Body::None, &[]).await
    }

    fn check(&self, what: &str, request: &str, r: &Resp) {
        let asked: HashSet<&str> = uuids_in(request).into_iter().collect();
        let headers: String = r.headers.iter().map(|(k, v)| format!("{k}: {}\n", v.to_str().unwrap_or(""))).collect();
        for u in uuids_in(&r.text).into_iter().chain(uuids_in(&headers)) {
            if let Some(origin) = self.forbidden.get(u) {
                if !asked.contains(u) {
                    panic!("LEAK: {what} ({}) answered {u}, {origin}: {}", r.status, excerpt(&r.text, u));
                }
            }
        }
        if let Ok(v) = serde_json::from_str::<Value>(&r.text) {
            self.walk(what, &v);
        }
    }

    /// No resource of the others' in a body, and no fullUrl or location naming one.
    fn walk(&self, what: &str, v: &Value) {
        match v {
            Value::Object(o) => {
                if let (Some(Value::String(t)), Some(Value::String(id))) = (o.get("resourceType"), o.get("id")) {
                    assert!(!self.foreign.contains(&(t.clone(), id.clone())), "LEAK: {what} returned {t}/{id} of another patient");
                }
                for key in ["fullUrl", "location"] {
                    if let Some(Value::String(url)) = o.get(key) {
                        let rel = url.strip_prefix(&format!("{}/", self.browser.base)).unwrap_or(url);
                        let mut parts = rel.split('/');
                        if let (Some(t), Some(id)) = (parts.next(), parts.next()) {
                            assert!(!self.foreign.contains(&(t.to_string(), id.to_string())), "LEAK: {what} names {t}/{id} of another patient in {key}");
                        }
                    }
                }
                o.values().for_each(|c| self.walk(what, c));
            }
            Value::Array(a) => a.iter().for_each(|c| self.walk(what, c)),
            _ => {}
        }
    }

    /// The current versionId of every resource of the others, read with a backend token.
    async fn foreign_versions(&self) -> BTreeMap<(String, String), String> {
        let system = self.system().await;
        let system = &system;
        futures::stream::iter(self.foreign.iter().cloned())
            .map(|(t, id)| async move {
                let r = self.raw(system, Method::GET, &format!("{t}/{id}"), &Body::None, &[]).await;
                assert_eq!(r.status, 200, "{t}/{id}: {}", r.text);
                let v = r.json()["meta"]["versionId"].as_str().unwrap().to_string();
                ((t, id), v)
            })
            .buffer_unordered(16)
            .collect()
            .await
    }

    /// How many resources of each type the others' compartments hold.
    async fn foreign_counts(&self) -> BTreeMap<String, i64> {
        let system = self.system().await;
        let mut out = BTreeMap::new();
        for p in [&self.b, &self.c] {
            for t in &self.types {
                let r = self.raw(&system, Method::GET, &format!("Patient/{p}/{t}?_summary=count"), &Body::None, &[]).await;
                if r.status == 200 {
                    out.insert(format!("Patient/{p}/{t}"), r.json()["total"].as_i64().unwrap());
                }
            }
        }
        out
    }
}

fn excerpt<'a>(text: &'a str, needle: &str) -> &'a str {
    let at = text.find(needle).unwrap_or(0);
    let start = text[..at].char_indices().rev().nth(200).map_or(0, |(i, _)| i);
    let end = text[at..].char_indices().nth(200).map_or(text.len(), |(i, _)| at + i);
    &text[start..end]
}

async fn setup(url: String) -> (Fx, fhir_server::Running) {
    let running = fhir_server::start(ServeConfig { auth: AuthConfig::smart(), ..ServeConfig::local(&url) }).await.expect("server with auth");
    let pool = open(&url, Some(2)).await.unwrap();
    let backend_key = SigningKey::generate(Algorithm::ES384, now()).unwrap();
    register(&pool, "leak-app", ClientType::Public, true, "launch launch/patient openid fhirUser profile offline_access online_access patient/*.cruds", None, None).await;
    register(&pool, "loader", ClientType::ConfidentialAsymmetric, false, "system/*.cruds", Some(jwks_of(&[&backend_key])), None).await;
    let mut fx = Fx {
        browser: Browser::new(&running.base_url),
        backend_key,
        a: String::new(),
        b: String::new(),
        c: String::new(),
        foreign: BTreeSet::new(),
        forbidden: HashMap::new(),
        cross: BTreeSet::new(),
        types: BTreeSet::new(),
        ids: HashMap::new(),
        b_identifier: String::new(),
        b_family: String::new(),
        b_obs_code: String::new(),
        tokens: Vec::new(),
    };
    let system = fx.system().await;

    // The three Synthea patients, each a transaction: (type, id) of what each stored.
    let mut stored: Vec<Vec<(String, String)>> = Vec::new();
    for file in SYNTHEA {
        let bundle: Value = serde_json::from_str(&std::fs::read_to_string(corpora().join("synthea/fhir-r4").join(file)).unwrap()).unwrap();
        let r = fx.raw(&system, Method::POST, "", &Body::Json(bundle), &[]).await;
        assert_eq!(r.status, 200, "{file}: {}", &r.text[..r.text.len().min(2000)]);
        let made = r.json()["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let loc = e["response"]["location"].as_str().unwrap();
                let mut p = loc.trim_start_matches(&format!("{}/", fx.browser.base)).split('/');
                (p.next().unwrap().to_string(), p.next().unwrap().to_string())
            })
            .collect();
        stored.push(made);
    }
    let patient_of = |s: &Vec<(String, String)>| s.iter().find(|(t, _)| t == "Patient").unwrap().1.clone();
    let first_of = |s: &Vec<(String, String)>, ty: &str| s.iter().find(|(t, _)| t == ty).unwrap_or_else(|| panic!("no {ty}")).1.clone();
    fx.a = patient_of(&stored[0]);
    fx.b = patient_of(&stored[1]);
    fx.c = patient_of(&stored[2]);
    let (a, b, c) = (fx.a.clone(), fx.b.clone(), fx.c.clone());
    for (role, s, ty) in [("a_obs", 0, "Observation"), ("a_enc", 0, "Encounter"), ("b_obs", 1, "Observation"), ("b_enc", 1, "Encounter"), ("b_cond", 1, "Condition"), ("c_obs", 2, "Observation")] {
        fx.ids.insert(role, first_of(&stored[s], ty));
    }

    // Hand-made cross references. A's side names B's Observation and Encounter (so A sees those
    // ids); B's side points at A's data (so reverse links from A's data would find B's); a Group
    // has A and C as members; resources moved between the compartments; a contained resource.
    let marker = |what: &str| (what.to_string(), new_id());
    let markers: Vec<(String, String)> = ["b-mem", "b-report", "b-inner", "moved-in-v1", "moved-out", "b-list"].iter().map(|w| marker(w)).collect();
    let mk = |w: &str| markers.iter().find(|(k, _)| k == w).unwrap().1.clone();
    fx.ids.insert("m_b_inner", mk("b-inner"));
    for role in ["x_a_mem", "x_b_mem", "x_a_list", "x_b_list", "x_a_enc", "x_b_enc", "x_group", "x_b_report", "x_moved_out", "x_moved_in", "fhir_user"] {
        fx.ids.insert(role, new_id());
    }
    let id = |r: &str| fx.ids[r].clone();
    let code = |m: &str| json!({"coding": [{"system": "urn:leak", "code": m}]});
    let obs = |oid: String, patient: &str, m: &str, members: Vec<String>| {
        let mut o = json!({"resourceType": "Observation", "id": oid, "status": "final", "code": code(m), "subject": {"reference": format!("Patient/{patient}")}});
        if !members.is_empty() {
            o["hasMember"] = Value::Array(members.iter().map(|x| json!({"reference": format!("Observation/{x}")})).collect());
        }
        o
    };
    let list = |lid: String, patient: &str, items: Vec<String>, m: &str| {
        json!({"resourceType": "List", "id": lid, "status": "current", "mode": "working", "code": code(m), "subject": {"reference": format!("Patient/{patient}")},
            "entry": items.iter().map(|x| json!({"item": {"reference": format!("Observation/{x}")}})).collect::<Vec<_>>()})
    };
    let enc = |eid: String, patient: &str, part_of: String| {
        json!({"resourceType": "Encounter", "id": eid, "status": "finished", "class": {"code": "AMB"}, "subject": {"reference": format!("Patient/{patient}")}, "partOf": {"reference": format!("Encounter/{part_of}")}})
    };
    let hand_made = vec![
        obs(id("x_a_mem"), &a, "a-mem", vec![id("b_obs")]),
        obs(id("x_b_mem"), &b, &mk("b-mem"), vec![id("a_obs")]),
        list(id("x_a_list"), &a, vec![id("a_obs"), id("b_obs")], "a-list"),
        list(id("x_b_list"), &b, vec![id("a_obs")], &mk("b-list")),
        enc(id("x_a_enc"), &a, id("b_enc")),
        enc(id("x_b_enc"), &b, id("a_enc")),
        json!({"resourceType": "Group", "id": id("x_group"), "type": "person", "actual": true, "member": [{"entity": {"reference": format!("Patient/{a}")}}, {"entity": {"reference": format!("Patient/{c}")}}]}),
        json!({"resourceType": "DiagnosticReport", "id": id("x_b_report"), "status": "final", "code": code(&mk("b-report")), "subject": {"reference": format!("Patient/{b}")},
            "contained": [{"resourceType": "Observation", "id": mk("b-inner"), "status": "final", "code": code(&mk("b-inner"))}], "result": [{"reference": format!("#{}", mk("b-inner"))}]}),
        obs(id("x_moved_out"), &a, &mk("moved-out"), vec![]),
        obs(id("x_moved_in"), &b, &mk("moved-in-v1"), vec![]),
        json!({"resourceType": "Practitioner", "id": id("fhir_user"), "name": [{"family": "Leaktester"}]}),
    ];
    let tx = |resources: Vec<Value>| {
        json!({"resourceType": "Bundle", "type": "transaction", "entry": resources.into_iter().map(|r| {
            let url = format!("{}/{}", r["resourceType"].as_str().unwrap(), r["id"].as_str().unwrap());
            json!({"resource": r, "request": {"method": "PUT", "url": url}})
        }).collect::<Vec<_>>()})
    };
    let r = fx.raw(&system, Method::POST, "", &Body::Json(tx(hand_made)), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Moved: out of A's compartment into B's, and into A's from B's (its first version B's).
    let r = fx.raw(&system, Method::POST, "", &Body::Json(tx(vec![obs(id("x_moved_out"), &b, &mk("moved-out"), vec![]), obs(id("x_moved_in"), &a, "moved-in-v2", vec![])])), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // What is whose. Foreign: everything of B's and C's bundles, and B's hand-made resources.
    for s in &stored[1..] {
        fx.foreign.extend(s.iter().cloned());
    }
    for (t, role) in [("Observation", "x_b_mem"), ("List", "x_b_list"), ("Encounter", "x_b_enc"), ("DiagnosticReport", "x_b_report"), ("Observation", "x_moved_out")] {
        fx.foreign.insert((t.to_string(), id(role)));
    }
    let a_stored: BTreeSet<(String, String)> = stored[0].iter().cloned().collect();
    assert!(fx.foreign.is_disjoint(&a_stored));
    fx.types = stored.iter().flatten().map(|(t, _)| t.clone()).chain(["Group", "List", "DiagnosticReport"].map(String::from)).collect();

    // The others' UUIDs: their ids, and every UUID in their content (all versions: the moved
    // resources' B-side versions too), less what A's own data holds.
    let mut theirs: HashMap<String, String> = HashMap::new();
    for (t, i) in &fx.foreign {
        theirs.insert(i.clone(), format!("the id of {t}/{i}"));
        let r = fx.raw(&system, Method::GET, &format!("{t}/{i}/_history"), &Body::None, &[]).await;
        assert_eq!(r.status, 200);
        for u in uuids_in(&r.text) {
            theirs.entry(u.to_string()).or_insert_with(|| format!("in the content of {t}/{i}"));
        }
    }
    let v1 = fx.raw(&system, Method::GET, &format!("Observation/{}/_history/1", id("x_moved_in")), &Body::None, &[]).await;
    for u in uuids_in(&v1.text) {
        if u != fx.b && u != id("x_moved_in") {
            theirs.entry(u.to_string()).or_insert_with(|| "in the first version of a resource moved from B to A".into());
        }
    }
    assert!(theirs.contains_key(&mk("moved-in-v1")));
    theirs.insert(fx.b.clone(), format!("the id of Patient/{}", fx.b));
    // A's own data: the compartment as a backend sees it, the Group, the user's Practitioner.
    let mut mine = String::new();
    for t in &fx.types {
        let r = fx.raw(&system, Method::GET, &format!("Patient/{a}/{t}?_count=1000"), &Body::None, &[]).await;
        if r.status == 200 {
            mine.push_str(&r.text);
        }
    }
    for path in [format!("Patient/{a}"), format!("Practitioner/{}", id("fhir_user"))] {
        mine.push_str(&fx.raw(&system, Method::GET, &path, &Body::None, &[]).await.text);
    }
    assert!(mine.contains(&id("x_group")) && mine.contains(&id("x_moved_in")) && !mine.contains(&id("x_moved_out")), "the compartment of A as expected");
    let mine: HashSet<&str> = uuids_in(&mine).into_iter().collect();
    fx.cross = fx.foreign.iter().map(|(_, i)| i.clone()).filter(|i| mine.contains(i.as_str())).collect();
    assert_eq!(fx.cross, [id("b_obs"), id("b_enc"), c.clone()].into_iter().collect(), "A's data names B's Observation and Encounter, and C through the Group");
    fx.forbidden = theirs.into_iter().filter(|(u, _)| !mine.contains(u.as_str())).collect();
    assert!(fx.forbidden.len() > fx.foreign.len(), "{} forbidden strings for {} foreign resources", fx.forbidden.len(), fx.foreign.len());
    for m in ["b-mem", "b-report", "b-inner", "moved-in-v1", "moved-out", "b-list"] {
        assert!(fx.forbidden.contains_key(&mk(m)), "{m}");
    }

    // B's Patient and one of B's Observations, as a client that knew everything would query them.
    let bp = fx.raw(&system, Method::GET, &format!("Patient/{b}"), &Body::None, &[]).await.json();
    fx.b_identifier = bp["identifier"].as_array().unwrap().iter().filter_map(|i| i["value"].as_str()).find(|v| uuids_in(v).len() == 1 && v.len() == 36).unwrap().to_string();
    fx.b_family = bp["name"][0]["family"].as_str().unwrap().to_string();
    let bo = fx.raw(&system, Method::GET, &format!("Observation/{}", id("b_obs")), &Body::None, &[]).await.json();
    fx.b_obs_code = format!("{}|{}", bo["code"]["coding"][0]["system"].as_str().unwrap(), bo["code"]["coding"][0]["code"].as_str().unwrap());

    // A clinician signs in and picks A, through the pages; a second app asks what Inferno asks.
    users::add(&pool, "clinician", PASSWORD, Some(&format!("Practitioner/{}", id("fhir_user")))).await.unwrap();
    let public = ClientAuth::Public("leak-app");
    let mut cruds = Authz::new("leak-app", "launch/patient patient/*.cruds");
    cruds.pick = Some(a.clone());
    let t = fx.browser.tokens(&public, &cruds).await;
    assert_eq!(t["patient"], a.as_str());
    assert_eq!(scopes_of(&t), sorted("launch/patient patient/*.cruds"));
    fx.tokens.push(("patient/*.cruds", t["access_token"].as_str().unwrap().to_string()));
    let mut rs = Authz::new("leak-app", "launch/patient openid fhirUser patient/*.rs offline_access");
    rs.pick = Some(a.clone());
    let t = fx.browser.tokens(&public, &rs).await;
    assert_eq!(t["patient"], a.as_str());
    fx.tokens.push(("launch/patient openid fhirUser patient/*.rs offline_access", t["access_token"].as_str().unwrap().to_string()));
    let refreshed = fx.browser.token(&public, &[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())]).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    assert_eq!(refreshed.json()["patient"], a.as_str());
    fx.tokens.push(("the same, refreshed", refreshed.json()["access_token"].as_str().unwrap().to_string()));
    (fx, running)
}

/// Reads, vreads and histories of every resource of the others.
async fn reads(fx: &Fx) {
    let versions = fx.foreign_versions().await;
    let variants = |t: &str, id: &str, v: &str| {
        [format!("{t}/{id}"), format!("{t}/{id}/_history/{v}"), format!("{t}/{id}/_history/1"), format!("{t}/{id}/_history"), format!("{t}/{id}?_pretty=true"), format!("{t}/{id}?_summary=true")]
    };
    for (label, token) in &fx.tokens {
        let token = token.as_str();
        // Each way of reading works on A's own data: the refusals below are the grant's.
        for path in variants("Observation", fx.id("a_obs"), "1") {
            let r = fx.get(token, &path).await;
            assert_eq!(r.status, 200, "{label} {path}: {}", r.text);
        }
        let refused: Vec<String> = futures::stream::iter(versions.iter())
            .map(|((t, id), v)| async move {
                let mut out = Vec::new();
                for path in variants(t, id, v) {
                    let r = fx.get(token, &path).await;
                    if !matches!(r.status, 403 | 404) {
                        out.push(format!("{path}: {}", r.status));
                    }
                }
                out
            })
            .buffer_unordered(16)
            .flat_map(futures::stream::iter)
            .collect()
            .await;
        assert!(refused.is_empty(), "{label}: answered {refused:?}");
        // A's own data answers: the probes can fail.
        assert_eq!(fx.get(token, &format!("Patient/{}", fx.a)).await.status, 200, "{label}");
        assert_eq!(fx.get(token, &format!("Observation/{}", fx.id("a_obs"))).await.status, 200, "{label}");
        let moved = fx.get(token, &format!("Observation/{}/_history", fx.id("x_moved_in"))).await;
        assert_eq!(moved.json()["entry"].as_array().unwrap().len(), 1, "{label}: only the version in A's compartment");
        assert_eq!(fx.get(token, &format!("Observation/{}/_history/1", fx.id("x_moved_in"))).await.status, 404, "{label}");
    }
    // The fhirUser scope reads the user's own Practitioner, and no other.
    let rs = &fx.tokens[1].1;
    assert_eq!(fx.get(rs, &format!("Practitioner/{}", fx.id("fhir_user"))).await.status, 200);
    assert_eq!(fx.get(&fx.tokens[0].1, &format!("Practitioner/{}", fx.id("fhir_user"))).await.status, 403, "no fhirUser scope");
}

/// Every search feature, by type, system, compartment and POST, with A's tokens.
async fn searches(fx: &Fx) {
    let (a, b, c) = (&fx.a, &fx.b, &fx.c);
    let (b_obs, b_enc, a_obs, a_enc) = (fx.id("b_obs"), fx.id("b_enc"), fx.id("a_obs"), fx.id("a_enc"));
    let foreign_of = |ty: &str| fx.foreign.iter().filter(|(t, _)| t == ty).map(|(_, i)| i.as_str()).collect::<Vec<_>>().join(",");
    let mut queries: Vec<String> = Vec::new();
    for t in &fx.types {
        if !foreign_of(t).is_empty() {
            queries.push(format!("{t}?_id={}", foreign_of(t)));
        }
        queries.extend([
            format!("{t}?_count=1000"),
            format!("{t}?_lastUpdated=gt2000-01-01&_count=1000"),
            format!("{t}?_count=1000&_sort=-_lastUpdated"),
            format!("{t}?_count=1000&_include={t}:*"),
            format!("{t}?_count=1000&_revinclude=*"),
            format!("{t}/_history?_count=1000"),
            format!("Patient/{b}/{t}?_count=1000"),
            format!("Patient/{c}/{t}?_count=1000"),
            format!("{t}?_count=1000&_elements=id"),
            format!("{t}?_summary=true&_count=1000"),
            format!("{t}?_count=1000&_pretty=true"),
        ]);
        for p in ["patient", "subject"] {
            queries.push(format!("{t}?{p}=Patient/{b}&_count=1000"));
            queries.push(format!("{t}?{p}:Patient.family={}&_count=1000", fx.b_family));
        }
    }
    let b_family = &fx.b_family;
    let b_ident = &fx.b_identifier;
    let code = &fx.b_obs_code;
    let enc_b = format!("Encounter/{b_enc}");
    queries.extend([
        // Values only B's data has.
        format!("Patient?_id={b}"),
        format!("Patient?family={b_family}"),
        format!("Patient?identifier={b_ident}"),
        format!("Observation?code={code}&_count=1000"),
        format!("Observation?code={code}&subject=Patient/{b}"),
        "Observation?status:not=amended&_count=1000".to_string(),
        format!("Observation?code:not={code}&_count=1000"),
        format!("Observation?subject:missing=false&_count=1000"),
        format!("Observation?encounter={enc_b}"),
        format!("Condition?_id={}", fx.id("b_cond")),
        // Chains, through B's Patient, Encounter and Observations.
        format!("Observation?subject:Patient.identifier={b_ident}"),
        format!("Observation?subject.name={b_family}"),
        format!("Observation?encounter.subject=Patient/{b}"),
        format!("Observation?encounter:Encounter.subject:Patient.family={b_family}"),
        format!("Observation?has-member.subject=Patient/{b}"),
        format!("Observation?has-member:Observation.code={code}"),
        format!("Encounter?part-of.subject=Patient/{b}"),
        format!("Encounter?part-of:Encounter._id={b_enc}"),
        format!("DiagnosticReport?result.subject=Patient/{b}"),
        format!("List?item:Observation.subject=Patient/{b}"),
        format!("Group?member:Patient.family={b_family}"),
        // _has from B's data into A's and into B's.
        format!("Patient?_has:Observation:subject:_id={b_obs}"),
        format!("Patient?_has:Encounter:subject:_id={b_enc}"),
        format!("Patient?_has:Observation:subject:code={code}"),
        format!("Encounter?_has:Observation:encounter:subject=Patient/{b}"),
        format!("Observation?_has:Observation:has-member:subject=Patient/{b}"),
        format!("Observation?_has:Observation:has-member:_id={}", fx.id("x_b_mem")),
        format!("Observation?_has:List:item:subject=Patient/{b}"),
        format!("Encounter?_has:Encounter:part-of:subject=Patient/{b}"),
        format!("Patient?_has:Observation:subject:_has:Observation:has-member:subject=Patient/{b}"),
        format!("Observation?_filter=subject%20eq%20Patient/{b}"),
        format!("Practitioner?_has:Encounter:participant:subject=Patient/{b}"),
        // _include / _revinclude, :iterate and *, from A's data that names B's and that B's names.
        format!("Observation?_id={}&_include=Observation:has-member", fx.id("x_a_mem")),
        format!("Observation?_id={}&_include=Observation:has-member&_include:iterate=Observation:subject&_include:iterate=Observation:encounter", fx.id("x_a_mem")),
        format!("Observation?_id={}&_include=Observation:*&_include:iterate=*", fx.id("x_a_mem")),
        format!("List?_id={}&_include=List:item&_include:iterate=Observation:subject", fx.id("x_a_list")),
        format!("Encounter?_id={}&_include=Encounter:part-of&_include:iterate=Encounter:subject", fx.id("x_a_enc")),
        format!("Group?_id={}&_include=Group:member", fx.id("x_group")),
        format!("Observation?_id={a_obs}&_revinclude=Observation:has-member&_revinclude=List:item&_revinclude:iterate=Observation:subject"),
        format!("Observation?_id={a_obs}&_revinclude=*"),
        format!("Encounter?_id={a_enc}&_revinclude=Encounter:part-of&_revinclude:iterate=Observation:encounter"),
        format!("Patient?_id={a}&_revinclude=Observation:subject&_revinclude:iterate=Observation:has-member&_revinclude:iterate=List:item"),
        format!("Patient?_id={a}&_revinclude=Group:member&_include:iterate=Group:member"),
        format!("Patient?_id={a}&_revinclude:iterate=*&_revinclude=*"),
        // System searches, with and without _type.
        format!("?_id={b}"),
        format!("?_id={b_obs},{b_enc},{}", fx.id("x_b_report")),
        "?_count=1000".to_string(),
        format!("?_type={}&_count=1000", fx.types.iter().filter(|t| *t != "Organization" && *t != "Practitioner").cloned().collect::<Vec<_>>().join(",")),
        format!("?_type=Observation,Encounter&subject=Patient/{b}"),
        format!("?_type=Observation&_has:Observation:has-member:subject=Patient/{b}"),
        "?_type=Organization,Practitioner".to_string(),
        // Compartments of B's Encounter, of the others, of types that are not compartments.
        format!("Encounter/{b_enc}/Observation"),
        format!("Patient/{b}/*"),
        format!("Practitioner/{}/Encounter", fx.foreign.iter().find(|(t, _)| t == "Practitioner").unwrap().1),
        // Counts, elements, sorts, contained, lists, history.
        format!("Observation?subject=Patient/{b}&_total=accurate"),
        format!("Observation?_contained=true&code=urn:leak|{}", fx.id("m_b_inner")),
        format!("DiagnosticReport?result.code=urn:leak|{}", fx.id("m_b_inner")),
        format!("Observation?_contained=both&_containedType=contained&_count=1000"),
        format!("Observation?_list={}", fx.id("x_b_list")),
        format!("Observation?_list={}", fx.id("x_a_list")),
        "_history?_count=1000".to_string(),
        "_history?_count=1000&_since=2000-01-01T00:00:00Z".to_string(),
        "_history?_at=2024".to_string(),
        "$reindex".to_string(),
    ]);
    for (label, token) in &fx.tokens {
        let token = token.as_str();
        let statuses: Vec<(String, u16)> = futures::stream::iter(queries.iter())
            .map(|q| async move { (q.clone(), fx.get(token, q).await.status) })
            .buffer_unordered(8)
            .collect()
            .await;
        let odd: Vec<&(String, u16)> = statuses.iter().filter(|(_, s)| !matches!(s, 200 | 400 | 403 | 404)).collect();
        assert!(odd.is_empty(), "{label}: {odd:?}");
        // Searches that only B's data could answer find nothing; those that could reach B's data
        // through A's own find only A's.
        for q in [
            format!("Patient?_id={b}"),
            format!("Patient?family={b_family}"),
            format!("Patient?identifier={b_ident}"),
            format!("Observation?code={code}&subject=Patient/{b}"),
            format!("Observation?subject.name={b_family}"),
            format!("Observation?has-member.subject=Patient/{b}"),
            format!("Encounter?part-of.subject=Patient/{b}"),
            format!("Patient?_has:Observation:subject:_id={b_obs}"),
            format!("Observation?_has:Observation:has-member:_id={}", fx.id("x_b_mem")),
            format!("Encounter?_has:Encounter:part-of:subject=Patient/{b}"),
            format!("Patient/{b}/Observation"),
            format!("Encounter/{b_enc}/Observation"),
            format!("?_id={b}"),
        ] {
            let r = fx.get(token, &q).await;
            assert_eq!(r.status, 200, "{label} {q}: {}", r.text);
            assert!(entry_ids(&r.json()).is_empty(), "{label} {q}: {:?}", entry_ids(&r.json()));
        }
        // _include from A's Observation naming B's: only A's own come back.
        let included = entry_ids(&fx.get(token, &format!("Observation?_id={}&_include=Observation:has-member", fx.id("x_a_mem"))).await.json());
        assert_eq!(included, [format!("Observation/{}", fx.id("x_a_mem"))].into_iter().collect(), "{label}");
        // Counts and paging see A's data only.
        let system = fx.system().await;
        let mine = fx.raw(&system, Method::GET, &format!("Patient/{a}/Observation?_count=1000"), &Body::None, &[]).await.json();
        let mine = entry_ids(&mine);
        assert!(mine.len() > 40, "A's Observations: {}", mine.len());
        let total = |q: String| async move { fx.get(token, &q).await.json()["total"].as_u64() };
        assert_eq!(total("Observation?_total=accurate&_count=1".into()).await, Some(mine.len() as u64), "{label}");
        assert_eq!(total("Observation?_summary=count".into()).await, Some(mine.len() as u64), "{label}");
        assert_eq!(total("?_type=Observation&_summary=count".into()).await, Some(mine.len() as u64), "{label}");
        let posted = fx.probe(token, Method::POST, "Observation/_search", Body::Form(format!("subject=Patient/{b}&_total=accurate")), &[]).await;
        assert_eq!(posted.json()["total"], 0, "{label}");
        let posted = fx.probe(token, Method::POST, "_search", Body::Form("_type=Observation&_count=1000&_sort=-date".into()), &[]).await;
        assert_eq!(entry_ids(&posted.json()), mine, "{label}: POST _search");
        assert_eq!(entry_ids(&fx.get(token, "Observation?_count=1000&_sort=-date&_elements=code,subject").await.json()), mine, "{label}");
        let mut paged = BTreeSet::new();
        let mut next = Some("Observation?_count=7&_sort=date".to_string());
        let mut pages = 0;
        while let Some(url) = next {
            let page = fx.get(token, &url).await.json();
            paged.extend(entry_ids(&page));
            next = page["link"].as_array().unwrap().iter().find(|l| l["relation"] == "next").map(|l| l["url"].as_str().unwrap().to_string());
            pages += 1;
        }
        assert!(pages > 5);
        assert_eq!(paged, mine, "{label}: paging");
        let mut history = 0;
        let mut next = Some("_history?_count=25".to_string());
        while let Some(url) = next {
            let page = fx.get(token, &url).await.json();
            history += page["entry"].as_array().map_or(0, Vec::len);
            next = page["link"].as_array().unwrap().iter().find(|l| l["relation"] == "next").map(|l| l["url"].as_str().unwrap().to_string());
        }
        assert!(history > mine.len(), "{label}: A's history is walked ({history})");
    }
    // What a leak would have returned: the same queries under a backend token find B's data.
    let system = fx.system().await;
    let all = entry_ids(&fx.raw(&system, Method::GET, &format!("Observation?_id={}&_include=Observation:has-member", fx.id("x_a_mem")), &Body::None, &[]).await.json());
    assert!(all.contains(&format!("Observation/{b_obs}")));
    let has = entry_ids(&fx.raw(&system, Method::GET, &format!("Observation?_has:Observation:has-member:_id={}", fx.id("x_b_mem")), &Body::None, &[]).await.json());
    assert!(has.contains(&format!("Observation/{a_obs}")));
}

/// A clean Observation of A's (its code says which write made it).
fn a_obs(fx: &Fx, what: &str) -> Value {
    json!({"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": "urn:leak-write", "code": what}]}, "subject": {"reference": format!("Patient/{}", fx.a)}})
}

/// Updates, patches, deletes, conditional writes, transactions and batches aimed at the others'
/// data; then nothing of theirs has changed.
async fn writes(fx: &Fx) {
    let (b, a) = (&fx.b, &fx.a);
    let b_obs = fx.id("b_obs");
    let versions = fx.foreign_versions().await;
    let counts = fx.foreign_counts().await;
    let system = fx.system().await;
    let cruds = fx.tokens[0].1.as_str();
    let rs = fx.tokens[1].1.as_str();
    // Every resource of theirs: updated (with its content moved to A, as if A knew it), patched, deleted.
    let odd: Vec<String> = futures::stream::iter(versions.keys())
        .map(|(t, id)| {
            let system = system.clone();
            async move {
                let content = fx.raw(&system, Method::GET, &format!("{t}/{id}"), &Body::None, &[]).await.text.replace(b.as_str(), a.as_str()).replace(fx.c.as_str(), a.as_str());
                let mut content: Value = serde_json::from_str(&content).unwrap();
                content["id"] = json!(id);
                let path = format!("{t}/{id}");
                let mut out = Vec::new();
                for (token, expected) in [(cruds, [403, 404]), (rs, [403, 403])] {
                    let r = fx.probe(token, Method::PUT, &path, Body::Json(content.clone()), &[]).await;
                    if !expected.contains(&r.status) {
                        out.push(format!("PUT {path}: {}", r.status));
                    }
                    let r = fx.probe(token, Method::PUT, &path, Body::Json(content.clone()), &[("if-match", "W/\"1\"")]).await;
                    if !expected.contains(&r.status) {
                        out.push(format!("PUT If-Match {path}: {}", r.status));
                    }
                    let r = fx.probe(token, Method::PATCH, &path, Body::JsonPatch(json!([{"op": "add", "path": "/language", "value": "en"}])), &[]).await;
                    if !expected.contains(&r.status) {
                        out.push(format!("PATCH {path}: {}", r.status));
                    }
                    let r = fx.probe(token, Method::DELETE, &path, Body::None, &[]).await;
                    if !matches!(r.status, 204 | 403) {
                        out.push(format!("DELETE {path}: {}", r.status));
                    }
                }
                out
            }
        })
        .buffer_unordered(8)
        .flat_map(futures::stream::iter)
        .collect()
        .await;
    assert!(odd.is_empty(), "{odd:?}");
    // A FHIRPath Patch, and update-as-create into B's compartment.
    let fhirpath = json!({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Observation.status"}, {"name": "value", "valueCode": "cancelled"}]}]});
    assert_eq!(fx.probe(cruds, Method::PATCH, &format!("Observation/{b_obs}"), Body::Json(fhirpath.clone()), &[]).await.status, 404);
    let fresh = new_id();
    let mut into_b = a_obs(fx, "update-as-create");
    into_b["id"] = json!(fresh);
    into_b["subject"] = json!({"reference": format!("Patient/{b}")});
    assert!(matches!(fx.probe(cruds, Method::PUT, &format!("Observation/{fresh}"), Body::Json(into_b.clone()), &[]).await.status, 403 | 404));
    into_b.as_object_mut().unwrap().remove("id");
    assert_eq!(fx.probe(cruds, Method::POST, "Observation", Body::Json(into_b.clone()), &[]).await.status, 403);
    assert_eq!(fx.probe(rs, Method::POST, "Observation", Body::Json(a_obs(fx, "rs-create")), &[]).await.status, 403);

    // Conditional writes whose criteria match only the others' data: creates of A's own, or nothing.
    let created = |r: &Resp| -> String {
        assert_eq!(r.status, 201, "{}", r.text);
        r.json()["id"].as_str().unwrap().to_string()
    };
    for criteria in [format!("_id={b_obs}"), format!("subject=Patient/{b}"), format!("code={}&subject=Patient/{b}", fx.b_obs_code)] {
        let id = created(&fx.probe(cruds, Method::PUT, &format!("Observation?{criteria}"), Body::Json(a_obs(fx, "conditional-update")), &[]).await);
        assert!(!fx.foreign.contains(&("Observation".into(), id)));
        let id = created(&fx.probe(cruds, Method::POST, "Observation", Body::Json(a_obs(fx, "if-none-exist")), &[("if-none-exist", &criteria)]).await);
        assert!(!fx.foreign.contains(&("Observation".into(), id)));
        assert_eq!(fx.probe(cruds, Method::PATCH, &format!("Observation?{criteria}"), Body::JsonPatch(json!([{"op": "add", "path": "/language", "value": "en"}])), &[]).await.status, 404);
        assert_eq!(fx.probe(cruds, Method::PATCH, &format!("Observation?{criteria}"), Body::Json(fhirpath.clone()), &[]).await.status, 404);
        assert_eq!(fx.probe(cruds, Method::DELETE, &format!("Observation?{criteria}"), Body::None, &[]).await.status, 204);
    }
    for (t, criteria) in [("Patient", format!("_id={b}")), ("Patient", format!("identifier={}", fx.b_identifier)), ("Encounter", format!("subject=Patient/{b}")), ("Condition", format!("patient={b}"))] {
        assert_eq!(fx.probe(cruds, Method::DELETE, &format!("{t}?{criteria}"), Body::None, &[]).await.status, 204, "{t}?{criteria}");
        assert_eq!(fx.probe(cruds, Method::PATCH, &format!("{t}?{criteria}"), Body::JsonPatch(json!([{"op": "add", "path": "/language", "value": "en"}])), &[]).await.status, 404);
    }
    // A new Patient is not A: refused, and so is the conditional update that would make one.
    let r = fx.probe(cruds, Method::PUT, &format!("Patient?identifier={}", fx.b_identifier), Body::Json(json!({"resourceType": "Patient", "name": [{"family": "Other"}]})), &[]).await;
    assert_eq!(r.status, 403, "{}", r.text);

    // Transactions: A's create beside one entry touching the others' data.
    let b_content: Value = serde_json::from_str(&fx.raw(&system, Method::GET, &format!("Observation/{b_obs}"), &Body::None, &[]).await.text.replace(b.as_str(), a.as_str())).unwrap();
    let patch_binary = json!({"resourceType": "Binary", "contentType": "application/json-patch+json",
        "data": base64_of(&json!([{"op": "add", "path": "/language", "value": "en"}]).to_string())});
    let mut by_b_identifier = a_obs(fx, "conditional-reference");
    by_b_identifier["subject"] = json!({"reference": format!("Patient?identifier={}", fx.b_identifier)});
    let touching: Vec<(&str, Value)> = vec![
        ("PUT B's", json!({"resource": b_content, "request": {"method": "PUT", "url": format!("Observation/{b_obs}")}})),
        ("PATCH B's", json!({"resource": patch_binary.clone(), "request": {"method": "PATCH", "url": format!("Observation/{b_obs}")}})),
        ("FHIRPath PATCH B's", json!({"resource": fhirpath, "request": {"method": "PATCH", "url": format!("Observation/{b_obs}")}})),
        ("DELETE B's", json!({"request": {"method": "DELETE", "url": format!("Observation/{b_obs}")}})),
        ("GET B's", json!({"request": {"method": "GET", "url": format!("Observation/{b_obs}")}})),
        ("vread B's", json!({"request": {"method": "GET", "url": format!("Observation/{b_obs}/_history/1")}})),
        ("GET B's Patient", json!({"request": {"method": "GET", "url": format!("Patient/{b}")}})),
        ("search B's", json!({"request": {"method": "GET", "url": format!("Observation?subject=Patient/{b}")}})),
        ("search through B's", json!({"request": {"method": "GET", "url": format!("Observation?_has:Observation:has-member:_id={}", fx.id("x_b_mem"))}})),
        ("If-None-Exist on B's", json!({"resource": a_obs(fx, "tx-ine"), "request": {"method": "POST", "url": "Observation", "ifNoneExist": format!("_id={b_obs}")}})),
        ("conditional PUT on B's", json!({"resource": a_obs(fx, "tx-cu"), "request": {"method": "PUT", "url": format!("Observation?_id={b_obs}")}})),
        ("conditional PATCH on B's", json!({"resource": patch_binary.clone(), "request": {"method": "PATCH", "url": format!("Observation?subject=Patient/{b}")}})),
        ("conditional DELETE on B's", json!({"request": {"method": "DELETE", "url": format!("Observation?subject=Patient/{b}")}})),
        ("conditional reference to B", json!({"resource": by_b_identifier, "request": {"method": "POST", "url": "Observation"}})),
        ("create for B", json!({"resource": into_b, "request": {"method": "POST", "url": "Observation"}})),
        ("Practitioner of theirs", json!({"request": {"method": "GET", "url": format!("Practitioner/{}", fx.foreign.iter().find(|(t, _)| t == "Practitioner").unwrap().1)}})),
    ];
    for (what, entry) in &touching {
        let marker = new_id();
        let tx = json!({"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": a_obs(fx, &marker), "request": {"method": "POST", "url": "Observation"}}, entry]});
        let r = fx.probe(cruds, Method::POST, "", Body::Json(tx), &[]).await;
        assert!(matches!(r.status, 200 | 400 | 403 | 404 | 412), "{what}: {} {}", r.status, r.text);
        let written = fx.raw(&system, Method::GET, &format!("Observation?code=urn:leak-write|{marker}&_summary=count"), &Body::None, &[]).await.json()["total"].as_i64();
        assert_eq!(written, Some(if r.status == 200 { 1 } else { 0 }), "{what}: all or nothing");
        if r.status == 200 {
            // What the entry answered holds nothing of B's (checked above) and no read of B's succeeded.
            let answer = &r.json()["entry"][1];
            assert!(!(what.starts_with("GET") || what.starts_with("vread")), "{what}: {answer}");
            if what.starts_with("search") {
                assert!(entry_ids(&answer["resource"]).is_empty(), "{what}: {answer}");
            }
        }
        let as_rs = fx.probe(rs, Method::POST, "", Body::Json(json!({"resourceType": "Bundle", "type": "transaction", "entry": [entry]})), &[]).await;
        assert!(matches!(as_rs.status, 200 | 403 | 404), "{what} (rs): {}", as_rs.status);
    }
    // The same entries as one batch: each answered on its own.
    let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": touching.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>()});
    let r = fx.probe(cruds, Method::POST, "", Body::Json(batch), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let out = r.json();
    for (i, (what, _)) in touching.iter().enumerate() {
        let status = out["entry"][i]["response"]["status"].as_str().unwrap()[..3].to_string();
        let read = what.starts_with("GET B") || what.starts_with("vread") || what.starts_with("Practitioner");
        assert!(!read || status != "200", "{what}: {status}");
        if what.starts_with("search") {
            assert!(entry_ids(&out["entry"][i]["resource"]).is_empty(), "{what}");
        }
    }
    // $reindex rewrites everything: not for A.
    for (_, token) in &fx.tokens {
        assert_eq!(fx.probe(token, Method::POST, "$reindex", Body::None, &[]).await.status, 403);
        assert_eq!(fx.get(token, "$reindex").await.status, 403);
    }

    // Nothing of theirs changed, nothing was added to their compartments.
    assert_eq!(fx.foreign_versions().await, versions, "a version of the others' data changed");
    assert_eq!(fx.foreign_counts().await, counts, "the others' compartments changed");
    // A's own writes went through: the checks above could have seen them.
    let made = fx.raw(&system, Method::GET, "Observation?code=urn:leak-write|conditional-update&_summary=count", &Body::None, &[]).await.json();
    assert_eq!(made["total"], 3);
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

async fn a_patient_token_from_a_real_flow_reaches_none_of_the_others_data(backend: Backend) {
    let Some(url) = fresh_database(backend) else { return };
    let (tx, rx) = std::sync::mpsc::channel();
    // The server runs on a runtime of its own, as a deployed one would.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let (fx, running) = setup(url).await;
            tx.send(Arc::new(fx)).unwrap();
            let _ = running.task.await;
        });
    });
    let started = std::time::Instant::now();
    let fx = tokio::task::spawn_blocking(move || rx.recv().expect("fixture thread")).await.unwrap();
    eprintln!("{backend:?}: set up in {:?}", started.elapsed());
    reads(&fx).await;
    eprintln!("{backend:?}: reads done at {:?}", started.elapsed());
    searches(&fx).await;
    eprintln!("{backend:?}: searches done at {:?}", started.elapsed());
    writes(&fx).await;
    eprintln!("{backend:?}: writes done at {:?}", started.elapsed());
}

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_patient_token_from_a_real_flow_reaches_none_of_the_others_data() {
        super::a_patient_token_from_a_real_flow_reaches_none_of_the_others_data(conformance_tests::Backend::Sqlite).await;
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_patient_token_from_a_real_flow_reaches_none_of_the_others_data() {
        super::a_patient_token_from_a_real_flow_reaches_none_of_the_others_data(conformance_tests::Backend::Postgres).await;
    }
}

/// The scanner finds what it must: a UUID anywhere, nothing that is not one.
#[test]
fn uuids_are_found_in_any_text() {
    let u = "3bd5eda0-16da-3ba5-8500-4dfd6ae118b8";
    assert_eq!(uuids_in(&format!("Patient%2F{u}?x")), [u]);
    assert_eq!(uuids_in(&format!("\"reference\":\"Observation/{u}/_history/1\"")), [u]);
    assert_eq!(uuids_in(&format!("{u}{u}")), [u, u]);
    assert!(uuids_in(&u.replace('-', "")).is_empty());
    assert!(uuids_in(&u[1..]).is_empty());
}

//! Issue 5, enforcement: what an access token grants holds in every interaction. A server with a
//! test authenticator (bearer strings naming fixed scope sets) runs on both backends; each case
//! loads its own two patients A and B with their data, then tries with A's `patient/` token every
//! interaction and search feature against B's data and must receive none of it, while A's own
//! data stays fully visible. Every check names the ids that must (not) come back, and the same
//! query under an unrestricted token shows what a leak would have returned.

use conformance_tests::{entry_ids, fresh_database, unique, Backend, Fhir, Reply, Target};
use fhir_server::access::{Authenticate, TokenAccess};
use fhir_server::error::FhirError;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

/// Bearer tokens are `name` or `name@patient-id`; the name picks the scopes.
struct TestTokens;

fn scopes_of(name: &str) -> Option<&'static str> {
    Some(match name {
        "patient-rs" => "launch/patient openid patient/*.rs",
        "patient-v1" => "patient/*.read",
        "patient-cruds" => "patient/*.cruds",
        "patient-lab" => "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory patient/Patient.rs",
        "patient-create-obs" => "patient/Observation.c",
        "user-obs" => "user/Observation.rs",
        "system-all" => "system/*.cruds",
        _ => return None,
    })
}

#[async_trait::async_trait]
impl Authenticate for TestTokens {
    async fn authenticate(&self, headers: &reqwest::header::HeaderMap) -> Result<TokenAccess, FhirError> {
        let token = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.split_once(' ')).map(|(_, t)| t).unwrap_or("");
        let (name, patient) = match token.split_once('@') {
            Some((n, p)) => (n, Some(p.to_string())),
            None => (token, None),
        };
        let scope = scopes_of(name).ok_or_else(|| FhirError::unauthorized("the access token is unknown or expired"))?;
        let scopes = smart_scopes::parse_scopes(scope).expect("test scopes parse");
        Ok(TokenAccess {
            grant: smart_scopes::Grant::new(&scopes),
            scope: scope.to_string(),
            client_id: "authorization-test".into(),
            subject: None,
            patient,
            encounter: None,
            fhir_user: None,
        })
    }
}

fn start(database_url: String) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        rt.block_on(async move {
            let cfg = fhir_server::ServeConfig { authenticator: Some(Arc::new(TestTokens)), ..fhir_server::ServeConfig::local(&database_url) };
            match fhir_server::start(cfg).await {
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

/// Our server with authorization on, one per backend and test process (None: skipped).
fn server(backend: Backend) -> Option<Fhir> {
    static SQLITE: OnceLock<Option<String>> = OnceLock::new();
    static PG: OnceLock<Option<String>> = OnceLock::new();
    let cell = match backend {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &PG,
    };
    let base = cell.get_or_init(|| fresh_database(backend).map(start)).clone()?;
    let name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    Some(Fhir::new(&Target { base, name, database_url: None }))
}

macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(f) = super::server(conformance_tests::Backend::Sqlite) {
                        super::$case(&f).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(f) = super::server(conformance_tests::Backend::Postgres) {
                        super::$case(&f).await;
                    }
                }
            )*
        }
    };
}

const SYSTEM: &str = "system-all";
const CAT: &str = "http://terminology.hl7.org/CodeSystem/observation-category";

async fn call(f: &Fhir, token: Option<&str>, method: Method, path: &str, body: Option<&Value>, extra: &[(&str, &str)]) -> Reply {
    // A system-level search (`?params`) goes to the base itself, not below it.
    let system;
    let path = if path.starts_with('?') {
        system = format!("{}{path}", f.base);
        system.as_str()
    } else {
        path
    };
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = extra.to_vec();
    if let Some(a) = &auth {
        headers.push(("authorization", a));
    }
    f.send(method, path, body, &headers).await
}

async fn get(f: &Fhir, token: &str, path: &str) -> Reply {
    call(f, Some(token), Method::GET, path, None, &[]).await
}

async fn put(f: &Fhir, token: &str, path: &str, body: &Value) -> Reply {
    call(f, Some(token), Method::PUT, path, Some(body), &[]).await
}

async fn post(f: &Fhir, token: &str, path: &str, body: &Value) -> Reply {
    call(f, Some(token), Method::POST, path, Some(body), &[]).await
}

async fn delete(f: &Fhir, token: &str, path: &str) -> Reply {
    call(f, Some(token), Method::DELETE, path, None, &[]).await
}

async fn json_patch(f: &Fhir, token: &str, path: &str, ops: &Value) -> Reply {
    let auth = format!("Bearer {token}");
    let r = f.http.patch(f.url(path)).header("authorization", auth).header("content-type", "application/json-patch+json").body(ops.to_string()).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    Reply { status, headers, text: r.text().await.unwrap() }
}

async fn form_search(f: &Fhir, token: &str, path: &str, form: &str) -> Reply {
    let auth = format!("Bearer {token}");
    let r = f.http.post(f.url(path)).header("authorization", auth).header("content-type", "application/x-www-form-urlencoded").body(form.to_string()).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    Reply { status, headers, text: r.text().await.unwrap() }
}


/// (mode, `Type/id`) of every entry of a searchset.
fn modes(bundle: &Value) -> BTreeSet<(String, String)> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| (e["search"]["mode"].as_str().unwrap_or("?").to_string(), format!("{}/{}", e["resource"]["resourceType"].as_str().unwrap(), e["resource"]["id"].as_str().unwrap())))
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

async fn found(f: &Fhir, token: &str, query: &str) -> BTreeSet<String> {
    entry_ids(&get(f, token, query).await.expect(200).json())
}

fn issue_code(r: &Reply) -> String {
    r.json()["issue"][0]["code"].as_str().unwrap_or("").to_string()
}

/// Two patients and their data; `a(...)`/`b(...)` give the ids of A's and B's resources.
struct World {
    u: String,
}

impl World {
    fn id(&self, role: &str) -> String {
        format!("{role}-{}", self.u)
    }
    fn r(&self, t: &str, role: &str) -> String {
        format!("{t}/{}", self.id(role))
    }
    /// A's `patient/*.rs` token.
    fn a_rs(&self) -> String {
        format!("patient-rs@{}", self.id("pa"))
    }
    fn a(&self, name: &str) -> String {
        format!("{name}@{}", self.id("pa"))
    }
    fn code(&self, c: &str) -> String {
        format!("urn:authz|{c}-{}", self.u)
    }
    fn tag(&self) -> String {
        format!("_tag=urn:authz|{}", self.u)
    }
    /// Every resource of A's compartment, as loaded.
    fn a_all(&self) -> BTreeSet<String> {
        set(&[&self.r("Patient", "pa"), &self.r("Encounter", "ea"), &self.r("Observation", "oa-lab"), &self.r("Observation", "oa-vit"), &self.r("Observation", "oa-mem"), &self.r("Condition", "ca"), &self.r("MedicationRequest", "ma")])
    }
    fn a_obs(&self) -> BTreeSet<String> {
        set(&[&self.r("Observation", "oa-lab"), &self.r("Observation", "oa-vit"), &self.r("Observation", "oa-mem")])
    }
    fn b_obs(&self) -> BTreeSet<String> {
        set(&[&self.r("Observation", "ob-lab"), &self.r("Observation", "ob-vit")])
    }
    /// An Observation of `patient` (a role) with a code of this world.
    fn obs(&self, patient: &str, code: &str) -> Value {
        json!({"resourceType": "Observation", "status": "final", "meta": {"tag": [{"system": "urn:authz", "code": self.u}]},
            "code": {"coding": [{"system": "urn:authz", "code": format!("{code}-{}", self.u)}]}, "subject": {"reference": self.r("Patient", patient)}})
    }
}

/// Loads A and B: Patients, Encounters, Observations (laboratory and vital signs; A's `oa-mem` has
/// B's `ob-lab` as a member and B's `ob-lab` has A's `oa-vit`), Conditions, MedicationRequests, a
/// Practitioner who performed both patients' laboratory tests, and B's DiagnosticReport with a
/// contained Observation.
async fn world(f: &Fhir) -> World {
    let w = World { u: unique() };
    let tag = json!({"tag": [{"system": "urn:authz", "code": w.u}]});
    let reference = |t: &str, role: &str| json!({"reference": w.r(t, role)});
    let category = |c: &str| json!([{"coding": [{"system": CAT, "code": c}]}]);
    let code = |c: &str| json!({"coding": [{"system": "urn:authz", "code": format!("{c}-{}", w.u)}]});
    let obs = |role: &str, patient: &str, cat: &str, c: &str, members: &[&str], performer: bool| {
        let mut o = json!({"resourceType": "Observation", "id": w.id(role), "meta": tag, "status": "final", "category": category(cat), "code": code(c),
            "subject": reference("Patient", patient)});
        let encounter = if patient == "pa" { "ea" } else { "eb" };
        o["encounter"] = reference("Encounter", encounter);
        if !members.is_empty() {
            o["hasMember"] = Value::Array(members.iter().map(|m| reference("Observation", m)).collect());
        }
        if performer {
            o["performer"] = json!([reference("Practitioner", "pr")]);
        }
        o
    };
    let resources = vec![
        json!({"resourceType": "Practitioner", "id": w.id("pr"), "meta": tag, "name": [{"family": format!("Doc{}", w.u)}]}),
        json!({"resourceType": "Patient", "id": w.id("pa"), "meta": tag, "identifier": [{"system": "urn:authz", "value": w.id("pa")}], "name": [{"family": format!("Alpha{}", w.u)}]}),
        json!({"resourceType": "Patient", "id": w.id("pb"), "meta": tag, "identifier": [{"system": "urn:authz", "value": w.id("pb")}], "name": [{"family": format!("Beta{}", w.u)}]}),
        json!({"resourceType": "Encounter", "id": w.id("ea"), "meta": tag, "status": "finished", "class": {"code": "AMB"}, "subject": reference("Patient", "pa")}),
        json!({"resourceType": "Encounter", "id": w.id("eb"), "meta": tag, "status": "finished", "class": {"code": "AMB"}, "subject": reference("Patient", "pb")}),
        obs("oa-lab", "pa", "laboratory", "lab-a", &[], true),
        obs("oa-vit", "pa", "vital-signs", "vit-a", &["oa-lab"], false),
        obs("oa-mem", "pa", "vital-signs", "mem-a", &["ob-lab"], false),
        obs("ob-lab", "pb", "laboratory", "lab-b", &["oa-vit"], true),
        obs("ob-vit", "pb", "vital-signs", "vit-b", &[], false),
        json!({"resourceType": "Condition", "id": w.id("ca"), "meta": tag, "code": code("cond-a"), "subject": reference("Patient", "pa")}),
        json!({"resourceType": "Condition", "id": w.id("cb"), "meta": tag, "code": code("cond-b"), "subject": reference("Patient", "pb")}),
        json!({"resourceType": "MedicationRequest", "id": w.id("ma"), "meta": tag, "status": "active", "intent": "order", "medicationCodeableConcept": code("med-a"),
            "subject": reference("Patient", "pa"), "requester": reference("Practitioner", "pr")}),
        json!({"resourceType": "MedicationRequest", "id": w.id("mb"), "meta": tag, "status": "active", "intent": "order", "medicationCodeableConcept": code("med-b"),
            "subject": reference("Patient", "pb"), "requester": reference("Practitioner", "pr")}),
        json!({"resourceType": "DiagnosticReport", "id": w.id("db"), "meta": tag, "status": "final", "code": code("report-b"), "subject": reference("Patient", "pb"),
            "contained": [{"resourceType": "Observation", "id": "inner", "status": "final", "code": code("contained-b")}], "result": [{"reference": "#inner"}]}),
    ];
    let entries: Vec<Value> = resources
        .into_iter()
        .map(|r| {
            let url = format!("{}/{}", r["resourceType"].as_str().unwrap(), r["id"].as_str().unwrap());
            json!({"resource": r, "request": {"method": "PUT", "url": url}})
        })
        .collect();
    post(f, SYSTEM, "", &json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})).await.expect(200);
    w
}

async fn tokens_are_required_and_metadata_is_open(f: &Fhir) {
    let w = world(f).await;
    let path = w.r("Observation", "oa-lab");
    let none = call(f, None, Method::GET, &path, None, &[]).await.expect(401);
    assert_eq!(none.header("www-authenticate").as_deref(), Some("Bearer"), "no credentials: a bare challenge (RFC 6750 3.1)");
    assert_eq!(issue_code(&none), "login");
    let bad = call(f, Some("not-a-token"), Method::GET, &path, None, &[]).await.expect(401);
    assert!(bad.header("www-authenticate").is_some_and(|c| c.starts_with("Bearer") && c.contains("error=\"invalid_token\"")), "{:?}", bad.header("www-authenticate"));
    let basic = call(f, None, Method::GET, &path, None, &[("authorization", "Basic dXNlcjpwYXNz")]).await.expect(401);
    assert!(basic.header("www-authenticate").is_some_and(|c| c.starts_with("Bearer")));
    // Every interaction is behind it, writes too: nothing was created.
    call(f, None, Method::POST, "Observation", Some(&w.obs("pa", "anon")), &[]).await.expect(401);
    call(f, None, Method::POST, "", Some(&json!({"resourceType": "Bundle", "type": "batch", "entry": []})), &[]).await.expect(401);
    call(f, None, Method::GET, "_history", None, &[]).await.expect(401);
    assert!(found(f, SYSTEM, &format!("Observation?code={}", w.code("anon"))).await.is_empty());
    // The CapabilityStatement and the probes need none.
    let meta = call(f, None, Method::GET, "metadata", None, &[]).await.expect(200);
    assert_eq!(meta.json()["resourceType"], "CapabilityStatement");
    let live = f.http.get(f.base.replace("/fhir", "/health/live")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    // The same read with a token goes through.
    assert_eq!(get(f, &w.a_rs(), &path).await.expect(200).json()["id"], w.id("oa-lab"));
}

async fn reads_see_only_the_compartment(f: &Fhir) {
    let w = world(f).await;
    let a = w.a_rs();
    for r in w.a_all() {
        assert_eq!(get(f, &a, &r).await.expect(200).json()["id"].as_str(), r.split('/').nth(1), "{r}");
        get(f, &a, &format!("{r}/_history/1")).await.expect(200);
        assert_eq!(get(f, &a, &format!("{r}/_history")).await.expect(200).json()["entry"].as_array().unwrap().len(), 1, "{r}");
    }
    // B's resources answer exactly as an id that does not exist.
    let absent = get(f, &a, &format!("Observation/never-{}", w.u)).await.expect(404);
    for r in [w.r("Patient", "pb"), w.r("Encounter", "eb"), w.r("Observation", "ob-lab"), w.r("Observation", "ob-vit"), w.r("Condition", "cb"), w.r("MedicationRequest", "mb"), w.r("DiagnosticReport", "db")] {
        let read = get(f, &a, &r).await.expect(404);
        assert_eq!(issue_code(&read), issue_code(&absent));
        assert_eq!(read.json()["issue"][0]["diagnostics"], json!(format!("{r} is not known")));
        get(f, &a, &format!("{r}/_history/1")).await.expect(404);
        get(f, &a, &format!("{r}/_history")).await.expect(404);
        // What a leak would have shown.
        get(f, SYSTEM, &r).await.expect(200);
    }
    // A type no patient/ scope reaches (not in the Patient compartment) is refused as a whole.
    let denied = get(f, &a, &w.r("Practitioner", "pr")).await.expect(403);
    assert_eq!(issue_code(&denied), "forbidden");
    assert!(denied.header("www-authenticate").is_some_and(|c| c.contains("insufficient_scope")));
    // SMART 1.0 scopes mean the same.
    let v1 = w.a("patient-v1");
    get(f, &v1, &w.r("Observation", "oa-lab")).await.expect(200);
    get(f, &v1, &w.r("Observation", "ob-lab")).await.expect(404);
    assert_eq!(found(f, &v1, &format!("Observation?{}", w.tag())).await, w.a_obs());
}

async fn searches_see_only_the_compartment(f: &Fhir) {
    let w = world(f).await;
    let a = w.a_rs();
    let tag = w.tag();
    assert_eq!(found(f, &a, &format!("Observation?{tag}")).await, w.a_obs());
    assert_eq!(found(f, SYSTEM, &format!("Observation?{tag}")).await, &w.a_obs() | &w.b_obs(), "the unrestricted search sees both");
    assert_eq!(found(f, &a, &format!("Patient?{tag}")).await, set(&[&w.r("Patient", "pa")]));
    assert!(found(f, &a, &format!("Observation?_id={}", w.id("ob-lab"))).await.is_empty());
    assert!(found(f, &a, &format!("Observation?code={}", w.code("lab-b"))).await.is_empty());
    assert!(found(f, &a, &format!("Observation?subject=Patient/{}", w.id("pb"))).await.is_empty());
    assert!(found(f, &a, &format!("Condition?patient.family=Beta{}", w.u)).await.is_empty());
    // System level, with and without _type.
    assert_eq!(found(f, &a, &format!("?{tag}")).await, w.a_all());
    assert_eq!(found(f, &a, &format!("?_type=Observation,Condition&{tag}")).await, &w.a_obs() | &set(&[&w.r("Condition", "ca")]));
    assert_eq!(get(f, &a, &format!("?_type=Practitioner&{tag}")).await.expect(403).issue_expression(), None);
    assert_eq!(found(f, &a, &format!("?_id={},{}", w.id("oa-lab"), w.id("ob-lab"))).await, set(&[&w.r("Observation", "oa-lab")]));
    // Compartment search: B's compartment is empty to A, A's is whole.
    assert!(found(f, &a, &format!("Patient/{}/Observation", w.id("pb"))).await.is_empty());
    assert!(found(f, &a, &format!("Patient/{}/Condition", w.id("pb"))).await.is_empty());
    assert_eq!(found(f, SYSTEM, &format!("Patient/{}/Observation", w.id("pb"))).await, w.b_obs());
    assert_eq!(found(f, &a, &format!("Patient/{}/Observation", w.id("pa"))).await, w.a_obs());
    assert!(found(f, &a, &format!("Encounter/{}/Observation", w.id("eb"))).await.is_empty());
    // POST _search, type and system level.
    assert_eq!(entry_ids(&form_search(f, &a, "Observation/_search", &tag).await.expect(200).json()), w.a_obs());
    assert_eq!(entry_ids(&form_search(f, &a, "_search", &format!("_type=Observation&{tag}")).await.expect(200).json()), w.a_obs());
    // Totals count what is seen.
    assert_eq!(get(f, &a, &format!("Observation?{tag}&_total=accurate&_count=1")).await.expect(200).json()["total"], 3);
    assert_eq!(get(f, &a, &format!("Observation?{tag}&_summary=count")).await.expect(200).json()["total"], 3);
    assert_eq!(get(f, SYSTEM, &format!("Observation?{tag}&_summary=count")).await.expect(200).json()["total"], 5);
    // Paging walks A's matches only.
    let mut seen = BTreeSet::new();
    let mut next = Some(format!("Observation?{tag}&_count=1"));
    while let Some(url) = next {
        let page = get(f, &a, &url).await.expect(200).json();
        seen.extend(entry_ids(&page));
        next = page["link"].as_array().unwrap().iter().find(|l| l["relation"] == "next").map(|l| l["url"].as_str().unwrap().to_string());
    }
    assert_eq!(seen, w.a_obs());
    // Stored terminology the token may not read does not take part: an existing ValueSet answers
    // as an absent one does, by id and by canonical URL.
    let vs = w.id("vs");
    let url = format!("urn:authz:vs:{}", w.u);
    let concepts = json!([{"code": format!("lab-a-{}", w.u)}, {"code": format!("lab-b-{}", w.u)}]);
    put(f, SYSTEM, &format!("ValueSet/{vs}"), &json!({"resourceType": "ValueSet", "id": vs, "url": url, "status": "active",
        "compose": {"include": [{"system": "urn:authz", "concept": concepts}]}})).await.expect(201);
    for by in [format!("ValueSet/{vs}"), url.clone()] {
        let q = format!("Observation?code:in={by}");
        assert_eq!(found(f, SYSTEM, &q).await, set(&[&w.r("Observation", "oa-lab"), &w.r("Observation", "ob-lab")]));
        let refused = get(f, &a, &q).await.expect(400);
        assert_eq!(refused.json()["issue"][0]["diagnostics"], json!(format!("value set '{by}' is not known to this server")));
    }
    // _contained can return containers of any type: it needs unrestricted search of every type.
    let contained = format!("Observation?_contained=true&code={}", w.code("contained-b"));
    assert_eq!(get(f, &a, &contained).await.expect(403).issue_expression().as_deref(), Some("_contained"));
    assert_eq!(found(f, SYSTEM, &contained).await, set(&[&w.r("DiagnosticReport", "db")]));
}

async fn chains_and_has_test_only_what_may_be_searched(f: &Fhir) {
    let w = world(f).await;
    let a = w.a_rs();
    // oa-vit has oa-lab as a member, oa-mem has B's ob-lab, B's ob-lab has oa-vit.
    let chain = |c: &str| format!("Observation?has-member.code={}", w.code(c));
    assert_eq!(found(f, &a, &chain("lab-a")).await, set(&[&w.r("Observation", "oa-vit")]));
    assert_eq!(found(f, SYSTEM, &chain("lab-b")).await, set(&[&w.r("Observation", "oa-mem")]), "what a leak would show");
    assert!(found(f, &a, &chain("lab-b")).await.is_empty(), "the chain tested B's Observation");
    // Two links deep, with a type hint.
    let deep = |family: &str| format!("Observation?has-member:Observation.subject:Patient.family={family}{}", w.u);
    assert_eq!(found(f, &a, &deep("Alpha")).await, set(&[&w.r("Observation", "oa-vit")]));
    assert_eq!(found(f, SYSTEM, &deep("Beta")).await, set(&[&w.r("Observation", "oa-mem")]));
    assert!(found(f, &a, &deep("Beta")).await.is_empty());
    assert!(found(f, &a, &format!("Observation?has-member:Observation.patient.family=Beta{}", w.u)).await.is_empty());
    // _has: a resource of A's that B's data points at.
    let has = |c: &str| format!("Observation?_has:Observation:has-member:code={}", w.code(c));
    assert_eq!(found(f, &a, &has("vit-a")).await, set(&[&w.r("Observation", "oa-lab")]));
    assert_eq!(found(f, SYSTEM, &has("lab-b")).await, set(&[&w.r("Observation", "oa-vit")]));
    assert!(found(f, &a, &has("lab-b")).await.is_empty(), "_has tested B's Observation");
    assert!(found(f, &a, &format!("Patient?_has:Observation:subject:code={}", w.code("lab-b"))).await.is_empty());
    assert!(found(f, &a, &format!("Encounter?_has:Observation:encounter:_has:Observation:has-member:code={}", w.code("lab-b"))).await.is_empty());
    assert_eq!(found(f, SYSTEM, &format!("Encounter?_has:Observation:encounter:_has:Observation:has-member:code={}", w.code("lab-b"))).await, set(&[&w.r("Encounter", "ea")]));
    // Inside _filter too.
    let filter = format!("Observation?_filter=has-member.code%20eq%20%22{}%22", w.code("lab-b").replace('|', "%7C"));
    assert_eq!(found(f, SYSTEM, &filter).await, set(&[&w.r("Observation", "oa-mem")]));
    assert!(found(f, &a, &filter).await.is_empty());
    // Through a type no scope may search: refused, naming the parameter.
    let practitioner = format!("Observation?performer:Practitioner.family=Doc{}", w.u);
    assert_eq!(found(f, SYSTEM, &practitioner).await, set(&[&w.r("Observation", "oa-lab"), &w.r("Observation", "ob-lab")]));
    assert_eq!(get(f, &a, &practitioner).await.expect(403).issue_expression().as_deref(), Some("performer:Practitioner"));
    get(f, &a, &format!("Practitioner?_has:Observation:performer:code={}", w.code("lab-b"))).await.expect(403);
    // _list reads a List's entries directly: only with unrestricted search of List.
    let list = post(f, SYSTEM, "List", &json!({"resourceType": "List", "status": "current", "mode": "working",
        "entry": [{"item": {"reference": w.r("Observation", "oa-lab")}}, {"item": {"reference": w.r("Observation", "ob-lab")}}]})).await.expect(201).json();
    let by_list = format!("Observation?_list={}", list["id"].as_str().unwrap());
    assert_eq!(found(f, SYSTEM, &by_list).await.len(), 2);
    assert_eq!(get(f, &a, &by_list).await.expect(403).issue_expression().as_deref(), Some("_list"));
}

async fn includes_return_only_what_may_be_read(f: &Fhir) {
    let w = world(f).await;
    let a = w.a_rs();
    let q = |rest: &str| format!("Observation?_id={rest}");
    let m = |r: String| ("match".to_string(), r);
    let i = |r: String| ("include".to_string(), r);
    let both = |token: &str, query: String| {
        let token = token.to_string();
        async move { modes(&get(f, &token, &query).await.expect(200).json()) }
    };
    let member = q(&format!("{}&_include=Observation:has-member", w.id("oa-mem")));
    assert_eq!(both(SYSTEM, member.clone()).await, [m(w.r("Observation", "oa-mem")), i(w.r("Observation", "ob-lab"))].into());
    assert_eq!(both(&a, member).await, [m(w.r("Observation", "oa-mem"))].into());
    let rev = q(&format!("{}&_revinclude=Observation:has-member", w.id("oa-vit")));
    assert_eq!(both(SYSTEM, rev.clone()).await, [m(w.r("Observation", "oa-vit")), i(w.r("Observation", "ob-lab"))].into());
    assert_eq!(both(&a, rev).await, [m(w.r("Observation", "oa-vit"))].into());
    let star = q(&format!("{}&_revinclude=*", w.id("oa-vit")));
    assert_eq!(both(&a, star).await, [m(w.r("Observation", "oa-vit"))].into());
    // Every reference of A's laboratory test: A and A's encounter, not the Practitioner.
    let every = q(&format!("{}&_include=Observation:*", w.id("oa-lab")));
    assert_eq!(
        both(SYSTEM, every.clone()).await,
        [m(w.r("Observation", "oa-lab")), i(w.r("Patient", "pa")), i(w.r("Encounter", "ea")), i(w.r("Practitioner", "pr"))].into()
    );
    assert_eq!(both(&a, every).await, [m(w.r("Observation", "oa-lab")), i(w.r("Patient", "pa")), i(w.r("Encounter", "ea"))].into());
    // :iterate does not walk through what may not be read: B's Observation is not followed to B.
    let iterate = q(&format!("{}&_include=Observation:has-member&_include:iterate=Observation:subject", w.id("oa-mem")));
    assert_eq!(
        both(SYSTEM, iterate.clone()).await,
        [m(w.r("Observation", "oa-mem")), i(w.r("Observation", "ob-lab")), i(w.r("Patient", "pa")), i(w.r("Patient", "pb"))].into()
    );
    assert_eq!(both(&a, iterate).await, [m(w.r("Observation", "oa-mem")), i(w.r("Patient", "pa"))].into());
    let rev_iterate = format!("Patient?_id={}&_revinclude=Observation:subject&_revinclude:iterate=Observation:has-member", w.id("pa"));
    assert_eq!(
        both(SYSTEM, rev_iterate.clone()).await,
        [m(w.r("Patient", "pa")), i(w.r("Observation", "oa-lab")), i(w.r("Observation", "oa-vit")), i(w.r("Observation", "oa-mem")), i(w.r("Observation", "ob-lab"))].into()
    );
    assert_eq!(
        both(&a, rev_iterate).await,
        [m(w.r("Patient", "pa")), i(w.r("Observation", "oa-lab")), i(w.r("Observation", "oa-vit")), i(w.r("Observation", "oa-mem"))].into()
    );
    let med = format!("MedicationRequest?_id={}&_include=MedicationRequest:requester", w.id("ma"));
    assert_eq!(both(&a, med).await, [m(w.r("MedicationRequest", "ma"))].into());
}

/// `Type/id` of every entry of a history Bundle, with its version.
fn versions(bundle: &Value) -> BTreeSet<(String, String)> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let url = e["fullUrl"].as_str().unwrap();
            let rel = url.splitn(2, "/fhir/").nth(1).unwrap_or(url).to_string();
            (rel, e["response"]["etag"].as_str().unwrap().to_string())
        })
        .collect()
}

async fn history_shows_only_visible_versions(f: &Fhir) {
    let w = world(f).await;
    let a = w.a_rs();
    let v1 = |r: String| (r, "W/\"1\"".to_string());
    assert_eq!(versions(&get(f, &a, "Observation/_history").await.expect(200).json()), w.a_obs().into_iter().map(v1).collect());
    assert_eq!(versions(&get(f, &a, "_history?_count=1000").await.expect(200).json()), w.a_all().into_iter().map(v1).collect());
    get(f, &a, "Practitioner/_history").await.expect(403);
    // A resource that moved into A's compartment shows only what it became; one that moved out, nothing.
    let into = w.id("moved-in");
    let out = w.id("moved-out");
    for (id, first, then) in [(&into, "pb", "pa"), (&out, "pa", "pb")] {
        let mut o = w.obs(first, "moved");
        o["id"] = json!(id);
        put(f, SYSTEM, &format!("Observation/{id}"), &o).await.expect(201);
        o["subject"] = json!({"reference": w.r("Patient", then)});
        put(f, SYSTEM, &format!("Observation/{id}"), &o).await.expect(200);
    }
    get(f, &a, &format!("Observation/{into}")).await.expect(200);
    get(f, &a, &format!("Observation/{into}/_history/2")).await.expect(200);
    get(f, &a, &format!("Observation/{into}/_history/1")).await.expect(404);
    assert_eq!(versions(&get(f, &a, &format!("Observation/{into}/_history")).await.expect(200).json()), [(format!("Observation/{into}"), "W/\"2\"".to_string())].into());
    assert_eq!(get(f, SYSTEM, &format!("Observation/{into}/_history")).await.expect(200).json()["entry"].as_array().unwrap().len(), 2);
    for path in [format!("Observation/{out}"), format!("Observation/{out}/_history/1"), format!("Observation/{out}/_history")] {
        get(f, &a, &path).await.expect(404);
    }
    let typed = versions(&get(f, &a, "Observation/_history").await.expect(200).json());
    let mut want: BTreeSet<(String, String)> = w.a_obs().into_iter().map(v1).collect();
    want.insert((format!("Observation/{into}"), "W/\"2\"".to_string()));
    assert_eq!(typed, want);
    // Deleted: gone from A's history, and 404 (not 410) to A.
    let cruds = w.a("patient-cruds");
    let gone = post(f, &cruds, "Observation", &w.obs("pa", "gone")).await.expect(201).json();
    let gone = format!("Observation/{}", gone["id"].as_str().unwrap());
    delete(f, &cruds, &gone).await.expect(204);
    get(f, SYSTEM, &gone).await.expect(410);
    get(f, &a, &gone).await.expect(404);
    assert!(!versions(&get(f, &a, "Observation/_history").await.expect(200).json()).iter().any(|(r, _)| *r == gone));
}

async fn writes_stay_within_the_grant(f: &Fhir) {
    let w = world(f).await;
    let a = w.a("patient-cruds");
    let version = |r: Reply| r.json()["meta"]["versionId"].as_str().unwrap().to_string();
    // Create: into A's compartment yes, into B's no (and nothing is kept).
    post(f, &a, "Observation", &w.obs("pa", "new-a")).await.expect(201);
    assert_eq!(issue_code(&post(f, &a, "Observation", &w.obs("pb", "new-b")).await.expect(403)), "forbidden");
    assert!(found(f, SYSTEM, &format!("Observation?code={}", w.code("new-b"))).await.is_empty());
    post(f, &a, "Patient", &json!({"resourceType": "Patient", "name": [{"family": "Other"}]})).await.expect(403);
    post(f, &a, "Practitioner", &json!({"resourceType": "Practitioner"})).await.expect(403);
    // Update: B's resource is unknown to A; moving A's out of the compartment is refused.
    let ob = w.r("Observation", "ob-vit");
    let mut body = get(f, SYSTEM, &ob).await.expect(200).json();
    body["subject"] = json!({"reference": w.r("Patient", "pa")});
    put(f, &a, &ob, &body).await.expect(404);
    assert_eq!(version(get(f, SYSTEM, &ob).await.expect(200)), "1");
    let oa = w.r("Observation", "oa-vit");
    let mut mine = get(f, &a, &oa).await.expect(200).json();
    mine["subject"] = json!({"reference": w.r("Patient", "pb")});
    put(f, &a, &oa, &mine).await.expect(403);
    let kept = get(f, SYSTEM, &oa).await.expect(200);
    assert_eq!(kept.json()["subject"]["reference"], json!(w.r("Patient", "pa")));
    assert_eq!(version(kept), "1");
    mine["subject"] = json!({"reference": w.r("Patient", "pa")});
    mine["status"] = json!("amended");
    assert_eq!(version(put(f, &a, &oa, &mine).await.expect(200)), "2");
    // Update-as-create under a restricted grant looks like an unseen resource: 404, nothing made.
    let mut fresh = w.obs("pa", "fresh");
    fresh["id"] = json!(w.id("fresh"));
    put(f, &a, &w.r("Observation", "fresh"), &fresh).await.expect(404);
    get(f, SYSTEM, &w.r("Observation", "fresh")).await.expect(404);
    put(f, &a, &w.r("Patient", "pb"), &json!({"resourceType": "Patient", "id": w.id("pb")})).await.expect(404);
    // Patch.
    let status = json!([{"op": "replace", "path": "/status", "value": "cancelled"}]);
    json_patch(f, &a, &ob, &status).await.expect(404);
    let to_b = json!([{"op": "replace", "path": "/subject/reference", "value": w.r("Patient", "pb")}]);
    json_patch(f, &a, &oa, &to_b).await.expect(403);
    assert_eq!(get(f, SYSTEM, &ob).await.expect(200).json()["status"], "final");
    assert_eq!(get(f, SYSTEM, &oa).await.expect(200).json()["subject"]["reference"], json!(w.r("Patient", "pa")));
    json_patch(f, &a, &oa, &status).await.expect(200);
    // Delete of B's: answered as for an absent resource, and B's stays.
    delete(f, &a, &ob).await.expect(204);
    get(f, SYSTEM, &ob).await.expect(200);
    // Conditional delete matches only what A may delete.
    for p in ["pa", "pb"] {
        post(f, SYSTEM, "Observation", &w.obs(p, "shared")).await.expect(201);
    }
    let shared = format!("Observation?code={}", w.code("shared"));
    assert_eq!(found(f, SYSTEM, &shared).await.len(), 2);
    delete(f, &a, &shared).await.expect(204);
    let left = get(f, SYSTEM, &shared).await.expect(200).json();
    assert_eq!(left["entry"].as_array().unwrap().len(), 1);
    assert_eq!(left["entry"][0]["resource"]["subject"]["reference"], json!(w.r("Patient", "pb")));
    // Conditional update: B's match is not seen, so the update creates A's own.
    let made = put(f, &a, &format!("Observation?code={}", w.code("vit-b")), &w.obs("pa", "cond-update")).await.expect(201).json();
    assert_ne!(made["id"].as_str(), Some(w.id("ob-vit").as_str()));
    assert_eq!(get(f, SYSTEM, &ob).await.expect(200).json()["code"]["coding"][0]["code"], json!(format!("vit-b-{}", w.u)));
    // Conditional patch of B's: no match.
    json_patch(f, &a, &format!("Observation?code={}", w.code("vit-b")), &status).await.expect(404);
    // If-None-Exist does not return B's resource, it creates A's.
    let ine = format!("code={}", w.code("vit-b"));
    let r = call(f, Some(&a), Method::POST, "Observation", Some(&w.obs("pa", "ine")), &[("if-none-exist", &ine)]).await.expect(201);
    assert_ne!(r.json()["id"].as_str(), Some(w.id("ob-vit").as_str()));
    let r = call(f, Some(SYSTEM), Method::POST, "Observation", Some(&w.obs("pa", "ine")), &[("if-none-exist", &ine)]).await.expect(200);
    assert_eq!(r.json()["id"].as_str(), Some(w.id("ob-vit").as_str()), "what a leak would have returned");
}

async fn transactions_and_batches_check_every_entry(f: &Fhir) {
    let w = world(f).await;
    let a = w.a("patient-cruds");
    let tx = |entries: Vec<Value>| json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
    let create = |o: Value| json!({"resource": o, "request": {"method": "POST", "url": "Observation"}});
    let ob = w.r("Observation", "ob-vit");
    let mut ob_body = get(f, SYSTEM, &ob).await.expect(200).json();
    ob_body["status"] = json!("amended");
    let nothing_written = |c: &'static str| {
        let w = &w;
        async move { assert!(found(f, SYSTEM, &format!("Observation?code={}", w.code(c))).await.is_empty(), "{c} was written") }
    };
    // An update of B's resource fails the whole transaction, A's create included.
    let r = post(f, &a, "", &tx(vec![create(w.obs("pa", "tx1")), json!({"resource": ob_body, "request": {"method": "PUT", "url": ob}})])).await.expect(404);
    assert_eq!(r.issue_expression().as_deref(), Some("Bundle.entry[1]"));
    nothing_written("tx1").await;
    // A create into B's compartment, alone or among the creates written together.
    let r = post(f, &a, "", &tx(vec![create(w.obs("pa", "tx2")), create(w.obs("pb", "tx2"))])).await.expect(403);
    assert_eq!(r.issue_expression().as_deref(), Some("Bundle.entry[1].resource"));
    nothing_written("tx2").await;
    let mut with_url = w.obs("pb", "tx3");
    with_url["id"] = json!("ignored");
    let r = post(f, &a, "", &tx(vec![json!({"fullUrl": "urn:uuid:6f1b2c5e-0000-4000-8000-000000000001", "resource": with_url, "request": {"method": "POST", "url": "Observation"}})])).await.expect(403);
    assert_eq!(issue_code(&r), "forbidden");
    nothing_written("tx3").await;
    // A type the token may not write: refused before anything runs.
    let r = post(f, &a, "", &tx(vec![create(w.obs("pa", "tx4")), json!({"resource": {"resourceType": "Practitioner"}, "request": {"method": "POST", "url": "Practitioner"}})])).await.expect(403);
    assert_eq!(r.issue_expression().as_deref(), Some("Bundle.entry[1]"));
    nothing_written("tx4").await;
    // Reads inside a transaction: B's resource is unknown.
    post(f, &a, "", &tx(vec![create(w.obs("pa", "tx5")), json!({"request": {"method": "GET", "url": ob}})])).await.expect(404);
    nothing_written("tx5").await;
    // Conditional references resolve among what A may search.
    let mut cref = w.obs("pa", "tx6");
    cref["subject"] = json!({"reference": format!("Patient?identifier=urn:authz|{}", w.id("pb"))});
    post(f, &a, "", &tx(vec![create(cref.clone())])).await.expect(404);
    nothing_written("tx6").await;
    cref["subject"] = json!({"reference": format!("Patient?identifier=urn:authz|{}", w.id("pa"))});
    let done = post(f, &a, "", &tx(vec![create(cref)])).await.expect(200).json();
    assert_eq!(done["entry"][0]["response"]["status"].as_str().map(|s| &s[..3]), Some("201"));
    assert_eq!(found(f, SYSTEM, &format!("Observation?code={}&subject=Patient/{}", w.code("tx6"), w.id("pa"))).await.len(), 1);
    // A batch answers each entry on its own.
    let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": w.r("Observation", "ob-lab")}},
        {"request": {"method": "GET", "url": w.r("Observation", "oa-lab")}},
        create(w.obs("pb", "b1")),
        create(w.obs("pa", "b2")),
        {"request": {"method": "DELETE", "url": ob}},
        {"request": {"method": "GET", "url": format!("Observation?{}", w.tag())}},
        {"request": {"method": "GET", "url": format!("{}/_history/1", w.r("Observation", "ob-lab"))}},
        {"resource": get(f, SYSTEM, &w.r("Observation", "ob-lab")).await.expect(200).json(), "request": {"method": "PUT", "url": w.r("Observation", "ob-lab")}},
        {"request": {"method": "GET", "url": w.r("Practitioner", "pr")}},
        {"request": {"method": "DELETE", "url": format!("Observation?code={}", w.code("lab-b"))}},
    ]});
    let out = post(f, &a, "", &batch).await.expect(200).json();
    let statuses: Vec<String> = out["entry"].as_array().unwrap().iter().map(|e| e["response"]["status"].as_str().unwrap()[..3].to_string()).collect();
    assert_eq!(statuses, ["404", "200", "403", "201", "204", "200", "404", "404", "403", "204"]);
    assert_eq!(out["entry"][1]["resource"]["id"].as_str(), Some(w.id("oa-lab").as_str()));
    // The search saw A's Observations (the world's, tx6's and b2 made just before), no more.
    let b2 = format!("Observation/{}", out["entry"][3]["response"]["location"].as_str().unwrap().split('/').nth(1).unwrap());
    let searched = entry_ids(&out["entry"][5]["resource"]);
    assert!(searched.contains(&b2) && w.a_obs().is_subset(&searched) && searched.is_disjoint(&w.b_obs()), "{searched:?}");
    assert_eq!(searched, found(f, SYSTEM, &format!("Observation?{}&subject=Patient/{}", w.tag(), w.id("pa"))).await);
    nothing_written("b1").await;
    assert_eq!(found(f, SYSTEM, &format!("Observation?code={}", w.code("b2"))).await.len(), 1);
    assert_eq!(found(f, SYSTEM, &format!("Observation?{}&subject=Patient/{}", w.tag(), w.id("pb"))).await, w.b_obs(), "B's data is untouched");
    assert_eq!(get(f, SYSTEM, &w.r("Observation", "ob-lab")).await.expect(200).json()["meta"]["versionId"], "1");
}

async fn granular_scopes_restrict_by_their_parameters(f: &Fhir) {
    let w = world(f).await;
    let lab = w.a("patient-lab");
    assert_eq!(found(f, &lab, &format!("Observation?{}", w.tag())).await, set(&[&w.r("Observation", "oa-lab")]));
    get(f, &lab, &w.r("Observation", "oa-lab")).await.expect(200);
    get(f, &lab, &w.r("Observation", "oa-vit")).await.expect(404);
    get(f, &lab, &w.r("Observation", "ob-lab")).await.expect(404);
    assert_eq!(found(f, &lab, &format!("Patient?{}", w.tag())).await, set(&[&w.r("Patient", "pa")]));
    get(f, &lab, &format!("Condition?{}", w.tag())).await.expect(403);
    get(f, &lab, &w.r("Condition", "ca")).await.expect(403);
    // A chain into Observations sees only the laboratory ones: oa-vit's member oa-lab is one.
    assert_eq!(found(f, &lab, &format!("Patient?_has:Observation:subject:code={}", w.code("vit-a"))).await, BTreeSet::new());
    assert_eq!(found(f, &lab, &format!("Patient?_has:Observation:subject:code={}", w.code("lab-a"))).await, set(&[&w.r("Patient", "pa")]));
    let hist = versions(&get(f, &lab, "Observation/_history").await.expect(200).json());
    assert_eq!(hist, [(w.r("Observation", "oa-lab"), "W/\"1\"".to_string())].into());
}

async fn user_and_system_scopes_reach_their_types_whole(f: &Fhir) {
    let w = world(f).await;
    let user = "user-obs";
    assert_eq!(found(f, user, &format!("Observation?{}", w.tag())).await, &w.a_obs() | &w.b_obs());
    get(f, user, &w.r("Observation", "ob-lab")).await.expect(200);
    get(f, user, &format!("Patient?{}", w.tag())).await.expect(403);
    get(f, user, &w.r("Condition", "ca")).await.expect(403);
    post(f, user, "Observation", &w.obs("pa", "user")).await.expect(403);
    assert_eq!(found(f, user, &format!("?_type=Observation&{}", w.tag())).await, &w.a_obs() | &w.b_obs());
    // Unrestricted for Observation, but a chain into Patient still needs Patient search.
    get(f, user, &format!("Observation?subject:Patient.family=Beta{}", w.u)).await.expect(403);
    let every = &w.a_obs() | &w.b_obs();
    assert_eq!(found(f, SYSTEM, &format!("?_type=Observation&{}", w.tag())).await, every);
    get(f, SYSTEM, &w.r("Practitioner", "pr")).await.expect(200);
    // System history under an Observation-only scope lists Observations only, all of them.
    let hist = versions(&get(f, user, "_history?_count=1000").await.expect(200).json());
    assert!(hist.iter().all(|(r, _)| r.starts_with("Observation/")), "{hist:?}");
    let listed: BTreeSet<String> = hist.into_iter().map(|(r, _)| r).collect();
    assert!(every.is_subset(&listed));
    // $reindex needs the permission on every type.
    get(f, &w.a_rs(), "$reindex").await.expect(403);
    get(f, user, "$reindex").await.expect(403);
    call(f, Some(user), Method::POST, "$reindex", None, &[]).await.expect(403);
    get(f, SYSTEM, "$reindex").await.expect(200);
}

async fn create_without_read_and_patient_scopes_without_patient(f: &Fhir) {
    let w = world(f).await;
    let c = w.a("patient-create-obs");
    let made = post(f, &c, "Observation", &w.obs("pa", "c-only")).await.expect(201).json();
    let id = made["id"].as_str().unwrap();
    get(f, &c, &format!("Observation/{id}")).await.expect(403);
    get(f, &c, &format!("Observation?{}", w.tag())).await.expect(403);
    post(f, &c, "Observation", &w.obs("pb", "c-only-b")).await.expect(403);
    assert!(found(f, SYSTEM, &format!("Observation?code={}", w.code("c-only-b"))).await.is_empty());
    assert_eq!(found(f, SYSTEM, &format!("Observation?code={}", w.code("c-only"))).await, set(&[&format!("Observation/{id}")]));
    // A patient/ scope with no patient in the token grants nothing.
    get(f, "patient-rs", &format!("Observation?{}", w.tag())).await.expect(403);
    get(f, "patient-rs", &w.r("Observation", "oa-lab")).await.expect(403);
    get(f, "patient-rs", &format!("?{}", w.tag())).await.expect(403);
    get(f, "patient-rs", "_history").await.expect(403);
}

/// With authorization on, the server may listen beyond loopback without the risk flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorized_server_may_listen_on_the_network() {
    let url = fresh_database(Backend::Sqlite).unwrap();
    let exposed = fhir_server::ServeConfig { listen: "0.0.0.0:0".parse().unwrap(), ..fhir_server::ServeConfig::local(&url) };
    assert!(fhir_server::start(exposed.clone()).await.is_err(), "refused without authorization");
    let cfg = fhir_server::ServeConfig { authenticator: Some(Arc::new(TestTokens)), ..exposed };
    assert!(format!("{cfg:?}").contains("authenticator: Some(\"configured\")"));
    let running = fhir_server::start(cfg).await.expect("authorization makes a network address acceptable");
    assert!(running.local_addr.ip().is_unspecified());
    let f = Fhir::new(&Target { base: format!("http://127.0.0.1:{}/fhir", running.local_addr.port()), name: "network", database_url: None });
    call(&f, None, Method::GET, "Patient", None, &[]).await.expect(401);
    get(&f, SYSTEM, "Patient").await.expect(200);
    running.task.abort();
    running.reindex.abort();
}

both_backends!(
    tokens_are_required_and_metadata_is_open,
    reads_see_only_the_compartment,
    searches_see_only_the_compartment,
    chains_and_has_test_only_what_may_be_searched,
    includes_return_only_what_may_be_read,
    history_shows_only_visible_versions,
    writes_stay_within_the_grant,
    transactions_and_batches_check_every_entry,
    granular_scopes_restrict_by_their_parameters,
    user_and_system_scopes_reach_their_types_whole,
    create_without_read_and_patient_scopes_without_patient,
);

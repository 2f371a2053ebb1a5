//! Search through the REST API on both backends: chains, `_has`, `_include` and `_revinclude`.
//! Each case builds its own small graph with fresh names, so expected ids are known by construction.

use conformance_tests::{both_backends, unique, Fhir};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// A graph: Organization ← Patient p1 → Practitioner; Observations on p1 (by the practitioner) and p2; Provenance on ob1.
struct Graph {
    tag: String,
    org: String,
    pr: String,
    p1: String,
    p2: String,
    ob1: String,
    ob2: String,
    prov: String,
}

async fn graph(f: &Fhir) -> Graph {
    let tag = unique();
    let id = |v: Value| v["id"].as_str().unwrap().to_string();
    let org = id(f.create(&json!({"resourceType": "Organization", "name": format!("Org {tag}")})).await);
    let pr = id(f.create(&json!({"resourceType": "Practitioner", "name": [{"family": format!("Doc{tag}")}]})).await);
    let p1 = id(f
        .create(&json!({"resourceType": "Patient", "name": [{"family": format!("One{tag}")}], "managingOrganization": {"reference": format!("Organization/{org}")},
            "generalPractitioner": [{"reference": format!("Practitioner/{pr}")}]}))
        .await);
    let p2 = id(f.create(&json!({"resourceType": "Patient", "name": [{"family": format!("Two{tag}")}]})).await);
    let obs = |p: &str, performer: Option<&str>| {
        let mut o = json!({"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": "urn:t", "code": tag.clone()}]},
            "subject": {"reference": format!("Patient/{p}")}});
        if let Some(pr) = performer {
            o["performer"] = json!([{"reference": format!("Practitioner/{pr}")}]);
        }
        o
    };
    let ob1 = id(f.create(&obs(&p1, Some(&pr))).await);
    let ob2 = id(f.create(&obs(&p2, None)).await);
    let prov = id(f
        .create(&json!({"resourceType": "Provenance", "target": [{"reference": format!("Observation/{ob1}")}], "recorded": "2020-01-01T00:00:00Z",
            "agent": [{"who": {"reference": format!("Practitioner/{pr}")}}]}))
        .await);
    Graph { tag, org, pr, p1, p2, ob1, ob2, prov }
}

/// (mode, "Type/id") of every match and include entry (outcome entries are looked at apart).
fn entries(bundle: &Value) -> BTreeSet<(String, String)> {
    bundle["entry"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["search"]["mode"] != "outcome")
                .map(|e| {
                    let r = &e["resource"];
                    (e["search"]["mode"].as_str().unwrap_or("?").to_string(), format!("{}/{}", r["resourceType"].as_str().unwrap(), r["id"].as_str().unwrap()))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn set(items: &[(&str, String)]) -> BTreeSet<(String, String)> {
    items.iter().map(|(m, r)| (m.to_string(), r.clone())).collect()
}

async fn search(f: &Fhir, q: &str) -> BTreeSet<(String, String)> {
    entries(&f.get(q).await.expect(200).json())
}

async fn chains_and_has(f: &Fhir) {
    let g = graph(f).await;
    let ob1 = format!("Observation/{}", g.ob1);
    assert_eq!(search(f, &format!("Observation?subject:Patient.organization.name=Org {}", g.tag)).await, set(&[("match", ob1.clone())]));
    assert_eq!(search(f, &format!("Observation?subject.family=one{}", g.tag)).await, set(&[("match", ob1.clone())]));
    assert_eq!(search(f, &format!("Observation?patient.family=one{0},two{0}", g.tag)).await.len(), 2);
    assert_eq!(search(f, &format!("Patient?_has:Observation:subject:performer=Practitioner/{}", g.pr)).await, set(&[("match", format!("Patient/{}", g.p1))]));
    assert_eq!(
        search(f, &format!("Practitioner?_has:Provenance:agent:target:Observation.subject:Patient.family=one{}", g.tag)).await,
        set(&[("match", format!("Practitioner/{}", g.pr))]),
        "a chain inside _has"
    );
    assert_eq!(
        search(f, &format!("Organization?_has:Patient:organization:_has:Observation:subject:code=urn:t|{}", g.tag)).await,
        set(&[("match", format!("Organization/{}", g.org))]),
        "nested _has"
    );
    // Strict: what cannot be chained is named.
    let r = f.get("Observation?code.name=x").await.expect(400);
    assert_eq!(r.issue_expression().as_deref(), Some("code.name"));
}

async fn include_and_revinclude(f: &Fhir) {
    let g = graph(f).await;
    let (ob1, ob2) = (format!("Observation/{}", g.ob1), format!("Observation/{}", g.ob2));
    let (p1, p2) = (format!("Patient/{}", g.p1), format!("Patient/{}", g.p2));
    let ids = format!("{},{}", g.ob1, g.ob2);
    assert_eq!(
        search(f, &format!("Observation?_id={ids}&_include=Observation:subject")).await,
        set(&[("match", ob1.clone()), ("match", ob2.clone()), ("include", p1.clone()), ("include", p2.clone())])
    );
    assert_eq!(
        search(f, &format!("Observation?_id={ids}&_include=Observation:subject:Patient&_include:iterate=Patient:organization")).await,
        set(&[("match", ob1.clone()), ("match", ob2.clone()), ("include", p1.clone()), ("include", p2.clone()), ("include", format!("Organization/{}", g.org))])
    );
    assert_eq!(
        search(f, &format!("Observation?_id={}&_include=Observation:*", g.ob1)).await,
        set(&[("match", ob1.clone()), ("include", p1.clone()), ("include", format!("Practitioner/{}", g.pr))]),
        "wildcard follows every reference parameter"
    );
    assert_eq!(search(f, &format!("Patient?_id={}&_revinclude=Observation:subject", g.p1)).await, set(&[("match", p1.clone()), ("include", ob1.clone())]));
    assert_eq!(
        search(f, &format!("Patient?_id={}&_revinclude=Observation:subject&_revinclude:iterate=Provenance:target", g.p1)).await,
        set(&[("match", p1.clone()), ("include", ob1.clone()), ("include", format!("Provenance/{}", g.prov))])
    );
    // An included resource that is also a match appears once, as a match.
    assert_eq!(
        search(f, &format!("Observation?_id={ids}&_include=Observation:subject&_revinclude:iterate=Observation:subject")).await,
        set(&[("match", ob1.clone()), ("match", ob2.clone()), ("include", p1.clone()), ("include", p2.clone())])
    );
    // The self link echoes the include parameters.
    let b = f.get(&format!("Patient?_id={}&_revinclude=Observation:subject", g.p1)).await.expect(200).json();
    let self_link = b["link"].as_array().unwrap().iter().find(|l| l["relation"] == "self").unwrap()["url"].as_str().unwrap().to_string();
    assert!(self_link.contains("_revinclude=Observation"), "{self_link}");
    // Strict refusals name the parameter.
    for (q, param) in [
        ("Patient?_include=Observation:subject", "_include"),
        ("Observation?_include=Observation:code", "_include"),
        ("Observation?_include=Observation:subject:Practitioner", "_include"),
        ("Observation?_include=Nope:subject", "_include"),
        ("Observation?_include=subject", "_include"),
        ("Patient?_revinclude=Observation:nope", "_revinclude"),
        ("Organization?_revinclude=Observation:patient", "_revinclude"),
        ("Patient?_include:recurse=Patient:organization", "_include:recurse"),
    ] {
        let r = f.get(q).await.expect(400);
        assert_eq!(r.issue_expression().as_deref(), Some(param), "{q}: {}", r.text);
    }
}

async fn strict_by_default_lenient_on_request(f: &Fhir) {
    let g = graph(f).await;
    let q = format!("Patient?family=one{}&nonsense=1&birthdate=notadate&_count=abc", g.tag);
    for prefer in [None, Some("handling=strict")] {
        let headers: Vec<(&str, &str)> = prefer.iter().map(|p| ("prefer", *p)).collect();
        let r = f.send(reqwest::Method::GET, &q, None, &headers).await.expect(400);
        assert_eq!(r.issue_expression().as_deref(), Some("nonsense"), "{}", r.text);
    }
    let b = f.send(reqwest::Method::GET, &q, None, &[("prefer", "handling=lenient")]).await.expect(200).json();
    let got = entries(&b);
    assert_eq!(got.iter().filter(|(m, _)| m == "match").cloned().collect::<BTreeSet<_>>(), set(&[("match", format!("Patient/{}", g.p1))]));
    let outcome = b["entry"].as_array().unwrap().iter().find(|e| e["search"]["mode"] == "outcome").expect("an outcome entry says what was ignored");
    let ignored: BTreeSet<String> = outcome["resource"]["issue"].as_array().unwrap().iter().map(|i| i["expression"][0].as_str().unwrap().to_string()).collect();
    assert_eq!(ignored, ["nonsense", "birthdate", "_count"].iter().map(|s| s.to_string()).collect());
    let self_link = b["link"].as_array().unwrap().iter().find(|l| l["relation"] == "self").unwrap()["url"].as_str().unwrap().to_string();
    assert!(self_link.contains("family=") && !self_link.contains("nonsense") && !self_link.contains("birthdate") && !self_link.contains("_count"), "{self_link}");
}

async fn compartment_search(f: &Fhir) {
    let g = graph(f).await;
    let ob1 = format!("Observation/{}", g.ob1);
    assert_eq!(search(f, &format!("Patient/{}/Observation", g.p1)).await, set(&[("match", ob1.clone())]));
    assert_eq!(search(f, &format!("Patient/{}/Observation?code=urn:t|{}", g.p1, g.tag)).await, set(&[("match", ob1.clone())]));
    assert_eq!(search(f, &format!("Patient/{}/Observation?code=urn:t|other", g.p1)).await, set(&[]));
    assert_eq!(search(f, &format!("Patient/{}/Patient", g.p1)).await, set(&[("match", format!("Patient/{}", g.p1))]), "the owner is in its own compartment");
    assert_eq!(search(f, &format!("Practitioner/{}/Observation", g.pr)).await, set(&[("match", ob1.clone())]), "through performer");
    assert_eq!(search(f, &format!("Patient/{}/Observation", g.p2)).await, set(&[("match", format!("Observation/{}", g.ob2))]));
    let b = f.get(&format!("Patient/{}/Observation", g.p1)).await.expect(200).json();
    let self_link = b["link"].as_array().unwrap().iter().find(|l| l["relation"] == "self").unwrap()["url"].as_str().unwrap().to_string();
    assert_eq!(self_link, format!("{}/Patient/{}/Observation", f.base, g.p1));
    assert_eq!(b["entry"][0]["fullUrl"], json!(format!("{}/{ob1}", f.base)));
    f.get(&format!("Patient/{}/Organization", g.p1)).await.expect(400);
    f.get("Organization/1/Observation").await.expect(404);
    f.get("Patient/1/Nonsense").await.expect(404);
}

/// The names of the matches of `url` (looked up by id), sorted and comma-joined.
async fn named(f: &Fhir, url: &str, names: &std::collections::HashMap<String, &str>) -> String {
    let b = f.get(url).await.expect(200).json();
    let mut n: Vec<&str> = match_ids(&b).iter().map(|i| names[i]).collect();
    n.sort();
    n.join(",")
}

/// Ids of the matches in Bundle order.
fn match_ids(bundle: &Value) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .map(|a| a.iter().filter(|e| e["search"]["mode"] == "match").map(|e| e["resource"]["id"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn link(bundle: &Value, rel: &str) -> Option<String> {
    bundle["link"].as_array()?.iter().find(|l| l["relation"] == rel).map(|l| l["url"].as_str().unwrap().to_string())
}

/// The match ids of each page from `q` on through the `next` links, then of each page back through
/// the `previous` links from the last.
async fn walk_pages(f: &Fhir, q: &str) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let mut page = f.get(q).await.expect(200).json();
    let mut pages = vec![match_ids(&page)];
    while let Some(next) = link(&page, "next") {
        page = f.get(&next).await.expect(200).json();
        pages.push(match_ids(&page));
    }
    let mut back = Vec::new();
    while let Some(prev) = link(&page, "previous") {
        page = f.get(&prev).await.expect(200).json();
        back.push(match_ids(&page));
    }
    (pages, back)
}

async fn sort_orders_and_pages(f: &Fhir) {
    let tag = unique();
    let sys = format!("urn:sort:{tag}");
    // (family, birthdate); expected orders below are worked out by hand from these.
    let people = [("a", Some("Zeta"), Some("1990-05-01")), ("b", Some("Álvarez"), Some("1980")), ("c", Some("Brown"), Some("1990-05-01")), ("d", Some("brown"), None), ("e", None, Some("2000-01-01"))];
    let mut id = std::collections::HashMap::new();
    for (key, family, birth) in people {
        let mut p = json!({"resourceType": "Patient", "identifier": [{"system": sys, "value": key}]});
        if let Some(fam) = family {
            p["name"] = json!([{"family": fam}]);
        }
        if let Some(b) = birth {
            p["birthDate"] = json!(b);
        }
        id.insert(f.create(&p).await["id"].as_str().unwrap().to_string(), key);
    }
    let order = |bundle: &Value| match_ids(bundle).iter().map(|i| id[i]).collect::<String>();
    let q = |sort: &str| format!("Patient?identifier={sys}|&_sort={sort}");
    for (sort, expected) in [
        ("family,-birthdate", "bcdae"),     // accents and case fold; Brown (1990) before brown (none)
        ("-family,birthdate", "acdbe"),     // missing family last in both directions
        ("birthdate,family", "bcaed"),      // 1980 < 1990-05-01 (Brown, Zeta) < 2000; none last
        ("-birthdate,-family", "eacbd"),
        ("-_lastUpdated", "edcba"),
    ] {
        assert_eq!(order(&f.get(&q(sort)).await.expect(200).json()), expected, "_sort={sort} on {}", f.backend);
    }
    let mut by_id: Vec<&String> = id.keys().collect();
    by_id.sort();
    assert_eq!(match_ids(&f.get(&q("_id")).await.expect(200).json()), by_id.into_iter().cloned().collect::<Vec<_>>());

    // Pages of two, forward to the end and back again, echo the sort and keep the order.
    let mut page = f.get(&format!("{}&_count=2", q("birthdate,family"))).await.expect(200).json();
    assert_eq!(link(&page, "previous"), None);
    let mut seen = vec![order(&page)];
    while let Some(next) = link(&page, "next") {
        assert!(next.contains("_sort=birthdate%2Cfamily"), "{next}");
        page = f.get(&next).await.expect(200).json();
        seen.push(order(&page));
        assert!(link(&page, "first").is_some());
    }
    assert_eq!(seen, ["bc", "ae", "d"]);
    let mut back = Vec::new();
    while let Some(prev) = link(&page, "previous") {
        page = f.get(&prev).await.expect(200).json();
        back.push(order(&page));
    }
    assert_eq!(back, ["ae", "bc"]);

    // Without _sort, a search of index-row conditions alone takes its page inside the index
    // statement (search::rid_source): creation order forward and back, two index conditions
    // joined, a deleted resource and a contained one (same identifier) left out.
    let sys3 = format!("urn:pages:{tag}");
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(f.create(&json!({"resourceType": "Patient", "identifier": [{"system": sys3, "value": format!("p{i}")}], "gender": "other"})).await["id"].as_str().unwrap().to_string());
    }
    f.delete(&format!("Patient/{}", made[2])).await.expect(204);
    f.create(&json!({"resourceType": "Patient", "identifier": [{"system": sys3, "value": "p0"}], "gender": "female"})).await;
    f.create(&json!({"resourceType": "Group", "type": "person", "actual": true, "contained": [{"resourceType": "Patient", "id": "in", "identifier": [{"system": sys3, "value": "c"}], "gender": "other"}], "member": [{"entity": {"reference": "#in"}}]})).await;
    let alive: Vec<String> = made.iter().enumerate().filter(|(i, _)| *i != 2).map(|(_, m)| m.clone()).collect();
    let mut page = f.get(&format!("Patient?identifier={sys3}|&gender=other&_count=2")).await.expect(200).json();
    let mut seen = match_ids(&page);
    let mut pages = 1;
    while let Some(next) = link(&page, "next") {
        page = f.get(&next).await.expect(200).json();
        seen.extend(match_ids(&page));
        pages += 1;
    }
    assert_eq!((seen, pages), (alive.clone(), 2), "unsorted pages on {}", f.backend);
    let mut back = Vec::new();
    while let Some(prev) = link(&page, "previous") {
        page = f.get(&prev).await.expect(200).json();
        back.splice(0..0, match_ids(&page));
    }
    assert_eq!(back, alive[..2].to_vec());
    // The same through a condition on the resource row itself (`_id`), which is not index-row
    // only: pages in creation order both ways, whatever order the ids are given in.
    let mut ids_given = alive.clone();
    ids_given.reverse();
    let mut page = f.get(&format!("Patient?_id={}&_count=3", ids_given.join(","))).await.expect(200).json();
    let mut seen = match_ids(&page);
    while let Some(next) = link(&page, "next") {
        page = f.get(&next).await.expect(200).json();
        seen.extend(match_ids(&page));
    }
    assert_eq!(seen, alive, "unsorted _id pages on {}", f.backend);
    let prev = link(&page, "previous").expect("a previous page");
    assert_eq!(match_ids(&f.get(&prev).await.expect(200).json()), alive[..3].to_vec(), "back from the last _id page on {}", f.backend);

    // A repeating element sorts by its lowest value ascending and its highest descending.
    let sys2 = format!("urn:sort2:{tag}");
    let x = f.create(&json!({"resourceType": "Patient", "identifier": [{"system": sys2, "value": "x"}], "name": [{"family": "Aaa"}, {"family": "Zzz"}]})).await;
    let y = f.create(&json!({"resourceType": "Patient", "identifier": [{"system": sys2, "value": "y"}], "name": [{"family": "Mmm"}]})).await;
    let (x, y) = (x["id"].as_str().unwrap().to_string(), y["id"].as_str().unwrap().to_string());
    for sort in ["family", "-family"] {
        let got = match_ids(&f.get(&format!("Patient?identifier={sys2}|&_sort={sort}")).await.expect(200).json());
        assert_eq!(got, [x.clone(), y.clone()], "_sort={sort}");
    }

    // Refusals name _sort or _cursor.
    for bad in ["nonsense", "family,family", "", "-", "_text", "phonetic"] {
        let r = f.get(&q(bad)).await.expect(400);
        assert_eq!(r.issue_expression().as_deref(), Some("_sort"), "_sort={bad}: {}", r.text);
    }
    let next = link(&f.get(&format!("{}&_count=2", q("birthdate"))).await.expect(200).json(), "next").unwrap();
    let other = next.replace("_sort=birthdate", "_sort=family");
    assert_eq!(f.get(&other).await.expect(400).issue_expression().as_deref(), Some("_cursor"));
    assert_eq!(f.get(&format!("{}&_cursor=garbage", q("family"))).await.expect(400).issue_expression().as_deref(), Some("_cursor"));
}

async fn composites_match_within_one_instance(f: &Fhir) {
    let p = f.create(&json!({"resourceType": "Patient"})).await["id"].as_str().unwrap().to_string();
    let loinc = |c: &str| json!({"coding": [{"system": "http://loinc.org", "code": c}]});
    let qty = |v: f64| json!({"value": v, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"});
    let obs = |code: &str, value: Option<f64>, components: Vec<(&str, f64)>| {
        let mut o = json!({"resourceType": "Observation", "status": "final", "code": loinc(code), "subject": {"reference": format!("Patient/{p}")}});
        if let Some(v) = value {
            o["valueQuantity"] = qty(v);
        }
        if !components.is_empty() {
            o["component"] = components.iter().map(|(c, v)| json!({"code": loinc(c), "valueQuantity": qty(*v)})).collect();
        }
        o
    };
    let mut ids = std::collections::HashMap::new();
    for (name, o) in [
        ("o1", obs("8480-6", Some(120.0), vec![])),
        ("o2", obs("8480-6", Some(150.0), vec![])),
        ("o3", obs("8462-4", Some(120.0), vec![])),
        ("o4", obs("85354-9", None, vec![("8480-6", 150.0), ("8462-4", 90.0)])),
    ] {
        ids.insert(f.create(&o).await["id"].as_str().unwrap().to_string(), name);
    }
    let c1 = f.create(&json!({"resourceType": "Observation", "status": "final", "code": loinc("72166-2"), "subject": {"reference": format!("Patient/{p}")},
        "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "8517006"}]}})).await;
    ids.insert(c1["id"].as_str().unwrap().to_string(), "c1");
    let (p, ids) = (&p, &ids);
    let found = move |q: String| async move {
        named(f, &format!("Observation?subject=Patient/{p}&{q}"), ids).await
    };
    for (q, expected) in [
        ("code-value-quantity=http://loinc.org|8480-6$120", "o1"),
        ("code-value-quantity=8480-6$gt130", "o2"),
        ("code-value-quantity=8480-6$120|http://unitsofmeasure.org|mm[Hg]", "o1"),
        ("code-value-quantity=8480-6$120|http://unitsofmeasure.org|kg", ""),
        ("code-value-quantity=8480-6$120,8462-4$120", "o1,o3"),
        ("component-code-value-quantity=8480-6$gt130", "o4"),
        // 8462-4 and 150 are both in o4, but in different components: no match.
        ("component-code-value-quantity=8462-4$gt130", ""),
        ("component-code-value-quantity=8462-4$lt100", "o4"),
        ("combo-code-value-quantity=8480-6$gt130", "o2,o4"),
        ("code-value-concept=72166-2$http://snomed.info/sct|8517006", "c1"),
        ("code-value-concept=72166-2$http://snomed.info/sct|1", ""),
        ("code-value-quantity:missing=true", "c1,o4"),
        ("code-value-quantity=8480-6$120&code-value-quantity=8480-6$lt130", "o1"),
    ] {
        assert_eq!(found(q.to_string()).await, expected, "{q} on {}", f.backend);
    }
    for bad in ["code-value-quantity=8480-6", "code-value-quantity:exact=8480-6$1", "code-value-quantity=8480-6$abc", "code-value-quantity=8480-6$1$2", "code-value-quantity=$1"] {
        let (k, _) = bad.split_once('=').unwrap();
        let r = f.get(&format!("Observation?{bad}")).await.expect(400);
        assert_eq!(r.issue_expression().as_deref(), Some(k), "{bad}: {}", r.text);
    }
}

async fn token_modifiers_use_stored_terminology(f: &Fhir) {
    let tag = unique();
    let sys = format!("urn:cs:{tag}");
    let vs_url = format!("http://example.org/vs/{tag}");
    f.create(&json!({"resourceType": "CodeSystem", "url": sys, "status": "active", "content": "complete",
        "concept": [{"code": "A", "concept": [{"code": "A1", "concept": [{"code": "A11"}]}, {"code": "A2"}]}, {"code": "B"}]})).await;
    let vs = f.create(&json!({"resourceType": "ValueSet", "url": vs_url, "status": "active",
        "compose": {"include": [{"system": sys, "filter": [{"property": "concept", "op": "is-a", "value": "A1"}]}, {"system": sys, "concept": [{"code": "B"}]}]}})).await;
    let p = f.create(&json!({"resourceType": "Patient", "gender": "male"})).await["id"].as_str().unwrap().to_string();
    let mut names = std::collections::HashMap::new();
    for (name, system, code) in [("a", sys.as_str(), "A"), ("a1", &sys, "A1"), ("a11", &sys, "A11"), ("b", &sys, "B"), ("c", "urn:other", "A1")] {
        let o = json!({"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": system, "code": code}]}, "subject": {"reference": format!("Patient/{p}")}});
        names.insert(f.create(&o).await["id"].as_str().unwrap().to_string(), name);
    }
    let (p, names) = (&p, &names);
    let found = move |q: String| async move {
        named(f, &format!("Observation?subject=Patient/{p}&{q}"), names).await
    };
    let vs_id = vs["id"].as_str().unwrap();
    for (q, expected) in [
        (format!("code:in={vs_url}"), "a1,a11,b"),
        (format!("code:in=ValueSet/{vs_id}"), "a1,a11,b"),
        (format!("code:not-in={vs_url}"), "a,c"),
        (format!("code:below={sys}|A"), "a,a1,a11"),
        (format!("code:above={sys}|A11"), "a,a1,a11"),
        (format!("code:below={sys}|A2"), ""),
        (format!("code:below={sys}|A1,{sys}|B"), "a1,a11,b"),
    ] {
        assert_eq!(found(q.clone()).await, expected, "{q} on {}", f.backend);
    }
    // Value sets of the R4 package are known without being stored.
    let b = f.get(&format!("Patient?_id={p}&gender:in=http://hl7.org/fhir/ValueSet/administrative-gender")).await.expect(200).json();
    assert_eq!(match_ids(&b), [p.clone()]);
    // Conditional operations mean what a search means: terminology modifiers and this server's own
    // absolute URLs included.
    let sys = &sys;
    let if_none_exist = move |criteria: String| async move {
        let o = json!({"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": sys.clone(), "code": "A2"}]}, "subject": {"reference": format!("Patient/{p}")}});
        f.send(reqwest::Method::POST, "Observation", Some(&o), &[("If-None-Exist", criteria.as_str())]).await
    };
    let several = if_none_exist(format!("subject=Patient/{p}&code:in={vs_url}")).await;
    assert_eq!(several.status, 412, "three matches: {}", several.text);
    let below_a2 = format!("subject={}/Patient/{p}&code:below={sys}|A2", f.base);
    let created = if_none_exist(below_a2.clone()).await.expect(201).json();
    let again = if_none_exist(below_a2).await.expect(200).json();
    assert_eq!(again["id"], created["id"], "the second conditional create finds the first");
    for (bad, at) in [
        ("code:in=http://example.org/no-such-vs".to_string(), "code:in"),
        ("code:below=A".to_string(), "code:below"),
        ("code:above=urn:no-such-system|A".to_string(), "code:above"),
        (format!("code:below={sys}|ZZZ"), "code:below"),
    ] {
        let r = f.get(&format!("Observation?{bad}")).await.expect(400);
        assert_eq!(r.issue_expression().as_deref(), Some(at), "{bad}: {}", r.text);
    }
}

async fn text_content_and_list(f: &Fhir) {
    let tag = unique();
    let sys = format!("urn:ft:{tag}");
    let div = |t: &str| json!({"status": "generated", "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{t}</div>")});
    let mut names = std::collections::HashMap::new();
    let mut ids = std::collections::HashMap::new();
    for (name, p) in [
        ("p1", json!({"resourceType": "Patient", "text": div("Patient suffered a <b>heart</b> attack; Ångström")})),
        ("p2", json!({"resourceType": "Patient", "text": div("Stroke survivor"), "address": [{"city": "Heartford"}]})),
        ("p3", json!({"resourceType": "Patient", "name": [{"family": "Attack"}]})),
    ] {
        let mut p = p;
        p["identifier"] = json!([{"system": sys, "value": name}]);
        let id = f.create(&p).await["id"].as_str().unwrap().to_string();
        names.insert(id.clone(), name);
        ids.insert(name, id);
    }
    let list = f.create(&json!({"resourceType": "List", "status": "current", "mode": "working",
        "entry": [{"item": {"reference": format!("Patient/{}", ids["p1"])}}, {"item": {"reference": format!("Patient/{}", ids["p3"])}}]})).await;
    let list_id = list["id"].as_str().unwrap().to_string();
    let (sys, names) = (&sys, &names);
    let found = move |q: String| async move {
        named(f, &format!("Patient?identifier={sys}|&{q}"), names).await
    };
    for (q, expected) in [
        ("_text=heart".to_string(), "p1"),
        ("_text=HEART attack".into(), "p1"),
        ("_text=%22heart attack%22".into(), "p1"),
        ("_text=%22attack heart%22".into(), ""),
        ("_text=stroke OR angstrom".into(), "p1,p2"),
        ("_text=ångström".into(), "p1"),
        ("_text=eart".into(), ""),
        ("_text=attack".into(), "p1"),
        ("_content=heart".into(), "p1,p2"),
        ("_content=attack".into(), "p1,p3"),
        ("_content=heartford stroke".into(), "p2"),
        (format!("_list={list_id}"), "p1,p3"),
        (format!("_list=List/{list_id}"), "p1,p3"),
        (format!("_list={list_id}&_text=heart"), "p1"),
        ("_list=no-such-list".into(), ""),
    ] {
        assert_eq!(found(q.clone()).await, expected, "{q} on {}", f.backend);
    }
    for (bad, at) in [("_list=$current-allergies", "_list"), ("_text=%22open", "_text"), ("_text:exact=x", "_text:exact"), ("_type=Patient", "_type"), ("_content=OR", "_content")] {
        let r = f.get(&format!("Patient?{bad}")).await.expect(400);
        assert_eq!(r.issue_expression().as_deref(), Some(at), "{bad}: {}", r.text);
    }
}

async fn system_search_with_type(f: &Fhir) {
    let tag = unique();
    let meta = json!({"tag": [{"system": format!("urn:sys:{tag}"), "code": "x"}]});
    let p = f.create(&json!({"resourceType": "Patient", "meta": meta})).await["id"].as_str().unwrap().to_string();
    let o = f.create(&json!({"resourceType": "Observation", "meta": meta, "status": "final", "code": {"text": "t"}, "subject": {"reference": format!("Patient/{p}")}})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (pp, oo) = (format!("Patient/{p}"), format!("Observation/{o}"));
    let t = format!("_tag=urn:sys:{tag}|x");
    assert_eq!(search(f, &format!("{}?{t}", f.base)).await, set(&[("match", pp.clone()), ("match", oo.clone())]));
    assert_eq!(search(f, &format!("{}?_type=Patient&{t}", f.base)).await, set(&[("match", pp.clone())]));
    let b = f.get(&format!("{}?_type=Patient,Observation&{t}&_sort=-_lastUpdated", f.base)).await.expect(200).json();
    assert_eq!(match_ids(&b), [o.clone(), p.clone()]);
    assert_eq!(b["entry"][0]["fullUrl"].as_str().unwrap(), f.url(&oo));
    // Pages across types keep _type in their links.
    let first = f.get(&format!("{}?_type=Observation,Patient&{t}&_count=1", f.base)).await.expect(200).json();
    let next = link(&first, "next").expect("a next page");
    assert!(next.contains("_type=Observation%2CPatient"), "{next}");
    let second = f.get(&next).await.expect(200).json();
    let mut both = [match_ids(&first), match_ids(&second)].concat();
    both.sort();
    let mut want = vec![o.clone(), p.clone()];
    want.sort();
    assert_eq!(both, want);
    assert_eq!(search(f, &format!("{}?_type=Observation&{t}&_include=Observation:subject", f.base)).await, set(&[("match", oo.clone()), ("include", pp.clone())]));
    let r = f.send(reqwest::Method::POST, "_search", None, &[("content-type", "application/x-www-form-urlencoded")]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = f
        .http
        .post(f.url("_search"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("_type=Observation&_tag=urn:sys:{tag}%7Cx"))
        .send()
        .await
        .unwrap();
    let b: Value = r.json().await.unwrap();
    assert_eq!(match_ids(&b), [o.clone()]);
    for (bad, at) in [("name=x", "name"), ("_type=Nope", "_type"), ("_type=Patient,Observation&code=x", "code"), ("_type=Patient,Observation&_sort=code", "_sort")] {
        let r = f.get(&format!("{}?{bad}", f.base)).await.expect(400);
        assert_eq!(r.issue_expression().as_deref(), Some(at), "{bad}: {}", r.text);
    }
}

async fn ucum_quantities_compare_in_base_units(f: &Fhir) {
    let p = f.create(&json!({"resourceType": "Patient"})).await["id"].as_str().unwrap().to_string();
    let mut names = std::collections::HashMap::new();
    for (name, value, system, code) in [
        ("ug", 5400.0, "http://unitsofmeasure.org", "ug"),
        ("g", 0.0054, "http://unitsofmeasure.org", "g"),
        ("mg", 5.4, "http://unitsofmeasure.org", "mg"),
        ("kg", 5.4, "http://unitsofmeasure.org", "kg"),
        ("other", 5.4, "urn:other", "mg"),
        ("cel", 37.0, "http://unitsofmeasure.org", "Cel"),
    ] {
        let o = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": format!("Patient/{p}")},
            "valueQuantity": {"value": value, "system": system, "code": code, "unit": code}});
        names.insert(f.create(&o).await["id"].as_str().unwrap().to_string(), name);
    }
    let (p, names) = (&p, &names);
    let found = move |q: &'static str| async move {
        named(f, &format!("Observation?subject=Patient/{p}&{q}"), names).await
    };
    for (q, expected) in [
        ("value-quantity=5.4|http://unitsofmeasure.org|mg", "g,mg,ug"),
        ("value-quantity=gt5|http://unitsofmeasure.org|mg", "g,kg,mg,ug"),
        ("value-quantity=lt1|http://unitsofmeasure.org|g", "g,mg,ug"),
        ("value-quantity=5400|http://unitsofmeasure.org|ug", "g,mg,ug"),
        ("value-quantity=5.4||mg", "mg,other"),
        ("value-quantity=5.4|urn:other|mg", "other"),
        ("value-quantity=37|http://unitsofmeasure.org|Cel", "cel"),
        ("value-quantity=5.4|http://unitsofmeasure.org|m", ""),
    ] {
        assert_eq!(found(q).await, expected, "{q} on {}", f.backend);
    }
}

async fn near_finds_locations_within_a_distance(f: &Fhir) {
    let tag = unique();
    let sys = format!("urn:near:{tag}");
    // A at Ann Arbor; B 0.0899° north (10.0 km: 111.195 km per degree); C 1° east (82.3 km at this latitude); D has no position.
    let mut names = std::collections::HashMap::new();
    for (name, pos) in [("a", Some((42.2565, -83.6948))), ("b", Some((42.3464, -83.6948))), ("c", Some((42.2565, -82.6948))), ("d", None)] {
        let mut l = json!({"resourceType": "Location", "identifier": [{"system": sys, "value": name}]});
        if let Some((lat, long)) = pos {
            l["position"] = json!({"latitude": lat, "longitude": long});
        }
        names.insert(f.create(&l).await["id"].as_str().unwrap().to_string(), name);
    }
    let (sys, names) = (&sys, &names);
    let found = move |q: &'static str| async move {
        named(f, &format!("Location?identifier={sys}|&{q}"), names).await
    };
    for (q, expected) in [
        ("near=42.2565|-83.6948|5|km", "a"),
        ("near=42.2565|-83.6948|11|km", "a,b"),
        ("near=42.2565|-83.6948|9.9|km", "a"),
        ("near=42.2565|-83.6948|85", "a,b,c"),
        ("near=42.2565|-83.6948|80|km", "a,b"),
        ("near=42.2565|-83.6948|7|[mi_i]", "a,b"),
        ("near=42.2565|-83.6948|9000|m", "a"),
        ("near=42.2565|-83.6948", "a,b"),
        ("near:missing=true", "d"),
    ] {
        assert_eq!(found(q).await, expected, "{q} on {}", f.backend);
    }
    for bad in ["near=91|0|1|km", "near=42|-83|1|furlong", "near=42", "near=42|-83|-1", "near:exact=1|2", "near=1|2,3|4"] {
        let (k, _) = bad.split_once('=').unwrap();
        let r = f.get(&format!("Location?{bad}")).await.expect(400);
        assert_eq!(r.issue_expression().as_deref(), Some(k), "{bad}: {}", r.text);
    }
}

async fn filter_expressions(f: &Fhir) {
    let tag = unique();
    let sys = format!("urn:filter:{tag}");
    let mut names = std::collections::HashMap::new();
    let mut ids = std::collections::HashMap::new();
    for (name, family, gender, birth) in [("p1", "Smith", "male", Some("1980-01-01")), ("p2", "Smithson", "female", Some("1990-05-05")), ("p3", "Jones", "male", None)] {
        let mut p = json!({"resourceType": "Patient", "identifier": [{"system": sys, "value": name}], "name": [{"family": family}], "gender": gender});
        if let Some(b) = birth {
            p["birthDate"] = json!(b);
        }
        let id = f.create(&p).await["id"].as_str().unwrap().to_string();
        names.insert(id.clone(), name);
        ids.insert(name, id);
    }
    let obs = f.create(&json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": format!("Patient/{}", ids["p1"])}})).await;
    let (sys, names) = (&sys, &names);
    let found = move |q: &'static str| async move {
        named(f, &format!("Patient?identifier={sys}|&_filter={}", form_urlencoded_value(q)), names).await
    };
    for (q, expected) in [
        ("family eq \"Smith\"", "p1"),
        ("family sw smi", "p1,p2"),
        ("family ew SON", "p2"),
        ("family co mit", "p1,p2"),
        ("family ne Smith", "p2,p3"),
        ("gender eq male and birthdate lt 1985", "p1"),
        ("gender eq female or family eq Jones", "p2,p3"),
        ("not(gender eq male)", "p2"),
        ("gender ne male", "p2"),
        ("birthdate pr false", "p3"),
        ("birthdate ge 1990-05 and birthdate le 1990-05", "p2"),
        ("(family eq Jones or family eq Smith) and gender eq male", "p1,p3"),
        ("gender eq http://hl7.org/fhir/administrative-gender|female", "p2"),
        ("gender in http://hl7.org/fhir/ValueSet/administrative-gender and not(family sw smith)", "p3"),
    ] {
        assert_eq!(found(q).await, expected, "_filter={q} on {}", f.backend);
    }
    let b = f.get(&format!("Observation?_id={}&_filter={}", obs["id"].as_str().unwrap(), form_urlencoded_value("patient.family eq Smith"))).await.expect(200).json();
    assert_eq!(match_ids(&b).len(), 1);
    for bad in ["family xx 1", "gender gt male", "nonsense eq 1", "family eq \"open", "period po 2000"] {
        let r = f.get(&format!("Patient?_filter={}", form_urlencoded_value(bad))).await.expect(400);
        assert_eq!(r.issue_expression().as_deref(), Some("_filter"), "{bad}: {}", r.text);
    }
}

/// Percent-encodes a query value (spaces, quotes, '|' and the rest).
/// `_has` reads the source's index rows: they must follow its current version and go with it.
async fn has_follows_current_versions(f: &Fhir) {
    let sys = format!("urn:has:{}", unique());
    let p = f.create(&json!({"resourceType": "Patient"})).await["id"].as_str().unwrap().to_string();
    let obs = |code: &str| json!({"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": sys, "code": code}]}, "subject": {"reference": format!("Patient/{p}")}});
    let o = f.create(&obs("x")).await;
    let oid = o["id"].as_str().unwrap().to_string();
    let found = |code: &str| {
        let q = format!("Patient?_id={p}&_has:Observation:subject:code={sys}|{code}");
        async move { match_ids(&f.get(&q).await.expect(200).json()) }
    };
    assert_eq!(found("x").await, [p.clone()]);
    let mut changed = obs("y");
    changed["id"] = json!(oid);
    f.put(&format!("Observation/{oid}"), &changed).await.expect(200);
    assert!(found("x").await.is_empty(), "the old version's code no longer counts");
    assert_eq!(found("y").await, [p.clone()]);
    f.delete(&format!("Observation/{oid}")).await.expect(204);
    assert!(found("y").await.is_empty(), "a deleted source no longer counts");
}

/// `_has:Type:patient:` on a token reads the Patient kept with each token row: it must name every
/// patient a source names, follow a source whose subject changes, and leave contained sources out.
async fn has_patient_names_every_patient_of_a_source(f: &Fhir) {
    let sys = format!("urn:has-patient:{}", unique());
    let mut ps = Vec::new();
    for _ in 0..3 {
        ps.push(f.create(&json!({"resourceType": "Patient"})).await["id"].as_str().unwrap().to_string());
    }
    let found = |q: String| async move {
        let mut ids = match_ids(&f.get(&q).await.expect(200).json());
        ids.sort();
        ids
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    // An Appointment with two patients: its `patient` parameter names both.
    let actor = |p: &str| json!({"actor": {"reference": format!("Patient/{p}")}, "status": "accepted"});
    f.create(&json!({"resourceType": "Appointment", "status": "booked", "serviceType": [{"coding": [{"system": sys, "code": "two"}]}],
        "participant": [actor(&ps[0]), actor(&ps[1])]}))
        .await;
    assert_eq!(found(format!("Patient?_has:Appointment:patient:service-type={sys}|two")).await, sorted(vec![ps[0].clone(), ps[1].clone()]));
    // An Observation moved from one patient to another.
    let obs = |p: &str| json!({"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": sys, "code": "obs"}]}, "subject": {"reference": format!("Patient/{p}")}});
    let oid = f.create(&obs(&ps[0])).await["id"].as_str().unwrap().to_string();
    let q = format!("Patient?_has:Observation:patient:code={sys}|obs");
    assert_eq!(found(q.clone()).await, [ps[0].clone()]);
    let mut moved = obs(&ps[2]);
    moved["id"] = json!(oid);
    f.put(&format!("Observation/{oid}"), &moved).await.expect(200);
    assert_eq!(found(q.clone()).await, [ps[2].clone()], "the patient of the current version");
    // The same code on an Observation contained in a report about the second patient.
    let mut inner = obs(&ps[1]);
    inner["id"] = json!("o");
    f.create(&json!({"resourceType": "DiagnosticReport", "status": "final", "code": {"text": "panel"}, "subject": {"reference": format!("Patient/{}", ps[1])},
        "contained": [inner], "result": [{"reference": "#o"}]}))
        .await;
    assert_eq!(found(q.clone()).await, [ps[2].clone()], "a contained Observation is no source");
}

/// One UCUM quantity value is paged in rid order from a window of the unit's rows (SQLite), going
/// on past the window when it holds too few matches; pages must be the same as any other way.
async fn quantity_pages_through_sparse_and_dense_matches(f: &Fhir) {
    let p = f.create(&json!({"resourceType": "Patient"})).await["id"].as_str().unwrap().to_string();
    // Above and below the threshold; far above every other test's mass values (in grams).
    let obs = |mg: f64| json!({"resourceType": "Observation", "status": "final", "code": {"text": "w"}, "subject": {"reference": format!("Patient/{p}")},
        "valueQuantity": {"value": mg, "system": "http://unitsofmeasure.org", "code": "mg"}});
    // A match, 30 rows without one (more than a page of two reads in its window), five matches
    // together, 5 rows, a match, 30 rows.
    let layout: Vec<bool> = [vec![true], vec![false; 30], vec![true; 5], vec![false; 5], vec![true], vec![false; 30]].concat();
    let mut matches = Vec::new();
    for m in layout {
        let id = f.create(&obs(if m { 9_876_543_219.0 } else { 9_876_543_201.0 })).await["id"].as_str().unwrap().to_string();
        if m {
            matches.push(id);
        }
    }
    let (pages, back) = walk_pages(f, "Observation?value-quantity=gt9876543210|http://unitsofmeasure.org|mg&_count=2").await;
    let expected: Vec<Vec<String>> = matches.chunks(2).map(|c| c.to_vec()).collect();
    assert_eq!(pages, expected, "forward on {}", f.backend);
    let mut expected_back = expected[..expected.len() - 1].to_vec();
    expected_back.reverse();
    assert_eq!(back, expected_back, "back on {}", f.backend);
    // The same range in grams, all at once.
    let all = match_ids(&f.get("Observation?value-quantity=gt9876543.210|http://unitsofmeasure.org|g").await.expect(200).json());
    assert_eq!(all, matches, "in grams on {}", f.backend);
}

/// `_has:Observation:patient:` on a token pages through the Patients in creation order, from the
/// Patient's rid kept in the token rows: a Patient deleted since is left out and the page reads
/// on past it, a Patient written after its Observations is found by id, and so is each of the
/// several patients of an Appointment.
async fn has_patient_pages_in_creation_order(f: &Fhir) {
    let sys = format!("urn:has-pages:{}", unique());
    let obs = |p: &str| json!({"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": sys, "code": "c"}]}, "subject": {"reference": format!("Patient/{p}")}});
    let mut ps = Vec::new();
    for gender in ["male", "male", "male", "female"] {
        ps.push(f.create(&json!({"resourceType": "Patient", "gender": gender})).await["id"].as_str().unwrap().to_string());
    }
    // Two Observations each, the later Patients' first, so that neither the Observations' order
    // nor the ids' is the Patients'.
    for p in ps.iter().rev().chain(ps.iter()) {
        f.create(&obs(p)).await;
    }
    let late = format!("late-{}", unique());
    f.create(&obs(&late)).await;
    f.put(&format!("Patient/{late}"), &json!({"resourceType": "Patient", "id": late, "gender": "male"})).await.expect(201);
    f.delete(&format!("Patient/{}", ps[1])).await.expect(204);
    let actor = |p: &str| json!({"actor": {"reference": format!("Patient/{p}")}, "status": "accepted"});
    f.create(&json!({"resourceType": "Appointment", "status": "booked", "serviceType": [{"coding": [{"system": sys, "code": "two"}]}],
        "participant": [actor(&ps[3]), actor(&ps[0])]}))
        .await;
    let walk = |q: String| async move { walk_pages(f, &q).await };
    let one = |p: &String| vec![p.clone()];
    let (pages, back) = walk(format!("Patient?_has:Observation:patient:code={sys}|c&_count=1")).await;
    assert_eq!(pages, [one(&ps[0]), one(&ps[2]), one(&ps[3]), one(&late)], "forward on {}", f.backend);
    assert_eq!(back, [one(&ps[3]), one(&ps[2]), one(&ps[0])], "back on {}", f.backend);
    let (pages, _) = walk(format!("Patient?_has:Observation:patient:code={sys}|c&_count=2")).await;
    assert_eq!(pages, [vec![ps[0].clone(), ps[2].clone()], vec![ps[3].clone(), late.clone()]], "pages of two on {}", f.backend);
    let (pages, _) = walk(format!("Patient?_has:Appointment:patient:service-type={sys}|two&_count=1")).await;
    assert_eq!(pages, [one(&ps[0]), one(&ps[3])], "an Appointment's patients on {}", f.backend);
    // With another index condition (a join of the two), and with a condition on the resource row.
    let got = match_ids(&f.get(&format!("Patient?_has:Observation:patient:code={sys}|c&gender=male")).await.expect(200).json());
    assert_eq!(got, [ps[0].clone(), ps[2].clone(), late.clone()], "with gender on {}", f.backend);
    let got = match_ids(&f.get(&format!("Patient?_has:Observation:patient:code={sys}|c&_id={},{},{late}", ps[1], ps[2])).await.expect(200).json());
    assert_eq!(got, [ps[2].clone(), late.clone()], "with _id on {}", f.backend);
}

async fn contained_resources(f: &Fhir) {
    let sys = format!("urn:med:{}", unique());
    let med = |id: &str, code: &str| json!({"resourceType": "Medication", "id": id, "code": {"coding": [{"system": sys, "code": code}]}});
    let stored = f.create(&json!({"resourceType": "Medication", "code": {"coding": [{"system": sys, "code": "abc"}]}})).await["id"].as_str().unwrap().to_string();
    let request = |contained: Option<Value>, reference: String| {
        let mut r = json!({"resourceType": "MedicationRequest", "status": "active", "intent": "order",
            "subject": {"reference": "Patient/x"}, "medicationReference": {"reference": reference}});
        if let Some(c) = contained {
            r["contained"] = json!([c]);
        }
        r
    };
    let a = f.create(&request(Some(med("m1", "abc")), "#m1".into())).await;
    let a_id = a["id"].as_str().unwrap().to_string();
    let b_id = f.create(&request(None, format!("Medication/{stored}"))).await["id"].as_str().unwrap().to_string();
    let c_id = f.create(&request(Some(med("m1", "xyz")), "#m1".into())).await["id"].as_str().unwrap().to_string();
    let abc = format!("code={sys}|abc");
    let urls = |b: &Value| -> BTreeSet<String> { b["entry"].as_array().into_iter().flatten().filter_map(|e| e["fullUrl"].as_str().map(|u| u.trim_start_matches(&format!("{}/", f.base)).to_string())).collect() };
    let get = |q: String| async move { f.get(&q).await.expect(200).json() };
    let cases = [
        (format!("Medication?{abc}"), vec![format!("Medication/{stored}")]),
        (format!("Medication?{abc}&_contained=false"), vec![format!("Medication/{stored}")]),
        (format!("Medication?{abc}&_contained=true"), vec![format!("MedicationRequest/{a_id}")]),
        (format!("Medication?{abc}&_contained=both"), vec![format!("Medication/{stored}"), format!("MedicationRequest/{a_id}")]),
        (format!("Medication?{abc}&_contained=true&_containedType=container"), vec![format!("MedicationRequest/{a_id}")]),
        (format!("Medication?{abc}&_contained=true&_containedType=contained"), vec![format!("MedicationRequest/{a_id}#m1")]),
        (format!("Medication?{abc}&_contained=both&_containedType=contained"), vec![format!("Medication/{stored}"), format!("MedicationRequest/{a_id}#m1")]),
        (format!("Medication?code={sys}|abc,{sys}|xyz&_contained=true&_containedType=contained&_count=1"), vec![format!("MedicationRequest/{a_id}#m1")]),
        // search.html: a chain is evaluated inside contained resources too.
        (format!("MedicationRequest?medication.code={sys}|abc"), vec![format!("MedicationRequest/{a_id}"), format!("MedicationRequest/{b_id}")]),
        (format!("MedicationRequest?medication.code={sys}|xyz"), vec![format!("MedicationRequest/{c_id}")]),
    ];
    for (q, expected) in cases {
        let b = get(q.clone()).await;
        assert_eq!(urls(&b), expected.into_iter().collect::<BTreeSet<_>>(), "{q} on {}", f.backend);
    }
    let alone = get(format!("Medication?{abc}&_contained=true&_containedType=contained")).await;
    assert_eq!(alone["entry"][0]["resource"], med("m1", "abc"), "the contained resource itself");
    for (q, at) in [
        (format!("Medication?{abc}&_contained=maybe"), "_contained"),
        (format!("Medication?{abc}&_containedType=contained"), "_containedType"),
        (format!("Medication?{abc}&_contained=true&_sort=code"), "_sort"),
    ] {
        assert_eq!(f.get(&q).await.expect(400).issue_expression().as_deref(), Some(at), "{q}");
    }
    // The contained index follows the container's current version.
    let mut a2 = a.clone();
    a2["contained"] = json!([med("m1", "xyz")]);
    f.put(&format!("MedicationRequest/{a_id}"), &a2).await.expect(200);
    f.delete(&format!("MedicationRequest/{c_id}")).await.expect(204);
    assert!(urls(&get(format!("Medication?{abc}&_contained=true")).await).is_empty(), "{}", f.backend);
    let xyz = urls(&get(format!("MedicationRequest?medication.code={sys}|xyz")).await);
    assert_eq!(xyz, [format!("MedicationRequest/{a_id}")].into(), "{}", f.backend);
}

fn form_urlencoded_value(v: &str) -> String {
    v.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

both_backends!(quantity_pages_through_sparse_and_dense_matches, has_follows_current_versions, has_patient_names_every_patient_of_a_source, has_patient_pages_in_creation_order, contained_resources, filter_expressions, near_finds_locations_within_a_distance, ucum_quantities_compare_in_base_units, system_search_with_type, text_content_and_list, token_modifiers_use_stored_terminology, composites_match_within_one_instance, chains_and_has, include_and_revinclude, strict_by_default_lenient_on_request, compartment_search, sort_orders_and_pages);

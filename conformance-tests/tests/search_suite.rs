//! Table-driven search conformance (issue 4): query → expected ids, over the 30 Synthea patients,
//! a slice of the official R4 examples and a handful of resources of our own, on both backends.
//!
//! Ground truth is the raw JSON we load (Synthea `urn:uuid:` references rewritten to the ids the
//! server assigned, exactly as a transaction must rewrite them). Every expected result is computed
//! here by a hand-written predicate over that JSON, following search.html and the R4
//! SearchParameter expressions; nothing is asked of the server's `search` crate. Where search.html
//! leaves room (number/quantity comparisons near the search value's precision, `ap`), a guard
//! refuses values whose answer would depend on the reading, so every expectation is unambiguous.
//!
//! Both backends load the same data; their answers are compared with the expectations and, through
//! stable names (Synthea file#entry, example Type/id, own name), with each other.
//!
//! The expectations assume the server holds nothing else (true for the throwaway databases of
//! `both_backends!`; an external `FHIR_BASE_URL` server must be empty). `SEARCH_SUITE_VERBOSE=1`
//! lists every case with its expected size and timing.

use conformance_tests::calendar::{civil_from_days, days_from_civil};
use conformance_tests::{both_backends, corpora, json_files, Fhir};
use futures::StreamExt;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// =============================================================================================
// Known server bugs: cases that fail today for a reason reported to the lead engineer. The test
// fails when one of them starts passing, so the list stays honest.
// =============================================================================================

const KNOWN_SERVER_BUGS: &[(&str, &str)] = &[];

// =============================================================================================
// Ground truth
// =============================================================================================

/// The R4 example types loaded (all their examples, under their own ids).
const EXAMPLE_TYPES: &[&str] = &["Patient", "Practitioner", "Organization", "Observation", "Encounter", "Condition", "RiskAssessment", "PlanDefinition"];
/// Tag on the resources this suite writes itself.
const OWN_TAG_SYSTEM: &str = "urn:search-suite";
const LOINC: &str = "http://loinc.org";
const SNOMED: &str = "http://snomed.info/sct";
const UCUM: &str = "http://unitsofmeasure.org";
const V2_0203: &str = "http://terminology.hl7.org/CodeSystem/v2-0203";
const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
const SYNTHEA_TAG: &str = "https://smarthealthit.org/tags|synthea-5-2019";
const OWN_VS: &str = "http://example.org/fhir/ValueSet/search-suite-respiratory";

#[derive(Clone, Debug, PartialEq)]
enum Origin {
    Example,
    /// (bundle file index, entry index)
    Synthea(usize, usize),
    Own(&'static str),
}

struct Res {
    /// `Type/id` on the server under test.
    key: String,
    rtype: String,
    id: String,
    json: Value,
    origin: Origin,
}

impl Res {
    /// A name that is the same on every backend (server ids differ).
    fn stable(&self) -> String {
        match &self.origin {
            Origin::Example => self.key.clone(),
            Origin::Synthea(f, e) => format!("{}[syn{f}#{e}]", self.rtype),
            Origin::Own(n) => format!("{}[own:{n}]", self.rtype),
        }
    }
}

#[derive(Default)]
struct Corpus {
    res: Vec<Res>,
    by_key: HashMap<String, usize>,
    by_type: HashMap<String, Vec<usize>>,
    /// Synthea patients in file order.
    patients: Vec<usize>,
    own: HashMap<&'static str, usize>,
    /// Instants taken between load waves: [after examples, after Synthea 0..15, after Synthea 15..30].
    cuts: Vec<String>,
    /// The server's base URL (absolute references to it are local ones).
    base: String,
}

impl Corpus {
    fn add(&mut self, origin: Origin, json: Value) -> usize {
        let rtype = json["resourceType"].as_str().unwrap().to_string();
        let id = json["id"].as_str().unwrap().to_string();
        let key = format!("{rtype}/{id}");
        let i = self.res.len();
        assert!(self.by_key.insert(key.clone(), i).is_none(), "{key} loaded twice");
        self.by_type.entry(rtype.clone()).or_default().push(i);
        if let Origin::Own(n) = origin {
            self.own.insert(n, i);
        }
        self.res.push(Res { key, rtype, id, json, origin });
        i
    }
    fn of<'a>(&'a self, t: &str) -> impl Iterator<Item = &'a Res> + 'a {
        self.by_type.get(t).map(|v| v.as_slice()).unwrap_or(&[]).iter().map(move |i| &self.res[*i])
    }
    fn get(&self, key: &str) -> Option<&Res> {
        self.by_key.get(key).map(|i| &self.res[*i])
    }
    /// The i-th Synthea patient (file order).
    fn pat(&self, i: usize) -> &Res {
        &self.res[self.patients[i]]
    }
    fn own(&self, n: &str) -> &Res {
        &self.res[self.own[n]]
    }
    /// The stored resource a literal reference points at, when it is local and stored.
    fn resolve(&self, reference: &str) -> Option<&Res> {
        let (t, id) = local_ref(reference)?;
        self.get(&format!("{t}/{id}"))
    }
    fn stable(&self, key: &str) -> String {
        self.get(key).map(Res::stable).unwrap_or_else(|| format!("?{key}"))
    }
    fn keys(&self, t: &str, pred: impl Fn(&Res) -> bool) -> BTreeSet<String> {
        self.of(t).filter(|r| pred(r)).map(|r| r.key.clone()).collect()
    }
}

fn now_micros() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as i64
}

/// A millisecond instant, as a query value.
fn instant(micros: i64) -> String {
    let (secs, ms) = (micros.div_euclid(1_000_000), micros.rem_euclid(1_000_000) / 1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z", s / 3600, s / 60 % 60, s % 60)
}

/// A boundary between load waves, well clear of the writes on both sides.
async fn cut() -> String {
    tokio::time::sleep(Duration::from_millis(40)).await;
    let t = instant(now_micros());
    tokio::time::sleep(Duration::from_millis(40)).await;
    t
}

fn rewrite_refs(v: &mut Value, map: &HashMap<String, String>) {
    match v {
        Value::Object(o) => {
            for (k, c) in o.iter_mut() {
                match (k.as_str(), &*c) {
                    ("reference", Value::String(s)) if s.starts_with("urn:uuid:") => {
                        let to = map.get(s).unwrap_or_else(|| panic!("{s} is no fullUrl of the bundle")).clone();
                        *c = Value::String(to);
                    }
                    _ => rewrite_refs(c, map),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| rewrite_refs(c, map)),
        _ => {}
    }
}

/// JSON text to a value, keeping decimals as written (`0.50` stays `0.50`).
fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("bad JSON ({e}): {text}"))
}

/// Loads everything on one server, in waves separated by [`cut`] so `_lastUpdated` has known splits.
async fn load(f: &Fhir) -> Corpus {
    let mut c = Corpus { base: f.base.clone(), ..Default::default() };
    let verbose = std::env::var_os("SEARCH_SUITE_VERBOSE").is_some();
    let t0 = Instant::now();

    // Wave 0: the official examples of EXAMPLE_TYPES, PUT under their own ids.
    let mut examples = Vec::new();
    for path in json_files(&corpora().join("fhir-r4-examples/examples")) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !EXAMPLE_TYPES.iter().any(|t| name.starts_with(&format!("{t}-"))) {
            continue;
        }
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if EXAMPLE_TYPES.contains(&v["resourceType"].as_str().unwrap_or("")) {
            examples.push(v);
        }
    }
    futures::stream::iter(examples.iter())
        .for_each_concurrent(4, |v| async move {
            let path = format!("{}/{}", v["resourceType"].as_str().unwrap(), v["id"].as_str().unwrap());
            let r = f.put(&path, v).await;
            assert!(r.status == 200 || r.status == 201, "PUT {path}: {} {}", r.status, r.text);
        })
        .await;
    for v in examples {
        c.add(Origin::Example, v);
    }
    if verbose {
        eprintln!("  examples stored on {} in {:.1}s", f.backend, t0.elapsed().as_secs_f64());
    }
    c.cuts.push(cut().await);

    // Waves 1 and 2: the Synthea transactions, 15 at a time.
    let files = json_files(&corpora().join("synthea/fhir-r4"));
    assert_eq!(files.len(), 30);
    for wave in [0..15, 15..30] {
        let mut posted: Vec<(usize, Value, Value)> = futures::stream::iter(wave.map(|i| (i, files[i].clone())))
            .map(|(i, path)| async move {
                let bundle: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                let r = f.post("", &bundle).await;
                assert_eq!(r.status, 200, "{}: {}", path.display(), &r.text[..r.text.len().min(2000)]);
                (i, bundle, r.json())
            })
            .buffer_unordered(2)
            .collect()
            .await;
        posted.sort_by_key(|(i, _, _)| *i);
        for (i, bundle, resp) in posted {
            let entries = bundle["entry"].as_array().unwrap();
            let answers = resp["entry"].as_array().unwrap();
            assert_eq!(entries.len(), answers.len());
            // Response entries come in request order; each location is Type/id/_history/1.
            let map: HashMap<String, String> = entries
                .iter()
                .zip(answers)
                .map(|(e, a)| {
                    let loc = a["response"]["location"].as_str().unwrap();
                    (e["fullUrl"].as_str().unwrap().to_string(), loc.split("/_history").next().unwrap().to_string())
                })
                .collect();
            for (n, e) in entries.iter().enumerate() {
                let mut r = e["resource"].clone();
                rewrite_refs(&mut r, &map);
                let key = &map[e["fullUrl"].as_str().unwrap()];
                r["id"] = Value::String(key.split_once('/').unwrap().1.to_string());
                let at = c.add(Origin::Synthea(i, n), r);
                if n == 0 {
                    assert_eq!(c.res[at].rtype, "Patient");
                    c.patients.push(at);
                }
            }
        }
        if verbose {
            eprintln!("  Synthea wave stored on {} at {:.1}s", f.backend, t0.elapsed().as_secs_f64());
        }
        c.cuts.push(cut().await);
    }

    // Wave 3: our own resources, for what neither corpus has (accents, decimals written with
    // their precision, codings without a system, identifier-only references, a ValueSet).
    let mrn0 = c.pat(0).json["identifier"].as_array().unwrap().iter().find(|i| i["system"] == "http://hospital.smarthealthit.org").unwrap()["value"].as_str().unwrap().to_string();
    let tag = format!(r#""meta": {{"tag": [{{"system": "{OWN_TAG_SYSTEM}", "code": "own"}}]}}"#);
    let mut own: Vec<(&'static str, String)> = vec![
        (
            "alvarez",
            format!(
                r#"{{"resourceType": "Patient", {tag}, "name": [{{"family": "Álvarez-Núñez", "given": ["José", "María"]}}], "gender": "other", "birthDate": "1980",
            "address": [{{"city": "São Paulo", "state": "SP", "country": "BR"}}]}}"#
            ),
        ),
        (
            "muller",
            format!(
                r#"{{"resourceType": "Patient", {tag}, "name": [{{"family": "Müller", "given": ["Jürgen"]}}], "gender": "unknown", "birthDate": "1975-10",
            "telecom": [{{"system": "email", "value": "jm@example.org"}}]}}"#
            ),
        ),
        ("zoe", format!(r#"{{"resourceType": "Patient", {tag}, "name": [{{"text": "Zoë Ångström"}}]}}"#)),
        (
            "vs",
            format!(
                r#"{{"resourceType": "ValueSet", {tag}, "url": "{OWN_VS}", "status": "active", "compose": {{"include": [{{"system": "{SNOMED}",
            "concept": [{{"code": "444814009"}}, {{"code": "10509002"}}, {{"code": "195662009"}}, {{"code": "40055000"}}, {{"code": "43878008"}}]}}]}}}}"#
            ),
        ),
    ];
    // Probabilities chosen around 0.5 and 0.75 to exercise the precision rules; ra-h has two values.
    for (n, p, probs) in
        [("ra-a", 1, "0.25"), ("ra-b", 2, "0.5"), ("ra-c", 3, "0.50"), ("ra-d", 4, "0.48"), ("ra-e", 5, "0.75"), ("ra-f", 6, "1.0"), ("ra-g", 7, "62"), ("ra-h", 8, "0.1,0.9")]
    {
        let preds: Vec<String> = probs.split(',').map(|x| format!(r#"{{"probabilityDecimal": {x}}}"#)).collect();
        own.push((
            n,
            format!(r#"{{"resourceType": "RiskAssessment", {tag}, "status": "final", "subject": {{"reference": "{}"}}, "prediction": [{}]}}"#, c.pat(p).key, preds.join(",")),
        ));
    }
    let mut created = Vec::new();
    for (n, text) in own {
        let mut v = parse(&text);
        let stored = f.create(&v).await;
        v["id"] = stored["id"].clone();
        created.push((n, v));
    }
    // These point at own patients, so they come second.
    let alvarez = created.iter().find(|(n, _)| *n == "alvarez").unwrap().1["id"].as_str().unwrap().to_string();
    for (n, text) in [
        (
            "obs-nosys",
            format!(
                r#"{{"resourceType": "Observation", {tag}, "status": "final", "code": {{"coding": [{{"code": "own-code"}}]}},
            "subject": {{"reference": "Patient/{alvarez}"}}, "effectivePeriod": {{"start": "2020-02-03T10:00:00+05:00", "end": "2020-02-04"}},
            "valueQuantity": {{"value": 70.2, "unit": "kg"}}}}"#
            ),
        ),
        (
            "obs-sys",
            format!(
                r#"{{"resourceType": "Observation", {tag}, "status": "final", "code": {{"coding": [{{"system": "{OWN_TAG_SYSTEM}", "code": "own-code"}}]}},
            "subject": {{"identifier": {{"system": "http://hospital.smarthealthit.org", "value": "{mrn0}"}}}}, "effectiveDateTime": "2020-02-03"}}"#
            ),
        ),
    ] {
        let mut v = parse(&text);
        let stored = f.create(&v).await;
        v["id"] = stored["id"].clone();
        created.push((n, v));
    }
    for (n, v) in created {
        c.add(Origin::Own(n), v);
    }
    c
}

// =============================================================================================
// Terminology from the R4 definitions (for :in, :not-in, :below, :above expectations)
// =============================================================================================

struct Defs {
    /// url → CodeSystem or ValueSet
    by_url: HashMap<String, Value>,
}

fn defs() -> &'static Defs {
    static D: OnceLock<Defs> = OnceLock::new();
    D.get_or_init(|| {
        let mut by_url = HashMap::new();
        for file in ["valuesets.json", "v3-codesystems.json"] {
            let b: Value = serde_json::from_str(&std::fs::read_to_string(corpora().join("fhir-r4-core/definitions").join(file)).unwrap()).unwrap();
            for e in b["entry"].as_array().unwrap() {
                if let Some(u) = e["resource"]["url"].as_str() {
                    by_url.insert(u.to_string(), e["resource"].clone());
                }
            }
        }
        Defs { by_url }
    })
}

impl Defs {
    /// (code, path of ancestor codes) for every concept of a CodeSystem, from its nested `concept`s.
    fn concepts(&self, system: &str) -> Vec<(String, Vec<String>)> {
        fn walk(cs: &Value, up: &mut Vec<String>, out: &mut Vec<(String, Vec<String>)>) {
            for c in cs.as_array().into_iter().flatten() {
                let code = c["code"].as_str().unwrap().to_string();
                out.push((code.clone(), up.clone()));
                up.push(code);
                walk(&c["concept"], up, out);
                up.pop();
            }
        }
        let cs = self.by_url.get(system).unwrap_or_else(|| panic!("no CodeSystem {system}"));
        assert_eq!(cs["resourceType"], "CodeSystem");
        let mut out = Vec::new();
        walk(&cs["concept"], &mut Vec::new(), &mut out);
        out
    }
    /// Codes subsumed by `code` (itself included), by the nesting of concepts.
    fn below(&self, system: &str, code: &str) -> BTreeSet<String> {
        self.concepts(system).into_iter().filter(|(c, up)| c == code || up.iter().any(|u| u == code)).map(|(c, _)| c).collect()
    }
    /// Codes subsuming `code` (itself included).
    fn above(&self, system: &str, code: &str) -> BTreeSet<String> {
        let (_, up) = self.concepts(system).into_iter().find(|(c, _)| c == code).unwrap_or_else(|| panic!("{system}|{code} unknown"));
        up.into_iter().chain([code.to_string()]).collect()
    }
    /// A ValueSet made of whole code systems or listed concepts (all this suite uses).
    fn expand(&self, vs: &Value) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for inc in vs["compose"]["include"].as_array().unwrap() {
            assert!(inc.get("filter").is_none() && inc.get("valueSet").is_none(), "expand() handles plain includes only");
            let system = inc["system"].as_str().unwrap();
            match inc["concept"].as_array() {
                Some(list) => out.extend(list.iter().map(|c| (system.to_string(), c["code"].as_str().unwrap().to_string()))),
                None => out.extend(self.concepts(system).into_iter().map(|(c, _)| (system.to_string(), c))),
            }
        }
        assert!(vs["compose"].get("exclude").is_none());
        out
    }
}

// =============================================================================================
// Predicate helpers over raw JSON (search.html semantics, written independently of the engine)
// =============================================================================================

/// Values at a dotted path, arrays flattened at every step, as FHIRPath navigates.
fn at<'a>(v: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut cur = vec![v];
    for seg in path.split('.').filter(|s| !s.is_empty()) {
        let mut next = Vec::new();
        for c in cur {
            match c.get(seg) {
                Some(Value::Array(a)) => next.extend(a.iter()),
                Some(x) => next.push(x),
                None => {}
            }
        }
        cur = next;
    }
    cur
}

fn strs<'a>(v: &'a Value, path: &str) -> Vec<&'a str> {
    at(v, path).into_iter().filter_map(Value::as_str).collect()
}

/// Case and accent folding: lower case, and Latin letters with canonical decompositions reduced
/// to their base letter (what "accent-insensitive" means for the data here; ø, æ, ß have no
/// decomposition and stay as they are).
fn fold(s: &str) -> String {
    const TABLE: &[(&str, char)] = &[
        ("ÀÁÂÃÄÅĀĂĄàáâãäåāăą", 'a'),
        ("ÇĆĈĊČçćĉċč", 'c'),
        ("Ďď", 'd'),
        ("ÈÉÊËĒĔĖĘĚèéêëēĕėęě", 'e'),
        ("ĜĞĠĢĝğġģ", 'g'),
        ("Ĥĥ", 'h'),
        ("ÌÍÎÏĨĪĬĮİìíîïĩīĭį", 'i'),
        ("Ĵĵ", 'j'),
        ("Ķķ", 'k'),
        ("ĹĻĽĺļľ", 'l'),
        ("ÑŃŅŇñńņň", 'n'),
        ("ÒÓÔÕÖŌŎŐòóôõöōŏő", 'o'),
        ("ŔŖŘŕŗř", 'r'),
        ("ŚŜŞŠśŝşš", 's'),
        ("ŢŤţť", 't'),
        ("ÙÚÛÜŨŪŬŮŰŲùúûüũūŭůűų", 'u'),
        ("Ŵŵ", 'w'),
        ("ÝŶŸýÿŷ", 'y'),
        ("ŹŻŽźżž", 'z'),
    ];
    s.chars().map(|c| TABLE.iter().find(|(set, _)| set.contains(c)).map(|(_, b)| *b).unwrap_or(c)).flat_map(char::to_lowercase).collect()
}

/// String default: starts with, case- and accent-insensitive.
fn starts(values: &[&str], q: &str) -> bool {
    let q = fold(q);
    values.iter().any(|v| fold(v).starts_with(&q))
}
fn contains(values: &[&str], q: &str) -> bool {
    let q = fold(q);
    values.iter().any(|v| fold(v).contains(&q))
}
fn exact(values: &[&str], q: &str) -> bool {
    values.iter().any(|v| *v == q)
}

/// The string parts of HumanNames at `path` (search.html: family, given, prefix, suffix, text).
fn name_parts<'a>(r: &'a Value, path: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    for n in at(r, path) {
        for k in ["family", "given", "prefix", "suffix", "text"] {
            out.extend(strs(n, k));
        }
    }
    out
}

/// The string parts of Addresses at `path` (line, city, district, state, postalCode, country, text).
fn addr_parts<'a>(r: &'a Value, path: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    for a in at(r, path) {
        for k in ["line", "city", "district", "state", "postalCode", "country", "text"] {
            out.extend(strs(a, k));
        }
    }
    out
}

/// One token-able value: a Coding, a CodeableConcept's text, an Identifier, a code.
#[derive(Default, Debug, Clone)]
struct Tok<'a> {
    system: Option<&'a str>,
    code: Option<&'a str>,
    /// Display of a coding, text of a CodeableConcept (for :text).
    text: Option<&'a str>,
    /// Identifier.type codings (for :of-type).
    types: Vec<(Option<&'a str>, Option<&'a str>)>,
}

fn coding_tok(c: &Value) -> Tok<'_> {
    Tok { system: c["system"].as_str(), code: c["code"].as_str(), text: c["display"].as_str(), types: vec![] }
}
/// Tokens of the CodeableConcepts at `path`: one per coding, plus one for the text.
fn cc<'a>(r: &'a Value, path: &str) -> Vec<Tok<'a>> {
    let mut out = Vec::new();
    for v in at(r, path) {
        out.extend(at(v, "coding").into_iter().map(coding_tok));
        if let Some(t) = v["text"].as_str() {
            out.push(Tok { text: Some(t), ..Default::default() });
        }
    }
    out
}
/// Tokens of the Codings at `path`.
fn codings<'a>(r: &'a Value, path: &str) -> Vec<Tok<'a>> {
    at(r, path).into_iter().map(coding_tok).collect()
}
/// Tokens of the Identifiers at `path` (value as code).
fn idents<'a>(r: &'a Value, path: &str) -> Vec<Tok<'a>> {
    at(r, path)
        .into_iter()
        .map(|i| Tok {
            system: i["system"].as_str(),
            code: i["value"].as_str(),
            text: i["type"]["text"].as_str(),
            types: at(i, "type.coding").into_iter().map(|c| (c["system"].as_str(), c["code"].as_str())).collect(),
        })
        .collect()
}
/// Tokens of `code` primitives at `path`, whose system is the one their required binding implies.
fn codes<'a>(r: &'a Value, path: &str, system: Option<&'a str>) -> Vec<Tok<'a>> {
    at(r, path).into_iter().filter_map(Value::as_str).map(|c| Tok { system, code: Some(c), ..Default::default() }).collect()
}
/// Tokens of booleans at `path`.
fn bools<'a>(r: &'a Value, path: &str) -> Vec<Tok<'a>> {
    at(r, path).into_iter().filter_map(Value::as_bool).map(|b| Tok { code: Some(if b { "true" } else { "false" }), ..Default::default() }).collect()
}

/// One token value: `code`, `system|code`, `|code` (no system), `system|` (any code of the system).
fn tok_is(t: &Tok, q: &str) -> bool {
    match q.split_once('|') {
        None => t.code == Some(q),
        Some(("", c)) => t.system.is_none() && t.code == Some(c),
        Some((s, "")) => t.system == Some(s),
        Some((s, c)) => t.system == Some(s) && t.code == Some(c),
    }
}
/// Any token matches any of the comma-separated values.
fn tok_any(toks: &[Tok], q: &str) -> bool {
    q.split(',').any(|one| toks.iter().any(|t| tok_is(t, one)))
}
/// `:text`: the display or text starts with the value (string rules).
fn tok_text(toks: &[Tok], q: &str) -> bool {
    let texts: Vec<&str> = toks.iter().filter_map(|t| t.text).collect();
    starts(&texts, q)
}
/// `:of-type`: `typeSystem|typeCode|value`.
fn tok_of_type(toks: &[Tok], q: &str) -> bool {
    let p: Vec<&str> = q.split('|').collect();
    toks.iter().any(|t| t.code == Some(p[2]) && t.types.iter().any(|(s, c)| *s == Some(p[0]) && *c == Some(p[1])))
}
/// `:in` / `:below` / `:above`: some token's (system, code) is in the set.
fn tok_in(toks: &[Tok], set: &BTreeSet<(String, String)>) -> bool {
    toks.iter().any(|t| matches!((t.system, t.code), (Some(s), Some(c)) if set.contains(&(s.to_string(), c.to_string()))))
}

// ---- dates ----------------------------------------------------------------------------------

/// Inclusive µs range UTC of a date, dateTime or instant as written (its precision is its width);
/// no timezone means UTC.
fn dt_range(s: &str) -> Option<(i64, i64)> {
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let p: Vec<i64> = date.split('-').map(|x| x.parse().ok()).collect::<Option<_>>()?;
    let day = 86_400_000_000i64;
    let Some(time) = time else {
        return Some(match p.as_slice() {
            [y] => (days_from_civil(*y, 1, 1) * day, days_from_civil(y + 1, 1, 1) * day - 1),
            [y, m] => {
                let (ny, nm) = if *m == 12 { (y + 1, 1) } else { (*y, m + 1) };
                (days_from_civil(*y, *m, 1) * day, days_from_civil(ny, nm, 1) * day - 1)
            }
            [y, m, d] => (days_from_civil(*y, *m, *d) * day, days_from_civil(*y, *m, *d) * day + day - 1),
            _ => return None,
        });
    };
    let [y, m, d] = p.as_slice() else { return None };
    let (clock, offset_min) = if let Some(c) = time.strip_suffix('Z') {
        (c, 0)
    } else if let Some(i) = time.find(['+', '-']) {
        let (c, tz) = time.split_at(i);
        let (h, mi) = tz[1..].split_once(':')?;
        let sign = if tz.starts_with('-') { -1 } else { 1 };
        (c, sign * (h.parse::<i64>().ok()? * 60 + mi.parse::<i64>().ok()?))
    } else {
        (time, 0)
    };
    let cp: Vec<&str> = clock.split(':').collect();
    let (h, mi): (i64, i64) = (cp[0].parse().ok()?, cp.get(1)?.parse().ok()?);
    let mut lo = days_from_civil(*y, *m, *d) * day + (h * 3600 + mi * 60 - offset_min * 60) * 1_000_000;
    let width = match cp.get(2) {
        None => 60_000_000,
        Some(sec) => {
            let (whole, frac) = sec.split_once('.').map_or((*sec, None), |(w, f)| (w, Some(f)));
            lo += whole.parse::<i64>().ok()? * 1_000_000;
            match frac {
                None => 1_000_000,
                Some(f) => {
                    let f = &f[..f.len().min(6)];
                    let scale = 10i64.pow(6 - f.len() as u32);
                    lo += f.parse::<i64>().ok()? * scale;
                    scale
                }
            }
        }
    };
    Some((lo, lo + width - 1))
}

/// Ranges of the date/dateTime/instant strings at `path`.
fn dates(r: &Value, path: &str) -> Vec<(i64, i64)> {
    strs(r, path).into_iter().filter_map(dt_range).collect()
}
/// Ranges of the Periods at `path`: a missing start or end is open (unbounded) on that side.
fn periods(r: &Value, path: &str) -> Vec<(i64, i64)> {
    at(r, path)
        .into_iter()
        .filter(|p| p.get("start").is_some() || p.get("end").is_some())
        .map(|p| {
            let lo = p["start"].as_str().and_then(dt_range).map_or(i64::MIN, |r| r.0);
            let hi = p["end"].as_str().and_then(dt_range).map_or(i64::MAX, |r| r.1);
            (lo, hi)
        })
        .collect()
}
/// A choice element `base[x]` that may be a dateTime, an instant or a Period.
fn date_choice(r: &Value, base: &str) -> Vec<(i64, i64)> {
    let mut out = dates(r, &format!("{base}DateTime"));
    out.extend(dates(r, &format!("{base}Instant")));
    out.extend(periods(r, &format!("{base}Period")));
    out
}

thread_local! {
    /// Expectations that would depend on a reading search.html leaves open (see `num_cmp`, `date_any`).
    static AMBIGUOUS: std::cell::RefCell<BTreeSet<String>> = const { std::cell::RefCell::new(BTreeSet::new()) };
}

/// Records that a case's value sits where search.html's readings disagree; the table refuses it.
fn ambiguous(why: String) {
    AMBIGUOUS.with(|a| a.borrow_mut().insert(why));
}

fn split_prefix(q: &str) -> (&str, &str) {
    match q.get(..2) {
        Some(p @ ("eq" | "ne" | "gt" | "lt" | "ge" | "le" | "sa" | "eb" | "ap")) => (p, &q[2..]),
        _ => ("eq", q),
    }
}

/// search.html date prefixes, target range t against search range q (both inclusive).
fn date_cmp(p: &str, t: (i64, i64), q: (i64, i64), ap_scale: f64) -> bool {
    let eq = t.0 >= q.0 && t.1 <= q.1;
    match p {
        "eq" => eq,
        "ne" => !eq,
        "gt" => t.1 > q.1,
        "lt" => t.0 < q.0,
        "ge" => t.1 > q.1 || eq,
        "le" => t.0 < q.0 || eq,
        "sa" => t.0 > q.1,
        "eb" => t.1 < q.0,
        "ap" => {
            // search.html suggests 10% of the gap between now and the date.
            let d = ((now_micros() - q.0).abs() as f64 * 0.1 * ap_scale) as i64;
            t.0 <= q.1.saturating_add(d) && t.1 >= q.0.saturating_sub(d)
        }
        _ => unreachable!(),
    }
}

/// Any of the ranges matches any of the comma-separated date values. `ap` must give the same
/// answer for approximation widths from 80% to 125% of the suggested one, else the value is too
/// close to the data to say.
fn date_any(ranges: &[(i64, i64)], q: &str) -> bool {
    q.split(',').any(|one| {
        let (p, v) = split_prefix(one);
        let qr = dt_range(v).unwrap_or_else(|| panic!("bad date {v}"));
        ranges.iter().any(|t| {
            let m = date_cmp(p, *t, qr, 1.0);
            if p == "ap" && (m != date_cmp(p, *t, qr, 0.8) || m != date_cmp(p, *t, qr, 1.25)) {
                ambiguous(format!("ap{v} is too close to stored {t:?}"));
            }
            m
        })
    })
}

// ---- numbers and quantities -----------------------------------------------------------------

/// A decimal with the half-open range its written precision implies ("100" is [99.5, 100.5)).
#[derive(Clone, Copy, Debug)]
struct Dec {
    v: f64,
    lo: f64,
    hi: f64,
}

fn dec(text: &str) -> Dec {
    let v: f64 = text.parse().unwrap_or_else(|_| panic!("bad number {text}"));
    let (mant, exp) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().unwrap()),
        None => (text, 0),
    };
    let places = mant.split_once('.').map_or(0, |(_, f)| f.len() as i32);
    let half = 0.5 * 10f64.powi(exp - places);
    Dec { v, lo: v - half, hi: v + half }
}

fn num_of(v: &Value) -> Option<Dec> {
    match v {
        // arbitrary_precision keeps the digits as written.
        Value::Number(n) => Some(dec(&n.to_string())),
        _ => None,
    }
}

/// search.html number prefixes. eq/ne use the search value's precision range (search.html's own
/// examples); gt/lt/ge/le compare values, and the guard refuses values where comparing ranges
/// ("the range above the search value intersects the range of the target") would differ.
fn num_cmp(p: &str, t: Dec, q: Dec, ap_scale: f64) -> bool {
    let in_q = t.v >= q.lo && t.v < q.hi;
    let point = match p {
        "eq" => in_q,
        "ne" => !in_q,
        "gt" => t.v > q.v,
        "lt" => t.v < q.v,
        "ge" => t.v >= q.v,
        "le" => t.v <= q.v,
        "sa" => t.lo > q.hi,
        "eb" => t.hi < q.lo,
        "ap" => {
            let d = q.v.abs() * 0.1 * ap_scale;
            t.v >= q.v - d && t.v <= q.v + d
        }
        _ => unreachable!(),
    };
    let contained = t.lo >= q.lo && t.hi <= q.hi;
    let range = match p {
        "gt" => Some(t.hi > q.hi),
        "lt" => Some(t.lo < q.lo),
        "ge" => Some(t.hi > q.hi || contained),
        "le" => Some(t.lo < q.lo || contained),
        // sa/eb compare the target's range; reading the target as its bare value must agree.
        "sa" => Some(t.v > q.hi),
        "eb" => Some(t.v < q.lo),
        _ => None,
    };
    if range.is_some_and(|r| r != point) {
        ambiguous(format!("{p}{} against stored {} depends on how precision is read", q.v, t.v));
    }
    point
}

fn num_one(t: Dec, q: &str) -> bool {
    let (p, v) = split_prefix(q);
    num_one_d(p, t, dec(v))
}

fn num_one_d(p: &str, t: Dec, qd: Dec) -> bool {
    let m = num_cmp(p, t, qd, 1.0);
    if p == "ap" && (m != num_cmp(p, t, qd, 0.8) || m != num_cmp(p, t, qd, 1.25)) {
        ambiguous(format!("ap{} is too close to stored {}", qd.v, t.v));
    }
    m
}

fn nums(r: &Value, path: &str) -> Vec<Dec> {
    at(r, path).into_iter().filter_map(num_of).collect()
}
fn num_any(values: &[Dec], q: &str) -> bool {
    q.split(',').any(|one| values.iter().any(|t| num_one(*t, one)))
}

struct Qty<'a> {
    n: Dec,
    system: Option<&'a str>,
    code: Option<&'a str>,
    unit: Option<&'a str>,
}

fn qtys<'a>(r: &'a Value, path: &str) -> Vec<Qty<'a>> {
    at(r, path).into_iter().filter_map(|q| Some(Qty { n: num_of(&q["value"])?, system: q["system"].as_str(), code: q["code"].as_str(), unit: q["unit"].as_str() })).collect()
}
/// UCUM dimensions: exponents of (g, m, s, mol, K).
type Dims = [i32; 5];

/// The UCUM canonical form of a unit code: the factor to base units and the dimensions. Written
/// for the units of the loaded data (a small UCUM: prefixes, exponents, `10*n`, annotations, `/`
/// and `.`); None for unknown atoms and for special units such as `Cel`, which are not ratios.
/// `mol` is kept as a base dimension (as SI does) rather than UCUM's 6.0221367e23 of the number 1,
/// so amounts of substance never compare with counts such as `10*3/uL`.
fn ucum(code: &str) -> Option<(f64, Dims)> {
    const ATOMS: &[(&str, bool, f64, Dims)] = &[
        ("g", true, 1.0, [1, 0, 0, 0, 0]),
        ("m", true, 1.0, [0, 1, 0, 0, 0]),
        ("s", true, 1.0, [0, 0, 1, 0, 0]),
        ("mol", true, 1.0, [0, 0, 0, 1, 0]),
        ("K", true, 1.0, [0, 0, 0, 0, 1]),
        ("L", true, 1e-3, [0, 3, 0, 0, 0]),
        ("l", true, 1e-3, [0, 3, 0, 0, 0]),
        // enzyme unit: umol/min
        ("U", true, 1e-6 / 60.0, [0, 0, -1, 1, 0]),
        // pascal: N/m2 = kg/(m.s2), in grams
        ("Pa", true, 1000.0, [1, -1, -2, 0, 0]),
        // metre of mercury: 133.3220 kPa
        ("m[Hg]", true, 133_322_000.0, [1, -1, -2, 0, 0]),
        ("[in_i]", false, 0.0254, [0, 1, 0, 0, 0]),
        ("[lb_av]", false, 453.592_37, [1, 0, 0, 0, 0]),
        ("min", false, 60.0, [0, 0, 1, 0, 0]),
        ("h", false, 3600.0, [0, 0, 1, 0, 0]),
        ("d", false, 86_400.0, [0, 0, 1, 0, 0]),
        ("wk", false, 604_800.0, [0, 0, 1, 0, 0]),
        ("mo", false, 2_629_800.0, [0, 0, 1, 0, 0]),
        ("a", false, 31_557_600.0, [0, 0, 1, 0, 0]),
        ("%", false, 0.01, [0; 5]),
    ];
    const PREFIXES: &[(&str, i32)] = &[
        ("da", 1),
        ("Y", 24),
        ("Z", 21),
        ("E", 18),
        ("P", 15),
        ("T", 12),
        ("G", 9),
        ("M", 6),
        ("k", 3),
        ("h", 2),
        ("d", -1),
        ("c", -2),
        ("m", -3),
        ("u", -6),
        ("n", -9),
        ("p", -12),
        ("f", -15),
        ("a", -18),
        ("z", -21),
        ("y", -24),
    ];
    let atom = |s: &str| ATOMS.iter().find(|a| a.0 == s);
    let simple = |s: &str| -> Option<(f64, Dims)> {
        if let Some(a) = atom(s) {
            return Some((a.2, a.3));
        }
        PREFIXES.iter().find_map(|(p, e)| {
            let a = atom(s.strip_prefix(p)?).filter(|a| a.1)?;
            Some((a.2 * 10f64.powi(*e), a.3))
        })
    };
    let component = |c: &str| -> Option<(f64, Dims)> {
        // An annotation stands for 1; after a unit it only comments it.
        let c = match c.find('{') {
            Some(0) if c.ends_with('}') => return Some((1.0, [0; 5])),
            Some(i) if c.ends_with('}') => &c[..i],
            Some(_) => return None,
            None => c,
        };
        if let Some(e) = c.strip_prefix("10*").or_else(|| c.strip_prefix("10^")) {
            return Some((10f64.powi(e.parse().ok()?), [0; 5]));
        }
        if !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()) {
            return Some((c.parse().ok()?, [0; 5]));
        }
        // A trailing signed integer (outside brackets) is the exponent.
        let tail_from = c.rfind(']').map_or(0, |i| i + 1);
        let digits = c[tail_from..].trim_end_matches(|ch: char| ch.is_ascii_digit()).len() + tail_from;
        let (unit, exp) = if digits < c.len() {
            let (u, e) = c.split_at(digits);
            match u.strip_suffix('-') {
                Some(u) => (u, -e.parse::<i32>().ok()?),
                None => (u.strip_suffix('+').unwrap_or(u), e.parse::<i32>().ok()?),
            }
        } else {
            (c, 1)
        };
        let (f, d) = simple(unit)?;
        Some((f.powi(exp), d.map(|x| x * exp)))
    };
    let mut acc = (1.0, [0; 5]);
    let (mut rest, mut div) = match code.strip_prefix('/') {
        Some(r) => (r, true),
        None => (code, false),
    };
    loop {
        // The next '.' or '/' outside brackets and braces ends the component.
        let mut depth = 0;
        let end = rest.char_indices().find(|(_, ch)| {
            match ch {
                '[' | '{' => depth += 1,
                ']' | '}' => depth -= 1,
                _ => {}
            }
            depth == 0 && matches!(ch, '.' | '/')
        });
        let (comp, next) = match end {
            Some((i, ch)) => (&rest[..i], Some((ch, &rest[i + 1..]))),
            None => (rest, None),
        };
        let (f, d) = component(comp)?;
        if div {
            acc = (acc.0 / f, std::array::from_fn(|i| acc.1[i] - d[i]));
        } else {
            acc = (acc.0 * f, std::array::from_fn(|i| acc.1[i] + d[i]));
        }
        match next {
            Some((ch, r)) => {
                div = ch == '/';
                rest = r;
            }
            None => return Some(acc),
        }
    }
}

fn scaled(d: Dec, f: f64) -> Dec {
    Dec { v: d.v * f, lo: d.lo * f, hi: d.hi * f }
}

/// One quantity value: `[prefix]number`, `[prefix]number|system|code`, or `[prefix]number||code`
/// (no system: the code matches the code or the unit). With a UCUM code that has a canonical
/// form, stored UCUM quantities of the same dimensions compare in base units (search.html: a
/// search in g "may return resources with quantities in mg if the server supports UCUM canonical
/// units", which this server does).
fn qty_is(t: &Qty, q: &str) -> bool {
    let parts: Vec<&str> = q.split('|').collect();
    let (p, n) = split_prefix(parts[0]);
    let qd = dec(n);
    match parts.as_slice() {
        [_] => num_one_d(p, t.n, qd),
        [_, "", c] => (t.code == Some(*c) || t.unit == Some(*c)) && num_one_d(p, t.n, qd),
        [_, s, c] => match (*s == UCUM).then(|| ucum(c)).flatten() {
            Some((fq, dq)) => t.system == Some(UCUM) && t.code.and_then(ucum).is_some_and(|(ft, dt)| dt == dq && num_one_d(p, scaled(t.n, ft), scaled(qd, fq))),
            None => t.system == Some(*s) && t.code == Some(*c) && num_one_d(p, t.n, qd),
        },
        _ => panic!("bad quantity {q}"),
    }
}
fn qty_any(values: &[Qty], q: &str) -> bool {
    q.split(',').any(|one| values.iter().any(|t| qty_is(t, one)))
}

// ---- references -----------------------------------------------------------------------------

/// `Type/id` (optionally `/_history/v`) of a relative literal reference.
fn local_ref(s: &str) -> Option<(&str, &str)> {
    let s = s.split("/_history/").next().unwrap();
    let (t, id) = s.split_once('/')?;
    (t.chars().next()?.is_ascii_uppercase() && !id.contains('/') && !s.contains(':')).then_some((t, id))
}
/// The `reference` strings of the Reference elements at `path`.
fn refs<'a>(r: &'a Value, path: &str) -> Vec<&'a str> {
    at(r, path).into_iter().filter_map(|x| x["reference"].as_str()).collect()
}
/// Whether a Reference at `path` carries a searchable value (a literal reference or an identifier;
/// a display alone is no value).
fn has_ref(r: &Value, path: &str) -> bool {
    at(r, path).into_iter().any(|x| x.get("reference").is_some() || x.get("identifier").is_some())
}
fn points_to(r: &Value, path: &str, key: &str) -> bool {
    refs(r, path).into_iter().any(|s| local_ref(s).map(|(t, i)| format!("{t}/{i}")).as_deref() == Some(key))
}
/// References at `path` whose target type is `t` (the `.where(resolve() is T)` parameters).
fn refs_of_type<'a>(r: &'a Value, path: &str, t: &str) -> Vec<&'a str> {
    refs(r, path).into_iter().filter(|s| local_ref(s).is_some_and(|(x, _)| x == t)).collect()
}

// =============================================================================================
// Cases
// =============================================================================================

enum Expect {
    /// The matches, in any order.
    Set(BTreeSet<String>),
    /// The matches in exactly this order (over all pages).
    Order(Vec<String>),
    /// Matches and the union of included resources over all pages.
    Include { matches: BTreeSet<String>, included: BTreeSet<String> },
    /// `_summary=count`: the total and no entries.
    Count(usize),
    /// `_total=accurate` with a small `_count`: the total of all matches, one page of them.
    Total { matches: BTreeSet<String>, page: usize },
    /// `_elements`: the matches, each with only the listed and mandatory elements.
    Elements { matches: BTreeSet<String>, listed: Vec<&'static str>, mandatory: Vec<&'static str> },
}

struct Case {
    cat: &'static str,
    name: &'static str,
    query: String,
    expect: Expect,
}

/// The table under construction; predicates are evaluated as cases are added.
struct Table<'c> {
    c: &'c Corpus,
    cases: Vec<Case>,
    /// Cases whose values are too close to stored data to have one spec answer (a table bug).
    refused: Vec<String>,
}

impl<'c> Table<'c> {
    /// Matches are the resources of `ty` for which `pred` holds.
    fn m(&mut self, cat: &'static str, name: &'static str, query: String, ty: &str, pred: impl Fn(&Value) -> bool) {
        let set = self.c.keys(ty, |r| pred(&r.json));
        self.push(cat, name, query, Expect::Set(set));
    }
    /// Like `m`, with the whole resource (key, origin) at hand.
    fn mr(&mut self, cat: &'static str, name: &'static str, query: String, ty: &str, pred: impl Fn(&Res) -> bool) {
        let set = self.c.keys(ty, pred);
        self.push(cat, name, query, Expect::Set(set));
    }
    fn push(&mut self, cat: &'static str, name: &'static str, query: String, expect: Expect) {
        assert!(!self.cases.iter().any(|c| c.name == name), "case name {name} used twice");
        let why = AMBIGUOUS.with(|a| std::mem::take(&mut *a.borrow_mut()));
        if !why.is_empty() {
            self.refused.push(format!("{name} ({query}): {}", why.into_iter().collect::<Vec<_>>().join("; ")));
        }
        self.cases.push(Case { cat, name, query, expect });
    }
}

/// Percent-encodes a query value, leaving the characters search syntax uses (`|`, `,`, `$`, `:`).
fn enc(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:/|,$".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

fn first_family(r: &Res) -> String {
    strs(&r.json, "name.family")[0].to_string()
}

/// A sort key component: None sorts last in both directions.
#[derive(Clone, PartialEq, PartialOrd, Debug)]
enum K {
    S(String),
    I(i64),
    F(f64),
}

/// Orders `items` by keys (each `(descending, key)`), then by `_id` ascending (byte order).
fn sort_by_keys(mut items: Vec<(String, Vec<(bool, Option<K>)>)>, c: &Corpus) -> Vec<String> {
    items.sort_by(|(ka, a), (kb, b)| {
        for ((desc, x), (_, y)) in a.iter().zip(b) {
            let o = match (x, y) {
                (None, None) => std::cmp::Ordering::Equal,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(_), None) => std::cmp::Ordering::Less,
                (Some(x), Some(y)) => {
                    let o = x.partial_cmp(y).unwrap();
                    if *desc {
                        o.reverse()
                    } else {
                        o
                    }
                }
            };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        c.get(ka).unwrap().id.cmp(&c.get(kb).unwrap().id)
    });
    items.into_iter().map(|(k, _)| k).collect()
}

/// search.html "Sorting": a repeating element sorts by its lowest value ascending and its highest
/// descending.
fn pick<T: PartialOrd>(values: Vec<T>, desc: bool) -> Option<T> {
    values.into_iter().reduce(|a, b| {
        let b_wins = if desc { b > a } else { b < a };
        if b_wins {
            b
        } else {
            a
        }
    })
}
fn skey_str(values: Vec<&str>, desc: bool) -> Option<K> {
    pick(values.into_iter().map(|s| fold(s)).collect(), desc).map(K::S)
}
fn skey_date(ranges: Vec<(i64, i64)>, desc: bool) -> Option<K> {
    pick(ranges.into_iter().map(|(lo, hi)| if desc { hi } else { lo }).collect(), desc).map(K::I)
}
fn skey_num(values: Vec<f64>, desc: bool) -> Option<K> {
    pick(values, desc).map(K::F)
}

fn table(c: &Corpus) -> Vec<Case> {
    let d = defs();
    let mut t = Table { c, cases: Vec::new(), refused: Vec::new() };
    let p = |i: usize| c.pat(i);
    let pid = |i: usize| c.pat(i).id.clone();

    // ---- string ---------------------------------------------------------------------------
    let fam2: String = first_family(p(2)).chars().take(4).collect::<String>().to_lowercase();
    t.m("string", "family-prefix", format!("Patient?family={fam2}"), "Patient", |r| starts(&strs(r, "name.family"), &fam2));
    t.m("string", "family-accented-query", format!("Patient?family={}", enc("Kshlérin")), "Patient", |r| starts(&strs(r, "name.family"), "Kshlérin"));
    t.m("string", "family-accented-stored", "Patient?family=alvarez".into(), "Patient", |r| starts(&strs(r, "name.family"), "alvarez"));
    t.m("string", "family-upper-case", "Patient?family=MAGGIO".into(), "Patient", |r| starts(&strs(r, "name.family"), "MAGGIO"));
    t.m("string", "family-apostrophe", format!("Patient?family={}", enc("o'kee")), "Patient", |r| starts(&strs(r, "name.family"), "o'kee"));
    t.m("string", "family-exact", "Patient?family:exact=Kshlerin".into(), "Patient", |r| exact(&strs(r, "name.family"), "Kshlerin"));
    t.m("string", "family-exact-is-case-sensitive", "Patient?family:exact=kshlerin".into(), "Patient", |r| exact(&strs(r, "name.family"), "kshlerin"));
    t.m("string", "family-exact-accents", format!("Patient?family:exact={}", enc("Álvarez-Núñez")), "Patient", |r| exact(&strs(r, "name.family"), "Álvarez-Núñez"));
    t.m("string", "family-exact-accents-differ", "Patient?family:exact=Alvarez-Nunez".into(), "Patient", |r| exact(&strs(r, "name.family"), "Alvarez-Nunez"));
    t.m("string", "family-contains", "Patient?family:contains=LL".into(), "Patient", |r| contains(&strs(r, "name.family"), "LL"));
    t.m("string", "family-contains-accents", format!("Patient?family:contains={}", enc("NUÑ")), "Patient", |r| contains(&strs(r, "name.family"), "NUÑ"));
    t.m("string", "family-missing-false", "Patient?family:missing=false".into(), "Patient", |r| !strs(r, "name.family").is_empty());
    t.m("string", "family-missing-true", "Patient?family:missing=true".into(), "Patient", |r| strs(r, "name.family").is_empty());
    t.m("string", "given-prefix", "Patient?given=lou".into(), "Patient", |r| starts(&strs(r, "name.given"), "lou"));
    t.m("string", "given-or", "Patient?given=alden,JILL,jürgen".replace("ü", "%C3%BC"), "Patient", |r| {
        ["alden", "JILL", "jürgen"].iter().any(|q| starts(&strs(r, "name.given"), q))
    });
    t.m("string", "name-matches-prefix-element", "Patient?name=mrs".into(), "Patient", |r| starts(&name_parts(r, "name"), "mrs"));
    t.m("string", "name-matches-text", "Patient?name=zoe".into(), "Patient", |r| starts(&name_parts(r, "name"), "zoe"));
    t.m("string", "name-is-not-word-search", "Patient?name=angstrom".into(), "Patient", |r| starts(&name_parts(r, "name"), "angstrom"));
    t.m("string", "name-maiden", "Patient?name=deckow".into(), "Patient", |r| starts(&name_parts(r, "name"), "deckow"));
    t.m("string", "address-city", "Patient?address-city=boston".into(), "Patient", |r| starts(&strs(r, "address.city"), "boston"));
    t.m("string", "address-city-prefix-not-infix", "Patient?address-city=reading".into(), "Patient", |r| starts(&strs(r, "address.city"), "reading"));
    t.m("string", "address-city-contains", "Patient?address-city:contains=reading".into(), "Patient", |r| contains(&strs(r, "address.city"), "reading"));
    t.m("string", "address-city-exact", "Patient?address-city:exact=North%20Reading".into(), "Patient", |r| exact(&strs(r, "address.city"), "North Reading"));
    t.m("string", "address-city-accents", "Patient?address-city=sao%20p".into(), "Patient", |r| starts(&strs(r, "address.city"), "sao p"));
    t.m("string", "address-any-part", "Patient?address=021".into(), "Patient", |r| starts(&addr_parts(r, "address"), "021"));
    t.m("string", "address-state", "Patient?address-state=mass".into(), "Patient", |r| starts(&strs(r, "address.state"), "mass"));
    t.m("string", "address-postalcode", "Patient?address-postalcode=0190".into(), "Patient", |r| starts(&strs(r, "address.postalCode"), "0190"));
    t.m("string", "address-postalcode-missing", "Patient?address-postalcode:missing=true".into(), "Patient", |r| strs(r, "address.postalCode").is_empty());
    let prac0 = c.of("Practitioner").find(|r| matches!(r.origin, Origin::Synthea(..))).unwrap();
    let prac_fam: String = first_family(prac0).chars().take(3).collect();
    t.m("string", "practitioner-family", format!("Practitioner?family={prac_fam}"), "Practitioner", |r| starts(&strs(r, "name.family"), &prac_fam));
    t.m("string", "practitioner-address-state", "Practitioner?address-state=MA".into(), "Practitioner", |r| starts(&strs(r, "address.state"), "MA"));
    t.m("string", "organization-name-or-alias", "Organization?name=abc".into(), "Organization", |r| starts(&[strs(r, "name"), strs(r, "alias")].concat(), "abc"));
    t.m("string", "organization-name-contains", "Organization?name:contains=hospital".into(), "Organization", |r| {
        contains(&[strs(r, "name"), strs(r, "alias")].concat(), "hospital")
    });
    // `\,` is a literal comma inside one value.
    t.m("string", "escaped-comma", "Organization?name=burgers%20umc%20ear%5C,nose".into(), "Organization", |r| {
        starts(&[strs(r, "name"), strs(r, "alias")].concat(), "burgers umc ear,nose")
    });
    t.m("string", "name-exact-text", format!("Patient?name:exact={}", enc("Zoë Ångström")), "Patient", |r| exact(&name_parts(r, "name"), "Zoë Ångström"));
    // value-string is (value as string) | (value as CodeableConcept).text
    t.m("string", "observation-value-string-branches", "Observation?value-string=n".into(), "Observation", |r| {
        starts(&[strs(r, "valueString"), strs(r, "valueCodeableConcept.text")].concat(), "n")
    });
    t.m("string", "observation-value-string-contains", "Observation?value-string:contains=HOMELESS".into(), "Observation", |r| {
        contains(&[strs(r, "valueString"), strs(r, "valueCodeableConcept.text")].concat(), "HOMELESS")
    });
    t.m("string", "observation-value-string-exact", "Observation?value-string:exact=Patient%20is%20homeless".into(), "Observation", |r| {
        exact(&[strs(r, "valueString"), strs(r, "valueCodeableConcept.text")].concat(), "Patient is homeless")
    });

    // ---- token ----------------------------------------------------------------------------
    const GENDER: &str = "http://hl7.org/fhir/administrative-gender";
    t.m("token", "gender-code", "Patient?gender=female".into(), "Patient", |r| tok_any(&codes(r, "gender", Some(GENDER)), "female"));
    t.m("token", "gender-system-code", format!("Patient?gender={GENDER}|male"), "Patient", |r| tok_any(&codes(r, "gender", Some(GENDER)), &format!("{GENDER}|male")));
    t.m("token", "gender-not", "Patient?gender:not=male".into(), "Patient", |r| !tok_any(&codes(r, "gender", Some(GENDER)), "male"));
    t.m("token", "gender-not-either", "Patient?gender:not=male,other".into(), "Patient", |r| {
        let g = codes(r, "gender", Some(GENDER));
        !tok_any(&g, "male") && !tok_any(&g, "other")
    });
    t.m("token", "gender-missing", "Patient?gender:missing=true".into(), "Patient", |r| codes(r, "gender", None).is_empty());
    let ident = |r: &Res, sys: &str| idents(&r.json, "identifier").into_iter().find(|i| i.system == Some(sys)).and_then(|i| i.code).unwrap().to_string();
    let ssn5 = ident(p(5), "http://hl7.org/fhir/sid/us-ssn");
    t.m("token", "identifier-system-value", format!("Patient?identifier=http://hl7.org/fhir/sid/us-ssn|{ssn5}"), "Patient", |r| {
        tok_any(&idents(r, "identifier"), &format!("http://hl7.org/fhir/sid/us-ssn|{ssn5}"))
    });
    let mrn7 = ident(p(7), "http://hospital.smarthealthit.org");
    t.m("token", "identifier-value-any-system", format!("Patient?identifier={mrn7}"), "Patient", |r| tok_any(&idents(r, "identifier"), &mrn7));
    t.m("token", "identifier-system-only", "Patient?identifier=http://hl7.org/fhir/sid/us-ssn|".into(), "Patient", |r| {
        tok_any(&idents(r, "identifier"), "http://hl7.org/fhir/sid/us-ssn|")
    });
    t.m("token", "identifier-no-system", "Patient?identifier=|AB60001".into(), "Patient", |r| tok_any(&idents(r, "identifier"), "|AB60001"));
    let dl3 = ident(p(3), "urn:oid:2.16.840.1.113883.4.3.25");
    t.m("token", "identifier-of-type-dl", format!("Patient?identifier:of-type={V2_0203}|DL|{dl3}"), "Patient", |r| {
        tok_of_type(&idents(r, "identifier"), &format!("{V2_0203}|DL|{dl3}"))
    });
    t.m("token", "identifier-of-type-mr-two-systems", format!("Patient?identifier:of-type={V2_0203}|MR|12345"), "Patient", |r| {
        tok_of_type(&idents(r, "identifier"), &format!("{V2_0203}|MR|12345"))
    });
    t.m("token", "identifier-of-type-wrong-type", format!("Patient?identifier:of-type={V2_0203}|SS|{dl3}"), "Patient", |r| {
        tok_of_type(&idents(r, "identifier"), &format!("{V2_0203}|SS|{dl3}"))
    });
    t.m("token", "code-system-code", format!("Observation?code={LOINC}|8302-2"), "Observation", |r| tok_any(&cc(r, "code"), &format!("{LOINC}|8302-2")));
    t.m("token", "code-or", "Observation?code=8302-2,29463-7".into(), "Observation", |r| tok_any(&cc(r, "code"), "8302-2,29463-7"));
    t.m("token", "code-system-only", format!("Condition?code={SNOMED}|"), "Condition", |r| tok_any(&cc(r, "code"), &format!("{SNOMED}|")));
    t.m("token", "code-without-system", "Observation?code=|own-code".into(), "Observation", |r| tok_any(&cc(r, "code"), "|own-code"));
    t.m("token", "code-any-system", "Observation?code=own-code".into(), "Observation", |r| tok_any(&cc(r, "code"), "own-code"));
    t.m("token", "code-text-display", "Condition?code:text=viral".into(), "Condition", |r| tok_text(&cc(r, "code"), "viral"));
    t.m("token", "code-text-cc-text", "Condition?code:text=burnt".into(), "Condition", |r| tok_text(&cc(r, "code"), "burnt"));
    t.m("token", "code-text-observation", "Observation?code:text=glomerular".into(), "Observation", |r| tok_text(&cc(r, "code"), "glomerular"));
    t.m("token", "code-not-system-code", format!("Condition?code:not={SNOMED}|444814009"), "Condition", |r| !tok_any(&cc(r, "code"), &format!("{SNOMED}|444814009")));
    t.mr("token", "id-not", "Patient?_id:not=example".into(), "Patient", |r| r.id != "example");
    t.m("token", "clinical-status", "Condition?clinical-status=active".into(), "Condition", |r| tok_any(&cc(r, "clinicalStatus"), "active"));
    t.m("token", "clinical-status-not", "Condition?clinical-status:not=resolved".into(), "Condition", |r| !tok_any(&cc(r, "clinicalStatus"), "resolved"));
    t.m("token", "language", "Patient?language=urn:ietf:bcp:47|es".into(), "Patient", |r| tok_any(&cc(r, "communication.language"), "urn:ietf:bcp:47|es"));
    t.m("token", "encounter-class-coding", "Encounter?class=EMER".into(), "Encounter", |r| tok_any(&codings(r, "class"), "EMER"));
    let etype = cc(&c.of("Encounter").find(|r| matches!(r.origin, Origin::Synthea(..))).unwrap().json, "type")[0].code.unwrap().to_string();
    t.m("token", "encounter-type", format!("Encounter?type={SNOMED}|{etype}"), "Encounter", |r| tok_any(&cc(r, "type"), &format!("{SNOMED}|{etype}")));
    const OBS_CAT: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
    t.m("token", "category-system-code", format!("Observation?category={OBS_CAT}|survey"), "Observation", |r| tok_any(&cc(r, "category"), &format!("{OBS_CAT}|survey")));
    t.m("token", "category-or", "Observation?category=vital-signs,vital-sign".into(), "Observation", |r| tok_any(&cc(r, "category"), "vital-signs,vital-sign"));
    t.m("token", "value-concept", format!("Observation?value-concept={SNOMED}|8517006"), "Observation", |r| tok_any(&cc(r, "valueCodeableConcept"), &format!("{SNOMED}|8517006")));
    t.m("token", "reason-code-missing-false", "Encounter?reason-code:missing=false".into(), "Encounter", |r| !cc(r, "reasonCode").is_empty());
    t.m("token", "data-absent-reason-missing-false", "Observation?data-absent-reason:missing=false".into(), "Observation", |r| !cc(r, "dataAbsentReason").is_empty());
    // deceased is `deceased.exists() and deceased != false`: true for a deceasedDateTime or true,
    // false when deceased is false or absent.
    let deceased = |r: &Value| match (r.get("deceasedBoolean"), r.get("deceasedDateTime")) {
        (Some(b), _) => b.as_bool() == Some(true),
        (None, Some(_)) => true,
        (None, None) => false,
    };
    t.m("token", "deceased-true", "Patient?deceased=true".into(), "Patient", |r| deceased(r));
    t.m("token", "deceased-false", "Patient?deceased=false".into(), "Patient", |r| !deceased(r));
    t.m("token", "boolean-active", "Organization?active=true".into(), "Organization", |r| tok_any(&bools(r, "active"), "true"));
    t.m("token", "vaccine-code-or", "Immunization?vaccine-code=http://hl7.org/fhir/sid/cvx|140,http://hl7.org/fhir/sid/cvx|113".into(), "Immunization", |r| {
        tok_any(&cc(r, "vaccineCode"), "http://hl7.org/fhir/sid/cvx|140,http://hl7.org/fhir/sid/cvx|113")
    });
    let phone4 = strs(&p(4).json, "telecom.value")[0].to_string();
    t.m("token", "phone", format!("Patient?phone={phone4}"), "Patient", |r| at(r, "telecom").iter().any(|x| x["system"] == "phone" && x["value"] == phone4.as_str()));
    t.m("token", "email-missing-false", "Patient?email:missing=false".into(), "Patient", |r| at(r, "telecom").iter().any(|x| x["system"] == "email"));
    t.m("token", "combo-code", "Observation?combo-code=8480-6".into(), "Observation", |r| tok_any(&[cc(r, "code"), cc(r, "component.code")].concat(), "8480-6"));
    t.m("token", "component-code", format!("Observation?component-code={LOINC}|8462-4"), "Observation", |r| tok_any(&cc(r, "component.code"), &format!("{LOINC}|8462-4")));
    // Terminology-backed modifiers: expectations come from the R4 definitions and our ValueSet.
    let own_vs: BTreeSet<(String, String)> = d.expand(&c.own("vs").json);
    t.m("token", "in-own-valueset-url", format!("Condition?code:in={OWN_VS}"), "Condition", |r| tok_in(&cc(r, "code"), &own_vs));
    t.m("token", "in-own-valueset-id", format!("Condition?code:in=ValueSet/{}", c.own("vs").id), "Condition", |r| tok_in(&cc(r, "code"), &own_vs));
    t.m("token", "not-in-own-valueset", format!("Condition?code:not-in={OWN_VS}"), "Condition", |r| !tok_in(&cc(r, "code"), &own_vs));
    let genders = d.expand(&d.by_url["http://hl7.org/fhir/ValueSet/administrative-gender"]);
    t.m("token", "in-r4-valueset-code-element", "Patient?gender:in=http://hl7.org/fhir/ValueSet/administrative-gender".into(), "Patient", |r| {
        tok_in(&codes(r, "gender", Some(GENDER)), &genders)
    });
    let obs_cats = d.expand(&d.by_url["http://hl7.org/fhir/ValueSet/observation-category"]);
    t.m("token", "in-r4-valueset", "Observation?category:in=http://hl7.org/fhir/ValueSet/observation-category".into(), "Observation", |r| tok_in(&cc(r, "category"), &obs_cats));
    let with = |system: &str, codes: BTreeSet<String>| codes.into_iter().map(|c| (system.to_string(), c)).collect::<BTreeSet<_>>();
    let enc_below = with(ACT_CODE, d.below(ACT_CODE, "_ActEncounterCode"));
    t.m("token", "below-v3-actcode", format!("Encounter?class:below={ACT_CODE}|_ActEncounterCode"), "Encounter", |r| tok_in(&codings(r, "class"), &enc_below));
    let acute_above = with(ACT_CODE, d.above(ACT_CODE, "ACUTE"));
    t.m("token", "above-v3-actcode", format!("Encounter?class:above={ACT_CODE}|ACUTE"), "Encounter", |r| tok_in(&codings(r, "class"), &acute_above));
    const CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
    let inactive = with(CLINICAL, d.below(CLINICAL, "inactive"));
    t.m("token", "below-condition-clinical", format!("Condition?clinical-status:below={CLINICAL}|inactive"), "Condition", |r| tok_in(&cc(r, "clinicalStatus"), &inactive));
    let relapse_up = with(CLINICAL, d.above(CLINICAL, "relapse"));
    t.m("token", "above-condition-clinical", format!("Condition?clinical-status:above={CLINICAL}|relapse"), "Condition", |r| tok_in(&cc(r, "clinicalStatus"), &relapse_up));

    // ---- date -----------------------------------------------------------------------------
    let bd0 = p(0).json["birthDate"].as_str().unwrap().to_string();
    let birth = |q: &str| {
        let q = q.to_string();
        move |r: &Value| date_any(&dates(r, "birthDate"), &q)
    };
    t.m("date", "birthdate-day", format!("Patient?birthdate={bd0}"), "Patient", birth(&bd0));
    for (name, q) in [
        ("birthdate-year", "1975"),
        ("birthdate-month", "1975-10"),
        ("birthdate-day-vs-year-precision", "1980-10-28"),
        ("birthdate-ne", "ne1980-10-28"),
        ("birthdate-gt-year", "gt2003"),
        ("birthdate-lt-year", "lt1940"),
        ("birthdate-ge-day-inclusive", "ge1996-09-26"),
        ("birthdate-le-day-inclusive", "le1934-04-09"),
        ("birthdate-gt-vs-sa", "gt1980-06"),
        ("birthdate-sa", "sa1980-06"),
        ("birthdate-lt-vs-eb", "lt1980-06"),
        ("birthdate-eb", "eb1980-06"),
        ("birthdate-ap", "ap2017-05-15"),
        ("birthdate-or", "1949,1980"),
        ("birthdate-with-time", "lt1975-10-26T12:00:00Z"),
    ] {
        t.m("date", name, format!("Patient?birthdate={}", enc(q)), "Patient", birth(q));
    }
    t.m("date", "birthdate-and-range", "Patient?birthdate=ge1980-06&birthdate=le1980-06".into(), "Patient", |r| {
        date_any(&dates(r, "birthDate"), "ge1980-06") && date_any(&dates(r, "birthDate"), "le1980-06")
    });
    // A month-precision birthDate (1975-10) overlaps both sides of a day inside it.
    t.m("date", "birthdate-partial-overlap", "Patient?birthdate=ge1975-10-15&birthdate=le1975-10-15".into(), "Patient", |r| {
        date_any(&dates(r, "birthDate"), "ge1975-10-15") && date_any(&dates(r, "birthDate"), "le1975-10-15")
    });
    t.m("date", "birthdate-missing", "Patient?birthdate:missing=true".into(), "Patient", |r| r.get("birthDate").is_none());
    t.m("date", "death-date", "Patient?death-date=lt2010".into(), "Patient", |r| date_any(&dates(r, "deceasedDateTime"), "lt2010"));
    // Observation.effective: dateTime or Period (open-ended periods in the examples).
    let obs_day = {
        let o = c.of("Observation").filter(|r| matches!(r.origin, Origin::Synthea(7, _))).nth(10).unwrap();
        let (lo, _) = dt_range(o.json["effectiveDateTime"].as_str().unwrap()).unwrap();
        let (y, m, dd) = civil_from_days(lo.div_euclid(86_400_000_000));
        format!("{y:04}-{m:02}-{dd:02}")
    };
    for (name, q) in [
        ("observation-date-day-utc", obs_day.clone()),
        ("observation-date-seconds", "2016-05-18T22:33:22Z".to_string()),
        ("observation-date-offset", "2017-05-03T15:54:26-04:00".to_string()),
        ("observation-date-minutes", "ge2013-04-05T09:30+00:00".to_string()),
        ("observation-date-sa-open-period", "sa2013-04-01".to_string()),
        ("observation-date-eb", "eb1960".to_string()),
    ] {
        t.m("date", name, format!("Observation?date={}", enc(&q)), "Observation", move |r| date_any(&date_choice(r, "effective"), &q));
    }
    t.m("date", "observation-date-and", "Observation?date=ge2018-04-02&date=le2018-04-03".into(), "Observation", |r| {
        let e = date_choice(r, "effective");
        date_any(&e, "ge2018-04-02") && date_any(&e, "le2018-04-03")
    });
    t.m("date", "observation-date-ne-with-code", format!("Observation?code={LOINC}|8302-2&date=ne{obs_day}"), "Observation", |r| {
        tok_any(&cc(r, "code"), &format!("{LOINC}|8302-2")) && date_any(&date_choice(r, "effective"), &format!("ne{obs_day}"))
    });
    for (name, q) in [
        ("encounter-period-eq-year", "2015"),
        ("encounter-period-ge", "ge2019-06-01"),
        ("encounter-period-lt-offset", "lt2017-02-01T07:16:00+10:00"),
        ("encounter-period-sa", "sa2019-11"),
    ] {
        t.m("date", name, format!("Encounter?date={}", enc(q)), "Encounter", move |r| date_any(&periods(r, "period"), q));
    }
    // onset-date is onset.as(dateTime) | onset.as(Period): not onsetAge or onsetString.
    t.m("date", "condition-onset-lt", "Condition?onset-date=lt1980".into(), "Condition", |r| date_any(&[dates(r, "onsetDateTime"), periods(r, "onsetPeriod")].concat(), "lt1980"));
    t.m("date", "condition-onset-day", "Condition?onset-date=2012-05-24".into(), "Condition", |r| {
        date_any(&[dates(r, "onsetDateTime"), periods(r, "onsetPeriod")].concat(), "2012-05-24")
    });
    t.m("date", "condition-onset-missing", "Condition?onset-date:missing=true".into(), "Condition", |r| r.get("onsetDateTime").is_none() && r.get("onsetPeriod").is_none());
    t.m("date", "condition-abatement-missing", "Condition?abatement-date:missing=true".into(), "Condition", |r| {
        r.get("abatementDateTime").is_none() && r.get("abatementPeriod").is_none()
    });
    t.m("date", "procedure-performed-period", "Procedure?date=le2000".into(), "Procedure", |r| {
        date_any(&[dates(r, "performedDateTime"), periods(r, "performedPeriod")].concat(), "le2000")
    });
    t.m("date", "immunization-occurrence", "Immunization?date=2019".into(), "Immunization", |r| date_any(&dates(r, "occurrenceDateTime"), "2019"));
    t.m("date", "medicationrequest-authoredon", "MedicationRequest?authoredon=ge2019-01".into(), "MedicationRequest", |r| date_any(&dates(r, "authoredOn"), "ge2019-01"));
    t.m("date", "observation-value-date", "Observation?value-date=2016-12".into(), "Observation", |r| {
        date_any(&[dates(r, "valueDateTime"), periods(r, "valuePeriod")].concat(), "2016-12")
    });

    // ---- number ---------------------------------------------------------------------------
    for (name, q) in [
        ("probability-eq-precision-1", "0.5"),
        ("probability-eq-precision-2", "0.50"),
        ("probability-gt", "gt0.7"),
        ("probability-lt", "lt0.0005"),
        ("probability-ge", "ge0.75"),
        ("probability-le", "le0.25"),
        ("probability-ne", "ne0.5"),
        ("probability-sa", "sa0.7"),
        ("probability-eb", "eb0.3"),
        ("probability-ap", "ap0.5"),
        ("probability-integer", "62"),
        ("probability-exponent", "1e0"),
        ("probability-or", "0.25,62"),
    ] {
        t.m("number", name, format!("RiskAssessment?probability={q}"), "RiskAssessment", move |r| num_any(&nums(r, "prediction.probabilityDecimal"), q));
    }
    t.m("number", "probability-and", "RiskAssessment?probability=gt0.4&probability=lt0.6".into(), "RiskAssessment", |r| {
        let n = nums(r, "prediction.probabilityDecimal");
        num_any(&n, "gt0.4") && num_any(&n, "lt0.6")
    });
    t.m("number", "probability-missing", "RiskAssessment?probability:missing=true".into(), "RiskAssessment", |r| nums(r, "prediction.probabilityDecimal").is_empty());

    // ---- quantity -------------------------------------------------------------------------
    for (name, q) in [
        ("value-quantity-gt-ucum", format!("gt180.00|{UCUM}|cm")),
        ("value-quantity-lt-ucum", format!("lt4.00|{UCUM}|mmol/L")),
        ("value-quantity-ge-ucum", format!("ge15.0|{UCUM}|g/dL")),
        // gt100 would sit on stored 100.16 and 100.46, inside 100's precision range [99.5, 100.5).
        ("value-quantity-gt-two-places", format!("gt100.00|{UCUM}|mg/dL")),
        ("value-quantity-le-no-units", "le1.25".to_string()),
        ("value-quantity-eq-precision", format!("70|{UCUM}|kg")),
        ("value-quantity-ap-unit", "ap50||U/L".to_string()),
        ("value-quantity-ne-code", "ne0||{score}".to_string()),
        ("value-quantity-sa", format!("sa200.0|{UCUM}|mg/dL")),
        ("value-quantity-eb", format!("eb20.0|{UCUM}|mg/dL")),
        ("value-quantity-or", format!("gt190.00|{UCUM}|cm,lt3.000|{UCUM}|kg")),
    ] {
        t.m("quantity", name, format!("Observation?value-quantity={}", enc(&q)), "Observation", move |r| qty_any(&qtys(r, "valueQuantity"), &q));
    }
    // Observation-decimal's components: 1.0, 1.00, 1E-22, 1e18, 1.000000000000000000E-245, -1E+245 (g).
    for (name, param, q) in [
        ("component-value-quantity-huge", "component-value-quantity", "gt1e17||g"),
        ("component-value-quantity-negative-exponent", "component-value-quantity", "eb-1e200||g"),
        ("combo-value-quantity-precision", "combo-value-quantity", "1.0||g"),
    ] {
        t.m("quantity", name, format!("Observation?{param}={}", enc(q)), "Observation", move |r| {
            let mut values = qtys(r, "component.valueQuantity");
            if param.starts_with("combo") {
                values.extend(qtys(r, "valueQuantity"));
            }
            qty_any(&values, q)
        });
    }
    t.m("quantity", "value-quantity-missing", "Observation?value-quantity:missing=true".into(), "Observation", |r| {
        qtys(r, "valueQuantity").is_empty() && r.get("valueSampledData").is_none()
    });
    t.m("quantity", "condition-onset-age", format!("Condition?onset-age=52|{UCUM}|a"), "Condition", |r| qty_any(&qtys(r, "onsetAge"), &format!("52|{UCUM}|a")));

    // ---- composite (code and value of the same Observation, or of the same component) -------
    let cvq = |code_path: &'static str, qty_path: &'static str, tok: String, qty: String| move |o: &Value| tok_any(&cc(o, code_path), &tok) && qty_any(&qtys(o, qty_path), &qty);
    let comps = |r: &Value, f: &dyn Fn(&Value) -> bool| at(r, "component").into_iter().any(f);
    for (name, tok, qty) in
        [("code-value-quantity", format!("{LOINC}|8302-2"), "gt180.00".to_string()), ("code-value-quantity-units", format!("{LOINC}|2339-0"), format!("gt100.0|{UCUM}|mg/dL"))]
    {
        let one = cvq("code", "valueQuantity", tok.clone(), qty.clone());
        t.m("composite", name, format!("Observation?code-value-quantity={}", enc(&format!("{tok}${qty}"))), "Observation", one);
    }
    for (name, tok, qty) in [
        ("component-systolic-gt", format!("{LOINC}|8480-6"), "gt140".to_string()),
        ("component-diastolic-lt", format!("{LOINC}|8462-4"), "lt70".to_string()),
        ("component-no-cross-match", format!("{LOINC}|8462-4"), "gt140".to_string()),
    ] {
        let one = cvq("code", "valueQuantity", tok.clone(), qty.clone());
        t.m("composite", name, format!("Observation?component-code-value-quantity={}", enc(&format!("{tok}${qty}"))), "Observation", move |r| comps(r, &one));
    }
    {
        let one = cvq("code", "valueQuantity", format!("{LOINC}|8480-6"), "gt140".into());
        t.m("composite", "combo-code-value-quantity", format!("Observation?combo-code-value-quantity={}", enc(&format!("{LOINC}|8480-6$gt140"))), "Observation", move |r| {
            one(r) || comps(r, &one)
        });
        let sys = cvq("code", "valueQuantity", format!("{LOINC}|8480-6"), "gt140".into());
        let dia = cvq("code", "valueQuantity", format!("{LOINC}|8462-4"), "gt90".into());
        t.m(
            "composite",
            "component-and-two-components",
            format!("Observation?component-code-value-quantity={}&component-code-value-quantity={}", enc(&format!("{LOINC}|8480-6$gt140")), enc(&format!("{LOINC}|8462-4$gt90"))),
            "Observation",
            move |r| comps(r, &sys) && comps(r, &dia),
        );
        let a = cvq("code", "valueQuantity", format!("{LOINC}|8302-2"), "gt190.00".into());
        let b = cvq("code", "valueQuantity", format!("{LOINC}|29463-7"), "lt10.000".into());
        t.m(
            "composite",
            "code-value-quantity-or",
            format!("Observation?code-value-quantity={}", enc(&format!("{LOINC}|8302-2$gt190.00,{LOINC}|29463-7$lt10.000"))),
            "Observation",
            move |r| a(r) || b(r),
        );
    }
    t.m("composite", "code-value-concept", format!("Observation?code-value-concept={}", enc(&format!("{LOINC}|72166-2${SNOMED}|8517006"))), "Observation", |r| {
        tok_any(&cc(r, "code"), &format!("{LOINC}|72166-2")) && tok_any(&cc(r, "valueCodeableConcept"), &format!("{SNOMED}|8517006"))
    });
    t.m("composite", "code-value-string", format!("Observation?code-value-string={}", enc(&format!("{LOINC}|71802-3$patient"))), "Observation", |r| {
        tok_any(&cc(r, "code"), &format!("{LOINC}|71802-3")) && starts(&strs(r, "valueString"), "patient")
    });
    t.m("composite", "code-value-date", format!("Observation?code-value-date={}", enc(&format!("{LOINC}|8665-2$ge2016-12"))), "Observation", |r| {
        tok_any(&cc(r, "code"), &format!("{LOINC}|8665-2")) && date_any(&[dates(r, "valueDateTime"), periods(r, "valuePeriod")].concat(), "ge2016-12")
    });

    // ---- reference ------------------------------------------------------------------------
    let p3 = p(3).key.clone();
    t.m("reference", "subject-type-id", format!("Observation?subject={p3}"), "Observation", |r| points_to(r, "subject", &p3));
    t.m("reference", "subject-bare-id", format!("Observation?subject={}", pid(3)), "Observation", |r| {
        refs(r, "subject").iter().any(|s| local_ref(s).is_some_and(|(_, i)| i == pid(3)))
    });
    t.m("reference", "subject-type-modifier", format!("Observation?subject:Patient={}", pid(3)), "Observation", |r| points_to(r, "subject", &p3));
    t.m("reference", "subject-type-modifier-other-type", format!("Observation?subject:Group={}", pid(3)), "Observation", |r| points_to(r, "subject", &format!("Group/{}", pid(3))));
    t.m("reference", "patient-param", format!("Observation?patient={p3}"), "Observation", |r| points_to(r, "subject", &p3));
    t.m("reference", "subject-or", format!("Encounter?subject={},{}", p(4).key, p(5).key), "Encounter", |r| {
        points_to(r, "subject", &p(4).key) || points_to(r, "subject", &p(5).key)
    });
    let enc0 = c.of("Encounter").find(|r| matches!(r.origin, Origin::Synthea(9, _))).unwrap();
    let org0 = refs(&enc0.json, "serviceProvider")[0].to_string();
    let prac = refs(&enc0.json, "participant.individual")[0].to_string();
    t.m("reference", "service-provider", format!("Encounter?service-provider={org0}"), "Encounter", |r| points_to(r, "serviceProvider", &org0));
    t.m("reference", "participant-type-modifier", format!("Encounter?participant:Practitioner={}", local_ref(&prac).unwrap().1), "Encounter", |r| {
        points_to(r, "participant.individual", &prac)
    });
    t.m("reference", "practitioner-param", format!("Encounter?practitioner={prac}"), "Encounter", |r| points_to(r, "participant.individual", &prac));
    t.m("reference", "requester", format!("MedicationRequest?requester={prac}"), "MedicationRequest", |r| points_to(r, "requester", &prac));
    let dr0 = c.of("DiagnosticReport").nth(5).unwrap();
    let result0 = refs(&dr0.json, "result")[1].to_string();
    t.m("reference", "diagnosticreport-result", format!("DiagnosticReport?result={result0}"), "DiagnosticReport", |r| points_to(r, "result", &result0));
    // search.html: a relative reference and an absolute URL resolving to the same value SHOULD match.
    t.m("reference", "subject-absolute-url-of-this-server", format!("Observation?subject={}/{p3}", c.base), "Observation", |r| points_to(r, "subject", &p3));
    t.m("reference", "performer-missing", "Observation?performer:missing=true".into(), "Observation", |r| !has_ref(r, "performer"));
    t.m("reference", "encounter-missing", "Observation?encounter:missing=true".into(), "Observation", |r| !has_ref(r, "encounter"));
    t.m("reference", "subject-missing-contained-is-a-value", "Observation?subject:missing=true".into(), "Observation", |r| !has_ref(r, "subject"));
    let mrn0 = ident(p(0), "http://hospital.smarthealthit.org");
    t.m("reference", "subject-identifier", format!("Observation?subject:identifier=http://hospital.smarthealthit.org|{mrn0}"), "Observation", |r| {
        at(r, "subject.identifier").iter().any(|i| i["system"] == "http://hospital.smarthealthit.org" && i["value"] == mrn0.as_str())
    });
    t.m("reference", "organization-example-ids", "Patient?organization=Organization/1".into(), "Patient", |r| points_to(r, "managingOrganization", "Organization/1"));
    t.m("reference", "general-practitioner-missing-false", "Patient?general-practitioner:missing=false".into(), "Patient", |r| has_ref(r, "generalPractitioner"));
    // Chains: the reference resolves to a stored resource of the type that matches the inner test.
    let chain = |r: &Value, path: &str, ty: Option<&str>, inner: &dyn Fn(&Res) -> bool| {
        refs(r, path).into_iter().filter_map(|s| c.resolve(s)).any(|x| ty.map_or(true, |t| x.rtype == t) && inner(x))
    };
    let fam6: String = first_family(p(6)).to_lowercase();
    t.m("chain", "subject-patient-name", format!("Observation?subject:Patient.name={fam6}&category=vital-signs"), "Observation", |r| {
        chain(r, "subject", Some("Patient"), &|x| starts(&name_parts(&x.json, "name"), &fam6)) && tok_any(&cc(r, "category"), "vital-signs")
    });
    t.m("chain", "patient-birthdate", format!("Observation?patient.birthdate=lt1940&code={LOINC}|8302-2"), "Observation", |r| {
        chain(r, "subject", Some("Patient"), &|x| date_any(&dates(&x.json, "birthDate"), "lt1940")) && tok_any(&cc(r, "code"), &format!("{LOINC}|8302-2"))
    });
    let org0_name: String = c.resolve(&org0).unwrap().json["name"].as_str().unwrap().split(' ').next().unwrap().to_string();
    t.m("chain", "service-provider-name", format!("Encounter?service-provider.name={}", enc(&org0_name)), "Encounter", |r| {
        chain(r, "serviceProvider", None, &|x| starts(&[strs(&x.json, "name"), strs(&x.json, "alias")].concat(), &org0_name))
    });
    t.m("chain", "subject-gender-and-class", "Encounter?subject.gender=female&class=EMER".into(), "Encounter", |r| {
        chain(r, "subject", Some("Patient"), &|x| tok_any(&codes(&x.json, "gender", None), "female")) && tok_any(&codings(r, "class"), "EMER")
    });
    t.m("chain", "result-code", format!("DiagnosticReport?result.code={LOINC}|2339-0"), "DiagnosticReport", |r| {
        chain(r, "result", Some("Observation"), &|x| tok_any(&cc(&x.json, "code"), &format!("{LOINC}|2339-0")))
    });
    t.m("chain", "two-levels-synthea", format!("Claim?encounter.service-provider.name={}", enc(&org0_name)), "Claim", |r| {
        chain(r, "item.encounter", Some("Encounter"), &|e| {
            chain(&e.json, "serviceProvider", Some("Organization"), &|o| starts(&[strs(&o.json, "name"), strs(&o.json, "alias")].concat(), &org0_name))
        })
    });
    t.m("chain", "two-levels-examples", "Condition?subject:Patient.organization.name=gastro".into(), "Condition", |r| {
        chain(r, "subject", Some("Patient"), &|x| {
            chain(&x.json, "managingOrganization", Some("Organization"), &|o| starts(&[strs(&o.json, "name"), strs(&o.json, "alias")].concat(), "gastro"))
        })
    });
    t.m("chain", "subject-address-city", format!("Observation?subject:Patient.address-city=boston&code={LOINC}|29463-7"), "Observation", |r| {
        chain(r, "subject", Some("Patient"), &|x| starts(&strs(&x.json, "address.city"), "boston")) && tok_any(&cc(r, "code"), &format!("{LOINC}|29463-7"))
    });
    t.m("chain", "chain-with-modifier", "Observation?subject:Patient.family:exact=Kshlerin&category=vital-signs".into(), "Observation", |r| {
        chain(r, "subject", Some("Patient"), &|x| exact(&strs(&x.json, "name.family"), "Kshlerin")) && tok_any(&cc(r, "category"), "vital-signs")
    });
    // _has: some resource of the source type points here through the parameter and matches.
    let has = |target: &Res, src: &str, path: &str, ty: &str, inner: &dyn Fn(&Value) -> bool| {
        c.of(src).any(|s| refs_of_type(&s.json, path, ty).iter().any(|x| local_ref(x).map(|(t, i)| format!("{t}/{i}")).as_deref() == Some(target.key.as_str())) && inner(&s.json))
    };
    t.mr("chain", "has-observation-value-concept", format!("Patient?_has:Observation:patient:value-concept={SNOMED}|8517006"), "Patient", |p| {
        has(p, "Observation", "subject", "Patient", &|o| tok_any(&cc(o, "valueCodeableConcept"), &format!("{SNOMED}|8517006")))
    });
    t.mr("chain", "has-condition-code", format!("Patient?_has:Condition:subject:code={SNOMED}|15777000"), "Patient", |p| {
        has(p, "Condition", "subject", "Patient", &|o| tok_any(&cc(o, "code"), &format!("{SNOMED}|15777000")))
    });
    t.mr("chain", "has-and-own-param", "Patient?_has:Encounter:subject:class=EMER&gender=male".into(), "Patient", |p| {
        has(p, "Encounter", "subject", "Patient", &|e| tok_any(&codings(e, "class"), "EMER")) && tok_any(&codes(&p.json, "gender", None), "male")
    });
    t.mr("chain", "has-inner-modifier", "Patient?_has:Observation:patient:code:text=tobacco".into(), "Patient", |p| {
        has(p, "Observation", "subject", "Patient", &|o| tok_text(&cc(o, "code"), "tobacco"))
    });
    {
        // A chain into _has: observations of patients who have a prediabetes condition.
        let diabetic: BTreeSet<String> = c.keys("Patient", |p| has(p, "Condition", "subject", "Patient", &|x| tok_any(&cc(x, "code"), &format!("{SNOMED}|15777000"))));
        t.m("chain", "chain-into-has", format!("Observation?patient._has:Condition:subject:code={SNOMED}|15777000&code={LOINC}|8302-2"), "Observation", |r| {
            refs_of_type(r, "subject", "Patient").iter().any(|s| diabetic.contains(*s)) && tok_any(&cc(r, "code"), &format!("{LOINC}|8302-2"))
        });
    }
    let obs3 = c.of("Observation").find(|o| points_to(&o.json, "subject", &p3)).unwrap().id.clone();
    t.mr("chain", "has-id", format!("Patient?_has:Observation:patient:_id={obs3}"), "Patient", |p| has(p, "Observation", "subject", "Patient", &|o| o["id"] == obs3.as_str()));
    t.mr("chain", "has-practitioner", "Practitioner?_has:Encounter:participant:class=IMP".into(), "Practitioner", |p| {
        has(p, "Encounter", "participant.individual", "Practitioner", &|e| tok_any(&codings(e, "class"), "IMP"))
    });
    {
        // Nested: organizations providing an encounter in which a prediabetes condition was recorded.
        let encs: BTreeSet<String> =
            c.of("Condition").filter(|x| tok_any(&cc(&x.json, "code"), &format!("{SNOMED}|15777000"))).flat_map(|x| refs(&x.json, "encounter")).map(str::to_string).collect();
        let orgs: BTreeSet<String> = c.of("Encounter").filter(|e| encs.contains(&e.key)).flat_map(|e| refs(&e.json, "serviceProvider")).map(str::to_string).collect();
        t.mr("chain", "has-nested", format!("Organization?_has:Encounter:service-provider:_has:Condition:encounter:code={SNOMED}|15777000"), "Organization", |o| {
            orgs.contains(&o.key)
        });
    }

    // ---- uri ------------------------------------------------------------------------------
    t.m("uri", "url-equals", "PlanDefinition?url=http://hl7.org/fhir/ig/opioid-cds/PlanDefinition/opioidcds-04".into(), "PlanDefinition", |r| {
        r["url"] == "http://hl7.org/fhir/ig/opioid-cds/PlanDefinition/opioidcds-04"
    });
    t.m("uri", "url-equals-two-versions", "PlanDefinition?url=http://example.org/PlanDefinition/zika-virus-intervention".into(), "PlanDefinition", |r| {
        r["url"] == "http://example.org/PlanDefinition/zika-virus-intervention"
    });
    t.m("uri", "url-below", "PlanDefinition?url:below=http://hl7.org/fhir/ig/opioid-cds".into(), "PlanDefinition", |r| {
        r["url"].as_str().is_some_and(|u| u.starts_with("http://hl7.org/fhir/ig/opioid-cds/"))
    });
    let above = "http://example.org/PlanDefinition/zika-virus-intervention/extra/part";
    t.m("uri", "url-above", format!("PlanDefinition?url:above={above}"), "PlanDefinition", |r| {
        r["url"].as_str().is_some_and(|u| above == u || above.starts_with(&format!("{u}/")))
    });
    t.m("uri", "url-missing", "PlanDefinition?url:missing=true".into(), "PlanDefinition", |r| r.get("url").is_none());
    t.m("uri", "profile-below", "Observation?_profile:below=http://hl7.org/fhir/StructureDefinition".into(), "Observation", |r| {
        strs(r, "meta.profile").iter().any(|u| u.starts_with("http://hl7.org/fhir/StructureDefinition/"))
    });
    t.m("uri", "profile", "Observation?_profile=http://hl7.org/fhir/StructureDefinition/vitalsigns".into(), "Observation", |r| {
        strs(r, "meta.profile").contains(&"http://hl7.org/fhir/StructureDefinition/vitalsigns")
    });

    // ---- common parameters ----------------------------------------------------------------
    t.mr("common", "id-or", format!("Patient?_id={},{},example", pid(0), pid(1)), "Patient", |r| [pid(0), pid(1), "example".into()].contains(&r.id));
    // A Patient's id names no Observation: _id is scoped by the searched type.
    let obs_id = c.of("Observation").find(|o| matches!(o.origin, Origin::Synthea(2, _))).unwrap().id.clone();
    t.mr("common", "id-scoped-by-type", format!("Observation?_id={obs_id},{}", pid(2)), "Observation", |r| r.id == obs_id || r.id == pid(2));
    let cuts = c.cuts.clone();
    let wave = |r: &Res| match r.origin {
        Origin::Example => 0,
        Origin::Synthea(i, _) if i < 15 => 1,
        Origin::Synthea(..) => 2,
        Origin::Own(_) => 3,
    };
    t.mr("common", "lastupdated-lt", format!("Patient?_lastUpdated=lt{}", cuts[0]), "Patient", |r| wave(r) == 0);
    t.mr("common", "lastupdated-window", format!("Patient?_lastUpdated=ge{}&_lastUpdated=lt{}", cuts[0], cuts[1]), "Patient", |r| wave(r) == 1);
    t.mr("common", "lastupdated-gt", format!("Patient?_lastUpdated=gt{}", cuts[2]), "Patient", |r| wave(r) == 3);
    t.mr("common", "lastupdated-encounters", format!("Encounter?_lastUpdated=gt{}&_lastUpdated=le{}", cuts[1], cuts[2]), "Encounter", |r| wave(r) == 2);
    let (tag_sys, tag_code) = SYNTHEA_TAG.split_once('|').unwrap();
    let tagged = |r: &Value, s: &str, code: &str| at(r, "meta.tag").iter().any(|x| x["system"] == s && x["code"] == code);
    t.m("common", "tag", format!("Patient?_tag={SYNTHEA_TAG}"), "Patient", |r| tagged(r, tag_sys, tag_code));
    t.m("common", "tag-not", format!("Patient?_tag:not={SYNTHEA_TAG}"), "Patient", |r| !tagged(r, tag_sys, tag_code));
    t.m("common", "tag-own", format!("Observation?_tag={OWN_TAG_SYSTEM}|own"), "Observation", |r| tagged(r, OWN_TAG_SYSTEM, "own"));
    t.m("common", "security", format!("Condition?_security={ACT_CODE}|TBOO"), "Condition", |r| {
        at(r, "meta.security").iter().any(|x| x["system"] == ACT_CODE && x["code"] == "TBOO")
    });

    // ---- result parameters ----------------------------------------------------------------
    // _contained: resources inside others (the apgar Observations contain their newborn Patient,
    // PlanDefinitions contain ActivityDefinitions). The answer is the containers.
    let contained_of = |r: &Value, ty: &str| -> Vec<Value> {
        r["contained"].as_array().into_iter().flatten().filter(|x| x["resourceType"] == ty).cloned().collect()
    };
    let chalmers = |p: &Value| strs(p, "name.family").iter().any(|f| fold(f).starts_with("chalmers"));
    t.m("result", "contained-true-string", "Patient?family=chalmers&_contained=true".into(), "Observation", |r| contained_of(r, "Patient").iter().any(chalmers));
    let mut both = c.keys("Patient", |r| chalmers(&r.json));
    both.extend(c.keys("Observation", |r| contained_of(&r.json, "Patient").iter().any(chalmers)));
    t.push("result", "contained-both", "Patient?family=chalmers&_contained=both".into(), Expect::Set(both));
    t.m("result", "contained-true-token", "ActivityDefinition?status=draft&_contained=true".into(), "PlanDefinition", |r| {
        contained_of(r, "ActivityDefinition").iter().any(|a| a["status"] == "draft")
    });
    // search.html: a chain is evaluated inside contained resources (`#id`) as well as stored ones.
    t.m("reference", "chain-into-contained", "Observation?subject:Patient.family=chalmers".into(), "Observation", |r| {
        refs(r, "subject").into_iter().any(|s| match s.strip_prefix('#') {
            Some(local) => contained_of(r, "Patient").iter().any(|p| p["id"] == local && chalmers(p)),
            None => c.resolve(s).is_some_and(|x| x.rtype == "Patient" && chalmers(&x.json)),
        })
    });
    t.m("result", "paging-count-37", format!("Observation?code={LOINC}|8302-2&_count=37"), "Observation", |r| tok_any(&cc(r, "code"), &format!("{LOINC}|8302-2")));
    // _sort (always ending in _id, so the whole order is determined).
    let sorted = |ty: &str, filter: &dyn Fn(&Res) -> bool, keys: &dyn Fn(&Value) -> Vec<(bool, Option<K>)>| {
        sort_by_keys(c.of(ty).filter(|r| filter(r)).map(|r| (r.key.clone(), keys(&r.json))).collect(), c)
    };
    let all = |_: &Res| true;
    let order = sorted("Patient", &all, &|r| vec![(false, skey_str(strs(r, "name.family"), false))]);
    t.push("result", "sort-family-paged", "Patient?_sort=family,_id&_count=8".into(), Expect::Order(order));
    let order = sorted("Patient", &all, &|r| vec![(true, skey_str(strs(r, "name.family"), true))]);
    t.push("result", "sort-family-desc-highest", "Patient?_sort=-family,_id".into(), Expect::Order(order));
    let order = sorted("Patient", &all, &|r| vec![(true, skey_date(dates(r, "birthDate"), true))]);
    t.push("result", "sort-birthdate-desc", "Patient?_sort=-birthdate,_id".into(), Expect::Order(order));
    let order = sorted("Patient", &all, &|r| vec![(false, skey_str(strs(r, "name.family"), false)), (true, skey_str(strs(r, "name.given"), true))]);
    t.push("result", "sort-family-given-desc", "Patient?_sort=family,-given,_id".into(), Expect::Order(order));
    let order = sorted("Patient", &all, &|r| {
        vec![(false, pick(strs(r, "gender").into_iter().map(|s| s.to_string()).collect(), false).map(K::S)), (true, skey_date(dates(r, "birthDate"), true))]
    });
    t.push("result", "sort-token-then-date", "Patient?_sort=gender,-birthdate,_id".into(), Expect::Order(order));
    let order = sorted("Patient", &all, &|r| vec![(false, skey_str(strs(r, "address.city"), false))]);
    t.push("result", "sort-address-city", "Patient?_sort=address-city,_id".into(), Expect::Order(order));
    let height = |r: &Res| tok_any(&cc(&r.json, "code"), &format!("{LOINC}|8302-2"));
    let order = sorted("Observation", &height, &|r| vec![(true, skey_num(qtys(r, "valueQuantity").iter().map(|q| q.n.v).collect(), true))]);
    t.push("result", "sort-quantity-desc", format!("Observation?code={LOINC}|8302-2&_sort=-value-quantity,_id"), Expect::Order(order));
    let of_p3 = |r: &Res| points_to(&r.json, "subject", &p(3).key);
    let order = sorted("Encounter", &of_p3, &|r| vec![(false, skey_date(periods(r, "period"), false))]);
    t.push("result", "sort-period-asc", format!("Encounter?subject={}&_sort=date,_id", p(3).key), Expect::Order(order));
    let order = sorted("Encounter", &of_p3, &|r| vec![(true, skey_date(periods(r, "period"), true))]);
    t.push("result", "sort-period-desc", format!("Encounter?subject={}&_sort=-date,_id", p(3).key), Expect::Order(order));
    for (name, q, desc) in [("sort-number-asc", "RiskAssessment?_sort=probability,_id", false), ("sort-number-desc", "RiskAssessment?_sort=-probability,_id", true)] {
        let order = sorted("RiskAssessment", &all, &|r| vec![(desc, skey_num(nums(r, "prediction.probabilityDecimal").iter().map(|n| n.v).collect(), desc))]);
        t.push("result", name, q.into(), Expect::Order(order));
    }
    let order = sorted("Condition", &all, &|r| vec![(false, skey_date([dates(r, "onsetDateTime"), periods(r, "onsetPeriod")].concat(), false))]);
    t.push("result", "sort-onset-date", "Condition?_sort=onset-date,_id".into(), Expect::Order(order));
    let order = sorted("PlanDefinition", &all, &|r| vec![(true, pick(strs(r, "url").into_iter().map(|s| s.to_string()).collect(), true).map(K::S))]);
    t.push("result", "sort-uri-desc", "PlanDefinition?_sort=-url,_id".into(), Expect::Order(order));
    // _include / _revinclude: included = stored targets of the matches' references, minus matches.
    let include = |ty: &str, filter: &dyn Fn(&Res) -> bool, paths: &[(&str, Option<&str>)]| {
        let matches: BTreeSet<String> = c.keys(ty, filter);
        let mut inc = BTreeSet::new();
        for m in &matches {
            for (path, target) in paths {
                for s in refs(&c.get(m).unwrap().json, path) {
                    if let Some(x) = c.resolve(s).filter(|x| target.map_or(true, |t| x.rtype == t)) {
                        inc.insert(x.key.clone());
                    }
                }
            }
        }
        inc.retain(|k| !matches.contains(k));
        (matches, inc)
    };
    let class_is = |code: &'static str| move |r: &Res| tok_any(&codings(&r.json, "class"), code);
    let (matches, included) = include("Encounter", &class_is("EMER"), &[("subject", None)]);
    t.push("result", "include-subject", "Encounter?class=EMER&_include=Encounter:subject".into(), Expect::Include { matches, included });
    let (matches, included) = include("Encounter", &class_is("IMP"), &[("serviceProvider", None), ("participant.individual", None)]);
    t.push("result", "include-two", "Encounter?class=IMP&_include=Encounter:service-provider&_include=Encounter:participant".into(), Expect::Include { matches, included });
    // Every reference parameter of Encounter (R4): account, appointment, based-on, diagnosis,
    // episode-of-care, location, part-of, participant (practitioner), reason-reference,
    // service-provider, subject (patient).
    let every_encounter_ref = [
        "account",
        "appointment",
        "basedOn",
        "diagnosis.condition",
        "episodeOfCare",
        "location.location",
        "partOf",
        "participant.individual",
        "reasonReference",
        "serviceProvider",
        "subject",
    ]
    .map(|p| (p, None));
    let (matches, included) = include("Encounter", &class_is("IMP"), &every_encounter_ref);
    t.push("result", "include-wildcard", "Encounter?class=IMP&_include=Encounter:*".into(), Expect::Include { matches, included });
    let (matches, included) = include("Encounter", &class_is("IMP"), &[("participant.individual", Some("Practitioner"))]);
    t.push("result", "include-typed", "Encounter?class=IMP&_include=Encounter:participant:Practitioner".into(), Expect::Include { matches, included });
    {
        let prediabetes = |r: &Res| tok_any(&cc(&r.json, "code"), &format!("{SNOMED}|15777000"));
        let (matches, encs) = include("Condition", &prediabetes, &[("encounter", None)]);
        let orgs: BTreeSet<String> = encs.iter().flat_map(|e| refs(&c.get(e).unwrap().json, "serviceProvider")).filter_map(|s| c.resolve(s)).map(|x| x.key.clone()).collect();
        let included = encs.union(&orgs).cloned().collect();
        t.push(
            "result",
            "include-iterate",
            format!("Condition?code={SNOMED}|15777000&_include=Condition:encounter&_include:iterate=Encounter:service-provider"),
            Expect::Include { matches, included },
        );
    }
    let smoker = |r: &Res| tok_any(&cc(&r.json, "code"), &format!("{LOINC}|72166-2"));
    let (matches, included) = include("Observation", &smoker, &[("subject", Some("Patient"))]);
    t.push("result", "include-patient-param", format!("Observation?code={LOINC}|72166-2&_include=Observation:patient"), Expect::Include { matches, included });
    let (matches, included) = include("Observation", &smoker, &[("subject", Some("Patient"))]);
    t.push("result", "include-across-pages", format!("Observation?code={LOINC}|72166-2&_include=Observation:patient&_count=40"), Expect::Include { matches, included });
    let revinclude = |matches: BTreeSet<String>, src: &str, path: &str| {
        let included = c.of(src).filter(|s| matches.iter().any(|m| points_to(&s.json, path, m))).map(|s| s.key.clone()).filter(|k| !matches.contains(k)).collect();
        Expect::Include { matches, included }
    };
    t.push("result", "revinclude", format!("Patient?_id={}&_revinclude=Condition:subject", pid(5)), revinclude([p(5).key.clone()].into(), "Condition", "subject"));
    {
        let encs = c.keys("Encounter", |e| points_to(&e.json, "subject", &p(5).key));
        let conds = c.keys("Condition", |x| encs.iter().any(|e| points_to(&x.json, "encounter", e)));
        t.push(
            "result",
            "revinclude-iterate",
            format!("Patient?_id={}&_revinclude=Encounter:patient&_revinclude:iterate=Condition:encounter", pid(5)),
            Expect::Include { matches: [p(5).key.clone()].into(), included: encs.union(&conds).cloned().collect() },
        );
    }
    let maggio = c.keys("Patient", |r| starts(&strs(&r.json, "name.family"), "maggio"));
    t.push("result", "revinclude-many", "Patient?family=maggio&_revinclude=Encounter:patient".into(), revinclude(maggio, "Encounter", "subject"));
    t.push(
        "result",
        "revinclude-result",
        format!("Observation?_id={}&_revinclude=DiagnosticReport:result", local_ref(&result0).unwrap().1),
        revinclude([result0.clone()].into(), "DiagnosticReport", "result"),
    );
    // _summary=count, _total, _elements.
    let n = c.keys("Observation", |r| tok_any(&cc(&r.json, "code"), &format!("{LOINC}|8302-2"))).len();
    t.push("result", "summary-count", format!("Observation?code={LOINC}|8302-2&_summary=count"), Expect::Count(n));
    t.push("result", "summary-count-all", "Patient?_summary=count".into(), Expect::Count(c.of("Patient").count()));
    t.push("result", "total-accurate", "Condition?_total=accurate&_count=5".into(), Expect::Total { matches: c.keys("Condition", |_| true), page: 5 });
    let lab = c.keys("Observation", |r| tok_any(&cc(&r.json, "category"), "laboratory"));
    t.push("result", "total-accurate-large", "Observation?category=laboratory&_total=accurate&_count=3".into(), Expect::Total { matches: lab, page: 3 });
    let female = c.keys("Patient", |r| tok_any(&codes(&r.json, "gender", None), "female"));
    t.push(
        "result",
        "elements",
        "Patient?gender=female&_elements=birthDate,name".into(),
        Expect::Elements { matches: female, listed: vec!["birthDate", "name"], mandatory: vec![] },
    );
    let heights = c.keys("Observation", height);
    t.push(
        "result",
        "elements-mandatory-kept",
        format!("Observation?code={LOINC}|8302-2&_elements=valueQuantity"),
        Expect::Elements { matches: heights, listed: vec!["valueQuantity"], mandatory: vec!["status", "code"] },
    );
    // Compartments (R4 CompartmentDefinition Patient): Observation via subject and performer,
    // Encounter via patient, Condition via patient and asserter, MedicationRequest via subject.
    let inp = |r: &Value, owner: &str, paths: &[&str]| paths.iter().any(|path| points_to(r, path, owner));
    t.m("result", "compartment", format!("{}/Observation", p3), "Observation", |r| inp(r, &p3, &["subject", "performer"]));
    t.m("result", "compartment-with-filter", format!("{}/Observation?code={LOINC}|8302-2", p3), "Observation", |r| {
        inp(r, &p3, &["subject", "performer"]) && tok_any(&cc(r, "code"), &format!("{LOINC}|8302-2"))
    });
    let p6 = p(6).key.clone();
    t.m("result", "compartment-encounter", format!("{p6}/Encounter?class=AMB"), "Encounter", |r| inp(r, &p6, &["subject"]) && tok_any(&codings(r, "class"), "AMB"));
    t.m("result", "compartment-examples", "Patient/example/Condition".into(), "Condition", |r| inp(r, "Patient/example", &["subject", "asserter"]));
    let p2 = p(2).key.clone();
    t.m("result", "compartment-medicationrequest", format!("{p2}/MedicationRequest"), "MedicationRequest", |r| inp(r, &p2, &["subject"]));

    assert!(t.refused.is_empty(), "pick other values for these cases:\n{}", t.refused.join("\n"));
    t.cases
}

// =============================================================================================
// Runner
// =============================================================================================

/// What one case got: every page followed.
#[derive(Default)]
struct Got {
    matches: Vec<String>,
    included: Vec<String>,
    total: Option<u64>,
    pages: Vec<Value>,
}

fn link(bundle: &Value, rel: &str) -> Option<String> {
    bundle["link"].as_array()?.iter().find(|l| l["relation"] == rel).and_then(|l| l["url"].as_str()).map(str::to_string)
}

fn entry_key(e: &Value) -> String {
    format!("{}/{}", e["resource"]["resourceType"].as_str().unwrap_or("?"), e["resource"]["id"].as_str().unwrap_or("?"))
}

async fn fetch(f: &Fhir, query: &str, follow: bool) -> Result<Got, String> {
    let mut got = Got::default();
    let mut url = query.to_string();
    loop {
        let r = f.get(&url).await;
        if r.status != 200 {
            return Err(format!("HTTP {}: {}", r.status, &r.text[..r.text.len().min(400)]));
        }
        let b = r.json();
        if got.pages.is_empty() {
            got.total = b["total"].as_u64();
        }
        for e in b["entry"].as_array().into_iter().flatten() {
            match e["search"]["mode"].as_str() {
                Some("match") => got.matches.push(entry_key(e)),
                Some("include") => got.included.push(entry_key(e)),
                _ => {}
            }
        }
        let next = link(&b, "next");
        got.pages.push(b);
        match next {
            Some(n) if follow => {
                if got.pages.len() > 300 {
                    return Err("more than 300 pages".into());
                }
                url = n;
            }
            _ => return Ok(got),
        }
    }
}

/// Adds `_count=1000` unless the case sets paging itself, so most cases take one request.
fn with_count(q: &str) -> String {
    if q.contains("_count=") || q.contains("_summary=count") {
        q.to_string()
    } else {
        format!("{q}{}_count=1000", if q.contains('?') { "&" } else { "?" })
    }
}

fn show(c: &Corpus, keys: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let all: Vec<String> = keys.into_iter().map(|k| c.stable(k.as_ref())).collect();
    let n = all.len();
    let mut s = all.into_iter().take(8).collect::<Vec<_>>().join(", ");
    if n > 8 {
        s.push_str(&format!(", … ({n} in all)"));
    }
    format!("[{s}]")
}

/// Differences between an expected and an actual set, or None.
fn set_diff(c: &Corpus, what: &str, expected: &BTreeSet<String>, got: &[String]) -> Option<String> {
    let got_set: BTreeSet<String> = got.iter().cloned().collect();
    let mut msg = Vec::new();
    if got_set.len() != got.len() {
        let mut seen = BTreeSet::new();
        let dups: Vec<&String> = got.iter().filter(|k| !seen.insert(*k)).collect();
        msg.push(format!("{what} repeated: {}", show(c, dups)));
    }
    let missing: Vec<&String> = expected.difference(&got_set).collect();
    let extra: Vec<&String> = got_set.difference(expected).collect();
    if !missing.is_empty() {
        msg.push(format!("{what} missing: {}", show(c, missing)));
    }
    if !extra.is_empty() {
        msg.push(format!("{what} unexpected: {}", show(c, extra)));
    }
    (!msg.is_empty()).then(|| format!("{} (expected {}, got {})", msg.join("; "), expected.len(), got_set.len()))
}

/// Loose JSON equality: numbers by value (PostgreSQL's JSONB may write them differently).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.to_string().parse::<f64>().ok() == y.to_string().parse::<f64>().ok(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_json(p, q)),
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w))),
        _ => a == b,
    }
}

/// Runs one case; Ok(digest) when it passes, Err((digest, why)) when not. The digest describes the
/// answer in backend-independent names, for the cross-backend comparison.
async fn run_case(f: &Fhir, c: &Corpus, case: &Case) -> Result<String, (String, String)> {
    let follow = !matches!(case.expect, Expect::Count(_) | Expect::Total { .. });
    let got = match fetch(f, &with_count(&case.query), follow).await {
        Ok(g) => g,
        Err(e) => return Err((e.clone(), e)),
    };
    let stable = |keys: &[String]| keys.iter().map(|k| c.stable(k)).collect::<Vec<_>>();
    let sorted_stable = |keys: &[String]| {
        let mut v = stable(keys);
        v.sort();
        v.join(",")
    };
    // Included resources may repeat on several pages, and page boundaries follow insertion order,
    // which differs by backend: the digest keeps each included resource once.
    let mut included_once = got.included.clone();
    included_once.sort();
    included_once.dedup();
    let digest = format!("matches={} included={} total={:?}", sorted_stable(&got.matches), sorted_stable(&included_once), got.total);
    let mut problems: Vec<String> = Vec::new();
    // A total, when given on a complete answer, must count the matches.
    let total_ok = |n: usize, problems: &mut Vec<String>| {
        if let Some(t) = got.total {
            if t as usize != n {
                problems.push(format!("Bundle.total {t}, expected {n}"));
            }
        }
    };
    match &case.expect {
        Expect::Set(expected) => {
            problems.extend(set_diff(c, "matches", expected, &got.matches));
            problems.extend(set_diff(c, "included", &BTreeSet::new(), &got.included));
            total_ok(expected.len(), &mut problems);
        }
        Expect::Order(expected) => {
            if &got.matches != expected {
                let at = got.matches.iter().zip(expected).position(|(a, b)| a != b).unwrap_or(got.matches.len().min(expected.len()));
                problems.push(format!(
                    "order differs at position {at} of {}: expected {} got {}",
                    expected.len(),
                    show(c, expected.iter().skip(at).take(4)),
                    show(c, got.matches.iter().skip(at).take(4))
                ));
            }
            total_ok(expected.len(), &mut problems);
        }
        Expect::Include { matches, included } => {
            problems.extend(set_diff(c, "matches", matches, &got.matches));
            // An included resource may repeat across pages, not within one.
            let inc: BTreeSet<String> = got.included.iter().cloned().collect();
            problems.extend(set_diff(c, "included", included, &inc.into_iter().collect::<Vec<_>>()));
            for page in &got.pages {
                let mut seen = BTreeSet::new();
                for e in page["entry"].as_array().into_iter().flatten() {
                    if !seen.insert(entry_key(e)) {
                        problems.push(format!("{} appears twice in one page", c.stable(&entry_key(e))));
                    }
                }
            }
        }
        Expect::Count(n) => {
            if got.total != Some(*n as u64) {
                problems.push(format!("total {:?}, expected {n}", got.total));
            }
            if !got.matches.is_empty() {
                problems.push(format!("_summary=count returned {} entries", got.matches.len()));
            }
        }
        Expect::Total { matches, page } => {
            if got.total != Some(matches.len() as u64) {
                problems.push(format!("total {:?}, expected {}", got.total, matches.len()));
            }
            if got.matches.len() != (*page).min(matches.len()) || got.matches.iter().any(|m| !matches.contains(m)) {
                problems.push(format!("first page {} not {} of the matches", show(c, &got.matches), page));
            }
        }
        Expect::Elements { matches, listed, mandatory } => {
            problems.extend(set_diff(c, "matches", matches, &got.matches));
            for page in &got.pages {
                for e in page["entry"].as_array().into_iter().flatten() {
                    let r = &e["resource"];
                    let key = entry_key(e);
                    let Some(raw) = c.get(&key) else { continue };
                    let keys: BTreeSet<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
                    let allowed: BTreeSet<&str> = ["resourceType", "id", "meta"].into_iter().chain(listed.iter().copied()).chain(mandatory.iter().copied()).collect();
                    // `_birthDate` (a primitive's id and extensions) is part of `birthDate`.
                    let extra: Vec<&&str> = keys.iter().filter(|k| !allowed.contains(k.strip_prefix('_').unwrap_or(k))).collect();
                    if !extra.is_empty() {
                        problems.push(format!("{} carries {extra:?}", raw.stable()));
                    }
                    for k in listed.iter().chain(mandatory) {
                        let (want, have) = (raw.json.get(*k), r.get(*k));
                        let same = match (want, have) {
                            (Some(w), Some(h)) => same_json(w, h),
                            (None, None) => true,
                            _ => false,
                        };
                        if !same {
                            problems.push(format!("{}: {k} is {have:?}, stored {want:?}", raw.stable()));
                        }
                    }
                    if !at(r, "meta.tag").iter().any(|t| t["code"] == "SUBSETTED") {
                        problems.push(format!("{} is not marked SUBSETTED", raw.stable()));
                    }
                }
            }
            problems.truncate(5);
        }
    }
    // Ties broken by _id and first pages follow server-assigned ids, which differ by backend: for
    // those the digest is the verdict and the sizes, not the names.
    let digest = match &case.expect {
        Expect::Order(_) | Expect::Total { .. } => format!("ok={} n={} total={:?}", problems.is_empty(), got.matches.len(), got.total),
        _ => digest,
    };
    if problems.is_empty() {
        Ok(digest)
    } else {
        Err((digest, problems.join("; ")))
    }
}

/// Each backend's answers by case name, for the comparison of the two.
static ANSWERS: Mutex<BTreeMap<&'static str, BTreeMap<&'static str, String>>> = Mutex::new(BTreeMap::new());

async fn search_conformance_suite(f: &Fhir) {
    let started = Instant::now();
    let corpus = load(f).await;
    let loaded = started.elapsed();
    let cases = table(&corpus);
    let c = &corpus;
    let outcomes: Vec<(usize, Result<String, (String, String)>)> = futures::stream::iter(cases.iter().enumerate())
        .map(|(i, case)| async move {
            let t0 = Instant::now();
            let r = run_case(f, c, case).await;
            if std::env::var_os("SEARCH_SUITE_VERBOSE").is_some() {
                eprintln!("  {:>6} ms  {} ({})", t0.elapsed().as_millis(), case.name, f.backend);
            }
            (i, r)
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let mut outcomes = outcomes;
    outcomes.sort_by_key(|(i, _)| *i);

    // SEARCH_SUITE_VERBOSE=1 lists every case with the size of its expected answer.
    if std::env::var_os("SEARCH_SUITE_VERBOSE").is_some() && f.backend == "sqlite" {
        for case in &cases {
            let n = match &case.expect {
                Expect::Set(s) | Expect::Include { matches: s, .. } | Expect::Total { matches: s, .. } | Expect::Elements { matches: s, .. } => s.len(),
                Expect::Order(o) => o.len(),
                Expect::Count(n) => *n,
            };
            let inc = match &case.expect {
                Expect::Include { included, .. } => format!(" +{} included", included.len()),
                _ => String::new(),
            };
            eprintln!("  {:<10} {:<42} {n:>5}{inc}  {}", case.cat, case.name, case.query);
        }
    }
    let mut per_cat: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut answers = BTreeMap::new();
    for (i, outcome) in &outcomes {
        let case = &cases[*i];
        let entry = per_cat.entry(case.cat).or_default();
        entry.0 += 1;
        let known = KNOWN_SERVER_BUGS.iter().find(|(n, _)| *n == case.name);
        match (outcome, known) {
            (Ok(d), None) => {
                entry.1 += 1;
                answers.insert(case.name, d.clone());
            }
            (Ok(d), Some(_)) => {
                answers.insert(case.name, d.clone());
                failures.push(format!("{}: listed in KNOWN_SERVER_BUGS but passes now; remove it from the list", case.name));
            }
            (Err((d, _)), Some(_)) => {
                answers.insert(case.name, d.clone());
            }
            (Err((d, why)), None) => {
                answers.insert(case.name, d.clone());
                failures.push(format!("{} [{}] {}\n    {why}", case.name, case.cat, case.query));
            }
        }
    }
    for (n, _) in KNOWN_SERVER_BUGS {
        if !cases.iter().any(|c| c.name == *n) {
            failures.push(format!("KNOWN_SERVER_BUGS names {n}, which is no case"));
        }
    }
    let passed: usize = per_cat.values().map(|v| v.1).sum();
    let cats: Vec<String> = per_cat.iter().map(|(k, (n, ok))| format!("{k} {ok}/{n}")).collect();
    eprintln!(
        "search suite on {}: {} cases, {passed} match the expected ids, {} known server bugs ({}; loaded {} resources in {:.1}s, total {:.1}s)",
        f.backend,
        cases.len(),
        KNOWN_SERVER_BUGS.len(),
        cats.join(", "),
        corpus.res.len(),
        loaded.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );

    // The two backends must answer alike, known bugs included.
    let mut all = ANSWERS.lock().unwrap();
    all.insert(f.backend, answers);
    if let (Some(a), Some(b)) = (all.get("sqlite"), all.get("postgres")) {
        for (name, x) in a {
            if b.get(name) != Some(x) {
                failures.push(format!("{name}: SQLite and PostgreSQL answer differently\n    sqlite:   {x}\n    postgres: {:?}", b.get(name)));
            }
        }
    }
    drop(all);
    assert!(failures.is_empty(), "{} search case(s) failed on {}:\n{}", failures.len(), f.backend, failures.join("\n"));
}

both_backends!(search_conformance_suite);

// The predicate helpers check themselves, so a wrong expectation is not blamed on the server.
#[test]
fn helpers_follow_the_spec() {
    assert_eq!(fold("Álvarez-NÚÑEZ Zoë"), "alvarez-nunez zoe");
    assert_eq!(dt_range("2021").unwrap(), (days_from_civil(2021, 1, 1) * 86_400_000_000, days_from_civil(2022, 1, 1) * 86_400_000_000 - 1));
    let (lo, hi) = dt_range("2020-02").unwrap();
    assert_eq!(hi - lo + 1, 29 * 86_400_000_000);
    assert_eq!(dt_range("2015-02-07T13:28:17-05:00").unwrap().0, dt_range("2015-02-07T18:28:17Z").unwrap().0);
    assert_eq!(dt_range("2015-02-07T13:28:17.239+02:00").unwrap().1 - dt_range("2015-02-07T13:28:17.239+02:00").unwrap().0, 999);
    assert_eq!(instant(dt_range("1999-12-31T23:59:58.5Z").unwrap().0), "1999-12-31T23:59:58.500Z");
    assert_eq!(civil_from_days(days_from_civil(1969, 12, 31)), (1969, 12, 31));
    let d = dec("1.50");
    assert!((d.lo - 1.495).abs() < 1e-12 && (d.hi - 1.505).abs() < 1e-12);
    assert_eq!((dec("1e2").lo, dec("1e2").hi), (50.0, 150.0));
    let close = |a: f64, b: f64| (a / b - 1.0).abs() < 1e-9;
    let (f, dims) = ucum("mg/dL").unwrap();
    assert!(close(f, 10.0) && dims == [1, -3, 0, 0, 0]);
    assert!(close(ucum("mm[Hg]").unwrap().0, 133_322.0));
    assert!(close(ucum("10*3/uL").unwrap().0, 1e12)); // per m3
    assert_eq!(ucum("mL/min/{1.73_m2}").unwrap().1, [0, 3, -1, 0, 0]);
    assert_eq!(ucum("kg/m2").unwrap().1, [1, -2, 0, 0, 0]);
    assert_eq!(ucum("g/cm-2").unwrap().1, [1, 2, 0, 0, 0]);
    assert!(close(ucum("/min").unwrap().0, 1.0 / 60.0));
    assert_eq!(ucum("{score}"), Some((1.0, [0; 5])));
    assert!(close(ucum("U/L").unwrap().0, 1e-6 / 60.0 / 1e-3));
    assert_eq!(ucum("Cel"), None);
    assert!(tok_is(&Tok { system: None, code: Some("x"), ..Default::default() }, "|x"));
    assert!(!tok_is(&Tok { system: Some("s"), code: Some("x"), ..Default::default() }, "|x"));
    assert_eq!(local_ref("Patient/1/_history/2"), Some(("Patient", "1")));
    assert_eq!(local_ref("http://x.org/fhir/Patient/1"), None);
    assert_eq!(local_ref("#p1"), None);
}

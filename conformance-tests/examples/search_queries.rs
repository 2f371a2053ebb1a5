//! The search benchmark's query mix (bench/search.sh): 20 realistic queries over the Synthea data,
//! each with up to 5 concrete variants whose values come from the stored data.
//!
//! Usage:
//!   search_queries derive  <base-url> <out.tsv>         fetch the stored data, choose values, write `Qnn<TAB>/path?query` lines
//!   search_queries check   <base-url> <queries.tsv>     every URL must answer 200 with at least one match; prints result sizes
//!   search_queries measure <base-url> <queries.tsv> [seconds-per-query]
//!                                                       one connection, each query's variants round robin; p50/p99 per query
//!
//! `derive` should run on the original data (scale 1): the same file is then reused at scale 10,
//! so the two scales answer the same questions over more data.

use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

const LOINC: &str = "http://loinc.org";
const SNOMED: &str = "http://snomed.info/sct";
const UCUM: &str = "http://unitsofmeasure.org";
const MRN: &str = "http://hospital.smarthealthit.org";

/// What each query asks, in order; the id is `Q01`..`Q20`.
const TEMPLATES: [&str; 20] = [
    "Patient?name={family}",
    "Patient?family={family}&given={given}",
    "Patient?identifier=http://hospital.smarthealthit.org|{mrn}",
    "Patient?birthdate={birthDate}",
    "Patient?birthdate=ge{year}-01-01&gender={gender}",
    "Patient?address-city={city}",
    "Observation?code=http://loinc.org|{code}",
    "Observation?code=http://loinc.org|{code}&date=ge{date}",
    "Observation?patient=Patient/{id}",
    "Observation?subject=Patient/{id}&code=http://loinc.org|{code}",
    "Observation?value-quantity=gt{value}|http://unitsofmeasure.org|{unit}",
    "Observation?category=vital-signs&patient=Patient/{id}",
    "Observation?subject:Patient.name={family}",
    "Observation?code=http://loinc.org|{code}&_include=Observation:patient",
    "Patient?_id={id}&_revinclude=Observation:patient",
    "Encounter?patient=Patient/{id}&date=ge{date}",
    "Condition?code=http://snomed.info/sct|{code}",
    "MedicationRequest?patient=Patient/{id}&status=active",
    "Procedure?patient=Patient/{id}&date=ge{date}",
    "Patient?_has:Observation:patient:code=http://loinc.org|{code}",
];

fn enc(v: &str) -> String {
    let mut s = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:/,".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// `Type?k=v&k=v` with the values percent-encoded.
fn url(rt: &str, params: &[(&str, String)]) -> String {
    let q: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", enc(v))).collect();
    format!("{rt}?{}", q.join("&"))
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    let r = client.get(url).header("accept", "application/fhir+json").send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "GET {url}: HTTP {status}: {}", text.chars().take(500).collect::<String>());
    serde_json::from_str(&text).unwrap()
}

/// Every resource of a search, following `next` links.
async fn all(client: &reqwest::Client, base: &str, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next = Some(format!("{base}/{query}"));
    while let Some(u) = next {
        let b = get_json(client, &u).await;
        out.extend(b["entry"].as_array().into_iter().flatten().filter(|e| e["search"]["mode"] == "match").map(|e| e["resource"].clone()));
        next = b["link"].as_array().into_iter().flatten().find(|l| l["relation"] == "next").and_then(|l| l["url"].as_str()).map(str::to_string);
    }
    out
}

fn subject_id(r: &Value, field: &str) -> Option<String> {
    r[field]["reference"].as_str().and_then(|s| s.strip_prefix("Patient/")).map(str::to_string)
}

fn coding_code(cc: &Value, system: &str) -> Option<String> {
    cc["coding"].as_array()?.iter().find(|c| c["system"] == system).and_then(|c| c["code"].as_str()).map(str::to_string)
}

/// The items at the given quantiles of a sorted list (deduplicated, in order).
fn quantiles<T: Clone + PartialEq>(sorted: &[T], qs: &[f64]) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    if sorted.is_empty() {
        return out;
    }
    for q in qs {
        let i = ((sorted.len() - 1) as f64 * q).round() as usize;
        if !out.contains(&sorted[i]) {
            out.push(sorted[i].clone());
        }
    }
    out
}

const SPREAD: [f64; 5] = [0.1, 0.3, 0.5, 0.7, 0.9];

/// Codes by descending frequency (ties by code).
fn by_frequency(counts: &HashMap<String, usize>) -> Vec<String> {
    let mut v: Vec<(&String, &usize)> = counts.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.into_iter().map(|(k, _)| k.clone()).collect()
}

fn date_of(r: &Value, fields: &[&str]) -> Option<String> {
    fields.iter().find_map(|f| r.pointer(f).and_then(Value::as_str)).map(|s| s[..10.min(s.len())].to_string())
}

async fn derive(base: &str, out: &str) {
    let client = reqwest::Client::new();
    let patients = all(&client, base, "Patient?_count=1000").await;
    let obs = all(&client, base, "Observation?_count=1000").await;
    let conds = all(&client, base, "Condition?_count=1000").await;
    let meds = all(&client, base, "MedicationRequest?_count=1000").await;
    let encs = all(&client, base, "Encounter?_count=1000").await;
    let procs = all(&client, base, "Procedure?_count=1000").await;
    eprintln!(
        "stored: {} Patient, {} Observation, {} Condition, {} MedicationRequest, {} Encounter, {} Procedure",
        patients.len(),
        obs.len(),
        conds.len(),
        meds.len(),
        encs.len(),
        procs.len()
    );

    // Patients spread over how many Observations they have.
    let mut obs_per: HashMap<String, usize> = HashMap::new();
    for o in &obs {
        if let Some(p) = subject_id(o, "subject") {
            *obs_per.entry(p).or_default() += 1;
        }
    }
    let pat: HashMap<String, &Value> = patients.iter().map(|p| (p["id"].as_str().unwrap().to_string(), p)).collect();
    let official = |p: &Value| -> Value { p["name"].as_array().and_then(|n| n.iter().find(|n| n["use"] == "official").or(n.first())).cloned().unwrap_or(Value::Null) };
    // Ids are assigned by the server, so ties are broken by name and birth date: the same data gives the same choice.
    let stable = |id: &str| -> String {
        let p = pat[id];
        let n = official(p);
        format!("{} {} {}", n["family"].as_str().unwrap_or_default(), n["given"][0].as_str().unwrap_or_default(), p["birthDate"].as_str().unwrap_or_default())
    };
    let mut ranked: Vec<(usize, String, String)> =
        patients.iter().map(|p| p["id"].as_str().unwrap().to_string()).map(|id| (obs_per.get(&id).copied().unwrap_or(0), stable(&id), id)).collect();
    ranked.sort();
    let ranked: Vec<String> = ranked.into_iter().map(|x| x.2).collect();
    let chosen = quantiles(&ranked, &SPREAD);
    let family = |id: &str| official(pat[id])["family"].as_str().unwrap_or_default().to_string();

    let mut q: Vec<Vec<String>> = vec![Vec::new(); 20];
    for id in &chosen {
        let p = pat[id.as_str()];
        let name = official(p);
        let fam = family(id);
        q[0].push(url("Patient", &[("name", fam.clone())]));
        q[1].push(url("Patient", &[("family", fam.clone()), ("given", name["given"][0].as_str().unwrap_or_default().to_string())]));
        if let Some(mrn) = p["identifier"].as_array().into_iter().flatten().find(|i| i["system"] == MRN).and_then(|i| i["value"].as_str()) {
            q[2].push(url("Patient", &[("identifier", format!("{MRN}|{mrn}"))]));
        }
        q[3].push(url("Patient", &[("birthdate", p["birthDate"].as_str().unwrap_or_default().to_string())]));
        if let Some(city) = p["address"][0]["city"].as_str() {
            q[5].push(url("Patient", &[("address-city", city.to_string())]));
        }
        q[8].push(url("Observation", &[("patient", format!("Patient/{id}"))]));
        let mut codes: HashMap<String, usize> = HashMap::new();
        for o in obs.iter().filter(|o| subject_id(o, "subject").as_deref() == Some(id.as_str())) {
            if let Some(c) = coding_code(&o["code"], LOINC) {
                *codes.entry(c).or_default() += 1;
            }
        }
        if let Some(c) = by_frequency(&codes).first() {
            q[9].push(url("Observation", &[("subject", format!("Patient/{id}")), ("code", format!("{LOINC}|{c}"))]));
        }
        q[11].push(url("Observation", &[("category", "vital-signs".into()), ("patient", format!("Patient/{id}"))]));
        q[12].push(url("Observation", &[("subject:Patient.name", fam.clone())]));
        q[14].push(url("Patient", &[("_id", id.clone()), ("_revinclude", "Observation:patient".into())]));
        let mut dates: Vec<String> = encs.iter().filter(|e| subject_id(e, "subject").as_deref() == Some(id.as_str())).filter_map(|e| date_of(e, &["/period/start"])).collect();
        dates.sort();
        if let Some(d) = quantiles(&dates, &[0.5]).first() {
            q[15].push(url("Encounter", &[("patient", format!("Patient/{id}")), ("date", format!("ge{d}"))]));
        }
        let mut dates: Vec<String> = procs
            .iter()
            .filter(|e| subject_id(e, "subject").as_deref() == Some(id.as_str()))
            .filter_map(|e| date_of(e, &["/performedDateTime", "/performedPeriod/start"]))
            .collect();
        dates.sort();
        if let Some(d) = quantiles(&dates, &[0.5]).first() {
            q[18].push(url("Procedure", &[("patient", format!("Patient/{id}")), ("date", format!("ge{d}"))]));
        }
    }
    // Birth years and genders over all patients.
    let mut years: Vec<String> = patients.iter().filter_map(|p| p["birthDate"].as_str()).map(|d| d[..4].to_string()).collect();
    years.sort();
    for (i, y) in quantiles(&years, &SPREAD).into_iter().enumerate() {
        q[4].push(url("Patient", &[("birthdate", format!("ge{y}-01-01")), ("gender", (if i % 2 == 0 { "female" } else { "male" }).into())]));
    }
    // Observation codes by frequency.
    let mut code_n: HashMap<String, usize> = HashMap::new();
    let mut code_dates: HashMap<String, Vec<String>> = HashMap::new();
    let mut code_patients: HashMap<String, std::collections::HashSet<String>> = HashMap::new();
    let mut unit_values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for o in &obs {
        if let Some(c) = coding_code(&o["code"], LOINC) {
            *code_n.entry(c.clone()).or_default() += 1;
            if let Some(d) = date_of(o, &["/effectiveDateTime", "/effectivePeriod/start"]) {
                code_dates.entry(c.clone()).or_default().push(d);
            }
            if let Some(p) = subject_id(o, "subject") {
                code_patients.entry(c).or_default().insert(p);
            }
        }
        let vq = &o["valueQuantity"];
        if vq["system"] == UCUM {
            if let (Some(u), Some(v)) = (vq["code"].as_str(), vq["value"].as_f64().or_else(|| vq["value"].to_string().parse().ok())) {
                unit_values.entry(u.to_string()).or_default().push(v);
            }
        }
    }
    let codes = by_frequency(&code_n);
    for c in codes.iter().step_by(2).take(5) {
        q[6].push(url("Observation", &[("code", format!("{LOINC}|{c}"))]));
    }
    for c in codes.iter().skip(1).step_by(2).take(5) {
        let mut ds = code_dates.get(c).cloned().unwrap_or_default();
        ds.sort();
        if let Some(d) = quantiles(&ds, &[0.75]).first() {
            q[7].push(url("Observation", &[("code", format!("{LOINC}|{c}")), ("date", format!("ge{d}"))]));
        }
    }
    for c in codes.iter().skip(10).take(5) {
        q[13].push(url("Observation", &[("code", format!("{LOINC}|{c}")), ("_include", "Observation:patient".into())]));
    }
    // Codes spread over how many patients have them.
    let mut by_patients: Vec<(usize, String)> = code_patients.iter().map(|(c, ps)| (ps.len(), c.clone())).collect();
    by_patients.sort();
    let by_patients: Vec<String> = by_patients.into_iter().map(|x| x.1).collect();
    for c in quantiles(&by_patients, &SPREAD) {
        q[19].push(url("Patient", &[("_has:Observation:patient:code", format!("{LOINC}|{c}"))]));
    }
    // The most common units, above their 90th percentile.
    let mut units: Vec<(usize, String)> = unit_values.iter().map(|(u, v)| (v.len(), u.clone())).collect();
    units.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, u) in units.iter().take(5) {
        let mut vs = unit_values[u].clone();
        vs.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let v = vs[((vs.len() - 1) as f64 * 0.9) as usize];
        let v = (v * 100.0).floor() / 100.0;
        q[10].push(url("Observation", &[("value-quantity", format!("gt{v}|{UCUM}|{u}"))]));
    }
    // Conditions by frequency.
    let mut cn: HashMap<String, usize> = HashMap::new();
    for c in &conds {
        if let Some(code) = coding_code(&c["code"], SNOMED) {
            *cn.entry(code).or_default() += 1;
        }
    }
    for c in by_frequency(&cn).iter().step_by(2).take(5) {
        q[16].push(url("Condition", &[("code", format!("{SNOMED}|{c}"))]));
    }
    // Patients with active prescriptions, spread over how many they have.
    let mut active: HashMap<String, usize> = HashMap::new();
    for m in meds.iter().filter(|m| m["status"] == "active") {
        if let Some(p) = subject_id(m, "subject") {
            *active.entry(p).or_default() += 1;
        }
    }
    let mut act: Vec<(usize, String, String)> = active.into_iter().map(|(p, n)| (n, stable(&p), p)).collect();
    act.sort();
    let act: Vec<String> = act.into_iter().map(|x| x.2).collect();
    for p in quantiles(&act, &SPREAD) {
        q[17].push(url("MedicationRequest", &[("patient", format!("Patient/{p}")), ("status", "active".into())]));
    }

    let path = reqwest::Url::parse(base).unwrap().path().trim_end_matches('/').to_string();
    let mut text = String::new();
    for (i, variants) in q.iter().enumerate() {
        assert!(!variants.is_empty(), "no values found for Q{:02} {}", i + 1, TEMPLATES[i]);
        for v in variants {
            text.push_str(&format!("Q{:02}\t{path}/{v}\n", i + 1));
        }
    }
    std::fs::write(out, text).unwrap();
    eprintln!("wrote {} URLs for 20 queries to {out}", q.iter().map(Vec::len).sum::<usize>());
}

fn read_queries(file: &str) -> Vec<(String, String)> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (id, p) = l.split_once('\t').expect("id<TAB>path");
            (id.to_string(), p.to_string())
        })
        .collect()
}

fn origin(base: &str) -> String {
    let u = reqwest::Url::parse(base).unwrap();
    u.origin().ascii_serialization()
}

/// (status, matches, included, bytes).
async fn run_one(client: &reqwest::Client, url: &str) -> (u16, usize, usize, usize) {
    let r = client.get(url).header("accept", "application/fhir+json").send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    if status != 200 {
        eprintln!("GET {url}: HTTP {status}: {}", text.chars().take(300).collect::<String>());
        return (status, 0, 0, text.len());
    }
    let b: Value = serde_json::from_str(&text).unwrap();
    let entries = b["entry"].as_array().cloned().unwrap_or_default();
    let m = entries.iter().filter(|e| e["search"]["mode"] == "match").count();
    let inc = entries.iter().filter(|e| e["search"]["mode"] == "include").count();
    (status, m, inc, text.len())
}

async fn check(base: &str, file: &str) {
    let client = reqwest::Client::new();
    let o = origin(base);
    let qs = read_queries(file);
    let mut bad = 0;
    let mut per: BTreeMap<String, Vec<(usize, usize, usize)>> = BTreeMap::new();
    for (id, p) in &qs {
        let (s, m, inc, bytes) = run_one(&client, &format!("{o}{p}")).await;
        if s != 200 || m == 0 {
            eprintln!("{id} {p}: HTTP {s}, {m} matches");
            bad += 1;
        }
        per.entry(id.clone()).or_default().push((m, inc, bytes));
    }
    println!("| query | variants | matches per page (min–max) | included | KiB per response (avg) |");
    println!("|---|---|---|---|---|");
    for (id, v) in &per {
        let mn = v.iter().map(|x| x.0).min().unwrap();
        let mx = v.iter().map(|x| x.0).max().unwrap();
        let inc: usize = v.iter().map(|x| x.1).sum::<usize>() / v.len();
        let kib = v.iter().map(|x| x.2).sum::<usize>() as f64 / v.len() as f64 / 1024.0;
        println!("| {id} | {} | {mn}–{mx} | {inc} | {kib:.1} |", v.len());
    }
    println!("{} URLs, {bad} not 200 or empty", qs.len());
    if bad > 0 {
        std::process::exit(1);
    }
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

async fn measure(base: &str, file: &str, secs: f64) {
    let client = reqwest::Client::new();
    let o = origin(base);
    let qs = read_queries(file);
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (id, p) in &qs {
        groups.entry(id.clone()).or_default().push(format!("{o}{p}"));
    }
    println!("| query | requests | p50 ms | p99 ms | mean ms | slowest variant (mean ms) |");
    println!("|---|---|---|---|---|---|");
    for (id, urls) in &groups {
        let mut lat = Vec::new();
        let mut per_url = vec![Duration::ZERO; urls.len()];
        let start = Instant::now();
        let mut i = 0;
        while start.elapsed().as_secs_f64() < secs || lat.len() < 2 * urls.len() {
            let k = i % urls.len();
            i += 1;
            let t = Instant::now();
            let r = client.get(&urls[k]).header("accept", "application/fhir+json").send().await.unwrap();
            let ok = r.status().as_u16() == 200;
            let _ = r.bytes().await.unwrap();
            assert!(ok, "{}: not 200", urls[k]);
            let d = t.elapsed();
            per_url[k] += d;
            lat.push(d);
        }
        let rounds = (lat.len() / urls.len()).max(1) as f64;
        let mean = lat.iter().map(Duration::as_secs_f64).sum::<f64>() / lat.len() as f64 * 1000.0;
        lat.sort();
        let (slow, worst) = per_url.iter().enumerate().max_by_key(|(_, d)| **d).unwrap();
        let ex = urls[slow].strip_prefix(&o).unwrap_or(&urls[slow]);
        println!("| {id} | {} | {:.2} | {:.2} | {mean:.2} | `{ex}` ({:.2}) |", lat.len(), pct(&lat, 0.5), pct(&lat, 0.99), worst.as_secs_f64() * 1000.0 / rounds);
    }
}

#[tokio::main]
async fn main() {
    let a: Vec<String> = std::env::args().collect();
    match (a.get(1).map(String::as_str), a.get(2), a.get(3)) {
        (Some("derive"), Some(b), Some(f)) => derive(b.trim_end_matches('/'), f).await,
        (Some("check"), Some(b), Some(f)) => check(b, f).await,
        (Some("measure"), Some(b), Some(f)) => measure(b, f, a.get(4).and_then(|s| s.parse().ok()).unwrap_or(2.0)).await,
        _ => {
            eprintln!("usage: search_queries derive|check|measure <base-url> <queries.tsv> [seconds-per-query]");
            std::process::exit(2);
        }
    }
}

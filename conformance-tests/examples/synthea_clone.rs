//! Grows the Synthea data: posts every transaction Bundle in a folder again, as distinct but realistic
//! copies, so search can be measured at N times the data.
//!
//! Usage: synthea_clone <base-url> <folder> <copies> [concurrency] [first-copy]
//!
//! Copy k (k = first-copy .. first-copy + copies - 1, first-copy defaults to 1; copy 0 would be the
//! original, which `ingest` posts) of each Bundle is the Bundle with:
//! - every UUID anywhere in it (fullUrl `urn:uuid:`, references, resource ids, the Synthea and
//!   medical-record-number identifiers, ExplanationOfBenefit identifiers) replaced by a fresh one,
//!   the same fresh one wherever the same UUID occurs, so every reference still resolves;
//! - every date, dateTime and instant (`YYYY-MM-DD...`) moved back by the same number of days
//!   (1 to 3,650, per copy and Bundle), so ages and the order of events are kept;
//! - the Patient's family names taken from a list of common US surnames, and the digits of its
//!   other identifiers (SSN, driver's license, passport) and phone numbers redrawn.
//! Everything is derived from a seed of (copy, file), so runs are reproducible. The Synthea Bundles
//! only hold `POST Type` entries with `urn:uuid:` fullUrls (no conditional creates, no absolute
//! ids): the program checks this and stops otherwise.

use futures::StreamExt;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

const SURNAMES: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez",
    "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
    "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres",
    "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales",
    "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed", "Kelly", "Howard", "Ramos",
    "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz",
    "Hughes", "Price", "Alvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez", "Powell", "Jenkins",
    "Perry", "Russell", "Sullivan", "Bell", "Coleman", "Butler", "Henderson", "Barnes", "Gonzales", "Fisher", "Vasquez", "Simmons",
    "Romero", "Jordan", "Patterson", "Alexander", "Hamilton", "Graham", "Reynolds", "Griffin", "Wallace", "Moreno", "West", "Cole",
    "Hayes", "Bryant", "Herrera", "Gibson", "Ellis", "Tran", "Medina", "Aguilar", "Stevens", "Murray", "Ford", "Castro", "Marshall",
    "Owens", "Harrison", "Fernandez", "McDonald", "Woods", "Washington", "Kennedy", "Wells", "Vargas", "Henry", "Chen", "Freeman",
    "Webb", "Tucker", "Guzman", "Burns", "Crawford", "Olson", "Simpson", "Porter", "Hunter", "Gordon", "Mendez", "Silva", "Shaw",
    "Snyder", "Mason", "Dixon", "Munoz", "Hunt", "Hicks", "Holmes", "Palmer", "Wagner", "Black", "Robertson", "Boyd", "Rose",
    "Stone", "Salazar", "Fox", "Warren", "Mills", "Meyer", "Rice", "Schmidt", "Garza", "Daniels", "Ferguson", "Nichols", "Stephens",
    "Soto", "Weaver", "Ryan", "Gardner", "Payne", "Grant", "Dunn", "Kelley", "Spencer", "Hawkins", "Arnold", "Pierce", "Vazquez",
];

/// splitmix64: small, seedable, good enough for test data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn uuid(&mut self) -> String {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next().to_le_bytes());
        b[8..].copy_from_slice(&self.next().to_le_bytes());
        uuid::Builder::from_random_bytes(b).into_uuid().to_string()
    }
}

fn is_uuid_at(s: &[u8], i: usize) -> bool {
    if i + 36 > s.len() {
        return false;
    }
    (0..36).all(|k| match k {
        8 | 13 | 18 | 23 => s[i + k] == b'-',
        _ => s[i + k].is_ascii_hexdigit(),
    })
}

/// `YYYY-MM-DD` or `YYYY-MM-DDT...` moved by `shift` days; anything else unchanged.
fn shift_date(s: &str, shift: i64) -> Option<String> {
    let b = s.as_bytes();
    let shaped = b.len() >= 10 && (b.len() == 10 || b[10] == b'T') && b[4] == b'-' && b[7] == b'-' && [0, 1, 2, 3, 5, 6, 8, 9].iter().all(|&i| b[i].is_ascii_digit());
    if !shaped {
        return None;
    }
    let (y, m, d): (i64, i64, i64) = (s[0..4].parse().ok()?, s[5..7].parse().ok()?, s[8..10].parse().ok()?);
    let (y, m, d) = conformance_tests::calendar::civil_from_days(conformance_tests::calendar::days_from_civil(y, m, d) + shift);
    Some(format!("{y:04}-{m:02}-{d:02}{}", &s[10..]))
}

/// One copy of a Bundle.
struct Cloner {
    rng: Rng,
    uuids: HashMap<String, String>,
    shift: i64,
}

impl Cloner {
    fn string(&mut self, s: &str) -> Option<String> {
        let b = s.as_bytes();
        let mut out: Option<String> = None;
        let mut last = 0;
        let mut i = 0;
        while i + 36 <= b.len() {
            if is_uuid_at(b, i) && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) && (i + 36 == b.len() || !b[i + 36].is_ascii_alphanumeric()) {
                let old = s[i..i + 36].to_ascii_lowercase();
                let rng = &mut self.rng;
                let new = self.uuids.entry(old).or_insert_with(|| rng.uuid()).clone();
                let o = out.get_or_insert_with(String::new);
                o.push_str(&s[last..i]);
                o.push_str(&new);
                i += 36;
                last = i;
            } else {
                i += 1;
            }
        }
        if let Some(mut o) = out {
            o.push_str(&s[last..]);
            return Some(o);
        }
        shift_date(s, self.shift)
    }

    fn walk(&mut self, v: &mut Value) {
        match v {
            Value::String(s) => {
                if let Some(n) = self.string(s) {
                    *s = n;
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.walk(x)),
            Value::Object(o) => o.values_mut().for_each(|x| self.walk(x)),
            _ => {}
        }
    }

    /// Redraws digits after the first `keep` characters.
    fn redraw_digits(&mut self, s: &str, keep: usize) -> String {
        s.chars().enumerate().map(|(i, c)| if i >= keep && c.is_ascii_digit() { char::from(b'0' + self.rng.below(10) as u8) } else { c }).collect()
    }

    fn patient(&mut self, p: &mut Value) {
        let mut renamed = Vec::new();
        for name in p["name"].as_array_mut().into_iter().flatten() {
            if let Some(f) = name["family"].as_str() {
                let new = SURNAMES[self.rng.below(SURNAMES.len() as u64) as usize].to_string();
                renamed.push((f.to_string(), new.clone()));
                name["family"] = Value::String(new);
            }
        }
        for ident in p["identifier"].as_array_mut().into_iter().flatten() {
            if let Some(v) = ident["value"].as_str() {
                // UUID-valued identifiers were already replaced by the walk.
                if !is_uuid_at(v.as_bytes(), 0) {
                    let nv = self.redraw_digits(v, 4);
                    ident["value"] = Value::String(nv);
                }
            }
        }
        for t in p["telecom"].as_array_mut().into_iter().flatten() {
            if let Some(v) = t["value"].as_str() {
                let nv = self.redraw_digits(v, 4);
                t["value"] = Value::String(nv);
            }
        }
        if let Some(div) = p.pointer_mut("/text/div") {
            if let Some(d) = div.as_str() {
                let mut d = d.to_string();
                for (old, new) in &renamed {
                    d = d.replace(old.as_str(), new);
                }
                *div = Value::String(d);
            }
        }
    }
}

/// The Bundle text of copy `copy` of `bundle` (file number `file`).
fn clone_bundle(bundle: &Value, copy: u64, file: u64) -> String {
    let mut rng = Rng(0x5EED_0000_0000_0000 ^ (copy << 20) ^ file);
    let shift = -(1 + rng.below(3650) as i64);
    let mut c = Cloner { rng, uuids: HashMap::new(), shift };
    let mut b = bundle.clone();
    c.walk(&mut b);
    for e in b["entry"].as_array_mut().into_iter().flatten() {
        if e["resource"]["resourceType"] == "Patient" {
            c.patient(&mut e["resource"]);
        }
    }
    b.to_string()
}

/// Stops unless every entry is a plain `POST Type` with a `urn:uuid:` fullUrl.
fn check(path: &std::path::Path, b: &Value) {
    assert_eq!(b["type"], "transaction", "{}: not a transaction Bundle", path.display());
    for (i, e) in b["entry"].as_array().into_iter().flatten().enumerate() {
        let req = &e["request"];
        let rt = e["resource"]["resourceType"].as_str().unwrap_or_default();
        let plain = req["method"] == "POST"
            && req["url"] == rt
            && req.as_object().is_some_and(|o| o.keys().all(|k| k == "method" || k == "url"))
            && e["fullUrl"].as_str().is_some_and(|u| u.starts_with("urn:uuid:"));
        if !plain {
            panic!("{} entry {i}: only `POST Type` entries with urn:uuid fullUrls are cloned (conditional creates and absolute ids are not handled): {req}", path.display());
        }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: synthea_clone <base-url> <folder> <copies> [concurrency] [first-copy]");
        std::process::exit(2);
    }
    let base = args[1].trim_end_matches('/').to_string();
    let dir = &args[2];
    let copies: u64 = args[3].parse().expect("copies");
    let concurrency: usize = args.get(4).and_then(|c| c.parse().ok()).unwrap_or(2);
    let first: u64 = args.get(5).and_then(|c| c.parse().ok()).unwrap_or(1);
    let paths = conformance_tests::json_files(std::path::Path::new(dir));
    let mut bundles = Vec::new();
    let mut per_round = 0usize;
    for p in &paths {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        check(p, &v);
        per_round += v["entry"].as_array().map_or(0, Vec::len);
        bundles.push(Arc::new(v));
    }
    let per_copy = bundles.len();
    let total_bundles = per_copy * copies as usize;
    let total_resources = per_round * copies as usize;
    eprintln!("posting copies {first}..{} of {} bundles: {total_bundles} bundles, {total_resources} resources, {concurrency} in flight", first + copies - 1, bundles.len());
    let client = reqwest::Client::new();
    let start = Instant::now();
    let done = Arc::new(AtomicUsize::new(0));
    let done_res = Arc::new(AtomicUsize::new(0));
    let jobs: Vec<(u64, u64, Arc<Value>)> = (first..first + copies).flat_map(|c| bundles.iter().enumerate().map(move |(f, b)| (c, f as u64, b.clone()))).collect();
    let failures: Vec<String> = futures::stream::iter(jobs)
        .map(|(copy, file, b)| {
            let client = client.clone();
            let base = base.clone();
            let (done, done_res) = (done.clone(), done_res.clone());
            async move {
                let n = b["entry"].as_array().map_or(0, Vec::len);
                let body = tokio::task::spawn_blocking(move || clone_bundle(&b, copy, file)).await.unwrap();
                let r = client.post(&base).header("content-type", "application/fhir+json").body(body).send().await;
                let fail = match r {
                    Ok(r) if r.status().is_success() => None,
                    Ok(r) => {
                        let s = r.status();
                        Some(format!("copy {copy} file {file}: HTTP {s}: {}", r.text().await.unwrap_or_default().chars().take(400).collect::<String>()))
                    }
                    Err(e) => Some(format!("copy {copy} file {file}: {e}")),
                };
                let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                let dr = done_res.fetch_add(n, Ordering::Relaxed) + n;
                if d % per_copy == 0 || d == total_bundles {
                    let secs = start.elapsed().as_secs_f64();
                    eprintln!("  {d}/{total_bundles} bundles, {dr} resources, {secs:.0}s, {:.0} resources/s", dr as f64 / secs);
                }
                fail
            }
        })
        .buffer_unordered(concurrency)
        .filter_map(|f| async move { f })
        .collect()
        .await;
    let secs = start.elapsed().as_secs_f64();
    for f in &failures {
        eprintln!("{f}");
    }
    println!(
        "{total_bundles} cloned bundles, {total_resources} resources in {secs:.2}s: {:.0} resources/s ({} failed bundles, concurrency {concurrency})",
        total_resources as f64 / secs,
        failures.len()
    );
    if !failures.is_empty() {
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn dates() {
        assert_eq!(shift_date("2020-03-01", -1).unwrap(), "2020-02-29");
        assert_eq!(shift_date("2019-01-01T10:00:00-05:00", -365).unwrap(), "2018-01-01T10:00:00-05:00");
        assert!(shift_date("2028-9", 3).is_none());
    }
}

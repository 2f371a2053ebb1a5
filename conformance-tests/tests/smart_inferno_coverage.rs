//! Issue 5 acceptance: the server-side checks of the Inferno SMART App Launch STU2/STU2.2 suites,
//! driven by the requirement tables of `shared/corpora/smart/smart-app-launch-test-kit`.
//!
//! Every row of those tables that is a server SHALL (Conformance `SHALL`, Actors `Server`) and
//! names Inferno tests (a non-empty `… ID(s)` column) must have a row in
//! `conformance-tests/smart/inferno-coverage.csv`, with the same Inferno ids, that either names
//! the tests reproducing the check (`tests/<file>.rs::<function>`, each an existing function that
//! the file runs as a test) or says why the check does not apply. The mapping may hold nothing
//! else. Reading a requirement and the Inferno test it names, and writing the test that asserts
//! it, is the work; this test keeps the mapping and the corpus from drifting apart.

use conformance_tests::corpora;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// RFC 4180: fields separated by commas, quoted with `"` (doubled inside), records by newlines
/// (CRLF or LF), newlines allowed inside quotes. A leading byte-order mark is dropped.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(!quoted, "unterminated quoted field");
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

/// A CSV file as its header and one map per record (column name to value).
fn table(path: &Path) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut records = parse_csv(&text).into_iter();
    let header = records.next().unwrap_or_else(|| panic!("{}: empty", path.display()));
    let rows = records
        .enumerate()
        .map(|(i, r)| {
            assert_eq!(r.len(), header.len(), "{}: record {} has {} fields, the header {}", path.display(), i + 2, r.len(), header.len());
            header.iter().cloned().zip(r).collect()
        })
        .collect();
    (header, rows)
}

/// A comma-separated id list as a set.
fn id_set(s: &str) -> BTreeSet<String> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty()).map(str::to_string).collect()
}

/// One requirement the mapping must account for.
#[derive(Debug)]
struct Required {
    file: String,
    short: BTreeSet<String>,
    full: BTreeSet<String>,
}

fn corpus_dir() -> PathBuf {
    corpora().join("smart/smart-app-launch-test-kit")
}

/// The server SHALL rows with Inferno test ids of every requirement table, by `Req Set@ID`.
fn required() -> BTreeMap<String, Required> {
    let mut out = BTreeMap::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "csv")).collect();
    files.sort();
    let names: Vec<String> = files.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    // The STU2.2 coverage table (server suite), the client suite's, and the STU2 requirement list.
    for expected in ["smart_stu2_2_requirements_coverage.csv", "smart_client_stu2_2_requirements_coverage.csv", "smart_app_launch_test_kit_requirements.csv"] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {}", corpus_dir().display());
    }
    for path in &files {
        let (header, rows) = table(path);
        let short_col = header.iter().find(|h| h.contains("Short ID(s)"));
        let full_col = header.iter().find(|h| h.contains("Full ID(s)"));
        let (Some(short_col), Some(full_col)) = (short_col, full_col) else {
            // The STU2 requirement list names no Inferno test: nothing to cover from it. Any other
            // column naming tests would have to be read here.
            assert!(!header.iter().any(|h| h.contains("ID(s)") || h.to_lowercase().contains("test id")), "{}: a test id column this check does not read: {header:?}", path.display());
            continue;
        };
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        for r in rows {
            let short = id_set(&r[short_col]);
            let server = r["Actors"].split(',').any(|a| a.trim() == "Server");
            if r["Conformance"] != "SHALL" || !server || short.is_empty() {
                continue;
            }
            let key = format!("{}@{}", r["Req Set"], r["ID"]);
            let req = Required { file: file.clone(), short, full: id_set(&r[full_col]) };
            assert!(out.insert(key.clone(), req).is_none(), "{key} appears twice");
        }
    }
    out
}

/// Test functions a test file runs: listed in a `both_backends!`/`each_backend!` invocation, or
/// carrying a test attribute.
fn run_functions(source: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for mac in ["both_backends!(", "each_backend!("] {
        let mut rest = source;
        while let Some(at) = rest.find(mac) {
            let body = &rest[at + mac.len()..];
            let end = body.find(')').unwrap_or(body.len());
            out.extend(body[..end].split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string));
            rest = &body[end..];
        }
    }
    let lines: Vec<&str> = source.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if let Some(name) = t.strip_prefix("async fn ").or_else(|| t.strip_prefix("fn ")) {
            let above = lines[..i].iter().map(|l| l.trim_start()).rev().take_while(|l| l.starts_with("#[") || l.starts_with("///"));
            let attributed = above.filter(|l| l.starts_with("#[")).any(|l| l.contains("test"));
            if attributed {
                out.insert(name.split(['(', '<']).next().unwrap().to_string());
            }
        }
    }
    out
}

/// Whether `source` defines a function `name`.
fn defines(source: &str, name: &str) -> bool {
    source.lines().map(str::trim_start).any(|l| {
        let l = l.strip_prefix("pub ").unwrap_or(l);
        let l = l.strip_prefix("async ").unwrap_or(l);
        l.strip_prefix("fn ").and_then(|r| r.strip_prefix(name)).is_some_and(|r| r.starts_with('(') || r.starts_with('<'))
    })
}

#[test]
fn every_inferno_server_check_is_covered_or_does_not_apply() {
    let required = required();
    // 53 rows of the STU2.2 table at the time of writing; fewer would mean the corpus was misread.
    let stu2_2 = required.values().filter(|r| r.file == "smart_stu2_2_requirements_coverage.csv").count();
    assert!(stu2_2 >= 53, "only {stu2_2} server SHALL rows with Inferno ids read from the STU2.2 table");

    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (header, rows) = table(&crate_dir.join("smart/inferno-coverage.csv"));
    assert_eq!(header, ["requirement", "inferno_short_ids", "inferno_full_ids", "status", "covered_by", "notes"]);
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    let mut sources: BTreeMap<String, Option<String>> = BTreeMap::new();
    let (mut covered, mut not_applicable) = (0, 0);
    for r in &rows {
        let key = &r["requirement"];
        if !seen.insert(key.clone()) {
            problems.push(format!("{key}: listed twice"));
            continue;
        }
        let Some(req) = required.get(key) else {
            problems.push(format!("{key}: not a server SHALL row with Inferno ids in the corpus"));
            continue;
        };
        if id_set(&r["inferno_short_ids"]) != req.short || id_set(&r["inferno_full_ids"]) != req.full {
            problems.push(format!("{key}: Inferno ids differ from {} (short {:?}, full {:?})", req.file, req.short, req.full));
        }
        let tests: Vec<&str> = r["covered_by"].split(';').map(str::trim).filter(|s| !s.is_empty()).collect();
        match r["status"].as_str() {
            "covered" => {
                covered += 1;
                if tests.is_empty() {
                    problems.push(format!("{key}: covered by no test"));
                }
                if r["notes"].trim().is_empty() {
                    problems.push(format!("{key}: say what the tests assert"));
                }
                for t in tests {
                    let Some((file, function)) = t.split_once("::") else {
                        problems.push(format!("{key}: '{t}' is not file::function"));
                        continue;
                    };
                    let source = sources.entry(file.to_string()).or_insert_with(|| std::fs::read_to_string(crate_dir.join(file)).ok());
                    match source {
                        None => problems.push(format!("{key}: {file} does not exist")),
                        Some(src) if !defines(src, function) => problems.push(format!("{key}: {file} has no fn {function}")),
                        Some(src) if !run_functions(src).contains(function) => problems.push(format!("{key}: {file} never runs {function} as a test")),
                        Some(_) => {}
                    }
                }
            }
            "not-applicable" => {
                not_applicable += 1;
                if r["notes"].trim().len() < 20 {
                    problems.push(format!("{key}: does not apply, but the reason is missing: '{}'", r["notes"]));
                }
                if !tests.is_empty() {
                    problems.push(format!("{key}: either covered or not applicable"));
                }
            }
            other => problems.push(format!("{key}: status '{other}' is neither covered nor not-applicable")),
        }
    }
    for (key, req) in &required {
        if !seen.contains(key) {
            problems.push(format!("{key} ({}, Inferno {:?}): missing from smart/inferno-coverage.csv", req.file, req.short));
        }
    }
    assert!(problems.is_empty(), "smart/inferno-coverage.csv:\n{}", problems.join("\n"));
    assert_eq!(covered + not_applicable, required.len());
    eprintln!("{} Inferno server checks: {covered} covered, {not_applicable} not applicable", required.len());
}

/// The checks above can fail: the parser reads quotes and newlines, a function must be run.
#[test]
fn the_coverage_checks_can_fail() {
    let rows = parse_csv("\u{feff}a,b\r\n\"x, \"\"y\"\"\nz\",2\n");
    assert_eq!(rows, [vec!["a".to_string(), "b".into()], vec!["x, \"y\"\nz".into(), "2".into()]]);
    let src = "async fn listed(s: &S) {}\n/// Not a test itself.\nasync fn orphan(s: &S) {}\n#[tokio::test]\n/// A test.\nasync fn attributed() {}\nboth_backends!(\n    listed,\n);\n";
    assert!(defines(src, "listed") && defines(src, "orphan") && !defines(src, "list"));
    let run = run_functions(src);
    assert!(run.contains("listed") && run.contains("attributed") && !run.contains("orphan"), "{run:?}");
    // The real test file: a known case is run, a helper is not.
    let smart = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smart_auth.rs")).unwrap();
    let run = run_functions(&smart);
    assert!(run.contains("smart_token_introspection_active_then_revoked") && !run.contains("smart_token_response_body_stu2_2"));
    assert!(defines(&smart, "smart_token_response_body_stu2_2"));
}

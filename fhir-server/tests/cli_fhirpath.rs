//! `fhir-server fhirpath <expression> <resource>`: the command-line FHIRPath evaluator.

use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

fn run(args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fhir-server"))
        .args(args)
        .env("RUST_LOG", "off")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run fhir-server");
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A Patient file private to one test (tests run in parallel in one process).
fn patient_file(test: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("fhirpath-cli-{}-{test}.json", std::process::id()));
    let p = json!({"resourceType": "Patient", "id": "p1", "active": true, "birthDate": "1974-12-25",
        "name": [{"family": "Chalmers", "given": ["Peter", "James"]}],
        "deceasedBoolean": false});
    std::fs::write(&path, p.to_string()).unwrap();
    path
}

#[test]
fn prints_typed_results_as_json() {
    let file = patient_file("typed");
    let (ok, out, err) = run(&["fhirpath", "Patient.name.given", file.to_str().unwrap()], None);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {out}"));
    assert_eq!(v, json!([{"type": "FHIR.string", "value": "Peter"}, {"type": "FHIR.string", "value": "James"}]));
    let (ok, out, _) = run(&["fhirpath", "Patient.deceased", file.to_str().unwrap()], None);
    assert!(ok);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), json!([{"type": "FHIR.boolean", "value": false}]));
    let (ok, out, _) = run(&["fhirpath", "birthDate < @2000-01-01 and name.exists()", file.to_str().unwrap()], None);
    assert!(ok);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), json!([{"type": "System.Boolean", "value": true}]));
    let (ok, out, _) = run(&["fhirpath", "name.first()", "-"], Some(&std::fs::read_to_string(&file).unwrap()));
    assert!(ok);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()[0]["type"], json!("FHIR.HumanName"));
    std::fs::remove_file(file).ok();
}

#[test]
fn bad_expression_or_input_exits_non_zero() {
    let file = patient_file("bad");
    let (ok, out, err) = run(&["fhirpath", "Patient.name.where(", file.to_str().unwrap()], None);
    assert!(!ok, "a syntax error must fail; stdout: {out}");
    assert!(out.is_empty(), "nothing on stdout: {out}");
    assert!(err.contains("1:20"), "the error names the position: {err}");
    assert!(!err.contains("backtrace"), "a user error is one line, not a backtrace: {err}");
    let (ok, _, err) = run(&["fhirpath", "name", "/no/such/file.json"], None);
    assert!(!ok && err.contains("/no/such/file.json"), "{err}");
    let (ok, _, _) = run(&["fhirpath", "name", "-"], Some("not json"));
    assert!(!ok);
    std::fs::remove_file(file).ok();
}

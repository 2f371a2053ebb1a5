//! All 715 official R4 examples are stored under their own ids and read back equal (modulo the
//! server-managed meta.versionId/lastUpdated); the few that break an R4 rule are refused, and the
//! refusal must point at the listed rule (profiles/tests/known-invalid-examples.tsv says why).

use conformance_tests::{both_backends, corpora, json_files, Fhir};
use futures::StreamExt;
use serde_json::Value;
use std::collections::HashMap;

fn known_invalid() -> HashMap<String, (String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles/tests/known-invalid-examples.tsv");
    std::fs::read_to_string(path)
        .expect("known-invalid-examples.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut c = l.splitn(3, '\t');
            let file = c.next().unwrap().to_string();
            (file, (c.next().unwrap_or("").to_string(), c.next().unwrap_or("").to_string()))
        })
        .collect()
}

fn strip_server_meta(mut v: Value) -> Value {
    if let Some(m) = v.get_mut("meta").and_then(Value::as_object_mut) {
        m.remove("versionId");
        m.remove("lastUpdated");
        if m.is_empty() {
            v.as_object_mut().unwrap().remove("meta");
        }
    }
    v
}

/// A decimal as (sign, significant digits, exponent): FHIR decimal identity is value plus precision,
/// so `1E-22` equals `0.0000000000000000000001` but `1.50` differs from `1.5`. PostgreSQL's JSONB
/// renders exponents in plain notation and keeps every significant digit.
fn decimal_key(s: &str) -> (bool, String, i64) {
    let neg = s.starts_with('-');
    let s = s.trim_start_matches(['-', '+']);
    let (mant, exp) = match s.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().unwrap_or(0)),
        None => (s, 0),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let digits = format!("{int}{frac}");
    let trimmed = digits.trim_start_matches('0');
    (neg && !trimmed.is_empty(), if trimmed.is_empty() { "0".into() } else { trimmed.to_string() }, exp - frac.len() as i64)
}

/// JSON equality with FHIR decimal semantics for numbers.
fn fhir_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => decimal_key(&x.to_string()) == decimal_key(&y.to_string()),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| fhir_equal(p, q)),
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).map(|w| fhir_equal(v, w)).unwrap_or(false)),
        _ => a == b,
    }
}

#[test]
fn decimal_identity_is_value_and_precision() {
    assert_eq!(decimal_key("1E-22"), decimal_key("0.0000000000000000000001"));
    assert_eq!(decimal_key("1.000E+3"), decimal_key("1000"));
    assert_ne!(decimal_key("1.50"), decimal_key("1.5"));
    assert_ne!(decimal_key("100"), decimal_key("1E2"));
    assert_ne!(decimal_key("-1"), decimal_key("1"));
}

async fn every_r4_example_round_trips(f: &Fhir) {
    let dir = corpora().join("fhir-r4-examples/examples");
    let files = json_files(&dir);
    assert_eq!(files.len(), 715);
    let invalid = known_invalid();
    let results: Vec<Result<(), String>> = futures::stream::iter(files)
        .map(|path| {
            let invalid = &invalid;
            async move {
                let name = path.file_name().unwrap().to_string_lossy().to_string();
                let original: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                let rt = original["resourceType"].as_str().unwrap();
                let id = original["id"].as_str().unwrap();
                let r = f.put(&format!("{rt}/{id}"), &original).await;
                if let Some((expr, reason)) = invalid.get(&name) {
                    if r.status != 400 {
                        return Err(format!("{name}: listed as invalid ({reason}) but got {}", r.status));
                    }
                    let exprs: Vec<String> = r.json()["issue"].as_array().unwrap().iter().filter_map(|i| i["expression"][0].as_str().map(str::to_string)).collect();
                    if !exprs.iter().any(|e| e == expr) {
                        return Err(format!("{name}: refused, but not at {expr}: {}", r.text));
                    }
                    return Ok(());
                }
                if r.status != 201 && r.status != 200 {
                    return Err(format!("{name}: PUT gave {}: {}", r.status, r.text));
                }
                let back = f.get(&format!("{rt}/{id}")).await;
                if back.status != 200 {
                    return Err(format!("{name}: read gave {}", back.status));
                }
                if !fhir_equal(&strip_server_meta(back.json()), &strip_server_meta(original)) {
                    return Err(format!("{name}: read back differs: {}", back.text));
                }
                Ok(())
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(failures.is_empty(), "{} of 715 examples failed on {}:\n{}", failures.len(), f.backend, failures.join("\n"));
}

both_backends!(every_r4_example_round_trips);

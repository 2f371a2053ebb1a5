//! Cross-check against the FHIR validator test suite (fhir-test-cases, R4 cases without
//! profiles/supporting material): where the reference Java validator finds no error we must
//! not either, and the cases whose errors are structural must be refused by us too.

use std::path::PathBuf;

use profiles::Package;
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora/fhir-validator-tests")
}

/// Java-accepted cases that we refuse, each for a real R4 rule.
const STRICTER_THAN_JAVA: &[&str] = &[
    // Condition.contained[0].id has 65 characters; the id regex allows at most 64.
    "contained-resource.json",
];

/// Cases where Java reports a structural error that is in our scope.
const MUST_REFUSE: &[&str] = &[
    "attachment-with-invalid-binary.json",
    "synthea.json",
    "obs-unit-profile.json",
    "cs-meta-profile.json",
    "mr-covid-m.json",
    "mr-covid-m3.json",
    "empty-array.json",
    "hakan-se.json",
    "resource-invalid-id-1.json",
    "resource-invalid-id-2.json",
    "resource-invalid-id-3.json",
    "patient-id-bad-1.json",
    "patient-id-bad-2.json",
    "patient-id-bad-3.json",
    "bundle-ea-testcase.json",
    "json-comments.json",
    "versioned-extension.json",
    "ai3.json",
    "ai4.json",
    "ai7.json",
    "ai8.json",
    "parameters-attachment.json",
    "obs-quantity.json",
    "obs-vs-2.json",
    "Observation-ex-pain.json",
    "bundle-signed-nob64.json",
    "bundle-sig-2.json",
    "contained-resource.json",
    // Location.position.id is a string over 1MB
    "resource-invalid-eid-2.json",
];

fn java_error_count(case: &Value) -> Option<usize> {
    match &case["java"] {
        Value::String(f) => {
            let o: Value = serde_json::from_str(
                &std::fs::read_to_string(dir().join("outcomes").join(f)).ok()?,
            )
            .ok()?;
            Some(
                o["issue"]
                    .as_array()?
                    .iter()
                    .filter(|i| i["severity"] == "error" || i["severity"] == "fatal")
                    .count(),
            )
        }
        Value::Object(j) => j.get("errorCount")?.as_u64().map(|n| n as usize),
        _ => None,
    }
}

#[test]
fn agrees_with_java_validator_on_structural_cases() {
    let v = Package::r4_core().validator();
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("manifest-r4.json")).unwrap())
            .unwrap();
    let skip_keys = [
        "profile",
        "profiles",
        "supporting",
        "packages",
        "logical",
        "fetcher",
        "validateReference",
        "use-test",
        "matchetype",
    ];
    let (mut accepted_ok, mut refused) = (0, Vec::new());
    let mut wrongly_refused = Vec::new();
    for case in manifest["test-cases"].as_array().unwrap() {
        let file = case["file"].as_str().unwrap();
        if !file.ends_with(".json") || skip_keys.iter().any(|k| case.get(*k).is_some()) {
            continue;
        }
        let Some(java_errors) = java_error_count(case) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(dir().join(file)) else {
            continue;
        };
        // Some cases are deliberately malformed JSON (parser tests), not our concern.
        let Ok(json) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let issues = v.validate(&json);
        if !issues.is_empty() {
            refused.push(file.to_string());
        }
        if java_errors == 0 {
            if issues.is_empty() {
                accepted_ok += 1;
            } else if !STRICTER_THAN_JAVA.contains(&file) {
                wrongly_refused.push(format!("{file}: {issues:?}"));
            }
        }
    }
    assert!(wrongly_refused.is_empty(), "{wrongly_refused:#?}");
    assert!(accepted_ok >= 29, "{accepted_ok}");
    let missed: Vec<_> = MUST_REFUSE
        .iter()
        .filter(|f| !refused.iter().any(|r| r == *f))
        .collect();
    assert!(missed.is_empty(), "not refused: {missed:?}");
}

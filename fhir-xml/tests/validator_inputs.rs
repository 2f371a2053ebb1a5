//! Extra evidence from XML written by others: the R4 cases of the FHIR validator test suite.
//! Every XML input the Java validator accepts structurally must convert; the ones this codec
//! refuses are listed with the reason, and each of them is one the Java validator also
//! reports errors for (or is not a FHIR resource at all).

mod common;

use serde_json::Value;

/// (file, why the codec refuses it)
const REFUSED: &[(&str, &str)] = &[
    ("Observation-ex-pain.xml", "unknown attribute 'something' on <status>"),
    ("bundle-dual-subject.xml", "a non-repeating subject element occurs twice in one resource"),
    ("capabilitystatement-measure-processor.xml", "CapabilityStatement.identifier is not an R4 element"),
    ("cda/example-no-styles.xml", "a CDA document, not FHIR"),
    ("cda/example.xml", "a CDA document, not FHIR"),
    ("ccda-xsi-type.xml", "a CDA document, not FHIR"),
    ("pat-security-bad-string2.xml", "an HTML <script> element inside a string primitive"),
    ("patient-extension-bad2.xml", "an empty url attribute on extension"),
    ("xml-bad-entities.xml", "&reg; in the narrative: an entity XML does not define"),
    ("xml-fail.xml", "text content inside FHIR elements"),
];

fn java_errors(dir: &std::path::Path, case: &Value) -> Option<usize> {
    let outcome = std::fs::read_to_string(dir.join("outcomes").join(case["java"].as_str()?)).ok()?;
    let outcome: Value = serde_json::from_str(&outcome).ok()?;
    Some(
        outcome["issue"]
            .as_array()?
            .iter()
            .filter(|i| matches!(i["severity"].as_str(), Some("error" | "fatal")))
            .count(),
    )
}

#[test]
fn validator_test_xml_inputs() {
    let model = common::model();
    let dir = common::corpora().join("fhir-validator-tests");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest-r4.json")).unwrap()).unwrap();
    let (mut converted, mut refused) = (0, Vec::new());
    for case in manifest["test-cases"].as_array().unwrap() {
        let Some(file) = case["file"].as_str().filter(|f| f.ends_with(".xml")) else { continue };
        // Two referenced inputs are missing from the corpus (see its README).
        let Ok(xml) = std::fs::read_to_string(dir.join(file)) else { continue };
        match fhir_xml::xml_to_json(&xml, &model) {
            Ok(json) => {
                converted += 1;
                let back = fhir_xml::json_to_xml(&json, &model).and_then(|x| fhir_xml::xml_to_json(&x, &model));
                assert_eq!(back.as_ref().ok(), Some(&json), "{file} does not round-trip");
            }
            Err(e) => {
                println!("refused {file}: {e}");
                let listed = REFUSED.iter().any(|(f, _)| *f == file);
                assert!(listed, "{file} is refused but not listed: {e}");
                let java = java_errors(&dir, case);
                assert!(java != Some(0), "{file}: refused, yet the Java validator found no error");
                refused.push(file);
            }
        }
    }
    println!("validator-test XML inputs: {converted} converted, {} refused", refused.len());
    let stale: Vec<_> = REFUSED.iter().filter(|(f, _)| !refused.contains(f)).collect();
    assert!(stale.is_empty(), "listed as refused but converted: {stale:?}");
}

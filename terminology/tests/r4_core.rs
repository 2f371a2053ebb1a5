//! Expansion over the official FHIR R4 (4.0.1) terminology: every CodeSystem and ValueSet of
//! `valuesets.json`, `v3-codesystems.json` and `v2-tables.json`. Expected code lists were
//! counted from the CodeSystem JSON independently of this crate.

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use serde_json::Value;
use terminology::{ancestors_or_self, descendants_or_self, expand, Coding, Definitions, InMemory, TxError};

const DEFINITIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpora/fhir-r4-core/definitions/");

fn store() -> &'static InMemory {
    static STORE: OnceLock<InMemory> = OnceLock::new();
    STORE.get_or_init(|| {
        let bundles = ["valuesets.json", "v3-codesystems.json", "v2-tables.json"].map(|f| {
            let path = format!("{DEFINITIONS}{f}");
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
        });
        InMemory::new(bundles)
    })
}

fn expand_url(url: &str) -> Result<Vec<Coding>, TxError> {
    let d = store();
    let vs = d.value_set(url, None).unwrap_or_else(|| panic!("{url} is not in the package"));
    expand(vs, d)
}

fn codes_of(url: &str) -> Vec<String> {
    expand_url(url).unwrap_or_else(|e| panic!("{url}: {e}")).into_iter().map(|c| c.code).collect()
}

const ROLE_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-RoleCode";

#[test]
fn package_is_loaded() {
    // 1,167 + 359 + 852 resources, all with a url.
    assert_eq!(store().len(), 2378);
}

#[test]
fn administrative_gender_is_exactly_four_codes() {
    let result = expand_url("http://hl7.org/fhir/ValueSet/administrative-gender").unwrap();
    let got: Vec<(&str, &str)> = result.iter().map(|c| (c.system.as_str(), c.code.as_str())).collect();
    let system = "http://hl7.org/fhir/administrative-gender";
    assert_eq!(got, [(system, "male"), (system, "female"), (system, "other"), (system, "unknown")]);
    assert_eq!(result[0].display.as_deref(), Some("Male"));
    assert_eq!(result[0].version.as_deref(), Some("4.0.1"));
}

#[test]
fn is_a_filter_on_v3_role_code_matches_hand_count() {
    // SIB and its 20 nested descendants; the `child` properties inside the subtree add no codes.
    let expected = [
        "SIB", "BRO", "HBRO", "NBRO", "TWINBRO", "FTWINBRO", "ITWINBRO", "STPBRO", "HSIB", "HSIS", "NSIB", "NSIS",
        "TWINSIS", "FTWINSIS", "ITWINSIS", "TWIN", "FTWIN", "ITWIN", "SIS", "STPSIS", "STPSIB",
    ];
    assert_eq!(codes_of("http://hl7.org/fhir/ValueSet/sibling-relationship-codes"), expected);
}

#[test]
fn v3_child_properties_are_part_of_the_hierarchy() {
    // TWIN nests FTWIN and ITWIN; its `child` properties add TWINBRO/TWINSIS and, through
    // FTWIN/ITWIN, their fraternal/identical variants (nested elsewhere, under NBRO/NSIS).
    assert_eq!(
        descendants_or_self(ROLE_CODE, "TWIN", store()).unwrap(),
        ["TWINBRO", "FTWINBRO", "ITWINBRO", "TWINSIS", "FTWINSIS", "ITWINSIS", "TWIN", "FTWIN", "ITWIN"]
    );
    assert_eq!(
        ancestors_or_self(ROLE_CODE, "FTWINBRO", store()).unwrap(),
        ["_PersonalRelationshipRoleType", "FAMMEMB", "SIB", "BRO", "NBRO", "TWINBRO", "FTWINBRO", "NSIB", "TWIN", "FTWIN"]
    );
}

#[test]
fn below_on_a_nested_fhir_code_system() {
    assert_eq!(
        descendants_or_self("http://hl7.org/fhir/issue-type", "processing", store()).unwrap(),
        [
            "processing", "not-supported", "duplicate", "multiple-matches", "not-found", "deleted", "too-long",
            "code-invalid", "extension", "too-costly", "business-rule", "conflict"
        ]
    );
    assert_eq!(
        ancestors_or_self("http://hl7.org/fhir/issue-type", "deleted", store()).unwrap(),
        ["processing", "not-found", "deleted"]
    );
}

#[test]
fn is_not_a_and_exclude_in_the_package() {
    assert_eq!(
        codes_of("http://hl7.org/fhir/ValueSet/patient-contactrelationship"),
        ["BP", "C", "CP", "E", "EP", "F", "I", "N", "PR", "S", "U"]
    );
    assert_eq!(
        codes_of("http://terminology.hl7.org/ValueSet/v3-ActEncounterCode"),
        ["AMB", "EMER", "FLD", "HH", "IMP", "ACUTE", "NONAC", "OBSENC", "PRENC", "SS", "VR"]
    );
}

#[test]
fn unavailable_terminologies_are_precise_errors() {
    // SNOMED CT is in the package only as a `not-present` stub, LOINC not at all.
    assert_eq!(
        expand_url("http://hl7.org/fhir/ValueSet/condition-code").unwrap_err(),
        TxError::NotEnumerable { url: "http://snomed.info/sct".into(), content: "not-present".into() }
    );
    assert_eq!(
        descendants_or_self("http://snomed.info/sct", "404684003", store()).unwrap_err().kind(),
        "not-enumerable"
    );
    assert_eq!(
        expand_url("http://hl7.org/fhir/ValueSet/doc-typecodes").unwrap_err(),
        TxError::UnknownCodeSystem { url: "http://loinc.org".into(), version: None }
    );
    // The package pins task-code 3.6.0 but ships task-code 4.0.1.
    assert_eq!(
        expand_url("http://hl7.org/fhir/ValueSet/task-code").unwrap_err(),
        TxError::UnknownCodeSystem { url: "http://hl7.org/fhir/CodeSystem/task-code".into(), version: Some("3.6.0".into()) }
    );
    let err = expand_url("http://hl7.org/fhir/ValueSet/example-filter").unwrap_err();
    assert_eq!(err.kind(), "unsupported-filter");
    assert!(err.to_string().contains("acme-plasma"), "{err}");
}

type System = (String, Option<String>);

/// Collects the (system, version) pairs a ValueSet needs, transitively; false if an import is missing.
fn requirements(vs: &Value, d: &InMemory, seen: &mut HashSet<String>, systems: &mut HashSet<System>) -> bool {
    let compose = &vs["compose"];
    for part in ["include", "exclude"] {
        for inc in compose[part].as_array().into_iter().flatten() {
            if let Some(s) = inc["system"].as_str() {
                systems.insert((s.to_string(), inc["version"].as_str().map(str::to_string)));
            }
            for r in inc["valueSet"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                if !seen.insert(r.to_string()) {
                    continue;
                }
                match d.value_set(r, None) {
                    Some(imported) => {
                        if !requirements(imported, d, seen, systems) {
                            return false;
                        }
                    }
                    None => return false,
                }
            }
        }
    }
    true
}

#[test]
fn every_value_set_expands_or_fails_precisely() {
    let d = store();
    let mut ok = 0usize;
    let mut codes = 0usize;
    let mut self_contained = 0usize;
    let mut kinds: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut missing_systems: BTreeMap<String, usize> = BTreeMap::new();
    let mut unexpected: Vec<String> = Vec::new();
    let start = std::time::Instant::now();
    for vs in d.value_sets() {
        let url = vs["url"].as_str().unwrap_or("?");
        let mut systems = HashSet::new();
        let imports_present = requirements(vs, d, &mut HashSet::new(), &mut systems);
        let contained = imports_present
            && systems.iter().all(|(s, v)| d.code_system(s, v.as_deref()).is_some_and(|cs| cs["content"] == "complete"));
        self_contained += contained as usize;
        match expand(vs, d) {
            Ok(result) => {
                ok += 1;
                codes += result.len();
                let keys: HashSet<(&str, &str)> = result.iter().map(|c| (c.system.as_str(), c.code.as_str())).collect();
                assert_eq!(keys.len(), result.len(), "{url}: duplicates");
            }
            Err(e) => {
                *kinds.entry(e.kind()).or_default() += 1;
                if let TxError::UnknownCodeSystem { url, .. } | TxError::NotEnumerable { url, .. } = &e {
                    *missing_systems.entry(url.clone()).or_default() += 1;
                }
                if contained {
                    unexpected.push(format!("{url}: {e}"));
                }
            }
        }
    }
    let total = d.value_sets().count();
    eprintln!(
        "R4 value sets: {total}; expanded {ok} ({codes} codes); failed {} in {:?}; self-contained {self_contained}",
        total - ok,
        start.elapsed()
    );
    eprintln!("errors by kind: {kinds:?}");
    let mut top: Vec<_> = missing_systems.into_iter().collect();
    top.sort_by_key(|b| std::cmp::Reverse(b.1));
    eprintln!("unavailable systems (top 12): {:?}", &top[..top.len().min(12)]);
    eprintln!("self-contained failures: {unexpected:#?}");
    assert_eq!(total, 1316);
    // The only self-contained value set that cannot expand uses the custom `acme-plasma` filter.
    assert_eq!(unexpected, ["http://hl7.org/fhir/ValueSet/example-filter: filter 'acme-plasma = true' on http://hl7.org/fhir/CodeSystem/example is not supported: it is a filter defined by the code system whose meaning is not computable here"]);
}

//! Package loading and targeted negative cases: each asserts the exact expression and code.

use profiles::{Issue, Package, Severity};
use serde_json::{json, Value};

fn validate(v: Value) -> Vec<Issue> {
    Package::r4_core().validator().validate(&v)
}

fn patient(extra: Value) -> Value {
    let mut p = json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Chalmers", "given": ["Peter", "James"]}], "gender": "male", "birthDate": "1974-12-25"});
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            p.as_object_mut().unwrap().remove(k);
        } else {
            p[k] = v.clone();
        }
    }
    p
}

/// Asserts exactly one error, at `expr` with issue-type `code`.
#[track_caller]
fn assert_one(v: Value, expr: &str, code: &str) {
    let issues = validate(v);
    assert_eq!(
        issues.len(),
        1,
        "expected one issue at {expr}, got {issues:#?}"
    );
    assert_eq!(issues[0].expression, expr, "{issues:#?}");
    assert_eq!(issues[0].code, code, "{issues:#?}");
    assert_eq!(issues[0].severity, Severity::Error);
}

#[test]
fn package_loads() {
    let pkg = Package::r4_core();
    let types = pkg.resource_types();
    assert!((145..=150).contains(&types.len()), "{}", types.len());
    for t in [
        "Patient",
        "Observation",
        "Bundle",
        "Questionnaire",
        "Parameters",
    ] {
        assert!(pkg.is_resource_type(t), "{t}");
    }
    assert!(!pkg.is_resource_type("DomainResource"));
    assert!(!pkg.is_resource_type("HumanName"));
    assert!(types.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(pkg.resources("SearchParameter").len(), 1400);
    assert_eq!(pkg.resources("StructureDefinition").len(), 655);
    assert_eq!(pkg.resources("CompartmentDefinition").len(), 6);
    assert!(pkg.resources("NoSuchType").is_empty());
    let vs = pkg
        .by_url("http://hl7.org/fhir/ValueSet/administrative-gender")
        .unwrap();
    assert_eq!(vs["resourceType"], "ValueSet");
    assert!(pkg
        .by_url("http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1")
        .is_some());
    assert!(pkg
        .by_url("http://hl7.org/fhir/ValueSet/administrative-gender|3.0.0")
        .is_none());
    assert_eq!(
        pkg.by_url("http://hl7.org/fhir/StructureDefinition/Patient")
            .unwrap()["id"],
        "Patient"
    );
    assert!(pkg.by_url("http://example.org/nothing").is_none());
}

#[test]
fn top_elements() {
    let top = Package::r4_core().top_elements("Patient").unwrap();
    let deceased = top.iter().find(|e| e.name == "deceased").unwrap();
    assert!(deceased.is_choice && deceased.is_summary);
    let id = top.iter().find(|e| e.name == "id").unwrap();
    assert!(id.is_summary && !id.is_choice);
    assert!(top.iter().any(|e| e.name == "contained" && !e.is_summary));
    let obs = Package::r4_core().top_elements("Observation").unwrap();
    assert_eq!(obs.iter().find(|e| e.name == "status").unwrap().min, 1);
    assert!(Package::r4_core().top_elements("HumanName").is_none());
}

#[test]
fn valid_resources_pass() {
    assert_eq!(validate(patient(json!({}))), vec![]);
    let obs = json!({"resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "valueQuantity": {"value": 1.50, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
        "effectiveDateTime": "2019-01-01T10:00:00+01:00"});
    assert_eq!(validate(obs), vec![]);
}

#[test]
fn unknown_element() {
    assert_one(
        patient(json!({"nmae": [{"family": "x"}]})),
        "Patient.nmae",
        "structure",
    );
    assert_one(
        patient(json!({"name": [{"family": "x", "nickname": "y"}]})),
        "Patient.name[0].nickname",
        "structure",
    );
}

#[test]
fn resource_type_checks() {
    assert_one(
        json!({"resourceType": "Patiente"}),
        "resourceType",
        "invalid",
    );
    assert_one(json!({"id": "x"}), "resourceType", "required");
    assert_one(
        patient(json!({"name": [{"resourceType": "HumanName", "family": "x"}]})),
        "Patient.name[0].resourceType",
        "structure",
    );
}

#[test]
fn bad_date() {
    assert_one(
        patient(json!({"birthDate": "1980-13-01"})),
        "Patient.birthDate",
        "value",
    );
    assert_one(
        patient(json!({"birthDate": "2019-02-29"})),
        "Patient.birthDate",
        "value",
    );
    assert_one(
        patient(json!({"birthDate": "1980-01-01T10:00:00Z"})),
        "Patient.birthDate",
        "value",
    );
}

#[test]
fn decimal_as_string() {
    let obs = json!({"resourceType": "Observation", "status": "final", "code": {"text": "weight"},
        "valueQuantity": {"value": "1.5", "unit": "kg"}});
    assert_one(obs, "Observation.valueQuantity.value", "value");
}

#[test]
fn other_primitive_types() {
    assert_one(
        patient(json!({"active": "true"})),
        "Patient.active",
        "value",
    );
    assert_one(
        patient(json!({"multipleBirthInteger": 1.5})),
        "Patient.multipleBirthInteger",
        "value",
    );
    assert_one(
        patient(json!({"name": [{"family": ""}]})),
        "Patient.name[0].family",
        "value",
    );
    assert_one(
        json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "issued": "2019-01-01T10:00Z"}),
        "Observation.issued",
        "value",
    );
}

#[test]
fn invalid_id() {
    assert_one(patient(json!({"id": "bad_id!"})), "Patient.id", "value");
    assert_one(
        patient(json!({"id": "a".repeat(65)})),
        "Patient.id",
        "value",
    );
}

#[test]
fn array_for_max_one() {
    assert_one(
        patient(json!({"birthDate": ["1974-12-25"]})),
        "Patient.birthDate",
        "structure",
    );
    assert_one(
        patient(json!({"name": [{"family": ["a"]}]})),
        "Patient.name[0].family",
        "structure",
    );
}

#[test]
fn single_object_for_repeating() {
    assert_one(
        patient(json!({"name": {"family": "x"}})),
        "Patient.name",
        "structure",
    );
    assert_one(
        patient(json!({"name": [{"given": "Peter"}]})),
        "Patient.name[0].given",
        "structure",
    );
}

#[test]
fn two_choice_variants() {
    assert_one(
        patient(json!({"deceasedBoolean": false, "deceasedDateTime": "2020-01-01"})),
        "Patient.deceasedDateTime",
        "structure",
    );
    // a type that is not one of the choice's types
    assert_one(
        patient(json!({"deceasedString": "yes"})),
        "Patient.deceasedString",
        "structure",
    );
}

#[test]
fn bad_required_code() {
    assert_one(
        patient(json!({"gender": "males"})),
        "Patient.gender",
        "code-invalid",
    );
    // Coding in a required CodeableConcept binding, system of the value set
    let obs = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
        "valueQuantity": {"value": 1, "comparator": "<<"}});
    assert_one(obs, "Observation.valueQuantity.comparator", "code-invalid");
    let ai = json!({"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/1"},
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "gone"}]}});
    assert_one(
        ai,
        "AllergyIntolerance.clinicalStatus.coding[0].code",
        "code-invalid",
    );
    // codings from other systems are not judged
    let ai = json!({"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/1"},
        "clinicalStatus": {"coding": [{"system": "http://example.org", "code": "gone"}]}});
    assert_eq!(validate(ai), vec![]);
}

#[test]
fn primitive_extensions() {
    let ext = json!({"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]});
    assert_eq!(
        validate(patient(json!({"_birthDate": ext.clone()}))),
        vec![]
    );
    assert_eq!(
        validate(patient(
            json!({"birthDate": null, "_birthDate": ext.clone()})
        )),
        vec![]
    );
    let name = json!([{"family": "x", "given": ["Peter", null], "_given": [null, ext.clone()]}]);
    assert_eq!(validate(patient(json!({"name": name}))), vec![]);
    assert_one(
        patient(json!({"_foo": ext.clone()})),
        "Patient._foo",
        "structure",
    );
    assert_one(
        patient(json!({"_name": ext.clone()})),
        "Patient._name",
        "structure",
    );
    // null without an extension at the same index
    assert_one(
        patient(json!({"name": [{"given": ["Peter", null]}]})),
        "Patient.name[0].given[1]",
        "structure",
    );
    assert_one(
        patient(json!({"_birthDate": {"extension": [{"url": "http://x", "valueCode": "a b  c"}]}})),
        "Patient.birthDate.extension[0].valueCode",
        "value",
    );
    assert_one(
        patient(json!({"_birthDate": {"foo": 1}})),
        "Patient.birthDate.foo",
        "structure",
    );
}

#[test]
fn empty_and_null_values() {
    assert_one(patient(json!({"name": []})), "Patient.name", "structure");
    assert_one(
        patient(json!({"name": [{}]})),
        "Patient.name[0]",
        "structure",
    );
    let mut p = patient(json!({}));
    p["active"] = Value::Null;
    assert_one(p, "Patient.active", "structure");
}

#[test]
fn missing_required_element() {
    let issues = validate(json!({"resourceType": "Observation", "id": "o1"}));
    let got: Vec<(&str, &str)> = issues
        .iter()
        .map(|i| (i.expression.as_str(), i.code))
        .collect();
    assert_eq!(
        got,
        vec![
            ("Observation.status", "required"),
            ("Observation.code", "required")
        ]
    );
    // inside a datatype: Extension.url
    assert_one(
        patient(json!({"extension": [{"valueString": "x"}]})),
        "Patient.extension[0].url",
        "required",
    );
    // an extension-only primitive satisfies min 1
    let obs = json!({"resourceType": "Observation", "code": {"text": "x"},
        "_status": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}});
    assert_eq!(validate(obs), vec![]);
}

#[test]
fn nested_resources() {
    let p = json!({"resourceType": "Patient", "contained": [{"resourceType": "Organization", "id": "o"}, {"resourceType": "Patient", "birthDate": "1980-13-01"}]});
    assert_one(p, "Patient.contained[1].birthDate", "value");
    let b = json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": patient(json!({}))},
        {"resource": {"resourceType": "Observation", "status": "final"}},
        {"resource": patient(json!({"birthDate": "1980-13-01"}))},
        {"resource": {"resourceType": "Nope"}}
    ]});
    let issues = validate(b);
    let got: Vec<(&str, &str)> = issues
        .iter()
        .map(|i| (i.expression.as_str(), i.code))
        .collect();
    assert_eq!(
        got,
        vec![
            ("Bundle.entry[1].resource.code", "required"),
            ("Bundle.entry[2].resource.birthDate", "value"),
            ("Bundle.entry[3].resource", "invalid")
        ]
    );
    let params = json!({"resourceType": "Parameters", "parameter": [{"name": "r", "resource": {"resourceType": "Patient", "gender": "x"}}]});
    assert_one(
        params,
        "Parameters.parameter[0].resource.gender",
        "code-invalid",
    );
}

#[test]
fn content_reference_and_backbone() {
    let q = json!({"resourceType": "Questionnaire", "status": "draft", "item": [
        {"linkId": "1", "type": "group", "item": [{"linkId": "1.1", "type": "string", "item": [{"type": "string"}]}]}]});
    assert_one(
        q,
        "Questionnaire.item[0].item[0].item[0].linkId",
        "required",
    );
    assert_one(
        patient(json!({"contact": [{"nmae": {"family": "x"}}]})),
        "Patient.contact[0].nmae",
        "structure",
    );
}

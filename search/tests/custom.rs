//! Custom SearchParameter resources over the R4 registry: what they index, what is refused, what a
//! change of definition asks the store to reindex, and "not ready" while it does.

use search::{Registry, SearchError};
use serde_json::{json, Value};
use std::collections::HashSet;

const EYE: &str = "http://example.org/fhir/StructureDefinition/eye-colour";

fn eye_colour() -> Value {
    json!({"resourceType": "SearchParameter", "url": "http://example.org/sp/eye-colour", "name": "EyeColour", "status": "active",
        "code": "eye-colour", "base": ["Patient"], "type": "string",
        "expression": format!("Patient.extension.where(url = '{EYE}').value")})
}

fn patient(colour: &str) -> Value {
    json!({"resourceType": "Patient", "id": "p1", "extension": [{"url": EYE, "valueString": colour}], "gender": "female"})
}

fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn refusal(reg: &Registry, rt: &str, pairs: &[(&str, &str)]) -> SearchError {
    match reg.parse_query(rt, &q(pairs)) {
        Ok(_) => panic!("{pairs:?} was accepted"),
        Err(e) => e,
    }
}

#[test]
fn a_custom_parameter_indexes_and_answers_queries() {
    let r4 = Registry::r4();
    assert_eq!(refusal(r4, "Patient", &[("eye-colour", "blue")]).param, "eye-colour");
    let reg = r4.with_custom(&[eye_colour()], &HashSet::new());
    let sp = reg.param("Patient", "eye-colour").expect("defined");
    assert!(sp.custom && sp.ready && sp.is_evaluable());
    let rows = reg.extract_only(&patient("Blue"), &["eye-colour".to_string()]);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(matches!(&rows[0], search::IndexRow::String { param, value_exact, .. } if param == "eye-colour" && value_exact == "Blue"));
    // Every other parameter still indexes as before.
    assert_eq!(reg.extract(&patient("Blue")).len(), r4.extract(&patient("Blue")).len() + 1);
    reg.parse_query("Patient", &q(&[("eye-colour", "blue"), ("_sort", "eye-colour")])).expect("accepted");
    reg.parse_query("Observation", &q(&[("subject:Patient.eye-colour", "blue")])).expect("chains reach it");
}

#[test]
fn a_pending_parameter_is_not_ready_wherever_it_is_named() {
    let pending: HashSet<(String, String)> = [("Patient".to_string(), "eye-colour".to_string())].into();
    let reg = Registry::r4().with_custom(&[eye_colour()], &pending);
    for (rt, pairs, at) in [
        ("Patient", vec![("eye-colour", "blue")], "eye-colour"),
        ("Patient", vec![("eye-colour:exact", "Blue")], "eye-colour:exact"),
        ("Observation", vec![("subject:Patient.eye-colour", "blue")], "subject:Patient.eye-colour"),
    ] {
        let e = refusal(&reg, rt, &pairs);
        assert!(e.not_ready, "{pairs:?}: {e}");
        assert_eq!(e.param, at);
    }
    let e = reg.parse_sort("Patient", "-eye-colour").expect_err("sorting on it");
    assert!(e.not_ready && e.param == "_sort", "{e}");
    // Parameters that are not being reindexed answer as usual.
    reg.parse_query("Patient", &q(&[("gender", "female")])).expect("ready");
    let ready = reg.with_pending(&HashSet::new());
    ready.parse_query("Patient", &q(&[("eye-colour", "blue")])).expect("ready once reindexed");
}

#[test]
fn unusable_definitions_are_refused_naming_the_element() {
    let r4 = Registry::r4();
    r4.check_custom(&eye_colour()).expect("good definition");
    let with = |k: &str, v: Value| {
        let mut sp = eye_colour();
        sp[k] = v;
        sp
    };
    for (sp, at) in [
        (with("code", json!("eye colour")), "SearchParameter.code"),
        (with("code", json!("_eye")), "SearchParameter.code"),
        (with("base", json!(["Patient", "Spaceship"])), "SearchParameter.base[1]"),
        (with("base", json!([])), "SearchParameter.base"),
        (with("type", json!("colour")), "SearchParameter.type"),
        (with("expression", json!("Patient.extension.where(")), "SearchParameter.expression"),
        (with("expression", json!("Observation.code")), "SearchParameter.expression"),
    ] {
        let (path, message) = r4.check_custom(&sp).expect_err(&sp.to_string());
        assert_eq!(path, at, "{message}");
    }
    // Another custom definition already holds the code on that base.
    let reg = r4.with_custom(&[eye_colour()], &HashSet::new());
    let rival = with("url", json!("http://example.org/sp/other"));
    assert_eq!(reg.check_custom(&rival).expect_err("clash").0, "SearchParameter.code");
    reg.check_custom(&eye_colour()).expect("the same definition may be updated");
}

#[test]
fn changes_name_what_to_reindex_and_what_to_drop() {
    let r4 = Registry::r4();
    let with_eye = r4.with_custom(&[eye_colour()], &HashSet::new());
    let (changed, removed) = r4.changes_to(&with_eye);
    assert_eq!(changed, [("Patient".to_string(), "eye-colour".to_string())]);
    assert!(removed.is_empty());
    let (changed, removed) = with_eye.changes_to(r4);
    assert!(changed.is_empty());
    assert_eq!(removed, [("Patient".to_string(), vec!["eye-colour".to_string()])]);
    // Restating a core parameter as published changes no row; redefining it does.
    let mut gender = json!({"resourceType": "SearchParameter", "url": "http://example.org/sp/gender", "status": "active",
        "code": "gender", "base": ["Patient"], "type": "token", "expression": "Patient.gender"});
    assert_eq!(r4.changes_to(&r4.with_custom(&[gender.clone()], &HashSet::new())), (vec![], vec![]));
    gender["expression"] = json!("Patient.extension.where(url = 'http://example.org/gender').value");
    assert_eq!(r4.changes_to(&r4.with_custom(&[gender], &HashSet::new())).0, [("Patient".to_string(), "gender".to_string())]);
}

//! Extraction on real R4 examples, and coverage of the published expressions.
mod common;

use common::*;
use search::{IndexRow, ParamType};
use serde_json::json;
use std::collections::BTreeSet;

fn strings(rows: &[IndexRow], p: &str) -> BTreeSet<String> {
    rows.iter()
        .filter_map(|r| match r {
            IndexRow::String { param, value_norm, .. } if param == p => Some(value_norm.clone()),
            _ => None,
        })
        .collect()
}

fn tokens(rows: &[IndexRow], p: &str) -> Vec<(Option<String>, Option<String>)> {
    rows.iter()
        .filter_map(|r| match r {
            IndexRow::Token { param, system, code, .. } if param == p => Some((system.clone(), code.clone())),
            _ => None,
        })
        .collect()
}

fn s(x: &str) -> Option<String> {
    Some(x.to_string())
}

#[test]
fn patient_example() {
    let rows = registry().extract(&example("Patient-example.json"));
    let set = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(strings(&rows, "name"), set(&["chalmers", "james", "jim", "peter", "windsor"]));
    assert_eq!(strings(&rows, "family"), set(&["chalmers", "windsor"]));
    assert_eq!(strings(&rows, "given"), set(&["james", "jim", "peter"]));
    assert_eq!(strings(&rows, "address-city"), set(&["pleasantville"]));
    assert!(strings(&rows, "address").contains("534 erewhon st"));
    assert!(strings(&rows, "address").contains("3999"));
    assert!(strings(&rows, "phonetic").is_empty(), "phonetic is refused, not approximated");
    // value_exact keeps the original case.
    assert!(rows.iter().any(|r| matches!(r, IndexRow::String { param, value_exact, .. } if param == "family" && value_exact == "Chalmers")));

    assert_eq!(tokens(&rows, "gender"), vec![(s("http://hl7.org/fhir/administrative-gender"), s("male"))]);
    assert_eq!(tokens(&rows, "active"), vec![(None, s("true"))]);
    assert_eq!(tokens(&rows, "_id"), vec![(None, s("example"))]);
    assert_eq!(
        tokens(&rows, "phone"),
        vec![(None, s("(03) 5555 6473")), (None, s("(03) 3410 5613")), (None, s("(03) 5555 8834"))]
    );
    assert!(tokens(&rows, "email").is_empty());
    let ident: Vec<_> = rows.iter().filter(|r| r.param() == "identifier").collect();
    assert_eq!(
        ident,
        vec![&IndexRow::Token {
            param: "identifier".into(),
            system: s("urn:oid:1.2.36.146.595.217.0.1"),
            code: s("12345"),
            text_norm: None,
            type_system: s("http://terminology.hl7.org/CodeSystem/v2-0203"),
            type_code: s("MR"),
        }]
    );
    let birth: Vec<_> = rows.iter().filter(|r| r.param() == "birthdate").collect();
    assert_eq!(birth, vec![&IndexRow::Date { param: "birthdate".into(), low: 157161600000000, high: 157247999999999 }]);
    // deceasedBoolean is not a dateTime.
    assert!(rows.iter().all(|r| r.param() != "death-date"));
    // managingOrganization {"reference": "Organization/1"}; the contact's organization is not this param.
    let org: Vec<_> = rows.iter().filter(|r| r.param() == "organization").collect();
    assert_eq!(
        org,
        vec![&IndexRow::Reference {
            param: "organization".into(),
            target_type: s("Organization"),
            target_id: s("1"),
            target_version: None,
            url: None,
            ident_system: None,
            ident_value: None,
        }]
    );
}

#[test]
fn observation_example() {
    let rows = registry().extract(&example("Observation-example.json"));
    let q: Vec<_> = rows.iter().filter(|r| r.param() == "value-quantity").collect();
    assert_eq!(
        q,
        vec![&IndexRow::Quantity {
            param: "value-quantity".into(),
            value: 185.0,
            low: 184.5,
            high: 185.5,
            system: s("http://unitsofmeasure.org"),
            code: s("[lb_av]"),
            unit: s("lbs"),
            // UCUM: [lb_av] = 453.59237 g, so 185 lb is 83,914.58845 g (mass: the third dimension).
            canon_value: Some(185.0 * 453.59237),
            canon_code: s("0.0.1.0.0.0.0.0.0"),
        }]
    );
    let subj: Vec<_> = rows.iter().filter(|r| r.param() == "subject" || r.param() == "patient").collect();
    assert_eq!(subj.len(), 2);
    for r in subj {
        let IndexRow::Reference { target_type, target_id, url, .. } = r else { panic!("{r:?}") };
        assert_eq!((target_type.as_deref(), target_id.as_deref(), url), (Some("Patient"), Some("example"), &None));
    }
    let code = tokens(&rows, "code");
    assert_eq!(code.len(), 4);
    assert!(code.contains(&(s("http://loinc.org"), s("29463-7"))));
    assert!(rows.iter().any(|r| matches!(r, IndexRow::Token { param, text_norm: Some(t), .. } if param == "code" && t == "body weight measured")));
    let date: Vec<_> = rows.iter().filter(|r| r.param() == "date").collect();
    assert_eq!(date, vec![&IndexRow::Date { param: "date".into(), low: 1459123200000000, high: 1459123200000000 + 86_400_000_000 - 1 }]);
    assert!(rows.iter().all(|r| r.param() != "value-concept" && r.param() != "value-string"));
}

#[test]
fn period_and_choice_and_absolute_refs() {
    // f002: effectivePeriod 2013-04-02T10:30:10+01:00 .. 2013-04-05T10:30:10+01:00
    let rows = registry().extract(&example("Observation-f002.json"));
    let d: Vec<_> = rows.iter().filter(|r| r.param() == "date").collect();
    let lo = 1364895010 * 1_000_000; // 2013-04-02T09:30:10Z
    let hi = 1365154210 * 1_000_000 + 999_999; // 2013-04-05T09:30:10Z end of second
    assert_eq!(d, vec![&IndexRow::Date { param: "date".into(), low: lo, high: hi }]);

    // A Period with no end is open on the right.
    let rows = registry().extract(&example("Observation-abdo-tender.json"));
    let Some(IndexRow::Date { high, .. }) = rows.iter().find(|r| r.param() == "date") else { panic!() };
    assert_eq!(*high, i64::MAX);

    // A local "#newborn" reference has no target to search by, but it is a value (for :missing).
    let rows = registry().extract(&example("Observation-10minute-apgar-score.json"));
    let subject: Vec<_> = rows.iter().filter(|r| r.param() == "subject").collect();
    assert!(matches!(subject.as_slice(), [IndexRow::Reference { target_id: None, url: Some(u), .. }] if u == "#newborn"), "{subject:?}");
}

#[test]
fn every_example_extracts_and_no_row_is_odd() {
    let reg = registry();
    let mut total = 0;
    for r in examples() {
        for row in reg.extract(&r) {
            total += 1;
            match &row {
                IndexRow::Date { low, high, .. } => assert!(low <= high, "{row:?} in {}", r["id"]),
                IndexRow::Number { value, low, high, .. } | IndexRow::Quantity { value, low, high, .. } => {
                    assert!(low <= value && value <= high, "{row:?}")
                }
                IndexRow::Token { system, code, text_norm, .. } => assert!(system.is_some() || code.is_some() || text_norm.is_some()),
                IndexRow::Reference { target_id, url, ident_value, .. } => {
                    assert!(target_id.is_some() || url.is_some() || ident_value.is_some())
                }
                _ => {}
            }
            let rt = r["resourceType"].as_str().unwrap();
            // A composite's component rows are stored under `code$index`.
            let code = row.param().split('$').next().unwrap();
            assert!(reg.param(rt, code).is_some(), "{row:?}");
            if let IndexRow::Composite { row: inner, .. } = &row {
                assert!(matches!(reg.param(rt, code).unwrap().kind, ParamType::Composite | ParamType::Special), "{row:?}");
                assert!(!matches!(**inner, IndexRow::Composite { .. }));
            }
        }
    }
    println!("{total} index rows from the R4 examples");
    assert!(total > 5_000);
}

#[test]
fn expression_coverage() {
    let params = search_parameters();
    assert_eq!(params.len(), 1375);
    let mut ok = 0;
    let mut bad = Vec::new();
    for p in &params {
        let code = p["code"].as_str().unwrap();
        let kind = p["type"].as_str().unwrap();
        match p["expression"].as_str().map(fhirpath::Engine::parse) {
            Some(Ok(_)) if kind != "special" && code != "phonetic" => ok += 1,
            Some(Ok(_)) => bad.push(format!("{code} ({kind}): not indexed for its type")),
            Some(Err(e)) => bad.push(format!("{code} ({kind}): {e}")),
            None => bad.push(format!("{code} ({kind}): no expression")),
        }
    }
    println!("search parameter expressions: {ok} evaluable, {} not", bad.len());
    for b in &bad {
        println!("  unsupported: {b}");
    }
    assert_eq!(ok + bad.len(), 1375);
    // 1,375 less 3 without expression (_text, _content, _query), 3 phonetic and near.
    assert_eq!(ok, 1368, "evaluable expressions");
}

#[test]
fn patient_and_observation_params_are_evaluable() {
    let allowed = ["_text", "_content", "_query", "phonetic"];
    for rt in ["Patient", "Observation"] {
        let mut n = 0;
        for p in registry().params_for(rt) {
            n += 1;
            if allowed.contains(&p.code.as_str()) {
                assert!(!p.is_evaluable() || p.code == "_text" || p.code == "_content");
                continue;
            }
            assert!(p.is_evaluable(), "{rt}.{}: {:?} {:?}", p.code, p.expression, p.unsupported_reason());
        }
        assert!(n > 30, "{rt} has only {n} params");
    }
}

#[test]
fn r4_registry_from_profiles_matches() {
    let r4 = search::Registry::r4();
    let ours = registry();
    let pkg = profiles::Package::r4_core().resources("SearchParameter");
    let bad: Vec<String> = pkg
        .iter()
        .filter_map(|p| {
            let e = p["expression"].as_str()?;
            fhirpath::Engine::parse(e).err().map(|why| format!("{}: {e} ({why})", p["code"].as_str().unwrap_or("?")))
        })
        .collect();
    assert!(bad.is_empty(), "package expressions the engine cannot parse: {bad:#?}");
    for rt in ["Patient", "Observation", "Encounter"] {
        let a: BTreeSet<_> = r4.params_for(rt).map(|p| p.code.clone()).collect();
        let b: BTreeSet<_> = ours.params_for(rt).map(|p| p.code.clone()).collect();
        // The package also carries extension SearchParameters that the spec bundle lacks.
        assert!(a.is_superset(&b), "{rt}: missing {:?}", b.difference(&a).collect::<Vec<_>>());
    }
}

#[test]
fn extension_parameters_index_the_extension_value() {
    // Package parameter gene-identifier: Observation.extension('http://hl7.org/fhir/StructureDefinition/observation-geneticsGene')
    let obs = serde_json::json!({
        "resourceType": "Observation", "id": "g", "status": "final", "code": {"text": "x"},
        "extension": [
            {"url": "http://hl7.org/fhir/StructureDefinition/observation-geneticsGene",
             "valueCodeableConcept": {"coding": [{"system": "http://www.genenames.org", "code": "3236", "display": "EGFR"}]}},
            {"url": "http://example.org/other", "valueCodeableConcept": {"coding": [{"system": "http://x", "code": "no"}]}}
        ]
    });
    let rows = search::Registry::r4().extract(&obs);
    assert_eq!(tokens(&rows, "gene-identifier"), vec![(s("http://www.genenames.org"), s("3236"))]);
    assert!(rows.iter().all(|r| !matches!(r, IndexRow::Token { code: Some(c), .. } if c == "no")));
}

#[test]
fn computed_and_resolved_expressions_index() {
    // deceased: `Patient.deceased.exists() and Patient.deceased != false` yields a computed boolean.
    let reg = search::Registry::r4();
    let dead = serde_json::json!({"resourceType": "Patient", "id": "d", "deceasedDateTime": "2020-01-01"});
    let alive = serde_json::json!({"resourceType": "Patient", "id": "a", "deceasedBoolean": false});
    let unknown = serde_json::json!({"resourceType": "Patient", "id": "u"});
    assert_eq!(tokens(&reg.extract(&dead), "deceased"), vec![(None, s("true"))]);
    assert_eq!(tokens(&reg.extract(&alive), "deceased"), vec![(None, s("false"))]);
    // `{} != false` is empty and `false and {}` is false: no deceased element searches as deceased=false.
    assert_eq!(tokens(&reg.extract(&unknown), "deceased"), vec![(None, s("false"))]);
    // patient: `Observation.subject.where(resolve() is Patient)` keeps Patient references only.
    let on_patient = serde_json::json!({"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient/p1"}});
    let on_group = serde_json::json!({"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"}, "subject": {"reference": "Group/g1"}});
    let patient_rows = |r: &serde_json::Value| reg.extract(r).into_iter().filter(|row| row.param() == "patient").count();
    assert_eq!(patient_rows(&on_patient), 1);
    assert_eq!(patient_rows(&on_group), 0);
}

#[test]
fn code_elements_carry_their_bound_system() {
    let reg = registry();
    let rows = reg.extract(&json!({"resourceType": "Patient", "gender": "male", "address": [{"use": "home"}],
        "contact": [{"gender": "female"}], "communication": [{"language": {"coding": [{"code": "nl"}]}}]}));
    let token = |param: &str| -> Vec<(Option<String>, Option<String>)> {
        rows.iter()
            .filter_map(|r| match r {
                IndexRow::Token { param: p, system, code, .. } if p == param => Some((system.clone(), code.clone())),
                _ => None,
            })
            .collect()
    };
    let s = |x: &str| Some(x.to_string());
    assert_eq!(token("gender"), [(s("http://hl7.org/fhir/administrative-gender"), s("male"))]);
    assert_eq!(token("address-use"), [(s("http://hl7.org/fhir/address-use"), s("home"))]);
    // A Coding without a system stays without one: only `code` elements have an implied system.
    assert_eq!(token("language"), [(None, s("nl"))]);
    let n: usize = reg.resource_types().iter().flat_map(|t| reg.params_for(t)).filter(|p| p.implicit_system_count() > 0).count();
    println!("{n} token parameters over code elements with a bound system");
    assert!(n > 100, "{n}");
}

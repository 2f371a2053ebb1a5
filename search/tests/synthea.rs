//! Extraction over the Synthea transaction bundles, checked against the JSON read directly.
mod common;

use common::*;
use search::IndexRow;
use serde_json::Value;

#[test]
fn synthea_bundles_extract_consistently() {
    let reg = registry();
    let dir = format!("{CORPORA}/synthea/fhir-r4");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(!files.is_empty());
    let (mut resources, mut rows_total, mut vq) = (0, 0, 0);
    for f in files {
        let bundle: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        for e in bundle["entry"].as_array().unwrap() {
            let r = &e["resource"];
            let rows = reg.extract(r);
            resources += 1;
            rows_total += rows.len();
            let id = r["id"].as_str().unwrap();
            assert!(
                rows.iter().any(|x| matches!(x, IndexRow::Token { param, code: Some(c), .. } if param == "_id" && c == id)),
                "{id}: no _id row"
            );
            if r["resourceType"] == "Observation" {
                if let Some(q) = r.get("valueQuantity") {
                    vq += 1;
                    let v = q["value"].as_f64().unwrap();
                    let found = rows.iter().find_map(|x| match x {
                        IndexRow::Quantity { param, value, code, .. } if param == "value-quantity" => Some((*value, code.clone())),
                        _ => None,
                    });
                    assert_eq!(found, Some((v, q["code"].as_str().map(str::to_string))), "{id}");
                }
                if let Some(s) = r.pointer("/subject/reference").and_then(Value::as_str) {
                    // Transaction bundles use urn:uuid references: kept as url, with no type or id to invent.
                    let subj = rows.iter().find(|x| x.param() == "subject").unwrap();
                    let IndexRow::Reference { target_type, target_id, url, .. } = subj else { panic!() };
                    assert_eq!((target_type, target_id, url.as_deref()), (&None, &None, Some(s)));
                    // `patient` is `subject.where(resolve() is Patient)`: unknown type, so not indexed.
                    assert!(rows.iter().all(|x| x.param() != "patient"), "{id}");
                }
            }
            if r["resourceType"] == "DiagnosticReport" {
                if let Some(issued) = r["issued"].as_str() {
                    let (lo, _) = search::extract::date_range(issued).unwrap();
                    assert!(rows.contains(&IndexRow::Date { param: "issued".into(), low: lo, high: lo }), "{id}: instant is a point");
                }
            }
            if r["resourceType"] == "Patient" {
                let fam = r["name"][0]["family"].as_str().unwrap();
                assert!(rows.iter().any(|x| matches!(x, IndexRow::String { param, value_exact, .. } if param == "family" && value_exact == fam)));
            }
        }
    }
    println!("synthea: {resources} resources, {rows_total} index rows, {vq} valueQuantity observations");
    assert!(vq > 100);
}

//! Acceptance 1: every R4 example survives JSON → XML → JSON unchanged.
//! Failures must be listed, with their reason, in `roundtrip-exceptions.tsv`; the test fails
//! if that list is wrong in either direction.

mod common;

use std::collections::BTreeMap;

#[test]
fn every_r4_example_round_trips() {
    let model = common::model();
    let dir = common::corpora().join("fhir-r4-examples");
    let index = std::fs::read_to_string(dir.join("index.tsv")).expect("index.tsv");
    let listed: BTreeMap<String, String> = include_str!("roundtrip-exceptions.tsv")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .map(|(f, r)| (f.to_owned(), r.to_owned()))
        .collect();

    let (mut total, mut passed) = (0, 0);
    let mut failed: BTreeMap<String, String> = BTreeMap::new();
    for line in index.lines().skip(1) {
        let Some(file) = line.split('\t').next().filter(|f| !f.is_empty()) else { continue };
        total += 1;
        let text = std::fs::read_to_string(dir.join("examples").join(file)).expect("example file");
        let json: serde_json::Value = serde_json::from_str(&text).expect("example is JSON");
        let outcome = fhir_xml::json_to_xml(&json, &model)
            .map_err(|e| format!("json→xml: {e}"))
            .and_then(|xml| fhir_xml::xml_to_json(&xml, &model).map_err(|e| format!("xml→json: {e}")))
            .and_then(|back| match common::json_diff(&json, &back) {
                None => Ok(()),
                Some(d) => Err(format!("differs at {d}")),
            });
        match outcome {
            Ok(()) => passed += 1,
            Err(why) => {
                failed.insert(file.to_owned(), why);
            }
        }
    }
    println!("round trip: {passed} of {total} R4 examples identical, {} listed exceptions", listed.len());
    for (f, why) in &failed {
        println!("FAILED {f}: {why}");
    }
    let unlisted: Vec<_> = failed.keys().filter(|f| !listed.contains_key(*f)).collect();
    let stale: Vec<_> = listed.keys().filter(|f| !failed.contains_key(*f)).collect();
    assert!(total > 700, "expected the whole examples corpus, read {total}");
    assert!(unlisted.is_empty(), "failures not listed in roundtrip-exceptions.tsv: {unlisted:?}");
    assert!(stale.is_empty(), "listed exceptions that now pass (remove them): {stale:?}");
}

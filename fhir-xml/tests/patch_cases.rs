//! Acceptance 3: every resource in the 33 FHIRPath Patch cases (`<input>`, `<diff>` — a
//! Parameters — and `<output>`) converts to JSON, as the FHIRPath Patch tests will need.

mod common;

use quick_xml::events::Event;
use quick_xml::name::QName;

/// (case name, wrapper element, resource XML) for every wrapped resource in the test file.
fn wrapped_resources(xml: &str) -> Vec<(String, String, String)> {
    let mut r = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    let mut case = String::new();
    loop {
        match r.read_event().expect("the test file is well-formed") {
            Event::Start(e) if e.name().as_ref() == "case" => {
                case = e
                    .try_get_attribute("name")
                    .ok()
                    .flatten()
                    .map(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).unwrap().into_owned())
                    .unwrap_or_default();
            }
            Event::Start(e) if matches!(e.name().as_ref(), "input" | "diff" | "output") => {
                let wrapper = e.name().as_ref().to_owned();
                let span = r.read_to_end(QName(&wrapper)).unwrap();
                out.push((case.clone(), wrapper, xml[span.start as usize..span.end as usize].to_owned()));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

#[test]
fn every_fhirpath_patch_resource_converts() {
    let model = common::model();
    let path = common::corpora().join("fhir-test-cases-r4-misc/patch/fhir-patch-tests.xml");
    let xml = std::fs::read_to_string(path).expect("fhir-patch-tests.xml");
    let cases = xml.matches("<case ").count();
    assert_eq!(cases, 33);
    let resources = wrapped_resources(&xml);
    let mut failures = Vec::new();
    let (mut inputs, mut diffs, mut outputs) = (0, 0, 0);
    for (case, wrapper, text) in &resources {
        match fhir_xml::xml_to_json(text, &model) {
            Ok(json) => {
                let rt = json["resourceType"].as_str().unwrap_or_default();
                match wrapper.as_str() {
                    "diff" => {
                        assert_eq!(rt, "Parameters", "{case}");
                        diffs += 1;
                    }
                    "input" => inputs += 1,
                    _ => outputs += 1,
                }
                // And back: what the patch engine produces must serialize again.
                let again = fhir_xml::json_to_xml(&json, &model).and_then(|x| fhir_xml::xml_to_json(&x, &model));
                assert_eq!(again.as_ref().ok(), Some(&json), "{case} <{wrapper}> does not round-trip: {again:?}");
            }
            Err(e) => failures.push(format!("{case} <{wrapper}>: {e}")),
        }
    }
    println!("FHIRPath Patch: {inputs} inputs, {diffs} diffs, {outputs} outputs converted");
    assert!(failures.is_empty(), "{failures:#?}");
    // One case ("Operation on missing element") expects an error instead of an output.
    assert_eq!((inputs, diffs, outputs), (33, 33, 32));
}

//! Acceptance 4: bad input is an error with a location, and no input makes the codec panic.

mod common;

use serde_json::{json, Value};

fn xml_err(xml: &str) -> fhir_xml::Error {
    match fhir_xml::xml_to_json(xml, &common::model()) {
        Ok(v) => panic!("accepted: {xml}\n→ {v}"),
        Err(e) => e,
    }
}

fn json_err(v: Value) -> fhir_xml::Error {
    match fhir_xml::json_to_xml(&v, &common::model()) {
        Ok(x) => panic!("accepted: {v}\n→ {x}"),
        Err(e) => e,
    }
}

const P: &str = r#"<Patient xmlns="http://hl7.org/fhir">"#;

#[test]
fn unknown_element_names_its_path_and_line() {
    let e = xml_err(&format!(
        "{P}\n  <name>\n    <family value=\"F\"/>\n    <nickname value=\"x\"/>\n  </name>\n</Patient>"
    ));
    assert_eq!(e.expression.as_deref(), Some("Patient.name[0].nickname"), "{e}");
    assert_eq!((e.line, e.column), (Some(4), Some(5)), "{e}");
    assert!(e.message.contains("unknown element 'nickname' in HumanName"), "{e}");
    assert!(e.to_string().contains("line 4"), "{e}");
}

#[test]
fn bad_primitive_values_are_errors() {
    let e = xml_err(&format!("{P}\n<active value=\"yes\"/></Patient>"));
    assert_eq!((e.expression.as_deref(), e.line), (Some("Patient.active"), Some(2)), "{e}");
    assert!(e.message.contains("\"yes\" is not a valid boolean"), "{e}");
    for (el, bad) in
        [("birthDate", "1974-13-01"), ("multipleBirthInteger", "1.5"), ("birthDate", ""), ("gender", " male")]
    {
        xml_err(&format!("{P}<{el} value=\"{bad}\"/></Patient>"));
    }
}

#[test]
fn missing_or_wrong_namespace_is_an_error() {
    let e = xml_err(r#"<Patient><active value="true"/></Patient>"#);
    assert!(e.message.contains("no namespace"), "{e}");
    assert_eq!((e.expression.as_deref(), e.line), (Some("Patient"), Some(1)));
    let e = xml_err(r#"<Patient xmlns="http://hl7.org/fhir/"><active value="true"/></Patient>"#);
    assert!(e.message.contains("namespace http://hl7.org/fhir/"), "{e}");
    let e = xml_err(&format!("{P}<active xmlns=\"urn:x\" value=\"true\"/></Patient>"));
    assert_eq!(e.expression.as_deref(), Some("Patient"), "{e}");
    // A narrative div left in the FHIR namespace.
    let e = xml_err(&format!("{P}<text><status value=\"generated\"/><div>x</div></text></Patient>"));
    assert!(e.message.contains("XHTML"), "{e}");
    assert_eq!(e.expression.as_deref(), Some("Patient.text"), "{e}");
    let e = xml_err(&format!("{P}<text><status value=\"generated\"/><div xmlns=\"http://www.w3.org/1999/xhtml\"><p xmlns=\"urn:x\">x</p></div></text></Patient>"));
    assert!(e.message.contains("not in the XHTML namespace"), "{e}");
}

#[test]
fn mismatched_and_truncated_tags_are_errors_with_a_line() {
    let e = xml_err(&format!("{P}\n<name>\n<family value=\"F\"/>\n</nmae>\n</Patient>"));
    assert!(e.message.contains("malformed XML"), "{e}");
    assert_eq!(e.line, Some(4), "{e}");
    let e = xml_err(&format!("{P}\n<name>\n<family value=\"F\"/>"));
    assert!(e.line.is_some(), "{e}");
    xml_err("");
    xml_err("   ");
    xml_err("<Patient xmlns=\"http://hl7.org/fhir\"");
}

#[test]
fn other_structural_errors() {
    let cases = [
        // text content instead of a value attribute
        format!("{P}<active>true</active></Patient>"),
        // unknown attribute
        format!("{P}<active value=\"true\" foo=\"1\"/></Patient>"),
        // id is an attribute on elements, not a child
        format!("{P}<name><id value=\"x\"/></name></Patient>"),
        // a non-repeating element twice
        format!("{P}<active value=\"true\"/><active value=\"false\"/></Patient>"),
        // two variants of one choice
        format!("{P}<deceasedBoolean value=\"true\"/><deceasedDateTime value=\"2020\"/></Patient>"),
        // choice element without its type suffix
        format!("{P}<deceased value=\"true\"/></Patient>"),
        // a primitive with nothing in it
        format!("{P}<active/></Patient>"),
        // contained without a resource, and with two
        format!("{P}<contained/></Patient>"),
        format!("{P}<contained><Basic/><Basic/></contained></Patient>"),
        // an abstract or unknown resource type
        r#"<DomainResource xmlns="http://hl7.org/fhir"/>"#.into(),
        r#"<HumanName xmlns="http://hl7.org/fhir"/>"#.into(),
        // entities XML does not define, and DTDs
        format!("{P}<text><status value=\"generated\"/><div xmlns=\"http://www.w3.org/1999/xhtml\">a&nbsp;b</div></text></Patient>"),
        format!("<!DOCTYPE x [<!ENTITY e \"y\">]>{P}</Patient>"),
        format!("{P}<name><text value=\"&e;\"/></name></Patient>"),
        // content after the root
        format!("{P}</Patient><Patient/>"),
        // primitive child other than extension
        format!("{P}<active value=\"true\"><foo/></active></Patient>"),
    ];
    for xml in &cases {
        let e = xml_err(xml);
        assert!(
            e.line.is_some() && e.expression.is_some() || xml.starts_with("<!DOCTYPE"),
            "no location for {xml}: {e:?}"
        );
    }
}

#[test]
fn json_errors_name_their_path() {
    let e = json_err(json!({"resourceType": "Patient", "name": [{"family": "F", "nickname": "x"}]}));
    assert_eq!(e.expression.as_deref(), Some("Patient.name[0]"), "{e}");
    assert!(e.message.contains("unknown property 'nickname'"), "{e}");
    let e = json_err(json!({"resourceType": "Patient", "active": "yes"}));
    assert_eq!(e.expression.as_deref(), Some("Patient.active"), "{e}");
    let e = json_err(json!({"resourceType": "Patient", "name": {"family": "F"}}));
    assert_eq!(e.expression.as_deref(), Some("Patient.name"), "{e}");
    json_err(json!({"resourceType": "Patient", "birthDate": 1974}));
    json_err(json!({"resourceType": "Patient", "gender": ["male"]}));
    json_err(json!({"resourceType": "Patient", "_name": [{"id": "x"}]}));
    json_err(json!({"resourceType": "Patient", "_birthDate": {"foo": 1}}));
    json_err(json!({"resourceType": "Patient", "deceasedBoolean": true, "deceasedDateTime": "2020"}));
    json_err(json!({"resourceType": "Patient", "text": {"status": "generated", "div": "<div>no namespace</div>"}}));
    json_err(
        json!({"resourceType": "Patient", "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">unclosed"}}),
    );
    json_err(
        json!({"resourceType": "Patient", "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"/><p/>"}}),
    );
    json_err(json!({"resourceType": "Patient", "name": [{"text": "bell \u{7}"}]}));
    json_err(json!({"resourceType": "Patient", "contained": [{"id": "no-type"}]}));
    json_err(json!({"resourceType": "DomainResource"}));
    json_err(json!({"name": []}));
    json_err(json!([]));
    json_err(json!({"resourceType": "Patient", "name": [{"given": [null]}]}));
}

/// Half of the 2 MiB default of tokio and the test harness: the depth limit must leave a margin.
const STACK_FOR_DEEP_TEST: usize = 1024 * 1024;

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let depth = 300;
    // The XML side also runs on a small stack, to show that the depth limit leaves a margin.
    let xml = format!("{P}{}{}</Patient>", "<extension url=\"u\">".repeat(depth), "</extension>".repeat(depth));
    let small_stack = std::thread::Builder::new().stack_size(STACK_FOR_DEEP_TEST);
    let e = small_stack.spawn(move || xml_err(&xml)).unwrap().join().expect("no stack overflow");
    assert!(e.message.contains("nested"), "{e}");
    // Kept shallow enough for serde_json's recursive drop of the test value itself.
    let mut v = json!({"url": "u", "valueString": "s"});
    for _ in 0..depth {
        v = json!({"url": "u", "extension": [v]});
    }
    let e = json_err(json!({"resourceType": "Patient", "extension": [v]}));
    assert!(e.message.contains("nested"), "{e}");
    // Equally deep XHTML is not recursion, so it is fine.
    let div =
        format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{}x{}</div>", "<b>".repeat(depth), "</b>".repeat(depth));
    let v = fhir_xml::xml_to_json(
        &format!("{P}<text><status value=\"generated\"/>{div}</text></Patient>"),
        &common::model(),
    )
    .unwrap();
    assert_eq!(v["text"]["div"], div.as_str());
}

/// Small deterministic generator so the mutation test needs no extra crate.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

fn sample_documents() -> Vec<String> {
    let model = common::model();
    let mut docs: Vec<String> =
        ["patient-example.xml", "observation-example.xml", "questionnaire-example.xml", "codesystem-example.xml"]
            .iter()
            .map(|f| std::fs::read_to_string(common::corpora().join("fhirpath/input").join(f)).unwrap())
            .collect();
    for f in ["Bundle-bundle-example.json", "Patient-example.json", "PlanDefinition-KDN5.json"] {
        let v: Value = serde_json::from_str(
            &std::fs::read_to_string(common::corpora().join("fhir-r4-examples/examples").join(f)).unwrap(),
        )
        .unwrap();
        docs.push(fhir_xml::json_to_xml_pretty(&v, &model).unwrap());
    }
    docs
}

#[test]
fn truncated_documents_are_errors_not_panics() {
    let model = common::model();
    for doc in sample_documents() {
        let end = doc.trim_end().len();
        let step = (end / 300).max(1);
        let mut cut = 0;
        while cut < end {
            if doc.is_char_boundary(cut) {
                let r = std::panic::catch_unwind(|| fhir_xml::xml_to_json(&doc[..cut], &model));
                match r {
                    Err(_) => panic!("panic on a document truncated at byte {cut}"),
                    Ok(Ok(_)) => panic!("a document truncated at byte {cut} of {end} was accepted"),
                    Ok(Err(e)) => assert!(e.line.is_some(), "no line for truncation at {cut}: {e}"),
                }
            }
            cut += step;
        }
    }
}

#[test]
fn mutated_documents_never_panic() {
    let model = common::model();
    let mut rng = Lcg(42);
    let junk = [
        "<",
        ">",
        "/",
        "\"",
        "&",
        "&amp;",
        "&#0;",
        "&#xFFFFFF;",
        "<!--",
        "]]>",
        "<![CDATA[",
        "xmlns=\"\"",
        "é",
        "\u{0}",
        " ",
        "=",
        "value",
        "<extension>",
        "</name>",
    ];
    let (mut ok, mut err) = (0, 0);
    for doc in sample_documents() {
        for _ in 0..400 {
            let mut m = doc.clone();
            for _ in 0..1 + rng.next(3) {
                let mut at = rng.next(m.len() + 1);
                while !m.is_char_boundary(at) {
                    at -= 1;
                }
                match rng.next(3) {
                    0 => m.insert_str(at, junk[rng.next(junk.len())]),
                    1 => {
                        let mut to = (at + 1 + rng.next(8)).min(m.len());
                        while !m.is_char_boundary(to) {
                            to += 1;
                        }
                        m.replace_range(at..to, "");
                    }
                    _ => {
                        // Swap a letter to change a name without breaking the markup.
                        if let Some((i, c)) = m[at..].char_indices().find(|(_, c)| c.is_ascii_lowercase()) {
                            let r = ((c as u8 - b'a' + 1) % 26 + b'a') as char;
                            m.replace_range(at + i..at + i + 1, &r.to_string());
                        }
                    }
                }
            }
            match std::panic::catch_unwind(|| fhir_xml::xml_to_json(&m, &model)) {
                Err(_) => panic!("panic on mutated input:\n{m}"),
                Ok(Ok(v)) => {
                    ok += 1;
                    // Whatever is accepted must write back out.
                    fhir_xml::json_to_xml(&v, &model)
                        .unwrap_or_else(|e| panic!("accepted but cannot write back: {e}\n{m}"));
                }
                Ok(Err(_)) => err += 1,
            }
        }
    }
    println!("mutations: {ok} accepted, {err} refused");
    assert!(err > ok, "most mutations should be refused ({ok} accepted, {err} refused)");
}

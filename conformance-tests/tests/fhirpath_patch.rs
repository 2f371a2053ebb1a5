//! FHIRPath Patch (fhirpatch.html) through the REST API: the 33 official cases of
//! fhir-test-cases `r4/patch/fhir-patch-tests.xml`, on both backends.

use conformance_tests::{both_backends, corpora, Fhir};
use reqwest::Method;
use serde_json::{json, Value};

/// One `<case>`: XML of the input, the Parameters diff, and the output (or the expected error).
struct Case {
    name: String,
    input: String,
    diff: String,
    output: Option<String>,
}

/// Text between `<tag>` and `</tag>` after `from`, with the end offset.
fn element(text: &str, tag: &str, from: usize) -> Option<(String, usize)> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = text[from..].find(&open)? + from + open.len();
    let end = text[start..].find(&close)? + start;
    Some((text[start..end].trim().to_owned(), end + close.len()))
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(corpora().join("fhir-test-cases-r4-misc/patch/fhir-patch-tests.xml")).expect("fhir-patch-tests.xml");
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(at) = text[pos..].find("<case name=\"") {
        let start = pos + at;
        let end = text[start..].find("</case>").map(|e| start + e).expect("case closes");
        let body = &text[start..end];
        let name = body["<case name=\"".len()..].split('"').next().unwrap().to_owned();
        let (input, _) = element(body, "input", 0).expect("input");
        let (diff, _) = element(body, "diff", 0).expect("diff");
        let output = element(body, "output", 0).map(|(o, _)| o);
        assert!(output.is_some() || body.contains("<error"), "case {name} has neither output nor error");
        out.push(Case { name, input, diff, output });
        pos = end;
    }
    out
}

/// The parts a server sets itself (id, meta) are not the patch's business; narratives compare as
/// XHTML, where `&quot;` and `"` in text are the same character.
fn content(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("id");
        o.remove("meta");
    }
    if let Some(Value::String(div)) = v.pointer_mut("/text/div") {
        *div = div.replace("&quot;", "\"").replace("&apos;", "'");
    }
    v
}

async fn official_cases(f: &Fhir) {
    let model = profiles::Package::r4_core().model();
    let all = cases();
    assert_eq!(all.len(), 33, "the official file holds 33 cases");
    let mut failures = Vec::new();
    for case in &all {
        let to_json = |xml: &str| fhir_xml::xml_to_json(xml, &model).unwrap_or_else(|e| panic!("case {}: XML does not convert: {e}", case.name));
        let input = to_json(&case.input);
        let diff = to_json(&case.diff);
        let rt = input["resourceType"].as_str().unwrap().to_owned();
        let created = f.create(&input).await;
        let path = format!("{rt}/{}", created["id"].as_str().unwrap());
        let r = f.send(Method::PATCH, &path, Some(&diff), &[]).await;
        let now = f.get(&path).await.expect(200).json();
        match &case.output {
            Some(xml) => {
                let expected = to_json(xml);
                if r.status != 200 {
                    failures.push(format!("{}: status {} {}", case.name, r.status, r.text));
                } else if content(r.json()) != content(expected.clone()) || content(now) != content(expected.clone()) {
                    failures.push(format!("{}: got {} want {}", case.name, content(r.json()), content(expected)));
                }
            }
            None => {
                if !(400..500).contains(&r.status) || r.json()["resourceType"] != "OperationOutcome" {
                    failures.push(format!("{}: want a 4xx OperationOutcome, got {} {}", case.name, r.status, r.text));
                }
                if now["meta"]["versionId"] != json!("1") {
                    failures.push(format!("{}: a refused patch stored a new version", case.name));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), all.len(), failures.join("\n"));
}

fn params(ops: Value) -> Value {
    json!({"resourceType": "Parameters", "parameter": ops})
}

fn op(kind: &str, path: &str, extra: Value) -> Value {
    let mut parts = vec![json!({"name": "type", "valueCode": kind}), json!({"name": "path", "valueString": path})];
    parts.extend(extra.as_array().cloned().unwrap_or_default());
    json!({"name": "operation", "part": parts})
}

async fn bad_patches_are_refused_precisely(f: &Fhir) {
    let p = f.create(&json!({"resourceType": "Patient", "gender": "female", "name": [{"family": "A"}, {"family": "B"}]})).await;
    let path = format!("Patient/{}", p["id"].as_str().unwrap());
    let patch = |body: Value| {
        let path = path.clone();
        async move { f.send(Method::PATCH, &path, Some(&body), &[]).await }
    };
    // Syntax error in the path: 400 pointing at the path part.
    let r = patch(params(json!([op("replace", "Patient.gender.(", json!([{"name": "value", "valueCode": "male"}]))]))).await.expect(400);
    assert_eq!(r.issue_expression().as_deref(), Some("Parameters.parameter[0].part[1]"), "{}", r.text);
    // Replace needs exactly one target.
    let r = patch(params(json!([op("replace", "Patient.name.family", json!([{"name": "value", "valueString": "C"}]))]))).await.expect(422);
    assert_eq!(r.issue_expression().as_deref(), Some("Parameters.parameter[0].part[1]"));
    // Unknown operation type.
    let r = patch(params(json!([op("frobnicate", "Patient", json!([]))]))).await.expect(400);
    assert_eq!(r.issue_expression().as_deref(), Some("Parameters.parameter[0].part[0]"));
    // Adding an element the type does not have.
    let r = patch(params(json!([op("add", "Patient", json!([{"name": "name", "valueString": "nmae"}, {"name": "value", "valueString": "x"}]))]))).await.expect(422);
    assert_eq!(r.issue_expression().as_deref(), Some("Parameters.parameter[0].part[2]"));
    // A patch whose result is invalid is refused by validation, and the second operation's failure undoes the first.
    patch(params(json!([op("replace", "Patient.gender", json!([{"name": "value", "valueCode": "nonsense"}]))]))).await.expect(400);
    let r = patch(params(json!([
        op("replace", "Patient.gender", json!([{"name": "value", "valueCode": "male"}])),
        op("insert", "Patient.name", json!([{"name": "index", "valueInteger": 7}, {"name": "value", "valueHumanName": {"family": "Z"}}]))
    ])))
    .await
    .expect(422);
    assert_eq!(r.issue_expression().as_deref(), Some("Parameters.parameter[1].part[2]"));
    let now = f.get(&path).await.expect(200).json();
    assert_eq!((now["gender"].as_str(), now["meta"]["versionId"].as_str()), (Some("female"), Some("1")), "refused patches change nothing");
    // A non-Parameters FHIR body.
    patch(json!({"resourceType": "Patient"})).await.expect(400);
    // Choice types: replace switches the key with the value's type.
    let r = patch(params(json!([
        op("add", "Patient", json!([{"name": "name", "valueString": "deceased"}, {"name": "value", "valueBoolean": false}])),
    ])))
    .await
    .expect(200);
    assert_eq!(r.json()["deceasedBoolean"], json!(false));
    let r = patch(params(json!([op("replace", "Patient.deceased", json!([{"name": "value", "valueDateTime": "2020-01-02"}]))]))).await.expect(200);
    let v = r.json();
    assert_eq!((v.get("deceasedBoolean"), v["deceasedDateTime"].as_str()), (None, Some("2020-01-02")));
}

async fn fhirpath_patch_in_a_transaction(f: &Fhir) {
    let p = f.create(&json!({"resourceType": "Patient", "gender": "female"})).await;
    let id = p["id"].as_str().unwrap();
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [{
        "resource": params(json!([op("replace", "Patient.gender", json!([{"name": "value", "valueCode": "other"}]))])),
        "request": {"method": "PATCH", "url": format!("Patient/{id}")}
    }]});
    let r = f.post("", &bundle).await.expect(200);
    assert_eq!(r.json()["entry"][0]["response"]["status"].as_str().map(|s| s.starts_with("200")), Some(true), "{}", r.text);
    assert_eq!(f.get(&format!("Patient/{id}")).await.json()["gender"], json!("other"));
}

both_backends!(official_cases, bad_patches_are_refused_precisely, fhirpath_patch_in_a_transaction);

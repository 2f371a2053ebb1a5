//! Behaviour the official suite covers thinly: typed choice elements, primitive extensions,
//! resolve() and its hook, memberOf() and its hook, error positions, result identity,
//! variables, the clock, untyped evaluation and the compile cache.

use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use fhirpath::{CheckOptions, Engine, Env, ErrorKind, Item, Resolver, Terminology, Tracer};
use once_cell::sync::Lazy;
use serde_json::{json, Value};

static ENGINE: Lazy<Engine> = Lazy::new(|| Engine::new(Some(profiles::Package::r4_core().model())));

fn eval<'a>(expr: &str, v: &'a Value) -> Vec<Item<'a>> {
    ENGINE.eval(expr, v).unwrap_or_else(|e| panic!("{expr}: {e}"))
}

fn one_bool(expr: &str, v: &Value) -> bool {
    match eval(expr, v).as_slice() {
        [it] => it.as_bool().unwrap_or_else(|| panic!("{expr}: not a boolean")),
        other => panic!("{expr}: {} items", other.len()),
    }
}

fn observation() -> Value {
    // Parsed from text: the `json!` macro would turn 72.50 into the float 72.5.
    let mut v = json!({
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        "effectiveDateTime": "2016-03-28T09:30:00+01:00",
        "valueQuantity": {"value": 72.50, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
        "component": [
            {"code": {"text": "a"}, "valueString": "text"},
            {"code": {"text": "b"}, "valueQuantity": {"value": 1, "code": "mg", "system": "http://unitsofmeasure.org"}}
        ]
    });
    v["valueQuantity"]["value"] = serde_json::from_str("72.50").unwrap();
    v
}

#[test]
fn choice_elements_are_typed_by_their_json_key() {
    let obs = observation();
    let v = eval("Observation.value", &obs);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].type_name(), "FHIR.Quantity");
    assert!(one_bool("Observation.value is FHIR.Quantity", &obs));
    assert!(one_bool("Observation.value.is(Quantity)", &obs));
    assert_eq!(eval("Observation.value.ofType(Quantity).unit", &obs)[0].as_str(), Some("kg"));
    assert_eq!(eval("(Observation.value as Quantity).value", &obs)[0].type_name(), "FHIR.decimal");
    assert!(eval("Observation.value.as(Period)", &obs).is_empty());
    assert_eq!(eval("Observation.effective", &obs)[0].type_name(), "FHIR.dateTime");
    assert!(one_bool("Observation.effective > @2016-03-28T08:00:00Z", &obs));
    // The JSON key is not a FHIRPath name: nothing at run time, an error for the check.
    assert!(eval("Observation.valueQuantity", &obs).is_empty());
    let e = ENGINE.compile("Observation.valueQuantity").unwrap();
    let err = ENGINE.check(&e, "Observation").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Semantic);
    // Operator `as` filters a collection; the function insists on one item.
    assert_eq!(eval("(Observation.component.value as Quantity).value", &obs).len(), 1);
    assert!(ENGINE.eval("Observation.component.value.as(Quantity)", &obs).is_err());
    let types: Vec<String> = eval("Observation.component.value", &obs).iter().map(Item::type_name).collect();
    assert_eq!(types, ["FHIR.string", "FHIR.Quantity"]);
    // Decimals keep the precision written in the JSON.
    assert_eq!(eval("Observation.value.value", &obs)[0].to_json().to_string(), "72.50");
    assert_eq!(eval("Observation.value.value.toString()", &obs)[0].as_str(), Some("72.50"));
}

#[test]
fn primitives_with_extensions() {
    let p = json!({
        "resourceType": "Patient",
        "birthDate": "1974-12-25",
        "_birthDate": {"extension": [{"url": "http://example.org/time", "valueTime": "14:35:45"}]},
        "name": [{"given": ["Peter", null, "Jim"], "_given": [null, {"extension": [{"url": "http://example.org/x", "valueString": "masked"}]}]}],
        "_gender": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}
    });
    let b = eval("Patient.birthDate", &p);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].type_name(), "FHIR.date");
    assert_eq!(b[0].json(), p.get("birthDate"));
    assert!(one_bool("Patient.birthDate.hasValue()", &p));
    assert_eq!(eval("Patient.birthDate.extension.url", &p)[0].as_str(), Some("http://example.org/time"));
    assert_eq!(eval("Patient.birthDate.extension('http://example.org/time').value", &p)[0].type_name(), "FHIR.time");
    assert!(one_bool("Patient.birthDate = @1974-12-25", &p));
    // Arrays align with their `_` companions by index; a null value with an extension is a node without value.
    let given = eval("Patient.name.given", &p);
    assert_eq!(given.len(), 3);
    assert_eq!(given[1].json(), None);
    let has: Vec<bool> = eval("Patient.name.given.select(hasValue())", &p).iter().filter_map(Item::as_bool).collect();
    assert_eq!(has, [true, false, true]);
    assert_eq!(eval("Patient.name.given[1].extension.value", &p)[0].as_str(), Some("masked"));
    // Only `_gender`: the element is there (with its extension) but has no value.
    assert_eq!(eval("Patient.gender", &p).len(), 1);
    assert!(!one_bool("Patient.gender.hasValue()", &p));
    assert!(one_bool("Patient.gender.extension.exists()", &p));
    assert!(eval("Patient.gender.getValue()", &p).is_empty());
    assert_eq!(eval("Patient.birthDate.getValue()", &p)[0].type_name(), "System.Date");
}

#[test]
fn json_points_into_the_input() {
    let p = json!({"resourceType": "Patient", "name": [{"family": "A", "given": ["x", "y"]}, {"family": "B", "given": ["z"]}]});
    let r = eval("Patient.name[1].given[0]", &p);
    assert!(std::ptr::eq(r[0].json().unwrap(), &p["name"][1]["given"][0]));
    let r = eval("Patient.name.where(family = 'B')", &p);
    assert!(std::ptr::eq(r[0].json().unwrap(), &p["name"][1]));
    let r = eval("Patient", &p);
    assert!(std::ptr::eq(r[0].json().unwrap(), &p));
    assert!(eval("'x'", &p)[0].json().is_none());
}

#[test]
fn resolve_contained_bundle_and_hook() {
    let p = json!({
        "resourceType": "Patient",
        "contained": [{"resourceType": "Organization", "id": "org1", "name": "Inner"}],
        "managingOrganization": {"reference": "#org1"},
        "generalPractitioner": [{"reference": "Practitioner/p1"}]
    });
    assert_eq!(eval("Patient.managingOrganization.resolve().name", &p)[0].as_str(), Some("Inner"));
    assert!(one_bool("Patient.managingOrganization.resolve() is Organization", &p));
    assert!(eval("Patient.generalPractitioner.resolve()", &p).is_empty());

    let bundle = json!({
        "resourceType": "Bundle", "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "id": "a", "name": [{"family": "Uuid"}]}},
            {"fullUrl": "http://x.org/fhir/Patient/b", "resource": {"resourceType": "Patient", "id": "b", "name": [{"family": "Typed"}]}},
            {"resource": {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "t"},
                "subject": {"reference": "urn:uuid:1"}, "performer": [{"reference": "Patient/b"}]}}
        ]
    });
    assert_eq!(eval("Bundle.entry[2].resource.subject.resolve().name.family", &bundle)[0].as_str(), Some("Uuid"));
    assert_eq!(eval("Bundle.entry[2].resource.performer.resolve().name.family", &bundle)[0].as_str(), Some("Typed"));

    struct Store;
    impl Resolver for Store {
        fn resolve(&self, reference: &str) -> Option<Value> {
            (reference == "Practitioner/p1").then(|| json!({"resourceType": "Practitioner", "id": "p1", "name": [{"family": "Stored"}]}))
        }
    }
    let store = Store;
    let e = ENGINE.compile("Patient.generalPractitioner.resolve().name.family").unwrap();
    let r = ENGINE.evaluate(&e, &p, &Env::new().with_resolver(&store)).unwrap();
    assert_eq!(r[0].as_str(), Some("Stored"));
    assert_eq!(r[0].type_name(), "FHIR.string");
    assert!(r[0].json().is_none(), "owned results do not point into the input");
    let e = ENGINE.compile("Patient.generalPractitioner.resolve() is Practitioner").unwrap();
    assert_eq!(ENGINE.evaluate(&e, &p, &Env::new().with_resolver(&store)).unwrap()[0].as_bool(), Some(true));
}

struct Vs;
impl Terminology for Vs {
    fn member_of(&self, system: Option<&str>, code: &str, vs: &str) -> Option<bool> {
        if vs != "http://example.org/vs" {
            return None;
        }
        Some(code == "a" && system.is_none_or(|s| s == "http://example.org/cs"))
    }
}

#[test]
fn member_of_through_the_terminology_hook() {
    let r = json!({"resourceType": "Observation", "status": "a",
        "code": {"coding": [{"system": "http://other", "code": "a"}, {"system": "http://example.org/cs", "code": "a"}]},
        "category": [{"coding": [{"system": "http://example.org/cs", "code": "b"}]}]});
    let vs = Vs;
    let env = Env::new().with_terminology(&vs);
    let run = |expr: &str| -> Vec<Option<bool>> {
        let e = ENGINE.compile(expr).unwrap();
        ENGINE.evaluate(&e, &r, &env).unwrap().iter().map(Item::as_bool).collect()
    };
    assert_eq!(run("Observation.status.memberOf('http://example.org/vs')"), [Some(true)]);
    assert_eq!(run("Observation.code.memberOf('http://example.org/vs')"), [Some(true)]);
    assert_eq!(run("Observation.code.coding.memberOf('http://example.org/vs')"), [Some(false), Some(true)]);
    assert_eq!(run("Observation.category.memberOf('http://example.org/vs')"), [Some(false)]);
    assert!(run("Observation.status.memberOf('http://unknown')").is_empty());
    let err = ENGINE.eval("Observation.status.memberOf('http://example.org/vs')", &r).unwrap_err();
    assert!(err.message.contains("terminology"), "{err}");
}

#[test]
fn errors_name_their_position() {
    let err = ENGINE.compile("Patient.name\n  .where(given = 'x'\n  ").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Syntax);
    let p = err.position.unwrap();
    assert_eq!((p.line, p.column), (3, 3));
    assert_eq!(p.offset, "Patient.name\n  .where(given = 'x'\n  ".len());

    let err = ENGINE.compile("Patient.name.frobnicate()").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Semantic);
    assert_eq!(err.position.unwrap().column, 14);
    assert!(err.to_string().contains("1:14"), "{err}");

    let err = ENGINE.compile("name.substring()").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Semantic);

    let err = ENGINE.compile("'abc").unwrap_err();
    assert_eq!((err.kind, err.position.unwrap().offset), (ErrorKind::Syntax, 0));

    let p = json!({"resourceType": "Patient", "name": [{"given": ["a", "b"]}]});
    let err = ENGINE.eval("Patient.active or\n Patient.name.given.single()", &p).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Evaluation);
    let pos = err.position.unwrap();
    assert_eq!((pos.line, pos.column), (2, 21));

    let e = ENGINE.compile("Patient.name.given1").unwrap();
    let err = ENGINE.check(&e, "Patient").unwrap_err();
    assert_eq!((err.kind, err.position.unwrap().column), (ErrorKind::Semantic, 14));
    let e = ENGINE.compile("Encounter.status").unwrap();
    assert!(ENGINE.check(&e, "Patient").is_ok());
    assert!(ENGINE.check_with(&e, "Patient", &CheckOptions { strict: true, ..Default::default() }).is_err());
}

#[test]
fn unsupported_functions_fail_loudly() {
    let p = json!({"resourceType": "Patient"});
    for f in ["Patient.elementDefinition()", "Patient.slice('a', 'b')", "Patient.checkModifiers('x')"] {
        let err = ENGINE.eval(f, &p).unwrap_err();
        assert!(err.message.contains("not supported"), "{f}: {err}");
    }
}

#[test]
fn variables_context_and_clock() {
    let p = json!({"resourceType": "Patient", "id": "p", "birthDate": "2000-02-29"});
    let other = json!({"resourceType": "Organization", "name": "Org"});
    let env = Env::new()
        .with_variable("n", vec![Item::Integer(3)])
        .with_variable("org", &other)
        .with_variable("owned", json!({"resourceType": "Patient", "id": "q"}))
        .with_variable("s", "text")
        .with_now(UNIX_EPOCH + Duration::from_secs(86_400 * 365 * 30));
    let run = |expr: &str| -> Vec<Value> {
        let e = ENGINE.compile(expr).unwrap();
        ENGINE.evaluate(&e, &p, &env).unwrap().iter().map(Item::to_json).collect()
    };
    assert_eq!(run("%n + 1"), [json!(4)]);
    assert_eq!(run("%org.name"), [json!("Org")]);
    assert_eq!(run("%owned.id"), [json!("q")]);
    assert_eq!(run("%s.upper()"), [json!("TEXT")]);
    assert_eq!(run("%resource.id"), [json!("p")]);
    assert_eq!(run("%context.id"), [json!("p")]);
    assert_eq!(run("today()"), [json!("1999-12-25")]);
    assert_eq!(run("today() > Patient.birthDate"), [json!(false)]);
    assert_eq!(run("Patient.birthDate + 1 year"), [json!("2001-02-28")]);
    let err = ENGINE.eval("%nope", &p).unwrap_err();
    assert!(err.message.contains("%nope"));
    let ctx = json!({"resourceType": "Patient", "id": "ctx"});
    let e = ENGINE.compile("%context.id").unwrap();
    let env = Env::new().with_context(&ctx);
    assert_eq!(ENGINE.evaluate(&e, &p, &env).unwrap()[0].as_str(), Some("ctx"));
}

#[test]
fn trace_goes_to_the_tracer() {
    struct Collect(Mutex<Vec<(String, usize)>>);
    impl Tracer for Collect {
        fn trace(&self, name: &str, items: &[Item<'_>]) {
            self.0.lock().unwrap().push((name.to_owned(), items.len()));
        }
    }
    let t = Collect(Mutex::new(Vec::new()));
    let p = json!({"resourceType": "Patient", "name": [{"given": ["a", "b"]}]});
    let e = ENGINE.compile("Patient.name.given.trace('g').count()").unwrap();
    let r = ENGINE.evaluate(&e, &p, &Env::new().with_tracer(&t)).unwrap();
    assert_eq!(r[0].as_integer(), Some(2));
    assert_eq!(*t.0.lock().unwrap(), [("g".to_owned(), 2)]);
}

#[test]
fn untyped_engine_guesses_from_json() {
    let engine = Engine::new(None);
    let obs = observation();
    let r = engine.eval("Observation.value.unit", &obs).unwrap();
    assert_eq!(r[0].as_str(), Some("kg"));
    assert_eq!(engine.eval("Observation.value is Quantity", &obs).unwrap()[0].as_bool(), Some(true));
    assert_eq!(engine.eval("Observation.value > 70 'kg'", &obs).unwrap()[0].as_bool(), Some(true));
    // Strings that look like dates compare as dates when the type is unknown.
    assert_eq!(engine.eval("Observation.effective > @2016", &obs).unwrap().len(), 0);
    assert_eq!(engine.eval("Observation.effective > @2016-03-27", &obs).unwrap()[0].as_bool(), Some(true));
    assert_eq!(engine.eval("Observation.component.count()", &obs).unwrap()[0].as_integer(), Some(2));
    assert_eq!(engine.eval("Resource.status", &obs).unwrap()[0].as_str(), Some("final"));
}

#[test]
fn compile_is_cached_and_engine_is_shareable() {
    let a = ENGINE.compile("Patient.name.given").unwrap();
    let b = ENGINE.compile("Patient.name.given").unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    let p = Arc::new(json!({"resourceType": "Patient", "name": [{"given": ["x"]}]}));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let p = p.clone();
            std::thread::spawn(move || ENGINE.eval("Patient.name.given.count()", &p).unwrap()[0].as_integer())
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), Some(1));
    }
}

#[test]
fn system_values_to_json() {
    let v = Value::Null;
    let q = eval("1.50 'mg'", &v);
    let want: Value = serde_json::from_str(r#"{"value": 1.50, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}"#).unwrap();
    assert_eq!(q[0].to_json(), want);
    assert_eq!(q[0].to_json()["value"].to_string(), "1.50");
    assert_eq!(eval("@2014-01-02T10:30:00.000+02:00", &v)[0].to_json(), json!("2014-01-02T10:30:00.000+02:00"));
    assert_eq!(eval("@T10:30", &v)[0].to_json(), json!("10:30"));
    assert_eq!(eval("4 days", &v)[0].to_json(), json!({"value": 4, "unit": "days"}));
    assert_eq!(eval("1.type()", &v)[0].to_json(), json!({"namespace": "System", "name": "Integer"}));
}

#[test]
fn conforms_to_checks_core_types_and_the_hook() {
    let p = json!({"resourceType": "Patient"});
    assert!(one_bool("conformsTo('http://hl7.org/fhir/StructureDefinition/Patient')", &p));
    assert!(one_bool("conformsTo('http://hl7.org/fhir/StructureDefinition/DomainResource')", &p));
    assert!(!one_bool("conformsTo('http://hl7.org/fhir/StructureDefinition/Person')", &p));
    assert!(ENGINE.eval("conformsTo('http://example.org/profile')", &p).is_err());
    struct Yes;
    impl fhirpath::Conformance for Yes {
        fn conforms_to(&self, _: &Value, url: &str) -> Option<bool> {
            (url == "http://example.org/profile").then_some(true)
        }
    }
    let y = Yes;
    let e = ENGINE.compile("conformsTo('http://example.org/profile')").unwrap();
    assert_eq!(ENGINE.evaluate(&e, &p, &Env::new().with_conformance(&y)).unwrap()[0].as_bool(), Some(true));
}

#[test]
fn html_checks_on_narrative() {
    let ok = json!({"resourceType": "Patient", "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Hi</p></div>"}});
    let bad = json!({"resourceType": "Patient", "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><script>x</script></div>"}});
    assert!(one_bool("text.div.htmlChecks()", &ok));
    assert!(!one_bool("text.div.htmlChecks()", &bad));
}

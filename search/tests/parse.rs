//! Query parsing: accepted forms, result parameters, and every strict refusal naming its parameter.
mod common;

use common::*;
use search::SqlArg;

/// (resource type, query, parameter the error must name, text its message must contain)
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, &'a str);

fn err(rt: &str, pairs: &[(&str, &str)]) -> (String, String) {
    match registry().parse_query(rt, &q(pairs)) {
        Ok(query) => panic!("{pairs:?} was accepted: {:?}", query.filters),
        Err(e) => (e.param, e.message),
    }
}

#[test]
fn accepts_good_queries() {
    let good: &[(&str, &[(&str, &str)])] = &[
        ("Patient", &[("name", "peter"), ("name:exact", "Peter"), ("name:contains", "et"), ("family:missing", "true")]),
        ("Patient", &[("identifier", "http://x|1"), ("identifier", "|1"), ("identifier", "http://x|"), ("identifier", "1,2")]),
        ("Patient", &[("identifier:of-type", "http://t|MR|1"), ("gender:not", "male"), ("language:text", "dutch")]),
        ("Patient", &[("birthdate", "1970"), ("birthdate", "ge1970-01"), ("birthdate", "lt1970-01-01T10:00:00+01:00")]),
        ("Patient", &[("birthdate", "sa2000-01-01T00:00Z"), ("birthdate", "eb2001"), ("birthdate", "ap2000"), ("birthdate", "ne2000")]),
        ("Patient", &[("organization", "Organization/1"), ("organization", "1"), ("organization:Organization", "1")]),
        ("Patient", &[("organization", "http://example.org/fhir/Organization/1"), ("organization:identifier", "http://x|1")]),
        ("Patient", &[("general-practitioner", "Practitioner/1/_history/2"), ("link:missing", "false")]),
        ("Patient", &[("_id", "a-b.c"), ("_lastUpdated", "gt2020-01-01T00:00:00.123Z"), ("_tag", "http://s|c"), ("_profile", "http://p")]),
        ("Patient", &[("deceased", "true")]),
        ("Patient", &[("_security", "R"), ("_source", "http://src")]),
        ("Observation", &[("value-quantity", "5.4|http://unitsofmeasure.org|mg"), ("value-quantity", "gt5.4||mg"), ("value-quantity", "le1e2")]),
        ("RiskAssessment", &[("probability", "0.5"), ("probability", "-1"), ("probability", "ap1.50")]),
        ("Questionnaire", &[("url", "http://x/y"), ("url:below", "http://x"), ("url:above", "http://x/y/z")]),
        ("Observation", &[("code", "a\\,b"), ("code", "sys\\|x|c")]),
        ("Observation", &[("code-value-quantity", "http://loinc.org|1$gt5,2$le1e2|http://unitsofmeasure.org|mg"), ("combo-code-value-concept", "a$b|c")]),
    ];
    for (rt, pairs) in good {
        let query = registry().parse_query(rt, &q(pairs)).unwrap_or_else(|e| panic!("{rt} {pairs:?}: {e}"));
        assert_eq!(query.filters.len(), pairs.len());
        let sql = query.to_sql(1);
        assert!(sql.sql.contains(&format!("${}", sql.args.len())));
    }
}

#[test]
fn escapes_are_honoured() {
    let query = registry().parse_query("Observation", &q(&[("code", "a\\,b"), ("code", "sys\\|x|c")])).unwrap();
    let args = query.to_sql(1).args;
    assert!(args.contains(&SqlArg::Text("a,b".into())), "{args:?}");
    assert!(args.contains(&SqlArg::Text("sys|x".into())), "{args:?}");
    assert!(args.contains(&SqlArg::Text("c".into())), "{args:?}");
}

#[test]
fn result_parameters_go_to_control_in_order() {
    let pairs = [
        ("_count", "10"),
        ("name", "x"),
        ("_sort", "-birthdate"),
        ("_include", "Patient:organization"),
        ("_revinclude:iterate", "Observation:subject"),
        ("_summary", "count"),
        ("_elements", "id,name"),
        ("_total", "accurate"),
        ("_contained", "true"),
        ("_format", "json"),
        ("_pretty", "true"),
        ("_cursor", "42"),
    ];
    let query = registry().parse_query("Patient", &q(&pairs)).unwrap();
    assert_eq!(query.filters.len(), 1);
    let want: Vec<(String, String)> = q(&pairs).into_iter().filter(|(k, _)| k != "name").collect();
    assert_eq!(query.control, want);
    assert_eq!(registry().parse_query("Patient", &q(&[("_count", "5")])).unwrap().to_sql(1).sql, "1=1");
}

#[test]
fn strict_errors_name_the_parameter() {
    let cases: &[Case] = &[
        // unknown parameter / modifier
        ("Patient", &[("nosuch", "x")], "nosuch", "unknown"),
        ("Patient", &[("name", "x"), ("value-quantity", "1")], "value-quantity", "unknown"),
        ("Patient", &[("name:fuzzy", "x")], "name:fuzzy", "unknown modifier"),
        ("Patient", &[("gender:exact", "male")], "gender:exact", "unknown modifier"),
        ("Patient", &[("birthdate:exact", "2000")], "birthdate:exact", "unknown modifier"),
        ("Patient", &[("organization:Nonsense", "1")], "organization:Nonsense", "unknown modifier"),
        ("Patient", &[("organization:Patient", "1")], "organization:Patient", "not a target type"),
        // malformed values
        ("Patient", &[("birthdate", "2000-13")], "birthdate", "not a valid date"),
        ("Patient", &[("birthdate", "xx2000")], "birthdate", "not a valid date"),
        ("Patient", &[("birthdate", "2000-02-30")], "birthdate", "not a valid date"),
        ("Patient", &[("_lastUpdated", "yesterday")], "_lastUpdated", "not a valid date"),
        ("Patient", &[("gender:missing", "maybe")], "gender:missing", "true or false"),
        ("Patient", &[("identifier", "a|b|c")], "identifier", "more than one"),
        ("Patient", &[("identifier", "|")], "identifier", "empty"),
        ("Patient", &[("identifier:of-type", "a|b")], "identifier:of-type", "system|code|value"),
        ("Patient", &[("name", "")], "name", "empty"),
        ("Patient", &[("name", "a,,b")], "name", "empty"),
        ("Patient", &[("_id", "a b")], "_id", "not a valid id"),
        ("Patient", &[("organization", "not a ref!")], "organization", "not a reference"),
        ("Patient", &[("organization:identifier", "|")], "organization:identifier", "system|value"),
        ("RiskAssessment", &[("probability", "abc")], "probability", "not a valid number"),
        ("RiskAssessment", &[("probability", "gt")], "probability", "not a valid number"),
        ("Observation", &[("value-quantity", "5|a")], "value-quantity", "number|system|code"),
        ("Observation", &[("value-quantity", "x|a|b")], "value-quantity", "no valid number"),
        ("Observation", &[("value-quantity", "5|http://u|")], "value-quantity", "needs a code"),
        // chains and _has
        ("Observation", &[("code.name", "x")], "code.name", "only reference parameters can be chained"),
        ("Observation", &[("subject:Basic.name", "x")], "subject:Basic.name", "not a target type"),
        ("Observation", &[("subject:Nope.name", "x")], "subject:Nope.name", "not a resource type"),
        ("Observation", &[("subject.nonsense", "x")], "subject.nonsense", "no target type of 'subject'"),
        ("Observation", &[("subject:Patient.birthdate", "notadate")], "subject:Patient.birthdate", "not a valid date"),
        ("Observation", &[("subject:Patient.organization.name:frob", "x")], "subject:Patient.organization.name:frob", "unknown modifier"),
        ("Observation", &[("subject:Patient._count", "x")], "subject:Patient._count", "cannot be chained"),
        ("Patient", &[("_has:Observation:patient", "1234")], "_has:Observation:patient", "_has:Type:reference:parameter"),
        ("Patient", &[("_has", "1234")], "_has", "_has:Type:reference:parameter"),
        ("Patient", &[("_has:Nope:patient:code", "1")], "_has:Nope:patient:code", "not a resource type"),
        ("Patient", &[("_has:Observation:code:code", "1")], "_has:Observation:code:code", "not a reference parameter"),
        ("Patient", &[("_has:Observation:nope:code", "1")], "_has:Observation:nope:code", "unknown search parameter 'nope'"),
        ("Organization", &[("_has:Observation:patient:code", "1")], "_has:Observation:patient:code", "never points at Organization"),
        ("Patient", &[("_has:Observation:patient:nope", "1")], "_has:Observation:patient:nope", "unknown search parameter 'nope' for Observation"),
        (
            "Observation",
            &[("subject:Patient.organization.partof.partof.partof.partof.name", "x")],
            "subject:Patient.organization.partof.partof.partof.partof.name",
            "nest at most",
        ),
        // without a terminology source, or not supported yet
        ("Observation", &[("code:in", "http://vs")], "code:in", "no terminology is available"),
        ("Observation", &[("code:not-in", "http://vs")], "code:not-in", "no terminology is available"),
        ("Observation", &[("code:above", "http://s|c")], "code:above", "no terminology is available"),
        ("Observation", &[("code:below", "http://s|c")], "code:below", "no terminology is available"),
        ("Observation", &[("subject:above", "Patient/1")], "subject:above", "not supported yet"),
        ("Observation", &[("code-value-quantity", "http://loinc.org|1")], "code-value-quantity", "takes 2 joined by '$'"),
        ("Observation", &[("code-value-quantity:not", "1$5")], "code-value-quantity:not", "does not apply to a composite"),
        ("Location", &[("near", "42|-71|10|furlong")], "near", "unit 'furlong'"),
        ("Patient", &[("phonetic", "smith")], "phonetic", "not supported yet"),
        ("Patient", &[("_text", "\"x")], "_text", "unbalanced"),
        ("Patient", &[("_content:exact", "x")], "_content:exact", "takes no modifier"),
        ("Patient", &[("_filter", "name xx x")], "_filter", "not a filter operator"),
        ("Patient", &[("_list", "$current-allergies")], "_list", "functional list"),
        ("Patient", &[("_type", "Patient")], "_type", "system-level search"),
        ("Patient", &[("_query", "q")], "_query", "not supported yet"),
        ("Observation", &[("subject", "http://x/Patient/1|2")], "subject", "not supported yet"),
        ("Patient", &[("_id:exact", "x")], "_id:exact", "only :not"),
    ];
    for (rt, pairs, param, msg) in cases {
        let (p, m) = err(rt, pairs);
        assert_eq!(&p, param, "{pairs:?}: {m}");
        assert!(m.contains(msg), "{pairs:?}: message '{m}' lacks '{msg}'");
    }
}

#[test]
fn sql_shape() {
    let query = registry()
        .parse_query("Patient", &q(&[("family", "smi"), ("gender:missing", "true"), ("_lastUpdated", "ge2020")]))
        .unwrap();
    let f = query.to_sql(2);
    println!("{}\n{:?}", f.sql, f.args);
    assert_eq!(
        f.sql,
        "(r.rid IN (SELECT DISTINCT x.rid FROM idx_string x WHERE x.res_type = $2 AND x.param = $3 AND ((x.value_norm >= $4 AND x.value_norm < $5)))) \
         AND (r.rid NOT IN (SELECT x.rid FROM idx_token x WHERE x.res_type = $6 AND x.param = $7)) \
         AND (((r.last_updated > $8 OR (r.last_updated >= $9 AND r.last_updated <= $10))))"
    );
    assert_eq!(f.args[2], SqlArg::Text("smi".into()));
    assert_eq!(f.args[3], SqlArg::Text("smj".into()));
    assert_eq!(f.args.len(), 9);
}

/// The index-row statement of a page reads the reference set first, whatever the parameters'
/// order: SQLite favours the first set, and a token such as category=vital-signs can match most
/// rows where a reference names one resource's.
#[test]
fn rid_source_reads_references_first() {
    let source = |pairs: &[(&str, &str)]| {
        let query = registry().parse_query("Observation", &q(pairs)).unwrap();
        search::rid_source(&[query], search::ContainedMode::Stored).expect("index rows only").page(None, true, 51)
    };
    let token_first = source(&[("category", "vital-signs"), ("patient", "Patient/p1")]);
    let reference_first = source(&[("patient", "Patient/p1"), ("category", "vital-signs")]);
    assert!(token_first.sql.starts_with("SELECT DISTINCT s1.rid FROM (SELECT x.rid FROM idx_reference x "), "{}", token_first.sql);
    assert_eq!(token_first.sql, reference_first.sql);
    assert_eq!(token_first.args, reference_first.args);
}

/// PostgreSQL keeps one plan for a page only where one plan serves every value: one parameter's
/// index rows (its alternatives included), not a join of two parameters' rows nor `_has`.
#[test]
fn rid_source_says_when_one_plan_fits_all_values() {
    let fits = |rt: &str, pairs: &[(&str, &str)]| {
        let query = registry().parse_query(rt, &q(pairs)).unwrap();
        search::rid_source(&[query], search::ContainedMode::Stored).expect("index rows only").plan_fits_all_values()
    };
    assert!(fits("Observation", &[("code", "http://loinc.org|8867-4")]));
    assert!(fits("Observation", &[("code", "http://loinc.org|8867-4,http://loinc.org|8310-5")]));
    assert!(fits("Observation", &[("value-quantity", "gt5|http://unitsofmeasure.org|mg")]));
    assert!(!fits("Observation", &[("category", "vital-signs"), ("patient", "Patient/p1")]));
    assert!(!fits("Observation", &[("code", "http://loinc.org|8867-4"), ("code", "http://loinc.org|8310-5")]));
    assert!(!fits("Patient", &[("_has:Observation:patient:code", "http://loinc.org|8867-4")]));
}

/// Only one UCUM quantity value, alone, is read from a window of its unit's rows in rid order;
/// two values, a unit without a canonical form, or another parameter beside it are not.
#[test]
fn rid_source_windows_one_ucum_quantity_alone() {
    let window = |pairs: &[(&str, &str)]| {
        let query = registry().parse_query("Observation", &q(pairs)).unwrap();
        search::rid_source(&[query], search::ContainedMode::Stored).expect("index rows only").window_page(Some(7), true, 51, 408)
    };
    let w = window(&[("value-quantity", "gt5|http://unitsofmeasure.org|mg")]).expect("a window");
    assert!(w.sql.contains("INDEXED BY idx_quantity_canon_rid") && w.sql.contains("OFFSET"), "{}", w.sql);
    // The unit's canonical form is bound for the window's edge, the cursor for the edge and each arm.
    let (_, unit) = search::extract::ucum_canonical(Some("http://unitsofmeasure.org"), Some("mg")).unwrap();
    assert!(w.args.contains(&search::SqlArg::Text(unit)), "{:?}", w.args);
    assert_eq!(w.args.iter().filter(|a| **a == search::SqlArg::Int(7)).count(), 3, "{:?}", w.args);
    assert!(window(&[("value-quantity", "gt5|http://unitsofmeasure.org|mg,lt2|http://unitsofmeasure.org|mg")]).is_none());
    assert!(window(&[("value-quantity", "gt5|urn:other|mg")]).is_none());
    assert!(window(&[("value-quantity", "gt5|http://unitsofmeasure.org|mg"), ("patient", "Patient/p1")]).is_none());
    assert!(window(&[("code", "http://loinc.org|8867-4")]).is_none());
}

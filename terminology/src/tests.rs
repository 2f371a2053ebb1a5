//! Behaviour tests over small hand-written CodeSystems and ValueSets.

use serde_json::{json, Value};

use crate::*;

const ZOO: &str = "http://example.org/cs/zoo";

/// animal > mammal > {dog, cat}, animal > bird > parrot; pet is a second parent of cat and
/// parrot (via `parent`/`child` properties); rock is retired; pet is notSelectable.
fn zoo() -> Value {
    json!({
        "resourceType": "CodeSystem", "url": ZOO, "version": "2", "content": "complete",
        "filter": [{"code": "cute", "operator": ["="], "value": "true or false"}],
        "property": [
            {"code": "legs", "type": "integer"},
            {"code": "colour", "type": "string"},
            {"code": "status", "uri": "http://hl7.org/fhir/concept-properties#status", "type": "code"},
            {"code": "notSelectable", "uri": "http://hl7.org/fhir/concept-properties#notSelectable", "type": "boolean"}
        ],
        "concept": [
            {"code": "animal", "display": "Animal", "concept": [
                {"code": "mammal", "display": "Mammal", "concept": [
                    {"code": "dog", "display": "Dog", "property": [{"code": "legs", "valueInteger": 4}, {"code": "colour", "valueString": "brown"}]},
                    {"code": "cat", "display": "Cat", "property": [{"code": "legs", "valueInteger": 4}, {"code": "parent", "valueCode": "pet"}]}
                ]},
                {"code": "bird", "display": "Bird", "concept": [
                    {"code": "parrot", "display": "Parrot", "property": [{"code": "legs", "valueInteger": 2}, {"code": "colour", "valueString": "green"}]}
                ]}
            ]},
            {"code": "pet", "display": "Pet", "property": [
                {"code": "child", "valueCode": "parrot"},
                {"code": "notSelectable", "valueBoolean": true}
            ]},
            {"code": "rock", "display": "Rock", "property": [{"code": "status", "valueCode": "retired"}]}
        ]
    })
}

fn zoo_v1() -> Value {
    json!({
        "resourceType": "CodeSystem", "url": ZOO, "version": "1", "content": "complete",
        "concept": [{"code": "animal"}, {"code": "unicorn"}]
    })
}

fn vs(compose: Value) -> Value {
    json!({"resourceType": "ValueSet", "url": "http://example.org/vs/test", "compose": compose})
}

fn defs(extra: impl IntoIterator<Item = Value>) -> InMemory {
    let mut d = InMemory::new([zoo(), zoo_v1()]);
    for r in extra {
        d.add(r);
    }
    d
}

fn codes(result: Result<Vec<Coding>, TxError>) -> Vec<String> {
    result.unwrap_or_else(|e| panic!("expansion failed: {e}")).into_iter().map(|c| c.code).collect()
}

fn expand_codes(compose: Value, d: &InMemory) -> Vec<String> {
    codes(expand(&vs(compose), d))
}

fn expand_err(compose: Value, d: &InMemory) -> TxError {
    match expand(&vs(compose), d) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e,
    }
}

fn filter(property: &str, op: &str, value: &str) -> Value {
    json!({"include": [{"system": ZOO, "filter": [{"property": property, "op": op, "value": value}]}]})
}

// ---- subsumption -------------------------------------------------------------------------

#[test]
fn descendants_follow_nesting_and_properties() {
    let d = defs([]);
    assert_eq!(
        descendants_or_self(ZOO, "animal", &d).unwrap(),
        ["animal", "mammal", "dog", "cat", "bird", "parrot"]
    );
    assert_eq!(descendants_or_self(ZOO, "pet", &d).unwrap(), ["cat", "parrot", "pet"]);
    assert_eq!(descendants_or_self(ZOO, "dog", &d).unwrap(), ["dog"]);
}

#[test]
fn ancestors_follow_every_parent() {
    let d = defs([]);
    assert_eq!(ancestors_or_self(ZOO, "cat", &d).unwrap(), ["animal", "mammal", "cat", "pet"]);
    assert_eq!(ancestors_or_self(ZOO, "parrot", &d).unwrap(), ["animal", "bird", "parrot", "pet"]);
    assert_eq!(ancestors_or_self(ZOO, "rock", &d).unwrap(), ["rock"]);
}

#[test]
fn subsumption_honours_explicit_version() {
    let d = defs([]);
    assert_eq!(descendants_or_self(&format!("{ZOO}|1"), "animal", &d).unwrap(), ["animal"]);
    let err = descendants_or_self(&format!("{ZOO}|1"), "dog", &d).unwrap_err();
    assert_eq!(err, TxError::UnknownCode { system: ZOO.into(), code: "dog".into() });
}

#[test]
fn subsumption_survives_cycles() {
    let cyclic = json!({
        "resourceType": "CodeSystem", "url": "http://example.org/cycle", "content": "complete",
        "concept": [
            {"code": "a", "concept": [{"code": "b", "concept": [{"code": "c"}]}]},
            {"code": "c", "property": [{"code": "child", "valueCode": "a"}]}
        ]
    });
    let d = InMemory::new([cyclic]);
    assert_eq!(descendants_or_self("http://example.org/cycle", "b", &d).unwrap(), ["a", "b", "c"]);
    assert_eq!(ancestors_or_self("http://example.org/cycle", "a", &d).unwrap(), ["a", "b", "c"]);
}

#[test]
fn subsumption_errors_are_precise() {
    let d = defs([json!({"resourceType": "CodeSystem", "url": "http://snomed.info/sct", "content": "not-present"})]);
    assert_eq!(
        descendants_or_self("http://loinc.org", "x", &d).unwrap_err(),
        TxError::UnknownCodeSystem { url: "http://loinc.org".into(), version: None }
    );
    assert_eq!(
        ancestors_or_self("http://snomed.info/sct", "404684003", &d).unwrap_err(),
        TxError::NotEnumerable { url: "http://snomed.info/sct".into(), content: "not-present".into() }
    );
    let err = descendants_or_self(ZOO, "unicorn", &d).unwrap_err();
    assert_eq!(err.kind(), "unknown-code");
    assert!(err.to_string().contains("unicorn") && err.to_string().contains(ZOO), "{err}");
}

// ---- whole systems, enumerations, versions -------------------------------------------------

#[test]
fn whole_system_in_definition_order_with_flags() {
    let d = defs([]);
    let result = expand(&vs(json!({"include": [{"system": ZOO}]})), &d).unwrap();
    let got: Vec<&str> = result.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(got, ["animal", "mammal", "dog", "cat", "bird", "parrot", "pet", "rock"]);
    let rock = result.iter().find(|c| c.code == "rock").unwrap();
    assert!(rock.inactive && !rock.not_selectable);
    let pet = result.iter().find(|c| c.code == "pet").unwrap();
    assert!(pet.not_selectable && !pet.inactive);
    assert_eq!(result[0].version.as_deref(), Some("2"), "the latest version is used by default");
    assert_eq!(result[0].display.as_deref(), Some("Animal"));
}

#[test]
fn whole_system_requires_an_available_complete_system() {
    let d = defs(["not-present", "example", "fragment"].map(|content| {
        json!({"resourceType": "CodeSystem", "url": format!("http://example.org/{content}"), "content": content,
               "concept": [{"code": "x"}]})
    }));
    assert_eq!(
        expand_err(json!({"include": [{"system": "http://snomed.info/sct"}]}), &d),
        TxError::UnknownCodeSystem { url: "http://snomed.info/sct".into(), version: None }
    );
    for content in ["not-present", "example", "fragment"] {
        let url = format!("http://example.org/{content}");
        assert_eq!(
            expand_err(json!({"include": [{"system": url}]}), &d),
            TxError::NotEnumerable { url: url.clone(), content: content.into() }
        );
        let filtered = json!({"include": [{"system": url, "filter": [{"property": "concept", "op": "is-a", "value": "x"}]}]});
        assert_eq!(expand_err(filtered, &d).kind(), "not-enumerable");
    }
}

#[test]
fn enumerated_codes() {
    let d = defs([json!({"resourceType": "CodeSystem", "url": "http://example.org/frag", "content": "fragment",
                         "concept": [{"code": "known", "display": "Known"}]})]);
    let compose = json!({"include": [
        {"system": ZOO, "concept": [{"code": "cat"}, {"code": "dog", "display": "Doggo"}, {"code": "unicorn"}]},
        {"system": "http://snomed.info/sct", "version": "http://snomed.info/sct/900000000000207008", "concept": [{"code": "22298006", "display": "MI"}]},
        {"system": "http://example.org/frag", "concept": [{"code": "known"}, {"code": "other"}]}
    ]});
    let result = expand(&vs(compose), &d).unwrap();
    let got: Vec<(&str, Option<&str>)> = result.iter().map(|c| (c.code.as_str(), c.display.as_deref())).collect();
    // unicorn is not in the complete zoo system, so it is no code at all; the unavailable and
    // fragment systems are taken on trust.
    assert_eq!(
        got,
        [
            ("cat", Some("Cat")),
            ("dog", Some("Doggo")),
            ("22298006", Some("MI")),
            ("known", Some("Known")),
            ("other", None)
        ]
    );
    assert_eq!(result[2].version.as_deref(), Some("http://snomed.info/sct/900000000000207008"));
    assert_eq!(result[2].system, "http://snomed.info/sct");
}

#[test]
fn include_version_selects_code_system_version() {
    let d = defs([]);
    assert_eq!(expand_codes(json!({"include": [{"system": ZOO, "version": "1"}]}), &d), ["animal", "unicorn"]);
    assert_eq!(
        expand_codes(json!({"include": [{"system": ZOO, "version": "1", "concept": [{"code": "unicorn"}, {"code": "dog"}]}]}), &d),
        ["unicorn"]
    );
    assert_eq!(
        expand_err(json!({"include": [{"system": ZOO, "version": "9"}]}), &d),
        TxError::UnknownCodeSystem { url: ZOO.into(), version: Some("9".into()) }
    );
    let result = expand(&vs(json!({"include": [{"system": ZOO, "version": "1"}]})), &d).unwrap();
    assert!(result.iter().all(|c| c.version.as_deref() == Some("1")));
}

#[test]
fn duplicates_are_removed_keeping_first_position() {
    let d = defs([]);
    let compose = json!({"include": [
        {"system": ZOO, "concept": [{"code": "bird"}, {"code": "dog"}]},
        {"system": ZOO, "filter": [{"property": "concept", "op": "is-a", "value": "mammal"}]}
    ]});
    assert_eq!(expand_codes(compose, &d), ["bird", "dog", "mammal", "cat"]);
}

// ---- filters ---------------------------------------------------------------------------------

#[test]
fn hierarchy_filters() {
    let d = defs([]);
    assert_eq!(expand_codes(filter("concept", "is-a", "mammal"), &d), ["mammal", "dog", "cat"]);
    assert_eq!(expand_codes(filter("concept", "descendent-of", "animal"), &d), ["mammal", "dog", "cat", "bird", "parrot"]);
    assert_eq!(expand_codes(filter("concept", "is-not-a", "animal"), &d), ["pet", "rock"]);
    assert_eq!(expand_codes(filter("concept", "generalizes", "parrot"), &d), ["animal", "bird", "parrot", "pet"]);
    assert_eq!(expand_codes(filter("concept", "child-of", "animal"), &d), ["mammal", "bird"]);
    assert_eq!(expand_codes(filter("concept", "descendent-leaf", "animal"), &d), ["dog", "cat", "parrot"]);
    assert_eq!(expand_codes(filter("concept", "is-a", "pet"), &d), ["cat", "parrot", "pet"]);
}

#[test]
fn value_filters() {
    let d = defs([]);
    assert_eq!(expand_codes(filter("legs", "=", "4"), &d), ["dog", "cat"]);
    assert_eq!(expand_codes(filter("colour", "in", "green, blue"), &d), ["parrot"]);
    assert_eq!(expand_codes(filter("colour", "not-in", "green"), &d), ["animal", "mammal", "dog", "cat", "bird", "pet", "rock"]);
    assert_eq!(expand_codes(filter("colour", "exists", "true"), &d), ["dog", "parrot"]);
    assert_eq!(expand_codes(filter("legs", "exists", "false"), &d), ["animal", "mammal", "bird", "pet", "rock"]);
    assert_eq!(expand_codes(filter("code", "regex", "[a-c].*"), &d), ["animal", "cat", "bird"]);
    assert_eq!(expand_codes(filter("code", "regex", "a"), &d), Vec::<String>::new(), "regex matches whole codes");
    assert_eq!(expand_codes(filter("display", "regex", "P.*"), &d), ["parrot", "pet"]);
    assert_eq!(expand_codes(filter("code", "in", "dog,rock,unicorn"), &d), ["dog", "rock"]);
    assert_eq!(expand_codes(filter("concept", "=", "cat"), &d), ["cat"]);
    assert_eq!(expand_codes(filter("display", "=", "Bird"), &d), ["bird"]);
    assert_eq!(expand_codes(filter("parent", "=", "pet"), &d), ["cat", "parrot"]);
    assert_eq!(expand_codes(filter("child", "=", "cat"), &d), ["mammal", "pet"]);
    assert_eq!(expand_codes(filter("notSelectable", "=", "true"), &d), ["pet"]);
    assert_eq!(expand_codes(filter("notSelectable", "=", "True"), &d), Vec::<String>::new());
    assert_eq!(expand_codes(filter("status", "=", "retired"), &d), ["rock"]);
}

#[test]
fn several_filters_must_all_hold() {
    let d = defs([]);
    let compose = json!({"include": [{"system": ZOO, "filter": [
        {"property": "concept", "op": "is-a", "value": "animal"},
        {"property": "legs", "op": "=", "value": "4"},
        {"property": "code", "op": "regex", "value": "c.*"}
    ]}]});
    assert_eq!(expand_codes(compose, &d), ["cat"]);
}

#[test]
fn filter_errors_name_the_filter() {
    let d = defs([]);
    let err = expand_err(filter("cute", "=", "true"), &d);
    assert_eq!(err.kind(), "unsupported-filter");
    assert!(err.to_string().contains("cute = true") && err.to_string().contains(ZOO), "{err}");

    assert_eq!(expand_err(filter("weight", "=", "1"), &d).kind(), "unsupported-filter");
    assert_eq!(expand_err(filter("legs", "is-a", "4"), &d).kind(), "unsupported-filter");
    assert_eq!(expand_err(filter("concept", "sounds-like", "cat"), &d).kind(), "unsupported-filter");
    assert_eq!(expand_err(filter("code", "regex", "(unclosed"), &d).kind(), "invalid-filter");
    assert_eq!(expand_err(filter("legs", "exists", "maybe"), &d).kind(), "invalid-filter");
    assert_eq!(
        expand_err(filter("concept", "is-a", "unicorn"), &d),
        TxError::UnknownCode { system: ZOO.into(), code: "unicorn".into() }
    );
    let no_value = json!({"include": [{"system": ZOO, "filter": [{"property": "concept", "op": "is-a"}]}]});
    let err = expand_err(no_value, &d);
    assert_eq!(err.kind(), "invalid-filter");
    assert!(err.to_string().contains("value is required"), "{err}");
    let unknown = json!({"include": [{"system": "http://loinc.org", "filter": [{"property": "SCALE_TYP", "op": "=", "value": "Doc"}]}]});
    assert_eq!(expand_err(unknown, &d).kind(), "unknown-code-system");
}

// ---- imports ---------------------------------------------------------------------------------

fn named_vs(url: &str, compose: Value) -> Value {
    json!({"resourceType": "ValueSet", "url": url, "compose": compose})
}

#[test]
fn imports_are_intersected() {
    let d = defs([
        named_vs("http://example.org/vs/mammals", filter("concept", "is-a", "mammal")),
        named_vs("http://example.org/vs/four-legs", filter("legs", "=", "4")),
        named_vs("http://example.org/vs/pets", filter("concept", "is-a", "pet")),
        named_vs("http://example.org/vs/sct", json!({"include": [{"system": "http://snomed.info/sct", "concept": [{"code": "1"}, {"code": "2"}]}]})),
    ]);
    assert_eq!(
        expand_codes(json!({"include": [{"valueSet": ["http://example.org/vs/mammals"]}]}), &d),
        ["mammal", "dog", "cat"]
    );
    assert_eq!(
        expand_codes(json!({"include": [{"valueSet": ["http://example.org/vs/mammals", "http://example.org/vs/pets"]}]}), &d),
        ["cat"]
    );
    // system + filter part, then intersected with the import
    let both = json!({"include": [{"system": ZOO, "filter": [{"property": "concept", "op": "is-a", "value": "animal"}],
                                   "valueSet": ["http://example.org/vs/pets"]}]});
    assert_eq!(expand_codes(both, &d), ["cat", "parrot"]);
    // whole system + import needs no CodeSystem: SNOMED is not available here
    let sct = json!({"include": [{"system": "http://snomed.info/sct", "valueSet": ["http://example.org/vs/sct"]},
                                 {"system": "http://loinc.org", "valueSet": ["http://example.org/vs/sct"]}]});
    assert_eq!(expand_codes(sct, &d), ["1", "2"]);
    // two separate includes are a union
    let union = json!({"include": [{"valueSet": ["http://example.org/vs/mammals"]}, {"valueSet": ["http://example.org/vs/pets"]}]});
    assert_eq!(expand_codes(union, &d), ["mammal", "dog", "cat", "parrot", "pet"]);
}

#[test]
fn import_errors() {
    let d = defs([
        named_vs("http://example.org/vs/a", json!({"include": [{"valueSet": ["http://example.org/vs/b"]}]})),
        named_vs("http://example.org/vs/b", json!({"include": [{"system": ZOO}, {"valueSet": ["http://example.org/vs/a"]}]})),
        named_vs("http://example.org/vs/self", json!({"include": [{"valueSet": ["http://example.org/vs/self"]}]})),
    ]);
    assert_eq!(
        expand_err(json!({"include": [{"valueSet": ["http://example.org/vs/missing|3"]}]}), &d),
        TxError::UnknownValueSet { url: "http://example.org/vs/missing".into(), version: Some("3".into()) }
    );
    let err = expand_err(json!({"include": [{"valueSet": ["http://example.org/vs/a"]}]}), &d);
    assert_eq!(
        err,
        TxError::CircularImport {
            chain: ["http://example.org/vs/test", "http://example.org/vs/a", "http://example.org/vs/b", "http://example.org/vs/a"]
                .map(String::from)
                .to_vec()
        }
    );
    let own = d.value_set("http://example.org/vs/self", None).unwrap();
    assert_eq!(expand(own, &d).unwrap_err().kind(), "circular-import");
    assert_eq!(expand_err(json!({"include": [{}]}), &d).kind(), "invalid");
}

#[test]
fn deep_import_chains_are_refused() {
    let chain = (0..40).map(|i| {
        let include = if i == 39 { json!({"system": ZOO}) } else { json!({"valueSet": [format!("http://example.org/vs/{}", i + 1)]}) };
        named_vs(&format!("http://example.org/vs/{i}"), json!({"include": [include]}))
    });
    let d = defs(chain);
    let start = d.value_set("http://example.org/vs/0", None).unwrap();
    assert_eq!(expand(start, &d).unwrap_err().kind(), "import-too-deep");
    let near_end = d.value_set("http://example.org/vs/30", None).unwrap();
    assert_eq!(expand(near_end, &d).unwrap().len(), 8);
}

// ---- exclude and inactive ------------------------------------------------------------------

#[test]
fn excludes_remove_codes() {
    let d = defs([named_vs("http://example.org/vs/pets", filter("concept", "is-a", "pet"))]);
    let base = |exclude: Value| json!({"include": [{"system": ZOO}], "exclude": exclude});
    assert_eq!(
        expand_codes(base(json!([{"system": ZOO, "concept": [{"code": "rock"}, {"code": "animal"}]}])), &d),
        ["mammal", "dog", "cat", "bird", "parrot", "pet"]
    );
    assert_eq!(
        expand_codes(base(json!([{"system": ZOO, "filter": [{"property": "concept", "op": "is-a", "value": "mammal"}]}])), &d),
        ["animal", "bird", "parrot", "pet", "rock"]
    );
    assert_eq!(expand_codes(base(json!([{"valueSet": ["http://example.org/vs/pets"]}])), &d), ["animal", "mammal", "dog", "bird", "rock"]);
    assert_eq!(expand_codes(base(json!([{"system": ZOO}])), &d), Vec::<String>::new());
    // a versioned whole-system exclude removes that version's codes (zoo v1: animal, unicorn)
    assert_eq!(
        expand_codes(base(json!([{"system": ZOO, "version": "1"}])), &d),
        ["mammal", "dog", "cat", "bird", "parrot", "pet", "rock"]
    );
    assert_eq!(
        expand_err(base(json!([{"system": ZOO, "version": "9"}])), &d),
        TxError::UnknownCodeSystem { url: ZOO.into(), version: Some("9".into()) }
    );
    // excluding a whole unavailable system needs no CodeSystem
    let mixed = json!({"include": [{"system": ZOO, "concept": [{"code": "dog"}]}, {"system": "http://snomed.info/sct", "concept": [{"code": "1"}]}],
                       "exclude": [{"system": "http://snomed.info/sct"}]});
    assert_eq!(expand_codes(mixed, &d), ["dog"]);
    // but an exclude filter on an unavailable system cannot be evaluated
    let bad = base(json!([{"system": "http://snomed.info/sct", "filter": [{"property": "concept", "op": "is-a", "value": "1"}]}]));
    assert_eq!(expand_err(bad, &d).kind(), "unknown-code-system");
}

#[test]
fn compose_inactive_controls_retired_codes() {
    let d = defs([]);
    let with = |inactive: Option<bool>| {
        let mut compose = json!({"include": [{"system": ZOO, "concept": [{"code": "dog"}, {"code": "rock"}]}]});
        if let Some(b) = inactive {
            compose["inactive"] = json!(b);
        }
        expand_codes(compose, &d)
    };
    assert_eq!(with(None), ["dog", "rock"]);
    assert_eq!(with(Some(true)), ["dog", "rock"]);
    assert_eq!(with(Some(false)), ["dog"]);
}

// ---- stored expansions ---------------------------------------------------------------------

#[test]
fn stored_expansion_is_used_when_there_is_no_compose() {
    let d = defs([]);
    let stored = json!({"resourceType": "ValueSet", "url": "http://example.org/vs/stored", "expansion": {
        "total": 3,
        "contains": [
            {"system": "http://loinc.org", "code": "1-8", "display": "One"},
            {"abstract": true, "display": "group", "contains": [
                {"system": "http://loinc.org", "code": "2-6", "inactive": true},
                {"system": "http://loinc.org", "code": "1-8"}
            ]}
        ]
    }});
    let result = expand(&stored, &d).unwrap();
    assert_eq!(result.iter().map(|c| c.code.as_str()).collect::<Vec<_>>(), ["1-8", "2-6"]);
    assert!(result[1].inactive);

    let mut paged = stored.clone();
    paged["expansion"]["total"] = json!(100);
    assert_eq!(expand(&paged, &d).unwrap_err().kind(), "incomplete-expansion");
    let mut offset = stored.clone();
    offset["expansion"]["offset"] = json!(20);
    assert_eq!(expand(&offset, &d).unwrap_err().kind(), "incomplete-expansion");
    let empty = json!({"resourceType": "ValueSet", "url": "http://example.org/vs/nothing"});
    assert_eq!(expand(&empty, &d).unwrap_err().kind(), "invalid");
}

#[test]
fn compose_wins_over_stored_expansion() {
    let d = defs([]);
    let both = json!({"resourceType": "ValueSet", "url": "http://example.org/vs/both",
        "compose": {"include": [{"system": ZOO, "concept": [{"code": "dog"}]}]},
        "expansion": {"contains": [{"system": ZOO, "code": "cat"}]}});
    assert_eq!(codes(expand(&both, &d)), ["dog"]);
}

// ---- scale -----------------------------------------------------------------------------------

#[test]
fn large_systems_expand_quickly() {
    // 20,000 concepts: 200 groups of 99 children, each child also linked to a shared parent by property.
    let mut concepts = vec![json!({"code": "shared"})];
    for g in 0..200 {
        let kids: Vec<Value> = (0..99)
            .map(|k| json!({"code": format!("g{g}-{k}"), "property": [{"code": "parent", "valueCode": "shared"}]}))
            .collect();
        concepts.push(json!({"code": format!("g{g}"), "concept": kids}));
    }
    let big = json!({"resourceType": "CodeSystem", "url": "http://example.org/big", "content": "complete", "concept": concepts});
    let d = InMemory::new([big]);
    let listed: Vec<Value> = (0..5000).map(|i| json!({"code": format!("g{}-{}", i % 200, i % 99)})).collect();
    let compose = json!({
        "include": [
            {"system": "http://example.org/big"},
            {"system": "http://example.org/big", "filter": [{"property": "concept", "op": "is-a", "value": "shared"}]},
            {"system": "http://example.org/big", "concept": listed}
        ],
        "exclude": [{"system": "http://example.org/big", "filter": [{"property": "concept", "op": "is-a", "value": "g7"}]}]
    });
    let start = std::time::Instant::now();
    let result = expand(&vs(compose), &d).unwrap();
    let below = descendants_or_self("http://example.org/big", "shared", &d).unwrap();
    let elapsed = start.elapsed();
    assert_eq!(result.len(), 20_001 - 100);
    assert_eq!(below.len(), 200 * 99 + 1);
    // Quadratic work on 20k codes would take tens of seconds even in release builds.
    assert!(elapsed.as_secs_f64() < 5.0, "took {elapsed:?}");
}

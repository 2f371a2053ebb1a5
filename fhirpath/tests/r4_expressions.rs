//! Every FHIRPath expression of the R4 core package compiles: SearchParameter expressions
//! and StructureDefinition constraint expressions. The static check must not reject any
//! search parameter expression against its base types (it reports only certain errors).

use fhirpath::{CheckOptions, Engine};
use serde_json::Value;

fn package() -> &'static profiles::Package {
    profiles::Package::r4_core()
}

#[test]
fn all_search_parameter_expressions_compile_and_pass_the_check() {
    let engine = Engine::new(Some(package().model()));
    let mut count = 0;
    let mut errors = Vec::new();
    for sp in package().resources("SearchParameter") {
        let Some(expr) = sp.get("expression").and_then(Value::as_str) else { continue };
        count += 1;
        let compiled = match engine.compile(expr) {
            Ok(c) => c,
            Err(e) => {
                errors.push(format!("{}: {e}\n    {expr}", sp["id"]));
                continue;
            }
        };
        for base in sp.get("base").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            if let Err(e) = engine.check_with(&compiled, base, &CheckOptions::default()) {
                errors.push(format!("{} (check on {base}): {e}\n    {expr}", sp["id"]));
            }
        }
    }
    println!("{count} search parameter expressions");
    assert!(count > 1000, "only {count} expressions found");
    assert!(errors.is_empty(), "{} failures:\n{}", errors.len(), errors.join("\n"));
}

#[test]
fn all_constraint_expressions_compile() {
    let engine = Engine::new(Some(package().model()));
    let mut count = 0;
    let mut errors = Vec::new();
    for sd in package().resources("StructureDefinition") {
        let elements = sd.pointer("/snapshot/element").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
        for el in elements {
            for c in el.get("constraint").and_then(Value::as_array).into_iter().flatten() {
                let Some(expr) = c.get("expression").and_then(Value::as_str) else { continue };
                count += 1;
                if let Err(e) = engine.compile(expr) {
                    errors.push(format!("{} {}: {e}\n    {expr}", sd["id"], c["key"]));
                }
            }
        }
    }
    println!("{count} constraint expressions");
    assert!(count > 1000, "only {count} expressions found");
    assert!(errors.is_empty(), "{} failures:\n{}", errors.len(), errors.join("\n"));
}

#[test]
fn constraint_expressions_pass_the_check_on_their_element_type() {
    let model = package().model();
    let engine = Engine::new(Some(model.clone()));
    let mut checked = 0;
    let mut errors = Vec::new();
    for sd in package().resources("StructureDefinition") {
        if sd.get("derivation").and_then(Value::as_str) == Some("constraint") {
            continue;
        }
        let Some(sd_type) = sd.get("type").and_then(Value::as_str) else { continue };
        let elements = sd.pointer("/snapshot/element").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
        for el in elements {
            let Some(path) = el.get("path").and_then(Value::as_str) else { continue };
            // The context type: the type itself, a backbone (named by its path), or the element's single type.
            let ctx = match path.rsplit_once('.') {
                None => Some(sd_type.to_owned()),
                Some((parent, name)) => {
                    let name = name.trim_end_matches("[x]");
                    model.element(parent, name).filter(|e| e.types.len() == 1).map(|e| e.types[0].clone())
                }
            };
            let Some(ctx) = ctx else { continue };
            for c in el.get("constraint").and_then(Value::as_array).into_iter().flatten() {
                let Some(expr) = c.get("expression").and_then(Value::as_str) else { continue };
                let Ok(compiled) = engine.compile(expr) else { continue };
                checked += 1;
                let key = c.get("key").and_then(Value::as_str).unwrap_or("");
                let result = engine.check_with(&compiled, &ctx, &CheckOptions::default());
                // R4 itself has one broken invariant: cid-0 names `name`, which ChargeItemDefinition lacks.
                if sd_type == "ChargeItemDefinition" && key == "cid-0" {
                    assert!(result.is_err(), "the check should catch cid-0");
                    continue;
                }
                if let Err(e) = result {
                    errors.push(format!("{} {} on {ctx}: {e}\n    {expr}", sd["id"], c["key"]));
                }
            }
        }
    }
    println!("{checked} constraint expressions checked");
    assert!(checked > 1000);
    assert!(errors.is_empty(), "{} failures:\n{}", errors.len(), errors.join("\n"));
}

#[test]
fn search_parameters_evaluate_over_the_r4_examples() {
    let engine = Engine::new(Some(package().model()));
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpora/fhir-r4-examples/examples");
    let mut by_type: std::collections::HashMap<String, Vec<std::sync::Arc<fhirpath::Expression>>> = Default::default();
    for sp in package().resources("SearchParameter") {
        let Some(expr) = sp.get("expression").and_then(Value::as_str) else { continue };
        let compiled = engine.compile(expr).expect("compiles");
        for base in sp.get("base").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            by_type.entry(base.to_owned()).or_default().push(compiled.clone());
        }
    }
    let (mut evaluations, mut items) = (0usize, 0usize);
    let mut errors = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir).expect("examples").flatten().map(|e| e.path()).collect();
    files.sort();
    for f in files {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&f).expect("read")).expect("json");
        let Some(rt) = v.get("resourceType").and_then(Value::as_str) else { continue };
        let applicable = by_type.get(rt).into_iter().flatten().chain(by_type.get("Resource").into_iter().flatten());
        for e in applicable {
            evaluations += 1;
            match engine.evaluate(e, &v, &fhirpath::Env::new()) {
                Ok(r) => items += r.len(),
                Err(err) => errors.push(format!("{}: {}: {err}", f.display(), e.source())),
            }
        }
    }
    println!("{evaluations} evaluations, {items} items, {} errors", errors.len());
    assert!(evaluations > 5000);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

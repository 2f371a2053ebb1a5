//! Evaluates every Observation and Patient search-parameter expression (bases Observation,
//! Patient, Resource, DomainResource) over the R4 examples of those types, on one thread.
//!
//! `cargo run --release -p fhirpath --example fhirpath_bench [-- seconds-per-phase]`

use std::time::{Duration, Instant};

use fhirpath::{Engine, Env, Expression};
use serde_json::Value;

fn examples(resource_type: &str) -> Vec<Value> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpora/fhir-r4-examples/examples");
    let mut out = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(dir).expect("examples folder").flatten().map(|e| e.path()).collect();
    names.sort();
    for p in names {
        let is_type = p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&format!("{resource_type}-")));
        if is_type {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).expect("read example")).expect("parse example");
            if v.get("resourceType").and_then(Value::as_str) == Some(resource_type) {
                out.push(v);
            }
        }
    }
    out
}

fn is_simple_path(expr: &str) -> bool {
    !expr.is_empty() && expr.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

struct Run {
    evaluations: u64,
    items: u64,
    errors: u64,
    elapsed: Duration,
}

/// Evaluates each (expression, resource) pair round after round until `budget` has passed.
fn run(engine: &Engine, pairs: &[(&Expression, &Value)], budget: Duration) -> Run {
    let env = Env::new();
    let start = Instant::now();
    let mut r = Run { evaluations: 0, items: 0, errors: 0, elapsed: Duration::ZERO };
    loop {
        for (e, v) in pairs {
            match engine.evaluate(e, v, &env) {
                Ok(items) => r.items += items.len() as u64,
                Err(_) => r.errors += 1,
            }
        }
        r.evaluations += pairs.len() as u64;
        if start.elapsed() >= budget {
            break;
        }
    }
    r.elapsed = start.elapsed();
    r
}

fn main() {
    let secs: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let package = profiles::Package::r4_core();
    let t = Instant::now();
    let engine = Engine::new(Some(package.model()));
    println!("engine with R4 model built in {:?}", t.elapsed());
    let mut pairs_all = Vec::new();
    let mut pairs_simple = Vec::new();
    let mut exprs = Vec::new();
    let resources = [("Observation", examples("Observation")), ("Patient", examples("Patient"))];
    for (ty, list) in &resources {
        for sp in package.resources("SearchParameter") {
            let Some(expr) = sp.get("expression").and_then(Value::as_str) else { continue };
            let bases: Vec<&str> = sp.get("base").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
            if !bases.iter().any(|b| b == ty || *b == "Resource" || *b == "DomainResource") {
                continue;
            }
            let compiled = engine.compile(expr).expect("R4 expressions compile");
            exprs.push((expr.to_owned(), compiled, *ty));
        }
        let _ = list;
    }
    for (text, compiled, ty) in &exprs {
        let list = &resources.iter().find(|(t, _)| t == ty).expect("type").1;
        for r in list {
            pairs_all.push((&**compiled, r));
            if is_simple_path(text) {
                pairs_simple.push((&**compiled, r));
            }
        }
    }
    let n_simple = exprs.iter().filter(|(t, _, _)| is_simple_path(t)).count();
    println!(
        "{} expressions ({} plain paths) over {} Observation and {} Patient examples: {} pairs ({} plain-path pairs)",
        exprs.len(),
        n_simple,
        resources[0].1.len(),
        resources[1].1.len(),
        pairs_all.len(),
        pairs_simple.len()
    );
    // Warm up, then measure.
    run(&engine, &pairs_all, Duration::from_millis(300));
    let all = run(&engine, &pairs_all, Duration::from_secs(secs));
    let simple = run(&engine, &pairs_simple, Duration::from_secs(secs));
    // The same plain paths through `Engine::eval`, which looks the text up in the compile cache each time.
    let texts: Vec<(&str, &Value)> = exprs
        .iter()
        .filter(|(t, _, _)| is_simple_path(t))
        .flat_map(|(t, _, ty)| resources.iter().filter(move |(rt, _)| rt == ty).flat_map(|(_, l)| l.iter()).map(move |r| (t.as_str(), r)))
        .collect();
    let start = Instant::now();
    let (mut by_text, mut by_text_items) = (0u64, 0u64);
    while start.elapsed() < Duration::from_secs(secs) {
        for (t, r) in &texts {
            by_text_items += engine.eval(t, r).map_or(0, |v| v.len() as u64);
        }
        by_text += texts.len() as u64;
    }
    let by_text_elapsed = start.elapsed();
    let rate = |r: &Run| r.evaluations as f64 / r.elapsed.as_secs_f64();
    println!(
        "all expressions : {:>10.0} evaluations/s ({} evaluations in {:.2?}, {} items, {} errors)",
        rate(&all),
        all.evaluations,
        all.elapsed,
        all.items,
        all.errors
    );
    println!(
        "plain paths     : {:>10.0} evaluations/s ({} evaluations in {:.2?}, {} items, {} errors)",
        rate(&simple),
        simple.evaluations,
        simple.elapsed,
        simple.items,
        simple.errors
    );
    println!(
        "plain paths, Engine::eval (cache lookup per call): {:>10.0} evaluations/s ({} evaluations, {} items)",
        by_text as f64 / by_text_elapsed.as_secs_f64(),
        by_text,
        by_text_items
    );
}

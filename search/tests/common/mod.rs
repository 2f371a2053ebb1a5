//! Shared fixtures: the registry built from the shared R4 definitions and the R4 examples.
#![allow(dead_code)]

use search::Registry;
use serde_json::Value;
use std::sync::OnceLock;

pub const CORPORA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpora");

fn read(path: &str) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// The 1,375 R4 SearchParameters from the shared corpus.
pub fn search_parameters() -> Vec<Value> {
    let bundle = read(&format!("{CORPORA}/fhir-r4-core/definitions/search-parameters.json"));
    bundle["entry"].as_array().unwrap().iter().map(|e| e["resource"].clone()).collect()
}

/// The concrete R4 resource types, from the JSON schema's discriminator.
pub fn resource_types() -> Vec<String> {
    let schema = read(&format!("{CORPORA}/fhir-r4-core/definitions/fhir.schema.json"));
    let mut v: Vec<String> = schema["discriminator"]["mapping"].as_object().unwrap().keys().cloned().collect();
    v.sort();
    v
}

pub fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| {
        let pkg = profiles::Package::r4_core();
        let mut reg = Registry::from_search_parameters(&search_parameters(), &resource_types(), pkg.model());
        reg.add_implicit_systems(pkg);
        reg
    })
}

pub fn example(name: &str) -> Value {
    read(&format!("{CORPORA}/fhir-r4-examples/examples/{name}"))
}

pub fn examples() -> Vec<Value> {
    let mut names: Vec<_> = std::fs::read_dir(format!("{CORPORA}/fhir-r4-examples/examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    names.iter().map(|p| read(p.to_str().unwrap())).collect()
}

pub fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

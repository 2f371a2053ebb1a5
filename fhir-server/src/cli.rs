//! Command-line tools beside the server.

use anyhow::Context;
use serde_json::{json, Value};
use std::io::Read;

/// `fhir-server fhirpath <expression> <resource.json|->`: prints the result collection,
/// each item with its type, as a JSON array; a bad expression or resource is an error (non-zero exit).
pub fn fhirpath(expression: &str, resource: &str) -> anyhow::Result<()> {
    let text = if resource == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("reading stdin")?;
        s
    } else {
        std::fs::read_to_string(resource).with_context(|| format!("reading {resource}"))?
    };
    let doc: Value = serde_json::from_str(&text).with_context(|| format!("{resource} is not JSON"))?;
    let engine = fhirpath::Engine::new(Some(profiles::Package::r4_core().model()));
    let expr = engine.compile(expression).map_err(|e| anyhow::anyhow!("{e}"))?;
    let items = engine.evaluate(&expr, &doc, &fhirpath::Env::default()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let out: Vec<Value> = items.iter().map(|i| json!({"type": i.type_name(), "value": i.to_json()})).collect();
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

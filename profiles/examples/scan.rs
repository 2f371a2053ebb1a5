//! Validates every resource of the embedded package, the definitions bundles and the Synthea
//! bundles, printing issues: `cargo run --release -p profiles --example scan`.

use profiles::{Package, Validator};
use serde_json::Value;

/// Resources seen and refused so far.
#[derive(Default)]
struct Tally {
    seen: usize,
    refused: usize,
}

impl Tally {
    /// Validates one resource and prints up to `shown` of its issues, tab-separated after `label`.
    fn check(&mut self, v: &Validator, label: &str, json: &Value, shown: usize) {
        self.seen += 1;
        let issues = v.validate(json);
        if !issues.is_empty() {
            self.refused += 1;
        }
        for i in issues.iter().take(shown) {
            println!("{label}\t{}\t{}\t{}", i.expression, i.code, i.message);
        }
    }
}

fn read(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn main() {
    let pkg = Package::r4_core();
    let v = pkg.validator();
    let mut tally = Tally::default();
    for rt in pkg.resource_types().iter().map(String::as_str).chain(["SearchParameter"]).collect::<std::collections::BTreeSet<_>>() {
        for r in pkg.resources(rt) {
            tally.check(v, &format!("package\t{rt}/{}", r["id"].as_str().unwrap_or("")), r, 3);
        }
    }
    let corpora = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora");
    for f in ["conceptmaps.json", "profiles-resources.json", "profiles-types.json", "search-parameters.json", "v2-tables.json", "v3-codesystems.json", "valuesets.json"] {
        tally.check(v, &format!("definitions\t{f}"), &read(&corpora.join("fhir-r4-core/definitions").join(f)), 20);
    }
    for f in std::fs::read_dir(corpora.join("synthea/fhir-r4")).unwrap() {
        let f = f.unwrap().path();
        tally.check(v, &format!("synthea\t{}", f.display()), &read(&f), 20);
    }
    println!("{} of {} resources refused", tally.refused, tally.seen);
}

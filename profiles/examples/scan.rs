//! Validates every resource of the embedded package and the definitions bundles, printing issues:
//! `cargo run --release -p profiles --example scan`.

use profiles::Package;

fn main() {
    let pkg = Package::r4_core();
    let v = pkg.validator();
    let mut n = 0;
    let mut bad = 0;
    for rt in pkg
        .resource_types()
        .iter()
        .map(String::as_str)
        .chain(["SearchParameter"])
        .collect::<std::collections::BTreeSet<_>>()
    {
        for r in pkg.resources(rt) {
            n += 1;
            let issues = v.validate(r);
            if !issues.is_empty() {
                bad += 1;
                for i in issues.iter().take(3) {
                    println!(
                        "package\t{}/{}\t{}\t{}\t{}",
                        rt,
                        r["id"].as_str().unwrap_or(""),
                        i.expression,
                        i.code,
                        i.message
                    );
                }
            }
        }
    }
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpora/fhir-r4-core/definitions/"
    );
    for f in [
        "conceptmaps.json",
        "profiles-resources.json",
        "profiles-types.json",
        "search-parameters.json",
        "v2-tables.json",
        "v3-codesystems.json",
        "valuesets.json",
    ] {
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{dir}{f}")).unwrap()).unwrap();
        n += 1;
        let issues = v.validate(&json);
        if !issues.is_empty() {
            bad += 1;
        }
        for i in issues.iter().take(20) {
            println!(
                "definitions\t{f}\t{}\t{}\t{}",
                i.expression, i.code, i.message
            );
        }
    }
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpora/synthea/fhir-r4/"
    );
    for f in std::fs::read_dir(dir).unwrap() {
        let f = f.unwrap().path();
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        n += 1;
        let issues = v.validate(&json);
        if !issues.is_empty() {
            bad += 1;
        }
        for i in issues.iter().take(20) {
            println!(
                "synthea\t{}\t{}\t{}\t{}",
                f.display(),
                i.expression,
                i.code,
                i.message
            );
        }
    }
    println!("{bad} of {n} resources refused");
}

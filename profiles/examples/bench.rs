//! Measures validation throughput: `cargo run --release -p profiles --example bench`.

use std::time::Instant;

use profiles::Package;

fn main() {
    let t = Instant::now();
    let pkg = Package::r4_core();
    let loaded = t.elapsed();
    let v = pkg.validator();
    println!(
        "package parse {:?}, validator build {:?}",
        loaded,
        t.elapsed() - loaded
    );
    println!(
        "unexpandable required value sets ({}):",
        v.unexpandable_value_sets().len()
    );
    for u in v.unexpandable_value_sets() {
        println!("  {u}");
    }
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpora/fhir-r4-examples/examples/"
    );
    for file in [
        "Patient-example.json",
        "Observation-example.json",
        "Bundle-bundle-example.json",
    ] {
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{dir}{file}")).unwrap())
                .unwrap();
        assert!(v.validate(&json).is_empty());
        let n = 50_000;
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(v.validate(std::hint::black_box(&json)));
        }
        let dt = t.elapsed();
        println!(
            "{file}: {:.0} validations/s ({:.1} us each)",
            n as f64 / dt.as_secs_f64(),
            dt.as_secs_f64() * 1e6 / n as f64
        );
    }
}

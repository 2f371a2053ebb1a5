//! Times index extraction over R4 examples: `cargo run --release -p search --example extract_bench`.
use std::time::Instant;

fn main() {
    let reg = search::Registry::r4();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpora/fhir-r4-examples/examples");
    for name in ["Patient-example.json", "Observation-example.json"] {
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(format!("{dir}/{name}")).unwrap()).unwrap();
        let n = 20_000;
        let start = Instant::now();
        let mut rows = 0;
        for _ in 0..n {
            rows += reg.extract(&v).len();
        }
        let per = start.elapsed().as_secs_f64() / n as f64;
        println!("{name}: {:.1} µs per extraction ({} rows), {:.0}/s", per * 1e6, rows / n, 1.0 / per);
    }
    // Every example: how many rows the registry finds, and the mean time per resource.
    let all: Vec<serde_json::Value> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .filter_map(|t| serde_json::from_str(&t).ok())
        .collect();
    let rounds = 20;
    let start = Instant::now();
    let mut rows = 0;
    for _ in 0..rounds {
        rows = all.iter().map(|r| reg.extract(r).len()).sum::<usize>();
    }
    let per = start.elapsed().as_secs_f64() / (rounds * all.len()) as f64;
    println!("all {} examples: {rows} rows, {:.1} µs per resource, {:.0} resources/s", all.len(), per * 1e6, 1.0 / per);
}

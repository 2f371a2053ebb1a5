//! Times index extraction over R4 examples: `cargo run --release -p search --example extract_bench`.
//!
//! Also prints a digest of every row extracted from the 715 examples, so a speed-up can show it
//! changed no row. Options: `--single N` (extractions of each single example, default 20,000),
//! `--rounds N` (rounds over all examples, default 20; 0 skips them and the digest), `--dump FILE`
//! (every row, sorted within its resource, to compare two versions with diff). Under callgrind,
//! `--single 0 --rounds 1` counts one digest pass and one round.
use std::time::Instant;

fn main() {
    let mut rounds = 20;
    let mut single = 20_000;
    let mut dump = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rounds" => rounds = args.next().and_then(|n| n.parse().ok()).expect("--rounds N"),
            "--single" => single = args.next().and_then(|n| n.parse().ok()).expect("--single N"),
            "--dump" => dump = Some(args.next().expect("--dump FILE")),
            _ => panic!("unknown argument {a}; use --single N, --rounds N or --dump FILE"),
        }
    }
    let reg = search::Registry::r4();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpora/fhir-r4-examples/examples");
    if single > 0 {
        for name in ["Patient-example.json", "Observation-example.json"] {
            let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(format!("{dir}/{name}")).unwrap()).unwrap();
            let n = single;
            let start = Instant::now();
            let mut rows = 0;
            for _ in 0..n {
                rows += reg.extract(&v).len();
            }
            let per = start.elapsed().as_secs_f64() / n as f64;
            println!("{name}: {:.1} µs per extraction ({} rows), {:.0}/s", per * 1e6, rows / n, 1.0 / per);
        }
    }
    if rounds == 0 {
        return;
    }
    let all = examples(dir);
    let (digest, lines) = row_digest(reg, &all);
    if let Some(path) = dump {
        std::fs::write(&path, lines.concat()).unwrap();
    }
    println!("row digest over {} examples: {digest:016x} ({} rows)", all.len(), lines.len());
    // Every example: how many rows the registry finds, and the mean time per resource.
    let start = Instant::now();
    let mut rows = 0;
    for _ in 0..rounds {
        rows = all.iter().map(|(_, r)| reg.extract(r).len()).sum::<usize>();
    }
    let per = start.elapsed().as_secs_f64() / (rounds * all.len()) as f64;
    println!("all {} examples: {rows} rows, {:.1} µs per resource, {:.0} resources/s", all.len(), per * 1e6, 1.0 / per);
}

/// The parsable examples, by file name in name order (the digest depends on the order).
fn examples(dir: &str) -> Vec<(String, serde_json::Value)> {
    let mut all: Vec<(String, serde_json::Value)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            let v = serde_json::from_str(&std::fs::read_to_string(&path).ok()?).ok()?;
            Some((path.file_name()?.to_string_lossy().into_owned(), v))
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

/// FNV-1a over every row's Debug form, rows sorted within each resource: extraction order is not
/// part of the contract, the multiset of rows is. Also returns the lines hashed.
fn row_digest(reg: &search::Registry, all: &[(String, serde_json::Value)]) -> (u64, Vec<String>) {
    let mut lines = Vec::new();
    for (name, r) in all {
        let mut rows: Vec<String> = reg.extract(r).iter().map(|row| format!("{name}\t{row:?}\n")).collect();
        rows.sort();
        lines.extend(rows);
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in lines.iter().flat_map(|l| l.bytes()) {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    (h, lines)
}

//! Throughput of the codec over every R4 example, both ways:
//! `cargo run --release -p fhir-xml --example xml_bench`.

use std::time::{Duration, Instant};

use serde_json::Value;

const MIN_TIME: Duration = Duration::from_secs(3);

fn main() {
    let dir = std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpora/fhir-r4-examples/examples"
    ));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("examples corpus")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let model = profiles::Package::r4_core().model();
    let jsons: Vec<Value> = files
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).expect("readable")).expect("JSON"))
        .collect();
    let xmls: Vec<String> = jsons.iter().map(|v| fhir_xml::json_to_xml(v, &model).expect("converts")).collect();
    // Sizes of compact JSON and of the XML, the text each direction consumes or produces.
    let json_bytes: usize = jsons.iter().map(|v| v.to_string().len()).sum();
    let xml_bytes: usize = xmls.iter().map(String::len).sum();
    println!(
        "{} resources: {:.2} MB of compact JSON, {:.2} MB of XML",
        jsons.len(),
        json_bytes as f64 / 1e6,
        xml_bytes as f64 / 1e6
    );

    let (rounds, t) = timed(|| {
        for v in &jsons {
            std::hint::black_box(fhir_xml::json_to_xml(v, &model).expect("converts"));
        }
    });
    report("JSON → XML", rounds * jsons.len(), rounds * xml_bytes, t, "XML written");

    let (rounds, t) = timed(|| {
        for x in &xmls {
            std::hint::black_box(fhir_xml::xml_to_json(x, &model).expect("converts"));
        }
    });
    report("XML → JSON", rounds * xmls.len(), rounds * xml_bytes, t, "XML read");
}

/// Runs `f` over the whole corpus until at least `MIN_TIME` has passed (after one warm-up round).
fn timed(mut f: impl FnMut()) -> (usize, Duration) {
    f();
    let start = Instant::now();
    let mut rounds = 0;
    while start.elapsed() < MIN_TIME {
        f();
        rounds += 1;
    }
    (rounds, start.elapsed())
}

fn report(what: &str, resources: usize, bytes: usize, t: Duration, unit: &str) {
    let s = t.as_secs_f64();
    println!(
        "{what}: {:.0} resources/s, {:.1} MB/s of {unit} ({resources} resources in {s:.2} s)",
        resources as f64 / s,
        bytes as f64 / 1e6 / s
    );
}

//! Evaluates an expression over a JSON file: `cargo run -p fhirpath --example eval -- '<expr>' file.json [--untyped]`.

use std::sync::Arc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 2 {
        eprintln!("usage: eval '<expression>' [file.json] [--untyped]");
        std::process::exit(2);
    }
    let untyped = args.iter().any(|a| a == "--untyped");
    let model = (!untyped).then(|| profiles::Package::r4_core().model());
    let engine = fhirpath::Engine::new(model.map(|m: Arc<_>| m));
    let input: serde_json::Value = match args.get(2).filter(|a| !a.starts_with("--")) {
        Some(f) => serde_json::from_str(&std::fs::read_to_string(f).expect("read input")).expect("parse input"),
        None => serde_json::Value::Null,
    };
    match engine.eval(&args[1], &input) {
        Ok(items) => {
            for it in items {
                println!("{}\t{}", it.type_name(), it.to_json());
            }
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}

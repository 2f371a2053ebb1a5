//! Converts one file between FHIR JSON and XML (by its extension) and prints the result:
//! `cargo run -p fhir-xml --example convert -- path/to/Patient.json`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: convert <file.json|file.xml>");
        return ExitCode::FAILURE;
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let model = profiles::Package::r4_core().model();
    let result = if path.ends_with(".json") {
        serde_json::from_str(&text)
            .map_err(|e| e.to_string())
            .and_then(|v| fhir_xml::json_to_xml_pretty(&v, &model).map_err(|e| e.to_string()))
    } else {
        fhir_xml::xml_to_json(&text, &model)
            .map_err(|e| e.to_string())
            .and_then(|v| serde_json::to_string_pretty(&v).map_err(|e| e.to_string()))
    };
    match result {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            ExitCode::FAILURE
        }
    }
}

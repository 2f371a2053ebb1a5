//! Posts every transaction Bundle in a folder to a FHIR base URL and reports resources per second.
//! Usage: ingest <base-url> <folder> [concurrency]

use futures::StreamExt;
use std::time::Instant;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args.get(1).expect("base url").trim_end_matches('/').to_string();
    let dir = args.get(2).expect("folder");
    let concurrency: usize = args.get(3).and_then(|c| c.parse().ok()).unwrap_or(2);
    let mut bodies = Vec::new();
    let mut resources = 0usize;
    let paths = conformance_tests::json_files(std::path::Path::new(dir));
    for p in paths {
        let text = std::fs::read_to_string(&p).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        resources += v["entry"].as_array().map_or(0, Vec::len);
        bodies.push(text);
    }
    let client = reqwest::Client::new();
    let start = Instant::now();
    let statuses: Vec<u16> = futures::stream::iter(bodies)
        .map(|b| {
            let req = client.post(&base).header("content-type", "application/fhir+json").body(b);
            async move { req.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let secs = start.elapsed().as_secs_f64();
    let failed = statuses.iter().filter(|s| **s != 200).count();
    println!("{} bundles, {resources} resources in {secs:.2}s: {:.0} resources/s ({failed} failed bundles, concurrency {concurrency})", statuses.len(), resources as f64 / secs);
    if failed > 0 {
        std::process::exit(1);
    }
}

//! The 30 Synthea patients load as transactions, and every reference in what they stored resolves.

use conformance_tests::{both_backends, corpora, json_files, Fhir};
use futures::StreamExt;
use serde_json::Value;
use std::collections::BTreeSet;

fn collect_references(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(o) => {
            for (k, c) in o {
                match (k.as_str(), c) {
                    ("reference", Value::String(s)) => {
                        out.insert(s.clone());
                    }
                    _ => collect_references(c, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|c| collect_references(c, out)),
        _ => {}
    }
}

async fn synthea_transactions_load_and_resolve(f: &Fhir) {
    let dir = corpora().join("synthea/fhir-r4");
    let files = json_files(&dir);
    assert_eq!(files.len(), 30);
    let mut locations = Vec::new();
    let mut entries_total = 0;
    for path in &files {
        let bundle: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let n = bundle["entry"].as_array().unwrap().len();
        entries_total += n;
        let r = f.post("", &bundle).await;
        assert_eq!(r.status, 200, "{}: {}", path.display(), &r.text[..r.text.len().min(2000)]);
        let resp = r.json();
        let e = resp["entry"].as_array().unwrap();
        assert_eq!(e.len(), n, "one response entry per request entry");
        for x in e {
            assert!(x["response"]["status"].as_str().unwrap().starts_with("201"), "{x}");
            locations.push(x["response"]["location"].as_str().unwrap().split("/_history").next().unwrap().to_string());
        }
    }
    assert_eq!(entries_total, 6621);
    // Read every stored resource back and gather the references it holds.
    let refs: Vec<BTreeSet<String>> = futures::stream::iter(locations.iter())
        .map(|loc| async move {
            let r = f.get(loc).await;
            assert_eq!(r.status, 200, "{loc}");
            let resource = r.json();
            let mut set = BTreeSet::new();
            collect_references(&resource, &mut set);
            // `#id` points into this resource's own `contained` list.
            let contained: Vec<&str> = resource["contained"].as_array().into_iter().flatten().filter_map(|c| c["id"].as_str()).collect();
            for local in set.iter().filter(|r| r.starts_with('#')) {
                assert!(contained.contains(&&local[1..]), "{loc}: {local} names no contained resource");
            }
            set.retain(|r| !r.starts_with('#'));
            set
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let all: BTreeSet<String> = refs.into_iter().flatten().collect();
    assert!(all.len() > 1000, "Synthea data is densely linked ({} refs)", all.len());
    let unresolved: Vec<String> = futures::stream::iter(all.iter())
        .map(|r| async move {
            assert!(!r.starts_with("urn:uuid:"), "urn:uuid reference left unrewritten: {r}");
            let status = f.get(r).await.status;
            (status != 200).then(|| format!("{r} -> {status}"))
        })
        .buffer_unordered(16)
        .filter_map(|x| async move { x })
        .collect()
        .await;
    assert!(unresolved.is_empty(), "unresolved references: {unresolved:?}");
}

both_backends!(synthea_transactions_load_and_resolve);

//! Issue 5: the auth mode is explicit at start-up. Without authorization the server serves
//! loopback only; a network address needs a flag that names the risk.

use conformance_tests::{fresh_database, Backend};
use fhir_server::ServeConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unauthenticated_server_stays_on_loopback_unless_told_otherwise() {
    let url = fresh_database(Backend::Sqlite).unwrap();
    let exposed = ServeConfig { listen: "0.0.0.0:0".parse().unwrap(), ..ServeConfig::local(&url) };
    let refused = match fhir_server::start(exposed.clone()).await {
        Ok(r) => panic!("served on {} without authorization", r.local_addr),
        Err(e) => e.to_string(),
    };
    assert!(refused.contains("--allow-unauthenticated-network") && refused.contains("0.0.0.0"), "{refused}");

    let running = fhir_server::start(ServeConfig { allow_unauthenticated_network: true, ..exposed }).await.expect("allowed by name");
    assert!(running.local_addr.ip().is_unspecified());
    let health = reqwest::get(format!("http://127.0.0.1:{}/health/live", running.local_addr.port())).await.unwrap();
    assert_eq!(health.status(), 200);
    running.task.abort();
    running.reindex.abort();

    let local = fhir_server::start(ServeConfig::local(&url)).await.expect("loopback needs no flag");
    assert!(local.local_addr.ip().is_loopback());
    local.task.abort();
    local.reindex.abort();
}

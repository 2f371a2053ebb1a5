//! Custom SearchParameter resources: they take effect at run time, the server reindexes what it
//! already stores in the background (resuming after a restart), and a query on a parameter that
//! is still being reindexed is refused as not ready (503) rather than answered short.

use conformance_tests::{both_backends, fresh_database, unique, Backend, Fhir, Target};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

both_backends!(custom_parameter_lifecycle, custom_token_counts_for_has_patient);

/// A string parameter over an extension of Patient, under a code of its own.
fn definition(code: &str, ext: &str) -> Value {
    json!({"resourceType": "SearchParameter", "url": format!("http://example.org/sp/{code}"), "name": "EyeColour", "status": "active",
        "description": "eye colour", "code": code, "base": ["Patient"], "type": "string",
        "expression": format!("Patient.extension.where(url = '{ext}').value")})
}

async fn patient(f: &Fhir, ext: &str, colour: &str) -> String {
    let p = f.create(&json!({"resourceType": "Patient", "extension": [{"url": ext, "valueString": colour}]})).await;
    p["id"].as_str().unwrap().to_string()
}

fn ids(bundle: &Value) -> BTreeSet<String> {
    bundle["entry"].as_array().into_iter().flatten().filter_map(|e| e["resource"]["id"].as_str().map(str::to_string)).collect()
}

/// The answer to `query` once reindexing is over; until then every answer must be a 503 naming
/// `param`, never a short result. Returns the ids and how many 503s came first.
async fn once_ready(f: &Fhir, query: &str, param: &str) -> (BTreeSet<String>, usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut not_ready = 0;
    loop {
        let r = f.get(query).await;
        match r.status {
            200 => return (ids(&r.json()), not_ready),
            503 => {
                assert_eq!(r.issue_expression().as_deref(), Some(param), "{}", r.text);
                assert_eq!(r.json()["issue"][0]["code"], "transient", "{}", r.text);
                not_ready += 1;
            }
            s => panic!("{query}: unexpected {s}: {}", r.text),
        }
        assert!(Instant::now() < deadline, "{query} still not ready after 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn custom_parameter_lifecycle(f: &Fhir) {
    let tag = unique();
    let code = format!("eye-colour-{tag}");
    let (ext, other_ext) = (format!("http://example.org/eye/{tag}"), format!("http://example.org/hair/{tag}"));
    let blue1 = patient(f, &ext, "Blue").await;
    let _green = patient(f, &ext, "green").await;
    let blue2 = patient(f, &ext, "blue-grey").await;
    // A contained Patient, stored before the definition too.
    let holder = f.create(&json!({"resourceType": "Observation", "status": "final", "code": {"text": "eyes"}, "subject": {"reference": "#p"},
        "contained": [{"resourceType": "Patient", "id": "p", "extension": [{"url": ext, "valueString": "blue"}]}]})).await;
    let query = format!("Patient?{code}=blue&_count=100");
    assert_eq!(f.get(&query).await.expect(400).issue_expression().as_deref(), Some(code.as_str()), "unknown before it is defined");

    // A definition the server cannot use is refused, naming the element.
    let mut bad = definition(&code, &ext);
    bad["expression"] = json!("Patient.extension.where(");
    assert_eq!(f.post("SearchParameter", &bad).await.expect(400).issue_expression().as_deref(), Some("SearchParameter.expression"));

    let sp = f.create(&definition(&code, &ext)).await;
    let (found, _) = once_ready(f, &query, &code).await;
    assert_eq!(found, [blue1.clone(), blue2.clone()].into(), "resources stored before the definition are found");
    let (containers, _) = once_ready(f, &format!("{query}&_contained=true"), &code).await;
    assert_eq!(containers, [holder["id"].as_str().unwrap().to_string()].into(), "and contained ones");
    let blue3 = patient(f, &ext, "BLUE").await;
    let (found, _) = once_ready(f, &query, &code).await;
    assert_eq!(found, [blue1.clone(), blue2.clone(), blue3.clone()].into(), "resources written after it are indexed on write");

    // Progress and the CapabilityStatement tell about it.
    let jobs = f.get("$reindex").await.expect(200).json();
    let ours = jobs["parameter"].as_array().unwrap().iter().find(|j| j["part"].as_array().unwrap().iter().any(|p| p["valueString"] == format!("Patient.{code}"))).expect("a job for it");
    let part = |n: &str| ours["part"].as_array().unwrap().iter().find(|p| p["name"] == n).cloned().unwrap();
    assert_eq!(part("status")["valueCode"], "completed");
    assert_eq!(part("done")["valueInteger"], part("total")["valueInteger"]);
    let cs = f.get("metadata").await.expect(200).json();
    let patient_entry = cs["rest"][0]["resource"].as_array().unwrap().iter().find(|r| r["type"] == "Patient").unwrap().clone();
    assert!(patient_entry["searchParam"].as_array().unwrap().iter().any(|p| p["name"] == code.as_str()), "listed for Patient");

    // A changed definition is reindexed: the same code now reads another extension.
    let _hair = patient(f, &other_ext, "blue").await;
    let mut changed = sp.clone();
    changed["expression"] = json!(format!("Patient.extension.where(url = '{other_ext}').value"));
    f.put(&format!("SearchParameter/{}", sp["id"].as_str().unwrap()), &changed).await.expect(200);
    let (found, _) = once_ready(f, &query, &code).await;
    assert_eq!(found, [_hair.clone()].into(), "after the change only the other extension counts");

    // Removed, it is unknown again.
    f.delete(&format!("SearchParameter/{}", sp["id"].as_str().unwrap())).await;
    assert_eq!(f.get(&query).await.expect(400).issue_expression().as_deref(), Some(code.as_str()), "unknown once deleted");
}

/// A token parameter defined after its Observations were stored: the reindex writes only that
/// parameter's rows, and `Patient?_has:Observation:patient:` on it must still know each row's patient.
async fn custom_token_counts_for_has_patient(f: &Fhir) {
    let tag = unique();
    let code = format!("flag-{tag}");
    let ext = format!("http://example.org/flag/{tag}");
    let p = f.create(&json!({"resourceType": "Patient"})).await["id"].as_str().unwrap().to_string();
    f.create(&json!({"resourceType": "Observation", "status": "final", "code": {"text": "flagged"}, "subject": {"reference": format!("Patient/{p}")},
        "extension": [{"url": ext, "valueCode": "yes"}]}))
        .await;
    f.create(&json!({"resourceType": "SearchParameter", "url": format!("http://example.org/sp/{code}"), "name": "Flag", "status": "active",
        "description": "a flag", "code": code, "base": ["Observation"], "type": "token",
        "expression": format!("Observation.extension.where(url = '{ext}').value")}))
        .await;
    let (flagged, _) = once_ready(f, &format!("Observation?{code}=yes"), &code).await;
    assert_eq!(flagged.len(), 1);
    let r = f.get(&format!("Patient?_has:Observation:patient:{code}=yes")).await.expect(200).json();
    assert_eq!(ids(&r), [p].into());
}

/// Our own server on `url`, reindexing one resource per batch with `pause` between batches.
async fn own_server(url: &str, pause: Duration) -> (Fhir, fhir_server::Running) {
    let running = fhir_server::start(fhir_server::ServeConfig {
        max_connections: Some(4),
        reindex: fhir_server::store::indexing::ReindexConfig { batch: 1, pause },
        ..fhir_server::ServeConfig::local(url)
    })
    .await
    .unwrap_or_else(|e| panic!("server on {url}: {e}"));
    let f = Fhir::new(&Target { base: running.base_url.clone(), name: "own", database_url: Some(url.to_string()) });
    (f, running)
}

/// (id, status, done, total) of the only job.
async fn the_job(f: &Fhir) -> (String, String, i64, i64) {
    let jobs = f.get("$reindex").await.expect(200).json();
    let list = jobs["parameter"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{jobs}");
    let part = |n: &str| list[0]["part"].as_array().unwrap().iter().find(|p| p["name"] == n).cloned().unwrap();
    (
        part("id")["valueString"].as_str().unwrap().to_string(),
        part("status")["valueCode"].as_str().unwrap().to_string(),
        part("done")["valueInteger"].as_i64().unwrap(),
        part("total")["valueInteger"].as_i64().unwrap(),
    )
}

/// Not ready while reindexing, and a restart resumes the job where it stopped instead of
/// starting over: after the restart the job's count goes on from where it was and ends at the total.
async fn reindex_resumes_after_restart(backend: Backend) {
    let Some(url) = fresh_database(backend) else { return };
    let (f, first) = own_server(&url, Duration::from_millis(250)).await;
    let ext = "http://example.org/eye";
    let mut blue = BTreeSet::new();
    for i in 0..8 {
        let id = patient(&f, ext, if i % 2 == 0 { "blue" } else { "brown" }).await;
        if i % 2 == 0 {
            blue.insert(id);
        }
    }
    f.create(&definition("eye-colour", ext)).await;
    let r = f.get("Patient?eye-colour=blue").await.expect(503);
    assert_eq!(r.issue_expression().as_deref(), Some("eye-colour"));
    assert_eq!(r.header("retry-after").as_deref(), Some("5"));
    let (job, status, _, total) = the_job(&f).await;
    assert_eq!((status.as_str(), total), ("in-progress", 8));
    let deadline = Instant::now() + Duration::from_secs(30);
    while the_job(&f).await.2 < 3 {
        assert!(Instant::now() < deadline, "the job does not advance");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.reindex.abort();
    first.task.abort();
    let _ = first.reindex.await;
    let _ = first.task.await;

    let (f, second) = own_server(&url, Duration::ZERO).await;
    let (job_again, _, done_at_restart, _) = the_job(&f).await;
    assert_eq!(job_again, job, "the same job goes on");
    assert!(done_at_restart >= 3, "progress survives the restart ({done_at_restart})");
    let (found, _) = once_ready(&f, "Patient?eye-colour=blue", "eye-colour").await;
    assert_eq!(found, blue);
    let (_, status, done, total) = the_job(&f).await;
    assert_eq!((status.as_str(), done, total), ("completed", 8, 8), "resumed from its cursor, not started over");
    second.reindex.abort();
    second.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reindex_resumes_after_restart_sqlite() {
    reindex_resumes_after_restart(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reindex_resumes_after_restart_postgres() {
    reindex_resumes_after_restart(Backend::Postgres).await;
}

/// Runs statements on a stopped server's database.
async fn execute(url: &str, statements: &[&str]) {
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        for s in statements {
            sqlx::query(s).execute(&pool).await.unwrap_or_else(|e| panic!("{s}: {e}"));
        }
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        for s in statements {
            sqlx::query(s).execute(&pool).await.unwrap_or_else(|e| panic!("{s}: {e}"));
        }
        pool.close().await;
    }
}

/// Rows written by an older build (here: gender tokens without their implied system, and no
/// record of the format) are rewritten by a full reindex the next start queues on its own.
async fn an_older_index_format_is_reindexed_at_start(backend: Backend) {
    let Some(url) = fresh_database(backend) else { return };
    let (f, first) = own_server(&url, Duration::ZERO).await;
    let id = f.create(&json!({"resourceType": "Patient", "gender": "female"})).await["id"].as_str().unwrap().to_string();
    let query = "Patient?gender=http://hl7.org/fhir/administrative-gender|female";
    assert_eq!(ids(&f.get(query).await.expect(200).json()), [id.clone()].into());
    first.reindex.abort();
    first.task.abort();
    let _ = first.task.await;
    execute(&url, &["UPDATE idx_token SET system = NULL WHERE param = 'gender'", "DELETE FROM index_format"]).await;

    let (f, second) = own_server(&url, Duration::ZERO).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, status, done, total) = the_job(&f).await;
        if status == "completed" {
            assert_eq!((done, total), (1, 1));
            break;
        }
        assert!(Instant::now() < deadline, "the format upgrade does not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ids(&f.get(query).await.expect(200).json()), [id].into(), "the implied system is indexed again");
    second.reindex.abort();
    second.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_index_format_is_reindexed_at_start_sqlite() {
    an_older_index_format_is_reindexed_at_start(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_index_format_is_reindexed_at_start_postgres() {
    an_older_index_format_is_reindexed_at_start(Backend::Postgres).await;
}

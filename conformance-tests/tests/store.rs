//! What HTTP cannot show: every change leaves one outbox row in its own transaction, history keeps
//! every version, and index rows follow the current version only.

use conformance_tests::{both_backends, unique, Fhir};
use fhir_server::store::{open::open, Arg, Pool};
use serde_json::json;

async fn count(pool: &Pool, sql: &str, args: &[Arg<'_>]) -> i64 {
    let rows: Vec<(i64,)> = pool.fetch(sql, args).await.unwrap();
    rows[0].0
}

async fn outbox_history_and_index_follow_each_change(f: &Fhir) {
    let Some(url) = &f.database_url else { return };
    let pool = open(url, Some(2)).await.unwrap();
    let ident = unique();
    let p = f.create(&json!({"resourceType": "Patient", "identifier": [{"system": "urn:test", "value": ident}], "name": [{"family": "Outbox"}]})).await;
    let id = p["id"].as_str().unwrap();
    let mut v2 = p.clone();
    v2["name"][0]["family"] = json!("Changed");
    f.put(&format!("Patient/{id}"), &v2).await.expect(200);
    f.delete(&format!("Patient/{id}")).await.expect(204);
    // A refused write leaves nothing behind.
    f.put(&format!("Patient/{id}"), &json!({"resourceType": "Patient", "id": id, "gender": "bogus"})).await.expect(400);

    let actions: Vec<(String, i64)> = pool
        .fetch("SELECT action, version FROM outbox WHERE res_type = 'Patient' AND res_id = $1 ORDER BY seq", &[Arg::Text(id)])
        .await
        .unwrap();
    assert_eq!(actions, vec![("create".to_string(), 1), ("update".to_string(), 2), ("delete".to_string(), 3)]);
    let methods: Vec<(String, bool)> = pool
        .fetch("SELECT method, deleted FROM resource_history WHERE res_type = 'Patient' AND res_id = $1 ORDER BY version", &[Arg::Text(id)])
        .await
        .unwrap();
    assert_eq!(methods, vec![("POST".to_string(), false), ("PUT".to_string(), false), ("DELETE".to_string(), true)]);
    let current = count(&pool, "SELECT COUNT(*) FROM resource WHERE res_type = 'Patient' AND res_id = $1 AND deleted AND version = 3", &[Arg::Text(id)]).await;
    assert_eq!(current, 1, "one current row, a tombstone at version 3");
    let rid = count(&pool, "SELECT rid FROM resource WHERE res_type = 'Patient' AND res_id = $1", &[Arg::Text(id)]).await;
    for t in ["idx_string", "idx_token", "idx_reference", "idx_date", "idx_number", "idx_quantity", "idx_uri"] {
        assert_eq!(count(&pool, &format!("SELECT COUNT(*) FROM {t} WHERE rid = $1"), &[Arg::Int(rid)]).await, 0, "{t} rows of a deleted resource");
    }
    // While current, the index held the new family name and not the old one.
    let q = f.create(&json!({"resourceType": "Patient", "name": [{"family": "Indexed"}]})).await;
    let qid = q["id"].as_str().unwrap();
    let mut q2 = q.clone();
    q2["name"][0]["family"] = json!("Reindexed");
    f.put(&format!("Patient/{qid}"), &q2).await.expect(200);
    let qrid = count(&pool, "SELECT rid FROM resource WHERE res_type = 'Patient' AND res_id = $1", &[Arg::Text(qid)]).await;
    let names: Vec<(String,)> = pool.fetch("SELECT value_norm FROM idx_string WHERE rid = $1 AND param = 'family'", &[Arg::Int(qrid)]).await.unwrap();
    assert_eq!(names, vec![("reindexed".to_string(),)]);
}

/// PostgreSQL compresses stored documents with lz4 where it has lz4 (migration 0011): a large
/// resource's text and JSONB, current and in history.
async fn documents_compress_with_lz4(f: &Fhir) {
    let pool = open(f.database_url.as_ref().expect("the test server's database"), Some(2)).await.unwrap();
    let has_lz4: Vec<(bool,)> = pool.fetch("SELECT 'lz4' = ANY (enumvals) FROM pg_settings WHERE name = 'default_toast_compression'", &[]).await.unwrap();
    // Large enough to be compressed (PostgreSQL compresses rows over about 2 kB).
    let note = "lz4 ".repeat(1000);
    let p = f.create(&json!({"resourceType": "Patient", "name": [{"family": "Compressed", "text": note}]})).await;
    let id = p["id"].as_str().unwrap();
    let methods: Vec<(Option<String>, Option<String>)> = pool
        .fetch(
            "SELECT pg_column_compression(content)::text, pg_column_compression(content_text)::text FROM resource WHERE res_type = 'Patient' AND res_id = $1 \
             UNION ALL SELECT pg_column_compression(content)::text, pg_column_compression(content_text)::text FROM resource_history WHERE res_type = 'Patient' AND res_id = $1",
            &[Arg::Text(id)],
        )
        .await
        .unwrap();
    let want = if has_lz4[0].0 { "lz4" } else { "pglz" };
    assert_eq!(methods, vec![(Some(want.to_string()), Some(want.to_string())); 2]);
}

both_backends!(outbox_history_and_index_follow_each_change);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_documents_compress_with_lz4() {
    if let Some(t) = conformance_tests::target(conformance_tests::Backend::Postgres) {
        documents_compress_with_lz4(&Fhir::new(t)).await;
    }
}

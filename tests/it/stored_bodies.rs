//! Stored resource bodies (the store's `body` codec, migration 0014): new bodies are written
//! compressed with the trained dictionary, and a database written before the migration keeps
//! reading its bodies, versions and tombstones exactly as they were stored.

use crate::common::old_schema::Raw;
use ikp::store::{Method, NewVersion};

/// The newest migration before bodies were compressed.
const BEFORE_COMPRESSION: i64 = 13;

const LEGACY_BODY: &str = r#"{"resourceType":"Patient","id":"legacy","meta":{"versionId":"1","lastUpdated":"2026-01-02T03:04:05.000Z"},"name":[{"family":"Żółć","given":["Ósemka"]}],"gender":"female"}"#;

on_both_databases!(bodies_survive_the_migration_and_new_ones_are_compressed);

async fn bodies_survive_the_migration_and_new_ones_are_compressed(url: &str) {
    let mut raw = Raw::connect(url).await;
    raw.migrate_to(BEFORE_COMPRESSION).await;
    // Patient/legacy as the store wrote it before: version 1, then a deletion (a NULL content).
    raw.execute(&format!(
        "INSERT INTO resource_version (res_type, res_id, version, last_updated, method, content) VALUES \
         ('Patient', 'legacy', 1, 1000, 'POST', '{LEGACY_BODY}'), ('Patient', 'legacy', 2, 2000, 'DELETE', NULL)"
    ))
    .await;
    raw.execute(
        "INSERT INTO resource (res_type, res_id, version, last_updated, deleted, seq) SELECT res_type, res_id, \
         version, last_updated, TRUE, seq FROM resource_version WHERE res_id = 'legacy' AND version = 2",
    )
    .await;

    let store = ikp::store::open(url).await.expect("the store migrates the old database");
    let first = store.vread("Patient", "legacy", 1).await.unwrap().expect("version 1");
    assert_eq!(first.content.as_deref(), Some(LEGACY_BODY), "an old body reads back byte for byte");
    let current = store.read("Patient", "legacy").await.unwrap().expect("current");
    assert_eq!((current.version, current.content), (2, None), "a tombstone stays a tombstone");
    assert_eq!(raw.body("legacy", 1).await.as_deref(), Some(LEGACY_BODY.as_bytes()), "moved over as it was");

    let fresh = LEGACY_BODY.replace("legacy", "fresh");
    let mut tx = store.begin().await.unwrap();
    tx.put(vec![NewVersion {
        resource_type: "Patient".into(),
        id: "fresh".into(),
        version: 1,
        last_updated: 3000,
        method: Method::Create,
        content: Some(fresh.clone()),
        index: Default::default(),
        replaces_index: false,
    }])
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let stored = raw.body("fresh", 1).await.expect("a body");
    assert_eq!(stored[0], 1, "written with the first dictionary's tag");
    assert!(stored.len() * 2 < fresh.len(), "compressed: {} of {} bytes", stored.len(), fresh.len());
    let read = store.read("Patient", "fresh").await.unwrap().expect("fresh");
    assert_eq!(read.content.as_deref(), Some(fresh.as_str()));
    let history = store
        .history(&ikp::store::HistoryQuery {
            scope: ikp::store::HistoryScope::Type("Patient".into()),
            since: None,
            at: None,
            before_seq: None,
            limit: 10,
        })
        .await
        .unwrap();
    let contents: Vec<Option<&str>> = history.iter().map(|v| v.content.as_deref()).collect();
    assert_eq!(contents, vec![Some(fresh.as_str()), None, Some(LEGACY_BODY)], "history reads both forms");
    store.close().await;
}

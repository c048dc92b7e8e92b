//! Index rows keyed by an integer for their resource type and parameter (migration 0017): the
//! keys the migration computes in SQL for rows written before it are the ones the server computes
//! (`ikp::store::index::param_key`), so old rows are found by new searches, on both backends.

use ikp::store::index::param_key;

use crate::common::old_schema::Raw;

/// The newest migration before index rows were keyed.
const BEFORE_KEYS: i64 = 16;

const VALUE_SET: &str = r#"{"resourceType":"ValueSet","id":"vs","url":"http://example.org/vs","status":"active"}"#;

on_both_databases!(old_rows_get_the_servers_keys);

async fn old_rows_get_the_servers_keys(url: &str) {
    let mut raw = Raw::connect(url).await;
    raw.migrate_to(BEFORE_KEYS).await;
    raw.execute(&format!(
        "INSERT INTO resource_version (res_type, res_id, version, last_updated, method, body) VALUES \
         ('ValueSet', 'vs', 1, 1000, 'POST', {})",
        if url.starts_with("sqlite:") {
            format!("CAST('{VALUE_SET}' AS BLOB)")
        } else {
            format!("convert_to('{VALUE_SET}', 'UTF8')")
        }
    ))
    .await;
    raw.execute(
        "INSERT INTO resource (res_type, res_id, version, last_updated, deleted, seq) SELECT res_type, res_id, \
         version, last_updated, FALSE, seq FROM resource_version WHERE res_id = 'vs'",
    )
    .await;
    // Rows of every table as the store wrote them before, one of them under a custom parameter
    // whose code is not ASCII.
    for insert in [
        "INSERT INTO search_string (rid, res_type, param, grp, norm, exact) VALUES \
         (7, 'Patient', 'family', NULL, 'zolc', 'Żółć'), (8, 'Observation', 'code:text', NULL, 'tetno', '')",
        "INSERT INTO search_token (rid, res_type, param, grp, system, code) VALUES \
         (8, 'Observation', 'code', NULL, 'http://loinc.org', '8867-4'), (9, 'Basic', 'wartość', NULL, NULL, 'x'), \
         (8, 'Observation', 'component-code-value-quantity$0', 2, 'http://loinc.org', '8480-6')",
        "INSERT INTO search_date (rid, res_type, param, grp, lo, hi) VALUES (8, 'Observation', 'date', NULL, 10, 20)",
        "INSERT INTO search_number (rid, res_type, param, grp, lo, hi) VALUES \
         (6, 'Location', 'near:latitude', NULL, 52.5, 52.5)",
        "INSERT INTO search_quantity (rid, res_type, param, grp, system, code, lo, hi, canon_code, canon_lo, canon_hi) \
         VALUES (8, 'Observation', 'value-quantity', NULL, 'http://unitsofmeasure.org', 'mm[Hg]', 119.5, 120.5, \
         NULL, NULL, NULL)",
        "INSERT INTO search_reference (rid, res_type, param, grp, target_type, target_id, version, url) VALUES \
         (8, 'Observation', 'subject', NULL, 'Patient', 'p1', NULL, NULL), \
         (8, 'Observation', 'performer', NULL, NULL, NULL, NULL, 'http://elsewhere/Practitioner/1')",
    ] {
        raw.execute(insert).await;
    }
    raw.execute(
        "INSERT INTO search_uri (rid, res_type, param, grp, value) \
         SELECT rid, 'ValueSet', 'url', NULL, 'http://example.org/vs' FROM resource WHERE res_id = 'vs'",
    )
    .await;

    let store = ikp::store::open(url).await.expect("the store migrates the old database");
    let key = |t: &str, p: &str| param_key(t, p).to_string();
    let rows = |table: &str, columns: &str| {
        format!("SELECT CAST(param_key AS TEXT), {columns} FROM {table} ORDER BY param_key, rid")
    };
    let mut expected = vec![
        vec![key("Patient", "family"), "zolc".into(), "Żółć".into()],
        vec![key("Observation", "code:text"), "tetno".into(), "".into()],
    ];
    expected.sort_by_key(|r| r[0].parse::<i64>().unwrap());
    assert_eq!(raw.rows(&rows("search_string", "norm, exact")).await, expected);
    let mut expected = vec![
        vec![key("Observation", "code"), "NULL".into(), "8867-4".into()],
        vec![key("Basic", "wartość"), "NULL".into(), "x".into()],
        vec![key("Observation", "component-code-value-quantity$0"), "2".into(), "8480-6".into()],
    ];
    expected.sort_by_key(|r| r[0].parse::<i64>().unwrap());
    assert_eq!(
        raw.rows(&rows("search_token", "CAST(grp AS TEXT), code")).await,
        expected,
        "token rows, one of them under a code that is not ASCII"
    );
    assert_eq!(
        raw.rows(&rows("search_date", "CAST(lo AS TEXT), CAST(hi AS TEXT)")).await,
        vec![vec![key("Observation", "date"), "10".into(), "20".into()]]
    );
    assert_eq!(
        raw.rows(&rows("search_number", "CAST(rid AS TEXT)")).await,
        vec![vec![key("Location", "near:latitude"), "6".into()]]
    );
    assert_eq!(
        raw.rows(&rows("search_quantity", "code")).await,
        vec![vec![key("Observation", "value-quantity"), "mm[Hg]".into()]]
    );
    let mut expected = vec![
        vec![key("Observation", "subject"), "p1".into(), "NULL".into()],
        vec![key("Observation", "performer"), "NULL".into(), "http://elsewhere/Practitioner/1".into()],
    ];
    expected.sort_by_key(|r| r[0].parse::<i64>().unwrap());
    assert_eq!(raw.rows(&rows("search_reference", "target_id, url")).await, expected);
    assert_eq!(
        raw.rows(&rows("search_uri", "value")).await,
        vec![vec![key("ValueSet", "url"), "http://example.org/vs".into()]]
    );
    // The old columns are gone, and an old row is found the new way (a canonical by its URL).
    for table in ["search_string", "search_token", "search_reference", "search_uri"] {
        assert!(raw.try_execute(&format!("SELECT res_type FROM {table}")).await.is_err(), "{table} has no res_type");
    }
    let found = store.newest_by_url("ValueSet", "http://example.org/vs").await.unwrap().expect("the value set");
    assert_eq!(found.id, "vs");
    assert!(store.newest_by_url("CodeSystem", "http://example.org/vs").await.unwrap().is_none(), "another type's key");
    store.close().await;
}

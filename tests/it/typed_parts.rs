//! Reference parameters read in a typed part of another's rows (`SearchParam::part_of`):
//! Observation's `patient` is `subject` where it points at a Patient, so its rows are stored once,
//! under `subject`. Every way a search names the parameter (a value by id or by URL, `:missing`,
//! `:identifier`, chains, `_has`, `_include`, `_revinclude`, several types at once) finds exactly
//! what its own rows did, on both backends; and migration 0019 drops the rows written before that
//! repeat another's, keeping those of references by URL alone.

use std::collections::BTreeSet;

use ikp::store::index::param_key;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::old_schema::Raw;
use crate::common::{TestServer, json, keys};

on_both_backends!(searches_find_what_own_rows_found);
on_both_databases!(old_rows_of_typed_parts_are_dropped);

async fn put(s: &TestServer, r: Value) {
    let path = format!("{}/{}", r["resourceType"].as_str().unwrap(), r["id"].as_str().unwrap());
    let response = s.send(Method::PUT, &path, &r).send().await.unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
}

async fn found(s: &TestServer, search: &str, mode: &str) -> BTreeSet<String> {
    let response = s.get(search).send().await.unwrap();
    assert_eq!(response.status(), 200, "{search}");
    keys(&json(response).await, mode)
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

fn observation(id: &str, subject: Option<Value>) -> Value {
    let mut o = json!({"resourceType": "Observation", "id": id, "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}});
    if let Some(subject) = subject {
        o["subject"] = subject;
    }
    o
}

async fn searches_find_what_own_rows_found(s: &TestServer) {
    put(s, json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Kowalska"}]})).await;
    put(s, json!({"resourceType": "Group", "id": "g1", "type": "person", "actual": true})).await;
    put(s, json!({"resourceType": "Practitioner", "id": "dr", "name": [{"family": "Nowak"}]})).await;
    put(s, observation("o1", Some(json!({"reference": "Patient/p1"})))).await;
    put(s, observation("o2", Some(json!({"reference": "Group/g1"})))).await;
    // By URL alone (no type: its row keeps its own key), by URL with a type, logical.
    put(s, observation("o3", Some(json!({"reference": "http://elsewhere/fhir/Patient/9"})))).await;
    put(s, observation("o4", Some(json!({"reference": "http://elsewhere/fhir/Patient/8", "type": "Patient"})))).await;
    put(s, observation("o5", Some(json!({"type": "Patient", "identifier": {"system": "urn:pesel", "value": "1"}}))))
        .await;
    put(s, observation("o6", None)).await;
    put(s, json!({"resourceType": "AllergyIntolerance", "id": "al1", "patient": {"reference": "Patient/p1"}})).await;
    put(
        s,
        json!({"resourceType": "Appointment", "id": "a1", "status": "booked", "participant": [
        {"actor": {"reference": "Patient/p1"}, "status": "accepted"},
        {"actor": {"reference": "Practitioner/dr"}, "status": "accepted"}]}),
    )
    .await;

    for (search, mode, expected) in [
        ("Observation?patient=p1", "match", set(&["Observation/o1"])),
        ("Observation?patient=Patient/p1", "match", set(&["Observation/o1"])),
        ("Observation?patient:Patient=p1", "match", set(&["Observation/o1"])),
        ("Observation?subject=p1", "match", set(&["Observation/o1"])),
        ("Observation?patient=g1", "match", set(&[])),
        ("Observation?subject=Group/g1", "match", set(&["Observation/o2"])),
        ("Observation?patient=http://elsewhere/fhir/Patient/9", "match", set(&["Observation/o3"])),
        ("Observation?patient=http://elsewhere/fhir/Patient/8", "match", set(&["Observation/o4"])),
        ("Observation?patient:identifier=urn:pesel|1", "match", set(&["Observation/o5"])),
        ("Observation?patient:missing=true", "match", set(&["Observation/o2", "Observation/o6"])),
        (
            "Observation?patient:missing=false",
            "match",
            set(&["Observation/o1", "Observation/o3", "Observation/o4", "Observation/o5"]),
        ),
        ("Observation?patient.name=Kowalska", "match", set(&["Observation/o1"])),
        ("Observation?patient:Patient.name=Kowalska", "match", set(&["Observation/o1"])),
        ("Patient?_has:Observation:patient:code=8867-4", "match", set(&["Patient/p1"])),
        ("Group?_has:Observation:patient:code=8867-4", "match", set(&[])),
        ("Patient/p1/Observation", "match", set(&["Observation/o1"])),
        ("Appointment?patient=p1", "match", set(&["Appointment/a1"])),
        ("Appointment?practitioner=dr", "match", set(&["Appointment/a1"])),
        ("Appointment?actor=dr", "match", set(&["Appointment/a1"])),
        ("Appointment?patient=dr", "match", set(&[])),
        ("Appointment?practitioner.name=Nowak", "match", set(&["Appointment/a1"])),
        // A typed part on one type, rows of its own on the other.
        (
            "?_type=Observation,AllergyIntolerance&patient=p1",
            "match",
            set(&["Observation/o1", "AllergyIntolerance/al1"]),
        ),
        ("Observation?_id=o1&_include=Observation:patient", "include", set(&["Patient/p1"])),
        ("Observation?_id=o2&_include=Observation:patient", "include", set(&[])),
        ("Observation?_id=o2&_include=Observation:subject", "include", set(&["Group/g1"])),
        ("Patient?_id=p1&_revinclude=Observation:patient", "include", set(&["Observation/o1"])),
        ("Group?_id=g1&_revinclude=Observation:patient", "include", set(&[])),
        ("Practitioner?_id=dr&_revinclude=Appointment:practitioner", "include", set(&["Appointment/a1"])),
    ] {
        assert_eq!(found(s, search, mode).await, expected, "{search} ({})", s.backend);
    }

    // Stored once: of Observation's `patient` rows only the one by URL alone is left.
    let mut raw = Raw::connect(&s.database_url).await;
    let count = |key: i64| format!("SELECT CAST(COUNT(*) AS TEXT) FROM search_reference WHERE param_key = {key}");
    assert_eq!(raw.rows(&count(param_key("Observation", "patient"))).await, [["1"]]);
    assert_eq!(raw.rows(&count(param_key("Observation", "subject"))).await, [["5"]]);
    assert_eq!(raw.rows(&count(param_key("Appointment", "practitioner"))).await, [["0"]]);
}

/// The newest migration before typed parts were stored once.
const BEFORE_TYPED_PARTS: i64 = 18;

async fn old_rows_of_typed_parts_are_dropped(url: &str) {
    let mut raw = Raw::connect(url).await;
    raw.migrate_to(BEFORE_TYPED_PARTS).await;
    let key = |t: &str, p: &str| param_key(t, p);
    raw.execute(&format!(
        "INSERT INTO search_reference (rid, param_key, grp, target_type, target_id, version, url) VALUES \
         (8, {subject}, NULL, 'Patient', 'p1', NULL, NULL), (8, {patient}, NULL, 'Patient', 'p1', NULL, NULL), \
         (9, {subject}, NULL, NULL, NULL, NULL, 'http://elsewhere/Patient/9'), \
         (9, {patient}, NULL, NULL, NULL, NULL, 'http://elsewhere/Patient/9'), \
         (10, {allergy}, NULL, 'Patient', 'p1', NULL, NULL), (11, {actor}, NULL, 'Practitioner', 'dr', NULL, NULL), \
         (11, {practitioner}, NULL, 'Practitioner', 'dr', NULL, NULL)",
        subject = key("Observation", "subject"),
        patient = key("Observation", "patient"),
        allergy = key("AllergyIntolerance", "patient"),
        actor = key("Appointment", "actor"),
        practitioner = key("Appointment", "practitioner"),
    ))
    .await;
    let store = ikp::store::open(url).await.expect("the store migrates the old database");
    let mut rows = raw.rows("SELECT CAST(rid AS TEXT), CAST(param_key AS TEXT) FROM search_reference").await;
    rows.sort_by_key(|r| (r[0].parse::<i64>().unwrap(), r[1].parse::<i64>().unwrap()));
    let mut expected = vec![
        vec!["8".to_string(), key("Observation", "subject").to_string()],
        vec!["9".into(), key("Observation", "subject").to_string()],
        vec!["9".into(), key("Observation", "patient").to_string()],
        vec!["10".into(), key("AllergyIntolerance", "patient").to_string()],
        vec!["11".into(), key("Appointment", "actor").to_string()],
    ];
    expected.sort_by_key(|r| (r[0].parse::<i64>().unwrap(), r[1].parse::<i64>().unwrap()));
    assert_eq!(rows, expected, "typed parts' rows dropped, a reference by URL alone and own rows kept");
    store.close().await;
}

//! Concurrent writers: optimistic locking picks exactly one winner, unconditional updates lose
//! nothing, and conditional creates cannot duplicate.

use crate::common;

use common::{TestServer, json};
use futures::future::join_all;
use reqwest::Method;
use serde_json::json;

on_both_backends!(
    same_if_match_exactly_one_wins,
    unconditional_updates_lose_nothing,
    racing_creates_of_one_id,
    racing_conditional_creates
);

const WRITERS: usize = 16;

async fn same_if_match_exactly_one_wins(s: &TestServer) {
    let created = s.create(&json!({"resourceType": "Patient", "active": true})).await;
    let id = created["id"].as_str().unwrap().to_string();
    let path = format!("Patient/{id}");
    let attempts = (0..WRITERS).map(|i| {
        let body = json!({"resourceType": "Patient", "id": id, "name": [{"family": format!("Writer{i}")}]});
        s.send(Method::PUT, &path, &body).header("if-match", "W/\"1\"").send()
    });
    let statuses: Vec<u16> = join_all(attempts).await.into_iter().map(|r| r.unwrap().status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 412).count(), WRITERS - 1, "{statuses:?}");
    let current = json(s.get(&path).send().await.unwrap()).await;
    assert_eq!(current["meta"]["versionId"], "2");
    let history = json(s.get(&format!("{path}/_history")).send().await.unwrap()).await;
    assert_eq!(history["entry"].as_array().unwrap().len(), 2);
}

async fn unconditional_updates_lose_nothing(s: &TestServer) {
    let created = s.create(&json!({"resourceType": "Patient"})).await;
    let id = created["id"].as_str().unwrap().to_string();
    let path = format!("Patient/{id}");
    let writes = (0..WRITERS).map(|i| {
        let body = json!({"resourceType": "Patient", "id": id, "name": [{"family": format!("W{i}")}]});
        s.send(Method::PUT, &path, &body).send()
    });
    for r in join_all(writes).await {
        assert_eq!(r.unwrap().status(), 200);
    }
    let history = json(s.get(&format!("{path}/_history?_count=100")).send().await.unwrap()).await;
    let entries = history["entry"].as_array().unwrap();
    assert_eq!(entries.len(), WRITERS + 1);
    let mut families: Vec<String> =
        entries.iter().filter_map(|e| e["resource"]["name"][0]["family"].as_str().map(str::to_string)).collect();
    families.sort();
    families.dedup();
    assert_eq!(families.len(), WRITERS, "every write is a version of its own");
    let current = json(s.get(&path).send().await.unwrap()).await;
    assert_eq!(current["meta"]["versionId"], (WRITERS + 1).to_string());
}

async fn racing_creates_of_one_id(s: &TestServer) {
    let writes = (0..WRITERS).map(|i| {
        let body = json!({"resourceType": "Patient", "id": "race", "name": [{"family": format!("W{i}")}]});
        s.send(Method::PUT, "Patient/race", &body).send()
    });
    let statuses: Vec<u16> = join_all(writes).await.into_iter().map(|r| r.unwrap().status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), WRITERS - 1, "{statuses:?}");
    let current = json(s.get("Patient/race").send().await.unwrap()).await;
    assert_eq!(current["meta"]["versionId"], WRITERS.to_string());
}

async fn racing_conditional_creates(s: &TestServer) {
    let body = json!({"resourceType": "Patient", "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.4424.1.1.616", "value": "02070803628"}]});
    let writes = (0..WRITERS).map(|_| {
        s.send(Method::POST, "Patient", &body)
            .header("if-none-exist", "identifier=urn:oid:2.16.840.1.113883.3.4424.1.1.616|02070803628")
            .send()
    });
    let responses: Vec<reqwest::Response> = join_all(writes).await.into_iter().map(Result::unwrap).collect();
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), WRITERS - 1, "{statuses:?}");
    let mut ids = Vec::new();
    for r in responses {
        ids.push(json(r).await["id"].as_str().unwrap().to_string());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "all requests see the one patient");
}

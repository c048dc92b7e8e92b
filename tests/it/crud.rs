//! create, read, vread, update, delete, versioning headers, Prefer and conditional interactions.

use crate::common;

use common::{TestServer, json, outcome};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    create_read_vread,
    update_versions_and_update_as_create,
    delete_is_a_versioned_tombstone,
    if_match_guards_updates_and_deletes,
    conditional_read,
    prefer_return,
    conditional_create,
    conditional_update,
    conditional_delete,
    decimals_and_key_order_are_kept,
);

fn patient(family: &str) -> Value {
    json!({"resourceType": "Patient", "name": [{"family": family, "given": ["Jan"]}], "birthDate": "1980-01-01"})
}

async fn create_read_vread(s: &TestServer) {
    let r = s
        .send(Method::POST, "Patient", &json!({"resourceType": "Patient", "id": "ignored", "active": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(r.headers()["etag"], "W/\"1\"");
    assert!(r.headers().contains_key("last-modified"));
    let created = json(r).await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_ne!(id, "ignored", "the server assigns ids on create");
    assert_eq!(location, s.url(&format!("Patient/{id}/_history/1")));
    assert_eq!(created["meta"]["versionId"], "1");
    assert!(created["meta"]["lastUpdated"].as_str().unwrap().ends_with('Z'));

    let r = s.get(&format!("Patient/{id}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "W/\"1\"");
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/fhir+json"));
    assert_eq!(json(r).await, created);

    let r = s.get(&format!("Patient/{id}/_history/1")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await, created);
    outcome(s.get(&format!("Patient/{id}/_history/2")).send().await.unwrap(), 404).await;
    outcome(s.get(&format!("Patient/{id}/_history/x")).send().await.unwrap(), 404).await;
    outcome(s.get("Patient/does-not-exist").send().await.unwrap(), 404).await;
}

async fn update_versions_and_update_as_create(s: &TestServer) {
    // Update as create with a client-chosen id.
    let mut p = patient("Nowak");
    p["id"] = json!("pat-1");
    let r = s.send(Method::PUT, "Patient/pat-1", &p).send().await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["location"], s.url("Patient/pat-1/_history/1").as_str());
    p["active"] = json!(true);
    let r = s.send(Method::PUT, "Patient/pat-1", &p).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "W/\"2\"");
    let body = json(r).await;
    assert_eq!(body["meta"]["versionId"], "2");
    assert_eq!(body["active"], true);
    // The old version stays readable.
    let v1 = json(s.get("Patient/pat-1/_history/1").send().await.unwrap()).await;
    assert!(v1.get("active").is_none());
    // Client-sent versionId/lastUpdated are replaced by the server's.
    p["meta"] = json!({"versionId": "77", "lastUpdated": "2000-01-01T00:00:00Z", "tag": [{"code": "t"}]});
    let body = json(s.send(Method::PUT, "Patient/pat-1", &p).send().await.unwrap()).await;
    assert_eq!(body["meta"]["versionId"], "3");
    assert_ne!(body["meta"]["lastUpdated"], "2000-01-01T00:00:00Z");
    assert_eq!(body["meta"]["tag"][0]["code"], "t");
}

async fn delete_is_a_versioned_tombstone(s: &TestServer) {
    let created = s.create(&patient("Wiśniewski")).await;
    let id = created["id"].as_str().unwrap();
    let r = s.request(Method::DELETE, &format!("Patient/{id}")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["etag"], "W/\"2\"");
    outcome(s.get(&format!("Patient/{id}")).send().await.unwrap(), 410).await;
    outcome(s.get(&format!("Patient/{id}/_history/2")).send().await.unwrap(), 410).await;
    // History keeps the version before the deletion.
    assert_eq!(s.get(&format!("Patient/{id}/_history/1")).send().await.unwrap().status(), 200);
    // Deleting again changes nothing.
    let r = s.request(Method::DELETE, &format!("Patient/{id}")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let h = json(s.get(&format!("Patient/{id}/_history")).send().await.unwrap()).await;
    assert_eq!(h["entry"].as_array().unwrap().len(), 2);
    // A later update brings it back as version 3.
    let mut p = patient("Wiśniewski");
    p["id"] = json!(id);
    let r = s.send(Method::PUT, &format!("Patient/{id}"), &p).send().await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(json(r).await["meta"]["versionId"], "3");
    // Deleting what never existed.
    outcome(s.request(Method::DELETE, "Patient/never-was").send().await.unwrap(), 404).await;
}

async fn if_match_guards_updates_and_deletes(s: &TestServer) {
    let created = s.create(&patient("Lewandowska")).await;
    let id = created["id"].as_str().unwrap();
    let mut p = created.clone();
    p["active"] = json!(true);
    let path = format!("Patient/{id}");
    let r = s.send(Method::PUT, &path, &p).header("if-match", "W/\"1\"").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let issues = outcome(s.send(Method::PUT, &path, &p).header("if-match", "W/\"1\"").send().await.unwrap(), 412).await;
    assert!(issues[0]["diagnostics"].as_str().unwrap().contains("version 2"));
    outcome(s.request(Method::DELETE, &path).header("if-match", "W/\"1\"").send().await.unwrap(), 412).await;
    assert_eq!(s.get(&path).send().await.unwrap().status(), 200, "a failed delete deletes nothing");
    outcome(
        s.send(Method::PUT, "Patient/nobody", &json!({"resourceType": "Patient", "id": "nobody"}))
            .header("if-match", "W/\"1\"")
            .send()
            .await
            .unwrap(),
        412,
    )
    .await;
    outcome(s.send(Method::PUT, &path, &p).header("if-match", "garbage").send().await.unwrap(), 400).await;
    let r = s.request(Method::DELETE, &path).header("if-match", "W/\"2\"").send().await.unwrap();
    assert_eq!(r.status(), 204);
}

async fn conditional_read(s: &TestServer) {
    let created = s.create(&patient("Zielińska")).await;
    let path = format!("Patient/{}", created["id"].as_str().unwrap());
    let r = s.get(&path).header("if-none-match", "W/\"1\"").send().await.unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()["etag"], "W/\"1\"");
    assert!(r.bytes().await.unwrap().is_empty());
    assert_eq!(s.get(&path).header("if-none-match", "W/\"9\"").send().await.unwrap().status(), 200);
    let later = httpdate::fmt_http_date(std::time::SystemTime::now() + std::time::Duration::from_secs(60));
    assert_eq!(s.get(&path).header("if-modified-since", later).send().await.unwrap().status(), 304);
    let earlier = httpdate::fmt_http_date(std::time::SystemTime::now() - std::time::Duration::from_secs(3600));
    assert_eq!(s.get(&path).header("if-modified-since", earlier).send().await.unwrap().status(), 200);
}

async fn prefer_return(s: &TestServer) {
    let r = s.send(Method::POST, "Patient", &patient("A")).header("prefer", "return=minimal").send().await.unwrap();
    assert_eq!(r.status(), 201);
    assert!(r.headers().contains_key("location"));
    assert!(r.bytes().await.unwrap().is_empty());
    let r = s
        .send(Method::POST, "Patient", &patient("B"))
        .header("prefer", "return=OperationOutcome")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(json(r).await["resourceType"], "OperationOutcome");
    let r =
        s.send(Method::POST, "Patient", &patient("C")).header("prefer", "return=representation").send().await.unwrap();
    assert_eq!(json(r).await["name"][0]["family"], "C");
}

async fn conditional_create(s: &TestServer) {
    let pesel = json!({"resourceType": "Patient", "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.4424.1.1.616", "value": "80010112340"}]});
    let criteria = "identifier=urn:oid:2.16.840.1.113883.3.4424.1.1.616|80010112340";
    let r = s.send(Method::POST, "Patient", &pesel).header("if-none-exist", criteria).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let first = json(r).await;
    let r = s.send(Method::POST, "Patient", &pesel).header("if-none-exist", criteria).send().await.unwrap();
    assert_eq!(r.status(), 200, "an existing match is returned, not duplicated");
    assert_eq!(json(r).await["id"], first["id"]);
    // By code alone and by _id.
    let r =
        s.send(Method::POST, "Patient", &pesel).header("if-none-exist", "identifier=80010112340").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let by_id = format!("_id={}", first["id"].as_str().unwrap());
    assert_eq!(
        s.send(Method::POST, "Patient", &pesel).header("if-none-exist", by_id).send().await.unwrap().status(),
        200
    );
    // A second resource with the same identifier makes the criteria ambiguous: 412.
    s.create(&pesel).await;
    outcome(s.send(Method::POST, "Patient", &pesel).header("if-none-exist", criteria).send().await.unwrap(), 412).await;
    // Unsupported criteria are refused, never ignored.
    outcome(s.send(Method::POST, "Patient", &pesel).header("if-none-exist", "nickname=x").send().await.unwrap(), 400)
        .await;
}

async fn conditional_update(s: &TestServer) {
    let body = json!({"resourceType": "Practitioner", "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.4424.1.6.2", "value": "1234567"}], "active": true});
    let path = "Practitioner?identifier=urn:oid:2.16.840.1.113883.3.4424.1.6.2|1234567";
    let r = s.send(Method::PUT, path, &body).send().await.unwrap();
    assert_eq!(r.status(), 201, "no match: create");
    let created = json(r).await;
    let mut changed = body.clone();
    changed["active"] = json!(false);
    let r = s.send(Method::PUT, path, &changed).send().await.unwrap();
    assert_eq!(r.status(), 200, "one match: update it");
    let updated = json(r).await;
    assert_eq!(updated["id"], created["id"]);
    assert_eq!(updated["meta"]["versionId"], "2");
    // A body id that contradicts the match.
    let mut wrong = changed.clone();
    wrong["id"] = json!("someone-else");
    outcome(s.send(Method::PUT, path, &wrong).send().await.unwrap(), 400).await;
    // Two matches: 412.
    s.create(&body).await;
    outcome(s.send(Method::PUT, path, &changed).send().await.unwrap(), 412).await;
}

async fn conditional_delete(s: &TestServer) {
    let body = json!({"resourceType": "Organization", "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.4424.2.3.1", "value": "000000001"}], "name": "Przychodnia"});
    let created = s.create(&body).await;
    let path = "Organization?identifier=urn:oid:2.16.840.1.113883.3.4424.2.3.1|000000001";
    assert_eq!(s.request(Method::DELETE, path).send().await.unwrap().status(), 204);
    outcome(s.get(&format!("Organization/{}", created["id"].as_str().unwrap())).send().await.unwrap(), 410).await;
    assert_eq!(s.request(Method::DELETE, path).send().await.unwrap().status(), 204, "no match: nothing to delete");
    s.create(&body).await;
    s.create(&body).await;
    outcome(s.request(Method::DELETE, path).send().await.unwrap(), 412).await;
    outcome(s.request(Method::DELETE, "Organization").send().await.unwrap(), 400).await;
}

async fn decimals_and_key_order_are_kept(s: &TestServer) {
    let text = r#"{"resourceType":"Observation","status":"final","code":{"text":"weight"},"valueQuantity":{"value":72.50,"unit":"kg"},"note":[{"text":"ł"}]}"#;
    let r = s
        .request(Method::POST, "Observation")
        .header("content-type", "application/fhir+json")
        .body(text)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = json(r).await["id"].as_str().unwrap().to_string();
    let raw = s.get(&format!("Observation/{id}")).send().await.unwrap().text().await.unwrap();
    assert!(raw.contains(r#""value":72.50"#), "{raw}");
    let status_at = raw.find("\"status\"").unwrap();
    let code_at = raw.find("\"code\"").unwrap();
    assert!(status_at < code_at, "keys keep the client's order: {raw}");
    let xml = s.get(&format!("Observation/{id}?_format=xml")).send().await.unwrap().text().await.unwrap();
    assert!(xml.contains(r#"<value value="72.50"/>"#), "{xml}");
}

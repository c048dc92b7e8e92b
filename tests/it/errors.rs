//! Every refusal is an OperationOutcome with the right status and location, and nothing is
//! stored when a request is rejected.

use crate::common;

use common::{TestServer, json, outcome};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    malformed_bodies,
    invalid_resources_report_each_problem,
    wrong_type_and_id,
    unknown_types_paths_and_methods,
    media_types,
    too_large_bodies,
    rejected_writes_store_nothing,
);

fn diagnostics(issues: &[Value]) -> Vec<(String, String)> {
    issues
        .iter()
        .map(|i| {
            (
                i["expression"][0].as_str().unwrap_or_default().to_string(),
                i["diagnostics"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

async fn post_raw(s: &TestServer, path: &str, content_type: &str, body: &str) -> reqwest::Response {
    s.request(Method::POST, path).header("content-type", content_type).body(body.to_string()).send().await.unwrap()
}

async fn malformed_bodies(s: &TestServer) {
    let issues =
        outcome(post_raw(s, "Patient", "application/fhir+json", "{\"resourceType\": \"Patient\",").await, 400).await;
    assert!(issues[0]["diagnostics"].as_str().unwrap().contains("malformed JSON"), "{issues:?}");
    outcome(post_raw(s, "Patient", "application/fhir+json", "[1, 2]").await, 400).await;
    outcome(post_raw(s, "Patient", "application/fhir+json", "").await, 400).await;
    outcome(post_raw(s, "Patient", "application/fhir+json", "\u{1}").await, 400).await;
    let issues = outcome(
        post_raw(
            s,
            "Patient",
            "application/fhir+xml",
            "<Patient xmlns=\"http://hl7.org/fhir\"><active value=\"true\"></Patient>",
        )
        .await,
        400,
    )
    .await;
    assert!(issues[0]["diagnostics"].as_str().unwrap().contains("malformed XML"), "{issues:?}");
    outcome(
        post_raw(
            s,
            "Patient",
            "application/fhir+xml",
            "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><Patient xmlns=\"http://hl7.org/fhir\"/>",
        )
        .await,
        400,
    )
    .await;
    // Deep nesting is refused, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    outcome(post_raw(s, "Patient", "application/fhir+json", &deep).await, 400).await;
    let deep_xml = format!(
        "<Patient xmlns=\"http://hl7.org/fhir\">{}{}</Patient>",
        "<extension url=\"http://x\">".repeat(5000),
        "</extension>".repeat(5000)
    );
    let r = post_raw(s, "Patient", "application/fhir+xml", &deep_xml).await;
    assert_eq!(r.status(), 400);
}

async fn invalid_resources_report_each_problem(s: &TestServer) {
    let bad = json!({
        "resourceType": "Patient",
        "nick": "Jaś",
        "birthDate": "1980-13-01",
        "gender": 1,
        "active": "yes",
        "name": {"family": "Kowalski"},
        "telecom": [],
        "deceasedBoolean": false, "deceasedDateTime": "2020-01-01",
        "contact": [{"gender": "male", "extra": 1}],
        "multipleBirthInteger": 1.5
    });
    let issues = outcome(s.send(Method::POST, "Patient", &bad).send().await.unwrap(), 400).await;
    let found = diagnostics(&issues);
    for expected in [
        "Patient.nick",
        "Patient.birthDate",
        "Patient.gender",
        "Patient.active",
        "Patient.name",
        "Patient.telecom",
        "Patient.deceasedDateTime",
        "Patient.contact[0].extra",
        "Patient.multipleBirthInteger",
    ] {
        assert!(found.iter().any(|(at, _)| at == expected), "no issue at {expected}: {found:?}");
    }
    assert!(issues.iter().all(|i| i["severity"] == "error"));
    // Required elements, nested resources, primitive companions.
    let issues = outcome(
        s.send(Method::POST, "Observation", &json!({"resourceType": "Observation", "code": {"text": "x"}}))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(diagnostics(&issues)[0].0, "Observation.status");
    let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Patient", "birthDate": "2024-02-30"}}]});
    let issues = outcome(s.send(Method::POST, "Bundle", &bundle).send().await.unwrap(), 400).await;
    assert_eq!(diagnostics(&issues)[0].0, "Bundle.entry[0].resource.birthDate");
    let companion = json!({"resourceType": "Patient", "_birthDate": {"nick": 1}});
    let issues = outcome(s.send(Method::POST, "Patient", &companion).send().await.unwrap(), 400).await;
    assert_eq!(diagnostics(&issues)[0].0, "Patient._birthDate.nick");
    let xml = "<Patient xmlns=\"http://hl7.org/fhir\"><name><family value=\"K\"/><nick value=\"x\"/></name></Patient>";
    let issues = outcome(post_raw(s, "Patient", "application/fhir+xml", xml).await, 400).await;
    assert_eq!(diagnostics(&issues)[0].0, "Patient.name.nick");
}

async fn wrong_type_and_id(s: &TestServer) {
    let issues =
        outcome(s.send(Method::POST, "Patient", &json!({"resourceType": "Observation"})).send().await.unwrap(), 400)
            .await;
    assert!(issues[0]["diagnostics"].as_str().unwrap().contains("URL names Patient"));
    outcome(
        s.send(Method::PUT, "Patient/a", &json!({"resourceType": "Patient", "id": "b"})).send().await.unwrap(),
        400,
    )
    .await;
    outcome(s.send(Method::PUT, "Patient/a", &json!({"resourceType": "Patient"})).send().await.unwrap(), 400).await;
    outcome(
        s.send(Method::PUT, "Patient/a_b", &json!({"resourceType": "Patient", "id": "a_b"})).send().await.unwrap(),
        400,
    )
    .await;
    outcome(s.send(Method::POST, "Patient", &json!({"active": true})).send().await.unwrap(), 400).await;
}

async fn unknown_types_paths_and_methods(s: &TestServer) {
    outcome(s.get("Unicorn/1").send().await.unwrap(), 404).await;
    outcome(s.send(Method::POST, "Unicorn", &json!({"resourceType": "Unicorn"})).send().await.unwrap(), 404).await;
    outcome(s.get("Unicorn/_history").send().await.unwrap(), 404).await;
    outcome(s.get("DomainResource/1").send().await.unwrap(), 404).await;
    outcome(s.client.get(s.base.replace("/fhir", "/nothing-here")).send().await.unwrap(), 404).await;
    outcome(s.request(Method::PATCH, "Patient/1/_history/1").send().await.unwrap(), 405).await;
    outcome(s.get("Patient/1/_history?_count=abc").send().await.unwrap(), 400).await;
    outcome(s.get("_history?_since=yesterday").send().await.unwrap(), 400).await;
}

async fn media_types(s: &TestServer) {
    let p = json!({"resourceType": "Patient"}).to_string();
    outcome(post_raw(s, "Patient", "text/plain", &p).await, 415).await;
    outcome(s.get("metadata").header("accept", "image/png").send().await.unwrap(), 406).await;
    outcome(s.get("metadata?_format=yaml").send().await.unwrap(), 406).await;
    // Errors are written in the negotiated format.
    let r = s.get("Patient/none?_format=xml").send().await.unwrap();
    assert_eq!(r.status(), 404);
    let text = r.text().await.unwrap();
    assert!(text.contains("<OperationOutcome xmlns=\"http://hl7.org/fhir\">"), "{text}");
    // No Content-Type: the body is recognised.
    let r = s.request(Method::POST, "Patient").body(p).send().await.unwrap();
    assert_eq!(r.status(), 201);
}

async fn too_large_bodies(s: &TestServer) {
    // The harness configures a 1 MiB limit.
    let big = json!({"resourceType": "Patient", "text": {"status": "generated", "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{}</div>", "x".repeat(2 * 1024 * 1024))}});
    outcome(s.send(Method::POST, "Patient", &big).send().await.unwrap(), 413).await;
    // Chunked bodies without a Content-Length are limited too.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(serde_json::to_vec(&big).unwrap())];
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let r = s
        .request(Method::POST, "Patient")
        .header("content-type", "application/fhir+json")
        .body(body)
        .send()
        .await
        .unwrap();
    outcome(r, 413).await;
}

async fn rejected_writes_store_nothing(s: &TestServer) {
    let before = json(s.get("_history").send().await.unwrap()).await;
    let count = |b: &Value| b["entry"].as_array().map_or(0, Vec::len);
    let n = count(&before);
    s.send(Method::POST, "Patient", &json!({"resourceType": "Patient", "birthDate": "1980-02-30"}))
        .send()
        .await
        .unwrap();
    s.send(Method::PUT, "Patient/x", &json!({"resourceType": "Patient", "id": "x", "nick": 1})).send().await.unwrap();
    post_raw(s, "Patient", "application/fhir+json", "{").await;
    let after = json(s.get("_history").send().await.unwrap()).await;
    assert_eq!(count(&after), n);
    outcome(s.get("Patient/x").send().await.unwrap(), 404).await;
}

//! National business rules on writes and the `$validate` operation.

use crate::common;

use common::{TestServer, json, outcome};
use reqwest::Method;
use serde_json::{Value, json};

const PESEL: &str = "urn:oid:2.16.840.1.113883.3.4424.1.1.616";

fn patient(pesel: &str, birth: &str, gender: &str) -> Value {
    json!({"resourceType": "Patient", "gender": gender, "birthDate": birth,
        "identifier": [{"system": PESEL, "value": pesel}], "name": [{"family": "Nowak"}]})
}

async fn writes_with_impossible_identifiers_are_refused(server: &TestServer) {
    let created = server.create(&patient("02270803624", "2002-07-08", "female")).await;
    assert_eq!(created["identifier"][0]["value"], "02270803624");

    for (body, fragment) in [
        (patient("02270803625", "2002-07-08", "female"), "check digit"),
        (patient("02270803624", "2002-07-09", "female"), "birth date"),
        (patient("02270803624", "2002-07-08", "male"), "encodes a woman"),
        (patient("0227080362", "2002-07-08", "female"), "11 digits"),
        (
            json!({"resourceType": "Organization", "name": "X",
            "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.4424.2.1", "value": "5261040827"}]}),
            "NIP",
        ),
        (
            json!({"resourceType": "Organization", "name": "X",
            "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.4424.2.2.1", "value": "012100785"}]}),
            "REGON",
        ),
    ] {
        let t = body["resourceType"].as_str().expect("type").to_string();
        let r = server.send(Method::POST, &t, &body).send().await.expect("create");
        let issues = outcome(r, 422).await;
        assert_eq!(issues[0]["expression"][0], format!("{t}.identifier[0].value"), "{fragment}");
        assert!(issues[0]["diagnostics"].as_str().unwrap_or_default().contains(fragment), "{fragment}: {issues:?}");
    }
    // Inside a transaction the failing entry is named and nothing is stored.
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": patient("44051401359", "1944-05-14", "male"), "request": {"method": "POST", "url": "Patient"}},
        {"resource": patient("44051401358", "1944-05-14", "male"), "request": {"method": "POST", "url": "Patient"}}]});
    let r = server
        .client
        .post(&server.base)
        .header("content-type", "application/fhir+json")
        .body(bundle.to_string())
        .send()
        .await
        .expect("transaction");
    let issues = outcome(r, 422).await;
    assert!(issues[0]["expression"][0].as_str().unwrap_or_default().starts_with("Bundle.entry[1]"), "{issues:?}");
    let found = json(
        server
            .get("Patient?identifier=urn:oid:2.16.840.1.113883.3.4424.1.1.616|44051401359")
            .send()
            .await
            .expect("search"),
    )
    .await;
    assert_eq!(found["total"], 0);
}

fn no_errors(outcome: &Value) -> bool {
    outcome["issue"].as_array().is_some_and(|issues| issues.iter().all(|i| i["severity"] != "error"))
}

async fn validate_reports_findings_without_storing(server: &TestServer) {
    let r = server
        .send(Method::POST, "Patient/$validate", &patient("02270803625", "2002-07-08", "female"))
        .send()
        .await
        .expect("validate");
    assert_eq!(r.status(), 200);
    let body = json(r).await;
    assert_eq!(body["resourceType"], "OperationOutcome");
    assert_eq!(body["issue"][0]["severity"], "error");
    assert_eq!(body["issue"][0]["expression"][0], "Patient.identifier[0].value");

    let parameters = json!({"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": patient("02270803624", "2002-07-08", "female")},
        {"name": "mode", "valueCode": "create"}]});
    let body = json(server.send(Method::POST, "Patient/$validate", &parameters).send().await.expect("validate")).await;
    assert!(no_errors(&body), "{body}");
    // The base invariants are checked too: no narrative is a dom-6 warning.
    assert!(
        body["issue"]
            .as_array()
            .is_some_and(|i| i.iter().any(|i| i["diagnostics"].as_str().is_some_and(|d| d.starts_with("dom-6")))),
        "{body}"
    );

    // Structure errors are reported too, with their location.
    let broken = json!({"resourceType": "Patient", "birthDate": "2002-13-45"});
    let body = json(server.send(Method::POST, "Patient/$validate", &broken).send().await.expect("validate")).await;
    assert_eq!(body["issue"][0]["expression"][0], "Patient.birthDate", "{body}");

    // Instance level: the stored resource.
    let stored = server.create(&patient("44051401359", "1944-05-14", "male")).await;
    let id = stored["id"].as_str().expect("id");
    let body = json(server.get(&format!("Patient/{id}/$validate")).send().await.expect("validate")).await;
    assert!(no_errors(&body), "{body}");

    let r = server
        .send(
            Method::POST,
            "Patient/$validate?profile=https://example.org/unknown",
            &patient("44051401359", "1944-05-14", "male"),
        )
        .send()
        .await
        .expect("validate");
    outcome(r, 404).await;
    let r = server
        .send(Method::POST, "Observation/$validate", &patient("44051401359", "1944-05-14", "male"))
        .send()
        .await
        .expect("validate");
    outcome(r, 400).await;
    let r = server.request(Method::POST, "Patient/$validate").send().await.expect("validate");
    outcome(r, 400).await;
    let r = server.get("Patient/nobody/$validate").send().await.expect("validate");
    outcome(r, 404).await;
    let found = json(server.get("Patient?birthdate=2002-07-08").send().await.expect("search")).await;
    assert_eq!(found["total"], 0, "$validate stores nothing");
}

on_both_backends!(writes_with_impossible_identifiers_are_refused, validate_reports_findings_without_storing);

/// A profile stored on the server is enforced from then on; one that cannot be compiled is refused.
async fn stored_profiles_are_enforced(server: &TestServer) {
    let url = "https://example.org/fhir/StructureDefinition/NeedsBirthDate";
    let definition = |expression: &str| {
        json!({"resourceType": "StructureDefinition", "url": url, "name": "NeedsBirthDate", "status": "active",
            "kind": "resource", "abstract": false, "type": "Patient", "derivation": "constraint",
            "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient",
            "differential": {"element": [
                {"id": "Patient", "path": "Patient", "constraint": [{"key": "nb-1", "severity": "error",
                    "human": "a family name", "expression": expression}]},
                {"id": "Patient.birthDate", "path": "Patient.birthDate", "min": 1}]}})
    };
    let r = server
        .send(Method::POST, "StructureDefinition", &definition("name.family.exists("))
        .send()
        .await
        .expect("post");
    outcome(r, 422).await;
    server.create(&definition("name.family.exists()")).await;
    let mut patient = json!({"resourceType": "Patient", "meta": {"profile": [url]}, "name": [{"family": "Nowak"}]});
    let issues = outcome(server.send(Method::POST, "Patient", &patient).send().await.expect("post"), 422).await;
    assert!(issues[0]["diagnostics"].as_str().unwrap_or_default().contains("Patient.birthDate"), "{issues:?}");
    patient["birthDate"] = json!("1980-01-01");
    server.create(&patient).await;
}

on_both_backends!(stored_profiles_are_enforced);

/// The required bindings of the base definitions hold on every kind of write: a code outside its
/// value set is a 400 `code-invalid` at the element, and nothing is stored.
async fn required_bindings_hold_on_every_write(server: &TestServer) {
    let refused = |issues: &[Value], at: &str| {
        let issue = issues.iter().find(|i| i["expression"][0] == at);
        assert!(issue.is_some_and(|i| i["code"] == "code-invalid" && i["severity"] == "error"), "{at}: {issues:?}");
    };
    let robot = json!({"resourceType": "Patient", "gender": "robot"});
    let issues = outcome(server.send(Method::POST, "Patient", &robot).send().await.expect("post"), 400).await;
    refused(&issues, "Patient.gender");
    assert!(issues[0]["diagnostics"].as_str().unwrap_or_default().contains("'robot'"), "{issues:?}");
    let observation = json!({"resourceType": "Observation", "status": "not-a-status", "code": {"text": "x"}});
    let issues = outcome(server.send(Method::POST, "Observation", &observation).send().await.expect("post"), 400).await;
    refused(&issues, "Observation.status");
    // Inside data types, and a CodeableConcept with text only.
    let condition = json!({"resourceType": "Condition", "subject": {"reference": "Patient/x"},
        "clinicalStatus": {"text": "active"}, "identifier": [{"use": "primary", "value": "1"}]});
    let issues = outcome(server.send(Method::POST, "Condition", &condition).send().await.expect("post"), 400).await;
    refused(&issues, "Condition.clinicalStatus");
    refused(&issues, "Condition.identifier[0].use");
    // A value set the server cannot expand (all MIME types) is not checked.
    server.create(&json!({"resourceType": "Patient", "photo": [{"contentType": "application/x-made-up"}]})).await;

    // Update and PATCH.
    let stored = server.create(&json!({"resourceType": "Patient", "gender": "female"})).await;
    let id = stored["id"].as_str().expect("id");
    let r = server.send(
        Method::PUT,
        &format!("Patient/{id}"),
        &json!({"resourceType": "Patient", "id": id, "gender": "robot"}),
    );
    refused(&outcome(r.send().await.expect("put"), 400).await, "Patient.gender");
    let patch = server
        .request(Method::PATCH, &format!("Patient/{id}"))
        .header("content-type", "application/json-patch+json")
        .body(json!([{"op": "replace", "path": "/gender", "value": "robot"}]).to_string());
    refused(&outcome(patch.send().await.expect("patch"), 400).await, "Patient.gender");
    let current = json(server.get(&format!("Patient/{id}")).send().await.expect("read")).await;
    assert_eq!((current["gender"].as_str(), current["meta"]["versionId"].as_str()), (Some("female"), Some("1")));

    // A transaction with one bad entry stores nothing; in a batch only that entry fails.
    let entries = json!([
        {"resource": {"resourceType": "Patient", "gender": "male", "name": [{"family": "Bindingtest"}]},
            "request": {"method": "POST", "url": "Patient"}},
        {"resource": robot, "request": {"method": "POST", "url": "Patient"}}]);
    let post_bundle = |kind: &str| {
        let bundle = json!({"resourceType": "Bundle", "type": kind, "entry": entries});
        server.client.post(&server.base).header("content-type", "application/fhir+json").body(bundle.to_string()).send()
    };
    let issues = outcome(post_bundle("transaction").await.expect("transaction"), 400).await;
    refused(&issues, "Bundle.entry[1].resource.gender");
    let found = json(server.get("Patient?family=Bindingtest").send().await.expect("search")).await;
    assert_eq!(found["total"], 0);
    let response = json(post_bundle("batch").await.expect("batch")).await;
    assert!(response["entry"][0]["response"]["status"].as_str().unwrap_or_default().starts_with("201"), "{response}");
    assert!(response["entry"][1]["response"]["status"].as_str().unwrap_or_default().starts_with("400"), "{response}");

    // $validate reports the same finding.
    let body = json(server.send(Method::POST, "Patient/$validate", &robot).send().await.expect("validate")).await;
    refused(body["issue"].as_array().map_or(&[][..], Vec::as_slice), "Patient.gender");
}

on_both_backends!(required_bindings_hold_on_every_write);

/// `ikp validate` checks required bindings too (against the built-in terminology) and fails.
#[test]
fn the_cli_reports_required_bindings() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("robot.json");
    std::fs::write(&file, json!({"resourceType": "Patient", "gender": "robot"}).to_string()).expect("write");
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_ikp")).arg("validate").arg(&file).output().expect("run ikp");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("Error Patient.gender 'robot' is not in the value set"), "{stdout}");
    std::fs::write(&file, json!({"resourceType": "Patient", "gender": "other"}).to_string()).expect("write");
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_ikp")).arg("validate").arg(&file).output().expect("run ikp");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}

//! PATCH with JSON Patch and FHIRPath Patch: If-Match, conditional patch, and validation of the
//! patched result (an invalid result stores nothing).

use crate::common;

use common::{TestServer, json, outcome};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(json_patch, fhirpath_patch, patch_in_a_transaction);

async fn json_patch_request(s: &TestServer, path: &str, ops: Value) -> reqwest::RequestBuilder {
    s.request(Method::PATCH, path).header("content-type", "application/json-patch+json").body(ops.to_string())
}

async fn json_patch(s: &TestServer) {
    let p = json!({"resourceType": "Patient", "id": "jp", "active": true, "name": [{"family": "Nowak", "given": ["Anna"]}]});
    s.send(Method::PUT, "Patient/jp", &p).send().await.unwrap();
    let ops = json!([
        {"op": "test", "path": "/active", "value": true},
        {"op": "replace", "path": "/active", "value": false},
        {"op": "add", "path": "/name/0/given/-", "value": "Maria"},
        {"op": "add", "path": "/birthDate", "value": "1990-05-01"}
    ]);
    let r = json_patch_request(s, "Patient/jp", ops.clone()).await.header("if-match", "W/\"1\"").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let patched = json(r).await;
    assert_eq!(patched["active"], false);
    assert_eq!(patched["name"][0]["given"], json!(["Anna", "Maria"]));
    assert_eq!(patched["birthDate"], "1990-05-01");
    assert_eq!(patched["meta"]["versionId"], "2");
    // Stale If-Match, failing test, and a patch that makes the resource invalid: nothing stored.
    outcome(json_patch_request(s, "Patient/jp", ops).await.header("if-match", "W/\"1\"").send().await.unwrap(), 412)
        .await;
    outcome(
        json_patch_request(s, "Patient/jp", json!([{"op": "test", "path": "/active", "value": true}]))
            .await
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    outcome(
        json_patch_request(s, "Patient/jp", json!([{"op": "replace", "path": "/birthDate", "value": "1990-13-01"}]))
            .await
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    outcome(
        json_patch_request(s, "Patient/jp", json!([{"op": "remove", "path": "/nothing"}])).await.send().await.unwrap(),
        422,
    )
    .await;
    outcome(json_patch_request(s, "Patient/jp", json!({"not": "an array"})).await.send().await.unwrap(), 400).await;
    assert_eq!(json(s.get("Patient/jp").send().await.unwrap()).await["meta"]["versionId"], "2");
    // Conditional patch.
    let r = json_patch_request(s, "Patient?family=nowak", json!([{"op": "add", "path": "/gender", "value": "female"}]))
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["gender"], "female");
    outcome(json_patch_request(s, "Patient/nobody", json!([])).await.send().await.unwrap(), 404).await;
    // Searches see the patched values.
    let found = json(s.get("Patient?birthdate=1990-05-01").send().await.unwrap()).await;
    assert_eq!(found["total"], 1);
}

fn operation(parts: Value) -> Value {
    json!({"name": "operation", "part": parts})
}

async fn fhirpath_patch(s: &TestServer) {
    let p = json!({"resourceType": "Patient", "id": "fp", "active": true, "birthDate": "1980-01-01",
        "name": [{"family": "Kowalski", "given": ["Jan", "Piotr"]}], "telecom": [{"system": "phone", "value": "1"}, {"system": "email", "value": "a@b.pl"}]});
    s.send(Method::PUT, "Patient/fp", &p).send().await.unwrap();
    let parameters = json!({"resourceType": "Parameters", "parameter": [
        operation(json!([{"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Patient.birthDate"}, {"name": "value", "valueDate": "1981-02-03"}])),
        operation(json!([{"name": "type", "valueCode": "delete"}, {"name": "path", "valueString": "Patient.active"}])),
        operation(json!([{"name": "type", "valueCode": "add"}, {"name": "path", "valueString": "Patient"}, {"name": "name", "valueString": "gender"}, {"name": "value", "valueCode": "male"}])),
        operation(json!([{"name": "type", "valueCode": "add"}, {"name": "path", "valueString": "Patient"}, {"name": "name", "valueString": "deceased"}, {"name": "value", "valueBoolean": false}])),
        operation(json!([{"name": "type", "valueCode": "insert"}, {"name": "path", "valueString": "Patient.name[0].given"}, {"name": "index", "valueInteger": 0}, {"name": "value", "valueString": "Adam"}])),
        operation(json!([{"name": "type", "valueCode": "move"}, {"name": "path", "valueString": "Patient.telecom"}, {"name": "source", "valueInteger": 1}, {"name": "destination", "valueInteger": 0}])),
        operation(json!([{"name": "type", "valueCode": "add"}, {"name": "path", "valueString": "Patient"}, {"name": "name", "valueString": "contact"},
            {"name": "value", "part": [{"name": "name", "part": [{"name": "family", "valueString": "Nowak"}]}]}]))
    ]});
    let r = s.send(Method::PATCH, "Patient/fp", &parameters).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let patched = json(s.get("Patient/fp").send().await.unwrap()).await;
    assert_eq!(patched["birthDate"], "1981-02-03");
    assert!(patched.get("active").is_none());
    assert_eq!(patched["gender"], "male");
    assert_eq!(patched["deceasedBoolean"], false, "choice element named by its value's type");
    assert_eq!(patched["name"][0]["given"], json!(["Adam", "Jan", "Piotr"]));
    assert_eq!(patched["telecom"][0]["system"], "email");
    assert_eq!(patched["contact"][0]["name"]["family"], "Nowak", "contact repeats, so it becomes a list");
    let bad = json!({"resourceType": "Parameters", "parameter": [
        operation(json!([{"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Patient.name.given"}, {"name": "value", "valueString": "X"}]))]});
    outcome(s.send(Method::PATCH, "Patient/fp", &bad).send().await.unwrap(), 422).await;
    let unknown = json!({"resourceType": "Parameters", "parameter": [operation(json!([{"name": "type", "valueCode": "explode"}, {"name": "path", "valueString": "Patient"}]))]});
    outcome(s.send(Method::PATCH, "Patient/fp", &unknown).send().await.unwrap(), 400).await;
}

async fn patch_in_a_transaction(s: &TestServer) {
    s.send(Method::PUT, "Patient/tp", &json!({"resourceType": "Patient", "id": "tp", "active": true}))
        .send()
        .await
        .unwrap();
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD
        .encode(json!([{"op": "replace", "path": "/active", "value": false}]).to_string());
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Binary", "contentType": "application/json-patch+json", "data": data}, "request": {"method": "PATCH", "url": "Patient/tp"}}]});
    let r = s
        .client
        .post(&s.base)
        .header("content-type", "application/fhir+json")
        .body(bundle.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let response = json(r).await;
    assert_eq!(response["entry"][0]["response"]["status"], "200 OK");
    assert_eq!(json(s.get("Patient/tp").send().await.unwrap()).await["active"], false);
}

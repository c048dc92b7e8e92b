//! batch and transaction: atomicity, processing order, urn:uuid and conditional references,
//! conditional entries, and independent batch entries.

use crate::common;

use common::{TestServer, json, outcome};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    transaction_resolves_references_and_is_atomic,
    transaction_conditional_entries,
    transaction_order_and_reads,
    batch_entries_are_independent,
    batch_gets_do_what_plain_gets_do,
    concurrent_transactions_do_not_interleave,
    operations_come_from_one_registry,
);

async fn post_bundle(s: &TestServer, bundle: &Value) -> reqwest::Response {
    s.client
        .post(&s.base)
        .header("content-type", "application/fhir+json")
        .body(bundle.to_string())
        .send()
        .await
        .unwrap()
}

fn statuses(response: &Value) -> Vec<String> {
    response["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["response"]["status"].as_str().unwrap().to_string())
        .collect()
}

async fn transaction_resolves_references_and_is_atomic(s: &TestServer) {
    let patient = "urn:uuid:9c3a1a6e-0000-4000-8000-000000000001";
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": patient, "resource": {"resourceType": "Patient", "name": [{"family": "Nowak"}],
            "text": {"status": "generated", "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\"><a href=\"{patient}\">me</a></div>")}},
         "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:9c3a1a6e-0000-4000-8000-000000000002", "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "Hb"},
            "subject": {"reference": patient},
            "extension": [{"url": "http://ikp.example/source", "valueReference": {"reference": patient}}]},
         "request": {"method": "POST", "url": "Observation"}}
    ]});
    let r = post_bundle(s, &bundle).await;
    assert_eq!(r.status(), 200);
    let response = json(r).await;
    assert_eq!(response["type"], "transaction-response");
    assert_eq!(statuses(&response), vec!["201 Created", "201 Created"]);
    let patient_id = response["entry"][0]["resource"]["id"].as_str().unwrap().to_string();
    let observation = &response["entry"][1]["resource"];
    assert_eq!(observation["subject"]["reference"], format!("Patient/{patient_id}"));
    assert_eq!(observation["extension"][0]["valueReference"]["reference"], format!("Patient/{patient_id}"));
    let div = response["entry"][0]["resource"]["text"]["div"].as_str().unwrap();
    assert!(div.contains(&format!("href=\"Patient/{patient_id}\"")), "{div}");
    assert!(response["entry"][1]["response"]["location"].as_str().unwrap().starts_with("Observation/"));
    let found = json(s.get(&format!("Observation?subject=Patient/{patient_id}")).send().await.unwrap()).await;
    assert_eq!(found["total"], 1);

    // One bad entry: nothing at all is written, and the error names the entry.
    let before = json(s.get("Patient?_summary=count").send().await.unwrap()).await["total"].clone();
    let bad = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient", "name": [{"family": "Kept?"}]}, "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Patient", "birthDate": "2020-02-31"}, "request": {"method": "POST", "url": "Patient"}}
    ]});
    let issues = outcome(post_bundle(s, &bad).await, 400).await;
    assert_eq!(issues[0]["expression"][0], "Bundle.entry[1].resource.birthDate");
    let after = json(s.get("Patient?_summary=count").send().await.unwrap()).await["total"].clone();
    assert_eq!(before, after, "the valid entry was not written either");
    // Two entries writing one resource.
    let twice = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient", "id": "t1"}, "request": {"method": "PUT", "url": "Patient/t1"}},
        {"resource": {"resourceType": "Patient", "id": "t1"}, "request": {"method": "PUT", "url": "Patient/t1"}}
    ]});
    outcome(post_bundle(s, &twice).await, 400).await;
}

async fn transaction_conditional_entries(s: &TestServer) {
    let pesel = "urn:oid:2.16.840.1.113883.3.4424.1.1.616";
    let patient = json!({"resourceType": "Patient", "identifier": [{"system": pesel, "value": "85031212350"}]});
    s.create(&patient).await;
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:00000000-0000-4000-8000-0000000000aa", "resource": patient,
         "request": {"method": "POST", "url": "Patient", "ifNoneExist": format!("identifier={pesel}|85031212350")}},
        {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": format!("Patient?identifier={pesel}|85031212350")}},
         "request": {"method": "POST", "url": "Observation"}},
        {"resource": {"resourceType": "Practitioner", "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.4424.1.6.2", "value": "7654321"}], "active": true},
         "request": {"method": "PUT", "url": "Practitioner?identifier=7654321"}}
    ]});
    let r = post_bundle(s, &bundle).await;
    assert_eq!(r.status(), 200);
    let response = json(r).await;
    assert_eq!(statuses(&response), vec!["200 OK", "201 Created", "201 Created"]);
    let patient_id = response["entry"][0]["resource"]["id"].as_str().unwrap();
    assert_eq!(
        response["entry"][1]["resource"]["subject"]["reference"],
        format!("Patient/{patient_id}"),
        "conditional reference resolved"
    );
    // A conditional reference must match exactly one resource.
    let dangling = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient?identifier=nobody"}},
         "request": {"method": "POST", "url": "Observation"}}]});
    let r = post_bundle(s, &dangling).await;
    assert!(matches!(r.status().as_u16(), 404 | 412), "{}", r.status());
    // ifMatch on an entry.
    let stale = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient", "id": patient_id, "active": true}, "request": {"method": "PUT", "url": format!("Patient/{patient_id}"), "ifMatch": "W/\"7\""}}]});
    outcome(post_bundle(s, &stale).await, 412).await;
}

async fn transaction_order_and_reads(s: &TestServer) {
    s.send(Method::PUT, "Patient/gone", &json!({"resourceType": "Patient", "id": "gone"})).send().await.unwrap();
    // Entries are given GET first and DELETE last, but run DELETE → POST → PUT → GET.
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "GET", "url": "Patient/kept"}},
        {"resource": {"resourceType": "Patient", "id": "kept", "active": true}, "request": {"method": "PUT", "url": "Patient/kept"}},
        {"request": {"method": "DELETE", "url": "Patient/gone"}}
    ]});
    let response = json(post_bundle(s, &bundle).await).await;
    assert_eq!(
        statuses(&response),
        vec!["200 OK", "201 Created", "204 No Content"],
        "responses keep the request order"
    );
    assert_eq!(response["entry"][0]["resource"]["active"], true, "the read sees the transaction's write");
    outcome(s.get("Patient/gone").send().await.unwrap(), 410).await;
}

async fn batch_entries_are_independent(s: &TestServer) {
    let bundle = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": {"resourceType": "Patient", "name": [{"family": "Ok"}]}, "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Patient", "birthDate": "nope"}, "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "GET", "url": "Patient?family=ok"}},
        {"request": {"method": "GET", "url": "Patient/missing"}},
        {"request": {"method": "DELETE", "url": "Patient/missing"}}
    ]});
    let r = post_bundle(s, &bundle).await;
    assert_eq!(r.status(), 200);
    let response = json(r).await;
    assert_eq!(response["type"], "batch-response");
    assert_eq!(statuses(&response), vec!["201 Created", "400 Bad Request", "200 OK", "404 Not Found", "404 Not Found"]);
    assert_eq!(response["entry"][1]["response"]["outcome"]["resourceType"], "OperationOutcome");
    assert_eq!(response["entry"][2]["resource"]["type"], "searchset");
    assert_eq!(response["entry"][2]["resource"]["total"], 1);
    outcome(post_bundle(s, &json!({"resourceType": "Bundle", "type": "collection"})).await, 400).await;
    outcome(post_bundle(s, &json!({"resourceType": "Patient"})).await, 400).await;
}

async fn concurrent_transactions_do_not_interleave(s: &TestServer) {
    // Each transaction moves a counter on two resources; concurrent runs must never leave them apart.
    for id in ["a", "b"] {
        s.send(Method::PUT, &format!("Basic/{id}"), &json!({"resourceType": "Basic", "id": id, "code": {"text": "0"}}))
            .send()
            .await
            .unwrap();
    }
    let runs = (0..12).map(|i| {
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": {"resourceType": "Basic", "id": "a", "code": {"text": i.to_string()}}, "request": {"method": "PUT", "url": "Basic/a"}},
            {"resource": {"resourceType": "Basic", "id": "b", "code": {"text": i.to_string()}}, "request": {"method": "PUT", "url": "Basic/b"}}
        ]});
        async move { post_bundle(s, &bundle).await.status().as_u16() }
    });
    let statuses = futures::future::join_all(runs).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let a = json(s.get("Basic/a").send().await.unwrap()).await;
    let b = json(s.get("Basic/b").send().await.unwrap()).await;
    assert_eq!(a["code"]["text"], b["code"]["text"], "both from the same transaction");
    assert_eq!(a["meta"]["versionId"], "13");
    assert_eq!(b["meta"]["versionId"], "13");
}

/// A batch (or transaction) GET entry is routed like a plain GET: history at every level, vread,
/// compartments, metadata and read-only operations answer as they would alone.
async fn batch_gets_do_what_plain_gets_do(s: &TestServer) {
    let patient = json(
        s.send(Method::POST, "Patient", &json!({"resourceType": "Patient", "name": [{"family": "B"}]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let id = patient["id"].as_str().unwrap().to_string();
    let observation = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
        "subject": {"reference": format!("Patient/{id}")}});
    assert_eq!(s.send(Method::POST, "Observation", &observation).send().await.unwrap().status(), 201);
    let urls = [
        format!("Patient/{id}/_history"),
        "Patient/_history".to_string(),
        "_history?_count=1".to_string(),
        format!("Patient/{id}/_history/1"),
        format!("Patient/{id}/Observation"),
        "metadata".to_string(),
        format!("Patient/{id}/$everything"),
        format!("Patient/{id}/$validate"),
        format!("Patient?_id={id}"),
    ];
    for kind in ["batch", "transaction"] {
        let entries: Vec<Value> = urls.iter().map(|u| json!({"request": {"method": "GET", "url": u}})).collect();
        let r = post_bundle(s, &json!({"resourceType": "Bundle", "type": kind, "entry": entries})).await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        for (url, entry) in urls.iter().zip(body["entry"].as_array().unwrap()) {
            assert_eq!(entry["response"]["status"], "200 OK", "{kind} GET {url}: {entry}");
            let alone = s.get(url).send().await.unwrap();
            assert_eq!(alone.status(), 200, "GET {url}");
            let alone: Value = alone.json().await.unwrap();
            assert_eq!(entry["resource"]["resourceType"], alone["resourceType"], "{kind} GET {url}");
        }
    }
    // What a plain request may not do, an entry may not either.
    let entries = json!([{"request": {"method": "GET", "url": "Patient/x/$dispense"}},
        {"request": {"method": "POST", "url": "MedicationRequest/x/$cancel"}}]);
    let r = post_bundle(s, &json!({"resourceType": "Bundle", "type": "batch", "entry": entries})).await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(statuses(&body), vec!["404 Not Found", "404 Not Found"]);
    // Clients that keep the base URL with a trailing slash post their bundles to `[base]/`.
    let bundle = json!({"resourceType": "Bundle", "type": "batch", "entry": [{"request": {"method": "GET", "url": "metadata"}}]});
    let r = s.send(Method::POST, "", &bundle).send().await.unwrap();
    assert_eq!(r.status(), 200, "POST {}/", s.base);
    assert_eq!(statuses(&r.json().await.unwrap()), vec!["200 OK"]);
}

/// Operations are routed from the one registry at every level, refused with GET when they change
/// data, and listed in the CapabilityStatement where they are defined.
async fn operations_come_from_one_registry(s: &TestServer) {
    let r = s.request(Method::POST, "$reindex").send().await.unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "system-level $reindex: {body}");
    assert_eq!(body["parameter"][0]["valueString"], "*");
    let r = s.get("MedicationRequest/anything/$dispense").send().await.unwrap();
    assert_eq!(r.status(), 405, "$dispense changes data: GET is refused");
    assert_eq!(s.get("Patient/$nope").send().await.unwrap().status(), 404);
    let metadata = json(s.get("metadata").send().await.unwrap()).await;
    let rest = &metadata["rest"][0];
    let system: Vec<&str> = rest["operation"].as_array().unwrap().iter().filter_map(|o| o["name"].as_str()).collect();
    assert!(system.contains(&"reindex") && system.contains(&"export"), "{system:?}");
    let request = rest["resource"].as_array().unwrap().iter().find(|r| r["type"] == "MedicationRequest").unwrap();
    let dispense = request["operation"].as_array().unwrap().iter().find(|o| o["name"] == "dispense").unwrap();
    assert_eq!(dispense["definition"], "https://ikp.example.org/fhir/OperationDefinition/MedicationRequest-dispense");
    let observation = rest["resource"].as_array().unwrap().iter().find(|r| r["type"] == "Observation").unwrap();
    let names: Vec<&str> =
        observation["operation"].as_array().unwrap().iter().filter_map(|o| o["name"].as_str()).collect();
    assert!(names.contains(&"validate") && !names.contains(&"dispense"), "{names:?}");
}

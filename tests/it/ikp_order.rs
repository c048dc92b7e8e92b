//! e-zlecenie over HTTP with real tokens: issuing with a 12-month validity, retrieval by access
//! code + PESEL, realisation month by month within the monthly quantity, the validity's
//! boundaries, concurrent realisations of one month, and the realisations listed as Tasks.

use crate::common;

use reqwest::Method;
use serde_json::{Value, json};

use common::{TestServer, json};

on_both_backends_configured!(crate::common::auth_on; order_workflow, concurrent_realisations, expired_and_demo);

const CODE: &str = "https://ikp.example.org/fhir/sid/e-order-access-code";
const JAN_PESEL: &str = "80051412351";

/// `YYYY-MM`, `offset` months from the current one.
fn month(offset: i32) -> String {
    let now = time::OffsetDateTime::now_utc();
    let total = now.year() * 12 + i32::from(u8::from(now.month())) - 1 + offset;
    format!("{:04}-{:02}", total / 12, total % 12 + 1)
}

fn order(extra: Value) -> Value {
    let mut o = json!({
        "resourceType": "DeviceRequest",
        "meta": {"profile": ["https://ikp.example.org/fhir/StructureDefinition/PLDeviceRequest"]},
        "status": "draft",
        "intent": "order",
        "codeCodeableConcept": {"text": "Pieluchomajtki, rozmiar L"},
        "parameter": [{"code": {"coding": [{"system": "https://ikp.example.org/fhir/CodeSystem/e-order-parameter", "code": "monthly-quantity"}]},
                       "valueQuantity": {"value": 60, "unit": "szt."}}],
        "subject": {"reference": "Patient/demo-jan-kowalski"},
    });
    if let (Some(o), Value::Object(e)) = (o.as_object_mut(), extra) {
        o.extend(e);
    }
    o
}

async fn tokens(server: &TestServer) -> (String, String, String) {
    (
        server.token(Some("Practitioner/demo-piotr-nowak"), None, "user/*.cruds").await,
        server.token(Some("Practitioner/demo-ewa-wisniewska"), None, "user/*.cruds").await,
        server.token(Some("Patient/demo-jan-kowalski"), None, "user/*.cruds").await,
    )
}

async fn issue(server: &TestServer, doctor: &str) -> (String, String, Value) {
    let r = server.post_as(doctor, "DeviceRequest/$issue", Some(&order(json!({})))).await;
    let status = r.status();
    let body = json(r).await;
    assert_eq!(status, 201, "{body}");
    (body["id"].as_str().expect("id").to_string(), access_code(&body), body)
}

async fn realize(server: &TestServer, token: &str, id: &str, code: &str, month: &str, quantity: u32) -> u16 {
    let path = format!("DeviceRequest/{id}/$realize?code={code}&month={month}&quantity={quantity}");
    server.post_as(token, &path, None).await.status().as_u16()
}

async fn order_workflow(server: &TestServer) {
    let (doctor, pharmacist, jan) = tokens(server).await;
    let (id, code, issued) = issue(server, &doctor).await;
    assert_eq!(issued["status"], "active");
    let start = issued["occurrencePeriod"]["start"].as_str().expect("start").to_string();
    let end = issued["occurrencePeriod"]["end"].as_str().expect("end").to_string();
    assert_eq!(&start[..7], month(0));
    // Valid 12 months from issue: until the day before the same day a year later.
    let last = if time::OffsetDateTime::now_utc().day() == 1 { 11 } else { 12 };
    assert_eq!(&end[..7], month(last));

    // More than 12 months is refused; so is an order without a monthly quantity; and patients.
    let too_long =
        order(json!({"occurrencePeriod": {"start": format!("{}-01", month(0)), "end": format!("{}-01", month(14))}}));
    assert_eq!(server.post_as(&doctor, "DeviceRequest/$issue", Some(&too_long)).await.status(), 422);
    let mut no_quantity = order(json!({}));
    no_quantity.as_object_mut().expect("object").remove("parameter");
    assert_eq!(server.post_as(&doctor, "DeviceRequest/$issue", Some(&no_quantity)).await.status(), 400);
    assert_eq!(server.post_as(&jan, "DeviceRequest/$issue", Some(&order(json!({})))).await.status(), 403);

    // Retrieval by code + PESEL.
    let r = server.get_as(&pharmacist, &format!("DeviceRequest/$retrieve?code={code}&pesel={JAN_PESEL}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["id"], id);
    let wrong = if code == "0000" { "0001" } else { "0000" };
    let r = server.get_as(&pharmacist, &format!("DeviceRequest/$retrieve?code={wrong}&pesel={JAN_PESEL}")).await;
    assert_eq!(r.status(), 404);
    assert_eq!(realize(server, &pharmacist, &id, wrong, &month(0), 10).await, 404, "wrong code");

    // Monthly limits: 40 + 20 = 60; then the month is fully realised; 30 on 40 exceeds.
    let m0 = month(0);
    assert_eq!(realize(server, &pharmacist, &id, &code, &m0, 40).await, 200);
    assert_eq!(realize(server, &pharmacist, &id, &code, &m0, 30).await, 422, "beyond the month's limit");
    assert_eq!(realize(server, &pharmacist, &id, &code, &m0, 20).await, 200);
    assert_eq!(realize(server, &pharmacist, &id, &code, &m0, 1).await, 422, "fully realised");
    // Another month has its own limit; 61 is never possible.
    assert_eq!(realize(server, &pharmacist, &id, &code, &month(1), 61).await, 422);
    // Validity boundaries: the month before the start and after the end are refused, the last is fine.
    assert_eq!(realize(server, &pharmacist, &id, &code, &month(-1), 1).await, 422);
    assert_eq!(realize(server, &pharmacist, &id, &code, &month(last + 1), 1).await, 422);
    assert_eq!(realize(server, &pharmacist, &id, &code, &month(last), 60).await, 200);
    // Bad input.
    assert_eq!(realize(server, &pharmacist, &id, &code, "2026-13", 1).await, 400);
    assert_eq!(realize(server, &pharmacist, &id, &code, &m0, 0).await, 400);
    // The patient sees the order but may not realise it.
    assert_eq!(realize(server, &jan, &id, "", &month(2), 1).await, 403);

    // Realisations are listed, for the patient too.
    let bundle = json(server.get_as(&jan, &format!("Task?based-on=DeviceRequest/{id}")).await).await;
    let tasks = bundle["entry"].as_array().cloned().unwrap_or_default();
    assert_eq!(tasks.len(), 3, "{bundle}");
    assert!(tasks.iter().all(|t| t["resource"]["owner"]["reference"] == "Practitioner/demo-ewa-wisniewska"));
    let anna = server.token(Some("Patient/demo-anna-kowalska"), None, "user/*.cruds").await;
    assert_eq!(server.get_as(&anna, &format!("DeviceRequest/{id}")).await.status(), 404);
    let bundle = json(server.get_as(&anna, &format!("Task?based-on=DeviceRequest/{id}")).await).await;
    assert!(bundle["entry"].as_array().is_none_or(|e| e.is_empty()));
}

async fn concurrent_realisations(server: &TestServer) {
    let (doctor, pharmacist, _) = tokens(server).await;
    let (id, code, _) = issue(server, &doctor).await;
    let m = month(1);
    let mut handles = Vec::new();
    for _ in 0..4 {
        let (base, token, id, code, m) = (server.base.clone(), pharmacist.clone(), id.clone(), code.clone(), m.clone());
        handles.push(tokio::spawn(async move {
            let url = format!("{base}/DeviceRequest/{id}/$realize?code={code}&month={m}&quantity=40");
            reqwest::Client::new().post(url).bearer_auth(token).send().await.expect("post").status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for h in handles {
        statuses.push(h.await.expect("join"));
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 422 || *s == 409), "{statuses:?}");
    let admin = server.admin_token().await;
    let bundle = json(server.get_as(&admin, &format!("Task?based-on=DeviceRequest/{id}")).await).await;
    assert_eq!(bundle["entry"].as_array().map_or(0, Vec::len), 1);
}

async fn expired_and_demo(server: &TestServer) {
    let (_, pharmacist, jan) = tokens(server).await;
    let admin = server.admin_token().await;
    let mut expired = order(json!({
        "id": "expired-order",
        "status": "active",
        "identifier": [{"system": CODE, "value": "1111"}],
        "authoredOn": "2025-01-01",
        "requester": {"reference": "Practitioner/demo-piotr-nowak"},
        "occurrencePeriod": {"start": "2025-01-01", "end": "2025-12-31"},
    }));
    expired["identifier"]
        .as_array_mut()
        .expect("ids")
        .push(json!({"system": "https://ikp.example.org/fhir/sid/e-order-number", "value": "X1"}));
    let r = server
        .send(Method::PUT, "DeviceRequest/expired-order", &expired)
        .bearer_auth(&admin)
        .send()
        .await
        .expect("put");
    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
    assert_eq!(realize(server, &pharmacist, "expired-order", "1111", "2025-12", 1).await, 422);

    let r = server.get_as(&pharmacist, &format!("DeviceRequest/$retrieve?code=7890&pesel={JAN_PESEL}")).await;
    assert_eq!(r.status(), 200);
    let demo = json(r).await;
    assert_eq!(demo["id"], "demo-zlecenie-pieluchomajtki");
    let bundle = json(server.get_as(&jan, "Task?based-on=DeviceRequest/demo-zlecenie-pieluchomajtki").await).await;
    assert_eq!(bundle["entry"].as_array().map_or(0, Vec::len), 1, "{bundle}");
}

fn access_code(r: &Value) -> String {
    common::identifier_value(r, CODE).expect("access code")
}

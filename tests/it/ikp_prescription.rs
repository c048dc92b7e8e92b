//! E-prescriptions over HTTP with real tokens: a prescriber issues a package, the patient sees
//! it, a pharmacist finds it by access code and PESEL (wrong ones reveal nothing), dispenses in
//! parts, validity boundaries, cancelling, concurrent dispensing, and other people get nothing.

use crate::common;

use ikp::ikp::prescription::{self, ACCESS_CODE_SYSTEM, NUMBER_SYSTEM, PACKAGE_SYSTEM, STATUS_DETAIL, Status};
use reqwest::Method;
use serde_json::{Value, json};

use common::{TestServer, json};

on_both_backends_configured!(crate::common::auth_on;
    issue_retrieve_dispense,
    validity_boundaries,
    cancelling,
    concurrent_dispensing,
    others_get_nothing,
    demo_prescriptions,
);

const JAN: &str = "Patient/demo-jan-kowalski";
const JAN_PESEL: &str = "80051412351";
const PIOTR: &str = "Practitioner/demo-piotr-nowak";
const EWA: &str = "Practitioner/demo-ewa-wisniewska";

async fn user(server: &TestServer, who: &str) -> String {
    server.token(Some(who), None, "user/*.cruds").await
}

fn medication(name: &str) -> Value {
    json!({"resourceType": "Medication",
        "code": {"coding": [{"system": "urn:oid:2.16.840.1.113883.3.4424.6.1", "code": "100071560", "display": name}], "text": name}})
}

fn request(patient: &str, med_url: &str, rule: &str, quantity: f64) -> Value {
    json!({
        "resourceType": "MedicationRequest",
        "extension": [
            {"url": "https://ikp.example.org/fhir/StructureDefinition/PLPaymentLevel", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.3.4424.11.1.1", "code": "100%"}},
            {"url": "https://ikp.example.org/fhir/StructureDefinition/PLAvailabilityCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.3.4424.11.1.25", "code": "Rp"}}
        ],
        "category": [{"coding": [{"system": "https://ikp.example.org/fhir/CodeSystem/pl-prescription-validity", "code": rule}]}],
        "medicationReference": {"reference": med_url},
        "subject": {"reference": patient},
        "dosageInstruction": [{"text": "1 tabletka 2 razy dziennie"}],
        "dispenseRequest": {"quantity": {"value": quantity, "unit": "op."}}
    })
}

/// A package Bundle of one prescription per (rule, quantity).
fn package(patient: &str, items: &[(&str, f64)]) -> Value {
    let mut entries = Vec::new();
    for (i, (rule, q)) in items.iter().enumerate() {
        let url = format!("urn:uuid:00000000-0000-4000-8000-00000000000{i}");
        entries.push(json!({"fullUrl": url, "resource": medication(&format!("Lek {i}"))}));
        entries.push(json!({"resource": request(patient, &url, rule, *q)}));
    }
    json!({"resourceType": "Bundle", "type": "collection", "entry": entries})
}

async fn post(server: &TestServer, token: &str, path: &str, body: &Value) -> reqwest::Response {
    server.send(Method::POST, path, body).bearer_auth(token).send().await.expect("post")
}

async fn get(server: &TestServer, token: &str, path: &str) -> reqwest::Response {
    server.get(path).bearer_auth(token).send().await.expect("get")
}

/// Issues a package as Piotr; returns (code, prescriptions).
async fn issue(server: &TestServer, patient: &str, items: &[(&str, f64)]) -> (String, Vec<Value>) {
    let piotr = user(server, PIOTR).await;
    let r = post(server, &piotr, "MedicationRequest/$issue-package", &package(patient, items)).await;
    assert_eq!(r.status(), 201);
    let body = json(r).await;
    let rx: Vec<Value> = body["entry"].as_array().expect("entries").iter().map(|e| e["resource"].clone()).collect();
    let code = identifier(&rx[0], ACCESS_CODE_SYSTEM).expect("code");
    (code, rx)
}

fn identifier(resource: &Value, system: &str) -> Option<String> {
    resource["identifier"]
        .as_array()?
        .iter()
        .find(|i| i["system"].as_str() == Some(system))
        .and_then(|i| i["value"].as_str())
        .map(str::to_string)
}

fn detail(mr: &Value) -> Option<String> {
    mr["extension"]
        .as_array()?
        .iter()
        .find(|e| e["url"].as_str() == Some(STATUS_DETAIL))
        .and_then(|e| e["valueCoding"]["code"].as_str())
        .map(str::to_string)
}

fn dispense_params(quantity: f64, code: Option<&str>, pesel: Option<&str>) -> Value {
    let mut parameter = vec![json!({"name": "quantity", "valueDecimal": quantity})];
    if let Some(c) = code {
        parameter.push(json!({"name": "code", "valueString": c}));
    }
    if let Some(p) = pesel {
        parameter.push(json!({"name": "pesel", "valueString": p}));
    }
    json!({"resourceType": "Parameters", "parameter": parameter})
}

async fn read(server: &TestServer, path: &str) -> Value {
    let admin = server.admin_token().await;
    json(get(server, &admin, path).await).await
}

async fn issue_retrieve_dispense(server: &TestServer) {
    let (code, rx) = issue(server, JAN, &[("standard", 2.0), ("antibiotic", 1.0)]).await;
    assert_eq!(rx.len(), 2);
    assert_eq!(code.len(), 4);
    assert!(code.chars().all(|c| c.is_ascii_digit()));
    let key = rx[0]["groupIdentifier"]["value"].as_str().expect("key").to_string();
    for mr in &rx {
        assert_eq!(mr["groupIdentifier"]["system"], PACKAGE_SYSTEM);
        assert_eq!(mr["groupIdentifier"]["value"], key.as_str());
        assert!(identifier(mr, NUMBER_SYSTEM).is_some_and(|n| n.len() == 22));
        assert_eq!(mr["status"], "active");
        assert_eq!(detail(mr).as_deref(), Some("WYSTAWIONA"));
        assert_eq!(mr["contained"][0]["resourceType"], "Medication");
        assert_eq!(mr["requester"]["reference"], PIOTR);
    }
    assert_eq!(rx[1]["dispenseRequest"]["validityPeriod"]["end"], prescription::days_from_today(7));
    assert_eq!(rx[0]["dispenseRequest"]["validityPeriod"]["end"], prescription::days_from_today(30));

    // The patient sees the package, with its code and dosage, by a normal search.
    let jan = user(server, JAN).await;
    let found = json(
        get(server, &jan, &format!("MedicationRequest?patient={JAN}&identifier={ACCESS_CODE_SYSTEM}|{code}")).await,
    )
    .await;
    let in_package: Vec<&Value> = found["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["groupIdentifier"]["value"] == key.as_str())
        .collect();
    assert_eq!(in_package.len(), 2, "{found}");
    let mine = in_package[0];
    assert_eq!(identifier(mine, ACCESS_CODE_SYSTEM).as_deref(), Some(code.as_str()));
    assert!(mine["dosageInstruction"][0]["text"].is_string());

    // A pharmacist: wrong code or PESEL reveals nothing.
    let ewa = user(server, EWA).await;
    let wrong = if code == "0000" { "0001" } else { "0000" };
    let r = get(server, &ewa, &format!("MedicationRequest/$retrieve?code={wrong}&pesel={JAN_PESEL}")).await;
    let issues = common::outcome(r, 404).await;
    assert!(!issues.iter().any(|i| i.to_string().contains("demo-jan")));
    let r = get(server, &ewa, &format!("MedicationRequest/$retrieve?code={code}&pesel=85030204565")).await;
    common::outcome(r, 404).await;
    let r = get(server, &ewa, &format!("MedicationRequest/$retrieve?code={code}&pesel={JAN_PESEL}")).await;
    assert_eq!(r.status(), 200);
    let retrieved = json(r).await;
    assert!(retrieved["total"].as_u64().is_some_and(|t| t >= 2), "{retrieved}");
    // Without a Consent, Ewa cannot read them directly.
    let id = rx[0]["id"].as_str().expect("id");
    assert_eq!(get(server, &ewa, &format!("MedicationRequest/{id}")).await.status(), 404);

    // Dispensing: wrong code → 404, partial, then the rest, then nothing more.
    let r = post(
        server,
        &ewa,
        &format!("MedicationRequest/{id}/$dispense"),
        &dispense_params(1.0, Some(wrong), Some(JAN_PESEL)),
    )
    .await;
    common::outcome(r, 404).await;
    let r = dispense(server, &ewa, id, 1.0, &code).await;
    assert_eq!(r.status(), 201);
    let md = json(r).await;
    assert_eq!(md["resourceType"], "MedicationDispense");
    assert_eq!(md["authorizingPrescription"][0]["reference"], format!("MedicationRequest/{id}"));
    assert_eq!(md["performer"][0]["actor"]["reference"], EWA);
    let mr = read(server, &format!("MedicationRequest/{id}")).await;
    assert_eq!(mr["status"], "active");
    assert_eq!(detail(&mr).as_deref(), Some("CZESCIOWO_ZREALIZOWANA"));
    // The write is audited as the pharmacist's.
    let admin = server.admin_token().await;
    let md_id = md["id"].as_str().expect("id");
    let audit = json(get(server, &admin, &format!("AuditEvent?entity=MedicationDispense/{md_id}")).await).await;
    assert!(audit.to_string().contains(EWA), "{audit}");
    let r = dispense(server, &ewa, id, 2.0, &code).await;
    common::outcome(r, 409).await;
    let r = dispense(server, &ewa, id, 1.0, &code).await;
    assert_eq!(r.status(), 201);
    let mr = read(server, &format!("MedicationRequest/{id}")).await;
    assert_eq!(mr["status"], "completed");
    assert_eq!(detail(&mr).as_deref(), Some("ZREALIZOWANA"));
    let r = dispense(server, &ewa, id, 1.0, &code).await;
    common::outcome(r, 409).await;
    // The patient sees the dispensations.
    let mds = json(get(server, &jan, &format!("MedicationDispense?prescription=MedicationRequest/{id}")).await).await;
    assert_eq!(mds["total"], 2);

    // Refused packages: two patients, no dosage, validity too long.
    let piotr = user(server, PIOTR).await;
    let mut mixed = package(JAN, &[("standard", 1.0), ("standard", 1.0)]);
    mixed["entry"][3]["resource"]["subject"]["reference"] = json!("Patient/demo-anna-kowalska");
    common::outcome(post(server, &piotr, "MedicationRequest/$issue-package", &mixed).await, 400).await;
    let mut no_dosage = package(JAN, &[("standard", 1.0)]);
    no_dosage["entry"][1]["resource"].as_object_mut().expect("mr").remove("dosageInstruction");
    common::outcome(post(server, &piotr, "MedicationRequest/$issue-package", &no_dosage).await, 400).await;
    let mut too_long = package(JAN, &[("antibiotic", 1.0)]);
    too_long["entry"][1]["resource"]["dispenseRequest"]["validityPeriod"] =
        json!({"start": prescription::days_from_today(0), "end": prescription::days_from_today(8)});
    common::outcome(post(server, &piotr, "MedicationRequest/$issue-package", &too_long).await, 400).await;
    // A prescriber cannot issue in someone else's name.
    let mut other = package(JAN, &[("standard", 1.0)]);
    other["entry"][1]["resource"]["requester"] = json!({"reference": EWA});
    common::outcome(post(server, &piotr, "MedicationRequest/$issue-package", &other).await, 403).await;
}

/// Stores a prescription directly (as an administrator), with a validity period ending `end`
/// days from today.
async fn stored_prescription(server: &TestServer, id: &str, start: i64, code: &str) {
    let admin = server.admin_token().await;
    let mr = prescription::demo_prescription(
        id,
        "demo-jan-kowalski",
        "pkg-boundary",
        code,
        start,
        "standard",
        1.0,
        Status::Issued,
    );
    let r = server
        .send(Method::PUT, &format!("MedicationRequest/{id}"), &mr)
        .bearer_auth(&admin)
        .send()
        .await
        .expect("put");
    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
}

async fn validity_boundaries(server: &TestServer) {
    // Valid until today (the last day is inclusive) and until yesterday.
    stored_prescription(server, "rx-last-day", -prescription::STANDARD_DAYS, "5555").await;
    stored_prescription(server, "rx-day-after", -prescription::STANDARD_DAYS - 1, "5555").await;
    stored_prescription(server, "rx-not-yet", 1, "5555").await;
    let ewa = user(server, EWA).await;
    let r = post(
        server,
        &ewa,
        "MedicationRequest/rx-day-after/$dispense",
        &dispense_params(1.0, Some("5555"), Some(JAN_PESEL)),
    )
    .await;
    let issues = common::outcome(r, 409).await;
    assert!(issues.iter().any(|i| i.to_string().contains("expired")), "{issues:?}");
    let r = post(
        server,
        &ewa,
        "MedicationRequest/rx-not-yet/$dispense",
        &dispense_params(1.0, Some("5555"), Some(JAN_PESEL)),
    )
    .await;
    common::outcome(r, 409).await;
    let r = post(
        server,
        &ewa,
        "MedicationRequest/rx-last-day/$dispense",
        &dispense_params(1.0, Some("5555"), Some(JAN_PESEL)),
    )
    .await;
    assert_eq!(r.status(), 201);
    let mr = read(server, "MedicationRequest/rx-day-after").await;
    assert_eq!(mr["status"], "active", "a refused dispensing changes nothing");

    // 365-day prescriptions: need a duration; one dispensing covers at most 180 days.
    let piotr = user(server, PIOTR).await;
    let mut chronic = package(JAN, &[("chronic-365", 12.0)]);
    common::outcome(post(server, &piotr, "MedicationRequest/$issue-package", &chronic).await, 400).await;
    chronic["entry"][1]["resource"]["dispenseRequest"]["expectedSupplyDuration"] =
        json!({"value": 360, "unit": "d", "system": "http://unitsofmeasure.org", "code": "d"});
    let r = post(server, &piotr, "MedicationRequest/$issue-package", &chronic).await;
    assert_eq!(r.status(), 201);
    let issued = json(r).await;
    let mr = &issued["entry"][0]["resource"];
    assert_eq!(mr["dispenseRequest"]["validityPeriod"]["end"], prescription::days_from_today(365));
    let id = mr["id"].as_str().expect("id");
    let code = identifier(mr, ACCESS_CODE_SYSTEM).expect("code");
    let path = format!("MedicationRequest/{id}/$dispense");
    common::outcome(post(server, &ewa, &path, &dispense_params(7.0, Some(&code), Some(JAN_PESEL))).await, 409).await;
    assert_eq!(post(server, &ewa, &path, &dispense_params(6.0, Some(&code), Some(JAN_PESEL))).await.status(), 201);
    assert_eq!(
        detail(&read(server, &format!("MedicationRequest/{id}")).await).as_deref(),
        Some("CZESCIOWO_ZREALIZOWANA")
    );
}

async fn cancelling(server: &TestServer) {
    let (code, rx) = issue(server, JAN, &[("standard", 2.0), ("standard", 1.0)]).await;
    let (a, b) = (rx[0]["id"].as_str().expect("id"), rx[1]["id"].as_str().expect("id"));
    let ewa = user(server, EWA).await;
    let piotr = user(server, PIOTR).await;
    let jan = user(server, JAN).await;
    // Only the prescriber.
    let empty = json!({"resourceType": "Parameters"});
    let r = post(server, &jan, &format!("MedicationRequest/{b}/$cancel"), &empty).await;
    common::outcome(r, 403).await;
    common::outcome(post(server, &ewa, &format!("MedicationRequest/{b}/$cancel"), &empty).await, 404).await;
    let r = post(server, &piotr, &format!("MedicationRequest/{b}/$cancel"), &empty).await;
    assert_eq!(r.status(), 200);
    let mr = json(r).await;
    assert_eq!(mr["status"], "cancelled");
    assert_eq!(detail(&mr).as_deref(), Some("ANULOWANA"));
    // A cancelled prescription cannot be dispensed.
    let r = dispense(server, &ewa, b, 1.0, &code).await;
    common::outcome(r, 409).await;
    // Once something was dispensed, it cannot be cancelled.
    let r = dispense(server, &ewa, a, 1.0, &code).await;
    assert_eq!(r.status(), 201);
    common::outcome(post(server, &piotr, &format!("MedicationRequest/{a}/$cancel"), &empty).await, 409).await;
    assert_eq!(read(server, &format!("MedicationRequest/{a}")).await["status"], "active");
}

async fn concurrent_dispensing(server: &TestServer) {
    // A retried dispensation (same identifier) is stored once.
    let (code, rx) = issue(server, JAN, &[("standard", 3.0)]).await;
    let id = rx[0]["id"].as_str().expect("id").to_string();
    let ewa = user(server, EWA).await;
    let body = json!({"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": {"resourceType": "MedicationDispense",
            "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.4424.2.7.5678.2.5", "value": "R-1"}],
            "quantity": {"value": 1, "unit": "op."}}},
        {"name": "code", "valueString": code}, {"name": "pesel", "valueString": JAN_PESEL}]});
    let first = json(post(server, &ewa, &format!("MedicationRequest/{id}/$dispense"), &body).await).await;
    let again = json(post(server, &ewa, &format!("MedicationRequest/{id}/$dispense"), &body).await).await;
    assert_eq!(first["id"], again["id"], "{again}");
    assert!(first["id"].is_string(), "{first}");
    assert_eq!(
        detail(&read(server, &format!("MedicationRequest/{id}")).await).as_deref(),
        Some("CZESCIOWO_ZREALIZOWANA")
    );

    racing_dispensing_over(&[server]).await;
    let ewa = user(server, EWA).await;
    let admin = server.admin_token().await;

    // 8 concurrent dispensings of 1 pack on 3 packs: exactly 3 succeed, after re-checking.
    let (code, rx) = issue(server, JAN, &[("standard", 3.0)]).await;
    let id = rx[0]["id"].as_str().expect("id").to_string();
    let statuses = dispense_race(&[server], &ewa, &id, &code, 1.0, 8).await;
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 3, "{statuses:?}");
    let mds = json(get(server, &admin, &format!("MedicationDispense?prescription=MedicationRequest/{id}")).await).await;
    assert_eq!(mds["total"], 3);
    assert_eq!(read(server, &format!("MedicationRequest/{id}")).await["status"], "completed");
}

/// Eight pharmacies dispense a whole 2-pack prescription at the same moment, their requests
/// spread over `nodes` (servers on one database): exactly one wins.
pub(crate) async fn racing_dispensing_over(nodes: &[&TestServer]) {
    let server = nodes[0];
    let (code, rx) = issue(server, JAN, &[("standard", 2.0)]).await;
    let id = rx[0]["id"].as_str().expect("id").to_string();
    let ewa = user(server, EWA).await;
    let statuses = dispense_race(nodes, &ewa, &id, &code, 2.0, 8).await;
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| [201, 409, 412].contains(s)), "{statuses:?}");
    let admin = server.admin_token().await;
    let mds = json(get(server, &admin, &format!("MedicationDispense?prescription=MedicationRequest/{id}")).await).await;
    assert_eq!(mds["total"], 1);
    assert_eq!(read(server, &format!("MedicationRequest/{id}")).await["status"], "completed");
}

/// A pharmacist's `$dispense` of `packs` with the package code and Jan's PESEL.
async fn dispense(server: &TestServer, token: &str, id: &str, packs: f64, code: &str) -> reqwest::Response {
    let params = dispense_params(packs, Some(code), Some(JAN_PESEL));
    post(server, token, &format!("MedicationRequest/{id}/$dispense"), &params).await
}

/// `n` pharmacists' `$dispense` of `packs` at the same moment, through `nodes` in turn; their
/// HTTP statuses.
async fn dispense_race(nodes: &[&TestServer], token: &str, id: &str, code: &str, packs: f64, n: usize) -> Vec<u16> {
    let body = serde_json::to_vec(&dispense_params(packs, Some(code), Some(JAN_PESEL))).expect("json");
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let server = nodes[i % nodes.len()];
            let url = server.url(&format!("MedicationRequest/{id}/$dispense"));
            let (client, body, token) = (server.client.clone(), body.clone(), token.to_string());
            tokio::spawn(async move {
                let request = client.post(url).header("content-type", "application/fhir+json").bearer_auth(token);
                request.body(body).send().await.expect("send").status().as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    statuses
}

async fn others_get_nothing(server: &TestServer) {
    let (code, rx) = issue(server, JAN, &[("standard", 1.0)]).await;
    let id = rx[0]["id"].as_str().expect("id");
    let anna = user(server, "Patient/demo-anna-kowalska").await;
    let jan = user(server, JAN).await;
    let piotr = user(server, PIOTR).await;
    // Another patient.
    assert_eq!(get(server, &anna, &format!("MedicationRequest/{id}")).await.status(), 404);
    let r = get(server, &anna, &format!("MedicationRequest/$retrieve?code={code}&pesel={JAN_PESEL}")).await;
    common::outcome(r, 403).await;
    let r = dispense(server, &anna, id, 1.0, &code).await;
    common::outcome(r, 403).await;
    let r =
        post(server, &anna, &format!("MedicationRequest/{id}/$cancel"), &json!({"resourceType": "Parameters"})).await;
    common::outcome(r, 404).await;
    common::outcome(
        post(server, &anna, "MedicationRequest/$issue-package", &package(JAN, &[("standard", 1.0)])).await,
        403,
    )
    .await;
    // The patient cannot dispense their own prescription, and a physician is not a pharmacist.
    let r = dispense(server, &jan, id, 1.0, &code).await;
    common::outcome(r, 403).await;
    let r = get(server, &piotr, &format!("MedicationRequest/$retrieve?code={code}&pesel={JAN_PESEL}")).await;
    common::outcome(r, 403).await;
    assert_eq!(read(server, &format!("MedicationRequest/{id}")).await["status"], "active");

    // A prescriptions-only Consent lets the pharmacist retrieve without a code.
    let ewa = user(server, EWA).await;
    assert_eq!(get(server, &ewa, &format!("MedicationRequest/$retrieve?pesel={JAN_PESEL}")).await.status(), 404);
    let consent = json!({
        "resourceType": "Consent", "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "https://ikp.example.org/fhir/CodeSystem/pl-ikp-authorization-type", "code": "prescriptions-only"}]}],
        "patient": {"reference": JAN},
        "dateTime": "2026-01-01T00:00:00Z",
        "provision": {"type": "permit", "period": {"start": "2026-01-01T00:00:00Z"},
            "actor": [{"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "DELEGATEE"}]}, "reference": {"reference": EWA}}],
            "class": [{"system": "http://hl7.org/fhir/resource-types", "code": "MedicationRequest"}, {"system": "http://hl7.org/fhir/resource-types", "code": "MedicationDispense"}]}
    });
    let r = post(server, &jan, "Consent", &consent).await;
    assert_eq!(r.status(), 201);
    let r = get(server, &ewa, &format!("MedicationRequest/$retrieve?pesel={JAN_PESEL}")).await;
    assert_eq!(r.status(), 200);
    assert!(json(r).await["total"].as_u64().is_some_and(|t| t >= 1));
    let r = post(server, &ewa, &format!("MedicationRequest/{id}/$dispense"), &dispense_params(1.0, None, None)).await;
    assert_eq!(r.status(), 201);
}

async fn demo_prescriptions(server: &TestServer) {
    let jan = user(server, JAN).await;
    let found = json(get(server, &jan, &format!("MedicationRequest?patient={JAN}&_count=50")).await).await;
    let statuses: Vec<(String, Option<String>)> = found["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| (e["resource"]["status"].as_str().unwrap_or_default().to_string(), detail(&e["resource"])))
        .collect();
    for (status, d) in [
        ("active", Some("WYSTAWIONA")),
        ("active", Some("CZESCIOWO_ZREALIZOWANA")),
        ("completed", Some("ZREALIZOWANA")),
        ("cancelled", Some("ANULOWANA")),
        ("stopped", None),
    ] {
        assert!(statuses.contains(&(status.to_string(), d.map(str::to_string))), "{status} {d:?}: {statuses:?}");
    }
    // The documented access code works, and finishes the partly dispensed prescription.
    let ewa = user(server, EWA).await;
    let r = get(server, &ewa, &format!("MedicationRequest/$retrieve?code=1234&pesel={JAN_PESEL}")).await;
    assert_eq!(r.status(), 200);
    let r = post(
        server,
        &ewa,
        "MedicationRequest/demo-rx-jan-partial/$dispense",
        &dispense_params(2.0, Some("1234"), Some(JAN_PESEL)),
    )
    .await;
    assert_eq!(r.status(), 201);
    assert_eq!(read(server, "MedicationRequest/demo-rx-jan-partial").await["status"], "completed");
    let r = post(
        server,
        &ewa,
        "MedicationRequest/demo-rx-jan-expired/$dispense",
        &dispense_params(1.0, Some("9876"), Some(JAN_PESEL)),
    )
    .await;
    common::outcome(r, 409).await;
}

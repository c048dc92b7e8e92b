//! Cross-border e-prescriptions (MyHealth@EU, Poland as country A) over HTTP: the patient's
//! consent, a country-B connector identifying the patient, listing MPD-conformant prescriptions,
//! dispensing and rolling back; refusals without consent and for everyone else.

use crate::common;

use ikp::ikp::prescription::{self, Status};
use reqwest::Method;
use serde_json::{Value, json};

use common::{TestServer, json};

on_both_backends_configured!(crate::common::auth_on;
    consent_list_dispense_rollback,
    refusals,
);

const JAN: &str = "demo-jan-kowalski";
const CONNECTOR: &str = "system/*.rs system/MedicationDispense.cu system/MedicationRequest.u";

async fn connector(server: &TestServer) -> String {
    server.token(None, None, CONNECTOR).await
}

async fn user(server: &TestServer, who: &str) -> String {
    server.token(Some(who), None, "user/*.cruds").await
}

async fn post(server: &TestServer, token: &str, path: &str, body: &Value) -> reqwest::Response {
    server.send(Method::POST, path, body).bearer_auth(token).send().await.expect("post")
}

async fn get(server: &TestServer, token: &str, path: &str) -> reqwest::Response {
    server.get(path).bearer_auth(token).send().await.expect("get")
}

fn consent_params(enabled: bool, countries: &[&str]) -> Value {
    let mut parameter = vec![json!({"name": "enabled", "valueBoolean": enabled})];
    parameter.extend(countries.iter().map(|c| json!({"name": "country", "valueCode": c})));
    json!({"resourceType": "Parameters", "parameter": parameter})
}

fn eu_dispense(quantity: f64) -> Value {
    json!({
        "resourceType": "MedicationDispense",
        "status": "completed",
        "medicationCodeableConcept": {"coding": [{"system": "urn:oid:2.16.840.1.113883.3.4424.6.1", "code": "100071560"}], "text": "Metformax 500 mg"},
        "performer": [{"actor": {"display": "Lékárna U Anděla, Praha"}}],
        "quantity": {"value": quantity, "unit": "op."},
        "whenHandedOver": "2026-11-27T10:00:00+01:00",
    })
}

async fn validate(server: &TestServer, resource: &Value) -> Vec<Value> {
    let admin = server.admin_token().await;
    let t = resource["resourceType"].as_str().expect("type");
    let r = post(server, &admin, &format!("{t}/$validate"), resource).await;
    assert_eq!(r.status(), 200);
    let outcome = json(r).await;
    outcome["issue"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| matches!(i["severity"].as_str(), Some("error" | "fatal")))
        .collect()
}

async fn consent_list_dispense_rollback(server: &TestServer) {
    let conn = connector(server).await;
    // Identify: all three must match.
    let r = get(server, &conn, "Patient/$crossborder-identify?pesel=80051412351&birthdate=1980-05-14&family=kowalski")
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["id"], JAN);
    let r = get(server, &conn, "Patient/$crossborder-identify?pesel=80051412351&birthdate=1980-05-15&family=Kowalski")
        .await;
    common::outcome(r, 404).await;
    let r =
        get(server, &conn, "Patient/$crossborder-identify?pesel=80051412351&birthdate=1980-05-14&family=Nowak").await;
    common::outcome(r, 404).await;

    // The demo consent names CZ and PT, not DE.
    let r = get(server, &conn, &format!("Patient/{JAN}/$crossborder-prescriptions?country=DE")).await;
    common::outcome(r, 403).await;
    let r = get(server, &conn, &format!("Patient/{JAN}/$crossborder-prescriptions?country=CZ")).await;
    assert_eq!(r.status(), 200);
    let bundle = json(r).await;
    let entries = bundle["entry"].as_array().cloned().unwrap_or_default();
    let requests: Vec<&Value> =
        entries.iter().map(|e| &e["resource"]).filter(|r| r["resourceType"] == "MedicationRequest").collect();
    let ids: Vec<&str> = requests.iter().filter_map(|r| r["id"].as_str()).collect();
    // Only dispensable ones: issued and partly dispensed, not expired, cancelled or dispensed.
    assert!(ids.contains(&"demo-rx-jan-issued") && ids.contains(&"demo-rx-jan-partial"), "{ids:?}");
    for gone in ["demo-rx-jan-expired", "demo-rx-jan-cancelled", "demo-rx-jan-dispensed"] {
        assert!(!ids.contains(&gone), "{gone} offered abroad");
    }
    assert_eq!(entries.len(), requests.len() * 2, "one EUMedication per prescription");
    // Each is valid against the EU profiles, checked by the server's own $validate.
    for e in &entries {
        let r = &e["resource"];
        let profile = r["meta"]["profile"][0].as_str().expect("profile");
        assert!(profile.ends_with("/EUMedicationRequest") || profile.ends_with("/EUMedication"), "{profile}");
        let errors = validate(server, r).await;
        assert!(errors.is_empty(), "{errors:?}");
    }

    // Dispense abroad, then roll it back.
    let r =
        post(server, &conn, "MedicationRequest/demo-rx-jan-issued/$crossborder-dispense?country=DE", &eu_dispense(1.0))
            .await;
    common::outcome(r, 403).await;
    let r =
        post(server, &conn, "MedicationRequest/demo-rx-jan-issued/$crossborder-dispense?country=CZ", &eu_dispense(1.0))
            .await;
    assert_eq!(r.status(), 201);
    let md = json(r).await;
    assert!(validate(server, &md).await.is_empty());
    assert_eq!(md["meta"]["tag"][0]["code"], "CZ");
    let admin = server.admin_token().await;
    let mr = json(get(server, &admin, "MedicationRequest/demo-rx-jan-issued").await).await;
    assert_eq!(mr["status"], "active");
    assert!(mr.to_string().contains("CZESCIOWO_ZREALIZOWANA"));
    let md_id = md["id"].as_str().expect("id");
    let r = post(
        server,
        &conn,
        &format!("MedicationDispense/{md_id}/$crossborder-cancel"),
        &json!({"resourceType": "Parameters"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["status"], "entered-in-error");
    let mr = json(get(server, &admin, "MedicationRequest/demo-rx-jan-issued").await).await;
    assert_eq!(mr["status"], "active");
    assert!(mr.to_string().contains("WYSTAWIONA"), "{mr}");
    // Twice: refused.
    let r = post(
        server,
        &conn,
        &format!("MedicationDispense/{md_id}/$crossborder-cancel"),
        &json!({"resourceType": "Parameters"}),
    )
    .await;
    common::outcome(r, 409).await;
    // Dispensing the whole quantity completes the Polish prescription.
    let r =
        post(server, &conn, "MedicationRequest/demo-rx-jan-issued/$crossborder-dispense?country=PT", &eu_dispense(2.0))
            .await;
    assert_eq!(r.status(), 201);
    let mr = json(get(server, &admin, "MedicationRequest/demo-rx-jan-issued").await).await;
    assert_eq!(mr["status"], "completed");
    // A Polish dispensation cannot be rolled back through the cross-border operation.
    let r = post(
        server,
        &conn,
        "MedicationDispense/demo-md-jan-partial/$crossborder-cancel",
        &json!({"resourceType": "Parameters"}),
    )
    .await;
    common::outcome(r, 409).await;

    // The patient switches the consent off: nothing more is listed.
    let jan = user(server, &format!("Patient/{JAN}")).await;
    let r = post(server, &jan, &format!("Patient/{JAN}/$crossborder-consent"), &consent_params(false, &[])).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["status"], "inactive");
    let r = get(server, &conn, &format!("Patient/{JAN}/$crossborder-prescriptions?country=CZ")).await;
    common::outcome(r, 403).await;
}

async fn refusals(server: &TestServer) {
    let conn = connector(server).await;
    // Anna has no consent: refused, with an OperationOutcome.
    let r = get(server, &conn, "Patient/demo-anna-kowalska/$crossborder-prescriptions?country=CZ").await;
    common::outcome(r, 403).await;
    // A prescription of hers cannot be dispensed abroad either.
    let admin = server.admin_token().await;
    let mr = prescription::demo_prescription(
        "rx-anna-1",
        "demo-anna-kowalska",
        "pkg-anna",
        "1111",
        0,
        "standard",
        1.0,
        Status::Issued,
    );
    let r = server.send(Method::PUT, "MedicationRequest/rx-anna-1", &mr).bearer_auth(&admin).send().await.expect("put");
    assert!(r.status().is_success());
    let r =
        post(server, &conn, "MedicationRequest/rx-anna-1/$crossborder-dispense?country=CZ", &eu_dispense(1.0)).await;
    common::outcome(r, 403).await;

    // Only the patient (or a parent) may consent: not another patient, not a doctor.
    let jan = user(server, &format!("Patient/{JAN}")).await;
    let anna = user(server, "Patient/demo-anna-kowalska").await;
    let piotr = user(server, "Practitioner/demo-piotr-nowak").await;
    let r = post(server, &jan, "Patient/demo-anna-kowalska/$crossborder-consent", &consent_params(true, &["CZ"])).await;
    common::outcome(r, 404).await;
    let r =
        post(server, &piotr, "Patient/demo-anna-kowalska/$crossborder-consent", &consent_params(true, &["CZ"])).await;
    assert!([403, 404].contains(&r.status().as_u16()));
    let r =
        post(server, &anna, "Patient/demo-anna-kowalska/$crossborder-consent", &consent_params(true, &["PL"])).await;
    common::outcome(r, 400).await;
    let r =
        post(server, &anna, "Patient/demo-anna-kowalska/$crossborder-consent", &consent_params(true, &["CZ", "SK"]))
            .await;
    assert_eq!(r.status(), 200);
    let r = get(server, &conn, "Patient/demo-anna-kowalska/$crossborder-prescriptions?country=SK").await;
    assert_eq!(r.status(), 200);
    let listed = json(r).await;
    assert!(listed.to_string().contains("rx-anna-1"));
    // Narcotic and psychotropic drugs (availability Rpw) are never offered abroad.
    let mut narcotic = prescription::demo_prescription(
        "rx-anna-rpw",
        "demo-anna-kowalska",
        "pkg-anna",
        "1111",
        0,
        "standard",
        1.0,
        Status::Issued,
    );
    narcotic["extension"][1]["valueCoding"]["code"] = json!("Rpw");
    let r = server
        .send(Method::PUT, "MedicationRequest/rx-anna-rpw", &narcotic)
        .bearer_auth(&admin)
        .send()
        .await
        .expect("put");
    assert!(r.status().is_success());
    let r = get(server, &conn, "Patient/demo-anna-kowalska/$crossborder-prescriptions?country=SK").await;
    let listed = json(r).await.to_string();
    assert!(listed.contains("rx-anna-1") && !listed.contains("rx-anna-rpw"), "{listed}");
    let r =
        post(server, &conn, "MedicationRequest/rx-anna-rpw/$crossborder-dispense?country=SK", &eu_dispense(1.0)).await;
    common::outcome(r, 409).await;
    // A parent consents for a minor child.
    let r =
        post(server, &anna, "Patient/demo-zofia-kowalska/$crossborder-consent", &consent_params(true, &["CZ"])).await;
    assert_eq!(r.status(), 200);
    let r = get(server, &conn, "Patient/demo-zofia-kowalska/$crossborder-prescriptions?country=CZ").await;
    assert_eq!(r.status(), 200);
    assert!(json(r).await.to_string().contains("demo-rx-zofia-antibiotic"));

    // People are not connectors: every connector operation refuses them.
    for token in [&jan, &anna, &piotr] {
        let r =
            get(server, token, "Patient/$crossborder-identify?pesel=80051412351&birthdate=1980-05-14&family=Kowalski")
                .await;
        common::outcome(r, 403).await;
        let r = get(server, token, &format!("Patient/{JAN}/$crossborder-prescriptions?country=CZ")).await;
        common::outcome(r, 403).await;
        let r = post(
            server,
            token,
            "MedicationRequest/demo-rx-jan-issued/$crossborder-dispense?country=CZ",
            &eu_dispense(1.0),
        )
        .await;
        common::outcome(r, 403).await;
        let r = post(
            server,
            token,
            "MedicationDispense/demo-md-jan-partial/$crossborder-cancel",
            &json!({"resourceType": "Parameters"}),
        )
        .await;
        common::outcome(r, 403).await;
    }
}

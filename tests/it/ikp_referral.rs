//! e-skierowanie over HTTP with real tokens: issuing (number, access code, key), retrieval by
//! access code + PESEL by another facility's practitioner (wrong code or PESEL: 404), booking,
//! completion, cancellation by the issuer only (refused once completed), and the patient's view.

use crate::common;

use reqwest::Method;
use serde_json::{Value, json};

use common::{TestServer, json};

on_both_backends_configured!(crate::common::auth_on; referral_workflow, demo_referrals);

const CODE: &str = "https://ikp.example.org/fhir/sid/e-referral-access-code";
const JAN_PESEL: &str = "80051412351";
const ANNA_PESEL: &str = "85030204565";

fn referral(patient: &str) -> Value {
    json!({
        "resourceType": "ServiceRequest",
        "meta": {"profile": ["https://ikp.example.org/fhir/StructureDefinition/PLServiceRequest"]},
        "status": "draft",
        "intent": "order",
        "category": [{"coding": [{"system": "urn:oid:2.16.840.1.113883.3.4424.11.1.32", "code": "02.11"}]}],
        "code": {"coding": [{"system": "urn:oid:2.16.840.1.113883.3.4424.11.2.6", "code": "89.00"}], "text": "Konsultacja kardiologiczna"},
        "subject": {"reference": format!("Patient/{patient}")},
        "reasonCode": [{"coding": [{"system": "urn:oid:2.16.840.1.113883.6.3", "code": "I10"}]}],
    })
}

async fn setup(server: &TestServer) -> (String, String, String, String) {
    let admin = server.admin_token().await;
    let performer = json!({"resourceType": "Practitioner", "id": "maria-kardiolog",
        "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.4424.1.6.2", "value": "2345678"}],
        "name": [{"family": "Zielińska", "given": ["Maria"]}]});
    let r = server.send(Method::PUT, "Practitioner/maria-kardiolog", &performer).bearer_auth(&admin).send().await;
    assert!(r.expect("put").status().is_success());
    let doctor = server.token(Some("Practitioner/demo-piotr-nowak"), None, "user/*.cruds").await;
    let other = server.token(Some("Practitioner/maria-kardiolog"), None, "user/*.cruds").await;
    let jan = server.token(Some("Patient/demo-jan-kowalski"), None, "user/*.cruds").await;
    let anna = server.token(Some("Patient/demo-anna-kowalska"), None, "user/*.cruds").await;
    (doctor, other, jan, anna)
}

async fn referral_workflow(server: &TestServer) {
    let (doctor, performer, jan, anna) = setup(server).await;

    // A patient may not issue.
    let r = server.post_as(&jan, "ServiceRequest/$issue", Some(&referral("demo-jan-kowalski"))).await;
    assert_eq!(r.status(), 403);

    let r = server.post_as(&doctor, "ServiceRequest/$issue", Some(&referral("demo-jan-kowalski"))).await;
    assert_eq!(r.status(), 201);
    let issued = json(r).await;
    let id = issued["id"].as_str().expect("id").to_string();
    assert_eq!(issued["status"], "active");
    assert_eq!(issued["requester"]["reference"], "Practitioner/demo-piotr-nowak");
    let code = access_code(&issued);
    assert_eq!(code.len(), 4);
    assert!(code.bytes().all(|b| b.is_ascii_digit()));
    let systems: Vec<&str> =
        issued["identifier"].as_array().expect("ids").iter().filter_map(|i| i["system"].as_str()).collect();
    assert!(systems.contains(&"https://ikp.example.org/fhir/sid/e-referral-number"));
    assert!(systems.contains(&"https://ikp.example.org/fhir/sid/e-referral-access-key"));

    // The performer cannot see it before presenting the code.
    assert_eq!(server.get_as(&performer, &format!("ServiceRequest/{id}")).await.status(), 404);
    // Wrong code, wrong PESEL, malformed code: the same 404.
    let wrong = if code == "0000" { "0001" } else { "0000" };
    for (c, p) in [(wrong, JAN_PESEL), (code.as_str(), ANNA_PESEL), ("12a4", JAN_PESEL)] {
        let r = server.get_as(&performer, &format!("ServiceRequest/$retrieve?code={c}&pesel={p}")).await;
        assert_eq!(r.status(), 404, "code {c} pesel {p}");
        let body = json(r).await;
        assert!(!body.to_string().contains(&id), "a 404 reveals nothing");
    }
    // A patient may not retrieve by code.
    let r = server.get_as(&anna, &format!("ServiceRequest/$retrieve?code={code}&pesel={JAN_PESEL}")).await;
    assert_eq!(r.status(), 403);
    let r = server.get_as(&performer, &format!("ServiceRequest/$retrieve?code={code}&pesel={JAN_PESEL}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["id"], id);
    // POST with a Parameters body works the same.
    let params = json!({"resourceType": "Parameters", "parameter": [
        {"name": "code", "valueString": code}, {"name": "pesel", "valueString": JAN_PESEL}]});
    let r = server.post_as(&performer, "ServiceRequest/$retrieve", Some(&params)).await;
    assert_eq!(r.status(), 200);

    // Booking without the code: nothing to see; with it: booked with the appointment.
    assert_eq!(server.post_as(&performer, &format!("ServiceRequest/{id}/$book"), None).await.status(), 404);
    let r = server.post_as(&performer, &format!("ServiceRequest/{id}/$book?code={wrong}"), None).await;
    assert_eq!(r.status(), 404);
    let r = server
        .post_as(&performer, &format!("ServiceRequest/{id}/$book?code={code}&appointment=Appointment/a1"), None)
        .await;
    assert_eq!(r.status(), 200);
    let booked = json(r).await;
    let ext = booked["extension"].to_string();
    assert!(ext.contains("\"booked\"") && ext.contains("Appointment/a1"), "{ext}");
    assert_eq!(booked["status"], "active");

    // A patient cannot complete; the performer can; then nobody can cancel.
    let r = server.post_as(&jan, &format!("ServiceRequest/{id}/$complete"), None).await;
    assert_eq!(r.status(), 403);
    let r = server.post_as(&performer, &format!("ServiceRequest/{id}/$complete?code={code}"), None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["status"], "completed");
    assert_eq!(server.post_as(&doctor, &format!("ServiceRequest/{id}/$cancel"), None).await.status(), 409);
    assert_eq!(server.post_as(&performer, &format!("ServiceRequest/{id}/$book?code={code}"), None).await.status(), 409);

    // A second referral: only the issuer cancels; then it cannot be booked.
    let r = server.post_as(&doctor, "ServiceRequest/$issue", Some(&referral("demo-jan-kowalski"))).await;
    let second = json(r).await;
    let id2 = second["id"].as_str().expect("id").to_string();
    let r = server.post_as(&performer, &format!("ServiceRequest/{id2}/$cancel"), None).await;
    assert_eq!(r.status(), 404, "the performer cannot even see it");
    let r = server.post_as(&jan, &format!("ServiceRequest/{id2}/$cancel"), None).await;
    assert_eq!(r.status(), 403, "the patient sees it but may not cancel");
    let r = server.post_as(&doctor, &format!("ServiceRequest/{id2}/$cancel"), None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["status"], "revoked");
    let r = server.post_as(&jan, &format!("ServiceRequest/{id2}/$book"), None).await;
    assert_eq!(r.status(), 409);

    // The patient sees their referrals; another patient gets nothing.
    assert_eq!(server.get_as(&jan, &format!("ServiceRequest/{id}")).await.status(), 200);
    assert_eq!(server.get_as(&anna, &format!("ServiceRequest/{id}")).await.status(), 404);
    let bundle = json(server.get_as(&anna, "ServiceRequest?subject=Patient/demo-jan-kowalski").await).await;
    assert_eq!(bundle["total"].as_u64().unwrap_or(0), 0, "{bundle}");
    let bundle =
        json(server.get_as(&jan, "ServiceRequest?subject=Patient/demo-jan-kowalski&status=completed").await).await;
    assert!(bundle["entry"].as_array().expect("entries").iter().any(|e| e["resource"]["id"] == id));

    // The retrieval was audited as the performer.
    let admin = server.admin_token().await;
    let audit = json(server.get_as(&admin, &format!("AuditEvent?entity=ServiceRequest/{id}&_count=100")).await).await;
    assert!(audit.to_string().contains("maria-kardiolog"), "retrieval audited as the performer");
}

async fn demo_referrals(server: &TestServer) {
    let (_, performer, jan, _) = setup(server).await;
    let r = server.get_as(&performer, &format!("ServiceRequest/$retrieve?code=1234&pesel={JAN_PESEL}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["id"], "demo-skierowanie-kardiolog");
    let bundle = json(server.get_as(&jan, "ServiceRequest?subject=Patient/demo-jan-kowalski").await).await;
    let ids: Vec<&str> =
        bundle["entry"].as_array().expect("entries").iter().filter_map(|e| e["resource"]["id"].as_str()).collect();
    assert!(ids.contains(&"demo-skierowanie-kardiolog") && ids.contains(&"demo-skierowanie-okulista"), "{ids:?}");
    let r = server.post_as(&performer, "ServiceRequest/demo-skierowanie-ortopeda/$complete?code=3456", None).await;
    assert_eq!(r.status(), 409, "already completed");
}

fn access_code(r: &Value) -> String {
    common::identifier_value(r, CODE).expect("access code")
}

//! The workflow sweep: prescriptions past their last valid day expire (the last day itself is
//! still valid), and a second sweep finds nothing to do.

use crate::common;

use reqwest::Method;
use serde_json::{Value, json};

use common::TestServer;

on_both_backends_configured!(crate::common::auth_on; expired_prescriptions_are_swept);

fn day(offset: i64) -> String {
    let d = time::OffsetDateTime::now_utc().date() + time::Duration::days(offset);
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn prescription(id: &str, last_day: &str) -> Value {
    json!({
        "resourceType": "MedicationRequest", "id": id, "status": "active", "intent": "order",
        "medicationCodeableConcept": {"text": "Amoxicillin 500 mg"},
        "subject": {"reference": "Patient/demo-jan-kowalski"},
        "dispenseRequest": {"validityPeriod": {"start": day(-40), "end": last_day}},
    })
}

async fn expired_prescriptions_are_swept(server: &TestServer) {
    let admin = server.admin_token().await;
    for (id, last) in [("sweep-yesterday", day(-1)), ("sweep-today", day(0))] {
        let r = server
            .send(Method::PUT, &format!("MedicationRequest/{id}"), &prescription(id, &last))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("put");
        assert!(r.status().is_success());
    }
    let swept = ikp::ikp::sweep::run(&server.state().session).await.expect("sweep");
    assert!(swept.expired_prescriptions >= 1, "{swept:?}");
    let jan = server.token(Some("Patient/demo-jan-kowalski"), None, "user/*.rs").await;
    let read = |id: &'static str| {
        let jan = jan.clone();
        async move {
            let r = server.get(&format!("MedicationRequest/{id}")).bearer_auth(&jan).send().await.expect("get");
            r.json::<Value>().await.expect("json")
        }
    };
    let expired = read("sweep-yesterday").await;
    assert_eq!(expired["status"], "stopped");
    assert_eq!(expired["statusReason"]["coding"][0]["code"], "expired");
    assert_eq!(read("sweep-today").await["status"], "active", "the last valid day is still valid");
    let again = ikp::ikp::sweep::run(&server.state().session).await.expect("sweep");
    assert_eq!(again.expired_prescriptions, 0);
}

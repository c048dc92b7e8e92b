//! The demo's subscriptions (DEMO DATA, stored with `--demo`): the pharmacy's system is told of
//! every prescription its pharmacist dispenses, and Anna's app of new lab results and
//! e-prescriptions for her and her daughter Zofia. All three write e-mails to the mail outbox
//! (`ikp-data/ikp-mail-outbox.mbox` for the default server), so notifications can be watched
//! without a mail server.

use serde_json::{Value, json};

use crate::owner::Owner;
use crate::topics::TOPIC_BASE;

const BACKPORT: &str = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition";

fn subscription(id: &str, owner: &Owner, reason: &str, topic: &str, filter: Option<&str>, mail: &str) -> Value {
    let mut subscription = json!({
        "resourceType": "Subscription",
        "id": id,
        "meta": {"profile": [format!("{BACKPORT}/backport-subscription")]},
        "extension": [owner.extension()],
        "status": "requested",
        "reason": reason,
        "criteria": format!("{TOPIC_BASE}/{topic}"),
        "channel": {
            "type": "email",
            "endpoint": format!("mailto:{mail}"),
            "payload": "application/fhir+json",
            "_payload": {"extension": [{"url": format!("{BACKPORT}/backport-payload-content"), "valueCode": "id-only"}]},
        },
    });
    if let Some(filter) = filter {
        subscription["_criteria"] =
            json!({"extension": [{"url": format!("{BACKPORT}/backport-filter-criteria"), "valueString": filter}]});
    }
    subscription
}

pub fn resources() -> Vec<Value> {
    let pharmacy = Owner {
        user: None,
        client: "demo-pharmacy-system".into(),
        patient: None,
        scope: "system/MedicationDispense.rs system/MedicationRequest.rs".into(),
    };
    let annas_app = Owner {
        user: Some("Patient/demo-anna-kowalska".into()),
        client: "demo-anna-app".into(),
        patient: None,
        scope: "openid fhirUser user/*.rs".into(),
    };
    vec![
        subscription(
            "demo-pharmacy-dispensed",
            &pharmacy,
            "Recepty zrealizowane w aptece (prescriptions dispensed at the pharmacy)",
            "prescription-dispensed",
            Some("MedicationDispense?performer=Practitioner/demo-ewa-wisniewska"),
            "apteka@example.pl",
        ),
        subscription(
            "demo-anna-results",
            &annas_app,
            "Nowe wyniki badań moje i Zosi (new lab results for me and Zofia)",
            "lab-result-available",
            None,
            "anna.kowalska@example.pl",
        ),
        subscription(
            "demo-anna-prescriptions",
            &annas_app,
            "Nowe e-recepty moje i Zosi (new e-prescriptions for me and Zofia)",
            "prescription-issued",
            None,
            "anna.kowalska@example.pl",
        ),
    ]
}

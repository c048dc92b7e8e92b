//! EHIC (EKUZ) applications, and what the patient sees of their insurance and sick leave.
//!
//! `POST Patient/[id]/$apply-ehic` (the patient, a parent for a child, a proxy who may act)
//! files an application: a `Task` (PLTaskEhic) owned by the NFZ branch, with a case number, in the
//! state `accepted`. One open application per patient: another one is refused (409) until the
//! open one is sent or rejected. The NFZ's backend system (an unconfined `system/` client) moves it
//! on with `POST Task/[id]/$ehic-status` (`status`, and `reason` for `rejected`/`returned`):
//!
//! `accepted` → `under-review` → `sent` (card posted) | `rejected`; `sent` → `returned` (by the
//! post office) → `sent` (after the address is corrected). `businessStatus` carries the state,
//! `Task.status` follows (`accepted`→accepted, `under-review`→in-progress, `sent`→completed,
//! `rejected`→rejected, `returned`→on-hold); `statusReason` the reason. The patient follows it with
//! `Task?patient=...&code=ehic-application`.
//!
//! Insurance status (`Coverage`), monthly health contributions (`Invoice` from ZUS, one per
//! month) and sick-leave certificates (e-ZLA, `Composition` PLSickLeave) are loaded by backend
//! systems with plain FHIR writes; they are in the patient's compartment, so the patient (and
//! whoever may see their record) reads them with ordinary searches.

use serde_json::{Value, json};

use crate::access::scopes::Interaction;
use crate::clock::{instant, now};
use crate::error::{FhirError, FhirResult};
use crate::interaction::operation::{Call, Input};
use crate::interaction::search::{Scope, search};
use crate::interaction::{Response, create, update};
use crate::session::Session;

const TASK_TYPE: &str = "https://ikp.example.org/fhir/CodeSystem/pl-task-type";
const STATUS_SYSTEM: &str = "https://ikp.example.org/fhir/CodeSystem/pl-ehic-status";
const TASK_PROFILE: &str = "https://ikp.example.org/fhir/StructureDefinition/PLTaskEhic";
const CASE_SYSTEM: &str = "https://ikp.example.org/fhir/sid/pl-ehic-application";
/// The NFZ branch that handles applications (demo: the Mazovian branch).
const NFZ_BRANCH: &str = "Organization/demo-nfz-07";

/// The application's states, the FHIR Task.status each maps to, and where each may go next.
const STATES: &[(&str, &str, &[&str])] = &[
    ("accepted", "accepted", &["under-review", "rejected"]),
    ("under-review", "in-progress", &["sent", "rejected"]),
    ("sent", "completed", &["returned"]),
    ("returned", "on-hold", &["sent", "rejected"]),
    ("rejected", "rejected", &[]),
];

/// `Patient/[id]/$apply-ehic`.
pub async fn apply_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    apply(session, call.id()).await
}

/// `Task/[id]/$ehic-status`.
pub async fn status_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    advance(session, call.id(), &call.input).await
}

fn state_of(task: &Value) -> Option<&str> {
    task.pointer("/businessStatus/coding/0/code").and_then(Value::as_str)
}

async fn apply(session: &Session, patient: &str) -> FhirResult<Response> {
    super::current(session, "Patient", patient).await?;
    let pairs = vec![
        ("patient".to_string(), format!("Patient/{patient}")),
        ("code".to_string(), format!("{TASK_TYPE}|ehic-application")),
    ];
    for task in super::matches(search(session, Scope::Type("Task".into()), &pairs, true).await?)? {
        if !matches!(state_of(&task), Some("sent" | "rejected")) {
            return Err(FhirError::Conflict(format!(
                "an EKUZ application is already open (Task/{})",
                task["id"].as_str().unwrap_or_default()
            )));
        }
    }
    let stamp = instant(now());
    let case = format!("EKUZ/07/{}/{}", &stamp[..4], &crate::session::prepare::new_id()[..8].to_uppercase());
    let requester = session.caller_user().unwrap_or_else(|| format!("Patient/{patient}"));
    let task = json!({
        "resourceType": "Task",
        "meta": {"profile": [TASK_PROFILE]},
        "identifier": [{"system": CASE_SYSTEM, "value": case}],
        "status": "accepted",
        "businessStatus": {"coding": [{"system": STATUS_SYSTEM, "code": "accepted"}]},
        "intent": "order",
        "code": {"coding": [{"system": TASK_TYPE, "code": "ehic-application"}]},
        "for": {"reference": format!("Patient/{patient}")},
        "requester": {"reference": requester},
        "authoredOn": stamp,
        "lastModified": stamp,
        "owner": {"reference": NFZ_BRANCH},
    });
    create::create(session, "Task", task, None).await
}

async fn advance(session: &Session, task_id: &str, input: &Input) -> FhirResult<Response> {
    // Only the NFZ's system moves applications on: an unconfined caller with a Task write scope.
    if session.is_confined() {
        return Err(FhirError::Forbidden("EKUZ applications are processed by the NFZ's system".into()));
    }
    session.grant("Task", Interaction::Update)?;
    let next = input.text("status")?;
    let (mut task, version) = super::current(session, "Task", task_id).await?;
    if task.pointer("/code/coding/0/code").and_then(Value::as_str) != Some("ehic-application") {
        return Err(FhirError::bad_request(format!("Task/{task_id} is not an EKUZ application")));
    }
    let current = state_of(&task).unwrap_or("accepted").to_string();
    let allowed = STATES.iter().find(|(s, _, _)| *s == current).map(|(_, _, next)| *next).unwrap_or_default();
    if !allowed.contains(&next) {
        return Err(FhirError::Conflict(format!(
            "an application that is {current} cannot become {next} (allowed: {})",
            if allowed.is_empty() { "none".to_string() } else { allowed.join(", ") }
        )));
    }
    let fhir_status = STATES.iter().find(|(s, _, _)| *s == next).map(|(_, f, _)| *f).unwrap_or("in-progress");
    task["status"] = json!(fhir_status);
    task["businessStatus"] = json!({"coding": [{"system": STATUS_SYSTEM, "code": next}]});
    task["lastModified"] = json!(instant(now()));
    match input.params.text("reason") {
        Some(reason) => task["statusReason"] = json!({"text": reason}),
        None if matches!(next, "rejected" | "returned") => {
            return Err(FhirError::bad_request("a rejection or a return needs a reason for the applicant"));
        }
        None => {
            if let Some(o) = task.as_object_mut() {
                o.remove("statusReason");
            }
        }
    }
    update::update(session, "Task", task_id, task, Some(version)).await
}

/// Demo: the NFZ branch; Anna's application under review; Jan's insurance, three months of
/// contributions and a sick-leave certificate.
pub fn demo() -> Vec<Value> {
    let mut out = vec![
        json!({
            "resourceType": "Organization", "id": "demo-nfz-07",
            "meta": {"profile": ["https://ikp.example.org/fhir/StructureDefinition/PLOrganizationNFZBranch"]},
            "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.4424.3.1", "value": "07"}],
            "name": "Mazowiecki Oddział Wojewódzki NFZ (DEMO)",
        }),
        json!({
            "resourceType": "Organization", "id": "demo-zus",
            "active": true,
            "name": "Zakład Ubezpieczeń Społecznych (DEMO)",
        }),
        json!({
            "resourceType": "Task", "id": "demo-anna-ekuz",
            "meta": {"profile": [TASK_PROFILE]},
            "identifier": [{"system": CASE_SYSTEM, "value": "EKUZ/07/2026/DEMO0001"}],
            "status": "in-progress",
            "businessStatus": {"coding": [{"system": STATUS_SYSTEM, "code": "under-review"}]},
            "intent": "order",
            "code": {"coding": [{"system": TASK_TYPE, "code": "ehic-application"}]},
            "for": {"reference": "Patient/demo-anna-kowalska"},
            "requester": {"reference": "Patient/demo-anna-kowalska"},
            "authoredOn": "2026-11-20T18:00:00+01:00",
            "owner": {"reference": NFZ_BRANCH},
        }),
        json!({
            "resourceType": "Coverage", "id": "demo-jan-nfz",
            "status": "active",
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PUBLICPOL"}]},
            "beneficiary": {"reference": "Patient/demo-jan-kowalski"},
            "payor": [{"reference": NFZ_BRANCH}],
            "period": {"start": "2004-01-01"},
        }),
    ];
    for (month, amount) in [("2026-08", "412.65"), ("2026-09", "412.65"), ("2026-10", "431.20")] {
        out.push(json!({
            "resourceType": "Invoice", "id": format!("demo-jan-contribution-{month}"),
            "status": "balanced",
            "type": {"text": "składka zdrowotna (health contribution)"},
            "subject": {"reference": "Patient/demo-jan-kowalski"},
            "issuer": {"reference": "Organization/demo-zus"},
            "date": format!("{month}-15"),
            "totalNet": {"value": amount.parse::<f64>().unwrap_or_default(), "currency": "PLN"},
        }));
    }
    out.push(json!({
        "resourceType": "Composition", "id": "demo-jan-e-zla",
        "meta": {"profile": ["https://ikp.example.org/fhir/StructureDefinition/PLSickLeave"]},
        "extension": [{
            "url": "https://ikp.example.org/fhir/StructureDefinition/PLEmployerIdentifier",
            "valueIdentifier": {"system": "urn:oid:2.16.840.1.113883.3.4424.2.1", "value": "5252345675"},
        }],
        "identifier": {"system": "https://ikp.example.org/fhir/sid/pl-zus-zla-number", "value": "ZY7654321"},
        "status": "final",
        "type": {"coding": [{"system": "https://ikp.example.org/fhir/CodeSystem/pl-document-type-local", "code": "e-ZLA", "display": "Zaświadczenie lekarskie e-ZLA"}]},
        "subject": {"reference": "Patient/demo-jan-kowalski"},
        "date": "2026-10-05T09:30:00+02:00",
        "author": [{"reference": "PractitionerRole/demo-piotr-nowak-poz"}],
        "title": "Zaświadczenie lekarskie o czasowej niezdolności do pracy (DEMO)",
        "event": [{"period": {"start": "2026-10-05", "end": "2026-10-11"}}],
        "section": [{"title": "Rozpoznanie", "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">J20.9</div>"}}],
    }));
    out
}

//! Primary-care (POZ) declarations: choosing a doctor, a nurse and a midwife, for oneself, one's
//! child, or someone who authorised one to act (proxy-act).
//!
//! `POST Patient/[id]/$choose-primary-care` with `role` (`poz-doctor`, `poz-nurse`,
//! `poz-midwife`), `practitionerRole` (`PractitionerRole/..` at the chosen facility) and optionally
//! `reason` (an exemption: `moved`, `facility-closed`, `practitioner-left`, `turned-18`,
//! `provider-side`). It records a declaration `Task` (PLTaskPrimaryCareDeclaration, completed,
//! `executionPeriod.start` today), ends the previous declaration of that role
//! (`executionPeriod.end`), and keeps `Patient.generalPractitioner` in step (the chosen roles and
//! the doctor's facility). The first declaration is not a change; each later one is, and the
//! third and later non-exempt changes in a calendar year are flagged as paid (`Task.input` of type
//! `fee`, 80 PLN) — [`FREE_CHANGES_PER_YEAR`], [`CHANGE_FEE_PLN`]. Everything is written in one
//! transaction, conditional on the Patient's version, so two simultaneous choices cannot both
//! count as the same change. Because the doctor's role becomes the patient's general practitioner,
//! the access policy opens the patient's record to that doctor at once.

use serde_json::{Value, json};

use crate::clock::{instant, now};
use crate::error::{FhirError, FhirResult};
use crate::interaction::Response;
use crate::interaction::operation::{Call, Input};
use crate::interaction::search::{Scope, search};
use crate::session::{Session, Write, WriteSet};

/// Free changes of each role per calendar year; further ones are paid.
pub const FREE_CHANGES_PER_YEAR: usize = 2;
pub const CHANGE_FEE_PLN: u32 = 80;
/// Reasons that make a change free (and not counted).
pub const EXEMPTIONS: &[&str] = &["moved", "facility-closed", "practitioner-left", "turned-18", "provider-side"];
const ROLES: &[&str] = &["poz-doctor", "poz-nurse", "poz-midwife"];

const TASK_TYPE: &str = "https://ikp.example.org/fhir/CodeSystem/pl-task-type";
const TASK_PROFILE: &str = "https://ikp.example.org/fhir/StructureDefinition/PLTaskPrimaryCareDeclaration";
const INPUT_TYPE: &str = "https://ikp.example.org/fhir/CodeSystem/pl-poz-declaration-input";

/// `Patient/[id]/$choose-primary-care`.
pub async fn choose_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    choose(session, call.id(), &call.input).await
}

async fn choose(session: &Session, patient_id: &str, input: &Input) -> FhirResult<Response> {
    let role = input.text("role")?;
    if !ROLES.contains(&role) {
        return Err(FhirError::bad_request(format!("role must be one of {}", ROLES.join(", "))));
    }
    let reason = input.params.text("reason");
    if let Some(r) = reason
        && !EXEMPTIONS.contains(&r)
    {
        return Err(FhirError::bad_request(format!("reason must be one of {}", EXEMPTIONS.join(", "))));
    }
    let chosen = input.text("practitionerRole")?;
    let chosen_id = chosen
        .strip_prefix("PractitionerRole/")
        .ok_or_else(|| FhirError::bad_request("practitionerRole must be a PractitionerRole reference"))?;
    // The patient's record must be one the caller may act for (checked again on write).
    let (mut patient, patient_version) = super::current(session, "Patient", patient_id).await?;
    let role_resource = session
        .lookup()
        .read("PractitionerRole", chosen_id)
        .await?
        .map(|found| found.content().clone())
        .ok_or_else(|| FhirError::bad_request(format!("{chosen} does not exist")))?;
    let organization = role_resource
        .pointer("/organization/reference")
        .and_then(Value::as_str)
        .ok_or_else(|| FhirError::bad_request(format!("{chosen} names no facility")))?
        .to_string();

    // This patient's declarations of the role (the Task search is confined like any other).
    let pairs = vec![
        ("patient".to_string(), format!("Patient/{patient_id}")),
        ("code".to_string(), format!("{TASK_TYPE}|{role}")),
        ("_count".to_string(), "1000".to_string()),
    ];
    let declarations = super::matches(search(session, Scope::Type("Task".into()), &pairs, true).await?)?;
    let current = declarations.iter().find(|t| t.pointer("/executionPeriod/end").is_none());
    if current.and_then(|t| t.pointer("/focus/reference")).and_then(Value::as_str) == Some(chosen) {
        return Err(FhirError::Conflict(format!("{chosen} is already the patient's {role}")));
    }
    let today = &instant(now())[..10];
    let year = &today[..4];
    let counted = |t: &&Value| {
        let this_year = t["authoredOn"].as_str().is_some_and(|d| d.starts_with(year));
        let change = t["input"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|i| i.pointer("/type/coding/0/code").and_then(Value::as_str) == Some("change"));
        let exempt = t["input"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|i| i.pointer("/type/coding/0/code").and_then(Value::as_str) == Some("exemption"));
        this_year && change && !exempt
    };
    let changes_this_year = declarations.iter().filter(counted).count();
    let is_change = current.is_some();
    let paid = is_change && reason.is_none() && changes_this_year >= FREE_CHANGES_PER_YEAR;

    let mut inputs = Vec::new();
    let input_of = |code: &str| json!({"coding": [{"system": INPUT_TYPE, "code": code}]});
    if is_change {
        inputs.push(json!({"type": input_of("change"), "valueBoolean": true}));
    }
    if let Some(r) = reason {
        inputs.push(json!({"type": input_of("exemption"), "valueCode": r}));
    }
    if paid {
        inputs.push(json!({"type": input_of("fee"), "valueMoney": {"value": CHANGE_FEE_PLN, "currency": "PLN"}}));
    }
    let requester = session
        .caller_user()
        .filter(|u| u.starts_with("Patient/") || u.starts_with("RelatedPerson/"))
        .unwrap_or_else(|| format!("Patient/{patient_id}"));
    let mut task = json!({
        "resourceType": "Task",
        "meta": {"profile": [TASK_PROFILE]},
        "status": "completed",
        "intent": "order",
        "code": {"coding": [{"system": TASK_TYPE, "code": role}]},
        "focus": {"reference": chosen},
        "for": {"reference": format!("Patient/{patient_id}")},
        "requester": {"reference": requester},
        "owner": {"reference": organization},
        "authoredOn": instant(now()),
        "executionPeriod": {"start": today},
    });
    if !inputs.is_empty() {
        task["input"] = Value::Array(inputs);
    }

    let mut writes = WriteSet::new();
    writes.push(Write::create("Task", task));
    if let Some(previous) = current {
        let mut ended = previous.clone();
        ended["executionPeriod"]["end"] = json!(today);
        let id = previous["id"].as_str().unwrap_or_default();
        let version = previous.pointer("/meta/versionId").and_then(Value::as_str).and_then(|v| v.parse().ok());
        writes.push(Write::update("Task", id, ended, Some(version.unwrap_or(1))));
    }
    // generalPractitioner: the other roles' current choices, this one, and the doctor's facility.
    let mut practitioners: Vec<Value> = patient["generalPractitioner"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| {
            let reference = r["reference"].as_str().unwrap_or_default();
            let replaced =
                current.and_then(|t| t.pointer("/focus/reference")).and_then(Value::as_str) == Some(reference);
            let facility = role == "poz-doctor" && reference.starts_with("Organization/");
            !replaced && !facility
        })
        .collect();
    practitioners.push(json!({"reference": chosen}));
    if role == "poz-doctor" {
        practitioners.push(json!({"reference": organization}));
    }
    patient["generalPractitioner"] = Value::Array(practitioners);
    writes.push(Write::update("Patient", patient_id, patient, Some(patient_version)));
    let written = session.commit(writes).await.map_err(|e| match e {
        FhirError::PreconditionFailed(m) => {
            FhirError::Conflict(format!("another declaration was made at the same time; try again ({m})"))
        }
        other => other,
    })?;
    // The answer is the new declaration.
    let created = written
        .first()
        .and_then(|w| w.content())
        .ok_or_else(|| FhirError::Internal("the declaration was not stored".into()))?;
    Ok(Response::resource(201, created))
}

/// Demo: the facility and its primary-care team; Krystyna has chosen dr Nowak (her Patient
/// resource, in `crate::auth::demo`, names him as general practitioner).
pub fn demo() -> Vec<Value> {
    let org = "demo-przychodnia-zdrowie";
    let role = |id: &str, practitioner: &str, code: &str, display: &str, licence: (&str, &str)| {
        json!({
            "resourceType": "PractitionerRole", "id": id,
            "meta": {"profile": ["https://ikp.example.org/fhir/StructureDefinition/PLPractitionerRole"]},
            "identifier": [{"system": licence.0, "value": licence.1}],
            "active": true,
            "practitioner": {"reference": format!("Practitioner/{practitioner}")},
            "organization": {"reference": format!("Organization/{org}")},
            "code": [{"coding": [{"system": "urn:oid:2.16.840.1.113883.3.4424.11.3.18", "code": code, "display": display}]}],
        })
    };
    vec![
        json!({
            "resourceType": "Organization", "id": org,
            "meta": {"profile": ["https://ikp.example.org/fhir/StructureDefinition/PLOrganizationMedicalEntity"]},
            "identifier": [
                {"system": "urn:oid:2.16.840.1.113883.3.4424.2.3.1", "value": "000000012345"},
                {"system": "urn:oid:2.16.840.1.113883.3.4424.2.2.1", "value": "145632012"},
                {"system": "urn:oid:2.16.840.1.113883.3.4424.2.1", "value": "5252345675"},
            ],
            "active": true,
            "name": "Przychodnia Zdrowie (DEMO)",
            "telecom": [{"system": "phone", "value": "+48 22 123 45 67"}],
            "address": [{"line": ["ul. Grójecka 100"], "city": "Warszawa", "postalCode": "02-101", "country": "PL"}],
        }),
        json!({
            "resourceType": "Practitioner", "id": "demo-maria-zielinska",
            "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.4424.1.6.3", "value": "1234569P"}],
            "name": [{"family": "Zielińska", "given": ["Maria"], "prefix": ["piel."]}],
            "gender": "female",
        }),
        role(
            "demo-piotr-nowak-poz",
            "demo-piotr-nowak",
            "LEK",
            "Lekarz",
            ("urn:oid:2.16.840.1.113883.3.4424.1.6.2", "1234567"),
        ),
        role(
            "demo-maria-zielinska-poz",
            "demo-maria-zielinska",
            "PIEL",
            "Pielęgniarka",
            ("urn:oid:2.16.840.1.113883.3.4424.1.6.3", "1234569P"),
        ),
        json!({
            "resourceType": "Task", "id": "demo-krystyna-poz-doctor",
            "meta": {"profile": [TASK_PROFILE]},
            "status": "completed", "intent": "order",
            "code": {"coding": [{"system": TASK_TYPE, "code": "poz-doctor"}]},
            "focus": {"reference": "PractitionerRole/demo-piotr-nowak-poz"},
            "for": {"reference": "Patient/demo-krystyna-nowak"},
            "requester": {"reference": "Patient/demo-krystyna-nowak"},
            "owner": {"reference": format!("Organization/{org}")},
            "authoredOn": "2026-02-03T10:00:00+01:00",
            "executionPeriod": {"start": "2026-02-03"},
        }),
    ]
}

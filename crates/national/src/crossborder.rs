//! Cross-border e-prescriptions (MyHealth@EU), Poland as country A: a patient consents to having
//! their e-prescriptions dispensed abroad, and a country-B national contact point's connector (a
//! backend-services client with `system/` scopes) identifies the patient, lists what may be
//! dispensed, as HL7 Europe MPD resources, and reports or rolls back dispensations.
//!
//! - `POST Patient/[id]/$crossborder-consent` (`enabled=true|false`, `country` repeated or
//!   comma-separated, ISO 3166 alpha-2): the patient or their parent (while the child is a minor)
//!   stores or switches off the patient's cross-border Consent (category `cross-border` of
//!   `pl-ikp-authorization-type`; each country an actor identified in `urn:iso:std:iso:3166`).
//! - `GET Patient/$crossborder-identify?pesel=&birthdate=&family=` (connector): the Patient when
//!   all three match, 404 otherwise.
//! - `GET Patient/[id]/$crossborder-prescriptions?country=XX` (connector): 403 unless an active
//!   cross-border Consent names the country; else a `collection` Bundle of EUMedicationRequest +
//!   EUMedication pairs (one medicine per prescription), each checked against the EU profiles.
//!   Eligible: `active`, within validity today, and not in availability category `Rpw`
//!   (narcotic/psychotropic), which is never offered abroad.
//! - `POST MedicationRequest/[id]/$crossborder-dispense?country=XX` (connector; body: an EU
//!   MedicationDispense): stored as EUMedicationDispense tagged with the country, with the Polish
//!   prescription's status changed as by `$dispense` (same transaction, same version guard).
//! - `POST MedicationDispense/[id]/$crossborder-cancel` (connector): the dispensation becomes
//!   `entered-in-error` and the prescription's status is recomputed, in one transaction.
//!
//! The connector needs `system/*.rs`, `system/MedicationDispense.cu` and
//! `system/MedicationRequest.u` (the status change is written, and audited, as its own).

use serde_json::{Value, json};

use super::current;
use super::prescription::{self, content};
use crate::access::entitlements::AUTHORIZATION_TYPES;
use crate::clock::{age_in_years, format_date, today};
use crate::context::Fhir;
use crate::error::{FhirError, FhirResult};
use crate::interaction::Response;
use crate::interaction::operation::{Call, Input};
use crate::session::{Sealed, Session, Write, WriteSet, not_found};
use crate::terminology::naming::PESEL;

pub const EU_MEDICATION_REQUEST: &str = "https://ikp.example.org/fhir/StructureDefinition/EUMedicationRequest";
pub const EU_MEDICATION: &str = "https://ikp.example.org/fhir/StructureDefinition/EUMedication";
pub const EU_MEDICATION_DISPENSE: &str = "https://ikp.example.org/fhir/StructureDefinition/EUMedicationDispense";
pub const PL_CONSENT: &str = "https://ikp.example.org/fhir/StructureDefinition/PLConsent";
/// Countries (ISO 3166-1 alpha-2).
pub const COUNTRY_SYSTEM: &str = "urn:iso:std:iso:3166";
/// `meta.tag` of a dispensation made abroad: the country.
pub const CROSSBORDER_TAG: &str = "https://ikp.example.org/fhir/CodeSystem/crossborder-dispensing-country";
const RECORDED: &str = "http://hl7.org/fhir/5.0/StructureDefinition/extension-MedicationDispense.recorded";
/// Availability categories never dispensed abroad (narcotic and psychotropic drugs).
pub const EXCLUDED_CATEGORIES: &[&str] = &["Rpw"];

/// `Patient/[id]/$crossborder-consent`.
pub async fn consent_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    consent(session, call.id(), &call.input).await
}

/// `Patient/$crossborder-identify`.
pub async fn identify_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    identify(session, &call.input).await
}

/// `Patient/[id]/$crossborder-prescriptions`.
pub async fn prescriptions_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    prescriptions(session, call.id(), &call.input).await
}

/// `MedicationRequest/[id]/$crossborder-dispense`.
pub async fn dispense_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    dispense(session, call.id(), &call.input).await
}

/// `MedicationDispense/[id]/$crossborder-cancel`.
pub async fn cancel_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    cancel(session, call.id()).await
}

fn text<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// Only a backend service (no personal reach) acts as a country-B connector.
fn require_connector(session: &Session) -> FhirResult<()> {
    if session.is_confined() {
        Err(FhirError::Forbidden("cross-border operations are for a national contact point's backend service".into()))
    } else {
        Ok(())
    }
}

fn country(input: &Input) -> FhirResult<String> {
    let c = input.text("country")?.trim().to_ascii_uppercase();
    if c.len() == 2 && c.chars().all(|c| c.is_ascii_alphabetic()) {
        Ok(c)
    } else {
        Err(FhirError::bad_request(format!("'{c}' is not an ISO 3166 alpha-2 country code")))
    }
}

fn countries(input: &Input) -> FhirResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for v in input.params.values("country") {
        for c in v.as_str().unwrap_or_default().split(',') {
            let c = c.trim().to_ascii_uppercase();
            if c.is_empty() {
                continue;
            }
            if c.len() != 2 || !c.chars().all(|c| c.is_ascii_alphabetic()) || c == "PL" {
                return Err(FhirError::bad_request(format!("'{c}' is not a foreign ISO 3166 alpha-2 country code")));
            }
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    Ok(out)
}

/// The patient's cross-border Consents (the server's own look-up).
async fn consents_of(session: &Session, patient: &str) -> FhirResult<Vec<Sealed>> {
    let cross_border =
        [("patient", format!("Patient/{patient}")), ("category", format!("{AUTHORIZATION_TYPES}|cross-border"))];
    session.lookup().find(&["Consent"], &cross_border, 1000).await
}

/// Whether an active cross-border Consent of the patient names `country` and is in force.
pub async fn consented(session: &Session, patient: &str, country: &str) -> FhirResult<bool> {
    let today = format_date(today());
    for found in consents_of(session, patient).await? {
        let c = found.content();
        let in_force = c["status"] == "active"
            && c["provision"]["type"].as_str().is_none_or(|t| t == "permit")
            && text(c, "/provision/period/start").is_none_or(|s| s.get(..10).is_some_and(|s| s <= today.as_str()))
            && text(c, "/provision/period/end").is_none_or(|e| e.get(..10).is_some_and(|e| e >= today.as_str()));
        let names = c["provision"]["actor"].as_array().is_some_and(|actors| {
            actors.iter().any(|a| {
                text(a, "/reference/identifier/system") == Some(COUNTRY_SYSTEM)
                    && text(a, "/reference/identifier/value") == Some(country)
            })
        });
        if in_force && names {
            return Ok(true);
        }
    }
    Ok(false)
}

fn no_consent(country: &str) -> FhirError {
    FhirError::Forbidden(format!("the patient has not consented to cross-border dispensing in {country}"))
}

/// A cross-border Consent.
pub fn consent_resource(id: &str, patient: &str, performer: &str, countries: &[String], enabled: bool) -> Value {
    let now = crate::clock::instant(crate::clock::now());
    let actors: Vec<Value> = countries
        .iter()
        .map(|c| {
            json!({
                "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "DELEGATEE"}]},
                "reference": {"identifier": {"system": COUNTRY_SYSTEM, "value": c}, "display": format!("MyHealth@EU {c}")}
            })
        })
        .collect();
    json!({
        "resourceType": "Consent", "id": id,
        "meta": {"profile": [PL_CONSENT]},
        "status": if enabled { "active" } else { "inactive" },
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": AUTHORIZATION_TYPES, "code": "cross-border"}]}],
        "patient": {"reference": format!("Patient/{patient}")},
        "dateTime": now,
        "performer": [{"reference": performer}],
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": if enabled { "OPTIN" } else { "OPTOUT" }}]},
        "provision": {"type": "permit", "period": {"start": now}, "actor": actors}
    })
}

/// The patient themself, or a parent of a minor patient (or an unconfined caller).
async fn require_patient_or_parent(session: &Session, patient: &str) -> FhirResult<()> {
    current(session, "Patient", patient).await?;
    if !session.is_confined() {
        return Ok(());
    }
    let user = session.caller_user().unwrap_or_default();
    if user == format!("Patient/{patient}") {
        return Ok(());
    }
    let refused = || FhirError::Forbidden("only the patient or a parent may change cross-border consent".into());
    let (t, id) = user.split_once('/').ok_or_else(refused)?;
    if t != "Patient" && t != "RelatedPerson" {
        return Err(refused());
    }
    let lookup = session.lookup();
    let me = lookup.read(t, id).await?.ok_or_else(refused)?;
    let pesel = me.content()["identifier"]
        .as_array()
        .and_then(|ids| ids.iter().find(|i| i["system"].as_str() == Some(PESEL)))
        .and_then(|i| i["value"].as_str())
        .map(str::to_string)
        .ok_or_else(refused)?;
    let child = lookup.read("Patient", patient).await?.ok_or_else(refused)?;
    let minor = text(child.content(), "/birthDate").and_then(age_in_years).is_some_and(|a| a < 18);
    let same_pesel = [("patient", format!("Patient/{patient}")), ("identifier", format!("{PESEL}|{pesel}"))];
    let parents = lookup.find(&["RelatedPerson"], &same_pesel, 1000).await?;
    let parental = parents.iter().map(Sealed::content).any(|p| {
        p["relationship"].as_array().is_some_and(|r| {
            r.iter().filter_map(|c| c["coding"].as_array()).flatten().any(|c| {
                c["code"]
                    .as_str()
                    .is_some_and(|code| ["PRN", "MTH", "FTH", "GUARD", "NPRN", "NMTH", "NFTH"].contains(&code))
            })
        })
    });
    if minor && parental { Ok(()) } else { Err(refused()) }
}

async fn consent(session: &Session, patient: &str, input: &Input) -> FhirResult<Response> {
    require_patient_or_parent(session, patient).await?;
    let enabled = input.params.boolean("enabled")?.ok_or_else(|| FhirError::bad_request("'enabled' is required"))?;
    let list = countries(input)?;
    if enabled && list.is_empty() {
        return Err(FhirError::bad_request("name at least one country"));
    }
    let existing = consents_of(session, patient).await?;
    let (id, version, previous) = match existing.first() {
        Some(v) => (v.id().to_string(), Some(v.version()), Some(v.content().clone())),
        None => (format!("crossborder-{patient}"), None, None),
    };
    // Switching off keeps the countries that were named, for the record.
    let list = if list.is_empty() {
        previous
            .as_ref()
            .and_then(|p| p["provision"]["actor"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|a| text(a, "/reference/identifier/value").map(str::to_string))
            .collect()
    } else {
        list
    };
    let performer = session.caller_user().unwrap_or_else(|| format!("Patient/{patient}"));
    let resource = consent_resource(&id, patient, &performer, &list, enabled);
    // One cross-border Consent per patient, under an id this operation assigns.
    let written = session.commit(Write::update("Consent", &id, resource, version).assigned()).await?;
    let stored = written.first().and_then(|w| w.content()).ok_or_else(|| FhirError::Internal("not stored".into()))?;
    Ok(Response::resource(200, stored))
}

async fn identify(session: &Session, input: &Input) -> FhirResult<Response> {
    require_connector(session)?;
    let pesel = input.text("pesel")?;
    let birthdate = input.text("birthdate")?;
    let family = input.text("family")?;
    let nobody = || FhirError::NotFound("no patient matches these demographics".into());
    let found = session.lookup().find(&["Patient"], &[("identifier", format!("{PESEL}|{pesel}"))], 1).await?;
    let sealed = found.first().ok_or_else(nobody)?;
    let patient = sealed.content().clone();
    let same_birth = patient["birthDate"].as_str() == Some(birthdate);
    let same_family = patient["name"].as_array().is_some_and(|names| {
        names.iter().any(|n| n["family"].as_str().is_some_and(|f| f.to_lowercase() == family.trim().to_lowercase()))
    });
    if !(same_birth && same_family) {
        return Err(nobody());
    }
    session.reveal(sealed)?;
    Ok(Response::resource(200, patient))
}

/// Whether a Polish prescription may be offered abroad today.
fn eligible(mr: &Value) -> bool {
    let category = mr["extension"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["url"].as_str() == Some(prescription::AVAILABILITY)))
        .and_then(|e| text(e, "/valueCoding/code"))
        .unwrap_or_default();
    let partial = mr["extension"].as_array().is_some_and(|e| {
        e.iter().any(|e| {
            e["url"].as_str() == Some(prescription::STATUS_DETAIL)
                && text(e, "/valueCoding/code") == Some("CZESCIOWO_ZREALIZOWANA")
        })
    });
    mr["status"] == "active"
        && !EXCLUDED_CATEGORIES.contains(&category)
        && prescription::valid_on(mr, today(), partial).is_ok()
}

/// The Polish prescription as an EUMedicationRequest and its EUMedication.
pub fn to_eu(fhir: &Fhir, mr: &Value) -> (Value, Value) {
    let id = mr["id"].as_str().unwrap_or_default();
    let med_id = format!("{id}-medication");
    let source = mr["contained"]
        .as_array()
        .and_then(|c| c.iter().find(|m| m["resourceType"] == "Medication"))
        .cloned()
        .unwrap_or_else(|| json!({"code": mr["medicationCodeableConcept"].clone()}));
    let mut medication = json!({
        "resourceType": "Medication", "id": med_id,
        "meta": {"profile": [EU_MEDICATION]},
        "code": source["code"].clone(),
    });
    for k in ["form", "ingredient", "amount"] {
        if let Some(v) = source.get(k) {
            medication[k] = v.clone();
        }
    }
    let mut request = json!({
        "resourceType": "MedicationRequest", "id": id,
        "meta": {"profile": [EU_MEDICATION_REQUEST]},
        "identifier": mr["identifier"].as_array().map(|ids| ids.iter()
            .filter(|i| i["system"].as_str() == Some(prescription::NUMBER_SYSTEM)).cloned().collect::<Vec<_>>()).unwrap_or_default(),
        "status": "active",
        "intent": "order",
        "medicationReference": {"reference": fhir.resource_url("Medication", &med_id)},
        "subject": mr["subject"].clone(),
        "authoredOn": mr["authoredOn"].clone(),
        "requester": mr["requester"].clone(),
        "groupIdentifier": mr["groupIdentifier"].clone(),
        "dosageInstruction": mr["dosageInstruction"].clone(),
        "dispenseRequest": {
            "validityPeriod": mr["dispenseRequest"]["validityPeriod"].clone(),
            "quantity": mr["dispenseRequest"]["quantity"].clone(),
        },
    });
    if let Some(s) = mr.pointer("/substitution/allowedBoolean") {
        request["substitution"] = json!({"allowedBoolean": s});
    }
    (request, medication)
}

/// Checks a resource against the profiles it declares (the EU ones); 500 if ours is invalid.
fn check_eu(fhir: &Fhir, resource: &Value) -> FhirResult<()> {
    let findings = crate::validation::validate(fhir.model, &fhir.profiles, &fhir.codes(), resource, &[]);
    if findings.has_errors() {
        let messages: Vec<String> = findings.all().into_iter().map(|i| i.message).collect();
        return Err(FhirError::Internal(format!("the MPD mapping is not valid: {}", messages.join("; "))));
    }
    Ok(())
}

async fn prescriptions(session: &Session, patient: &str, input: &Input) -> FhirResult<Response> {
    require_connector(session)?;
    let country = country(input)?;
    if !session.lookup().exists("Patient", patient).await? {
        return Err(not_found("Patient", patient));
    }
    if !consented(session, patient, &country).await? {
        return Err(no_consent(&country));
    }
    let active = [("subject", format!("Patient/{patient}")), ("status", "active".to_string())];
    let found = session.lookup().find(&["MedicationRequest"], &active, 1000).await?;
    let mut entries = Vec::new();
    let mut handed = 0;
    for sealed in &found {
        let mr = sealed.content();
        if !eligible(mr) {
            continue;
        }
        let (request, medication) = to_eu(session, mr);
        check_eu(session, &request)?;
        check_eu(session, &medication)?;
        session.reveal(sealed)?;
        entries.push(json!({"fullUrl": session.resource_url("MedicationRequest", sealed.id()), "resource": request}));
        entries.push(json!({"fullUrl": medication["id"].as_str().map(|m| session.resource_url("Medication", m)), "resource": medication}));
        handed += 1;
    }
    Ok(Response::resource(
        200,
        json!({"resourceType": "Bundle", "type": "collection", "total": handed, "entry": entries}),
    ))
}

async fn dispense(session: &Session, id: &str, input: &Input) -> FhirResult<Response> {
    require_connector(session)?;
    let country = country(input)?;
    let mut md = input.resource("MedicationDispense")?.clone();
    let (mr, _) = current(session, "MedicationRequest", id).await?;
    let patient =
        text(&mr, "/subject/reference").and_then(|s| s.strip_prefix("Patient/")).unwrap_or_default().to_string();
    if !consented(session, &patient, &country).await? {
        return Err(no_consent(&country));
    }
    if !eligible(&mr) && mr["status"] == "active" {
        return Err(FhirError::Conflict("this prescription may not be dispensed abroad".into()));
    }
    md["meta"] = json!({"profile": [EU_MEDICATION_DISPENSE], "tag": [{"system": CROSSBORDER_TAG, "code": country}]});
    let has_recorded =
        md["extension"].as_array().is_some_and(|e| e.iter().any(|e| e["url"].as_str() == Some(RECORDED)));
    if !has_recorded {
        let mut ext = md["extension"].as_array().cloned().unwrap_or_default();
        ext.push(json!({"url": RECORDED, "valueDateTime": crate::clock::instant(crate::clock::now())}));
        md["extension"] = json!(ext);
    }
    md["status"] = json!("completed");
    // The connector is a backend service: nothing to widen.
    let stored = prescription::dispense_on(session, id, md).await?;
    Ok(Response::resource(201, content(&stored)?))
}

async fn cancel(session: &Session, id: &str) -> FhirResult<Response> {
    require_connector(session)?;
    for _ in 0..8 {
        let (mut md, md_version) = current(session, "MedicationDispense", id).await?;
        let abroad = md["meta"]["tag"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["system"].as_str() == Some(CROSSBORDER_TAG)));
        if !abroad {
            return Err(FhirError::Conflict("only a dispensation made abroad can be rolled back here".into()));
        }
        if md["status"] != "completed" {
            return Err(FhirError::Conflict(format!(
                "the dispensation is already {}",
                md["status"].as_str().unwrap_or("?")
            )));
        }
        let rx = text(&md, "/authorizingPrescription/0/reference")
            .and_then(|r| r.strip_prefix("MedicationRequest/"))
            .map(str::to_string)
            .ok_or_else(|| FhirError::Conflict("the dispensation names no prescription".into()))?;
        let (mr, mr_version) = prescription::recomputed(session, &rx, id).await?;
        md["status"] = json!("entered-in-error");
        let mut writes = WriteSet::new();
        writes.push(Write::update("MedicationDispense", id, md, Some(md_version)));
        writes.push(Write::update("MedicationRequest", &rx, mr, Some(mr_version)));
        match session.commit(writes).await {
            Ok(written) => {
                let stored = written
                    .first()
                    .and_then(|w| w.content())
                    .ok_or_else(|| FhirError::Internal("not stored".into()))?;
                return Ok(Response::resource(200, stored));
            }
            Err(FhirError::PreconditionFailed(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(FhirError::Conflict("the prescription is changing; try again".into()))
}

/// Demo resources of this workflow: Jan Kowalski's cross-border consent for CZ and PT.
pub fn demo() -> Vec<Value> {
    let mut consent = consent_resource(
        "demo-crossborder-jan",
        "demo-jan-kowalski",
        "Patient/demo-jan-kowalski",
        &["CZ".to_string(), "PT".to_string()],
        true,
    );
    consent["dateTime"] = json!("2026-01-01T00:00:00Z");
    consent["provision"]["period"]["start"] = json!("2026-01-01T00:00:00Z");
    vec![consent]
}

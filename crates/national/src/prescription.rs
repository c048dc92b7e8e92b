//! E-prescriptions (e-recepta): issuing a package, finding it in a pharmacy with the 4-digit
//! access code and the patient's PESEL, dispensing (whole or in parts), cancelling.
//!
//! - `POST MedicationRequest/$issue-package` (prescriber): a Bundle of MedicationRequests (one
//!   product each, one patient; Medications in the Bundle referenced by `urn:uuid:` are stored
//!   `contained` in their prescription). Each prescription gets a number
//!   ([`NUMBER_SYSTEM`]), the package key (`groupIdentifier`, [`PACKAGE_SYSTEM`]) and the
//!   package's random 4-digit access code (an identifier in [`ACCESS_CODE_SYSTEM`]); the
//!   validity period is computed from the realisation date ([`validity_days`]). Everything is
//!   stored in one transaction, checked by the access policy (the requester must be the caller)
//!   and audited. Returns a `collection` Bundle of the stored prescriptions.
//! - `GET|POST MedicationRequest/$retrieve?code=1234&pesel=...` (pharmacist): the package's
//!   prescriptions. Wrong code or PESEL: 404, nothing revealed. Without `code`: what a
//!   prescriptions-only Consent lets the pharmacist see for that PESEL.
//! - `POST MedicationRequest/[id]/$dispense` (pharmacist; body: a MedicationDispense or
//!   Parameters `quantity`, plus `code`+`pesel` unless a Consent authorises the pharmacist):
//!   writes the MedicationDispense and the prescription's new status in one transaction guarded
//!   by `ifMatch` on the prescription's version; a concurrent dispensing makes it re-read and
//!   re-check (so a fully dispensed prescription answers 409, never twice). A MedicationDispense
//!   body with an `identifier` is idempotent: sending it again returns the stored one.
//! - `POST MedicationRequest/[id]/$cancel` (the requester only): refused (409) once anything was
//!   dispensed.
//!
//! Statuses: issued = `active` + status detail `WYSTAWIONA`; partially dispensed = `active` +
//! `CZESCIOWO_ZREALIZOWANA`; dispensed = `completed` + `ZREALIZOWANA`; cancelled = `cancelled` +
//! `ANULOWANA`; expired = `stopped` + `statusReason` `expired` ([`STATUS_REASON_SYSTEM`]; the
//! national status value set has no code for it). Validity, last day inclusive, is
//! `validityPeriod.end`; dates are UTC calendar days.

use serde_json::{Value, json};

use crate::access::Reason;
use crate::clock::{format_date, parse_date, today};
use crate::context::Fhir;
use crate::error::{FhirError, FhirResult};
use crate::interaction::Response;
use crate::interaction::operation::{Call, Input};
use crate::search::reach::Visible;
use crate::session::{Sealed, Session, Write, WriteSet, not_found};
use crate::store::ResourceVersion;
use crate::terminology::naming::{NPWZ_PHARMACIST, PESEL};

/// A pharmacist who presents a package's access code and the patient's PESEL may see and
/// dispense that package's prescriptions.
pub const BY_ACCESS_CODE: Reason = Reason {
    code: "prescription-access-code",
    display: "the pharmacist presented the package's access code and the patient's PESEL",
};
/// A pharmacy or pharmacist the patient authorised (prescriptions-only) may dispense what it
/// may read.
pub const BY_AUTHORISATION: Reason = Reason {
    code: "prescription-authorisation",
    display: "the patient authorised the pharmacy to see and dispense their prescriptions",
};

/// Prescription numbers: PLMedicationRequest (pl-rx-6) wants them minted under a provider's node
/// `urn:oid:2.16.840.1.113883.3.4424.2.7.{n}.2.1`; this server mints under one fixed node
/// ([`ISSUER_NODE`]) rather than per provider (the package key and access code are under
/// `https://ikp.example.org/fhir/sid/`).
pub const NUMBER_SYSTEM: &str = "urn:oid:2.16.840.1.113883.3.4424.2.7.999999.2.1";
/// The provider node this server mints prescription numbers under (invented; not a real node).
pub const ISSUER_NODE: &str = "999999";
/// The package key, in `groupIdentifier` (fixed by PLMedicationRequest).
pub const PACKAGE_SYSTEM: &str = "https://ikp.example.org/fhir/sid/pl-prescription-package-key";
/// The package's 4-digit access code (`kodPakietuRecept`), an identifier of each prescription.
pub const ACCESS_CODE_SYSTEM: &str = "https://ikp.example.org/fhir/sid/pl-prescription-package-code";
pub const PL_MEDICATION_REQUEST: &str = "https://ikp.example.org/fhir/StructureDefinition/PLMedicationRequest";
pub const PL_MEDICATION_DISPENSE: &str = "https://ikp.example.org/fhir/StructureDefinition/PLMedicationDispense";
pub const STATUS_DETAIL: &str = "https://ikp.example.org/fhir/StructureDefinition/PLPrescriptionStatusDetail";
pub const STATUS_SYSTEM: &str = "https://ikp.example.org/fhir/CodeSystem/pl-prescription-status";
pub const VALIDITY_SYSTEM: &str = "https://ikp.example.org/fhir/CodeSystem/pl-prescription-validity";
pub const AVAILABILITY: &str = "https://ikp.example.org/fhir/StructureDefinition/PLAvailabilityCategory";
/// `statusReason` of an expired prescription.
pub const STATUS_REASON_SYSTEM: &str = "https://ikp.example.org/fhir/CodeSystem/pl-prescription-status-reason";

/// Default validity: 30 days from the realisation date (poland.md §3.4).
pub const STANDARD_DAYS: i64 = 30;
/// Antibiotics for internal/parenteral use: 7 days (poland.md §3.4).
pub const ANTIBIOTIC_DAYS: i64 = 7;
/// Immunological preparations made for a patient, and targeted imports: 120 days (§3.4).
pub const IMMUNOLOGICAL_DAYS: i64 = 120;
/// Chronic therapy marked by the prescriber: up to 365 days (§3.4).
pub const CHRONIC_DAYS: i64 = 365;
/// A 365-day prescription's first package must be dispensed within this many days (§3.4).
pub const CHRONIC_FIRST_DISPENSE_DAYS: i64 = 30;
/// One dispensing of a 365-day prescription covers at most this many days of therapy (§3.4),
/// computed from `dispenseRequest.expectedSupplyDuration` (see [`chronic_limit`]).
pub const MAX_THERAPY_DAYS_PER_DISPENSING: i64 = 180;
/// How often a dispensing re-reads and retries when another one changed the prescription.
const DISPENSE_RETRIES: usize = 8;

/// `MedicationRequest/$issue-package`.
pub async fn issue_package_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    issue_package(session, &call.input).await
}

/// `MedicationRequest/$retrieve`.
pub async fn retrieve_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    retrieve(session, &call.input).await
}

/// `MedicationRequest/[id]/$dispense`.
pub async fn dispense_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    dispense(session, call.id(), &call.input).await
}

/// `MedicationRequest/[id]/$cancel`.
pub async fn cancel_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    cancel(session, call.id()).await
}

// ---------------------------------------------------------------------------------------------
// Dates and validity

pub use crate::clock::days_from_today;

/// The validity rule (`category` in [`VALIDITY_SYSTEM`], default `standard`).
pub fn validity_rule(mr: &Value) -> String {
    mr["category"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["coding"].as_array())
        .flatten()
        .find(|c| c["system"].as_str() == Some(VALIDITY_SYSTEM))
        .and_then(|c| c["code"].as_str())
        .unwrap_or("standard")
        .to_string()
}

/// Days of validity from the realisation date for a rule. The last valid day is the realisation
/// date plus these days (as the package example does: an antibiotic issued 26 Nov is valid to 3 Dec;
/// whether the regulation counts the issue day as day 1 is unverified).
pub fn validity_days(rule: &str) -> Option<i64> {
    match rule {
        "standard" => Some(STANDARD_DAYS),
        "antibiotic" => Some(ANTIBIOTIC_DAYS),
        "immunological" | "targeted-import" => Some(IMMUNOLOGICAL_DAYS),
        "chronic-365" => Some(CHRONIC_DAYS),
        _ => None,
    }
}

/// Whether the prescription may still be dispensed on `day`: within its validity period (both
/// ends inclusive), and for 365-day prescriptions the first dispensing within 30 days.
pub fn valid_on(mr: &Value, day: time::Date, dispensed_before: bool) -> Result<(), String> {
    let period = &mr["dispenseRequest"]["validityPeriod"];
    let start = period["start"].as_str().and_then(parse_date);
    let end = period["end"].as_str().and_then(parse_date);
    let (Some(start), Some(end)) = (start, end) else {
        return Err("the prescription has no readable validity period".into());
    };
    if day < start {
        return Err(format!("the prescription may be dispensed from {}", format_date(start)));
    }
    if day > end {
        return Err(format!("the prescription expired: its last valid day was {}", format_date(end)));
    }
    if validity_rule(mr) == "chronic-365"
        && !dispensed_before
        && day > start + time::Duration::days(CHRONIC_FIRST_DISPENSE_DAYS)
    {
        return Err(format!(
            "the first package of a 365-day prescription must be dispensed within {CHRONIC_FIRST_DISPENSE_DAYS} days"
        ));
    }
    Ok(())
}

/// Days of therapy one pack covers on a 365-day prescription: `expectedSupplyDuration` (days)
/// divided by the prescribed quantity. `None` for other prescriptions or without a duration.
pub fn days_per_pack(mr: &Value) -> Option<f64> {
    if validity_rule(mr) != "chronic-365" {
        return None;
    }
    let duration = &mr["dispenseRequest"]["expectedSupplyDuration"];
    let days = duration["value"].as_f64()?;
    let factor = match duration["code"].as_str().or(duration["unit"].as_str()) {
        Some("d") | Some("day") | Some("days") => 1.0,
        Some("wk") => 7.0,
        Some("mo") => 30.0,
        _ => return None,
    };
    let quantity = mr.pointer("/dispenseRequest/quantity/value").and_then(Value::as_f64)?;
    (quantity > 0.0 && days > 0.0).then(|| days * factor / quantity)
}

/// The most packs one dispensing of a 365-day prescription may hand over on `day`: at most
/// [`MAX_THERAPY_DAYS_PER_DISPENSING`] days of therapy, and pro rata to the days left in the
/// validity period (our reading of "reduced pro rata to the days already elapsed", unverified).
/// `None`: no such limit (not a 365-day prescription).
pub fn chronic_limit(mr: &Value, day: time::Date) -> Option<f64> {
    let per_pack = days_per_pack(mr)?;
    let end = mr.pointer("/dispenseRequest/validityPeriod/end").and_then(Value::as_str).and_then(parse_date)?;
    let days_left = ((end - day).whole_days() + 1).max(0) as f64;
    let by_cap = (MAX_THERAPY_DAYS_PER_DISPENSING as f64 / per_pack + 1e-9).floor().max(1.0);
    let by_time = (days_left / per_pack - 1e-9).ceil().max(0.0);
    Some(by_cap.min(by_time))
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn text<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// Current resources of `resource_type` matching `pairs`, within the caller's reach.
pub async fn find(
    session: &Session,
    resource_type: &str,
    pairs: &[(&str, String)],
) -> FhirResult<Vec<ResourceVersion>> {
    if pairs.iter().any(|(_, v)| v.is_empty()) {
        return Ok(Vec::new());
    }
    session.find(&[resource_type], pairs, 1000).await
}

pub fn content(v: &ResourceVersion) -> FhirResult<Value> {
    crate::format::json::from_str(v.content.as_deref().unwrap_or("{}"))
        .map_err(|e| FhirError::Internal(format!("stored {}/{} is not JSON: {e}", v.resource_type, v.id)))
}

/// The patient with a PESEL (the server's own look-up: for the operation's checks only).
async fn patient_by_pesel(session: &Session, pesel: &str) -> FhirResult<Option<Sealed>> {
    let found = session.lookup().find(&["Patient"], &[("identifier", format!("{PESEL}|{pesel}"))], 1).await?;
    Ok(found.into_iter().next())
}

/// The session for a pharmacy operation on `patient`'s prescriptions: the caller, with its reach
/// widened to that patient's prescriptions and dispensations for `reason` (reads and writes are
/// audited as the caller's, with the reason).
pub fn for_prescriptions_of(session: &Session, patient: &str, reason: Reason) -> Session {
    let prescriptions = Visible {
        comp_type: "Patient".into(),
        comp_id: patient.into(),
        types: Some(vec!["MedicationRequest".into(), "MedicationDispense".into(), "Medication".into()]),
        write: true,
    };
    session.widen(prescriptions, reason)
}

/// Refuses callers that are not pharmacists (a Practitioner with a pharmacist's NPWZ), except
/// unconfined ones (backend services, authorization off).
async fn require_pharmacist(session: &Session) -> FhirResult<()> {
    if !session.is_confined() {
        return Ok(());
    }
    let user = session.caller_user().unwrap_or_default();
    if let Some(id) = user.strip_prefix("Practitioner/")
        && let Some(p) = session.lookup().read("Practitioner", id).await?
        && p.content()["identifier"]
            .as_array()
            .is_some_and(|ids| ids.iter().any(|i| i["system"].as_str() == Some(NPWZ_PHARMACIST)))
    {
        return Ok(());
    }
    Err(FhirError::Forbidden("only a pharmacist may retrieve or dispense prescriptions".into()))
}

fn collection(fhir: &Fhir, versions: &[ResourceVersion], extra: Option<(&str, Value)>) -> FhirResult<Value> {
    let entries: Vec<Value> = versions
        .iter()
        .map(|v| Ok(json!({"fullUrl": fhir.resource_url(&v.resource_type, &v.id), "resource": content(v)?})))
        .collect::<FhirResult<_>>()?;
    let mut bundle = json!({"resourceType": "Bundle", "type": "collection", "total": entries.len(), "entry": entries});
    if let Some((k, v)) = extra {
        bundle[k] = v;
    }
    Ok(bundle)
}

pub use super::random_digits;

// ---------------------------------------------------------------------------------------------
// $issue-package

async fn issue_package(session: &Session, input: &Input) -> FhirResult<Response> {
    let bundle = input.resource("Bundle")?;
    let entries = bundle["entry"].as_array().cloned().unwrap_or_default();
    let medications: Vec<(String, Value)> = entries
        .iter()
        .filter(|e| e["resource"]["resourceType"] == "Medication")
        .filter_map(|e| Some((e["fullUrl"].as_str()?.to_string(), e["resource"].clone())))
        .collect();
    let requests: Vec<Value> =
        entries.iter().map(|e| e["resource"].clone()).filter(|r| r["resourceType"] == "MedicationRequest").collect();
    if requests.is_empty() {
        return Err(FhirError::bad_request("the package has no MedicationRequest"));
    }
    if entries.len() != requests.len() + medications.len() {
        return Err(FhirError::bad_request("a package holds only MedicationRequests and the Medications they name"));
    }
    let user = session.caller_user();
    if session.is_confined() && !user.as_deref().is_some_and(|u| u.starts_with("Practitioner/")) {
        return Err(FhirError::Forbidden("only a practitioner may issue prescriptions".into()));
    }
    let key = uuid::Uuid::new_v4().simple().to_string()[..20].to_string();
    let code = random_digits(4);
    let day = today();
    let mut patient: Option<String> = None;
    let mut writes = WriteSet::new();
    for (i, mut mr) in requests.into_iter().enumerate() {
        let bad = |m: String| FhirError::bad_request(format!("prescription {i}: {m}"));
        let subject = text(&mr, "/subject/reference").map(str::to_string).ok_or_else(|| bad("no subject".into()))?;
        if !subject.starts_with("Patient/") {
            return Err(bad("the subject must be a Patient".into()));
        }
        match &patient {
            Some(p) if *p != subject => return Err(bad("all prescriptions of a package are for one patient".into())),
            _ => patient = Some(subject.clone()),
        }
        // The requester is the caller.
        match (text(&mr, "/requester/reference"), &user) {
            (None, Some(u)) => mr["requester"] = json!({"reference": u}),
            (Some(r), Some(u)) if session.is_confined() && r != u => {
                return Err(FhirError::Forbidden("the requester of a prescription must be the caller".into()));
            }
            (None, None) => return Err(bad("no requester".into())),
            _ => {}
        }
        // One product.
        if mr.get("medicationCodeableConcept").is_some() == mr.get("medicationReference").is_some() {
            return Err(bad("exactly one medication (medicationCodeableConcept or medicationReference)".into()));
        }
        if let Some(reference) = text(&mr, "/medicationReference/reference").map(str::to_string)
            && let Some((_, med)) = medications.iter().find(|(url, _)| *url == reference)
        {
            let mut med = med.clone();
            med["id"] = json!("med");
            mr["contained"] = json!([med]);
            mr["medicationReference"]["reference"] = json!("#med");
        } else if text(&mr, "/medicationReference/reference").is_some_and(|r| r.starts_with("urn:")) {
            return Err(bad("medicationReference names no Medication of the package".into()));
        }
        if mr["dosageInstruction"].as_array().is_none_or(Vec::is_empty) {
            return Err(bad("dosageInstruction is required".into()));
        }
        if mr.pointer("/dispenseRequest/quantity/value").and_then(Value::as_f64).is_none_or(|q| q <= 0.0) {
            return Err(bad("dispenseRequest.quantity with a positive value is required".into()));
        }
        // Dates and validity.
        let authored = match text(&mr, "/authoredOn") {
            Some(a) => parse_date(a).ok_or_else(|| bad("authoredOn is not a date".into()))?,
            None => {
                mr["authoredOn"] = json!(format_date(day));
                day
            }
        };
        let rule = validity_rule(&mr);
        let days = validity_days(&rule).ok_or_else(|| bad(format!("unknown validity rule '{rule}'")))?;
        let start = match text(&mr, "/dispenseRequest/validityPeriod/start") {
            Some(s) => parse_date(s).ok_or_else(|| bad("validityPeriod.start is not a date".into()))?,
            None => authored,
        };
        if start < authored {
            return Err(bad("the realisation date cannot be before the issue date".into()));
        }
        if rule == "chronic-365" && days_per_pack(&mr).is_none() {
            return Err(bad(
                "a 365-day prescription needs dispenseRequest.expectedSupplyDuration (days of therapy)".into()
            ));
        }
        let latest = start + time::Duration::days(days);
        let end = match text(&mr, "/dispenseRequest/validityPeriod/end") {
            Some(e) => parse_date(e).ok_or_else(|| bad("validityPeriod.end is not a date".into()))?,
            None => latest,
        };
        if end > latest || end < start {
            return Err(bad(format!(
                "a '{rule}' prescription is valid at most {days} days from {}",
                format_date(start)
            )));
        }
        if end < day {
            return Err(bad("the prescription would already be expired".into()));
        }
        mr["dispenseRequest"]["validityPeriod"] = json!({"start": format_date(start), "end": format_date(end)});
        // Numbers, package, status.
        let number = format!("{}{}", format_date(day).replace('-', ""), random_digits(14));
        let mut identifiers = mr["identifier"].as_array().cloned().unwrap_or_default();
        identifiers.retain(|i| {
            i["system"].as_str() != Some(ACCESS_CODE_SYSTEM)
                && !i["system"].as_str().is_some_and(|s| s.starts_with("urn:oid:2.16.840.1.113883.3.4424.2.7."))
        });
        identifiers.push(json!({"system": NUMBER_SYSTEM, "value": number}));
        identifiers.push(json!({"system": ACCESS_CODE_SYSTEM, "value": code}));
        mr["identifier"] = json!(identifiers);
        mr["groupIdentifier"] = json!({"system": PACKAGE_SYSTEM, "value": key});
        mr["intent"] = json!("order");
        if !mr["category"].as_array().is_some_and(|c| {
            c.iter().any(|c| text(c, "/coding/0/system") == Some("urn:oid:2.16.840.1.113883.3.4424.13.5.1"))
        }) {
            let mut categories = mr["category"].as_array().cloned().unwrap_or_default();
            categories.push(json!({"coding": [{"system": "urn:oid:2.16.840.1.113883.3.4424.13.5.1", "code": "ZW", "display": "zwykła"}]}));
            mr["category"] = json!(categories);
        }
        set_status(&mut mr, Status::Issued);
        let mut profiles = mr.pointer("/meta/profile").and_then(Value::as_array).cloned().unwrap_or_default();
        if !profiles.iter().any(|p| p == PL_MEDICATION_REQUEST) {
            profiles.push(json!(PL_MEDICATION_REQUEST));
        }
        mr["meta"] = json!({"profile": profiles});
        if let Some(o) = mr.as_object_mut() {
            o.remove("id");
        }
        writes.push(Write::create("MedicationRequest", mr));
    }
    let stored: Vec<ResourceVersion> = session.commit(writes).await?.into_iter().filter_map(|w| w.version).collect();
    let package = collection(session, &stored, Some(("identifier", json!({"system": PACKAGE_SYSTEM, "value": key}))))?;
    Ok(Response::resource(201, package))
}

// ---------------------------------------------------------------------------------------------
// Status

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Issued,
    PartiallyDispensed,
    Dispensed,
    Cancelled,
    Expired,
}

/// Sets `status`, the status detail extension and (for expired) `statusReason`.
pub fn set_status(mr: &mut Value, status: Status) {
    let (fhir_status, detail) = match status {
        Status::Issued => ("active", Some(("WYSTAWIONA", "issued"))),
        Status::PartiallyDispensed => ("active", Some(("CZESCIOWO_ZREALIZOWANA", "partially dispensed"))),
        Status::Dispensed => ("completed", Some(("ZREALIZOWANA", "dispensed"))),
        Status::Cancelled => ("cancelled", Some(("ANULOWANA", "cancelled"))),
        Status::Expired => ("stopped", None),
    };
    mr["status"] = json!(fhir_status);
    let mut extensions = mr["extension"].as_array().cloned().unwrap_or_default();
    extensions.retain(|e| e["url"].as_str() != Some(STATUS_DETAIL));
    if let Some((code, display)) = detail {
        extensions.push(
            json!({"url": STATUS_DETAIL, "valueCoding": {"system": STATUS_SYSTEM, "code": code, "display": display}}),
        );
    }
    if let Some(o) = mr.as_object_mut() {
        o.remove("statusReason");
        // FHIR forbids empty arrays: no extension left means no `extension` element.
        if extensions.is_empty() {
            o.remove("extension");
        } else {
            o.insert("extension".into(), Value::Array(extensions));
        }
    }
    if status == Status::Expired {
        mr["statusReason"] = json!({"coding": [{"system": STATUS_REASON_SYSTEM, "code": "expired", "display": "expired"}], "text": "expired"});
    }
}

/// Quantity already dispensed on a prescription (its completed MedicationDispenses, whoever
/// dispensed them), leaving out the dispensation `excluding`.
async fn dispensed_quantity(session: &Session, mr_id: &str, excluding: Option<&str>) -> FhirResult<f64> {
    let prescription = [("prescription", format!("MedicationRequest/{mr_id}"))];
    let dispenses = session.lookup().find(&["MedicationDispense"], &prescription, 1000).await?;
    Ok(dispenses
        .iter()
        .filter(|d| Some(d.id()) != excluding)
        .map(Sealed::content)
        .filter(|d| d["status"] == "completed")
        .map(|d| d.pointer("/quantity/value").and_then(Value::as_f64).unwrap_or(0.0))
        .sum())
}

fn prescribed_quantity(mr: &Value) -> f64 {
    mr.pointer("/dispenseRequest/quantity/value").and_then(Value::as_f64).unwrap_or(0.0)
}

/// The status after `dispensed` of the prescribed quantity.
fn status_after(mr: &Value, dispensed: f64) -> Status {
    if dispensed <= 0.0 {
        Status::Issued
    } else if dispensed + 1e-9 >= prescribed_quantity(mr) {
        Status::Dispensed
    } else {
        Status::PartiallyDispensed
    }
}

// ---------------------------------------------------------------------------------------------
// $retrieve

/// Finds the prescriptions of the package with `code` for the patient with `pesel` (the server's
/// own look-up), returning the patient id and the prescriptions; `None` when nothing matches.
async fn by_code(session: &Session, code: &str, pesel: &str) -> FhirResult<Option<(String, Vec<Sealed>)>> {
    let Some(patient) = patient_by_pesel(session, pesel).await? else { return Ok(None) };
    let pid = patient.id().to_string();
    let package = [("identifier", format!("{ACCESS_CODE_SYSTEM}|{code}")), ("subject", format!("Patient/{pid}"))];
    let found = session.lookup().find(&["MedicationRequest"], &package, 1000).await?;
    Ok(if found.is_empty() { None } else { Some((pid, found)) })
}

async fn retrieve(session: &Session, input: &Input) -> FhirResult<Response> {
    require_pharmacist(session).await?;
    let pesel = input.text("pesel")?;
    let nothing = || FhirError::NotFound("no prescription package for this access code and PESEL".into());
    let found = match input.params.text("code") {
        Some(code) => {
            let (pid, _) = by_code(session, code, pesel).await?.ok_or_else(nothing)?;
            let handle = for_prescriptions_of(session, &pid, BY_ACCESS_CODE);
            let package =
                [("identifier", format!("{ACCESS_CODE_SYSTEM}|{code}")), ("subject", format!("Patient/{pid}"))];
            find(&handle, "MedicationRequest", &package).await?
        }
        None => {
            // Authorised by a Consent: what the caller's own reach shows for that PESEL.
            let pid = patient_by_pesel(session, pesel).await?.map(|p| p.id().to_string()).ok_or_else(nothing)?;
            find(session, "MedicationRequest", &[("subject", format!("Patient/{pid}"))]).await?
        }
    };
    if found.is_empty() {
        return Err(nothing());
    }
    Ok(Response::resource(200, collection(session, &found, None)?))
}

// ---------------------------------------------------------------------------------------------
// $dispense

/// The session a dispensing of prescription `id` acts through: widened by a valid access code
/// and PESEL, or by the caller's own right to read the prescription (a Consent). 404 otherwise.
async fn dispensing_session(session: &Session, id: &str, input: &Input) -> FhirResult<Session> {
    let missing = || not_found("MedicationRequest", id);
    match (input.params.text("code"), input.params.text("pesel")) {
        (Some(code), Some(pesel)) => {
            let (pid, found) = by_code(session, code, pesel).await?.ok_or_else(missing)?;
            if !found.iter().any(|v| v.id() == id) {
                return Err(missing());
            }
            Ok(for_prescriptions_of(session, &pid, BY_ACCESS_CODE))
        }
        _ => {
            let (mr, _) = super::current(session, "MedicationRequest", id).await?;
            let pid = text(&mr, "/subject/reference")
                .and_then(|s| s.strip_prefix("Patient/"))
                .map(str::to_string)
                .ok_or_else(missing)?;
            // Reading it under a Consent (prescriptions-only) is what lets a pharmacist dispense.
            Ok(for_prescriptions_of(session, &pid, BY_AUTHORISATION))
        }
    }
}

async fn dispense(session: &Session, id: &str, input: &Input) -> FhirResult<Response> {
    require_pharmacist(session).await?;
    let handle = dispensing_session(session, id, input).await?;
    let mut dispense = match (&input.body, input.params.value("resource")) {
        (Some(b), _) if b["resourceType"] == "MedicationDispense" => b.clone(),
        (_, Some(r)) if r["resourceType"] == "MedicationDispense" => r.clone(),
        _ => json!({"resourceType": "MedicationDispense"}),
    };
    if let Some(q) = input.params.value("quantity") {
        let value = match q {
            Value::String(s) => s.parse::<f64>().ok(),
            Value::Object(o) => o.get("value").and_then(Value::as_f64),
            other => other.as_f64(),
        }
        .ok_or_else(|| FhirError::bad_request("'quantity' must be a number"))?;
        dispense["quantity"] = json!({"value": value, "unit": "op."});
    }
    if dispense.pointer("/meta/profile").is_none() {
        dispense["meta"] = json!({"profile": [PL_MEDICATION_DISPENSE]});
    }
    if dispense["performer"].as_array().is_none_or(Vec::is_empty)
        && let Some(u) = session.caller_user()
    {
        dispense["performer"] = json!([{"actor": {"reference": u}}]);
    }
    let created = dispense_on(&handle, id, dispense).await?;
    Ok(Response::resource(201, content(&created)?))
}

/// Dispenses on prescription `id` through `session`: completes `dispense` from the prescription
/// (subject, authorizingPrescription, medication, dates), checks validity and the remaining
/// quantity, and writes it with the prescription's new status in one transaction guarded by
/// the prescription's version. Returns the stored MedicationDispense.
pub async fn dispense_on(session: &Session, id: &str, dispense: Value) -> FhirResult<ResourceVersion> {
    let quantity = dispense
        .pointer("/quantity/value")
        .and_then(Value::as_f64)
        .filter(|q| *q > 0.0)
        .ok_or_else(|| FhirError::bad_request("the quantity dispensed (a positive value) is required"))?;
    // A client retrying a dispensation it identified gets the one already stored.
    let retry_key = dispense["identifier"]
        .as_array()
        .and_then(|ids| ids.first())
        .and_then(|i| Some(format!("{}|{}", i["system"].as_str()?, i["value"].as_str()?)));
    for _ in 0..DISPENSE_RETRIES {
        if let Some(key) = &retry_key {
            let retried = [("identifier", key.clone()), ("prescription", format!("MedicationRequest/{id}"))];
            let done = session.lookup().find(&["MedicationDispense"], &retried, 1).await?;
            if let Some(existing) = done.first() {
                return session.reveal(existing);
            }
        }
        let (mut mr, version) = super::current(session, "MedicationRequest", id).await?;
        match mr["status"].as_str() {
            Some("active") => {}
            Some("completed") => return Err(FhirError::Conflict("the prescription has been dispensed".into())),
            Some(other) => return Err(FhirError::Conflict(format!("the prescription is {other}"))),
            None => return Err(FhirError::Conflict("the prescription has no status".into())),
        }
        let already = dispensed_quantity(session, id, None).await?;
        valid_on(&mr, today(), already > 0.0).map_err(FhirError::Conflict)?;
        let remaining = prescribed_quantity(&mr) - already;
        if let Some(limit) = chronic_limit(&mr, today())
            && quantity > limit + 1e-9
        {
            return Err(FhirError::Conflict(format!(
                "one dispensing of a 365-day prescription may cover at most {MAX_THERAPY_DAYS_PER_DISPENSING} days of \
                 therapy and the days left in its validity: at most {limit} packs now"
            )));
        }
        if quantity > remaining + 1e-9 {
            return Err(FhirError::Conflict(format!(
                "{quantity} exceeds the quantity remaining on the prescription ({remaining})"
            )));
        }
        let next = status_after(&mr, already + quantity);
        set_status(&mut mr, next);
        let mut md = dispense.clone();
        md["status"] = json!(if md["status"].is_string() { md["status"].clone() } else { json!("completed") });
        md["subject"] = mr["subject"].clone();
        md["authorizingPrescription"] = json!([{"reference": format!("MedicationRequest/{id}")}]);
        if md.get("medicationReference").is_none() && md.get("medicationCodeableConcept").is_none() {
            if let Some(contained) = mr["contained"].as_array().filter(|c| !c.is_empty()) {
                md["contained"] = json!(contained);
                md["medicationReference"] = mr["medicationReference"].clone();
            } else if let Some(r) = mr.get("medicationReference") {
                md["medicationReference"] = r.clone();
            } else if let Some(c) = mr.get("medicationCodeableConcept") {
                md["medicationCodeableConcept"] = c.clone();
            }
        }
        if md.get("dosageInstruction").is_none() {
            md["dosageInstruction"] = mr["dosageInstruction"].clone();
        }
        if md.get("whenHandedOver").is_none() {
            md["whenHandedOver"] = json!(crate::clock::instant(crate::clock::now()));
        }
        if let Some(o) = md.as_object_mut() {
            o.remove("id");
        }
        let mut writes = WriteSet::new();
        writes.push(Write::create("MedicationDispense", md));
        writes.push(Write::update("MedicationRequest", id, mr, Some(version)));
        match session.commit(writes).await {
            Ok(written) => {
                return written
                    .into_iter()
                    .find(|w| w.resource_type == "MedicationDispense")
                    .and_then(|w| w.version)
                    .ok_or_else(|| FhirError::Internal("the dispensation was not stored".into()));
            }
            // Someone else changed the prescription meanwhile: look again.
            Err(FhirError::PreconditionFailed(_) | FhirError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(FhirError::Conflict("the prescription is being dispensed elsewhere; try again".into()))
}

/// Recomputes the status of prescription `id` from its completed dispensations (after the one
/// `excluding` was rolled back) and returns the new prescription content with the version it
/// replaces, for the caller's own write set (which the policy judges).
pub async fn recomputed(session: &Session, id: &str, excluding: &str) -> FhirResult<(Value, i64)> {
    let current =
        session.lookup().read("MedicationRequest", id).await?.ok_or_else(|| not_found("MedicationRequest", id))?;
    let mut mr = current.content().clone();
    let total = dispensed_quantity(session, id, Some(excluding)).await?;
    if matches!(mr["status"].as_str(), Some("active" | "completed")) {
        let next = status_after(&mr, total);
        set_status(&mut mr, next);
    }
    Ok((mr, current.version()))
}

// ---------------------------------------------------------------------------------------------
// $cancel

async fn cancel(session: &Session, id: &str) -> FhirResult<Response> {
    let (mut mr, version) = super::current(session, "MedicationRequest", id).await?;
    if session.is_confined() && session.caller_user().as_deref() != text(&mr, "/requester/reference") {
        return Err(FhirError::Forbidden("only the prescriber may cancel a prescription".into()));
    }
    if mr["status"] != "active" {
        return Err(FhirError::Conflict(format!("the prescription is {}", mr["status"].as_str().unwrap_or("unknown"))));
    }
    if dispensed_quantity(session, id, None).await? > 0.0 {
        return Err(FhirError::Conflict("something was dispensed on the prescription; it cannot be cancelled".into()));
    }
    set_status(&mut mr, Status::Cancelled);
    let written =
        session.commit(Write::update("MedicationRequest", id, mr, Some(version))).await.map_err(|e| match e {
            FhirError::PreconditionFailed(_) => {
                FhirError::Conflict("the prescription changed meanwhile; try again".into())
            }
            other => other,
        })?;
    let stored = written.first().and_then(|w| w.content()).ok_or_else(|| FhirError::Internal("not stored".into()))?;
    Ok(Response::resource(200, stored))
}

// ---------------------------------------------------------------------------------------------
// Demo

/// Jan Kowalski's demo package access code.
pub const DEMO_JAN_CODE: &str = "1234";
/// Zofia Kowalska's demo package access code.
pub const DEMO_ZOFIA_CODE: &str = "4321";

fn demo_medication() -> Value {
    json!({
        "resourceType": "Medication", "id": "med",
        "code": {"coding": [
            {"system": "urn:oid:2.16.840.1.113883.3.4424.6.1", "code": "100071560", "display": "Metformax 500 mg tabletki"},
            {"system": "urn:oid:1.3.160", "code": "05909990335312", "display": "Metformax 500 mg, 60 tabl."}
        ], "text": "Metformax 500 mg, 60 tabletek"},
        "form": {"coding": [{"system": "urn:oid:0.4.0.127.0.16.1.1.2.1", "code": "10219000", "display": "Tablet"}]},
        "ingredient": [{"itemCodeableConcept": {"coding": [{"system": "urn:oid:2.16.840.1.113883.3.4424.6.3", "code": "1702", "display": "Metforminum"}]},
            "isActive": true,
            "strength": {"numerator": {"value": 500, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}, "denominator": {"value": 1, "unit": "tabl."}}}]
    })
}

/// A stable 22-digit number for a demo prescription id.
fn demo_number(id: &str) -> String {
    let mut n: u64 = 1469598103934665603;
    for b in id.bytes() {
        n = (n ^ u64::from(b)).wrapping_mul(1099511628211);
    }
    format!("20260101{:014}", n % 100_000_000_000_000)
}

/// A demo prescription (`start` days from today, `rule`, `quantity` packs, `status`).
#[allow(clippy::too_many_arguments)]
pub fn demo_prescription(
    id: &str,
    patient: &str,
    package: &str,
    code: &str,
    start: i64,
    rule: &str,
    quantity: f64,
    status: Status,
) -> Value {
    let days = validity_days(rule).unwrap_or(STANDARD_DAYS);
    let mut mr = json!({
        "resourceType": "MedicationRequest", "id": id,
        "meta": {"profile": [PL_MEDICATION_REQUEST]},
        "contained": [demo_medication()],
        "extension": [
            {"url": "https://ikp.example.org/fhir/StructureDefinition/PLPaymentLevel", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.3.4424.11.1.1", "code": "30%"}},
            {"url": AVAILABILITY, "valueCoding": {"system": "urn:oid:2.16.840.1.113883.3.4424.11.1.25", "code": "Rp"}}
        ],
        "identifier": [
            {"system": NUMBER_SYSTEM, "value": demo_number(id)},
            {"system": ACCESS_CODE_SYSTEM, "value": code}
        ],
        "intent": "order",
        "category": [
            {"coding": [{"system": "urn:oid:2.16.840.1.113883.3.4424.13.5.1", "code": "ZW", "display": "zwykła"}]},
            {"coding": [{"system": VALIDITY_SYSTEM, "code": rule}]}
        ],
        "medicationReference": {"reference": "#med", "display": "Metformax 500 mg, 60 tabl."},
        "subject": {"reference": format!("Patient/{patient}")},
        "authoredOn": days_from_today(start),
        "requester": {"reference": "Practitioner/demo-piotr-nowak"},
        "groupIdentifier": {"system": PACKAGE_SYSTEM, "value": package},
        "dosageInstruction": [{"text": "1 tabletka 2 razy dziennie",
            "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
            "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tabl."}}]}],
        "dispenseRequest": {
            "validityPeriod": {"start": days_from_today(start), "end": days_from_today(start + days)},
            "quantity": {"value": quantity, "unit": "op."}
        },
        "substitution": {"allowedBoolean": true}
    });
    set_status(&mut mr, status);
    mr
}

/// A demo dispensation of `quantity` on prescription `rx`.
pub fn demo_dispense(id: &str, rx: &str, patient: &str, quantity: f64, days_ago: i64) -> Value {
    json!({
        "resourceType": "MedicationDispense", "id": id,
        "meta": {"profile": [PL_MEDICATION_DISPENSE]},
        "contained": [demo_medication()],
        "status": "completed",
        "medicationReference": {"reference": "#med"},
        "subject": {"reference": format!("Patient/{patient}")},
        "performer": [{"actor": {"reference": "Practitioner/demo-ewa-wisniewska"}}],
        "authorizingPrescription": [{"reference": format!("MedicationRequest/{rx}")}],
        "quantity": {"value": quantity, "unit": "op."},
        "whenHandedOver": days_from_today(-days_ago),
    })
}

/// Demo resources of this workflow (stored once by `ikp serve --demo`): Jan's package (access
/// code [`DEMO_JAN_CODE`]) with a prescription in every status, and Zofia's antibiotic
/// (code [`DEMO_ZOFIA_CODE`]). Dates are relative to the day the demo is seeded.
pub fn demo() -> Vec<Value> {
    let jan = "demo-jan-kowalski";
    let pkg = "demo-package-jan";
    vec![
        demo_prescription("demo-rx-jan-issued", jan, pkg, DEMO_JAN_CODE, -2, "standard", 2.0, Status::Issued),
        demo_prescription(
            "demo-rx-jan-partial",
            jan,
            pkg,
            DEMO_JAN_CODE,
            -2,
            "standard",
            3.0,
            Status::PartiallyDispensed,
        ),
        demo_dispense("demo-md-jan-partial", "demo-rx-jan-partial", jan, 1.0, 1),
        demo_prescription("demo-rx-jan-dispensed", jan, pkg, DEMO_JAN_CODE, -2, "standard", 1.0, Status::Dispensed),
        demo_dispense("demo-md-jan-dispensed", "demo-rx-jan-dispensed", jan, 1.0, 1),
        demo_prescription(
            "demo-rx-jan-expired",
            jan,
            "demo-package-jan-old",
            "9876",
            -60,
            "standard",
            1.0,
            Status::Expired,
        ),
        demo_prescription("demo-rx-jan-cancelled", jan, pkg, DEMO_JAN_CODE, -2, "standard", 1.0, Status::Cancelled),
        demo_prescription(
            "demo-rx-zofia-antibiotic",
            "demo-zofia-kowalska",
            "demo-package-zofia",
            DEMO_ZOFIA_CODE,
            0,
            "antibiotic",
            1.0,
            Status::Issued,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::Duration;

    #[test]
    fn validity_boundaries_are_inclusive() {
        let mr = demo_prescription("demo-rx-t", "p", "k", "1", -STANDARD_DAYS, "standard", 1.0, Status::Issued);
        assert!(valid_on(&mr, today(), false).is_ok(), "the last day is valid");
        assert!(valid_on(&mr, today() + time::Duration::days(1), false).is_err(), "the day after is not");
        assert!(valid_on(&mr, today() - time::Duration::days(STANDARD_DAYS + 1), false).is_err(), "before start");
        let chronic = demo_prescription("demo-rx-c", "p", "k", "1", -31, "chronic-365", 1.0, Status::Issued);
        assert!(valid_on(&chronic, today(), false).is_err(), "first package after 30 days");
        assert!(valid_on(&chronic, today(), true).is_ok(), "later packages until day 365");
        assert_eq!(validity_days("antibiotic"), Some(ANTIBIOTIC_DAYS));
        assert_eq!(validity_days("nope"), None);
    }

    #[test]
    fn chronic_prescriptions_are_dispensed_pro_rata() {
        // 12 packs for 360 days: 30 days a pack.
        let mut mr = demo_prescription("demo-rx-c", "p", "k", "1", 0, "chronic-365", 12.0, Status::Issued);
        mr["dispenseRequest"]["expectedSupplyDuration"] =
            json!({"value": 360, "unit": "d", "system": "http://unitsofmeasure.org", "code": "d"});
        assert_eq!(days_per_pack(&mr), Some(30.0));
        assert_eq!(chronic_limit(&mr, today()), Some(6.0), "180 days per dispensing");
        // 45 days left: 2 packs.
        assert_eq!(chronic_limit(&mr, today() + time::Duration::days(CHRONIC_DAYS - 44)), Some(2.0));
        assert_eq!(chronic_limit(&mr, today() + time::Duration::days(CHRONIC_DAYS + 1)), Some(0.0));
        let standard = demo_prescription("demo-rx-s", "p", "k", "1", 0, "standard", 12.0, Status::Issued);
        assert_eq!(chronic_limit(&standard, today()), None);
    }

    #[test]
    fn statuses_map_to_fhir() {
        let mut mr = demo_prescription("demo-rx-t", "p", "k", "1", 0, "standard", 2.0, Status::Issued);
        assert_eq!(status_after(&mr, 1.0), Status::PartiallyDispensed);
        assert_eq!(status_after(&mr, 2.0), Status::Dispensed);
        set_status(&mut mr, Status::Expired);
        assert_eq!(mr["status"], "stopped");
        assert_eq!(mr["statusReason"]["coding"][0]["code"], "expired");
        set_status(&mut mr, Status::PartiallyDispensed);
        assert_eq!(mr["status"], "active");
        assert!(mr.get("statusReason").is_none());
        assert_eq!(random_digits(4).len(), 4);
        assert_eq!(parse_date("2026-02-30"), None);
    }

    // ---- the pure rules, on fixed dates ----

    const UCUM: &str = "http://unitsofmeasure.org";

    fn date(text: &str) -> time::Date {
        parse_date(text).unwrap()
    }

    /// A prescription of `packs` packs under validity `rule`, dispensable from `start` to `end`
    /// (`YYYY-MM-DD`, both inclusive), with the ordinary category before the validity one.
    fn prescription(rule: &str, start: &str, end: &str, packs: f64) -> Value {
        json!({
            "resourceType": "MedicationRequest",
            "status": "active",
            "category": [
                {"coding": [{"system": "urn:oid:2.16.840.1.113883.3.4424.13.5.1", "code": "ZW"}]},
                {"coding": [{"system": VALIDITY_SYSTEM, "code": rule}]}
            ],
            "dispenseRequest": {
                "validityPeriod": {"start": start, "end": end},
                "quantity": {"value": packs, "unit": "op."}
            }
        })
    }

    /// A one-pack prescription realisable from `start` with the longest validity its rule allows
    /// (what `$issue-package` stores when the prescriber gives no end).
    fn issued(rule: &str, start: &str) -> Value {
        let end = date(start) + Duration::days(validity_days(rule).unwrap());
        prescription(rule, start, &format_date(end), 1.0)
    }

    /// A 365-day prescription from 2026-01-01 (last day 2027-01-01) of `packs` packs for
    /// `duration` of therapy (`expectedSupplyDuration`).
    fn chronic(packs: f64, duration: Value) -> Value {
        let mut mr = prescription("chronic-365", "2026-01-01", "2027-01-01", packs);
        mr["dispenseRequest"]["expectedSupplyDuration"] = duration;
        mr
    }

    fn days(n: i64) -> Value {
        json!({"value": n, "unit": "days", "system": UCUM, "code": "d"})
    }

    /// `mr` may be dispensed from `first` to `last` (inclusive) and neither the day before nor the
    /// day after.
    fn assert_dispensable(mr: &Value, first: &str, last: &str, dispensed_before: bool) {
        let (first, last) = (date(first), date(last));
        let one = Duration::days(1);
        assert!(valid_on(mr, first - one, dispensed_before).is_err(), "the day before {first} is refused");
        assert!(valid_on(mr, first, dispensed_before).is_ok(), "{first} is valid");
        assert!(valid_on(mr, last, dispensed_before).is_ok(), "{last} is valid");
        assert!(valid_on(mr, last + one, dispensed_before).is_err(), "the day after {last} is refused");
    }

    #[test]
    fn validity_rule_is_the_code_of_the_validity_category() {
        let mr = prescription("antibiotic", "2026-01-01", "2026-01-08", 1.0);
        assert_eq!(validity_rule(&mr), "antibiotic", "found behind the ordinary category");
        assert_eq!(validity_rule(&issued("chronic-365", "2026-01-01")), "chronic-365");
    }

    #[test]
    fn validity_rule_defaults_to_standard() {
        assert_eq!(validity_rule(&json!({"resourceType": "MedicationRequest"})), "standard", "no category");
        let other_system =
            json!({"category": [{"coding": [{"system": "http://example.org/x", "code": "antibiotic"}]}]});
        assert_eq!(validity_rule(&other_system), "standard", "a code of another system is no validity rule");
    }

    #[test]
    fn validity_days_follow_the_national_rules() {
        assert_eq!(validity_days("standard"), Some(30));
        assert_eq!(validity_days("antibiotic"), Some(7));
        assert_eq!(validity_days("immunological"), Some(120));
        assert_eq!(validity_days("targeted-import"), Some(120));
        assert_eq!(validity_days("chronic-365"), Some(365));
        assert_eq!(validity_days("Antibiotic"), None, "codes are case-sensitive");
        assert_eq!(validity_days(""), None);
    }

    #[test]
    fn standard_prescription_is_valid_thirty_days_from_realisation() {
        assert_dispensable(&issued("standard", "2026-01-01"), "2026-01-01", "2026-01-31", false);
    }

    #[test]
    fn antibiotic_is_valid_seven_days_from_issue() {
        // The package example: an antibiotic issued on 26 November is valid to 3 December.
        assert_dispensable(&issued("antibiotic", "2026-11-26"), "2026-11-26", "2026-12-03", false);
    }

    #[test]
    fn immunological_and_targeted_import_are_valid_120_days() {
        assert_dispensable(&issued("immunological", "2026-01-01"), "2026-01-01", "2026-05-01", false);
        assert_dispensable(&issued("targeted-import", "2026-01-01"), "2026-01-01", "2026-05-01", false);
    }

    #[test]
    fn validity_counts_the_leap_day() {
        // 2028-02-15 + 30 days, over 29 February.
        assert_dispensable(&issued("standard", "2028-02-15"), "2028-02-15", "2028-03-16", false);
    }

    #[test]
    fn chronic_prescription_is_valid_365_days_once_first_dispensed() {
        assert_dispensable(&issued("chronic-365", "2026-03-01"), "2026-03-01", "2027-03-01", true);
    }

    #[test]
    fn chronic_first_pack_must_be_dispensed_within_thirty_days() {
        let mr = issued("chronic-365", "2026-03-01");
        assert_dispensable(&mr, "2026-03-01", "2026-03-31", false);
        let late = valid_on(&mr, date("2026-04-01"), false).unwrap_err();
        assert!(late.contains("first package"), "{late}");
        assert!(valid_on(&mr, date("2026-04-01"), true).is_ok(), "later packs until the 365th day");
    }

    #[test]
    fn the_thirty_day_first_dispensing_rule_is_for_chronic_prescriptions_only() {
        let mr = issued("immunological", "2026-01-01");
        assert!(valid_on(&mr, date("2026-03-01"), false).is_ok(), "first dispensing on day 59 of 120");
    }

    #[test]
    fn a_prescription_is_not_dispensed_before_its_realisation_date() {
        // Issued earlier, realisable from 10 March.
        let mr = prescription("standard", "2026-03-10", "2026-04-09", 1.0);
        let early = valid_on(&mr, date("2026-03-09"), false).unwrap_err();
        assert!(early.contains("2026-03-10"), "{early}");
    }

    #[test]
    fn an_end_set_before_the_rules_limit_is_the_last_day() {
        let mr = prescription("standard", "2026-03-10", "2026-03-20", 1.0);
        assert_dispensable(&mr, "2026-03-10", "2026-03-20", false);
        let expired = valid_on(&mr, date("2026-03-21"), false).unwrap_err();
        assert!(expired.contains("2026-03-20"), "{expired}");
    }

    #[test]
    fn a_prescription_without_a_readable_validity_period_is_never_valid() {
        let day = date("2026-03-10");
        let mut mr = prescription("standard", "2026-03-01", "2026-03-31", 1.0);
        mr["dispenseRequest"]["validityPeriod"] = json!({"start": "2026-03-01"});
        assert!(valid_on(&mr, day, false).is_err(), "no end");
        mr["dispenseRequest"]["validityPeriod"] = json!({"start": "2026-03-01", "end": "2026-02-30"});
        assert!(valid_on(&mr, day, false).is_err(), "an impossible end");
        assert!(valid_on(&json!({}), day, true).is_err(), "no dispenseRequest");
    }

    #[test]
    fn days_per_pack_is_the_therapy_duration_over_the_packs() {
        assert_eq!(days_per_pack(&chronic(12.0, days(360))), Some(30.0));
        assert_eq!(days_per_pack(&chronic(4.0, json!({"value": 52, "system": UCUM, "code": "wk"}))), Some(91.0));
        assert_eq!(days_per_pack(&chronic(6.0, json!({"value": 12, "system": UCUM, "code": "mo"}))), Some(60.0));
        assert_eq!(days_per_pack(&chronic(3.0, json!({"value": 90, "unit": "day"}))), Some(30.0), "unit, no code");
    }

    #[test]
    fn days_per_pack_needs_a_chronic_prescription_with_a_readable_duration() {
        let mut standard = prescription("standard", "2026-01-01", "2026-01-31", 12.0);
        standard["dispenseRequest"]["expectedSupplyDuration"] = days(360);
        assert_eq!(days_per_pack(&standard), None, "not a 365-day prescription");
        assert_eq!(days_per_pack(&prescription("chronic-365", "2026-01-01", "2027-01-01", 12.0)), None, "no duration");
        assert_eq!(days_per_pack(&chronic(2.0, json!({"value": 1, "system": UCUM, "code": "a"}))), None, "years");
        assert_eq!(days_per_pack(&chronic(0.0, days(360))), None, "no packs");
        assert_eq!(days_per_pack(&chronic(12.0, days(0))), None, "no therapy");
    }

    #[test]
    fn one_dispensing_of_a_chronic_prescription_covers_at_most_180_days() {
        let start = date("2026-01-01");
        // 30 days a pack: 6 packs are 180 days.
        assert_eq!(chronic_limit(&chronic(12.0, days(360)), start), Some(6.0));
        // 40 days a pack: 4 packs (160 days), as 5 would be 200.
        assert_eq!(chronic_limit(&chronic(9.0, days(360)), start), Some(4.0));
        // 60 days a pack: 3 packs.
        assert_eq!(chronic_limit(&chronic(6.0, json!({"value": 12, "system": UCUM, "code": "mo"})), start), Some(3.0));
    }

    #[test]
    fn one_dispensing_covers_no_more_than_the_days_left() {
        let mr = chronic(12.0, days(360));
        let last = date("2027-01-01");
        // The last day counts: 60 days left on the 60th day from the end.
        assert_eq!(chronic_limit(&mr, last - Duration::days(59)), Some(2.0), "60 days left");
        assert_eq!(chronic_limit(&mr, last - Duration::days(29)), Some(1.0), "30 days left");
        assert_eq!(chronic_limit(&mr, last + Duration::days(1)), Some(0.0), "after the last day");
    }

    #[test]
    fn a_started_pack_may_still_be_dispensed_in_the_last_days() {
        // Our pro-rata reading rounds a partial pack up, so the last days are not lost.
        let mr = chronic(12.0, days(360));
        let last = date("2027-01-01");
        assert_eq!(chronic_limit(&mr, last), Some(1.0), "1 day left");
        assert_eq!(chronic_limit(&mr, last - Duration::days(30)), Some(2.0), "31 days left");
    }

    #[test]
    fn chronic_limit_is_only_for_chronic_prescriptions() {
        let day = date("2026-01-10");
        assert_eq!(chronic_limit(&issued("standard", "2026-01-01"), day), None);
        assert_eq!(chronic_limit(&prescription("chronic-365", "2026-01-01", "2027-01-01", 12.0), day), None);
    }

    #[test]
    fn prescribed_quantity_is_the_packs_or_nothing() {
        assert_eq!(prescribed_quantity(&prescription("standard", "2026-01-01", "2026-01-31", 3.0)), 3.0);
        assert_eq!(prescribed_quantity(&json!({"dispenseRequest": {}})), 0.0);
    }

    #[test]
    fn nothing_dispensed_leaves_the_prescription_issued() {
        let mr = prescription("standard", "2026-01-01", "2026-01-31", 3.0);
        assert_eq!(status_after(&mr, 0.0), Status::Issued);
    }

    #[test]
    fn dispensing_part_of_the_packs_is_partial() {
        let mr = prescription("standard", "2026-01-01", "2026-01-31", 3.0);
        assert_eq!(status_after(&mr, 1.0), Status::PartiallyDispensed);
        assert_eq!(status_after(&mr, 2.5), Status::PartiallyDispensed);
    }

    #[test]
    fn dispensing_every_pack_completes_the_prescription() {
        let mr = prescription("standard", "2026-01-01", "2026-01-31", 3.0);
        assert_eq!(status_after(&mr, 3.0), Status::Dispensed);
        assert_eq!(status_after(&mr, 4.0), Status::Dispensed, "more than prescribed");
        // Decimal parts add up to the whole despite binary rounding (0.7 + 0.2 + 0.1 < 1.0 in f64).
        let one = prescription("standard", "2026-01-01", "2026-01-31", 1.0);
        assert_eq!(status_after(&one, 0.7 + 0.2 + 0.1), Status::Dispensed);
    }
}

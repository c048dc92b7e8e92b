//! Slot booking, central e-registration (CeR) with its waiting list ("poczekalnia"), and
//! registration for vaccinations.
//!
//! **Publishing.** A facility (a backend service) publishes `Schedule`s whose `serviceType` has a
//! code of [`SERVICE_SYSTEM`] (`https://ikp.example.org/fhir/CodeSystem/pl-cer-service`) and free
//! `Slot`s for them, by plain FHIR writes or with `POST Schedule/[id]/$publish-slots` (`start`,
//! `count`, `minutes`), which also runs waiting-list matching. Services and their rules (ages
//! inclusive, on the slot's date; constants in [`SERVICES`]):
//!
//! | code | rule | waiting-list window |
//! |---|---|---|
//! | `mammography` | women 45–74 | 90 days (test) |
//! | `cytology` | women 25–64 | 90 days (test) |
//! | `cardiology-first` | an active e-referral to cardiology (`ServiceRequest` with `performerType` or `code` = `urn:oid:2.16.840.1.113883.3.4424.11.2.4#1100`), one booked first visit per referral | 40 days (visit) |
//! | `covid19-vaccination` | aged 5 or more (**unverified**) | 40 days |
//! | `hpv-vaccination` | aged 9–13, registered by a parent or guardian (a `RelatedPerson` with the caller's PESEL and a parental relationship) or by a backend service, never by the child (**unverified**) | 40 days |
//!
//! **Booking.** `POST Slot/[id]/$book` (`patient`, optional `referral`; default patient: the
//! caller) by the patient, a parent for a minor child, a proxy with a `proxy-act` Consent, or a
//! backend service: 404 when the caller cannot see the patient, 403 when they may only read, 422
//! when a rule is not met, 409 when the slot is not free. One database transaction updates the Slot
//! to `busy` with `If-Match` on the version that was checked and creates the `Appointment`
//! (`booked`, participants: the patient and the Schedule's actors, `basedOn`: the e-referral), so of
//! concurrent bookings of one slot exactly one succeeds. `POST Appointment/[id]/$cancel` cancels
//! and frees the slot; `POST Appointment/[id]/$reschedule` (`slot`) moves the appointment to a
//! free slot of the same service, freeing the old one, in one transaction. The caller's
//! AuditEvents (subtype `$book`, `$cancel`...) are written in the same transaction.
//!
//! **Waiting list.** `POST Patient/[id]/$join-waiting-list` (`service`, optional `referral`,
//! optional preferred `location`) checks the same rules and creates a `Task`
//! (`code` = [`TASK_SYSTEM`]`#waiting-list`, `status` `requested`, `restriction.period.end` = the
//! end of the window). Matching runs on joining, on publishing, after `$cancel`/`$reschedule`
//! free a slot, and on `POST Slot/$match-waiting-list` (backend services only): entries by
//! `priority`, then `authoredOn`, then id; each gets the earliest free slot of its service (at its
//! location, if given) whose date is within its window. The server books it, sets the Task
//! `completed` with the Appointment in `output`, and notifies the patient with a `Communication`
//! (`category` = `waiting-list-booked`, `about` the Appointment and the Task). Entries past their
//! window become `failed`.
//!
//! **Vaccinations.** History is plain `Immunization` search (policy-filtered, so a parent sees a
//! child's); `ImmunizationRecommendation` carries what is due; registration is `$book` on a
//! vaccination slot.

use serde_json::{Value, json};
use time::{Date, Duration};

use crate::access::Reason;
use crate::clock::{age_on, format_date, instant, now, parse_date, today};
use crate::error::{FhirError, FhirResult};
use crate::interaction::Response;
use crate::interaction::operation::{Call, Input};
use crate::outcome::{Issue, IssueType};
use crate::session::{Current, Session, Write, WriteSet, Written, not_found};
use crate::terminology::naming::PESEL;

/// Booking, cancelling or moving a visit changes the facility's Slot, which the patient (or
/// parent, or proxy) booking it could not change otherwise.
pub const SLOT_OF_BOOKING: Reason =
    Reason { code: "booking-slot", display: "a booking, cancellation or change of visit updates the facility's Slot" };

/// The CeR services (Schedule.serviceType / Slot.serviceType / Appointment.serviceType).
pub const SERVICE_SYSTEM: &str = "https://ikp.example.org/fhir/CodeSystem/pl-cer-service";
/// Waiting-list Tasks (`Task.code`) and the notification's category.
pub const TASK_SYSTEM: &str = "https://ikp.example.org/fhir/CodeSystem/pl-cer-task";
/// Cell specialty codes (VIII part of the departmental code); 1100 is the cardiology clinic.
pub const SPECIALTY_SYSTEM: &str = "urn:oid:2.16.840.1.113883.3.4424.11.2.4";
pub const CARDIOLOGY_SPECIALTY: &str = "1100";
/// Waiting-list search windows, in days from joining.
pub const WINDOW_VISIT_DAYS: i64 = 40;
pub const WINDOW_TEST_DAYS: i64 = 90;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Visit,
    Test,
}

/// One bookable service and its eligibility rule (ages inclusive, on the slot's date).
#[derive(Debug, Clone, Copy)]
pub struct Service {
    pub code: &'static str,
    pub display: &'static str,
    pub kind: Kind,
    pub female_only: bool,
    pub min_age: Option<i32>,
    pub max_age: Option<i32>,
    /// An active e-referral to cardiology is needed.
    pub referral: bool,
    /// Must be booked by a parent or guardian (or a backend service), not by the child.
    pub by_parent: bool,
}

pub const SERVICES: &[Service] = &[
    Service {
        code: "mammography",
        display: "Mammografia (CeR)",
        kind: Kind::Test,
        female_only: true,
        min_age: Some(45),
        max_age: Some(74),
        referral: false,
        by_parent: false,
    },
    Service {
        code: "cytology",
        display: "Cytologia / test HPV (CeR)",
        kind: Kind::Test,
        female_only: true,
        min_age: Some(25),
        max_age: Some(64),
        referral: false,
        by_parent: false,
    },
    Service {
        code: "cardiology-first",
        display: "Pierwsza wizyta w poradni kardiologicznej (CeR)",
        kind: Kind::Visit,
        female_only: false,
        min_age: None,
        max_age: None,
        referral: true,
        by_parent: false,
    },
    // Unverified: the age limit of COVID-19 vaccination registration.
    Service {
        code: "covid19-vaccination",
        display: "Szczepienie przeciw COVID-19",
        kind: Kind::Visit,
        female_only: false,
        min_age: Some(5),
        max_age: None,
        referral: false,
        by_parent: false,
    },
    // Unverified: the national HPV programme's ages and who may register.
    Service {
        code: "hpv-vaccination",
        display: "Szczepienie przeciw HPV",
        kind: Kind::Visit,
        female_only: false,
        min_age: Some(9),
        max_age: Some(13),
        referral: false,
        by_parent: true,
    },
];

/// Relationship codes (v3 RoleCode) of a parent or guardian.
const PARENTAL: &[&str] = &["PRN", "MTH", "FTH", "NPRN", "NMTH", "NFTH", "GUARD", "STPPRN", "STPMTH", "STPFTH"];

/// `Slot/[id]/$book`.
pub async fn book_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    book(session, call.id(), &call.input).await
}

/// `Appointment/[id]/$cancel`.
pub async fn cancel_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    cancel(session, call.id()).await
}

/// `Appointment/[id]/$reschedule`.
pub async fn reschedule_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    reschedule(session, call.id(), &call.input).await
}

/// `Patient/[id]/$join-waiting-list`.
pub async fn join_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    join(session, call.id(), &call.input).await
}

/// `Slot/$match-waiting-list` (backend services).
pub async fn match_operation(session: &Session, _call: &Call) -> FhirResult<Response> {
    backend_only(session)?;
    let booked = match_waiting_list(session).await?;
    let appointments: Vec<Value> = booked
        .iter()
        .map(|a| json!({"name": "appointment", "valueReference": {"reference": format!("Appointment/{a}")}}))
        .collect();
    Ok(Response::resource(200, json!({"resourceType": "Parameters", "parameter": appointments})))
}

/// `Schedule/[id]/$publish-slots`.
pub async fn publish_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    publish(session, call.id(), &call.input).await
}

fn unprocessable(message: impl Into<String>) -> FhirError {
    FhirError::Unprocessable(vec![Issue::error(IssueType::Processing, message)])
}

fn backend_only(session: &Session) -> FhirResult<()> {
    if session.is_confined() {
        return Err(FhirError::Forbidden("this is for the facility's or CeR's backend services".into()));
    }
    Ok(())
}

/// A reference parameter given as a string or a `valueReference`; the id after `Type/`.
fn reference_param(input: &Input, name: &str, resource_type: &str) -> Option<String> {
    let value = input.params.value(name)?;
    let text = value.as_str().or_else(|| value.get("reference").and_then(Value::as_str))?;
    let id = text.rsplit_once(&format!("{resource_type}/")).map_or(text, |(_, id)| id);
    let id = id.split('/').next().unwrap_or_default();
    (!id.is_empty()).then(|| id.to_string())
}

/// A resource for the operation's own checks (slots, schedules, the patient booked for), with
/// its version: the server's look-up, never handed to the caller as such.
async fn load(session: &Session, resource_type: &str, id: &str) -> FhirResult<(Value, i64)> {
    let found = session.lookup().read(resource_type, id).await?.ok_or_else(|| not_found(resource_type, id))?;
    Ok((found.content().clone(), found.version()))
}

/// The stored resource as the operation's answer (with its ETag and Location), read as the caller.
async fn answer(session: &Session, resource_type: &str, id: &str, status: u16) -> FhirResult<Response> {
    match session.current(resource_type, id).await? {
        Some(Current::Live(version)) => Ok(Response::version(session, status, version)),
        _ => Err(not_found(resource_type, id)),
    }
}

/// Current resources of `resource_type` matching `pairs` (the server's own look-ups), with
/// their versions.
async fn find(session: &Session, resource_type: &str, pairs: &[(&str, String)]) -> FhirResult<Vec<(Value, i64)>> {
    let found = session.lookup().find(&[resource_type], pairs, 1000).await?;
    Ok(found.into_iter().map(|f| (f.content().clone(), f.version())).collect())
}

fn micros(text: &str) -> Option<i64> {
    crate::model::datetime::parse(text, crate::model::datetime::DateKind::DateTime).ok().map(|d| d.start_micros())
}

/// The service a slot offers: its own serviceType, else its Schedule's.
fn service_of(resources: &[&Value]) -> Option<&'static Service> {
    resources.iter().find_map(|r| {
        r["serviceType"].as_array()?.iter().filter_map(|c| c["coding"].as_array()).flatten().find_map(|c| {
            (c["system"].as_str() == Some(SERVICE_SYSTEM))
                .then(|| c["code"].as_str())
                .flatten()
                .and_then(|code| SERVICES.iter().find(|s| s.code == code))
        })
    })
}

fn service_by_code(code: &str) -> FhirResult<&'static Service> {
    let code = code.rsplit('|').next().unwrap_or(code);
    SERVICES.iter().find(|s| s.code == code).ok_or_else(|| {
        FhirError::bad_request(format!(
            "unknown service '{code}'; known: {}",
            SERVICES.iter().map(|s| s.code).collect::<Vec<_>>().join(", ")
        ))
    })
}

/// The caller may act (write) for the patient: 404 when they may not even see them.
async fn check_acts_for(session: &Session, patient: &str) -> FhirResult<()> {
    super::current(session, "Patient", patient).await?;
    if let Some(caller) = session.caller()
        && !caller.grant("Appointment", crate::access::scopes::Interaction::Create)?.is_empty()
    {
        return Err(FhirError::Forbidden("granular scopes allow reads and searches only".into()));
    }
    if let Some(reach) = session.reach()
        && !reach.admits("Appointment", &[("Patient".to_string(), patient.to_string())], true)
    {
        return Err(FhirError::Forbidden(format!("you may see Patient/{patient} but not act for them")));
    }
    Ok(())
}

/// Whether the caller is a parent or guardian of `child` (a RelatedPerson with the caller's PESEL).
async fn is_parent(session: &Session, child: &str) -> FhirResult<bool> {
    let Some(user) = session.caller_user() else { return Ok(!session.is_confined()) };
    let Some((t, id)) = user.split_once('/') else { return Ok(false) };
    let Ok((person, _)) = load(session, t, id).await else { return Ok(false) };
    let Some(pesel) = person["identifier"]
        .as_array()
        .and_then(|ids| ids.iter().find(|i| i["system"].as_str() == Some(PESEL)))
        .and_then(|i| i["value"].as_str())
    else {
        return Ok(false);
    };
    let related = find(
        session,
        "RelatedPerson",
        &[("patient", format!("Patient/{child}")), ("identifier", format!("{PESEL}|{pesel}"))],
    )
    .await?;
    Ok(related.iter().any(|(r, _)| {
        r["relationship"].as_array().is_some_and(|cs| {
            cs.iter()
                .filter_map(|c| c["coding"].as_array())
                .flatten()
                .any(|c| c["code"].as_str().is_some_and(|code| PARENTAL.contains(&code)))
        })
    }))
}

fn is_cardiology_referral(sr: &Value) -> bool {
    let has = |v: &Value| {
        v["coding"].as_array().is_some_and(|cs| {
            cs.iter().any(|c| {
                c["system"].as_str() == Some(SPECIALTY_SYSTEM) && c["code"].as_str() == Some(CARDIOLOGY_SPECIALTY)
            })
        })
    };
    sr["status"].as_str() == Some("active")
        && (has(&sr["code"]) || sr["performerType"].is_object() && has(&sr["performerType"]))
}

/// An active cardiology e-referral of the patient (the one named, when given) that no other booked
/// appointment (than `except`, the one being rescheduled) is based on.
async fn find_referral(
    session: &Session,
    patient: &str,
    named: Option<&str>,
    except: Option<&str>,
) -> FhirResult<Option<String>> {
    let found =
        find(session, "ServiceRequest", &[("subject", format!("Patient/{patient}")), ("status", "active".into())])
            .await?;
    let mut ids: Vec<String> = found
        .iter()
        .filter(|(sr, _)| is_cardiology_referral(sr))
        .filter_map(|(sr, _)| sr["id"].as_str().map(str::to_string))
        .filter(|id| named.is_none_or(|n| n == id))
        .collect();
    ids.sort();
    for id in ids {
        let used =
            find(session, "Appointment", &[("based-on", format!("ServiceRequest/{id}")), ("status", "booked".into())])
                .await?;
        if used.iter().all(|(a, _)| except.is_some() && a["id"].as_str() == except) {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// The eligibility rule of `service` for `patient` on `day`.
fn check_eligible(service: &Service, patient: &Value, day: Date) -> FhirResult<()> {
    if service.female_only && patient["gender"].as_str() != Some("female") {
        return Err(unprocessable(format!("{} is for women only", service.display)));
    }
    if service.min_age.is_some() || service.max_age.is_some() {
        let age = patient["birthDate"]
            .as_str()
            .filter(|b| parse_date(b).is_some())
            .and_then(|b| age_on(b, day))
            .ok_or_else(|| unprocessable("the patient's full birth date is needed for this service"))?;
        if service.min_age.is_some_and(|min| age < min) || service.max_age.is_some_and(|max| age > max) {
            return Err(unprocessable(format!(
                "{} is for ages {}–{}; the patient is {age} on {}",
                service.display,
                service.min_age.map_or("0".into(), |a| a.to_string()),
                service.max_age.map_or("".into(), |a| a.to_string()),
                format_date(day),
            )));
        }
    }
    Ok(())
}

/// Everything `$book` checks, for the caller or for the server (waiting list).
struct Booking {
    slot_id: String,
    slot: Value,
    slot_version: i64,
    service: &'static Service,
    actors: Vec<Value>,
    day: Date,
}

async fn bookable(session: &Session, slot_id: &str) -> FhirResult<Booking> {
    let (slot, slot_version) = load(session, "Slot", slot_id).await?;
    if slot["status"].as_str() != Some("free") {
        return Err(FhirError::Conflict(format!("Slot/{slot_id} is not free")));
    }
    let schedule_id = slot
        .pointer("/schedule/reference")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("Schedule/"))
        .ok_or_else(|| unprocessable(format!("Slot/{slot_id} names no Schedule")))?;
    let (schedule, _) = load(session, "Schedule", schedule_id).await?;
    let service = service_of(&[&slot, &schedule])
        .ok_or_else(|| unprocessable(format!("Slot/{slot_id} offers no service of {SERVICE_SYSTEM}")))?;
    let start = slot["start"].as_str().unwrap_or_default();
    if micros(start).is_none_or(|s| s <= now()) {
        return Err(unprocessable(format!("Slot/{slot_id} is in the past")));
    }
    let day = parse_date(start).ok_or_else(|| unprocessable("the slot has no start date"))?;
    let actors = schedule["actor"].as_array().cloned().unwrap_or_default();
    Ok(Booking { slot_id: slot_id.to_string(), slot, slot_version, service, actors, day })
}

fn service_type(service: &Service) -> Value {
    let mut codings = vec![json!({"system": SERVICE_SYSTEM, "code": service.code, "display": service.display})];
    if service.referral {
        codings.push(
            json!({"system": SPECIALTY_SYSTEM, "code": CARDIOLOGY_SPECIALTY, "display": "Poradnia kardiologiczna"}),
        );
    }
    json!([{"coding": codings}])
}

/// An Appointment for a booking (`id`: the one it replaces, when moving a visit).
fn appointment(id: Option<&str>, b: &Booking, patient: &str, referral: Option<&str>) -> Value {
    let mut participants = vec![json!({"actor": {"reference": format!("Patient/{patient}")}, "status": "accepted"})];
    participants.extend(b.actors.iter().map(|a| json!({"actor": a, "status": "accepted"})));
    let mut appt = json!({
        "resourceType": "Appointment",
        "meta": {"profile": ["https://ikp.example.org/fhir/StructureDefinition/PLAppointment"]},
        "status": "booked",
        "serviceType": service_type(b.service),
        "slot": [{"reference": format!("Slot/{}", b.slot_id)}],
        "start": b.slot["start"],
        "end": b.slot["end"],
        "created": instant(now()).get(..10).unwrap_or_default(),
        "participant": participants,
    });
    if let Some(r) = referral {
        appt["basedOn"] = json!([{"reference": format!("ServiceRequest/{r}")}]);
    }
    if let Some(id) = id {
        appt["id"] = json!(id);
    }
    appt
}

fn with_status(mut resource: Value, status: &str) -> Value {
    resource["status"] = json!(status);
    resource
}

/// The next version of a stored resource (its `resourceType` and `id` name it), expected at
/// `version`.
fn put(resource: Value, version: i64) -> Write {
    let t = resource["resourceType"].as_str().unwrap_or_default().to_string();
    let id = resource["id"].as_str().unwrap_or_default().to_string();
    Write::update(&t, &id, resource, Some(version))
}

/// A Slot's next version: the facility's, which the general policy would not let the booking
/// patient change, so the write is vouched for by the operation (which checked that the caller
/// may act for the patient).
fn put_slot(slot: Value, version: i64) -> Write {
    put(slot, version).vouched_by(SLOT_OF_BOOKING)
}

/// Writes in one transaction, audited as the caller's. A version that moved meanwhile (a slot
/// someone else booked) is a 409.
async fn write_all(session: &Session, writes: Vec<Write>) -> FhirResult<Vec<Written>> {
    let mut set = WriteSet::new();
    for w in writes {
        set.push(w);
    }
    match session.commit(set).await {
        Err(FhirError::PreconditionFailed(what)) => {
            Err(FhirError::Conflict(format!("changed meanwhile, try again: {what}")))
        }
        other => other,
    }
}

/// The id given to the new `resource_type` of a write set.
fn created_id(written: &[Written], resource_type: &str) -> FhirResult<String> {
    written
        .iter()
        .find(|w| w.resource_type == resource_type && w.status == 201)
        .map(|w| w.id.clone())
        .ok_or_else(|| FhirError::Internal(format!("the {resource_type} was not stored")))
}

async fn book(session: &Session, slot_id: &str, input: &Input) -> FhirResult<Response> {
    let patient = reference_param(input, "patient", "Patient")
        .or_else(|| session.caller_user().and_then(|u| u.strip_prefix("Patient/").map(str::to_string)))
        .ok_or_else(|| FhirError::bad_request("the parameter 'patient' is required"))?;
    check_acts_for(session, &patient).await?;
    let b = bookable(session, slot_id).await?;
    let referral = reference_param(input, "referral", "ServiceRequest");
    let referral = check_rules(session, &b, &patient, referral.as_deref(), None).await?;
    let appt = appointment(None, &b, &patient, referral.as_deref());
    let slot = with_status(b.slot.clone(), "busy");
    let written = write_all(session, vec![put_slot(slot, b.slot_version), Write::create("Appointment", appt)]).await?;
    answer(session, "Appointment", &created_id(&written, "Appointment")?, 201).await
}

/// The service's rules for this patient and booker; the referral used, if any.
async fn check_rules(
    session: &Session,
    b: &Booking,
    patient: &str,
    referral: Option<&str>,
    except: Option<&str>,
) -> FhirResult<Option<String>> {
    let (p, _) = load(session, "Patient", patient).await?;
    check_eligible(b.service, &p, b.day)?;
    if b.service.by_parent
        && (session.caller_user().as_deref() == Some(&format!("Patient/{patient}"))
            || !is_parent(session, patient).await?)
    {
        return Err(unprocessable(format!("{} is registered by a parent or guardian", b.service.display)));
    }
    if b.service.referral {
        let found = find_referral(session, patient, referral, except).await?;
        if found.is_none() {
            return Err(unprocessable(format!(
                "{} needs an active e-referral to cardiology not used by another booked visit",
                b.service.display
            )));
        }
        return Ok(found);
    }
    Ok(None)
}

/// The appointment, checked for the caller: visible (else 404) and theirs to act on.
async fn own_appointment(session: &Session, id: &str) -> FhirResult<(Value, i64, String)> {
    let (appt, version) = super::current(session, "Appointment", id).await?;
    let patient = appt["participant"]
        .as_array()
        .and_then(|ps| {
            ps.iter().find_map(|p| p.pointer("/actor/reference").and_then(Value::as_str)?.strip_prefix("Patient/"))
        })
        .map(str::to_string)
        .ok_or_else(|| unprocessable(format!("Appointment/{id} has no patient")))?;
    check_acts_for(session, &patient).await?;
    if appt["status"].as_str() != Some("booked") {
        return Err(FhirError::Conflict(format!("Appointment/{id} is not booked")));
    }
    Ok((appt, version, patient))
}

fn slot_of(appt: &Value) -> Option<String> {
    appt.pointer("/slot/0/reference").and_then(Value::as_str)?.strip_prefix("Slot/").map(str::to_string)
}

async fn freed_slot(session: &Session, appt: &Value) -> FhirResult<Option<Write>> {
    let Some(slot_id) = slot_of(appt) else { return Ok(None) };
    let Ok((slot, version)) = load(session, "Slot", &slot_id).await else { return Ok(None) };
    Ok(Some(put_slot(with_status(slot, "free"), version)))
}

async fn cancel(session: &Session, id: &str) -> FhirResult<Response> {
    let (appt, version, _) = own_appointment(session, id).await?;
    let mut cancelled = with_status(appt.clone(), "cancelled");
    cancelled["cancelationReason"] = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason", "code": "pat", "display": "Patient"}]});
    let mut writes = vec![put(cancelled, version)];
    writes.extend(freed_slot(session, &appt).await?);
    write_all(session, writes).await?;
    match_waiting_list(session).await?;
    answer(session, "Appointment", id, 200).await
}

async fn reschedule(session: &Session, id: &str, input: &Input) -> FhirResult<Response> {
    let (appt, version, patient) = own_appointment(session, id).await?;
    let new_slot = reference_param(input, "slot", "Slot")
        .ok_or_else(|| FhirError::bad_request("the parameter 'slot' is required"))?;
    let b = bookable(session, &new_slot).await?;
    let (old_service, _) = load(session, "Slot", &slot_of(&appt).unwrap_or_default()).await.unwrap_or((json!({}), 0));
    let same = service_of(&[&appt]).or_else(|| service_of(&[&old_service])).is_none_or(|s| s.code == b.service.code);
    if !same {
        return Err(unprocessable("the new slot is for another service"));
    }
    let referral =
        appt.pointer("/basedOn/0/reference").and_then(Value::as_str).and_then(|r| r.strip_prefix("ServiceRequest/"));
    let referral = check_rules(session, &b, &patient, referral, Some(id)).await?;
    let mut moved = appointment(Some(id), &b, &patient, referral.as_deref());
    moved["created"] = appt["created"].clone();
    let mut writes = vec![put_slot(with_status(b.slot.clone(), "busy"), b.slot_version)];
    writes.extend(freed_slot(session, &appt).await?);
    writes.push(put(moved, version));
    write_all(session, writes).await?;
    match_waiting_list(session).await?;
    answer(session, "Appointment", id, 200).await
}

async fn join(session: &Session, patient: &str, input: &Input) -> FhirResult<Response> {
    check_acts_for(session, patient).await?;
    let service = service_by_code(input.text("service")?)?;
    let (p, _) = load(session, "Patient", patient).await?;
    let today = today();
    check_eligible(service, &p, today)?;
    if service.by_parent
        && (session.caller_user().as_deref() == Some(&format!("Patient/{patient}"))
            || !is_parent(session, patient).await?)
    {
        return Err(unprocessable(format!("{} is registered by a parent or guardian", service.display)));
    }
    let referral =
        if service.referral {
            let named = reference_param(input, "referral", "ServiceRequest");
            Some(find_referral(session, patient, named.as_deref(), None).await?.ok_or_else(|| {
                unprocessable(format!("{} needs an active e-referral to cardiology", service.display))
            })?)
        } else {
            None
        };
    let window = if service.kind == Kind::Test { WINDOW_TEST_DAYS } else { WINDOW_VISIT_DAYS };
    let mut task = json!({
        "resourceType": "Task",
        "status": "requested",
        "businessStatus": {"text": "waiting for a slot"},
        "intent": "order",
        "priority": "routine",
        "code": {"coding": [{"system": TASK_SYSTEM, "code": "waiting-list", "display": "Poczekalnia CeR"}]},
        "for": {"reference": format!("Patient/{patient}")},
        "authoredOn": instant(now()),
        "restriction": {"period": {"start": today.to_string(), "end": format_date(today + Duration::days(window))}},
        "input": [{"type": {"text": "service"}, "valueCoding": {"system": SERVICE_SYSTEM, "code": service.code, "display": service.display}}],
    });
    if let Some(user) = session.caller_user() {
        task["requester"] = json!({"reference": user});
    }
    if let Some(r) = &referral {
        task["basedOn"] = json!([{"reference": format!("ServiceRequest/{r}")}]);
    }
    if let Some(location) = reference_param(input, "location", "Location") {
        task["location"] = json!({"reference": format!("Location/{location}")});
    }
    let written = write_all(session, vec![Write::create("Task", task)]).await?;
    match_waiting_list(session).await?;
    answer(session, "Task", &created_id(&written, "Task")?, 201).await
}

fn priority_rank(task: &Value) -> u8 {
    match task["priority"].as_str() {
        Some("stat") => 0,
        Some("asap") => 1,
        Some("urgent") => 2,
        _ => 3,
    }
}

/// Books free slots for waiting entries (see the module documentation); the Appointments made.
/// The server's own work, whoever's request set it off.
pub async fn match_waiting_list(session: &Session) -> FhirResult<Vec<String>> {
    let server = session.system("the CeR waiting list");
    let mut tasks =
        find(&server, "Task", &[("code", format!("{TASK_SYSTEM}|waiting-list")), ("status", "requested".into())])
            .await?;
    tasks.sort_by(|(a, _), (b, _)| {
        (priority_rank(a), a["authoredOn"].as_str(), a["id"].as_str()).cmp(&(
            priority_rank(b),
            b["authoredOn"].as_str(),
            b["id"].as_str(),
        ))
    });
    let horizon = tasks
        .iter()
        .filter_map(|(t, _)| t.pointer("/restriction/period/end").and_then(Value::as_str).and_then(parse_date))
        .max();
    let Some(horizon) = horizon else { return Ok(Vec::new()) };
    // Free future slots up to the furthest window, earliest first (at most 1,000 per run).
    let slots = find(
        &server,
        "Slot",
        &[
            ("status", "free".into()),
            ("start", format!("gt{}", instant(now()))),
            ("start", format!("lt{}", format_date(horizon + Duration::days(1)))),
            ("_sort", "start".into()),
        ],
    )
    .await?;
    let mut candidates = Vec::new();
    for (slot, _) in &slots {
        if let Some(b) = slot["id"].as_str().map(|id| bookable(&server, id)) {
            candidates.extend(b.await.ok());
        }
    }
    candidates.sort_by(|a, b| {
        (a.slot["start"].as_str().and_then(micros), &a.slot_id)
            .cmp(&(b.slot["start"].as_str().and_then(micros), &b.slot_id))
    });
    let mut booked = Vec::new();
    let mut taken: Vec<String> = Vec::new();
    let today = today();
    for (task, task_version) in tasks {
        let Some(deadline) = task.pointer("/restriction/period/end").and_then(Value::as_str).and_then(parse_date)
        else {
            continue;
        };
        let task_id = task["id"].as_str().unwrap_or_default().to_string();
        if deadline < today {
            let mut failed = with_status(task.clone(), "failed");
            failed["businessStatus"] = json!({"text": "no slot within the search window"});
            // Someone else may have changed it meanwhile: then the next run decides.
            let _ = write_all(&server, vec![put(failed, task_version)]).await;
            continue;
        }
        let Some(service) = task["input"]
            .as_array()
            .and_then(|inputs| inputs.iter().find_map(|i| i.pointer("/valueCoding/code").and_then(Value::as_str)))
            .and_then(|c| SERVICES.iter().find(|s| s.code == c))
        else {
            continue;
        };
        let Some(patient) = task
            .pointer("/for/reference")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("Patient/"))
            .map(str::to_string)
        else {
            continue;
        };
        let Ok((p, _)) = load(&server, "Patient", &patient).await else { continue };
        let location = task.pointer("/location/reference").and_then(Value::as_str);
        let referral = task
            .pointer("/basedOn/0/reference")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("ServiceRequest/"))
            .map(str::to_string);
        for b in &candidates {
            let slot_id = b.slot_id.as_str();
            if taken.iter().any(|t| t == slot_id) {
                continue;
            }
            if b.service.code != service.code || b.day > deadline || check_eligible(service, &p, b.day).is_err() {
                continue;
            }
            if location.is_some_and(|l| !b.actors.iter().any(|a| a["reference"].as_str() == Some(l))) {
                continue;
            }
            // The new Appointment is named by this until it is stored.
            let appt_url = format!("urn:uuid:{}", crate::session::prepare::new_id());
            let appt = appointment(None, b, &patient, referral.as_deref());
            let mut done = with_status(task.clone(), "completed");
            done["businessStatus"] = json!({"text": "booked"});
            done["output"] = json!([{"type": {"text": "appointment"}, "valueReference": {"reference": appt_url}}]);
            let note = json!({
                "resourceType": "Communication",
                "status": "completed",
                "category": [{"coding": [{"system": TASK_SYSTEM, "code": "waiting-list-booked", "display": "Termin z poczekalni CeR"}]}],
                "subject": {"reference": format!("Patient/{patient}")},
                "recipient": [{"reference": format!("Patient/{patient}")}],
                "about": [{"reference": appt_url}, {"reference": format!("Task/{task_id}")}],
                "sent": instant(now()),
                "payload": [{"contentString": format!("{}: booked for {} (from the waiting list).", service.display, b.slot["start"].as_str().unwrap_or_default())}],
            });
            let writes = vec![
                put_slot(with_status(b.slot.clone(), "busy"), b.slot_version),
                Write::create("Appointment", appt).with_full_url(appt_url),
                put(done, task_version),
                Write::create("Communication", note),
            ];
            taken.push(slot_id.to_string());
            if let Ok(written) = write_all(&server, writes).await {
                booked.extend(created_id(&written, "Appointment"));
                break;
            }
        }
    }
    Ok(booked)
}

async fn publish(session: &Session, schedule_id: &str, input: &Input) -> FhirResult<Response> {
    backend_only(session)?;
    let (schedule, _) = load(session, "Schedule", schedule_id).await?;
    let start = input.text("start")?;
    let start_at = micros(start).ok_or_else(|| FhirError::bad_request("'start' must be a dateTime"))?;
    let count = input.params.count("count")?.unwrap_or(1).clamp(1, 200);
    let minutes = input.params.count("minutes")?.unwrap_or(20).clamp(5, 480) as i64;
    let mut writes = Vec::new();
    for i in 0..count as i64 {
        let from = start_at + i * minutes * 60_000_000;
        let mut slot = json!({
            "resourceType": "Slot",
            "meta": {"profile": ["https://ikp.example.org/fhir/StructureDefinition/PLSlot"]},
            "schedule": {"reference": format!("Schedule/{schedule_id}")},
            "status": "free",
            "start": instant(from),
            "end": instant(from + minutes * 60_000_000),
        });
        if let Some(st) = schedule.get("serviceType") {
            slot["serviceType"] = st.clone();
        }
        writes.push(Write::create("Slot", slot));
    }
    let ids: Vec<String> = write_all(session, writes).await?.into_iter().map(|w| w.id).collect();
    let booked = match_waiting_list(session).await?;
    let mut parameter: Vec<Value> =
        ids.iter().map(|id| json!({"name": "slot", "valueReference": {"reference": format!("Slot/{id}")}})).collect();
    parameter.extend(
        booked
            .iter()
            .map(|a| json!({"name": "appointment", "valueReference": {"reference": format!("Appointment/{a}")}})),
    );
    Ok(Response::resource(201, json!({"resourceType": "Parameters", "parameter": parameter})))
}

/// Demo resources of this workflow (stored once by `ikp serve --demo`): a facility with
/// schedules for each CeR service and slots two weeks from the seeding day, Jan's booked COVID-19
/// vaccination, Anna's waiting-list entry for cytology, and vaccination history plus an HPV
/// recommendation for Zofia.
pub fn demo() -> Vec<Value> {
    let tag = json!({"tag": [{"system": "http://ikp.example/tags", "code": "demo", "display": "demo data"}]});
    let with_profile = |profile: &str| {
        let mut meta = tag.clone();
        meta["profile"] = json!([format!("https://ikp.example.org/fhir/StructureDefinition/{profile}")]);
        meta
    };
    let today = today();
    let day = today + Duration::days(14);
    let mut out = vec![
        json!({"resourceType": "Organization", "id": "demo-cer-przychodnia", "meta": tag, "active": true,
               "name": "Przychodnia Specjalistyczna Demo (CeR)"}),
        json!({"resourceType": "Location", "id": "demo-cer-poradnia", "meta": tag, "status": "active",
               "name": "Poradnia Specjalistyczna Demo, ul. Przykładowa 1, Warszawa",
               "managingOrganization": {"reference": "Organization/demo-cer-przychodnia"}}),
        // Cytology is offered at another place than Anna's waiting-list entry names, so the entry
        // stays waiting and she can book a slot herself (the portal's demo).
        json!({"resourceType": "Location", "id": "demo-cer-gabinet", "meta": tag, "status": "active",
               "name": "Gabinet Profilaktyki Demo, ul. Przykładowa 3, Warszawa",
               "managingOrganization": {"reference": "Organization/demo-cer-przychodnia"}}),
    ];
    let schedules = [
        ("mammografia", "mammography", 2, "demo-cer-poradnia"),
        ("cytologia", "cytology", 2, "demo-cer-gabinet"),
        ("kardiologia", "cardiology-first", 2, "demo-cer-poradnia"),
        ("szczepienia-covid", "covid19-vaccination", 3, "demo-cer-poradnia"),
        ("szczepienia-hpv", "hpv-vaccination", 2, "demo-cer-poradnia"),
    ];
    for (name, code, count, location) in schedules {
        let Some(service) = SERVICES.iter().find(|s| s.code == code) else { continue };
        out.push(json!({
            "resourceType": "Schedule", "id": format!("demo-cer-{name}"), "meta": with_profile("PLSchedule"),
            "active": true, "serviceType": service_type(service),
            "actor": [{"reference": format!("Location/{location}")}],
            "planningHorizon": {"start": today.to_string(), "end": format_date(today + Duration::days(90))},
        }));
        for i in 0..count {
            let busy = code == "covid19-vaccination" && i == 0;
            out.push(json!({
                "resourceType": "Slot", "id": format!("demo-cer-{name}-{}", i + 1), "meta": with_profile("PLSlot"),
                "schedule": {"reference": format!("Schedule/demo-cer-{name}")},
                "serviceType": service_type(service),
                "status": if busy { "busy" } else { "free" },
                "start": format!("{day}T{:02}:00:00Z", 8 + i), "end": format!("{day}T{:02}:20:00Z", 8 + i),
            }));
        }
    }
    let covid = SERVICES.iter().find(|s| s.code == "covid19-vaccination");
    if let Some(covid) = covid {
        out.push(json!({
            "resourceType": "Appointment", "id": "demo-cer-szczepienie-covid-jan", "meta": with_profile("PLAppointment"),
            "status": "booked", "serviceType": service_type(covid),
            "slot": [{"reference": "Slot/demo-cer-szczepienia-covid-1"}],
            "start": format!("{day}T08:00:00Z"), "end": format!("{day}T08:20:00Z"),
            "created": today.to_string(),
            "participant": [
                {"actor": {"reference": "Patient/demo-jan-kowalski"}, "status": "accepted"},
                {"actor": {"reference": "Location/demo-cer-poradnia"}, "status": "accepted"},
                {"actor": {"reference": "Practitioner/demo-piotr-nowak"}, "status": "accepted"},
            ],
        }));
    }
    out.push(json!({
        "resourceType": "Task", "id": "demo-cer-poczekalnia-anna", "meta": tag,
        "status": "requested", "businessStatus": {"text": "waiting for a slot"},
        "intent": "order", "priority": "routine",
        "code": {"coding": [{"system": TASK_SYSTEM, "code": "waiting-list", "display": "Poczekalnia CeR"}]},
        "for": {"reference": "Patient/demo-anna-kowalska"},
        "requester": {"reference": "Patient/demo-anna-kowalska"},
        "authoredOn": format!("{today}T08:00:00Z"),
        "restriction": {"period": {"start": today.to_string(), "end": format_date(today + Duration::days(WINDOW_TEST_DAYS))}},
        "location": {"reference": "Location/demo-cer-poradnia"},
        "input": [{"type": {"text": "service"}, "valueCoding": {"system": SERVICE_SYSTEM, "code": "cytology", "display": "Cytologia / test HPV (CeR)"}}],
    }));
    let immunization = |id: &str, patient: &str, vaccine: &str, date: &str, lot: &str| {
        json!({
            "resourceType": "Immunization", "id": id, "meta": with_profile("PLImmunization"),
            "status": "completed", "vaccineCode": {"text": vaccine},
            "patient": {"reference": format!("Patient/{patient}")},
            "occurrenceDateTime": date, "primarySource": true, "lotNumber": lot,
            "performer": [{"actor": {"reference": "Practitioner/demo-piotr-nowak"}}],
        })
    };
    out.push(immunization(
        "demo-szczepienie-zofia-mmr",
        "demo-zofia-kowalska",
        "M-M-RvaxPro (odra, świnka, różyczka)",
        "2017-10-02T10:00:00+02:00",
        "MMR1701",
    ));
    out.push(immunization(
        "demo-szczepienie-zofia-mmr-2",
        "demo-zofia-kowalska",
        "M-M-RvaxPro (odra, świnka, różyczka), dawka 2",
        "2022-09-12T10:00:00+02:00",
        "MMR2209",
    ));
    out.push(immunization(
        "demo-szczepienie-jan-covid",
        "demo-jan-kowalski",
        "Comirnaty (COVID-19)",
        "2025-10-20T12:00:00+02:00",
        "CMT2510",
    ));
    out.push(json!({
        "resourceType": "ImmunizationRecommendation", "id": "demo-rekomendacja-hpv-zofia", "meta": tag,
        "patient": {"reference": "Patient/demo-zofia-kowalska"},
        "date": format!("{today}T08:00:00Z"),
        "authority": {"reference": "Organization/demo-cer-przychodnia"},
        "recommendation": [{
            "vaccineCode": [{"text": "Szczepionka przeciw HPV (Cervarix / Gardasil 9)"}],
            "targetDisease": {"text": "Zakażenie wirusem brodawczaka ludzkiego (HPV)"},
            "forecastStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/immunization-recommendation-status", "code": "due", "display": "Due"}]},
            "dateCriterion": [{
                "code": {"coding": [{"system": "http://loinc.org", "code": "30980-7", "display": "Date vaccine due"}]},
                "value": format!("{}T00:00:00Z", today + Duration::days(30)),
            }],
            "description": "Bezpłatne szczepienie HPV dla dzieci 9–13 lat; zapisuje rodzic (Slot/$book, usługa hpv-vaccination).",
        }],
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(code: &str) -> &'static Service {
        SERVICES.iter().find(|s| s.code == code).expect("service")
    }

    #[test]
    fn eligibility_by_sex_and_age_on_the_slot_date() {
        let on = Date::from_calendar_date(2027, time::Month::March, 10).expect("day");
        let woman = |birth: &str| json!({"gender": "female", "birthDate": birth});
        let mammography = service("mammography");
        assert!(check_eligible(mammography, &woman("1982-03-10"), on).is_ok(), "45 on the day");
        assert!(check_eligible(mammography, &woman("1982-03-11"), on).is_err(), "44 on the day");
        assert!(check_eligible(mammography, &woman("1952-03-11"), on).is_ok(), "74 on the day");
        assert!(check_eligible(mammography, &woman("1952-03-10"), on).is_err(), "75 on the day");
        assert!(check_eligible(mammography, &json!({"gender": "male", "birthDate": "1970-01-01"}), on).is_err());
        assert!(check_eligible(mammography, &json!({"gender": "female"}), on).is_err(), "no birth date");
        assert!(check_eligible(service("cardiology-first"), &json!({}), on).is_ok());
        assert!(check_eligible(service("hpv-vaccination"), &woman("2014-03-10"), on).is_ok());
        assert!(check_eligible(service("hpv-vaccination"), &woman("2013-03-10"), on).is_err(), "14");
    }

    #[test]
    fn referrals_to_cardiology() {
        let by_type =
            json!({"status": "active", "performerType": {"coding": [{"system": SPECIALTY_SYSTEM, "code": "1100"}]}});
        assert!(is_cardiology_referral(&by_type));
        let mut done = by_type.clone();
        done["status"] = json!("completed");
        assert!(!is_cardiology_referral(&done));
        assert!(!is_cardiology_referral(&json!({"status": "active", "code": {"text": "kardiologia"}})));
    }

    /// The slot's date the age rules are judged on.
    fn slot_day() -> Date {
        Date::from_calendar_date(2027, time::Month::March, 10).unwrap()
    }

    fn patient(gender: &str, born: Date) -> Value {
        json!({"resourceType": "Patient", "gender": gender, "birthDate": format_date(born)})
    }

    /// The birth date of someone who turns `age` on `day`.
    fn turning(age: i32, day: Date) -> Date {
        day.replace_year(day.year() - age).unwrap()
    }

    /// `Ok` or the HTTP status of the refusal.
    fn verdict(code: &str, patient: &Value, day: Date) -> Result<(), u16> {
        check_eligible(service(code), patient, day).map_err(|e| e.http_status())
    }

    /// `code` takes a `gender` from the day they turn `min` to the day before they turn `max + 1`
    /// (ages inclusive, on the slot's date), refusing (422) the day before and the day after.
    fn assert_ages(code: &str, gender: &str, min: i32, max: Option<i32>) {
        let day = slot_day();
        let one = Duration::days(1);
        let born = |d: Date| patient(gender, d);
        assert_eq!(verdict(code, &born(turning(min, day) + one), day), Err(422), "{code}: {} the day before", min - 1);
        assert_eq!(verdict(code, &born(turning(min, day)), day), Ok(()), "{code}: {min} on the day");
        match max {
            Some(max) => {
                assert_eq!(verdict(code, &born(turning(max + 1, day) + one), day), Ok(()), "{code}: still {max}");
                assert_eq!(
                    verdict(code, &born(turning(max + 1, day)), day),
                    Err(422),
                    "{code}: {} on the day",
                    max + 1
                );
            }
            None => assert_eq!(verdict(code, &born(turning(100, day)), day), Ok(()), "{code}: no upper age"),
        }
    }

    #[test]
    fn mammography_is_for_women_aged_45_to_74() {
        assert_ages("mammography", "female", 45, Some(74));
    }

    #[test]
    fn cytology_is_for_women_aged_25_to_64() {
        assert_ages("cytology", "female", 25, Some(64));
    }

    #[test]
    fn covid19_vaccination_is_from_age_5_for_everyone() {
        assert_ages("covid19-vaccination", "female", 5, None);
        assert_ages("covid19-vaccination", "male", 5, None);
    }

    #[test]
    fn hpv_vaccination_is_for_girls_and_boys_aged_9_to_13() {
        assert_ages("hpv-vaccination", "female", 9, Some(13));
        assert_ages("hpv-vaccination", "male", 9, Some(13));
    }

    #[test]
    fn screening_is_for_women_only() {
        let day = slot_day();
        let fifty = turning(50, day);
        for code in ["mammography", "cytology"] {
            for gender in ["male", "other", "unknown"] {
                assert_eq!(verdict(code, &patient(gender, fifty), day), Err(422), "{code} for {gender}");
            }
            assert_eq!(verdict(code, &json!({"birthDate": format_date(fifty)}), day), Err(422), "{code}: no sex");
        }
    }

    #[test]
    fn age_rules_need_a_full_birth_date() {
        let day = slot_day();
        for birth in [
            json!({"gender": "female"}),
            json!({"gender": "female", "birthDate": "1980"}),
            json!({"gender": "female", "birthDate": "1980-05"}),
            json!({"gender": "female", "birthDate": "1980-02-30"}),
        ] {
            assert_eq!(verdict("mammography", &birth, day), Err(422), "{birth}");
            assert_eq!(verdict("covid19-vaccination", &birth, day), Err(422), "{birth}");
        }
    }

    #[test]
    fn cardiology_first_visit_has_no_age_or_sex_rule() {
        let day = slot_day();
        assert_eq!(verdict("cardiology-first", &json!({"resourceType": "Patient"}), day), Ok(()));
        assert_eq!(verdict("cardiology-first", &patient("male", day), day), Ok(()), "born on the day");
        assert_eq!(verdict("cardiology-first", &patient("female", turning(99, day)), day), Ok(()));
    }

    #[test]
    fn waiting_list_entries_are_ranked_stat_asap_urgent_then_routine() {
        let mut tasks: Vec<Value> =
            ["routine", "urgent", "stat", "asap"].iter().map(|p| json!({"priority": p})).collect();
        tasks.sort_by_key(priority_rank);
        let order: Vec<&str> = tasks.iter().filter_map(|t| t["priority"].as_str()).collect();
        assert_eq!(order, ["stat", "asap", "urgent", "routine"]);
        assert_eq!(priority_rank(&json!({})), priority_rank(&json!({"priority": "routine"})), "routine by default");
    }

    #[test]
    fn a_cardiology_referral_names_the_specialty_in_code_or_performer_type() {
        let cardiology = json!({"coding": [{"system": SPECIALTY_SYSTEM, "code": "1100"}]});
        assert!(is_cardiology_referral(&json!({"status": "active", "code": cardiology})));
        assert!(is_cardiology_referral(&json!({"status": "active", "performerType": cardiology})));
        let among_others = json!({"coding": [{"system": "urn:oid:2.16.840.1.113883.3.4424.11.2.6", "code": "89.00"},
                                             {"system": SPECIALTY_SYSTEM, "code": "1100"}]});
        assert!(is_cardiology_referral(&json!({"status": "active", "code": among_others})), "any coding");
    }

    #[test]
    fn only_an_active_referral_counts_for_cardiology() {
        let cardiology = json!({"coding": [{"system": SPECIALTY_SYSTEM, "code": "1100"}]});
        for status in ["draft", "on-hold", "revoked", "completed", "entered-in-error"] {
            assert!(!is_cardiology_referral(&json!({"status": status, "performerType": cardiology})), "{status}");
        }
        assert!(!is_cardiology_referral(&json!({"performerType": cardiology})), "no status");
    }

    #[test]
    fn a_cardiology_referral_needs_code_1100_of_the_specialty_system() {
        let other_specialty = json!({"coding": [{"system": SPECIALTY_SYSTEM, "code": "1200"}]});
        let other_system = json!({"coding": [{"system": "http://example.org/specialty", "code": "1100"}]});
        assert!(!is_cardiology_referral(&json!({"status": "active", "performerType": other_specialty})));
        assert!(!is_cardiology_referral(&json!({"status": "active", "code": other_system})));
    }

    #[test]
    fn a_service_is_named_by_its_code_with_or_without_the_system() {
        assert_eq!(service_by_code("mammography").unwrap().code, "mammography");
        assert_eq!(service_by_code(&format!("{SERVICE_SYSTEM}|hpv-vaccination")).unwrap().code, "hpv-vaccination");
    }

    #[test]
    fn an_unknown_service_is_a_bad_request_listing_the_known_ones() {
        let no_code = format!("{SERVICE_SYSTEM}|");
        for code in ["dentist", "", "Mammography", no_code.as_str()] {
            let err = service_by_code(code).unwrap_err();
            assert_eq!(err.http_status(), 400, "{code}");
            assert!(err.to_string().contains("cardiology-first"), "{err}");
        }
    }

    #[test]
    fn a_slots_own_service_comes_before_its_schedules() {
        let slot = json!({"serviceType": [{"coding": [{"system": SERVICE_SYSTEM, "code": "cytology"}]}]});
        let schedule = json!({"serviceType": service_type(service("mammography"))});
        assert_eq!(service_of(&[&slot, &schedule]).map(|s| s.code), Some("cytology"));
        assert_eq!(service_of(&[&json!({}), &schedule]).map(|s| s.code), Some("mammography"));
        let elsewhere = json!({"serviceType": [{"coding": [{"system": "http://example.org/x", "code": "cytology"}]}]});
        assert!(service_of(&[&elsewhere]).is_none(), "a code of another system");
        let unknown = json!({"serviceType": [{"coding": [{"system": SERVICE_SYSTEM, "code": "dentist"}]}]});
        assert!(service_of(&[&unknown]).is_none(), "an unknown service");
    }

    #[test]
    fn micros_are_the_instant_whatever_its_offset() {
        assert_eq!(micros("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(micros("2026-11-20T10:00:00+01:00"), micros("2026-11-20T09:00:00Z"));
        assert_eq!(
            micros("2026-11-20T09:00:01.5Z").zip(micros("2026-11-20T09:00:00Z")).map(|(a, b)| a - b),
            Some(1_500_000)
        );
        // Slots are ordered by instant, not by text: 10:30+02:00 is before 09:00Z.
        assert!(micros("2026-11-20T10:30:00+02:00") < micros("2026-11-20T09:00:00Z"));
        assert_eq!(micros("2026-11-20"), micros("2026-11-20T00:00:00Z"), "a date from its first moment");
    }

    #[test]
    fn micros_of_what_is_no_datetime_is_none() {
        for text in ["", "tomorrow", "2026-11-20T25:00:00Z", "2026-02-30T10:00:00Z", "2026-11-20T10:00:00"] {
            assert_eq!(micros(text), None, "{text}");
        }
    }
}

//! e-skierowanie (e-referral): a `ServiceRequest` in the PLServiceRequest profile, issued by a
//! doctor and realised by another facility that the patient brings the access code to.
//!
//! Operations:
//! - `POST ServiceRequest/$issue` (body: a ServiceRequest; a practitioner, or a backend
//!   service): assigns the referral number (`identifier` system [`NUMBER`]), a random 4-digit
//!   access code ([`ACCESS_CODE`], *kod skierowania*) and an access key ([`ACCESS_KEY`],
//!   *klucz skierowania*), sets `status = active`, `intent = order`, `authoredOn` (when
//!   missing) and `requester` (the issuing practitioner, when missing). Returns 201 + the
//!   stored referral.
//! - `GET|POST ServiceRequest/$retrieve?code=1234&pesel=...`: the performing facility's
//!   practitioner finds the referral by access code + the patient's PESEL. A wrong code or PESEL
//!   is a 404 that reveals nothing; the read is audited as the caller's.
//! - `POST ServiceRequest/[id]/$book` (`appointment` = `Appointment/..` optional, `code` = the
//!   access code when the caller could not otherwise act on the referral): records the booking.
//! - `POST ServiceRequest/[id]/$complete` (`code` as for `$book`): the service was given.
//! - `POST ServiceRequest/[id]/$cancel`: the issuer (the practitioner in `requester`) cancels.
//!
//! Status model (`ServiceRequest.status` + the extension [`BOOKING_STATUS`] with a code of
//! [`BOOKING_SYSTEM`]):
//!
//! | state     | status      | booking extension                  | reached by             |
//! |-----------|-------------|------------------------------------|------------------------|
//! | issued    | `active`    | —                                  | `$issue`               |
//! | booked    | `active`    | `booked` (+ [`APPOINTMENT`] ref)   | `$book` from issued    |
//! | completed | `completed` | `completed`                        | `$complete` from issued/booked |
//! | cancelled | `revoked`   | `cancelled`                        | `$cancel` from issued/booked   |
//!
//! Transitions out of `completed` or `cancelled` are refused (409). Every transition is an
//! update with `If-Match` on the version read, so two concurrent transitions cannot both pass.

use serde_json::{Value, json};

use crate::access::Reason;
use crate::error::{FhirError, FhirResult};
use crate::interaction::Response;
use crate::interaction::operation::{Call, Input};
use crate::interaction::read::ReadConditions;
use crate::search::reach::Visible;
use crate::session::{Current, Session, not_found};
use crate::terminology::naming::PESEL;

/// A practitioner of the performing facility who presents a referral's or order's access code
/// and the patient's PESEL may see and realise it.
pub const BY_ACCESS_CODE: Reason = Reason {
    code: "request-access-code",
    display: "the performing facility presented the access code and the patient's PESEL",
};

/// Referral number (*numer skierowania*).
pub const NUMBER: &str = "https://ikp.example.org/fhir/sid/e-referral-number";
/// The 4-digit access code the patient presents (*kod skierowania*).
pub const ACCESS_CODE: &str = "https://ikp.example.org/fhir/sid/e-referral-access-code";
/// The access key (*klucz skierowania*).
pub const ACCESS_KEY: &str = "https://ikp.example.org/fhir/sid/e-referral-access-key";
/// Extension with the workflow state beyond `status` (valueCoding of [`BOOKING_SYSTEM`]).
pub const BOOKING_STATUS: &str = "https://ikp.example.org/fhir/StructureDefinition/referral-workflow-status";
pub const BOOKING_SYSTEM: &str = "https://ikp.example.org/fhir/CodeSystem/referral-workflow-status";
/// Extension with the booked Appointment (valueReference).
pub const APPOINTMENT: &str = "https://ikp.example.org/fhir/StructureDefinition/referral-appointment";

/// `ServiceRequest/$issue`.
pub async fn issue_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    issue(session, &call.input).await
}

/// `ServiceRequest/$retrieve`.
pub async fn retrieve_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    let (widened, found) = retrieve_by_code(session, "ServiceRequest", ACCESS_CODE, &call.input).await?;
    crate::interaction::read::read(&widened, "ServiceRequest", &found, ReadConditions::default()).await
}

/// `ServiceRequest/[id]/$book`.
pub async fn book_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    transition(session, call.id(), "book", &call.input).await
}

/// `ServiceRequest/[id]/$complete`.
pub async fn complete_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    transition(session, call.id(), "complete", &call.input).await
}

/// `ServiceRequest/[id]/$cancel`.
pub async fn cancel_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    transition(session, call.id(), "cancel", &call.input).await
}

// ---- helpers shared by the workflow modules (referral, order, documents) ----

/// Issuing is for practitioners (and unconfined callers: backend services, the server).
pub(crate) fn issuer(session: &Session) -> FhirResult<Option<String>> {
    if !session.is_confined() {
        return Ok(session.caller_user());
    }
    match session.caller_user() {
        Some(u) if u.starts_with("Practitioner/") || u.starts_with("PractitionerRole/") => Ok(Some(u)),
        _ => Err(FhirError::Forbidden("only a practitioner may issue this".into())),
    }
}

/// A 4-digit access code no other `resource_type` of the patient has (so that code + PESEL
/// always finds exactly one).
pub(crate) async fn unique_code(
    session: &Session,
    resource_type: &str,
    system: &str,
    patient: &str,
) -> FhirResult<String> {
    for _ in 0..20 {
        let code = super::random_digits(4);
        let same = [("identifier", format!("{system}|{code}")), ("subject", format!("Patient/{patient}"))];
        if session.lookup().find(&[resource_type], &same, 1).await?.is_empty() {
            return Ok(code);
        }
    }
    Err(FhirError::Conflict("no free access code for this patient; try again".into()))
}

/// A new document / order number: date + random digits.
pub(crate) fn new_number() -> String {
    format!("{}{}", crate::clock::format_date(crate::clock::today()).replace('-', ""), super::random_digits(14))
}

/// The resources of `resource_type` matching `pairs`, searched as the caller (scopes, granular
/// filters and reach applied, the access audited), as JSON.
pub(crate) async fn find(session: &Session, resource_type: &str, pairs: &[(&str, String)]) -> FhirResult<Vec<Value>> {
    let mut pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    pairs.push(("_count".into(), "1000".into()));
    let scope = crate::interaction::search::Scope::Type(resource_type.into());
    let response = crate::interaction::search::search(session, scope, &pairs, true).await?;
    super::matches(response)
}

/// The value of the identifier of `system`.
pub(crate) fn identifier<'a>(resource: &'a Value, system: &str) -> Option<&'a str> {
    resource["identifier"]
        .as_array()?
        .iter()
        .find(|i| i["system"].as_str() == Some(system))
        .and_then(|i| i["value"].as_str())
}

/// The patient id in `subject`.
pub(crate) fn subject_id(resource: &Value) -> Option<&str> {
    resource.pointer("/subject/reference").and_then(Value::as_str).and_then(|r| r.strip_prefix("Patient/"))
}

/// Finds a request by access code + PESEL with the server's own look-up, and returns the
/// caller's session widened to that patient's `resource_type` (and what realising it writes)
/// plus the id. Anything wrong is the same 404.
pub(crate) async fn retrieve_by_code(
    session: &Session,
    resource_type: &str,
    code_system: &str,
    input: &Input,
) -> FhirResult<(Session, String)> {
    let code = input.text("code")?;
    let pesel = input.text("pesel")?;
    if session.is_confined() && !session.caller_user().is_some_and(|u| u.starts_with("Practitioner")) {
        return Err(FhirError::Forbidden("only a practitioner of the performing facility may retrieve".into()));
    }
    let nothing = || FhirError::NotFound(format!("no {resource_type} for this access code and PESEL"));
    if code.len() != 4 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(nothing());
    }
    let lookup = session.lookup();
    let patients = lookup.find(&["Patient"], &[("identifier", format!("{PESEL}|{pesel}"))], 1000).await?;
    for patient in &patients {
        let pid = patient.id();
        let request = [("identifier", format!("{code_system}|{code}")), ("subject", format!("Patient/{pid}"))];
        if let [one] = lookup.find(&[resource_type], &request, 2).await?.as_slice() {
            return Ok((widened_for(session, pid, resource_type), one.id().to_string()));
        }
    }
    Err(nothing())
}

/// The caller's session with write access to `patient`'s `resource_type` (and the records
/// realising it), for one who presented its access code.
pub(crate) fn widened_for(session: &Session, patient: &str, resource_type: &str) -> Session {
    let request = Visible {
        comp_type: "Patient".into(),
        comp_id: patient.into(),
        types: Some(vec![resource_type.to_string(), "Task".into(), "Appointment".into()]),
        write: true,
    };
    session.widen(request, BY_ACCESS_CODE)
}

/// The session to act on `resource_type/id` with: the caller's own when the policy lets it see
/// it, else (when the right access `code` is presented) one widened to the patient's record.
pub(crate) async fn acting_session(
    session: &Session,
    resource_type: &str,
    id: &str,
    code_system: &str,
    input: &Input,
) -> FhirResult<Session> {
    if let Some(Current::Live(_)) = session.current(resource_type, id).await? {
        return Ok(session.clone());
    }
    let missing = || not_found(resource_type, id);
    let Some(code) = input.params.text("code") else { return Err(missing()) };
    let Some(current) = session.lookup().read(resource_type, id).await? else { return Err(missing()) };
    if identifier(current.content(), code_system) != Some(code) {
        return Err(missing());
    }
    let patient = subject_id(current.content()).ok_or_else(missing)?;
    Ok(widened_for(session, patient, resource_type))
}

/// Sets (replaces) the extension `url` on `resource`.
pub(crate) fn set_extension(resource: &mut Value, url: &str, value: Value) {
    if !resource["extension"].is_array() {
        resource["extension"] = json!([]);
    }
    if let Some(list) = resource["extension"].as_array_mut() {
        list.retain(|e| e["url"].as_str() != Some(url));
        let mut ext = json!({"url": url});
        if let (Some(e), Value::Object(v)) = (ext.as_object_mut(), value) {
            e.extend(v);
        }
        list.push(ext);
    }
}

// ---- the referral workflow ----

async fn issue(session: &Session, input: &Input) -> FhirResult<Response> {
    let issuer = issuer(session)?;
    let mut referral = input.resource("ServiceRequest")?.clone();
    if subject_id(&referral).is_none() {
        return Err(FhirError::bad_request("a referral needs subject = Patient/[id]"));
    }
    let patient = subject_id(&referral).unwrap_or_default().to_string();
    let code = unique_code(session, "ServiceRequest", ACCESS_CODE, &patient).await?;
    stamp_new(&mut referral, issuer.as_deref(), code);
    if let Some(o) = referral.as_object_mut() {
        o.remove("id");
    }
    crate::interaction::create::create(session, "ServiceRequest", referral, None).await
}

/// Number, access code and key, status and dates of a new referral.
fn stamp_new(referral: &mut Value, issuer: Option<&str>, code: String) {
    let mut ids: Vec<Value> = referral["identifier"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| ![NUMBER, ACCESS_CODE, ACCESS_KEY].contains(&i["system"].as_str().unwrap_or("")))
        .collect();
    ids.push(json!({"system": NUMBER, "value": new_number()}));
    ids.push(json!({"system": ACCESS_CODE, "value": code}));
    ids.push(json!({"system": ACCESS_KEY, "value": uuid::Uuid::new_v4().to_string()}));
    referral["identifier"] = Value::Array(ids);
    referral["status"] = json!("active");
    referral["intent"] = json!("order");
    if referral["authoredOn"].as_str().is_none() {
        referral["authoredOn"] = json!(crate::clock::format_date(crate::clock::today()));
    }
    if let (None, Some(issuer)) = (referral.get("requester"), issuer) {
        referral["requester"] = json!({"reference": issuer});
    }
}

/// The workflow state of a referral.
pub fn state(referral: &Value) -> &str {
    match referral["status"].as_str() {
        Some("completed") => "completed",
        Some("revoked") | Some("entered-in-error") => "cancelled",
        _ => referral["extension"]
            .as_array()
            .and_then(|l| l.iter().find(|e| e["url"].as_str() == Some(BOOKING_STATUS)))
            .and_then(|e| e.pointer("/valueCoding/code"))
            .and_then(Value::as_str)
            .filter(|c| *c == "booked")
            .unwrap_or("issued"),
    }
}

async fn transition(session: &Session, id: &str, action: &str, input: &Input) -> FhirResult<Response> {
    let handle = if action == "cancel" {
        session.clone()
    } else {
        acting_session(session, "ServiceRequest", id, ACCESS_CODE, input).await?
    };
    let (mut referral, version) = super::current(&handle, "ServiceRequest", id).await?;
    let current = state(&referral).to_string();
    if current == "completed" || current == "cancelled" {
        return Err(FhirError::Conflict(format!("the referral is already {current}")));
    }
    let workflow = |code: &str| json!({"valueCoding": {"system": BOOKING_SYSTEM, "code": code}});
    match action {
        "book" => {
            if current == "booked" && input.params.value("appointment").is_none() {
                return Err(FhirError::Conflict("the referral is already booked".into()));
            }
            set_extension(&mut referral, BOOKING_STATUS, workflow("booked"));
            if let Some(appointment) = input.params.value("appointment") {
                let reference = match appointment {
                    Value::String(s) => s.clone(),
                    other => other["reference"].as_str().unwrap_or_default().to_string(),
                };
                if !reference.starts_with("Appointment/") {
                    return Err(FhirError::bad_request("appointment must be a reference to an Appointment"));
                }
                set_extension(&mut referral, APPOINTMENT, json!({"valueReference": {"reference": reference}}));
            }
        }
        "complete" => {
            if session.is_confined() && !session.caller_user().is_some_and(|u| u.starts_with("Practitioner")) {
                return Err(FhirError::Forbidden("only the performing practitioner may complete a referral".into()));
            }
            referral["status"] = json!("completed");
            set_extension(&mut referral, BOOKING_STATUS, workflow("completed"));
        }
        _ => {
            let requester = referral.pointer("/requester/reference").and_then(Value::as_str);
            if session.is_confined() && (requester.is_none() || requester != session.caller_user().as_deref()) {
                return Err(FhirError::Forbidden("only the issuer may cancel a referral".into()));
            }
            referral["status"] = json!("revoked");
            set_extension(&mut referral, BOOKING_STATUS, workflow("cancelled"));
        }
    }
    crate::interaction::update::update(&handle, "ServiceRequest", id, referral, Some(version)).await
}

/// A demo referral for `patient` in `state`, with a fixed access code.
fn demo_referral(id: &str, patient: &str, code: &str, state: &str, text: &str) -> Value {
    let mut r = json!({
        "resourceType": "ServiceRequest",
        "id": id,
        "meta": {"profile": ["https://ikp.example.org/fhir/StructureDefinition/PLServiceRequest"]},
        "identifier": [
            {"system": NUMBER, "value": format!("2026112000000000{code}00")},
            {"system": ACCESS_CODE, "value": code},
            {"system": ACCESS_KEY, "value": format!("demo-key-{code}")},
        ],
        "status": "active",
        "intent": "order",
        "category": [{"coding": [{"system": "urn:oid:2.16.840.1.113883.3.4424.11.1.32", "code": "02.11", "display": "Skierowanie na konsultację"}]}],
        "code": {"coding": [{"system": "urn:oid:2.16.840.1.113883.3.4424.11.2.6", "code": "89.00", "display": "Porada lekarska, konsultacja, asysta"}], "text": text},
        "subject": {"reference": format!("Patient/{patient}")},
        "authoredOn": "2026-11-20T10:00:00+01:00",
        "requester": {"reference": "Practitioner/demo-piotr-nowak"},
        "reasonCode": [{"coding": [{"system": "urn:oid:2.16.840.1.113883.6.3", "code": "I10", "display": "Samoistne (pierwotne) nadciśnienie"}]}],
    });
    let workflow = |code: &str| json!({"valueCoding": {"system": BOOKING_SYSTEM, "code": code}});
    match state {
        "booked" => set_extension(&mut r, BOOKING_STATUS, workflow("booked")),
        "completed" => {
            r["status"] = json!("completed");
            set_extension(&mut r, BOOKING_STATUS, workflow("completed"));
        }
        "cancelled" => {
            r["status"] = json!("revoked");
            set_extension(&mut r, BOOKING_STATUS, workflow("cancelled"));
        }
        _ => {}
    }
    r
}

/// Demo referrals (stored once by `ikp serve --demo`): Jan's cardiology referral, active with
/// access code 1234; booked (2345), completed (3456) and cancelled (4567) ones; Zofia's active
/// referral to a paediatric allergist (5678). All issued by Practitioner/demo-piotr-nowak.
pub fn demo() -> Vec<Value> {
    vec![
        demo_referral(
            "demo-skierowanie-kardiolog",
            "demo-jan-kowalski",
            "1234",
            "issued",
            "Konsultacja kardiologiczna",
        ),
        demo_referral("demo-skierowanie-okulista", "demo-jan-kowalski", "2345", "booked", "Konsultacja okulistyczna"),
        demo_referral(
            "demo-skierowanie-ortopeda",
            "demo-anna-kowalska",
            "3456",
            "completed",
            "Konsultacja ortopedyczna",
        ),
        demo_referral(
            "demo-skierowanie-dermatolog",
            "demo-anna-kowalska",
            "4567",
            "cancelled",
            "Konsultacja dermatologiczna",
        ),
        demo_referral(
            "demo-skierowanie-alergolog",
            "demo-zofia-kowalska",
            "5678",
            "issued",
            "Konsultacja alergologiczna",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A referral with `status` and, when given, the workflow extension with `workflow`.
    fn referral(status: &str, workflow: Option<&str>) -> Value {
        let mut r = json!({"resourceType": "ServiceRequest", "status": status, "intent": "order",
                           "subject": {"reference": "Patient/p1"}});
        if let Some(code) = workflow {
            set_extension(&mut r, BOOKING_STATUS, json!({"valueCoding": {"system": BOOKING_SYSTEM, "code": code}}));
        }
        r
    }

    /// The values of the identifiers of `system`.
    fn values<'a>(r: &'a Value, system: &str) -> Vec<&'a str> {
        r["identifier"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|i| i["system"] == system)
            .filter_map(|i| i["value"].as_str())
            .collect()
    }

    /// A referral number: the issue date (`YYYYMMDD`, UTC) and 14 digits.
    fn assert_number(number: &str) {
        assert_eq!(number.len(), 22, "{number}");
        assert!(number.bytes().all(|b| b.is_ascii_digit()), "{number}");
        let day = crate::clock::format_date(crate::clock::today()).replace('-', "");
        let yesterday = crate::clock::format_date(crate::clock::today() - time::Duration::days(1)).replace('-', "");
        // Yesterday too, should the test run over midnight.
        assert!(number.starts_with(&day) || number.starts_with(&yesterday), "{number} starts with {day}");
    }

    #[test]
    fn an_active_referral_without_a_booking_is_issued() {
        assert_eq!(state(&referral("active", None)), "issued");
    }

    #[test]
    fn an_active_referral_marked_booked_is_booked() {
        assert_eq!(state(&referral("active", Some("booked"))), "booked");
    }

    #[test]
    fn only_the_workflow_extension_marks_a_booking() {
        let mut r = referral("active", None);
        set_extension(&mut r, APPOINTMENT, json!({"valueCoding": {"system": BOOKING_SYSTEM, "code": "booked"}}));
        assert_eq!(state(&r), "issued", "another extension with the code 'booked'");
    }

    #[test]
    fn a_completed_referral_is_completed_whatever_its_booking() {
        assert_eq!(state(&referral("completed", Some("booked"))), "completed");
        assert_eq!(state(&referral("completed", None)), "completed");
    }

    #[test]
    fn a_revoked_or_entered_in_error_referral_is_cancelled() {
        assert_eq!(state(&referral("revoked", Some("cancelled"))), "cancelled");
        assert_eq!(state(&referral("revoked", Some("booked"))), "cancelled", "cancelled after booking");
        assert_eq!(state(&referral("entered-in-error", None)), "cancelled");
    }

    #[test]
    fn identifier_is_the_value_of_the_named_system() {
        let r = json!({"identifier": [
            {"system": NUMBER, "value": "2026112000000000123400"},
            {"system": ACCESS_CODE, "value": "1234"},
            {"system": ACCESS_KEY, "value": "key"},
        ]});
        assert_eq!(identifier(&r, ACCESS_CODE), Some("1234"));
        assert_eq!(identifier(&r, NUMBER), Some("2026112000000000123400"));
        assert_eq!(identifier(&r, "https://ikp.example.org/fhir/sid/e-order-access-code"), None);
        assert_eq!(identifier(&json!({}), ACCESS_CODE), None, "no identifiers");
    }

    #[test]
    fn subject_id_is_the_id_of_a_patient_subject_only() {
        assert_eq!(subject_id(&json!({"subject": {"reference": "Patient/p1"}})), Some("p1"));
        assert_eq!(subject_id(&json!({"subject": {"reference": "Group/g1"}})), None);
        assert_eq!(subject_id(&json!({"subject": {"display": "Jan Kowalski"}})), None);
        assert_eq!(subject_id(&json!({})), None);
    }

    #[test]
    fn set_extension_replaces_the_extension_of_its_url_and_keeps_the_others() {
        let mut r = referral("active", Some("booked"));
        set_extension(&mut r, APPOINTMENT, json!({"valueReference": {"reference": "Appointment/a1"}}));
        set_extension(&mut r, BOOKING_STATUS, json!({"valueCoding": {"system": BOOKING_SYSTEM, "code": "completed"}}));
        let extensions = r["extension"].as_array().unwrap();
        assert_eq!(extensions.len(), 2, "{extensions:?}");
        let workflow: Vec<&Value> = extensions.iter().filter(|e| e["url"] == BOOKING_STATUS).collect();
        assert_eq!(workflow.len(), 1, "one workflow extension");
        assert_eq!(workflow[0]["valueCoding"]["code"], "completed");
        assert!(extensions.iter().any(|e| e["valueReference"]["reference"] == "Appointment/a1"));
    }

    #[test]
    fn set_extension_starts_the_extension_list() {
        let mut r = json!({"resourceType": "ServiceRequest"});
        set_extension(&mut r, APPOINTMENT, json!({"valueReference": {"reference": "Appointment/a1"}}));
        assert_eq!(r["extension"], json!([{"url": APPOINTMENT, "valueReference": {"reference": "Appointment/a1"}}]));
    }

    #[test]
    fn stamp_new_assigns_one_number_access_code_and_key_replacing_the_clients() {
        let mut r = referral("draft", None);
        r["identifier"] = json!([
            {"system": NUMBER, "value": "mine"},
            {"system": ACCESS_CODE, "value": "0000"},
            {"system": ACCESS_KEY, "value": "mine"},
            {"system": "urn:oid:1.2.3", "value": "local-42"},
        ]);
        stamp_new(&mut r, Some("Practitioner/d1"), "4321".into());
        assert_eq!(values(&r, ACCESS_CODE), ["4321"]);
        let (numbers, keys) = (values(&r, NUMBER), values(&r, ACCESS_KEY));
        assert_eq!((numbers.len(), keys.len()), (1, 1), "one number and one key: {r}");
        assert_number(numbers[0]);
        assert!(uuid::Uuid::parse_str(keys[0]).is_ok(), "the key is a UUID: {}", keys[0]);
        assert_eq!(values(&r, "urn:oid:1.2.3"), ["local-42"], "other identifiers are kept");
    }

    #[test]
    fn stamp_new_issues_an_active_order_dated_today_unless_dated() {
        let mut r = referral("draft", None);
        r["intent"] = json!("proposal");
        stamp_new(&mut r, None, "1234".into());
        assert_eq!(r["status"], "active");
        assert_eq!(r["intent"], "order");
        assert_eq!(r["authoredOn"], crate::clock::format_date(crate::clock::today()));
        let mut dated = referral("draft", None);
        dated["authoredOn"] = json!("2026-11-20T10:00:00+01:00");
        stamp_new(&mut dated, None, "1234".into());
        assert_eq!(dated["authoredOn"], "2026-11-20T10:00:00+01:00");
    }

    #[test]
    fn stamp_new_names_the_issuer_as_requester_only_when_none_is_given() {
        let mut r = referral("draft", None);
        stamp_new(&mut r, Some("Practitioner/d1"), "1234".into());
        assert_eq!(r["requester"]["reference"], "Practitioner/d1");
        let mut given = referral("draft", None);
        given["requester"] = json!({"reference": "PractitionerRole/r1"});
        stamp_new(&mut given, Some("Practitioner/d1"), "1234".into());
        assert_eq!(given["requester"]["reference"], "PractitionerRole/r1");
        let mut backend = referral("draft", None);
        stamp_new(&mut backend, None, "1234".into());
        assert!(backend.get("requester").is_none(), "a backend service names no requester");
    }

    #[test]
    fn new_number_is_the_date_and_fourteen_random_digits() {
        let (a, b) = (new_number(), new_number());
        assert_number(&a);
        assert_number(&b);
        assert_ne!(&a[8..], &b[8..], "the digits after the date are drawn anew");
    }
}

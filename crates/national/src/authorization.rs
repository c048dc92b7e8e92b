//! Authorisations ("Uprawnienia"): a patient, or the parent of a minor, grants and revokes access
//! to their record as `Consent` resources that the access policy (`crate::access::entitlements`)
//! reads on every request, so a grant or a revocation takes effect at once.
//!
//! - `POST Patient/[id]/$grant-access`: `category` = `proxy-read` (a close person sees the
//!   record), `proxy-act` (and acts: collects prescriptions, books visits), `prescriptions-only`
//!   (a pharmacy or a named pharmacist), `doctor-history` (a doctor, nurse or whole facility),
//!   `parent-access` (the registering parent lets the other parent in; ends at 18); `grantee` =
//!   a reference (`Patient/..`, `Practitioner/..`, `PractitionerRole/..`, `Organization/..`) or
//!   `granteePesel` + `granteeFamily` (as IKP asks: PESEL and surname, both must match); optional
//!   `start`, `end` (dateTime); `class` (resource types, repeatable) narrows it further.
//! - `POST Consent/[id]/$revoke`: the grantor ends it now (status `inactive`, period end = now).
//! - `POST Patient/[id]/$access-code`: the patient obtains a one-time 8-digit code (valid 10
//!   minutes, stored only as a hash) to read out to a doctor — IKP sends it by SMS;
//!   `POST Patient/$redeem-access-code` (`pesel`, `code`): the doctor who presents it gets a
//!   24-hour `doctor-24h` authorisation. A wrong code voids the pending one (one guess per code).
//!
//! Who may grant: an adult patient for themselves, and a parent or guardian (by RelatedPerson,
//! not by someone else's Consent) for their minor child. 16- and 17-year-olds, proxies and doctors
//! cannot pass access on.

use serde_json::{Value, json};

use crate::access::Reason;
use crate::access::entitlements::{self, AUTHORIZATION_TYPES};
use crate::clock::{instant, now};
use crate::error::{FhirError, FhirResult};
use crate::interaction::operation::{Call, Input};
use crate::interaction::{Response, create, update};
use crate::session::{Current, Session, Write};
use crate::terminology::naming::PESEL;

/// A doctor who presents the patient's one-time code (or a wrong one, which voids it) writes the
/// pending Consent the code belongs to.
pub const ONE_TIME_CODE: Reason =
    Reason { code: "one-time-access-code", display: "the doctor presented the patient's one-time access code" };

/// Categories a grant may have, and what the grantee may be.
const CATEGORIES: &[&str] = &["proxy-read", "proxy-act", "prescriptions-only", "doctor-history", "parent-access"];

/// How long a one-time access code is valid, and what it gives.
const CODE_MINUTES: i64 = 10;
const CODE_ACCESS_HOURS: i64 = 24;
/// Where the hash of a pending one-time code is kept on its Consent.
const CODE_HASH_SYSTEM: &str = "https://ikp.example.org/fhir/sid/access-code-hash";
const CONSENT_PROFILE: &str = "https://ikp.example.org/fhir/StructureDefinition/PLConsent";

/// `Patient/[id]/$grant-access`.
pub async fn grant_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    grant(session, call.id(), &call.input).await
}

/// `Consent/[id]/$revoke`.
pub async fn revoke_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    revoke(session, call.id()).await
}

/// `Patient/[id]/$access-code`.
pub async fn access_code_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    access_code(session, call.id()).await
}

/// `Patient/$redeem-access-code`.
pub async fn redeem_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    redeem(session, &call.input).await
}

/// The caller's FHIR user reference (`Patient/1`), required.
fn required_user(session: &Session) -> FhirResult<String> {
    session
        .caller_user()
        .ok_or_else(|| FhirError::Forbidden("authorisations are granted by a patient or a parent".into()))
}

/// Checks that the caller may grant or revoke access to `patient`'s record: the adult patient,
/// or their parent or guardian while they are a minor. Without authorization on, anyone may.
async fn may_authorise(session: &Session, patient: &str) -> FhirResult<Option<String>> {
    super::current(session, "Patient", patient).await?;
    let Some(caller) = session.caller() else { return Ok(None) };
    let user = caller.principal.fhir_user.clone();
    let ent = entitlements::entitlements(session, user.as_deref()).await?;
    let own = ent.own_patient.as_deref() == Some(patient) && ent.adult;
    let parent = ent.children.iter().any(|(c, _)| c == patient);
    if own || parent {
        Ok(user)
    } else {
        Err(FhirError::Forbidden(format!(
            "only the adult patient, or a parent of a minor, may grant or revoke access to Patient/{patient}"
        )))
    }
}

async fn grant(session: &Session, patient: &str, input: &Input) -> FhirResult<Response> {
    let granter = may_authorise(session, patient).await?;
    let category = input.text("category")?;
    if !CATEGORIES.contains(&category) {
        return Err(FhirError::bad_request(format!("category must be one of {}", CATEGORIES.join(", "))));
    }
    let allowed_kinds: &[&str] = match category {
        "proxy-read" | "proxy-act" | "parent-access" => &["Patient", "RelatedPerson"],
        _ => &["Practitioner", "PractitionerRole", "Organization"],
    };
    let grantee = grantee(session, input, category, allowed_kinds).await?;
    if grantee == format!("Patient/{patient}") {
        return Err(FhirError::bad_request("a patient needs no authorisation for their own record"));
    }
    let now_text = instant(now());
    let mut period = serde_json::Map::new();
    period.insert("start".into(), json!(input.params.text("start").unwrap_or(&now_text)));
    if let Some(end) = input.params.text("end") {
        period.insert("end".into(), json!(end));
    }
    let mut provision = json!({
        "type": "permit",
        "period": period,
        "actor": [{
            "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "DELEGATEE"}]},
            "reference": {"reference": grantee},
        }],
    });
    // A person named by PESEL is shown to the granter by the name the granter typed (so the
    // list of authorisations says who, and nothing the granter did not already know).
    if input.params.text("grantee").is_none()
        && let Some(family) = input.params.text("granteeFamily")
    {
        provision["actor"][0]["reference"]["display"] = json!(family);
    }
    let mut types: Vec<&str> = input.params.values("class").filter_map(Value::as_str).collect();
    if types.is_empty() && category == "prescriptions-only" {
        types = vec!["MedicationRequest", "MedicationDispense"];
    }
    let classes: Vec<Value> =
        types.iter().map(|t| json!({"system": "http://hl7.org/fhir/resource-types", "code": t})).collect();
    if !classes.is_empty() {
        provision["class"] = Value::Array(classes);
    }
    let consent = consent_body(patient, category, granter.as_deref(), "active", provision);
    create::create(session, "Consent", consent, None).await
}

fn consent_body(patient: &str, category: &str, granter: Option<&str>, status: &str, provision: Value) -> Value {
    let mut consent = json!({
        "resourceType": "Consent",
        "meta": {"profile": [CONSENT_PROFILE]},
        "status": status,
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": AUTHORIZATION_TYPES, "code": category}]}],
        "patient": {"reference": format!("Patient/{patient}")},
        "dateTime": instant(now()),
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
        "provision": provision,
    });
    if let Some(g) = granter {
        consent["performer"] = json!([{"reference": g}]);
    }
    consent
}

/// The grantee, of one of the `allowed` kinds: a reference to what the granter may see (a
/// practitioner, role or organisation is public; a person whose record the granter cannot see
/// is answered exactly as one that does not exist), or a PESEL and surname that must both match
/// one person, as in IKP.
async fn grantee(session: &Session, input: &Input, category: &str, allowed: &[&str]) -> FhirResult<String> {
    if let Some(reference) = input.params.text("grantee") {
        let Some((t, id)) = reference.split_once('/') else {
            return Err(FhirError::bad_request("grantee must be a reference such as Practitioner/123"));
        };
        // The kind first, so that nothing is looked up for a grantee that cannot fit.
        if !allowed.contains(&t) {
            return Err(FhirError::bad_request(format!(
                "a {category} authorisation is given to {}, not to a {t}",
                allowed.join(" or ")
            )));
        }
        if !matches!(session.current(t, id).await?, Some(Current::Live(_))) {
            return Err(FhirError::bad_request(format!(
                "{reference} is not known to you; name a person by granteePesel and granteeFamily"
            )));
        }
        return Ok(format!("{t}/{id}"));
    }
    let pesel = input.text("granteePesel")?;
    let family = input.text("granteeFamily")?;
    let kinds: Vec<&str> = ["Patient", "Practitioner"].into_iter().filter(|k| allowed.contains(k)).collect();
    for t in kinds {
        let same_pesel = [("identifier", format!("{PESEL}|{pesel}"))];
        for found in session.lookup().find(&[t], &same_pesel, 1000).await? {
            let person = found.content();
            let matches = person["name"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|n| n["family"].as_str().is_some_and(|f| f.to_lowercase() == family.to_lowercase()));
            if matches && let Some(id) = person["id"].as_str() {
                return Ok(format!("{t}/{id}"));
            }
        }
    }
    Err(FhirError::bad_request("no person with this PESEL and surname"))
}

async fn revoke(session: &Session, consent_id: &str) -> FhirResult<Response> {
    let (mut consent, version) = super::current(session, "Consent", consent_id).await?;
    let patient = consent
        .pointer("/patient/reference")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("Patient/"))
        .map(str::to_string)
        .ok_or_else(|| FhirError::bad_request("the Consent names no patient"))?;
    may_authorise(session, &patient).await?;
    if consent["status"] != "active" {
        return Err(FhirError::Conflict(format!("Consent/{consent_id} is not active")));
    }
    consent["status"] = json!("inactive");
    consent["provision"]["period"]["end"] = json!(instant(now()));
    update::update(session, "Consent", consent_id, consent, Some(version)).await
}

/// A fresh one-time code for the patient's record, as a pending Consent holding its hash.
async fn access_code(session: &Session, patient: &str) -> FhirResult<Response> {
    let granter = may_authorise(session, patient).await?;
    let code = super::random_digits(8);
    let expires = now() + CODE_MINUTES * 60 * 1_000_000;
    let provision = json!({"type": "permit", "period": {"start": instant(now()), "end": instant(expires)}});
    let mut consent = consent_body(patient, "doctor-24h", granter.as_deref(), "proposed", provision);
    // The id is assigned here, as the code's hash is bound to it.
    let id = crate::session::prepare::new_id();
    consent["id"] = json!(id);
    // Pending, with no grantee yet: not a complete PLConsent until a doctor redeems the code.
    if let Some(o) = consent.as_object_mut() {
        o.remove("meta");
    }
    consent["identifier"] = json!([{"system": CODE_HASH_SYSTEM, "value": code_hash(&id, &code)}]);
    session.commit(Write::put_assigned("Consent", &id, consent)).await?;
    let body = crate::interaction::terminology_operations::parameters(vec![
        json!({"name": "code", "valueString": code}),
        json!({"name": "expires", "valueInstant": instant(expires)}),
    ]);
    Ok(Response::resource(200, body))
}

/// A doctor presents the code: the pending Consent becomes 24 hours of access for them.
async fn redeem(session: &Session, input: &Input) -> FhirResult<Response> {
    let doctor = required_user(session)?;
    if !doctor.starts_with("Practitioner/") {
        return Err(FhirError::Forbidden("one-time access codes are redeemed by doctors and nurses".into()));
    }
    let pesel = input.text("pesel")?;
    let code = input.text("code")?;
    let refused = || FhirError::NotFound("no pending access code for this PESEL".into());
    let lookup = session.lookup();
    let patients = lookup.find(&["Patient"], &[("identifier", format!("{PESEL}|{pesel}"))], 2).await?;
    let [patient] = patients.as_slice() else { return Err(refused()) };
    let patient_id = patient.id().to_string();
    let pending_codes = [("patient", format!("Patient/{patient_id}")), ("status", "proposed".to_string())];
    let now_text = instant(now());
    for found in lookup.find(&["Consent"], &pending_codes, 1000).await? {
        let pending = found.content();
        let id = found.id().to_string();
        let version = found.version();
        let mut consent = pending.clone();
        let Some(hash) = pending["identifier"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| i["system"] == CODE_HASH_SYSTEM)
            .and_then(|i| i["value"].as_str())
        else {
            continue;
        };
        let expired =
            pending.pointer("/provision/period/end").and_then(Value::as_str).is_none_or(|end| *end < *now_text);
        let right = crate::auth::same_secret(hash, &code_hash(&id, code));
        if expired || !right {
            // One guess per code: a wrong or late code voids it.
            consent["status"] = json!("rejected");
            session.commit(Write::update("Consent", &id, consent, Some(version)).vouched_by(ONE_TIME_CODE)).await?;
            continue;
        }
        let from = now();
        let until = from + CODE_ACCESS_HOURS * 3600 * 1_000_000;
        consent["status"] = json!("active");
        consent["meta"] = json!({"profile": [CONSENT_PROFILE]});
        if let Some(o) = consent.as_object_mut() {
            o.remove("identifier");
        }
        consent["provision"] = json!({
            "type": "permit",
            "period": {"start": instant(from), "end": instant(until)},
            "actor": [{
                "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "DELEGATEE"}]},
                "reference": {"reference": doctor},
            }],
        });
        // The code is the patient's authorisation: the doctor writes the Consent as its grantee.
        let granted = Write::update("Consent", &id, consent, Some(version)).vouched_by(ONE_TIME_CODE);
        let written = session.commit(granted).await?.remove(0);
        return Ok(Response::written(session, written));
    }
    Err(refused())
}

/// The stored form of a code: bound to its Consent, so a hash is useless elsewhere.
fn code_hash(consent_id: &str, code: &str) -> String {
    let digest = openssl::sha::sha256(format!("{consent_id}:{code}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Demo authorisations: Jan lets Krystyna act for him; Anna, who registered Zofia, lets Zofia's
/// father Tomasz in (until Zofia turns 18).
pub fn demo() -> Vec<Value> {
    let authorisation = |id: &str, patient: &str, category: &str, granter: &str, grantee: &str, display: &str| {
        let mut consent = consent_body(
            patient,
            category,
            Some(granter),
            "active",
            json!({
                "type": "permit",
                "period": {"start": "2026-01-01T00:00:00+01:00"},
                "actor": [{
                    "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "DELEGATEE"}]},
                    "reference": {"reference": grantee, "display": display},
                }],
            }),
        );
        consent["id"] = json!(id);
        consent["dateTime"] = json!("2026-01-01T00:00:00+01:00");
        consent
    };
    vec![
        authorisation(
            "demo-jan-authorises-krystyna",
            "demo-jan-kowalski",
            "proxy-act",
            "Patient/demo-jan-kowalski",
            "Patient/demo-krystyna-nowak",
            "Krystyna Nowak",
        ),
        authorisation(
            "demo-anna-lets-tomasz-see-zofia",
            "demo-zofia-kowalska",
            "parent-access",
            "RelatedPerson/demo-anna-mother-of-zofia",
            "Patient/demo-tomasz-kowalski",
            "Tomasz Kowalski",
        ),
    ]
}

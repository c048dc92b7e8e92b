//! Who logged in, and which FHIR resources they are. Identity providers (the built-in demo login,
//! an upstream OpenID Connect provider) each produce a [`VerifiedIdentity`]; everything after that
//! (the account, the patients the user may act for) is decided here, once, from the FHIR data:
//!
//! - the user's own `Patient` (identifier PESEL), else their `Practitioner`, is the `fhirUser`;
//! - a `RelatedPerson` with the user's PESEL as identifier links them to another patient; if that
//!   patient is under 18 (birth date), the user may act for them, as that RelatedPerson;
//! - the patient picker offers exactly the patients whose whole record the access policy
//!   (`crate::access::entitlements`) opens to the user: self, minor children, those who
//!   authorised them by Consent, a doctor's primary-care patients.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{AuthError, AuthServer};
use crate::access::entitlements::OWN_ACCOUNT_AGE;
use crate::clock::age_in_years;
use crate::terminology::naming::PESEL;

/// An identity an identity provider vouches for.
#[derive(Debug, Clone)]
pub struct VerifiedIdentity {
    /// The PESEL (checksum-validated).
    pub pesel: String,
    /// Who vouched: `demo` or the upstream issuer.
    pub provider: String,
    /// Level of assurance reported by the provider.
    pub acr: Option<String>,
}

/// A patient the user may pick, and who the user is when acting for them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PatientChoice {
    pub patient_id: String,
    pub display: String,
    /// `Patient/x` for self, `RelatedPerson/y` for a parent acting for a child.
    pub acting_as: String,
}

/// A logged-in user, resolved to FHIR resources.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub subject: String,
    pub fhir_user: Option<String>,
    pub choices: Vec<PatientChoice>,
}

/// Validates a PESEL's format, date and checksum.
pub fn valid_pesel(pesel: &str) -> bool {
    crate::validation::rules::pesel(pesel).is_ok()
}

/// Resources matching `pairs`, found with the server's own look-up (a login is before any policy).
async fn find(auth: &AuthServer, resource_type: &str, pairs: &[(&str, String)]) -> Result<Vec<Value>, AuthError> {
    let found = auth.session.lookup().find(&[resource_type], pairs, 1000).await;
    let found = found.map_err(|e| AuthError::Internal(e.to_string()))?;
    Ok(found.iter().map(|sealed| sealed.content().clone()).collect())
}

fn id_of(resource: &Value) -> Option<String> {
    resource.get("id").and_then(Value::as_str).map(str::to_string)
}

fn display_name(resource: &Value) -> String {
    let name = resource.get("name").and_then(|n| n.get(0));
    let given = name
        .and_then(|n| n.get("given"))
        .and_then(Value::as_array)
        .map(|g| g.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let family = name.and_then(|n| n.get("family")).and_then(Value::as_str).unwrap_or_default();
    format!("{given} {family}").trim().to_string()
}

/// The Patient whose PESEL this is, if exactly one (to file a lockout of their account in their
/// own audit trail).
pub async fn patient_with_pesel(auth: &AuthServer, pesel: &str) -> Result<Option<String>, AuthError> {
    if !valid_pesel(pesel) {
        return Ok(None);
    }
    let patients = find(auth, "Patient", &[("identifier", format!("{PESEL}|{pesel}"))]).await?;
    Ok(match patients.as_slice() {
        [one] => id_of(one),
        _ => None,
    })
}

/// Resolves a verified identity to its account: `fhirUser` and the patients it may act for.
pub async fn resolve_account(auth: &AuthServer, identity: &VerifiedIdentity) -> Result<Account, AuthError> {
    if !valid_pesel(&identity.pesel) {
        return Err(AuthError::LoginFailed("the identity provider returned an invalid PESEL".into()));
    }
    let by_pesel = [("identifier", format!("{PESEL}|{}", identity.pesel))];
    let patients = find(auth, "Patient", &by_pesel).await?;
    if patients.len() > 1 {
        // Never guess between duplicates: that is a data-quality case for a human.
        return Err(AuthError::LoginFailed("more than one Patient has this PESEL".into()));
    }
    let too_young = patients.first().and_then(|p| p.get("birthDate")).and_then(Value::as_str).and_then(age_in_years);
    if too_young.is_some_and(|age| age < OWN_ACCOUNT_AGE) {
        return Err(AuthError::LoginFailed(format!(
            "patients under {OWN_ACCOUNT_AGE} use the account through a parent or guardian"
        )));
    }
    // Who the user is: their Patient, else their Practitioner, else a RelatedPerson they are.
    let mut fhir_user = patients.first().and_then(id_of).map(|id| format!("Patient/{id}"));
    for t in ["Practitioner", "RelatedPerson"] {
        if fhir_user.is_none() {
            fhir_user = find(auth, t, &by_pesel).await?.first().and_then(id_of).map(|id| format!("{t}/{id}"));
        }
    }
    // The picker offers exactly the patients whose whole record the access policy opens: self,
    // minor children (acting as the parent's RelatedPerson), those who authorised the user, a
    // doctor's primary-care patients.
    let ent = crate::access::entitlements::entitlements(&auth.session, fhir_user.as_deref())
        .await
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    let mut choices: Vec<PatientChoice> = Vec::new();
    for visible in ent.reach.visible.iter().filter(|v| v.comp_type == "Patient" && v.types.is_none()) {
        if choices.iter().any(|c| c.patient_id == visible.comp_id) {
            continue;
        }
        let Ok(Some(stored)) = auth.session.lookup().read("Patient", &visible.comp_id).await else { continue };
        let patient = stored.content();
        let acting_as = if ent.own_patient.as_deref() == Some(visible.comp_id.as_str()) {
            format!("Patient/{}", visible.comp_id)
        } else if let Some((_, related)) = ent.children.iter().find(|(c, _)| *c == visible.comp_id) {
            format!("RelatedPerson/{related}")
        } else {
            fhir_user.clone().unwrap_or_default()
        };
        choices.push(PatientChoice { patient_id: visible.comp_id.clone(), display: display_name(patient), acting_as });
    }
    Ok(Account { subject: auth.subject_for(&identity.pesel), fhir_user, choices })
}

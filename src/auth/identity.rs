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
use crate::access::entitlements::{ADULT_AGE, OWN_ACCOUNT_AGE, age_in_years};
use crate::interaction::Body;
use crate::interaction::search::{Scope, search};
use crate::synth::fhir::PESEL;

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

async fn find(auth: &AuthServer, resource_type: &str, pairs: &[(&str, String)]) -> Result<Vec<Value>, AuthError> {
    let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let response = search(&auth.fhir, Scope::Type(resource_type.to_string()), &pairs, true)
        .await
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    let Some(Body::Bundle(bundle)) = response.body else { return Ok(Vec::new()) };
    bundle
        .entries
        .iter()
        .filter_map(|e| e.resource.as_ref())
        .map(|r| r.to_value().map_err(|e| AuthError::Internal(e.to_string())))
        .collect()
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
    let mut choices = Vec::new();
    let mut fhir_user = None;
    if let Some(own) = patients.first().and_then(|p| id_of(p).map(|id| (id, display_name(p)))) {
        fhir_user = Some(format!("Patient/{}", own.0));
        choices.push(PatientChoice {
            patient_id: own.0.clone(),
            display: own.1,
            acting_as: format!("Patient/{}", own.0),
        });
    } else if let Some(id) = find(auth, "Practitioner", &by_pesel).await?.first().and_then(id_of) {
        fhir_user = Some(format!("Practitioner/{id}"));
    }
    for related in find(auth, "RelatedPerson", &by_pesel).await? {
        let (Some(rp_id), Some(reference)) =
            (id_of(&related), related.pointer("/patient/reference").and_then(Value::as_str))
        else {
            continue;
        };
        let Some(child_id) = reference.strip_prefix("Patient/") else { continue };
        let Ok(Some(stored)) = auth.fhir.store.read("Patient", child_id).await else { continue };
        let Some(child) = stored.content.as_deref().and_then(|c| serde_json::from_str::<Value>(c).ok()) else {
            continue;
        };
        let minor =
            child.get("birthDate").and_then(Value::as_str).and_then(age_in_years).is_some_and(|a| a < ADULT_AGE);
        if minor {
            choices.push(PatientChoice {
                patient_id: child_id.to_string(),
                display: display_name(&child),
                acting_as: format!("RelatedPerson/{rp_id}"),
            });
        }
        if fhir_user.is_none() {
            fhir_user = Some(format!("RelatedPerson/{rp_id}"));
        }
    }
    // Everyone else whose whole record the access policy opens to this user: patients who
    // authorised them (a proxy, the other parent, a doctor) and a doctor's primary-care patients.
    let reach = crate::access::entitlements::entitled(&auth.fhir, fhir_user.as_deref())
        .await
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    let whole_record =
        |id: &str| reach.visible.iter().any(|v| v.comp_type == "Patient" && v.comp_id == id && v.types.is_none());
    // The picker offers exactly what the policy will allow (a RelatedPerson that is not a parent
    // or guardian gives nothing).
    choices.retain(|c| whole_record(&c.patient_id));
    for visible in reach.visible.iter().filter(|v| v.comp_type == "Patient" && v.types.is_none()) {
        if choices.iter().any(|c| c.patient_id == visible.comp_id) {
            continue;
        }
        let Ok(Some(stored)) = auth.fhir.store.read("Patient", &visible.comp_id).await else { continue };
        let Some(patient) = stored.content.as_deref().and_then(|c| serde_json::from_str::<Value>(c).ok()) else {
            continue;
        };
        choices.push(PatientChoice {
            patient_id: visible.comp_id.clone(),
            display: display_name(&patient),
            acting_as: fhir_user.clone().unwrap_or_default(),
        });
    }
    Ok(Account { subject: auth.subject_for(&identity.pesel), fhir_user, choices })
}

//! The access policy: given who is calling ([`Principal`]) and what they ask for
//! ([`AccessRequest`]), allow, allow within limits, or deny. This is the one place such decisions
//! are made; the REST layer asks it before running an interaction.
//!
//! Implemented now: the coarse SMART rules. The granted scopes must cover the resource type and
//! interaction; a `patient/` scope confines reads and searches to the patient in context (its
//! compartment); the caller's own `fhirUser` resource is always readable. Finer rules (parents,
//! proxies, consents, clinicians' relationships) belong here later, as more [`Decision`]s.

use crate::auth::principal::Principal;
use crate::auth::scopes::{Context, Interaction, ResourceScope};

/// What a request wants to do, in FHIR terms.
#[derive(Debug, Clone)]
pub enum AccessRequest {
    /// A system-level interaction (system search or history, batch/transaction, `$reindex`).
    System { interaction: Interaction },
    /// An interaction on a type (search, create, conditional update/delete).
    Type { resource_type: String, interaction: Interaction },
    /// An interaction on one resource.
    Instance { resource_type: String, id: String, interaction: Interaction },
    /// A search of one type within a compartment (`Patient/123/Observation`).
    Compartment { compartment_type: String, compartment_id: String, resource_type: String },
}

/// The policy's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Allowed, but only within this patient's compartment: searches are narrowed to it, reads of
    /// a resource outside it are refused. A filter narrows further, as for [`Decision::Filtered`].
    WithinPatient {
        patient: String,
        filter: Vec<(String, String)>,
    },
    /// Allowed, with granular filters (`category=laboratory`): searches get them added, and a read
    /// is allowed only if the resource matches them.
    Filtered(Vec<(String, String)>),
    Deny(String),
}

/// Decides a request.
pub fn decide(principal: &Principal, request: &AccessRequest) -> Decision {
    match request {
        AccessRequest::System { interaction } => {
            // Only a token that may do this to every type may act system-wide.
            let everything = principal.scopes.resources.iter().any(|s| {
                s.resource_type.is_none()
                    && s.context != Context::Patient
                    && s.filter.is_empty()
                    && s.permissions.allows(*interaction)
            });
            if everything { Decision::Allow } else { Decision::Deny("system-level access needs a */ scope".into()) }
        }
        AccessRequest::Type { resource_type, interaction } => by_scopes(principal, resource_type, *interaction),
        AccessRequest::Instance { resource_type, id, interaction } => {
            if *interaction == Interaction::Read && principal.is_own_resource(resource_type, id) {
                return Decision::Allow;
            }
            let writing = *interaction != Interaction::Read;
            match by_scopes(principal, resource_type, *interaction) {
                Decision::WithinPatient { patient, .. } if resource_type == "Patient" && *id != patient => {
                    Decision::Deny(format!("the token is limited to Patient/{patient}"))
                }
                // Whether a write matches a granular filter would need the resource body: refused.
                Decision::Filtered(_) if writing => {
                    Decision::Deny("granular scopes allow reads and searches only".into())
                }
                Decision::WithinPatient { filter, .. } if writing && !filter.is_empty() => {
                    Decision::Deny("granular scopes allow reads and searches only".into())
                }
                other => other,
            }
        }
        AccessRequest::Compartment { compartment_type, compartment_id, resource_type } => {
            match by_scopes(principal, resource_type, Interaction::Search) {
                Decision::WithinPatient { patient, .. }
                    if compartment_type != "Patient" || *compartment_id != patient =>
                {
                    Decision::Deny(format!("the token is limited to Patient/{patient}"))
                }
                other => other,
            }
        }
    }
}

/// The coarse scope rule: user/system scopes first (they are not confined), then patient scopes.
fn by_scopes(principal: &Principal, resource_type: &str, interaction: Interaction) -> Decision {
    let granting: Vec<&ResourceScope> = principal.scopes.granting(resource_type, interaction).collect();
    let unconfined: Vec<&&ResourceScope> = granting.iter().filter(|s| s.context != Context::Patient).collect();
    if !unconfined.is_empty() {
        return with_filters(unconfined.iter().map(|s| **s), |filter| {
            if filter.is_empty() { Decision::Allow } else { Decision::Filtered(filter) }
        });
    }
    if granting.is_empty() {
        return Decision::Deny(format!("no granted scope allows {interaction:?} on {resource_type}"));
    }
    let Some(patient) = principal.patient.clone() else {
        return Decision::Deny("patient/ scopes need a patient in context".into());
    };
    with_filters(granting.into_iter(), |filter| Decision::WithinPatient { patient: patient.clone(), filter })
}

/// Combines the granular filters of the scopes that grant access. Any unfiltered scope means no
/// filter. Filters on one parameter combine as OR (`category=a,b`); anything more complex is
/// refused rather than risk granting too much.
fn with_filters<'a>(
    scopes: impl Iterator<Item = &'a ResourceScope>,
    decide: impl FnOnce(Vec<(String, String)>) -> Decision,
) -> Decision {
    let mut name: Option<String> = None;
    let mut values: Vec<String> = Vec::new();
    for scope in scopes {
        match scope.filter.as_slice() {
            [] => return decide(Vec::new()),
            [(k, v)] if name.as_ref().is_none_or(|n| n == k) => {
                name = Some(k.clone());
                values.push(v.clone());
            }
            _ => return Decision::Deny("these granular scopes cannot be combined".into()),
        }
    }
    match name {
        Some(name) => decide(vec![(name, values.join(","))]),
        None => decide(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::principal::Actor;
    use crate::auth::scopes::Scopes;

    fn principal(scopes: &str, patient: Option<&str>) -> Principal {
        Principal {
            client_id: "app".into(),
            subject: Some("s".into()),
            fhir_user: Some("RelatedPerson/rp".into()),
            actor: Actor::RelatedPerson("rp".into()),
            patient: patient.map(str::to_string),
            scopes: Scopes::parse(scopes),
            expires_at: 0,
        }
    }

    fn instance(t: &str, id: &str, interaction: Interaction) -> AccessRequest {
        AccessRequest::Instance { resource_type: t.into(), id: id.into(), interaction }
    }

    #[test]
    fn patient_scopes_confine_to_the_patient() {
        let p = principal("patient/*.rs", Some("child"));
        let within = Decision::WithinPatient { patient: "child".into(), filter: Vec::new() };
        assert_eq!(decide(&p, &instance("Patient", "child", Interaction::Read)), within);
        assert!(matches!(decide(&p, &instance("Patient", "other", Interaction::Read)), Decision::Deny(_)));
        assert!(matches!(decide(&p, &instance("Observation", "o", Interaction::Update)), Decision::Deny(_)));
        // The caller's own fhirUser resource is always readable.
        assert_eq!(decide(&p, &instance("RelatedPerson", "rp", Interaction::Read)), Decision::Allow);
        assert!(matches!(decide(&p, &AccessRequest::System { interaction: Interaction::Search }), Decision::Deny(_)));
        // Without a patient in context, patient scopes give nothing.
        let lost = principal("patient/*.rs", None);
        assert!(matches!(decide(&lost, &instance("Observation", "o", Interaction::Read)), Decision::Deny(_)));
    }

    #[test]
    fn user_and_system_scopes_and_granular_filters() {
        let p = principal("user/Observation.rs?category=laboratory user/Observation.rs?category=vital-signs", None);
        let search = AccessRequest::Type { resource_type: "Observation".into(), interaction: Interaction::Search };
        assert_eq!(decide(&p, &search), Decision::Filtered(vec![("category".into(), "laboratory,vital-signs".into())]));
        assert!(matches!(decide(&p, &instance("Observation", "o", Interaction::Delete)), Decision::Deny(_)));
        let admin = principal("system/*.cruds", None);
        assert_eq!(decide(&admin, &AccessRequest::System { interaction: Interaction::Update }), Decision::Allow);
        let v1 = principal("user/*.read", None);
        assert_eq!(decide(&v1, &instance("Condition", "c", Interaction::Read)), Decision::Allow);
        assert!(matches!(decide(&v1, &instance("Condition", "c", Interaction::Update)), Decision::Deny(_)));
    }
}

//! Who is calling the FHIR API: the result of verifying a bearer token (`crate::auth::bearer`),
//! the input of the access policy.

use super::scopes::Scopes;

/// The kind of party behind a token, with its FHIR resource id where it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Patient(String),
    RelatedPerson(String),
    Practitioner(String),
    Person(String),
    /// A backend service acting for itself (client_credentials).
    Client,
}

impl Actor {
    /// The actor a token's `fhirUser` names (none: a backend service).
    pub fn from_reference(reference: Option<&str>) -> Actor {
        let Some((t, id)) = reference.and_then(|r| r.split_once('/')) else { return Actor::Client };
        match t {
            "Patient" => Actor::Patient(id.to_string()),
            "RelatedPerson" => Actor::RelatedPerson(id.to_string()),
            "Practitioner" => Actor::Practitioner(id.to_string()),
            _ => Actor::Person(id.to_string()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Principal {
    pub client_id: String,
    /// The user's opaque subject id (`sub`), absent for backend services.
    pub subject: Option<String>,
    /// The user as a FHIR reference (`Patient/123`), as in the id_token's `fhirUser`.
    pub fhir_user: Option<String>,
    pub actor: Actor,
    /// The patient in context (an id), when the token has one.
    pub patient: Option<String>,
    pub scopes: Scopes,
    pub expires_at: i64,
}

impl Principal {
    /// Whether `Type/id` is the caller's own user resource (always readable with `fhirUser`).
    pub fn is_own_resource(&self, resource_type: &str, id: &str) -> bool {
        self.fhir_user.as_deref().and_then(|r| r.split_once('/')) == Some((resource_type, id))
    }
}

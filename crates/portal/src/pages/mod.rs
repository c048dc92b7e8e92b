//! One module per screen. Each asks the FHIR API for what it shows (with the user's token, so
//! the access policy decides) and says what to show; `crate::view` draws it.

pub mod access_log;
pub mod accounts;
pub mod authorisations;
pub mod documents;
pub mod ehic;
pub mod home;
pub mod insurance;
pub mod language;
pub mod prescriptions;
pub mod primary_care;
pub mod referrals;
pub mod registration;
pub mod results;
pub mod sick_leave;
mod slots;
pub mod vaccinations;
pub mod visits;

use serde::Deserialize;

/// The national identifier and code systems the screens read (as the server publishes them in
/// its CodeSystems and NamingSystems).
pub mod systems {
    pub const RX_NUMBER: &str = "urn:oid:2.16.840.1.113883.3.4424.2.7.999999.2.1";
    pub const RX_ACCESS_CODE: &str = "https://ikp.example.org/fhir/sid/pl-prescription-package-code";
    pub const RX_VALIDITY: &str = "https://ikp.example.org/fhir/CodeSystem/pl-prescription-validity";
    pub const RX_STATUS_DETAIL: &str = "https://ikp.example.org/fhir/StructureDefinition/PLPrescriptionStatusDetail";
    pub const RX_AVAILABILITY: &str = "https://ikp.example.org/fhir/StructureDefinition/PLAvailabilityCategory";
    pub const REFERRAL_NUMBER: &str = "https://ikp.example.org/fhir/sid/e-referral-number";
    pub const REFERRAL_ACCESS_CODE: &str = "https://ikp.example.org/fhir/sid/e-referral-access-code";
    pub const REFERRAL_WORKFLOW: &str = "https://ikp.example.org/fhir/StructureDefinition/referral-workflow-status";
    pub const ORDER_NUMBER: &str = "https://ikp.example.org/fhir/sid/e-order-number";
    pub const ORDER_ACCESS_CODE: &str = "https://ikp.example.org/fhir/sid/e-order-access-code";
    pub const ORDER_REALISATION: &str = "https://ikp.example.org/fhir/StructureDefinition/e-order-realisation";
    pub const CER_SERVICE: &str = "https://ikp.example.org/fhir/CodeSystem/pl-cer-service";
    pub const CER_TASK: &str = "https://ikp.example.org/fhir/CodeSystem/pl-cer-task";
    pub const COUNTRY: &str = "urn:iso:std:iso:3166";
    pub const AUTHORIZATION_TYPE: &str = "https://ikp.example.org/fhir/CodeSystem/pl-ikp-authorization-type";
    pub const TASK_TYPE: &str = "https://ikp.example.org/fhir/CodeSystem/pl-task-type";
    pub const EHIC_CASE: &str = "https://ikp.example.org/fhir/sid/pl-ehic-application";
    pub const LOCAL_DOCUMENT_TYPE: &str = "https://ikp.example.org/fhir/CodeSystem/pl-document-type-local";
}

/// A form that only carries its CSRF token.
#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

//! Every operation of the server, listed once. Routing ([`invoke`]), the CapabilityStatement, the
//! OperationDefinitions the server publishes and the audit trail's action all come from this
//! table: adding an operation is one handler and one row.

use serde_json::Value;

use super::{Method, Request, Route};
use crate::error::{FhirError, FhirResult};
use crate::ikp::{authorization, booking, crossborder, documents, ehic, order, poz, prescription, referral};
use crate::interaction::operation::{Call, Input, Level, OperationDef, Param};
use crate::interaction::{
    Response, everything, export, observation_operations, reindex, terminology_operations, validate,
};
use crate::notify;
use crate::session::Session;

/// A handler from an async function taking `(&Session, &Call)`.
macro_rules! handler {
    ($f:path) => {
        |session, call| Box::pin(async move { $f(&session, &call).await })
    };
}

const SYSTEM: &[Level] = &[Level::System];
const TYPE: &[Level] = &[Level::Type];
const INSTANCE: &[Level] = &[Level::Instance];
const TYPE_AND_INSTANCE: &[Level] = &[Level::Type, Level::Instance];
const SYSTEM_AND_TYPE: &[Level] = &[Level::System, Level::Type];

const PESEL: Param = Param::required("pesel", "string", "The patient's PESEL");
const ACCESS_CODE: Param = Param::required("code", "string", "The 4-digit access code the patient presents");

/// The operation registry.
pub static OPERATIONS: &[OperationDef] = &[
    // ---- FHIR core -------------------------------------------------------------------------
    OperationDef {
        name: "validate",
        resource_types: &["*"],
        levels: TYPE_AND_INSTANCE,
        affects_state: false,
        standard: Some("http://hl7.org/fhir/OperationDefinition/Resource-validate"),
        description: "Validates a resource against the base definition, the national rules, its declared profiles and an optional profile",
        parameters: &[],
        handler: handler!(validate::operation),
    },
    OperationDef {
        name: "everything",
        resource_types: &["Patient"],
        levels: TYPE_AND_INSTANCE,
        affects_state: false,
        standard: Some("http://hl7.org/fhir/OperationDefinition/Patient-everything"),
        description: "Everything in the patient compartment(s) the caller may see, with what it references",
        parameters: &[],
        handler: handler!(everything::operation),
    },
    OperationDef {
        name: "lastn",
        resource_types: &["Observation"],
        levels: TYPE,
        affects_state: false,
        standard: Some("http://hl7.org/fhir/OperationDefinition/Observation-lastn"),
        description: "The most recent max Observations of each code for a patient, filtered by the Observation search parameters (patient or subject required)",
        parameters: &[Param::optional("max", "positiveInt", "How many of each code (default 1, at most 100)")],
        handler: handler!(observation_operations::lastn::operation),
    },
    OperationDef {
        name: "stats",
        resource_types: &["Observation"],
        levels: TYPE,
        affects_state: false,
        standard: Some("http://hl7.org/fhir/OperationDefinition/Observation-stats"),
        description: "Statistics (average, minimum, maximum, median, std-dev, sum, variance, count, totalcount) of a patient's numeric results per code over a period",
        parameters: &[
            Param::required("subject", "uri", "The patient (Patient/[id])"),
            Param::optional("code", "string", "Codes of the results (with system), comma-separated"),
            Param::optional("system", "uri", "The system of the codes"),
            Param::optional("coding", "Coding", "Codes of the results, as Codings"),
            Param::optional("duration", "decimal", "The period: this many hours back from now"),
            Param::optional("period", "Period", "The period"),
            Param::required("statistic", "code", "The statistics wanted (observation-statistics codes)"),
            Param::optional("include", "boolean", "Also return the Observations the statistics come from"),
        ],
        handler: handler!(observation_operations::stats::operation),
    },
    OperationDef {
        name: "reindex",
        resource_types: &["*"],
        levels: SYSTEM_AND_TYPE,
        affects_state: true,
        standard: None,
        description: "Reloads custom SearchParameters and rebuilds the search index of every stored resource (of a type); backend services with system/* scopes",
        parameters: &[],
        handler: handler!(reindex::operation),
    },
    OperationDef {
        name: "export",
        resource_types: &[],
        levels: SYSTEM,
        affects_state: false,
        standard: Some("http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"),
        description: "Bulk Data export of the whole server (asynchronous: Prefer: respond-async)",
        parameters: &[],
        handler: handler!(export::operation),
    },
    OperationDef {
        name: "export",
        resource_types: &["Patient"],
        levels: TYPE,
        affects_state: false,
        standard: Some("http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"),
        description: "Bulk Data export of the patients' compartments (asynchronous: Prefer: respond-async)",
        parameters: &[],
        handler: handler!(export::operation),
    },
    OperationDef {
        name: "export",
        resource_types: &["Group"],
        levels: INSTANCE,
        affects_state: false,
        standard: Some("http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"),
        description: "Bulk Data export of a Group's members (asynchronous: Prefer: respond-async)",
        parameters: &[],
        handler: handler!(export::operation),
    },
    // ---- terminology -----------------------------------------------------------------------
    OperationDef {
        name: "lookup",
        resource_types: &["CodeSystem"],
        levels: TYPE_AND_INSTANCE,
        affects_state: false,
        standard: Some("http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup"),
        description: "Details of a code",
        parameters: &[],
        handler: handler!(terminology_operations::lookup_operation),
    },
    OperationDef {
        name: "validate-code",
        resource_types: &["CodeSystem"],
        levels: TYPE_AND_INSTANCE,
        affects_state: false,
        standard: Some("http://hl7.org/fhir/OperationDefinition/CodeSystem-validate-code"),
        description: "Whether a code is in a code system",
        parameters: &[],
        handler: handler!(terminology_operations::validate_in_code_system),
    },
    OperationDef {
        name: "subsumes",
        resource_types: &["CodeSystem"],
        levels: TYPE_AND_INSTANCE,
        affects_state: false,
        standard: Some("http://hl7.org/fhir/OperationDefinition/CodeSystem-subsumes"),
        description: "How two codes of a code system are related",
        parameters: &[],
        handler: handler!(terminology_operations::subsumes_operation),
    },
    OperationDef {
        name: "expand",
        resource_types: &["ValueSet"],
        levels: TYPE_AND_INSTANCE,
        affects_state: false,
        standard: Some("http://hl7.org/fhir/OperationDefinition/ValueSet-expand"),
        description: "The codes of a value set",
        parameters: &[],
        handler: handler!(terminology_operations::expand_operation),
    },
    OperationDef {
        name: "validate-code",
        resource_types: &["ValueSet"],
        levels: TYPE_AND_INSTANCE,
        affects_state: false,
        standard: Some("http://hl7.org/fhir/OperationDefinition/ValueSet-validate-code"),
        description: "Whether a code is in a value set",
        parameters: &[],
        handler: handler!(terminology_operations::validate_in_value_set),
    },
    OperationDef {
        name: "translate",
        resource_types: &["ConceptMap"],
        levels: TYPE_AND_INSTANCE,
        affects_state: false,
        standard: Some("http://hl7.org/fhir/OperationDefinition/ConceptMap-translate"),
        description: "Translates a code with concept maps",
        parameters: &[],
        handler: handler!(terminology_operations::translate_operation),
    },
    // ---- e-prescriptions ------------------------------------------------------------------
    OperationDef {
        name: "issue-package",
        resource_types: &["MedicationRequest"],
        levels: TYPE,
        affects_state: true,
        standard: None,
        description: "Issue a package of e-prescriptions (one product each) with numbers, a package key and a 4-digit access code; returns a collection Bundle of the stored prescriptions",
        parameters: &[Param::required(
            "package",
            "Bundle",
            "MedicationRequests (one product each, one patient) and the Medications they name (the body)",
        )],
        handler: handler!(prescription::issue_package_operation),
    },
    OperationDef {
        name: "retrieve",
        resource_types: &["MedicationRequest"],
        levels: TYPE,
        affects_state: false,
        standard: None,
        description: "A pharmacist finds a package of e-prescriptions by its access code and the patient's PESEL (without a code: what a prescriptions-only authorisation shows); 404 reveals nothing",
        parameters: &[PESEL, Param::optional("code", "string", "The package's 4-digit access code")],
        handler: handler!(prescription::retrieve_operation),
    },
    OperationDef {
        name: "dispense",
        resource_types: &["MedicationRequest"],
        levels: INSTANCE,
        affects_state: true,
        standard: None,
        description: "Dispense an e-prescription in full or in part: the MedicationDispense and the prescription's new status in one transaction",
        parameters: &[
            Param::optional("resource", "MedicationDispense", "The dispensation (or the body)"),
            Param::optional("quantity", "decimal", "Packs dispensed"),
            Param::optional(
                "code",
                "string",
                "The package's access code (unless an authorisation lets the pharmacist read it)",
            ),
            Param::optional("pesel", "string", "The patient's PESEL, with the code"),
        ],
        handler: handler!(prescription::dispense_operation),
    },
    OperationDef {
        name: "cancel",
        resource_types: &["MedicationRequest"],
        levels: INSTANCE,
        affects_state: true,
        standard: None,
        description: "The prescriber cancels an e-prescription nothing was dispensed on",
        parameters: &[],
        handler: handler!(prescription::cancel_operation),
    },
    // ---- cross-border e-prescriptions (MyHealth@EU) ----------------------------------------
    OperationDef {
        name: "crossborder-consent",
        resource_types: &["Patient"],
        levels: INSTANCE,
        affects_state: true,
        standard: None,
        description: "The patient (or a parent) switches cross-border dispensing on or off for listed countries",
        parameters: &[
            Param::required("enabled", "boolean", "On or off"),
            Param::repeated("country", "code", "ISO 3166 alpha-2 countries (repeated or comma-separated)"),
        ],
        handler: handler!(crossborder::consent_operation),
    },
    OperationDef {
        name: "crossborder-identify",
        resource_types: &["Patient"],
        levels: TYPE,
        affects_state: false,
        standard: None,
        description: "A country-B connector identifies a patient by PESEL, birth date and family name",
        parameters: &[
            PESEL,
            Param::required("birthdate", "date", "The patient's birth date"),
            Param::required("family", "string", "The patient's family name"),
        ],
        handler: handler!(crossborder::identify_operation),
    },
    OperationDef {
        name: "crossborder-prescriptions",
        resource_types: &["Patient"],
        levels: INSTANCE,
        affects_state: false,
        standard: None,
        description: "A country-B connector lists the patient's dispensable prescriptions as HL7 Europe MPD resources",
        parameters: &[Param::required("country", "code", "The dispensing country (ISO 3166 alpha-2)")],
        handler: handler!(crossborder::prescriptions_operation),
    },
    OperationDef {
        name: "crossborder-dispense",
        resource_types: &["MedicationRequest"],
        levels: INSTANCE,
        affects_state: true,
        standard: None,
        description: "A country-B connector reports a dispensation (EU MedicationDispense in the body)",
        parameters: &[Param::required("country", "code", "The dispensing country (ISO 3166 alpha-2)")],
        handler: handler!(crossborder::dispense_operation),
    },
    OperationDef {
        name: "crossborder-cancel",
        resource_types: &["MedicationDispense"],
        levels: INSTANCE,
        affects_state: true,
        standard: None,
        description: "A country-B connector rolls back a dispensation it reported",
        parameters: &[],
        handler: handler!(crossborder::cancel_operation),
    },
    // ---- e-referrals -----------------------------------------------------------------------
    OperationDef {
        name: "issue",
        resource_types: &["ServiceRequest"],
        levels: TYPE,
        affects_state: true,
        standard: None,
        description: "e-skierowanie: issue a referral (number, 4-digit access code and key assigned)",
        parameters: &[Param::required("referral", "ServiceRequest", "The referral (the body)")],
        handler: handler!(referral::issue_operation),
    },
    OperationDef {
        name: "retrieve",
        resource_types: &["ServiceRequest"],
        levels: TYPE,
        affects_state: false,
        standard: None,
        description: "e-skierowanie: the performing facility retrieves a referral by access code and PESEL",
        parameters: &[ACCESS_CODE, PESEL],
        handler: handler!(referral::retrieve_operation),
    },
    OperationDef {
        name: "book",
        resource_types: &["ServiceRequest"],
        levels: INSTANCE,
        affects_state: true,
        standard: None,
        description: "e-skierowanie: record the booking of a referral (optionally its Appointment)",
        parameters: &[
            Param::optional("appointment", "Reference", "The Appointment booked"),
            Param::optional("code", "string", "The access code, when the caller cannot otherwise act on the referral"),
        ],
        handler: handler!(referral::book_operation),
    },
    OperationDef {
        name: "complete",
        resource_types: &["ServiceRequest"],
        levels: INSTANCE,
        affects_state: true,
        standard: None,
        description: "e-skierowanie: the referral was realised",
        parameters: &[Param::optional(
            "code",
            "string",
            "The access code, when the caller cannot otherwise act on the referral",
        )],
        handler: handler!(referral::complete_operation),
    },
    OperationDef {
        name: "cancel",
        resource_types: &["ServiceRequest"],
        levels: INSTANCE,
        affects_state: true,
        standard: None,
        description: "e-skierowanie: the issuer cancels a referral that is not completed",
        parameters: &[],
        handler: handler!(referral::cancel_operation),
    },
    // ---- e-orders --------------------------------------------------------------------------
    OperationDef {
        name: "issue",
        resource_types: &["DeviceRequest"],
        levels: TYPE,
        affects_state: true,
        standard: None,
        description: "e-zlecenie: issue a medical-device order (number and access code, 12-month validity)",
        parameters: &[Param::required("order", "DeviceRequest", "The order (the body)")],
        handler: handler!(order::issue_operation),
    },
    OperationDef {
        name: "retrieve",
        resource_types: &["DeviceRequest"],
        levels: TYPE,
        affects_state: false,
        standard: None,
        description: "e-zlecenie: retrieve an order by access code and PESEL",
        parameters: &[ACCESS_CODE, PESEL],
        handler: handler!(order::retrieve_operation),
    },
    OperationDef {
        name: "realize",
        resource_types: &["DeviceRequest"],
        levels: INSTANCE,
        affects_state: true,
        standard: None,
        description: "e-zlecenie: realise (part of) a month's quantity",
        parameters: &[
            Param::required("month", "string", "The month realised (YYYY-MM)"),
            Param::required("quantity", "decimal", "The quantity realised"),
            Param::optional("code", "string", "The access code, when the caller cannot otherwise act on the order"),
        ],
        handler: handler!(order::realize_operation),
    },
    // ---- documents -------------------------------------------------------------------------
    OperationDef {
        name: "submit-document",
        resource_types: &["Bundle"],
        levels: TYPE,
        affects_state: true,
        standard: None,
        description: "EDM: store a document Bundle (kept as submitted) and index it with a DocumentReference",
        parameters: &[Param::required("document", "Bundle", "A document Bundle, its Composition first (the body)")],
        handler: handler!(documents::submit_operation),
    },
    OperationDef {
        name: "document",
        resource_types: &["Composition"],
        levels: INSTANCE,
        affects_state: false,
        standard: Some("http://hl7.org/fhir/OperationDefinition/Composition-document"),
        description: "The document Bundle of a Composition (the stored original, or assembled)",
        parameters: &[],
        handler: handler!(documents::document_operation),
    },
    OperationDef {
        name: "summary",
        resource_types: &["Patient"],
        levels: INSTANCE,
        affects_state: false,
        standard: Some("http://hl7.org/fhir/uv/ips/OperationDefinition/summary"),
        description: "International Patient Summary (IPS) of the patient's record",
        parameters: &[],
        handler: handler!(documents::summary_operation),
    },
    // ---- central e-registration and booking -----------------------------------------------
    OperationDef {
        name: "book",
        resource_types: &["Slot"],
        levels: INSTANCE,
        affects_state: true,
        standard: None,
        description: "Books the slot for the patient (eligibility per service; the slot becomes busy; 409 when taken)",
        parameters: &[
            Param::optional("patient", "Reference", "Whom to book for (default: the caller)"),
            Param::optional("referral", "Reference", "The e-referral the visit needs (cardiology)"),
        ],
        handler: handler!(booking::book_operation),
    },
    OperationDef {
        name: "cancel",
        resource_types: &["Appointment"],
        levels: INSTANCE,
        affects_state: true,
        standard: None,
        description: "Cancels the appointment, frees its slot and offers it to the waiting list",
        parameters: &[],
        handler: handler!(booking::cancel_operation),
    },
    OperationDef {
        name: "reschedule",
        resource_types: &["Appointment"],
        levels: INSTANCE,
        affects_state: true,
        standard: None,
        description: "Moves the appointment to another free slot of the same service, atomically",
        parameters: &[Param::required("slot", "Reference", "The new slot")],
        handler: handler!(booking::reschedule_operation),
    },
    OperationDef {
        name: "join-waiting-list",
        resource_types: &["Patient"],
        levels: INSTANCE,
        affects_state: true,
        standard: None,
        description: "Puts the patient on the CeR waiting list for a service (40 days visits, 90 days tests)",
        parameters: &[
            Param::required("service", "code", "The CeR service"),
            Param::optional("referral", "Reference", "The e-referral the service needs"),
            Param::optional("location", "Reference", "The preferred Location"),
        ],
        handler: handler!(booking::join_operation),
    },
    OperationDef {
        name: "match-waiting-list",
        resource_types: &["Slot"],
        levels: TYPE,
        affects_state: true,
        standard: None,
        description: "Books free slots for waiting-list entries (backend services only)",
        parameters: &[],
        handler: handler!(booking::match_operation),
    },
    OperationDef {
        name: "publish-slots",
        resource_types: &["Schedule"],
        levels: INSTANCE,
        affects_state: true,
        standard: None,
        description: "Creates free slots and runs waiting-list matching (the facility's backend service)",
        parameters: &[
            Param::required("start", "dateTime", "The first slot's start"),
            Param::optional("count", "integer", "How many slots (1-200, default 1)"),
            Param::optional("minutes", "integer", "Each slot's length (5-480, default 20)"),
        ],
        handler: handler!(booking::publish_operation),
    },
    // ---- primary care, EHIC ----------------------------------------------------------------
    OperationDef {
        name: "choose-primary-care",
        resource_types: &["Patient"],
        levels: INSTANCE,
        affects_state: true,
        standard: None,
        description: "Choose a primary-care doctor, nurse or midwife (two free changes per calendar year)",
        parameters: &[
            Param::required("role", "code", "poz-doctor, poz-nurse or poz-midwife"),
            Param::required("practitionerRole", "Reference", "The chosen PractitionerRole"),
            Param::optional("reason", "code", "An exemption from the change fee"),
        ],
        handler: handler!(poz::choose_operation),
    },
    OperationDef {
        name: "apply-ehic",
        resource_types: &["Patient"],
        levels: INSTANCE,
        affects_state: true,
        standard: None,
        description: "Apply for a European Health Insurance Card (EKUZ)",
        parameters: &[],
        handler: handler!(ehic::apply_operation),
    },
    OperationDef {
        name: "ehic-status",
        resource_types: &["Task"],
        levels: INSTANCE,
        affects_state: true,
        standard: None,
        description: "NFZ moves an EKUZ application to its next state",
        parameters: &[
            Param::required("status", "code", "The next state"),
            Param::optional("reason", "string", "Why (required when rejecting or returning)"),
        ],
        handler: handler!(ehic::status_operation),
    },
    // ---- authorisations --------------------------------------------------------------------
    OperationDef {
        name: "grant-access",
        resource_types: &["Patient"],
        levels: INSTANCE,
        affects_state: true,
        standard: None,
        description: "Grant access to the patient's record (a Consent of an IKP authorisation category)",
        parameters: &[
            Param::required(
                "category",
                "code",
                "proxy-read, proxy-act, prescriptions-only, doctor-history or parent-access",
            ),
            Param::optional("grantee", "Reference", "Who (or granteePesel with granteeFamily)"),
            Param::optional("granteePesel", "string", "The grantee's PESEL"),
            Param::optional("granteeFamily", "string", "The grantee's family name"),
            Param::optional("start", "dateTime", "From when"),
            Param::optional("end", "dateTime", "Until when"),
            Param::repeated("class", "code", "Only these resource types"),
        ],
        handler: handler!(authorization::grant_operation),
    },
    OperationDef {
        name: "revoke",
        resource_types: &["Consent"],
        levels: INSTANCE,
        affects_state: true,
        standard: None,
        description: "Revoke an authorisation now",
        parameters: &[],
        handler: handler!(authorization::revoke_operation),
    },
    OperationDef {
        name: "access-code",
        resource_types: &["Patient"],
        levels: INSTANCE,
        affects_state: true,
        standard: None,
        description: "A one-time code (10 minutes) that gives the doctor who presents it 24 hours of access",
        parameters: &[],
        handler: handler!(authorization::access_code_operation),
    },
    OperationDef {
        name: "redeem-access-code",
        resource_types: &["Patient"],
        levels: TYPE,
        affects_state: true,
        standard: None,
        description: "A doctor presents the patient's PESEL and one-time code for 24 hours of access",
        parameters: &[PESEL, Param::required("code", "string", "The one-time code")],
        handler: handler!(authorization::redeem_operation),
    },
    // ---- notifications (Subscriptions R5 Backport IG) ----------------------------------------
    OperationDef {
        name: "status",
        resource_types: &["Subscription"],
        levels: INSTANCE,
        affects_state: false,
        standard: Some(
            "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-status",
        ),
        description: "The subscription's status: requested, active, error or off, and how many events it has had",
        parameters: &[],
        handler: handler!(notify::operations::status),
    },
    OperationDef {
        name: "events",
        resource_types: &["Subscription"],
        levels: INSTANCE,
        affects_state: false,
        standard: Some(
            "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-events",
        ),
        description: "The subscription's events by number (to recover missed notifications), as the caller may see them",
        parameters: &[
            Param::optional("eventsSinceNumber", "string", "The first event number (default: the 100 newest)"),
            Param::optional("eventsUntilNumber", "string", "The last event number (default: the newest)"),
            Param::optional("content", "code", "empty, id-only or full-resource (default: the subscription's)"),
        ],
        handler: handler!(notify::operations::events),
    },
    OperationDef {
        name: "get-ws-binding-token",
        resource_types: &["Subscription"],
        levels: INSTANCE,
        affects_state: false,
        standard: Some(
            "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-get-ws-binding-token",
        ),
        description: "A token (five minutes) binding a websocket to the subscription, and the websocket's URL",
        parameters: &[],
        handler: handler!(notify::operations::ws_binding_token),
    },
];

/// The operation `name` at `level` on `resource_type`.
pub fn find(level: Level, resource_type: Option<&str>, name: &str) -> Option<&'static OperationDef> {
    OPERATIONS.iter().find(|o| o.name == name && o.serves(level, resource_type))
}

/// Whether the operation a route names changes data (unknown ones are taken to).
pub fn affects_state(route: &Route) -> bool {
    match route {
        Route::Operation { level, resource_type, name, .. } => {
            find(*level, resource_type.as_deref(), name).is_none_or(|o| o.affects_state)
        }
        _ => false,
    }
}

/// Runs the operation a request names.
pub async fn invoke(session: &Session, request: Request) -> FhirResult<Response> {
    let Route::Operation { level, resource_type, id, name } = request.route else {
        return Err(FhirError::Internal("not an operation".into()));
    };
    if let Some(t) = &resource_type {
        session.check_type(t)?;
    }
    let on = resource_type.as_deref().map_or(String::new(), |t| format!(" on {t}"));
    let operation = find(level, resource_type.as_deref(), &name)
        .ok_or_else(|| FhirError::NotFound(format!("the operation ${name}{on}")))?;
    if operation.affects_state && request.method != Method::Post {
        return Err(FhirError::MethodNotAllowed(format!("${name} changes data: POST it")));
    }
    let input = Input::new(&request.query, request.body.clone())?;
    let call = Call {
        resource_type,
        id,
        input,
        query: request.query,
        raw_body: request.body,
        request_url: request.url,
        respond_async: request.respond_async,
        strict: request.strict,
    };
    (operation.handler)(session.running(&format!("${name}")), call).await
}

/// The OperationDefinitions of the operations this server defines itself, one per type.
pub fn definitions() -> Vec<Value> {
    let mut out = Vec::new();
    for operation in OPERATIONS.iter().filter(|o| o.standard.is_none()) {
        if operation.resource_types.is_empty() || operation.resource_types.contains(&"*") {
            out.push(operation.definition_resource(None));
        } else {
            out.extend(operation.resource_types.iter().map(|t| operation.definition_resource(Some(t))));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_found_by_level_and_type() {
        assert!(find(Level::Instance, Some("MedicationRequest"), "dispense").is_some());
        assert!(find(Level::Type, Some("MedicationRequest"), "dispense").is_none(), "instance level only");
        assert!(find(Level::Type, Some("Observation"), "validate").is_some(), "every type");
        assert!(find(Level::System, None, "reindex").is_some());
        assert_eq!(
            find(Level::Type, Some("ServiceRequest"), "issue").map(|o| o.definition(Some("ServiceRequest"))),
            Some("https://ikp.example.org/fhir/OperationDefinition/ServiceRequest-issue".to_string())
        );
    }

    #[test]
    fn every_row_is_unique_and_every_definition_is_valid_fhir() {
        for (i, a) in OPERATIONS.iter().enumerate() {
            for b in &OPERATIONS[i + 1..] {
                for level in a.levels {
                    let clash = |t: Option<&str>| a.serves(*level, t) && b.serves(*level, t) && a.name == b.name;
                    let types: Vec<Option<&str>> = a.resource_types.iter().map(|t| Some(*t)).chain([None]).collect();
                    assert!(!types.into_iter().any(clash), "${} is listed twice at {level:?}", a.name);
                }
            }
        }
        let model = crate::model::r4().expect("model");
        let profiles = crate::validation::profiles::ProfileSet::built_in().expect("profiles");
        let codes = crate::context::BuiltinCodes(&crate::terminology::builtin::BUILTIN);
        for definition in definitions() {
            let findings = crate::validation::validate(model, &profiles, &codes, &definition, &[]);
            assert!(!findings.has_errors(), "{}: {:?}", definition["id"], findings.all());
        }
    }
}

//! capabilities: `GET [base]/metadata`, generated from what the server actually implements.

use serde_json::{Value, json};

use super::{Fhir, Response, instant, now};
use crate::conformance::FHIR_VERSION;

/// Interactions every resource type supports.
const TYPE_INTERACTIONS: &[&str] = &["read", "vread", "update", "delete", "history-instance", "history-type", "create"];

pub fn capability_statement(fhir: &Fhir) -> Value {
    let resources: Vec<Value> = fhir
        .model
        .resource_types()
        .iter()
        .map(|t| {
            json!({
                "type": t,
                "profile": format!("http://hl7.org/fhir/StructureDefinition/{t}"),
                "documentation": "Conditional create, update and delete accept the _id and identifier parameters.",
                "interaction": TYPE_INTERACTIONS.iter().map(|code| json!({"code": code})).collect::<Vec<_>>(),
                "versioning": "versioned-update",
                "readHistory": true,
                "updateCreate": true,
                "conditionalCreate": true,
                "conditionalRead": "full-support",
                "conditionalUpdate": true,
                "conditionalDelete": "single",
            })
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "id": "ikp",
        "url": format!("{}/metadata", fhir.base_url),
        "version": env!("CARGO_PKG_VERSION"),
        "name": "IkpFhirServer",
        "title": "ikp FHIR R4 server",
        "status": "active",
        "experimental": false,
        "date": instant(now()),
        "publisher": "ikp project",
        "description": "HL7 FHIR R4 server with the Polish national patient-account (IKP) workflows.",
        "kind": "instance",
        "software": {"name": "ikp", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "ikp FHIR R4 server", "url": fhir.base_url},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "application/fhir+xml", "json", "xml"],
        "rest": [{
            "mode": "server",
            "resource": resources,
            "interaction": [{"code": "history-system"}],
        }],
    })
}

pub fn capabilities(fhir: &Fhir) -> Response {
    Response::resource(200, capability_statement(fhir))
}

//! capabilities: `GET [base]/metadata`, generated from what the server actually implements.

use serde_json::{Value, json};

use super::operations::OPERATIONS;
use crate::clock::{instant, now};
use crate::conformance::FHIR_VERSION;
use crate::context::Fhir;
use crate::interaction::Response;
use crate::interaction::operation::Level;
use crate::search::registry::{COLUMN_PARAMETERS, ParamType};

/// Interactions every resource type supports.
const TYPE_INTERACTIONS: &[&str] =
    &["read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type"];

pub fn capability_statement(fhir: &Fhir) -> Value {
    let registry = fhir.registry.current();
    let resources: Vec<Value> = fhir
        .model
        .resource_types()
        .iter()
        .map(|t| {
            let params = registry.params(t);
            let search_params: Vec<Value> = params
                .iter()
                .filter(|p| p.expression.is_some() || COLUMN_PARAMETERS.contains(&p.code.as_str()))
                .filter(|p| p.kind != ParamType::Special || p.code == "near")
                .map(|p| json!({"name": p.code, "definition": p.url, "type": p.kind.name()}))
                .collect();
            let operations: Vec<Value> = OPERATIONS
                .iter()
                .filter(|o| o.applies_to(t))
                .map(|o| json!({"name": o.name, "definition": o.definition(Some(t)), "documentation": o.description}))
                .collect();
            let mut includes: Vec<String> = vec![format!("{t}:*")];
            includes
                .extend(params.iter().filter(|p| p.kind == ParamType::Reference).map(|p| format!("{t}:{}", p.code)));
            let mut entry = json!({
                "type": t,
                "profile": format!("http://hl7.org/fhir/StructureDefinition/{t}"),
                "documentation": "Conditional create, update and delete accept any supported search criteria. Token parameters take the :in, :not-in (value set membership), :above and :below (code system hierarchy) modifiers in searches.",
                "interaction": TYPE_INTERACTIONS.iter().map(|code| json!({"code": code})).collect::<Vec<_>>(),
                "versioning": "versioned-update",
                "readHistory": true,
                "updateCreate": true,
                "conditionalCreate": true,
                "conditionalRead": "full-support",
                "conditionalUpdate": true,
                "conditionalDelete": "single",
                "searchInclude": includes,
                "searchRevInclude": ["*"],
                "searchParam": search_params,
                "operation": operations,
            });
            if t == "Subscription" {
                crate::notify::subscription::describe(&mut entry);
            }
            entry
        })
        .collect();
    let system_operations: Vec<Value> = OPERATIONS
        .iter()
        .filter(|o| o.levels.contains(&Level::System))
        .map(|o| json!({"name": o.name, "definition": o.definition(None), "documentation": o.description}))
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
        "instantiates": [
            "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data",
            crate::notify::subscription::SERVER_CAPABILITIES,
        ],
        "software": {"name": "ikp", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "ikp FHIR R4 server", "url": fhir.base_url},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "application/fhir+xml", "json", "xml"],
        "patchFormat": ["application/json-patch+json", "application/fhir+json", "application/fhir+xml"],
        "rest": [{
            "mode": "server",
            "security": crate::auth::discovery::capability_security(&fhir.base_url),
            "resource": resources,
            "interaction": [{"code": "transaction"}, {"code": "batch"}, {"code": "history-system"}, {"code": "search-system"}],
            "operation": system_operations,
            "searchParam": [
                {"name": "_id", "type": "token", "definition": "http://hl7.org/fhir/SearchParameter/Resource-id"},
                {"name": "_lastUpdated", "type": "date", "definition": "http://hl7.org/fhir/SearchParameter/Resource-lastUpdated"},
                {"name": "_tag", "type": "token", "definition": "http://hl7.org/fhir/SearchParameter/Resource-tag"},
                {"name": "_profile", "type": "uri", "definition": "http://hl7.org/fhir/SearchParameter/Resource-profile"},
                {"name": "_security", "type": "token", "definition": "http://hl7.org/fhir/SearchParameter/Resource-security"},
                {"name": "_source", "type": "uri", "definition": "http://hl7.org/fhir/SearchParameter/Resource-source"},
            ],
        }],
    })
}

pub fn capabilities(fhir: &Fhir) -> Response {
    Response::resource(200, capability_statement(fhir))
}

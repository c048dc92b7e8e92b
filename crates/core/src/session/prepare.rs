//! What every write shares: checking the body, stamping id and meta, and turning the result into
//! a version to store.

use serde_json::{Map, Value};

use crate::clock::instant;
use crate::context::Fhir;
use crate::error::{FhirError, FhirResult};
use crate::index::IndexRows;
use crate::outcome::{Issue, IssueType, Severity};
use crate::store::{Method, Micros, NewVersion, ResourceVersion};

/// Checks a request body for a write of `resource_type`: an object of that type, structurally
/// valid R4. Nothing is written when this fails.
pub fn check_body(fhir: &Fhir, resource_type: &str, body: &Value) -> FhirResult<()> {
    let found = body.get("resourceType").and_then(Value::as_str);
    if found.is_some_and(|t| t != resource_type) {
        return Err(FhirError::BadRequest(vec![
            Issue::error(
                IssueType::Invalid,
                format!("the body is a {} but the URL names {resource_type}", found.unwrap_or_default()),
            )
            .at("resourceType"),
        ]));
    }
    if resource_type == "StructureDefinition"
        && body.get("derivation").and_then(Value::as_str) == Some("constraint")
        && let Err(e) = crate::validation::profile::Profile::from_definition(body)
    {
        return Err(FhirError::Unprocessable(vec![Issue::error(IssueType::Invalid, e.to_string())]));
    }
    let findings = crate::validation::validate(fhir.model, &fhir.profiles, &fhir.codes(), body, &[]);
    if findings.structure.iter().any(|i| i.severity == Severity::Error) {
        return Err(FhirError::BadRequest(findings.structure));
    }
    if findings.rules.iter().any(|i| i.severity == Severity::Error) {
        return Err(FhirError::Unprocessable(
            findings.rules.into_iter().filter(|i| i.severity == Severity::Error).collect(),
        ));
    }
    Ok(())
}

/// The id in an update body must be present and equal the id in the URL.
pub fn check_body_id(resource_type: &str, id: &str, body: &Value) -> FhirResult<()> {
    match body.get("id").and_then(Value::as_str) {
        Some(body_id) if body_id == id => Ok(()),
        Some(body_id) => Err(FhirError::BadRequest(vec![
            Issue::error(IssueType::Invalid, format!("the body's id '{body_id}' does not match the URL's id '{id}'"))
                .at(format!("{resource_type}.id")),
        ])),
        None => Err(FhirError::BadRequest(vec![
            Issue::error(IssueType::Required, format!("an update must carry the id '{id}' in the body"))
                .at(format!("{resource_type}.id")),
        ])),
    }
}

/// Builds the stored form of a new version: `resourceType`, `id` and `meta` first (with the
/// server's versionId and lastUpdated), everything else as the client sent it.
pub fn stamp(fhir: &Fhir, body: Value, target: NextVersion, at: Micros, method: Method) -> FhirResult<NewVersion> {
    let NextVersion { resource_type, id, version, replaces_index } = target;
    let Value::Object(fields) = body else {
        return Err(FhirError::bad_request("a resource must be a JSON object"));
    };
    let mut out = Map::with_capacity(fields.len() + 2);
    let mut meta = Map::new();
    meta.insert("versionId".to_string(), Value::String(version.to_string()));
    meta.insert("lastUpdated".to_string(), Value::String(instant(at)));
    let mut rest = Map::with_capacity(fields.len());
    for (key, value) in fields {
        match key.as_str() {
            "resourceType" | "id" => {}
            "meta" => {
                if let Value::Object(client_meta) = value {
                    for (k, v) in client_meta {
                        if k != "versionId" && k != "lastUpdated" {
                            meta.insert(k, v);
                        }
                    }
                }
            }
            _ => {
                rest.insert(key, value);
            }
        }
    }
    out.insert("resourceType".to_string(), Value::String(resource_type.to_string()));
    out.insert("id".to_string(), Value::String(id.to_string()));
    out.insert("meta".to_string(), Value::Object(meta));
    out.extend(rest);
    let resource = Value::Object(out);
    let index = fhir.index(&resource);
    let content = serde_json::to_string(&resource).map_err(|e| FhirError::Internal(e.to_string()))?;
    Ok(NewVersion {
        resource_type: resource_type.to_string(),
        id: id.to_string(),
        version,
        last_updated: at,
        method,
        content: Some(content),
        index,
        replaces_index,
    })
}

/// Which version of which resource a write produces.
pub struct NextVersion<'a> {
    pub resource_type: &'a str,
    pub id: &'a str,
    pub version: i64,
    /// Whether the previous version is live (its index rows are replaced).
    pub replaces_index: bool,
}

/// A deletion tombstone (the deleted version's index rows are removed).
pub fn tombstone(resource_type: &str, id: &str, version: i64, at: Micros) -> NewVersion {
    NewVersion {
        resource_type: resource_type.to_string(),
        id: id.to_string(),
        version,
        last_updated: at,
        method: Method::Delete,
        content: None,
        index: IndexRows::default(),
        replaces_index: true,
    }
}

/// The stored view of a version just written (its `seq` is not needed by responses).
pub fn written(v: NewVersion) -> ResourceVersion {
    ResourceVersion {
        resource_type: v.resource_type,
        id: v.id,
        version: v.version,
        last_updated: v.last_updated,
        method: v.method,
        content: v.content,
        seq: 0,
    }
}

/// A new server-assigned id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A stored constraining StructureDefinition is enforced from now on (on this node; other nodes
/// load it at their next start).
pub fn activate_profile(fhir: &Fhir, version: &NewVersion) {
    if version.resource_type != "StructureDefinition" {
        return;
    }
    let Some(definition) = version.content.as_deref().and_then(|c| crate::format::json::from_str(c).ok()) else {
        return;
    };
    if let Err(e) = fhir.profiles.insert(&definition) {
        tracing::warn!(error = %e, "a stored profile cannot be enforced");
    }
}

//! `$validate` at type and instance level: checks a resource against the base definition, the
//! national business rules, the profiles it declares and an optional `profile`, and reports every
//! finding in an OperationOutcome (200 whatever the verdict, as the operation defines).

use serde_json::Value;

use super::Response;
use crate::error::{FhirError, FhirResult};
use crate::outcome::operation_outcome;
use crate::session::{Current, Session, not_found};

/// The operation's inputs from a Parameters body, or a bare resource.
struct Inputs {
    resource: Option<Value>,
    profile: Option<String>,
    mode: Option<String>,
}

fn inputs(body: Option<Value>) -> FhirResult<Inputs> {
    let Some(body) = body else { return Ok(Inputs { resource: None, profile: None, mode: None }) };
    if body.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
        return Ok(Inputs { resource: Some(body), profile: None, mode: None });
    }
    let mut found = Inputs { resource: None, profile: None, mode: None };
    for p in body.get("parameter").and_then(Value::as_array).into_iter().flatten() {
        let text = ["valueUri", "valueCanonical", "valueCode", "valueString"]
            .iter()
            .find_map(|k| p.get(*k).and_then(Value::as_str))
            .map(str::to_string);
        match p.get("name").and_then(Value::as_str) {
            Some("resource") => found.resource = p.get("resource").cloned(),
            Some("profile") => found.profile = text,
            Some("mode") => found.mode = text,
            _ => {}
        }
    }
    Ok(found)
}

/// `[type]/$validate` and `[type]/[id]/$validate`.
pub async fn operation(session: &Session, call: &super::operation::Call) -> FhirResult<Response> {
    validate(session, call.resource_type(), call.id.as_deref(), call.raw_body.clone(), &call.query).await
}

pub async fn validate(
    session: &Session,
    resource_type: &str,
    id: Option<&str>,
    body: Option<Value>,
    query: &[(String, String)],
) -> FhirResult<Response> {
    session.check_type(resource_type)?;
    let mut inputs = inputs(body)?;
    if let Some((_, p)) = query.iter().find(|(k, _)| k == "profile") {
        inputs.profile = Some(p.clone());
    }
    if let Some((_, m)) = query.iter().find(|(k, _)| k == "mode") {
        inputs.mode = Some(m.clone());
    }
    match inputs.mode.as_deref() {
        None | Some("create" | "update" | "delete" | "profile") => {}
        Some(other) => {
            return Err(FhirError::bad_request(format!(
                "mode '{other}' is not one of create, update, delete, profile"
            )));
        }
    }
    let resource = match (inputs.resource, id) {
        (Some(r), _) => r,
        (None, Some(id)) => {
            let Some(Current::Live(stored)) = session.current(resource_type, id).await? else {
                return Err(not_found(resource_type, id));
            };
            crate::format::json::from_str(stored.content.as_deref().unwrap_or("{}"))
                .map_err(|e| FhirError::Internal(e.to_string()))?
        }
        (None, None) => return Err(FhirError::bad_request("$validate needs a resource to validate")),
    };
    // Deleting is not constrained by anything the server checks.
    if inputs.mode.as_deref() == Some("delete") {
        return Ok(Response::resource(200, operation_outcome(&[])));
    }
    let found = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default();
    if found != resource_type {
        return Err(FhirError::bad_request(format!(
            "the resource is a {found}, but $validate was called on {resource_type}"
        )));
    }
    if let (Some(id), Some(body_id)) = (id, resource.get("id").and_then(Value::as_str))
        && id != body_id
    {
        return Err(FhirError::bad_request(format!("the resource's id '{body_id}' is not the instance's id '{id}'")));
    }
    let extra: Vec<&str> = inputs.profile.as_deref().into_iter().collect();
    if let Some(url) = inputs.profile.as_deref()
        && session.profiles.get(url).is_none()
        && !url.starts_with("http://hl7.org/fhir/StructureDefinition/")
    {
        return Err(FhirError::NotFound(format!("the profile {url}")));
    }
    let findings =
        crate::validation::validate_deep(session.model, &session.profiles, &session.codes(), &resource, &extra);
    Ok(Response::resource(200, operation_outcome(&findings.all())))
}

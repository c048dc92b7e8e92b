//! update: `PUT [base]/[type]/[id]` (update or create with the client's id, `If-Match` for
//! optimistic locking) and conditional update `PUT [base]/[type]?criteria`.

use serde_json::Value;

use super::write::{RETRIES, Target, check_body, check_body_id, new_id, stamp, written};
use super::{Fhir, Response, now};
use crate::error::{FhirError, FhirResult};
use crate::outcome::{Issue, IssueType};
use crate::search::criteria;
use crate::store::{Method, StoreError, StoreTx};

pub async fn update(
    fhir: &Fhir,
    resource_type: &str,
    id: &str,
    body: Value,
    if_match: Option<i64>,
) -> FhirResult<Response> {
    fhir.check_type(resource_type)?;
    check_body(fhir, resource_type, &body)?;
    check_body_id(resource_type, id, &body)?;
    let mut attempt = 0;
    loop {
        let tx = fhir.store.begin().await?;
        match put_in(fhir, tx, resource_type, id, body.clone(), if_match).await {
            // A concurrent writer created the same new id first; with If-Match the client's
            // precondition decides, without it the update simply applies on top.
            Err(FhirError::Store(StoreError::Conflict(_))) if if_match.is_none() && attempt < RETRIES => attempt += 1,
            Err(FhirError::Store(StoreError::Conflict(what))) => return Err(FhirError::PreconditionFailed(what)),
            other => return other,
        }
    }
}

/// Writes the next version of `resource_type/id` inside `tx` and commits.
async fn put_in(
    fhir: &Fhir,
    mut tx: Box<dyn StoreTx>,
    resource_type: &str,
    id: &str,
    body: Value,
    if_match: Option<i64>,
) -> FhirResult<Response> {
    let current = tx.lock_current(resource_type, id).await?;
    if let Some(expected) = if_match {
        match current {
            Some(c) if c.version == expected && !c.deleted => {}
            Some(c) => {
                return Err(FhirError::PreconditionFailed(format!(
                    "{resource_type}/{id} is at version {}{}, not {expected}",
                    c.version,
                    if c.deleted { " (deleted)" } else { "" }
                )));
            }
            None => {
                return Err(FhirError::PreconditionFailed(format!(
                    "{resource_type}/{id} does not exist, so If-Match cannot hold"
                )));
            }
        }
    }
    let live = current.is_some_and(|c| !c.deleted);
    let next = current.map_or(1, |c| c.version + 1);
    let target = Target { resource_type, id, version: next, replaces_index: live };
    let version = stamp(fhir, body, target, now(), Method::Update)?;
    super::commit::commit(fhir, tx, vec![version.clone()]).await?;
    super::write::activate_profile(fhir, &version);
    Ok(Response::version(fhir, if live { 200 } else { 201 }, written(version)))
}

pub async fn conditional_update(
    fhir: &Fhir,
    resource_type: &str,
    query: &str,
    body: Value,
    if_match: Option<i64>,
) -> FhirResult<Response> {
    fhir.check_type(resource_type)?;
    check_body(fhir, resource_type, &body)?;
    let conditions = criteria::parse(&fhir.registry.current(), &fhir.base_url, resource_type, query)?;
    let body_id = body.get("id").and_then(Value::as_str).map(str::to_string);

    let mut tx = fhir.store.begin().await?;
    tx.lock_key(&conditions.key).await?;
    let found = criteria::matching(tx.as_mut(), fhir.planner(), &conditions, 2).await?;
    let id = match (found.as_slice(), body_id) {
        ([], Some(id)) => {
            if tx.lock_current(resource_type, &id).await?.is_some_and(|c| !c.deleted) {
                return Err(FhirError::Conflict(format!(
                    "{resource_type}/{id} exists but does not match the conditional update's criteria"
                )));
            }
            id
        }
        ([], None) => new_id(),
        ([found], Some(id)) if *found != id => {
            return Err(FhirError::BadRequest(vec![
                Issue::error(
                    IssueType::Invalid,
                    format!("the criteria match {resource_type}/{found} but the body's id is '{id}'"),
                )
                .at(format!("{resource_type}.id")),
            ]));
        }
        ([found], _) => found.clone(),
        _ => {
            return Err(FhirError::PreconditionFailed(format!(
                "the conditional update's criteria match more than one {resource_type}"
            )));
        }
    };
    let mut body = body;
    if let Value::Object(fields) = &mut body {
        fields.insert("id".to_string(), Value::String(id.clone()));
    }
    match put_in(fhir, tx, resource_type, &id, body, if_match).await {
        Err(FhirError::Store(StoreError::Conflict(what))) => Err(FhirError::PreconditionFailed(what)),
        other => other,
    }
}

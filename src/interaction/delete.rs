//! delete: `DELETE [base]/[type]/[id]` writes a versioned tombstone (later reads answer 410);
//! conditional delete `DELETE [base]/[type]?criteria` deletes the single match.

use super::write::{RETRIES, tombstone, written};
use super::{Fhir, Response, now};
use crate::error::{FhirError, FhirResult};
use crate::outcome::Issue;
use crate::search::criteria;
use crate::store::{StoreError, StoreTx};

pub async fn delete(fhir: &Fhir, resource_type: &str, id: &str, if_match: Option<i64>) -> FhirResult<Response> {
    fhir.check_type(resource_type)?;
    let mut attempt = 0;
    loop {
        let tx = fhir.store.begin().await?;
        match delete_in(fhir, tx, resource_type, id, if_match).await {
            Err(FhirError::Store(StoreError::Conflict(_))) if if_match.is_none() && attempt < RETRIES => attempt += 1,
            Err(FhirError::Store(StoreError::Conflict(what))) => return Err(FhirError::PreconditionFailed(what)),
            other => return other,
        }
    }
}

async fn delete_in(
    fhir: &Fhir,
    mut tx: Box<dyn StoreTx>,
    resource_type: &str,
    id: &str,
    if_match: Option<i64>,
) -> FhirResult<Response> {
    let Some(current) = tx.lock_current(resource_type, id).await? else {
        return Err(FhirError::NotFound(format!("{resource_type}/{id}")));
    };
    if let Some(expected) = if_match
        && current.version != expected
    {
        return Err(FhirError::PreconditionFailed(format!(
            "{resource_type}/{id} is at version {}, not {expected}",
            current.version
        )));
    }
    if current.deleted {
        // Deleting a deleted resource changes nothing.
        let mut response = Response::empty(204);
        response.version = Some(current.version);
        response.issues.push(Issue::information(format!("{resource_type}/{id} was already deleted")));
        return Ok(response);
    }
    let version = tombstone(resource_type, id, current.version + 1, now());
    super::commit::commit(fhir, tx, vec![version.clone()]).await?;
    let mut response = Response::version(fhir, 204, written(version));
    response.location = None;
    response.issues.push(Issue::information(format!("{resource_type}/{id} deleted")));
    Ok(response)
}

pub async fn conditional_delete(fhir: &Fhir, resource_type: &str, query: &str) -> FhirResult<Response> {
    fhir.check_type(resource_type)?;
    let conditions = criteria::parse(&fhir.registry.current(), &fhir.base_url, resource_type, query)?;
    let mut tx = fhir.store.begin().await?;
    tx.lock_key(&conditions.key).await?;
    let found = criteria::matching(tx.as_mut(), fhir.planner(), &conditions, 2).await?;
    match found.as_slice() {
        [] => {
            let mut response = Response::empty(204);
            response.issues.push(Issue::information(format!("no {resource_type} matched; nothing was deleted")));
            Ok(response)
        }
        [id] => {
            let id = id.clone();
            match delete_in(fhir, tx, resource_type, &id, None).await {
                Err(FhirError::Store(StoreError::Conflict(what))) => Err(FhirError::PreconditionFailed(what)),
                other => other,
            }
        }
        _ => Err(FhirError::PreconditionFailed(format!(
            "the criteria match more than one {resource_type}; this server deletes a single match only"
        ))),
    }
}

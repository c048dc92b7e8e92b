//! create: `POST [base]/[type]`, with optional `If-None-Exist` (conditional create).

use serde_json::Value;

use super::write::{Target, check_body, new_id, stamp, written};
use super::{Fhir, Response, now};
use crate::error::{FhirError, FhirResult};
use crate::outcome::Issue;
use crate::search::criteria;
use crate::store::Method;

pub async fn create(
    fhir: &Fhir,
    resource_type: &str,
    body: Value,
    if_none_exist: Option<&str>,
) -> FhirResult<Response> {
    fhir.check_type(resource_type)?;
    check_body(fhir, resource_type, &body)?;
    let conditions = if_none_exist
        .map(|q| criteria::parse(&fhir.registry.current(), &fhir.base_url, resource_type, q))
        .transpose()?;

    let mut tx = fhir.store.begin().await?;
    if let Some(conditions) = &conditions {
        tx.lock_key(&conditions.key).await?;
        let found = criteria::matching(tx.as_mut(), fhir.planner(), conditions, 2).await?;
        match found.as_slice() {
            [] => {}
            [id] => {
                drop(tx);
                let existing =
                    fhir.store.read(resource_type, id).await?.ok_or_else(|| {
                        FhirError::Conflict(format!("{resource_type}/{id} vanished during the request"))
                    })?;
                let mut response = Response::version(fhir, 200, existing);
                response.issues.push(Issue::information(format!(
                    "a {resource_type} matching If-None-Exist already exists ({resource_type}/{id}); nothing was created"
                )));
                return Ok(response);
            }
            _ => {
                return Err(FhirError::PreconditionFailed(format!(
                    "If-None-Exist matches more than one {resource_type}; the request must be more selective"
                )));
            }
        }
    }
    let id = new_id();
    let target = Target { resource_type, id: &id, version: 1, replaces_index: false };
    let version = stamp(fhir, body, target, now(), Method::Create)?;
    super::commit::commit(fhir, tx, vec![version.clone()]).await?;
    super::write::activate_profile(fhir, &version);
    Ok(Response::version(fhir, 201, written(version)))
}

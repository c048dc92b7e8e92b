//! read and vread: `GET [base]/[type]/[id]` and `GET [base]/[type]/[id]/_history/[vid]`, with
//! conditional read (`If-None-Match`, `If-Modified-Since` → 304).

use super::{Fhir, Response};
use crate::error::{FhirError, FhirResult};
use crate::store::Micros;

/// Preconditions of a conditional read.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReadConditions {
    /// The version the client already has (`If-None-Match: W/"n"`).
    pub if_none_match: Option<i64>,
    /// `If-Modified-Since`, in epoch microseconds (whole seconds).
    pub if_modified_since: Option<Micros>,
}

pub async fn read(fhir: &Fhir, resource_type: &str, id: &str, conditions: ReadConditions) -> FhirResult<Response> {
    fhir.check_type(resource_type)?;
    fhir.check_read(resource_type, id).await?;
    let Some(current) = fhir.store.read(resource_type, id).await? else {
        return Err(FhirError::NotFound(format!("{resource_type}/{id}")));
    };
    if current.is_deleted() {
        return Err(FhirError::Gone(format!("{resource_type}/{id}")));
    }
    let unchanged_version = conditions.if_none_match == Some(current.version);
    // HTTP dates have whole seconds: compare at that precision.
    let unchanged_since =
        conditions.if_modified_since.is_some_and(|t| current.last_updated / 1_000_000 <= t / 1_000_000);
    if unchanged_version || unchanged_since {
        let mut response = Response::version(fhir, 304, current);
        response.body = None;
        return Ok(response);
    }
    fhir.record_access([&current]);
    Ok(Response::version(fhir, 200, current))
}

pub async fn vread(fhir: &Fhir, resource_type: &str, id: &str, version: i64) -> FhirResult<Response> {
    fhir.check_type(resource_type)?;
    fhir.check_read(resource_type, id).await?;
    let Some(found) = fhir.store.vread(resource_type, id, version).await? else {
        return Err(FhirError::NotFound(format!("{resource_type}/{id}/_history/{version}")));
    };
    if found.is_deleted() {
        return Err(FhirError::Gone(format!("{resource_type}/{id}/_history/{version}")));
    }
    fhir.record_access([&found]);
    Ok(Response::version(fhir, 200, found))
}

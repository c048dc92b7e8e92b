//! read and vread: `GET [base]/[type]/[id]` and `GET [base]/[type]/[id]/_history/[vid]`, with
//! conditional read (`If-None-Match`, `If-Modified-Since` → 304). What the caller may not see
//! answers 404, as what does not exist.

use super::Response;
use crate::clock::Micros;
use crate::error::{FhirError, FhirResult};
use crate::session::{Current, Session, not_found};

/// Preconditions of a conditional read.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReadConditions {
    /// The version the client already has (`If-None-Match: W/"n"`).
    pub if_none_match: Option<i64>,
    /// `If-Modified-Since`, in epoch microseconds (whole seconds).
    pub if_modified_since: Option<Micros>,
}

pub async fn read(
    session: &Session,
    resource_type: &str,
    id: &str,
    conditions: ReadConditions,
) -> FhirResult<Response> {
    session.check_type(resource_type)?;
    let current = match session.current(resource_type, id).await? {
        None => return Err(not_found(resource_type, id)),
        Some(Current::Deleted(_)) => return Err(FhirError::Gone(format!("{resource_type}/{id}"))),
        Some(Current::Live(v)) => v,
    };
    let unchanged_version = conditions.if_none_match == Some(current.version);
    // HTTP dates have whole seconds: compare at that precision.
    let unchanged_since =
        conditions.if_modified_since.is_some_and(|t| current.last_updated / 1_000_000 <= t / 1_000_000);
    if unchanged_version || unchanged_since {
        let mut response = Response::version(session, 304, current);
        response.body = None;
        return Ok(response);
    }
    Ok(Response::version(session, 200, current))
}

pub async fn vread(session: &Session, resource_type: &str, id: &str, version: i64) -> FhirResult<Response> {
    session.check_type(resource_type)?;
    let Some(found) = session.vread(resource_type, id, version).await? else {
        return Err(FhirError::NotFound(format!("{resource_type}/{id}/_history/{version}")));
    };
    if found.is_deleted() {
        return Err(FhirError::Gone(format!("{resource_type}/{id}/_history/{version}")));
    }
    Ok(Response::version(session, 200, found))
}

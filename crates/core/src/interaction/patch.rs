//! patch: `PATCH [base]/[type]/[id]` (and conditional `PATCH [base]/[type]?criteria`) with a JSON
//! Patch document (`application/json-patch+json`) or a FHIRPath Patch (a Parameters resource).
//! The commit applies it to the current version once the policy has judged the target, and
//! validates the result like any write; an invalid result stores nothing.

use serde_json::Value;

use super::Response;
use crate::error::FhirResult;
use crate::session::write::Action;
use crate::session::{Session, Target, Write};

pub async fn patch(
    session: &Session,
    resource_type: &str,
    id: &str,
    document: &Value,
    if_match: Option<i64>,
) -> FhirResult<Response> {
    session.check_type(resource_type)?;
    let action = Action::Patch { target: Target::Id(id.to_string()), document: document.clone(), if_match };
    let written = session.commit(Write::new(resource_type, action)).await?.remove(0);
    Ok(Response::written(session, written))
}

pub async fn conditional_patch(
    session: &Session,
    resource_type: &str,
    query: &str,
    document: &Value,
    if_match: Option<i64>,
) -> FhirResult<Response> {
    session.check_type(resource_type)?;
    let conditions = session.criteria(resource_type, query)?;
    let action = Action::Patch { target: Target::Matching(Box::new(conditions)), document: document.clone(), if_match };
    let written = session.commit(Write::new(resource_type, action)).await?.remove(0);
    Ok(Response::written(session, written))
}

//! update: `PUT [base]/[type]/[id]` (update, or create with the client's id for callers that may
//! choose ids; `If-Match` for optimistic locking) and conditional update `PUT [base]/[type]?criteria`.

use serde_json::Value;

use super::Response;
use crate::error::FhirResult;
use crate::session::prepare::{check_body, check_body_id};
use crate::session::write::Action;
use crate::session::{Session, Target, Write};

pub async fn update(
    session: &Session,
    resource_type: &str,
    id: &str,
    body: Value,
    if_match: Option<i64>,
) -> FhirResult<Response> {
    session.check_type(resource_type)?;
    check_body(session, resource_type, &body)?;
    check_body_id(resource_type, id, &body)?;
    let written = session.commit(Write::update(resource_type, id, body, if_match).checked()).await?.remove(0);
    Ok(Response::written(session, written))
}

pub async fn conditional_update(
    session: &Session,
    resource_type: &str,
    query: &str,
    body: Value,
    if_match: Option<i64>,
) -> FhirResult<Response> {
    session.check_type(resource_type)?;
    check_body(session, resource_type, &body)?;
    let conditions = session.criteria(resource_type, query)?;
    let action = Action::Update { target: Target::Matching(Box::new(conditions)), resource: body, if_match };
    let written = session.commit(Write::new(resource_type, action).checked()).await?.remove(0);
    Ok(Response::written(session, written))
}

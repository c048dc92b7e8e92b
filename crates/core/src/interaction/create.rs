//! create: `POST [base]/[type]`, with optional `If-None-Exist` (conditional create).

use serde_json::Value;

use super::Response;
use crate::error::FhirResult;
use crate::session::prepare::check_body;
use crate::session::write::Action;
use crate::session::{Session, Write};

pub async fn create(
    session: &Session,
    resource_type: &str,
    body: Value,
    if_none_exist: Option<&str>,
) -> FhirResult<Response> {
    session.check_type(resource_type)?;
    check_body(session, resource_type, &body)?;
    let if_none_exist = if_none_exist.map(|q| session.criteria(resource_type, q).map(Box::new)).transpose()?;
    let write = Write::new(resource_type, Action::Create { resource: body, if_none_exist }).checked();
    let written = session.commit(write).await?.remove(0);
    Ok(Response::written(session, written))
}

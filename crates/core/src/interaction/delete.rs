//! delete: `DELETE [base]/[type]/[id]` writes a versioned tombstone (later reads answer 410);
//! conditional delete `DELETE [base]/[type]?criteria` deletes the single match.

use super::Response;
use crate::error::FhirResult;
use crate::outcome::Issue;
use crate::session::write::Action;
use crate::session::{Session, Target, Write};

pub async fn delete(session: &Session, resource_type: &str, id: &str, if_match: Option<i64>) -> FhirResult<Response> {
    session.check_type(resource_type)?;
    let written = session.commit(Write::delete(resource_type, id, if_match)).await?.remove(0);
    Ok(deleted(session, written))
}

pub async fn conditional_delete(session: &Session, resource_type: &str, query: &str) -> FhirResult<Response> {
    session.check_type(resource_type)?;
    let conditions = session.criteria(resource_type, query)?;
    let action = Action::Delete { target: Target::Matching(Box::new(conditions)), if_match: None };
    let written = session.commit(Write::new(resource_type, action)).await?.remove(0);
    Ok(deleted(session, written))
}

fn deleted(session: &Session, written: crate::session::Written) -> Response {
    let what = format!("{}/{}", written.resource_type, written.id);
    let fresh = written.issues.is_empty() && written.version.is_some();
    let mut response = Response::written(session, written);
    if fresh {
        response.issues.push(Issue::information(format!("{what} deleted")));
    }
    response
}

//! `CodeSystem/$subsumes` (type and instance level): how two codes of one system relate.

use serde_json::{Value, json};

use super::{Params, parameters, system_of, with_workspace};
use crate::error::{FhirError, FhirResult};
use crate::interaction::Response;
use crate::session::Session;

pub async fn subsumes(session: &Session, params: &Params, instance: Option<&Value>) -> FhirResult<Response> {
    let a = params.coding("codingA", "system", "codeA", "");
    let b = params.coding("codingB", "system", "codeB", "");
    let (Some(a), Some(b)) = (a, b) else {
        return Err(FhirError::bad_request("$subsumes needs codeA and codeB (with system), or codingA and codingB"));
    };
    if a.system.is_some() && b.system.is_some() && a.system != b.system {
        return Err(FhirError::bad_request("$subsumes compares codes of one code system; codingA and codingB differ"));
    }
    let system = system_of(instance, a.system.clone().or(b.system.clone()))
        .ok_or_else(|| FhirError::bad_request("$subsumes needs the system of the codes"))?;
    let given: Vec<Value> = instance.cloned().into_iter().collect();
    let outcome = with_workspace(session, &given, |ws| ws.subsumes(&system, &a.code, &b.code)).await?;
    Ok(Response::resource(200, parameters(vec![json!({"name": "outcome", "valueCode": outcome.code()})])))
}

//! The server-managed parts of a Subscription, applied to every version a caller writes (create,
//! update, patch, Bundle entries alike) before it is validated: the subscription must be one this
//! server can serve (a known topic, filters it allows, a channel it has), its owner is the caller
//! (whatever the body says), and its status is `requested` until the handshake succeeds, or `off`
//! when the caller turns it off. The server's own writes (status changes by the delivery workers,
//! the demo) are taken as they are.

use serde_json::Value;

use crate::context::Fhir;
use crate::error::{FhirError, FhirResult};
use crate::outcome::{Issue, IssueType};
use crate::owner::{self, Owner};
use crate::session::{Session, WriteRule};
use crate::subscription::{self, Accepted};

/// The rules the server applies to writes (given to the server session at start-up).
pub static WRITE_RULES: &[WriteRule] = &[WriteRule { resource_type: "Subscription", apply: subscription_rule }];

fn subscription_rule(session: &Session, body: &mut Value) -> FhirResult<()> {
    if session.is_server_work() {
        return Ok(());
    }
    accepted(session.fhir(), body)
        .map_err(|why| FhirError::Unprocessable(vec![Issue::error(IssueType::Invalid, why).at("Subscription")]))?;
    owner::strip(body);
    if let Some(caller) = session.caller() {
        let extension = Owner::of(caller).extension();
        match body.get_mut("extension") {
            Some(Value::Array(extensions)) => extensions.push(extension),
            _ => body["extension"] = Value::Array(vec![extension]),
        }
    }
    let off = body.get("status").and_then(Value::as_str) == Some("off");
    body["status"] = Value::String(if off { "off" } else { "requested" }.into());
    if let Some(fields) = body.as_object_mut() {
        fields.remove("error");
    }
    Ok(())
}

/// The subscription as this server serves it, or why it cannot.
pub fn accepted(fhir: &Fhir, subscription: &Value) -> Result<Accepted, String> {
    let registry = fhir.registry.current();
    subscription::accept(subscription, &resource_types(fhir), |t, p| registry.get(t, p).is_some())
}

/// The resource types generic topics may name.
fn resource_types(fhir: &Fhir) -> Vec<&'static str> {
    fhir.model.resource_types().iter().map(String::as_str).collect()
}

//! The national patient-account (IKP) workflows, one module each: e-prescriptions, e-referrals,
//! e-orders, documents, registration and booking, primary-care declarations, EHIC applications,
//! authorisations, cross-border e-prescriptions. Each is FHIR resources in the national profiles
//! plus operations (`[type]/$name`, `[type]/[id]/$name`) that enforce the workflow's rules. The
//! operations go through the same access policy and audit trail as every interaction: they get a
//! [`Fhir`] acting for the caller, and write through the interactions' commit.

pub mod authorization;
pub mod booking;
pub mod crossborder;
pub mod demo;
pub mod documents;
pub mod ehic;
pub mod order;
pub mod poz;
pub mod prescription;
pub mod referral;
pub mod sweep;

use serde_json::Value;

use crate::error::{FhirError, FhirResult};
use crate::interaction::Response;
use crate::interaction::terminology::Params;
use crate::session::{Session, not_found};

/// Canonical base of the national OperationDefinitions.
pub const OPERATION_BASE: &str = "https://ikp.example.org/fhir/OperationDefinition";

/// One national operation: where it is invoked and what it does.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    pub resource_type: &'static str,
    /// Without the `$`.
    pub name: &'static str,
    /// Invoked on an instance (`[type]/[id]/$name`) rather than the type.
    pub instance: bool,
    pub description: &'static str,
}

impl Operation {
    /// The canonical URL of its OperationDefinition: the standard one where the operation is
    /// standard, else a national one per type (two types may share an operation name).
    pub fn definition(&self) -> String {
        match (self.resource_type, self.name) {
            ("Composition", "document") => "http://hl7.org/fhir/OperationDefinition/Composition-document".into(),
            ("Patient", "summary") => "http://hl7.org/fhir/uv/ips/OperationDefinition/summary".into(),
            (t, name) => format!("{OPERATION_BASE}/{t}-{name}"),
        }
    }
}

/// What an operation receives: query parameters and a Parameters body merged into `params`; any
/// other body (a Bundle, a MedicationDispense...) as it was sent.
#[derive(Debug, Default)]
pub struct Input {
    pub params: Params,
    pub body: Option<Value>,
}

impl Input {
    pub fn new(query: &[(String, String)], body: Option<Value>) -> FhirResult<Input> {
        let mut params = Params::from_query(query);
        let body = match body {
            Some(b) if b.get("resourceType").and_then(Value::as_str) == Some("Parameters") => {
                params = Params::from_resource(&b)?.with(params);
                None
            }
            other => other,
        };
        Ok(Input { params, body })
    }

    /// A required text parameter.
    pub fn text(&self, name: &str) -> FhirResult<&str> {
        self.params.text(name).ok_or_else(|| FhirError::bad_request(format!("the parameter '{name}' is required")))
    }

    /// The body, which must be a resource of `resource_type`.
    pub fn resource(&self, resource_type: &str) -> FhirResult<&Value> {
        self.body
            .as_ref()
            .filter(|b| b.get("resourceType").and_then(Value::as_str) == Some(resource_type))
            .ok_or_else(|| FhirError::bad_request(format!("the operation takes a {resource_type} in the body")))
    }
}

/// The current version of a resource the caller may see, parsed, with its version number (for
/// `ifMatch`); 404 when absent, deleted or outside the caller's reach.
pub async fn current(session: &Session, resource_type: &str, id: &str) -> FhirResult<(Value, i64)> {
    session.live(resource_type, id).await?.ok_or_else(|| not_found(resource_type, id))
}

/// The matched resources of a search response, as JSON.
pub fn matches(response: Response) -> FhirResult<Vec<Value>> {
    let Some(crate::interaction::Body::Bundle(bundle)) = response.body else { return Ok(Vec::new()) };
    let matched = |e: &&crate::interaction::bundle::Entry| {
        e.rest.get("search").and_then(|s| s.get("mode")).and_then(Value::as_str) == Some("match")
    };
    bundle.entries.iter().filter(matched).filter_map(|e| e.resource.as_ref()).map(|r| r.to_value()).collect()
}

/// A uniformly random decimal code of `digits` digits (access codes, document numbers): bytes of
/// fresh random UUIDs (all but the two that carry the version and variant), rejection-sampled so
/// that no digit is more likely than another.
pub fn random_digits(digits: usize) -> String {
    let mut out = String::with_capacity(digits);
    while out.len() < digits {
        let bytes = uuid::Uuid::new_v4().into_bytes();
        for (i, b) in bytes.into_iter().enumerate() {
            // 250 = 25 * 10: bytes from 250 up would favour 0-5.
            if i != 6 && i != 8 && b < 250 && out.len() < digits {
                out.push(char::from(b'0' + b % 10));
            }
        }
    }
    out
}

/// Every national operation (for routing and the CapabilityStatement).
pub fn operations() -> impl Iterator<Item = &'static Operation> {
    [
        prescription::OPERATIONS,
        crossborder::OPERATIONS,
        referral::OPERATIONS,
        order::OPERATIONS,
        documents::OPERATIONS,
        booking::OPERATIONS,
        poz::OPERATIONS,
        ehic::OPERATIONS,
        authorization::OPERATIONS,
    ]
    .into_iter()
    .flatten()
}

/// Whether `$name` on `resource_type` (instance or type level) is a national operation.
pub fn handles(resource_type: &str, instance: bool, operation: &str) -> bool {
    let Some(name) = operation.strip_prefix('$') else { return false };
    operations().any(|o| o.resource_type == resource_type && o.instance == instance && o.name == name)
}

/// Runs a national operation (see [`handles`]).
pub async fn operation(
    session: &Session,
    resource_type: &str,
    id: Option<&str>,
    operation: &str,
    input: Input,
) -> FhirResult<Response> {
    let name = operation.trim_start_matches('$');
    let Some(op) =
        operations().find(|o| o.resource_type == resource_type && o.instance == id.is_some() && o.name == name)
    else {
        return Err(FhirError::NotFound(format!("the operation {operation} on {resource_type}")));
    };
    match op.name {
        _ if owns(prescription::OPERATIONS, op) => prescription::run(session, op, id, input).await,
        _ if owns(crossborder::OPERATIONS, op) => crossborder::run(session, op, id, input).await,
        _ if owns(referral::OPERATIONS, op) => referral::run(session, op, id, input).await,
        _ if owns(order::OPERATIONS, op) => order::run(session, op, id, input).await,
        _ if owns(documents::OPERATIONS, op) => documents::run(session, op, id, input).await,
        _ if owns(booking::OPERATIONS, op) => booking::run(session, op, id, input).await,
        _ if owns(poz::OPERATIONS, op) => poz::run(session, op, id, input).await,
        _ if owns(ehic::OPERATIONS, op) => ehic::run(session, op, id, input).await,
        _ if owns(authorization::OPERATIONS, op) => authorization::run(session, op, id, input).await,
        _ => Err(FhirError::NotFound(format!("the operation {operation} on {resource_type}"))),
    }
}

/// Whether `op` is one of `ops` (by type, level and name: two workflows may share a name, such as
/// `ServiceRequest/$issue` and `DeviceRequest/$issue`).
fn owns(ops: &[Operation], op: &Operation) -> bool {
    ops.iter().any(|o| o.resource_type == op.resource_type && o.instance == op.instance && o.name == op.name)
}

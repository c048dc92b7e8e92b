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
use crate::interaction::terminology::Params;
use crate::interaction::{Fhir, Response};

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

/// The current version of a resource, parsed, with its version number (for `ifMatch`); 404 when
/// absent or deleted. Reads the store directly: callers check access first.
pub async fn current(fhir: &Fhir, resource_type: &str, id: &str) -> FhirResult<(Value, i64)> {
    let stored = fhir
        .store
        .read(resource_type, id)
        .await?
        .filter(|v| !v.is_deleted())
        .ok_or_else(|| FhirError::NotFound(format!("{resource_type}/{id}")))?;
    let value = serde_json::from_str(stored.content.as_deref().unwrap_or("{}"))
        .map_err(|e| FhirError::Internal(format!("{resource_type}/{id} is stored unreadable: {e}")))?;
    Ok((value, stored.version))
}

/// The caller's `fhirUser` reference (`Practitioner/x`), when there is one.
pub fn caller_user(fhir: &Fhir) -> Option<String> {
    fhir.caller.as_ref().and_then(|c| c.principal.fhir_user.clone())
}

/// The matched resources of a search response, as JSON.
pub fn matches(response: Response) -> FhirResult<Vec<Value>> {
    let Some(crate::interaction::Body::Bundle(bundle)) = response.body else { return Ok(Vec::new()) };
    let matched = |e: &&crate::interaction::bundle::Entry| {
        e.rest.get("search").and_then(|s| s.get("mode")).and_then(Value::as_str) == Some("match")
    };
    bundle.entries.iter().filter(matched).filter_map(|e| e.resource.as_ref()).map(|r| r.to_value()).collect()
}

/// Today (UTC).
pub fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// `YYYY-MM-DD` (or the date part of a dateTime).
pub fn parse_date(text: &str) -> Option<time::Date> {
    let mut parts = text.get(..10)?.split('-').map(|p| p.parse::<i32>().ok());
    let (Some(Some(y)), Some(Some(m)), Some(Some(d))) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let month = time::Month::try_from(u8::try_from(m).ok()?).ok()?;
    time::Date::from_calendar_date(y, month, u8::try_from(d).ok()?).ok()
}

pub fn format_date(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
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
    fhir: &Fhir,
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
        _ if owns(prescription::OPERATIONS, op) => prescription::run(fhir, op, id, input).await,
        _ if owns(crossborder::OPERATIONS, op) => crossborder::run(fhir, op, id, input).await,
        _ if owns(referral::OPERATIONS, op) => referral::run(fhir, op, id, input).await,
        _ if owns(order::OPERATIONS, op) => order::run(fhir, op, id, input).await,
        _ if owns(documents::OPERATIONS, op) => documents::run(fhir, op, id, input).await,
        _ if owns(booking::OPERATIONS, op) => booking::run(fhir, op, id, input).await,
        _ if owns(poz::OPERATIONS, op) => poz::run(fhir, op, id, input).await,
        _ if owns(ehic::OPERATIONS, op) => ehic::run(fhir, op, id, input).await,
        _ if owns(authorization::OPERATIONS, op) => authorization::run(fhir, op, id, input).await,
        _ => Err(FhirError::NotFound(format!("the operation {operation} on {resource_type}"))),
    }
}

/// Whether `op` is one of `ops` (by type, level and name: two workflows may share a name, such as
/// `ServiceRequest/$issue` and `DeviceRequest/$issue`).
fn owns(ops: &[Operation], op: &Operation) -> bool {
    ops.iter().any(|o| o.resource_type == op.resource_type && o.instance == op.instance && o.name == op.name)
}

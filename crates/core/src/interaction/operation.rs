//! What an operation is: a row of the one operation registry (`crate::api::operations`), from
//! which routing, the CapabilityStatement, the OperationDefinitions and the audit trail's
//! action are derived. Adding an operation is one handler (an async function taking the session
//! and the [`Call`]) and one row.

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::Response;
use super::terminology_operations::Params;
use crate::error::{FhirError, FhirResult};
use crate::session::Session;

/// Canonical base of the OperationDefinitions this server defines.
pub const OPERATION_BASE: &str = "https://ikp.example.org/fhir/OperationDefinition";

/// Where an operation is invoked: `[base]/$op`, `[base]/[type]/$op`, `[base]/[type]/[id]/$op`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    System,
    Type,
    Instance,
}

/// An operation's handler: the session of the request (confined to its caller) and the call.
pub type Handler = fn(Session, Call) -> BoxFuture<'static, FhirResult<Response>>;

/// One operation, at the levels and on the types it is defined for.
pub struct OperationDef {
    /// Without the `$`.
    pub name: &'static str,
    /// The types it is invoked on (`["*"]`: every type; empty: system level only).
    pub resource_types: &'static [&'static str],
    pub levels: &'static [Level],
    /// Whether it changes data: then it is POST only, and audited as an execution rather than
    /// a read.
    pub affects_state: bool,
    /// The canonical URL of its OperationDefinition, when it is a standard one (HL7's, an IG's);
    /// `None`: defined by this server, at `{OPERATION_BASE}/{Type}-{name}` (or `{name}`).
    pub standard: Option<&'static str>,
    pub description: &'static str,
    /// Its input parameters (outputs are documented in the description).
    pub parameters: &'static [Param],
    pub handler: Handler,
}

/// An input parameter of an operation.
pub struct Param {
    pub name: &'static str,
    /// FHIR type (`string`, `code`, `Reference`, `Bundle`, ...).
    pub kind: &'static str,
    pub required: bool,
    pub repeats: bool,
    pub documentation: &'static str,
}

impl Param {
    pub const fn required(name: &'static str, kind: &'static str, documentation: &'static str) -> Param {
        Param { name, kind, required: true, repeats: false, documentation }
    }

    pub const fn optional(name: &'static str, kind: &'static str, documentation: &'static str) -> Param {
        Param { name, kind, required: false, repeats: false, documentation }
    }

    pub const fn repeated(name: &'static str, kind: &'static str, documentation: &'static str) -> Param {
        Param { name, kind, required: false, repeats: true, documentation }
    }
}

impl OperationDef {
    /// Whether it is invoked at `level` on `resource_type` (`None`: system level).
    pub fn serves(&self, level: Level, resource_type: Option<&str>) -> bool {
        if !self.levels.contains(&level) {
            return false;
        }
        match (level, resource_type) {
            (Level::System, _) => true,
            (_, Some(t)) => self.resource_types.iter().any(|r| *r == "*" || *r == t),
            (_, None) => false,
        }
    }

    /// Whether it applies to `resource_type` at type or instance level.
    pub fn applies_to(&self, resource_type: &str) -> bool {
        self.levels.iter().any(|l| *l != Level::System)
            && self.resource_types.iter().any(|r| *r == "*" || *r == resource_type)
    }

    /// The id of the OperationDefinition this server defines for it (on `resource_type`).
    pub fn definition_id(&self, resource_type: Option<&str>) -> String {
        match resource_type.filter(|_| !self.resource_types.contains(&"*")) {
            Some(t) => format!("{t}-{}", self.name),
            None => self.name.to_string(),
        }
    }

    /// The canonical URL of its OperationDefinition (on `resource_type`).
    pub fn definition(&self, resource_type: Option<&str>) -> String {
        match self.standard {
            Some(url) => url.to_string(),
            None => format!("{OPERATION_BASE}/{}", self.definition_id(resource_type)),
        }
    }

    /// The OperationDefinition of a server-defined operation on `resource_type`.
    pub fn definition_resource(&self, resource_type: Option<&str>) -> Value {
        let id = self.definition_id(resource_type);
        let parameters: Vec<Value> = self
            .parameters
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "use": "in",
                    "min": u8::from(p.required),
                    "max": if p.repeats { "*" } else { "1" },
                    "documentation": p.documentation,
                    "type": p.kind,
                })
            })
            .collect();
        let mut definition = json!({
            "resourceType": "OperationDefinition",
            "id": id,
            "url": self.definition(resource_type),
            "name": id.replace('-', "_"),
            "title": format!("${}", self.name),
            "status": "active",
            "kind": "operation",
            "affectsState": self.affects_state,
            "code": self.name,
            "description": self.description,
            "system": self.levels.contains(&Level::System),
            "type": self.levels.contains(&Level::Type),
            "instance": self.levels.contains(&Level::Instance),
        });
        if let Some(t) = resource_type.filter(|t| *t != "*") {
            definition["resource"] = json!([t]);
        }
        if !parameters.is_empty() {
            definition["parameter"] = Value::Array(parameters);
        }
        definition
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

/// One invocation of an operation.
#[derive(Debug, Default)]
pub struct Call {
    pub resource_type: Option<String>,
    /// The instance, for instance-level calls.
    pub id: Option<String>,
    pub input: Input,
    /// The query string, as sent.
    pub query: Vec<(String, String)>,
    /// The body as sent (a Parameters resource too), for operations that read it whole.
    pub raw_body: Option<Value>,
    /// The request's URL (the Bulk Data manifest repeats it).
    pub request_url: String,
    /// `Prefer: respond-async`.
    pub respond_async: bool,
    /// `Prefer: handling=strict`.
    pub strict: bool,
}

impl Call {
    /// The instance an instance-level operation is invoked on.
    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or_default()
    }

    /// The type it is invoked on.
    pub fn resource_type(&self) -> &str {
        self.resource_type.as_deref().unwrap_or_default()
    }
}

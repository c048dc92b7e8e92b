//! FHIR interactions, one module each. They speak in FHIR terms (resources, versions, bundles)
//! and know nothing of HTTP beyond the status codes FHIR assigns to outcomes.

pub mod bundle;
pub mod create;
pub mod delete;
pub mod everything;
pub mod export;
pub mod history;
pub mod observation_operations;
pub mod operation;
pub mod patch;
pub mod read;
pub mod reindex;
pub mod search;
pub mod terminology_operations;
pub mod update;
pub mod validate;

use serde_json::Value;

use crate::clock::Micros;
use crate::context::Fhir;
use crate::error::{FhirError, FhirResult};
use crate::outcome::{Issue, IssueType};
use crate::session::Written;
use crate::store::ResourceVersion;

/// The body of a successful interaction.
#[derive(Debug, Clone)]
pub enum Body {
    /// A stored resource version, sent as stored when no transformation is asked for.
    Stored(ResourceVersion),
    /// A resource built by the server (CapabilityStatement, OperationOutcome).
    Resource(Value),
    /// A searchset or history Bundle.
    Bundle(bundle::Bundle),
}

/// The result of an interaction, before it is rendered for the wire.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Option<Body>,
    /// Versioned URL of the resource the interaction concerns (Location / Content-Location).
    pub location: Option<String>,
    pub version: Option<i64>,
    pub last_updated: Option<Micros>,
    /// Informational issues to report when the client asks for `Prefer: return=OperationOutcome`.
    pub issues: Vec<Issue>,
}

impl Response {
    pub fn resource(status: u16, value: Value) -> Response {
        Response {
            status,
            body: Some(Body::Resource(value)),
            location: None,
            version: None,
            last_updated: None,
            issues: Vec::new(),
        }
    }

    pub fn empty(status: u16) -> Response {
        Response { status, body: None, location: None, version: None, last_updated: None, issues: Vec::new() }
    }

    /// The response to a write: the version written (or matched), its status and issues.
    pub fn written(fhir: &Fhir, written: Written) -> Response {
        let mut response = match written.version {
            Some(v) => Response::version(fhir, written.status, v),
            None => Response::empty(written.status),
        };
        if written.status == 204 {
            response.location = None;
            response.body = None;
        }
        response.issues = written.issues;
        response
    }

    /// A response about a stored version: body, ETag, Last-Modified and versioned location.
    pub fn version(fhir: &Fhir, status: u16, v: ResourceVersion) -> Response {
        Response {
            status,
            location: Some(fhir.version_url(&v.resource_type, &v.id, v.version)),
            version: Some(v.version),
            last_updated: Some(v.last_updated),
            body: if v.is_deleted() { None } else { Some(Body::Stored(v)) },
            issues: Vec::new(),
        }
    }
}

/// Parses a version id from a path or an `If-Match` ETag (`W/"3"`, `"3"` or `3`).
pub fn parse_version(text: &str) -> FhirResult<i64> {
    let t = text.trim();
    let t = t.strip_prefix("W/").unwrap_or(t).trim_matches('"');
    t.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| {
        FhirError::BadRequest(vec![Issue::error(IssueType::Invalid, format!("'{text}' is not a version id"))])
    })
}

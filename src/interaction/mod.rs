//! FHIR interactions, one module each. They speak in FHIR terms (resources, versions, bundles)
//! and know nothing of HTTP beyond the status codes FHIR assigns to outcomes.

pub mod batch;
pub mod bundle;
pub mod capabilities;
mod commit;
pub mod create;
pub mod delete;
pub mod everything;
pub mod export;
pub mod history;
pub mod ingest;
pub mod patch;
mod permit;
pub mod read;
pub mod reindex;
pub mod search;
pub mod terminology;
pub mod transaction;
pub mod update;
pub mod validate;
pub mod write;

use std::sync::Arc;

use serde_json::Value;

use crate::error::{FhirError, FhirResult};
use crate::model::Model;
use crate::outcome::{Issue, IssueType};
use crate::search::cursor::CursorSigner;
use crate::search::plan::Dialect;
use crate::search::registry::SharedRegistry;
use crate::store::{Micros, ResourceVersion, Store};

/// What every interaction needs: the store, the model and the server's public base URL.
#[derive(Clone)]
pub struct Fhir {
    pub store: Arc<dyn Store>,
    pub model: &'static Model,
    pub registry: Arc<SharedRegistry>,
    /// Signs paging cursors with the secret all server nodes share.
    pub cursors: CursorSigner,
    /// Public base URL of the FHIR endpoint, without a trailing slash.
    pub base_url: String,
    /// Profiles resources are validated against (built-in national ones and stored ones).
    pub profiles: Arc<crate::validation::profiles::ProfileSet>,
    /// The built-in terminology, parsed on first use (definitions stored on the server are
    /// looked up per request).
    pub terminology: &'static crate::terminology::builtin::BuiltinTerminology,
    /// Who the request is for, and what they may reach (`None`: unconfined).
    pub caller: Option<Arc<crate::access::Caller>>,
}

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

impl Fhir {
    /// The current content of every live resource of a type (for small definitional types:
    /// SearchParameter, ConceptMap).
    pub async fn all_of_type(&self, resource_type: &str) -> FhirResult<Vec<Value>> {
        let mut sql = crate::store::sql::Sql::new(
            "SELECT v.content FROM resource r JOIN resource_version v ON v.seq = r.seq WHERE r.deleted = FALSE AND r.res_type = ",
        );
        sql.bind(crate::store::sql::Bind::Text(resource_type.to_string()));
        let rows = self.store.query(sql, &[crate::store::sql::Column::Text]).await?;
        Ok(rows
            .iter()
            .filter_map(|r| r.first().and_then(crate::store::sql::Cell::as_text))
            .filter_map(|text| serde_json::from_str::<Value>(text).ok())
            .collect())
    }

    /// The value-set membership checks bindings use: the built-in terminology (bindings to value
    /// sets it cannot expand are reported as unchecked).
    pub fn codes(&self) -> BuiltinCodes {
        BuiltinCodes(self.terminology)
    }

    pub fn resource_url(&self, resource_type: &str, id: &str) -> String {
        format!("{}/{resource_type}/{id}", self.base_url)
    }

    pub fn version_url(&self, resource_type: &str, id: &str, version: i64) -> String {
        format!("{}/{resource_type}/{id}/_history/{version}", self.base_url)
    }

    pub fn dialect(&self) -> Dialect {
        match self.store.backend() {
            "postgres" => Dialect::Postgres,
            _ => Dialect::Sqlite,
        }
    }

    /// The index rows of a resource, as the current search parameters define them.
    pub fn index(&self, resource: &Value) -> crate::index::IndexRows {
        let registry = self.registry.current();
        crate::index::Extractor { registry: &registry, model: self.model, base_url: &self.base_url }.extract(resource)
    }

    /// Refuses resource types the server does not know (404, as the FHIR REST API says).
    pub fn check_type(&self, resource_type: &str) -> FhirResult<()> {
        if self.model.is_resource_type(resource_type) {
            Ok(())
        } else {
            Err(FhirError::UnknownType(resource_type.to_string()))
        }
    }
}

/// Now, truncated to milliseconds so `meta.lastUpdated` shows exactly what is stored.
pub fn now() -> Micros {
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    ((nanos / 1_000_000) * 1000) as Micros
}

/// Formats epoch microseconds as a FHIR instant with millisecond precision.
pub fn instant(micros: Micros) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Parses a version id from a path or an `If-Match` ETag (`W/"3"`, `"3"` or `3`).
pub fn parse_version(text: &str) -> FhirResult<i64> {
    let t = text.trim();
    let t = t.strip_prefix("W/").unwrap_or(t).trim_matches('"');
    t.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| {
        FhirError::BadRequest(vec![Issue::error(IssueType::Invalid, format!("'{text}' is not a version id"))])
    })
}

/// Value-set membership from the built-in terminology, which is parsed only when a binding
/// actually needs it.
pub struct BuiltinCodes(pub &'static crate::terminology::builtin::BuiltinTerminology);

impl crate::validation::profile::Codes for BuiltinCodes {
    fn contains(&self, value_set: &str, system: Option<&str>, code: &str) -> Option<bool> {
        let builtin = self.0.get().ok()?;
        crate::terminology::Workspace::new(&builtin.definitions).contains(value_set, system, code)
    }
}

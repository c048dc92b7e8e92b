//! What the server knows without asking the database: the R4 model, the search parameters, the
//! profiles and terminology it validates with, its public base URL and the cursor signer. Shared
//! by every request; it gives no access to stored data (that is [`crate::session::Session`]).

use std::sync::Arc;

use serde_json::Value;

use crate::error::{FhirError, FhirResult};
use crate::index::{CompartmentRow, IndexRows};
use crate::model::Model;
use crate::search::cursor::CursorSigner;
use crate::search::registry::SharedRegistry;

#[derive(Clone)]
pub struct Fhir {
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
    /// The query-cost budget every search and conditional write is parsed under.
    pub limits: crate::search::limits::SearchLimits,
}

impl Fhir {
    /// The value-set membership checks bindings use: the built-in terminology (bindings to value
    /// sets it cannot expand are reported as unchecked).
    pub fn codes(&self) -> BuiltinCodes {
        BuiltinCodes(self.terminology)
    }

    /// Parses conditional-write criteria (`identifier=x|1`) for `resource_type`, strictly.
    pub fn criteria(&self, resource_type: &str, query: &str) -> FhirResult<crate::search::criteria::Criteria> {
        Ok(crate::search::criteria::parse(
            &self.registry.current(),
            &self.base_url,
            &self.limits,
            resource_type,
            query,
        )?)
    }

    pub fn resource_url(&self, resource_type: &str, id: &str) -> String {
        format!("{}/{resource_type}/{id}", self.base_url)
    }

    pub fn version_url(&self, resource_type: &str, id: &str, version: i64) -> String {
        format!("{}/{resource_type}/{id}/_history/{version}", self.base_url)
    }

    /// The index rows of a resource, as the current search parameters define them.
    pub fn index(&self, resource: &Value) -> IndexRows {
        let registry = self.registry.current();
        crate::index::Extractor { registry: &registry, model: self.model, base_url: &self.base_url }.extract(resource)
    }

    /// The compartments a resource belongs to (`Patient/123`), as its index rows would record
    /// them: the access policy judges versions that have no index rows (past versions) by this.
    pub fn compartments_of(&self, resource: &Value) -> Vec<CompartmentRow> {
        let registry = self.registry.current();
        crate::index::Extractor { registry: &registry, model: self.model, base_url: &self.base_url }
            .compartments_only(resource)
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

/// Value-set membership from the built-in terminology, which is parsed only when a binding
/// actually needs it (each value set is expanded once per process).
pub struct BuiltinCodes(pub &'static crate::terminology::builtin::BuiltinTerminology);

impl crate::validation::profile::Codes for BuiltinCodes {
    fn contains(&self, value_set: &str, system: Option<&str>, code: &str) -> Option<bool> {
        crate::terminology::membership::builtin_members(value_set).map(|members| members.has(system, code))
    }
}

//! The interactions' side of the access policy: a [`Fhir`] handle may carry the request's
//! [`Caller`], and every interaction asks it before touching the store. A handle without a caller
//! is unconfined (authorization off, the server's own work, the command-line tools).

use std::sync::Arc;

use super::Fhir;
use crate::access::Caller;
use crate::auth::scopes::Interaction;
use crate::error::{FhirError, FhirResult};
use crate::search::parse::Parser;
use crate::search::plan::Planner;
use crate::search::query::Filter;
use crate::search::reach::{Reach, Visible};
use crate::store::ResourceVersion;

impl Fhir {
    /// This handle, acting for `caller`.
    pub fn with_caller(&self, caller: Caller) -> Fhir {
        let mut fhir = self.clone();
        fhir.caller = Some(Arc::new(caller));
        fhir
    }

    /// The confined caller's reach (`None`: unconfined).
    pub fn reach(&self) -> Option<Arc<Reach>> {
        self.caller.as_ref().and_then(|c| c.reach.clone())
    }

    /// A SQL planner whose every query stays within the caller's reach.
    pub fn planner(&self) -> Planner {
        Planner::new(self.dialect()).within(self.reach())
    }

    /// The scopes' granular filter for `interaction` on `resource_type`, as search filters; 403
    /// when the scopes do not allow it.
    pub fn grant(&self, resource_type: &str, interaction: Interaction) -> FhirResult<Vec<Filter>> {
        let Some(caller) = &self.caller else { return Ok(Vec::new()) };
        let pairs = caller.grant(resource_type, interaction)?;
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let registry = self.registry.current();
        let parser = Parser { registry: &registry, base_url: &self.base_url, strict: true };
        Ok(parser.parse(vec![resource_type.to_string()], &pairs)?.filters)
    }

    /// A search over several types (all, when empty).
    pub fn grant_types(&self, types: &[String], interaction: Interaction) -> FhirResult<()> {
        self.caller.as_ref().map_or(Ok(()), |c| c.grant_types(types, interaction))
    }

    /// System-wide work: only for unconfined callers.
    pub fn grant_system(&self, interaction: Interaction) -> FhirResult<()> {
        self.caller.as_ref().map_or(Ok(()), |c| c.grant_system(interaction))
    }

    /// Whether the caller may read `Type/id`: 403 without a scope for it, 404 when the resource
    /// is outside the caller's reach (the same answer as for a resource that does not exist, so
    /// that nobody learns what exists in records they may not see).
    pub async fn check_read(&self, resource_type: &str, id: &str) -> FhirResult<()> {
        let Some(caller) = &self.caller else { return Ok(()) };
        let filters = self.grant(resource_type, Interaction::Read)?;
        if caller.is_own(resource_type, id) || (caller.reach.is_none() && filters.is_empty()) {
            return Ok(());
        }
        let registry = self.registry.current();
        let parser = Parser { registry: &registry, base_url: &self.base_url, strict: true };
        let mut query = parser.parse(vec![resource_type.to_string()], &[("_id".to_string(), id.to_string())])?;
        query.filters.extend(filters);
        let (sql, columns) = self.planner().page(&query, 1);
        if self.store.query(sql, &columns).await?.is_empty() {
            Err(FhirError::NotFound(format!("{resource_type}/{id}")))
        } else {
            Ok(())
        }
    }

    /// Notes resources handed to the caller, for the audit trail.
    pub fn record_access<'a>(&self, versions: impl IntoIterator<Item = &'a ResourceVersion>) {
        if let Some(caller) = &self.caller {
            caller.record(versions.into_iter().map(|v| (v.resource_type.clone(), v.id.clone())));
        }
    }

    /// This handle with the caller's reach widened by `extra`, for one operation whose own rule
    /// grants it (a pharmacist who presents a prescription's access code and the patient's PESEL
    /// may dispense that patient's prescriptions). The caller stays the same for the audit trail.
    pub fn widened(&self, extra: Visible) -> Fhir {
        let mut fhir = self.clone();
        if let Some(caller) = &self.caller {
            let mut caller = (**caller).clone();
            if let Some(reach) = &caller.reach {
                let mut reach = (**reach).clone();
                reach.visible.push(extra);
                caller.reach = Some(Arc::new(reach));
            }
            fhir.caller = Some(Arc::new(caller));
        }
        fhir
    }

    /// This handle for writes whose policy the calling operation has already decided (its own
    /// rule lets the caller change what the general policy would not, such as a facility's
    /// Slot when booking it): the writes skip the write check and are audited as the caller's,
    /// in the same transaction as any other write.
    pub fn vouched(&self) -> Fhir {
        let mut fhir = self.clone();
        if let Some(caller) = &self.caller {
            let mut caller = (**caller).clone();
            caller.vouched = true;
            fhir.caller = Some(Arc::new(caller));
        }
        fhir
    }

    /// This handle without a caller: for the server's own lookups inside an operation (finding a
    /// prescription by its access code), never for what is handed to the caller.
    pub fn unconfined(&self) -> Fhir {
        let mut fhir = self.clone();
        fhir.caller = None;
        fhir
    }

    /// Whether the caller is confined (a reach, or granular scopes).
    pub fn is_confined(&self) -> bool {
        self.caller.as_ref().is_some_and(|c| c.reach.is_some())
    }
}

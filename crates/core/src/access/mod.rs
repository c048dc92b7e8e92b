//! The access policy, decided in one place and applied everywhere.
//!
//! A request's [`Caller`] carries two answers: what the token's scopes allow ([`scopes`] parsed, [`scope_rule`] applied: which
//! types and interactions, with granular filters) and what the person behind it may see at all
//! ([`entitlements`]: their own record, their minor children's, what active Consents grant them,
//! a doctor's primary-care patients and own documents). Interactions ask the caller before they
//! touch the store; searches carry the caller's [`Reach`] into the SQL planner, so every query
//! (matches, totals, includes, chains, `_has`, `$everything`, conditional writes) is narrowed in
//! the database rather than filtered afterwards.

pub mod cache;
pub mod entitlements;
pub mod principal;
pub mod scope_rule;
pub mod scopes;

use std::sync::Arc;

use crate::access::principal::{Actor, Principal};
use crate::access::scopes::{Context, Interaction};
use crate::error::{FhirError, FhirResult};
use crate::search::reach::Reach;

/// Who is calling, and what they may reach. Worked out once per token (and policy generation)
/// by the REST guard and shared by every request made with that token, so it holds nothing about
/// one request (that is the session's trail).
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    /// The personal data the caller may see (`None`: not confined, a backend service with
    /// `system/` scopes). With `user/` scopes this is everything the user is entitled to; with
    /// only `patient/` scopes, the in-context patient's part of it.
    pub reach: Option<Arc<Reach>>,
}

/// Why an operation widened the policy for one request (a pharmacist who presented an access
/// code, a booking that changes a facility's Slot): recorded in the AuditEvents of the request
/// (`purposeOfEvent`), so every exception to the general policy is visible in the trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reason {
    pub code: &'static str,
    pub display: &'static str,
}

/// Where the codes of [`Reason`]s are defined.
pub const REASON_SYSTEM: &str = "https://ikp.example.org/fhir/CodeSystem/access-reason";

impl Caller {
    /// Confines a verified principal by its entitlements and the token's contexts.
    pub fn new(principal: Principal, entitled: Reach) -> Caller {
        let backend = principal.actor == Actor::Client && principal.scopes.has_context(Context::System);
        let reach = if backend {
            None
        } else if principal.scopes.has_context(Context::User) {
            Some(Arc::new(entitled))
        } else {
            // Only patient/ scopes: the part of the entitlements about the patient in context.
            // A patient the user is no longer entitled to (a child turned 18, a revoked
            // Consent) leaves nothing.
            let patient = principal.patient.clone().unwrap_or_default();
            let visible =
                entitled.visible.into_iter().filter(|v| v.comp_type == "Patient" && v.comp_id == patient).collect();
            Some(Arc::new(Reach { visible }))
        };
        Caller { principal, reach }
    }

    /// The granular filter the scopes impose on `interaction` over `resource_type` (empty when
    /// none), or 403 when no granted scope allows it.
    pub fn grant(&self, resource_type: &str, interaction: Interaction) -> FhirResult<Vec<(String, String)>> {
        let writing = !matches!(interaction, Interaction::Read | Interaction::Search);
        if writing && resource_type == "AuditEvent" && self.reach.is_some() {
            return Err(FhirError::Forbidden("the audit trail is written by the server only".into()));
        }
        scope_rule::grant(&self.principal, resource_type, interaction).map(|g| g.filter).map_err(FhirError::Forbidden)
    }

    /// A search over several types (or all of them, when `types` is empty). Granular filters are
    /// per type, so they are refused here rather than applied to the wrong types.
    pub fn grant_types(&self, types: &[String], interaction: Interaction) -> FhirResult<()> {
        if types.is_empty() {
            let any_type = self
                .principal
                .scopes
                .resources
                .iter()
                .any(|s| s.resource_type.is_none() && s.filter.is_empty() && s.permissions.allows(interaction));
            return if any_type {
                Ok(())
            } else {
                Err(FhirError::Forbidden("searching every type needs a */ scope; name the types with _type".into()))
            };
        }
        for t in types {
            if !self.grant(t, interaction)?.is_empty() {
                return Err(FhirError::Forbidden(format!(
                    "the token's granular scope on {t} applies to {t} searches only"
                )));
            }
        }
        Ok(())
    }

    /// System-wide work (`$export`, `$reindex`, system history): an unconfined caller with a `*`
    /// scope for the interaction.
    pub fn grant_system(&self, interaction: Interaction) -> FhirResult<()> {
        if self.reach.is_none() && scope_rule::grants_every_type(&self.principal, interaction) {
            Ok(())
        } else {
            Err(FhirError::Forbidden("this needs a backend service with a system/*.* scope".into()))
        }
    }

    /// Whether `Type/id` is the caller's own user resource (always readable).
    pub fn is_own(&self, resource_type: &str, id: &str) -> bool {
        self.principal.is_own_resource(resource_type, id)
    }
}

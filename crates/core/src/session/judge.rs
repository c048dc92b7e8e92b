//! Judging one version of a resource for the session's caller, in memory: by the compartments
//! that version belongs to (not the current version's: a resource moved from one patient to
//! another shows each patient only their versions) and by the scopes' granular filters.

use serde_json::Value;

use super::{Policy, Session};
use crate::access::scopes::Interaction;
use crate::error::FhirResult;
use crate::index::{CompartmentRow, IndexRows};
use crate::search::query::{Condition, Filter, FilterKind};
use crate::search::registry::Registry;
use crate::store::ResourceVersion;

/// What the caller may do with one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sight {
    /// Nothing: the version does not exist for the caller.
    Hidden,
    /// Read it, not change it.
    Read,
    /// Read it and write over it.
    Write,
}

impl Session {
    /// How the caller sees a resource of `resource_type` in `compartments` (those of the version
    /// judged). Unconfined callers see everything.
    pub(super) fn sight(&self, resource_type: &str, id: &str, compartments: &[(String, String)]) -> Sight {
        let Policy::Caller { caller, reach } = &self.policy else { return Sight::Write };
        let Some(reach) = reach else { return Sight::Write };
        if reach.admits(resource_type, compartments, true) {
            Sight::Write
        } else if reach.admits(resource_type, compartments, false) || caller.is_own(resource_type, id) {
            Sight::Read
        } else {
            Sight::Hidden
        }
    }

    /// The compartments of a stored version with content, from its content (past versions have
    /// no index rows). `None` for a tombstone.
    pub(super) fn version_compartments(&self, version: &ResourceVersion) -> Option<Vec<(String, String)>> {
        let content: Value = crate::format::json::from_str(version.content.as_deref()?).ok()?;
        Some(pairs(self.compartments_of(&content)))
    }

    /// Whether the version matches the scopes' granular filters (every filter, any of its
    /// values). Only token and reference conditions can be checked on a version in memory; a
    /// filter of another kind hides the version rather than risk showing too much.
    pub(super) fn matches_filters(&self, version: &ResourceVersion, filters: &[Filter]) -> bool {
        if filters.is_empty() {
            return true;
        }
        let Some(content) = version.content.as_deref().and_then(|c| crate::format::json::from_str(c).ok()) else {
            return false;
        };
        let rows = self.index(&content);
        let registry = self.registry.current();
        // What cannot be decided here hides the version rather than risk showing too much.
        filters.iter().all(|f| decide(&registry, &version.resource_type, &rows, f).unwrap_or(false))
    }
}

/// `(type, id)` pairs of compartment rows.
pub(super) fn pairs(rows: Vec<CompartmentRow>) -> Vec<(String, String)> {
    rows.into_iter().map(|c| (c.comp_type, c.comp_id)).collect()
}

/// A version worked out once to be judged for many callers (notifications: every subscription a
/// change may concern): its index rows and compartments.
pub struct Prepared {
    resource_type: String,
    id: String,
    rows: IndexRows,
    compartments: Vec<(String, String)>,
}

/// A caller's filters on one type (the search parameters asked for and the scopes' granular
/// filters), parsed once to judge many prepared versions.
pub struct Judging {
    resource_type: String,
    filters: Vec<Filter>,
}

impl Session {
    /// `None` for a tombstone or a body that cannot be read.
    pub fn prepare(&self, version: &ResourceVersion) -> Option<Prepared> {
        let content: Value = crate::format::json::from_str(version.content.as_deref()?).ok()?;
        let rows = self.index(&content);
        let compartments = rows.compartments.iter().map(|c| (c.comp_type.clone(), c.comp_id.clone())).collect();
        Some(Prepared { resource_type: version.resource_type.clone(), id: version.id.clone(), rows, compartments })
    }

    /// The search parameters `pairs` of `resource_type` and the scopes' granular filters, parsed
    /// (403 when the scopes do not allow searching the type).
    pub fn judging(&self, resource_type: &str, pairs: &[(&str, String)]) -> FhirResult<Judging> {
        let mut filters = self.grant(resource_type, Interaction::Search)?;
        if !pairs.is_empty() {
            filters.extend(self.parse_lookup(&[resource_type], pairs)?.filters);
        }
        Ok(Judging { resource_type: resource_type.to_string(), filters })
    }

    /// Whether the caller may see the prepared version and it matches the filters, decided in
    /// memory as the database would; `None` when a condition is one only the database decides
    /// here (a chain, a date, a string...), so the caller searches instead.
    pub fn sees_matching(&self, prepared: &Prepared, judging: &Judging) -> Option<bool> {
        let t = prepared.resource_type.as_str();
        if judging.resource_type != t {
            return Some(false);
        }
        if self.sight(t, &prepared.id, &prepared.compartments) == Sight::Hidden {
            return Some(false);
        }
        let registry = self.registry.current();
        let mut holds = true;
        for filter in &judging.filters {
            holds &= decide(&registry, t, &prepared.rows, filter)?;
        }
        Some(holds)
    }
}

/// A filter of token and reference conditions on the rows (`None`: another kind of condition).
fn decide(registry: &Registry, resource_type: &str, rows: &IndexRows, filter: &Filter) -> Option<bool> {
    let FilterKind::AnyOf { conditions, negated } = &filter.kind else { return None };
    let mut any = false;
    for condition in conditions {
        any |= match condition {
            Condition::Token { param, system, code } => {
                let codes = stored_under(registry, resource_type, param)?;
                rows.tokens.iter().any(|t| {
                    codes.contains(&t.param.as_str())
                        && t.grp.is_none()
                        && code.as_ref().is_none_or(|c| *c == t.code)
                        && match system.as_deref() {
                            None => true,
                            Some("") => t.system.is_none(),
                            Some(s) => t.system.as_deref() == Some(s),
                        }
                })
            }
            Condition::Reference { param, target_type, id: Some(id), version: None, url: None } => {
                // A parameter kept as a typed part of another's rows is that one's rows of its type.
                let (codes, part_type) = match registry.typed_parts().get(resource_type, param) {
                    Some(part) => (vec![part.code.clone()], Some(part.target_type.clone())),
                    None => {
                        (stored_under(registry, resource_type, param)?.iter().map(|c| c.to_string()).collect(), None)
                    }
                };
                let wanted_type = target_type.clone().or(part_type);
                rows.references.iter().any(|r| {
                    codes.contains(&r.param)
                        && r.grp.is_none()
                        && r.target_id.as_deref() == Some(id.as_str())
                        && wanted_type.as_ref().is_none_or(|w| r.target_type.as_deref() == Some(w.as_str()))
                })
            }
            _ => return None,
        };
    }
    Some(any != *negated)
}

/// The codes a parameter's rows are stored under.
fn stored_under<'r>(registry: &'r Registry, resource_type: &str, code: &str) -> Option<Vec<&'r str>> {
    Some(registry.get(resource_type, code)?.row_codes())
}

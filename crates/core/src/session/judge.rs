//! Judging one version of a resource for the session's caller, in memory: by the compartments
//! that version belongs to (not the current version's: a resource moved from one patient to
//! another shows each patient only their versions) and by the scopes' granular filters.

use serde_json::Value;

use super::{Policy, Session};
use crate::index::{CompartmentRow, IndexRows};
use crate::search::query::{Condition, Filter, FilterKind};
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
    /// values). Only token and string conditions can be checked on a version in memory; a
    /// filter of another kind hides the version rather than risk showing too much.
    pub(super) fn matches_filters(&self, version: &ResourceVersion, filters: &[Filter]) -> bool {
        if filters.is_empty() {
            return true;
        }
        let Some(content) = version.content.as_deref().and_then(|c| crate::format::json::from_str(c).ok()) else {
            return false;
        };
        let rows = self.index(&content);
        filters.iter().all(|f| filter_holds(&rows, f))
    }
}

/// `(type, id)` pairs of compartment rows.
pub(super) fn pairs(rows: Vec<CompartmentRow>) -> Vec<(String, String)> {
    rows.into_iter().map(|c| (c.comp_type, c.comp_id)).collect()
}

fn filter_holds(rows: &IndexRows, filter: &Filter) -> bool {
    let FilterKind::AnyOf { conditions, negated } = &filter.kind else { return false };
    let mut any = false;
    for condition in conditions {
        match condition {
            Condition::Token { param, system, code } => {
                any |= rows.tokens.iter().any(|t| {
                    t.param == *param
                        && t.grp.is_none()
                        && code.as_ref().is_none_or(|c| *c == t.code)
                        && match system.as_deref() {
                            None => true,
                            Some("") => t.system.is_none(),
                            Some(s) => t.system.as_deref() == Some(s),
                        }
                });
            }
            // Anything else cannot be decided here: the version stays hidden.
            _ => return false,
        }
    }
    any != *negated
}

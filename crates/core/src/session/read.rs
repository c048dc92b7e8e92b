//! Reads of single resources and their histories, judged version by version before anything is
//! revealed: what the caller may not see is answered exactly as what does not exist.

use std::collections::HashMap;

use super::Session;
use super::judge::Sight;
use crate::access::scopes::Interaction;
use crate::error::FhirResult;
use crate::search::query::Filter;
use crate::store::{HistoryQuery, HistoryScope, ResourceVersion};

/// The current state of a resource the caller may see.
#[derive(Debug, Clone)]
pub enum Current {
    Live(ResourceVersion),
    /// Deleted: the tombstone (no content), judged by the version it deleted.
    Deleted(ResourceVersion),
}

impl Current {
    pub fn version(&self) -> &ResourceVersion {
        match self {
            Current::Live(v) | Current::Deleted(v) => v,
        }
    }
}

/// Versions of one resource judged per page of history, at most this many pages per request (a
/// confined caller's instance history skips the versions it may not see).
const MAX_HISTORY_PAGES: usize = 100;

impl Session {
    /// The current version of `resource_type/id`, when the caller may see it; `None` when it does
    /// not exist or is outside the caller's reach (one answer for both). 403 without a read scope.
    pub async fn current(&self, resource_type: &str, id: &str) -> FhirResult<Option<Current>> {
        let filters = self.grant(resource_type, Interaction::Read)?;
        let Some((version, compartments)) = self.reads().read_with_compartments(resource_type, id).await? else {
            return Ok(None);
        };
        if version.is_deleted() {
            // A tombstone is judged by the version it deleted.
            let Some(deleted) = self.reads().vread(resource_type, id, version.version - 1).await? else {
                return Ok(None);
            };
            let visible = match self.version_compartments(&deleted) {
                Some(was) => self.sight(resource_type, id, &was) != Sight::Hidden,
                None => false,
            };
            return Ok((visible && self.matches_filters(&deleted, &filters)).then_some(Current::Deleted(version)));
        }
        if self.sight(resource_type, id, &compartments) == Sight::Hidden || !self.matches_filters(&version, &filters) {
            return Ok(None);
        }
        self.record_access([&version]);
        Ok(Some(Current::Live(version)))
    }

    /// The current content of a live resource the caller may see (for operations that act on
    /// it), with its version; `None` as for [`Session::current`].
    pub async fn live(&self, resource_type: &str, id: &str) -> FhirResult<Option<(serde_json::Value, i64)>> {
        match self.current(resource_type, id).await? {
            Some(Current::Live(v)) => {
                let content = crate::format::json::from_str(v.content.as_deref().unwrap_or("{}")).map_err(|e| {
                    crate::error::FhirError::Internal(format!("{resource_type}/{id} is stored unreadable: {e}"))
                })?;
                Ok(Some((content, v.version)))
            }
            _ => Ok(None),
        }
    }

    /// One version, when the caller may see it (judged on that version's own compartments; a
    /// tombstone on the version it deleted); `None` as for [`Session::current`].
    pub async fn vread(&self, resource_type: &str, id: &str, version: i64) -> FhirResult<Option<ResourceVersion>> {
        let filters = self.grant(resource_type, Interaction::Read)?;
        let Some(found) = self.reads().vread(resource_type, id, version).await? else { return Ok(None) };
        let judged = if found.is_deleted() {
            self.reads().vread(resource_type, id, version - 1).await?
        } else {
            Some(found.clone())
        };
        let visible = judged.is_some_and(|v| self.sees_version(&v, &filters));
        if visible && !found.is_deleted() {
            self.record_versions([&found]);
        }
        Ok(visible.then_some(found))
    }

    /// The versions among `keys` that the caller may see, each judged as [`Session::vread`]
    /// judges it (on its own compartments; a tombstone on the version it deleted), read in one
    /// statement per chunk of keys, plus one for the deleted versions (any order). Versions of
    /// types the scopes do not allow reading are left out, as are those that do not exist.
    pub async fn visible_versions(&self, keys: &[(String, String, i64)]) -> FhirResult<Vec<ResourceVersion>> {
        let mut grants: HashMap<&str, Option<Vec<Filter>>> = HashMap::new();
        for (resource_type, _, _) in keys {
            grants.entry(resource_type.as_str()).or_insert_with(|| self.grant(resource_type, Interaction::Read).ok());
        }
        let filters_of = |t: &str| grants.get(t).and_then(Option::as_ref);
        let allowed: Vec<(String, String, i64)> =
            keys.iter().filter(|(t, _, _)| filters_of(t).is_some()).cloned().collect();
        let found = self.reads().versions(&allowed).await?;
        let deleted_keys: Vec<(String, String, i64)> = found
            .iter()
            .filter(|v| v.is_deleted())
            .map(|v| (v.resource_type.clone(), v.id.clone(), v.version - 1))
            .collect();
        let deleted: HashMap<(String, String, i64), ResourceVersion> = if deleted_keys.is_empty() {
            HashMap::new()
        } else {
            let versions = self.reads().versions(&deleted_keys).await?;
            versions.into_iter().map(|v| ((v.resource_type.clone(), v.id.clone(), v.version), v)).collect()
        };
        let visible: Vec<ResourceVersion> = found
            .into_iter()
            .filter(|v| {
                let judged = if v.is_deleted() {
                    deleted.get(&(v.resource_type.clone(), v.id.clone(), v.version - 1))
                } else {
                    Some(v)
                };
                judged.zip(filters_of(&v.resource_type)).is_some_and(|(j, filters)| self.sees_version(j, filters))
            })
            .collect();
        self.record_versions(visible.iter().filter(|v| !v.is_deleted()));
        Ok(visible)
    }

    /// Versions newest first, at most `query.limit`, each judged on its own compartments: the
    /// versions the caller may not see are left out (and do not count towards the limit).
    /// History of a whole type or the system is for unconfined callers only (the interaction
    /// refuses it before asking). The second value is the `seq` to continue after, when more
    /// versions may follow.
    pub async fn history(&self, query: &HistoryQuery) -> FhirResult<(Vec<ResourceVersion>, Option<i64>)> {
        let (versions, next) = self.judged_history(query).await?;
        self.record_versions(versions.iter().filter(|v| !v.is_deleted()));
        Ok((versions, next))
    }

    async fn judged_history(&self, query: &HistoryQuery) -> FhirResult<(Vec<ResourceVersion>, Option<i64>)> {
        let filters = match &query.scope {
            HistoryScope::Instance(t, _) | HistoryScope::Type(t) => self.grant(t, Interaction::Read)?,
            HistoryScope::System => Vec::new(),
        };
        let judging = self.is_confined() || !filters.is_empty();
        let mut kept: Vec<ResourceVersion> = Vec::new();
        let mut page = query.clone();
        page.limit = query.limit + 1;
        for _ in 0..MAX_HISTORY_PAGES {
            let raw = self.reads().history(&page).await?;
            let exhausted = raw.len() < page.limit;
            let last_seq = raw.last().map(|v| v.seq);
            for (i, v) in raw.iter().enumerate() {
                let visible = !judging || {
                    // A tombstone is judged by the version it deleted: the next one in this
                    // newest-first page, or read on its own.
                    let deleted = if v.is_deleted() {
                        match raw.get(i + 1).filter(|p| p.id == v.id && p.resource_type == v.resource_type) {
                            Some(p) => Some(p.clone()),
                            None => self.reads().vread(&v.resource_type, &v.id, v.version - 1).await?,
                        }
                    } else {
                        Some(v.clone())
                    };
                    deleted.is_some_and(|d| self.sees_version(&d, &filters))
                };
                if visible {
                    kept.push(v.clone());
                }
            }
            if kept.len() > query.limit {
                kept.truncate(query.limit);
                let next = kept.last().map(|v| v.seq);
                return Ok((kept, next));
            }
            if exhausted {
                return Ok((kept, None));
            }
            page.before_seq = last_seq;
        }
        // Judged enough for one request: the caller pages on from here.
        Ok((kept, page.before_seq))
    }

    /// Whether any version of `resource_type/id` exists that the caller may see.
    pub async fn any_version_visible(&self, resource_type: &str, id: &str) -> FhirResult<bool> {
        let query = HistoryQuery {
            scope: HistoryScope::Instance(resource_type.to_string(), id.to_string()),
            since: None,
            at: None,
            before_seq: None,
            limit: 1,
        };
        Ok(!self.judged_history(&query).await?.0.is_empty())
    }

    /// Whether the caller may see a version with content.
    fn sees_version(&self, version: &ResourceVersion, filters: &[crate::search::query::Filter]) -> bool {
        let Some(compartments) = self.version_compartments(version) else { return false };
        self.sight(&version.resource_type, &version.id, &compartments) != Sight::Hidden
            && self.matches_filters(version, filters)
    }
}

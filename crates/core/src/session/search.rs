//! Searches, narrowed in SQL by the caller's reach: the planner adds the reach to every query it
//! emits for the session (matches, totals, includes, chains, `_has`), so pages and totals never
//! see beyond it and nothing is filtered after the fact.

use std::collections::{HashMap, HashSet};

use super::Session;
use crate::access::scopes::Interaction;
use crate::error::FhirResult;
use crate::search::parse::Parser;
use crate::search::query::{Include, SearchQuery};
pub use crate::search::run::{Hit, Page};
use crate::store::ResourceVersion;

/// Most resources `_include`/`_revinclude` add to one page.
const MAX_INCLUDES: usize = 1000;
/// Levels of `:iterate`.
const MAX_ITERATIONS: usize = 4;

impl Session {
    /// Up to `limit` matches of `query`, within the caller's reach.
    pub async fn page(&self, query: &SearchQuery, limit: usize) -> FhirResult<Page> {
        self.page_selected(query, limit, |_| true).await
    }

    /// Up to `limit` matches of `query`, within the caller's reach, of which only those `keep`
    /// selects (in order) are handed out and recorded in the audit trail: for operations that
    /// read more than they show (`$lastn` keeps the newest of each code).
    pub async fn page_selected(
        &self,
        query: &SearchQuery,
        limit: usize,
        keep: impl FnMut(&Hit) -> bool,
    ) -> FhirResult<Page> {
        let mut page = self.searcher().page(query, limit).await?;
        page.hits.retain(keep);
        self.record_access(page.hits.iter().map(|hit| &hit.version));
        Ok(page)
    }

    /// How many resources within the caller's reach match `query`.
    pub async fn count(&self, query: &SearchQuery) -> FhirResult<i64> {
        Ok(self.searcher().count(query).await?)
    }

    /// How many resources within the caller's reach match `query`, counted up to `bound`:
    /// `Some(n)` is exact, `None` means more than `bound`.
    pub async fn count_up_to(&self, query: &SearchQuery, bound: usize) -> FhirResult<Option<i64>> {
        Ok(self.searcher().count_up_to(query, bound).await?)
    }

    /// Current resources of `types` matching `pairs`, at most `limit`, within the caller's reach:
    /// for operations that look for the caller's own data. No scope check or paging.
    pub async fn find(
        &self,
        types: &[&str],
        pairs: &[(&str, String)],
        limit: usize,
    ) -> FhirResult<Vec<ResourceVersion>> {
        let query = self.parse_lookup(types, pairs)?;
        let hits = self.page(&query, limit).await?.hits;
        Ok(hits.into_iter().map(|hit| hit.version).collect())
    }

    /// A strictly parsed query of `types` for `pairs` (an internal look-up, never lenient).
    pub(super) fn parse_lookup(&self, types: &[&str], pairs: &[(&str, String)]) -> FhirResult<SearchQuery> {
        let registry = self.registry.current();
        let parser = Parser { registry: &registry, base_url: &self.base_url, strict: true, limits: &self.limits };
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        Ok(parser.parse(types.iter().map(|t| t.to_string()).collect(), &pairs)?)
    }

    /// `_include` and `_revinclude` (with `:iterate`) of a page, one query per include
    /// parameter and level, every target within the caller's reach.
    pub async fn includes(&self, query: &SearchQuery, hits: &[Hit]) -> FhirResult<Vec<ResourceVersion>> {
        if (query.includes.is_empty() && query.revincludes.is_empty()) || hits.is_empty() {
            return Ok(Vec::new());
        }
        let searcher = self.searcher();
        let mut seen: HashSet<i64> = hits.iter().map(Hit::rid).collect();
        let mut included: Vec<ResourceVersion> = Vec::new();
        // (type, id, rid) of the resources whose references the next level follows.
        let mut frontier: Vec<(String, String, i64)> =
            hits.iter().map(|hit| (hit.version.resource_type.clone(), hit.version.id.clone(), hit.rid())).collect();
        for level in 0..=MAX_ITERATIONS {
            let active = |i: &&Include| level == 0 || i.iterate;
            let mut found: Vec<i64> = Vec::new();
            for include in query.includes.iter().filter(active) {
                let sources: Vec<i64> =
                    frontier.iter().filter(|(t, _, _)| *t == include.source_type).map(|(_, _, rid)| *rid).collect();
                if sources.is_empty() {
                    continue;
                }
                found.extend(searcher.included_keys(include, &sources, MAX_INCLUDES).await?);
            }
            let targets: Vec<(String, String)> = frontier.iter().map(|(t, id, _)| (t.clone(), id.clone())).collect();
            for include in query.revincludes.iter().filter(active) {
                found.extend(searcher.revincluded_keys(include, &targets, MAX_INCLUDES).await?);
            }
            found.retain(|rid| !seen.contains(rid));
            found.sort_unstable();
            found.dedup();
            found.truncate(MAX_INCLUDES.saturating_sub(included.len()));
            if found.is_empty() {
                break;
            }
            frontier.clear();
            let mut fetched = self.fetch(&found).await?;
            for rid in found {
                let Some(v) = fetched.remove(&rid) else { continue };
                seen.insert(rid);
                // Included types need a read scope of their own (and one without a granular
                // filter, which is checked only on the searched type).
                if !self.grant(&v.resource_type, Interaction::Read).is_ok_and(|f| f.is_empty()) {
                    continue;
                }
                frontier.push((v.resource_type.clone(), v.id.clone(), rid));
                included.push(v);
            }
        }
        self.record_access(included.iter());
        Ok(included)
    }

    /// Current versions by key: only rows the planner produced for this session.
    async fn fetch(&self, rids: &[i64]) -> FhirResult<HashMap<i64, ResourceVersion>> {
        if rids.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(self.reads().fetch(rids).await?.into_iter().collect())
    }
}

//! Searches, narrowed in SQL by the caller's reach: the planner adds the reach to every query it
//! emits for the session (matches, totals, includes, chains, `_has`), so pages and totals never
//! see beyond it and nothing is filtered after the fact.

use std::collections::{HashMap, HashSet};

use super::Session;
use crate::auth::scopes::Interaction;
use crate::error::{FhirError, FhirResult};
use crate::search::parse::Parser;
use crate::search::query::{Include, SearchQuery};
use crate::store::ResourceVersion;
use crate::store::sql::{Cell, Column};

/// Most resources `_include`/`_revinclude` add to one page.
const MAX_INCLUDES: usize = 1000;
/// Levels of `:iterate`.
const MAX_ITERATIONS: usize = 4;

/// One page of matches, in order, with the planner's row for each (its key and sort values,
/// for paging cursors).
#[derive(Debug, Default)]
pub struct Page {
    pub matches: Vec<(Vec<Cell>, ResourceVersion)>,
    /// Whether another row followed the page.
    pub more: bool,
}

impl Session {
    /// Up to `limit` matches of `query` (one more is asked for, to tell whether more follow).
    pub async fn page(&self, query: &SearchQuery, limit: usize) -> FhirResult<Page> {
        if limit == 0 {
            return Ok(Page::default());
        }
        // The page and its resources in one statement.
        let (sql, columns) = self.planner().page_with_versions(query, limit + 1);
        let keys = columns.len() - crate::store::sql::VERSION_CELLS.len();
        let mut rows = self.store().query(sql, &columns).await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let mut matches = Vec::with_capacity(rows.len());
        for mut row in rows {
            let cells = row.get(keys..).ok_or_else(|| FhirError::Internal("a page row lacks its version".into()))?;
            let version = crate::store::sql::version_from_cells(cells)?;
            row.truncate(keys);
            matches.push((row, version));
        }
        self.record_access(matches.iter().map(|(_, v)| v));
        Ok(Page { matches, more })
    }

    /// How many resources match `query`.
    pub async fn count(&self, query: &SearchQuery) -> FhirResult<i64> {
        let rows = self.store().query(self.planner().count(query), &[Column::Int]).await?;
        Ok(rows.first().and_then(|r| r.first()).and_then(Cell::as_int).unwrap_or(0))
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
        let matches = self.page(&query, limit).await?.matches;
        Ok(matches.into_iter().map(|(_, v)| v).collect())
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
    pub async fn includes(
        &self,
        query: &SearchQuery,
        matches: &[(Vec<Cell>, ResourceVersion)],
    ) -> FhirResult<Vec<ResourceVersion>> {
        if (query.includes.is_empty() && query.revincludes.is_empty()) || matches.is_empty() {
            return Ok(Vec::new());
        }
        let planner = self.planner();
        let rid_of = |row: &Vec<Cell>| row.first().and_then(Cell::as_int).unwrap_or(0);
        let mut seen: HashSet<i64> = matches.iter().map(|(row, _)| rid_of(row)).collect();
        let mut included: Vec<ResourceVersion> = Vec::new();
        // (type, id, rid) of the resources whose references the next level follows.
        let mut frontier: Vec<(String, String, i64)> =
            matches.iter().map(|(row, v)| (v.resource_type.clone(), v.id.clone(), rid_of(row))).collect();
        for level in 0..=MAX_ITERATIONS {
            let active = |i: &&Include| level == 0 || i.iterate;
            let mut found: Vec<i64> = Vec::new();
            for include in query.includes.iter().filter(active) {
                let sources: Vec<i64> =
                    frontier.iter().filter(|(t, _, _)| *t == include.source_type).map(|(_, _, rid)| *rid).collect();
                if sources.is_empty() {
                    continue;
                }
                let rows = self.store().query(planner.include(include, &sources, MAX_INCLUDES), &[Column::Int]).await?;
                found.extend(rows.iter().filter_map(|r| r.first().and_then(Cell::as_int)));
            }
            let targets: Vec<(String, String)> = frontier.iter().map(|(t, id, _)| (t.clone(), id.clone())).collect();
            for include in query.revincludes.iter().filter(active) {
                let sql = planner.revinclude(include, &targets, MAX_INCLUDES);
                let rows = self.store().query(sql, &[Column::Int]).await?;
                found.extend(rows.iter().filter_map(|r| r.first().and_then(Cell::as_int)));
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
        Ok(self.store().fetch(rids).await?.into_iter().collect())
    }
}

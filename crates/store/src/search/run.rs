//! Running searches: the typed way in to the planner. A [`Searcher`] plans every statement within
//! one caller's reach and decodes what comes back into named results, so no layer above the store
//! sees SQL or result cells by position.

use std::sync::Arc;

use super::plan::{Access, Planner};
use super::query::{Include, SearchQuery};
use super::reach::Reach;
use super::registry::TypedParts;
use crate::sql::{self, Cell, Column};
use crate::{Dialect, ResourceVersion, Store, StoreError, StoreResult};

/// One match of a page: the resource, and the planner's key for it (the surrogate key first,
/// then the sort values) from which paging cursors are made.
#[derive(Debug, Clone)]
pub struct Hit {
    pub keys: Vec<Cell>,
    pub version: ResourceVersion,
}

impl Hit {
    /// The resource's surrogate key.
    pub fn rid(&self) -> i64 {
        self.keys.first().and_then(Cell::as_int).unwrap_or(0)
    }
}

/// One page of matches, in order.
#[derive(Debug, Default)]
pub struct Page {
    pub hits: Vec<Hit>,
    /// Whether another match followed the page.
    pub more: bool,
}

/// Searches over `store`, each statement confined to `reach` (`None`: not confined).
pub struct Searcher<'a> {
    store: &'a dyn Store,
    planner: Planner,
}

impl<'a> Searcher<'a> {
    /// A searcher over `store` within `reach`, for rows stored as the registry says
    /// (`typed_parts`: [`super::registry::Registry::typed_parts`]).
    pub fn new(store: &'a dyn Store, reach: Option<Arc<Reach>>, typed_parts: Arc<TypedParts>) -> Searcher<'a> {
        Searcher { store, planner: Planner::new(store.dialect(), typed_parts).within(reach) }
    }

    /// Up to `limit` matches of `query` with their resources (one more row is asked for, to
    /// tell whether more follow), read the way [`Searcher::access`] finds cheapest.
    pub async fn page(&self, query: &SearchQuery, limit: usize) -> StoreResult<Page> {
        if limit == 0 {
            return Ok(Page::default());
        }
        let access = self.access(query, limit + 1).await?;
        let mut hits: Vec<Hit> = Vec::with_capacity(limit + 1);
        for (sql, columns) in self.planner.page_segments(query, limit + 1, access) {
            if hits.len() > limit {
                break;
            }
            let keys = columns.len() - sql::VERSION_CELLS.len();
            for mut row in self.store.query(sql, &columns).await? {
                let cells =
                    row.get(keys..).ok_or_else(|| StoreError::Corrupt("a page row lacks its version".into()))?;
                let version = sql::version_from_cells(cells)?;
                row.truncate(keys);
                hits.push(Hit { keys: row, version });
            }
        }
        let more = hits.len() > limit;
        hits.truncate(limit);
        Ok(Page { hits, more })
    }

    /// How a page of `rows` rows of `query` is best read. A filter that matches few index rows
    /// drives (its rows are read and ordered: cheap when they are few); when it matches at least
    /// [`walk_threshold`] rows, walking the type in the page's order and probing every filter
    /// finds `rows` matches sooner. Only a query of one type without a compartment walks; a
    /// reference to resources by id, or a business identifier with its system, drives uncounted
    /// ([`Planner::driver_names_few`]).
    pub async fn access(&self, query: &SearchQuery, rows: usize) -> StoreResult<Access> {
        if query.compartment.is_some() || query.resource_types.len() != 1 {
            return Ok(Access::Drive);
        }
        if !Planner::has_driver(query) {
            // Nothing narrows the type: both read it in order, and a sort key's index is walked.
            return Ok(Access::Walk);
        }
        if Planner::driver_names_few(query) {
            return Ok(Access::Drive);
        }
        let bound = walk_threshold(rows);
        let Some(probe) = self.planner.driver_probe(query, bound) else { return Ok(Access::Drive) };
        let candidates = first_ints(self.store.query(probe, &[Column::Int]).await?).first().copied().unwrap_or(0);
        Ok(if candidates >= bound as i64 { Access::Walk } else { Access::Drive })
    }

    /// The surrogate keys of up to `limit` matches of `query`, in order, without their resources.
    pub async fn matching_keys(&self, query: &SearchQuery, limit: usize) -> StoreResult<Vec<i64>> {
        let (sql, columns) = self.planner.page(query, limit);
        Ok(first_ints(self.store.query(sql, &columns).await?))
    }

    /// How many resources match `query`.
    pub async fn count(&self, query: &SearchQuery) -> StoreResult<i64> {
        let rows = self.store.query(self.planner.count(query), &[Column::Int]).await?;
        Ok(first_ints(rows).first().copied().unwrap_or(0))
    }

    /// How many resources match `query`, counted up to `bound`: `Some(n)` is exact, `None`
    /// means more than `bound` (and the count stopped there), or on PostgreSQL possibly that the
    /// driving lookup matched more than `bound` times (see [`Planner::driver_matches_up_to`]):
    /// either way one statement that reads no more than about `bound` rows.
    pub async fn count_up_to(&self, query: &SearchQuery, bound: usize) -> StoreResult<Option<i64>> {
        // Order does not matter to a count: a driving lookup is read as it comes and stops at the
        // bound; without one, the type (or the caller's reach) is read until then.
        let access = if Planner::has_driver(query) { Access::Drive } else { Access::Walk };
        if access == Access::Drive
            && self.store.dialect() == Dialect::Postgres
            && let Some(matches) = self.planner.driver_matches_up_to(query, bound + 1)
        {
            let rows = self.store.query(matches, &[Column::Int, Column::Int]).await?;
            let counts: Vec<i64> =
                rows.first().map(|row| row.iter().filter_map(Cell::as_int).collect()).unwrap_or_default();
            let &[rows, resources] = counts.as_slice() else {
                return Err(StoreError::Corrupt("a bounded count returned no counts".into()));
            };
            return Ok((rows <= bound as i64).then_some(resources));
        }
        let rows = self.store.query(self.planner.count_up_to(query, bound + 1, access), &[Column::Int]).await?;
        let counted = first_ints(rows).first().copied().unwrap_or(0);
        Ok((counted <= bound as i64).then_some(counted))
    }

    /// The keys of up to `limit` resources that `include` reaches from the resources `sources`.
    pub async fn included_keys(&self, include: &Include, sources: &[i64], limit: usize) -> StoreResult<Vec<i64>> {
        let rows = self.store.query(self.planner.include(include, sources, limit), &[Column::Int]).await?;
        Ok(first_ints(rows))
    }

    /// The keys of up to `limit` resources that refer, as `include` says, to `targets` (type, id).
    pub async fn revincluded_keys(
        &self,
        include: &Include,
        targets: &[(String, String)],
        limit: usize,
    ) -> StoreResult<Vec<i64>> {
        let rows = self.store.query(self.planner.revinclude(include, targets, limit), &[Column::Int]).await?;
        Ok(first_ints(rows))
    }
}

/// How many index rows a driving filter must match before a page of `rows` rows walks instead:
/// walking reads about `rows` × (rows of the type) / (matches) rows, driving about (matches), so
/// the two cost the same near √(`rows` × rows of the type), and a bound of a few thousand keeps
/// both to milliseconds up to millions of rows of a type. Counting the driving lookup up to it is
/// an index range read of at most that many entries.
pub fn walk_threshold(rows: usize) -> usize {
    (rows.saturating_mul(200)).clamp(2_000, 50_000)
}

/// The first column of each row, as integers (the planner's key column).
fn first_ints(rows: Vec<Vec<Cell>>) -> Vec<i64> {
    rows.iter().filter_map(|row| row.first().and_then(Cell::as_int)).collect()
}

//! Running searches: the typed way in to the planner. A [`Searcher`] plans every statement within
//! one caller's reach and decodes what comes back into named results, so no layer above the store
//! sees SQL or result cells by position.

use std::sync::Arc;

use super::plan::Planner;
use super::query::{Include, SearchQuery};
use super::reach::Reach;
use crate::sql::{self, Cell, Column};
use crate::{ResourceVersion, Store, StoreError, StoreResult};

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
    pub fn new(store: &'a dyn Store, reach: Option<Arc<Reach>>) -> Searcher<'a> {
        Searcher { store, planner: Planner::new(store.dialect()).within(reach) }
    }

    /// Up to `limit` matches of `query` with their resources, in one statement (one more row is
    /// asked for, to tell whether more follow).
    pub async fn page(&self, query: &SearchQuery, limit: usize) -> StoreResult<Page> {
        if limit == 0 {
            return Ok(Page::default());
        }
        let (sql, columns) = self.planner.page_with_versions(query, limit + 1);
        let keys = columns.len() - sql::VERSION_CELLS.len();
        let mut rows = self.store.query(sql, &columns).await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let mut hits = Vec::with_capacity(rows.len());
        for mut row in rows {
            let cells = row.get(keys..).ok_or_else(|| StoreError::Corrupt("a page row lacks its version".into()))?;
            let version = sql::version_from_cells(cells)?;
            row.truncate(keys);
            hits.push(Hit { keys: row, version });
        }
        Ok(Page { hits, more })
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

/// The first column of each row, as integers (the planner's key column).
fn first_ints(rows: Vec<Vec<Cell>>) -> Vec<i64> {
    rows.iter().filter_map(|row| row.first().and_then(Cell::as_int)).collect()
}

//! Counting the SQL statements a request runs. The REST layer runs each request inside
//! [`counting`]; every statement the store executes for it (not for background work, which runs
//! in its own tasks) adds one. Logged with each request, and checked by the tests that hold the
//! authenticated path to its budget (a search: the policy generation, the page, the fetch).
//!
//! Every statement passes here, so it is also where statements are timed, for every caller
//! (background work included): the histogram `ikp_db_statement_duration_seconds{kind}`.

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::time::Instant;

use async_trait::async_trait;

use super::sql::{Cell as SqlCell, Column, Sql};
use super::{Current, HistoryQuery, NewVersion, ResourceVersion, Store, StoreResult, StoreTx};
use crate::index::IndexRows;

tokio::task_local! {
    static STATEMENTS: Cell<u32>;
}

/// Runs `work`, counting the statements the store runs for it.
pub async fn counting<F: Future>(work: F) -> (F::Output, u32) {
    STATEMENTS
        .scope(Cell::new(0), async move {
            let out = work.await;
            (out, STATEMENTS.with(Cell::get))
        })
        .await
}

/// Notes one statement run for the current request, if it is counted.
pub(super) fn one() {
    let _ = STATEMENTS.try_with(|c| c.set(c.get() + 1));
}

/// What a statement is, as its latency is labelled: a few fixed kinds, never its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A statement on the pool outside a transaction that returns rows (reads, searches).
    Read,
    /// A statement on the pool outside a transaction that returns a row count.
    Write,
    /// A statement inside a transaction: row locks, reads, the batched writes.
    Transaction,
    /// The commit of a transaction.
    Commit,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Read => "read",
            Kind::Write => "write",
            Kind::Transaction => "transaction",
            Kind::Commit => "commit",
        }
    }
}

/// Times one statement until dropped (when it finished, failed or was abandoned).
pub(super) struct Timed {
    kind: Kind,
    started: Instant,
}

impl Drop for Timed {
    fn drop(&mut self) {
        metrics::histogram!("ikp_db_statement_duration_seconds", "kind" => self.kind.label())
            .record(self.started.elapsed().as_secs_f64());
    }
}

/// Times a statement without counting it for the request (what the count has always left out).
pub(super) fn timed(kind: Kind) -> Timed {
    Timed { kind, started: Instant::now() }
}

/// Counts a statement for the current request and times it.
pub(super) fn statement(kind: Kind) -> Timed {
    one();
    timed(kind)
}

/// A store that counts the statements it runs.
pub struct Counted<S>(pub S);

#[async_trait]
impl<S: Store> Store for Counted<S> {
    fn dialect(&self) -> crate::Dialect {
        self.0.dialect()
    }

    async fn read(&self, resource_type: &str, id: &str) -> StoreResult<Option<ResourceVersion>> {
        let _timed = statement(Kind::Read);
        self.0.read(resource_type, id).await
    }

    async fn vread(&self, resource_type: &str, id: &str, version: i64) -> StoreResult<Option<ResourceVersion>> {
        let _timed = statement(Kind::Read);
        self.0.vread(resource_type, id, version).await
    }

    async fn history(&self, query: &HistoryQuery) -> StoreResult<Vec<ResourceVersion>> {
        let _timed = statement(Kind::Read);
        self.0.history(query).await
    }

    async fn query(&self, sql: Sql, columns: &[Column]) -> StoreResult<Vec<Vec<SqlCell>>> {
        let _timed = statement(Kind::Read);
        self.0.query(sql, columns).await
    }

    async fn fetch(&self, rids: &[i64]) -> StoreResult<Vec<(i64, ResourceVersion)>> {
        let _timed = statement(Kind::Read);
        self.0.fetch(rids).await
    }

    async fn execute(&self, sql: Sql) -> StoreResult<u64> {
        let _timed = statement(Kind::Write);
        self.0.execute(sql).await
    }

    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>> {
        Ok(Box::new(CountedTx(self.0.begin().await?)))
    }

    async fn close(&self) {
        self.0.close().await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.0.ping().await
    }

    async fn schema(&self) -> StoreResult<crate::ops::Schema> {
        self.0.schema().await
    }

    fn pools(&self) -> Vec<crate::ops::PoolStats> {
        self.0.pools()
    }

    async fn refresh_statistics(&self) -> StoreResult<()> {
        self.0.refresh_statistics().await
    }
}

/// A transaction that counts the statements it runs (its batched writes count theirs in
/// `write.rs`).
struct CountedTx(Box<dyn StoreTx>);

#[async_trait]
impl StoreTx for CountedTx {
    async fn lock_current(&mut self, resource_type: &str, id: &str) -> StoreResult<Option<Current>> {
        let _timed = statement(Kind::Transaction);
        self.0.lock_current(resource_type, id).await
    }

    async fn lock_current_many(
        &mut self,
        keys: &[(String, String)],
    ) -> StoreResult<HashMap<(String, String), Current>> {
        let _timed = statement(Kind::Transaction);
        self.0.lock_current_many(keys).await
    }

    async fn lock_key(&mut self, key: &str) -> StoreResult<()> {
        // Not counted, as it has never been; timed by the backend that runs a statement for it.
        self.0.lock_key(key).await
    }

    async fn query(&mut self, sql: Sql, columns: &[Column]) -> StoreResult<Vec<Vec<SqlCell>>> {
        let _timed = statement(Kind::Transaction);
        self.0.query(sql, columns).await
    }

    async fn put(&mut self, versions: Vec<NewVersion>) -> StoreResult<()> {
        self.0.put(versions).await
    }

    async fn replace_index(&mut self, rows: Vec<(i64, String, IndexRows)>) -> StoreResult<()> {
        self.0.replace_index(rows).await
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let _timed = timed(Kind::Commit);
        self.0.commit().await
    }

    async fn execute_in(&mut self, sql: Sql) -> StoreResult<u64> {
        let _timed = statement(Kind::Transaction);
        self.0.execute_in(sql).await
    }

    async fn rollback(self: Box<Self>) {
        self.0.rollback().await
    }
}

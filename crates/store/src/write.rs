//! The write path shared by both backends: batched inserts of versions, current pointers and
//! index rows, a constant number of statements per chunk rather than per resource.

use std::collections::HashMap;

use async_trait::async_trait;

use super::counted;
use super::index_sql::{self, Owned};
use super::sql::{self, Sql};
use super::{NewVersion, StoreError, StoreResult};

/// The few primitives a backend's open transaction provides to the shared write path.
#[async_trait]
pub trait Exec: Send {
    async fn execute(&mut self, sql: Sql) -> StoreResult<u64>;
    /// Runs a statement returning rows of (text, text, integer).
    async fn fetch_keyed(&mut self, sql: Sql) -> StoreResult<Vec<(String, String, i64)>>;

    /// [`Exec::execute`], counted and timed (see `super::counted`).
    async fn run(&mut self, sql: Sql) -> StoreResult<u64> {
        let _timed = counted::statement(counted::Kind::Transaction);
        self.execute(sql).await
    }

    /// Runs `statements` in order, each on its own (see the SQLite transaction's override).
    async fn run_all(&mut self, statements: Vec<Sql>) -> StoreResult<()> {
        for statement in statements {
            self.run(statement).await?;
        }
        Ok(())
    }

    /// [`Exec::fetch_keyed`], counted and timed.
    async fn run_keyed(&mut self, sql: Sql) -> StoreResult<Vec<(String, String, i64)>> {
        let _timed = counted::statement(counted::Kind::Transaction);
        self.fetch_keyed(sql).await
    }
}

/// Replaces the index rows of existing resources (reindexing), without new versions.
pub async fn replace_index(exec: &mut dyn Exec, rows: Vec<(i64, String, crate::index::IndexRows)>) -> StoreResult<()> {
    let rids: Vec<i64> = rows.iter().map(|(rid, _, _)| *rid).collect();
    exec.run_all(deletes(&rids)).await?;
    let owned: Vec<Owned> =
        rows.iter().map(|(rid, t, index)| Owned { rid: *rid, resource_type: t, rows: index }).collect();
    exec.run_all(index_sql::inserts(&owned)).await
}

/// Writes versions: history rows, current pointers, then search-index rows.
pub async fn put(exec: &mut dyn Exec, versions: Vec<NewVersion>) -> StoreResult<()> {
    if versions.is_empty() {
        return Ok(());
    }
    // 1. History rows.
    let mut seqs: HashMap<(String, String), i64> = HashMap::new();
    let mut changes: Vec<i64> = Vec::with_capacity(versions.len());
    let all: Vec<&NewVersion> = versions.iter().collect();
    for chunk in all.chunks(sql::CHUNK) {
        for (t, id, seq) in exec.run_keyed(sql::insert_versions(chunk)).await? {
            if t != crate::notifications::UNNOTIFIED_TYPE {
                changes.push(seq);
            }
            let slot = seqs.entry((t, id)).or_insert(seq);
            *slot = (*slot).max(seq);
        }
    }
    // 1b. The notification outbox, in this same transaction (see `crate::notifications`).
    exec.run_all(changes.chunks(sql::CHUNK).map(crate::notifications::outbox_insert).collect()).await?;

    // 2. Current pointers: the last version of each resource in the batch.
    let mut latest: HashMap<(&str, &str), &NewVersion> = HashMap::new();
    for v in &versions {
        let key = (v.resource_type.as_str(), v.id.as_str());
        if latest.get(&key).is_none_or(|old| old.version < v.version) {
            latest.insert(key, v);
        }
    }
    let current: Vec<&NewVersion> = latest.into_values().collect();
    let mut rids: HashMap<(String, String), i64> = HashMap::new();
    for chunk in current.chunks(sql::CHUNK) {
        let rows = exec.run_keyed(sql::upsert_current(chunk, &seqs)).await?;
        if rows.len() != chunk.len() {
            let moved: Vec<String> = chunk
                .iter()
                .filter(|v| !rows.iter().any(|(t, id, _)| *t == v.resource_type && *id == v.id))
                .map(|v| format!("{}/{}", v.resource_type, v.id))
                .collect();
            return Err(StoreError::Conflict(format!("{} changed concurrently", moved.join(", "))));
        }
        for (t, id, rid) in rows {
            rids.insert((t, id), rid);
        }
    }

    // 3. Index rows replace the previous version's (a live previous version has some; new and
    // resurrected resources have none, which saves eight DELETEs per create).
    let stale: Vec<i64> = current
        .iter()
        .filter(|v| v.replaces_index)
        .filter_map(|v| rids.get(&(v.resource_type.clone(), v.id.clone())).copied())
        .collect();
    exec.run_all(deletes(&stale)).await?;
    let owned: Vec<Owned> = current
        .iter()
        .filter(|v| v.content.is_some())
        .filter_map(|v| {
            let rid = *rids.get(&(v.resource_type.clone(), v.id.clone()))?;
            Some(Owned { rid, resource_type: &v.resource_type, rows: &v.index })
        })
        .collect();
    exec.run_all(index_sql::inserts(&owned)).await
}

/// The statements that delete the index rows of `rids`, every table's.
fn deletes(rids: &[i64]) -> Vec<Sql> {
    rids.chunks(sql::CHUNK)
        .flat_map(|chunk| sql::INDEX_TABLES.iter().map(move |table| sql::delete_index(table, chunk)))
        .collect()
}

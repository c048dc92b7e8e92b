//! The reads both backends run alike: the same statements on a pool of either kind, decoded the
//! same way. Each backend's `Store` hands over the pool it reads from (SQLite: its readers,
//! PostgreSQL: its one pool); only what truly differs stays in the backend's file.

use sqlx::{Database, Pool, Row};

use crate::sql::{self, Bind, Cell, Column, Sql};
use crate::{HistoryQuery, ResourceVersion, StoreResult};

/// Reads on one pool of either backend.
pub(crate) struct SharedReads<'p, DB: Database>(pub &'p Pool<DB>);

impl<DB> SharedReads<'_, DB>
where
    DB: Database,
    for<'c> &'c Pool<DB>: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    i64: sqlx::Encode<'static, DB> + for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    f64: sqlx::Encode<'static, DB> + for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    Option<f64>: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'static, DB> + for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    Option<String>: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    Option<Vec<u8>>: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    Vec<u8>: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    for<'r> &'r str: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    /// The current version of `type/id`, possibly a tombstone.
    pub async fn read(&self, resource_type: &str, id: &str) -> StoreResult<Option<ResourceVersion>> {
        let sql = Sql { text: sql::READ_CURRENT.to_string(), binds: vec![text(resource_type), text(id)] };
        let row = sql::bound::<DB>(sql).fetch_optional(self.0).await?;
        row.as_ref().map(sql::version_from_row).transpose()
    }

    /// Version `version` of `type/id`.
    pub async fn vread(&self, resource_type: &str, id: &str, version: i64) -> StoreResult<Option<ResourceVersion>> {
        let binds = vec![text(resource_type), text(id), Bind::Int(version)];
        let sql = Sql { text: sql::READ_VERSION.to_string(), binds };
        let row = sql::bound::<DB>(sql).fetch_optional(self.0).await?;
        row.as_ref().map(sql::version_from_row).transpose()
    }

    pub async fn history(&self, query: &HistoryQuery) -> StoreResult<Vec<ResourceVersion>> {
        let rows = sql::bound::<DB>(sql::history(query)).fetch_all(self.0).await?;
        rows.iter().map(sql::version_from_row).collect()
    }

    /// A generated query, its columns decoded as `columns` say.
    pub async fn query(&self, sql: Sql, columns: &[Column]) -> StoreResult<Vec<Vec<Cell>>> {
        let rows = sql::bound::<DB>(sql).fetch_all(self.0).await?;
        rows.iter().map(|r| Ok(sql::cells(r, columns)?)).collect()
    }

    /// One trivial statement (readiness).
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query(crate::ops::PING).execute(self.0).await?;
        Ok(())
    }

    /// The newest migration the database records as applied.
    pub async fn applied_migration(&self) -> StoreResult<Option<i64>> {
        let row = sqlx::query(crate::ops::APPLIED_MIGRATION).fetch_one(self.0).await?;
        Ok(row.try_get::<Option<i64>, _>(0)?)
    }

    /// Current versions by surrogate key, a chunk of keys per statement.
    pub async fn fetch(&self, rids: &[i64]) -> StoreResult<Vec<(i64, ResourceVersion)>> {
        let mut out = Vec::with_capacity(rids.len());
        for chunk in rids.chunks(sql::CHUNK) {
            for row in sql::bound::<DB>(sql::fetch_by_rid(chunk)).fetch_all(self.0).await? {
                out.push((row.try_get(7)?, sql::version_from_row(&row)?));
            }
        }
        Ok(out)
    }
}

fn text(value: &str) -> Bind {
    Bind::Text(value.to_string())
}

//! PostgreSQL backend: the production store. Server nodes are stateless; all coordination between
//! them happens in the database (row locks for updates, advisory locks for conditional creates).

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, Postgres, Row, Transaction};

use super::ops::{self, PoolStats, Schema};
use super::reads::SharedReads;
use super::sql::{self, Cell, Column, Sql};
use super::write::{self, Exec};
use super::{Current, HistoryQuery, NewVersion, ResourceVersion, Store, StoreError, StoreResult, StoreTx};
use crate::index::IndexRows;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn open(url: &str, statement_timeout: Duration) -> StoreResult<PgStore> {
        let options = PgConnectOptions::from_str(url)?;
        {
            // Migrations run without the statement timeout: building an index on a large
            // database may rightly take longer than any request should.
            let mut migrating = PgConnection::connect_with(&options).await?;
            MIGRATOR.run(&mut migrating).await?;
            migrating.close().await?;
        }
        // The server ends any statement past the timeout, also one whose client has gone.
        let timeout = format!("{}ms", statement_timeout.as_millis());
        let options = options.options([("statement_timeout", timeout.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        Ok(PgStore { pool })
    }

    /// A hot standby's pool, for reads only: no migrations (the primary's arrive by replication),
    /// and a short wait for a connection, so that a replica that went away hands its reads to the
    /// primary quickly. One that cannot be reached now is opened anyway and used once it answers;
    /// one that answers but is not a standby is refused.
    pub async fn open_replica(url: &str, statement_timeout: Duration) -> StoreResult<PgStore> {
        let timeout = format!("{}ms", statement_timeout.as_millis());
        let options = PgConnectOptions::from_str(url)?.options([("statement_timeout", timeout.as_str())]);
        let pool =
            PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(2)).connect_lazy_with(options);
        match sqlx::query_scalar::<_, bool>("SELECT pg_is_in_recovery()").fetch_one(&pool).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(StoreError::NotAStandby("a read URL names a database that is not in recovery".into()));
            }
            Err(e) => tracing::warn!(error = %e, "a read replica does not answer yet; it is used once it does"),
        }
        Ok(PgStore { pool })
    }
}

fn query(sql: Sql) -> sqlx::query::Query<'static, Postgres, PgArguments> {
    sql::bound(sql)
}

#[async_trait]
impl Store for PgStore {
    fn dialect(&self) -> crate::Dialect {
        crate::Dialect::Postgres
    }

    async fn read(&self, resource_type: &str, id: &str) -> StoreResult<Option<ResourceVersion>> {
        SharedReads(&self.pool).read(resource_type, id).await
    }

    async fn vread(&self, resource_type: &str, id: &str, version: i64) -> StoreResult<Option<ResourceVersion>> {
        SharedReads(&self.pool).vread(resource_type, id, version).await
    }

    async fn history(&self, q: &HistoryQuery) -> StoreResult<Vec<ResourceVersion>> {
        SharedReads(&self.pool).history(q).await
    }

    async fn query(&self, sql: Sql, columns: &[Column]) -> StoreResult<Vec<Vec<Cell>>> {
        SharedReads(&self.pool).query(sql, columns).await
    }

    async fn fetch(&self, rids: &[i64]) -> StoreResult<Vec<(i64, ResourceVersion)>> {
        SharedReads(&self.pool).fetch(rids).await
    }

    async fn execute(&self, sql: Sql) -> StoreResult<u64> {
        Ok(query(sql).execute(&self.pool).await?.rows_affected())
    }

    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>> {
        Ok(Box::new(PgTx { tx: self.pool.begin().await? }))
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn ping(&self) -> StoreResult<()> {
        SharedReads(&self.pool).ping().await
    }

    async fn schema(&self) -> StoreResult<Schema> {
        let applied = SharedReads(&self.pool).applied_migration().await?;
        Ok(Schema { applied, known: ops::newest(&MIGRATOR) })
    }

    fn pools(&self) -> Vec<PoolStats> {
        vec![PoolStats::of("main", &self.pool)]
    }

    async fn refresh_statistics(&self) -> StoreResult<()> {
        // ANALYZE samples each table (not a full scan) and takes no lock that blocks requests.
        let mut connection = self.pool.acquire().await?;
        sqlx::query("SET statement_timeout = 0").execute(&mut *connection).await?;
        let analyzed = sqlx::query("ANALYZE").execute(&mut *connection).await;
        sqlx::query("RESET statement_timeout").execute(&mut *connection).await?;
        analyzed?;
        Ok(())
    }
}

struct PgTx {
    tx: Transaction<'static, Postgres>,
}

#[async_trait]
impl Exec for PgTx {
    async fn execute(&mut self, sql: Sql) -> StoreResult<u64> {
        Ok(query(sql).execute(&mut *self.tx).await?.rows_affected())
    }

    async fn fetch_keyed(&mut self, sql: Sql) -> StoreResult<Vec<(String, String, i64)>> {
        let rows = query(sql).fetch_all(&mut *self.tx).await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
    }
}

#[async_trait]
impl StoreTx for PgTx {
    async fn lock_current(&mut self, resource_type: &str, id: &str) -> StoreResult<Option<Current>> {
        let text = format!("{} FOR UPDATE", sql::CURRENT_STATE);
        let row = sqlx::query(AssertSqlSafe(text)).bind(resource_type).bind(id).fetch_optional(&mut *self.tx).await?;
        row.map(|r| Ok(Current { version: r.try_get(0)?, deleted: r.try_get(1)?, last_updated: r.try_get(2)? }))
            .transpose()
    }

    async fn lock_current_many(
        &mut self,
        keys: &[(String, String)],
    ) -> StoreResult<HashMap<(String, String), Current>> {
        let mut found = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(sql::CHUNK) {
            let mut statement = sql::current_many(chunk);
            statement.push(" FOR UPDATE");
            for row in query(statement).fetch_all(&mut *self.tx).await? {
                let (key, current) = sql::current_from_row(&row)?;
                found.insert(key, current);
            }
        }
        Ok(found)
    }

    async fn lock_key(&mut self, key: &str) -> StoreResult<()> {
        let _timed = super::counted::timed(super::counted::Kind::Transaction);
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(key)
            .execute(&mut *self.tx)
            .await
            .map_err(StoreError::from)?;
        Ok(())
    }

    async fn query(&mut self, sql: Sql, columns: &[Column]) -> StoreResult<Vec<Vec<Cell>>> {
        let rows = query(sql).fetch_all(&mut *self.tx).await?;
        rows.iter().map(|r| Ok(sql::cells(r, columns)?)).collect()
    }

    async fn put(&mut self, versions: Vec<NewVersion>) -> StoreResult<()> {
        write::put(self, versions).await
    }

    async fn replace_index(&mut self, rows: Vec<(i64, String, IndexRows)>) -> StoreResult<()> {
        write::replace_index(self, rows).await
    }

    async fn execute_in(&mut self, sql: Sql) -> StoreResult<u64> {
        Exec::execute(self, sql).await
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        Ok(self.tx.commit().await?)
    }
}

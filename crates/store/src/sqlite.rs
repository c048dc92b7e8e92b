//! SQLite backend: one database file in WAL mode, a pool of readers and a single writer
//! connection, so writers queue in-process instead of failing with SQLITE_BUSY.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Connection, Row, Sqlite};

use super::group_commit::Groups;
use super::ops::{self, PoolStats, Schema};
use super::reads::SharedReads;
use super::sql::{self, Cell, Column, Sql};
use super::sqlite_clock;
use super::write::{self, Exec};
use super::{Current, HistoryQuery, NewVersion, ResourceVersion, Store, StoreError, StoreResult, StoreTx};
use crate::index::IndexRows;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

pub struct SqliteStore {
    readers: SqlitePool,
    writer: SqlitePool,
    /// Write transactions share the one writer through group commits.
    groups: Groups,
}

impl SqliteStore {
    pub async fn open(url: &str, statement_timeout: Duration) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL loses no committed transaction when the process dies (kill -9);
            // only an operating-system crash can lose the last commits.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("cache_size", "-65536")
            // Statement journals of multi-row writes stay in memory instead of temporary files.
            .pragma("temp_store", "memory")
            .pragma("wal_autocheckpoint", "16384");
        if let Some(parent) = options.get_filename().parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        }
        {
            // Migrations run without the statement timeout: building an index on a large
            // database may rightly take longer than any request should.
            let mut migrating = SqliteConnection::connect_with(&options).await?;
            MIGRATOR.run(&mut migrating).await?;
            // Statistics for the query planner, refreshed where SQLite judges it worthwhile.
            sqlx::query("PRAGMA optimize=0x10002").execute(&mut migrating).await?;
            migrating.close().await?;
        }
        let pool = |connections: u32| {
            SqlitePoolOptions::new()
                .max_connections(connections)
                .acquire_timeout(Duration::from_secs(30))
                .after_connect(move |conn, _| Box::pin(sqlite_clock::install(conn, statement_timeout)))
        };
        let writer = pool(1).connect_with(options.clone()).await?;
        let readers = pool(8).connect_with(options.read_only(true)).await?;
        Ok(SqliteStore { readers, writer, groups: Groups::default() })
    }
}

fn query(sql: Sql) -> sqlx::query::Query<'static, Sqlite, SqliteArguments> {
    sql::bound(Sql { text: positional(&sql.text), binds: sql.binds })
}

/// `$1, $2, ...` → `?, ?, ...`. SQLite resolves numbered parameters by a linear scan per bind, so a
/// statement with thousands of them costs quadratic time; anonymous ones cost nothing. Generated
/// SQL numbers its parameters in order of appearance, which makes the two forms equivalent.
fn positional(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

#[async_trait]
impl Store for SqliteStore {
    fn dialect(&self) -> crate::Dialect {
        crate::Dialect::Sqlite
    }

    async fn read(&self, resource_type: &str, id: &str) -> StoreResult<Option<ResourceVersion>> {
        SharedReads(&self.readers).read(resource_type, id).await
    }

    async fn vread(&self, resource_type: &str, id: &str, version: i64) -> StoreResult<Option<ResourceVersion>> {
        SharedReads(&self.readers).vread(resource_type, id, version).await
    }

    async fn history(&self, q: &HistoryQuery) -> StoreResult<Vec<ResourceVersion>> {
        SharedReads(&self.readers).history(q).await
    }

    async fn query(&self, sql: Sql, columns: &[Column]) -> StoreResult<Vec<Vec<Cell>>> {
        SharedReads(&self.readers).query(sql, columns).await
    }

    async fn fetch(&self, rids: &[i64]) -> StoreResult<Vec<(i64, ResourceVersion)>> {
        SharedReads(&self.readers).fetch(rids).await
    }

    async fn execute(&self, sql: Sql) -> StoreResult<u64> {
        Ok(query(sql).execute(&self.writer).await?.rows_affected())
    }

    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>> {
        self.groups
            .begin(|| async {
                // IMMEDIATE takes the write lock up front: a transaction that reads and then
                // writes can never deadlock with another process's writer.
                let mut conn = self.writer.acquire().await?;
                sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
                Ok(Box::new(SqliteTx { conn, committed: false }) as Box<dyn StoreTx>)
            })
            .await
    }

    async fn close(&self) {
        if let Err(e) = sqlx::query("PRAGMA optimize").execute(&self.writer).await {
            tracing::warn!(error = %e, "PRAGMA optimize failed");
        }
        self.readers.close().await;
        self.writer.close().await;
    }

    async fn ping(&self) -> StoreResult<()> {
        SharedReads(&self.readers).ping().await
    }

    async fn schema(&self) -> StoreResult<Schema> {
        let applied = SharedReads(&self.readers).applied_migration().await?;
        Ok(Schema { applied, known: ops::newest(&MIGRATOR) })
    }

    fn pools(&self) -> Vec<PoolStats> {
        vec![PoolStats::of("readers", &self.readers), PoolStats::of("writer", &self.writer)]
    }
}

/// The writer connection inside `BEGIN IMMEDIATE`. The transaction statements are our own rather
/// than sqlx's `Transaction`: SQLite rolls a whole transaction back by itself when a write in it
/// is interrupted (the statement clock) or fails on I/O, after which sqlx's own bookkeeping would
/// refuse every later `BEGIN` on the connection. A transaction dropped without its commit closes
/// its connection instead of returning it to the pool (closing rolls back whatever is open), so
/// the next writer always gets a clean one.
struct SqliteTx {
    conn: PoolConnection<Sqlite>,
    committed: bool,
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if !self.committed {
            self.conn.close_on_drop();
        }
    }
}

#[async_trait]
impl Exec for SqliteTx {
    async fn execute(&mut self, sql: Sql) -> StoreResult<u64> {
        Ok(query(sql).execute(&mut *self.conn).await?.rows_affected())
    }

    async fn fetch_keyed(&mut self, sql: Sql) -> StoreResult<Vec<(String, String, i64)>> {
        let rows = query(sql).fetch_all(&mut *self.conn).await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
    }

    /// Statements joined into one text run as one call: the connection lives on its own thread,
    /// and every call is a round trip to it (two thread switches, which under 16 concurrent
    /// writers cost more than the statements: a fifth of the server's time went to them). One
    /// text's statements run one after another, each binding the next of the values.
    async fn run_all(&mut self, statements: Vec<Sql>) -> StoreResult<()> {
        for joined in sql::joined(statements, MAX_BINDS_PER_CALL) {
            self.run(joined).await?;
        }
        Ok(())
    }
}

/// Values one joined call binds at most (SQLite allows 32,766 per statement; a call's statements
/// are prepared one at a time, so this bounds only the text kept at once).
const MAX_BINDS_PER_CALL: usize = 20_000;

#[async_trait]
impl StoreTx for SqliteTx {
    async fn lock_current(&mut self, resource_type: &str, id: &str) -> StoreResult<Option<Current>> {
        // The single writer connection holds the database write lock for the whole transaction.
        let row = sqlx::query(sql::CURRENT_STATE).bind(resource_type).bind(id).fetch_optional(&mut *self.conn).await?;
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
            statement.push("");
            for row in query(statement).fetch_all(&mut *self.conn).await? {
                let (key, current) = sql::current_from_row(&row)?;
                found.insert(key, current);
            }
        }
        Ok(found)
    }

    async fn lock_key(&mut self, _key: &str) -> StoreResult<()> {
        // Writers are already serialised by the database write lock.
        Ok(())
    }

    async fn query(&mut self, sql: Sql, columns: &[Column]) -> StoreResult<Vec<Vec<Cell>>> {
        let rows = query(sql).fetch_all(&mut *self.conn).await?;
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

    async fn commit(mut self: Box<Self>) -> StoreResult<()> {
        sqlx::query("COMMIT").execute(&mut *self.conn).await?;
        self.committed = true;
        Ok(())
    }
}

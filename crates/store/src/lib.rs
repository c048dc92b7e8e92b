//! Storage: one trait, two real backends (SQLite, the embedded default, and PostgreSQL).
//!
//! Every version of every resource is kept (`resource_version`); `resource` points at the current
//! one and carries the surrogate key (`rid`) that search-index rows refer to. Writes go through a
//! [`StoreTx`], so a single resource update and a thousand-entry transaction bundle take the same
//! path: lock what is read, write in batches, commit once.
//!
//! The crate also holds what turns resources into rows and queries into SQL: `index` (the
//! search-index rows extracted from a resource at write time) and `search` (parameters, query
//! parsing, the SQL planner, signed cursors), so that SQL is written here and nowhere above.

/// The SMART authorization server's tables: clients, grants, codes, tokens, signing keys,
/// launches, pending requests and seen assertion ids, one repository per table group.
pub mod auth;
mod body;
pub mod builtin_content;
pub mod counted;
pub mod export_jobs;
mod group_commit;
pub mod index;
mod index_sql;
pub mod notifications;
pub mod ops;
pub mod postgres;
mod reads;
pub mod replicas;
pub mod search;
pub mod sql;
pub mod sqlite;
mod sqlite_clock;
mod write;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::index::IndexRows;

/// The SQL a backend speaks. Most statements are the same on both (see `sql`); the planner and a
/// few statements branch on this where they differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// "sqlite" or "postgres", for logs and the CapabilityStatement.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }
}

/// Epoch microseconds (UTC).
pub type Micros = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Create,
    Update,
    Delete,
}

impl Method {
    pub fn as_http(self) -> &'static str {
        match self {
            Method::Create => "POST",
            Method::Update => "PUT",
            Method::Delete => "DELETE",
        }
    }

    fn from_http(s: &str) -> Result<Method, StoreError> {
        match s {
            "POST" => Ok(Method::Create),
            "PUT" => Ok(Method::Update),
            "DELETE" => Ok(Method::Delete),
            other => Err(StoreError::Corrupt(format!("unknown method '{other}' in resource_version"))),
        }
    }
}

/// One stored version of a resource.
#[derive(Debug, Clone)]
pub struct ResourceVersion {
    pub resource_type: String,
    pub id: String,
    pub version: i64,
    pub last_updated: Micros,
    pub method: Method,
    /// The resource JSON, exactly as stored; `None` for a deletion tombstone.
    pub content: Option<String>,
    /// Global write order, used to page history.
    pub seq: i64,
}

impl ResourceVersion {
    pub fn is_deleted(&self) -> bool {
        self.content.is_none()
    }
}

/// The current state of a resource as seen inside a write transaction.
#[derive(Debug, Clone, Copy)]
pub struct Current {
    pub version: i64,
    pub deleted: bool,
    pub last_updated: Micros,
}

/// A version to be written.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub resource_type: String,
    pub id: String,
    pub version: i64,
    pub last_updated: Micros,
    pub method: Method,
    pub content: Option<String>,
    /// Search-index rows of this version (empty for deletions).
    pub index: IndexRows,
    /// Whether the resource's previous version was live, so its index rows must be replaced.
    pub replaces_index: bool,
}

#[derive(Debug, Clone)]
pub enum HistoryScope {
    System,
    Type(String),
    Instance(String, String),
}

#[derive(Debug, Clone)]
pub struct HistoryQuery {
    pub scope: HistoryScope,
    /// Versions written at or after this time.
    pub since: Option<Micros>,
    /// Versions that were current at some point in `[start, end)`.
    pub at: Option<(Micros, Micros)>,
    /// Only versions with `seq` below this (the paging cursor).
    pub before_seq: Option<i64>,
    pub limit: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer changed the same resource first.
    #[error("concurrent write conflict: {0}")]
    Conflict(String),
    #[error("database is busy: {0}")]
    Busy(String),
    /// A statement ran past the statement timeout and the database stopped it.
    #[error("statement stopped at the statement timeout: {0}")]
    TimedOut(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL '{0}' (use sqlite:// or postgres://)")]
    UnsupportedUrl(String),
    /// The group commit this write joined failed as a whole (see `group_commit`): nothing of
    /// the write was stored, and it may run again.
    #[error("the write was not stored: {0}")]
    Abandoned(String),
    /// A read URL that is not a PostgreSQL hot standby of a PostgreSQL primary.
    #[error("read replicas must be PostgreSQL hot standbys of a PostgreSQL primary: {0}")]
    NotAStandby(String),
}

impl StoreError {
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Busy(_) | StoreError::Abandoned(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(db.message().to_string()),
            // PostgreSQL serialization failure and deadlock: the loser may retry.
            sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40001" | "40P01")) => {
                StoreError::Conflict(db.message().to_string())
            }
            // SQLITE_BUSY / SQLITE_LOCKED after the busy timeout.
            sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("5" | "6" | "517")) => {
                StoreError::Busy(db.message().to_string())
            }
            // PostgreSQL query_canceled (statement_timeout), SQLITE_INTERRUPT (the statement clock).
            sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("57014" | "9")) => {
                StoreError::TimedOut(db.message().to_string())
            }
            sqlx::Error::PoolTimedOut => StoreError::Busy("no database connection available".to_string()),
            _ => StoreError::Database(e),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait Store: Send + Sync {
    /// The SQL this backend speaks.
    fn dialect(&self) -> Dialect;
    /// The current version of a resource, which may be a deletion tombstone.
    async fn read(&self, resource_type: &str, id: &str) -> StoreResult<Option<ResourceVersion>>;
    async fn vread(&self, resource_type: &str, id: &str, version: i64) -> StoreResult<Option<ResourceVersion>>;
    /// Versions newest first, at most `limit`.
    async fn history(&self, query: &HistoryQuery) -> StoreResult<Vec<ResourceVersion>>;
    /// Runs a generated query, decoding columns of the given kinds.
    async fn query(&self, sql: sql::Sql, columns: &[sql::Column]) -> StoreResult<Vec<Vec<sql::Cell>>>;
    /// Current versions of resources by surrogate key (any order), with their keys.
    async fn fetch(&self, rids: &[i64]) -> StoreResult<Vec<(i64, ResourceVersion)>>;
    /// Runs a generated statement, returning the number of rows it changed.
    async fn execute(&self, sql: sql::Sql) -> StoreResult<u64>;
    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>>;
    /// Waits for in-flight work and closes connections.
    async fn close(&self);

    /// One trivial statement on the pool requests read from: whether the database answers
    /// (readiness). Not one of a request's counted statements.
    async fn ping(&self) -> StoreResult<()>;
    /// The database's schema against this build's migrations (readiness).
    async fn schema(&self) -> StoreResult<ops::Schema>;
    /// The connection pools' sizes now (metrics).
    fn pools(&self) -> Vec<ops::PoolStats>;

    /// A store for the reads of a read-only request whose caller must see everything up to
    /// `floor` (its own last write): a read replica that has replayed that far and keeps within
    /// the lag bound, or `None` to read here (no replicas, or none fits). See [`replicas`].
    fn replica_for(&self, _floor: replicas::Lsn) -> Option<Arc<dyn Store>> {
        None
    }

    /// Refreshes the planner's statistics after a bulk load (`ikp import`), so that the first
    /// searches after it are planned from the data rather than from empty tables. SQLite does
    /// this when the store closes (`PRAGMA optimize`).
    async fn refresh_statistics(&self) -> StoreResult<()> {
        Ok(())
    }

    /// The read replicas as last polled (none without replicas).
    fn replicas(&self) -> Vec<ops::ReplicaState> {
        Vec::new()
    }

    /// Where the primary's write-ahead log stands now, taken after a write so the writer's later
    /// reads wait for a replica to replay it (`None`: there are no replicas to wait for).
    async fn written_position(&self) -> StoreResult<Option<replicas::Lsn>> {
        Ok(None)
    }

    /// The current version of a resource (possibly a tombstone) with the compartments its index
    /// rows put it in (none for a tombstone), in one statement.
    async fn read_with_compartments(
        &self,
        resource_type: &str,
        id: &str,
    ) -> StoreResult<Option<(ResourceVersion, Vec<(String, String)>)>> {
        let sql = sql::read_with_compartments(self.dialect(), resource_type, id);
        let rows = self.query(sql, &sql::VERSION_AND_COMPARTMENTS).await?;
        let Some(row) = rows.first() else { return Ok(None) };
        let version = sql::version_from_cells(row)?;
        let compartments = row.get(7).and_then(sql::Cell::as_text).map(sql::split_compartments).unwrap_or_default();
        Ok(Some((version, compartments)))
    }

    /// Versions by `(type, id, version)`, in one statement per chunk of keys (any order; the
    /// versions that do not exist are left out).
    async fn versions(&self, keys: &[(String, String, i64)]) -> StoreResult<Vec<ResourceVersion>> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(sql::CHUNK / 3) {
            for row in self.query(sql::versions_by_key(chunk), &sql::VERSION_CELLS).await? {
                out.push(sql::version_from_cells(&row)?);
            }
        }
        Ok(out)
    }

    /// The newest live resource of a (definitional) type with the canonical `url`, in one
    /// indexed statement.
    async fn newest_by_url(&self, resource_type: &str, url: &str) -> StoreResult<Option<ResourceVersion>> {
        let rows = self.query(sql::newest_by_url(resource_type, url), &sql::VERSION_CELLS).await?;
        rows.first().map(|row| sql::version_from_cells(row)).transpose()
    }

    /// The JSON text of every live resource of a type (definitional types: a few hundred at most).
    async fn live_contents_of_type(&self, resource_type: &str) -> StoreResult<Vec<String>> {
        let rows = self.query(sql::live_contents_of_type(resource_type), &[sql::Column::Body]).await?;
        Ok(rows.into_iter().filter_map(|row| row.into_iter().next().and_then(sql::Cell::into_text)).collect())
    }

    /// A batch of at most `limit` live resources (of one type, or all) whose surrogate keys follow
    /// `after`, in key order: `(rid, JSON text)`. Walks the whole store batch by batch.
    async fn live_contents_after(
        &self,
        after: i64,
        resource_type: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<(i64, String)>> {
        let sql = sql::live_contents_after(after, resource_type, limit);
        let rows = self.query(sql, &[sql::Column::Int, sql::Column::Body]).await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let mut cells = row.into_iter();
                Some((cells.next()?.as_int()?, cells.next()?.into_text()?))
            })
            .collect())
    }

    /// The policy generation (see migration 0011): one indexed read.
    async fn policy_generation(&self) -> StoreResult<i64> {
        let rows = self.query(sql::Sql::new(sql::POLICY_GENERATION), &[sql::Column::Int]).await?;
        Ok(rows.first().and_then(|r| r.first()).and_then(sql::Cell::as_int).unwrap_or(0))
    }

    /// Advances the policy generation on its own (a revoked token, a removed client).
    async fn advance_policy_generation(&self) -> StoreResult<()> {
        self.execute(sql::advance_policy_generation()).await.map(|_| ())
    }
}

#[async_trait]
pub trait StoreTx: Send {
    /// The current state of a resource, locked against other writers until commit or rollback.
    async fn lock_current(&mut self, resource_type: &str, id: &str) -> StoreResult<Option<Current>>;
    /// The current state of many resources (absent ones are left out), locked like [`Self::lock_current`].
    async fn lock_current_many(&mut self, keys: &[(String, String)])
    -> StoreResult<HashMap<(String, String), Current>>;
    /// Serialises transactions that decide on the absence of matches (conditional create/update),
    /// so two concurrent conditional creates cannot both create.
    async fn lock_key(&mut self, key: &str) -> StoreResult<()>;
    /// Runs a generated query inside the transaction.
    async fn query(&mut self, sql: sql::Sql, columns: &[sql::Column]) -> StoreResult<Vec<Vec<sql::Cell>>>;
    /// Writes versions (batched; one round trip per table, not per version).
    async fn put(&mut self, versions: Vec<NewVersion>) -> StoreResult<()>;
    /// Replaces the search-index rows of existing resources (`$reindex`).
    async fn replace_index(&mut self, rows: Vec<(i64, String, IndexRows)>) -> StoreResult<()>;
    async fn commit(self: Box<Self>) -> StoreResult<()>;

    /// Ends the transaction without committing, returning when it is over. Dropping it rolls it
    /// back too, but cannot wait: a member of a group commit is over only when its group is, and
    /// a caller that reads again after a failed write (to retry it) must see what it lost to.
    async fn rollback(self: Box<Self>) {
        drop(self);
    }

    /// Runs a generated statement inside the transaction.
    async fn execute_in(&mut self, sql: sql::Sql) -> StoreResult<u64>;

    /// Advances the policy generation, visible exactly when this transaction commits.
    async fn advance_policy_generation(&mut self) -> StoreResult<()> {
        self.execute_in(sql::advance_policy_generation()).await.map(|_| ())
    }

    /// The compartments the current (live) versions of these resources belong to, by their
    /// index rows.
    async fn current_compartments(&mut self, keys: &[(String, String)]) -> StoreResult<Compartments> {
        let mut found = Compartments::new();
        for chunk in keys.chunks(sql::CHUNK / 2) {
            let rows = self.query(sql::compartments_of_current(chunk), &[sql::Column::Text; 4]).await?;
            for row in rows {
                let text = |i: usize| row.get(i).and_then(sql::Cell::as_text).unwrap_or_default().to_string();
                found.entry((text(0), text(1))).or_default().push((text(2), text(3)));
            }
        }
        Ok(found)
    }

    /// Versions by `(type, id, version)`, read inside the transaction.
    async fn versions(&mut self, keys: &[(String, String, i64)]) -> StoreResult<Vec<ResourceVersion>> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(sql::CHUNK / 3) {
            for row in self.query(sql::versions_by_key(chunk), &sql::VERSION_CELLS).await? {
                out.push(sql::version_from_cells(&row)?);
            }
        }
        Ok(out)
    }

    /// The current versions of these resources (tombstones included), read inside the
    /// transaction.
    async fn current_versions(&mut self, keys: &[(String, String)]) -> StoreResult<Vec<ResourceVersion>> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(sql::CHUNK / 2) {
            for row in self.query(sql::current_versions(chunk), &sql::VERSION_CELLS).await? {
                out.push(sql::version_from_cells(&row)?);
            }
        }
        Ok(out)
    }
}

/// Resources' compartments: (type, id) → [(compartment type, compartment id)].
pub type Compartments = HashMap<(String, String), Vec<(String, String)>>;

/// A named secret shared by all server nodes: created (random, 32 bytes) by whichever node asks
/// first, read by the rest.
pub async fn shared_secret(store: &dyn Store, name: &str) -> StoreResult<Vec<u8>> {
    let mut fresh = [0u8; 32];
    openssl::rand::rand_bytes(&mut fresh).map_err(|e| StoreError::Corrupt(format!("no randomness: {e}")))?;
    let hex: String = fresh.iter().map(|b| format!("{b:02x}")).collect();
    let mut insert = sql::Sql::new("INSERT INTO server_secret (name, value) VALUES (");
    insert
        .bind(sql::Bind::Text(name.to_string()))
        .push(", ")
        .bind(sql::Bind::Text(hex))
        .push(") ON CONFLICT (name) DO NOTHING");
    store.execute(insert).await?;
    let mut select = sql::Sql::new("SELECT value FROM server_secret WHERE name = ");
    select.bind(sql::Bind::Text(name.to_string()));
    let rows = store.query(select, &[sql::Column::Text]).await?;
    let value = rows.first().and_then(|r| r.first()).and_then(sql::Cell::as_text).unwrap_or_default();
    let bytes: Option<Vec<u8>> =
        (0..value.len()).step_by(2).map(|i| value.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect();
    bytes.filter(|b| b.len() == 32).ok_or_else(|| StoreError::Corrupt(format!("server secret '{name}' is malformed")))
}

/// How long one SQL statement may run unless configured otherwise.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens the store a database URL names, running its migrations, with the default statement
/// timeout.
pub async fn open(url: &str) -> StoreResult<Arc<dyn Store>> {
    open_with_timeout(url, DEFAULT_STATEMENT_TIMEOUT).await
}

/// Opens the store a database URL names, running its migrations; every statement it runs
/// afterwards is stopped at `statement_timeout` ([`StoreError::TimedOut`]).
pub async fn open_with_timeout(url: &str, statement_timeout: Duration) -> StoreResult<Arc<dyn Store>> {
    open_replicated(url, None, statement_timeout).await
}

/// [`open_with_timeout`], with read replicas when `replication` names any (PostgreSQL only).
pub async fn open_replicated(
    url: &str,
    replication: Option<&replicas::Replication>,
    statement_timeout: Duration,
) -> StoreResult<Arc<dyn Store>> {
    let Some(replication) = replication.filter(|r| !r.read_urls.is_empty()) else {
        return open_primary(url, statement_timeout).await;
    };
    if !(url.starts_with("postgres:") || url.starts_with("postgresql:")) {
        return Err(StoreError::NotAStandby("the primary database is not PostgreSQL".into()));
    }
    let primary = open_primary(url, statement_timeout).await?;
    let mut standbys: Vec<Arc<dyn Store>> = Vec::new();
    for read_url in &replication.read_urls {
        standbys.push(Arc::new(counted::Counted(postgres::PgStore::open_replica(read_url, statement_timeout).await?)));
    }
    Ok(Arc::new(replicas::Replicated::new(primary, standbys, replication.max_lag)))
}

async fn open_primary(url: &str, statement_timeout: Duration) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(counted::Counted(sqlite::SqliteStore::open(url, statement_timeout).await?)))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(counted::Counted(postgres::PgStore::open(url, statement_timeout).await?)))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_string()))
    }
}

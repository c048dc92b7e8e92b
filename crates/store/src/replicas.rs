//! Read replicas: PostgreSQL hot standbys (streaming replication, PostgreSQL's own) that serve
//! the reads of read-only requests, while every write, every transaction and every policy read
//! stays on the primary.
//!
//! A replica is used only when it is known to hold what the reader must see:
//! - **Read your writes.** After a write, the writer's position in the primary's write-ahead log
//!   ([`Lsn`]) is its *floor*; a replica serves it only once it has replayed that far. The REST
//!   layer keeps each caller's floor and hands it back (`IKP-Read-After`) for other nodes.
//! - **Bounded staleness.** For everyone else, a replica is used while it has replayed what the
//!   primary had written `max_lag` ago; one that falls further behind is passed over.
//! - **Down or promoted.** A replica that does not answer as a standby is passed over, and a read
//!   that fails on one is run again on the primary, so the caller never sees the failure.
//!
//! Positions are polled in the background (a few times per `max_lag`), never per request: a
//! request's routing costs no statement, and a stale poll only ever sends a read to the primary.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::sql::{Cell, Column, Sql};
use crate::{HistoryQuery, ResourceVersion, Store, StoreError, StoreResult, StoreTx};

/// A position in the primary's write-ahead log (PostgreSQL's `pg_lsn`, `16/B374D848`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Lsn(pub u64);

impl Lsn {
    /// Parses PostgreSQL's text form (two hexadecimal halves); `None` for anything else.
    pub fn parse(text: &str) -> Option<Lsn> {
        let (high, low) = text.trim().split_once('/')?;
        if high.is_empty() || low.is_empty() || high.len() > 8 || low.len() > 8 {
            return None;
        }
        let high = u64::from_str_radix(high, 16).ok()?;
        let low = u64::from_str_radix(low, 16).ok()?;
        Some(Lsn((high << 32) | low))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// Read replicas for a PostgreSQL primary.
#[derive(Debug, Clone)]
pub struct Replication {
    /// The hot standbys' database URLs.
    pub read_urls: Vec<String>,
    /// How far behind the primary (in time) a replica may be and still serve readers that have
    /// not written.
    pub max_lag: Duration,
}

/// The primary's current write position: taken after a commit, it is at or past that commit.
const WRITE_POSITION: &str = "SELECT pg_current_wal_insert_lsn()::text";
/// A standby's replayed position; NULL when it is not (or no longer) a standby.
const REPLAY_POSITION: &str = "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text END";

/// The primary with its replicas: everything goes to the primary, except the reads of a
/// session that asks [`Store::replica_for`].
pub struct Replicated {
    primary: Arc<dyn Store>,
    replicas: Vec<Arc<Replica>>,
    /// Round-robin start among usable replicas.
    next: AtomicUsize,
    monitor: tokio::task::JoinHandle<()>,
}

/// One standby as last polled.
struct Replica {
    /// `replica-1`, ...: the metrics' label (never the URL).
    name: String,
    store: Arc<dyn Store>,
    /// The position it had replayed at the last poll.
    replayed: AtomicU64,
    /// It answered the last poll as a standby within the lag bound, and no read has failed on
    /// it since.
    usable: AtomicBool,
}

impl Replica {
    fn pass_over(&self, why: &str) {
        if self.usable.swap(false, Ordering::Relaxed) {
            tracing::warn!(replica = %self.name, why, "a read replica is passed over; reads go to the primary");
        }
        metrics::gauge!("ikp_db_replica_usable", "replica" => self.name.clone()).set(0.0);
    }
}

impl Replicated {
    /// The primary with standbys already opened (`replicas`, in the order of the URLs), polled
    /// from now on.
    pub fn new(primary: Arc<dyn Store>, replicas: Vec<Arc<dyn Store>>, max_lag: Duration) -> Replicated {
        let replicas: Vec<Arc<Replica>> = replicas
            .into_iter()
            .enumerate()
            .map(|(i, store)| {
                Arc::new(Replica {
                    name: format!("replica-{}", i + 1),
                    store,
                    replayed: AtomicU64::new(0),
                    usable: AtomicBool::new(false),
                })
            })
            .collect();
        let monitor = tokio::spawn(monitor(primary.clone(), replicas.clone(), max_lag));
        Replicated { primary, replicas, next: AtomicUsize::new(0), monitor }
    }
}

/// The primary's write position, read on `store`.
async fn write_position(store: &dyn Store) -> StoreResult<Lsn> {
    let rows = store.query(Sql::new(WRITE_POSITION), &[Column::Text]).await?;
    position(rows).ok_or_else(|| StoreError::Corrupt("the primary reported no write position".into()))
}

fn position(rows: Vec<Vec<Cell>>) -> Option<Lsn> {
    rows.into_iter().next()?.into_iter().next()?.into_text().as_deref().and_then(Lsn::parse)
}

/// Polls the primary's position and every replica's replayed one, forever (aborted on close).
async fn monitor(primary: Arc<dyn Store>, replicas: Vec<Arc<Replica>>, max_lag: Duration) {
    let every = (max_lag / 4).clamp(Duration::from_millis(10), Duration::from_millis(250));
    // The primary's positions over the last `max_lag`: the oldest is what a replica must have
    // replayed to be within the bound.
    let mut written: VecDeque<(Instant, Lsn)> = VecDeque::new();
    loop {
        match write_position(primary.as_ref()).await {
            Ok(at) => written.push_back((Instant::now(), at)),
            Err(e) => tracing::warn!(error = %e, "read replicas: the primary's position could not be read"),
        }
        while written.len() > 1 && written.get(1).is_some_and(|(t, _)| t.elapsed() >= max_lag) {
            written.pop_front();
        }
        let required = written.front().map(|(_, at)| *at).unwrap_or_default();
        let newest = written.back().map(|(_, at)| *at).unwrap_or_default();
        for replica in &replicas {
            poll(replica, required, newest).await;
        }
        tokio::time::sleep(every).await;
    }
}

async fn poll(replica: &Replica, required: Lsn, newest: Lsn) {
    let replayed = match replica.store.query(Sql::new(REPLAY_POSITION), &[Column::Text]).await {
        Ok(rows) => position(rows),
        Err(e) => {
            replica.pass_over(&format!("it does not answer: {e}"));
            return;
        }
    };
    let Some(replayed) = replayed else {
        replica.pass_over("it is not a standby (promoted?)");
        return;
    };
    replica.replayed.store(replayed.0, Ordering::Relaxed);
    metrics::gauge!("ikp_db_replica_lag_bytes", "replica" => replica.name.clone())
        .set(newest.0.saturating_sub(replayed.0) as f64);
    if replayed < required {
        replica.pass_over("it lags behind by more than the allowed lag");
        return;
    }
    if !replica.usable.swap(true, Ordering::Relaxed) {
        tracing::info!(replica = %replica.name, %replayed, "a read replica serves reads");
    }
    metrics::gauge!("ikp_db_replica_usable", "replica" => replica.name.clone()).set(1.0);
}

#[async_trait]
impl Store for Replicated {
    fn dialect(&self) -> crate::Dialect {
        self.primary.dialect()
    }

    async fn read(&self, resource_type: &str, id: &str) -> StoreResult<Option<ResourceVersion>> {
        self.primary.read(resource_type, id).await
    }

    async fn vread(&self, resource_type: &str, id: &str, version: i64) -> StoreResult<Option<ResourceVersion>> {
        self.primary.vread(resource_type, id, version).await
    }

    async fn history(&self, query: &HistoryQuery) -> StoreResult<Vec<ResourceVersion>> {
        self.primary.history(query).await
    }

    async fn query(&self, sql: Sql, columns: &[Column]) -> StoreResult<Vec<Vec<Cell>>> {
        self.primary.query(sql, columns).await
    }

    async fn fetch(&self, rids: &[i64]) -> StoreResult<Vec<(i64, ResourceVersion)>> {
        self.primary.fetch(rids).await
    }

    async fn execute(&self, sql: Sql) -> StoreResult<u64> {
        self.primary.execute(sql).await
    }

    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>> {
        self.primary.begin().await
    }

    async fn close(&self) {
        self.monitor.abort();
        for replica in &self.replicas {
            replica.store.close().await;
        }
        self.primary.close().await;
    }

    async fn ping(&self) -> StoreResult<()> {
        self.primary.ping().await
    }

    async fn schema(&self) -> StoreResult<crate::ops::Schema> {
        self.primary.schema().await
    }

    fn pools(&self) -> Vec<crate::ops::PoolStats> {
        let mut pools = self.primary.pools();
        for replica in &self.replicas {
            pools.extend(replica.store.pools().into_iter().map(|mut p| {
                p.pool = replica.name.clone();
                p
            }));
        }
        pools
    }

    async fn refresh_statistics(&self) -> StoreResult<()> {
        // Statistics reach the standbys by replication.
        self.primary.refresh_statistics().await
    }

    fn replicas(&self) -> Vec<crate::ops::ReplicaState> {
        self.replicas
            .iter()
            .map(|r| crate::ops::ReplicaState { name: r.name.clone(), serving: r.usable.load(Ordering::Relaxed) })
            .collect()
    }

    fn replica_for(&self, floor: Lsn) -> Option<Arc<dyn Store>> {
        let count = self.replicas.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let chosen = (0..count)
            .map(|i| &self.replicas[(start + i) % count])
            .find(|r| r.usable.load(Ordering::Relaxed) && r.replayed.load(Ordering::Relaxed) >= floor.0);
        let target = if chosen.is_some() { "replica" } else { "primary" };
        metrics::counter!("ikp_db_read_routing_total", "target" => target).increment(1);
        chosen.map(|replica| Arc::new(ReplicaReads { replica: replica.clone(), primary: self.primary.clone() }) as _)
    }

    async fn written_position(&self) -> StoreResult<Option<Lsn>> {
        write_position(self.primary.as_ref()).await.map(Some)
    }
}

/// One replica for a request's reads: what it cannot answer is asked of the primary; writes and
/// the policy generation always are.
struct ReplicaReads {
    replica: Arc<Replica>,
    primary: Arc<dyn Store>,
}

impl ReplicaReads {
    fn fell_back(&self, e: &StoreError) {
        self.replica.pass_over(&format!("a read failed on it: {e}"));
        metrics::counter!("ikp_db_replica_fallbacks_total").increment(1);
    }
}

/// Whether a failed read is run again on the primary: anything but the statement timeout, which
/// the primary would hit too (a replica that went away, a query cancelled by a recovery conflict).
fn retry_on_primary(e: &StoreError) -> bool {
    !matches!(e, StoreError::TimedOut(_))
}

/// Runs a read on the replica, and on the primary when the replica fails it.
macro_rules! replica_first {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self.replica.store.$method($($arg),*).await {
            Err(e) if retry_on_primary(&e) => {
                $self.fell_back(&e);
                $self.primary.$method($($arg),*).await
            }
            done => done,
        }
    };
}

#[async_trait]
impl Store for ReplicaReads {
    fn dialect(&self) -> crate::Dialect {
        self.primary.dialect()
    }

    async fn read(&self, resource_type: &str, id: &str) -> StoreResult<Option<ResourceVersion>> {
        replica_first!(self.read(resource_type, id))
    }

    async fn vread(&self, resource_type: &str, id: &str, version: i64) -> StoreResult<Option<ResourceVersion>> {
        replica_first!(self.vread(resource_type, id, version))
    }

    async fn history(&self, query: &HistoryQuery) -> StoreResult<Vec<ResourceVersion>> {
        replica_first!(self.history(query))
    }

    async fn query(&self, sql: Sql, columns: &[Column]) -> StoreResult<Vec<Vec<Cell>>> {
        match self.replica.store.query(sql.clone(), columns).await {
            Err(e) if retry_on_primary(&e) => {
                self.fell_back(&e);
                self.primary.query(sql, columns).await
            }
            done => done,
        }
    }

    async fn fetch(&self, rids: &[i64]) -> StoreResult<Vec<(i64, ResourceVersion)>> {
        replica_first!(self.fetch(rids))
    }

    async fn execute(&self, sql: Sql) -> StoreResult<u64> {
        self.primary.execute(sql).await
    }

    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>> {
        self.primary.begin().await
    }

    async fn close(&self) {}

    async fn ping(&self) -> StoreResult<()> {
        self.primary.ping().await
    }

    async fn schema(&self) -> StoreResult<crate::ops::Schema> {
        self.primary.schema().await
    }

    fn pools(&self) -> Vec<crate::ops::PoolStats> {
        self.primary.pools()
    }

    /// Revocations must be seen at once: the generation is the primary's.
    async fn policy_generation(&self) -> StoreResult<i64> {
        self.primary.policy_generation().await
    }

    async fn written_position(&self) -> StoreResult<Option<Lsn>> {
        self.primary.written_position().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_read_and_print_as_postgresql_writes_them() {
        let lsn = Lsn::parse("16/B374D848").expect("a position");
        assert_eq!(lsn, Lsn((0x16 << 32) | 0xB374_D848));
        assert_eq!(lsn.to_string(), "16/B374D848");
        assert_eq!(Lsn::parse("0/0"), Some(Lsn(0)));
        assert!(Lsn::parse("0/1") > Lsn::parse("0/0"));
        assert!(Lsn::parse("1/0") > Lsn::parse("0/FFFFFFFF"));
    }

    #[test]
    fn malformed_positions_are_refused() {
        for bad in ["", "16", "/1", "1/", "x/1", "1/2/3", "123456789/0", "-1/0", "1/ 2"] {
            assert_eq!(Lsn::parse(bad), None, "{bad:?}");
        }
    }
}

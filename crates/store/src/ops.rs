//! What operators watch about the database (readiness probes and metrics): that it answers, that
//! its schema is the one this build migrates to, and how full the connection pools are. Nothing
//! here reads or reveals a resource.

use sqlx::{Database, Pool};

/// One connection pool's size, sampled when metrics are scraped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStats {
    /// Which pool: `readers` and `writer` on SQLite, `main` on PostgreSQL, `replica-N` for read
    /// replicas.
    pub pool: String,
    /// Connections open now (busy or idle).
    pub size: u32,
    /// Open connections waiting for work.
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
}

impl PoolStats {
    pub(crate) fn of<DB: Database>(pool: &'static str, of: &Pool<DB>) -> PoolStats {
        PoolStats {
            pool: pool.to_string(),
            size: of.size(),
            idle: u32::try_from(of.num_idle()).unwrap_or(u32::MAX),
            max: of.options().get_max_connections(),
        }
    }
}

/// One read replica as last polled (readiness shows it; it never makes a node unready, as the
/// primary takes its reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaState {
    /// `replica-1`, ... in the order of the read URLs.
    pub name: String,
    /// Whether it serves reads now (a standby, answering, within the lag bound).
    pub serving: bool,
}

/// The database's schema against this build's migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schema {
    /// The newest migration the database records as applied (`None`: none is).
    pub applied: Option<i64>,
    /// The newest migration this build carries.
    pub known: i64,
}

impl Schema {
    /// Whether every migration this build knows is applied. A newer one, applied by a newer node
    /// during a rolling upgrade, still counts as current: the store refuses to open on a
    /// database whose migrations it does not know, but one already open keeps serving.
    pub fn is_current(&self) -> bool {
        self.applied.is_some_and(|applied| applied >= self.known)
    }
}

/// The newest migration `migrator` carries.
pub(crate) fn newest(migrator: &sqlx::migrate::Migrator) -> i64 {
    migrator.iter().map(|m| m.version).max().unwrap_or(0)
}

/// The cheapest statement a database answers.
pub(crate) const PING: &str = "SELECT 1";

/// The newest migration applied, from sqlx's own bookkeeping table (both backends).
pub(crate) const APPLIED_MIGRATION: &str = "SELECT MAX(version) FROM _sqlx_migrations WHERE success";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_is_current_when_every_known_migration_is_applied() {
        assert!(Schema { applied: Some(12), known: 12 }.is_current());
        assert!(Schema { applied: Some(13), known: 12 }.is_current(), "a newer node migrated further");
        assert!(!Schema { applied: Some(11), known: 12 }.is_current());
        assert!(!Schema { applied: None, known: 12 }.is_current());
    }
}

//! A raw connection to a test database of either backend, beneath the store: for running the
//! repository's old migrations and looking at the tables as they are stored.

use std::borrow::Cow;
use std::path::Path;

use sqlx::Connection;

/// `$body` with `$c` bound to the connection, whichever backend it is: the two arms are one
/// text, compiled for each driver's types.
macro_rules! on_connection {
    ($raw:expr, $c:ident => $body:expr) => {
        match $raw {
            Raw::Sqlite($c) => $body,
            Raw::Postgres($c) => $body,
        }
    };
}

/// A connection of either backend, for what only a test may do: run old migrations and look at
/// the tables underneath the store.
pub enum Raw {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Raw {
    pub async fn connect(url: &str) -> Raw {
        if url.starts_with("sqlite:") {
            Raw::Sqlite(sqlx::SqliteConnection::connect(&format!("{url}?mode=rwc")).await.expect("connect"))
        } else {
            Raw::Postgres(sqlx::PgConnection::connect(url).await.expect("connect"))
        }
    }

    /// Runs the repository's migrations up to `version`, as an older build would have.
    pub async fn migrate_to(&mut self, version: i64) {
        let dir = if matches!(self, Raw::Sqlite(_)) { "sqlite" } else { "postgres" };
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dir);
        let mut migrator = sqlx::migrate::Migrator::new(path).await.expect("migrations");
        migrator.migrations =
            Cow::Owned(migrator.migrations.iter().filter(|m| m.version <= version).cloned().collect());
        on_connection!(self, c => migrator.run(c).await.expect("old migrations"));
    }

    /// Runs `sql`, which may fail.
    pub async fn try_execute(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        let text = || sqlx::AssertSqlSafe(sql.to_string());
        on_connection!(self, c => sqlx::query(text()).execute(c).await.map(|_| ()))
    }

    pub async fn execute(&mut self, sql: &str) {
        self.try_execute(sql).await.expect(sql);
    }

    /// The stored bytes of a version's body.
    pub async fn body(&mut self, id: &str, version: i64) -> Option<Vec<u8>> {
        let sql = format!("SELECT body FROM resource_version WHERE res_id = '{id}' AND version = {version}");
        on_connection!(self, c => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(c).await).expect("body")
    }

    /// The rows of a query whose columns are all texts (cast them), NULL as "NULL".
    pub async fn rows(&mut self, sql: &str) -> Vec<Vec<String>> {
        use sqlx::Row;
        let text = || sqlx::AssertSqlSafe(sql.to_string());
        let cells =
            |values: Vec<Option<String>>| values.into_iter().map(|v| v.unwrap_or_else(|| "NULL".into())).collect();
        on_connection!(self, c => sqlx::query(text())
            .fetch_all(c)
            .await
            .expect(sql)
            .iter()
            .map(|r| cells((0..r.len()).map(|i| r.get::<Option<String>, _>(i)).collect()))
            .collect())
    }
}

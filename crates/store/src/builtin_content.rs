//! Which version of each built-in set (terminology, national profiles, operation definitions) the
//! database holds (table `builtin_content`), so that start-up stores a set only when it changed.

use crate::sql::{Bind, Cell, Column, Sql};
use crate::{Store, StoreResult};

/// The content hash stored for the set `name` by the last load, if any.
pub async fn stored_hash(store: &dyn Store, name: &str) -> StoreResult<Option<String>> {
    let mut sql = Sql::new("SELECT content_hash FROM builtin_content WHERE name = ");
    sql.bind(Bind::Text(name.to_string()));
    let rows = store.query(sql, &[Column::Text]).await?;
    Ok(rows.first().and_then(|r| r.first()).and_then(Cell::as_text).map(str::to_string))
}

/// Records that the set `name` with content hash `hash` is stored.
pub async fn record_hash(store: &dyn Store, name: &str, hash: &str) -> StoreResult<()> {
    let mut sql = Sql::new("INSERT INTO builtin_content (name, content_hash) VALUES (");
    sql.bind(Bind::Text(name.to_string()))
        .push(", ")
        .bind(Bind::Text(hash.to_string()))
        .push(") ON CONFLICT (name) DO UPDATE SET content_hash = excluded.content_hash");
    store.execute(sql).await?;
    Ok(())
}

//! The SMART authorization server's tables (migrations 0008 and 0010), one small repository per
//! table group. Each function runs one statement and decodes its rows into a named row struct;
//! what the values mean (token hashes, scopes, client types, when something expires) is decided
//! by the authorization server above, which passes and receives plain strings and integers.
//! Times are epoch seconds, as in the tables.

pub mod assertions;
pub mod clients;
pub mod grants;
pub mod keys;
pub mod launches;
pub mod requests;

use crate::sql::{Bind, Sql};
use crate::{Store, StoreResult};

/// Deletes the rows of a table with an `expires_at` column that expired before `cutoff`, so the
/// table stays small.
async fn delete_expired_from(store: &dyn Store, table: &str, cutoff: i64) -> StoreResult<()> {
    let mut sql = Sql::new(&format!("DELETE FROM {table} WHERE expires_at < "));
    sql.bind(Bind::Int(cutoff));
    store.execute(sql).await?;
    Ok(())
}

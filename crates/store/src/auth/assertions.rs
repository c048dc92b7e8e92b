//! `auth_assertion_jti`: the `jti`s of client assertions seen, kept until the assertions expire,
//! so a replay is refused on every node.

use super::delete_expired_from;
use crate::sql::{Bind, Sql};
use crate::{Store, StoreResult};

/// Deletes the `jti`s kept until before `cutoff`.
pub async fn delete_expired(store: &dyn Store, cutoff: i64) -> StoreResult<()> {
    delete_expired_from(store, "auth_assertion_jti", cutoff).await
}

/// Remembers an issuer's `jti` until `keep_until`; false when it is remembered already.
pub async fn remember_jti(store: &dyn Store, issuer: &str, jti: &str, keep_until: i64) -> StoreResult<bool> {
    let mut sql = Sql::new("INSERT INTO auth_assertion_jti (issuer, jti, expires_at) VALUES (");
    sql.bind(Bind::Text(issuer.to_string()))
        .push(", ")
        .bind(Bind::Text(jti.to_string()))
        .push(", ")
        .bind(Bind::Int(keep_until))
        .push(") ON CONFLICT (issuer, jti) DO NOTHING");
    Ok(store.execute(sql).await? == 1)
}

//! `auth_signing_key`: the server's own signing keys. The newest unretired key signs; retired keys
//! stay published for a while, then are deleted.

use crate::sql::Cells;
use crate::sql::{Bind, Cell, Column, Sql};
use crate::{Store, StoreResult};

/// When the newest unretired key was created; `None` when every key is retired (or none exists).
pub async fn newest_active_created_at(store: &dyn Store) -> StoreResult<Option<i64>> {
    let sql = Sql::new("SELECT created_at FROM auth_signing_key WHERE retired_at IS NULL ORDER BY created_at DESC");
    let rows = store.query(sql, &[Column::Int]).await?;
    Ok(rows.first().and_then(|row| row.first()).and_then(Cell::as_int))
}

/// Retires every unretired key at `at`.
pub async fn retire_active(store: &dyn Store, at: i64) -> StoreResult<()> {
    let mut sql = Sql::new("UPDATE auth_signing_key SET retired_at = ");
    sql.bind(Bind::Int(at)).push(" WHERE retired_at IS NULL");
    store.execute(sql).await?;
    Ok(())
}

/// A key to store, unretired.
pub struct NewSigningKey<'a> {
    pub kid: &'a str,
    /// The private key, PKCS#8 PEM.
    pub private_pem: &'a str,
    /// The public key as a JWK (JSON), as published.
    pub public_jwk: &'a str,
    pub created_at: i64,
}

pub async fn insert(store: &dyn Store, key: &NewSigningKey<'_>) -> StoreResult<()> {
    let mut sql =
        Sql::new("INSERT INTO auth_signing_key (kid, private_pem, public_jwk, created_at, retired_at) VALUES (");
    sql.bind(Bind::Text(key.kid.to_string()))
        .push(", ")
        .bind(Bind::Text(key.private_pem.to_string()))
        .push(", ")
        .bind(Bind::Text(key.public_jwk.to_string()))
        .push(", ")
        .bind(Bind::Int(key.created_at))
        .push(", NULL)");
    store.execute(sql).await?;
    Ok(())
}

/// Deletes the keys retired before `cutoff`.
pub async fn delete_retired_before(store: &dyn Store, cutoff: i64) -> StoreResult<()> {
    let mut sql = Sql::new("DELETE FROM auth_signing_key WHERE retired_at IS NOT NULL AND retired_at < ");
    sql.bind(Bind::Int(cutoff));
    store.execute(sql).await?;
    Ok(())
}

/// The key that signs.
#[derive(Debug, Clone)]
pub struct SigningKeyRow {
    pub kid: String,
    /// PKCS#8 PEM.
    pub private_pem: String,
}

/// The newest unretired key.
pub async fn current(store: &dyn Store) -> StoreResult<Option<SigningKeyRow>> {
    let sql = Sql::new(
        "SELECT kid, private_pem FROM auth_signing_key WHERE retired_at IS NULL ORDER BY created_at DESC, kid",
    );
    let rows = store.query(sql, &[Column::Text; 2]).await?;
    rows.first().map(|row| signing_key_from(row)).transpose()
}

fn signing_key_from(row: &[Cell]) -> StoreResult<SigningKeyRow> {
    let mut cells = Cells::new("auth_signing_key", row);
    Ok(SigningKeyRow { kid: cells.text()?, private_pem: cells.text()? })
}

/// The public JWKs (JSON) of the unretired keys and of the keys retired at or after
/// `retired_since`, newest first.
pub async fn published_jwks(store: &dyn Store, retired_since: i64) -> StoreResult<Vec<String>> {
    let mut sql = Sql::new("SELECT public_jwk FROM auth_signing_key WHERE retired_at IS NULL OR retired_at >= ");
    sql.bind(Bind::Int(retired_since)).push(" ORDER BY created_at DESC");
    let rows = store.query(sql, &[Column::Text]).await?;
    rows.iter().map(|row| Cells::new("auth_signing_key", row).text()).collect()
}

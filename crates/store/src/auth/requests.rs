//! `auth_request`: authorization requests kept server-side between /authorize and the code, while
//! the user logs in and consents. The request and the account are JSON the caller encodes.

use super::delete_expired_from;
use crate::sql::Cells;
use crate::sql::{Bind, Cell, Column, Sql};
use crate::{Store, StoreResult};

pub async fn insert(store: &dyn Store, id: &str, params: &str, expires_at: i64) -> StoreResult<()> {
    let mut sql = Sql::new("INSERT INTO auth_request (id, params, expires_at) VALUES (");
    sql.bind(Bind::Text(id.to_string()))
        .push(", ")
        .bind(Bind::Text(params.to_string()))
        .push(", ")
        .bind(Bind::Int(expires_at))
        .push(")");
    store.execute(sql).await?;
    Ok(())
}

/// Deletes requests that expired before `cutoff`.
pub async fn delete_expired(store: &dyn Store, cutoff: i64) -> StoreResult<()> {
    delete_expired_from(store, "auth_request", cutoff).await
}

/// A pending request, as JSON.
#[derive(Debug, Clone)]
pub struct RequestRow {
    pub params: String,
    /// The account that logged in for it, once one has.
    pub account: Option<String>,
}

/// The request with this id, if it is unexpired at `now`.
pub async fn find_unexpired(store: &dyn Store, id: &str, now: i64) -> StoreResult<Option<RequestRow>> {
    let mut sql = Sql::new("SELECT params, account FROM auth_request WHERE id = ");
    sql.bind(Bind::Text(id.to_string())).push(" AND expires_at >= ").bind(Bind::Int(now));
    let rows = store.query(sql, &[Column::Text, Column::Text]).await?;
    rows.first().map(|row| request_from(row)).transpose()
}

fn request_from(row: &[Cell]) -> StoreResult<RequestRow> {
    let mut cells = Cells::new("auth_request", row);
    Ok(RequestRow { params: cells.text()?, account: cells.optional_text() })
}

pub async fn attach_account(store: &dyn Store, id: &str, account: &str) -> StoreResult<()> {
    let mut sql = Sql::new("UPDATE auth_request SET account = ");
    sql.bind(Bind::Text(account.to_string())).push(" WHERE id = ").bind(Bind::Text(id.to_string()));
    store.execute(sql).await?;
    Ok(())
}

/// Deletes a request; true when this call deleted it (only one of concurrent calls can).
pub async fn delete(store: &dyn Store, id: &str) -> StoreResult<bool> {
    let mut sql = Sql::new("DELETE FROM auth_request WHERE id = ");
    sql.bind(Bind::Text(id.to_string()));
    Ok(store.execute(sql).await? == 1)
}

//! `auth_launch`: EHR launches, found by the hash of their id until the first code issued for
//! them uses them up.

use super::delete_expired_from;
use crate::sql::Cells;
use crate::sql::{Bind, Cell, Column, Sql};
use crate::{Store, StoreResult};

/// A launch to store, under the hash of its id.
pub struct NewLaunch<'a> {
    pub id_hash: &'a str,
    pub client_id: &'a str,
    pub patient: &'a str,
    pub encounter: Option<&'a str>,
    /// The subject of the user who launched.
    pub subject: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

pub async fn insert(store: &dyn Store, launch: &NewLaunch<'_>) -> StoreResult<()> {
    let mut sql = Sql::new(
        "INSERT INTO auth_launch (id_hash, client_id, patient, encounter, subject, created_at, expires_at) VALUES (",
    );
    sql.bind(Bind::Text(launch.id_hash.to_string()))
        .push(", ")
        .bind(Bind::Text(launch.client_id.to_string()))
        .push(", ")
        .bind(Bind::Text(launch.patient.to_string()))
        .push(", ")
        .bind(Bind::OptText(launch.encounter.map(str::to_string)))
        .push(", ")
        .bind(Bind::Text(launch.subject.to_string()))
        .push(", ")
        .bind(Bind::Int(launch.created_at))
        .push(", ")
        .bind(Bind::Int(launch.expires_at))
        .push(")");
    store.execute(sql).await?;
    Ok(())
}

/// Deletes launches that expired before `cutoff`.
pub async fn delete_expired(store: &dyn Store, cutoff: i64) -> StoreResult<()> {
    delete_expired_from(store, "auth_launch", cutoff).await
}

/// What an unused launch was made for.
#[derive(Debug, Clone)]
pub struct LaunchRow {
    pub client_id: String,
    pub patient: String,
    pub encounter: Option<String>,
    pub subject: Option<String>,
}

/// The launch with this id hash, if it is unused and unexpired at `now`.
pub async fn find_unused(store: &dyn Store, id_hash: &str, now: i64) -> StoreResult<Option<LaunchRow>> {
    let mut sql = Sql::new("SELECT client_id, patient, encounter, subject FROM auth_launch WHERE id_hash = ");
    sql.bind(Bind::Text(id_hash.to_string())).push(" AND used_at IS NULL AND expires_at >= ").bind(Bind::Int(now));
    let rows = store.query(sql, &[Column::Text; 4]).await?;
    rows.first().map(|row| launch_from(row)).transpose()
}

fn launch_from(row: &[Cell]) -> StoreResult<LaunchRow> {
    let mut cells = Cells::new("auth_launch", row);
    Ok(LaunchRow {
        client_id: cells.text()?,
        patient: cells.text()?,
        encounter: cells.optional_text(),
        subject: cells.optional_text(),
    })
}

/// Marks a launch used at `now` if it is unused and unexpired; true when this call used it (only
/// one of concurrent calls can).
pub async fn use_up(store: &dyn Store, id_hash: &str, now: i64) -> StoreResult<bool> {
    let mut sql = Sql::new("UPDATE auth_launch SET used_at = ");
    sql.bind(Bind::Int(now))
        .push(" WHERE used_at IS NULL AND id_hash = ")
        .bind(Bind::Text(id_hash.to_string()))
        .push(" AND expires_at >= ")
        .bind(Bind::Int(now));
    Ok(store.execute(sql).await? == 1)
}

//! `auth_client`: registered client applications, with their settings as the authorization server
//! encodes them (redirect URIs and JWKS as JSON text, the secret as its hash).

use crate::sql::Cells;
use crate::sql::{Bind, Cell, Column, Sql};
use crate::{Store, StoreResult};

/// A row of `auth_client` (all but its creation time).
#[derive(Debug, Clone)]
pub struct ClientRow {
    pub client_id: String,
    /// `public`, `symmetric` or `asymmetric`.
    pub client_type: String,
    pub secret_hash: Option<String>,
    /// A JSON array of strings.
    pub redirect_uris: String,
    pub launch_uri: Option<String>,
    /// An inline JWKS, as JSON.
    pub jwks: Option<String>,
    pub jwks_url: Option<String>,
    /// The scopes the client may be granted at most, space-separated.
    pub scopes: String,
}

/// Fails with [`crate::StoreError::Conflict`] when the client id is taken.
pub async fn insert(store: &dyn Store, client: &ClientRow, created_at: i64) -> StoreResult<()> {
    let mut sql = Sql::new(
        "INSERT INTO auth_client (client_id, client_type, secret_hash, redirect_uris, launch_uri, jwks, jwks_url, scopes, created_at) VALUES (",
    );
    sql.bind(Bind::Text(client.client_id.clone()))
        .push(", ")
        .bind(Bind::Text(client.client_type.clone()))
        .push(", ")
        .bind(Bind::OptText(client.secret_hash.clone()))
        .push(", ")
        .bind(Bind::Text(client.redirect_uris.clone()))
        .push(", ")
        .bind(Bind::OptText(client.launch_uri.clone()))
        .push(", ")
        .bind(Bind::OptText(client.jwks.clone()))
        .push(", ")
        .bind(Bind::OptText(client.jwks_url.clone()))
        .push(", ")
        .bind(Bind::Text(client.scopes.clone()))
        .push(", ")
        .bind(Bind::Int(created_at))
        .push(")");
    store.execute(sql).await?;
    Ok(())
}

/// The columns of a [`ClientRow`], all text.
const SELECT_CLIENTS: &str =
    "SELECT client_id, client_type, secret_hash, redirect_uris, launch_uri, jwks, jwks_url, scopes FROM auth_client";

async fn select(store: &dyn Store, sql: Sql) -> StoreResult<Vec<ClientRow>> {
    let rows = store.query(sql, &[Column::Text; 8]).await?;
    rows.iter().map(|row| client_from(row)).collect()
}

fn client_from(row: &[Cell]) -> StoreResult<ClientRow> {
    let mut cells = Cells::new("auth_client", row);
    Ok(ClientRow {
        client_id: cells.text()?,
        client_type: cells.text()?,
        secret_hash: cells.optional_text(),
        redirect_uris: cells.text()?,
        launch_uri: cells.optional_text(),
        jwks: cells.optional_text(),
        jwks_url: cells.optional_text(),
        scopes: cells.text()?,
    })
}

pub async fn get(store: &dyn Store, client_id: &str) -> StoreResult<Option<ClientRow>> {
    let mut sql = Sql::new(SELECT_CLIENTS);
    sql.push(" WHERE client_id = ").bind(Bind::Text(client_id.to_string()));
    Ok(select(store, sql).await?.into_iter().next())
}

/// Every client, by id.
pub async fn list(store: &dyn Store) -> StoreResult<Vec<ClientRow>> {
    let mut sql = Sql::new(SELECT_CLIENTS);
    sql.push(" ORDER BY client_id");
    select(store, sql).await
}

/// Deletes a client; false when there was none with this id.
pub async fn delete(store: &dyn Store, client_id: &str) -> StoreResult<bool> {
    let mut sql = Sql::new("DELETE FROM auth_client WHERE client_id = ");
    sql.bind(Bind::Text(client_id.to_string()));
    Ok(store.execute(sql).await? > 0)
}

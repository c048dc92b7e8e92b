//! `auth_grant`, `auth_code` and `auth_token`: what one user allowed one client, and the codes and
//! tokens issued under it. Codes and tokens are found by the hash the caller computes; a code or a
//! token is always read together with its grant, in one statement.

use super::delete_expired_from;
use crate::sql::Cells;
use crate::sql::{Bind, Cell, Column, Sql};
use crate::{Store, StoreResult};

/// A row of `auth_grant`, as written and as read back with a code or a token.
#[derive(Debug, Clone)]
pub struct GrantRow {
    pub id: String,
    pub client_id: String,
    /// The user's opaque id; `None` for backend grants.
    pub subject: Option<String>,
    pub fhir_user: Option<String>,
    pub patient: Option<String>,
    pub encounter: Option<String>,
    /// The granted scopes, space-separated.
    pub scopes: String,
}

/// Columns selected for a [`GrantRow`], from `auth_grant g`, and their kinds.
const GRANT_COLUMNS: &str = "g.id, g.client_id, g.subject, g.fhir_user, g.patient, g.scopes, g.encounter";
const GRANT_KINDS: [Column; 7] = [Column::Text; 7];

impl GrantRow {
    /// Takes the cells selected with [`GRANT_COLUMNS`].
    fn take(cells: &mut Cells) -> StoreResult<GrantRow> {
        Ok(GrantRow {
            id: cells.text()?,
            client_id: cells.text()?,
            subject: cells.optional_text(),
            fhir_user: cells.optional_text(),
            patient: cells.optional_text(),
            scopes: cells.text()?,
            encounter: cells.optional_text(),
        })
    }
}

pub async fn insert_grant(store: &dyn Store, grant: &GrantRow, created_at: i64) -> StoreResult<()> {
    let mut sql = Sql::new(
        "INSERT INTO auth_grant (id, client_id, subject, fhir_user, patient, encounter, scopes, created_at) VALUES (",
    );
    sql.bind(Bind::Text(grant.id.clone()))
        .push(", ")
        .bind(Bind::Text(grant.client_id.clone()))
        .push(", ")
        .bind(Bind::OptText(grant.subject.clone()))
        .push(", ")
        .bind(Bind::OptText(grant.fhir_user.clone()))
        .push(", ")
        .bind(Bind::OptText(grant.patient.clone()))
        .push(", ")
        .bind(Bind::OptText(grant.encounter.clone()))
        .push(", ")
        .bind(Bind::Text(grant.scopes.clone()))
        .push(", ")
        .bind(Bind::Int(created_at))
        .push(")");
    store.execute(sql).await?;
    Ok(())
}

/// Marks a grant revoked (if it is not already); its codes and tokens stop working with it.
pub async fn revoke_grant(store: &dyn Store, grant_id: &str, at: i64) -> StoreResult<()> {
    let mut sql = Sql::new("UPDATE auth_grant SET revoked_at = ");
    sql.bind(Bind::Int(at)).push(" WHERE revoked_at IS NULL AND id = ").bind(Bind::Text(grant_id.to_string()));
    store.execute(sql).await?;
    Ok(())
}

/// Marks every unrevoked grant of a client revoked.
pub async fn revoke_client_grants(store: &dyn Store, client_id: &str, at: i64) -> StoreResult<()> {
    let mut sql = Sql::new("UPDATE auth_grant SET revoked_at = ");
    sql.bind(Bind::Int(at)).push(" WHERE revoked_at IS NULL AND client_id = ").bind(Bind::Text(client_id.to_string()));
    store.execute(sql).await?;
    Ok(())
}

/// An authorization code to store, under its hash.
pub struct NewCode<'a> {
    pub code_hash: &'a str,
    pub grant_id: &'a str,
    pub redirect_uri: &'a str,
    pub code_challenge: &'a str,
    pub nonce: Option<&'a str>,
    pub expires_at: i64,
}

pub async fn insert_code(store: &dyn Store, code: &NewCode<'_>) -> StoreResult<()> {
    let mut sql = Sql::new(
        "INSERT INTO auth_code (code_hash, grant_id, redirect_uri, code_challenge, nonce, expires_at) VALUES (",
    );
    sql.bind(Bind::Text(code.code_hash.to_string()))
        .push(", ")
        .bind(Bind::Text(code.grant_id.to_string()))
        .push(", ")
        .bind(Bind::Text(code.redirect_uri.to_string()))
        .push(", ")
        .bind(Bind::Text(code.code_challenge.to_string()))
        .push(", ")
        .bind(Bind::OptText(code.nonce.map(str::to_string)))
        .push(", ")
        .bind(Bind::Int(code.expires_at))
        .push(")");
    store.execute(sql).await?;
    Ok(())
}

/// Deletes codes that expired before `cutoff`.
pub async fn delete_expired_codes(store: &dyn Store, cutoff: i64) -> StoreResult<()> {
    delete_expired_from(store, "auth_code", cutoff).await
}

/// Marks a code used at `now` if it is unused and unexpired; true when this call used it (only
/// one of concurrent calls can).
pub async fn claim_code(store: &dyn Store, code_hash: &str, now: i64) -> StoreResult<bool> {
    let mut sql = Sql::new("UPDATE auth_code SET used_at = ");
    sql.bind(Bind::Int(now))
        .push(" WHERE used_at IS NULL AND code_hash = ")
        .bind(Bind::Text(code_hash.to_string()))
        .push(" AND expires_at >= ")
        .bind(Bind::Int(now));
    Ok(store.execute(sql).await? == 1)
}

/// A row of `auth_code` with its grant, whatever their state.
#[derive(Debug, Clone)]
pub struct CodeRow {
    pub grant: GrantRow,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub used_at: Option<i64>,
    pub grant_revoked_at: Option<i64>,
}

/// The code with this hash and its grant.
pub async fn code_with_grant(store: &dyn Store, code_hash: &str) -> StoreResult<Option<CodeRow>> {
    let mut sql = Sql::new(&format!(
        "SELECT {GRANT_COLUMNS}, c.redirect_uri, c.code_challenge, c.nonce, c.used_at, g.revoked_at \
         FROM auth_code c JOIN auth_grant g ON g.id = c.grant_id WHERE c.code_hash = "
    ));
    sql.bind(Bind::Text(code_hash.to_string()));
    let mut columns = GRANT_KINDS.to_vec();
    columns.extend([Column::Text, Column::Text, Column::Text, Column::Int, Column::Int]);
    let rows = store.query(sql, &columns).await?;
    rows.first().map(|row| code_from(row)).transpose()
}

fn code_from(row: &[Cell]) -> StoreResult<CodeRow> {
    let mut cells = Cells::new("auth_code", row);
    Ok(CodeRow {
        grant: GrantRow::take(&mut cells)?,
        redirect_uri: cells.text()?,
        code_challenge: cells.text()?,
        nonce: cells.optional_text(),
        used_at: cells.optional_int(),
        grant_revoked_at: cells.optional_int(),
    })
}

/// A token to store, under its hash.
pub struct NewToken<'a> {
    pub token_hash: &'a str,
    pub grant_id: &'a str,
    /// `access` or `refresh`.
    pub kind: &'a str,
    /// The scopes of this token (at most its grant's), space-separated.
    pub scopes: &'a str,
    pub expires_at: i64,
}

pub async fn insert_token(store: &dyn Store, token: &NewToken<'_>) -> StoreResult<()> {
    let mut sql = Sql::new("INSERT INTO auth_token (token_hash, grant_id, kind, scopes, expires_at) VALUES (");
    sql.bind(Bind::Text(token.token_hash.to_string()))
        .push(", ")
        .bind(Bind::Text(token.grant_id.to_string()))
        .push(", ")
        .bind(Bind::Text(token.kind.to_string()))
        .push(", ")
        .bind(Bind::Text(token.scopes.to_string()))
        .push(", ")
        .bind(Bind::Int(token.expires_at))
        .push(")");
    store.execute(sql).await?;
    Ok(())
}

/// Deletes tokens that expired before `cutoff`.
pub async fn delete_expired_tokens(store: &dyn Store, cutoff: i64) -> StoreResult<()> {
    delete_expired_from(store, "auth_token", cutoff).await
}

/// A row of `auth_token` with its grant, whatever their state.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub grant: GrantRow,
    /// `access` or `refresh`.
    pub kind: String,
    /// The scopes of this token, space-separated.
    pub scopes: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub grant_revoked_at: Option<i64>,
}

/// The token with this hash and its grant.
pub async fn token_with_grant(store: &dyn Store, token_hash: &str) -> StoreResult<Option<TokenRow>> {
    let mut sql = Sql::new(&format!(
        "SELECT {GRANT_COLUMNS}, t.kind, t.scopes, t.expires_at, t.used_at, t.revoked_at, g.revoked_at \
         FROM auth_token t JOIN auth_grant g ON g.id = t.grant_id WHERE t.token_hash = "
    ));
    sql.bind(Bind::Text(token_hash.to_string()));
    let mut columns = GRANT_KINDS.to_vec();
    columns.extend([Column::Text, Column::Text, Column::Int, Column::Int, Column::Int, Column::Int]);
    let rows = store.query(sql, &columns).await?;
    rows.first().map(|row| token_from(row)).transpose()
}

fn token_from(row: &[Cell]) -> StoreResult<TokenRow> {
    let mut cells = Cells::new("auth_token", row);
    Ok(TokenRow {
        grant: GrantRow::take(&mut cells)?,
        kind: cells.text()?,
        scopes: cells.text()?,
        expires_at: cells.int()?,
        used_at: cells.optional_int(),
        revoked_at: cells.optional_int(),
        grant_revoked_at: cells.optional_int(),
    })
}

/// Marks a token used at `now` if it is unused; true when this call used it (only one of
/// concurrent calls can).
pub async fn claim_token(store: &dyn Store, token_hash: &str, now: i64) -> StoreResult<bool> {
    let mut sql = Sql::new("UPDATE auth_token SET used_at = ");
    sql.bind(Bind::Int(now)).push(" WHERE used_at IS NULL AND token_hash = ").bind(Bind::Text(token_hash.to_string()));
    Ok(store.execute(sql).await? == 1)
}

/// Marks one token revoked.
pub async fn revoke_token(store: &dyn Store, token_hash: &str, at: i64) -> StoreResult<()> {
    let mut sql = Sql::new("UPDATE auth_token SET revoked_at = ");
    sql.bind(Bind::Int(at)).push(" WHERE token_hash = ").bind(Bind::Text(token_hash.to_string()));
    store.execute(sql).await?;
    Ok(())
}

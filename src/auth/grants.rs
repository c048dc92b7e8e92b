//! Grants, authorization codes and tokens. A grant is what one user allowed one client; codes and
//! tokens hang off it, so revoking the grant (code reuse, refresh-token reuse, `revoke` of a
//! refresh token, client removal) kills every token at once. Tokens are opaque and checked against
//! the database on every request, so revocation takes effect immediately.

use super::scopes::Scopes;
use super::{AuthError, CODE_SECONDS, now_seconds, random_token, token_hash};
use crate::store::Store;
use crate::store::sql::{Bind, Cell, Column, Sql};

#[derive(Debug, Clone)]
pub struct Grant {
    pub id: String,
    pub client_id: String,
    /// The user's opaque id; `None` for backend (client_credentials) grants.
    pub subject: Option<String>,
    /// The user as a FHIR reference (`Patient/123`).
    pub fhir_user: Option<String>,
    /// The patient in context (an id).
    pub patient: Option<String>,
    /// The encounter in context (an id; EHR launch only).
    pub encounter: Option<String>,
    pub scopes: Scopes,
}

/// A consumed authorization code and what it was bound to.
pub struct RedeemedCode {
    pub grant: Grant,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
}

/// A live access token and its grant.
pub struct ActiveToken {
    pub grant: Grant,
    pub scopes: Scopes,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    fn name(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }
}

/// Who a grant is for and in which context: everything but the client and the scopes.
#[derive(Debug, Clone, Default)]
pub struct GrantContext {
    /// The user's opaque id; `None` for backend grants.
    pub subject: Option<String>,
    pub fhir_user: Option<String>,
    pub patient: Option<String>,
    pub encounter: Option<String>,
}

pub async fn create_grant(
    store: &dyn Store,
    client_id: &str,
    context: GrantContext,
    scopes: &Scopes,
) -> Result<Grant, AuthError> {
    let GrantContext { subject, fhir_user, patient, encounter } = context;
    let id = uuid::Uuid::new_v4().to_string();
    let mut sql = Sql::new(
        "INSERT INTO auth_grant (id, client_id, subject, fhir_user, patient, encounter, scopes, created_at) VALUES (",
    );
    sql.bind(Bind::Text(id.clone()))
        .push(", ")
        .bind(Bind::Text(client_id.to_string()))
        .push(", ")
        .bind(Bind::OptText(subject.clone()))
        .push(", ")
        .bind(Bind::OptText(fhir_user.clone()))
        .push(", ")
        .bind(Bind::OptText(patient.clone()))
        .push(", ")
        .bind(Bind::OptText(encounter.clone()))
        .push(", ")
        .bind(Bind::Text(scopes.to_string()))
        .push(", ")
        .bind(Bind::Int(now_seconds()))
        .push(")");
    store.execute(sql).await?;
    Ok(Grant { id, client_id: client_id.to_string(), subject, fhir_user, patient, encounter, scopes: scopes.clone() })
}

/// Revokes a grant and every token of it. Tokens are cached per policy generation on every node,
/// so the generation moves on: the next request with any of them is refused everywhere.
pub async fn revoke_grant(store: &dyn Store, grant_id: &str) -> Result<(), AuthError> {
    let mut sql = Sql::new("UPDATE auth_grant SET revoked_at = ");
    sql.bind(Bind::Int(now_seconds())).push(" WHERE revoked_at IS NULL AND id = ").bind(Bind::Text(grant_id.into()));
    store.execute(sql).await?;
    store.advance_policy_generation().await?;
    Ok(())
}

/// How long expired codes and tokens are kept (for the "already used" diagnosis), in seconds.
const KEEP_EXPIRED_SECONDS: i64 = 24 * 3600;

/// Deletes codes and tokens that expired long ago, so the tables stay small.
async fn prune(store: &dyn Store, table: &str) -> Result<(), AuthError> {
    let mut sql = Sql::new(&format!("DELETE FROM {table} WHERE expires_at < "));
    sql.bind(Bind::Int(now_seconds() - KEEP_EXPIRED_SECONDS));
    store.execute(sql).await?;
    Ok(())
}

/// A fresh single-use code for a grant.
pub async fn create_code(
    store: &dyn Store,
    grant: &Grant,
    redirect_uri: &str,
    code_challenge: &str,
    nonce: Option<&str>,
) -> Result<String, AuthError> {
    prune(store, "auth_code").await?;
    let code = random_token()?;
    let mut sql = Sql::new(
        "INSERT INTO auth_code (code_hash, grant_id, redirect_uri, code_challenge, nonce, expires_at) VALUES (",
    );
    sql.bind(Bind::Text(token_hash(&code)))
        .push(", ")
        .bind(Bind::Text(grant.id.clone()))
        .push(", ")
        .bind(Bind::Text(redirect_uri.to_string()))
        .push(", ")
        .bind(Bind::Text(code_challenge.to_string()))
        .push(", ")
        .bind(Bind::OptText(nonce.map(str::to_string)))
        .push(", ")
        .bind(Bind::Int(now_seconds() + CODE_SECONDS))
        .push(")");
    store.execute(sql).await?;
    Ok(code)
}

const GRANT_COLUMNS: &str = "g.id, g.client_id, g.subject, g.fhir_user, g.patient, g.scopes, g.encounter";

fn grant_from(cells: &[Cell]) -> Option<Grant> {
    let text = |i: usize| cells.get(i).and_then(Cell::as_text).map(str::to_string);
    Some(Grant {
        id: text(0)?,
        client_id: text(1)?,
        subject: text(2),
        fhir_user: text(3),
        patient: text(4),
        scopes: Scopes::parse(&text(5)?),
        encounter: text(6),
    })
}

const GRANT_KINDS: [Column; 7] = [Column::Text; 7];

/// Redeems a code exactly once. A second presentation revokes the grant (and so every token the
/// first redemption produced), as RFC 6749 §4.1.2 advises.
pub async fn redeem_code(store: &dyn Store, code: &str) -> Result<RedeemedCode, AuthError> {
    let hash = token_hash(code);
    let now = now_seconds();
    let mut claim = Sql::new("UPDATE auth_code SET used_at = ");
    claim
        .bind(Bind::Int(now))
        .push(" WHERE used_at IS NULL AND code_hash = ")
        .bind(Bind::Text(hash.clone()))
        .push(" AND expires_at >= ")
        .bind(Bind::Int(now));
    let claimed = store.execute(claim).await? == 1;
    let mut sql = Sql::new(&format!(
        "SELECT {GRANT_COLUMNS}, c.redirect_uri, c.code_challenge, c.nonce, c.used_at, g.revoked_at \
         FROM auth_code c JOIN auth_grant g ON g.id = c.grant_id WHERE c.code_hash = "
    ));
    sql.bind(Bind::Text(hash));
    let mut columns = GRANT_KINDS.to_vec();
    columns.extend([Column::Text, Column::Text, Column::Text, Column::Int, Column::Int]);
    let rows = store.query(sql, &columns).await?;
    let Some(row) = rows.first() else {
        return Err(AuthError::InvalidGrant("unknown authorization code".into()));
    };
    let grant = grant_from(row).ok_or_else(|| AuthError::Internal("malformed grant".into()))?;
    if !claimed {
        if row.get(10).and_then(Cell::as_int).is_some() {
            tracing::warn!(client_id = %grant.client_id, "authorization code reused: revoking its grant");
            revoke_grant(store, &grant.id).await?;
            return Err(AuthError::InvalidGrant("the authorization code was already used".into()));
        }
        return Err(AuthError::InvalidGrant("the authorization code has expired".into()));
    }
    if row.get(11).and_then(Cell::as_int).is_some() {
        return Err(AuthError::InvalidGrant("the grant has been revoked".into()));
    }
    let text = |i: usize| row.get(i).and_then(Cell::as_text).map(str::to_string);
    Ok(RedeemedCode {
        redirect_uri: text(7).unwrap_or_default(),
        code_challenge: text(8).unwrap_or_default(),
        nonce: text(9),
        grant,
    })
}

/// Issues an opaque token of a kind under a grant; returns the token.
pub async fn issue(
    store: &dyn Store,
    grant: &Grant,
    kind: TokenKind,
    scopes: &Scopes,
    lifetime: i64,
) -> Result<String, AuthError> {
    // Every token response carries an access token: a good moment to sweep.
    if kind == TokenKind::Access {
        prune(store, "auth_token").await?;
    }
    let token = random_token()?;
    let mut sql = Sql::new("INSERT INTO auth_token (token_hash, grant_id, kind, scopes, expires_at) VALUES (");
    sql.bind(Bind::Text(token_hash(&token)))
        .push(", ")
        .bind(Bind::Text(grant.id.clone()))
        .push(", ")
        .bind(Bind::Text(kind.name().into()))
        .push(", ")
        .bind(Bind::Text(scopes.to_string()))
        .push(", ")
        .bind(Bind::Int(now_seconds() + lifetime))
        .push(")");
    store.execute(sql).await?;
    Ok(token)
}

/// A token row with its grant, whatever its state.
struct TokenRow {
    grant: Grant,
    kind: String,
    scopes: Scopes,
    expires_at: i64,
    used: bool,
    revoked: bool,
}

async fn lookup(store: &dyn Store, token: &str) -> Result<Option<TokenRow>, AuthError> {
    let mut sql = Sql::new(&format!(
        "SELECT {GRANT_COLUMNS}, t.kind, t.scopes, t.expires_at, t.used_at, t.revoked_at, g.revoked_at \
         FROM auth_token t JOIN auth_grant g ON g.id = t.grant_id WHERE t.token_hash = "
    ));
    sql.bind(Bind::Text(token_hash(token)));
    let mut columns = GRANT_KINDS.to_vec();
    columns.extend([Column::Text, Column::Text, Column::Int, Column::Int, Column::Int, Column::Int]);
    let rows = store.query(sql, &columns).await?;
    let Some(row) = rows.first() else { return Ok(None) };
    let Some(grant) = grant_from(row) else { return Ok(None) };
    let int = |i: usize| row.get(i).and_then(Cell::as_int);
    Ok(Some(TokenRow {
        grant,
        kind: row.get(7).and_then(Cell::as_text).unwrap_or_default().to_string(),
        scopes: Scopes::parse(row.get(8).and_then(Cell::as_text).unwrap_or_default()),
        expires_at: int(9).unwrap_or(0),
        used: int(10).is_some(),
        revoked: int(11).is_some() || int(12).is_some(),
    }))
}

/// The grant behind a live access token; `None` for unknown, expired or revoked tokens.
pub async fn active_access_token(store: &dyn Store, token: &str) -> Result<Option<ActiveToken>, AuthError> {
    Ok(lookup(store, token)
        .await?
        .filter(|t| t.kind == "access" && !t.revoked && t.expires_at > now_seconds())
        .map(|t| ActiveToken { grant: t.grant, scopes: t.scopes, expires_at: t.expires_at }))
}

/// The client a refresh token was issued to, if it is one; nothing is used up.
pub async fn refresh_token_client(store: &dyn Store, token: &str) -> Result<Option<String>, AuthError> {
    Ok(lookup(store, token).await?.filter(|t| t.kind == "refresh").map(|t| t.grant.client_id))
}

/// Uses a refresh token once (rotation). Presenting a used one again revokes the whole grant: one
/// of the two presenters is a thief, and the server cannot tell which.
pub async fn use_refresh_token(store: &dyn Store, token: &str, client_id: &str) -> Result<(Grant, Scopes), AuthError> {
    let invalid = || AuthError::InvalidGrant("the refresh token is not valid".into());
    let row = lookup(store, token).await?.filter(|t| t.kind == "refresh").ok_or_else(invalid)?;
    if row.grant.client_id != client_id {
        return Err(invalid());
    }
    if row.used {
        tracing::warn!(client_id, "refresh token reused: revoking its grant");
        revoke_grant(store, &row.grant.id).await?;
        return Err(invalid());
    }
    let now = now_seconds();
    if row.revoked || row.expires_at <= now {
        return Err(invalid());
    }
    let mut claim = Sql::new("UPDATE auth_token SET used_at = ");
    claim.bind(Bind::Int(now)).push(" WHERE used_at IS NULL AND token_hash = ").bind(Bind::Text(token_hash(token)));
    if store.execute(claim).await? != 1 {
        // Lost a race with another presentation of the same token: that is reuse too.
        revoke_grant(store, &row.grant.id).await?;
        return Err(invalid());
    }
    Ok((row.grant, row.scopes))
}

/// RFC 7009: revokes a token the client owns. Revoking a refresh token revokes its grant.
/// Unknown tokens and other clients' tokens are ignored (the caller answers 200 regardless).
pub async fn revoke_token(store: &dyn Store, token: &str, client_id: &str) -> Result<(), AuthError> {
    let Some(row) = lookup(store, token).await? else { return Ok(()) };
    if row.grant.client_id != client_id {
        return Ok(());
    }
    if row.kind == "refresh" {
        return revoke_grant(store, &row.grant.id).await;
    }
    let mut sql = Sql::new("UPDATE auth_token SET revoked_at = ");
    sql.bind(Bind::Int(now_seconds())).push(" WHERE token_hash = ").bind(Bind::Text(token_hash(token)));
    store.execute(sql).await?;
    // Cached tokens are checked against the policy generation: this one stops working now.
    store.advance_policy_generation().await?;
    Ok(())
}

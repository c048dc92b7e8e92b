//! Grants, authorization codes and tokens. A grant is what one user allowed one client; codes and
//! tokens hang off it, so revoking the grant (code reuse, refresh-token reuse, `revoke` of a
//! refresh token, client removal) kills every token at once. Tokens are opaque and checked against
//! the database on every request, so revocation takes effect immediately.

use super::{AuthError, CODE_SECONDS, now_seconds, random_token, token_hash};
use crate::access::scopes::Scopes;
use crate::store::Store;
use crate::store::auth::grants::{self as rows, CodeRow, GrantRow, NewCode, NewToken, TokenRow};

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

impl Grant {
    /// The row that stores this grant.
    fn to_row(&self) -> GrantRow {
        GrantRow {
            id: self.id.clone(),
            client_id: self.client_id.clone(),
            subject: self.subject.clone(),
            fhir_user: self.fhir_user.clone(),
            patient: self.patient.clone(),
            encounter: self.encounter.clone(),
            scopes: self.scopes.to_string(),
        }
    }
}

impl From<GrantRow> for Grant {
    fn from(row: GrantRow) -> Grant {
        Grant {
            id: row.id,
            client_id: row.client_id,
            subject: row.subject,
            fhir_user: row.fhir_user,
            patient: row.patient,
            encounter: row.encounter,
            scopes: Scopes::parse(&row.scopes),
        }
    }
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
    /// As stored in `auth_token.kind`.
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
    let grant =
        Grant { id, client_id: client_id.to_string(), subject, fhir_user, patient, encounter, scopes: scopes.clone() };
    rows::insert_grant(store, &grant.to_row(), now_seconds()).await?;
    Ok(grant)
}

/// Revokes a grant and every token of it. Tokens are cached per policy generation on every node,
/// so the generation moves on: the next request with any of them is refused everywhere.
pub async fn revoke_grant(store: &dyn Store, grant_id: &str) -> Result<(), AuthError> {
    rows::revoke_grant(store, grant_id, now_seconds()).await?;
    store.advance_policy_generation().await?;
    Ok(())
}

/// How long expired codes and tokens are kept (for the "already used" diagnosis), in seconds.
const KEEP_EXPIRED_SECONDS: i64 = 24 * 3600;

/// Codes and tokens that expired before this may be deleted.
fn expired_long_ago() -> i64 {
    now_seconds() - KEEP_EXPIRED_SECONDS
}

/// A fresh single-use code for a grant.
pub async fn create_code(
    store: &dyn Store,
    grant: &Grant,
    redirect_uri: &str,
    code_challenge: &str,
    nonce: Option<&str>,
) -> Result<String, AuthError> {
    rows::delete_expired_codes(store, expired_long_ago()).await?;
    let code = random_token()?;
    let new = NewCode {
        code_hash: &token_hash(&code),
        grant_id: &grant.id,
        redirect_uri,
        code_challenge,
        nonce,
        expires_at: now_seconds() + CODE_SECONDS,
    };
    rows::insert_code(store, &new).await?;
    Ok(code)
}

/// Redeems a code exactly once. A second presentation revokes the grant (and so every token the
/// first redemption produced), as RFC 6749 §4.1.2 advises.
pub async fn redeem_code(store: &dyn Store, code: &str) -> Result<RedeemedCode, AuthError> {
    let hash = token_hash(code);
    let claimed = rows::claim_code(store, &hash, now_seconds()).await?;
    let Some(row) = rows::code_with_grant(store, &hash).await? else {
        return Err(AuthError::InvalidGrant("unknown authorization code".into()));
    };
    let CodeRow { grant, redirect_uri, code_challenge, nonce, used_at, grant_revoked_at } = row;
    let grant = Grant::from(grant);
    if !claimed {
        if used_at.is_some() {
            tracing::warn!(client_id = %grant.client_id, "authorization code reused: revoking its grant");
            revoke_grant(store, &grant.id).await?;
            return Err(AuthError::InvalidGrant("the authorization code was already used".into()));
        }
        return Err(AuthError::InvalidGrant("the authorization code has expired".into()));
    }
    if grant_revoked_at.is_some() {
        return Err(AuthError::InvalidGrant("the grant has been revoked".into()));
    }
    Ok(RedeemedCode { grant, redirect_uri, code_challenge, nonce })
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
        rows::delete_expired_tokens(store, expired_long_ago()).await?;
    }
    let token = random_token()?;
    let new = NewToken {
        token_hash: &token_hash(&token),
        grant_id: &grant.id,
        kind: kind.name(),
        scopes: &scopes.to_string(),
        expires_at: now_seconds() + lifetime,
    };
    rows::insert_token(store, &new).await?;
    Ok(token)
}

/// A token with its grant, whatever its state.
struct FoundToken {
    grant: Grant,
    kind: String,
    scopes: Scopes,
    expires_at: i64,
    used: bool,
    /// The token or its whole grant.
    revoked: bool,
}

async fn lookup(store: &dyn Store, token: &str) -> Result<Option<FoundToken>, AuthError> {
    let Some(row) = rows::token_with_grant(store, &token_hash(token)).await? else { return Ok(None) };
    let TokenRow { grant, kind, scopes, expires_at, used_at, revoked_at, grant_revoked_at } = row;
    Ok(Some(FoundToken {
        grant: Grant::from(grant),
        kind,
        scopes: Scopes::parse(&scopes),
        expires_at,
        used: used_at.is_some(),
        revoked: revoked_at.is_some() || grant_revoked_at.is_some(),
    }))
}

/// The grant behind a live access token; `None` for unknown, expired or revoked tokens.
pub async fn active_access_token(store: &dyn Store, token: &str) -> Result<Option<ActiveToken>, AuthError> {
    Ok(lookup(store, token)
        .await?
        .filter(|t| t.kind == TokenKind::Access.name() && !t.revoked && t.expires_at > now_seconds())
        .map(|t| ActiveToken { grant: t.grant, scopes: t.scopes, expires_at: t.expires_at }))
}

/// The client a refresh token was issued to, if it is one; nothing is used up.
pub async fn refresh_token_client(store: &dyn Store, token: &str) -> Result<Option<String>, AuthError> {
    Ok(lookup(store, token).await?.filter(|t| t.kind == TokenKind::Refresh.name()).map(|t| t.grant.client_id))
}

/// Uses a refresh token once (rotation). Presenting a used one again revokes the whole grant: one
/// of the two presenters is a thief, and the server cannot tell which.
pub async fn use_refresh_token(store: &dyn Store, token: &str, client_id: &str) -> Result<(Grant, Scopes), AuthError> {
    let invalid = || AuthError::InvalidGrant("the refresh token is not valid".into());
    let row = lookup(store, token).await?.filter(|t| t.kind == TokenKind::Refresh.name()).ok_or_else(invalid)?;
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
    if !rows::claim_token(store, &token_hash(token), now).await? {
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
    if row.kind == TokenKind::Refresh.name() {
        return revoke_grant(store, &row.grant.id).await;
    }
    rows::revoke_token(store, &token_hash(token), now_seconds()).await?;
    // Cached tokens are checked against the policy generation: this one stops working now.
    store.advance_policy_generation().await?;
    Ok(())
}

//! Bearer tokens on FHIR requests: verified against the database, into the [`Principal`] the
//! access policy judges.

use super::{AuthError, AuthServer, grants};
use crate::access::principal::{Actor, Principal};

/// Verifies a bearer token against the database (no cache: revocation is immediate).
pub async fn verify_bearer(auth: &AuthServer, token: &str) -> Result<Principal, AuthError> {
    let active = grants::active_access_token(auth.store(), token)
        .await?
        .ok_or_else(|| AuthError::InvalidToken("the access token is unknown, expired or revoked".into()))?;
    let grant = active.grant;
    Ok(Principal {
        actor: Actor::from_reference(grant.fhir_user.as_deref()),
        client_id: grant.client_id,
        subject: grant.subject,
        fhir_user: grant.fhir_user,
        patient: grant.patient,
        scopes: active.scopes,
        expires_at: active.expires_at,
    })
}

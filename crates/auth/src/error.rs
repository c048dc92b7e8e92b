//! Failures of the authorization server, named after the OAuth 2.0 error codes they are answered
//! with (RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1). The REST layer renders them in one place.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    #[error("invalid_client: {0}")]
    InvalidClient(String),
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    #[error("unsupported_response_type: {0}")]
    UnsupportedResponseType(String),
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    #[error("access_denied: {0}")]
    AccessDenied(String),
    /// An authorization request whose client or redirect URI cannot be trusted: it is answered
    /// with an error page, never redirected (RFC 6749 §4.1.2.1).
    #[error("untrusted authorization request: {0}")]
    UntrustedRedirect(String),
    /// A bearer token that is missing, unknown, expired or revoked.
    #[error("invalid_token: {0}")]
    InvalidToken(String),
    /// The login failed (wrong PESEL or password, or the upstream identity did not validate).
    #[error("login failed: {0}")]
    LoginFailed(String),
    /// A step of a pending authorization came from a browser that did not start it (or without
    /// its binding cookie): answered with an error page, never redirected to the client.
    #[error("the authorization was started in another browser")]
    OtherBrowser,
    /// Too many failed logins for the account or from the address: refused for a while, even
    /// with the right password.
    #[error("login throttled")]
    Throttled,
    #[error("storage failure: {0}")]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AuthError {
    /// The OAuth `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::InvalidRequest(_)
            | AuthError::UntrustedRedirect(_)
            | AuthError::LoginFailed(_)
            | AuthError::OtherBrowser => "invalid_request",
            AuthError::Throttled => "temporarily_unavailable",
            AuthError::InvalidClient(_) => "invalid_client",
            AuthError::InvalidGrant(_) => "invalid_grant",
            AuthError::UnauthorizedClient(_) => "unauthorized_client",
            AuthError::UnsupportedGrantType(_) => "unsupported_grant_type",
            AuthError::UnsupportedResponseType(_) => "unsupported_response_type",
            AuthError::InvalidScope(_) => "invalid_scope",
            AuthError::AccessDenied(_) => "access_denied",
            AuthError::InvalidToken(_) => "invalid_token",
            AuthError::Store(_) | AuthError::Internal(_) => "server_error",
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            AuthError::InvalidClient(_) | AuthError::InvalidToken(_) => 401,
            AuthError::AccessDenied(_) => 403,
            AuthError::Throttled => 429,
            AuthError::Store(e) if e.is_transient() => 503,
            AuthError::Store(_) | AuthError::Internal(_) => 500,
            _ => 400,
        }
    }

    /// The description sent to the client; internal details stay in the log.
    pub fn description(&self) -> String {
        match self {
            AuthError::Store(_) | AuthError::Internal(_) => "the server could not complete the request".to_string(),
            AuthError::OtherBrowser => "this sign-in was started in another browser or window, or this browser did \
                                        not keep its cookie; go back to the application and start again"
                .to_string(),
            // Neutral: the same whether the account exists or the address is the reason.
            AuthError::Throttled => "too many failed attempts; try again later".to_string(),
            AuthError::InvalidRequest(m)
            | AuthError::InvalidClient(m)
            | AuthError::InvalidGrant(m)
            | AuthError::UnauthorizedClient(m)
            | AuthError::UnsupportedGrantType(m)
            | AuthError::UnsupportedResponseType(m)
            | AuthError::InvalidScope(m)
            | AuthError::AccessDenied(m)
            | AuthError::UntrustedRedirect(m)
            | AuthError::InvalidToken(m)
            | AuthError::LoginFailed(m) => m.clone(),
        }
    }
}

impl From<super::jose::JoseError> for AuthError {
    fn from(e: super::jose::JoseError) -> AuthError {
        AuthError::Internal(e.to_string())
    }
}

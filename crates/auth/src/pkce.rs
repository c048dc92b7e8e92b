//! PKCE (RFC 7636), S256 only: SMART forbids `plain`.

use super::{AuthError, jose, same_secret};

/// Checks the form of a `code_challenge` at /authorize (a base64url SHA-256: 43 characters).
pub fn check_challenge(challenge: Option<&str>, method: Option<&str>) -> Result<String, AuthError> {
    match (challenge, method) {
        (Some(c), Some("S256")) if c.len() == 43 && c.bytes().all(is_base64url) => Ok(c.to_string()),
        (Some(_), Some("S256")) => Err(AuthError::InvalidRequest("code_challenge is not a S256 challenge".into())),
        (Some(_), _) => Err(AuthError::InvalidRequest("code_challenge_method must be S256 (plain is refused)".into())),
        (None, _) => Err(AuthError::InvalidRequest("PKCE is required: send code_challenge with S256".into())),
    }
}

/// Checks a `code_verifier` at the token endpoint against the stored challenge.
pub fn verify(verifier: Option<&str>, challenge: &str) -> Result<(), AuthError> {
    let verifier = verifier.ok_or_else(|| AuthError::InvalidGrant("code_verifier is missing".into()))?;
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if well_formed && same_secret(&jose::b64(&openssl::sha::sha256(verifier.as_bytes())), challenge) {
        Ok(())
    } else {
        Err(AuthError::InvalidGrant("code_verifier does not match the code_challenge".into()))
    }
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

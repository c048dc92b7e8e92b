//! Binding a pending authorization request to the browser that started it (OIDC Core 1.0
//! §3.1.2.1, RFC 6749 §10.12). The request handle travels in URLs, which an attacker can hand to
//! a victim's browser (or take from their own), so it alone must never be enough: /authorize also
//! gives the browser an unguessable secret in a cookie, only its SHA-256 is kept with the request,
//! and every later step (login, upstream start and callback, consent) must present it.
//!
//! Each request has its own cookie (its name derives from the handle), so two authorizations in
//! one browser at once do not overwrite each other, and the browser never offers a value of its
//! own (a planted cookie cannot fix the binding).

use super::{AuthError, random_token, same_secret, token_hash};

/// Prefix of the binding cookies' names.
const COOKIE_PREFIX: &str = "ikp_authz_";

/// A fresh binding: the secret for the browser's cookie and the hash kept with the request.
pub struct Binding {
    pub secret: String,
    pub hash: String,
}

impl Binding {
    pub fn new() -> Result<Binding, AuthError> {
        let secret = random_token()?;
        let hash = token_hash(&secret);
        Ok(Binding { secret, hash })
    }
}

/// The cookie that binds the request `request_id` (only characters a cookie name allows).
pub fn cookie_name(request_id: &str) -> String {
    format!("{COOKIE_PREFIX}{}", &token_hash(request_id)[..16])
}

/// Whether the browser presented the secret whose hash was kept (constant time).
pub fn check(stored_hash: &str, presented: Option<&str>) -> Result<(), AuthError> {
    match presented {
        Some(secret) if !stored_hash.is_empty() && same_secret(&token_hash(secret), stored_hash) => Ok(()),
        _ => Err(AuthError::OtherBrowser),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_secret_given_out_matches() {
        let binding = Binding::new().expect("binding");
        assert!(check(&binding.hash, Some(&binding.secret)).is_ok());
        assert!(check(&binding.hash, None).is_err());
        assert!(check(&binding.hash, Some("")).is_err());
        assert!(check(&binding.hash, Some(&binding.hash)).is_err(), "the stored hash is not the secret");
        assert!(check("", Some(&binding.secret)).is_err(), "a request kept without a binding is refused");
        let other = Binding::new().expect("binding");
        assert!(check(&binding.hash, Some(&other.secret)).is_err());
    }

    #[test]
    fn cookie_names_differ_per_request_and_are_tokens() {
        let a = cookie_name("request-a");
        assert_ne!(a, cookie_name("request-b"));
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{a}");
    }
}

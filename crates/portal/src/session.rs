//! The browser's side of a login: an encrypted, authenticated cookie (AES-256-GCM under the
//! portal's key), so the tokens inside it can be neither read nor changed in the browser, and any
//! node holding the key can serve the next request. It is HttpOnly (no script can read it) and
//! SameSite=Lax; forms carry a per-login token as well ([`SessionData::csrf`]).

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The login's cookie.
pub const SESSION_COOKIE: &str = "ikp_portal";
/// The cookie that carries `state` and the PKCE verifier from /logowanie to /callback.
pub const LOGIN_COOKIE: &str = "ikp_portal_login";
/// The chosen language (not secret, not encrypted).
pub const LANGUAGE_COOKIE: &str = "ikp_lang";

/// The longest a login lasts, refreshed or not (then the user logs in again).
pub const MAX_LOGIN_SECONDS: i64 = 12 * 3600;
/// How long the user has to finish logging in.
pub const LOGIN_FLOW_SECONDS: i64 = 600;

const NONCE: usize = 12;
const TAG: usize = 16;
/// Cookies longer than this are not even tried (a browser keeps at most about 4 KB).
const MAX_COOKIE: usize = 4096;

/// Whose account is shown, as the user relates to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Relation {
    Own,
    Child,
    Authorised,
}

/// What the portal keeps about a login.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionData {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// When the access token expires (Unix seconds).
    pub expires_at: i64,
    pub started_at: i64,
    /// The user, relative to the FHIR base (`Patient/demo-anna-kowalska`).
    pub user: String,
    pub user_name: String,
    /// The patient whose account is shown (an id), and their name.
    pub account: String,
    pub account_name: String,
    pub relation: Relation,
    /// Sent with every form and compared (with SameSite=Lax, a second guard against forged posts).
    pub csrf: String,
}

/// What /logowanie leaves for /callback.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginFlow {
    pub state: String,
    pub verifier: String,
    pub started_at: i64,
}

/// Seals `value` under `key`, bound to the cookie's name.
pub fn seal<T: Serialize>(key: &[u8; 32], name: &str, value: &T) -> Option<String> {
    let plain = serde_json::to_vec(value).ok()?;
    let nonce = random_bytes::<NONCE>()?;
    let mut tag = [0u8; TAG];
    let sealed = encrypt_aead(Cipher::aes_256_gcm(), key, Some(&nonce), name.as_bytes(), &plain, &mut tag).ok()?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    out.extend_from_slice(&tag);
    Some(URL_SAFE_NO_PAD.encode(out))
}

/// Opens a cookie sealed by [`seal`]; `None` for anything else (changed, truncated, old key).
pub fn open<T: DeserializeOwned>(key: &[u8; 32], name: &str, cookie: &str) -> Option<T> {
    if cookie.len() > MAX_COOKIE {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(cookie).ok()?;
    if raw.len() < NONCE + TAG {
        return None;
    }
    let (nonce, rest) = raw.split_at(NONCE);
    let (sealed, tag) = rest.split_at(rest.len() - TAG);
    let plain = decrypt_aead(Cipher::aes_256_gcm(), key, Some(nonce), name.as_bytes(), sealed, tag).ok()?;
    serde_json::from_slice(&plain).ok()
}

/// The value of cookie `name` in the request.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: `max_age` None is a browser-session cookie, Some(0) removes it.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool, http_only: bool) -> String {
    let mut out = format!("{name}={value}; Path=/; SameSite=Lax");
    if let Some(age) = max_age {
        out.push_str(&format!("; Max-Age={age}"));
    }
    if http_only {
        out.push_str("; HttpOnly");
    }
    if secure {
        out.push_str("; Secure");
    }
    out
}

/// `N` random bytes from OpenSSL's generator.
pub fn random_bytes<const N: usize>() -> Option<[u8; N]> {
    let mut out = [0u8; N];
    openssl::rand::rand_bytes(&mut out).ok()?;
    Some(out)
}

/// A random URL-safe string of `N` bytes' entropy.
pub fn random_token<const N: usize>() -> Option<String> {
    random_bytes::<N>().map(|b| URL_SAFE_NO_PAD.encode(b))
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a.as_bytes(), b.as_bytes())
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_cookie_opens_only_unchanged_under_its_key_and_name() {
        let key = [7u8; 32];
        let flow = LoginFlow { state: "s".into(), verifier: "v".into(), started_at: 1 };
        let sealed = seal(&key, LOGIN_COOKIE, &flow).expect("sealed");
        let opened: LoginFlow = open(&key, LOGIN_COOKIE, &sealed).expect("opens");
        assert_eq!(opened.verifier, "v");
        assert!(open::<LoginFlow>(&[8u8; 32], LOGIN_COOKIE, &sealed).is_none(), "another key");
        assert!(open::<LoginFlow>(&key, SESSION_COOKIE, &sealed).is_none(), "another cookie's name");
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).expect("base64");
        bytes[NONCE] ^= 1;
        assert!(open::<LoginFlow>(&key, LOGIN_COOKIE, &URL_SAFE_NO_PAD.encode(bytes)).is_none(), "changed");
        assert!(open::<LoginFlow>(&key, LOGIN_COOKIE, "AAAA").is_none(), "too short");
    }
}

//! The server's signing keys (RSA 2048, RS256 for id_tokens), kept in the database so every node
//! signs with the same key and publishes the same JWKS. Rotation adds a key and retires the old
//! one; a retired key stays in the JWKS until every token it signed has expired, then is dropped.

use openssl::pkey::{PKey, Private};
use serde_json::{Map, Value, json};

use super::{AuthError, ID_TOKEN_SECONDS, jose, now_seconds};
use crate::store::Store;
use crate::store::auth::keys::{self as rows, NewSigningKey};

/// Keys older than this are rotated automatically at start-up.
pub const ROTATE_AFTER_SECONDS: i64 = 90 * 24 * 3600;
/// How long a retired key stays published: the longest lifetime of anything it signed.
const RETIRED_KEY_SECONDS: i64 = ID_TOKEN_SECONDS + 300;

pub struct SigningKey {
    pub kid: String,
    pub key: PKey<Private>,
}

/// Makes sure a current signing key exists, rotating one older than [`ROTATE_AFTER_SECONDS`].
pub async fn ensure_signing_key(store: &dyn Store) -> Result<(), AuthError> {
    match rows::newest_active_created_at(store).await? {
        Some(created) if now_seconds() - created < ROTATE_AFTER_SECONDS => Ok(()),
        _ => rotate(store).await.map(|_| ()),
    }
}

/// Adds a new signing key and retires the previous ones; returns the new `kid`.
pub async fn rotate(store: &dyn Store) -> Result<String, AuthError> {
    let key = jose::generate_rsa(2048)?;
    let mut jwk = jose::public_jwk(&key)?;
    let kid = jose::thumbprint(&jwk)?;
    jwk.insert("kid".into(), json!(kid));
    jwk.insert("use".into(), json!("sig"));
    jwk.insert("alg".into(), json!("RS256"));
    let pem = key.private_key_to_pem_pkcs8().map_err(|e| AuthError::Internal(e.to_string()))?;
    let now = now_seconds();
    rows::retire_active(store, now).await?;
    let new = NewSigningKey {
        kid: &kid,
        private_pem: &String::from_utf8_lossy(&pem),
        public_jwk: &Value::Object(jwk).to_string(),
        created_at: now,
    };
    rows::insert(store, &new).await?;
    rows::delete_retired_before(store, now - RETIRED_KEY_SECONDS).await?;
    Ok(kid)
}

/// The key that signs now: the newest unretired one.
pub async fn current(store: &dyn Store) -> Result<SigningKey, AuthError> {
    let current = rows::current(store).await?.ok_or_else(|| AuthError::Internal("no signing key".into()))?;
    let key =
        PKey::private_key_from_pem(current.private_pem.as_bytes()).map_err(|e| AuthError::Internal(e.to_string()))?;
    Ok(SigningKey { kid: current.kid, key })
}

/// The published JWKS: the current key and retired keys whose tokens may still be live.
pub async fn jwks(store: &dyn Store) -> Result<Value, AuthError> {
    let keys: Vec<Value> = rows::published_jwks(store, now_seconds() - RETIRED_KEY_SECONDS)
        .await?
        .into_iter()
        .filter_map(|text| serde_json::from_str::<Map<String, Value>>(&text).ok().map(Value::Object))
        .collect();
    Ok(json!({ "keys": keys }))
}

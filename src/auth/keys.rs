//! The server's signing keys (RSA 2048, RS256 for id_tokens), kept in the database so every node
//! signs with the same key and publishes the same JWKS. Rotation adds a key and retires the old
//! one; a retired key stays in the JWKS until every token it signed has expired, then is dropped.

use openssl::pkey::{PKey, Private};
use serde_json::{Map, Value, json};

use super::{AuthError, ID_TOKEN_SECONDS, jose, now_seconds};
use crate::store::Store;
use crate::store::sql::{Bind, Cell, Column, Sql};

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
    let sql = Sql::new("SELECT created_at FROM auth_signing_key WHERE retired_at IS NULL ORDER BY created_at DESC");
    let rows = store.query(sql, &[Column::Int]).await?;
    let newest = rows.first().and_then(|r| r.first()).and_then(Cell::as_int);
    match newest {
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
    let mut retire = Sql::new("UPDATE auth_signing_key SET retired_at = ");
    retire.bind(Bind::Int(now)).push(" WHERE retired_at IS NULL");
    store.execute(retire).await?;
    let mut insert =
        Sql::new("INSERT INTO auth_signing_key (kid, private_pem, public_jwk, created_at, retired_at) VALUES (");
    insert
        .bind(Bind::Text(kid.clone()))
        .push(", ")
        .bind(Bind::Text(String::from_utf8_lossy(&pem).into_owned()))
        .push(", ")
        .bind(Bind::Text(Value::Object(jwk).to_string()))
        .push(", ")
        .bind(Bind::Int(now))
        .push(", NULL)");
    store.execute(insert).await?;
    let mut drop = Sql::new("DELETE FROM auth_signing_key WHERE retired_at IS NOT NULL AND retired_at < ");
    drop.bind(Bind::Int(now - RETIRED_KEY_SECONDS));
    store.execute(drop).await?;
    Ok(kid)
}

/// The key that signs now: the newest unretired one.
pub async fn current(store: &dyn Store) -> Result<SigningKey, AuthError> {
    let sql = Sql::new(
        "SELECT kid, private_pem FROM auth_signing_key WHERE retired_at IS NULL ORDER BY created_at DESC, kid",
    );
    let rows = super::text_rows(store, sql, 2).await?;
    let (Some(Some(kid)), Some(Some(pem))) =
        (rows.first().and_then(|r| r.first()).cloned(), rows.first().and_then(|r| r.get(1)).cloned())
    else {
        return Err(AuthError::Internal("no signing key".into()));
    };
    let key = PKey::private_key_from_pem(pem.as_bytes()).map_err(|e| AuthError::Internal(e.to_string()))?;
    Ok(SigningKey { kid, key })
}

/// The published JWKS: the current key and retired keys whose tokens may still be live.
pub async fn jwks(store: &dyn Store) -> Result<Value, AuthError> {
    let mut sql = Sql::new("SELECT public_jwk FROM auth_signing_key WHERE retired_at IS NULL OR retired_at >= ");
    sql.bind(Bind::Int(now_seconds() - RETIRED_KEY_SECONDS)).push(" ORDER BY created_at DESC");
    let rows = super::text_rows(store, sql, 1).await?;
    let keys: Vec<Value> = rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .filter_map(|text| serde_json::from_str::<Map<String, Value>>(&text).ok().map(Value::Object))
        .collect();
    Ok(json!({ "keys": keys }))
}

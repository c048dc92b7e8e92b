//! Registered client applications: public, symmetric (client_secret_basic) and asymmetric
//! (private_key_jwt with an inline JWKS or a JWKS URL). Secrets are stored as salted PBKDF2 hashes.

use serde_json::Value;

use super::{AuthError, hex, now_seconds, same_secret};
use crate::store::Store;
use crate::store::sql::{Bind, Sql};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    Public,
    Symmetric,
    Asymmetric,
}

impl ClientType {
    pub fn parse(text: &str) -> Option<ClientType> {
        match text {
            "public" => Some(ClientType::Public),
            "symmetric" => Some(ClientType::Symmetric),
            "asymmetric" => Some(ClientType::Asymmetric),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ClientType::Public => "public",
            ClientType::Symmetric => "symmetric",
            ClientType::Asymmetric => "asymmetric",
        }
    }

    /// Scopes a client may ask for when registered without `--scopes`. Backend (`system/`) access
    /// is never a default: it must be granted explicitly at registration.
    pub fn default_scopes(self) -> &'static str {
        "openid fhirUser launch/patient offline_access online_access patient/*.cruds user/*.cruds"
    }
}

#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub client_type: ClientType,
    secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub launch_uri: Option<String>,
    /// An inline JWKS (asymmetric clients).
    pub jwks: Option<Value>,
    pub jwks_url: Option<String>,
    /// The scopes the client may be granted at most.
    pub scopes: String,
}

/// What `ikp client add` (or dynamic registration) registers.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub client_id: String,
    pub client_type: ClientType,
    pub secret: Option<String>,
    pub redirect_uris: Vec<String>,
    pub launch_uri: Option<String>,
    pub jwks: Option<Value>,
    pub jwks_url: Option<String>,
    pub scopes: Option<String>,
}

const PBKDF2_ITERATIONS: usize = 20_000;

fn hash_secret(secret: &str, salt: &[u8]) -> Result<String, AuthError> {
    let mut out = [0u8; 32];
    openssl::pkcs5::pbkdf2_hmac(
        secret.as_bytes(),
        salt,
        PBKDF2_ITERATIONS,
        openssl::hash::MessageDigest::sha256(),
        &mut out,
    )
    .map_err(|e| AuthError::Internal(e.to_string()))?;
    Ok(format!("pbkdf2-sha256${PBKDF2_ITERATIONS}${}${}", hex(salt), hex(&out)))
}

impl Client {
    /// Checks a presented secret against the stored hash (constant time).
    pub fn secret_matches(&self, secret: &str) -> bool {
        let Some(stored) = &self.secret_hash else { return false };
        let mut parts = stored.split('$');
        let (Some("pbkdf2-sha256"), Some(_), Some(salt_hex), Some(_)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let salt: Option<Vec<u8>> = (0..salt_hex.len())
            .step_by(2)
            .map(|i| salt_hex.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
            .collect();
        match salt.map(|salt| hash_secret(secret, &salt)) {
            Some(Ok(candidate)) => same_secret(&candidate, stored),
            _ => false,
        }
    }
}

pub async fn add(store: &dyn Store, client: &NewClient) -> Result<(), AuthError> {
    if client.client_id.is_empty() {
        return Err(AuthError::InvalidRequest("a client needs an id".into()));
    }
    if client.client_type != ClientType::Asymmetric && client.redirect_uris.is_empty() {
        return Err(AuthError::InvalidRequest("a public or symmetric client needs at least one redirect URI".into()));
    }
    let secret_hash = match (client.client_type, &client.secret) {
        (ClientType::Symmetric, Some(secret)) if secret.len() >= 16 => {
            let mut salt = [0u8; 16];
            openssl::rand::rand_bytes(&mut salt).map_err(|e| AuthError::Internal(e.to_string()))?;
            Some(hash_secret(secret, &salt)?)
        }
        (ClientType::Symmetric, _) => {
            return Err(AuthError::InvalidRequest(
                "a symmetric client needs a secret of at least 16 characters".into(),
            ));
        }
        (_, Some(_)) => return Err(AuthError::InvalidRequest("only symmetric clients have a secret".into())),
        (_, None) => None,
    };
    if client.client_type == ClientType::Asymmetric && client.jwks.is_none() && client.jwks_url.is_none() {
        return Err(AuthError::InvalidRequest("an asymmetric client needs a JWKS or a JWKS URL".into()));
    }
    let scopes = client.scopes.clone().unwrap_or_else(|| client.client_type.default_scopes().to_string());
    let mut sql = Sql::new(
        "INSERT INTO auth_client (client_id, client_type, secret_hash, redirect_uris, launch_uri, jwks, jwks_url, scopes, created_at) VALUES (",
    );
    sql.bind(Bind::Text(client.client_id.clone()))
        .push(", ")
        .bind(Bind::Text(client.client_type.name().into()))
        .push(", ")
        .bind(Bind::OptText(secret_hash))
        .push(", ")
        .bind(Bind::Text(Value::from(client.redirect_uris.clone()).to_string()))
        .push(", ")
        .bind(Bind::OptText(client.launch_uri.clone()))
        .push(", ")
        .bind(Bind::OptText(client.jwks.as_ref().map(Value::to_string)))
        .push(", ")
        .bind(Bind::OptText(client.jwks_url.clone()))
        .push(", ")
        .bind(Bind::Text(scopes))
        .push(", ")
        .bind(Bind::Int(now_seconds()))
        .push(")");
    store.execute(sql).await.map_err(|e| match e {
        crate::store::StoreError::Conflict(_) => {
            AuthError::InvalidRequest(format!("client '{}' already exists", client.client_id))
        }
        other => AuthError::Store(other),
    })?;
    Ok(())
}

const CLIENT_COLUMNS: &str =
    "SELECT client_id, client_type, secret_hash, redirect_uris, launch_uri, jwks, jwks_url, scopes FROM auth_client";

fn from_row(row: Vec<Option<String>>) -> Option<Client> {
    let mut cells = row.into_iter();
    let mut next = || cells.next().flatten();
    Some(Client {
        client_id: next()?,
        client_type: ClientType::parse(&next()?)?,
        secret_hash: next(),
        redirect_uris: serde_json::from_str(&next()?).ok()?,
        launch_uri: next(),
        jwks: next().and_then(|t| serde_json::from_str(&t).ok()),
        jwks_url: next(),
        scopes: next()?,
    })
}

pub async fn get(store: &dyn Store, client_id: &str) -> Result<Option<Client>, AuthError> {
    let mut sql = Sql::new(CLIENT_COLUMNS);
    sql.push(" WHERE client_id = ").bind(Bind::Text(client_id.to_string()));
    Ok(super::text_rows(store, sql, 8).await?.into_iter().next().and_then(from_row))
}

pub async fn list(store: &dyn Store) -> Result<Vec<Client>, AuthError> {
    let mut sql = Sql::new(CLIENT_COLUMNS);
    sql.push(" ORDER BY client_id");
    Ok(super::text_rows(store, sql, 8).await?.into_iter().filter_map(from_row).collect())
}

/// Removes a client and revokes everything it was granted; false when it did not exist.
pub async fn remove(store: &dyn Store, client_id: &str) -> Result<bool, AuthError> {
    let mut sql = Sql::new("DELETE FROM auth_client WHERE client_id = ");
    sql.bind(Bind::Text(client_id.to_string()));
    let removed = store.execute(sql).await? > 0;
    let mut revoke = Sql::new("UPDATE auth_grant SET revoked_at = ");
    revoke
        .bind(Bind::Int(now_seconds()))
        .push(" WHERE revoked_at IS NULL AND client_id = ")
        .bind(Bind::Text(client_id.to_string()));
    store.execute(revoke).await?;
    // Its tokens may be cached on any node: move the policy generation on.
    store.advance_policy_generation().await?;
    Ok(removed)
}

//! Registered client applications: public, symmetric (client_secret_basic) and asymmetric
//! (private_key_jwt with an inline JWKS or a JWKS URL). Secrets are stored as salted PBKDF2 hashes.

use serde_json::Value;

use super::{AuthError, hex, now_seconds, same_secret};
use crate::store::auth::clients::{self as rows, ClientRow};
use crate::store::auth::grants::revoke_client_grants;
use crate::store::{Store, StoreError};

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
    /// The client a stored row describes; `None` when the row does not parse (an unknown type,
    /// redirect URIs that are not a JSON array of strings), so it is treated as unregistered.
    fn from_row(row: ClientRow) -> Option<Client> {
        Some(Client {
            client_id: row.client_id,
            client_type: ClientType::parse(&row.client_type)?,
            secret_hash: row.secret_hash,
            redirect_uris: serde_json::from_str(&row.redirect_uris).ok()?,
            launch_uri: row.launch_uri,
            jwks: row.jwks.and_then(|t| serde_json::from_str(&t).ok()),
            jwks_url: row.jwks_url,
            scopes: row.scopes,
        })
    }

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
    let row = ClientRow {
        client_id: client.client_id.clone(),
        client_type: client.client_type.name().into(),
        secret_hash,
        redirect_uris: Value::from(client.redirect_uris.clone()).to_string(),
        launch_uri: client.launch_uri.clone(),
        jwks: client.jwks.as_ref().map(Value::to_string),
        jwks_url: client.jwks_url.clone(),
        scopes,
    };
    rows::insert(store, &row, now_seconds()).await.map_err(|e| match e {
        StoreError::Conflict(_) => AuthError::InvalidRequest(format!("client '{}' already exists", client.client_id)),
        other => AuthError::Store(other),
    })?;
    Ok(())
}

/// Registers `client` unless it is registered already as it is (same kind, secret, redirect URIs
/// and scopes); a registration that differs is replaced. For the clients a server registers
/// itself at start-up (the portal): every node runs it, and nodes that race agree.
pub async fn ensure(store: &dyn Store, client: &NewClient) -> Result<(), AuthError> {
    let same = |existing: &Client| {
        existing.client_type == client.client_type
            && existing.redirect_uris == client.redirect_uris
            && client.scopes.as_deref().is_none_or(|s| s == existing.scopes)
            && client.secret.as_deref().is_none_or(|s| existing.secret_matches(s))
    };
    if let Some(existing) = get(store, &client.client_id).await? {
        if same(&existing) {
            return Ok(());
        }
        remove(store, &client.client_id).await?;
    }
    match add(store, client).await {
        // Another node registered it meanwhile: fine if it registered the same.
        Err(AuthError::InvalidRequest(_)) if get(store, &client.client_id).await?.is_some_and(|c| same(&c)) => Ok(()),
        other => other,
    }
}

pub async fn get(store: &dyn Store, client_id: &str) -> Result<Option<Client>, AuthError> {
    Ok(rows::get(store, client_id).await?.and_then(Client::from_row))
}

pub async fn list(store: &dyn Store) -> Result<Vec<Client>, AuthError> {
    Ok(rows::list(store).await?.into_iter().filter_map(Client::from_row).collect())
}

/// Removes a client and revokes everything it was granted; false when it did not exist.
pub async fn remove(store: &dyn Store, client_id: &str) -> Result<bool, AuthError> {
    let removed = rows::delete(store, client_id).await?;
    revoke_client_grants(store, client_id, now_seconds()).await?;
    // Its tokens may be cached on any node: move the policy generation on.
    store.advance_policy_generation().await?;
    Ok(removed)
}

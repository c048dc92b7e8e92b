//! `private_key_jwt` client authentication (RFC 7523 §3, SMART client-confidential-asymmetric):
//! a JWS signed with RS384 or ES384 by a key from the client's registered JWKS (inline or by URL),
//! `iss` = `sub` = client_id, `aud` = our token endpoint, `exp` at most five minutes ahead, and a
//! `jti` never seen before (remembered in the database, so replays fail on every node).

use serde_json::{Map, Value};

use super::clients::{self, Client, ClientType};
use super::jose::{self, Algorithm, Unverified};
use super::{AuthError, AuthServer, SKEW_SECONDS, now_seconds};
use crate::store::auth::assertions;

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The longest an assertion may live (SMART backend services).
const MAX_LIFETIME_SECONDS: i64 = 300;

fn invalid(message: &str) -> AuthError {
    AuthError::InvalidClient(message.to_string())
}

/// Authenticates a client by its assertion; `claimed_client_id` is the body's `client_id`, if sent.
pub async fn authenticate(
    auth: &AuthServer,
    assertion: &str,
    claimed_client_id: Option<&str>,
) -> Result<Client, AuthError> {
    let jws = Unverified::parse(assertion).map_err(|e| invalid(&e.to_string()))?;
    let alg = match jws.algorithm() {
        Ok(alg @ (Algorithm::RS384 | Algorithm::ES384)) => alg,
        _ => return Err(invalid("client assertions must be signed with RS384 or ES384")),
    };
    let kid = jws.header_str("kid").ok_or_else(|| invalid("the assertion header has no kid"))?.to_string();
    let claim = |name: &str| jws.claims.get(name).and_then(Value::as_str).map(str::to_string);
    let issuer = claim("iss").ok_or_else(|| invalid("the assertion has no iss"))?;
    if claim("sub").as_deref() != Some(issuer.as_str()) {
        return Err(invalid("the assertion's sub must equal its iss"));
    }
    if claimed_client_id.is_some_and(|c| c != issuer) {
        return Err(invalid("client_id does not match the assertion's iss"));
    }
    let client = clients::get(auth.store(), &issuer).await?.ok_or_else(|| invalid("unknown client"))?;
    if client.client_type != ClientType::Asymmetric {
        return Err(invalid("this client is not registered for private_key_jwt"));
    }
    let jku = jws.header_str("jku").map(str::to_string);
    if jku.is_some() && jku != client.jwks_url {
        return Err(invalid("the assertion's jku is not the client's registered JWKS URL"));
    }
    let keys = client_keys(auth, &client).await?;
    let mut matching = keys.iter().filter(|k| {
        k.get("kid").and_then(Value::as_str) == Some(kid.as_str())
            && k.get("kty").and_then(Value::as_str) == Some(alg.key_type())
    });
    let (Some(jwk), None) = (matching.next(), matching.next()) else {
        return Err(invalid("no single key in the client's JWKS matches the assertion's kid and algorithm"));
    };
    let key = jose::key_from_jwk(jwk).map_err(|e| invalid(&e.to_string()))?;
    let claims = jws.verify(&key).map_err(|_| invalid("the assertion's signature does not verify"))?;
    check_claims(auth, &claims, &issuer).await?;
    Ok(client)
}

async fn check_claims(auth: &AuthServer, claims: &Map<String, Value>, issuer: &str) -> Result<(), AuthError> {
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    // The issuer is accepted too: common OAuth libraries default `aud` to it.
    let token_endpoint = auth.token_endpoint();
    if !audiences.iter().any(|a| *a == token_endpoint || *a == auth.issuer) {
        return Err(invalid("the assertion's aud must be the token endpoint"));
    }
    let now = now_seconds();
    let exp = claims.get("exp").and_then(Value::as_i64).ok_or_else(|| invalid("the assertion has no exp"))?;
    if exp + SKEW_SECONDS < now {
        return Err(invalid("the assertion has expired"));
    }
    if exp > now + MAX_LIFETIME_SECONDS + SKEW_SECONDS {
        return Err(invalid("the assertion's exp is more than five minutes ahead"));
    }
    if claims.get("nbf").and_then(Value::as_i64).is_some_and(|nbf| nbf > now + SKEW_SECONDS) {
        return Err(invalid("the assertion is not valid yet"));
    }
    let jti = claims.get("jti").and_then(Value::as_str).filter(|j| !j.is_empty());
    let jti = jti.ok_or_else(|| invalid("the assertion has no jti"))?;
    remember_jti(auth, issuer, jti, exp + SKEW_SECONDS).await
}

/// Records a `jti`; fails if it was seen before and has not expired.
async fn remember_jti(auth: &AuthServer, issuer: &str, jti: &str, keep_until: i64) -> Result<(), AuthError> {
    let store = auth.store();
    assertions::delete_expired(store, now_seconds()).await?;
    if assertions::remember_jti(store, issuer, jti, keep_until).await? {
        Ok(())
    } else {
        Err(invalid("the assertion's jti was already used"))
    }
}

/// The client's public keys: the inline JWKS, then the JWKS URL (fetched each time, so a key the
/// client rotates or withdraws takes effect at once).
async fn client_keys(auth: &AuthServer, client: &Client) -> Result<Vec<Map<String, Value>>, AuthError> {
    let mut keys = Vec::new();
    let mut add = |jwks: &Value| {
        if let Some(list) = jwks.get("keys").and_then(Value::as_array) {
            keys.extend(list.iter().filter_map(|k| k.as_object().cloned()));
        }
    };
    if let Some(jwks) = &client.jwks {
        add(jwks);
    }
    if let Some(url) = &client.jwks_url {
        let fetched = async {
            let response = auth.http.get(url).header("accept", "application/json").send().await.ok()?;
            if !response.status().is_success() {
                return None;
            }
            serde_json::from_slice::<Value>(&response.bytes().await.ok()?).ok()
        }
        .await;
        match fetched {
            Some(jwks) => add(&jwks),
            None => tracing::warn!(client_id = %client.client_id, url, "could not fetch the client's JWKS"),
        }
    }
    Ok(keys)
}

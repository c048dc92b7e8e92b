//! An upstream OpenID Connect identity provider (a national login broker, mojeID, ...): the user
//! is sent there, comes back with a code, and its id_token is validated in full (OIDC Core
//! §3.1.3.7): signature against the provider's JWKS, `iss`, `aud`/`azp`, `exp`, `nonce`, and the
//! required `acr`. The PESEL comes from a configurable claim.
//!
//! The upstream `state` is the pending SMART request's handle; the `nonce` and the PKCE verifier
//! are derived from it with a server secret, so nothing more needs storing and neither can be
//! guessed by someone who only sees the browser's URLs.

use serde_json::{Map, Value};

use super::identity::VerifiedIdentity;
use super::jose::{self, Unverified};
use super::{AuthError, AuthServer, SKEW_SECONDS, now_seconds};

/// How to reach and trust the upstream provider.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    /// The id_token claim that carries the PESEL.
    pub pesel_claim: String,
    /// The `acr` the id_token must carry, if any.
    pub required_acr: Option<String>,
}

pub struct UpstreamProvider {
    pub config: UpstreamConfig,
}

fn failed(message: &str) -> AuthError {
    AuthError::LoginFailed(format!("upstream login: {message}"))
}

impl UpstreamProvider {
    pub fn new(config: UpstreamConfig) -> UpstreamProvider {
        UpstreamProvider { config }
    }

    /// Where to send the browser to log in for a pending request.
    pub fn login_url(&self, auth: &AuthServer, request_id: &str) -> String {
        let challenge = jose::b64(&openssl::sha::sha256(derived(auth, "pkce", request_id).as_bytes()));
        super::authorize::redirect_with(
            &self.config.authorization_endpoint,
            &[
                ("response_type", "code"),
                ("client_id", &self.config.client_id),
                ("redirect_uri", &callback_url(auth)),
                ("scope", "openid"),
                ("state", request_id),
                ("nonce", &derived(auth, "nonce", request_id)),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
    }

    /// Exchanges the upstream code and validates the id_token it returns.
    pub async fn complete(
        &self,
        auth: &AuthServer,
        request_id: &str,
        code: &str,
    ) -> Result<VerifiedIdentity, AuthError> {
        let c = &self.config;
        let verifier = derived(auth, "pkce", request_id);
        let callback = callback_url(auth);
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", callback.as_str()),
            ("client_id", c.client_id.as_str()),
            ("code_verifier", verifier.as_str()),
        ];
        let body = {
            let mut body = form_urlencoded::Serializer::new(String::new());
            for (k, v) in form {
                body.append_pair(k, v);
            }
            body.finish()
        };
        let mut request = auth
            .http
            .post(&c.token_endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body);
        if let Some(secret) = &c.client_secret {
            request = request.basic_auth(&c.client_id, Some(secret));
        }
        let response = request.send().await.map_err(|_| failed("the token endpoint cannot be reached"))?;
        if !response.status().is_success() {
            return Err(failed("the code exchange was refused"));
        }
        let body: Value = serde_json::from_slice(&response.bytes().await.map_err(|_| failed("no token response"))?)
            .map_err(|_| failed("the token response is not JSON"))?;
        let id_token = body.get("id_token").and_then(Value::as_str).ok_or_else(|| failed("no id_token"))?;
        let claims = self.validate(auth, id_token, &derived(auth, "nonce", request_id)).await?;
        let pesel = claims
            .get(&c.pesel_claim)
            .and_then(Value::as_str)
            .ok_or_else(|| failed("the id_token carries no PESEL"))?;
        Ok(VerifiedIdentity {
            pesel: pesel.to_string(),
            provider: c.issuer.clone(),
            acr: claims.get("acr").and_then(Value::as_str).map(str::to_string),
        })
    }

    async fn validate(&self, auth: &AuthServer, id_token: &str, nonce: &str) -> Result<Map<String, Value>, AuthError> {
        let c = &self.config;
        let jws = Unverified::parse(id_token).map_err(|_| failed("malformed id_token"))?;
        let alg = jws.algorithm().map_err(|_| failed("the id_token's algorithm is not accepted"))?;
        let kid = jws.header_str("kid").map(str::to_string);
        let jwks = self.fetch_jwks(auth).await?;
        let candidates: Vec<&Map<String, Value>> = jwks
            .iter()
            .filter(|k| k.get("kty").and_then(Value::as_str) == Some(alg.key_type()))
            .filter(|k| kid.is_none() || k.get("kid").and_then(Value::as_str) == kid.as_deref())
            .collect();
        let [jwk] = candidates.as_slice() else {
            return Err(failed("no single key in the provider's JWKS matches the id_token"));
        };
        let key = jose::key_from_jwk(jwk).map_err(|_| failed("the provider's key is unusable"))?;
        let claims = jws.verify(&key).map_err(|_| failed("the id_token's signature does not verify"))?;
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        if text("iss") != Some(c.issuer.as_str()) {
            return Err(failed("the id_token's iss is not the configured issuer"));
        }
        let audiences: Vec<&str> = match claims.get("aud") {
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !audiences.contains(&c.client_id.as_str()) || (audiences.len() > 1 && text("azp") != Some(&c.client_id)) {
            return Err(failed("the id_token is not meant for this server"));
        }
        let now = now_seconds();
        match claims.get("exp").and_then(Value::as_i64) {
            Some(exp) if exp + SKEW_SECONDS >= now => {}
            _ => return Err(failed("the id_token has expired")),
        }
        if claims.get("iat").and_then(Value::as_i64).is_none_or(|iat| iat > now + SKEW_SECONDS) {
            return Err(failed("the id_token's iat is missing or in the future"));
        }
        if !text("nonce").is_some_and(|n| super::same_secret(n, nonce)) {
            return Err(failed("the id_token's nonce does not match"));
        }
        if let Some(required) = &c.required_acr
            && text("acr") != Some(required.as_str())
        {
            return Err(failed("the login's level of assurance is too low"));
        }
        Ok(claims)
    }

    async fn fetch_jwks(&self, auth: &AuthServer) -> Result<Vec<Map<String, Value>>, AuthError> {
        let response = auth
            .http
            .get(&self.config.jwks_uri)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|_| failed("the provider's JWKS cannot be fetched"))?;
        let jwks: Value = serde_json::from_slice(&response.bytes().await.map_err(|_| failed("no JWKS"))?)
            .map_err(|_| failed("the provider's JWKS is not JSON"))?;
        Ok(jwks
            .get("keys")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|k| k.as_object().cloned())
            .collect())
    }
}

/// Our callback URL at the upstream provider.
pub fn callback_url(auth: &AuthServer) -> String {
    auth.endpoint("upstream/callback")
}

/// A per-request secret value (nonce, PKCE verifier) only this server can compute.
fn derived(auth: &AuthServer, purpose: &str, request_id: &str) -> String {
    let digest = auth.subject_for(&format!("{purpose}:{request_id}"));
    format!("{digest}{}", jose::b64(&openssl::sha::sha256(format!("{purpose}{digest}").as_bytes())))
}

//! An upstream OpenID Connect identity provider (a national login broker, mojeID, ...): the user
//! is sent there, comes back with a code, and its id_token is validated in full (OIDC Core
//! §3.1.3.7): signature against the provider's JWKS, `iss`, `aud`/`azp`, `exp`, `nonce`, and the
//! level of assurance. The PESEL comes from a configurable claim.
//!
//! Levels of assurance are ordered ([`UpstreamConfig::acr_levels`], the eIDAS levels by default):
//! a login at the required level or any higher one is accepted (an e-ID card where a trusted
//! profile is required). The authorization request asks for them with `acr_values` and an
//! essential `acr` claim (OIDC Core §5.5.1.1), since providers may leave `acr` out unless asked.
//!
//! The upstream `state` is the pending SMART request's handle; the `nonce` and the PKCE verifier
//! are derived from it with a server secret, so nothing more needs storing and neither can be
//! guessed by someone who only sees the browser's URLs.

use base64::Engine;
use serde_json::{Map, Value, json};

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
    /// The lowest level of assurance (`acr`) a login must have, if any; one of `acr_levels`.
    pub required_acr: Option<String>,
    /// The known levels of assurance, lowest first.
    pub acr_levels: Vec<String>,
}

/// The eIDAS levels of assurance, lowest first: the default order of `acr` values.
pub const EIDAS_LEVELS: [&str; 3] =
    ["http://eidas.europa.eu/LoA/low", "http://eidas.europa.eu/LoA/substantial", "http://eidas.europa.eu/LoA/high"];

impl UpstreamConfig {
    /// The `acr` values a login may have: the required level and those above it (`None`: no
    /// requirement). A required level missing from the list is a configuration error.
    pub fn acceptable_acr(&self) -> Result<Option<&[String]>, String> {
        let Some(required) = &self.required_acr else { return Ok(None) };
        let position = self.acr_levels.iter().position(|level| level == required).ok_or_else(|| {
            format!("the required acr {required} is not one of the levels {}", self.acr_levels.join(", "))
        })?;
        Ok(Some(&self.acr_levels[position..]))
    }
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
    pub fn login_url(&self, auth: &AuthServer, request_id: &str) -> Result<String, AuthError> {
        let challenge = jose::b64(&openssl::sha::sha256(derived(auth, "pkce", request_id).as_bytes()));
        let callback = callback_url(auth);
        let nonce = derived(auth, "nonce", request_id);
        let mut pairs = vec![
            ("response_type", "code"),
            ("client_id", self.config.client_id.as_str()),
            ("redirect_uri", callback.as_str()),
            ("scope", "openid"),
            ("state", request_id),
            ("nonce", nonce.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        let (acr_values, claims);
        if let Some(acceptable) = self.config.acceptable_acr().map_err(AuthError::Internal)? {
            acr_values = acceptable.join(" ");
            claims = json!({"id_token": {"acr": {"essential": true, "values": acceptable}}}).to_string();
            pairs.extend([("acr_values", acr_values.as_str()), ("claims", claims.as_str())]);
        }
        Ok(super::authorize::redirect_with(&self.config.authorization_endpoint, &pairs))
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
            request = request.header("authorization", basic_authorization(&c.client_id, secret));
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
        if let Some(acceptable) = c.acceptable_acr().map_err(AuthError::Internal)?
            && !text("acr").is_some_and(|acr| acceptable.iter().any(|level| level == acr))
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

/// `client_secret_basic` (RFC 6749 §2.3.1): the client id and secret are form-encoded before
/// they are joined and base64-encoded, so a secret with `+`, `/`, `=` or `:` arrives intact.
pub fn basic_authorization(client_id: &str, secret: &str) -> String {
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(client_id), encode(secret));
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(required: Option<&str>) -> UpstreamConfig {
        UpstreamConfig {
            issuer: "https://idp.example".into(),
            client_id: "ikp".into(),
            client_secret: None,
            authorization_endpoint: "https://idp.example/authorize".into(),
            token_endpoint: "https://idp.example/token".into(),
            jwks_uri: "https://idp.example/jwks".into(),
            pesel_claim: "pesel".into(),
            required_acr: required.map(str::to_string),
            acr_levels: EIDAS_LEVELS.iter().map(|l| l.to_string()).collect(),
        }
    }

    #[test]
    fn the_required_level_and_higher_ones_are_acceptable() {
        let c = config(Some("http://eidas.europa.eu/LoA/substantial"));
        let acceptable = c.acceptable_acr().expect("known level").expect("required");
        assert_eq!(acceptable, &EIDAS_LEVELS[1..]);
        assert_eq!(config(None).acceptable_acr(), Ok(None));
        assert!(config(Some("urn:unknown")).acceptable_acr().is_err());
    }

    #[test]
    fn basic_credentials_are_form_encoded_first() {
        let header = basic_authorization("ikp rp", "a+b/c=d:e");
        let encoded = header.strip_prefix("Basic ").expect("basic");
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).expect("base64");
        assert_eq!(String::from_utf8(decoded).expect("utf-8"), "ikp+rp:a%2Bb%2Fc%3Dd%3Ae");
    }
}

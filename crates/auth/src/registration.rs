//! RFC 7591 dynamic client registration: an app posts its metadata and gets a `client_id` (and a
//! `client_secret` for `client_secret_basic`). Registered clients land in the same store as
//! `ikp client add`. The policy is conservative: no `system/` scopes and no `client_credentials`
//! unless the server was started with `--dynamic-registration-system-scopes true`.

use serde_json::{Map, Value, json};

use super::clients::{self, ClientType, NewClient};
use super::{AuthError, AuthServer, jose, now_seconds, random_token};
use crate::access::scopes::{Context, Scopes};

/// What the server allows through dynamic registration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegistrationPolicy {
    /// Whether `POST {base}/auth/register` is open.
    pub enabled: bool,
    /// Whether `private_key_jwt` clients may register for `client_credentials` and `system/` scopes.
    pub system_scopes: bool,
}

/// A refused registration (RFC 7591 §3.2.2).
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("invalid_redirect_uri: {0}")]
    InvalidRedirectUri(String),
    #[error("invalid_client_metadata: {0}")]
    InvalidClientMetadata(String),
    #[error("dynamic client registration is disabled")]
    Disabled,
    #[error(transparent)]
    Server(#[from] AuthError),
}

impl RegistrationError {
    pub fn code(&self) -> &'static str {
        match self {
            RegistrationError::InvalidRedirectUri(_) => "invalid_redirect_uri",
            RegistrationError::InvalidClientMetadata(_) => "invalid_client_metadata",
            RegistrationError::Disabled => "access_denied",
            RegistrationError::Server(e) => e.code(),
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            RegistrationError::InvalidRedirectUri(_) | RegistrationError::InvalidClientMetadata(_) => 400,
            RegistrationError::Disabled => 403,
            RegistrationError::Server(e) => e.http_status(),
        }
    }

    pub fn description(&self) -> String {
        match self {
            RegistrationError::InvalidRedirectUri(m) | RegistrationError::InvalidClientMetadata(m) => m.clone(),
            RegistrationError::Disabled => "dynamic client registration is disabled on this server".into(),
            RegistrationError::Server(e) => e.description(),
        }
    }

    /// The RFC 7591 error body.
    pub fn body(&self) -> Value {
        json!({"error": self.code(), "error_description": self.description()})
    }
}

fn metadata_error(message: impl Into<String>) -> RegistrationError {
    RegistrationError::InvalidClientMetadata(message.into())
}

/// An absolute `https` URI, or `http` on the loopback host (native and development apps); no fragment.
pub fn acceptable_uri(text: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(text) else { return false };
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return false;
    }
    match url.scheme() {
        "https" => url.host_str().is_some_and(|h| !h.is_empty()),
        "http" => matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")),
        _ => false,
    }
}

fn optional_string(object: &Map<String, Value>, name: &str) -> Result<Option<String>, RegistrationError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(metadata_error(format!("{name} must be a string"))),
    }
}

fn string_list(object: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, RegistrationError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| metadata_error(format!("{name} must be strings"))))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(metadata_error(format!("{name} must be an array of strings"))),
    }
}

const GRANT_TYPES: &[&str] = &["authorization_code", "refresh_token", "client_credentials"];

/// Registers a client from its metadata; the result is the body of the 201 response.
pub async fn register(auth: &AuthServer, metadata: &Value) -> Result<Value, RegistrationError> {
    let policy = auth.registration;
    if !policy.enabled {
        return Err(RegistrationError::Disabled);
    }
    let object = metadata.as_object().ok_or_else(|| metadata_error("the metadata must be a JSON object"))?;

    let redirect_uris = string_list(object, "redirect_uris")?.filter(|uris| !uris.is_empty()).ok_or_else(|| {
        RegistrationError::InvalidRedirectUri("redirect_uris is required and must not be empty".into())
    })?;
    if let Some(bad) = redirect_uris.iter().find(|u| !acceptable_uri(u)) {
        return Err(RegistrationError::InvalidRedirectUri(format!(
            "'{bad}' is not an absolute https URI (http is accepted on localhost only)"
        )));
    }

    let method = optional_string(object, "token_endpoint_auth_method")?.unwrap_or_else(|| "client_secret_basic".into());
    let client_type = match method.as_str() {
        "none" => ClientType::Public,
        "client_secret_basic" => ClientType::Symmetric,
        "private_key_jwt" => ClientType::Asymmetric,
        other => {
            return Err(metadata_error(format!(
                "token_endpoint_auth_method '{other}' is not supported (none, client_secret_basic, private_key_jwt)"
            )));
        }
    };

    let grant_types = string_list(object, "grant_types")?.unwrap_or_else(|| vec!["authorization_code".into()]);
    if grant_types.is_empty() {
        return Err(metadata_error("grant_types must not be empty"));
    }
    if let Some(unknown) = grant_types.iter().find(|g| !GRANT_TYPES.contains(&g.as_str())) {
        return Err(metadata_error(format!("grant type '{unknown}' is not supported")));
    }
    let has = |g: &str| grant_types.iter().any(|x| x == g);
    let code_flow = has("authorization_code");
    let backend = has("client_credentials");
    if has("refresh_token") && !code_flow {
        return Err(metadata_error("refresh_token needs the authorization_code grant"));
    }
    if backend && client_type != ClientType::Asymmetric {
        return Err(metadata_error("client_credentials needs token_endpoint_auth_method private_key_jwt"));
    }
    if backend && !policy.system_scopes {
        return Err(metadata_error("this server does not register backend (client_credentials) clients dynamically"));
    }
    if let Some(response_types) = string_list(object, "response_types")?
        && (response_types.iter().any(|r| r != "code") || (code_flow && response_types.is_empty()))
    {
        return Err(metadata_error("only the response type code is supported"));
    }

    let jwks = match object.get("jwks") {
        None | Some(Value::Null) => None,
        Some(jwks) => Some(jwks.clone()),
    };
    let jwks_uri = optional_string(object, "jwks_uri")?;
    if client_type == ClientType::Asymmetric {
        match (&jwks, &jwks_uri) {
            (None, None) => return Err(metadata_error("private_key_jwt needs jwks or jwks_uri")),
            (Some(_), Some(_)) => return Err(metadata_error("jwks and jwks_uri must not both be given")),
            (Some(jwks), None) => check_jwks(jwks)?,
            (None, Some(uri)) if !acceptable_uri(uri) => {
                return Err(metadata_error("jwks_uri must be an absolute https URI"));
            }
            (None, Some(_)) => {}
        }
    } else if jwks.is_some() || jwks_uri.is_some() {
        return Err(metadata_error("jwks and jwks_uri are only for private_key_jwt clients"));
    }

    let launch_uri = optional_string(object, "launch_uri")?;
    if launch_uri.as_deref().is_some_and(|u| !acceptable_uri(u)) {
        return Err(metadata_error("launch_uri must be an absolute https URI (http on localhost only)"));
    }
    let client_name = optional_string(object, "client_name")?;
    let scopes =
        registered_scopes(optional_string(object, "scope")?.as_deref(), code_flow, backend, has("refresh_token"))?;

    let client_id = format!("dyn-{}", uuid::Uuid::new_v4().simple());
    let secret = match client_type {
        ClientType::Symmetric => Some(random_token()?),
        _ => None,
    };
    let issued_at = now_seconds();
    let new = NewClient {
        client_id: client_id.clone(),
        client_type,
        secret: secret.clone(),
        redirect_uris: redirect_uris.clone(),
        launch_uri: launch_uri.clone(),
        jwks: jwks.clone(),
        jwks_url: jwks_uri.clone(),
        scopes: Some(scopes.clone()),
    };
    clients::add(auth.store(), &new).await.map_err(|e| match e {
        AuthError::InvalidRequest(m) => metadata_error(m),
        other => RegistrationError::Server(other),
    })?;
    tracing::info!(client_id, client_type = client_type.name(), "client registered dynamically");

    let mut body = Map::new();
    body.insert("client_id".into(), json!(client_id));
    body.insert("client_id_issued_at".into(), json!(issued_at));
    if let Some(secret) = secret {
        body.insert("client_secret".into(), json!(secret));
        body.insert("client_secret_expires_at".into(), json!(0));
    }
    body.insert("redirect_uris".into(), json!(redirect_uris));
    body.insert("token_endpoint_auth_method".into(), json!(method));
    body.insert("grant_types".into(), json!(grant_types));
    body.insert("response_types".into(), json!(if code_flow { vec!["code"] } else { Vec::new() }));
    body.insert("scope".into(), json!(scopes));
    if let Some(name) = client_name {
        body.insert("client_name".into(), json!(name));
    }
    if let Some(uri) = launch_uri {
        body.insert("launch_uri".into(), json!(uri));
    }
    if let Some(jwks) = jwks {
        body.insert("jwks".into(), jwks);
    }
    if let Some(uri) = jwks_uri {
        body.insert("jwks_uri".into(), json!(uri));
    }
    Ok(Value::Object(body))
}

/// An inline JWKS must hold at least one public key we can use.
fn check_jwks(jwks: &Value) -> Result<(), RegistrationError> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| metadata_error("jwks must be a JWK Set with at least one key"))?;
    for key in keys {
        let object = key.as_object().ok_or_else(|| metadata_error("every key of jwks must be a JSON object"))?;
        if object.contains_key("d") {
            return Err(metadata_error("jwks must not contain private keys"));
        }
        jose::key_from_jwk(object).map_err(|e| metadata_error(format!("a key of jwks cannot be used: {e}")))?;
    }
    Ok(())
}

/// The scopes a registered client may be granted at most: what it asked for within what its grant
/// types allow, or those defaults. `system/` only for backend clients (which the policy allows).
fn registered_scopes(
    asked: Option<&str>,
    code_flow: bool,
    backend: bool,
    refresh: bool,
) -> Result<String, RegistrationError> {
    let mut ceiling: Vec<&str> = Vec::new();
    let mut defaults: Vec<&str> = Vec::new();
    if code_flow {
        let user = ["openid", "fhirUser", "launch", "launch/patient", "patient/*.cruds", "user/*.cruds"];
        ceiling.extend(user);
        defaults.extend(user);
        if refresh {
            ceiling.extend(["offline_access", "online_access"]);
            defaults.extend(["offline_access", "online_access"]);
        }
    }
    if backend {
        ceiling.push("system/*.cruds");
        defaults.push("system/*.rs");
    }
    let Some(asked) = asked else { return Ok(defaults.join(" ")) };
    let asked = Scopes::parse(asked);
    if asked.has_context(Context::System) && !backend {
        return Err(metadata_error("system/ scopes need the client_credentials grant"));
    }
    let granted = asked.within(&Scopes::parse(&ceiling.join(" ")));
    if granted.is_empty() {
        return Err(metadata_error("none of the requested scopes can be registered"));
    }
    Ok(granted.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris() {
        assert!(acceptable_uri("https://app.example/cb"));
        assert!(acceptable_uri("http://localhost:3000/cb"));
        assert!(acceptable_uri("http://127.0.0.1/cb"));
        assert!(!acceptable_uri("http://app.example/cb"));
        assert!(!acceptable_uri("https://app.example/cb#frag"));
        assert!(!acceptable_uri("/relative"));
        assert!(!acceptable_uri("myapp://cb"));
    }

    #[test]
    fn scopes_follow_grant_types() {
        let code_only = registered_scopes(None, true, false, false).expect("defaults");
        assert!(!code_only.contains("offline_access") && !code_only.contains("system/"));
        assert!(registered_scopes(Some("system/*.rs"), true, false, true).is_err());
        assert_eq!(
            registered_scopes(Some("patient/*.rs system/Observation.rs"), true, true, false).expect("scopes"),
            "patient/*.rs system/Observation.rs"
        );
    }
}

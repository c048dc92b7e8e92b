//! The token endpoint's logic (RFC 6749 §4.1.3, §6, §4.4 with SMART's rules): client
//! authentication, the three grant types, and the token response with its id_token.

use serde_json::{Map, Value, json};

use super::clients::{self, Client, ClientType};
use super::grants::{self, Grant, GrantContext, TokenKind};
use super::{
    ACCESS_TOKEN_SECONDS, AuthError, AuthServer, BACKEND_TOKEN_SECONDS, ID_TOKEN_SECONDS, OFFLINE_REFRESH_SECONDS,
    ONLINE_REFRESH_SECONDS, assertion, jose, keys, now_seconds, pkce,
};
use crate::access::scopes::{Context, Scopes};

/// A token-endpoint request: the form fields and the HTTP Basic credentials, if any.
pub struct TokenRequest {
    pub params: Vec<(String, String)>,
    pub basic: Option<(String, String)>,
}

impl TokenRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }
}

/// Authenticates the caller as a client: Basic (symmetric), a client assertion (asymmetric), or a
/// bare `client_id` (public clients only).
pub async fn authenticate_client(auth: &AuthServer, request: &TokenRequest) -> Result<Client, AuthError> {
    let invalid = |m: &str| AuthError::InvalidClient(m.to_string());
    if let Some((id, secret)) = &request.basic {
        let client = clients::get(auth.store(), id).await?.ok_or_else(|| invalid("unknown client"))?;
        if client.client_type != ClientType::Symmetric || !client.secret_matches(secret) {
            return Err(invalid("client authentication failed"));
        }
        return Ok(client);
    }
    if let Some(kind) = request.param("client_assertion_type") {
        if kind != assertion::JWT_BEARER {
            return Err(invalid("unsupported client_assertion_type"));
        }
        let jwt = request.param("client_assertion").ok_or_else(|| invalid("client_assertion is missing"))?;
        return assertion::authenticate(auth, jwt, request.param("client_id")).await;
    }
    let id = request.param("client_id").ok_or_else(|| invalid("no client authentication"))?;
    let client = clients::get(auth.store(), id).await?.ok_or_else(|| invalid("unknown client"))?;
    if client.client_type != ClientType::Public {
        return Err(invalid("this client must authenticate"));
    }
    Ok(client)
}

/// Whether the request names no client at all (no Basic, no assertion, no `client_id`).
fn presents_no_client(request: &TokenRequest) -> bool {
    request.basic.is_none() && request.param("client_assertion_type").is_none() && request.param("client_id").is_none()
}

/// The client of a refresh request that names none: RFC 6749 §6 asks only confidential clients to
/// authenticate, and a public client (the SMART JavaScript client, by default) may leave
/// `client_id` out, since the refresh token already names its client. That client must be public;
/// one that can authenticate must. A `client_id` that is sent is still checked against the token.
async fn refreshing_public_client(auth: &AuthServer, request: &TokenRequest) -> Result<Client, AuthError> {
    let token =
        request.param("refresh_token").ok_or_else(|| AuthError::InvalidRequest("refresh_token is missing".into()))?;
    let owner = grants::refresh_token_client(auth.store(), token)
        .await?
        .ok_or_else(|| AuthError::InvalidGrant("the refresh token is not valid".into()))?;
    let client = clients::get(auth.store(), &owner)
        .await?
        .ok_or_else(|| AuthError::InvalidGrant("the refresh token is not valid".into()))?;
    if client.client_type != ClientType::Public {
        return Err(AuthError::InvalidClient("this client must authenticate".into()));
    }
    Ok(client)
}

/// Handles a token request; the result is the JSON body of a 200 response.
pub async fn token(auth: &AuthServer, request: &TokenRequest) -> Result<Value, AuthError> {
    let grant_type = request.param("grant_type").unwrap_or_default();
    if !matches!(grant_type, "authorization_code" | "refresh_token" | "client_credentials") {
        return Err(AuthError::UnsupportedGrantType(format!("grant_type '{grant_type}' is not supported")));
    }
    let client = if grant_type == "refresh_token" && presents_no_client(request) {
        refreshing_public_client(auth, request).await?
    } else {
        authenticate_client(auth, request).await?
    };
    match grant_type {
        "authorization_code" => authorization_code(auth, &client, request).await,
        "refresh_token" => refresh(auth, &client, request).await,
        _ => client_credentials(auth, &client, request).await,
    }
}

async fn authorization_code(auth: &AuthServer, client: &Client, request: &TokenRequest) -> Result<Value, AuthError> {
    let code = request.param("code").ok_or_else(|| AuthError::InvalidRequest("code is missing".into()))?;
    let redeemed = grants::redeem_code(auth.store(), code).await?;
    let grant = &redeemed.grant;
    if grant.client_id != client.client_id {
        return Err(AuthError::InvalidGrant("the code was issued to another client".into()));
    }
    if request.param("redirect_uri") != Some(redeemed.redirect_uri.as_str()) {
        return Err(AuthError::InvalidGrant("redirect_uri differs from the authorization request".into()));
    }
    pkce::verify(request.param("code_verifier"), &redeemed.code_challenge)?;
    respond(auth, grant, &grant.scopes, redeemed.nonce.as_deref(), true).await
}

async fn refresh(auth: &AuthServer, client: &Client, request: &TokenRequest) -> Result<Value, AuthError> {
    let token =
        request.param("refresh_token").ok_or_else(|| AuthError::InvalidRequest("refresh_token is missing".into()))?;
    let (grant, previous) = grants::use_refresh_token(auth.store(), token, &client.client_id).await?;
    let scopes = match request.param("scope") {
        None => previous,
        Some(asked) => {
            let asked = Scopes::parse(asked);
            let narrowed = asked.within(&previous);
            if narrowed.tokens().len() != asked.tokens().len() {
                return Err(AuthError::InvalidScope("a refresh cannot widen the granted scopes".into()));
            }
            narrowed
        }
    };
    respond(auth, &grant, &scopes, None, false).await
}

async fn client_credentials(auth: &AuthServer, client: &Client, request: &TokenRequest) -> Result<Value, AuthError> {
    if client.client_type != ClientType::Asymmetric {
        return Err(AuthError::UnauthorizedClient("client_credentials needs private_key_jwt authentication".into()));
    }
    let asked = Scopes::parse(request.param("scope").unwrap_or_default());
    let granted = asked.within(&Scopes::parse(&client.scopes));
    if granted.resources.is_empty() || granted.resources.iter().any(|s| s.context != Context::System) {
        return Err(AuthError::InvalidScope("backend services may be granted system/ scopes only".into()));
    }
    let store = auth.store();
    let grant = grants::create_grant(store, &client.client_id, GrantContext::default(), &granted).await?;
    let access = grants::issue(store, &grant, TokenKind::Access, &granted, BACKEND_TOKEN_SECONDS).await?;
    Ok(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": BACKEND_TOKEN_SECONDS,
        "scope": granted.to_string(),
    }))
}

/// The token response for a user grant: access token, refresh token when offline/online access
/// was granted, id_token when `openid` was, and the launch context.
async fn respond(
    auth: &AuthServer,
    grant: &Grant,
    scopes: &Scopes,
    nonce: Option<&str>,
    with_id_token: bool,
) -> Result<Value, AuthError> {
    let store = auth.store();
    let access = grants::issue(store, grant, TokenKind::Access, scopes, ACCESS_TOKEN_SECONDS).await?;
    let mut body = Map::new();
    body.insert("access_token".into(), json!(access));
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("expires_in".into(), json!(ACCESS_TOKEN_SECONDS));
    body.insert("scope".into(), json!(scopes.to_string()));
    let refresh_lifetime = if scopes.has("offline_access") {
        Some(OFFLINE_REFRESH_SECONDS)
    } else if scopes.has("online_access") {
        Some(ONLINE_REFRESH_SECONDS)
    } else {
        None
    };
    if let Some(lifetime) = refresh_lifetime {
        body.insert(
            "refresh_token".into(),
            json!(grants::issue(store, grant, TokenKind::Refresh, scopes, lifetime).await?),
        );
    }
    if let Some(patient) = &grant.patient {
        body.insert("patient".into(), json!(patient));
    }
    if let Some(encounter) = &grant.encounter {
        body.insert("encounter".into(), json!(encounter));
    }
    if with_id_token && scopes.has("openid") {
        body.insert("id_token".into(), json!(id_token(auth, grant, scopes, nonce).await?));
    }
    Ok(Value::Object(body))
}

/// Our id_token: RS256, `iss` = the FHIR base, `aud` = the client, `fhirUser` relative to the base.
pub async fn id_token(
    auth: &AuthServer,
    grant: &Grant,
    scopes: &Scopes,
    nonce: Option<&str>,
) -> Result<String, AuthError> {
    let now = now_seconds();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(auth.issuer));
    claims.insert("sub".into(), json!(grant.subject.clone().unwrap_or_else(|| grant.client_id.clone())));
    claims.insert("aud".into(), json!(grant.client_id));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + ID_TOKEN_SECONDS));
    if let Some(nonce) = nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    if scopes.has("fhirUser")
        && let Some(user) = &grant.fhir_user
    {
        claims.insert("fhirUser".into(), json!(format!("{}/{user}", auth.issuer)));
    }
    let key = keys::current(auth.store()).await?;
    let mut header = Map::new();
    header.insert("typ".into(), json!("JWT"));
    header.insert("kid".into(), json!(key.kid));
    Ok(jose::sign(jose::Algorithm::RS256, &key.key, header, &Value::Object(claims))?)
}

/// RFC 7662 introspection of a token, as seen by an authenticated caller.
pub async fn introspect(auth: &AuthServer, token: &str) -> Result<Value, AuthError> {
    let Some(active) = grants::active_access_token(auth.store(), token).await? else {
        return Ok(json!({"active": false}));
    };
    let grant = &active.grant;
    let mut body = Map::new();
    body.insert("active".into(), json!(true));
    body.insert("scope".into(), json!(active.scopes.to_string()));
    body.insert("client_id".into(), json!(grant.client_id));
    body.insert("exp".into(), json!(active.expires_at));
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("iss".into(), json!(auth.issuer));
    body.insert("aud".into(), json!(auth.issuer));
    if let Some(sub) = &grant.subject {
        body.insert("sub".into(), json!(sub));
    }
    if let Some(patient) = &grant.patient {
        body.insert("patient".into(), json!(patient));
    }
    if let Some(encounter) = &grant.encounter {
        body.insert("encounter".into(), json!(encounter));
    }
    if let Some(user) = &grant.fhir_user {
        body.insert("fhirUser".into(), json!(format!("{}/{user}", auth.issuer)));
    }
    Ok(Value::Object(body))
}

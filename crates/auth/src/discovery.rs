//! Discovery documents: SMART's `.well-known/smart-configuration`, OpenID Connect's
//! `.well-known/openid-configuration`, and the `oauth-uris` extension of the CapabilityStatement.
//! All three are built from [`Endpoints`], so their URLs cannot disagree.

use serde_json::{Value, json};

use super::AuthServer;

/// The absolute URLs of the authorization server.
pub struct Endpoints {
    pub issuer: String,
    pub jwks: String,
    pub authorize: String,
    pub token: String,
    pub introspect: String,
    pub revoke: String,
    pub register: String,
}

impl Endpoints {
    /// The endpoints for a FHIR base URL (they all live under it).
    pub fn for_base(base_url: &str) -> Endpoints {
        let base = base_url.trim_end_matches('/');
        Endpoints {
            issuer: base.to_string(),
            jwks: format!("{base}/.well-known/jwks.json"),
            authorize: format!("{base}/auth/authorize"),
            token: format!("{base}/auth/token"),
            introspect: format!("{base}/auth/introspect"),
            revoke: format!("{base}/auth/revoke"),
            register: format!("{base}/auth/register"),
        }
    }
}

/// The SMART capabilities this server really implements (SMART App Launch 2.2 §Capabilities).
const CAPABILITIES: &[&str] = &[
    "launch-standalone",
    "authorize-post",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "sso-openid-connect",
    "context-standalone-patient",
    "permission-offline",
    "permission-online",
    "permission-patient",
    "permission-user",
    "permission-v1",
    "permission-v2",
];

/// Added when EHR launch works (the launch page needs a login: the demo login).
const EHR_CAPABILITIES: &[&str] = &["launch-ehr", "context-ehr-patient", "context-ehr-encounter"];

const SCOPES_SUPPORTED: &[&str] = &[
    "openid",
    "fhirUser",
    "launch/patient",
    "offline_access",
    "online_access",
    "patient/*.cruds",
    "patient/*.rs",
    "patient/*.read",
    "patient/*.write",
    "user/*.cruds",
    "user/*.rs",
    "user/*.read",
    "user/*.write",
    "system/*.cruds",
    "system/*.rs",
    "system/*.read",
];

pub fn smart_configuration(auth: &AuthServer) -> Value {
    let e = Endpoints::for_base(&auth.issuer);
    let mut capabilities: Vec<&str> = CAPABILITIES.to_vec();
    let mut scopes: Vec<&str> = SCOPES_SUPPORTED.to_vec();
    if auth.ehr_launch() {
        capabilities.splice(0..0, EHR_CAPABILITIES.iter().copied());
        scopes.insert(2, "launch");
    }
    let mut config = json!({
        "issuer": e.issuer,
        "jwks_uri": e.jwks,
        "authorization_endpoint": e.authorize,
        "token_endpoint": e.token,
        "introspection_endpoint": e.introspect,
        "revocation_endpoint": e.revoke,
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "scopes_supported": scopes,
        "capabilities": capabilities,
    });
    if auth.registration.enabled {
        config["registration_endpoint"] = json!(e.register);
    }
    config
}

pub fn openid_configuration(auth: &AuthServer) -> Value {
    let e = Endpoints::for_base(&auth.issuer);
    let mut config = json!({
        "issuer": e.issuer,
        "authorization_endpoint": e.authorize,
        "token_endpoint": e.token,
        "jwks_uri": e.jwks,
        "introspection_endpoint": e.introspect,
        "revocation_endpoint": e.revoke,
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
        "scopes_supported": ["openid", "fhirUser"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "fhirUser"],
    });
    if auth.registration.enabled {
        config["registration_endpoint"] = json!(e.register);
    }
    config
}

/// Adds the `register` URI to a CapabilityStatement's `oauth-uris` when dynamic registration is
/// on, so it and `registration_endpoint` in the well-known documents are present together or not at all.
pub fn announce_registration(auth: &AuthServer, statement: &mut Value) {
    if !auth.registration.enabled {
        return;
    }
    let register = json!({"url": "register", "valueUri": Endpoints::for_base(&auth.issuer).register});
    let uris = statement.pointer_mut("/rest/0/security/extension/0/extension").and_then(Value::as_array_mut);
    if let Some(uris) = uris {
        uris.push(register);
    }
}

/// `CapabilityStatement.rest.security`: SMART-on-FHIR with the `oauth-uris` extension.
pub fn capability_security(base_url: &str) -> Value {
    let e = Endpoints::for_base(base_url);
    let uri = |name: &str, value: &str| json!({"url": name, "valueUri": value});
    json!({
        "cors": true,
        "service": [{
            "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                "code": "SMART-on-FHIR",
            }],
            "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
        }],
        "description": "Bearer tokens from this server's SMART authorization server. Patients see their own record, \
    parents their children's until 18, proxies, doctors and pharmacists what active Consents (category \
    pl-ikp-authorization-type), primary care and their own documents give them; backend services what their \
    system/ scopes allow. Records outside a caller's reach answer 404. Every access and change is recorded as \
    an AuditEvent that the patient concerned can search.",
        "extension": [{
            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
            "extension": [
                uri("authorize", &e.authorize),
                uri("token", &e.token),
                uri("introspect", &e.introspect),
                uri("revoke", &e.revoke),
            ],
        }],
    })
}

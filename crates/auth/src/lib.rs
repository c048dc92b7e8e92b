//! The SMART-on-FHIR authorization server: discovery, signing keys, registered clients, the
//! authorization-code flow with a pluggable login, the token endpoint (authorization_code,
//! refresh_token, client_credentials), introspection, revocation, and bearer-token verification
//! that yields a [`crate::access::principal::Principal`] for the access policy (`crate::access`).
//!
//! It sits beside `interaction`: the REST layer calls it, it calls the store (its own tables through
//! the repositories of `crate::store::auth`, which hold all of its SQL, and the search interaction
//! to find the FHIR resources of a user); nothing here knows HTTP or SQL.

pub mod assertion;
pub mod authorize;
pub mod bearer;
pub mod binding;
pub mod clients;
pub mod demo;
pub mod discovery;
pub mod error;
pub mod grants;
pub mod identity;
pub mod jose;
pub mod keys;
pub mod launch;
pub mod oidc;
pub mod pkce;
pub mod registration;
pub mod throttle;
pub mod token;

// The layers below, under the names the modules use (`crate::store`, `crate::session`...).
use ikp_core::{access, audit, session};
use ikp_model::clock;
use ikp_store as store;
use ikp_terminology as terminology;
use ikp_validation as validation;

use std::sync::Arc;

pub use error::AuthError;

use crate::session::Session;
use crate::store::Store;

/// Lifetimes, in seconds.
pub const ACCESS_TOKEN_SECONDS: i64 = 3600;
pub const BACKEND_TOKEN_SECONDS: i64 = 300;
pub const CODE_SECONDS: i64 = 60;
pub const REQUEST_SECONDS: i64 = 600;
pub const OFFLINE_REFRESH_SECONDS: i64 = 30 * 24 * 3600;
pub const ONLINE_REFRESH_SECONDS: i64 = 12 * 3600;
pub const ID_TOKEN_SECONDS: i64 = 3600;
/// Clock skew tolerated on assertions and id_tokens from others.
pub const SKEW_SECONDS: i64 = 60;

/// The authorization server's state, shared by all requests.
#[derive(Clone)]
pub struct AuthServer {
    /// The server's own session over the FHIR data: users are found by PESEL, and their
    /// entitlements worked out, with its look-ups.
    pub session: Session,
    /// The authorization server's own tables (clients, grants, codes, tokens, keys).
    store: Arc<dyn Store>,
    /// Our issuer: the FHIR base URL (id_tokens' `iss`, and where discovery lives).
    pub issuer: String,
    /// Keyed hash for opaque, stable subject ids (never the PESEL itself).
    subject_key: Arc<Vec<u8>>,
    /// Whether the demo login (and its users) is enabled.
    pub demo: bool,
    pub upstream: Option<Arc<oidc::UpstreamProvider>>,
    pub http: reqwest::Client,
    /// RFC 7591 dynamic registration (off until the server turns it on).
    pub registration: registration::RegistrationPolicy,
    /// Failed logins per account and address (this node's).
    pub throttle: Arc<throttle::LoginThrottle>,
}

impl AuthServer {
    pub async fn new(
        session: Session,
        store: Arc<dyn Store>,
        demo: bool,
        upstream: Option<oidc::UpstreamConfig>,
    ) -> Result<AuthServer, AuthError> {
        let subject_key = crate::store::shared_secret(store.as_ref(), "auth-subject").await?;
        keys::ensure_signing_key(store.as_ref()).await?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        Ok(AuthServer {
            issuer: session.base_url.clone(),
            session: session.system("the authorization server"),
            store,
            subject_key: Arc::new(subject_key),
            demo,
            upstream: upstream.map(|config| Arc::new(oidc::UpstreamProvider::new(config))),
            http,
            registration: registration::RegistrationPolicy::default(),
            throttle: Arc::default(),
        })
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}/auth/{path}", self.issuer)
    }

    pub fn token_endpoint(&self) -> String {
        self.endpoint("token")
    }

    /// Whether EHR launch works: the launch page logs users in with the demo login.
    pub fn ehr_launch(&self) -> bool {
        self.demo
    }

    /// A stable opaque subject id for a national identifier.
    pub fn subject_for(&self, national_id: &str) -> String {
        let mut input = self.subject_key.as_ref().clone();
        input.extend_from_slice(national_id.as_bytes());
        hex(&openssl::sha::sha256(&input)[..16])
    }
}

/// Seconds since the epoch.
pub fn now_seconds() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A fresh unguessable token (256 bits, base64url).
pub fn random_token() -> Result<String, AuthError> {
    let mut bytes = [0u8; 32];
    openssl::rand::rand_bytes(&mut bytes).map_err(|e| AuthError::Internal(e.to_string()))?;
    Ok(jose::b64(&bytes))
}

/// How tokens, codes and secrets are stored: their SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    hex(&openssl::sha::sha256(token.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time equality of two strings (secrets, PKCE challenges).
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a.as_bytes(), b.as_bytes())
}

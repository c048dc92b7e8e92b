//! The authorization endpoint's logic: validate an authorization request (RFC 6749 §4.1.1 with
//! SMART's `aud` and mandatory PKCE S256), keep it server-side while the user logs in, picks a
//! patient and consents, then turn the consent into a grant and a single-use code. With an EHR
//! launch (`launch=...`) the patient comes from the launch and no picker is shown.
//!
//! A pending request is bound to the browser that started it ([`super::binding`]): loading it
//! takes the secret that browser presents, so no step can be taken from another browser.

use serde::{Deserialize, Serialize};

use super::binding::{self, Binding};
use super::grants::GrantContext;
use super::identity::Account;
use super::launch::{self, LaunchContext};
use super::{AuthError, AuthServer, REQUEST_SECONDS, clients, grants, now_seconds, pkce};
use crate::access::scopes::{Context, Scopes};
use crate::store::auth::requests;

/// A validated authorization request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: String,
    /// Requested ∩ what the client may be granted; consent narrows it further.
    pub scope: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
    /// The EHR launch the request came with, if any.
    #[serde(default)]
    pub launch: Option<LaunchContext>,
}

/// An authorization request that cannot go on, and where (if anywhere) to tell the client.
#[derive(Debug)]
pub struct Refusal {
    pub error: AuthError,
    /// The redirect URI and state, when the redirect URI is trustworthy.
    pub redirect: Option<(String, Option<String>)>,
}

impl From<AuthError> for Refusal {
    fn from(error: AuthError) -> Refusal {
        Refusal { error, redirect: None }
    }
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

/// Validates the parameters of GET or POST /authorize.
pub async fn validate(auth: &AuthServer, params: &[(String, String)]) -> Result<AuthorizationRequest, Refusal> {
    let untrusted = |m: &str| Refusal { error: AuthError::UntrustedRedirect(m.to_string()), redirect: None };
    let client_id = param(params, "client_id").ok_or_else(|| untrusted("client_id is missing"))?;
    let client = clients::get(auth.store(), client_id).await?.ok_or_else(|| untrusted("unknown client_id"))?;
    let redirect_uri = param(params, "redirect_uri").ok_or_else(|| untrusted("redirect_uri is missing"))?;
    // Exact string match against the registered URIs (RFC 9700); nothing is redirected otherwise.
    if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
        return Err(untrusted("redirect_uri is not registered for this client"));
    }
    let state = param(params, "state").map(str::to_string);
    let refuse = |error: AuthError| Refusal { error, redirect: Some((redirect_uri.to_string(), state.clone())) };
    if param(params, "response_type") != Some("code") {
        return Err(refuse(AuthError::UnsupportedResponseType("response_type must be code".into())));
    }
    let Some(state_value) = state.clone() else {
        return Err(refuse(AuthError::InvalidRequest("state is required".into())));
    };
    let aud = param(params, "aud").or_else(|| param(params, "resource")).map(|a| a.trim_end_matches('/'));
    if aud != Some(auth.issuer.as_str()) {
        return Err(refuse(AuthError::InvalidRequest(format!("aud must be the FHIR base URL {}", auth.issuer))));
    }
    let launch = match param(params, "launch") {
        Some(id) => Some(launch::find(auth, id, &client.client_id).await.map_err(refuse)?),
        None => None,
    };
    let code_challenge = pkce::check_challenge(param(params, "code_challenge"), param(params, "code_challenge_method"))
        .map_err(refuse)?;
    let requested = Scopes::parse(param(params, "scope").unwrap_or_default());
    if launch.is_some() && !requested.has("launch") {
        return Err(refuse(AuthError::InvalidScope("an EHR launch must request the launch scope".into())));
    }
    // `launch` is granted with a launch the user made for this client, and only then.
    let ceiling = match launch {
        Some(_) => Scopes::parse(&format!("{} launch", client.scopes)),
        None => Scopes::parse(&client.scopes).without("launch"),
    };
    let allowed = requested.within(&ceiling);
    if allowed.resources.iter().any(|s| s.context == Context::System) || allowed.is_empty() {
        return Err(refuse(AuthError::InvalidScope("no requested scope can be granted to this client".into())));
    }
    Ok(AuthorizationRequest {
        client_id: client.client_id,
        redirect_uri: redirect_uri.to_string(),
        state: state_value,
        scope: allowed.to_string(),
        code_challenge,
        nonce: param(params, "nonce").map(str::to_string),
        launch,
    })
}

/// What is kept of a pending request: the request and the hash of its browser binding.
#[derive(Serialize, Deserialize)]
struct Pending {
    #[serde(flatten)]
    request: AuthorizationRequest,
    /// SHA-256 of the binding cookie's secret (empty: none, and nothing will match).
    #[serde(default)]
    browser: String,
}

/// A request kept for the user's login and consent: its handle (for URLs) and the secret the
/// browser must keep in its binding cookie.
pub struct Saved {
    pub id: String,
    pub browser_secret: String,
}

/// Keeps a validated request until the user has logged in and consented, bound to the browser
/// that will get `browser_secret`.
pub async fn save(auth: &AuthServer, request: &AuthorizationRequest) -> Result<Saved, AuthError> {
    let id = super::random_token()?;
    let binding = Binding::new()?;
    let pending = Pending { request: request.clone(), browser: binding.hash };
    let params = serde_json::to_string(&pending).map_err(|e| AuthError::Internal(e.to_string()))?;
    let now = now_seconds();
    requests::delete_expired(auth.store(), now).await?;
    requests::insert(auth.store(), &id, &params, now + REQUEST_SECONDS).await?;
    Ok(Saved { id, browser_secret: binding.secret })
}

/// A pending request and the account that logged in for it, if any, for the browser that
/// presents `browser_secret` (the binding cookie's value); any other browser is refused.
pub async fn load(
    auth: &AuthServer,
    id: &str,
    browser_secret: Option<&str>,
) -> Result<(AuthorizationRequest, Option<Account>), AuthError> {
    let row = requests::find_unexpired(auth.store(), id, now_seconds())
        .await?
        .ok_or_else(|| AuthError::InvalidRequest("the login has expired; start again".into()))?;
    let pending: Pending =
        serde_json::from_str(&row.params).map_err(|_| AuthError::Internal("malformed pending request".into()))?;
    binding::check(&pending.browser, browser_secret)?;
    let account = row.account.and_then(|t| serde_json::from_str(&t).ok());
    Ok((pending.request, account))
}

/// Records who logged in for a pending request.
pub async fn attach_account(auth: &AuthServer, id: &str, account: &Account) -> Result<(), AuthError> {
    let text = serde_json::to_string(account).map_err(|e| AuthError::Internal(e.to_string()))?;
    requests::attach_account(auth.store(), id, &text).await?;
    Ok(())
}

/// Whether the request needs a patient in context.
pub fn needs_patient(scopes: &Scopes) -> bool {
    scopes.has("launch/patient") || scopes.has_context(Context::Patient)
}

/// The user's decision on the consent page: the scopes kept and the patient picked.
pub struct Consent {
    pub approved: bool,
    pub scopes: Vec<String>,
    pub patient: Option<String>,
}

/// Turns a consent into a grant and a code; returns the URL to send the browser to. Only the
/// browser the request is bound to may answer it (checked before anything changes).
pub async fn decide(
    auth: &AuthServer,
    id: &str,
    browser_secret: Option<&str>,
    consent: &Consent,
) -> Result<String, Refusal> {
    let (request, account) = load(auth, id, browser_secret).await?;
    if !requests::delete(auth.store(), id).await.map_err(AuthError::from)? {
        return Err(AuthError::InvalidRequest("this request was already answered".into()).into());
    }
    let redirect = Some((request.redirect_uri.clone(), Some(request.state.clone())));
    let refuse = |error: AuthError| Refusal { error, redirect: redirect.clone() };
    let account = account.ok_or_else(|| refuse(AuthError::AccessDenied("nobody logged in".into())))?;
    if !consent.approved {
        return Err(refuse(AuthError::AccessDenied("the user denied access".into())));
    }
    let scopes = Scopes::parse(&request.scope).only(&consent.scopes);
    let mut fhir_user = account.fhir_user.clone();
    let mut patient = None;
    let mut encounter = None;
    if let Some(launch) = &request.launch {
        // The launch's context, re-checked against the user who logged in here.
        if launch.subject.as_ref().is_some_and(|s| s != &account.subject) {
            return Err(refuse(AuthError::AccessDenied("the app was launched by another user".into())));
        }
        let choice = account.choices.iter().find(|c| c.patient_id == launch.patient).ok_or_else(|| {
            refuse(AuthError::AccessDenied("this user may not act for the patient of the launch".into()))
        })?;
        patient = Some(choice.patient_id.clone());
        fhir_user = Some(choice.acting_as.clone());
        encounter = launch.encounter.clone();
        launch::use_up(auth, launch).await.map_err(refuse)?;
    } else if needs_patient(&scopes) {
        let choice = match &consent.patient {
            Some(picked) => account.choices.iter().find(|c| &c.patient_id == picked),
            None if account.choices.len() == 1 => account.choices.first(),
            None => None,
        };
        let choice = choice
            .ok_or_else(|| refuse(AuthError::AccessDenied("no patient this user may act for was chosen".into())))?;
        patient = Some(choice.patient_id.clone());
        fhir_user = Some(choice.acting_as.clone());
    }
    if scopes.resources.is_empty() && !scopes.has("openid") {
        return Err(refuse(AuthError::AccessDenied("the user granted no scope".into())));
    }
    let store = auth.store();
    let context = GrantContext { subject: Some(account.subject), fhir_user, patient, encounter };
    let grant = grants::create_grant(store, &request.client_id, context, &scopes).await.map_err(refuse)?;
    let code =
        grants::create_code(store, &grant, &request.redirect_uri, &request.code_challenge, request.nonce.as_deref())
            .await
            .map_err(refuse)?;
    Ok(redirect_with(&request.redirect_uri, &[("code", &code), ("state", &request.state), ("iss", &auth.issuer)]))
}

/// `uri` with query parameters appended.
pub fn redirect_with(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        query.append_pair(k, v);
    }
    let separator = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{separator}{}", query.finish())
}

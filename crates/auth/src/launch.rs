//! EHR launch (SMART App Launch "launch-ehr"): a logged-in user opens an app from the server's own
//! pages for a patient they may act for; the app receives `iss` and an opaque `launch` id, and
//! presents the id at /authorize, where the launch's patient (and encounter) become the context of
//! the grant without a patient picker.
//!
//! A launch id is random (256 bits) and only its SHA-256 is stored. It is bound to one client and
//! to the user who launched; it expires after [`LAUNCH_SECONDS`], and the first authorization code
//! issued for it uses it up.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::identity::Account;
use super::{AuthError, AuthServer, authorize, clients, now_seconds, random_token, token_hash};
use crate::store::auth::launches::{self as rows, LaunchRow, NewLaunch};

/// How long a launch id may be presented at /authorize, in seconds.
pub const LAUNCH_SECONDS: i64 = 600;

/// The context of a launch, as /authorize finds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchContext {
    /// The stored hash of the launch id (to use the launch up when a code is issued).
    pub id_hash: String,
    pub patient: String,
    pub encounter: Option<String>,
    /// The opaque subject of the user who launched, when known.
    pub subject: Option<String>,
}

/// What a user asks to launch.
pub struct LaunchRequest<'a> {
    pub client_id: &'a str,
    /// The patient's id; may be left out when the user may act for one patient only.
    pub patient: Option<&'a str>,
    pub encounter: Option<&'a str>,
}

/// The client's launch URL, or why the client cannot be launched.
pub async fn launch_uri(auth: &AuthServer, client_id: &str) -> Result<String, AuthError> {
    let client = clients::get(auth.store(), client_id)
        .await?
        .ok_or_else(|| AuthError::InvalidRequest("unknown client_id".into()))?;
    client.launch_uri.ok_or_else(|| AuthError::InvalidRequest("this client has no registered launch URL".into()))
}

/// Creates a launch for a logged-in account and returns where to send the browser: the client's
/// launch URL with `iss` and `launch`. The patient must be one the account may act for, and the
/// encounter (if any) one of that patient's.
pub async fn start(auth: &AuthServer, account: &Account, request: &LaunchRequest<'_>) -> Result<String, AuthError> {
    let uri = launch_uri(auth, request.client_id).await?;
    let choice = match request.patient {
        Some(patient) => account.choices.iter().find(|c| c.patient_id == patient),
        None if account.choices.len() == 1 => account.choices.first(),
        None => return Err(AuthError::InvalidRequest("choose the patient to launch the app for".into())),
    };
    let choice =
        choice.ok_or_else(|| AuthError::AccessDenied("this user may not act for the requested patient".into()))?;
    if let Some(encounter) = request.encounter {
        check_encounter(auth, encounter, &choice.patient_id).await?;
    }
    let id = random_token()?;
    let now = now_seconds();
    rows::delete_expired(auth.store(), now - LAUNCH_SECONDS).await?;
    let new = NewLaunch {
        id_hash: &token_hash(&id),
        client_id: request.client_id,
        patient: &choice.patient_id,
        encounter: request.encounter,
        subject: &account.subject,
        created_at: now,
        expires_at: now + LAUNCH_SECONDS,
    };
    rows::insert(auth.store(), &new).await?;
    tracing::info!(client_id = request.client_id, "EHR launch created");
    Ok(authorize::redirect_with(&uri, &[("iss", &auth.issuer), ("launch", &id)]))
}

/// The encounter must exist and be the patient's.
async fn check_encounter(auth: &AuthServer, encounter: &str, patient: &str) -> Result<(), AuthError> {
    let unknown = || AuthError::InvalidRequest("the encounter is not one of this patient's".into());
    let found = auth.session.lookup().read("Encounter", encounter).await;
    let stored = found.map_err(|e| AuthError::Internal(e.to_string()))?.ok_or_else(unknown)?;
    let subject = stored.content().pointer("/subject/reference").and_then(Value::as_str);
    if subject != Some(format!("Patient/{patient}").as_str()) {
        return Err(unknown());
    }
    Ok(())
}

/// The launch a client presents at /authorize: it must exist, be unexpired, unused, and this
/// client's. Every failure is the same `invalid_request`, so ids cannot be probed.
pub async fn find(auth: &AuthServer, launch: &str, client_id: &str) -> Result<LaunchContext, AuthError> {
    let hash = token_hash(launch);
    let refused = || AuthError::InvalidRequest("the launch is unknown, expired, used or not for this client".into());
    let row = rows::find_unused(auth.store(), &hash, now_seconds()).await?.ok_or_else(refused)?;
    let LaunchRow { client_id: owner, patient, encounter, subject } = row;
    if owner != client_id {
        return Err(refused());
    }
    Ok(LaunchContext { id_hash: hash, patient, encounter, subject })
}

/// Uses a launch up (its first code is being issued); fails if it was already used or expired.
pub async fn use_up(auth: &AuthServer, launch: &LaunchContext) -> Result<(), AuthError> {
    if !rows::use_up(auth.store(), &launch.id_hash, now_seconds()).await? {
        return Err(AuthError::InvalidRequest("the launch was already used or has expired".into()));
    }
    Ok(())
}

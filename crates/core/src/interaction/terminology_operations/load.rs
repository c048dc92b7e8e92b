//! Storing the built-in terminology at start-up, so it can be read and searched like any resource.
//! Loading is idempotent (unchanged resources get no new version) and skipped altogether when the
//! fingerprint of the built-in set matches the one stored by the last load.

use std::time::Instant;

use serde_json::Value;

use crate::access::scopes::Interaction;
use crate::error::{FhirError, FhirResult};
use crate::session::Session;
use crate::store::builtin_content;

/// The `builtin_content` rows of the terminology and of the national profiles.
const TERMINOLOGY: &str = "terminology";
const PROFILES: &str = "profiles";
const OPERATIONS: &str = "operations";
/// Resources per database transaction.
const BATCH: usize = 500;

async fn stored_hash(session: &Session, name: &str) -> FhirResult<Option<String>> {
    Ok(builtin_content::stored_hash(session.unconfined(Interaction::Read)?.store(), name).await?)
}

async fn record_hash(session: &Session, name: &str, hash: &str) -> FhirResult<()> {
    Ok(builtin_content::record_hash(session.unconfined(Interaction::Update)?.store(), name, hash).await?)
}

/// Stores every built-in CodeSystem, ValueSet, ConceptMap and NamingSystem unless this exact set
/// was stored before.
pub async fn store_builtin(session: &Session) -> FhirResult<()> {
    let hash = session.terminology.content_hash();
    if stored_hash(session, TERMINOLOGY).await?.as_deref() == Some(hash) {
        return Ok(());
    }
    let builtin = session.terminology.get().map_err(|e| FhirError::Internal(e.to_string()))?;
    store_set(session, TERMINOLOGY, hash, &builtin.resources).await
}

/// Stores the national profiles (StructureDefinitions) and the code systems and value sets they
/// bind to, unless this exact set was stored before.
pub async fn store_profiles(session: &Session) -> FhirResult<()> {
    let hash = session.profiles.content_hash();
    if stored_hash(session, PROFILES).await?.as_deref() == Some(hash.as_str()) {
        return Ok(());
    }
    let resources: Vec<Value> =
        session.profiles.definitions().iter().chain(session.profiles.terminology()).cloned().collect();
    store_set(session, PROFILES, &hash, &resources).await
}

/// Stores the OperationDefinitions of the operations this server defines (from the operation
/// registry), unless this exact set was stored before.
pub async fn store_operations(session: &Session, definitions: Vec<Value>) -> FhirResult<()> {
    store_named(session, OPERATIONS, definitions).await
}

/// Stores a set of resources the server publishes (named `set`, such as its SubscriptionTopics),
/// unless this exact set was stored before.
pub async fn store_named(session: &Session, set: &str, resources: Vec<Value>) -> FhirResult<()> {
    let text = serde_json::to_string(&resources).map_err(|e| FhirError::Internal(e.to_string()))?;
    let hash: String = openssl::sha::sha256(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    if stored_hash(session, set).await?.as_deref() == Some(hash.as_str()) {
        return Ok(());
    }
    store_set(session, set, &hash, &resources).await
}

/// Stores a set of built-in resources in batches and records its fingerprint.
async fn store_set(session: &Session, name: &str, hash: &str, resources: &[Value]) -> FhirResult<()> {
    let started = Instant::now();
    let mut created = 0;
    let mut rejected = 0;
    for chunk in resources.chunks(BATCH) {
        let batch: Vec<(String, Value)> = chunk
            .iter()
            .map(|r| {
                let t = r.get("resourceType").and_then(Value::as_str).unwrap_or_default();
                let id = r.get("id").and_then(Value::as_str).unwrap_or_default();
                (format!("built-in {t}/{id}"), r.clone())
            })
            .collect();
        let report = session.put_all(batch).await?;
        created += report.created + report.updated;
        for (origin, issues) in &report.rejected {
            rejected += 1;
            let first = issues.first().map(|i| i.message.as_str()).unwrap_or_default();
            tracing::warn!(%origin, problem = first, "built-in resource not stored");
        }
    }
    record_hash(session, name, hash).await?;
    tracing::info!(
        set = name,
        stored = created,
        rejected,
        ms = started.elapsed().as_millis() as u64,
        "built-in resources stored"
    );
    Ok(())
}

//! `$reindex` (type and system level): reloads custom SearchParameter resources into the registry
//! and rebuilds the search-index rows of existing resources, in batches. For backend services
//! with a `system/*` scope: it reads every stored resource.

use serde_json::{Value, json};

use super::Response;
use crate::access::scopes::Interaction;
use crate::error::{FhirError, FhirResult};
use crate::search::registry::Registry;
use crate::session::Session;

/// Resources re-indexed per database transaction.
const BATCH: usize = 500;

/// The SearchParameter resources stored on the server (custom parameters).
pub async fn custom_parameters(session: &Session) -> FhirResult<Vec<Value>> {
    let mut parameters = session.lookup().all_of_type("SearchParameter").await?;
    parameters.retain(|p| p.get("status").and_then(Value::as_str) != Some("retired"));
    Ok(parameters)
}

/// Rebuilds the registry from the base definitions plus stored custom parameters.
pub async fn reload_registry(session: &Session) -> FhirResult<()> {
    let custom = custom_parameters(session).await?;
    let registry = Registry::build(session.model, &custom).map_err(|e| FhirError::Internal(e.to_string()))?;
    session.registry.replace(registry);
    Ok(())
}

/// `$reindex` and `[type]/$reindex`.
pub async fn operation(session: &Session, call: &super::operation::Call) -> FhirResult<Response> {
    reindex(session, call.resource_type.as_deref()).await
}

/// Re-extracts index rows for every resource of `resource_type` (all types when `None`).
pub async fn reindex(session: &Session, resource_type: Option<&str>) -> FhirResult<Response> {
    let all = session.unconfined(Interaction::Update)?;
    if let Some(t) = resource_type {
        session.check_type(t)?;
    }
    reload_registry(session).await?;
    let mut after = 0i64;
    let mut total = 0usize;
    loop {
        let rows = all.store().live_contents_after(after, resource_type, BATCH).await?;
        if rows.is_empty() {
            break;
        }
        let mut batch = Vec::with_capacity(rows.len());
        for (rid, text) in &rows {
            let rid = *rid;
            after = after.max(rid);
            let resource: Value = crate::format::json::from_str(text)
                .map_err(|e| FhirError::Internal(format!("stored resource {rid} is not JSON: {e}")))?;
            let t = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default().to_string();
            batch.push((rid, t, session.index(&resource)));
        }
        total += batch.len();
        let mut tx = all.store().begin().await?;
        tx.replace_index(batch).await?;
        tx.commit().await?;
    }
    tracing::info!(resource_type = resource_type.unwrap_or("*"), resources = total, "reindexed");
    Ok(Response::resource(
        200,
        json!({
            "resourceType": "Parameters",
            "parameter": [
                {"name": "resourceType", "valueString": resource_type.unwrap_or("*")},
                {"name": "reindexed", "valueInteger": total},
            ]
        }),
    ))
}

//! `$reindex` (type and system level): reloads custom SearchParameter resources into the registry
//! and rebuilds the search-index rows of existing resources, in batches.

use serde_json::{Value, json};

use super::{Fhir, Response};
use crate::error::{FhirError, FhirResult};
use crate::search::registry::Registry;
use crate::store::sql::{Bind, Cell, Column, Sql};

/// Resources re-indexed per database transaction.
const BATCH: usize = 500;

/// The SearchParameter resources stored on the server (custom parameters).
pub async fn custom_parameters(fhir: &Fhir) -> FhirResult<Vec<Value>> {
    let mut parameters = fhir.all_of_type("SearchParameter").await?;
    parameters.retain(|p| p.get("status").and_then(Value::as_str) != Some("retired"));
    Ok(parameters)
}

/// Rebuilds the registry from the base definitions plus stored custom parameters.
pub async fn reload_registry(fhir: &Fhir) -> FhirResult<()> {
    let custom = custom_parameters(fhir).await?;
    let registry = Registry::build(fhir.model, &custom).map_err(|e| FhirError::Internal(e.to_string()))?;
    fhir.registry.replace(registry);
    Ok(())
}

/// Re-extracts index rows for every resource of `resource_type` (all types when `None`).
pub async fn reindex(fhir: &Fhir, resource_type: Option<&str>) -> FhirResult<Response> {
    fhir.grant_system(crate::auth::scopes::Interaction::Update)?;
    if let Some(t) = resource_type {
        fhir.check_type(t)?;
    }
    reload_registry(fhir).await?;
    let mut after = 0i64;
    let mut total = 0usize;
    loop {
        let mut sql = Sql::new(
            "SELECT r.rid, v.content FROM resource r JOIN resource_version v ON v.seq = r.seq WHERE r.deleted = FALSE AND r.rid > ",
        );
        sql.bind(Bind::Int(after));
        if let Some(t) = resource_type {
            sql.push(" AND r.res_type = ").bind(Bind::Text(t.to_string()));
        }
        sql.push(" ORDER BY r.rid LIMIT ").bind(Bind::Int(BATCH as i64));
        let rows = fhir.store.query(sql, &[Column::Int, Column::Text]).await?;
        if rows.is_empty() {
            break;
        }
        let mut batch = Vec::with_capacity(rows.len());
        for row in &rows {
            let (Some(rid), Some(text)) = (row.first().and_then(Cell::as_int), row.get(1).and_then(Cell::as_text))
            else {
                continue;
            };
            after = after.max(rid);
            let resource: Value = serde_json::from_str(text)
                .map_err(|e| FhirError::Internal(format!("stored resource {rid} is not JSON: {e}")))?;
            let t = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default().to_string();
            batch.push((rid, t, fhir.index(&resource)));
        }
        total += batch.len();
        let mut tx = fhir.store.begin().await?;
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

//! The one way writes reach the database: every new version passes the access policy, and the
//! audit trail of the change is written in the same transaction (so there is no change without
//! its AuditEvent, and no AuditEvent for a change that was rolled back).

use std::collections::HashMap;

use super::Fhir;
use super::write::{Target, stamp};
use crate::audit;
use crate::auth::scopes::Interaction;
use crate::error::{FhirError, FhirResult};
use crate::store::sql::{Cell, Column, Sql, push_keys};
use crate::store::{Method, NewVersion, StoreTx};

/// Checks, audits, stores and commits `versions`.
pub async fn commit(fhir: &Fhir, mut tx: Box<dyn StoreTx>, mut versions: Vec<NewVersion>) -> FhirResult<()> {
    if let Some(caller) = fhir.caller.clone() {
        let replaced: Vec<(String, String)> =
            versions.iter().filter(|v| v.replaces_index).map(|v| (v.resource_type.clone(), v.id.clone())).collect();
        let before = compartments(tx.as_mut(), &replaced).await?;
        if !caller.vouched {
            check(fhir, &versions, &before)?;
        }
        let now = super::now();
        for event in audit::write_events(&caller, &versions, &before, now) {
            let id = super::write::new_id();
            let target = Target { resource_type: "AuditEvent", id: &id, version: 1, replaces_index: false };
            versions.push(stamp(fhir, event, target, now, Method::Create)?);
        }
    }
    tx.put(versions).await?;
    tx.commit().await?;
    Ok(())
}

/// What a version does, for the scope check.
fn interaction_of(v: &NewVersion) -> Interaction {
    match v.method {
        Method::Delete => Interaction::Delete,
        _ if v.version == 1 => Interaction::Create,
        _ => Interaction::Update,
    }
}

/// The policy on writes: the scopes must allow the interaction on the type, and a confined caller
/// may only write where it may act, both before (the version replaced) and after the change.
fn check(fhir: &Fhir, versions: &[NewVersion], before: &Compartments) -> FhirResult<()> {
    for v in versions {
        let action = interaction_of(v);
        if !fhir.grant(&v.resource_type, action)?.is_empty() {
            return Err(FhirError::Forbidden("granular scopes allow reads and searches only".into()));
        }
    }
    let Some(reach) = fhir.reach() else { return Ok(()) };
    for v in versions {
        let key = (v.resource_type.clone(), v.id.clone());
        if v.replaces_index {
            let was = before.get(&key).map(Vec::as_slice).unwrap_or_default();
            if !reach.admits(&v.resource_type, was, true) {
                // Someone who may read it learns why; anyone else sees no such resource.
                return Err(if reach.admits(&v.resource_type, was, false) {
                    FhirError::Forbidden(format!("{}/{} may be read but not changed by you", key.0, key.1))
                } else {
                    FhirError::NotFound(format!("{}/{}", key.0, key.1))
                });
            }
        }
        if v.method != Method::Delete {
            let now: Vec<(String, String)> =
                v.index.compartments.iter().map(|c| (c.comp_type.clone(), c.comp_id.clone())).collect();
            if !reach.admits(&v.resource_type, &now, true) {
                return Err(FhirError::Forbidden(format!(
                    "this {} would be outside the records you may act for",
                    v.resource_type
                )));
            }
        }
    }
    Ok(())
}

/// Resources' compartments: (type, id) → [(compartment type, compartment id)].
pub type Compartments = HashMap<(String, String), Vec<(String, String)>>;

/// The compartments the current versions of these resources belong to.
async fn compartments(tx: &mut dyn StoreTx, keys: &[(String, String)]) -> FhirResult<Compartments> {
    let mut found = Compartments::new();
    for chunk in keys.chunks(crate::store::sql::CHUNK / 2) {
        let mut sql = Sql::new(
            "SELECT r.res_type, r.res_id, c.comp_type, c.comp_id FROM resource r JOIN compartment c ON c.rid = r.rid \
             WHERE ",
        );
        push_keys(&mut sql, "r.res_type", "r.res_id", chunk);
        let rows = tx.query(sql, &[Column::Text, Column::Text, Column::Text, Column::Text]).await?;
        for row in rows {
            let text = |i: usize| row.get(i).and_then(Cell::as_text).unwrap_or_default().to_string();
            found.entry((text(0), text(1))).or_default().push((text(2), text(3)));
        }
    }
    Ok(found)
}

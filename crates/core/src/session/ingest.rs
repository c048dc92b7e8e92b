//! Storing many resources with their own ids at once (bulk import, loading bundles): one
//! transaction per batch, one query per table, and no new version when a resource is unchanged,
//! so loading the same data twice changes nothing.

use std::collections::HashMap;

use serde_json::Value;

use super::Session;
use super::prepare::{NextVersion, check_body, stamp};
use crate::clock::{Micros, now};
use crate::context::Fhir;
use crate::error::{FhirError, FhirResult};
use crate::outcome::Issue;
use crate::store::{Method, NewVersion};

/// What a batch did.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Resources refused, with where they came from and why.
    pub rejected: Vec<(String, Vec<Issue>)>,
}

impl Report {
    pub fn add(&mut self, other: Report) {
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.rejected.extend(other.rejected);
    }
}

fn without_meta(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("meta");
    }
    v
}

/// Resources that passed the checks, keyed by type and id (the last of duplicates wins), in
/// first-seen order: the CPU half of an ingest batch, which needs no database and so can run
/// while the previous batch is being written.
#[derive(Debug, Default, Clone)]
pub struct Checked {
    order: Vec<(String, String)>,
    resources: HashMap<(String, String), Prepared>,
    at: Micros,
}

/// A checked resource and its first version, stamped and indexed ahead of time because most
/// imported resources are new; one that already exists is stamped again with its next version.
#[derive(Debug, Clone)]
struct Prepared {
    resource: Value,
    first: NewVersion,
}

impl Checked {
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// Validates `(origin, resource)` pairs; invalid ones go to the report.
pub fn check_all(fhir: &Fhir, resources: Vec<(String, Value)>, report: &mut Report) -> Checked {
    let mut checked = Checked { at: now(), ..Checked::default() };
    for (origin, resource) in resources {
        let key =
            match (resource.get("resourceType").and_then(Value::as_str), resource.get("id").and_then(Value::as_str)) {
                (Some(t), Some(id)) => (t.to_string(), id.to_string()),
                _ => {
                    report.rejected.push((
                        origin,
                        vec![Issue::error(crate::outcome::IssueType::Required, "a resource needs resourceType and id")],
                    ));
                    continue;
                }
            };
        let prepared = fhir.check_type(&key.0).and_then(|_| check_body(fhir, &key.0, &resource)).and_then(|()| {
            let target = NextVersion { resource_type: &key.0, id: &key.1, version: 1, replaces_index: false };
            let first = stamp(fhir, resource.clone(), target, checked.at, Method::Update)?;
            Ok(Prepared { resource, first })
        });
        match prepared {
            Ok(prepared) => {
                if checked.resources.insert(key.clone(), prepared).is_none() {
                    checked.order.push(key);
                }
            }
            Err(FhirError::BadRequest(issues) | FhirError::Unprocessable(issues)) => {
                report.rejected.push((origin, issues))
            }
            Err(e) => report.rejected.push((origin, e.issues())),
        }
    }
    checked
}

impl Session {
    /// Stores `(origin, resource)` pairs with PUT semantics in one transaction. Invalid resources
    /// are reported and skipped; the rest are written together.
    pub async fn put_all(&self, resources: Vec<(String, Value)>) -> FhirResult<Report> {
        let mut report = Report::default();
        let checked = check_all(self, resources, &mut report);
        report.add(self.ingest(checked).await?);
        Ok(report)
    }

    /// Writes checked resources with PUT semantics in one transaction: one query per table, and
    /// an unchanged resource (ignoring `meta`) gets no new version. The server's own bulk work
    /// (import, built-in content): not for requests, so nothing is judged or audited.
    pub async fn ingest(&self, checked: Checked) -> FhirResult<Report> {
        if self.caller().is_some() {
            return Err(FhirError::Forbidden("bulk ingest is the server's own work".into()));
        }
        let mut report = Report::default();
        let Checked { order, resources: mut accepted, at } = checked;
        if order.is_empty() {
            return Ok(report);
        }
        let mut tx = self.store().begin().await?;
        let current = tx.lock_current_many(&order).await?;
        let live: Vec<(String, String)> =
            order.iter().filter(|k| current.get(*k).is_some_and(|c| !c.deleted)).cloned().collect();
        let mut stored: HashMap<(String, String), Value> = HashMap::new();
        for v in tx.current_versions(&live).await? {
            if let Some(value) = v.content.as_deref().and_then(|c| crate::format::json::from_str(c).ok()) {
                stored.insert((v.resource_type, v.id), value);
            }
        }
        let mut versions = Vec::with_capacity(order.len());
        for key in &order {
            let Some(Prepared { resource, first }) = accepted.remove(key) else { continue };
            let state = current.get(key);
            if state.is_none() {
                versions.push(first);
                report.created += 1;
                continue;
            }
            let is_live = state.is_some_and(|c| !c.deleted);
            if is_live && stored.get(key).is_some_and(|old| without_meta(old) == without_meta(&resource)) {
                report.unchanged += 1;
                continue;
            }
            let version = state.map_or(1, |c| c.version + 1);
            let target = NextVersion { resource_type: &key.0, id: &key.1, version, replaces_index: is_live };
            versions.push(stamp(self, resource, target, at, Method::Update)?);
            if is_live {
                report.updated += 1;
            } else {
                report.created += 1;
            }
        }
        if versions.iter().any(|v| super::commit::POLICY_TYPES.contains(&v.resource_type.as_str())) {
            tx.advance_policy_generation().await?;
        }
        tx.put(versions).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// Stores, one by one and validated like any write, those of `resources` whose type and id
    /// are not stored yet; existing ones are left as they are (seeding demo data).
    pub async fn store_missing(&self, resources: Vec<Value>) -> FhirResult<()> {
        for resource in resources {
            let (Some(t), Some(id)) =
                (resource["resourceType"].as_str().map(str::to_string), resource["id"].as_str().map(str::to_string))
            else {
                continue;
            };
            if self.store().read(&t, &id).await?.is_some() {
                continue;
            }
            self.commit(super::Write::update(&t, &id, resource, None)).await.map_err(|e| match e {
                FhirError::Unprocessable(mut issues) | FhirError::BadRequest(mut issues) => {
                    for issue in &mut issues {
                        issue.message = format!("{t}/{id}: {}", issue.message);
                    }
                    FhirError::Unprocessable(issues)
                }
                other => other,
            })?;
        }
        Ok(())
    }
}

/// The resources of a Bundle for import, each with a stable id, and `urn:uuid:`/`urn:oid:`
/// references rewritten to `Type/id`. Entries that would be POSTed without an id get one derived from
/// their `urn:uuid:` fullUrl or their content, so importing the same Bundle twice stores them once.
pub fn bundle_resources(bundle: &Value) -> Vec<Value> {
    let entries = bundle.get("entry").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut map: HashMap<String, String> = HashMap::new();
    let mut resources = Vec::new();
    for entry in &entries {
        let Some(resource) = entry.get("resource") else { continue };
        let mut resource = resource.clone();
        let t = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default().to_string();
        let from_url = entry
            .get("request")
            .and_then(|r| r.get("url"))
            .and_then(Value::as_str)
            .and_then(|u| u.split('?').next())
            .and_then(|u| u.strip_prefix(&format!("{t}/")))
            .map(str::to_string);
        let posted = entry.get("request").and_then(|r| r.get("method")).and_then(Value::as_str) == Some("POST");
        let id = resource
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or(from_url)
            .or_else(|| posted.then(|| stable_id(entry, &resource)));
        if let Some(id) = &id {
            if let Some(o) = resource.as_object_mut() {
                o.insert("id".to_string(), Value::String(id.clone()));
            }
            if let Some(full) = entry.get("fullUrl").and_then(Value::as_str)
                && (full.starts_with("urn:uuid:") || full.starts_with("urn:oid:"))
            {
                map.insert(full.to_string(), format!("{t}/{id}"));
            }
        }
        resources.push(resource);
    }
    for resource in &mut resources {
        crate::references::rewrite_references(resource, &map);
    }
    resources
}

/// An id for an entry without one: its `urn:uuid:` fullUrl, or a digest of its content.
fn stable_id(entry: &Value, resource: &Value) -> String {
    if let Some(uuid) = entry.get("fullUrl").and_then(Value::as_str).and_then(|u| u.strip_prefix("urn:uuid:"))
        && uuid.len() <= 64
        && uuid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return uuid.to_string();
    }
    let digest = openssl::sha::sha256(resource.to_string().as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

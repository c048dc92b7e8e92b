//! transaction: `POST [base]` with a `transaction` Bundle. All entries succeed together or nothing
//! is written: one database transaction, entries processed DELETE → POST → PUT/PATCH → GET, ids
//! assigned and `urn:uuid:`/`urn:oid:` references (and conditional references) resolved across the
//! Bundle, every version and index row written in batches at the end.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use super::bundle::{Bundle, Entry, EntryResource};
use super::patch;
use super::write::{Target, check_body, new_id, stamp, tombstone, written};
use super::{Fhir, Response, instant, now, parse_version};
use crate::error::{FhirError, FhirResult};
use crate::outcome::{Issue, IssueType};
use crate::search::criteria;
use crate::store::{Current, Method, NewVersion, StoreError, StoreTx};

/// One parsed Bundle entry.
#[derive(Debug, Clone)]
pub struct Request {
    pub index: usize,
    pub method: String,
    /// `Type`, `Type/id`, `Type?criteria`, `Type/id/_history/v` or an operation, relative to the base.
    pub url: String,
    pub full_url: Option<String>,
    pub resource: Option<Value>,
    pub if_none_exist: Option<String>,
    pub if_match: Option<i64>,
    pub if_none_match: Option<String>,
}

fn entry_error(index: usize, e: FhirError) -> FhirError {
    let at = format!("Bundle.entry[{index}]");
    let relocate = |issues: Vec<Issue>| -> Vec<Issue> {
        issues
            .into_iter()
            .map(|mut i| {
                i.expression = Some(match i.expression.take() {
                    // An issue inside the entry's resource keeps its path, under the entry.
                    Some(inner) => match inner.split_once('.') {
                        Some((_, rest)) => format!("{at}.resource.{rest}"),
                        None => format!("{at}.resource"),
                    },
                    None => at.clone(),
                });
                i.message = format!("entry {index}: {}", i.message);
                i
            })
            .collect()
    };
    match e {
        FhirError::BadRequest(issues) => FhirError::BadRequest(relocate(issues)),
        FhirError::Unprocessable(issues) => FhirError::Unprocessable(relocate(issues)),
        FhirError::NotFound(what) => FhirError::NotFound(format!("{what} (entry {index})")),
        FhirError::Gone(what) => FhirError::Gone(format!("{what} (entry {index})")),
        FhirError::PreconditionFailed(what) => FhirError::PreconditionFailed(format!("entry {index}: {what}")),
        FhirError::Conflict(what) => FhirError::Conflict(format!("entry {index}: {what}")),
        FhirError::UnknownType(t) => FhirError::BadRequest(vec![
            Issue::error(IssueType::NotSupported, format!("entry {index}: unknown resource type '{t}'")).at(at),
        ]),
        other => other,
    }
}

/// Reads the entries of a batch or transaction Bundle.
pub fn requests(fhir: &Fhir, bundle: &Value) -> FhirResult<Vec<Request>> {
    let entries = bundle.get("entry").and_then(Value::as_array).cloned().unwrap_or_default();
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let request = entry.get("request").ok_or_else(|| {
                FhirError::BadRequest(vec![
                    Issue::error(IssueType::Required, format!("entry {index} has no request"))
                        .at(format!("Bundle.entry[{index}]")),
                ])
            })?;
            let text = |k: &str| request.get(k).and_then(Value::as_str).map(str::to_string);
            let method = text("method").unwrap_or_default();
            let url = text("url").unwrap_or_default();
            let url = url.strip_prefix(&format!("{}/", fhir.base_url)).map(str::to_string).unwrap_or(url);
            let if_match = text("ifMatch").map(|v| parse_version(&v)).transpose().map_err(|e| entry_error(index, e))?;
            Ok(Request {
                index,
                method,
                url: url.trim_start_matches('/').to_string(),
                full_url: entry.get("fullUrl").and_then(Value::as_str).map(str::to_string),
                resource: entry.get("resource").cloned(),
                if_none_exist: text("ifNoneExist"),
                if_match,
                if_none_match: text("ifNoneMatch"),
            })
        })
        .collect()
}

/// What a write entry resolved to.
struct Resolved {
    request: Request,
    resource_type: String,
    id: String,
    /// The version written, or `None` when nothing was written (matched If-None-Exist, deleting
    /// what does not exist).
    version: Option<NewVersion>,
    status: &'static str,
}

/// The processing order of the transaction rules.
fn rank(method: &str) -> u8 {
    match method {
        "DELETE" => 0,
        "POST" => 1,
        "PUT" | "PATCH" => 2,
        _ => 3,
    }
}

pub async fn transaction(fhir: &Fhir, bundle: &Value) -> FhirResult<Response> {
    let mut requests = requests(fhir, bundle)?;
    requests.sort_by_key(|r| (rank(&r.method), r.index));
    let mut attempt = 0;
    loop {
        let tx = fhir.store.begin().await?;
        match run(fhir, tx, requests.clone()).await {
            // Another writer created one of our new ids first: run the whole transaction again.
            Err(FhirError::Store(StoreError::Conflict(_))) if attempt < super::write::RETRIES => attempt += 1,
            Err(FhirError::Store(StoreError::Conflict(what))) => return Err(FhirError::Conflict(what)),
            other => return other,
        }
    }
}

async fn run(fhir: &Fhir, mut tx: Box<dyn StoreTx>, requests: Vec<Request>) -> FhirResult<Response> {
    let at = now();
    // 1. Identities: where each entry writes, and what its fullUrl stands for.
    let mut targets: Vec<(Request, String, Option<String>)> = Vec::new(); // (request, type, id or none for POST)
    let mut gets = Vec::new();
    for r in requests {
        let (path, query) = r.url.split_once('?').map_or((r.url.as_str(), None), |(p, q)| (p, Some(q)));
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let resource_type = segments.first().copied().unwrap_or_default().to_string();
        match r.method.as_str() {
            "GET" | "HEAD" => {
                gets.push(r);
                continue;
            }
            "POST" | "PUT" | "PATCH" | "DELETE" => {}
            other => {
                return Err(entry_error(
                    r.index,
                    FhirError::bad_request(format!("unsupported request method '{other}'")),
                ));
            }
        }
        fhir.check_type(&resource_type).map_err(|e| entry_error(r.index, e))?;
        let id = match (r.method.as_str(), segments.as_slice(), query) {
            ("POST", [_], _) => None,
            (_, [_, id], None) if r.method != "POST" => Some(id.to_string()),
            (_, [_], Some(q)) if r.method != "POST" => {
                let conditions = criteria::parse(&fhir.registry.current(), &fhir.base_url, &resource_type, q)
                    .map_err(|e| entry_error(r.index, e))?;
                tx.lock_key(&conditions.key).await?;
                let found = criteria::matching(tx.as_mut(), fhir.planner(), &conditions, 2).await?;
                match (found.as_slice(), r.method.as_str()) {
                    ([one], _) => Some(one.clone()),
                    ([], "PUT") => Some(
                        r.resource
                            .as_ref()
                            .and_then(|b| b.get("id"))
                            .and_then(Value::as_str)
                            .map_or_else(new_id, str::to_string),
                    ),
                    ([], "DELETE") => Some(String::new()),
                    ([], _) => {
                        return Err(entry_error(
                            r.index,
                            FhirError::NotFound(format!("no {resource_type} matches {q}")),
                        ));
                    }
                    _ => {
                        return Err(entry_error(
                            r.index,
                            FhirError::PreconditionFailed(format!(
                                "the criteria '{q}' match more than one {resource_type}"
                            )),
                        ));
                    }
                }
            }
            _ => {
                return Err(entry_error(
                    r.index,
                    FhirError::bad_request(format!("'{} {}' is not a valid transaction request", r.method, r.url)),
                ));
            }
        };
        targets.push((r, resource_type, id));
    }

    // POST: If-None-Exist, then new ids.
    let mut map: HashMap<String, String> = HashMap::new();
    let mut matched_existing: HashSet<usize> = HashSet::new();
    for (r, resource_type, id) in targets.iter_mut() {
        if r.method == "POST" {
            if let Some(q) = &r.if_none_exist {
                let conditions = criteria::parse(&fhir.registry.current(), &fhir.base_url, resource_type, q)
                    .map_err(|e| entry_error(r.index, e))?;
                tx.lock_key(&conditions.key).await?;
                let found = criteria::matching(tx.as_mut(), fhir.planner(), &conditions, 2).await?;
                match found.as_slice() {
                    [] => {}
                    [one] => {
                        *id = Some(one.clone());
                        matched_existing.insert(r.index);
                    }
                    _ => {
                        return Err(entry_error(
                            r.index,
                            FhirError::PreconditionFailed("If-None-Exist matches more than one resource".into()),
                        ));
                    }
                }
            }
            if id.is_none() {
                *id = Some(new_id());
            }
        }
        let target = format!("{resource_type}/{}", id.as_deref().unwrap_or_default());
        if let Some(full) = &r.full_url {
            map.insert(full.clone(), target.clone());
        }
        if let Some(body_id) = r.resource.as_ref().and_then(|b| b.get("id")).and_then(Value::as_str)
            && r.method == "PUT"
        {
            map.insert(format!("{}/{resource_type}/{body_id}", fhir.base_url), target);
        }
    }

    // Conditional references (`Patient?identifier=...`) resolve to exactly one resource.
    for (r, _, _) in &targets {
        let mut found = Vec::new();
        if let Some(body) = &r.resource {
            conditional_references(body, &mut found);
        }
        for reference in found {
            if map.contains_key(&reference) {
                continue;
            }
            let Some((t, q)) = reference.split_once('?') else { continue };
            let conditions =
                criteria::parse(&fhir.registry.current(), &fhir.base_url, t, q).map_err(|e| entry_error(r.index, e))?;
            match criteria::matching(tx.as_mut(), fhir.planner(), &conditions, 2).await?.as_slice() {
                [one] => {
                    map.insert(reference.clone(), format!("{t}/{one}"));
                }
                [] => {
                    return Err(entry_error(
                        r.index,
                        FhirError::NotFound(format!("the conditional reference '{reference}' matches nothing")),
                    ));
                }
                _ => {
                    return Err(entry_error(
                        r.index,
                        FhirError::PreconditionFailed(format!(
                            "the conditional reference '{reference}' matches more than one resource"
                        )),
                    ));
                }
            }
        }
    }

    // 2. The same resource may not be written twice.
    let mut seen = HashSet::new();
    for (r, t, id) in &targets {
        if let Some(id) = id.as_ref().filter(|i| !i.is_empty())
            && !seen.insert((t.clone(), id.clone()))
        {
            return Err(entry_error(
                r.index,
                FhirError::bad_request(format!("{t}/{id} is the target of more than one entry")),
            ));
        }
    }

    // 3. Current state of everything written, locked.
    let keys: Vec<(String, String)> = targets
        .iter()
        .filter_map(|(_, t, id)| id.as_ref().filter(|i| !i.is_empty()).map(|id| (t.clone(), id.clone())))
        .collect();
    let current: HashMap<(String, String), Current> = tx.lock_current_many(&keys).await?;
    let patched_bases = patch_bases(fhir, tx.as_mut(), &targets, &current).await?;

    // 4. Each entry's new version.
    let rewriter = crate::references::Rewriter::new(map);
    let mut resolved = Vec::with_capacity(targets.len());
    for (r, resource_type, id) in targets {
        let id = id.unwrap_or_default();
        let key = (resource_type.clone(), id.clone());
        let state = current.get(&key).copied();
        let live = state.is_some_and(|c| !c.deleted);
        if let Some(expected) = r.if_match
            && !(live && state.is_some_and(|c| c.version == expected))
        {
            return Err(entry_error(
                r.index,
                FhirError::PreconditionFailed(format!("{resource_type}/{id} is not at version {expected}")),
            ));
        }
        let next = state.map_or(1, |c| c.version + 1);
        let outcome = match r.method.as_str() {
            "DELETE" => {
                if live {
                    (Some(tombstone(&resource_type, &id, next, at)), "204 No Content")
                } else {
                    (None, "204 No Content")
                }
            }
            "POST" if matched_existing.contains(&r.index) => (None, "200 OK"),
            _ => {
                let mut body = match r.method.as_str() {
                    "PATCH" => patched_bases
                        .get(&r.index)
                        .cloned()
                        .ok_or_else(|| entry_error(r.index, FhirError::NotFound(format!("{resource_type}/{id}"))))?,
                    _ => r
                        .resource
                        .clone()
                        .ok_or_else(|| entry_error(r.index, FhirError::bad_request("the entry has no resource")))?,
                };
                rewriter.rewrite(&mut body);
                if let Value::Object(o) = &mut body {
                    o.insert("id".into(), Value::String(id.clone()));
                }
                check_body(fhir, &resource_type, &body).map_err(|e| entry_error(r.index, e))?;
                let method = if r.method == "POST" { Method::Create } else { Method::Update };
                let target = Target { resource_type: &resource_type, id: &id, version: next, replaces_index: live };
                let version = stamp(fhir, body, target, at, method).map_err(|e| entry_error(r.index, e))?;
                (Some(version), if live { "200 OK" } else { "201 Created" })
            }
        };
        resolved.push(Resolved { request: r, resource_type, id, version: outcome.0, status: outcome.1 });
    }

    // 5. Write everything at once, then commit.
    let versions: Vec<NewVersion> = resolved.iter().filter_map(|r| r.version.clone()).collect();
    super::commit::commit(fhir, tx, versions).await?;

    // 6. Reads, after the writes.
    let mut results: Vec<(usize, Entry)> = Vec::with_capacity(resolved.len() + gets.len());
    for r in resolved {
        results.push((r.request.index, write_entry(fhir, &r, at).await?));
    }
    for g in gets {
        results.push((g.index, super::batch::read_entry(fhir, &g).await));
    }
    results.sort_by_key(|(i, _)| *i);
    let mut head = Map::new();
    head.insert("resourceType".into(), json!("Bundle"));
    head.insert("id".into(), json!(new_id()));
    head.insert("type".into(), json!("transaction-response"));
    head.insert("link".into(), json!([{"relation": "self", "url": fhir.base_url}]));
    Ok(Response::bundle(Bundle { head, entries: results.into_iter().map(|(_, e)| e).collect() }))
}

/// The current resources that PATCH entries start from, with their patches applied.
async fn patch_bases(
    fhir: &Fhir,
    tx: &mut dyn StoreTx,
    targets: &[(Request, String, Option<String>)],
    current: &HashMap<(String, String), Current>,
) -> FhirResult<HashMap<usize, Value>> {
    let mut out = HashMap::new();
    for (r, t, id) in targets.iter().filter(|(r, _, _)| r.method == "PATCH") {
        let id = id.clone().unwrap_or_default();
        if current.get(&(t.clone(), id.clone())).is_none_or(|c| c.deleted) {
            return Err(entry_error(r.index, FhirError::NotFound(format!("{t}/{id}"))));
        }
        let base = super::ingest::current_content(tx, t, &id)
            .await?
            .ok_or_else(|| entry_error(r.index, FhirError::NotFound(format!("{t}/{id}"))))?;
        let patch = r.resource.as_ref().ok_or_else(|| {
            entry_error(r.index, FhirError::bad_request("a PATCH entry needs a resource (Binary or Parameters)"))
        })?;
        let patched = patch::apply_entry(fhir, base, patch).map_err(|e| entry_error(r.index, e))?;
        out.insert(r.index, patched);
    }
    Ok(out)
}

async fn write_entry(fhir: &Fhir, r: &Resolved, at: i64) -> FhirResult<Entry> {
    let mut response = Map::new();
    response.insert("status".into(), json!(r.status));
    let mut entry = Entry { full_url: None, resource: None, rest: Map::new() };
    match &r.version {
        Some(v) => {
            if v.content.is_some() {
                response
                    .insert("location".into(), json!(format!("{}/{}/_history/{}", r.resource_type, r.id, v.version)));
                entry.full_url = Some(fhir.resource_url(&r.resource_type, &r.id));
                entry.resource = Some(EntryResource::Stored(written(v.clone())));
            }
            response.insert("etag".into(), json!(format!("W/\"{}\"", v.version)));
            response.insert("lastModified".into(), json!(instant(at)));
        }
        None if r.request.method == "POST" => {
            // If-None-Exist matched: the existing resource.
            if let Some(existing) = fhir.store.read(&r.resource_type, &r.id).await? {
                response.insert(
                    "location".into(),
                    json!(format!("{}/{}/_history/{}", r.resource_type, r.id, existing.version)),
                );
                response.insert("etag".into(), json!(format!("W/\"{}\"", existing.version)));
                entry.full_url = Some(fhir.resource_url(&r.resource_type, &r.id));
                entry.resource = Some(EntryResource::Stored(existing));
            }
        }
        None => {}
    }
    entry.rest.insert("response".into(), Value::Object(response));
    Ok(entry)
}

/// Reference values of the form `Type?criteria`.
fn conditional_references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("reference")
                && r.contains('?')
                && r.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && !out.contains(r)
            {
                out.push(r.clone());
            }
            o.values().for_each(|v| conditional_references(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| conditional_references(v, out)),
        _ => {}
    }
}

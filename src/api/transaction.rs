//! transaction: `POST [base]` with a `transaction` Bundle. All entries succeed together or nothing
//! is written: the entries become one write set, committed in one database transaction under the
//! policy (DELETE → POST → PUT/PATCH, then the GETs), with ids assigned and `urn:uuid:`/`urn:oid:`
//! references (and conditional references) resolved across the Bundle.

use serde_json::{Map, Value, json};

use crate::clock::instant;
use crate::error::{FhirError, FhirResult};
use crate::interaction::bundle::{Bundle, Entry, EntryResource};
use crate::interaction::{Response, parse_version};
use crate::outcome::{Issue, IssueType};
use crate::session::prepare::{check_body_id, new_id};
use crate::session::write::Action;
use crate::session::{Session, Target, Write, WriteSet, Written, entry_error};

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

/// Reads the entries of a batch or transaction Bundle.
pub fn requests(session: &Session, bundle: &Value) -> FhirResult<Vec<Request>> {
    let entries = bundle.get("entry").and_then(Value::as_array).cloned().unwrap_or_default();
    unique_full_urls(&entries)?;
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
            let url = url.strip_prefix(&format!("{}/", session.base_url)).map(str::to_string).unwrap_or(url);
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

/// bdl-7: no two entries share a `fullUrl` (unless they are different versions of it); two
/// would make every reference to it ambiguous.
fn unique_full_urls(entries: &[Value]) -> FhirResult<()> {
    let mut seen: std::collections::HashMap<(&str, Option<&str>), usize> = std::collections::HashMap::new();
    for (index, entry) in entries.iter().enumerate() {
        let Some(full_url) = entry.get("fullUrl").and_then(Value::as_str) else { continue };
        let version = entry.pointer("/resource/meta/versionId").and_then(Value::as_str);
        if let Some(first) = seen.insert((full_url, version), index) {
            return Err(FhirError::BadRequest(vec![
                Issue::error(
                    IssueType::Invalid,
                    format!("entries {first} and {index} have the same fullUrl '{full_url}' (bdl-7)"),
                )
                .at(format!("Bundle.entry[{index}].fullUrl")),
            ]));
        }
    }
    Ok(())
}

impl Request {
    /// The write this entry asks for, or `None` for a read (GET, HEAD), routed by the API's one
    /// table; anything else (an operation, a nested Bundle) is not a transaction entry.
    pub fn write(&self, session: &Session) -> FhirResult<Option<Write>> {
        let method = super::Method::parse(&self.method)
            .ok_or_else(|| FhirError::bad_request(format!("unsupported request method '{}'", self.method)))?;
        if matches!(method, super::Method::Get | super::Method::Head) {
            return Ok(None);
        }
        let (path, query) = self.url.split_once('?').map_or((self.url.as_str(), ""), |(p, q)| (p, q));
        let segments: Vec<&str> = path.split('/').collect();
        let route = super::Route::parse(method, &segments)?;
        let criteria = |t: &str| session.criteria(t, query).map(Box::new);
        let resource = || self.resource.clone().ok_or_else(|| FhirError::bad_request("the entry has no resource"));
        let (resource_type, action) = match route {
            super::Route::Create { resource_type } => {
                let if_none_exist =
                    self.if_none_exist.as_deref().map(|q| session.criteria(&resource_type, q).map(Box::new));
                let action = Action::Create { resource: resource()?, if_none_exist: if_none_exist.transpose()? };
                (resource_type, action)
            }
            super::Route::Update { resource_type, id } => {
                // As on a plain PUT: the body names the resource the URL names.
                if let Some(body) = &self.resource {
                    check_body_id(&resource_type, &id, body)?;
                }
                let action = Action::Update { target: Target::Id(id), resource: resource()?, if_match: self.if_match };
                (resource_type, action)
            }
            super::Route::ConditionalUpdate { resource_type } => {
                let target = Target::Matching(criteria(&resource_type)?);
                (resource_type, Action::Update { target, resource: resource()?, if_match: self.if_match })
            }
            super::Route::Patch { resource_type, id } => (
                resource_type,
                Action::Patch { target: Target::Id(id), document: patch_document(self)?, if_match: self.if_match },
            ),
            super::Route::ConditionalPatch { resource_type } => {
                let target = Target::Matching(criteria(&resource_type)?);
                (resource_type, Action::Patch { target, document: patch_document(self)?, if_match: self.if_match })
            }
            super::Route::Delete { resource_type, id } => {
                (resource_type, Action::Delete { target: Target::Id(id), if_match: self.if_match })
            }
            super::Route::ConditionalDelete { resource_type } => {
                let target = Target::Matching(criteria(&resource_type)?);
                (resource_type, Action::Delete { target, if_match: self.if_match })
            }
            _ => {
                return Err(FhirError::bad_request(format!(
                    "'{} {}' is not a valid transaction request",
                    self.method, self.url
                )));
            }
        };
        session.check_type(&resource_type)?;
        let mut write = Write::new(&resource_type, action);
        write.full_url = self.full_url.clone();
        write.entry = Some(self.index);
        Ok(Some(write))
    }
}

/// A PATCH entry's document: a Binary holding a JSON Patch, or a FHIRPath Patch Parameters.
fn patch_document(entry: &Request) -> FhirResult<Value> {
    entry
        .resource
        .clone()
        .ok_or_else(|| FhirError::bad_request("a PATCH entry needs a resource (Binary or Parameters)"))
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

pub async fn transaction(session: &Session, bundle: &Value) -> FhirResult<Response> {
    let mut requests = requests(session, bundle)?;
    requests.sort_by_key(|r| (rank(&r.method), r.index));
    let mut writes = Vec::new();
    let mut write_requests = Vec::new();
    let mut gets = Vec::new();
    for r in requests {
        match r.write(session).map_err(|e| entry_error(r.index, e))? {
            Some(write) => {
                writes.push(write);
                write_requests.push(r);
            }
            None => gets.push(r),
        }
    }
    let written = session.commit(WriteSet::transaction(writes)).await?;

    // Reads, after the writes.
    let mut results: Vec<(usize, Entry)> = Vec::with_capacity(written.len() + gets.len());
    for (r, w) in write_requests.iter().zip(written) {
        results.push((r.index, write_entry(session, r, w)));
    }
    for g in gets {
        results.push((g.index, super::batch::run_entry(session, &g).await));
    }
    results.sort_by_key(|(i, _)| *i);
    let mut head = Map::new();
    head.insert("resourceType".into(), json!("Bundle"));
    head.insert("id".into(), json!(new_id()));
    head.insert("type".into(), json!("transaction-response"));
    head.insert("link".into(), json!([{"relation": "self", "url": session.base_url}]));
    Ok(Response::bundle(Bundle { head, entries: results.into_iter().map(|(_, e)| e).collect() }))
}

/// The response entry of a write: status, location, ETag and the resource written (or matched).
fn write_entry(session: &Session, r: &Request, w: Written) -> Entry {
    let mut response = Map::new();
    let status = match w.status {
        201 => "201 Created",
        204 => "204 No Content",
        _ => "200 OK",
    };
    response.insert("status".into(), json!(status));
    let mut entry = Entry { full_url: None, resource: None, rest: Map::new() };
    if let Some(v) = w.version {
        if v.content.is_some() {
            response.insert("location".into(), json!(format!("{}/{}/_history/{}", w.resource_type, w.id, v.version)));
            entry.full_url = Some(session.resource_url(&w.resource_type, &w.id));
        }
        response.insert("etag".into(), json!(format!("W/\"{}\"", v.version)));
        if r.method != "POST" || w.status == 201 {
            response.insert("lastModified".into(), json!(instant(v.last_updated)));
        }
        if v.content.is_some() {
            entry.resource = Some(EntryResource::Stored(v));
        }
    }
    entry.rest.insert("response".into(), Value::Object(response));
    entry
}

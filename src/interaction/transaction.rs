//! transaction: `POST [base]` with a `transaction` Bundle. All entries succeed together or nothing
//! is written: the entries become one write set, committed in one database transaction under the
//! policy (DELETE → POST → PUT/PATCH, then the GETs), with ids assigned and `urn:uuid:`/`urn:oid:`
//! references (and conditional references) resolved across the Bundle.

use serde_json::{Map, Value, json};

use super::bundle::{Bundle, Entry, EntryResource};
use super::{Response, parse_version};
use crate::clock::instant;
use crate::error::{FhirError, FhirResult};
use crate::outcome::{Issue, IssueType};
use crate::search::criteria;
use crate::session::prepare::new_id;
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

impl Request {
    /// The write this entry asks for, or `None` for a read (GET, HEAD).
    pub fn write(&self, session: &Session) -> FhirResult<Option<Write>> {
        let (path, query) = self.url.split_once('?').map_or((self.url.as_str(), None), |(p, q)| (p, Some(q)));
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let resource_type = segments.first().copied().unwrap_or_default();
        if matches!(self.method.as_str(), "GET" | "HEAD") {
            return Ok(None);
        }
        if !matches!(self.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") {
            return Err(FhirError::bad_request(format!("unsupported request method '{}'", self.method)));
        }
        session.check_type(resource_type)?;
        let criteria = |q: &str| criteria::parse(&session.registry.current(), &session.base_url, resource_type, q);
        let target = match (segments.as_slice(), query) {
            ([_, id], None) if self.method != "POST" => Target::Id(id.to_string()),
            ([_], Some(q)) if self.method != "POST" => Target::Matching(Box::new(criteria(q)?)),
            ([_], _) if self.method == "POST" => Target::Id(String::new()),
            _ => {
                return Err(FhirError::bad_request(format!("'{} {}' is not a valid request", self.method, self.url)));
            }
        };
        let resource = || self.resource.clone().ok_or_else(|| FhirError::bad_request("the entry has no resource"));
        let action = match self.method.as_str() {
            "POST" => Action::Create {
                resource: resource()?,
                if_none_exist: self.if_none_exist.as_deref().map(criteria).transpose()?.map(Box::new),
            },
            "PUT" => Action::Update { target, resource: resource()?, if_match: self.if_match },
            "PATCH" => Action::Patch {
                target,
                document: self
                    .resource
                    .clone()
                    .ok_or_else(|| FhirError::bad_request("a PATCH entry needs a resource (Binary or Parameters)"))?,
                if_match: self.if_match,
            },
            _ => Action::Delete { target, if_match: self.if_match },
        };
        let mut write = Write::new(resource_type, action);
        write.full_url = self.full_url.clone();
        write.entry = Some(self.index);
        Ok(Some(write))
    }
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
        results.push((g.index, super::batch::read_entry(session, &g).await));
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

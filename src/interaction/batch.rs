//! batch: `POST [base]` with a `batch` Bundle. Each entry is an independent interaction that
//! succeeds or fails on its own; the response Bundle says how each went.

use serde_json::{Map, Value, json};

use super::bundle::{Bundle, Entry, EntryResource};
use super::read::ReadConditions;
use super::search::Scope;
use super::transaction::{Request, requests};
use super::{Body, Response, create, delete, patch, read, search, update};
use crate::clock::instant;
use crate::context::Fhir;
use crate::error::FhirError;
use crate::outcome::operation_outcome;
use crate::session::Session;
use crate::session::prepare::new_id;

pub async fn batch(session: &Session, bundle: &Value) -> crate::error::FhirResult<Response> {
    let mut entries = Vec::new();
    for r in requests(session, bundle)? {
        let entry = match r.method.as_str() {
            "GET" | "HEAD" => read_entry(session, &r).await,
            _ => to_entry(session, write(session, &r).await),
        };
        entries.push(entry);
    }
    let mut head = Map::new();
    head.insert("resourceType".into(), json!("Bundle"));
    head.insert("id".into(), json!(new_id()));
    head.insert("type".into(), json!("batch-response"));
    head.insert("link".into(), json!([{"relation": "self", "url": session.base_url}]));
    Ok(Response::bundle(Bundle { head, entries }))
}

async fn write(session: &Session, r: &Request) -> Result<Response, FhirError> {
    let (path, query) = r.url.split_once('?').map_or((r.url.as_str(), None), |(p, q)| (p, Some(q)));
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let body = || r.resource.clone().ok_or_else(|| FhirError::bad_request("the entry has no resource"));
    match (r.method.as_str(), segments.as_slice(), query) {
        ("POST", [t], _) => create::create(session, t, body()?, r.if_none_exist.as_deref()).await,
        ("PUT", [t, id], None) => update::update(session, t, id, body()?, r.if_match).await,
        ("PUT", [t], Some(q)) => update::conditional_update(session, t, q, body()?, r.if_match).await,
        ("PATCH", [t, id], None) => patch::patch(session, t, id, &body()?, r.if_match).await,
        ("PATCH", [t], Some(q)) => patch::conditional_patch(session, t, q, &body()?, r.if_match).await,
        ("DELETE", [t, id], None) => delete::delete(session, t, id, r.if_match).await,
        ("DELETE", [t], Some(q)) => delete::conditional_delete(session, t, q).await,
        _ => Err(FhirError::bad_request(format!("'{} {}' is not a valid batch request", r.method, r.url))),
    }
}

/// A GET entry: read, vread, search or capabilities.
pub async fn read_entry(session: &Session, r: &Request) -> Entry {
    let (path, query) = r.url.split_once('?').map_or((r.url.as_str(), ""), |(p, q)| (p, q));
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let conditions = ReadConditions {
        if_none_match: r.if_none_match.as_deref().and_then(|v| super::parse_version(v).ok()),
        if_modified_since: None,
    };
    let result = match segments.as_slice() {
        [] => search::search(session, Scope::System, &pairs, false).await,
        ["metadata"] => Ok(super::capabilities::capabilities(session)),
        [t] => search::search(session, Scope::Type(t.to_string()), &pairs, false).await,
        [t, id] => read::read(session, t, id, conditions).await,
        [t, id, "_history", v] => match super::parse_version(v) {
            Ok(v) => read::vread(session, t, id, v).await,
            Err(e) => Err(e),
        },
        [c, id, t] => {
            let scope = Scope::Compartment {
                compartment_type: c.to_string(),
                compartment_id: id.to_string(),
                resource_type: t.to_string(),
            };
            search::search(session, scope, &pairs, false).await
        }
        _ => Err(FhirError::bad_request(format!("'GET {}' is not a valid request", r.url))),
    };
    to_entry(session, result)
}

/// An interaction's outcome as a response entry.
fn to_entry(fhir: &Fhir, result: Result<Response, FhirError>) -> Entry {
    let mut rest = Map::new();
    match result {
        Ok(response) => {
            let mut meta = Map::new();
            meta.insert("status".into(), json!(status_text(response.status)));
            if let Some(location) = &response.location {
                let relative = location.strip_prefix(&format!("{}/", fhir.base_url)).unwrap_or(location);
                meta.insert("location".into(), json!(relative));
            }
            if let Some(v) = response.version {
                meta.insert("etag".into(), json!(format!("W/\"{v}\"")));
            }
            if let Some(t) = response.last_updated {
                meta.insert("lastModified".into(), json!(instant(t)));
            }
            rest.insert("response".into(), Value::Object(meta));
            let (full_url, resource) = match response.body {
                Some(Body::Stored(v)) => {
                    (Some(fhir.resource_url(&v.resource_type, &v.id)), Some(EntryResource::Stored(v)))
                }
                Some(Body::Resource(v)) => (None, Some(EntryResource::Built(v))),
                Some(Body::Bundle(b)) => (None, b.to_value(|_| {}).ok().map(EntryResource::Built)),
                None => (None, None),
            };
            Entry { full_url, resource, rest }
        }
        Err(e) => {
            let outcome = operation_outcome(&e.issues());
            rest.insert("response".into(), json!({"status": status_text(e.http_status()), "outcome": outcome}));
            Entry { full_url: None, resource: None, rest }
        }
    }
}

fn status_text(status: u16) -> String {
    let reason = axum::http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
    format!("{status} {reason}").trim_end().to_string()
}

//! batch: `POST [base]` with a `batch` Bundle. Each entry is a request of its own, routed by the
//! same table as a plain HTTP request (so an entry can read, search, page through history or run
//! an operation as the same request could), and succeeds or fails on its own; the response
//! Bundle says how each went.

use serde_json::{Map, Value, json};

use super::transaction::{Request as Entry, requests};
use super::{Method, Request, Route, dispatch};
use crate::clock::instant;
use crate::context::Fhir;
use crate::error::{FhirError, FhirResult};
use crate::interaction::bundle::{Bundle, Entry as ResponseEntry, EntryResource};
use crate::interaction::{Body, Response};
use crate::outcome::operation_outcome;
use crate::session::Session;
use crate::session::prepare::new_id;

pub async fn batch(session: &Session, bundle: &Value) -> FhirResult<Response> {
    let mut entries = Vec::new();
    for entry in requests(session, bundle)? {
        entries.push(run_entry(session, &entry).await);
    }
    let mut head = Map::new();
    head.insert("resourceType".into(), json!("Bundle"));
    head.insert("id".into(), json!(new_id()));
    head.insert("type".into(), json!("batch-response"));
    head.insert("link".into(), json!([{"relation": "self", "url": session.base_url}]));
    Ok(Response::bundle(Bundle { head, entries }))
}

/// Runs one entry as the request it describes, and makes its response entry.
pub async fn run_entry(session: &Session, entry: &Entry) -> ResponseEntry {
    let result = match entry_request(session, entry) {
        // Boxed: a batch runs requests, and a request may be a batch.
        Ok(request) => Box::pin(dispatch(session, request)).await,
        Err(e) => Err(e),
    };
    to_entry(session, result)
}

/// The request an entry describes, routed by the API's table. Bundles within Bundles are refused.
fn entry_request(session: &Session, entry: &Entry) -> FhirResult<Request> {
    let method = Method::parse(&entry.method)
        .ok_or_else(|| FhirError::bad_request(format!("unsupported request method '{}'", entry.method)))?;
    let (path, query) = entry.url.split_once('?').map_or((entry.url.as_str(), ""), |(p, q)| (p, q));
    let segments: Vec<&str> = path.split('/').collect();
    let route = Route::parse(method, &segments)?;
    if matches!(route, Route::Bundle) {
        return Err(FhirError::bad_request("a Bundle entry cannot be a batch or transaction itself"));
    }
    let mut request = Request::new(method, route);
    request.query = form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    request.raw_query = query.to_string();
    request.body = entry.resource.clone();
    request.if_match = entry.if_match;
    request.if_none_match = entry.if_none_match.as_deref().and_then(|v| crate::interaction::parse_version(v).ok());
    request.if_none_exist = entry.if_none_exist.clone();
    request.url = format!("{}/{}", session.base_url, entry.url);
    Ok(request)
}

/// An interaction's outcome as a response entry.
fn to_entry(fhir: &Fhir, result: Result<Response, FhirError>) -> ResponseEntry {
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
            ResponseEntry { full_url, resource, rest }
        }
        Err(e) => {
            let outcome = operation_outcome(&e.issues());
            rest.insert("response".into(), json!({"status": status_text(e.http_status()), "outcome": outcome}));
            ResponseEntry { full_url: None, resource: None, rest }
        }
    }
}

fn status_text(status: u16) -> String {
    let reason = axum::http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
    format!("{status} {reason}").trim_end().to_string()
}

//! The FHIR RESTful API over HTTP: every path under the base goes to one handler, which reads the
//! request into an `api::Request` (route, query, preconditions, body), runs it through the API's
//! one routing table, and renders the result. Only the Bulk Data status and file URLs, which are
//! not FHIR interactions, have routes of their own (`bulk`).

use axum::Router;
use axum::body::Body as HttpBody;
use axum::extract::{FromRequestParts, Path, State as AxumState};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH};
use axum::http::request::Parts;
use axum::response::Response as HttpResponse;
use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::negotiate::{self, Handling};
use super::record::BundleKind;
use super::respond::{self, Shape};
use super::{Rejection, Req, State};
use crate::api::{self, BodyKind, Method, Route};
use crate::error::{FhirError, FhirResult};
use crate::format::{self, subset::Subset};
use crate::interaction::{Body, Response, parse_version};

pub fn fhir_routes() -> Router<State> {
    Router::new().merge(super::bulk::routes()).fallback(fhir)
}

/// How much of an oversized request body is read and dropped before answering 413 anyway.
const DRAIN_AT_LEAST: usize = 16 * 1024 * 1024;

/// Path segments, with malformed ones answered as a FHIR error.
pub struct Segments<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<State> for Segments<T> {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Segments<T>, Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Segments(value)),
            Err(e) => Err(Rejection(FhirError::bad_request(e.body_text()), state.clone())),
        }
    }
}

/// Every FHIR interaction and operation.
async fn fhir(AxumState(state): AxumState<State>, req: Req, body: HttpBody) -> HttpResponse {
    let output = req.output;
    let mut bundle = None;
    let result = async {
        let request = request(&state, &req, body).await?;
        if matches!(request.route, Route::Bundle) {
            bundle = BundleKind::of(request.body.as_ref());
        }
        let shape = shape(&req, &request.route)?;
        let capabilities = matches!(request.route, Route::Capabilities);
        let mut response = api::dispatch(&req.session, request).await;
        if capabilities && let Ok(Response { body: Some(Body::Resource(statement)), .. }) = &mut response {
            // What the authorization server offers is known here, not to the FHIR core.
            crate::auth::discovery::announce_registration(&state.auth, statement);
        }
        Ok::<_, FhirError>((shape, response))
    }
    .await;
    let mut response = match result {
        Ok((shape, response)) => respond::render(&req.session, &shape, response),
        Err(e) => respond::error(&req.session, output, &e),
    };
    // The request record names a batch or a transaction as such.
    if let Some(kind) = bundle {
        response.extensions_mut().insert(kind);
    }
    response
}

/// The API request an HTTP request makes.
async fn request(state: &State, req: &Req, body: HttpBody) -> FhirResult<api::Request> {
    let method = Method::parse(req.method.as_str())
        .ok_or_else(|| FhirError::MethodNotAllowed(format!("{} {}", req.method, req.path)))?;
    let route = match &req.route {
        Some(route) => route.clone(),
        // None resolved: parsed again, for the reason (only an error costs the second parse).
        None => {
            let segments = segments(&req.path)?;
            let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
            Route::parse(method, &segments)?
        }
    };
    let mut request = api::Request::new(method, route);
    request.query = req.query.clone();
    request.raw_query = req.raw_query.clone();
    request.strict = req.prefer.handling == Handling::Strict;
    request.respond_async = req.prefer.respond_async;
    request.url = format!(
        "{}{}{}",
        req.session.base_url,
        req.path,
        if req.raw_query.is_empty() { String::new() } else { format!("?{}", req.raw_query) }
    );
    request.if_match = match header_str(req, IF_MATCH) {
        None | Some("*") => None,
        Some(v) => Some(parse_version(v)?),
    };
    request.if_none_match = header_str(req, IF_NONE_MATCH).and_then(|v| parse_version(v).ok());
    request.if_modified_since = header_str(req, IF_MODIFIED_SINCE)
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_micros() as i64);
    request.if_none_exist = header_str(req, "if-none-exist").map(str::to_string);
    match request.route.body() {
        BodyKind::None if matches!(request.route, Route::Search(_)) && method == Method::Post => {
            request.query.extend(form_parameters(state, req, body).await?);
        }
        BodyKind::None => {}
        BodyKind::Resource => request.body = Some(resource_body(state, req, body).await?),
        BodyKind::Patch => request.body = Some(patch_body(state, req, body).await?),
        BodyKind::Form => request.query.extend(form_parameters(state, req, body).await?),
        BodyKind::Optional if method == Method::Post => request.body = optional_body(state, req, body).await?,
        BodyKind::Optional => {}
    }
    Ok(request)
}

/// The path below the FHIR base, split and percent-decoded.
pub(super) fn segments(path: &str) -> FhirResult<Vec<String>> {
    path.split('/')
        .map(|s| {
            percent_decode(s).ok_or_else(|| FhirError::bad_request(format!("the path segment '{s}' is not valid")))
        })
        .collect()
}

fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// How the result is rendered: reads take `_summary`/`_elements`, changes `Prefer: return=`.
fn shape(req: &Req, route: &Route) -> FhirResult<Shape> {
    let changes = match route {
        Route::Create { .. }
        | Route::Update { .. }
        | Route::ConditionalUpdate { .. }
        | Route::Patch { .. }
        | Route::ConditionalPatch { .. }
        | Route::Delete { .. }
        | Route::ConditionalDelete { .. }
        | Route::Bundle => true,
        Route::Operation { .. } => crate::api::operations::affects_state(route),
        _ => false,
    };
    Ok(if changes {
        Shape { output: req.output, return_: Some(req.prefer.return_), subset: Subset::default() }
    } else {
        Shape { output: req.output, return_: None, subset: Subset::from_query(&req.query)? }
    })
}

/// Reads and parses a request body, enforcing the size limit and the media type.
async fn resource_body(state: &State, req: &Req, body: HttpBody) -> FhirResult<Value> {
    optional_body(state, req, body)
        .await?
        .ok_or_else(|| FhirError::bad_request("the request has no body; a resource is required"))
}

/// A request body if there is one (operations whose inputs may all be in the URL).
async fn optional_body(state: &State, req: &Req, body: HttpBody) -> FhirResult<Option<Value>> {
    let bytes = body_bytes(state, req, body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let format = negotiate::input(&req.headers, &bytes)?;
    Ok(Some(format::parse(state.session.model, format, &bytes)?))
}

/// The body's bytes, within the size limit (413 beyond it).
async fn body_bytes(state: &State, req: &Req, body: HttpBody) -> FhirResult<Vec<u8>> {
    let limit = state.max_body_bytes;
    let declared = req.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    let mut stream = body.into_data_stream();
    let mut too_large = declared.is_some_and(|n| n > limit);
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| FhirError::bad_request(format!("could not read the request body: {e}")))?;
        seen += chunk.len();
        too_large |= seen > limit;
        // An oversized body is read on (up to a bound) and dropped, so that the client, still
        // sending, receives the 413 instead of a connection reset.
        if too_large {
            if seen > limit.saturating_mul(4).max(DRAIN_AT_LEAST) {
                break;
            }
            continue;
        }
        bytes.extend_from_slice(&chunk);
    }
    if too_large {
        return Err(FhirError::PayloadTooLarge(limit));
    }
    Ok(bytes)
}

fn header_str<K: axum::http::header::AsHeaderName>(req: &Req, name: K) -> Option<&str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

/// `POST .../_search`: the form body's parameters (added to the URL's).
async fn form_parameters(state: &State, req: &Req, body: HttpBody) -> FhirResult<Vec<(String, String)>> {
    let content_type = header_str(req, CONTENT_TYPE).unwrap_or("application/x-www-form-urlencoded");
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(FhirError::UnsupportedMediaType(format!(
            "_search takes application/x-www-form-urlencoded parameters, not '{content_type}'"
        )));
    }
    let bytes = body_bytes(state, req, body).await?;
    Ok(form_urlencoded::parse(&bytes).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
}

/// A PATCH body: JSON Patch (`application/json-patch+json`) or a FHIRPath Patch Parameters resource.
async fn patch_body(state: &State, req: &Req, body: HttpBody) -> FhirResult<Value> {
    let content_type = header_str(req, CONTENT_TYPE).unwrap_or_default().to_ascii_lowercase();
    if content_type.starts_with("application/json-patch+json") {
        let bytes = body_bytes(state, req, body).await?;
        return format::json::parse(&bytes).map_err(|e| FhirError::BadRequest(vec![e.issue()]));
    }
    resource_body(state, req, body).await
}

pub async fn not_found(AxumState(state): AxumState<State>, req: axum::extract::Request) -> HttpResponse {
    let e = FhirError::NotFound(format!("the path {}", req.uri().path()));
    respond::error(&state.session, super::negotiate::Output::default(), &e)
}

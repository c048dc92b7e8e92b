//! Routes of the FHIR RESTful API and their handlers: each reads the request, calls one
//! interaction and renders the result.

use axum::Router;
use axum::body::Body as HttpBody;
use axum::extract::{FromRequestParts, Path, State as AxumState};
use axum::http::header::{CONTENT_LENGTH, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH};
use axum::http::request::Parts;
use axum::response::Response as HttpResponse;
use axum::routing::{get, post};
use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::negotiate::{self, Handling, Output};
use super::respond::{self, Shape};
use super::{Rejection, Req, State};
use crate::error::{FhirError, FhirResult};
use crate::format::{self, subset::Subset};
use crate::interaction::history::HistoryParams;
use crate::interaction::read::ReadConditions;
use crate::interaction::search::{self, Scope};
use crate::interaction::terminology;
use crate::interaction::{
    Body, Response, batch, capabilities, create, delete, everything, history, parse_version, patch, read, reindex,
    transaction, update, validate,
};
use crate::store::HistoryScope;

pub fn fhir_routes() -> Router<State> {
    Router::new()
        .route("/", get(search_system).post(bundle))
        .route("/_search", post(search_system_post))
        .route("/metadata", get(metadata))
        .route("/_history", get(history_system))
        .route(
            "/{type}",
            get(search_type).post(create).put(conditional_update).delete(conditional_delete).patch(conditional_patch),
        )
        .route("/{type}/_search", post(search_type_post))
        .route("/{type}/_history", get(history_type))
        .route("/{type}/{id}", get(read).put(update).delete(delete).post(type_operation).patch(patch))
        .route("/{type}/{id}/_history", get(history_instance))
        .route("/{type}/{id}/_history/{vid}", get(vread))
        .route("/{compartment}/{id}/{type}", get(search_compartment).post(instance_operation_post))
        .merge(super::bulk::routes())
        .method_not_allowed_fallback(method_not_allowed)
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

fn read_shape(req: &Req) -> FhirResult<Shape> {
    Ok(Shape { output: req.output, return_: None, subset: Subset::from_query(&req.query)? })
}

fn write_shape(req: &Req) -> Shape {
    Shape { output: req.output, return_: Some(req.prefer.return_), subset: Subset::default() }
}

/// Renders a result, or the error that stopped the handler before an interaction ran.
fn reply(
    state: &State,
    shape: FhirResult<Shape>,
    output: Output,
    result: impl FnOnce(Shape) -> HttpResponse,
) -> HttpResponse {
    match shape {
        Ok(shape) => result(shape),
        Err(e) => respond::error(&state.session, output, &e),
    }
}

/// Reads and parses a request body, enforcing the size limit and the media type.
pub(super) async fn resource_body(state: &State, req: &Req, body: HttpBody) -> FhirResult<Value> {
    optional_body(state, req, body)
        .await?
        .ok_or_else(|| FhirError::bad_request("the request has no body; a resource is required"))
}

/// A request body if there is one (operations whose inputs may all be in the URL).
async fn optional_body(state: &State, req: &Req, body: HttpBody) -> FhirResult<Option<Value>> {
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
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let format = negotiate::input(&req.headers, &bytes)?;
    format::parse(state.session.model, format, &bytes).map(Some)
}

fn header_str<K: axum::http::header::AsHeaderName>(req: &Req, name: K) -> Option<&str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

fn if_match(req: &Req) -> FhirResult<Option<i64>> {
    match header_str(req, IF_MATCH) {
        None | Some("*") => Ok(None),
        Some(v) => parse_version(v).map(Some),
    }
}

async fn metadata(AxumState(state): AxumState<State>, req: Req) -> HttpResponse {
    let session = &state.session;
    let mut statement = capabilities::capabilities(session);
    if let Some(Body::Resource(resource)) = &mut statement.body {
        crate::auth::discovery::announce_registration(&state.auth, resource);
    }
    reply(&state, read_shape(&req), req.output, |shape| respond::render(session, &shape, Ok(statement)))
}

async fn read(
    AxumState(state): AxumState<State>,
    Segments((t, id)): Segments<(String, String)>,
    req: Req,
) -> HttpResponse {
    if id.starts_with('$') {
        return type_operation_get(&state, &req, &t, &id).await;
    }
    let conditions = ReadConditions {
        if_none_match: header_str(&req, IF_NONE_MATCH).and_then(|v| parse_version(v).ok()),
        if_modified_since: header_str(&req, IF_MODIFIED_SINCE)
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_micros() as i64),
    };
    let shape = read_shape(&req);
    let result = read::read(&req.session, &t, &id, conditions).await;
    reply(&state, shape, req.output, |shape| respond::render(&req.session, &shape, result))
}

async fn vread(
    AxumState(state): AxumState<State>,
    Segments((t, id, vid)): Segments<(String, String, String)>,
    req: Req,
) -> HttpResponse {
    let shape = read_shape(&req);
    let result = match parse_version(&vid) {
        Ok(v) => read::vread(&req.session, &t, &id, v).await,
        Err(_) => Err(FhirError::NotFound(format!("{t}/{id}/_history/{vid}"))),
    };
    reply(&state, shape, req.output, |shape| respond::render(&req.session, &shape, result))
}

async fn create(
    AxumState(state): AxumState<State>,
    Segments(t): Segments<String>,
    req: Req,
    body: HttpBody,
) -> HttpResponse {
    let result = async {
        req.session.check_type(&t)?;
        let resource = resource_body(&state, &req, body).await?;
        let if_none_exist = header_str(&req, "if-none-exist");
        create::create(&req.session, &t, resource, if_none_exist).await
    }
    .await;
    respond::render(&req.session, &write_shape(&req), result)
}

/// Parameters of an operation: the query string, plus a Parameters resource when one is posted.
async fn operation_params(state: &State, req: &Req, body: Option<HttpBody>) -> FhirResult<terminology::Params> {
    let mut params = terminology::Params::from_query(&req.query);
    if let Some(body) = body
        && let Some(resource) = optional_body(state, req, body).await?
    {
        params = terminology::Params::from_resource(&resource)?.with(params);
    }
    Ok(params)
}

/// `POST [base]/[type]/$operation`.
async fn type_operation(
    AxumState(state): AxumState<State>,
    Segments((t, operation)): Segments<(String, String)>,
    req: Req,
    body: HttpBody,
) -> HttpResponse {
    if crate::ikp::handles(&t, false, &operation) {
        return national_operation(&state, &req, &t, None, &operation, Some(body)).await;
    }
    if terminology::is_operation(&t, &operation) {
        let shape = read_shape(&req);
        let result = match operation_params(&state, &req, Some(body)).await {
            Ok(params) => terminology::operation(&req.session, &t, None, &operation, &params).await,
            Err(e) => Err(e),
        };
        return reply(&state, shape, req.output, |shape| respond::render(&req.session, &shape, result));
    }
    let result = match operation.strip_prefix('$') {
        Some("validate") => match optional_body(&state, &req, body).await {
            Ok(resource) => validate::validate(&req.session, &t, None, resource, &req.query).await,
            Err(e) => Err(e),
        },
        Some("reindex") => reindex::reindex(&req.session, Some(&t)).await,
        Some("everything") if t == "Patient" => everything::everything(&req.session, None, &req.query).await,
        Some(other) => Err(FhirError::NotFound(format!("the operation ${other} on {t}"))),
        None => Err(FhirError::MethodNotAllowed(format!("POST {t}/{operation}"))),
    };
    respond::render(&req.session, &write_shape(&req), result)
}

async fn update(
    AxumState(state): AxumState<State>,
    Segments((t, id)): Segments<(String, String)>,
    req: Req,
    body: HttpBody,
) -> HttpResponse {
    let result = async {
        req.session.check_type(&t)?;
        let resource = resource_body(&state, &req, body).await?;
        update::update(&req.session, &t, &id, resource, if_match(&req)?).await
    }
    .await;
    respond::render(&req.session, &write_shape(&req), result)
}

async fn conditional_update(
    AxumState(state): AxumState<State>,
    Segments(t): Segments<String>,
    req: Req,
    body: HttpBody,
) -> HttpResponse {
    let result = async {
        req.session.check_type(&t)?;
        let resource = resource_body(&state, &req, body).await?;
        update::conditional_update(&req.session, &t, &req.raw_query, resource, if_match(&req)?).await
    }
    .await;
    respond::render(&req.session, &write_shape(&req), result)
}

async fn delete(Segments((t, id)): Segments<(String, String)>, req: Req) -> HttpResponse {
    let result = async { delete::delete(&req.session, &t, &id, if_match(&req)?).await }.await;
    respond::render(&req.session, &write_shape(&req), result)
}

async fn conditional_delete(Segments(t): Segments<String>, req: Req) -> HttpResponse {
    let result = delete::conditional_delete(&req.session, &t, &req.raw_query).await;
    respond::render(&req.session, &write_shape(&req), result)
}

async fn run_history(state: &State, req: &Req, scope: HistoryScope) -> HttpResponse {
    let shape = read_shape(req);
    let result: FhirResult<Response> =
        history::history(&req.session, scope, &HistoryParams::from_query(&req.query)).await;
    reply(state, shape, req.output, |shape| respond::render(&req.session, &shape, result))
}

async fn history_system(AxumState(state): AxumState<State>, req: Req) -> HttpResponse {
    run_history(&state, &req, HistoryScope::System).await
}

async fn history_type(AxumState(state): AxumState<State>, Segments(t): Segments<String>, req: Req) -> HttpResponse {
    run_history(&state, &req, HistoryScope::Type(t)).await
}

async fn history_instance(
    AxumState(state): AxumState<State>,
    Segments((t, id)): Segments<(String, String)>,
    req: Req,
) -> HttpResponse {
    run_history(&state, &req, HistoryScope::Instance(t, id)).await
}

async fn run_search(state: &State, req: &Req, scope: Scope, pairs: &[(String, String)]) -> HttpResponse {
    let shape = read_shape(req);
    let strict = req.prefer.handling == Handling::Strict;
    let result = search::search(&req.session, scope, pairs, strict).await;
    reply(state, shape, req.output, |shape| respond::render(&req.session, &shape, result))
}

/// `POST .../_search`: parameters from the URL and the form body together.
async fn form_parameters(state: &State, req: &Req, body: HttpBody) -> FhirResult<Vec<(String, String)>> {
    let content_type = header_str(req, axum::http::header::CONTENT_TYPE).unwrap_or("application/x-www-form-urlencoded");
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(FhirError::UnsupportedMediaType(format!(
            "_search takes application/x-www-form-urlencoded parameters, not '{content_type}'"
        )));
    }
    let bytes = axum::body::to_bytes(body, state.max_body_bytes)
        .await
        .map_err(|_| FhirError::PayloadTooLarge(state.max_body_bytes))?;
    let mut pairs = req.query.clone();
    pairs.extend(form_urlencoded::parse(&bytes).map(|(k, v)| (k.into_owned(), v.into_owned())));
    Ok(pairs)
}

async fn search_type(AxumState(state): AxumState<State>, Segments(t): Segments<String>, req: Req) -> HttpResponse {
    run_search(&state, &req, Scope::Type(t), &req.query).await
}

/// `GET [base]/[type]/$operation` (read-only type operations).
async fn type_operation_get(state: &State, req: &Req, t: &str, operation: &str) -> HttpResponse {
    if crate::ikp::handles(t, false, operation) {
        return national_operation(state, req, t, None, operation, None).await;
    }
    let shape = read_shape(req);
    let result = match (t, operation) {
        ("Patient", "$everything") => everything::everything(&req.session, None, &req.query).await,
        _ if terminology::is_operation(t, operation) => {
            let params = terminology::Params::from_query(&req.query);
            terminology::operation(&req.session, t, None, operation, &params).await
        }
        _ => Err(FhirError::NotFound(format!("the operation {operation} on {t}"))),
    };
    reply(state, shape, req.output, |shape| respond::render(&req.session, &shape, result))
}

async fn search_type_post(
    AxumState(state): AxumState<State>,
    Segments(t): Segments<String>,
    req: Req,
    body: HttpBody,
) -> HttpResponse {
    match form_parameters(&state, &req, body).await {
        Ok(pairs) => run_search(&state, &req, Scope::Type(t), &pairs).await,
        Err(e) => respond::error(&req.session, req.output, &e),
    }
}

async fn search_system(AxumState(state): AxumState<State>, req: Req) -> HttpResponse {
    run_search(&state, &req, Scope::System, &req.query).await
}

async fn search_system_post(AxumState(state): AxumState<State>, req: Req, body: HttpBody) -> HttpResponse {
    match form_parameters(&state, &req, body).await {
        Ok(pairs) => run_search(&state, &req, Scope::System, &pairs).await,
        Err(e) => respond::error(&req.session, req.output, &e),
    }
}

async fn search_compartment(
    AxumState(state): AxumState<State>,
    Segments((compartment_type, compartment_id, resource_type)): Segments<(String, String, String)>,
    req: Req,
) -> HttpResponse {
    if resource_type.starts_with('$') {
        return instance_operation(&state, &req, &compartment_type, &compartment_id, &resource_type, None).await;
    }
    let scope = Scope::Compartment { compartment_type, compartment_id, resource_type };
    run_search(&state, &req, scope, &req.query).await
}

async fn instance_operation_post(
    AxumState(state): AxumState<State>,
    Segments((t, id, operation)): Segments<(String, String, String)>,
    req: Req,
    body: HttpBody,
) -> HttpResponse {
    if operation == "$validate" {
        let result = match optional_body(&state, &req, body).await {
            Ok(resource) => validate::validate(&req.session, &t, Some(&id), resource, &req.query).await,
            Err(e) => Err(e),
        };
        return respond::render(&req.session, &write_shape(&req), result);
    }
    instance_operation(&state, &req, &t, &id, &operation, Some(body)).await
}

/// `[base]/[type]/[id]/$operation` (`body` is the POSTed one).
async fn instance_operation(
    state: &State,
    req: &Req,
    t: &str,
    id: &str,
    operation: &str,
    body: Option<HttpBody>,
) -> HttpResponse {
    if crate::ikp::handles(t, true, operation) {
        return national_operation(state, req, t, Some(id), operation, body).await;
    }
    let shape = read_shape(req);
    let result = match (t, operation) {
        ("Patient", "$everything") => everything::everything(&req.session, Some(id), &req.query).await,
        (_, "$validate") => validate::validate(&req.session, t, Some(id), None, &req.query).await,
        _ if terminology::is_operation(t, operation) => match operation_params(state, req, body).await {
            Ok(params) => terminology::operation(&req.session, t, Some(id), operation, &params).await,
            Err(e) => Err(e),
        },
        _ => Err(FhirError::NotFound(format!("the operation {operation} on {t}"))),
    };
    reply(state, shape, req.output, |shape| respond::render(&req.session, &shape, result))
}

/// A national (IKP) operation: query parameters and the body (a Parameters resource or any other).
async fn national_operation(
    state: &State,
    req: &Req,
    t: &str,
    id: Option<&str>,
    operation: &str,
    body: Option<HttpBody>,
) -> HttpResponse {
    let result = async {
        let body = match body {
            Some(body) => optional_body(state, req, body).await?,
            None => None,
        };
        let input = crate::ikp::Input::new(&req.query, body)?;
        crate::ikp::operation(&req.session, t, id, operation, input).await
    }
    .await;
    respond::render(&req.session, &write_shape(req), result)
}

/// `POST [base]`: a batch or transaction Bundle.
async fn bundle(AxumState(state): AxumState<State>, req: Req, body: HttpBody) -> HttpResponse {
    let result = async {
        let bundle = resource_body(&state, &req, body).await?;
        if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
            return Err(FhirError::bad_request("POST to the base URL takes a batch or transaction Bundle"));
        }
        match bundle.get("type").and_then(Value::as_str) {
            Some("transaction") => transaction::transaction(&req.session, &bundle).await,
            Some("batch") => batch::batch(&req.session, &bundle).await,
            other => Err(FhirError::bad_request(format!(
                "a Bundle of type {other:?} cannot be processed; use batch or transaction"
            ))),
        }
    }
    .await;
    respond::render(&req.session, &write_shape(&req), result)
}

/// A PATCH body: JSON Patch (`application/json-patch+json`) or a FHIRPath Patch Parameters resource.
async fn patch_body(state: &State, req: &Req, body: HttpBody) -> FhirResult<Value> {
    let content_type = header_str(req, axum::http::header::CONTENT_TYPE).unwrap_or_default().to_ascii_lowercase();
    if content_type.starts_with("application/json-patch+json") {
        let bytes = axum::body::to_bytes(body, state.max_body_bytes)
            .await
            .map_err(|_| FhirError::PayloadTooLarge(state.max_body_bytes))?;
        return serde_json::from_slice(&bytes)
            .map_err(|e| FhirError::bad_request(format!("malformed JSON Patch: {e}")));
    }
    resource_body(state, req, body).await
}

async fn patch(
    AxumState(state): AxumState<State>,
    Segments((t, id)): Segments<(String, String)>,
    req: Req,
    body: HttpBody,
) -> HttpResponse {
    let result = async {
        req.session.check_type(&t)?;
        let document = patch_body(&state, &req, body).await?;
        patch::patch(&req.session, &t, &id, &document, if_match(&req)?).await
    }
    .await;
    respond::render(&req.session, &write_shape(&req), result)
}

async fn conditional_patch(
    AxumState(state): AxumState<State>,
    Segments(t): Segments<String>,
    req: Req,
    body: HttpBody,
) -> HttpResponse {
    let result = async {
        req.session.check_type(&t)?;
        let document = patch_body(&state, &req, body).await?;
        patch::conditional_patch(&req.session, &t, &req.raw_query, &document, if_match(&req)?).await
    }
    .await;
    respond::render(&req.session, &write_shape(&req), result)
}

async fn method_not_allowed(AxumState(state): AxumState<State>, req: axum::extract::Request) -> HttpResponse {
    let e = FhirError::MethodNotAllowed(format!("{} {}", req.method(), req.uri().path()));
    respond::error(&state.session, Output::default(), &e)
}

pub async fn not_found(AxumState(state): AxumState<State>, req: axum::extract::Request) -> HttpResponse {
    let e = FhirError::NotFound(format!("the path {}", req.uri().path()));
    respond::error(&state.session, Output::default(), &e)
}

//! The portal's only way to data: HTTP requests to a FHIR server, sent through a `tower` service
//! (in `ikp serve`, the server's own public router, in-process: the same head checks, bearer
//! guard, access policy and audit trail as a request over a socket).

use std::convert::Infallible;

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, Response, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

/// The largest answer the portal reads (a page of 200 Observations is well under a megabyte).
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// An HTTP service that answers FHIR requests.
#[derive(Clone)]
pub struct Api {
    service: BoxCloneSyncService<Request<Body>, Response<Body>, Infallible>,
}

/// What the API answered when it was not a success.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    /// The OperationOutcome's first diagnostics or details text, as the server wrote it.
    pub detail: String,
}

/// A request body.
pub enum Payload {
    Json(Value),
    Form(Vec<(&'static str, String)>),
}

impl Api {
    pub fn new<S>(service: S) -> Api
    where
        S: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
    {
        Api { service: BoxCloneSyncService::new(service) }
    }

    /// Sends one request; `authorization` is the whole header value (`Bearer ...`, `Basic ...`).
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        authorization: Option<&str>,
        payload: Option<Payload>,
    ) -> Result<Value, ApiError> {
        let mut request =
            Request::builder().method(method).uri(path_and_query).header(header::ACCEPT, "application/fhir+json");
        if let Some(value) = authorization.and_then(|a| HeaderValue::from_str(a).ok()) {
            request = request.header(header::AUTHORIZATION, value);
        }
        let body = match payload {
            None => Body::empty(),
            Some(Payload::Json(value)) => {
                request = request.header(header::CONTENT_TYPE, "application/fhir+json");
                Body::from(value.to_string())
            }
            Some(Payload::Form(fields)) => {
                request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                let mut form = form_urlencoded::Serializer::new(String::new());
                for (name, value) in &fields {
                    form.append_pair(name, value);
                }
                Body::from(form.finish())
            }
        };
        let request = request.body(body).map_err(|e| ApiError::local(format!("a request could not be built: {e}")))?;
        let Ok(response) = self.service.clone().oneshot(request).await;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), MAX_ANSWER_BYTES)
            .await
            .map_err(|e| ApiError::local(format!("the answer could not be read: {e}")))?;
        let value: Value =
            if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
        if status.is_success() { Ok(value) } else { Err(ApiError { status, detail: outcome_text(&value) }) }
    }
}

impl ApiError {
    fn local(detail: String) -> ApiError {
        ApiError { status: StatusCode::BAD_GATEWAY, detail }
    }
}

/// The first issue's diagnostics (or details text) of an OperationOutcome; OAuth errors'
/// `error_description`.
fn outcome_text(value: &Value) -> String {
    let issue = value.get("issue").and_then(Value::as_array).and_then(|issues| issues.first());
    issue
        .and_then(|i| i.get("diagnostics").or_else(|| i.pointer("/details/text")))
        .or_else(|| value.get("error_description"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

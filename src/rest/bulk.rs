//! Bulk Data export over HTTP: the asynchronous request pattern (202 + Content-Location, status
//! polling with X-Progress and Retry-After, DELETE to cancel) and NDJSON file download.

use axum::Router;
use axum::body::Body as HttpBody;
use axum::extract::State as AxumState;
use axum::http::header::{CONTENT_LOCATION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{Method, StatusCode};
use axum::response::Response as HttpResponse;
use axum::routing::get;

use super::negotiate::{Handling, Output};
use super::respond;
use super::routes::{Segments, resource_body};
use super::{Req, State};
use crate::error::{FhirError, FhirResult};
use crate::export::Level;
use crate::interaction::export::{self, ExportStatus};

pub fn routes() -> Router<State> {
    Router::new()
        .route("/$export", get(system).post(system))
        .route("/Patient/$export", get(patient).post(patient))
        .route("/Group/{id}/$export", get(group).post(group))
        .route("/$export-status/{job}", get(status).delete(cancel))
        .route("/$export-file/{job}/{file}", get(file))
}

async fn system(AxumState(state): AxumState<State>, method: Method, req: Req, body: HttpBody) -> HttpResponse {
    kickoff(&state, method, req, body, Level::System, None).await
}

async fn patient(AxumState(state): AxumState<State>, method: Method, req: Req, body: HttpBody) -> HttpResponse {
    kickoff(&state, method, req, body, Level::Patient, None).await
}

async fn group(
    AxumState(state): AxumState<State>,
    Segments(id): Segments<String>,
    method: Method,
    req: Req,
    body: HttpBody,
) -> HttpResponse {
    kickoff(&state, method, req, body, Level::Group, Some(id)).await
}

fn built(builder: axum::http::response::Builder, body: HttpBody) -> FhirResult<HttpResponse> {
    builder.body(body).map_err(|e| FhirError::Internal(e.to_string()))
}

async fn kickoff(
    state: &State,
    method: Method,
    req: Req,
    body: HttpBody,
    level: Level,
    group: Option<String>,
) -> HttpResponse {
    let session = &req.session;
    let result = async {
        if !req.prefer.respond_async {
            return Err(FhirError::bad_request("$export runs asynchronously: send the header Prefer: respond-async"));
        }
        let mut pairs = req.query.clone();
        if method == Method::POST {
            pairs.extend(export::parameters_to_pairs(&resource_body(state, &req, body).await?)?);
        }
        let path = match (&level, &group) {
            (Level::Group, Some(id)) => format!("Group/{id}/$export"),
            (Level::Patient, _) => "Patient/$export".to_string(),
            _ => "$export".to_string(),
        };
        let query = if req.raw_query.is_empty() { String::new() } else { format!("?{}", req.raw_query) };
        let request_url = format!("{}/{path}{query}", session.base_url);
        let strict = req.prefer.handling == Handling::Strict;
        let location = export::kickoff(session, level, group.as_deref(), &pairs, &request_url, strict).await?;
        built(
            HttpResponse::builder().status(StatusCode::ACCEPTED).header(CONTENT_LOCATION, location),
            HttpBody::empty(),
        )
    }
    .await;
    result.unwrap_or_else(|e| respond::error(session, Output::default(), &e))
}

async fn status(AxumState(state): AxumState<State>, Segments(job): Segments<String>, req: Req) -> HttpResponse {
    let session = &req.session;
    let result = async {
        match export::status(session, &job, state.enforce_auth).await? {
            ExportStatus::InProgress { progress } => built(
                HttpResponse::builder()
                    .status(StatusCode::ACCEPTED)
                    .header("x-progress", progress)
                    .header(RETRY_AFTER, "2"),
                HttpBody::empty(),
            ),
            ExportStatus::Complete { manifest } => built(
                HttpResponse::builder().status(StatusCode::OK).header(CONTENT_TYPE, "application/json"),
                HttpBody::from(manifest.to_string()),
            ),
            ExportStatus::Failed { message } => Err(FhirError::Internal(format!("the export failed: {message}"))),
        }
    }
    .await;
    result.unwrap_or_else(|e| respond::error(session, Output::default(), &e))
}

async fn cancel(Segments(job): Segments<String>, req: Req) -> HttpResponse {
    let session = &req.session;
    let result = async {
        export::cancel(session, &job).await?;
        built(HttpResponse::builder().status(StatusCode::ACCEPTED), HttpBody::empty())
    }
    .await;
    result.unwrap_or_else(|e| respond::error(session, Output::default(), &e))
}

async fn file(
    AxumState(state): AxumState<State>,
    caller: Option<axum::Extension<crate::session::Session>>,
    Segments((job, seq)): Segments<(String, String)>,
) -> HttpResponse {
    // The NDJSON download takes no FHIR content negotiation, hence no `Req`.
    let session = caller.map_or_else(|| state.session.unconfined_request(), |c| c.0);
    let session = &session;
    let result = async {
        let content = export::file(session, &job, &seq).await?;
        built(
            HttpResponse::builder().status(StatusCode::OK).header(CONTENT_TYPE, "application/fhir+ndjson"),
            HttpBody::from(content),
        )
    }
    .await;
    result.unwrap_or_else(|e| respond::error(session, Output::default(), &e))
}

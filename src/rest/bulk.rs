//! Bulk Data export over HTTP, beyond the kick-off (an operation of the registry): status polling
//! with X-Progress and Retry-After, DELETE to cancel, and NDJSON file download.

use axum::Router;
use axum::body::Body as HttpBody;
use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::response::Response as HttpResponse;
use axum::routing::get;

use super::negotiate::Output;
use super::respond;
use super::routes::Segments;
use super::{Req, State};
use crate::error::{FhirError, FhirResult};
use crate::interaction::export::{self, ExportStatus};

pub fn routes() -> Router<State> {
    Router::new()
        .route("/$export-status/{job}", get(status).delete(cancel))
        .route("/$export-file/{job}/{file}", get(file))
}

fn built(builder: axum::http::response::Builder, body: HttpBody) -> FhirResult<HttpResponse> {
    builder.body(body).map_err(|e| FhirError::Internal(e.to_string()))
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

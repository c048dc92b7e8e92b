//! Turning interaction results and errors into HTTP responses: status, FHIR headers, and the body
//! in the negotiated format. Errors become OperationOutcomes here and nowhere else.

use axum::body::Body as HttpBody;
use axum::http::header::{CONTENT_LOCATION, CONTENT_TYPE, ETAG, LAST_MODIFIED, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response as HttpResponse;
use serde_json::Value;

use super::negotiate::{Output, Return};
use crate::context::Fhir;
use crate::error::FhirError;
use crate::format::subset::{self, Subset};
use crate::format::{self, Format};
use crate::interaction::{Body, Response};
use crate::outcome::operation_outcome;

/// How the client asked for the result to be shaped.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    pub output: Output,
    /// `Prefer: return=` for writes; reads always return the representation.
    pub return_: Option<Return>,
    pub subset: Subset,
}

pub fn render(fhir: &Fhir, shape: &Shape, result: Result<Response, FhirError>) -> HttpResponse {
    match result {
        Ok(response) => success(fhir, shape, response).unwrap_or_else(|e| error(fhir, shape.output, &e)),
        Err(e) => error(fhir, shape.output, &e),
    }
}

fn success(fhir: &Fhir, shape: &Shape, response: Response) -> Result<HttpResponse, FhirError> {
    let status = StatusCode::from_u16(response.status).map_err(|e| FhirError::Internal(e.to_string()))?;
    let mut builder = HttpResponse::builder().status(status);
    if let Some(v) = response.version {
        builder = builder.header(ETAG, format!("W/\"{v}\""));
    }
    if let Some(t) = response.last_updated {
        let when = std::time::UNIX_EPOCH + std::time::Duration::from_micros(t.max(0) as u64);
        builder = builder.header(LAST_MODIFIED, httpdate::fmt_http_date(when));
    }
    if let Some(location) = &response.location {
        let header =
            if matches!(response.status, 200 | 201) && shape.return_.is_some() { LOCATION } else { CONTENT_LOCATION };
        builder = builder.header(header, location);
    }
    let body = match shape.return_ {
        Some(Return::Minimal) => None,
        Some(Return::OperationOutcome) => Some(Body::Resource(operation_outcome(&response.issues))),
        _ => response.body,
    };
    let Some(body) = body else {
        return builder.body(HttpBody::empty()).map_err(|e| FhirError::Internal(e.to_string()));
    };
    let bytes = match body {
        // The common case costs no parsing: stored JSON goes out as stored.
        Body::Stored(v) if shape.output.format == Format::Json && !shape.output.pretty && shape.subset.is_whole() => {
            v.content.unwrap_or_default().into_bytes()
        }
        Body::Stored(v) => {
            let mut value: Value = crate::format::json::from_str(v.content.as_deref().unwrap_or("{}"))
                .map_err(|e| FhirError::Internal(format!("stored {}/{} is not JSON: {e}", v.resource_type, v.id)))?;
            subset::apply(fhir.model, &mut value, &shape.subset);
            format::render(fhir.model, shape.output.format, &value, shape.output.pretty)?
        }
        Body::Resource(value) => format::render(fhir.model, shape.output.format, &value, shape.output.pretty)?,
        Body::Bundle(bundle)
            if shape.output.format == Format::Json && !shape.output.pretty && shape.subset.is_whole() =>
        {
            bundle.to_json_bytes()?
        }
        Body::Bundle(bundle) => {
            let value = bundle.to_value(|resource| subset::apply(fhir.model, resource, &shape.subset))?;
            format::render(fhir.model, shape.output.format, &value, shape.output.pretty)?
        }
    };
    builder
        .header(CONTENT_TYPE, content_type(shape.output.format))
        .body(HttpBody::from(bytes))
        .map_err(|e| FhirError::Internal(e.to_string()))
}

fn content_type(format: Format) -> HeaderValue {
    match format {
        Format::Json => HeaderValue::from_static("application/fhir+json; charset=utf-8"),
        Format::Xml => HeaderValue::from_static("application/fhir+xml; charset=utf-8"),
    }
}

/// An error as an OperationOutcome, in the client's format where possible.
pub fn error(fhir: &Fhir, output: Output, e: &FhirError) -> HttpResponse {
    let status = e.http_status();
    if status >= 500 {
        tracing::error!(error = %e, "request failed");
    } else {
        tracing::debug!(error = %e, status, "request refused");
    }
    let outcome = operation_outcome(&e.issues());
    let (format, bytes) = match format::render(fhir.model, output.format, &outcome, output.pretty) {
        Ok(bytes) => (output.format, bytes),
        Err(_) => (Format::Json, serde_json::to_vec(&outcome).unwrap_or_default()),
    };
    let mut response = HttpResponse::new(HttpBody::from(bytes));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(CONTENT_TYPE, content_type(format));
    response
}

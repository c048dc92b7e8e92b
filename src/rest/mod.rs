//! The HTTP face of the server: routes under `/fhir`, request parsing, and rendering.

pub mod auth;
mod bulk;
pub mod consistency;
pub mod guard;
mod head;
pub mod metrics;
pub mod negotiate;
pub mod ops;
pub mod portal;
pub mod record;
pub mod respond;
mod routes;
pub mod target;
mod websocket;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, Request};
use axum::response::{IntoResponse, Response as HttpResponse};
use tower_http::cors::CorsLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::error::FhirError;
use crate::session::Session;
use negotiate::{Output, Prefer};

/// Shared state of the HTTP layer.
pub struct AppState {
    /// The server's own session: requests get theirs from it (confined to their caller).
    pub session: Session,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// The SMART authorization server.
    pub auth: crate::auth::AuthServer,
    /// Whether the FHIR API requires bearer tokens.
    pub enforce_auth: bool,
    /// Where reads are audited.
    pub audit: Arc<crate::session::AuditQueue>,
    /// Callers worked out per token, kept per policy generation.
    pub callers: crate::access::cache::CallerCache,
    /// Whether responses carry `x-ikp-statements` (the SQL statements the request ran), for the
    /// tests that hold requests to their budget. Off by default: the count could tell a caller
    /// something about data it may not see.
    pub expose_statements: bool,
    /// Draining and the terminology's warm-up, for the readiness probe.
    pub health: ops::Health,
    /// Each caller's last write position, for read-your-writes on read replicas (`None`: there
    /// are no replicas).
    pub floors: Option<consistency::Floors>,
    /// The Prometheus handle `/metrics` renders (`None`: metrics are off).
    pub metrics: Option<&'static metrics_exporter_prometheus::PrometheusHandle>,
    /// The patient portal at `/` (`None`: off).
    pub portal: Option<portal::PortalSetup>,
    /// This node's notification machinery (its workers run in `crate::server::Workers`).
    pub notifier: crate::notify::Notifier,
}

pub type State = Arc<AppState>;

/// Builds the application: the FHIR API and the authorization server under `/fhir`, behind the
/// bearer-token guard; the health probes and `/metrics` beside it, outside the guard; every
/// request recorded (`record`), with tracing, request ids and CORS.
pub fn app(state: State) -> Router {
    let api = api(state.clone());
    match state.portal.clone() {
        // The portal's requests to the API go through the same stack as any client's (recorded,
        // guarded, audited), in-process; its pages are served beside the API.
        Some(setup) => portal::beside(api, setup, |router| layered(state.clone(), router)),
        None => layered(state, api),
    }
}

/// The FHIR API, the authorization server and the operators' endpoints.
fn api(state: State) -> Router {
    let routed = Router::new()
        .nest("/fhir", routes::fhir_routes().merge(auth::auth_routes()))
        .fallback(routes::not_found)
        .with_state(state.clone());
    // The guard wraps the router (rather than being a route layer) so it runs before routing and
    // can narrow a confined request's path.
    let guarded = tower::Layer::layer(&axum::middleware::from_fn_with_state(state.clone(), guard::guard), routed);
    Router::new()
        .merge(ops::routes(state.metrics.is_some()))
        .merge(websocket::routes())
        .fallback_service(guarded)
        .with_state(state)
}

/// Every request recorded (`record`), with tracing, request ids and CORS.
fn layered(state: State, router: Router) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    router
        // Bodies are read by the handlers with the configured limit, to answer 413 as FHIR.
        .layer(DefaultBodyLimit::disable())
        // Inside the span, so that it can record the request's fields on it.
        .layer(axum::middleware::from_fn_with_state(state, record::record))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
            // The request record's fields, filled in when the response is ready. The path only:
            // a query string may carry a PESEL or other search values, which logs must not.
            tracing::info_span!(
                "request",
                method = %request.method(),
                path = %request.uri().path(),
                request_id = %id,
                caller = tracing::field::Empty,
                interaction = tracing::field::Empty,
                resource_type = tracing::field::Empty,
                status = tracing::field::Empty,
                latency_ms = tracing::field::Empty,
            )
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(CorsLayer::permissive().max_age(Duration::from_secs(3600)))
}

/// What every FHIR handler reads from the request head.
pub struct Req {
    pub method: axum::http::Method,
    /// The path below the FHIR base (`/Patient/1`).
    pub path: String,
    /// Its route, as the request record resolved it ([`target`]).
    pub route: Option<crate::api::Route>,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// The raw query string (for conditional criteria).
    pub raw_query: String,
    pub headers: HeaderMap,
    pub output: Output,
    pub prefer: Prefer,
    /// The session of this request: confined to the authenticated caller when there is one.
    pub session: Session,
}

/// A negotiation failure, answered before any handler runs.
pub struct Rejection(FhirError, State);

impl IntoResponse for Rejection {
    fn into_response(self) -> HttpResponse {
        respond::error(&self.1.session, Output::default(), &self.0)
    }
}

impl FromRequestParts<State> for Req {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Req, Rejection> {
        let raw_query = parts.uri.query().unwrap_or_default().to_string();
        let query: Vec<(String, String)> =
            form_urlencoded::parse(raw_query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let output = negotiate::output(&query, &parts.headers).map_err(|e| Rejection(e, state.clone()))?;
        let session = match parts.extensions.get::<Session>() {
            Some(session) => session.clone(),
            None => consistency::reading(state.session.unconfined_request(), &parts.extensions),
        };
        Ok(Req {
            method: parts.method.clone(),
            path: parts.uri.path().to_string(),
            route: parts.extensions.get::<target::Target>().and_then(|t| t.0.clone()),
            prefer: negotiate::prefer(&parts.headers),
            raw_query,
            query,
            headers: parts.headers.clone(),
            output,
            session,
        })
    }
}

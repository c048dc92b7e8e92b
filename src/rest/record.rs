//! The per-request record: one structured event per request (target `ikp::request`) and the HTTP
//! metrics, fed from the same values. The values are kinds, never identities: which interaction
//! (from the API's routing table), which resource type (only an R4 type), which kind of caller,
//! the status and the latency. No id, PESEL, token or query text is in them, so neither the log
//! line nor a metric label can carry one, and the labels stay few (every value comes from a fixed
//! set: the interactions, the operations of the registry, the R4 resource types).
//!
//! The guard knows the caller and the FHIR handler knows whether a Bundle was a batch or a
//! transaction; each puts what it knows into the response's extensions ([`CallerKind`],
//! [`BundleKind`]), which this middleware, wrapped around both, reads once the response is ready.

use std::borrow::Cow;
use std::time::Instant;

use axum::extract::{Request, State as AxumState};
use axum::middleware::Next;
use axum::response::Response as HttpResponse;

use super::State;
use super::target::{self, FHIR_PREFIX};
use crate::access::Caller;
use crate::access::principal::Actor;
use crate::api::Route;
use crate::interaction::search::Scope;
use crate::model::Model;
use crate::store::HistoryScope;

/// Who made a request, as a kind: never who.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerKind {
    /// No token (authorization off, or a public endpoint), or one that was refused.
    Anonymous,
    Patient,
    RelatedPerson,
    Practitioner,
    /// Another kind of user (`fhirUser` a PractitionerRole, a Person...).
    Person,
    /// A client acting for itself (`client_credentials`).
    BackendService,
}

impl CallerKind {
    pub fn of(caller: &Caller) -> CallerKind {
        match caller.principal.actor {
            Actor::Patient(_) => CallerKind::Patient,
            Actor::RelatedPerson(_) => CallerKind::RelatedPerson,
            Actor::Practitioner(_) => CallerKind::Practitioner,
            Actor::Person(_) => CallerKind::Person,
            Actor::Client => CallerKind::BackendService,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            CallerKind::Anonymous => "anonymous",
            CallerKind::Patient => "patient",
            CallerKind::RelatedPerson => "related-person",
            CallerKind::Practitioner => "practitioner",
            CallerKind::Person => "person",
            CallerKind::BackendService => "backend-service",
        }
    }
}

/// What a Bundle posted to the base turned out to be, once the handler has read it (the path
/// alone cannot tell a batch from a transaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundleKind(pub &'static str);

impl BundleKind {
    /// The kind of the Bundle `body`, when it is a batch or a transaction.
    pub fn of(body: Option<&serde_json::Value>) -> Option<BundleKind> {
        match body?.get("type")?.as_str()? {
            "batch" => Some(BundleKind("batch")),
            "transaction" => Some(BundleKind("transaction")),
            _ => None,
        }
    }
}

/// The labels of a request, from its method and path alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    /// `read`, `search-type`, `$everything`, `auth`, `ops`, `other`...
    pub interaction: Cow<'static, str>,
    /// An R4 resource type, `other` for a name that is not one, empty when the request names none.
    pub resource_type: &'static str,
}

impl Labels {
    fn of(interaction: &'static str) -> Labels {
        Labels { interaction: Cow::Borrowed(interaction), resource_type: "" }
    }

    /// Health probes and scrapes: counted, but logged only at debug level (they come every few
    /// seconds and say nothing about the service's use).
    fn is_ops(&self) -> bool {
        self.interaction == "ops"
    }
}

/// The labels of `method` on `path` (the whole path, `/fhir/Patient/1`).
pub fn labels(model: &'static Model, method: &str, path: &str) -> Labels {
    labels_of(model, path, target::route_of(method, path).as_ref())
}

/// The labels of a request on `path` whose route is `route`.
fn labels_of(model: &'static Model, path: &str, route: Option<&Route>) -> Labels {
    if super::ops::is_ops_path(path) {
        return Labels::of("ops");
    }
    let Some(rest) = path.strip_prefix(FHIR_PREFIX).filter(|r| r.is_empty() || r.starts_with('/')) else {
        return Labels::of("other");
    };
    if rest.starts_with("/auth/") || rest.starts_with("/.well-known/") {
        return Labels::of("auth");
    }
    // Bulk Data status and file URLs have routes of their own, outside the routing table.
    match rest.split('/').find(|s| !s.is_empty()) {
        Some("$export-status") => return Labels::of("$export-status"),
        Some("$export-file") => return Labels::of("$export-file"),
        _ => {}
    }
    match route {
        Some(route) => route_labels(model, route),
        None => Labels::of("other"),
    }
}

fn route_labels(model: &'static Model, route: &Route) -> Labels {
    let (interaction, resource_type): (Cow<'static, str>, Option<&str>) = match route {
        Route::Capabilities => ("capabilities".into(), None),
        Route::Read { resource_type, .. } => ("read".into(), Some(resource_type)),
        Route::VRead { resource_type, .. } => ("vread".into(), Some(resource_type)),
        Route::History(HistoryScope::System) => ("history-system".into(), None),
        Route::History(HistoryScope::Type(t)) => ("history-type".into(), Some(t)),
        Route::History(HistoryScope::Instance(t, _)) => ("history-instance".into(), Some(t)),
        Route::Search(Scope::System) => ("search-system".into(), None),
        Route::Search(Scope::Type(t)) => ("search-type".into(), Some(t)),
        Route::Search(Scope::Compartment { resource_type, .. }) => ("search-compartment".into(), Some(resource_type)),
        Route::Create { resource_type } => ("create".into(), Some(resource_type)),
        Route::Update { resource_type, .. } | Route::ConditionalUpdate { resource_type } => {
            ("update".into(), Some(resource_type))
        }
        Route::Patch { resource_type, .. } | Route::ConditionalPatch { resource_type } => {
            ("patch".into(), Some(resource_type))
        }
        Route::Delete { resource_type, .. } | Route::ConditionalDelete { resource_type } => {
            ("delete".into(), Some(resource_type))
        }
        // Refined to `transaction` by the handler when the Bundle is one.
        Route::Bundle => ("batch".into(), None),
        Route::Operation { level, resource_type, name, .. } => {
            // Only operations of the registry name themselves; any other `$...` is `other`, so a
            // client cannot mint label values.
            let interaction = match crate::api::operations::find(*level, resource_type.as_deref(), name) {
                Some(operation) => Cow::Owned(format!("${}", operation.name)),
                None => Cow::Borrowed("other"),
            };
            (interaction, resource_type.as_deref())
        }
    };
    Labels { interaction, resource_type: resource_type.map_or("", |t| known_type(model, t)) }
}

/// `name` as the model's own `'static` string when it is an R4 resource type, else `other`.
fn known_type(model: &'static Model, name: &str) -> &'static str {
    let types = model.resource_types();
    types.binary_search_by(|t| t.as_str().cmp(name)).ok().and_then(|i| types.get(i)).map_or("other", String::as_str)
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Times the request, then emits its record, records its fields on the request span and counts
/// it in the HTTP metrics. The latency is until the response head is ready (a streamed body, such
/// as an export file, may take longer to send).
pub async fn record(AxumState(state): AxumState<State>, mut request: Request, next: Next) -> HttpResponse {
    let started = Instant::now();
    let route = target::resolve(&mut request);
    let labels = labels_of(state.session.model, request.uri().path(), route.as_ref());
    let request_id =
        request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let response = next.run(request).await;
    let elapsed = started.elapsed();

    let caller = response.extensions().get::<CallerKind>().copied().unwrap_or(CallerKind::Anonymous).label();
    let interaction = match response.extensions().get::<BundleKind>() {
        Some(BundleKind(kind)) => Cow::Borrowed(*kind),
        None => labels.interaction.clone(),
    };
    let resource_type = labels.resource_type;
    let status = response.status().as_u16();
    // Milliseconds with microseconds, for people reading the log.
    let latency_ms = elapsed.as_micros() as f64 / 1000.0;

    let span = tracing::Span::current();
    span.record("caller", caller);
    span.record("interaction", interaction.as_ref());
    span.record("resource_type", resource_type);
    span.record("status", status);
    span.record("latency_ms", latency_ms);
    // Outside the request span (`parent: None`), so the line is exactly these fields: the span
    // also carries the path, which may hold ids.
    if labels.is_ops() {
        tracing::debug!(target: "ikp::request", parent: None, request_id, caller, interaction = interaction.as_ref(), resource_type, status, latency_ms, "request");
    } else {
        tracing::info!(target: "ikp::request", parent: None, request_id, caller, interaction = interaction.as_ref(), resource_type, status, latency_ms, "request");
    }

    metrics::counter!(
        "ikp_http_requests_total",
        "interaction" => interaction.clone(),
        "resource_type" => resource_type,
        "status_class" => status_class(status),
    )
    .increment(1);
    metrics::histogram!(
        "ikp_http_request_duration_seconds",
        "interaction" => interaction,
        "resource_type" => resource_type,
    )
    .record(elapsed.as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(method: &str, path: &str) -> (String, &'static str) {
        let model = crate::model::r4().expect("the R4 model");
        let labels = labels(model, method, path);
        (labels.interaction.into_owned(), labels.resource_type)
    }

    #[test]
    fn requests_are_labelled_by_interaction_and_known_type() {
        assert_eq!(of("GET", "/fhir/Patient/some-secret-id"), ("read".into(), "Patient"));
        assert_eq!(of("HEAD", "/fhir/Patient/1/_history/2"), ("vread".into(), "Patient"));
        assert_eq!(of("GET", "/fhir/Observation"), ("search-type".into(), "Observation"));
        assert_eq!(of("POST", "/fhir/Observation/_search"), ("search-type".into(), "Observation"));
        assert_eq!(of("GET", "/fhir/Patient/1/Observation"), ("search-compartment".into(), "Observation"));
        assert_eq!(of("GET", "/fhir"), ("search-system".into(), ""));
        assert_eq!(of("POST", "/fhir"), ("batch".into(), ""));
        assert_eq!(of("GET", "/fhir/Patient/a%2Db"), ("read".into(), "Patient"), "percent-encoded ids are ids");
        assert_eq!(of("GET", "/fhir/metadata"), ("capabilities".into(), ""));
        assert_eq!(of("GET", "/fhir/_history"), ("history-system".into(), ""));
        assert_eq!(of("PUT", "/fhir/Patient"), ("update".into(), "Patient"), "a conditional update");
        assert_eq!(of("DELETE", "/fhir/Patient/1"), ("delete".into(), "Patient"));
        assert_eq!(of("GET", "/fhir/Patient/1/$everything"), ("$everything".into(), "Patient"));
        assert_eq!(of("GET", "/fhir/$export-status/job-1"), ("$export-status".into(), ""));
        assert_eq!(of("POST", "/fhir/auth/token"), ("auth".into(), ""));
        assert_eq!(of("GET", "/fhir/.well-known/smart-configuration"), ("auth".into(), ""));
        assert_eq!(of("GET", "/health/ready"), ("ops".into(), ""));
        assert_eq!(of("GET", "/metrics"), ("ops".into(), ""));
    }

    #[test]
    fn nothing_a_client_names_becomes_a_label() {
        assert_eq!(of("GET", "/fhir/NoSuchType/1"), ("read".into(), "other"), "unknown types are other");
        assert_eq!(of("GET", "/fhir/Patient/$made-up-operation"), ("other".into(), "Patient"));
        assert_eq!(of("GET", "/fhir/$85030204565"), ("other".into(), ""));
        assert_eq!(of("GET", "/fhir/a/b/c/d/e"), ("other".into(), ""));
        assert_eq!(of("GET", "/fhirish/Patient"), ("other".into(), ""));
        assert_eq!(of("GET", "/somewhere/else"), ("other".into(), ""));
        assert_eq!(of("BREW", "/fhir/Patient"), ("other".into(), ""));
    }

    #[test]
    fn a_bundle_is_refined_by_its_type() {
        let transaction = serde_json::json!({"resourceType": "Bundle", "type": "transaction"});
        assert_eq!(BundleKind::of(Some(&transaction)), Some(BundleKind("transaction")));
        let batch = serde_json::json!({"resourceType": "Bundle", "type": "batch"});
        assert_eq!(BundleKind::of(Some(&batch)), Some(BundleKind("batch")));
        let other = serde_json::json!({"resourceType": "Bundle", "type": "secret-free-text"});
        assert_eq!(BundleKind::of(Some(&other)), None);
        assert_eq!(BundleKind::of(None), None);
    }
}

//! Bearer-token protection of the FHIR API. Runs before routing, so it can narrow a request the
//! policy confines (a patient-scoped search becomes a compartment search) before a handler sees
//! it. The verified [`Principal`] is put in the request's extensions for handlers that want it.
//! Discovery, `/metadata` and the authorization endpoints stay public.

use axum::extract::{Request, State as AxumState};
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderValue, Method, Uri};
use axum::middleware::Next;
use axum::response::Response as HttpResponse;

use super::State;
use super::negotiate::Output;
use super::respond;
use crate::access::{self, AccessRequest, Decision};
use crate::auth::principal::{self, Principal};
use crate::auth::scopes::Interaction;
use crate::error::FhirError;
use crate::interaction::Body;
use crate::interaction::search::{Scope, search};

/// Where the FHIR API is mounted.
const FHIR_PREFIX: &str = "/fhir";

pub async fn guard(AxumState(state): AxumState<State>, mut request: Request, next: Next) -> HttpResponse {
    if !state.enforce_auth || request.method() == Method::OPTIONS {
        return next.run(request).await;
    }
    let Some(rest) = request.uri().path().strip_prefix(FHIR_PREFIX).map(str::to_string) else {
        return next.run(request).await;
    };
    if is_public(&rest) {
        return next.run(request).await;
    }
    let Some(token) = super::auth::bearer_token(request.headers()) else {
        return challenge(&state, FhirError::Unauthorized("a bearer token is required".into()), None);
    };
    let principal = match principal::verify_bearer(&state.auth, token).await {
        Ok(p) => p,
        Err(e) => return challenge(&state, FhirError::Unauthorized(e.description()), Some("invalid_token")),
    };
    let segments: Vec<String> = rest.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect();
    let access = access_request(request.method(), &segments);
    match access::decide(&principal, &access) {
        Decision::Allow => {}
        Decision::Deny(reason) => return challenge(&state, FhirError::Forbidden(reason), Some("insufficient_scope")),
        Decision::Filtered(filter) => match &access {
            AccessRequest::Instance { resource_type, id, .. } => {
                let scope = Scope::Type(resource_type.clone());
                match matches(&state, scope, id, &filter).await {
                    Ok(true) => {}
                    Ok(false) => return challenge(&state, FhirError::NotFound(format!("{resource_type}/{id}")), None),
                    Err(e) => return respond::error(&state.fhir, Output::default(), &e),
                }
            }
            _ => {
                if let Some(uri) = narrowed(request.uri(), None, &filter) {
                    *request.uri_mut() = uri;
                }
            }
        },
        Decision::WithinPatient { patient, filter } => {
            match confine(&state, &principal, &access, &patient, request.uri(), &filter).await {
                Ok(Some(uri)) => *request.uri_mut() = uri,
                Ok(None) => {}
                Err(e) => return challenge(&state, e, Some("insufficient_scope")),
            }
        }
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

fn is_public(rest: &str) -> bool {
    rest == "/metadata" || rest.starts_with("/.well-known/") || rest.starts_with("/auth/")
}

/// A 401 or 403 as an OperationOutcome with the RFC 6750 challenge.
fn challenge(state: &State, e: FhirError, error: Option<&str>) -> HttpResponse {
    let mut response = respond::error(&state.fhir, Output::default(), &e);
    let value = match error {
        Some(code) => format!("Bearer realm=\"ikp\", error=\"{code}\""),
        None => "Bearer realm=\"ikp\"".to_string(),
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}

/// What a request to the FHIR API asks for, from its method and path.
fn access_request(method: &Method, segments: &[String]) -> AccessRequest {
    let write = |m: &Method| match *m {
        Method::DELETE => Interaction::Delete,
        Method::POST => Interaction::Create,
        _ => Interaction::Update,
    };
    let reading = *method == Method::GET || *method == Method::HEAD;
    match segments {
        [] | [_] if segments.first().is_none_or(|s| s.starts_with('_') || s.starts_with('$')) => {
            let searching = reading || segments.first().is_some_and(|s| s == "_search");
            AccessRequest::System { interaction: if searching { Interaction::Search } else { Interaction::Update } }
        }
        [t] => AccessRequest::Type {
            resource_type: t.clone(),
            interaction: if reading { Interaction::Search } else { write(method) },
        },
        [t, op] if op == "_search" || op == "_history" => {
            AccessRequest::Type { resource_type: t.clone(), interaction: Interaction::Search }
        }
        [_, op] if op.starts_with('$') => {
            AccessRequest::System { interaction: if reading { Interaction::Search } else { Interaction::Update } }
        }
        [t, id] => AccessRequest::Instance {
            resource_type: t.clone(),
            id: id.clone(),
            interaction: if reading { Interaction::Read } else { write(method) },
        },
        [t, id, op] if op == "$everything" => AccessRequest::Compartment {
            compartment_type: t.clone(),
            compartment_id: id.clone(),
            resource_type: "*".into(),
        },
        [t, id, op, ..] if op == "_history" => {
            AccessRequest::Instance { resource_type: t.clone(), id: id.clone(), interaction: Interaction::Read }
        }
        // Other operations ($reindex, $export, terminology...) may reach across patients, so for
        // now they need a system-wide scope: reading ones a `*` search scope, the rest a `*` write.
        [_, _, op] if op.starts_with('$') => {
            AccessRequest::System { interaction: if reading { Interaction::Search } else { Interaction::Update } }
        }
        [c, id, t] if reading => AccessRequest::Compartment {
            compartment_type: c.clone(),
            compartment_id: id.clone(),
            resource_type: t.clone(),
        },
        _ => AccessRequest::System { interaction: Interaction::Update },
    }
}

/// Applies a patient confinement: reads are checked for compartment membership, type searches are
/// rewritten into compartment searches. Returns the rewritten URI, if any.
async fn confine(
    state: &State,
    principal: &Principal,
    access: &AccessRequest,
    patient: &str,
    uri: &Uri,
    filter: &[(String, String)],
) -> Result<Option<Uri>, FhirError> {
    let fhir = &state.fhir;
    match access {
        AccessRequest::Instance { resource_type, id, interaction: Interaction::Read } => {
            let own = principal.is_own_resource(resource_type, id);
            if (resource_type == "Patient" || own) && filter.is_empty() {
                return Ok(None);
            }
            let scope = if fhir.registry.current().compartment_params("Patient", resource_type).is_empty() || own {
                // Not patient data (Medication, Organization, ...): readable as reference data.
                Scope::Type(resource_type.clone())
            } else {
                Scope::Compartment {
                    compartment_type: "Patient".into(),
                    compartment_id: patient.to_string(),
                    resource_type: resource_type.clone(),
                }
            };
            if matches(state, scope, id, filter).await? {
                Ok(None)
            } else {
                Err(FhirError::NotFound(format!("{resource_type}/{id}")))
            }
        }
        AccessRequest::Instance { .. } => Ok(None),
        AccessRequest::Type { resource_type, interaction: Interaction::Search } => {
            let path = uri.path();
            if path.ends_with("/_history") || path.ends_with("/_search") {
                return Err(FhirError::Forbidden(
                    "a patient-scoped token searches with GET [type]?...; history and POST _search are not confined"
                        .into(),
                ));
            }
            if resource_type == "Patient" {
                let mut filter = filter.to_vec();
                filter.push(("_id".into(), patient.to_string()));
                return Ok(narrowed(uri, None, &filter));
            }
            if fhir.registry.current().compartment_params("Patient", resource_type).is_empty() {
                return Ok(narrowed(uri, None, filter));
            }
            let path = format!("{FHIR_PREFIX}/Patient/{patient}/{resource_type}");
            Ok(narrowed(uri, Some(&path), filter))
        }
        AccessRequest::Compartment { .. } => Ok(narrowed(uri, None, filter)),
        // Writes are not confined yet: the fine-grained policy will check the resource's patient.
        _ => Ok(None),
    }
}

/// Whether the resource `id` is found by a search in `scope` with the filter (compartment and
/// granular-scope membership of a read).
async fn matches(state: &State, scope: Scope, id: &str, filter: &[(String, String)]) -> Result<bool, FhirError> {
    let mut pairs = vec![("_id".to_string(), id.to_string())];
    pairs.extend(filter.iter().cloned());
    let found = search(&state.fhir, scope, &pairs, true).await?;
    Ok(matches!(&found.body, Some(Body::Bundle(b)) if !b.entries.is_empty()))
}

/// The URI with another path and extra query parameters (`None` when nothing changes).
fn narrowed(uri: &Uri, path: Option<&str>, extra: &[(String, String)]) -> Option<Uri> {
    if path.is_none() && extra.is_empty() {
        return None;
    }
    let mut added = form_urlencoded::Serializer::new(String::new());
    for (k, v) in extra {
        added.append_pair(k, v);
    }
    let added = added.finish();
    let query = match uri.query().filter(|q| !q.is_empty()) {
        Some(q) if !added.is_empty() => format!("{q}&{added}"),
        Some(q) => q.to_string(),
        None => added,
    };
    let path = path.unwrap_or(uri.path());
    let text = if query.is_empty() { path.to_string() } else { format!("{path}?{query}") };
    text.parse().ok()
}

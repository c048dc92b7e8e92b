//! What a request's path names under the FHIR base, worked out once per request by the
//! outermost layer (the request record) and read by the guard (for its audit) and the handler:
//! the three once parsed the path each in their own way, and the guard's audit read a
//! percent-encoded id undecoded where the handler decoded it.

use axum::extract::Request;

use crate::api::{Method, Route};

/// Where the FHIR API is mounted.
pub const FHIR_PREFIX: &str = "/fhir";

/// The route of a request (a request extension), when its path under the base is one; `None`
/// for any other path, and for a path no route matches (the handler then parses it again to say
/// why, which only an error costs).
#[derive(Debug, Clone)]
pub struct Target(pub Option<Route>);

/// Makes `[base]/` the base itself (clients that keep the base URL with a trailing slash post
/// their batches and transactions there), then works out the request's route and keeps it in the
/// request's extensions.
pub fn resolve(request: &mut Request) -> Option<Route> {
    base_without_slash(request);
    let route = route_of(request.method().as_str(), request.uri().path());
    request.extensions_mut().insert(Target(route.clone()));
    route
}

/// The route a request already resolved, if any.
pub fn of(request: &Request) -> Option<Route> {
    request.extensions().get::<Target>().and_then(|t| t.0.clone())
}

/// The route of `method` on `path` (the whole path, `/fhir/Patient/1`), by the API's one table.
pub fn route_of(method: &str, path: &str) -> Option<Route> {
    let rest = path.strip_prefix(FHIR_PREFIX).filter(|r| r.is_empty() || r.starts_with('/'))?;
    let segments = super::routes::segments(rest).ok()?;
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    Route::parse(Method::parse(method)?, &segments).ok()
}

fn base_without_slash(request: &mut Request) {
    if request.uri().path().strip_prefix(FHIR_PREFIX) != Some("/") {
        return;
    }
    let rewritten = match request.uri().query() {
        Some(query) => format!("{FHIR_PREFIX}?{query}"),
        None => FHIR_PREFIX.to_string(),
    };
    if let Ok(uri) = rewritten.parse() {
        *request.uri_mut() = uri;
    }
}

//! Bearer-token protection of the FHIR API, in front of every route. It verifies the token and
//! works out the caller's entitlements (`crate::access`) once per token and policy generation,
//! then hands the handlers a session confined to that caller: the session applies the policy
//! itself on every path (batch entries, includes, operations). Afterwards it audits what was
//! read, and any refusal. Discovery, `/metadata` and the authorization endpoints stay public.
//!
//! Every request, authenticated or not, runs with its SQL statements counted (logged, and sent
//! back as `x-ikp-statements` when the server is configured to expose them).
//!
//! The guard tells the request record (`super::record`) the kind of caller, and counts its
//! refusals by a fixed reason (`ikp_auth_rejections_total{status, reason}`): `missing-token`,
//! `invalid-token` (unknown, expired or revoked: one lookup, which does not tell them apart) and
//! `forbidden` (a 403 from the scopes or the access policy, which answer with the same error).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State as AxumState};
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response as HttpResponse;

use super::State;
use super::consistency::{Consistency, reading};
use super::head;
use super::negotiate::Output;
use super::record::CallerKind;
use super::respond;
use super::target::FHIR_PREFIX;
use crate::access::Caller;
use crate::api::Route;
use crate::audit::{Access, Action, Entity};
use crate::auth::bearer;
use crate::clock::now;
use crate::error::{FhirError, FhirResult};

pub async fn guard(AxumState(state): AxumState<State>, mut request: Request, next: Next) -> HttpResponse {
    if let Err(e) = head::check(&request, state.max_body_bytes, state.session.limits.url_bytes) {
        return respond::error(&state.session, Output::default(), &e);
    }
    let consistency = match state.floors.as_ref() {
        Some(floors) => {
            let token = super::auth::bearer_token(request.headers());
            match Consistency::of(&request, token, floors) {
                Ok(consistency) => Some(consistency),
                Err(e) => return respond::error(&state.session, Output::default(), &e),
            }
        }
        None => None,
    };
    if let Some(consistency) = &consistency {
        consistency.mark(&mut request);
    }
    let expose = state.expose_statements;
    let (mut response, statements) = crate::store::counted::counting(async {
        let mut response = guarded(state.clone(), request, next).await;
        if let (Some(consistency), Some(floors)) = (&consistency, state.floors.as_ref()) {
            consistency.after(&state.session, floors, &mut response).await;
        }
        response
    })
    .await;
    tracing::debug!(statements, "request finished");
    if expose && let Ok(value) = HeaderValue::from_str(&statements.to_string()) {
        response.headers_mut().insert("x-ikp-statements", value);
    }
    response
}

async fn guarded(state: State, mut request: Request, next: Next) -> HttpResponse {
    // With authorization off, a request without a token is open; one that brings a token is
    // still that caller's (the portal's requests, a SMART app trying the server), so what a
    // user sees never depends on the mode.
    let open = !state.enforce_auth && super::auth::bearer_token(request.headers()).is_none();
    if open || request.method() == Method::OPTIONS {
        return next.run(request).await;
    }
    let Some(rest) = request.uri().path().strip_prefix(FHIR_PREFIX).map(str::to_string) else {
        return next.run(request).await;
    };
    if is_public(&rest) {
        return next.run(request).await;
    }
    let Some(token) = super::auth::bearer_token(request.headers()) else {
        rejected("401", "missing-token");
        return challenge(&state, FhirError::Unauthorized("a bearer token is required".into()), None);
    };
    let caller = match caller(&state, token).await {
        Ok(Ok(caller)) => caller,
        Ok(Err(description)) => {
            rejected("401", "invalid-token");
            return challenge(&state, FhirError::Unauthorized(description), Some("invalid_token"));
        }
        Err(e) => return respond::error(&state.session, Output::default(), &e),
    };
    let kind = CallerKind::of(&caller);
    let source = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
    let method = request.method().clone();
    let route = super::target::of(&request);
    let mut session = reading(state.session.for_caller(caller, source.as_deref()), request.extensions());
    if let Some(operation) = rest.split('/').find(|s| s.starts_with('$')) {
        session = session.running(operation);
    }
    let target = request.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
    let request_query = request.uri().query().map(str::to_string);
    request.extensions_mut().insert(session.clone());
    let mut response = next.run(request).await;

    response.extensions_mut().insert(kind);
    let status = response.status().as_u16();
    if status == 403 {
        rejected("403", "forbidden");
    }
    if status == 403 && !response.headers().contains_key(WWW_AUTHENTICATE) {
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"ikp\", error=\"insufficient_scope\""));
    }
    if let Some(agent) = session.agent() {
        let mut entities = session.trail().accessed();
        if entities.is_empty() {
            // A count, or a search that found nothing, is still about the patients it names.
            entities = patients_named(route.as_ref(), request_query.as_deref().unwrap_or_default());
        }
        let (action, subtype) = match &route {
            Some(route) => route.audit(crate::api::operations::affects_state),
            None => (Action::Read, "unknown".to_string()),
        };
        // Successful changes are audited in their own transaction; everything else is here.
        let audited_in_transaction = action != Action::Read && status < 400 && entities.is_empty();
        if !audited_in_transaction {
            state.audit.send(Access {
                agent,
                action: if entities.is_empty() { action } else { Action::Read },
                subtype,
                query: Some(format!("{method} {target}")),
                status,
                entities,
                reasons: session.trail().reasons(),
                recorded: now(),
            });
        }
    }
    response
}

/// The caller behind a token: kept from an earlier request while the policy generation is the
/// same and it has not expired, else verified and worked out anew. The inner error is why the
/// token is refused (401).
async fn caller(state: &State, token: &str) -> FhirResult<Result<Arc<Caller>, String>> {
    // Read before anything is worked out, so a change committed meanwhile invalidates the entry.
    let generation = state.session.policy_generation().await?;
    let key = crate::auth::token_hash(token);
    let at = now();
    if let Some(caller) = state.callers.get(&key, generation, at) {
        return Ok(Ok(caller));
    }
    let principal = match bearer::verify_bearer(&state.auth, token).await {
        Ok(p) => p,
        Err(e) => return Ok(Err(e.description())),
    };
    let entitlements =
        crate::access::entitlements::entitlements(&state.session, principal.fhir_user.as_deref()).await?;
    let expires = principal.expires_at.saturating_mul(1_000_000);
    let caller = Arc::new(Caller::new(principal, entitlements.reach));
    state.callers.put(key, caller.clone(), generation, entitlements.valid_until.min(expires), at);
    Ok(Ok(caller))
}

/// The patients a request names in its path (`Patient/1/...`) or its patient parameters.
fn patients_named(route: Option<&Route>, query: &str) -> Vec<Entity> {
    let mut named: Vec<Entity> = Vec::new();
    if let Some(id) = route.and_then(Route::patient) {
        named.push(Entity::current("Patient", id));
    }
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let name = k.split(':').next().unwrap_or_default();
        if !matches!(name, "patient" | "subject" | "beneficiary") {
            continue;
        }
        for value in v.split(',') {
            let id = value.rsplit_once("Patient/").map_or(value, |(_, id)| id);
            if !id.is_empty() && (name == "patient" || value.contains("Patient/")) {
                named.push(Entity::current("Patient", id));
            }
        }
    }
    named.sort();
    named.dedup();
    named
}

fn is_public(rest: &str) -> bool {
    rest == "/metadata" || rest.starts_with("/.well-known/") || rest.starts_with("/auth/")
}

/// Counts a refusal; `status` and `reason` come from the fixed sets above.
fn rejected(status: &'static str, reason: &'static str) {
    metrics::counter!("ikp_auth_rejections_total", "status" => status, "reason" => reason).increment(1);
}

/// A 401 as an OperationOutcome with the RFC 6750 challenge.
fn challenge(state: &State, e: FhirError, error: Option<&str>) -> HttpResponse {
    let mut response = respond::error(&state.session, Output::default(), &e);
    let value = match error {
        Some(code) => format!("Bearer realm=\"ikp\", error=\"{code}\""),
        None => "Bearer realm=\"ikp\"".to_string(),
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}

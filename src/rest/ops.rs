//! The operators' endpoints, outside the FHIR base and outside the bearer guard: health probes
//! (`/health/live`, `/health/ready`, with the aliases `/healthz` and `/readyz`) and the Prometheus
//! scrape (`/metrics`, see `metrics`). They need no token and reveal nothing about data or callers:
//! states and counts only, never an error message (those go to the log).
//!
//! Liveness says the process serves HTTP. Readiness says a request would be served well now: the
//! database answers within [`DATABASE_CHECK`] and holds the schema this build migrates to, the
//! built-in terminology is parsed (start-up has stored it before the server listens), and the
//! node is not draining. From the first SIGTERM or SIGINT it answers 503 `draining` at once, while
//! requests in flight finish (`crate::server` keeps the listener open `--drain-seconds` longer, so
//! a load balancer sees the probe fail before connections are refused).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::get;
use serde_json::{Value, json};

use super::{AppState, State};

/// How long the readiness probe waits for the database before calling it down.
pub const DATABASE_CHECK: Duration = Duration::from_secs(2);

const LIVE: [&str; 2] = ["/health/live", "/healthz"];
const READY: [&str; 2] = ["/health/ready", "/readyz"];
const METRICS: &str = "/metrics";

/// Whether `path` is one of these endpoints (they are labelled `ops` in the request record).
pub fn is_ops_path(path: &str) -> bool {
    LIVE.contains(&path) || READY.contains(&path) || path == METRICS
}

/// The routes; `/metrics` only when metrics are on.
pub fn routes(metrics: bool) -> Router<State> {
    let mut router = Router::new();
    for path in LIVE {
        router = router.route(path, get(live));
    }
    for path in READY {
        router = router.route(path, get(ready));
    }
    if metrics {
        router = router.route(METRICS, get(super::metrics::scrape));
    }
    router
}

/// What readiness knows beyond the database: whether the node drains, whether the terminology's
/// parse has been started.
#[derive(Debug, Default)]
pub struct Health {
    draining: AtomicBool,
    warming: AtomicBool,
}

impl Health {
    /// From now on readiness answers 503 `draining` (a graceful shutdown has begun).
    pub fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Parses the built-in terminology in the background, once: a node is ready only when the
    /// first request that validates a binding will not pay for the parse.
    pub fn warm_terminology(&self, terminology: &'static crate::terminology::builtin::BuiltinTerminology) {
        if terminology.loaded().is_none() && !self.warming.swap(true, Ordering::SeqCst) {
            tokio::task::spawn_blocking(move || {
                if let Err(e) = terminology.get() {
                    tracing::error!(error = %e, "the built-in terminology cannot be parsed");
                }
            });
        }
    }
}

/// The outcome of the readiness checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// `up` or `down`.
    pub database: &'static str,
    /// `ok`, `behind` (a migration this build needs is not applied) or `unknown` (not answered).
    pub migrations: &'static str,
    /// `ok`, `loading` or `failed`.
    pub terminology: &'static str,
    pub draining: bool,
    /// Each read replica, `serving` or `passed-over` (reported, never a reason to be unready:
    /// the primary takes the reads of a replica passed over).
    pub replicas: Vec<(String, &'static str)>,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.database == "up" && self.migrations == "ok" && self.terminology == "ok" && !self.draining
    }

    pub fn body(&self) -> Value {
        let mut body = json!({
            "status": if self.is_ready() { "ready" } else { "unready" },
            "checks": {
                "database": self.database,
                "migrations": self.migrations,
                "terminology": self.terminology,
                "draining": self.draining,
            }
        });
        if !self.replicas.is_empty() {
            body["checks"]["replicas"] =
                self.replicas.iter().map(|(name, state)| json!({"name": name, "state": state})).collect();
        }
        body
    }
}

/// Runs the readiness checks: at most two cheap statements, bounded by [`DATABASE_CHECK`].
pub async fn readiness(state: &AppState) -> Readiness {
    let vitals = state.session.vitals();
    let checked = tokio::time::timeout(DATABASE_CHECK, async {
        vitals.ping().await?;
        Ok::<_, crate::error::FhirError>(vitals.schema().await)
    })
    .await;
    let (database, migrations) = match checked {
        Ok(Ok(Ok(schema))) if schema.is_current() => ("up", "ok"),
        Ok(Ok(Ok(schema))) => {
            tracing::warn!(applied = ?schema.applied, needed = schema.known, "readiness: the database schema is behind");
            ("up", "behind")
        }
        Ok(Ok(Err(e))) => {
            tracing::warn!(error = %e, "readiness: the applied migrations could not be read");
            ("up", "unknown")
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the database does not answer");
            ("down", "unknown")
        }
        Err(_) => {
            tracing::warn!(seconds = DATABASE_CHECK.as_secs(), "readiness: the database did not answer in time");
            ("down", "unknown")
        }
    };
    let terminology = match state.session.terminology.loaded() {
        Some(Ok(_)) => "ok",
        Some(Err(_)) => "failed",
        None => {
            state.health.warm_terminology(state.session.terminology);
            "loading"
        }
    };
    let replicas =
        vitals.replicas().into_iter().map(|r| (r.name, if r.serving { "serving" } else { "passed-over" })).collect();
    Readiness { database, migrations, terminology, draining: state.health.is_draining(), replicas }
}

async fn live() -> HttpResponse {
    probe(StatusCode::OK, json!({"status": "up"}))
}

async fn ready(AxumState(state): AxumState<State>) -> HttpResponse {
    let readiness = readiness(&state).await;
    let status = if readiness.is_ready() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    probe(status, readiness.body())
}

/// A probe's answer: JSON, never cached.
fn probe(status: StatusCode, body: Value) -> HttpResponse {
    (status, [(CONTENT_TYPE, "application/json"), (CACHE_CONTROL, "no-store")], body.to_string()).into_response()
}

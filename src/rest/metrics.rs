//! Prometheus metrics: the recorder behind the `metrics` facade, and the scrape at `/metrics`.
//!
//! The facade has one global recorder per process, so it is installed once ([`install`]) and
//! every server in the process (the tests start many) renders the same handle. Counters and
//! histograms are recorded where things happen (the request record, the guard, the store, the
//! audit queue, the caller cache, the sweep); gauges of state (pools, export jobs, the audit
//! queue's depth) are sampled at scrape, from the scraped server. Every label takes its value
//! from a small fixed set, so the exposition holds no id, PESEL, token or free text: it is meant
//! for the internal network (a Prometheus server), and `--metrics false` turns it off.

use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::State as AxumState;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response as HttpResponse};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

use super::{AppState, State};

/// Request and statement latencies, in seconds: from a cached read to the statement timeout.
const SECONDS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// SQL statements are mostly sub-millisecond.
const STATEMENT_SECONDS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0];
/// Audit events per stored batch (at most 1,000).
const BATCH_SIZES: &[f64] = &[1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0];

/// How often histograms' samples are folded in between scrapes, so that memory stays bounded
/// however rarely the server is scraped.
const UPKEEP: Duration = Duration::from_secs(5);

static RECORDER: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

#[derive(Debug, thiserror::Error)]
#[error("the metrics recorder could not be installed: {0}")]
pub struct MetricsError(String);

/// The process's recorder, installed on first call; later calls hand back the same handle.
pub fn install() -> Result<&'static PrometheusHandle, MetricsError> {
    RECORDER.get_or_init(|| build().map_err(|e| e.to_string())).as_ref().map_err(|e| MetricsError(e.clone()))
}

fn build() -> Result<PrometheusHandle, BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets(SECONDS)?
        .set_buckets_for_metric(Matcher::Full("ikp_db_statement_duration_seconds".into()), STATEMENT_SECONDS)?
        .set_buckets_for_metric(Matcher::Full("ikp_audit_batch_size".into()), BATCH_SIZES)?
        .set_buckets_for_metric(Matcher::Full("ikp_db_group_commit_members".into()), BATCH_SIZES)?
        .install_recorder()?;
    let upkeep = handle.clone();
    // A thread rather than a task: the recorder outlives any one runtime (each test has its own).
    let spawned = std::thread::Builder::new().name("ikp-metrics-upkeep".into()).spawn(move || {
        loop {
            std::thread::sleep(UPKEEP);
            upkeep.run_upkeep();
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no metrics upkeep thread: histograms are folded in at scrapes only");
    }
    describe();
    metrics::gauge!("ikp_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Ok(handle)
}

/// The `# HELP` lines.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_gauge!("ikp_build_info", "The running build (always 1), labelled with its version");
    describe_counter!("ikp_http_requests_total", "HTTP requests by interaction, resource type and status class");
    describe_histogram!(
        "ikp_http_request_duration_seconds",
        "Time until the response head was ready, by interaction and resource type"
    );
    describe_counter!(
        "ikp_auth_rejections_total",
        "Requests to the FHIR API refused by the guard, by status and reason"
    );
    describe_histogram!("ikp_db_statement_duration_seconds", "SQL statement latency by kind");
    describe_histogram!("ikp_db_group_commit_members", "Write transactions per shared commit (SQLite)");
    describe_gauge!("ikp_db_pool_connections", "Open database connections per pool (sampled at scrape)");
    describe_gauge!("ikp_db_pool_idle_connections", "Idle database connections per pool (sampled at scrape)");
    describe_gauge!("ikp_db_pool_max_connections", "The most connections a pool opens");
    describe_gauge!("ikp_audit_queue_depth", "Read audits waiting to be stored (sampled at scrape)");
    describe_histogram!("ikp_audit_batch_size", "Audit events per stored batch");
    describe_counter!("ikp_audit_events_dropped_total", "Audit events lost, by reason");
    describe_gauge!("ikp_export_jobs", "Bulk Data export jobs by state (sampled at scrape)");
    describe_gauge!("ikp_notification_outbox", "Changes waiting for the notification dispatcher (sampled at scrape)");
    describe_counter!("ikp_notification_events_total", "Notification events the dispatcher made on this node");
    describe_counter!("ikp_notifications_sent_total", "Notifications this node sent, by kind and outcome");
    describe_histogram!("ikp_notification_send_seconds", "Time to send one event notification");
    describe_counter!("ikp_sweep_runs_total", "Workflow sweeps run by this node, by outcome");
    describe_counter!("ikp_sweep_changes_total", "Resources the workflow sweep changed, by change");
    describe_counter!("ikp_caller_cache_hits_total", "Authenticated requests whose caller was kept from before");
    describe_counter!("ikp_caller_cache_misses_total", "Authenticated requests whose caller was worked out, by reason");
    describe_gauge!("ikp_caller_cache_entries", "Callers kept (sampled at scrape)");
    describe_counter!("ikp_policy_generation_checks_total", "Reads of the policy generation");
    describe_gauge!("ikp_draining", "1 while the node drains for shutdown");
}

/// `GET /metrics`: the gauges of state sampled from this server, then the exposition.
pub async fn scrape(AxumState(state): AxumState<State>) -> HttpResponse {
    let Some(handle) = state.metrics else {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    };
    sample(&state).await;
    let headers = [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"), (CACHE_CONTROL, "no-store")];
    (headers, handle.render()).into_response()
}

/// Sets the gauges of state: pools and counts, read without touching any resource.
async fn sample(state: &AppState) {
    let vitals = state.session.vitals();
    for pool in vitals.pools() {
        metrics::gauge!("ikp_db_pool_connections", "pool" => pool.pool.clone()).set(pool.size);
        metrics::gauge!("ikp_db_pool_idle_connections", "pool" => pool.pool.clone()).set(pool.idle);
        metrics::gauge!("ikp_db_pool_max_connections", "pool" => pool.pool).set(pool.max);
    }
    match tokio::time::timeout(super::ops::DATABASE_CHECK, vitals.export_jobs()).await {
        Ok(Ok(jobs)) => {
            for (status, count) in jobs {
                metrics::gauge!("ikp_export_jobs", "state" => status.as_str()).set(count as f64);
            }
        }
        // The gauges keep their last values; the scrape itself still answers.
        Ok(Err(e)) => tracing::warn!(error = %e, "metrics: the export jobs could not be counted"),
        Err(_) => tracing::warn!("metrics: counting the export jobs took too long"),
    }
    match tokio::time::timeout(super::ops::DATABASE_CHECK, state.notifier.outbox_len()).await {
        Ok(Ok(waiting)) => metrics::gauge!("ikp_notification_outbox").set(waiting as f64),
        Ok(Err(e)) => tracing::warn!(error = %e, "metrics: the notification outbox could not be counted"),
        Err(_) => tracing::warn!("metrics: counting the notification outbox took too long"),
    }
    metrics::gauge!("ikp_audit_queue_depth").set(state.audit.depth() as f64);
    metrics::gauge!("ikp_caller_cache_entries").set(state.callers.len() as f64);
    metrics::gauge!("ikp_draining").set(if state.health.is_draining() { 1.0 } else { 0.0 });
}

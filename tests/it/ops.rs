//! Running it as a service: the health probes (liveness, readiness, draining, a database that is
//! gone), the Prometheus metrics (the series a few requests leave, their labels and counts, and
//! that no id, PESEL or token ends up in them), the endpoints' independence from the bearer guard,
//! and the per-request record as a log line.
//!
//! Metrics are process-wide (one recorder, every test's servers): counts are compared before and
//! after, on resource types no other test uses (a different one per backend, since both variants
//! run at once).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ikp::cli::ServeArgs;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{self, TestServer};

on_both_backends!(
    live_and_ready,
    draining_makes_the_node_unready,
    a_database_that_is_gone_makes_the_node_unready,
    a_schema_behind_the_build_makes_the_node_unready
);
on_both_backends_configured!(super::auth_on_sweeping; metrics_count_requests_by_kind);

/// Authorization on, with the demo population, and a sweep (which runs once at start).
pub fn auth_on_sweeping(args: &mut ServeArgs) {
    common::auth_on(args);
    args.sweep_seconds = 3600;
}

/// A demo user's PESEL (Anna Kowalska), searched for below: it must not reach the metrics.
const PESEL: &str = "85030204565";
const PESEL_SYSTEM: &str = "urn:oid:2.16.840.1.113883.3.4424.1.1.616";

/// The server's root (the probes and `/metrics` are outside the FHIR base).
fn root(server: &TestServer, path: &str) -> String {
    format!("{}{path}", server.base.trim_end_matches("/fhir"))
}

async fn get_root(server: &TestServer, path: &str) -> reqwest::Response {
    server.client.get(root(server, path)).send().await.expect("get")
}

/// `/health/ready` until it answers 200 (the built-in terminology may still be parsing).
async fn ready_body(server: &TestServer) -> Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let r = get_root(server, "/health/ready").await;
        let status = r.status().as_u16();
        let body: Value = r.json().await.expect("readiness is JSON");
        if status == 200 {
            return body;
        }
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["checks"]["terminology"], "loading", "only the terminology may be missing: {body}");
        assert!(Instant::now() < deadline, "never ready: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn live_and_ready(server: &TestServer) {
    for path in ["/health/live", "/healthz"] {
        let r = get_root(server, path).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.json::<Value>().await.expect("json"), json!({"status": "up"}));
        let head = server.client.head(root(server, path)).send().await.expect("head");
        assert_eq!(head.status(), 200, "HEAD {path}");
        assert!(head.bytes().await.expect("body").is_empty());
    }
    let body = ready_body(server).await;
    assert_eq!(
        body,
        json!({"status": "ready", "checks": {"database": "up", "migrations": "ok", "terminology": "ok", "draining": false}})
    );
    let alias = get_root(server, "/readyz").await;
    assert_eq!(alias.status(), 200);
    let head = server.client.head(root(server, "/health/ready")).send().await.expect("head");
    assert_eq!(head.status(), 200);
}

async fn draining_makes_the_node_unready(server: &TestServer) {
    ready_body(server).await;
    server.state().health.drain();
    let r = get_root(server, "/health/ready").await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["status"], "unready");
    assert_eq!(body["checks"]["draining"], true);
    assert_eq!(body["checks"]["database"], "up", "only draining fails: {body}");
    // The node still serves while it drains: readiness only takes it out of the load balancer.
    assert_eq!(get_root(server, "/health/live").await.status(), 200);
    assert_eq!(server.get("metadata").send().await.expect("get").status(), 200);
}

async fn a_database_that_is_gone_makes_the_node_unready(server: &TestServer) {
    ready_body(server).await;
    // Closing the store's pools is a database that no longer answers, as far as the node knows.
    server.state().session.close().await;
    let started = Instant::now();
    let r = get_root(server, "/health/ready").await;
    assert!(started.elapsed() < Duration::from_secs(5), "the database check is bounded");
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["status"], "unready");
    assert_eq!(body["checks"]["database"], "down", "{body}");
    assert_eq!(body["checks"]["migrations"], "unknown", "{body}");
    assert_eq!(body["checks"]["draining"], false);
    assert!(!body.to_string().contains("closed"), "no error text in the probe's answer: {body}");
    assert_eq!(get_root(server, "/health/live").await.status(), 200, "the process still serves");
}

async fn a_schema_behind_the_build_makes_the_node_unready(server: &TestServer) {
    ready_body(server).await;
    // As if the newest migration had been rolled back underneath the running node.
    const FORGET_NEWEST: &str =
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)";
    use sqlx::Connection;
    if server.backend == "sqlite" {
        let mut db = sqlx::SqliteConnection::connect(&server.database_url).await.expect("connect");
        sqlx::query(FORGET_NEWEST).execute(&mut db).await.expect("delete");
    } else {
        let mut db = sqlx::PgConnection::connect(&server.database_url).await.expect("connect");
        sqlx::query(FORGET_NEWEST).execute(&mut db).await.expect("delete");
    }
    let r = get_root(server, "/health/ready").await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["checks"]["database"], "up", "{body}");
    assert_eq!(body["checks"]["migrations"], "behind", "{body}");
}

/// One sample of the exposition: `name{labels} value`.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn parse(exposition: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in exposition.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("a sample line: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("a value: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let labels = labels
            .split("\",")
            .filter(|l| !l.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or_else(|| panic!("a label: {line}"));
                (k.to_string(), v.trim_matches('"').to_string())
            })
            .collect();
        samples.push(Sample { name: name.to_string(), labels, value });
    }
    samples
}

/// The value of the series `name` with exactly `labels` (0 when absent).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let wanted: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    samples.iter().find(|s| s.name == name && s.labels == wanted).map_or(0.0, |s| s.value)
}

/// Whether some series `name` carries all of `labels` (and maybe more).
fn has(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> bool {
    samples
        .iter()
        .any(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
}

async fn scrape(server: &TestServer) -> String {
    // No token: the scrape is outside the guard.
    let r = get_root(server, "/metrics").await;
    assert_eq!(r.status(), 200);
    let content_type = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    r.text().await.expect("body")
}

/// Interactions a label may name: the fixed ones, or an operation (`$` and a lowercase name).
fn bounded_interaction(value: &str) -> bool {
    const FIXED: &[&str] = &[
        "read",
        "vread",
        "update",
        "patch",
        "delete",
        "create",
        "search-type",
        "search-system",
        "search-compartment",
        "history-system",
        "history-type",
        "history-instance",
        "capabilities",
        "batch",
        "transaction",
        "auth",
        "ops",
        "other",
    ];
    FIXED.contains(&value)
        || value
            .strip_prefix('$')
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
}

async fn metrics_count_requests_by_kind(server: &TestServer) {
    let t = if server.backend == "sqlite" { "SubstancePolymer" } else { "SubstanceProtein" };
    let before = parse(&scrape(server).await);
    let admin = server.admin_token().await;

    let r = server.send(Method::POST, t, &json!({"resourceType": t})).bearer_auth(&admin).send().await.expect("post");
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.expect("json")["id"].as_str().expect("an id").to_string();
    assert_eq!(server.get_as(&admin, &format!("{t}/{id}")).await.status(), 200);
    assert_eq!(server.get_as(&admin, &format!("{t}?_count=5")).await.status(), 200);
    assert_eq!(server.get_as(&admin, &format!("{t}/some-secret-id")).await.status(), 404);
    assert_eq!(server.get(&format!("{t}/some-secret-id")).send().await.expect("get").status(), 401);
    let by_pesel = format!("Patient?identifier={PESEL_SYSTEM}|{PESEL}");
    assert_eq!(server.get_as(&admin, &by_pesel).await.status(), 200);
    // The probes and the scrape need no token; the FHIR API still does.
    assert_eq!(get_root(server, "/health/live").await.status(), 200);
    ready_body(server).await;
    assert_eq!(server.get("Patient").send().await.expect("get").status(), 401);
    assert_eq!(server.get("metadata").send().await.expect("get").status(), 200);

    // The sweep runs at start, beside the requests; the read audits are stored every 100 ms.
    let deadline = Instant::now() + Duration::from_secs(120);
    let (text, after) = loop {
        let text = scrape(server).await;
        let after = parse(&text);
        let swept = value(&after, "ikp_sweep_runs_total", &[("outcome", "ok")]) >= 1.0;
        if (swept && has(&after, "ikp_audit_batch_size_count", &[])) || Instant::now() > deadline {
            break (text, after);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let delta = |name: &str, labels: &[(&str, &str)]| value(&after, name, labels) - value(&before, name, labels);

    // Requests by interaction, type and status class: exactly the ones made above.
    let requests = "ikp_http_requests_total";
    assert_eq!(delta(requests, &[("interaction", "create"), ("resource_type", t), ("status_class", "2xx")]), 1.0);
    assert_eq!(delta(requests, &[("interaction", "read"), ("resource_type", t), ("status_class", "2xx")]), 1.0);
    assert_eq!(delta(requests, &[("interaction", "read"), ("resource_type", t), ("status_class", "4xx")]), 2.0);
    assert_eq!(delta(requests, &[("interaction", "search-type"), ("resource_type", t), ("status_class", "2xx")]), 1.0);
    assert!(value(&after, requests, &[("interaction", "ops"), ("resource_type", ""), ("status_class", "2xx")]) >= 1.0);
    // The latency histogram, with its buckets.
    let duration = "ikp_http_request_duration_seconds";
    let read = [("interaction", "read"), ("resource_type", t)];
    assert_eq!(delta(&format!("{duration}_count"), &read), 3.0);
    assert!(value(&after, &format!("{duration}_sum"), &read) > 0.0);
    for le in ["0.001", "0.01", "0.1", "1", "30", "+Inf"] {
        assert!(has(&after, &format!("{duration}_bucket"), &[read[0], read[1], ("le", le)]), "bucket le={le}");
    }
    assert_eq!(
        value(&after, &format!("{duration}_bucket"), &[read[0], read[1], ("le", "+Inf")]),
        value(&after, &format!("{duration}_count"), &read)
    );

    // The guard's refusals, and the caller cache behind every authenticated request.
    assert!(delta("ikp_auth_rejections_total", &[("status", "401"), ("reason", "missing-token")]) >= 2.0);
    assert!(delta("ikp_policy_generation_checks_total", &[]) >= 5.0);
    assert!(delta("ikp_caller_cache_hits_total", &[]) >= 4.0, "the token's caller is kept after the first request");
    assert!(value(&after, "ikp_caller_cache_misses_total", &[("reason", "absent")]) >= 1.0);
    assert!(value(&after, "ikp_caller_cache_entries", &[]) >= 1.0);

    // The database, the audit queue, the export queue, the sweep, the build.
    assert!(has(&after, "ikp_db_statement_duration_seconds_bucket", &[("kind", "read"), ("le", "0.001")]));
    assert!(has(&after, "ikp_db_statement_duration_seconds_count", &[("kind", "transaction")]));
    assert!(has(&after, "ikp_db_statement_duration_seconds_count", &[("kind", "commit")]));
    let pools: &[&str] = if server.backend == "sqlite" { &["readers", "writer"] } else { &["main"] };
    for pool in pools {
        assert!(value(&after, "ikp_db_pool_max_connections", &[("pool", pool)]) >= 1.0, "pool {pool}");
        assert!(has(&after, "ikp_db_pool_connections", &[("pool", pool)]), "pool {pool}");
        assert!(has(&after, "ikp_db_pool_idle_connections", &[("pool", pool)]), "pool {pool}");
    }
    for state in ["accepted", "running", "completed", "failed"] {
        assert!(has(&after, "ikp_export_jobs", &[("state", state)]), "export jobs {state}");
    }
    assert!(has(&after, "ikp_audit_queue_depth", &[]));
    assert!(value(&after, "ikp_audit_batch_size_count", &[]) >= 1.0, "read audits were stored in batches");
    assert!(has(&after, "ikp_audit_batch_size_bucket", &[("le", "1000")]));
    assert!(value(&after, "ikp_sweep_runs_total", &[("outcome", "ok")]) >= 1.0, "the sweep ran at start");
    assert!(has(&after, "ikp_sweep_changes_total", &[("change", "expired-prescription")]));
    assert_eq!(value(&after, "ikp_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), 1.0);
    assert_eq!(value(&after, "ikp_draining", &[]), 0.0);

    // Nothing a client sent, nor anyone's identity, is in the exposition; every label is bounded.
    for secret in ["some-secret-id", id.as_str(), PESEL, admin.as_str(), "demo-"] {
        assert!(!text.contains(secret), "the metrics contain {secret}");
    }
    let model = ikp::model::r4().expect("model");
    for sample in &after {
        if let Some(interaction) = sample.labels.get("interaction") {
            assert!(bounded_interaction(interaction), "interaction label {interaction}");
        }
        if let Some(resource_type) = sample.labels.get("resource_type") {
            let known = resource_type.is_empty() || resource_type == "other" || model.is_resource_type(resource_type);
            assert!(known, "resource_type label {resource_type}");
        }
    }
}

/// `--metrics false`: no `/metrics` (the rest as before). The route is the same on both backends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_be_turned_off() {
    let server = TestServer::sqlite_configured(|args| args.metrics = false).await;
    assert_eq!(get_root(&server, "/metrics").await.status(), 404);
    assert_eq!(get_root(&server, "/health/live").await.status(), 200);
    server.stop().await;
}

/// The events and span fields a test subscriber saw.
#[derive(Default, Clone)]
struct Captured {
    records: Arc<Mutex<Vec<BTreeMap<String, String>>>>,
    /// Fields recorded on request spans after they began, by span.
    span_fields: Arc<Mutex<BTreeMap<u64, BTreeMap<String, String>>>>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_string(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl<S> tracing_subscriber::Layer<S> for Captured
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == "ikp::request" {
            let mut fields = BTreeMap::new();
            event.record(&mut Fields(&mut fields));
            self.records.lock().unwrap().push(fields);
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        context: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if context.span(id).is_some_and(|span| span.name() == "request") {
            let mut spans = self.span_fields.lock().unwrap();
            values.record(&mut Fields(spans.entry(id.into_u64()).or_default()));
        }
    }
}

/// One record per request with its kinds, never who: a patient's read and a refused request. The
/// server runs on this test's one thread, where the capturing subscriber is the default.
#[tokio::test(flavor = "current_thread")]
async fn every_request_leaves_one_record() {
    use tracing_subscriber::layer::SubscriberExt;
    let captured = Captured::default();
    // With a single registered dispatcher, tracing decides whether a callsite is wanted by asking
    // the default of whichever thread reaches it first (another test's, with none): a second one,
    // alive through the test, makes it ask every dispatcher, this thread's among them.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let _default = tracing::subscriber::set_default(tracing_subscriber::registry().with(captured.clone()));
    let server = TestServer::sqlite_configured(common::auth_on).await;
    let jan = "demo-jan-kowalski";
    let token = server.token(Some(&format!("Patient/{jan}")), None, "user/*.rs").await;
    captured.records.lock().unwrap().clear();

    let r = server.get_as(&token, &format!("Patient/{jan}")).await;
    assert_eq!(r.status(), 200);
    let request_id = r.headers().get("x-request-id").and_then(|v| v.to_str().ok()).expect("a request id").to_string();
    assert_eq!(server.get(&format!("Patient/{jan}")).send().await.expect("get").status(), 401);
    let records = captured.records.lock().unwrap().clone();
    server.stop().await;

    assert_eq!(records.len(), 2, "{records:#?}");
    let read = &records[0];
    assert_eq!(read["request_id"], request_id);
    assert_eq!(read["caller"], "patient");
    assert_eq!(read["interaction"], "read");
    assert_eq!(read["resource_type"], "Patient");
    assert_eq!(read["status"], "200");
    assert!(read["latency_ms"].parse::<f64>().expect("a number") > 0.0);
    let refused = &records[1];
    assert_eq!(refused["caller"], "anonymous");
    assert_eq!(refused["interaction"], "read");
    assert_eq!(refused["status"], "401");
    for record in &records {
        for (field, value) in record {
            assert!(!value.contains(jan) && !value.contains(&token), "{field} = {value}");
        }
    }
    // The same fields are recorded on the request span.
    let spans = captured.span_fields.lock().unwrap().clone();
    let on_span = spans.values().find(|f| f.get("caller").map(String::as_str) == Some("patient"));
    let on_span = on_span.unwrap_or_else(|| panic!("no request span names the caller: {spans:#?}"));
    assert_eq!(on_span["interaction"], "read");
    assert_eq!(on_span["resource_type"], "Patient");
    assert_eq!(on_span["status"], "200");
}

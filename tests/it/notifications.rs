//! Notifications (Subscriptions R5 Backport IG) end to end, with real tokens: rest-hook delivery
//! to a receiver this test starts on 127.0.0.1 (handshake, events in order with gap-free numbers,
//! filters by search criteria, full-resource payloads), the access policy (a patient's
//! subscription never hears about another patient; another patient cannot see, check or change
//! it, and is answered as for a subscription that does not exist), repeated failures moving the
//! subscription to `error`, `$events` recovery while the receiver is down and delivery resumed
//! when it is back, heartbeats, websocket binding and delivery, e-mail to the mail outbox, and
//! subscriptions the server cannot serve refused with nothing stored.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};

use crate::common::{self, TestServer};

on_both_backends_configured!(super::configured; rest_hook_delivery, policy_decides_who_hears, deletions_told_to_whom_saw_them, failures_error_and_recovery, websocket_delivery, email_and_heartbeats, refused_subscriptions);

const BACKPORT: &str = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition";
const TOPICS: &str = "https://ikp.example.org/fhir/SubscriptionTopic";
const ANNA: &str = "demo-anna-kowalska";
const ZOFIA: &str = "demo-zofia-kowalska";
const JAN: &str = "demo-jan-kowalski";
/// A complete blood count.
const HEMOGLOBIN: &str = "58410-2";

fn configured(args: &mut ikp::cli::ServeArgs) {
    common::auth_on(args);
    args.notification_retry_ms = 100;
}

/// [`configured`], with e-mail notifications written to a mail outbox of its own.
fn with_mail_outbox(args: &mut ikp::cli::ServeArgs) {
    configured(args);
    args.mail_outbox = Some(std::env::temp_dir().join(format!("ikp-test-mail-{}.mbox", uuid::Uuid::new_v4())));
}

on_both_backends_configured!(super::with_mail_outbox; email_to_the_mail_outbox);

/// What a receiver was sent: the subscriber's secret header and the notification Bundle.
type Received = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// An HTTP endpoint on 127.0.0.1 that keeps every notification it is sent, and can be "down"
/// (answering 503).
#[derive(Clone)]
struct Receiver {
    url: String,
    received: Received,
    down: Arc<std::sync::atomic::AtomicBool>,
}

impl Receiver {
    async fn start() -> Receiver {
        Receiver::slow(Duration::ZERO).await
    }

    /// A receiver that takes `delay` to answer each notification.
    async fn slow(delay: Duration) -> Receiver {
        let received: Received = Arc::default();
        let down: Arc<std::sync::atomic::AtomicBool> = Arc::default();
        let (kept, refusing) = (received.clone(), down.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let (kept, refusing) = (kept.clone(), refusing.clone());
                async move {
                    tokio::time::sleep(delay).await;
                    if refusing.load(std::sync::atomic::Ordering::SeqCst) {
                        return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                    }
                    let secret = headers.get("x-secret").and_then(|v| v.to_str().ok()).map(str::to_string);
                    let bundle: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                    kept.lock().unwrap().push((secret, bundle));
                    axum::http::StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Receiver { url, received, down }
    }

    fn bundles(&self) -> Vec<Value> {
        self.received.lock().unwrap().iter().map(|(_, b)| b.clone()).collect()
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }

    /// Waits until the bundles received satisfy `done`.
    async fn wait(&self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let bundles = self.bundles();
            if done(&bundles) {
                return bundles;
            }
            assert!(Instant::now() < deadline, "{what}: received {bundles:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The status parameters (first entry) of a notification Bundle.
fn status_of(bundle: &Value) -> &Value {
    &bundle["entry"][0]["resource"]
}

fn parameter<'a>(status: &'a Value, name: &str) -> Option<&'a Value> {
    status["parameter"].as_array()?.iter().find(|p| p["name"] == name)
}

fn kind(bundle: &Value) -> String {
    parameter(status_of(bundle), "type").and_then(|p| p["valueCode"].as_str()).unwrap_or_default().to_string()
}

/// Event numbers and focus references of a notification.
fn events(bundle: &Value) -> Vec<(u64, String)> {
    let Some(params) = status_of(bundle)["parameter"].as_array() else { return Vec::new() };
    params
        .iter()
        .filter(|p| p["name"] == "notification-event")
        .map(|p| {
            let parts = p["part"].as_array().cloned().unwrap_or_default();
            let number = parts
                .iter()
                .find(|q| q["name"] == "event-number")
                .and_then(|q| q["valueString"].as_str()?.parse().ok())
                .unwrap_or(0);
            let focus = parts
                .iter()
                .find(|q| q["name"] == "focus")
                .and_then(|q| q["valueReference"]["reference"].as_str())
                .unwrap_or_default()
                .to_string();
            (number, focus)
        })
        .collect()
}

/// Every event told in `bundles` (event notifications only).
fn all_events(bundles: &[Value]) -> Vec<(u64, String)> {
    bundles.iter().filter(|b| kind(b) == "event-notification").flat_map(events).collect()
}

fn subscription(topic: &str, filters: &[&str], channel: Value) -> Value {
    let extension: Vec<Value> = filters
        .iter()
        .map(|f| json!({"url": format!("{BACKPORT}/backport-filter-criteria"), "valueString": f}))
        .collect();
    let mut subscription = json!({
        "resourceType": "Subscription",
        "meta": {"profile": [format!("{BACKPORT}/backport-subscription")]},
        "status": "requested",
        "reason": "Nowe wyniki badań",
        "criteria": format!("{TOPICS}/{topic}"),
        "channel": channel,
    });
    if !extension.is_empty() {
        subscription["_criteria"] = json!({"extension": extension});
    }
    subscription
}

fn rest_hook(url: &str, content: &str) -> Value {
    json!({
        "type": "rest-hook", "endpoint": url, "payload": "application/fhir+json",
        "header": ["X-Secret: s3cret"],
        "_payload": {"extension": [{"url": format!("{BACKPORT}/backport-payload-content"), "valueCode": content}]},
    })
}

async fn patient_token(server: &TestServer, id: &str) -> String {
    server.token(Some(&format!("Patient/{id}")), None, "openid fhirUser user/*.cruds").await
}

async fn create_as(server: &TestServer, token: &str, resource: &Value) -> (u16, Value) {
    let t = resource["resourceType"].as_str().unwrap_or_default();
    let r = server.send(reqwest::Method::POST, t, resource).bearer_auth(token).send().await.expect("create");
    let status = r.status().as_u16();
    (status, common::json(r).await)
}

async fn get_as(server: &TestServer, token: &str, path: &str) -> (u16, Value) {
    let r = server.get(path).bearer_auth(token).send().await.expect("get");
    let status = r.status().as_u16();
    (status, common::json(r).await)
}

/// A final laboratory report with `code` for `patient`, as the laboratory's system writes it.
fn result(patient: &str, code: &str) -> Value {
    json!({
        "resourceType": "DiagnosticReport", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "effectiveDateTime": "2026-12-01T08:00:00Z",
        "issued": "2026-12-01T12:00:00Z",
    })
}

async fn write_result(server: &TestServer, admin: &str, patient: &str, code: &str) -> String {
    let (status, body) = create_as(server, admin, &result(patient, code)).await;
    assert_eq!(status, 201, "{body}");
    format!("DiagnosticReport/{}", body["id"].as_str().expect("id"))
}

/// Waits until the subscription's status (read as `token`) is `want`.
async fn wait_status(server: &TestServer, token: &str, id: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, body) = get_as(server, token, &format!("Subscription/{id}")).await;
        assert_eq!(code, 200, "{body}");
        if body["status"] == want {
            return body;
        }
        assert!(Instant::now() < deadline, "the subscription never became {want}: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Anna's app subscribes to new haemoglobin results for her and Zofia (rest-hook, full
/// resource): a handshake first, then one notification per result in order, numbered 1, 2...
/// with the resource as Anna may read it and the subscriber's header; results with another code
/// are filtered out; `$status` and `$events` agree.
async fn rest_hook_delivery(server: &TestServer) {
    let receiver = Receiver::start().await;
    let anna = patient_token(server, ANNA).await;
    let admin = server.admin_token().await;
    let mut body = subscription(
        "lab-result-available",
        &[&format!("DiagnosticReport?code=http://loinc.org|{HEMOGLOBIN}")],
        rest_hook(&receiver.url, "full-resource"),
    );
    // A forged owner is replaced by the caller.
    body["extension"] = json!([{"url": "https://ikp.example.org/fhir/StructureDefinition/subscription-owner",
        "extension": [{"url": "user", "valueReference": {"reference": "Patient/demo-jan-kowalski"}},
                      {"url": "client", "valueString": "forged"}, {"url": "scope", "valueString": "system/*.*"}]}]);
    let (status, created) = create_as(server, &anna, &body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "requested", "requested until the handshake");
    let owner = created["extension"].to_string();
    assert!(
        owner.contains(&format!("Patient/{ANNA}")) && !owner.contains("forged") && !owner.contains("system/*.*"),
        "{owner}"
    );
    let id = created["id"].as_str().expect("id").to_string();

    let handshakes = receiver.wait("the handshake", |b| b.iter().any(|b| kind(b) == "handshake")).await;
    assert_eq!(receiver.received.lock().unwrap()[0].0.as_deref(), Some("s3cret"), "the subscriber's header");
    assert_eq!(
        parameter(status_of(&handshakes[0]), "subscription").and_then(|p| p["valueReference"]["reference"].as_str()),
        Some(format!("{}/Subscription/{id}", server.base).as_str())
    );
    wait_status(server, &anna, &id, "active").await;

    let first = write_result(server, &admin, ZOFIA, HEMOGLOBIN).await;
    let _other_code = write_result(server, &admin, ANNA, "2345-7").await;
    let second = write_result(server, &admin, ANNA, HEMOGLOBIN).await;
    let bundles = receiver.wait("two events", |b| all_events(b).len() >= 2).await;
    let told = all_events(&bundles);
    let focus = |r: &str| told.iter().any(|(_, f)| f.contains(r));
    assert_eq!(told.iter().map(|(n, _)| *n).collect::<Vec<_>>(), vec![1, 2], "numbered without gaps: {told:?}");
    assert!(told[0].1.contains(&first) && told[1].1.contains(&second), "in write order: {told:?}");
    assert!(!focus("2345-7"), "filtered out");
    let with_resource = bundles.iter().find(|b| kind(b) == "event-notification").expect("an event notification");
    let resource = &with_resource["entry"][1]["resource"];
    assert_eq!(resource["resourceType"], "DiagnosticReport", "full resource: {with_resource}");
    assert_eq!(with_resource["type"], "history");

    // $status and $events, as the owner.
    let (code, status) = get_as(server, &anna, &format!("Subscription/{id}/$status")).await;
    assert_eq!(code, 200, "{status}");
    let parameters = &status["entry"][0]["resource"];
    assert_eq!(parameter(parameters, "status").and_then(|p| p["valueCode"].as_str()), Some("active"));
    assert_eq!(
        parameter(parameters, "events-since-subscription-start").and_then(|p| p["valueString"].as_str()),
        Some("2")
    );
    let (code, replay) =
        get_as(server, &anna, &format!("Subscription/{id}/$events?eventsSinceNumber=2&content=id-only")).await;
    assert_eq!(code, 200, "{replay}");
    assert_eq!(kind(&replay), "query-event");
    let replayed = events(&replay);
    assert_eq!(replayed.len(), 1, "{replay}");
    assert!(replayed[0].1.contains(&second));
    for malformed in ["eventsSinceNumber=x", "eventsSinceNumber=-1", "eventsUntilNumber=1e3", "content=everything"] {
        let (code, _) = get_as(server, &anna, &format!("Subscription/{id}/$events?{malformed}")).await;
        assert_eq!(code, 400, "{malformed} is refused, not widened");
    }

    // Turned off by its owner: no more notifications.
    let mut off = created.clone();
    off["status"] = json!("off");
    let r = server
        .send(reqwest::Method::PUT, &format!("Subscription/{id}"), &off)
        .bearer_auth(&anna)
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = receiver.bundles().len();
    write_result(server, &admin, ANNA, HEMOGLOBIN).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.bundles().len(), before, "an `off` subscription is told nothing");
}

/// Jan's subscription to every lab result hears only about his own; Zofia's and Anna's results
/// are not his to see. Jan cannot read, check, replay, bind or change Anna's subscription, and
/// is answered exactly as for one that does not exist.
async fn policy_decides_who_hears(server: &TestServer) {
    let receiver = Receiver::start().await;
    let jan = patient_token(server, JAN).await;
    let anna = patient_token(server, ANNA).await;
    let admin = server.admin_token().await;
    let (status, created) =
        create_as(server, &jan, &subscription("lab-result-available", &[], rest_hook(&receiver.url, "id-only"))).await;
    assert_eq!(status, 201, "{created}");
    let jans = created["id"].as_str().expect("id").to_string();
    wait_status(server, &jan, &jans, "active").await;
    write_result(server, &admin, ZOFIA, HEMOGLOBIN).await;
    write_result(server, &admin, ANNA, HEMOGLOBIN).await;
    let own = write_result(server, &admin, JAN, HEMOGLOBIN).await;
    let bundles = receiver.wait("Jan's own result", |b| !all_events(b).is_empty()).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let told = all_events(&receiver.bundles());
    assert_eq!(told.len(), 1, "only Jan's own result: {told:?}");
    assert!(told[0].1.contains(&own), "{told:?}");
    assert_eq!(told[0].0, 1, "numbered from 1 for Jan: the others' results used no number");
    let id_only = bundles.iter().find(|b| kind(b) == "event-notification").expect("event");
    assert!(id_only["entry"][1].get("resource").is_none(), "id-only carries no resource");

    // Anna's subscription, seen from Jan.
    let (status, annas) =
        create_as(server, &anna, &subscription("prescription-issued", &[], rest_hook(&receiver.url, "empty"))).await;
    assert_eq!(status, 201, "{annas}");
    let annas = annas["id"].as_str().expect("id").to_string();
    let missing = "no-such-subscription";
    for suffix in ["", "/$status", "/$events", "/$get-ws-binding-token"] {
        let hidden = get_as(server, &jan, &format!("Subscription/{annas}{suffix}")).await;
        let absent = get_as(server, &jan, &format!("Subscription/{missing}{suffix}")).await;
        assert_eq!(hidden.0, 404, "{suffix}: {}", hidden.1);
        assert_eq!(hidden.0, absent.0);
        assert_eq!(hidden.1.to_string().replace(&annas, "X"), absent.1.to_string().replace(missing, "X"), "{suffix}");
    }
    let (_, search) = get_as(server, &jan, "Subscription").await;
    let listed = common::listed(&search, "match");
    assert_eq!(listed, vec![format!("Subscription/{jans}")], "Jan lists only his own");
    let mut takeover = subscription("prescription-issued", &[], rest_hook(&receiver.url, "full-resource"));
    takeover["id"] = json!(annas);
    let r = server
        .send(reqwest::Method::PUT, &format!("Subscription/{annas}"), &takeover)
        .bearer_auth(&jan)
        .send()
        .await
        .expect("put");
    let hidden_put = (r.status().as_u16(), common::json(r).await);
    takeover["id"] = json!(missing);
    let r = server
        .send(reqwest::Method::PUT, &format!("Subscription/{missing}"), &takeover)
        .bearer_auth(&jan)
        .send()
        .await
        .expect("put");
    let absent_put = (r.status().as_u16(), common::json(r).await);
    assert_eq!(hidden_put.0, absent_put.0, "{} / {}", hidden_put.1, absent_put.1);
    assert_eq!(hidden_put.1.to_string().replace(&annas, "X"), absent_put.1.to_string().replace(missing, "X"));
    let (_, still) = get_as(server, &anna, &format!("Subscription/{annas}")).await;
    assert_eq!(still["channel"]["_payload"]["extension"][0]["valueCode"], "empty", "unchanged");
}

/// A deletion is found by no search: a subscription without filters on every change of a type
/// is told of the deletions of what its owner could see (judged on the version deleted), and
/// of no one else's.
async fn deletions_told_to_whom_saw_them(server: &TestServer) {
    let receiver = Receiver::start().await;
    let jan = patient_token(server, JAN).await;
    let admin = server.admin_token().await;
    let (status, created) =
        create_as(server, &jan, &subscription("resource-DiagnosticReport", &[], rest_hook(&receiver.url, "id-only")))
            .await;
    assert_eq!(status, 201, "{created}");
    let jans = created["id"].as_str().expect("id").to_string();
    wait_status(server, &jan, &jans, "active").await;
    let others = write_result(server, &admin, ZOFIA, HEMOGLOBIN).await;
    let own = write_result(server, &admin, JAN, HEMOGLOBIN).await;
    for path in [&others, &own] {
        let r = server.request(reqwest::Method::DELETE, path).bearer_auth(&admin).send().await.expect("delete");
        assert!(r.status().is_success(), "delete {path}: {}", r.status());
    }
    receiver.wait("Jan's deletion", |b| all_events(b).len() >= 2).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let told = all_events(&receiver.bundles());
    let base = &server.base;
    let want = vec![(1, format!("{base}/{own}/_history/1")), (2, format!("{base}/{own}/_history/2"))];
    assert_eq!(told, want, "Jan's own report written and deleted, nothing of Zofia's");
}

/// A receiver that is down: the subscription is retried, then `error` (with why, in `$status`
/// and on the resource); the subscriber recovers the missed events with `$events`; once the
/// receiver is back, delivery resumes from the first undelivered event and the subscription is
/// `active` again.
async fn failures_error_and_recovery(server: &TestServer) {
    let receiver = Receiver::start().await;
    let anna = patient_token(server, ANNA).await;
    let admin = server.admin_token().await;
    // A generic topic with a date filter: decided by a search as Anna (token and reference
    // filters are judged in memory; the other scenarios use those).
    let filters = ["DiagnosticReport?issued=ge2026-01-01"];
    let (status, created) = create_as(
        server,
        &anna,
        &subscription("resource-DiagnosticReport", &filters, rest_hook(&receiver.url, "id-only")),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_string();
    wait_status(server, &anna, &id, "active").await;

    receiver.set_down(true);
    let mut written = Vec::new();
    for _ in 0..3 {
        written.push(write_result(server, &admin, ANNA, HEMOGLOBIN).await);
    }
    let errored = wait_status(server, &anna, &id, "error").await;
    assert!(errored["error"].as_str().unwrap_or_default().contains("503"), "why: {errored}");
    let (_, status) = get_as(server, &anna, &format!("Subscription/{id}/$status")).await;
    assert_eq!(
        parameter(&status["entry"][0]["resource"], "status").and_then(|p| p["valueCode"].as_str()),
        Some("error")
    );

    // Missed events, recovered by number.
    let (code, replay) =
        get_as(server, &anna, &format!("Subscription/{id}/$events?eventsSinceNumber=1&eventsUntilNumber=3")).await;
    assert_eq!(code, 200, "{replay}");
    let replayed = events(&replay);
    assert_eq!(replayed.iter().map(|(n, _)| *n).collect::<Vec<_>>(), vec![1, 2, 3]);
    for (r, w) in replayed.iter().zip(&written) {
        assert!(r.1.contains(w), "{replayed:?} vs {written:?}");
    }

    receiver.set_down(false);
    let bundles = receiver.wait("the events after recovery", |b| all_events(b).len() >= 3).await;
    let told = all_events(&bundles);
    assert_eq!(told.iter().map(|(n, _)| *n).collect::<Vec<_>>(), vec![1, 2, 3], "in order, none lost: {told:?}");
    wait_status(server, &anna, &id, "active").await;
}

/// A websocket subscription: a binding token from `$get-ws-binding-token`, a socket bound with
/// it gets a handshake, then the events; a forged token binds nothing.
async fn websocket_delivery(server: &TestServer) {
    let anna = patient_token(server, ANNA).await;
    let admin = server.admin_token().await;
    let channel = json!({"type": "websocket", "payload": "application/fhir+json",
        "_payload": {"extension": [{"url": format!("{BACKPORT}/backport-payload-content"), "valueCode": "id-only"}]}});
    let (status, created) = create_as(server, &anna, &subscription("lab-result-available", &[], channel)).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_string();
    let (token, url) = binding_token(server, &anna, &id).await;
    assert!(url.starts_with("ws://") && url.ends_with("/notifications/websocket"), "{url}");

    // A forged token.
    let (mut forged, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("connect");
    forged
        .send(tokio_tungstenite::tungstenite::Message::text(format!(
            "bind-with-token {id}.99999999999999999.00000000000000000000000000000000"
        )))
        .await
        .expect("send");
    let refusal = next_text(&mut forged).await;
    assert!(refusal.contains("error"), "{refusal}");

    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("connect");
    socket.send(tokio_tungstenite::tungstenite::Message::text(format!("bind-with-token {token}"))).await.expect("send");
    let handshake: Value = serde_json::from_str(&next_text(&mut socket).await).expect("json");
    assert_eq!(kind(&handshake), "handshake", "{handshake}");
    let written = write_result(server, &admin, ZOFIA, HEMOGLOBIN).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let bundle: Value = serde_json::from_str(&next_text(&mut socket).await).expect("json");
        if kind(&bundle) == "event-notification" {
            let told = events(&bundle);
            assert_eq!(told.len(), 1, "{bundle}");
            assert_eq!(told[0].0, 1);
            assert!(told[0].1.contains(&written));
            break;
        }
        assert!(Instant::now() < deadline, "no event on the socket");
    }
    wait_status(server, &anna, &id, "active").await;
}

/// A node keeps `--max-unbound-websockets` open before they bind: one more is answered 503 with
/// `Retry-After` (nothing is upgraded), and a socket that binds gives its place back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbound_websockets_are_bounded() {
    use tokio_tungstenite::tungstenite::{Error, Message};
    let server = TestServer::sqlite_configured(|args| {
        configured(args);
        args.max_unbound_websockets = 2;
    })
    .await;
    let anna = patient_token(&server, ANNA).await;
    let channel = json!({"type": "websocket", "payload": "application/fhir+json"});
    let (status, created) = create_as(&server, &anna, &subscription("lab-result-available", &[], channel)).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_string();
    let (token, url) = binding_token(&server, &anna, &id).await;

    let (mut first, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("the first socket");
    let (_second, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("the second socket");
    match tokio_tungstenite::connect_async(url.as_str()).await {
        Err(Error::Http(response)) => {
            assert_eq!(response.status(), 503);
            assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("5"));
        }
        Err(other) => panic!("a third socket: {other}"),
        Ok(_) => panic!("a third socket waiting to bind was let in"),
    }

    first.send(Message::text(format!("bind-with-token {token}"))).await.expect("send");
    let handshake: Value = serde_json::from_str(&next_text(&mut first).await).expect("json");
    assert_eq!(kind(&handshake), "handshake", "{handshake}");
    let (_third, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("a place after one bound");
}

/// `$get-ws-binding-token` as `token`: the binding token and the websocket URL.
async fn binding_token(server: &TestServer, token: &str, id: &str) -> (String, String) {
    let (code, binding) = get_as(server, token, &format!("Subscription/{id}/$get-ws-binding-token")).await;
    assert_eq!(code, 200, "{binding}");
    let value = |name: &str| {
        parameter(&binding, name)
            .and_then(|p| p["valueString"].as_str().or(p["valueUrl"].as_str()))
            .unwrap_or_default()
            .to_string()
    };
    (value("token"), value("websocket-url"))
}

async fn next_text<S>(socket: &mut S) -> String
where
    S: futures::Stream<Item = Result<tokio_tungstenite::tungstenite::Message, tokio_tungstenite::tungstenite::Error>>
        + Unpin,
{
    loop {
        let message = tokio::time::timeout(Duration::from_secs(20), socket.next())
            .await
            .expect("a message within 20 s")
            .expect("open")
            .expect("a message");
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
            return text.to_string();
        }
    }
}

/// E-mail notifications go to the mail outbox file (none configured here: the subscription
/// fails and says why); a rest-hook subscription with a heartbeat period hears heartbeats.
async fn email_and_heartbeats(server: &TestServer) {
    let anna = patient_token(server, ANNA).await;
    let email = json!({"type": "email", "endpoint": "mailto:anna@example.pl", "payload": "application/fhir+json"});
    let (status, created) = create_as(server, &anna, &subscription("prescription-issued", &[], email)).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_string();
    let errored = wait_status(server, &anna, &id, "error").await;
    assert!(errored["error"].as_str().unwrap_or_default().contains("mail outbox"), "{errored}");

    let receiver = Receiver::start().await;
    let mut channel = rest_hook(&receiver.url, "empty");
    channel["extension"] = json!([{"url": format!("{BACKPORT}/backport-heartbeat-period"), "valueUnsignedInt": 1}]);
    let (status, created) = create_as(server, &anna, &subscription("prescription-issued", &[], channel)).await;
    assert_eq!(status, 201, "{created}");
    receiver.wait("two heartbeats", |b| b.iter().filter(|b| kind(b) == "heartbeat").count() >= 2).await;
}

/// Subscriptions the server cannot serve are refused (422) before anything is stored.
async fn refused_subscriptions(server: &TestServer) {
    let anna = patient_token(server, ANNA).await;
    let hook = rest_hook("http://127.0.0.1:9/hook", "id-only");
    let cases = [
        subscription("no-such-topic", &[], hook.clone()),
        subscription("lab-result-available", &["DiagnosticReport?no-such-parameter=1"], hook.clone()),
        subscription("lab-result-available", &["Patient?name=x"], hook.clone()),
        subscription("lab-result-available", &[], json!({"type": "message", "endpoint": "http://x"})),
        subscription("lab-result-available", &[], json!({"type": "rest-hook", "endpoint": "file:///etc/passwd"})),
        // Bounded: eleven filters, a header too many.
        subscription("lab-result-available", &["DiagnosticReport?code=a"; 11], hook.clone()),
        subscription(
            "lab-result-available",
            &[],
            json!({"type": "rest-hook", "endpoint": "http://127.0.0.1:9/hook", "header": vec!["X-A: b"; 11]}),
        ),
    ];
    for case in &cases {
        let (status, body) = create_as(server, &anna, case).await;
        assert_eq!(status, 422, "{case}: {body}");
    }
    let (_, search) = get_as(server, &anna, "Subscription").await;
    let stored: Vec<String> = common::listed(&search, "match");
    assert!(stored.iter().all(|s| s.starts_with("Subscription/demo-anna-")), "only the demo's: {stored:?}");
}

/// Two nodes on one PostgreSQL database, the one delivering killed with SIGKILL mid-delivery:
/// another node takes the subscription over once the dead node's lease has run out, and every
/// event reaches the receiver at least once, numbered 1..=N without gaps, each number always
/// about the same change.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_one_killed_mid_delivery() {
    use common::process::{Running, free_port};
    let Some(admin) = common::postgres_url() else { return };
    let (url, schema) = common::fresh_postgres_schema(&admin).await;
    // This node takes requests and may dispatch, but delivers nothing.
    let front = TestServer::start_configured(&url, "postgres", |a| {
        a.notification_workers = 0;
        a.notification_lease_seconds = 2;
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let listen = format!("127.0.0.1:{}", free_port());
    let mut deliverer = Running::start(
        dir.path(),
        &["serve", "--listen", &listen, "--auth", "off", "--demo", "false", "--store-terminology", "false"],
        &[
            ("IKP_DATABASE_URL", url.as_str()),
            ("IKP_PORTAL", "false"),
            ("IKP_EXPORT_WORKERS", "0"),
            ("IKP_SWEEP_SECONDS", "0"),
            ("IKP_NOTIFICATION_WORKERS", "2"),
            ("IKP_NOTIFICATION_LEASE_SECONDS", "2"),
        ],
    );
    deliverer.wait_ready(&front.client, &format!("http://{listen}/health/ready")).await;

    // One event per notification, each taking a while to be answered.
    let receiver = Receiver::slow(Duration::from_millis(60)).await;
    let mut channel = rest_hook(&receiver.url, "id-only");
    channel["extension"] = json!([{"url": format!("{BACKPORT}/backport-max-count"), "valuePositiveInt": 1}]);
    let created = front.create(&subscription("resource-Patient", &[], channel)).await;
    let id = created["id"].as_str().expect("id").to_string();
    receiver.wait("the handshake", |b| b.iter().any(|b| kind(b) == "handshake")).await;

    const PATIENTS: usize = 60;
    let entries: Vec<Value> = (0..PATIENTS)
        .map(|i| {
            json!({"resource": {"resourceType": "Patient", "id": format!("n{i}"), "gender": "female"},
                        "request": {"method": "PUT", "url": format!("Patient/n{i}")}})
        })
        .collect();
    let r = front
        .send(reqwest::Method::POST, "", &json!({"resourceType": "Bundle", "type": "transaction", "entry": entries}))
        .send()
        .await
        .expect("transaction");
    assert_eq!(r.status(), 200);

    // Killed once a few events are through, well before the end.
    receiver.wait("the first events", |b| all_events(b).len() >= 8).await;
    deliverer.kill();
    let at_kill = all_events(&receiver.bundles()).len();
    assert!(at_kill < PATIENTS / 2, "killed mid-delivery: {at_kill} delivered");

    // Another node with delivery workers resumes once the lease has run out.
    let rescuer = TestServer::start_configured(&url, "postgres", |a| {
        a.notification_lease_seconds = 2;
    })
    .await;
    let bundles = receiver
        .wait("every event", |b| {
            let numbers: std::collections::BTreeSet<u64> = all_events(b).iter().map(|(n, _)| *n).collect();
            numbers.len() >= PATIENTS
        })
        .await;
    // Each node names itself in the focus URLs (in a real cluster they share one public base URL):
    // the change is what follows the base.
    let told: Vec<(u64, String)> = all_events(&bundles)
        .into_iter()
        .map(|(n, focus)| (n, focus.split_once("/fhir/").map_or(focus.clone(), |(_, change)| change.to_string())))
        .collect();
    let mut by_number: std::collections::BTreeMap<u64, String> = std::collections::BTreeMap::new();
    for (number, focus) in &told {
        let previous = by_number.insert(*number, focus.clone());
        assert!(previous.as_ref().is_none_or(|p| p == focus), "event {number} told as {previous:?} and as {focus}");
    }
    assert_eq!(by_number.keys().copied().collect::<Vec<_>>(), (1..=PATIENTS as u64).collect::<Vec<_>>(), "no gaps");
    let patients: std::collections::BTreeSet<String> = by_number
        .values()
        .map(|f| f.split("Patient/").nth(1).unwrap_or_default().split('/').next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(patients.len(), PATIENTS, "each change once by number");
    assert!(told.len() >= PATIENTS, "at least once");
    let (code, status) =
        (200, common::json(front.get(&format!("Subscription/{id}/$status")).send().await.expect("status")).await);
    assert_eq!(code, 200);
    assert_eq!(
        parameter(&status["entry"][0]["resource"], "events-since-subscription-start")
            .and_then(|p| p["valueString"].as_str()),
        Some(PATIENTS.to_string().as_str())
    );
    rescuer.stop().await;
    front.stop().await;
    common::drop_postgres_schema(&admin, &schema).await;
}

/// An e-mail subscription: its handshake and then each event are appended to the mail outbox as
/// messages to the subscriber's address, the notification Bundle as the body.
async fn email_to_the_mail_outbox(server: &TestServer) {
    let outbox = server.state().notifier.config.mail_outbox.clone().expect("a mail outbox");
    let anna = patient_token(server, ANNA).await;
    let admin = server.admin_token().await;
    let email = json!({"type": "email", "endpoint": "mailto:anna@example.pl", "payload": "application/fhir+json",
        "_payload": {"extension": [{"url": format!("{BACKPORT}/backport-payload-content"), "valueCode": "id-only"}]}});
    let (status, created) = create_as(server, &anna, &subscription("lab-result-available", &[], email)).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_string();
    wait_status(server, &anna, &id, "active").await;
    let written = write_result(server, &admin, ZOFIA, HEMOGLOBIN).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let to_anna = loop {
        let mbox = std::fs::read_to_string(&outbox).unwrap_or_default();
        let messages: Vec<String> = mbox
            .split("From ikp@localhost ")
            .filter(|m| m.contains("\nTo: <anna@example.pl>\n"))
            .map(str::to_string)
            .collect();
        if messages.iter().any(|m| m.contains(&written)) {
            break messages;
        }
        assert!(Instant::now() < deadline, "no e-mail about {written} in {}:\n{mbox}", outbox.display());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let bundle_of = |message: &str| -> Value {
        let body = message.split_once("\n\n").map(|(_, body)| body.trim()).unwrap_or_default();
        serde_json::from_str(body).unwrap_or(Value::Null)
    };
    let bundles: Vec<Value> = to_anna.iter().map(|m| bundle_of(m)).collect();
    assert!(bundles.iter().any(|b| kind(b) == "handshake"), "the handshake came first: {to_anna:?}");
    let told = all_events(&bundles);
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].0, 1);
    assert!(told[0].1.contains(&written));
    assert!(to_anna.iter().all(|m| m.contains("Subject: IKP: ")), "{to_anna:?}");
    std::fs::remove_file(&outbox).ok();
}

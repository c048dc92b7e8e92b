//! Crash and shutdown behaviour of the real binary: after `kill -9` in the middle of writes every
//! acknowledged resource is readable and nothing half-written is visible; on SIGTERM in-flight
//! requests finish before the process exits.

use crate::common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::join_all;
use reqwest::{Client, Method};
use serde_json::{Value, json};

struct Process {
    child: Child,
    base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn spawn(database_url: &str) -> Process {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ikp"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--database-url", database_url])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start ikp");
    let base = format!("http://127.0.0.1:{port}/fhir");
    let client = Client::new();
    // A first start on a fresh database stores the built-in terminology and profiles (thousands of
    // resources): seconds on an idle machine, longer when the tests share two cores with a build.
    for _ in 0..1200 {
        if client.get(format!("{base}/metadata")).send().await.is_ok_and(|r| r.status() == 200) {
            return Process { child, base };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().ok();
    child.wait().ok();
    panic!("ikp did not start within a minute");
}

fn signal(p: &Process, sig: &str) {
    let status = Command::new("kill").args([sig, &p.child.id().to_string()]).status().expect("kill");
    assert!(status.success());
}

async fn database(backend: &str) -> Option<(String, Option<tempfile::TempDir>)> {
    match backend {
        "sqlite" => {
            let dir = tempfile::tempdir().unwrap();
            Some((format!("sqlite://{}/ikp.db", dir.path().display()), Some(dir)))
        }
        _ => {
            let admin = common::postgres_url()?;
            Some((common::fresh_postgres_schema(&admin).await.0, None))
        }
    }
}

async fn kill_during_writes(backend: &str) {
    let Some((url, _dir)) = database(backend).await else { return };
    let mut server = spawn(&url).await;
    let base = server.base.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged_so_far = Arc::new(AtomicUsize::new(0));
    // Writers create and update resources until the server dies, recording what was acknowledged.
    let writers = (0..8).map(|w| {
        let base = base.clone();
        let stop = stop.clone();
        let acknowledged_so_far = acknowledged_so_far.clone();
        tokio::spawn(async move {
            let client = Client::new();
            let mut acknowledged: Vec<(String, i64)> = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let id = format!("w{w}-{}", i % 5);
                let body = json!({"resourceType": "Patient", "id": id, "name": [{"family": format!("F{i}")}],
                    "text": {"status": "generated", "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{}</div>", "x".repeat(2000))}});
                let sent = client
                    .put(format!("{base}/Patient/{id}"))
                    .header("content-type", "application/fhir+json")
                    .body(body.to_string())
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => {
                        let v: Value = r.json().await.unwrap_or(Value::Null);
                        if let Some(version) = v["meta"]["versionId"].as_str().and_then(|s| s.parse().ok()) {
                            acknowledged.push((id, version));
                            acknowledged_so_far.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Ok(r) => panic!("write refused: {}", r.status()),
                    Err(_) => break,
                }
            }
            acknowledged
        })
    });
    let writers: Vec<_> = writers.collect();
    // Killed once the writers are well under way (counted, not timed: on two cores shared with a
    // build, the first writes can take seconds), with writes in flight.
    let started = std::time::Instant::now();
    while acknowledged_so_far.load(Ordering::Relaxed) < 40 && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    signal(&server, "-KILL");
    server.child.wait().ok();
    stop.store(true, Ordering::Relaxed);
    let acknowledged: Vec<(String, i64)> = join_all(writers).await.into_iter().flat_map(Result::unwrap).collect();
    assert!(acknowledged.len() > 20, "the writers wrote something ({})", acknowledged.len());

    let mut restarted = spawn(&url).await;
    let client = Client::new();
    for (id, version) in &acknowledged {
        let r = client.get(format!("{}/Patient/{id}/_history/{version}", restarted.base)).send().await.unwrap();
        assert_eq!(r.status(), 200, "acknowledged Patient/{id} version {version} survived the crash");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["meta"]["versionId"], version.to_string());
    }
    // Every current resource is whole and valid.
    let history: Value = client
        .get(format!("{}/Patient/_history?_count=1000", restarted.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let model = ikp::model::r4().unwrap();
    for e in history["entry"].as_array().unwrap() {
        assert!(ikp::validation::structure::validate(model, &e["resource"]).is_empty());
    }
    signal(&restarted, "-TERM");
    restarted.child.wait().ok();
}

async fn sigterm_lets_in_flight_requests_finish(backend: &str) {
    let Some((url, _dir)) = database(backend).await else { return };
    let mut server = spawn(&url).await;
    let base = server.base.clone();
    // A request whose body arrives slowly is in flight when SIGTERM comes.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream(rx));
    let request = tokio::spawn(async move {
        Client::new()
            .request(Method::PUT, format!("{base}/Patient/slow"))
            .header("content-type", "application/fhir+json")
            .body(body)
            .send()
            .await
    });
    tx.send(Ok(br#"{"resourceType": "Patient", "#.to_vec())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(&server, "-TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    tx.send(Ok(br#""id": "slow", "active": true}"#.to_vec())).await.unwrap();
    drop(tx);
    let response = request.await.unwrap().expect("the in-flight request is answered");
    assert_eq!(response.status(), 201);
    let status = server.child.wait().unwrap();
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");

    let mut restarted = spawn(&url).await;
    let r = Client::new().get(format!("{}/Patient/slow", restarted.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    signal(&restarted, "-TERM");
    restarted.child.wait().ok();
}

fn tokio_stream(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_during_writes_sqlite() {
    kill_during_writes("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_during_writes_postgres() {
    kill_during_writes("postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish_sqlite() {
    sigterm_lets_in_flight_requests_finish("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish_postgres() {
    sigterm_lets_in_flight_requests_finish("postgres").await;
}

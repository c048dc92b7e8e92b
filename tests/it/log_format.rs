//! `--log-format json`: every line the server writes to stderr is one JSON object with the
//! timestamp, level, target and fields, and, inside a request, the request's span (its id).
//! The server here takes its options from a configuration file.

use serde_json::Value;

use crate::common::process::{Running, free_port};

/// The stderr lines, each parsed as JSON (any other line fails the test).
pub fn json_lines(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .map(|line| {
            let record: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            assert!(record["timestamp"].is_string(), "{line}");
            assert!(
                ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&record["level"].as_str().unwrap_or("")),
                "{line}"
            );
            assert!(record["target"].as_str().is_some_and(|t| !t.is_empty()), "{line}");
            assert!(record["fields"]["message"].is_string(), "{line}");
            record
        })
        .collect()
}

pub fn line_with<'a>(records: &'a [Value], message: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r["fields"]["message"] == message)
        .unwrap_or_else(|| panic!("no {message:?} in {records:#?}"))
}

#[tokio::test]
async fn serve_logs_json_lines_with_the_request_span() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let config = format!(
        "listen = \"{listen}\"\ndatabase-url = \"sqlite://{}/ikp.db\"\nstore-terminology = false\n",
        dir.path().display()
    );
    std::fs::write(dir.path().join("ikp.toml"), config).unwrap();
    let mut server = Running::start(
        dir.path(),
        &["--log-format", "json", "serve", "--config", "ikp.toml"],
        &[("RUST_LOG", "info,sqlx=warn")],
    );
    let client = reqwest::Client::new();
    let base = format!("http://{listen}/fhir");
    server.wait_ready(&client, &format!("{base}/metadata")).await;

    // Plain HTTP: no HSTS header (that is for TLS only).
    let metadata = client.get(format!("{base}/metadata")).send().await.unwrap();
    assert!(metadata.headers().get("strict-transport-security").is_none());
    // A refused token request logs at info level inside its request's span.
    let refused = client
        .post(format!("{base}/auth/token"))
        .header("x-request-id", "log-format-test-1")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=nonsense")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);

    let (status, stderr) = server.stop();
    assert!(status.success(), "graceful stop: {status}\n{stderr}");
    let records = json_lines(&stderr);
    let ready = line_with(&records, "ikp FHIR server ready");
    assert_eq!(ready["level"], "INFO");
    assert_eq!(ready["target"], "ikp::server");
    assert_eq!(ready["fields"]["listen"], listen.as_str());
    assert_eq!(ready["fields"]["base_url"], base.as_str());
    assert_eq!(ready["fields"]["tls"], false);
    let refusal = line_with(&records, "authorization request refused");
    assert_eq!(refusal["span"]["name"], "request", "{refusal}");
    assert_eq!(refusal["span"]["request_id"], "log-format-test-1", "{refusal}");
    assert_eq!(refusal["span"]["method"], "POST", "{refusal}");
    assert!(refusal["spans"].as_array().is_some_and(|spans| !spans.is_empty()), "{refusal}");
    line_with(&records, "SIGTERM received");
}

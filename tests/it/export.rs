//! Bulk Data export: the asynchronous kick-off/status/download pattern, the export levels and
//! parameters, cancellation, file splitting, and jobs that outlive a server restart.

use crate::common;

use std::time::Duration;

use common::{TestServer, json, outcome};
use reqwest::Method;
use serde_json::{Value, json};

/// Kicks off an export and returns the status URL.
pub(crate) async fn kickoff(server: &TestServer, path: &str) -> String {
    let r = server
        .get(path)
        .header("prefer", "respond-async")
        .header("accept", "application/fhir+json")
        .send()
        .await
        .expect("kick-off");
    assert_eq!(r.status(), 202, "kick-off {path}: {}", r.text().await.unwrap_or_default());
    r.headers().get("content-location").and_then(|v| v.to_str().ok()).expect("Content-Location").to_string()
}

/// Polls until the job completes; returns the manifest.
pub(crate) async fn manifest(server: &TestServer, status_url: &str) -> Value {
    // Two minutes at most: a debug build on two shared cores writes a few hundred files slowly.
    for _ in 0..1200 {
        let r = server.client.get(status_url).send().await.expect("status");
        match r.status().as_u16() {
            202 => {
                assert!(r.headers().get("x-progress").is_some(), "202 without X-Progress");
                assert!(r.headers().get("retry-after").is_some(), "202 without Retry-After");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            200 => return json(r).await,
            other => panic!("status {other}: {}", r.text().await.unwrap_or_default()),
        }
    }
    panic!("the export did not finish")
}

/// type → ids exported, read from the manifest's files.
pub(crate) async fn exported(server: &TestServer, manifest: &Value) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for file in manifest["output"].as_array().expect("output") {
        let t = file["type"].as_str().expect("type").to_string();
        let r = server.client.get(file["url"].as_str().expect("url")).send().await.expect("file");
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/fhir+ndjson");
        let text = r.text().await.expect("body");
        let mut ids = Vec::new();
        for line in text.lines() {
            let resource: Value = serde_json::from_str(line).expect("one resource per line");
            assert_eq!(resource["resourceType"], t.as_str());
            ids.push(resource["id"].as_str().expect("id").to_string());
        }
        assert_eq!(file["count"].as_u64(), Some(ids.len() as u64), "count of {t}");
        match out.iter_mut().find(|(x, _)| *x == t) {
            Some((_, all)) => all.extend(ids),
            None => out.push((t, ids)),
        }
    }
    for (_, ids) in &mut out {
        ids.sort();
    }
    out.sort();
    out
}

fn ids(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// Two patients with observations, an organization, and a group holding the first patient.
async fn population(server: &TestServer) {
    for (t, id, body) in [
        ("Patient", "p1", json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Nowak"}]})),
        ("Patient", "p2", json!({"resourceType": "Patient", "id": "p2", "name": [{"family": "Kowalska"}]})),
        ("Organization", "o1", json!({"resourceType": "Organization", "id": "o1", "name": "Przychodnia"})),
        ("Observation", "a1", observation("a1", "p1", "1234-5")),
        ("Observation", "a2", observation("a2", "p1", "9999-9")),
        ("Observation", "b1", observation("b1", "p2", "1234-5")),
        (
            "Group",
            "g1",
            json!({"resourceType": "Group", "id": "g1", "type": "person", "actual": true,
            "member": [{"entity": {"reference": "Patient/p1"}}]}),
        ),
    ] {
        let r = server.send(Method::PUT, &format!("{t}/{id}"), &body).send().await.expect("put");
        assert!(r.status().is_success(), "PUT {t}/{id}: {}", r.status());
    }
}

fn observation(id: &str, patient: &str, code: &str) -> Value {
    json!({"resourceType": "Observation", "id": id, "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": format!("Patient/{patient}")}})
}

async fn system_export_writes_every_type(server: &TestServer) {
    let metadata = json(server.get("metadata").send().await.expect("metadata")).await;
    let operations = metadata["rest"][0]["operation"].as_array().expect("operations");
    assert!(operations.iter().any(|o| o["name"] == "export"), "{operations:?}");
    population(server).await;
    let status = kickoff(server, "$export").await;
    assert!(status.starts_with(&server.base), "{status}");
    let m = manifest(server, &status).await;
    assert_eq!(m["requiresAccessToken"], false);
    assert!(m["request"].as_str().expect("request").ends_with("/$export"));
    assert!(m["transactionTime"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(
        exported(server, &m).await,
        vec![
            ("Group".into(), ids(&["g1"])),
            ("Observation".into(), ids(&["a1", "a2", "b1"])),
            ("Organization".into(), ids(&["o1"])),
            ("Patient".into(), ids(&["p1", "p2"])),
        ]
    );
}

async fn type_since_and_type_filter_narrow_the_export(server: &TestServer) {
    population(server).await;
    let m = manifest(server, &kickoff(server, "$export?_type=Observation,Organization").await).await;
    assert_eq!(
        exported(server, &m).await,
        vec![("Observation".into(), ids(&["a1", "a2", "b1"])), ("Organization".into(), ids(&["o1"]))]
    );

    let filter = "Observation%3Fcode%3Dhttp%3A%2F%2Floinc.org%7C1234-5";
    let m = manifest(server, &kickoff(server, &format!("$export?_type=Observation&_typeFilter={filter}")).await).await;
    assert_eq!(exported(server, &m).await, vec![("Observation".into(), ids(&["a1", "b1"]))]);

    // Two filters: a resource matching either is exported once.
    let second = "Observation%3Fsubject%3DPatient%2Fp1";
    let m =
        manifest(server, &kickoff(server, &format!("$export?_type=Observation&_typeFilter={filter},{second}")).await)
            .await;
    assert_eq!(exported(server, &m).await, vec![("Observation".into(), ids(&["a1", "a2", "b1"]))]);

    tokio::time::sleep(Duration::from_millis(20)).await;
    let since = m["transactionTime"].as_str().expect("transactionTime").to_string();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let changed = observation("b1", "p2", "5555-5");
    assert!(server.send(Method::PUT, "Observation/b1", &changed).send().await.expect("put").status().is_success());
    let since = since.replace('+', "%2B");
    let m = manifest(server, &kickoff(server, &format!("$export?_since={since}")).await).await;
    assert_eq!(exported(server, &m).await, vec![("Observation".into(), ids(&["b1"]))]);
}

async fn patient_and_group_exports_hold_compartments_only(server: &TestServer) {
    population(server).await;
    // The group is in its member's compartment; the organization is in nobody's.
    let m = manifest(server, &kickoff(server, "Patient/$export").await).await;
    assert_eq!(
        exported(server, &m).await,
        vec![
            ("Group".into(), ids(&["g1"])),
            ("Observation".into(), ids(&["a1", "a2", "b1"])),
            ("Patient".into(), ids(&["p1", "p2"]))
        ]
    );
    assert!(m["request"].as_str().expect("request").ends_with("/Patient/$export"));

    let m = manifest(server, &kickoff(server, "Group/g1/$export?_type=Patient,Observation").await).await;
    assert_eq!(
        exported(server, &m).await,
        vec![("Observation".into(), ids(&["a1", "a2"])), ("Patient".into(), ids(&["p1"]))]
    );

    // POST with Parameters: the patient parameter narrows a Patient-level export.
    let parameters = json!({"resourceType": "Parameters", "parameter": [
        {"name": "_type", "valueString": "Observation"},
        {"name": "patient", "valueReference": {"reference": "Patient/p2"}}]});
    let r = server
        .send(Method::POST, "Patient/$export", &parameters)
        .header("prefer", "respond-async")
        .send()
        .await
        .expect("kick-off");
    assert_eq!(r.status(), 202);
    let status = r.headers()["content-location"].to_str().expect("location").to_string();
    let m = manifest(server, &status).await;
    assert_eq!(exported(server, &m).await, vec![("Observation".into(), ids(&["b1"]))]);

    let r = server.get("Group/missing/$export").header("prefer", "respond-async").send().await.expect("kick-off");
    outcome(r, 404).await;
    let r = server.get("Patient/$export?_type=Organization").header("prefer", "respond-async").send().await.expect("x");
    let issues = outcome(r, 400).await;
    assert!(issues[0]["diagnostics"].as_str().unwrap_or_default().contains("Patient compartment"), "{issues:?}");
}

async fn bad_kickoffs_are_refused(server: &TestServer) {
    let r = server.get("$export").send().await.expect("kick-off");
    let issues = outcome(r, 400).await;
    assert!(issues[0]["diagnostics"].as_str().unwrap_or_default().contains("respond-async"), "{issues:?}");
    for query in [
        "_outputFormat=text/csv",
        "_type=NoSuchType",
        "_since=yesterday",
        "_typeFilter=Observation%3Fno-such-param%3D1",
        "_typeFilter=justtext",
        "_type=Patient&_typeFilter=Observation%3Fstatus%3Dfinal",
    ] {
        let r = server.get(&format!("$export?{query}")).header("prefer", "respond-async").send().await.expect("x");
        assert_eq!(r.status(), 400, "{query}");
        assert_eq!(json(r).await["resourceType"], "OperationOutcome", "{query}");
    }
    let r =
        server.get("$export?_elements=id").header("prefer", "respond-async, handling=strict").send().await.expect("x");
    outcome(r, 400).await;
    let r = server.get("$export-status/no-such-job").send().await.expect("status");
    outcome(r, 404).await;
    let r = server.get("$export-file/no-such-job/0").send().await.expect("file");
    outcome(r, 404).await;
    let r = server.get("$export-file/no-such-job/not-a-number").send().await.expect("file");
    outcome(r, 404).await;
}

async fn delete_cancels_a_job_and_its_files(server: &TestServer) {
    population(server).await;
    let status = kickoff(server, "$export").await;
    let m = manifest(server, &status).await;
    let first_file = m["output"][0]["url"].as_str().expect("url").to_string();
    let r = server.client.delete(&status).send().await.expect("delete");
    assert_eq!(r.status(), 202);
    outcome(server.client.get(&status).send().await.expect("status"), 404).await;
    outcome(server.client.get(&first_file).send().await.expect("file"), 404).await;
    outcome(server.client.delete(&status).send().await.expect("delete again"), 404).await;
}

on_both_backends!(
    system_export_writes_every_type,
    type_since_and_type_filter_narrow_the_export,
    patient_and_group_exports_hold_compartments_only,
    bad_kickoffs_are_refused,
    delete_cancels_a_job_and_its_files,
);

fn args(database_url: &str, export_workers: usize, export_file_size: usize) -> ikp::cli::ServeArgs {
    let mut args = ikp::cli::ServeArgs::new("127.0.0.1:0".parse().expect("addr"), database_url);
    args.export_workers = export_workers;
    args.export_file_size = export_file_size;
    args.store_terminology = false;
    args
}

/// A job queued on a node without workers is run after a restart; what changed after the
/// kick-off stays out (transactionTime), and output is split into files of the configured size.
async fn job_survives_restart(database_url: &str, backend: &'static str) {
    let server = TestServer::start_args(args(database_url, 0, 2), backend).await;
    for i in 0..5 {
        server.create(&json!({"resourceType": "Patient", "id": format!("x{i}"), "gender": "female"})).await;
    }
    let status = kickoff(&server, "$export?_type=Patient").await;
    let r = server.client.get(&status).send().await.expect("status");
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["x-progress"], "queued");
    // Changed after the kick-off: not part of this export.
    let created: Value = server.create(&json!({"resourceType": "Patient", "gender": "male"})).await;
    server.stop().await;

    let server = TestServer::start_args(args(database_url, 1, 2), backend).await;
    let status = status.replace(
        &status[..status.find("/fhir/").expect("base")],
        &server.base[..server.base.find("/fhir").expect("base")],
    );
    let m = manifest(&server, &status).await;
    let counts: Vec<u64> = m["output"].as_array().expect("output").iter().filter_map(|f| f["count"].as_u64()).collect();
    assert_eq!(counts, vec![2, 2, 1]);
    let all = exported(&server, &m).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].1.len(), 5);
    assert!(!all[0].1.contains(&created["id"].as_str().expect("id").to_string()));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_survives_restart_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    job_survives_restart(&format!("sqlite://{}/ikp.db", dir.path().display()), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_survives_restart_postgres() {
    let Some(admin) = common::postgres_url() else { return };
    let (url, schema) = common::fresh_postgres_schema(&admin).await;
    job_survives_restart(&url, "postgres").await;
    common::drop_postgres_schema(&admin, &schema).await;
}

//! `ikp import`: loads files straight into the database; running it again changes nothing.

use std::process::Command;

use serde_json::json;

fn import(database_url: &str, paths: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ikp"))
        .arg("import")
        .args(["--database-url", database_url, "--batch", "50"])
        .args(paths)
        .output()
        .expect("run ikp import");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn import_is_idempotent_and_reports_rejects() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    let patients: Vec<String> = (0..120)
        .map(|i| {
            json!({"resourceType": "Patient", "id": format!("p{i}"), "name": [{"family": format!("F{i}")}]}).to_string()
        })
        .collect();
    std::fs::write(data.join("Patient.ndjson"), patients.join("\n")).expect("write");
    std::fs::write(data.join("bad.ndjson"), r#"{"resourceType": "Patient", "id": "bad", "birthDate": "1980-02-30"}"#)
        .expect("write");
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:0f0f0f0f-0000-4000-8000-000000000001", "resource": {"resourceType": "Patient", "id": "b1"}, "request": {"method": "PUT", "url": "Patient/b1"}},
        {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": "urn:uuid:0f0f0f0f-0000-4000-8000-000000000001"}}, "request": {"method": "POST", "url": "Observation"}}
    ]});
    std::fs::write(data.join("bundle.json"), bundle.to_string()).expect("write");
    let url = format!("sqlite://{}/ikp.db", dir.path().display());
    let first = import(&url, &[data.to_str().expect("path")]);
    assert!(first.contains("122 created, 0 updated, 0 unchanged, 1 rejected"), "{first}");
    let second = import(&url, &[data.to_str().expect("path")]);
    assert!(second.contains("0 created, 0 updated, 122 unchanged"), "{second}");
}

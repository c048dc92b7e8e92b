//! The command line: `ikp fhirpath` evaluates expressions on JSON and XML files.

use std::process::Command;

fn fhirpath(expression: &str, file: &str) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ikp")).args(["fhirpath", expression, file]).output().expect("run ikp");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn fhirpath_on_json_and_xml() {
    let json_file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/r4-examples/Patient-example.json");
    let (ok, out, _) = fhirpath("Patient.name.where(use = 'official').given", json_file);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json output");
    assert_eq!(v, serde_json::json!(["Peter", "James"]));

    let dir = tempfile::tempdir().expect("tmp");
    let xml_file = dir.path().join("p.xml");
    std::fs::write(&xml_file, r#"<Patient xmlns="http://hl7.org/fhir"><birthDate value="2020-01-31"/></Patient>"#)
        .expect("write");
    let (ok, out, _) = fhirpath("birthDate + 1 month", xml_file.to_str().expect("path"));
    assert!(ok);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).expect("json"), serde_json::json!(["2020-02-29"]));

    let (ok, _, err) = fhirpath("birthDate +", json_file);
    assert!(!ok);
    assert!(err.contains("syntax error"), "{err}");
}

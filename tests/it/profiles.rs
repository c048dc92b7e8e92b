//! The national profiles: every example instance validates clean, and every case of the invalid
//! corpus (profiles/invalid) is rejected with the expected error at the expected location.

use std::path::{Path, PathBuf};

use ikp::outcome::{Issue, Severity};
use ikp::validation::profile::NoCodes;
use ikp::validation::profiles::ProfileSet;
use serde_json::Value;

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles").join(name)
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| !n.starts_with('_') && !n.ends_with(".expect.json"))
        })
        .collect();
    files.sort();
    files
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
}

fn validate(profiles: &ProfileSet, resource: &Value, extra: &[&str]) -> Vec<Issue> {
    let model = ikp::model::r4().expect("model");
    let mut issues = ikp::validation::validate(model, profiles, &NoCodes, resource, extra).all();
    // Entries of Bundles (document and package examples) are validated as well.
    for (i, entry) in resource.get("entry").and_then(Value::as_array).into_iter().flatten().enumerate() {
        if let Some(inner) = entry.get("resource") {
            for mut issue in ikp::validation::validate(model, profiles, &NoCodes, inner, &[]).all() {
                issue.expression = issue.expression.map(|e| format!("Bundle.entry[{i}].resource.{e}"));
                issues.push(issue);
            }
        }
    }
    issues
}

#[test]
fn every_profile_loads_and_every_example_validates_clean() {
    let profiles = ProfileSet::built_in().expect("built-in profiles");
    assert!(profiles.urls().len() >= 30, "{} profiles", profiles.urls().len());
    let mut failures = Vec::new();
    let mut warnings = 0;
    let examples = json_files(&dir("examples"));
    assert!(examples.len() >= 30);
    for file in &examples {
        let resource = read(file);
        let declared: Vec<&str> =
            resource["meta"]["profile"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        assert!(declared.iter().any(|p| profiles.get(p).is_some()), "{} declares no known profile", file.display());
        for issue in validate(&profiles, &resource, &[]) {
            match issue.severity {
                Severity::Error => {
                    failures.push(format!("{}: {:?} {}", file.display(), issue.expression, issue.message))
                }
                Severity::Warning => warnings += 1,
                _ => {}
            }
        }
    }
    println!("{} examples, {warnings} warnings", examples.len());
    assert!(failures.is_empty(), "{} errors:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_invalid_case_is_rejected_where_expected() {
    let profiles = ProfileSet::built_in().expect("built-in profiles");
    let mut misses = Vec::new();
    let cases = json_files(&dir("invalid"));
    assert!(cases.len() >= 20);
    for file in &cases {
        let expect = read(&file.with_extension("expect.json"));
        let resource = read(file);
        let profile = expect["profile"].as_str().expect("profile");
        let issues = validate(&profiles, &resource, &[profile]);
        for wanted in expect["errors"].as_array().expect("errors") {
            let at = wanted["expression"].as_str().unwrap_or_default();
            let fragment = wanted["contains"].as_str().unwrap_or_default().to_lowercase();
            let found = issues.iter().any(|i| {
                i.severity == Severity::Error
                    && i.expression.as_deref().is_some_and(|e| e.starts_with(at))
                    && i.message.to_lowercase().contains(&fragment)
            });
            if !found {
                let got: Vec<String> =
                    issues.iter().map(|i| format!("{:?} {:?} {}", i.severity, i.expression, i.message)).collect();
                misses.push(format!("{}: wanted '{fragment}' at {at}; got {got:#?}", file.display()));
            }
        }
    }
    assert!(misses.is_empty(), "{} misses:\n{}", misses.len(), misses.join("\n"));
}

use crate::common;

/// Over HTTP: every example is stored, every invalid case (which declares its profile) is refused
/// with 422 and stores nothing.
async fn the_server_enforces_declared_profiles(server: &common::TestServer) {
    for file in json_files(&dir("examples")) {
        let resource = read(&file);
        let t = resource["resourceType"].as_str().expect("type");
        let id = resource["id"].as_str().expect("id");
        let r = server.send(reqwest::Method::PUT, &format!("{t}/{id}"), &resource).send().await.expect("put");
        assert!(r.status().is_success(), "{}: {} {}", file.display(), r.status(), r.text().await.unwrap_or_default());
    }
    for file in json_files(&dir("invalid")) {
        let mut resource = read(&file);
        let expect = read(&file.with_extension("expect.json"));
        resource["meta"]["profile"] = serde_json::json!([expect["profile"]]);
        let t = resource["resourceType"].as_str().expect("type").to_string();
        let r = server.send(reqwest::Method::POST, &t, &resource).send().await.expect("post");
        assert_eq!(r.status(), 422, "{}", file.display());
    }
}

on_both_backends!(the_server_enforces_declared_profiles);

/// The national profiles and their value sets are served like any resource.
async fn profiles_are_served_as_resources(server: &common::TestServer) {
    let url = "https://ikp.example.org/fhir/StructureDefinition/PLPatient";
    let found = common::json(server.get(&format!("StructureDefinition?url={url}")).send().await.expect("search")).await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["entry"][0]["resource"]["type"], "Patient");
    let r =
        server.get("ValueSet?url=https://ikp.example.org/fhir/ValueSet/pl-payment-level").send().await.expect("search");
    assert_eq!(common::json(r).await["total"], 1);
}

on_both_backends_with_terminology!(profiles_are_served_as_resources);

/// Every official R4 example validates against its base definition (structure, national rules
/// and the base invariants), except Questionnaire-qs1, which the specification ships without the
/// required `linkId`s.
#[test]
fn official_examples_validate_against_their_base_definitions() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/r4-examples");
    let Ok(entries) = std::fs::read_dir(&folder) else {
        panic!("the official examples are expected at {}", folder.display());
    };
    let model = ikp::model::r4().expect("model");
    let profiles = ProfileSet::built_in().expect("profiles");
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    let (mut failing, mut warnings) = (Vec::new(), 0);
    for file in &files {
        let resource = read(file);
        let issues = ikp::validation::validate_deep(model, &profiles, &NoCodes, &resource, &[]).all();
        warnings += issues.iter().filter(|i| i.severity == Severity::Warning).count();
        if issues.iter().any(|i| i.severity == Severity::Error) {
            failing.push(file.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string());
        }
    }
    println!("{} official examples, {warnings} warnings", files.len());
    assert!(files.len() >= 700);
    assert_eq!(failing, vec!["Questionnaire-qs1.json".to_string()]);
}

/// The committed snapshots (profiles/snapshots) are what `ikp snapshot` generates from the
/// differentials today, and every differential element is in its snapshot.
#[test]
fn committed_snapshots_are_current() {
    let bases = ikp::validation::snapshot::Bases::r4().expect("bases");
    let mut stale = Vec::new();
    let profiles: Vec<PathBuf> = std::fs::read_dir(dir(""))
        .expect("profiles")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("StructureDefinition-")))
        .collect();
    assert!(profiles.len() >= 40);
    for file in &profiles {
        let generated = ikp::validation::snapshot::generate(&bases, &read(file)).expect("snapshot");
        let ids: Vec<&str> = generated["snapshot"]["element"]
            .as_array()
            .expect("elements")
            .iter()
            .filter_map(|e| e["id"].as_str())
            .collect();
        for element in generated["differential"]["element"].as_array().expect("differential") {
            let id = element["id"].as_str().expect("id");
            assert!(ids.contains(&id), "{}: {id} missing from the snapshot", file.display());
        }
        let committed = dir("snapshots").join(file.file_name().expect("name"));
        if !committed.exists() || read(&committed) != generated {
            stale.push(file.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "regenerate with `ikp snapshot profiles/StructureDefinition-*.json --out profiles/snapshots`: {stale:?}"
    );
}

/// `--require-profile`: resources of the type must meet the profile even when they do not declare it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_profile_applies_to_undeclared_resources() {
    let profile = "https://ikp.example.org/fhir/StructureDefinition/PLPatient";
    let server =
        common::TestServer::sqlite_configured(|a| a.require_profile = vec![format!("Patient={profile}")]).await;
    let mut unnamed = read(&dir("invalid").join("cardinality-min-patient-name.json"));
    unnamed.as_object_mut().expect("object").remove("meta");
    let r = server.send(reqwest::Method::POST, "Patient", &unnamed).send().await.expect("post");
    assert_eq!(r.status(), 422);
    let mut example = read(&dir("examples").join("Patient-jan-nowak.json"));
    example.as_object_mut().expect("object").remove("meta");
    let r = server.send(reqwest::Method::POST, "Patient", &example).send().await.expect("post");
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    // Other types are not affected.
    server.create(&serde_json::json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}})).await;
    server.stop().await;
}

/// A required binding of a national profile: a code outside the value set, or a concept given
/// only as text, is an error at the element; the example's own code passes.
#[test]
fn national_required_bindings_refuse_text_and_foreign_codes() {
    let profiles = ProfileSet::built_in().expect("profiles");
    let example = read(&dir("examples").join("PractitionerRole-piotr-wisniewski-poz.json"));
    let errors = |code: Value| {
        let mut role = example.clone();
        role["code"] = serde_json::json!([code]);
        validate(&profiles, &role, &[])
            .into_iter()
            .filter(|i| i.severity == Severity::Error)
            .map(|i| (i.expression.unwrap_or_default(), i.message))
            .collect::<Vec<_>>()
    };
    assert_eq!(errors(example["code"][0].clone()), vec![]);
    let system = "urn:oid:2.16.840.1.113883.3.4424.11.3.18";
    for bad in [
        serde_json::json!({"text": "Lekarz"}),
        serde_json::json!({"coding": [{"system": system, "code": "NOT-A-PROFESSION"}]}),
    ] {
        let found = errors(bad.clone());
        assert!(
            found.iter().any(|(at, m)| at == "PractitionerRole.code[0]" && m.contains("not in the value set")),
            "{bad}: {found:?}"
        );
    }
}

//! SQLite and PostgreSQL give the same answers: the official examples are loaded into both and a
//! corpus of searches (every parameter type, modifiers, chains, includes, sorting) runs on each.

use crate::common;

use std::path::PathBuf;

use common::{TestServer, json};
use reqwest::Method;
use serde_json::Value;

const CORPUS: &[&str] = &[
    "Patient?name=peter",
    "Patient?family=chalmers&given=jim",
    "Patient?name:contains=ete",
    "Patient?name:exact=Peter",
    "Patient?gender=female&_sort=birthdate",
    "Patient?birthdate=lt1980&_sort=-birthdate,_id",
    "Patient?birthdate=ge1974-12-25&_sort=family",
    "Patient?identifier=12345",
    "Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|12345",
    "Patient?active:missing=true",
    "Patient?gender:not=male",
    "Patient?address-city=amsterdam",
    "Patient?_has:Observation:patient:code=15074-8",
    "Patient?_id=example&_revinclude=Observation:subject",
    "Patient?general-practitioner:missing=false&_include=Patient:general-practitioner",
    "Observation?code=http://loinc.org|15074-8",
    "Observation?code:text=glucose",
    "Observation?value-quantity=gt5&_sort=value-quantity",
    "Observation?value-quantity=6.3|http://unitsofmeasure.org|mmol/L",
    "Observation?date=2012&_sort=date",
    "Observation?date=ge2013-04-02T09:30:10%2B01:00",
    "Observation?patient=Patient/example&_sort=-_lastUpdated&_count=5",
    "Observation?subject:Patient.name=peter&_count=10",
    "Observation?code-value-quantity=http://loinc.org|29463-7$gt180",
    "Observation?combo-code=http://loinc.org|8480-6",
    "Observation?status=final&category=vital-signs&_sort=code",
    "Observation?_include=Observation:*&_id=example",
    "Encounter?date=2013&_sort=date",
    "Encounter?class=IMP",
    "Condition?onset-date=le2012-12-31&_sort=-onset-date",
    "Condition?code=http://snomed.info/sct|39065001",
    "MedicationRequest?intent=order&_include=MedicationRequest:medication",
    "MedicationRequest?authoredon=2015-01-15",
    "Practitioner?name=adam&_sort=family",
    "Organization?name=health&_sort=name",
    "Location?near=42.256500|-83.694710|11.20|km",
    "Questionnaire?url=http://hl7.org/fhir/Questionnaire/3141",
    "ValueSet?url:below=http://hl7.org/fhir/ValueSet/",
    "CodeSystem?system:below=http://hl7.org/fhir",
    "RiskAssessment?probability=gt0.5",
    "ChargeItem?factor-override=0.8",
    "Immunization?date=2013-01-10&_include=Immunization:patient",
    "Procedure?date=ge2013-01-28&_sort=date",
    "DiagnosticReport?result.code=http://loinc.org|718-7",
    "Patient/example/Observation?_sort=code&_count=7",
    "Group?characteristic-value=gender$mixed",
];

async fn load_examples(s: &TestServer) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/r4-examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for path in files {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let t = v["resourceType"].as_str().unwrap().to_string();
        let id = v["id"].as_str().unwrap().to_string();
        s.send(Method::PUT, &format!("{t}/{id}"), &v).send().await.unwrap();
    }
}

/// (mode, type/id) of every entry, in order, and the total.
async fn answer(s: &TestServer, query: &str) -> (Option<i64>, Vec<String>) {
    let r = s.get(query).send().await.unwrap();
    assert_eq!(r.status(), 200, "{query} on {}", s.backend);
    let b = json(r).await;
    let entries = b["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter(|e| e["search"]["mode"] != "outcome")
                .map(|e| {
                    format!(
                        "{} {}/{}",
                        e["search"]["mode"].as_str().unwrap(),
                        e["resource"]["resourceType"].as_str().unwrap(),
                        e["resource"]["id"].as_str().unwrap()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (b["total"].as_i64(), entries)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_agree() {
    let Some(pg) = TestServer::postgres().await else { return };
    let lite = TestServer::sqlite().await;
    load_examples(&lite).await;
    load_examples(&pg).await;
    let mut differences = Vec::new();
    let mut non_empty = 0;
    for query in CORPUS {
        let a = answer(&lite, query).await;
        let b = answer(&pg, query).await;
        // Without _sort the order is insertion order on both; includes follow their matches.
        if a != b {
            differences.push(format!("{query}:\n  sqlite   {a:?}\n  postgres {b:?}"));
        }
        if !a.1.is_empty() {
            non_empty += 1;
        }
    }
    lite.stop().await;
    pg.stop().await;
    assert!(
        differences.is_empty(),
        "{} of {} queries differ:\n{}",
        differences.len(),
        CORPUS.len(),
        differences.join("\n")
    );
    assert!(
        non_empty >= CORPUS.len() * 3 / 4,
        "the corpus exercises real matches ({non_empty} of {} non-empty)",
        CORPUS.len()
    );
}

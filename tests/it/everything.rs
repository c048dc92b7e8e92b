//! Patient/$everything: the compartment plus what it references, with _type, _since, start/end and
//! paging.

use crate::common;

use common::{TestServer, json, outcome};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(patient_everything);
on_both_backends!(audit_trail_beside_the_record);

async fn put(s: &TestServer, r: Value) {
    let path = format!("{}/{}", r["resourceType"].as_str().unwrap(), r["id"].as_str().unwrap());
    assert!(s.send(Method::PUT, &path, &r).send().await.unwrap().status().is_success());
}

fn ids(bundle: &Value) -> Vec<String> {
    let mut v: Vec<String> = bundle["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|e| {
                    format!(
                        "{}/{}",
                        e["resource"]["resourceType"].as_str().unwrap(),
                        e["resource"]["id"].as_str().unwrap()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

async fn patient_everything(s: &TestServer) {
    put(s, json!({"resourceType": "Practitioner", "id": "dr"})).await;
    put(s, json!({"resourceType": "Organization", "id": "org"})).await;
    put(s, json!({"resourceType": "Patient", "id": "p1", "managingOrganization": {"reference": "Organization/org"}}))
        .await;
    put(s, json!({"resourceType": "Patient", "id": "p2"})).await;
    put(s, json!({"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": "AMB"}, "subject": {"reference": "Patient/p1"}, "period": {"start": "2020-01-01", "end": "2020-01-01"}})).await;
    put(s, json!({"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2021-06-01", "performer": [{"reference": "Practitioner/dr"}]})).await;
    put(s, json!({"resourceType": "Observation", "id": "o2", "status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient/p2"}})).await;
    put(s, json!({"resourceType": "AllergyIntolerance", "id": "a1", "patient": {"reference": "Patient/p1"}})).await;

    let all = json(s.get("Patient/p1/$everything").send().await.unwrap()).await;
    assert_eq!(all["type"], "searchset");
    assert_eq!(
        ids(&all),
        vec![
            "AllergyIntolerance/a1",
            "Encounter/e1",
            "Observation/o1",
            "Organization/org",
            "Patient/p1",
            "Practitioner/dr"
        ]
    );
    let only = json(s.get("Patient/p1/$everything?_type=Observation,Patient").send().await.unwrap()).await;
    assert!(ids(&only).contains(&"Observation/o1".to_string()) && !ids(&only).contains(&"Encounter/e1".to_string()));
    // Care dates: the 2020 encounter drops out; undated resources stay.
    let recent = json(s.get("Patient/p1/$everything?start=2021-01-01").send().await.unwrap()).await;
    let recent = ids(&recent);
    assert!(recent.contains(&"Observation/o1".to_string()) && !recent.contains(&"Encounter/e1".to_string()));
    assert!(recent.contains(&"AllergyIntolerance/a1".to_string()));
    let none = json(s.get("Patient/p1/$everything?_since=2999-01-01").send().await.unwrap()).await;
    assert!(ids(&none).iter().all(|i| !i.starts_with("Observation")));
    // Paging: every compartment resource once.
    let mut page = json(s.get("Patient/p1/$everything?_count=2").send().await.unwrap()).await;
    let mut seen = Vec::new();
    loop {
        seen.extend(
            page["entry"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["search"]["mode"] == "match")
                .map(|e| e["resource"]["id"].as_str().unwrap().to_string()),
        );
        let next = page["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .and_then(|l| l["url"].as_str())
            .map(str::to_string);
        match next {
            Some(url) => page = json(s.client.get(url).send().await.unwrap()).await,
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, vec!["a1", "e1", "o1", "p1"]);
    // Type level: every patient's compartment.
    let everyone = json(s.get("Patient/$everything").send().await.unwrap()).await;
    assert!(
        ids(&everyone).contains(&"Observation/o2".to_string())
            && ids(&everyone).contains(&"Observation/o1".to_string())
    );
    outcome(s.get("Patient/nobody/$everything").send().await.unwrap(), 404).await;
}

/// An AuditEvent about `patient` (role 1: the patient the event is about).
fn audit_event(id: &str, patient: &str) -> Value {
    json!({"resourceType": "AuditEvent", "id": id,
        "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110"},
        "recorded": "2026-01-01T00:00:00Z",
        "agent": [{"requestor": true, "who": {"display": "a reader"}}],
        "source": {"observer": {"display": "ikp"}},
        "entity": [{"what": {"reference": format!("Patient/{patient}")},
            "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1"}}]})
}

/// A patient's audit trail sits in their compartment beside the record but is indexed apart
/// (migration 0018): the record's lookups, the trail's and lookups of both still find exactly
/// what they did, and on SQLite (whose plans do not depend on statistics) the record's lookup
/// reads the record's index only and the trail's the trail's.
async fn audit_trail_beside_the_record(s: &TestServer) {
    put(s, json!({"resourceType": "Patient", "id": "p1"})).await;
    put(
        s,
        json!({"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"},
        "subject": {"reference": "Patient/p1"}}),
    )
    .await;
    for i in 0..12 {
        put(s, audit_event(&format!("ae{i}"), "p1")).await;
    }
    put(s, audit_event("other", "p2")).await;
    let record = json(s.get("Patient/p1/$everything").send().await.unwrap()).await;
    assert_eq!(ids(&record), vec!["Observation/o1", "Patient/p1"]);
    let both = json(s.get("Patient/p1/$everything?_type=AuditEvent,Observation&_count=50").send().await.unwrap()).await;
    let found = ids(&both);
    let mut expected: Vec<String> = (0..12).map(|i| format!("AuditEvent/ae{i}")).collect();
    expected.extend(["Observation/o1".to_string(), "Patient/p1".to_string()]);
    expected.sort();
    assert_eq!(found, expected, "the trail, the record's type asked for, and what they refer to");
    let trail = json(s.get("Patient/p1/AuditEvent?_count=50").send().await.unwrap()).await;
    assert_eq!(trail["total"], 12);
    let observations = json(s.get("Patient/p1/Observation").send().await.unwrap()).await;
    assert_eq!(ids(&observations), vec!["Observation/o1"]);

    if s.backend != "sqlite" {
        return;
    }
    let session = ikp::server::open(&s.database_url, &s.base).await.expect("open");
    let registry = session.registry.current();
    let parser = ikp::search::parse::Parser {
        registry: &registry,
        base_url: &session.base_url,
        strict: true,
        limits: &session.limits,
    };
    let all = session.unconfined(ikp::access::scopes::Interaction::Search).expect("unconfined");
    for (resource_type, used, unused) in [
        ("Observation", "compartment_lookup", "compartment_audit"),
        ("AuditEvent", "compartment_audit", "compartment_lookup"),
    ] {
        let mut query = parser.parse(vec![resource_type.to_string()], &[]).expect("query");
        query.compartment = Some(("Patient".to_string(), vec!["p1".to_string()]));
        let explained = ikp::search::explain::explain(all.store(), session.dialect(), registry.typed_parts(), &query)
            .await
            .expect("plan");
        let plan = explained.plan.join("\n");
        assert!(plan.contains(used) && !plan.contains(unused), "{resource_type}: {}\n{plan}", explained.sql);
    }
    session.close().await;
}

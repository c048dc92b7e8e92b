//! Patient/$everything: the compartment plus what it references, with _type, _since, start/end and
//! paging.

use crate::common;

use common::{TestServer, json, outcome};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(patient_everything);

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

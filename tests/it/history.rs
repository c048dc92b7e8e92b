//! History at instance, type and system level: order, `_since`, `_at`, `_count` and paging.

use crate::common;

use common::{TestServer, json, outcome};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(history_levels_and_paging, since_and_at);

fn entries(bundle: &Value) -> Vec<Value> {
    bundle["entry"].as_array().cloned().unwrap_or_default()
}

fn next_link(bundle: &Value) -> Option<String> {
    bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == "next")
        .and_then(|l| l["url"].as_str())
        .map(str::to_string)
}

async fn history_levels_and_paging(s: &TestServer) {
    let mut p = json!({"resourceType": "Patient", "id": "h1", "active": true});
    for _ in 0..3 {
        s.send(Method::PUT, "Patient/h1", &p).send().await.unwrap();
        p["active"] = json!(!p["active"].as_bool().unwrap());
    }
    s.request(Method::DELETE, "Patient/h1").send().await.unwrap();
    s.create(&json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}})).await;

    let h = json(s.get("Patient/h1/_history").send().await.unwrap()).await;
    assert_eq!(h["type"], "history");
    let e = entries(&h);
    assert_eq!(e.len(), 4);
    let versions: Vec<&str> = e.iter().map(|e| e["response"]["etag"].as_str().unwrap()).collect();
    assert_eq!(versions, vec!["W/\"4\"", "W/\"3\"", "W/\"2\"", "W/\"1\""], "newest first");
    assert_eq!(e[0]["request"]["method"], "DELETE");
    assert!(e[0].get("resource").is_none());
    assert_eq!(e[3]["response"]["status"], "201 Created");
    assert_eq!(e[2]["response"]["status"], "200 OK");
    assert_eq!(e[1]["resource"]["meta"]["versionId"], "3");

    let t = json(s.get("Patient/_history").send().await.unwrap()).await;
    assert_eq!(entries(&t).len(), 4);
    let sys = json(s.get("_history").send().await.unwrap()).await;
    assert_eq!(entries(&sys).len(), 5);
    assert_eq!(entries(&sys)[0]["resource"]["resourceType"], "Observation");

    // Paging with _count: follow next links until the end; every version exactly once.
    let mut seen = Vec::new();
    let mut page = json(s.get("_history?_count=2").send().await.unwrap()).await;
    loop {
        let e = entries(&page);
        assert!(e.len() <= 2);
        seen.extend(e.iter().map(|e| format!("{} {}", e["fullUrl"], e["response"]["etag"])));
        match next_link(&page) {
            Some(url) => page = json(s.client.get(url).send().await.unwrap()).await,
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique.len(), 5);
    // Paging stays correct while data changes: a write after page 1 does not shift page 2.
    let first = json(s.get("Patient/_history?_count=2").send().await.unwrap()).await;
    s.send(Method::PUT, "Patient/h1", &p).send().await.unwrap();
    let second = json(s.client.get(next_link(&first).unwrap()).send().await.unwrap()).await;
    let second = entries(&second);
    let etags: Vec<&str> = second.iter().map(|e| e["response"]["etag"].as_str().unwrap()).collect();
    assert_eq!(etags, vec!["W/\"2\"", "W/\"1\""]);

    assert!(entries(&json(s.get("_history?_count=0").send().await.unwrap()).await).is_empty());
    outcome(s.get("Patient/unknown/_history").send().await.unwrap(), 404).await;
}

async fn since_and_at(s: &TestServer) {
    let v1 =
        json(s.send(Method::PUT, "Patient/t1", &json!({"resourceType": "Patient", "id": "t1"})).send().await.unwrap())
            .await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let v2 = json(
        s.send(Method::PUT, "Patient/t1", &json!({"resourceType": "Patient", "id": "t1", "active": true}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let t1 = v1["meta"]["lastUpdated"].as_str().unwrap();
    let t2 = v2["meta"]["lastUpdated"].as_str().unwrap();

    let since =
        json(s.get(&format!("Patient/t1/_history?_since={}", t2.replace('+', "%2B"))).send().await.unwrap()).await;
    assert_eq!(entries(&since).len(), 1);
    assert_eq!(entries(&since)[0]["resource"]["meta"]["versionId"], "2");
    let since_old = json(s.get("Patient/t1/_history?_since=2000-01-01T00:00:00Z").send().await.unwrap()).await;
    assert_eq!(entries(&since_old).len(), 2);

    // _at: the version current at the instant of v1 is v1; at v2's time only v2.
    let at1 = json(s.get(&format!("Patient/t1/_history?_at={t1}")).send().await.unwrap()).await;
    let at1: Vec<Value> = entries(&at1).iter().map(|e| e["resource"]["meta"]["versionId"].clone()).collect();
    assert_eq!(at1, vec![json!("1")]);
    let at2 = json(s.get(&format!("Patient/t1/_history?_at={t2}")).send().await.unwrap()).await;
    let at2: Vec<Value> = entries(&at2).iter().map(|e| e["resource"]["meta"]["versionId"].clone()).collect();
    assert_eq!(at2, vec![json!("2")]);
    // A whole year covers both.
    let year = &t1[..4];
    let at_year = json(s.get(&format!("Patient/t1/_history?_at={year}")).send().await.unwrap()).await;
    assert_eq!(entries(&at_year).len(), 2);
    let before = json(s.get("Patient/t1/_history?_at=1999").send().await.unwrap()).await;
    assert!(entries(&before).is_empty());
}

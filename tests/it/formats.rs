//! JSON and XML both ways, content negotiation, `_pretty`, `_summary` and `_elements`.

use crate::common;

use common::{TestServer, json, outcome};
use reqwest::Method;
use serde_json::json;

on_both_backends!(xml_in_and_out, negotiation, summary_and_elements, capability_statement);

async fn xml_in_and_out(s: &TestServer) {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<Patient xmlns="http://hl7.org/fhir">
  <text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml"><p>Jan  <b>Kowalski</b></p></div></text>
  <extension url="http://example.org/weight"><valueDecimal value="70.50"/></extension>
  <identifier><system value="urn:oid:2.16.840.1.113883.3.4424.1.1.616"/><value value="80010112340"/></identifier>
  <name><family value="Kowalski"/><given value="Jan"/><given id="g2"><extension url="http://x"><valueString value="y"/></extension></given></name>
  <birthDate value="1980-01-01"/>
</Patient>"#;
    let r = s
        .request(Method::POST, "Patient")
        .header("content-type", "application/fhir+xml")
        .header("accept", "application/fhir+xml")
        .body(xml)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/fhir+xml"));
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let body = r.text().await.unwrap();
    assert!(body.contains("<valueDecimal value=\"70.50\"/>"), "{body}");
    assert!(body.contains("<p>Jan  <b>Kowalski</b></p>"), "narrative whitespace survives: {body}");

    let id = location.split('/').rev().nth(2).unwrap().to_string();
    let stored = json(s.get(&format!("Patient/{id}")).send().await.unwrap()).await;
    assert_eq!(stored["name"][0]["given"], json!(["Jan", null]));
    assert_eq!(stored["name"][0]["_given"][1]["id"], "g2");
    assert_eq!(stored["extension"][0]["valueDecimal"].to_string(), "70.50");
    assert_eq!(stored["text"]["div"], "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Jan  <b>Kowalski</b></p></div>");

    // Update in XML.
    let update =
        format!("<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"{id}\"/><active value=\"true\"/></Patient>");
    let r = s
        .request(Method::PUT, &format!("Patient/{id}"))
        .header("content-type", "application/xml")
        .body(update)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["active"], true);
}

async fn negotiation(s: &TestServer) {
    let created = s.create(&json!({"resourceType": "Patient", "active": true})).await;
    let path = format!("Patient/{}", created["id"].as_str().unwrap());
    let ct = |r: &reqwest::Response| r.headers()["content-type"].to_str().unwrap().to_string();

    let r = s.get(&path).header("accept", "application/fhir+xml").send().await.unwrap();
    assert!(ct(&r).starts_with("application/fhir+xml"));
    let r = s.get(&path).header("accept", "application/xml;q=0.5, application/fhir+json").send().await.unwrap();
    assert!(ct(&r).starts_with("application/fhir+json"));
    let r = s.get(&path).header("accept", "text/html,application/xhtml+xml,*/*;q=0.8").send().await.unwrap();
    assert!(ct(&r).starts_with("application/fhir+json"), "browsers get JSON");
    // _format wins over Accept.
    let r = s.get(&format!("{path}?_format=xml")).header("accept", "application/fhir+json").send().await.unwrap();
    assert!(ct(&r).starts_with("application/fhir+xml"));
    let r = s.get(&format!("{path}?_format=application/fhir%2Bjson")).send().await.unwrap();
    assert!(ct(&r).starts_with("application/fhir+json"));
    // _pretty.
    let compact = s.get(&path).send().await.unwrap().text().await.unwrap();
    let pretty = s.get(&format!("{path}?_pretty=true")).send().await.unwrap().text().await.unwrap();
    assert!(!compact.contains('\n'));
    assert!(pretty.contains("\n  \"id\""));
    let pretty_xml = s.get(&format!("{path}?_format=xml&_pretty=true")).send().await.unwrap().text().await.unwrap();
    assert!(pretty_xml.contains("\n  <id value="));
    // HEAD returns headers only.
    let r = s.request(Method::HEAD, &path).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "W/\"1\"");
}

async fn summary_and_elements(s: &TestServer) {
    let full = json!({
        "resourceType": "Patient",
        "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Jan</div>"},
        "identifier": [{"value": "1"}],
        "name": [{"family": "Kowalski"}],
        "birthDate": "1980-01-01",
        "photo": [{"contentType": "image/png", "data": "aGVsbG8="}],
        "contact": [{"name": {"family": "Nowak"}}]
    });
    let created = s.create(&full).await;
    let path = format!("Patient/{}", created["id"].as_str().unwrap());
    let subsetted =
        |v: &serde_json::Value| v["meta"]["tag"].as_array().is_some_and(|t| t.iter().any(|t| t["code"] == "SUBSETTED"));

    let summary = json(s.get(&format!("{path}?_summary=true")).send().await.unwrap()).await;
    assert!(summary.get("photo").is_none() && summary.get("contact").is_none() && summary.get("text").is_none());
    assert_eq!(summary["birthDate"], "1980-01-01");
    assert!(subsetted(&summary));

    let text = json(s.get(&format!("{path}?_summary=text")).send().await.unwrap()).await;
    assert!(text.get("text").is_some() && text.get("name").is_none() && text.get("id").is_some());

    let data = json(s.get(&format!("{path}?_summary=data")).send().await.unwrap()).await;
    assert!(data.get("text").is_none() && data.get("photo").is_some());
    assert!(subsetted(&data));

    let whole = json(s.get(&format!("{path}?_summary=false")).send().await.unwrap()).await;
    assert_eq!(whole, created);

    let elements = json(s.get(&format!("{path}?_elements=name,birthDate")).send().await.unwrap()).await;
    let mut keys: Vec<&str> = elements.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, vec!["birthDate", "id", "meta", "name", "resourceType"]);
    assert!(subsetted(&elements));

    let xml = s.get(&format!("{path}?_elements=birthDate&_format=xml")).send().await.unwrap().text().await.unwrap();
    assert!(xml.contains("<birthDate value=\"1980-01-01\"/>") && !xml.contains("<name>"));

    outcome(s.get(&format!("{path}?_summary=maybe")).send().await.unwrap(), 400).await;
}

async fn capability_statement(s: &TestServer) {
    let cs = json(s.get("metadata").send().await.unwrap()).await;
    assert_eq!(cs["resourceType"], "CapabilityStatement");
    assert_eq!(cs["fhirVersion"], "4.0.1");
    assert_eq!(cs["kind"], "instance");
    let resources = cs["rest"][0]["resource"].as_array().unwrap();
    assert_eq!(resources.len(), 146, "every concrete R4 resource type");
    let patient = resources.iter().find(|r| r["type"] == "Patient").unwrap();
    let codes: Vec<&str> =
        patient["interaction"].as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap()).collect();
    for code in ["read", "vread", "update", "delete", "history-instance", "history-type", "create", "search-type"] {
        assert!(codes.contains(&code), "{code}");
    }
    assert!(codes.contains(&"patch"));
    let params: Vec<&str> =
        patient["searchParam"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    for p in ["_id", "_lastUpdated", "name", "family", "birthdate", "identifier", "general-practitioner", "_tag"] {
        assert!(params.contains(&p), "{p} in {params:?}");
    }
    assert!(!params.contains(&"_content"), "_content is not supported, so it is not claimed");
    // The statement is itself a valid R4 resource: the server accepts it as one.
    let mut copy = cs.clone();
    copy.as_object_mut().unwrap().remove("id");
    let r = s.send(Method::POST, "CapabilityStatement", &copy).send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let xml = s.get("metadata").header("accept", "application/fhir+xml").send().await.unwrap().text().await.unwrap();
    assert!(xml.contains("<CapabilityStatement xmlns=\"http://hl7.org/fhir\">"));
}

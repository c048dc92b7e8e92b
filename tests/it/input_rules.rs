//! Hostile and ambiguous input over HTTP: duplicate JSON keys, control characters, foreign XML
//! namespaces, DTDs, and decimals in every lexical form. Each refusal is a 400 that names the
//! path, and nothing is stored.

use crate::common;

use common::{TestServer, json, outcome};
use reqwest::Method;

on_both_backends!(duplicate_keys, control_characters, xml_namespaces_and_dtds, decimal_forms, integer_limits);

const FHIR_JSON: &str = "application/fhir+json";
const FHIR_XML: &str = "application/fhir+xml";

async fn post(s: &TestServer, path: &str, content_type: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
    s.request(Method::POST, path).header("content-type", content_type).body(body).send().await.unwrap()
}

/// How many resources of a type carry an identifier value.
async fn count(s: &TestServer, resource_type: &str, identifier: &str) -> u64 {
    let bundle =
        json(s.get(&format!("{resource_type}?identifier={identifier}&_summary=count")).send().await.unwrap()).await;
    bundle["total"].as_u64().unwrap()
}

/// A 400 whose first issue points at `expression` and whose text mentions `words`.
async fn refused(r: reqwest::Response, expression: &str, words: &str) {
    let issues = outcome(r, 400).await;
    assert_eq!(issues[0]["expression"][0], expression, "{issues:?}");
    let text = issues[0]["diagnostics"].as_str().unwrap_or_default();
    assert!(text.contains(words), "'{words}' in {text}");
}

async fn duplicate_keys(s: &TestServer) {
    let body = r#"{"resourceType":"Patient","identifier":[{"value":"dup-1"}],"active":true,"active":false}"#;
    refused(post(s, "Patient", FHIR_JSON, body).await, "Patient.active", "duplicate property 'active'").await;
    assert_eq!(count(s, "Patient", "dup-1").await, 0, "nothing stored");

    // The batch that deleted a resource: GET and DELETE in one entry.
    let kept = s.create(&serde_json::json!({"resourceType": "Patient", "identifier": [{"value": "dup-2"}]})).await;
    let id = kept["id"].as_str().unwrap();
    let batch = format!(
        r#"{{"resourceType":"Bundle","type":"batch","entry":[{{"request":{{"method":"GET","url":"Patient/{id}","method":"DELETE"}}}}]}}"#
    );
    refused(post(s, "", FHIR_JSON, batch).await, "Bundle.entry[0].request.method", "duplicate property 'method'").await;
    assert_eq!(s.get(&format!("Patient/{id}")).send().await.unwrap().status(), 200, "not deleted");

    // A duplicate deep inside a transaction entry's resource.
    let tx = r#"{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","identifier":[{"value":"dup-3","value":"dup-4"}]},"request":{"method":"POST","url":"Patient"}}]}"#;
    refused(post(s, "", FHIR_JSON, tx).await, "Bundle.entry[0].resource.identifier[0].value", "'value'").await;
    assert_eq!(count(s, "Patient", "dup-3").await + count(s, "Patient", "dup-4").await, 0);

    // Parameters bodies and JSON Patch bodies.
    let parameters = r#"{"resourceType":"Parameters","parameter":[{"name":"resource","name":"mode"}]}"#;
    refused(post(s, "Patient/$validate", FHIR_JSON, parameters).await, "Parameters.parameter[0].name", "'name'").await;
    let patch = r#"[{"op":"replace","path":"/active","value":true,"op":"remove"}]"#;
    let r = s
        .request(Method::PATCH, &format!("Patient/{id}"))
        .header("content-type", "application/json-patch+json")
        .body(patch)
        .send()
        .await
        .unwrap();
    refused(r, "[0].op", "duplicate property 'op'").await;
    let unchanged = json(s.get(&format!("Patient/{id}")).send().await.unwrap()).await;
    assert_eq!(unchanged["meta"]["versionId"], "1");

    // Very deep input is a 400, not a stack overflow.
    let deep = format!(r#"{{"resourceType":"Patient","extension":{}"#, "[".repeat(20_000));
    let issues = outcome(post(s, "Patient", FHIR_JSON, deep).await, 400).await;
    assert_eq!(issues[0]["code"], "too-long");
    let deep_xml = format!(r#"<Patient xmlns="http://hl7.org/fhir">{}"#, "<extension>".repeat(5_000));
    outcome(post(s, "Patient", FHIR_XML, deep_xml).await, 400).await;
}

async fn control_characters(s: &TestServer) {
    for (escaped, words) in [(r"\u0000", "U+0000"), (r"\u0001", "U+0001"), (r"\b", "U+0008"), (r"\ud800", "surrogate")]
    {
        let body = format!(
            r#"{{"resourceType":"Patient","identifier":[{{"value":"ctl"}}],"name":[{{"family":"a{escaped}b"}}]}}"#
        );
        refused(post(s, "Patient", FHIR_JSON, body).await, "Patient.name[0].family", words).await;
    }
    // In a key, and raw (which JSON itself forbids).
    let body = "{\"resourceType\":\"Patient\",\"identifier\":[{\"value\":\"ctl\"}],\"a\\u0000\":1}";
    outcome(post(s, "Patient", FHIR_JSON, body).await, 400).await;
    let body = "{\"resourceType\":\"Patient\",\"identifier\":[{\"value\":\"ctl\"}],\"gender\":\"a\0b\"}";
    outcome(post(s, "Patient", FHIR_JSON, body).await, 400).await;
    // A narrative with a character reference XML forbids.
    let body = r#"{"resourceType":"Patient","identifier":[{"value":"ctl"}],"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">&#0;</div>"}}"#;
    outcome(post(s, "Patient", FHIR_JSON, body).await, 400).await;

    // XML: raw NUL, and references to control characters.
    let raw = b"<Patient xmlns=\"http://hl7.org/fhir\"><identifier><value value=\"ctl\"/></identifier><name><family value=\"a\0b\"/></name></Patient>".to_vec();
    refused(post(s, "Patient", FHIR_XML, raw).await, "Patient.name.family", "U+0000").await;
    for reference in ["&#0;", "&#x1;", "&#27;"] {
        let xml = format!(
            r#"<Patient xmlns="http://hl7.org/fhir"><identifier><value value="ctl"/></identifier><name><family value="a{reference}b"/></name></Patient>"#
        );
        outcome(post(s, "Patient", FHIR_XML, xml).await, 400).await;
    }
    assert_eq!(count(s, "Patient", "ctl").await, 0, "nothing stored");

    // What is accepted (TAB, CR, LF, other characters) is written back as well-formed XML.
    let body = r#"{"resourceType":"Patient","name":[{"family":"a\tb\r\nc \u007f \u00e9 \ud83d\ude00 <&>\""}]}"#;
    let created = json(post(s, "Patient", FHIR_JSON, body).await).await;
    let path = format!("Patient/{}", created["id"].as_str().unwrap());
    let xml = s.get(&path).header("accept", FHIR_XML).send().await.unwrap().text().await.unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let family = doc.descendants().find(|n| n.has_tag_name("family")).unwrap().attribute("value").unwrap();
    assert_eq!(family, "a\tb\r\nc \u{7f} \u{e9} \u{1f600} <&>\"");
}

async fn xml_namespaces_and_dtds(s: &TestServer) {
    let foreign = r#"<Patient xmlns="http://hl7.org/fhir"><identifier><value value="ns"/></identifier><x:active xmlns:x="http://evil.example" value="true"/></Patient>"#;
    refused(post(s, "Patient", FHIR_XML, foreign).await, "Patient.active", "not in the http://hl7.org/fhir namespace")
        .await;
    assert_eq!(count(s, "Patient", "ns").await, 0);

    // What XML namespaces allow and HL7's files use.
    let accepted = [
        r#"<f:Patient xmlns:f="http://hl7.org/fhir"><f:active value="true"/></f:Patient>"#,
        r#"<Patient xmlns="http://hl7.org/fhir" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://hl7.org/fhir ../../schema/patient.xsd"><active value="true"/></Patient>"#,
        r#"<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><h:div xmlns:h="http://www.w3.org/1999/xhtml"><h:p>Jan</h:p></h:div></text><active value="true"/></Patient>"#,
    ];
    for xml in accepted {
        let r = post(s, "Patient", FHIR_XML, xml).await;
        assert_eq!(r.status(), 201, "{xml}");
        let location = r.headers()["location"].to_str().unwrap().to_string();
        let id = location.split('/').rev().nth(2).unwrap().to_string();
        let back =
            s.get(&format!("Patient/{id}")).header("accept", FHIR_XML).send().await.unwrap().text().await.unwrap();
        let doc = roxmltree::Document::parse(&back).unwrap_or_else(|e| panic!("{e}: {back}"));
        let active = doc.descendants().find(|n| n.has_tag_name(("http://hl7.org/fhir", "active"))).unwrap();
        assert_eq!(active.attribute("value"), Some("true"));
        if let Some(div) = doc.descendants().find(|n| n.tag_name().name() == "div") {
            assert_eq!(div.tag_name().namespace(), Some("http://www.w3.org/1999/xhtml"), "{back}");
        }
    }

    // DTDs: external entities (XXE) and entity expansion (billion laughs) are refused.
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE Patient [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Patient xmlns="http://hl7.org/fhir"><identifier><value value="&xxe;"/></identifier></Patient>"#;
    let issues = outcome(post(s, "Patient", FHIR_XML, xxe).await, 400).await;
    assert_eq!(issues[0]["code"], "security");
    let laughs = format!(
        r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">{}]><Patient xmlns="http://hl7.org/fhir"><identifier><value value="&lol9;"/></identifier></Patient>"#,
        (1..10).map(|i| format!(r#"<!ENTITY lol{i} "{}">"#, format!("&lol{};", i - 1).repeat(10))).collect::<String>()
    );
    outcome(post(s, "Patient", FHIR_XML, laughs).await, 400).await;
    let undefined = r#"<Patient xmlns="http://hl7.org/fhir"><identifier><value value="&lol;"/></identifier></Patient>"#;
    outcome(post(s, "Patient", FHIR_XML, undefined).await, 400).await;
    let narrative = r#"{"resourceType":"Patient","text":{"status":"generated","div":"<!DOCTYPE div [<!ENTITY e \"x\">]><div xmlns=\"http://www.w3.org/1999/xhtml\">&e;</div>"}}"#;
    outcome(post(s, "Patient", FHIR_JSON, narrative).await, 400).await;
}

/// FHIR decimals come back exactly as written, in JSON and in XML.
async fn decimal_forms(s: &TestServer) {
    let forms = ["1E2", "1.0e0", "1.0E+0", "-0.00", "6.0221409e+23", "1e-7", "100", "0.10"];
    for form in forms {
        let body = format!(
            r#"{{"resourceType":"Observation","status":"final","code":{{"text":"x"}},"valueQuantity":{{"value":{form}}}}}"#
        );
        let r = post(s, "Observation", FHIR_JSON, body).await;
        assert_eq!(r.status(), 201, "{form}");
        let id = json(r).await["id"].as_str().unwrap().to_string();
        let text = s.get(&format!("Observation/{id}")).send().await.unwrap().text().await.unwrap();
        assert!(text.contains(&format!(r#""value":{form}"#)), "{form}: {text}");
        let xml = s.get(&format!("Observation/{id}")).header("accept", FHIR_XML).send().await.unwrap();
        assert!(xml.text().await.unwrap().contains(&format!(r#"<value value="{form}"/>"#)), "{form}");

        let xml = format!(
            r#"<Observation xmlns="http://hl7.org/fhir"><status value="final"/><code><text value="x"/></code><valueQuantity><value value="{form}"/></valueQuantity></Observation>"#
        );
        let r = post(s, "Observation", FHIR_XML, xml).await;
        assert_eq!(r.status(), 201, "{form}");
        let id = json(r).await["id"].as_str().unwrap().to_string();
        let text = s.get(&format!("Observation/{id}")).send().await.unwrap().text().await.unwrap();
        assert!(text.contains(&format!(r#""value":{form}"#)), "{form}: {text}");
        let history = s.get(&format!("Observation/{id}/_history")).send().await.unwrap().text().await.unwrap();
        assert!(history.contains(&format!(r#""value":{form}"#)), "{form} in history");
    }
    for bad in ["01", "1.", ".5", "+1", "NaN", "Infinity", "0x10", "1e", "--1"] {
        let body = format!(
            r#"{{"resourceType":"Observation","status":"final","code":{{"text":"x"}},"valueQuantity":{{"value":{bad}}}}}"#
        );
        outcome(post(s, "Observation", FHIR_JSON, body).await, 400).await;
        let xml = format!(
            r#"<Observation xmlns="http://hl7.org/fhir"><status value="final"/><code><text value="x"/></code><valueQuantity><value value="{bad}"/></valueQuantity></Observation>"#
        );
        let issues = outcome(post(s, "Observation", FHIR_XML, xml).await, 400).await;
        assert_eq!(issues[0]["expression"][0], "Observation.valueQuantity.value", "{bad}");
    }
}

/// R4 `integer` is 32-bit signed; `positiveInt` starts at 1, `unsignedInt` at 0.
async fn integer_limits(s: &TestServer) {
    let cases: [(&str, &str, bool); 8] = [
        ("multipleBirthInteger", "2147483647", true),
        ("multipleBirthInteger", "-2147483648", true),
        ("multipleBirthInteger", "2147483648", false),
        ("multipleBirthInteger", "-2147483649", false),
        ("multipleBirthInteger", "1.0", false),
        ("multipleBirthInteger", "1E2", false),
        ("multipleBirthInteger", "99999999999999999999999", false),
        ("multipleBirthInteger", "-0", true),
    ];
    for (element, value, ok) in cases {
        let body = format!(r#"{{"resourceType":"Patient","{element}":{value}}}"#);
        let xml = format!(r#"<Patient xmlns="http://hl7.org/fhir"><{element} value="{value}"/></Patient>"#);
        for (content_type, body) in [(FHIR_JSON, body), (FHIR_XML, xml)] {
            let r = post(s, "Patient", content_type, body).await;
            let status = r.status().as_u16();
            assert_eq!(status, if ok { 201 } else { 400 }, "{element} {value} as {content_type}");
        }
    }
    for (path, resource, ok) in [
        (
            "Appointment",
            r#"{"resourceType":"Appointment","status":"proposed","participant":[{"status":"accepted","actor":{"display":"x"}}],"minutesDuration":0}"#,
            false,
        ),
        (
            "Appointment",
            r#"{"resourceType":"Appointment","status":"proposed","participant":[{"status":"accepted","actor":{"display":"x"}}],"minutesDuration":1}"#,
            true,
        ),
        ("Group", r#"{"resourceType":"Group","type":"person","actual":true,"quantity":0}"#, true),
        ("Group", r#"{"resourceType":"Group","type":"person","actual":true,"quantity":-1}"#, false),
        ("Group", r#"{"resourceType":"Group","type":"person","actual":true,"quantity":4294967295}"#, false),
    ] {
        let r = post(s, path, FHIR_JSON, resource).await;
        assert_eq!(r.status().as_u16(), if ok { 201 } else { 400 }, "{resource}");
    }
}

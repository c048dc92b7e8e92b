//! Mutated resources written over HTTP, on both backends: official examples with one hostile
//! change each (control characters and NUL in strings and keys, repeated keys, odd numbers, huge
//! strings, wrong shapes, deep nesting), sent as JSON by create, update and in transactions. No
//! answer may be a 5xx, each comes within a bound, and whatever is accepted reads back. The seed
//! is fixed so a failure repeats; `IKP_FUZZ_CASES` runs more, `IKP_FUZZ_SEED` other ones.

use crate::common;

use std::time::{Duration, Instant};

use common::TestServer;
use common::rng::{Rng, cases};
use reqwest::Method;
use serde_json::Value;

on_both_backends!(mutated_writes_never_fail_the_server);

const EXAMPLES: &[&str] = &[
    "Patient-example.json",
    "Observation-example.json",
    "MedicationRequest-medrx0302.json",
    "Encounter-example.json",
    "Condition-example.json",
    "Immunization-example.json",
    "AllergyIntolerance-example.json",
    "Practitioner-example.json",
];

fn example(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/r4-examples/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("example")).expect("json")
}

/// Every path to a value in the resource (object keys and array indexes).
fn paths(value: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(prefix.clone());
    match value {
        Value::Object(o) => o.iter().for_each(|(k, v)| {
            prefix.push(k.clone());
            paths(v, prefix, out);
            prefix.pop();
        }),
        Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| {
            prefix.push(i.to_string());
            paths(v, prefix, out);
            prefix.pop();
        }),
        _ => {}
    }
}

fn at<'a>(value: &'a mut Value, path: &[String]) -> &'a mut Value {
    path.iter().fold(value, |v, step| match v {
        Value::Object(o) => o.get_mut(step).expect("key"),
        Value::Array(items) => &mut items[step.parse::<usize>().expect("index")],
        _ => unreachable!("paths lead through containers"),
    })
}

/// Replacement values of every hostile class (as JSON text, so numbers keep their form).
const REPLACEMENTS: &[&str] = &[
    r#""a\u0000b""#,
    r#""\u0001""#,
    r#""line\u000bbreak""#,
    r#""\ud800""#,
    r#""<x:active xmlns:x=\"http://evil.example\"/>""#,
    r#""]]><!--""#,
    r#""\\""#,
    "1E2",
    "1e999",
    "-0.0",
    "2147483648",
    "99999999999999999999999999999999999999",
    "null",
    "true",
    "[]",
    "{}",
    r#"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"#,
    r#""2020-02-30""#,
    r#""9999-12-31T23:59:60Z""#,
    r#"{"reference": "urn:uuid:00000000-0000-4000-8000-000000000000"}"#,
    r#"{"reference": "Patient/a\u0000"}"#,
];

/// The resource as JSON text with one hostile change: a replaced value, a key with a control
/// character, a repeated key, or a long string.
fn mutate(rng: &mut Rng, resource: &Value) -> String {
    let mut all = Vec::new();
    paths(resource, &mut Vec::new(), &mut all);
    let path = all[1 + rng.below(all.len() - 1)].clone();
    let mut mutated = resource.clone();
    let marker = "\"__ikp_fuzz_marker__\"";
    match rng.below(6) {
        0 => *at(&mut mutated, &path) = Value::String(format!("x{}", "é".repeat(100_000))),
        1 => {
            let text = serde_json::to_string(&mutated).expect("text");
            return text.replacen("{\"", "{\"bad\\u0000key\": 1, \"", 1);
        }
        2 => {
            let text = serde_json::to_string(&mutated).expect("text");
            let key = path.iter().rev().find(|s| s.parse::<usize>().is_err()).cloned().unwrap_or("id".into());
            return text.replacen(&format!("\"{key}\":"), &format!("\"{key}\":null,\"{key}\":"), 1);
        }
        _ => {
            *at(&mut mutated, &path) = Value::String(marker.to_string());
            let text = serde_json::to_string(&mutated).expect("text");
            let replacement = REPLACEMENTS[rng.below(REPLACEMENTS.len())];
            return text.replacen(&serde_json::to_string(marker).expect("marker"), replacement, 1);
        }
    }
    serde_json::to_string(&mutated).expect("text")
}

async fn mutated_writes_never_fail_the_server(s: &TestServer) {
    let cases = cases(150);
    let mut rng = Rng::from_env(0x57_17E5);
    let originals: Vec<Value> = EXAMPLES.iter().map(|n| example(n)).collect();
    let mut answered = std::collections::BTreeMap::<u16, usize>::new();
    for case in 0..cases {
        let original = &originals[rng.below(originals.len())];
        let resource_type = original["resourceType"].as_str().expect("type").to_string();
        let body = mutate(&mut rng, original);
        let (method, path, body) = match rng.below(3) {
            0 => (Method::POST, resource_type.clone(), body),
            1 => {
                let id = original["id"].as_str().expect("id");
                (Method::PUT, format!("{resource_type}/{id}"), body)
            }
            _ => {
                let entry = format!(
                    r#"{{"resourceType":"Bundle","type":"transaction","entry":[{{"fullUrl":"urn:uuid:0d6c9a4e-1111-4000-8000-000000000001","request":{{"method":"POST","url":"{resource_type}"}},"resource":{body}}}]}}"#
                );
                (Method::POST, String::new(), entry)
            }
        };
        let started = Instant::now();
        let response = s
            .request(method.clone(), &path)
            .header("content-type", "application/fhir+json")
            .body(body.clone())
            .timeout(Duration::from_secs(20))
            .send()
            .await
            .unwrap_or_else(|e| panic!("case {case} [{}] {method} {path}: {e}", s.backend));
        let status = response.status().as_u16();
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
        let text = response.text().await.unwrap_or_default();
        *answered.entry(status).or_default() += 1;
        let shown: String = body.chars().take(400).collect();
        assert!(status < 500, "case {case} [{}] {method} {path} answered {status}: {text}\nbody: {shown}", s.backend);
        assert!(started.elapsed() < Duration::from_secs(20), "case {case} [{}] was slow", s.backend);
        // What was accepted reads back, as JSON and as well-formed XML.
        if let (201, Some(location)) = (status, location) {
            let read = s.client.get(&location).header("accept", "application/fhir+xml").send().await.expect("read");
            assert_eq!(read.status(), 200, "case {case} [{}]: {location}", s.backend);
            let xml = read.text().await.expect("xml");
            assert!(roxmltree::Document::parse(&xml).is_ok(), "case {case} [{}]: not well-formed: {xml}", s.backend);
        }
    }
    eprintln!("[{}] answers by status: {answered:?}", s.backend);
}

//! Every official R4 example validates structurally and survives JSON → XML → JSON unchanged.

use std::path::PathBuf;

use serde_json::Value;

fn examples() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/r4-examples");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("fixtures") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        let value: Value = serde_json::from_str(&text).expect("json");
        out.push((path.file_name().expect("name").to_string_lossy().into_owned(), value));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Official examples that break R4's own rules (Questionnaire.item.linkId is 1..1).
const KNOWN_INVALID: &[&str] = &["Questionnaire-qs1.json"];

#[test]
fn official_examples_are_structurally_valid() {
    let model = ikp::model::r4().expect("model");
    let mut failures = Vec::new();
    for (name, value) in examples() {
        let issues = ikp::validation::structure::validate(model, &value);
        if issues.is_empty() == KNOWN_INVALID.contains(&name.as_str()) {
            failures.push(format!(
                "{name}: {:?}",
                issues.iter().take(3).map(|i| (&i.expression, &i.message)).collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{} examples fail:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn official_examples_round_trip_through_xml() {
    let model = ikp::model::r4().expect("model");
    let mut failures = Vec::new();
    for (name, value) in examples() {
        let xml = match ikp::format::xml::write(model, &value, false) {
            Ok(x) => x,
            Err(e) => {
                failures.push(format!("{name}: write: {e}"));
                continue;
            }
        };
        match ikp::format::xml::parse(model, xml.as_bytes()) {
            Ok(back) if back == value => {}
            Ok(back) => failures.push(format!("{name}: differs: {}", first_difference(&value, &back, String::new()))),
            Err(e) => failures.push(format!("{name}: parse: {e:?}")),
        }
    }
    assert!(failures.is_empty(), "{} examples fail:\n{}", failures.len(), failures.join("\n"));
}

fn first_difference(a: &Value, b: &Value, path: String) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                match y.get(k) {
                    None => return format!("{path}.{k} missing"),
                    Some(w) if w != v => return first_difference(v, w, format!("{path}.{k}")),
                    _ => {}
                }
            }
            format!("{path}: extra keys {:?}", y.keys().filter(|k| !x.contains_key(*k)).collect::<Vec<_>>())
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                if v != w {
                    return first_difference(v, w, format!("{path}[{i}]"));
                }
            }
            path
        }
        _ => format!("{path}: {a} vs {b}"),
    }
}

//! `CodeSystem/$lookup` (type and instance level): a concept's display, designations and
//! properties, including its `parent` and `child` concepts.

use serde_json::{Value, json};

use super::{Params, parameters, system_of, with_workspace};
use crate::error::{FhirError, FhirResult};
use crate::interaction::Response;
use crate::session::Session;
use crate::terminology::code_system::property_value_text;

pub async fn lookup(session: &Session, params: &Params, instance: Option<&Value>) -> FhirResult<Response> {
    let coding = params
        .coding("coding", "system", "code", "display")
        .ok_or_else(|| FhirError::bad_request("$lookup needs a code and a system, or a coding"))?;
    let system = system_of(instance, coding.system.clone())
        .ok_or_else(|| FhirError::bad_request("$lookup needs the system of the code"))?;
    let wanted: Vec<String> = params.values("property").filter_map(Value::as_str).map(str::to_string).collect();
    let shown = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    let given: Vec<Value> = instance.cloned().into_iter().collect();
    let out = with_workspace(session, &given, |ws| {
        let (cs, index) = ws.concept(&system, &coding.code)?;
        let concept = &cs.concepts[index];
        let mut out = vec![json!({"name": "name", "valueString": cs.name.clone().or(cs.title.clone()).unwrap_or(cs.url.clone())})];
        if let Some(v) = &cs.version {
            out.push(json!({"name": "version", "valueString": v}));
        }
        if let Some(d) = &concept.display {
            out.push(json!({"name": "display", "valueString": d}));
        }
        if let Some(d) = &concept.definition {
            out.push(json!({"name": "definition", "valueString": d}));
        }
        if shown("designation") {
            for d in &concept.designations {
                let mut part = Vec::new();
                if let Some(language) = d.get("language") {
                    part.push(json!({"name": "language", "valueCode": language}));
                }
                if let Some(usage) = d.get("use") {
                    part.push(json!({"name": "use", "valueCoding": usage}));
                }
                part.push(json!({"name": "value", "valueString": d.get("value").cloned().unwrap_or_default()}));
                out.push(json!({"name": "designation", "part": part}));
            }
        }
        let property = |code: &str, value: Value| json!({"name": "property", "part": [{"name": "code", "valueCode": code}, value]});
        if shown("parent") {
            for p in cs.parents_of(index) {
                out.push(property("parent", json!({"name": "value", "valueCode": p.code})));
            }
        }
        if shown("child") {
            for c in cs.children_of(index) {
                out.push(property("child", json!({"name": "value", "valueCode": c.code})));
            }
        }
        if shown("inactive") && concept.inactive {
            out.push(property("inactive", json!({"name": "value", "valueBoolean": true})));
        }
        for (code, p) in &concept.properties {
            if code == "parent" || !shown(code) {
                continue;
            }
            let value = p.as_object().and_then(|o| o.iter().find(|(k, _)| k.starts_with("value")));
            if let Some((key, v)) = value {
                out.push(property(code, json!({"name": "value", key.as_str(): v})));
            } else if let Some(text) = property_value_text(p) {
                out.push(property(code, json!({"name": "value", "valueString": text})));
            }
        }
        Ok(out)
    })
    .await?;
    Ok(Response::resource(200, parameters(out)))
}

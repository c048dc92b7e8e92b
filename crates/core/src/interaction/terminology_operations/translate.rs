//! `ConceptMap/$translate` (type and instance level): a code's equivalents in another system, by a
//! named map (`url`, inline `conceptMap`, the instance) or by every map that fits `source`/`target`.

use serde_json::{Value, json};

use super::{Coding, Params, parameters, stored_concept_maps, with_workspace};
use crate::error::{FhirError, FhirResult};
use crate::interaction::Response;
use crate::session::Session;
use crate::terminology::concept_map::{Match, TranslateRequest, translate_with};

pub async fn translate(session: &Session, params: &Params, instance: Option<&Value>) -> FhirResult<Response> {
    let coding = params
        .coding("coding", "system", "code", "")
        .or_else(|| params.value("codeableConcept").and_then(|cc| cc.pointer("/coding/0")).map(Coding::from_value))
        .ok_or_else(|| {
            FhirError::bad_request("$translate needs a code with its system, a coding or a codeableConcept")
        })?;
    let system =
        coding.system.clone().ok_or_else(|| FhirError::bad_request("$translate needs the system of the code"))?;
    let request = TranslateRequest {
        system,
        code: coding.code.clone(),
        target_system: params.text("targetsystem").map(str::to_string),
        source_value_set: params.text("source").map(str::to_string),
        target_value_set: params.text("target").map(str::to_string),
        reverse: params.boolean("reverse")?.unwrap_or(false),
    };
    let inline = params.value("conceptMap").filter(|v| v.is_object()).cloned();
    let named: Option<Value> = instance.cloned().or(inline);
    let url = params.text("url").map(str::to_string);
    let matches: Vec<Match> = match (named, url) {
        (Some(map), _) => translate_with(&map, &request),
        (None, Some(url)) => {
            with_workspace(session, &[], |ws| Ok(translate_with(ws.concept_map(&url)?, &request))).await?
        }
        (None, None) => {
            let stored = stored_concept_maps(session).await?;
            with_workspace(session, &stored, |ws| Ok(ws.translate_any(&request))).await?
        }
    };
    let positive = matches.iter().any(Match::is_positive);
    let mut out = vec![json!({"name": "result", "valueBoolean": positive})];
    if !positive {
        out.push(json!({"name": "message", "valueString": format!(
            "no translation found for '{}|{}'", request.system, request.code
        )}));
    }
    for m in &matches {
        let concept = Coding { system: Some(m.system.clone()), code: m.code.clone(), display: m.display.clone() };
        out.push(json!({"name": "match", "part": [
            {"name": "equivalence", "valueCode": m.equivalence},
            {"name": "concept", "valueCoding": concept.to_value()},
            {"name": "source", "valueUri": m.source},
        ]}));
    }
    Ok(Response::resource(200, parameters(out)))
}

//! `ValueSet/$validate-code` and `CodeSystem/$validate-code` (type and instance level): whether a
//! code (or coding, or any coding of a CodeableConcept) belongs, and whether its display is right.

use serde_json::{Value, json};

use super::expand::Target;
use super::{Coding, Params, is_unknown, parameters, system_of, with_workspace, with_workspace_outcome};
use crate::error::{FhirError, FhirResult};
use crate::interaction::Response;
use crate::session::Session;
use crate::terminology::{Entry, ExpandOptions, TerminologyError};

/// The verdict on one coding.
struct Verdict {
    result: bool,
    message: Option<String>,
    display: Option<String>,
}

/// The codings to check: `coding`, every coding of `codeableConcept`, or `system`/`code`/`display`.
fn codings(params: &Params, system_param: &str) -> FhirResult<Vec<Coding>> {
    if let Some(cc) = params.value("codeableConcept").filter(|v| v.is_object()) {
        let list: Vec<Coding> =
            cc.get("coding").and_then(Value::as_array).into_iter().flatten().map(Coding::from_value).collect();
        if list.is_empty() {
            return Err(FhirError::bad_request("the codeableConcept has no coding"));
        }
        return Ok(list);
    }
    params
        .coding("coding", system_param, "code", "display")
        .map(|c| vec![c])
        .ok_or_else(|| FhirError::bad_request("$validate-code needs a code, a coding or a codeableConcept"))
}

/// A display is right when it is the concept's display or one of its designations.
fn display_verdict(entry: &Entry, given: Option<&str>) -> Verdict {
    let display = entry.display.clone();
    match given {
        Some(text)
            if display.as_deref() != Some(text)
                && !entry.designations.iter().any(|d| d.get("value").and_then(Value::as_str) == Some(text)) =>
        {
            Verdict {
                result: false,
                message: Some(format!(
                    "the display '{text}' is not a valid display for the code '{}' in '{}'; it should be '{}'",
                    entry.code,
                    entry.system,
                    display.as_deref().unwrap_or_default()
                )),
                display,
            }
        }
        _ => Verdict { result: true, message: None, display },
    }
}

fn respond(verdicts: Vec<Verdict>) -> Response {
    // Valid when any coding is (a CodeableConcept needs only one good coding).
    let chosen = verdicts.iter().position(|v| v.result).unwrap_or(0);
    let messages: Vec<String> = verdicts.iter().filter_map(|v| v.message.clone()).collect();
    let Some(verdict) = verdicts.into_iter().nth(chosen) else {
        return Response::resource(200, parameters(vec![json!({"name": "result", "valueBoolean": false})]));
    };
    let mut out = vec![json!({"name": "result", "valueBoolean": verdict.result})];
    if !verdict.result && !messages.is_empty() {
        out.push(json!({"name": "message", "valueString": messages.join("; ")}));
    }
    if let Some(d) = verdict.display {
        out.push(json!({"name": "display", "valueString": d}));
    }
    Response::resource(200, parameters(out))
}

fn unknown(e: &TerminologyError) -> Verdict {
    Verdict { result: false, message: Some(e.to_string()), display: None }
}

pub async fn in_value_set(session: &Session, params: &Params, instance: Option<&Value>) -> FhirResult<Response> {
    let target = Target::from_params(params, instance)?;
    let codings = codings(params, "system")?;
    let given = target.given();
    let verdicts = with_workspace_outcome(session, &given, |ws| {
        let value_set = match &target {
            Target::Resource(r) => r,
            Target::Url(url) => ws.value_set(url)?,
        };
        let name = value_set.get("url").and_then(Value::as_str).unwrap_or("(inline value set)");
        let entries = ws.expand(value_set, &ExpandOptions::default())?;
        Ok(codings
            .iter()
            .map(|c| {
                let found =
                    entries.iter().find(|e| e.code == c.code && c.system.as_ref().is_none_or(|s| *s == e.system));
                match found {
                    Some(entry) => display_verdict(entry, c.display.as_deref()),
                    None => Verdict {
                        result: false,
                        message: Some(format!(
                            "the code '{}{}' is not in the value set '{name}'",
                            c.system.as_ref().map(|s| format!("{s}|")).unwrap_or_default(),
                            c.code
                        )),
                        display: None,
                    },
                }
            })
            .collect::<Vec<_>>())
    })
    .await?;
    match verdicts {
        Ok(v) => Ok(respond(v)),
        // A code system neither built in nor stored: the code cannot be shown to belong.
        Err(e @ TerminologyError::UnknownCodeSystem(_)) => Ok(respond(vec![unknown(&e)])),
        Err(e) => Err(e.into()),
    }
}

pub async fn in_code_system(session: &Session, params: &Params, instance: Option<&Value>) -> FhirResult<Response> {
    let codings = codings(params, "url")?;
    let given: Vec<Value> = instance.cloned().into_iter().collect();
    let verdicts = with_workspace(session, &given, |ws| {
        let mut out = Vec::new();
        for c in &codings {
            let Some(system) = system_of(instance, c.system.clone()) else {
                return Err(TerminologyError::Invalid("$validate-code needs the code system (url)".to_string()));
            };
            match ws.concept(&system, &c.code) {
                Ok((cs, index)) => {
                    let concept = &cs.concepts[index];
                    let entry = Entry {
                        system: cs.url.clone(),
                        version: cs.version.clone(),
                        code: concept.code.clone(),
                        display: concept.display.clone(),
                        designations: concept.designations.clone(),
                        inactive: concept.inactive,
                        abstract_: concept.abstract_,
                    };
                    out.push(display_verdict(&entry, c.display.as_deref()));
                }
                // An unknown system must reach the caller (it may be stored); an unknown code is a "no".
                Err(e @ TerminologyError::UnknownCodeSystem(_)) => return Err(e),
                Err(e) if is_unknown(&e) => out.push(unknown(&e)),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    })
    .await?;
    Ok(respond(verdicts))
}

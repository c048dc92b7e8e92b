//! Terminology operations (`$lookup`, `$expand`, `$validate-code`, `$subsumes`, `$translate`), the
//! `:in`/`:not-in`/`:above`/`:below` search modifiers, and storing the built-in terminology. One
//! file per operation; this module holds what they share: operation parameters, and a workspace
//! of built-in plus stored definitions.

pub mod expand;
pub mod load;
pub mod lookup;
pub mod search_codes;
pub mod subsumes;
pub mod translate;
pub mod validate_code;

use serde_json::{Map, Value, json};

use super::Response;
use super::operation::Call;
use crate::error::{FhirError, FhirResult};
use crate::session::{Session, not_found};
use crate::terminology::{TerminologyError, TerminologyResult, Workspace};

/// Definitions fetched from the store per request, at most (a guard against import chains).
const MAX_FETCHES: usize = 16;

/// `CodeSystem/$lookup` (type and instance).
pub async fn lookup_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    let instance = instance(session, call).await?;
    lookup::lookup(session, &call.input.params, instance.as_ref()).await
}

/// `CodeSystem/$validate-code`.
pub async fn validate_in_code_system(session: &Session, call: &Call) -> FhirResult<Response> {
    let instance = instance(session, call).await?;
    validate_code::in_code_system(session, &call.input.params, instance.as_ref()).await
}

/// `CodeSystem/$subsumes`.
pub async fn subsumes_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    let instance = instance(session, call).await?;
    subsumes::subsumes(session, &call.input.params, instance.as_ref()).await
}

/// `ValueSet/$expand`.
pub async fn expand_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    let instance = instance(session, call).await?;
    expand::expand(session, &call.input.params, instance.as_ref()).await
}

/// `ValueSet/$validate-code`.
pub async fn validate_in_value_set(session: &Session, call: &Call) -> FhirResult<Response> {
    let instance = instance(session, call).await?;
    validate_code::in_value_set(session, &call.input.params, instance.as_ref()).await
}

/// `ConceptMap/$translate`.
pub async fn translate_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    let instance = instance(session, call).await?;
    translate::translate(session, &call.input.params, instance.as_ref()).await
}

/// The resource an instance-level operation works on (`None` at type level).
async fn instance(session: &Session, call: &Call) -> FhirResult<Option<Value>> {
    let Some(id) = call.id.as_deref() else { return Ok(None) };
    let t = call.resource_type();
    session.live(t, id).await?.map(|(content, _)| Some(content)).ok_or_else(|| not_found(t, id))
}

/// Operation parameters from a query string (`GET`) or a Parameters resource (`POST`).
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, Value)>);

impl Params {
    pub fn from_query(pairs: &[(String, String)]) -> Params {
        Params(pairs.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
    }

    /// The parameters of a Parameters resource: each one's `value[x]` or `resource`.
    pub fn from_resource(body: &Value) -> FhirResult<Params> {
        if body.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
            return Err(FhirError::bad_request("the operation takes a Parameters resource"));
        }
        let mut out = Vec::new();
        for p in body.get("parameter").and_then(Value::as_array).into_iter().flatten() {
            let Some(name) = p.get("name").and_then(Value::as_str) else { continue };
            let value = p.as_object().and_then(|o| {
                o.iter().find(|(k, _)| k.starts_with("value") || *k == "resource").map(|(_, v)| v.clone())
            });
            if let Some(value) = value {
                out.push((name.to_string(), value));
            }
        }
        Ok(Params(out))
    }

    /// These parameters followed by `other`'s (a name found here wins).
    pub fn with(mut self, other: Params) -> Params {
        self.0.extend(other.0);
        self
    }

    pub fn value(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v)
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.value(name).and_then(Value::as_str).filter(|s| !s.is_empty())
    }

    pub fn boolean(&self, name: &str) -> FhirResult<Option<bool>> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s == "true" => Ok(Some(true)),
            Some(Value::String(s)) if s == "false" => Ok(Some(false)),
            Some(other) => Err(FhirError::bad_request(format!("'{name}' must be true or false, not {other}"))),
        }
    }

    pub fn count(&self, name: &str) -> FhirResult<Option<usize>> {
        match self.value(name) {
            None => Ok(None),
            Some(v) => {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                text.parse::<usize>().map(Some).map_err(|_| {
                    FhirError::bad_request(format!("'{name}' must be a non-negative integer, not '{text}'"))
                })
            }
        }
    }

    /// A coding given as `coding`-like parameter, or as separate `system`/`code`/`display`.
    pub fn coding(&self, coding: &str, system: &str, code: &str, display: &str) -> Option<Coding> {
        if let Some(c) = self.value(coding).filter(|v| v.is_object()) {
            return Some(Coding::from_value(c));
        }
        self.text(code).map(|code| Coding {
            system: self.text(system).map(str::to_string),
            code: code.to_string(),
            display: self.text(display).map(str::to_string),
        })
    }
}

/// A system, code and display.
#[derive(Debug, Clone)]
pub struct Coding {
    pub system: Option<String>,
    pub code: String,
    pub display: Option<String>,
}

impl Coding {
    pub fn from_value(v: &Value) -> Coding {
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Coding { system: text("system"), code: text("code").unwrap_or_default(), display: text("display") }
    }

    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        if let Some(s) = &self.system {
            m.insert("system".into(), json!(s));
        }
        m.insert("code".into(), json!(self.code));
        if let Some(d) = &self.display {
            m.insert("display".into(), json!(d));
        }
        Value::Object(m)
    }
}

/// A Parameters resource.
pub fn parameters(parameter: Vec<Value>) -> Value {
    json!({"resourceType": "Parameters", "parameter": parameter})
}

/// The current stored resource of a type with a canonical URL, if any (definitions are public).
pub async fn stored_by_url(session: &Session, resource_type: &str, url: &str) -> FhirResult<Option<Value>> {
    Ok(session.lookup().by_url(resource_type, url).await?.map(|found| found.content().clone()))
}

/// Every stored ConceptMap (for `$translate` without a named map).
pub async fn stored_concept_maps(session: &Session) -> FhirResult<Vec<Value>> {
    session.lookup().all_of_type("ConceptMap").await
}

/// Runs `work` over the built-in terminology plus `given` definitions; when it needs a definition
/// neither holds, that definition is fetched from the store by canonical URL and `work` runs again.
pub async fn with_workspace<T>(
    session: &Session,
    given: &[Value],
    work: impl Fn(&Workspace) -> TerminologyResult<T>,
) -> FhirResult<T> {
    Ok(with_workspace_outcome(session, given, work).await??)
}

/// Like [`with_workspace`], keeping the terminology outcome apart from storage failures (for
/// callers that answer some terminology errors rather than fail).
pub async fn with_workspace_outcome<T>(
    session: &Session,
    given: &[Value],
    work: impl Fn(&Workspace) -> TerminologyResult<T>,
) -> FhirResult<TerminologyResult<T>> {
    let builtin = session.terminology.get().map_err(|e| FhirError::Internal(e.to_string()))?;
    let mut fetched: Vec<Value> = Vec::new();
    let mut tried: Vec<String> = Vec::new();
    loop {
        let mut workspace = Workspace::new(&builtin.definitions);
        for r in given.iter().chain(&fetched) {
            workspace.add(r);
        }
        let error = match work(&workspace) {
            Ok(value) => return Ok(Ok(value)),
            Err(e) => e,
        };
        let Some((resource_type, url)) = error.missing_canonical() else { return Ok(Err(error)) };
        let url = crate::terminology::canonical_url(url).to_string();
        if tried.contains(&url) || tried.len() >= MAX_FETCHES {
            return Ok(Err(error));
        }
        tried.push(url.clone());
        match stored_by_url(session, resource_type, &url).await? {
            Some(resource) => fetched.push(resource),
            None => return Ok(Err(error)),
        }
    }
}

/// The system a CodeSystem-level operation concerns: the instance's url, or a parameter.
fn system_of(instance: Option<&Value>, given: Option<String>) -> Option<String> {
    instance.and_then(|r| r.get("url").and_then(Value::as_str)).map(str::to_string).or(given)
}

/// Whether an error only says that something is not known (answered as `result = false` by the
/// validation operations rather than as an error).
fn is_unknown(e: &TerminologyError) -> bool {
    matches!(e, TerminologyError::UnknownCodeSystem(_) | TerminologyError::UnknownCode { .. })
}

//! `ValueSet/$expand` (type and instance level): the codes of a value set, with text filter,
//! paging (`offset`, `count`), `activeOnly` and `includeDesignations`.

use serde_json::{Map, Value, json};

use super::{Params, with_workspace};
use crate::clock::{instant, now};
use crate::error::{FhirError, FhirResult};
use crate::interaction::Response;
use crate::session::Session;
use crate::terminology::{Entry, ExpandOptions};

/// The value set an operation concerns: the instance, an inline `valueSet`, or one by `url`
/// (looked up in the workspace, so stored value sets are found too).
pub enum Target {
    Resource(Value),
    Url(String),
}

impl Target {
    pub fn from_params(params: &Params, instance: Option<&Value>) -> FhirResult<Target> {
        if let Some(resource) = instance {
            return Ok(Target::Resource(resource.clone()));
        }
        if let Some(inline) = params.value("valueSet").filter(|v| v.is_object()) {
            if inline.get("resourceType").and_then(Value::as_str) != Some("ValueSet") {
                return Err(FhirError::bad_request("the valueSet parameter must be a ValueSet resource"));
            }
            return Ok(Target::Resource(inline.clone()));
        }
        params.text("url").map(|u| Target::Url(u.to_string())).ok_or_else(|| {
            FhirError::bad_request("name the value set: url, or valueSet (POST), or call it on an instance")
        })
    }

    /// Definitions the workspace must hold for this target.
    pub fn given(&self) -> Vec<Value> {
        match self {
            Target::Resource(r) => vec![r.clone()],
            Target::Url(_) => Vec::new(),
        }
    }
}

pub async fn expand(session: &Session, params: &Params, instance: Option<&Value>) -> FhirResult<Response> {
    let target = Target::from_params(params, instance)?;
    let options = ExpandOptions {
        filter: params.text("filter").map(str::to_string),
        active_only: params.boolean("activeOnly")?.unwrap_or(false),
        ..ExpandOptions::default()
    };
    let offset = params.count("offset")?.unwrap_or(0);
    let count = params.count("count")?;
    let designations = params.boolean("includeDesignations")?.unwrap_or(false);
    let given = target.given();
    let (value_set, entries) = with_workspace(session, &given, |ws| {
        let value_set = match &target {
            Target::Resource(r) => r.clone(),
            Target::Url(url) => ws.value_set(url)?.clone(),
        };
        let entries = ws.expand(&value_set, &options)?;
        Ok((value_set, entries))
    })
    .await?;
    let total = entries.len();
    let page: Vec<Value> =
        entries.iter().skip(offset).take(count.unwrap_or(usize::MAX)).map(|e| contains(e, designations)).collect();
    let mut used = Vec::new();
    if let Some(f) = &options.filter {
        used.push(json!({"name": "filter", "valueString": f}));
    }
    used.push(json!({"name": "offset", "valueInteger": offset}));
    if let Some(c) = count {
        used.push(json!({"name": "count", "valueInteger": c}));
    }
    let mut out = Map::new();
    out.insert("resourceType".into(), json!("ValueSet"));
    for key in ["id", "url", "version", "name", "title", "status"] {
        if let Some(v) = value_set.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    out.entry("status").or_insert(json!("active"));
    let mut expansion = Map::new();
    expansion.insert("identifier".into(), json!(format!("urn:uuid:{}", uuid::Uuid::new_v4())));
    expansion.insert("timestamp".into(), json!(instant(now())));
    expansion.insert("total".into(), json!(total));
    expansion.insert("offset".into(), json!(offset));
    expansion.insert("parameter".into(), Value::Array(used));
    if !page.is_empty() {
        expansion.insert("contains".into(), Value::Array(page));
    }
    out.insert("expansion".into(), Value::Object(expansion));
    Ok(Response::resource(200, Value::Object(out)))
}

fn contains(e: &Entry, designations: bool) -> Value {
    let mut m = Map::new();
    m.insert("system".into(), json!(e.system));
    if e.abstract_ {
        m.insert("abstract".into(), json!(true));
    }
    if e.inactive {
        m.insert("inactive".into(), json!(true));
    }
    if let Some(v) = &e.version {
        m.insert("version".into(), json!(v));
    }
    m.insert("code".into(), json!(e.code));
    if let Some(d) = &e.display {
        m.insert("display".into(), json!(d));
    }
    if designations && !e.designations.is_empty() {
        m.insert("designation".into(), Value::Array(e.designations.clone()));
    }
    Value::Object(m)
}

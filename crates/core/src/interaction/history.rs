//! history: `GET [base]/_history`, `[base]/[type]/_history`, `[base]/[type]/[id]/_history` with
//! `_since`, `_at`, `_count` and stateless cursor paging (newest first).

use serde_json::{Map, Value, json};

use super::Response;
use crate::access::scopes::Interaction;
use crate::clock::instant;
use crate::context::Fhir;
use crate::error::{FhirError, FhirResult};
use crate::model::datetime::{self, DateKind};
use crate::outcome::{Issue, IssueType};
use crate::session::{Session, not_found};
use crate::store::{HistoryQuery, HistoryScope, Method, ResourceVersion};

pub const DEFAULT_COUNT: usize = 50;
pub const MAX_COUNT: usize = 1000;

/// Query parameters of a history request.
#[derive(Debug, Clone, Default)]
pub struct HistoryParams {
    pub since: Option<String>,
    pub at: Option<String>,
    pub count: Option<String>,
    pub cursor: Option<String>,
}

impl HistoryParams {
    pub fn from_query(pairs: &[(String, String)]) -> HistoryParams {
        let mut p = HistoryParams::default();
        for (k, v) in pairs {
            match k.as_str() {
                "_since" => p.since = Some(v.clone()),
                "_at" => p.at = Some(v.clone()),
                "_count" => p.count = Some(v.clone()),
                "_cursor" => p.cursor = Some(v.clone()),
                _ => {}
            }
        }
        p
    }
}

fn invalid(param: &str, message: String) -> FhirError {
    FhirError::BadRequest(vec![Issue::error(IssueType::Invalid, message).at(param)])
}

pub async fn history(session: &Session, scope: HistoryScope, params: &HistoryParams) -> FhirResult<Response> {
    match &scope {
        HistoryScope::System => session.grant_system(Interaction::Search)?,
        HistoryScope::Type(t) => {
            session.check_type(t)?;
            // Every version is judged on its own compartments; across a whole type that could
            // mean judging the type's entire history for one page, so confined callers (and
            // granular scopes) ask for one resource's history.
            if session.is_confined() || !session.grant(t, Interaction::Search)?.is_empty() {
                return Err(FhirError::Forbidden(format!(
                    "the history of all {t} resources is for unconfined callers; ask for one resource's history"
                )));
            }
        }
        HistoryScope::Instance(t, _) => session.check_type(t)?,
    }
    let since = params
        .since
        .as_deref()
        .map(|s| {
            datetime::parse(s, DateKind::DateTime)
                .map(|d| d.start_micros())
                .map_err(|e| invalid("_since", format!("_since: {e}")))
        })
        .transpose()?;
    let at = params
        .at
        .as_deref()
        .map(|s| {
            datetime::parse(s, DateKind::DateTime)
                .map(|d| (d.start_micros(), d.end_micros()))
                .map_err(|e| invalid("_at", format!("_at: {e}")))
        })
        .transpose()?;
    let count = match params.count.as_deref() {
        None => DEFAULT_COUNT,
        Some(c) => c
            .parse::<usize>()
            .map_err(|_| invalid("_count", format!("_count must be a non-negative integer, not '{c}'")))?
            .min(MAX_COUNT),
    };
    let before_seq = params
        .cursor
        .as_deref()
        .map(|c| c.parse::<i64>().map_err(|_| invalid("_cursor", format!("'{c}' is not a history cursor"))))
        .transpose()?;

    let (versions, next) = if count == 0 {
        (Vec::new(), None)
    } else {
        session.history(&HistoryQuery { scope: scope.clone(), since, at, before_seq, limit: count }).await?
    };

    // No version the caller may see: the resource does not exist for them.
    if let HistoryScope::Instance(t, id) = &scope
        && versions.is_empty()
        && before_seq.is_none()
        && !session.any_version_visible(t, id).await?
    {
        return Err(not_found(t, id));
    }

    let path = match &scope {
        HistoryScope::System => format!("{}/_history", session.base_url),
        HistoryScope::Type(t) => format!("{}/{t}/_history", session.base_url),
        HistoryScope::Instance(t, id) => format!("{}/{t}/{id}/_history", session.base_url),
    };
    let link = |cursor: Option<i64>| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("_count", &count.to_string());
        if let Some(s) = &params.since {
            q.append_pair("_since", s);
        }
        if let Some(a) = &params.at {
            q.append_pair("_at", a);
        }
        if let Some(c) = cursor {
            q.append_pair("_cursor", &c.to_string());
        }
        format!("{path}?{}", q.finish())
    };
    let mut links = vec![json!({"relation": "self", "url": link(before_seq)})];
    if let Some(next) = next {
        links.push(json!({"relation": "next", "url": link(Some(next))}));
    }
    let entries = versions.iter().map(|v| entry(session, v)).collect::<FhirResult<Vec<Value>>>()?;
    let mut bundle = Map::new();
    bundle.insert("resourceType".into(), json!("Bundle"));
    bundle.insert("id".into(), json!(crate::session::prepare::new_id()));
    bundle.insert("meta".into(), json!({"lastUpdated": instant(crate::clock::now())}));
    bundle.insert("type".into(), json!("history"));
    bundle.insert("link".into(), Value::Array(links));
    if !entries.is_empty() {
        bundle.insert("entry".into(), Value::Array(entries));
    }
    Ok(Response::resource(200, Value::Object(bundle)))
}

fn entry(fhir: &Fhir, v: &ResourceVersion) -> FhirResult<Value> {
    let mut e = Map::new();
    e.insert("fullUrl".into(), json!(fhir.resource_url(&v.resource_type, &v.id)));
    if let Some(content) = &v.content {
        let resource: Value = crate::format::json::from_str(content)
            .map_err(|err| FhirError::Internal(format!("stored {}/{} is not JSON: {err}", v.resource_type, v.id)))?;
        e.insert("resource".into(), resource);
    }
    let url = match v.method {
        Method::Create => v.resource_type.clone(),
        Method::Update | Method::Delete => format!("{}/{}", v.resource_type, v.id),
    };
    e.insert("request".into(), json!({"method": v.method.as_http(), "url": url}));
    let status = match v.method {
        Method::Create => "201 Created",
        Method::Update if v.version == 1 => "201 Created",
        Method::Update => "200 OK",
        Method::Delete => "204 No Content",
    };
    e.insert(
        "response".into(),
        json!({"status": status, "etag": format!("W/\"{}\"", v.version), "lastModified": instant(v.last_updated)}),
    );
    Ok(Value::Object(e))
}

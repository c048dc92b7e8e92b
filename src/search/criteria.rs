//! Criteria for conditional interactions (`If-None-Exist`, conditional update and delete).
//!
//! Conditional writes act on whatever matches, so an unsupported parameter is an error here,
//! never silently ignored: ignoring it could turn "delete this one" into "delete everything".

use super::escape::{split_token, split_unescaped, unescape};
use crate::error::{FhirError, FhirResult};
use crate::model::Model;
use crate::outcome::{Issue, IssueType};
use crate::store::{Criterion, TokenMatch};

/// Parameters that shape the response rather than select resources.
const RESULT_PARAMETERS: &[&str] = &["_format", "_pretty", "_summary", "_elements"];

#[derive(Debug, Clone)]
pub struct Criteria {
    pub criteria: Vec<Criterion>,
    /// A canonical form of the criteria, used to serialise concurrent conditional writes.
    pub key: String,
}

/// Parses a query string (`identifier=http://x|1&_id=a`) into criteria for `resource_type`.
pub fn parse(model: &Model, resource_type: &str, query: &str) -> FhirResult<Criteria> {
    let mut criteria = Vec::new();
    let mut canonical: Vec<(String, String)> = Vec::new();
    for (name, value) in form_urlencoded::parse(query.trim_start_matches('?').as_bytes()) {
        if RESULT_PARAMETERS.contains(&name.as_ref()) {
            continue;
        }
        if value.is_empty() {
            return Err(invalid(format!("parameter '{name}' has no value")));
        }
        canonical.push((name.to_string(), value.to_string()));
        match name.as_ref() {
            "_id" => criteria.push(Criterion::Id(split_unescaped(&value, ',').into_iter().map(unescape).collect())),
            "identifier" if model.get(resource_type).is_some_and(|d| d.element("identifier").is_some()) => {
                let alternatives = split_unescaped(&value, ',')
                    .into_iter()
                    .map(|alt| {
                        let (system, code) = split_token(alt);
                        TokenMatch { system, code: (!code.is_empty()).then_some(code) }
                    })
                    .collect();
                criteria.push(Criterion::Token { param: "identifier".to_string(), alternatives });
            }
            other => {
                return Err(FhirError::BadRequest(vec![Issue::error(
                    IssueType::NotSupported,
                    format!(
                        "search parameter '{other}' is not supported for conditional operations on {resource_type}"
                    ),
                )]));
            }
        }
    }
    if criteria.is_empty() {
        return Err(invalid("conditional operations need search criteria".to_string()));
    }
    canonical.sort();
    let key =
        format!("{resource_type}?{}", canonical.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&"));
    Ok(Criteria { criteria, key })
}

fn invalid(message: String) -> FhirError {
    FhirError::BadRequest(vec![Issue::error(IssueType::Invalid, message)])
}

//! `Observation/$lastn` (R4): the most recent `max` Observations (default 1) of each code, for a
//! patient (`patient` or `subject`, required), among those matching the other Observation search
//! parameters (`category`, `code`, `date`, `status`...). "Most recent" is by `effective[x]` (the
//! `date` parameter), newest first, and the answer is a searchset Bundle of the kept
//! Observations, grouped by code in the order of each code's newest result.
//!
//! The matching Observations are read newest first, at most [`super::MAX_SCAN`]; when more match,
//! the Bundle carries a warning (a code measured only before the last `MAX_SCAN` results would be
//! missing), never a silently partial answer. Only the Observations returned are disclosed and
//! audited, not every one read to find them.

use std::collections::HashMap;

use super::{MAX_SCAN, code_key, content};
use crate::error::{FhirError, FhirResult};
use crate::interaction::Response;
use crate::interaction::operation::Call;
use crate::interaction::search::{computed_searchset, type_query};
use crate::outcome::{Issue, IssueType, Severity};
use crate::search::query::SearchQuery;
use crate::session::Session;
use crate::store::ResourceVersion;

/// The largest `max`.
pub const MAX_PER_CODE: usize = 100;

/// Search controls `$lastn` decides itself: the order (newest first) and the size (all groups).
const OWN_CONTROLS: &[&str] = &["_sort", "_count", "_cursor", "_total", "_summary", "_include", "_revinclude"];

/// `GET [base]/Observation/$lastn?patient=..&category=..&code=..&max=..`.
pub async fn operation(session: &Session, call: &Call) -> FhirResult<Response> {
    let mut max = 1;
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (name, value) in &call.query {
        let base = name.split([':', '.']).next().unwrap_or_default();
        if name == "max" {
            max = value.parse::<usize>().ok().filter(|m| (1..=MAX_PER_CODE).contains(m)).ok_or_else(|| {
                FhirError::bad_request(format!("max must be a whole number from 1 to {MAX_PER_CODE}, not '{value}'"))
            })?;
        } else if OWN_CONTROLS.contains(&base) {
            return Err(FhirError::bad_request(format!(
                "$lastn orders by date and returns every code's group itself: {name} is not accepted"
            )));
        } else {
            pairs.push((name.clone(), value.clone()));
        }
    }
    let about_patient = pairs.iter().any(|(name, _)| {
        let base = name.split([':', '.']).next().unwrap_or_default();
        base == "patient" || base == "subject"
    });
    if !about_patient {
        return Err(FhirError::bad_request("$lastn needs the patient (patient or subject)"));
    }
    let latest = latest(session, &pairs, max, call.strict).await?;
    let mut issues = Vec::new();
    if latest.more {
        issues.push(Issue {
            severity: Severity::Warning,
            code: IssueType::TooCostly,
            message: format!(
                "more than {MAX_SCAN} Observations match: the newest {MAX_SCAN} were grouped; narrow the request by date, category or code"
            ),
            expression: None,
        });
    }
    let path = format!("{}/Observation/$lastn", session.base_url);
    Ok(computed_searchset(session, &latest.query, (&path, &call.query), latest.observations, issues))
}

/// The newest Observations of each code among those a search matches.
pub struct Latest {
    /// The search that was run.
    pub query: SearchQuery,
    /// Grouped by code, groups in the order of their newest result, each newest first.
    pub observations: Vec<ResourceVersion>,
    /// More Observations matched than [`MAX_SCAN`] (the oldest were not read).
    pub more: bool,
}

/// The newest `max` Observations of each code among those the Observation search `pairs`
/// matches within the caller's reach (only those kept are disclosed and audited).
pub async fn latest(session: &Session, pairs: &[(String, String)], max: usize, strict: bool) -> FhirResult<Latest> {
    let mut query_pairs = pairs.to_vec();
    query_pairs.push(("_sort".into(), "-date".into()));
    let query = type_query(session, "Observation", &query_pairs, strict)?;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut kept_keys: HashMap<i64, String> = HashMap::new();
    let page = session
        .page_selected(&query, MAX_SCAN, |hit| {
            let key = code_key(&content(hit));
            let count = seen.entry(key.clone()).or_default();
            *count += 1;
            let keep = *count <= max;
            if keep {
                kept_keys.insert(hit.rid(), key);
            }
            keep
        })
        .await?;
    let mut order: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<Vec<ResourceVersion>> = Vec::new();
    for hit in page.hits {
        let key = kept_keys.remove(&hit.rid()).unwrap_or_default();
        let next = groups.len();
        let group = *order.entry(key).or_insert(next);
        if group == groups.len() {
            groups.push(Vec::new());
        }
        groups[group].push(hit.version);
    }
    Ok(Latest { query, observations: groups.into_iter().flatten().collect(), more: page.more })
}

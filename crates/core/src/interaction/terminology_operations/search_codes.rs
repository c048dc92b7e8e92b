//! The `:in`, `:not-in`, `:above` and `:below` token modifiers: the parser leaves a
//! [`Condition::Terminology`] request, and this turns each into the explicit code set the planner
//! filters on (one SQL condition per search, not a lookup per row).

use std::collections::HashMap;

use super::with_workspace_outcome;
use crate::error::{FhirError, FhirResult};
use crate::search::query::{CodeSet, Condition, Filter, FilterKind, SearchQuery};
use crate::session::Session;
use crate::terminology::expand::codes_by_system;
use crate::terminology::{ExpandOptions, TerminologyError};

/// Most codes one modifier may stand for (they become bound SQL parameters).
pub const MAX_SEARCH_CODES: usize = 10_000;

/// Resolves every terminology condition of a query (chains and `_has` included).
pub async fn resolve(session: &Session, query: &mut SearchQuery) -> FhirResult<()> {
    let mut wanted = Vec::new();
    for f in &query.filters {
        collect(f, &mut wanted);
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let mut resolved: HashMap<CodeSet, Vec<(String, Vec<String>)>> = HashMap::new();
    for set in wanted {
        if resolved.contains_key(&set) {
            continue;
        }
        // In a search, an unknown value set or code is a malformed parameter (400), not a
        // missing page (404).
        let codes = with_workspace_outcome(session, &[], |ws| codes_of(ws, &set)).await?.map_err(|e| {
            if e.missing_canonical().is_some() || matches!(e, TerminologyError::UnknownCode { .. }) {
                FhirError::bad_request(e.to_string())
            } else {
                FhirError::from(e)
            }
        })?;
        resolved.insert(set, codes);
    }
    for f in &mut query.filters {
        replace(f, &resolved);
    }
    Ok(())
}

fn codes_of(ws: &crate::terminology::Workspace, set: &CodeSet) -> Result<Vec<(String, Vec<String>)>, TerminologyError> {
    Ok(match set {
        CodeSet::ValueSet(url) => {
            let options = ExpandOptions { limit: MAX_SEARCH_CODES, ..ExpandOptions::default() };
            let mut grouped: Vec<(String, Vec<String>)> =
                codes_by_system(&ws.expand_url(url, &options)?).into_iter().collect();
            grouped.sort();
            grouped
        }
        CodeSet::Below { system, code } => vec![(system.clone(), ws.hierarchy_codes(system, code, true)?)],
        CodeSet::Above { system, code } => vec![(system.clone(), ws.hierarchy_codes(system, code, false)?)],
    })
}

fn conditions_mut(f: &mut Filter) -> &mut [Condition] {
    match &mut f.kind {
        FilterKind::AnyOf { conditions, .. } => conditions,
        FilterKind::Missing { .. } => &mut [],
    }
}

fn collect(f: &Filter, out: &mut Vec<CodeSet>) {
    let FilterKind::AnyOf { conditions, .. } = &f.kind else { return };
    for c in conditions {
        match c {
            Condition::Terminology { set, .. } => out.push(set.clone()),
            Condition::Chain { inner, .. } | Condition::Has { inner, .. } => collect(inner, out),
            _ => {}
        }
    }
}

fn replace(f: &mut Filter, resolved: &HashMap<CodeSet, Vec<(String, Vec<String>)>>) {
    for c in conditions_mut(f) {
        match c {
            Condition::Terminology { param, set } => {
                let codes = resolved.get(set).cloned().unwrap_or_default();
                *c = Condition::Codes { param: std::mem::take(param), codes };
            }
            Condition::Chain { inner, .. } | Condition::Has { inner, .. } => replace(inner, resolved),
            _ => {}
        }
    }
}

//! `Patient/[id]/$everything` and `Patient/$everything`: everything in the patient compartment(s),
//! plus what those resources reference (practitioners, organizations, medications, locations...),
//! with `start`/`end` (care dates), `_since`, `_type`, `_count` and cursor paging.

use super::Response;
use super::search::{PageShape, execute};
use crate::access::scopes::Interaction;
use crate::error::{FhirError, FhirResult};
use crate::search::parse::{DEFAULT_COUNT, MAX_COUNT, date_range};
use crate::search::query::{Condition, Filter, FilterKind, Include, Prefix, SearchQuery, Total};
use crate::search::registry::ParamType;
use crate::session::{Current, Session, not_found};

/// `Patient/$everything` and `Patient/[id]/$everything`.
pub async fn operation(session: &Session, call: &super::operation::Call) -> FhirResult<Response> {
    everything(session, call.id.as_deref(), &call.query).await
}

pub async fn everything(
    session: &Session,
    patient_id: Option<&str>,
    pairs: &[(String, String)],
) -> FhirResult<Response> {
    let registry = session.registry.current();
    if let Some(id) = patient_id
        && !matches!(session.current("Patient", id).await?, Some(Current::Live(_)))
    {
        return Err(not_found("Patient", id));
    }
    let value = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let mut types: Vec<String> = session
        .model
        .resource_types()
        .iter()
        .filter(|t| *t == "Patient" || !registry.compartment_params("Patient", t).is_empty())
        // The audit trail is about the record, not part of it: it is searched on its own.
        .filter(|t| *t != "AuditEvent" || value("_type").is_some())
        // Only the types the token may search, unfiltered (granular filters are per type search).
        .filter(|t| session.grant(t, Interaction::Search).is_ok_and(|f| f.is_empty()))
        .cloned()
        .collect();
    if let Some(wanted) = value("_type") {
        let wanted: Vec<&str> = wanted.split(',').map(str::trim).collect();
        for t in &wanted {
            session.check_type(t)?;
        }
        types.retain(|t| wanted.contains(&t.as_str()));
    }
    let count = match value("_count") {
        Some(c) => c
            .parse::<usize>()
            .map_err(|_| FhirError::bad_request(format!("_count must be a number, not '{c}'")))?
            .min(MAX_COUNT),
        None => DEFAULT_COUNT,
    };
    let mut filters = Vec::new();
    if let Some(since) = value("_since") {
        let (lo, hi) = date_range(since)?;
        filters.push(Filter {
            resource_types: types.clone(),
            kind: FilterKind::AnyOf {
                conditions: vec![Condition::LastUpdated { prefix: Prefix::Ge, lo, hi }],
                negated: false,
            },
        });
    }
    // Care dates apply to resources with a `date`; resources without one are always included.
    let dated: Vec<String> =
        types.iter().filter(|t| registry.get(t, "date").is_some_and(|p| p.kind == ParamType::Date)).cloned().collect();
    let undated: Vec<String> = types.iter().filter(|t| !dated.contains(t)).cloned().collect();
    for (name, prefix) in [("start", Prefix::Ge), ("end", Prefix::Le)] {
        if let Some(v) = value(name) {
            let (lo, hi) = date_range(v)?;
            let conditions = vec![
                Condition::Date { param: "date".into(), prefix, lo, hi },
                Condition::Types(undated.clone()),
                Condition::Absent { param: "date".into(), kind: ParamType::Date },
            ];
            filters
                .push(Filter { resource_types: types.clone(), kind: FilterKind::AnyOf { conditions, negated: false } });
        }
    }
    // Everything the compartment's resources reference comes along.
    let includes = types
        .iter()
        .map(|t| Include {
            source_type: t.clone(),
            params: registry.reference_codes(t),
            target_type: None,
            iterate: false,
        })
        .collect();
    let query = SearchQuery {
        param_types: types.clone(),
        resource_types: types,
        compartment: Some(("Patient".to_string(), patient_id.map(str::to_string).into_iter().collect())),
        filters,
        sort: Vec::new(),
        count,
        total: Total::Accurate,
        includes,
        revincludes: Vec::new(),
        cursor: None,
        ignored: Vec::new(),
    };
    let path = match patient_id {
        Some(id) => format!("{}/Patient/{id}/$everything", session.base_url),
        None => format!("{}/Patient/$everything", session.base_url),
    };
    execute(session, query, &path, pairs, PageShape::Everything).await
}

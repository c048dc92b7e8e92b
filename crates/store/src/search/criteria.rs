//! Criteria for conditional interactions (`If-None-Exist`, conditional update and delete): any
//! search the engine supports, parsed strictly.
//!
//! Conditional writes act on whatever matches, so an unknown parameter is an error here, never
//! silently ignored: ignoring it could turn "delete this one" into "delete everything".

use super::limits::SearchLimits;
use super::parse::Parser;
use super::plan::Planner;
use super::query::SearchQuery;
use super::registry::Registry;
use super::{SearchError, SearchResult};
use crate::StoreTx;
use crate::sql::{Cell, Column};

#[derive(Debug, Clone)]
pub struct Criteria {
    pub query: SearchQuery,
    /// A canonical form of the criteria, used to serialise concurrent conditional writes.
    pub key: String,
}

/// Parses a query string (`identifier=http://x|1&birthdate=1980`) into criteria for `resource_type`.
pub fn parse(
    registry: &Registry,
    base_url: &str,
    limits: &SearchLimits,
    resource_type: &str,
    query: &str,
) -> SearchResult<Criteria> {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let parser = Parser { registry, base_url, strict: true, limits };
    let parsed = parser.parse(vec![resource_type.to_string()], &pairs)?;
    if parsed.needs_terminology() {
        // Conditional writes decide inside a database transaction; value-set membership is not
        // resolved there, and guessing could match the wrong resources.
        return Err(SearchError::Invalid(vec![ikp_model::outcome::Issue::error(
            ikp_model::outcome::IssueType::NotSupported,
            "conditional operations do not take the :in, :not-in, :above or :below modifiers",
        )]));
    }
    if parsed.filters.is_empty() {
        return Err(SearchError::invalid("conditional operations need search criteria"));
    }
    pairs.sort();
    let canonical: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    Ok(Criteria { query: parsed, key: format!("{resource_type}?{}", canonical.join("&")) })
}

/// Ids of current resources matching the criteria, at most `limit`, read inside `tx`.
/// `planner` confines the match to what the caller may see.
pub async fn matching(
    tx: &mut dyn StoreTx,
    planner: Planner,
    criteria: &Criteria,
    limit: usize,
) -> SearchResult<Vec<String>> {
    let sql = planner.ids(&criteria.query, limit);
    let rows = tx.query(sql, &[Column::Text]).await?;
    Ok(rows.iter().filter_map(|r| r.first().and_then(Cell::as_text)).map(str::to_string).collect())
}

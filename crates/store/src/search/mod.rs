//! Search: parsing FHIR search parameters into criteria the store can evaluate.

pub mod criteria;
pub mod cursor;
pub mod escape;
pub mod explain;
pub mod limits;
pub mod parse;
pub mod plan;
#[cfg(test)]
mod plan_snapshots;
pub mod query;
pub mod reach;
pub mod registry;
pub mod run;

use ikp_model::outcome::{Issue, IssueType};

/// Why a search (or a conditional write's criteria) cannot run as asked: the client's to fix. The
/// server maps it to its own error type (400 with these issues; 500 for `Internal`).
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// Malformed, unsupported or over the query budget.
    #[error("{}", .0.iter().map(|i| i.message.as_str()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Issue>),
    /// A failure of the server's own making (signing a cursor), never the client's.
    #[error("internal error: {0}")]
    Internal(String),
    /// The database failed while the criteria were being resolved.
    #[error(transparent)]
    Store(#[from] crate::StoreError),
}

pub type SearchResult<T> = Result<T, SearchError>;

impl SearchError {
    pub fn invalid(message: impl Into<String>) -> SearchError {
        SearchError::Invalid(vec![Issue::error(IssueType::Invalid, message)])
    }
}

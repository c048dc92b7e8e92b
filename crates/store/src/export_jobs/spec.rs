//! What an export job exports and where it resumes, stored with the job as JSON.

use serde::{Deserialize, Serialize};

/// Which resources a kick-off asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// `[base]/$export`: every resource.
    System,
    /// `[base]/Patient/$export`: the Patient compartments of all (or the listed) patients.
    Patient,
    /// `[base]/Group/[id]/$export`: the Patient compartments of the group's members.
    Group,
}

/// A validated export request, stored with its job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportSpec {
    pub level: Level,
    /// Patient ids whose compartments are exported (Group members, or the `patient` parameter);
    /// empty means every patient at Patient level and nobody at Group level.
    pub patients: Vec<String>,
    /// Resource types, in export order.
    pub types: Vec<String>,
    /// `_since`, epoch microseconds.
    pub since: Option<i64>,
    /// `_typeFilter`: per type, search queries of which a resource must match at least one.
    pub type_filters: Vec<TypeFilter>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeFilter {
    pub resource_type: String,
    /// The query string after `Type?`, URL-encoded as given.
    pub query: String,
}

impl ExportSpec {
    /// The `_typeFilter` queries for one type (none: export every resource of the type).
    pub fn filters_for(&self, resource_type: &str) -> Vec<&str> {
        self.type_filters.iter().filter(|f| f.resource_type == resource_type).map(|f| f.query.as_str()).collect()
    }
}

/// Where a running job continues: the next type, the `_typeFilter` query within it, the last
/// exported resource key, and the next file number. Saved together with each written file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resume {
    pub type_index: usize,
    pub filter_index: usize,
    pub after_rid: i64,
    pub next_file: i64,
    pub exported: i64,
}

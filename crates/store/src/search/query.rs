//! The parsed form of a search: filters (AND of ORs), chains, `_has`, sorting, paging, includes.

use std::sync::Arc;

use super::registry::SearchParam;

/// Comparison prefixes of ordered parameter types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Sa,
    Eb,
    Ap,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringMatch {
    StartsWith,
    Exact,
    Contains,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriMatch {
    Equals,
    /// The stored URI is a prefix of the search value.
    Above,
    /// The search value is a prefix of the stored URI.
    Below,
}

/// One alternative of a parameter's value list.
#[derive(Debug, Clone)]
pub enum Condition {
    /// `_id`
    Id(String),
    /// `_lastUpdated`: the search range `[lo, hi)` in epoch microseconds.
    LastUpdated {
        prefix: Prefix,
        lo: i64,
        hi: i64,
    },
    String {
        param: String,
        value: String,
        mode: StringMatch,
    },
    /// `system|code`; `system: Some("")` means "no system"; `code: None` means any code.
    Token {
        param: String,
        system: Option<String>,
        code: Option<String>,
    },
    /// `:text` on a token: starts-with on the display texts.
    TokenText {
        param: String,
        value: String,
    },
    Date {
        param: String,
        prefix: Prefix,
        lo: i64,
        hi: i64,
    },
    /// A number with its implicit precision range `[lo, hi)` (for `eq`) and exact value.
    Number {
        param: String,
        prefix: Prefix,
        value: f64,
        lo: f64,
        hi: f64,
    },
    Quantity {
        param: String,
        prefix: Prefix,
        value: f64,
        lo: f64,
        hi: f64,
        system: Option<String>,
        code: Option<String>,
        /// UCUM canonical dimension and the search value range in canonical units.
        canon: Option<(String, f64, f64, f64)>,
    },
    Reference {
        param: String,
        target_type: Option<String>,
        id: Option<String>,
        version: Option<String>,
        url: Option<String>,
    },
    Uri {
        param: String,
        value: String,
        mode: UriMatch,
    },
    /// A chained parameter: the reference `param` points (as `target_type`) at a resource matching `inner`.
    Chain {
        param: String,
        target_types: Vec<String>,
        inner: Box<Filter>,
    },
    /// `_has`: resources of `source_type` whose `param` references this resource and match `inner`.
    Has {
        source_type: String,
        param: String,
        inner: Box<Filter>,
    },
    /// All components must hold on the same composite value.
    Composite {
        param: String,
        components: Vec<Condition>,
    },
    /// `near`: within a latitude/longitude box.
    Near {
        param: String,
        lat: (f64, f64),
        long: (f64, f64),
    },
    /// `_list`: resources referenced by a List.
    List(String),
    /// The resource is of one of these types.
    Types(Vec<String>),
    /// A token in a set only the terminology service can tell (`:in`, `:not-in`, `:above`,
    /// `:below`); resolved into [`Condition::Codes`] before the query is planned.
    Terminology {
        param: String,
        set: CodeSet,
    },
    /// A token whose `(system, code)` is in an explicit set, grouped by system.
    Codes {
        param: String,
        codes: Vec<(String, Vec<String>)>,
    },
    /// The resource has no value for a parameter of this type.
    Absent {
        param: String,
        kind: super::registry::ParamType,
    },
}

/// A set of codes defined by terminology.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CodeSet {
    /// The codes of a value set (canonical URL).
    ValueSet(String),
    /// A concept and every concept it subsumes.
    Below { system: String, code: String },
    /// A concept and every concept that subsumes it.
    Above { system: String, code: String },
}

impl Condition {
    /// The same condition on the rows of parameter `code` (see `SearchParam::stored_in`): a
    /// composite's components are renamed with it. Conditions of parameters whose rows are never
    /// shared (references, chains, `_has`, `near`) and of no parameter stay as they are.
    pub fn on_rows_of(&self, code: &str) -> Condition {
        let mut renamed = self.clone();
        match &mut renamed {
            Condition::String { param, .. }
            | Condition::Token { param, .. }
            | Condition::TokenText { param, .. }
            | Condition::Date { param, .. }
            | Condition::Number { param, .. }
            | Condition::Quantity { param, .. }
            | Condition::Uri { param, .. }
            | Condition::Terminology { param, .. }
            | Condition::Codes { param, .. }
            | Condition::Absent { param, .. } => *param = code.to_string(),
            Condition::Composite { param, components } => {
                *param = code.to_string();
                for (k, component) in components.iter_mut().enumerate() {
                    *component = component.on_rows_of(&format!("{code}${k}"));
                }
            }
            Condition::Id(_)
            | Condition::LastUpdated { .. }
            | Condition::Reference { .. }
            | Condition::Chain { .. }
            | Condition::Has { .. }
            | Condition::Near { .. }
            | Condition::List(_)
            | Condition::Types(_) => {}
        }
        renamed
    }
}

impl SearchQuery {
    /// Whether any filter (chains and `_has` included) still needs the terminology service.
    pub fn needs_terminology(&self) -> bool {
        fn filter_needs(f: &Filter) -> bool {
            let FilterKind::AnyOf { conditions, .. } = &f.kind else { return false };
            conditions.iter().any(|c| match c {
                Condition::Terminology { .. } => true,
                Condition::Chain { inner, .. } | Condition::Has { inner, .. } => filter_needs(inner),
                _ => false,
            })
        }
        self.filters.iter().any(filter_needs)
    }
}

/// One occurrence of a parameter in the query: its value alternatives (OR), possibly negated or
/// a `:missing` test. The type it applies to is part of the filter, so chains and `_has`
/// compose.
#[derive(Debug, Clone)]
pub struct Filter {
    pub resource_types: Vec<String>,
    pub kind: FilterKind,
}

#[derive(Debug, Clone)]
pub enum FilterKind {
    /// Any of the conditions holds (`:not`: none holds).
    AnyOf { conditions: Vec<Condition>, negated: bool },
    /// `:missing=true|false` on a parameter (its index table is given by the parameter type).
    Missing { param: Arc<SearchParam>, missing: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ascending,
    Descending,
}

#[derive(Debug, Clone)]
pub enum SortBy {
    Id,
    LastUpdated,
    Param(Arc<SearchParam>),
}

#[derive(Debug, Clone)]
pub struct SortKey {
    pub by: SortBy,
    pub direction: Direction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    None,
    Estimate,
    Accurate,
}

/// `_include` / `_revinclude`: `source_type:param[:target_type]`, or every reference of the
/// source type (`*`).
#[derive(Debug, Clone)]
pub struct Include {
    pub source_type: String,
    /// The reference parameters followed: one, or for `*` every one of the source type.
    pub params: Vec<String>,
    pub target_type: Option<String>,
    pub iterate: bool,
}

#[derive(Debug, Clone)]
pub struct SearchQuery {
    /// The types searched: one for type and compartment search, several for `_type`, none for all.
    pub resource_types: Vec<String>,
    /// The types whose index rows the query's parameters are searched in (their rows are keyed
    /// by type): `resource_types`, or every type for a search of every type.
    pub param_types: Vec<String>,
    /// `Patient/123/Observation`: only members of these compartments of the type (any compartment
    /// of the type when the list of ids is empty).
    pub compartment: Option<(String, Vec<String>)>,
    pub filters: Vec<Filter>,
    pub sort: Vec<SortKey>,
    pub count: usize,
    pub total: Total,
    pub includes: Vec<Include>,
    pub revincludes: Vec<Include>,
    /// The paging cursor, already verified.
    pub cursor: Option<super::cursor::Cursor>,
    /// Parameters ignored under lenient handling, reported back in an OperationOutcome.
    pub ignored: Vec<String>,
}

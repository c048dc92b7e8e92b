//! The query-cost budget: how much one search may ask of the database, checked while the query
//! is parsed, before any SQL exists. Each limit guards a way one URL can multiply work:
//! `_has` and chains nest joins, OR lists and repeated parameters add conditions (SQLite refuses
//! expression trees past a depth, PostgreSQL plans them for minutes), sort keys and includes add
//! joins and queries per page. Every refusal names its limit and how to raise it.

use std::fmt;
use std::str::FromStr;

use super::SearchError;
use ikp_model::outcome::{Issue, IssueType};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchLimits {
    /// Search parameters in one request (every `name=value` pair).
    pub parameters: usize,
    /// Comma-separated values in one parameter.
    pub or_values: usize,
    /// Conditions in the whole query, nested ones (in chains and `_has`) included.
    pub conditions: usize,
    /// `_has` parameters in the whole query, nested ones included.
    pub has: usize,
    /// How deep chains and `_has` nest.
    pub chain_depth: usize,
    /// Keys in `_sort`.
    pub sort_keys: usize,
    /// `_include` and `_revinclude` targets together.
    pub includes: usize,
    /// Bytes in the request target (path and query); longer ones answer 414.
    pub url_bytes: usize,
}

impl Default for SearchLimits {
    fn default() -> Self {
        SearchLimits {
            parameters: 100,
            or_values: 100,
            conditions: 200,
            has: 4,
            chain_depth: 4,
            sort_keys: 8,
            includes: 16,
            url_bytes: 8 * 1024,
        }
    }
}

/// One limit of the budget, by the name it has in `--search-limit name=N` and in refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Parameters,
    OrValues,
    Conditions,
    Has,
    ChainDepth,
    SortKeys,
    Includes,
    UrlBytes,
}

impl Limit {
    const ALL: [Limit; 8] = [
        Limit::Parameters,
        Limit::OrValues,
        Limit::Conditions,
        Limit::Has,
        Limit::ChainDepth,
        Limit::SortKeys,
        Limit::Includes,
        Limit::UrlBytes,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Limit::Parameters => "parameters",
            Limit::OrValues => "or-values",
            Limit::Conditions => "conditions",
            Limit::Has => "has",
            Limit::ChainDepth => "chain-depth",
            Limit::SortKeys => "sort-keys",
            Limit::Includes => "includes",
            Limit::UrlBytes => "url-bytes",
        }
    }
}

impl SearchLimits {
    fn slot(&mut self, limit: Limit) -> &mut usize {
        match limit {
            Limit::Parameters => &mut self.parameters,
            Limit::OrValues => &mut self.or_values,
            Limit::Conditions => &mut self.conditions,
            Limit::Has => &mut self.has,
            Limit::ChainDepth => &mut self.chain_depth,
            Limit::SortKeys => &mut self.sort_keys,
            Limit::Includes => &mut self.includes,
            Limit::UrlBytes => &mut self.url_bytes,
        }
    }

    /// The value of one limit.
    pub fn of(&self, limit: Limit) -> usize {
        *self.clone().slot(limit)
    }

    /// Applies `name=N` settings over these limits.
    pub fn with(mut self, settings: &[LimitSetting]) -> Self {
        for s in settings {
            *self.slot(s.limit) = s.value;
        }
        self
    }

    /// Refuses `count` when it exceeds the limit; `what` says what was counted.
    pub fn check(&self, limit: Limit, count: usize, what: &str) -> Result<(), SearchError> {
        if count <= self.of(limit) {
            return Ok(());
        }
        Err(self.over_budget(limit, &format!("{what}: {count}")))
    }

    /// The refusal for a query over budget: `too-costly`, naming the limit and the setting.
    pub fn over_budget(&self, limit: Limit, found: &str) -> SearchError {
        let (name, value) = (limit.name(), self.of(limit));
        SearchError::Invalid(vec![Issue::error(
            IssueType::TooCostly,
            format!(
                "the search is over the server's query budget ({found}; the limit {name} is {value}, set by --search-limit {name}=N)"
            ),
        )])
    }
}

/// One `name=N` setting from the command line or `IKP_SEARCH_LIMITS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitSetting {
    limit: Limit,
    value: usize,
}

impl FromStr for LimitSetting {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (name, value) = text.split_once('=').ok_or_else(|| format!("'{text}' is not name=N"))?;
        let Some(limit) = Limit::ALL.into_iter().find(|l| l.name() == name) else {
            let known: Vec<&str> = Limit::ALL.iter().map(|l| l.name()).collect();
            return Err(format!("unknown search limit '{name}' (known: {})", known.join(", ")));
        };
        let value = value.parse::<usize>().map_err(|_| format!("'{value}' is not a number"))?;
        if value == 0 {
            return Err(format!("the search limit {name} must be at least 1"));
        }
        Ok(LimitSetting { limit, value })
    }
}

impl fmt::Display for LimitSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.limit.name(), self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_override_defaults_and_unknown_names_are_refused() {
        let settings: Vec<LimitSetting> = ["has=2", "or-values=10"].iter().map(|s| s.parse().unwrap()).collect();
        let limits = SearchLimits::default().with(&settings);
        assert_eq!((limits.has, limits.or_values, limits.sort_keys), (2, 10, 8));
        assert!("nope=3".parse::<LimitSetting>().is_err());
        assert!("has=0".parse::<LimitSetting>().is_err());
        assert!("has".parse::<LimitSetting>().is_err());
    }

    #[test]
    fn refusals_name_the_limit() {
        let limits = SearchLimits::default();
        assert!(limits.check(Limit::Has, 4, "_has parameters").is_ok());
        let refusal = limits.check(Limit::Has, 5, "_has parameters").unwrap_err().to_string();
        assert!(refusal.contains("has is 4") && refusal.contains("--search-limit has=N"), "{refusal}");
    }
}

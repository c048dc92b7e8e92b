//! The query-cost budget: how much one search may ask of the database, checked while the query
//! is parsed, before any SQL exists. Each limit guards a way one URL can multiply work:
//! `_has` and chains nest joins, OR lists and repeated parameters add conditions (SQLite refuses
//! expression trees past a depth, PostgreSQL plans them for minutes), sort keys and includes add
//! joins and queries per page. Every refusal names its limit and how to raise it.

use std::fmt;
use std::str::FromStr;

use crate::error::FhirError;
use crate::outcome::{Issue, IssueType};

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

/// The names the limits have in `--search-limit name=N` and in refusals.
const NAMES: [&str; 8] =
    ["parameters", "or-values", "conditions", "has", "chain-depth", "sort-keys", "includes", "url-bytes"];

impl SearchLimits {
    fn slot(&mut self, name: &str) -> Option<&mut usize> {
        Some(match name {
            "parameters" => &mut self.parameters,
            "or-values" => &mut self.or_values,
            "conditions" => &mut self.conditions,
            "has" => &mut self.has,
            "chain-depth" => &mut self.chain_depth,
            "sort-keys" => &mut self.sort_keys,
            "includes" => &mut self.includes,
            "url-bytes" => &mut self.url_bytes,
            _ => return None,
        })
    }

    /// Applies `name=N` settings over these limits.
    pub fn with(mut self, settings: &[LimitSetting]) -> Self {
        for s in settings {
            if let Some(slot) = self.slot(&s.name) {
                *slot = s.value;
            }
        }
        self
    }

    /// Refuses `count` when it exceeds `limit` (one of the `NAMES`).
    pub fn check(&self, name: &'static str, count: usize, limit: usize, what: &str) -> Result<(), FhirError> {
        if count <= limit {
            return Ok(());
        }
        Err(over_budget(name, limit, &format!("{what}: {count}")))
    }
}

/// The refusal for a query over budget: `too-costly`, naming the limit and the setting.
pub fn over_budget(name: &str, limit: usize, found: &str) -> FhirError {
    FhirError::BadRequest(vec![Issue::error(
        IssueType::TooCostly,
        format!(
            "the search is over the server's query budget ({found}; the limit {name} is {limit}, set by --search-limit {name}=N)"
        ),
    )])
}

/// One `name=N` setting from the command line or `IKP_SEARCH_LIMITS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitSetting {
    name: String,
    value: usize,
}

impl FromStr for LimitSetting {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (name, value) = text.split_once('=').ok_or_else(|| format!("'{text}' is not name=N"))?;
        if !NAMES.contains(&name) {
            return Err(format!("unknown search limit '{name}' (known: {})", NAMES.join(", ")));
        }
        let value = value.parse::<usize>().map_err(|_| format!("'{value}' is not a number"))?;
        if value == 0 {
            return Err(format!("the search limit {name} must be at least 1"));
        }
        Ok(LimitSetting { name: name.to_string(), value })
    }
}

impl fmt::Display for LimitSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.value)
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
        assert!(limits.check("has", 4, limits.has, "_has parameters").is_ok());
        let refusal = limits.check("has", 5, limits.has, "_has parameters").unwrap_err().to_string();
        assert!(refusal.contains("has is 4") && refusal.contains("--search-limit has=N"), "{refusal}");
    }
}

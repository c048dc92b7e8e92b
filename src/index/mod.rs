//! Search-index rows extracted from a resource at write time.

use serde_json::Value;

/// A token (`system|code`) under a search parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub param: String,
    pub system: Option<String>,
    pub code: String,
}

/// Everything one resource version contributes to the search indexes.
#[derive(Debug, Clone, Default)]
pub struct IndexRows {
    pub tokens: Vec<TokenRow>,
}

impl IndexRows {
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

/// Extracts the index rows of a resource.
pub fn extract(resource: &Value) -> IndexRows {
    let mut rows = IndexRows::default();
    // `identifier` is an Identifier (or a list of them) on every resource type that has it.
    let identifiers = match resource.get("identifier") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    for identifier in identifiers {
        if let Some(code) = identifier.get("value").and_then(Value::as_str) {
            rows.tokens.push(TokenRow {
                param: "identifier".to_string(),
                system: identifier.get("system").and_then(Value::as_str).map(str::to_string),
                code: code.to_string(),
            });
        }
    }
    rows
}

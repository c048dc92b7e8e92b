//! `$translate` over ConceptMap resources (R4: `group.element.target.equivalence`).

use serde_json::Value;

use super::Workspace;

/// What to translate.
#[derive(Debug, Clone)]
pub struct TranslateRequest {
    pub system: String,
    pub code: String,
    /// Only targets in this system.
    pub target_system: Option<String>,
    /// Maps whose source (`sourceUri`/`sourceCanonical`) is this value set.
    pub source_value_set: Option<String>,
    /// Maps whose target is this value set.
    pub target_value_set: Option<String>,
    /// Translate from the map's targets back to its sources.
    pub reverse: bool,
}

/// One translation found.
#[derive(Debug, Clone)]
pub struct Match {
    pub equivalence: String,
    pub system: String,
    pub code: String,
    pub display: Option<String>,
    /// The ConceptMap's canonical URL.
    pub source: String,
}

impl Match {
    /// Whether this match translates (rather than stating there is no translation).
    pub fn is_positive(&self) -> bool {
        !matches!(self.equivalence.as_str(), "unmatched" | "disjoint")
    }
}

fn text<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

/// Whether a map's source or target scope (`<side>Uri` / `<side>Canonical`) is `url`.
fn scope_is(map: &Value, side: &str, url: &str) -> bool {
    [format!("{side}Uri"), format!("{side}Canonical")]
        .iter()
        .any(|k| text(map, k).map(super::canonical_url) == Some(super::canonical_url(url)))
}

/// The translations of a code by one concept map.
pub fn translate_with(map: &Value, request: &TranslateRequest) -> Vec<Match> {
    let url = text(map, "url").unwrap_or_default().to_string();
    let (from_side, to_side) = if request.reverse { ("target", "source") } else { ("source", "target") };
    let mut matches = Vec::new();
    for group in map.get("group").and_then(Value::as_array).into_iter().flatten() {
        let (Some(from_system), to_system) = (text(group, from_side), text(group, to_side).unwrap_or_default()) else {
            continue;
        };
        if from_system != request.system {
            continue;
        }
        if request.target_system.as_deref().is_some_and(|t| t != to_system) {
            continue;
        }
        for element in group.get("element").and_then(Value::as_array).into_iter().flatten() {
            let element_code = text(element, "code").unwrap_or_default();
            for target in element.get("target").and_then(Value::as_array).into_iter().flatten() {
                let target_code = text(target, "code").unwrap_or_default();
                let equivalence = text(target, "equivalence").unwrap_or("equivalent").to_string();
                let (from_code, to_code, to_display) = if request.reverse {
                    (target_code, element_code, text(element, "display"))
                } else {
                    (element_code, target_code, text(target, "display"))
                };
                if from_code == request.code {
                    matches.push(Match {
                        equivalence,
                        system: to_system.to_string(),
                        code: to_code.to_string(),
                        display: to_display.map(str::to_string),
                        source: url.clone(),
                    });
                }
            }
        }
    }
    matches
}

impl Workspace<'_> {
    /// Translations by every known map that fits the request's scope (when no map is named).
    pub fn translate_any(&self, request: &TranslateRequest) -> Vec<Match> {
        self.concept_maps()
            .filter(|m| request.source_value_set.as_deref().is_none_or(|s| scope_is(m, "source", s)))
            .filter(|m| request.target_value_set.as_deref().is_none_or(|t| scope_is(m, "target", t)))
            .flat_map(|m| translate_with(m, request))
            .collect()
    }
}

//! Rewriting references between resources: Bundle-local identities (`urn:uuid:` fullUrls and
//! the like) to the ids the resources get, and back (the synthetic data generator).

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind};
use serde_json::Value;

/// Replaces `reference` values found in `map` throughout a resource.
pub fn rewrite_references(value: &mut Value, map: &HashMap<String, String>) {
    match value {
        Value::Object(o) => {
            for (k, v) in o.iter_mut() {
                if k == "reference"
                    && let Some(target) = v.as_str().and_then(|r| map.get(r))
                {
                    *v = Value::String(target.clone());
                } else {
                    rewrite_references(v, map);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| rewrite_references(i, map)),
        _ => {}
    }
}

/// The first `reference` still naming a Bundle-local identity (`urn:uuid:`, `urn:oid:`) after
/// the Bundle's own were rewritten: it names no entry, so stored it would dangle forever.
/// Bundles inside the resource keep their own local references and are not looked into.
pub fn unresolved_local(value: &Value) -> Option<&str> {
    match value {
        Value::Object(o) if o.get("resourceType").and_then(Value::as_str) == Some("Bundle") => None,
        Value::Object(o) => o.iter().find_map(|(k, v)| match v.as_str() {
            Some(r) if k == "reference" && (r.starts_with("urn:uuid:") || r.starts_with("urn:oid:")) => Some(r),
            _ => unresolved_local(v),
        }),
        Value::Array(items) => items.iter().find_map(unresolved_local),
        _ => None,
    }
}

/// Rewrites Bundle-local identities everywhere in a resource: reference, uri and canonical
/// values, and inside narrative XHTML and extension strings. One automaton over all identities
/// finds every occurrence in a single pass over each string, so a bundle of n entries costs
/// O(total text), not O(n × total text).
pub struct Rewriter {
    map: HashMap<String, String>,
    finder: Option<AhoCorasick>,
    targets: Vec<String>,
}

impl Rewriter {
    pub fn new(map: HashMap<String, String>) -> Rewriter {
        let (keys, targets): (Vec<String>, Vec<String>) = map.iter().map(|(k, v)| (k.clone(), v.clone())).unzip();
        // Leftmost-longest, so that `urn:uuid:1` never wins over `urn:uuid:12`.
        let finder = if keys.is_empty() {
            None
        } else {
            AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(&keys).ok()
        };
        Rewriter { map, finder, targets }
    }

    /// Rewrites `value` in place; whether anything changed.
    pub fn rewrite(&self, value: &mut Value) -> bool {
        let Some(finder) = &self.finder else { return false };
        match value {
            Value::String(s) => {
                if let Some(target) = self.map.get(s.as_str()) {
                    *s = target.clone();
                    true
                } else if finder.is_match(s.as_str()) {
                    *s = finder.replace_all(s, &self.targets);
                    true
                } else {
                    false
                }
            }
            // Every member is visited (no short circuit): all of them are rewritten.
            Value::Object(o) => o.values_mut().fold(false, |changed, v| self.rewrite(v) | changed),
            Value::Array(items) => items.iter_mut().fold(false, |changed, v| self.rewrite(v) | changed),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn local_references_left_over_are_found_outside_nested_bundles() {
        let dangling = json!({"resourceType": "Observation", "subject": {"reference": "Patient/1"},
            "performer": [{"reference": "urn:uuid:9"}]});
        assert_eq!(unresolved_local(&dangling), Some("urn:uuid:9"));
        let resolved = json!({"resourceType": "Observation", "subject": {"reference": "Patient/1"}});
        assert_eq!(unresolved_local(&resolved), None);
        let document =
            json!({"resourceType": "Bundle", "entry": [{"resource": {"subject": {"reference": "urn:uuid:1"}}}]});
        assert_eq!(unresolved_local(&document), None);
    }

    #[test]
    fn rewrites_whole_values_and_occurrences_in_text_longest_first() {
        let map: HashMap<String, String> = [("urn:uuid:1", "Patient/a"), ("urn:uuid:12", "Patient/b")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut resource = json!({
            "subject": {"reference": "urn:uuid:12"},
            "text": {"div": "<div>see <a href=\"urn:uuid:1\">a</a> and <a href=\"urn:uuid:12\">b</a></div>"},
            "extension": [{"valueUri": "urn:uuid:1"}],
            "note": [{"text": "http://loinc.org stays"}]
        });
        let rewriter = Rewriter::new(map);
        assert!(rewriter.rewrite(&mut resource));
        assert_eq!(resource["subject"]["reference"], "Patient/b");
        assert_eq!(
            resource["text"]["div"],
            "<div>see <a href=\"Patient/a\">a</a> and <a href=\"Patient/b\">b</a></div>"
        );
        assert_eq!(resource["extension"][0]["valueUri"], "Patient/a");
        assert_eq!(resource["note"][0]["text"], "http://loinc.org stays");
        // Run again, nothing is left to rewrite, and it says so.
        assert!(!rewriter.rewrite(&mut resource));
    }

    #[test]
    fn an_empty_map_changes_nothing() {
        let mut resource = json!({"subject": {"reference": "urn:uuid:1"}});
        assert!(!Rewriter::new(HashMap::new()).rewrite(&mut resource));
        assert_eq!(resource["subject"]["reference"], "urn:uuid:1");
    }
}

//! Value set expansion: `compose.include`/`exclude` with concept lists, whole code systems,
//! property filters and imported value sets; or a value set's own stored `expansion`.

use std::collections::{HashMap, HashSet};

use regex::Regex;
use serde_json::Value;

use super::code_system::CodeSystem;
use super::{TerminologyError, TerminologyResult, Workspace};

/// Imports nest at most this deep (and a loop stops here too).
const MAX_DEPTH: usize = 8;

/// One code of an expansion.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub system: String,
    pub version: Option<String>,
    pub code: String,
    pub display: Option<String>,
    pub designations: Vec<Value>,
    pub inactive: bool,
    pub abstract_: bool,
}

impl Entry {
    fn key(&self) -> (String, String) {
        (self.system.clone(), self.code.clone())
    }

    fn from_concept(cs: &CodeSystem, index: usize) -> Entry {
        let c = &cs.concepts[index];
        Entry {
            system: cs.url.clone(),
            version: cs.version.clone(),
            code: c.code.clone(),
            display: c.display.clone(),
            designations: c.designations.clone(),
            inactive: c.inactive,
            abstract_: c.abstract_,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ExpandOptions {
    /// Text the display (or code) must contain, case-insensitively.
    pub filter: Option<String>,
    pub active_only: bool,
    /// Most codes an expansion may hold before it is refused as too costly.
    pub limit: usize,
}

impl Default for ExpandOptions {
    fn default() -> ExpandOptions {
        ExpandOptions { filter: None, active_only: false, limit: 50_000 }
    }
}

/// An ordered set of codes, first occurrence kept.
#[derive(Default)]
struct CodeList {
    entries: Vec<Entry>,
    seen: HashSet<(String, String)>,
}

impl CodeList {
    fn push(&mut self, entry: Entry, limit: usize) -> TerminologyResult<()> {
        if self.seen.insert(entry.key()) {
            if self.entries.len() >= limit {
                return Err(TerminologyError::TooCostly { limit });
            }
            self.entries.push(entry);
        }
        Ok(())
    }
}

impl Workspace<'_> {
    /// The codes of a value set resource, after the text filter and `activeOnly`.
    pub fn expand(&self, value_set: &Value, options: &ExpandOptions) -> TerminologyResult<Vec<Entry>> {
        let mut entries = self.expand_value_set(value_set, options.limit, 0)?;
        if options.active_only {
            entries.retain(|e| !e.inactive);
        }
        if let Some(text) = options.filter.as_deref().map(str::to_lowercase).filter(|t| !t.is_empty()) {
            entries.retain(|e| {
                e.code.to_lowercase().contains(&text)
                    || e.display.as_deref().is_some_and(|d| d.to_lowercase().contains(&text))
                    || e.designations.iter().any(|d| {
                        d.get("value").and_then(Value::as_str).is_some_and(|v| v.to_lowercase().contains(&text))
                    })
            });
        }
        Ok(entries)
    }

    /// The codes of the value set at a canonical URL.
    pub fn expand_url(&self, url: &str, options: &ExpandOptions) -> TerminologyResult<Vec<Entry>> {
        let value_set = self.value_set(url)?;
        self.expand(value_set, options)
    }

    fn expand_value_set(&self, value_set: &Value, limit: usize, depth: usize) -> TerminologyResult<Vec<Entry>> {
        let name = value_set.get("url").and_then(Value::as_str).unwrap_or("(inline value set)");
        if depth > MAX_DEPTH {
            return Err(TerminologyError::Recursion(name.to_string()));
        }
        if let Some(compose) = value_set.get("compose") {
            let mut list = CodeList::default();
            for include in compose.get("include").and_then(Value::as_array).into_iter().flatten() {
                for entry in self.include_set(include, limit, depth)? {
                    list.push(entry, limit)?;
                }
            }
            let mut excluded = HashSet::new();
            for exclude in compose.get("exclude").and_then(Value::as_array).into_iter().flatten() {
                excluded.extend(self.include_set(exclude, limit, depth)?.iter().map(Entry::key));
            }
            list.entries.retain(|e| !excluded.contains(&e.key()));
            return Ok(list.entries);
        }
        if let Some(contains) = value_set.pointer("/expansion/contains").and_then(Value::as_array) {
            let mut list = CodeList::default();
            flatten_contains(contains, &mut list, limit)?;
            return Ok(list.entries);
        }
        Err(TerminologyError::Invalid(format!("the value set '{name}' has neither compose nor expansion")))
    }

    /// The codes one `include` (or `exclude`) element selects.
    fn include_set(&self, include: &Value, limit: usize, depth: usize) -> TerminologyResult<Vec<Entry>> {
        let system = include.get("system").and_then(Value::as_str);
        let from_system = match system {
            Some(system) => Some(self.system_part(system, include, limit)?),
            None => None,
        };
        let imports: Vec<&str> =
            include.get("valueSet").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        // Imported value sets intersect with each other and with the system part.
        let mut result: Option<Vec<Entry>> = from_system;
        for url in imports {
            let imported = self.expand_value_set(self.value_set(url)?, limit, depth + 1)?;
            result = Some(match result {
                None => imported,
                Some(current) => {
                    let keep: HashSet<(String, String)> = imported.iter().map(Entry::key).collect();
                    current.into_iter().filter(|e| keep.contains(&e.key())).collect()
                }
            });
        }
        result.ok_or_else(|| TerminologyError::Invalid("a compose include needs a system or a valueSet".to_string()))
    }

    fn system_part(&self, system: &str, include: &Value, limit: usize) -> TerminologyResult<Vec<Entry>> {
        let version = include.get("version").and_then(Value::as_str).map(str::to_string);
        if let Some(concepts) = include.get("concept").and_then(Value::as_array) {
            // Enumerated codes need no definition of the system: the value set names them.
            let cs = self.code_system(system).ok();
            let mut list = CodeList::default();
            for c in concepts {
                let Some(code) = c.get("code").and_then(Value::as_str) else { continue };
                let known = cs.and_then(|cs| cs.index_of(code).map(|i| Entry::from_concept(cs, i)));
                let given_display = c.get("display").and_then(Value::as_str).map(str::to_string);
                let given_designations = c.get("designation").and_then(Value::as_array).cloned();
                let mut entry = known.unwrap_or(Entry {
                    system: system.to_string(),
                    version: version.clone(),
                    code: code.to_string(),
                    display: None,
                    designations: Vec::new(),
                    inactive: false,
                    abstract_: false,
                });
                if given_display.is_some() {
                    entry.display = given_display;
                }
                if let Some(d) = given_designations {
                    entry.designations.extend(d);
                }
                list.push(entry, limit)?;
            }
            return Ok(list.entries);
        }
        let cs = self.code_system(system)?;
        let filters: &[Value] = include.get("filter").and_then(Value::as_array).map_or(&[], Vec::as_slice);
        let mut selected: Option<Vec<usize>> = None;
        for filter in filters {
            let matched = apply_filter(cs, filter)?;
            selected = Some(match selected {
                None => matched,
                Some(current) => {
                    let keep: HashSet<usize> = matched.into_iter().collect();
                    current.into_iter().filter(|i| keep.contains(i)).collect()
                }
            });
        }
        let indices = selected.unwrap_or_else(|| (0..cs.concepts.len()).collect());
        if indices.len() > limit {
            return Err(TerminologyError::TooCostly { limit });
        }
        Ok(indices.into_iter().map(|i| Entry::from_concept(cs, i)).collect())
    }
}

fn flatten_contains(contains: &[Value], list: &mut CodeList, limit: usize) -> TerminologyResult<()> {
    for c in contains {
        if let (Some(system), Some(code)) =
            (c.get("system").and_then(Value::as_str), c.get("code").and_then(Value::as_str))
        {
            let text = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_string);
            list.push(
                Entry {
                    system: system.to_string(),
                    version: text("version"),
                    code: code.to_string(),
                    display: text("display"),
                    designations: c.get("designation").and_then(Value::as_array).cloned().unwrap_or_default(),
                    inactive: c.get("inactive").and_then(Value::as_bool).unwrap_or(false),
                    abstract_: c.get("abstract").and_then(Value::as_bool).unwrap_or(false),
                },
                limit,
            )?;
        }
        if let Some(nested) = c.get("contains").and_then(Value::as_array) {
            flatten_contains(nested, list, limit)?;
        }
    }
    Ok(())
}

/// The concepts of `cs` a `compose.include.filter` selects.
fn apply_filter(cs: &CodeSystem, filter: &Value) -> TerminologyResult<Vec<usize>> {
    let text = |k: &str| filter.get(k).and_then(Value::as_str).unwrap_or_default();
    let (property, op, value) = (text("property"), text("op"), text("value"));
    let unsupported =
        || TerminologyError::UnsupportedFilter { system: cs.url.clone(), property: property.into(), op: op.into() };
    let hierarchical = matches!(property, "concept" | "code");
    let anchor = || {
        cs.index_of(value)
            .ok_or_else(|| TerminologyError::UnknownCode { system: cs.url.clone(), code: value.to_string() })
    };
    let all = || 0..cs.concepts.len();
    Ok(match op {
        "is-a" if hierarchical => cs.descendants_or_self(anchor()?),
        "descendent-of" if hierarchical => cs.descendants_or_self(anchor()?).into_iter().skip(1).collect(),
        "is-not-a" if hierarchical => {
            let below: HashSet<usize> = cs.descendants_or_self(anchor()?).into_iter().collect();
            all().filter(|i| !below.contains(i)).collect()
        }
        "generalizes" if hierarchical => cs.ancestors_or_self(anchor()?),
        "=" | "in" | "not-in" | "regex" | "exists" => {
            let values: HashSet<&str> =
                if op == "=" { HashSet::from([value]) } else { value.split(',').map(str::trim).collect() };
            let pattern =
                if op == "regex" {
                    Some(Regex::new(&format!("^(?:{value})$")).map_err(|e| {
                        TerminologyError::Invalid(format!("the filter regex '{value}' is invalid: {e}"))
                    })?)
                } else {
                    None
                };
            let wanted = |candidates: &mut dyn Iterator<Item = String>| -> bool {
                let candidates: Vec<String> = candidates.collect();
                match op {
                    "exists" => {
                        let should_exist = value != "false";
                        candidates.is_empty() != should_exist
                    }
                    "regex" => candidates.iter().any(|c| pattern.as_ref().is_some_and(|p| p.is_match(c))),
                    "not-in" => !candidates.iter().any(|c| values.contains(c.as_str())),
                    _ => candidates.iter().any(|c| values.contains(c.as_str())),
                }
            };
            all()
                .filter(|&i| {
                    let c = &cs.concepts[i];
                    match property {
                        "concept" | "code" => wanted(&mut std::iter::once(c.code.clone())),
                        "display" => wanted(&mut c.display.clone().into_iter()),
                        "parent" if !c.properties.iter().any(|(p, _)| p == "parent") => {
                            wanted(&mut cs.parents_of(i).map(|p| p.code.clone()))
                        }
                        "child" => wanted(&mut cs.children_of(i).map(|p| p.code.clone())),
                        other => wanted(&mut c.property_text(other)),
                    }
                })
                .collect()
        }
        _ => return Err(unsupported()),
    })
}

/// Expansion entries grouped by system: `system → codes` (the shape search filters need).
pub fn codes_by_system(entries: &[Entry]) -> HashMap<String, Vec<String>> {
    let mut grouped: HashMap<String, Vec<String>> = HashMap::new();
    for e in entries {
        grouped.entry(e.system.clone()).or_default().push(e.code.clone());
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Definitions;
    use serde_json::json;

    fn workspace_with(definitions: &mut Definitions) -> Workspace<'_> {
        definitions.add(&json!({
            "resourceType": "CodeSystem",
            "url": "http://example.org/cs",
            "concept": [
                {"code": "a", "display": "Alpha", "concept": [{"code": "a1", "display": "Alpha one"}]},
                {"code": "b", "display": "Beta", "property": [{"code": "status", "valueCode": "retired"}]},
                {"code": "c", "display": "Gamma"}
            ]
        }));
        Workspace::new(definitions)
    }

    #[test]
    fn too_costly_expansions_are_refused() {
        let mut definitions = Definitions::default();
        let ws = workspace_with(&mut definitions);
        let whole = json!({"compose": {"include": [{"system": "http://example.org/cs"}]}});
        let small = ExpandOptions { limit: 2, ..ExpandOptions::default() };
        assert!(matches!(ws.expand(&whole, &small), Err(TerminologyError::TooCostly { limit: 2 })));
        assert_eq!(ws.expand(&whole, &ExpandOptions::default()).expect("expand").len(), 4);
    }

    #[test]
    fn filters_active_only_and_text() {
        let mut definitions = Definitions::default();
        let ws = workspace_with(&mut definitions);
        let not_a = json!({"compose": {"include": [{"system": "http://example.org/cs",
            "filter": [{"property": "concept", "op": "is-not-a", "value": "a"}]}]}});
        let codes = |entries: Vec<Entry>| entries.into_iter().map(|e| e.code).collect::<Vec<_>>();
        assert_eq!(codes(ws.expand(&not_a, &ExpandOptions::default()).expect("expand")), ["b", "c"]);
        let active = ExpandOptions { active_only: true, ..ExpandOptions::default() };
        assert_eq!(codes(ws.expand(&not_a, &active).expect("expand")), ["c"]);
        let text = ExpandOptions { filter: Some("ALPHA O".into()), ..ExpandOptions::default() };
        let whole = json!({"compose": {"include": [{"system": "http://example.org/cs"}]}});
        assert_eq!(codes(ws.expand(&whole, &text).expect("expand")), ["a1"]);
        let missing = json!({"compose": {"include": [{"valueSet": ["http://example.org/vs-missing"]}]}});
        assert!(matches!(ws.expand(&missing, &ExpandOptions::default()), Err(TerminologyError::UnknownValueSet(_))));
    }
}

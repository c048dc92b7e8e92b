//! A CodeSystem indexed for terminology work: concepts by code, the is-a hierarchy in both
//! directions (from nested `concept` lists and from `parent`/`subsumedBy` properties).

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::Value;

/// One concept of a code system.
#[derive(Debug, Clone)]
pub struct Concept {
    pub code: String,
    pub display: Option<String>,
    pub definition: Option<String>,
    /// `CodeSystem.concept.designation` as given.
    pub designations: Vec<Value>,
    /// `(property code, the property element as given)`.
    pub properties: Vec<(String, Value)>,
    pub inactive: bool,
    /// Not selectable (an abstract grouper such as an ICD-10 chapter).
    pub abstract_: bool,
}

impl Concept {
    /// The value of a property as text (codes, strings, booleans, numbers alike).
    pub fn property_text<'a>(&'a self, code: &'a str) -> impl Iterator<Item = String> + 'a {
        self.properties.iter().filter(move |(c, _)| c == code).filter_map(|(_, p)| property_value_text(p))
    }
}

/// The `value[x]` of a `property` element as text.
pub fn property_value_text(property: &Value) -> Option<String> {
    let object = property.as_object()?;
    object.iter().find(|(k, _)| k.starts_with("value")).map(|(k, v)| match v {
        Value::String(s) => s.clone(),
        Value::Object(_) if k == "valueCoding" => v.get("code").and_then(Value::as_str).unwrap_or_default().to_string(),
        other => other.to_string(),
    })
}

#[derive(Debug, Clone)]
pub struct CodeSystem {
    pub url: String,
    pub version: Option<String>,
    pub name: Option<String>,
    pub title: Option<String>,
    pub case_sensitive: bool,
    pub concepts: Vec<Concept>,
    by_code: HashMap<String, usize>,
    parents: Vec<Vec<usize>>,
    children: Vec<Vec<usize>>,
}

/// Property codes that name a concept's parent.
const PARENT_PROPERTIES: &[&str] = &["parent", "subsumedBy"];

impl CodeSystem {
    /// Indexes a CodeSystem resource; `None` when it has no `url`.
    pub fn from_resource(resource: &Value) -> Option<CodeSystem> {
        let text = |key: &str| resource.get(key).and_then(Value::as_str).map(str::to_string);
        let url = text("url")?;
        let case_sensitive = resource.get("caseSensitive").and_then(Value::as_bool).unwrap_or(true);
        let mut cs = CodeSystem {
            url,
            version: text("version"),
            name: text("name"),
            title: text("title"),
            case_sensitive,
            concepts: Vec::new(),
            by_code: HashMap::new(),
            parents: Vec::new(),
            children: Vec::new(),
        };
        let mut edges: Vec<(usize, String)> = Vec::new();
        if let Some(list) = resource.get("concept").and_then(Value::as_array) {
            cs.add_concepts(list, None, &mut edges);
        }
        for (child, parent_code) in edges {
            if let Some(parent) = cs.index_of(&parent_code) {
                cs.link(parent, child);
            }
        }
        Some(cs)
    }

    fn add_concepts(&mut self, list: &[Value], parent: Option<usize>, edges: &mut Vec<(usize, String)>) {
        for item in list {
            let Some(code) = item.get("code").and_then(Value::as_str) else { continue };
            let text = |key: &str| item.get(key).and_then(Value::as_str).map(str::to_string);
            let properties: Vec<(String, Value)> = item
                .get("property")
                .and_then(Value::as_array)
                .map(|ps| ps.iter().filter_map(|p| Some((p.get("code")?.as_str()?.to_string(), p.clone()))).collect())
                .unwrap_or_default();
            let flag = |name: &str| {
                properties
                    .iter()
                    .any(|(c, p)| c == name && p.get("valueBoolean").and_then(Value::as_bool) == Some(true))
            };
            let status_inactive = properties.iter().any(|(c, p)| {
                c == "status"
                    && matches!(property_value_text(p).as_deref(), Some("retired" | "inactive" | "deprecated"))
            });
            let concept = Concept {
                code: code.to_string(),
                display: text("display"),
                definition: text("definition"),
                designations: item.get("designation").and_then(Value::as_array).cloned().unwrap_or_default(),
                inactive: flag("inactive") || flag("deprecated") || status_inactive,
                abstract_: flag("notSelectable") || flag("abstract"),
                properties,
            };
            let index = self.concepts.len();
            for (c, p) in &concept.properties {
                if PARENT_PROPERTIES.contains(&c.as_str())
                    && let Some(parent_code) = property_value_text(p)
                {
                    edges.push((index, parent_code));
                }
            }
            self.by_code.insert(self.key(code), index);
            self.concepts.push(concept);
            self.parents.push(Vec::new());
            self.children.push(Vec::new());
            if let Some(parent) = parent {
                self.link(parent, index);
            }
            if let Some(nested) = item.get("concept").and_then(Value::as_array) {
                self.add_concepts(nested, Some(index), edges);
            }
        }
    }

    fn link(&mut self, parent: usize, child: usize) {
        if parent != child && !self.children[parent].contains(&child) {
            self.children[parent].push(child);
            self.parents[child].push(parent);
        }
    }

    fn key(&self, code: &str) -> String {
        if self.case_sensitive { code.to_string() } else { code.to_lowercase() }
    }

    pub fn index_of(&self, code: &str) -> Option<usize> {
        self.by_code.get(&self.key(code)).copied()
    }

    pub fn concept(&self, code: &str) -> Option<&Concept> {
        self.index_of(code).map(|i| &self.concepts[i])
    }

    pub fn parents_of(&self, index: usize) -> impl Iterator<Item = &Concept> {
        self.parents[index].iter().map(|&i| &self.concepts[i])
    }

    pub fn children_of(&self, index: usize) -> impl Iterator<Item = &Concept> {
        self.children[index].iter().map(|&i| &self.concepts[i])
    }

    /// The concept and everything below it (breadth first, each once even in a poly-hierarchy).
    pub fn descendants_or_self(&self, index: usize) -> Vec<usize> {
        self.walk(index, &self.children)
    }

    /// The concept and everything above it.
    pub fn ancestors_or_self(&self, index: usize) -> Vec<usize> {
        self.walk(index, &self.parents)
    }

    fn walk(&self, start: usize, edges: &[Vec<usize>]) -> Vec<usize> {
        let mut seen = HashSet::from([start]);
        let mut order = vec![start];
        let mut queue = VecDeque::from([start]);
        while let Some(i) = queue.pop_front() {
            for &next in &edges[i] {
                if seen.insert(next) {
                    order.push(next);
                    queue.push_back(next);
                }
            }
        }
        order
    }

    /// Whether `specific` is `general` or lies below it.
    pub fn subsumes(&self, general: usize, specific: usize) -> bool {
        general == specific || self.ancestors_or_self(specific).contains(&general)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hierarchy_from_nesting_and_properties() {
        let cs = CodeSystem::from_resource(&json!({
            "url": "http://example.org/cs",
            "concept": [
                {"code": "A", "concept": [{"code": "A1"}, {"code": "A2", "concept": [{"code": "A2x"}]}]},
                {"code": "B", "property": [{"code": "parent", "valueCode": "A"}]}
            ]
        }))
        .expect("code system");
        let a = cs.index_of("A").expect("A");
        let a2x = cs.index_of("A2x").expect("A2x");
        assert_eq!(cs.descendants_or_self(a).len(), 5);
        assert!(cs.subsumes(a, a2x));
        assert!(!cs.subsumes(a2x, a));
        assert_eq!(cs.ancestors_or_self(a2x).len(), 3);
    }
}

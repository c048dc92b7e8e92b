//! Structural validation of FHIR JSON against the R4 type model: known elements only, the right
//! JSON shapes, cardinality, choice types, primitive lexical rules, `_element` companions,
//! contained and nested resources. Each problem becomes one issue with its FHIRPath location.

use serde_json::{Map, Value};

use ikp_model::model::primitive::{self, describe};
use ikp_model::model::{ElementDef, Model, TypeDef};
use ikp_model::outcome::{Issue, IssueType};

/// Stop collecting after this many issues; a broken document should not cost unbounded work.
const MAX_ISSUES: usize = 100;
/// Resources nested inside resources (Bundle in Bundle in contained ...) deeper than this are refused.
const MAX_RESOURCE_DEPTH: usize = 16;

/// Validates a resource, returning every structural error found (empty when valid).
pub fn validate(model: &Model, resource: &Value) -> Vec<Issue> {
    let mut v = Validator { model, issues: Vec::new(), path: Vec::new(), depth: 0 };
    v.resource(resource);
    v.issues
}

enum Segment<'a> {
    Name(&'a str),
    Index(usize),
}

struct Validator<'a> {
    model: &'a Model,
    issues: Vec<Issue>,
    path: Vec<Segment<'a>>,
    depth: usize,
}

impl<'a> Validator<'a> {
    fn location(&self, last: Option<&str>) -> String {
        let mut out = String::new();
        for seg in &self.path {
            match seg {
                Segment::Name(n) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(n);
                }
                Segment::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        if let Some(n) = last {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(n);
        }
        out
    }

    fn report(&mut self, code: IssueType, message: String, last: Option<&str>) {
        if self.issues.len() < MAX_ISSUES {
            let at = self.location(last);
            self.issues.push(Issue::error(code, message).at(at));
        }
    }

    fn full(&self) -> bool {
        self.issues.len() >= MAX_ISSUES
    }

    fn resource(&mut self, value: &'a Value) {
        let Some(obj) = value.as_object() else {
            self.report(
                IssueType::Structure,
                format!("a resource must be a JSON object, found {}", describe(value)),
                None,
            );
            return;
        };
        let Some(resource_type) = obj.get("resourceType").and_then(Value::as_str) else {
            self.report(IssueType::Required, "the resource has no resourceType".to_string(), None);
            return;
        };
        let Some(def) = self.model.get(resource_type).filter(|_| self.model.is_resource_type(resource_type)) else {
            self.report(IssueType::NotSupported, format!("unknown resource type '{resource_type}'"), None);
            return;
        };
        if self.depth >= MAX_RESOURCE_DEPTH {
            self.report(IssueType::TooLong, "resources are nested too deeply".to_string(), None);
            return;
        }
        self.depth += 1;
        // A top-level resource's location starts with its type; nested ones continue the path.
        let top = self.path.is_empty();
        if top {
            self.path.push(Segment::Name(&def.name));
        }
        self.object(def, obj, true);
        if top {
            self.path.pop();
        }
        self.depth -= 1;
    }

    fn object(&mut self, def: &'a TypeDef, obj: &'a Map<String, Value>, is_resource: bool) {
        if obj.is_empty() {
            self.report(
                IssueType::Structure,
                "an element must have a value or children (empty object)".to_string(),
                None,
            );
            return;
        }
        let mut choice_seen: Vec<(usize, &str)> = Vec::new();
        for (key, value) in obj {
            if self.full() {
                return;
            }
            if is_resource && key == "resourceType" {
                continue;
            }
            let (name, companion) = match key.strip_prefix('_') {
                Some(rest) => (rest, true),
                None => (key.as_str(), false),
            };
            let Some((element, type_name)) = def.field(name) else {
                self.report(IssueType::Structure, format!("unknown element '{key}'"), Some(key));
                continue;
            };
            if element.max == ikp_model::model::Max::Zero {
                self.report(IssueType::Structure, format!("element '{key}' is not allowed"), Some(key));
                continue;
            }
            if element.choice {
                let index = def.element_index(name).unwrap_or(usize::MAX);
                if let Some((_, other)) = choice_seen.iter().find(|(i, other)| *i == index && *other != name) {
                    let message =
                        format!("only one of '{other}' and '{name}' may be present ({}[x] is a choice)", element.name);
                    self.report(IssueType::Structure, message, Some(key));
                }
                choice_seen.push((index, name));
            }
            if companion {
                self.companion(element, type_name, key, value, obj.get(name));
            } else {
                let sibling = obj.get(&format!("_{key}"));
                self.element(element, type_name, key, value, sibling);
            }
        }
        for element in &def.elements {
            if element.min == 0 || self.full() {
                continue;
            }
            let present = element.types.iter().any(|t| {
                let name = element.json_name(t);
                obj.contains_key(&name) || obj.contains_key(&format!("_{name}"))
            });
            if !present {
                let shown = if element.choice { format!("{}[x]", element.name) } else { element.name.clone() };
                self.report(
                    IssueType::Required,
                    format!("missing required element '{shown}' (minimum cardinality {})", element.min),
                    Some(&shown),
                );
            }
        }
    }

    fn element(
        &mut self,
        element: &'a ElementDef,
        type_name: &'a str,
        key: &'a str,
        value: &'a Value,
        companion: Option<&'a Value>,
    ) {
        self.path.push(Segment::Name(key));
        if element.is_array() {
            match value {
                Value::Array(items) if items.is_empty() => self.report(
                    IssueType::Structure,
                    "arrays must not be empty (leave the element out)".to_string(),
                    None,
                ),
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.path.push(Segment::Index(i));
                        if item.is_null() {
                            let has_companion = companion
                                .and_then(|c| c.as_array())
                                .and_then(|c| c.get(i))
                                .is_some_and(|c| !c.is_null());
                            if !has_companion || !self.model.is_primitive(type_name) {
                                self.report(
                                    IssueType::Structure,
                                    "null is only allowed in a primitive array whose '_' companion has an entry at the same position"
                                        .to_string(),
                                    None,
                                );
                            }
                        } else {
                            self.single(type_name, item);
                        }
                        self.path.pop();
                    }
                }
                other => self.report(
                    IssueType::Structure,
                    format!("'{key}' repeats, so it must be a JSON array, found {}", describe(other)),
                    None,
                ),
            }
        } else if value.is_array() {
            self.report(IssueType::Structure, format!("'{key}' occurs at most once, so it must not be an array"), None);
        } else {
            self.single(type_name, value);
        }
        self.path.pop();
    }

    fn single(&mut self, type_name: &'a str, value: &'a Value) {
        if type_name == "Resource" || self.model.is_resource_type(type_name) {
            self.resource(value);
        } else if self.model.is_primitive(type_name) {
            if let Err(message) = primitive::check(type_name, value) {
                let code = if value.is_null() { IssueType::Structure } else { IssueType::Value };
                self.report(code, message, None);
            }
        } else if let Some(def) = self.model.get(type_name) {
            match value.as_object() {
                Some(obj) => self.object(def, obj, false),
                None => self.report(
                    IssueType::Structure,
                    format!("a {} must be a JSON object, found {}", short_type(type_name), describe(value)),
                    None,
                ),
            }
        } else {
            self.report(IssueType::Exception, format!("no definition for type '{type_name}'"), None);
        }
    }

    /// `_name`: the id and extensions of a primitive element.
    fn companion(
        &mut self,
        element: &'a ElementDef,
        type_name: &'a str,
        key: &'a str,
        value: &'a Value,
        primary: Option<&'a Value>,
    ) {
        if !self.model.is_primitive(type_name) {
            self.report(IssueType::Structure, format!("'{key}' is only allowed for primitive elements"), Some(key));
            return;
        }
        let Some(element_def) = self.model.get("Element") else { return };
        self.path.push(Segment::Name(key));
        match (element.is_array(), value) {
            (true, Value::Array(items)) => {
                let primary_len = primary.and_then(Value::as_array).map(Vec::len);
                if primary_len.is_some_and(|n| n != items.len()) {
                    self.report(
                        IssueType::Structure,
                        format!("'{key}' must have as many entries as '{}'", &key[1..]),
                        None,
                    );
                }
                for (i, item) in items.iter().enumerate() {
                    if item.is_null() {
                        continue;
                    }
                    self.path.push(Segment::Index(i));
                    match item.as_object() {
                        Some(obj) => self.object(element_def, obj, false),
                        None => self.report(IssueType::Structure, "expected a JSON object or null".to_string(), None),
                    }
                    self.path.pop();
                }
            }
            (false, Value::Object(obj)) => self.object(element_def, obj, false),
            (is_array, other) => self.report(
                IssueType::Structure,
                format!(
                    "'{key}' must be {}, found {}",
                    if is_array { "an array" } else { "an object" },
                    describe(other)
                ),
                None,
            ),
        }
        self.path.pop();
    }
}

/// "Patient.contact" → "BackboneElement", other names as they are.
fn short_type(type_name: &str) -> &str {
    if type_name.contains('.') { "BackboneElement" } else { type_name }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(v: Value) -> Vec<(String, String)> {
        let model = ikp_model::model::r4().expect("model");
        validate(model, &v).into_iter().map(|i| (i.expression.unwrap_or_default(), i.message)).collect()
    }

    #[test]
    fn valid_patient() {
        let issues = check(json!({
            "resourceType": "Patient", "id": "p1",
            "name": [{"family": "Kowalski", "given": ["Jan", null], "_given": [null, {"extension": [{"url": "http://x", "valueString": "y"}]}]}],
            "birthDate": "1980-02-29", "_birthDate": {"id": "b"},
            "deceasedBoolean": false,
            "contact": [{"name": {"text": "Anna"}}]
        }));
        assert!(issues.is_empty(), "{issues:?}");
    }

    #[test]
    fn errors_have_locations() {
        let issues = check(json!({
            "resourceType": "Patient",
            "nick": "x",
            "birthDate": "1980-13-01",
            "name": {"family": "K"},
            "gender": 3,
            "deceasedBoolean": true, "deceasedDateTime": "2020",
            "contact": [{}],
            "communication": [{"preferred": true}]
        }));
        let at: Vec<&str> = issues.iter().map(|(a, _)| a.as_str()).collect();
        assert!(at.contains(&"Patient.nick"), "{issues:?}");
        assert!(at.contains(&"Patient.birthDate"), "{issues:?}");
        assert!(at.contains(&"Patient.name"), "{issues:?}");
        assert!(at.contains(&"Patient.gender"), "{issues:?}");
        assert!(at.contains(&"Patient.deceasedDateTime"), "{issues:?}");
        assert!(at.contains(&"Patient.contact[0]"), "{issues:?}");
        assert!(at.contains(&"Patient.communication[0].language"), "{issues:?}");
    }

    #[test]
    fn nested_resources() {
        let issues = check(json!({
            "resourceType": "Bundle", "type": "collection",
            "entry": [{"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueQuantity": {"value": "1"}}}]
        }));
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].0, "Bundle.entry[0].resource.valueQuantity.value");
    }
}

//! Required bindings of the R4 base definitions: every `code`, `Coding` and `CodeableConcept`
//! element bound `required` must hold a code from its value set, wherever the element occurs
//! (data types inside resources, extensions' values, contained and nested resources).
//!
//! Writes check this, so it is planned once per process: for each type, the JSON properties that
//! carry a required binding or lead (through data types) to one, so that an instance walk only
//! follows those; the value sets are expanded once each into hash sets
//! ([`builtin_members`]). A value set the server cannot expand is not checked (see there).
//!
//! The rules (R4 "Terminology binding", required strength): a `code` must be in the expansion; a
//! `Coding` with a code must be in it (system and code); a `CodeableConcept` must have at least
//! one coding in it, so one with codings none of which is a member, or with only `text`, fails. An
//! element with only extensions (say a data-absent-reason) carries no code and is not judged.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

use ikp_model::model::{BindingStrength, Model, TypeKind};
use ikp_model::outcome::{Issue, IssueType};
use ikp_terminology::membership::{Members, builtin_members};

/// Stop collecting after this many issues (as the structural validator does).
const MAX_ISSUES: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coded {
    Code,
    Coding,
    CodeableConcept,
}

/// What to do with one JSON property of a type.
#[derive(Debug)]
struct Field {
    binding: Option<(Coded, Arc<str>)>,
    /// The type to walk into: a complex or backbone type, or `None` with `resource` for nested
    /// resources (walked by their own `resourceType`).
    descend: Option<String>,
    resource: bool,
}

/// Per type name, the properties worth visiting.
#[derive(Debug, Default)]
struct Plans {
    by_type: HashMap<String, HashMap<String, Field>>,
}

static PLANS: OnceLock<Plans> = OnceLock::new();

fn coded(type_name: &str) -> Option<Coded> {
    match type_name {
        "code" => Some(Coded::Code),
        "Coding" => Some(Coded::Coding),
        "CodeableConcept" => Some(Coded::CodeableConcept),
        _ => None,
    }
}

fn is_resource(model: &Model, type_name: &str) -> bool {
    type_name == "Resource" || model.is_resource_type(type_name)
}

impl Plans {
    fn build(model: &Model) -> Plans {
        let names = model_type_names(model);
        // Types that have a required binding somewhere below them: a fixed point, since types
        // refer to each other (Extension holds Identifier, which holds Reference, ...).
        let mut relevant: HashSet<&str> = HashSet::new();
        loop {
            let before = relevant.len();
            for &name in &names {
                if relevant.contains(name) {
                    continue;
                }
                let Some(def) = model.get(name) else { continue };
                let hit = def.elements.iter().any(|e| {
                    (required(e).is_some() && e.types.iter().any(|t| coded(t).is_some()))
                        || e.types.iter().any(|t| is_resource(model, t) || relevant.contains(t.as_str()))
                });
                if hit {
                    relevant.insert(name);
                }
            }
            if relevant.len() == before {
                break;
            }
        }
        let element_relevant = relevant.contains("Element");
        let mut by_type = HashMap::new();
        for &name in &relevant {
            let Some(def) = model.get(name) else { continue };
            let mut fields = HashMap::new();
            for e in &def.elements {
                for t in &e.types {
                    let binding = required(e).and_then(|vs| coded(t).map(|c| (c, Arc::<str>::from(vs))));
                    let resource = is_resource(model, t);
                    let descend = (!resource && relevant.contains(t.as_str())).then(|| t.clone());
                    let json = e.json_name(t);
                    if model.is_primitive(t) && element_relevant {
                        // `_name`: the primitive's id and extensions.
                        fields.insert(
                            format!("_{json}"),
                            Field { binding: None, descend: Some("Element".to_string()), resource: false },
                        );
                    }
                    if binding.is_some() || descend.is_some() || resource {
                        fields.insert(json, Field { binding, descend, resource });
                    }
                }
            }
            by_type.insert(name.to_string(), fields);
        }
        Plans { by_type }
    }
}

/// Every non-primitive type reachable from the resources (themselves, data types, backbones).
fn model_type_names(model: &Model) -> Vec<&str> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut queue: Vec<&str> = model.resource_types().iter().map(String::as_str).collect();
    queue.push("Element");
    while let Some(name) = queue.pop() {
        if !seen.insert(name) {
            continue;
        }
        if let Some(def) = model.get(name) {
            queue.extend(def.elements.iter().flat_map(|e| e.types.iter().map(String::as_str)));
        }
    }
    seen.into_iter().filter(|n| model.get(n).is_some_and(|d| d.kind != TypeKind::Primitive)).collect()
}

fn required(element: &ikp_model::model::ElementDef) -> Option<&str> {
    element.binding.as_ref().filter(|b| b.strength == BindingStrength::Required).map(|b| b.value_set.as_str())
}

/// The required-binding violations in a (structurally valid) resource, each a `code-invalid`
/// error at its FHIRPath location.
pub fn check(model: &Model, resource: &Value) -> Vec<Issue> {
    let plans = PLANS.get_or_init(|| Plans::build(model));
    let mut walker = Walker { plans, path: Vec::new(), issues: Vec::new() };
    walker.resource(resource);
    walker.issues
}

enum Step<'a> {
    Name(&'a str),
    Index(usize),
}

struct Walker<'a> {
    plans: &'a Plans,
    path: Vec<Step<'a>>,
    issues: Vec<Issue>,
}

impl<'a> Walker<'a> {
    fn location(&self) -> String {
        let mut out = String::new();
        for step in &self.path {
            match step {
                Step::Name(n) if out.is_empty() => out.push_str(n),
                Step::Name(n) => {
                    out.push('.');
                    out.push_str(n);
                }
                Step::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }

    fn resource(&mut self, value: &'a Value) {
        let Some(obj) = value.as_object() else { return };
        let Some(resource_type) = obj.get("resourceType").and_then(Value::as_str) else { return };
        // A top-level resource's location starts with its type; nested ones continue the path.
        let top = self.path.is_empty();
        if top {
            self.path.push(Step::Name(resource_type));
        }
        self.object(resource_type, obj);
        if top {
            self.path.pop();
        }
    }

    fn object(&mut self, type_name: &str, obj: &'a Map<String, Value>) {
        let Some(plan) = self.plans.by_type.get(type_name) else { return };
        for (key, value) in obj {
            if self.issues.len() >= MAX_ISSUES {
                return;
            }
            let Some(field) = plan.get(key) else { continue };
            self.path.push(Step::Name(key));
            match value {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.path.push(Step::Index(i));
                        self.field(field, item);
                        self.path.pop();
                    }
                }
                item => self.field(field, item),
            }
            self.path.pop();
        }
    }

    fn field(&mut self, field: &Field, value: &'a Value) {
        if let Some((kind, value_set)) = &field.binding {
            self.binding(*kind, value_set, value);
        }
        if field.resource {
            self.resource(value);
        } else if let (Some(type_name), Some(obj)) = (&field.descend, value.as_object()) {
            self.object(type_name, obj);
        }
    }

    fn binding(&mut self, kind: Coded, value_set: &str, value: &Value) {
        let Some(members) = builtin_members(value_set) else { return };
        let problem = match kind {
            Coded::Code => value.as_str().filter(|code| !members.has(None, code)).map(|code| format!("'{code}'")),
            Coded::Coding => coding(value).filter(|(s, c)| !members.has(*s, c)).map(|(s, c)| shown(s, c)),
            Coded::CodeableConcept => {
                let codings: Vec<(Option<&str>, &str)> =
                    value.get("coding").and_then(Value::as_array).into_iter().flatten().filter_map(coding).collect();
                if codings.iter().any(|(s, c)| members.has(*s, c)) {
                    None
                } else if codings.is_empty() {
                    value.get("text").map(|_| "text alone (no coding)".to_string())
                } else {
                    Some(codings.iter().map(|(s, c)| shown(*s, c)).collect::<Vec<_>>().join(", "))
                }
            }
        };
        if let Some(found) = problem {
            self.report(&found, value_set, &members);
        }
    }

    fn report(&mut self, found: &str, value_set: &str, members: &Members) {
        let allowed = members.shown().map(|codes| format!(" (allowed: {})", codes.join(", "))).unwrap_or_default();
        let message = format!("{found} is not in the value set {value_set}, which this element requires{allowed}");
        let at = self.location();
        self.issues.push(Issue::error(IssueType::CodeInvalid, message).at(at));
    }
}

fn coding(value: &Value) -> Option<(Option<&str>, &str)> {
    Some((value.get("system").and_then(Value::as_str), value.get("code")?.as_str()?))
}

fn shown(system: Option<&str>, code: &str) -> String {
    system.map_or_else(|| format!("'{code}'"), |s| format!("'{s}|{code}'"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(resource: Value) -> Vec<(String, String)> {
        let model = ikp_model::model::r4().expect("model");
        check(model, &resource).into_iter().map(|i| (i.expression.unwrap_or_default(), i.message)).collect()
    }

    #[test]
    fn codes_codings_and_concepts_are_checked_where_they_occur() {
        assert_eq!(errors(json!({"resourceType": "Patient", "gender": "female", "name": [{"use": "official"}]})), []);
        let found = errors(json!({
            "resourceType": "Patient", "gender": "robot",
            "name": [{"use": "official"}, {"use": "nickname-ish"}],
            "contained": [{"resourceType": "Observation", "status": "not-a-status",
                "code": {"text": "x"}, "valueQuantity": {"value": 1, "comparator": "~"}}],
            "extension": [{"url": "http://example.org/x", "valueIdentifier": {"use": "weird"}}],
            "_birthDate": {"extension": [{"url": "http://example.org/y", "valueContactPoint": {"system": "pigeon"}}]}
        }));
        let at: Vec<&str> = found.iter().map(|(a, _)| a.as_str()).collect();
        for expected in [
            "Patient.gender",
            "Patient.name[1].use",
            "Patient.contained[0].status",
            "Patient.contained[0].valueQuantity.comparator",
            "Patient.extension[0].valueIdentifier.use",
            "Patient._birthDate.extension[0].valueContactPoint.system",
        ] {
            assert!(at.contains(&expected), "{expected} in {found:?}");
        }
        assert_eq!(found.len(), 6, "{found:?}");
        let gender = found.iter().find(|(a, _)| a == "Patient.gender").map(|(_, m)| m.as_str()).unwrap_or_default();
        assert!(gender.contains("'robot' is not in the value set"), "{gender}");
        assert!(gender.contains("allowed: male, female, other, unknown"), "{gender}");
    }

    #[test]
    fn codeable_concepts_need_one_member_coding() {
        let clinical = "http://terminology.hl7.org/CodeSystem/condition-clinical";
        let with_status = |status: Value| {
            errors(
                json!({"resourceType": "Condition", "subject": {"reference": "Patient/1"}, "clinicalStatus": status}),
            )
        };
        assert_eq!(with_status(json!({"coding": [{"system": clinical, "code": "active"}]})), []);
        // One member coding is enough; the others may come from anywhere.
        assert_eq!(
            with_status(
                json!({"coding": [{"system": "http://example.org/x", "code": "a"}, {"system": clinical, "code": "active"}]})
            ),
            []
        );
        // Only extensions (no code at all): nothing to judge.
        assert_eq!(with_status(json!({"extension": [{"url": "http://example.org/x", "valueString": "y"}]})), []);
        for bad in [
            json!({"coding": [{"system": clinical, "code": "sleeping"}]}),
            json!({"coding": [{"system": "http://example.org/x", "code": "active"}]}),
            json!({"text": "active"}),
        ] {
            let found = with_status(bad.clone());
            assert_eq!(found.len(), 1, "{bad}: {found:?}");
            assert_eq!(found[0].0, "Condition.clinicalStatus");
        }
    }

    #[test]
    fn uncheckable_value_sets_raise_nothing() {
        // Attachment.contentType is bound (required) to all MIME types, which cannot be expanded.
        assert_eq!(
            errors(json!({"resourceType": "DocumentReference", "status": "current",
                "content": [{"attachment": {"contentType": "application/x-made-up"}}]})),
            []
        );
    }
}

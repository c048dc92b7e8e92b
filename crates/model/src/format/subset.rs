//! `_summary` and `_elements`: returning part of a resource, marked SUBSETTED.

use serde_json::{Map, Value, json};

use super::FormatError;
use crate::model::{Model, TypeDef, TypeKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Summary {
    True,
    Text,
    Data,
    Count,
    False,
}

/// What part of each resource the client asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subset {
    pub summary: Option<Summary>,
    pub elements: Option<Vec<String>>,
}

impl Subset {
    pub fn from_query(pairs: &[(String, String)]) -> Result<Subset, FormatError> {
        let mut subset = Subset::default();
        for (k, v) in pairs {
            match k.as_str() {
                "_summary" => {
                    subset.summary = Some(match v.as_str() {
                        "true" => Summary::True,
                        "text" => Summary::Text,
                        "data" => Summary::Data,
                        "count" => Summary::Count,
                        "false" => Summary::False,
                        other => {
                            return Err(FormatError::invalid(format!(
                                "_summary must be true, text, data, count or false, not '{other}'"
                            )));
                        }
                    })
                }
                "_elements" => {
                    let names: Vec<String> =
                        v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
                    subset.elements.get_or_insert_with(Vec::new).extend(names);
                }
                _ => {}
            }
        }
        Ok(subset)
    }

    /// Whether the resource is returned whole.
    pub fn is_whole(&self) -> bool {
        matches!(self.summary, None | Some(Summary::False)) && self.elements.is_none()
    }
}

/// Reduces a resource in place. Mandatory elements, `id` and `meta` are always kept.
pub fn apply(model: &Model, resource: &mut Value, subset: &Subset) {
    if subset.is_whole() {
        return;
    }
    let Some(obj) = resource.as_object_mut() else { return };
    let Some(def) = obj.get("resourceType").and_then(Value::as_str).and_then(|t| model.get(t)) else {
        return;
    };
    let before = obj.len();
    if let Some(elements) = &subset.elements {
        keep(obj, def, |name| elements.iter().any(|e| e == name));
    } else {
        match subset.summary {
            Some(Summary::True) => summarise(model, obj, def),
            Some(Summary::Text) => keep(obj, def, |name| name == "text"),
            Some(Summary::Data) => {
                obj.shift_remove("text");
            }
            _ => {}
        }
    }
    if obj.len() != before || subset.summary == Some(Summary::True) {
        mark_subsetted(obj);
    }
}

/// Keeps the elements `wanted` names (by element name, so `value` keeps `valueQuantity`), plus the
/// mandatory ones.
fn keep(obj: &mut Map<String, Value>, def: &TypeDef, wanted: impl Fn(&str) -> bool) {
    obj.retain(|key, _| {
        let name = key.strip_prefix('_').unwrap_or(key);
        if matches!(name, "resourceType" | "id" | "meta") {
            return true;
        }
        match def.field(name) {
            Some((element, _)) => element.min > 0 || wanted(&element.name),
            None => false,
        }
    });
}

/// `_summary=true`: elements flagged as summary, applied down through backbone elements.
fn summarise(model: &Model, obj: &mut Map<String, Value>, def: &TypeDef) {
    obj.retain(|key, value| {
        let name = key.strip_prefix('_').unwrap_or(key);
        if name == "resourceType" {
            return true;
        }
        let Some((element, type_name)) = def.field(name) else { return false };
        if !element.summary && element.min == 0 {
            return false;
        }
        if let Some(child) = model.get(type_name).filter(|d| d.kind == TypeKind::Backbone) {
            match value {
                Value::Object(o) => summarise(model, o, child),
                Value::Array(items) => {
                    for item in items.iter_mut() {
                        if let Value::Object(o) = item {
                            summarise(model, o, child);
                        }
                    }
                }
                _ => {}
            }
        }
        true
    });
}

fn mark_subsetted(obj: &mut Map<String, Value>) {
    let tag = json!({"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED", "display": "subsetted"});
    let meta = obj.entry("meta").or_insert_with(|| json!({}));
    if let Value::Object(meta) = meta {
        let tags = meta.entry("tag").or_insert_with(|| json!([]));
        if let Value::Array(tags) = tags
            && !tags.iter().any(|t| t.get("code").and_then(Value::as_str) == Some("SUBSETTED"))
        {
            tags.push(tag);
        }
    }
}

//! Patches applied to resources: JSON Patch (RFC 6902, also inside a Binary) and FHIRPath Patch
//! (a Parameters resource). Pure functions over the resource JSON; the commit applies them to the
//! current version after the policy has judged the target, and validates the result like any write.

use base64::Engine;
use serde_json::{Map, Value};

use crate::error::{FhirError, FhirResult};
use crate::fhirpath::{Environment, Expression, Item};
use crate::model::Model;
use crate::outcome::{Issue, IssueType};

fn unprocessable(message: impl Into<String>) -> FhirError {
    FhirError::Unprocessable(vec![Issue::error(IssueType::Processing, message)])
}

/// Applies a patch document: a JSON Patch array, a Binary holding one, or a FHIRPath Patch
/// Parameters resource.
pub fn apply(model: &Model, resource: Value, document: &Value) -> FhirResult<Value> {
    match document {
        Value::Array(operations) => json_patch(resource, operations),
        Value::Object(o) => match o.get("resourceType").and_then(Value::as_str) {
            Some("Parameters") => fhirpath_patch(model, resource, document),
            Some("Binary") => {
                let data = o
                    .get("data")
                    .and_then(Value::as_str)
                    .ok_or_else(|| FhirError::bad_request("the patch Binary has no data"))?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(data.split_whitespace().collect::<String>())
                    .map_err(|_| FhirError::bad_request("the patch Binary's data is not base64"))?;
                let operations: Value = crate::format::json::from_slice(&bytes)
                    .map_err(|e| FhirError::bad_request(format!("the JSON Patch is not JSON: {e}")))?;
                match operations {
                    Value::Array(ops) => json_patch(resource, &ops),
                    _ => Err(FhirError::bad_request("a JSON Patch document is an array of operations")),
                }
            }
            _ => {
                Err(FhirError::bad_request("a patch is a JSON Patch document or a FHIRPath Patch Parameters resource"))
            }
        },
        _ => Err(FhirError::bad_request("a JSON Patch document is an array of operations")),
    }
}

// ---------------------------------------------------------------------------------------------
// JSON Patch (RFC 6902)

fn pointer(path: &str) -> FhirResult<Vec<String>> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest =
        path.strip_prefix('/').ok_or_else(|| FhirError::bad_request(format!("'{path}' is not a JSON pointer")))?;
    Ok(rest.split('/').map(|s| s.replace("~1", "/").replace("~0", "~")).collect())
}

fn parent_mut<'a>(root: &'a mut Value, path: &[String]) -> FhirResult<&'a mut Value> {
    let mut node = root;
    for segment in path {
        node = match node {
            Value::Object(o) => o.get_mut(segment),
            Value::Array(a) => segment.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| unprocessable(format!("path segment '{segment}' does not exist")))?;
    }
    Ok(node)
}

fn get(root: &Value, path: &[String]) -> Option<Value> {
    let mut node = root;
    for segment in path {
        node = match node {
            Value::Object(o) => o.get(segment)?,
            Value::Array(a) => a.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node.clone())
}

fn remove(root: &mut Value, path: &[String]) -> FhirResult<Value> {
    let (last, parent) = path.split_last().ok_or_else(|| unprocessable("cannot remove the whole resource"))?;
    match parent_mut(root, parent)? {
        Value::Object(o) => o.shift_remove(last).ok_or_else(|| unprocessable(format!("'{last}' does not exist"))),
        Value::Array(a) => {
            let i = last
                .parse::<usize>()
                .ok()
                .filter(|i| *i < a.len())
                .ok_or_else(|| unprocessable(format!("index '{last}' is out of range")))?;
            Ok(a.remove(i))
        }
        _ => Err(unprocessable("cannot remove from a primitive")),
    }
}

fn add(root: &mut Value, path: &[String], value: Value) -> FhirResult<()> {
    let Some((last, parent)) = path.split_last() else {
        *root = value;
        return Ok(());
    };
    match parent_mut(root, parent)? {
        Value::Object(o) => {
            o.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) => {
            let i = if last == "-" {
                a.len()
            } else {
                last.parse::<usize>().map_err(|_| unprocessable(format!("'{last}' is not an index")))?
            };
            if i > a.len() {
                return Err(unprocessable(format!("index {i} is out of range")));
            }
            a.insert(i, value);
            Ok(())
        }
        _ => Err(unprocessable("cannot add to a primitive")),
    }
}

fn json_patch(mut resource: Value, operations: &[Value]) -> FhirResult<Value> {
    for (n, op) in operations.iter().enumerate() {
        let field = |k: &str| op.get(k).and_then(Value::as_str);
        let path = pointer(field("path").ok_or_else(|| FhirError::bad_request(format!("operation {n} has no path")))?)?;
        let value =
            || op.get("value").cloned().ok_or_else(|| FhirError::bad_request(format!("operation {n} has no value")));
        let from = || {
            field("from").ok_or_else(|| FhirError::bad_request(format!("operation {n} has no from"))).and_then(pointer)
        };
        match field("op") {
            Some("add") => add(&mut resource, &path, value()?)?,
            Some("remove") => {
                remove(&mut resource, &path)?;
            }
            Some("replace") => {
                remove(&mut resource, &path)?;
                add(&mut resource, &path, value()?)?;
            }
            Some("move") => {
                let moved = remove(&mut resource, &from()?)?;
                add(&mut resource, &path, moved)?;
            }
            Some("copy") => {
                let copied = get(&resource, &from()?)
                    .ok_or_else(|| unprocessable(format!("operation {n}: 'from' does not exist")))?;
                add(&mut resource, &path, copied)?;
            }
            Some("test") => {
                if get(&resource, &path) != Some(value()?) {
                    return Err(unprocessable(format!("operation {n}: test failed")));
                }
            }
            other => return Err(FhirError::bad_request(format!("operation {n}: unknown op {other:?}"))),
        }
    }
    Ok(resource)
}

// ---------------------------------------------------------------------------------------------
// FHIRPath Patch

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// The location of `target` inside `root`, found by identity.
fn locate(root: &Value, target: *const Value) -> Option<Vec<Step>> {
    if std::ptr::eq(root, target) {
        return Some(Vec::new());
    }
    match root {
        Value::Object(o) => o.iter().find_map(|(k, v)| {
            locate(v, target).map(|mut p| {
                p.insert(0, Step::Key(k.clone()));
                p
            })
        }),
        Value::Array(a) => a.iter().enumerate().find_map(|(i, v)| {
            locate(v, target).map(|mut p| {
                p.insert(0, Step::Index(i));
                p
            })
        }),
        _ => None,
    }
}

fn node_mut<'a>(root: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    let mut node = root;
    for step in path {
        node = match (step, node) {
            (Step::Key(k), Value::Object(o)) => o.get_mut(k)?,
            (Step::Index(i), Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(node)
}

/// Locations of what a FHIRPath expression selects in `resource`.
fn select(model: &Model, resource: &Value, path: &str) -> FhirResult<Vec<Vec<Step>>> {
    let expression =
        Expression::parse(path).map_err(|e| FhirError::bad_request(format!("patch path '{path}': {e}")))?;
    let env = Environment::new().with_model(model);
    let items = expression.evaluate(&env, resource).map_err(|e| unprocessable(format!("patch path '{path}': {e}")))?;
    Ok(items
        .iter()
        .filter_map(|item| match item {
            Item::Node(n) => n.json.and_then(|j| locate(resource, j)),
            Item::Value(_) => None,
        })
        .collect())
}

fn part<'a>(operation: &'a Value, name: &str) -> Option<&'a Value> {
    operation.get("part")?.as_array()?.iter().find(|p| p.get("name").and_then(Value::as_str) == Some(name))
}

fn part_str<'a>(operation: &'a Value, name: &str) -> Option<&'a str> {
    part(operation, name).and_then(|p| p.get("valueString").or_else(|| p.get("valueCode")).and_then(Value::as_str))
}

fn part_int(operation: &Value, name: &str) -> Option<usize> {
    part(operation, name).and_then(|p| p.get("valueInteger")).and_then(Value::as_u64).map(|v| v as usize)
}

/// The operation's value as (type suffix of its `value[x]`, JSON value); complex values are
/// given as nested parts.
fn value_of(operation: &Value) -> FhirResult<(Option<String>, Value)> {
    part_value(part(operation, "value").ok_or_else(|| FhirError::bad_request("the operation has no value"))?)
}

fn part_value(p: &Value) -> FhirResult<(Option<String>, Value)> {
    let o = p.as_object().ok_or_else(|| FhirError::bad_request("a patch value must be an object"))?;
    for (k, v) in o {
        if let Some(t) = k.strip_prefix("value") {
            return Ok((Some(t.to_string()), v.clone()));
        }
    }
    let parts = o
        .get("part")
        .and_then(Value::as_array)
        .ok_or_else(|| FhirError::bad_request("the operation's value is empty"))?;
    let mut object = Map::new();
    for sub in parts {
        let name = sub
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| FhirError::bad_request("a value part has no name"))?;
        object.insert(name.to_string(), part_value(sub)?.1);
    }
    Ok((None, Value::Object(object)))
}

fn fhirpath_patch(model: &Model, mut resource: Value, parameters: &Value) -> FhirResult<Value> {
    let operations: Vec<&Value> = parameters
        .get("parameter")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| p.get("name").and_then(Value::as_str) == Some("operation"))
        .collect();
    for (n, operation) in operations.into_iter().enumerate() {
        let kind =
            part_str(operation, "type").ok_or_else(|| FhirError::bad_request(format!("operation {n} has no type")))?;
        let path =
            part_str(operation, "path").ok_or_else(|| FhirError::bad_request(format!("operation {n} has no path")))?;
        let targets = select(model, &resource, path)?;
        let single = |targets: &[Vec<Step>]| -> FhirResult<Vec<Step>> {
            match targets {
                [one] => Ok(one.clone()),
                [] => Err(unprocessable(format!("operation {n}: '{path}' selects nothing"))),
                _ => Err(unprocessable(format!("operation {n}: '{path}' selects more than one element"))),
            }
        };
        match kind {
            "delete" => match targets.as_slice() {
                [] => {}
                [one] => delete_at(&mut resource, one)?,
                _ => return Err(unprocessable(format!("operation {n}: '{path}' selects more than one element"))),
            },
            "replace" => {
                let at = single(&targets)?;
                let (_, value) = value_of(operation)?;
                *node_mut(&mut resource, &at).ok_or_else(|| unprocessable("target vanished"))? = value;
            }
            "add" => {
                let at = single(&targets)?;
                let name = part_str(operation, "name")
                    .ok_or_else(|| FhirError::bad_request(format!("operation {n} has no name")))?;
                let (value_type, value) = value_of(operation)?;
                let key = match value_type {
                    // A choice element takes its type's suffix (value + Quantity = valueQuantity).
                    Some(t) if !t.is_empty() && !name.ends_with(&t) && name_is_choice(model, &resource, &at, name) => {
                        format!("{name}{t}")
                    }
                    _ => name.to_string(),
                };
                let parent = node_mut(&mut resource, &at)
                    .and_then(Value::as_object_mut)
                    .ok_or_else(|| unprocessable(format!("operation {n}: '{path}' is not an element with children")))?;
                match parent.get_mut(&key) {
                    Some(Value::Array(items)) => items.push(value),
                    Some(_) => return Err(unprocessable(format!("operation {n}: '{key}' already has a value"))),
                    None => {
                        let repeats = is_array_element(model, &key, path);
                        parent.insert(key, if repeats { Value::Array(vec![value]) } else { value });
                    }
                }
            }
            "insert" => {
                let at = list_target(&targets)
                    .ok_or_else(|| unprocessable(format!("operation {n}: '{path}' is not one list")))?;
                let index = part_int(operation, "index")
                    .ok_or_else(|| FhirError::bad_request(format!("operation {n} has no index")))?;
                let (_, value) = value_of(operation)?;
                let list = list_of(&mut resource, &at)
                    .ok_or_else(|| unprocessable(format!("operation {n}: '{path}' is not a list")))?;
                if index > list.len() {
                    return Err(unprocessable(format!("operation {n}: index {index} is out of range")));
                }
                list.insert(index, value);
            }
            "move" => {
                let at = list_target(&targets)
                    .ok_or_else(|| unprocessable(format!("operation {n}: '{path}' is not one list")))?;
                let (source, destination) = (part_int(operation, "source"), part_int(operation, "destination"));
                let (Some(source), Some(destination)) = (source, destination) else {
                    return Err(FhirError::bad_request(format!("operation {n} needs source and destination")));
                };
                let list = list_of(&mut resource, &at)
                    .ok_or_else(|| unprocessable(format!("operation {n}: '{path}' is not a list")))?;
                if source >= list.len() || destination >= list.len() {
                    return Err(unprocessable(format!("operation {n}: index out of range")));
                }
                let item = list.remove(source);
                list.insert(destination, item);
            }
            other => return Err(FhirError::bad_request(format!("operation {n}: unknown type '{other}'"))),
        }
    }
    Ok(resource)
}

/// For `insert` and `move` the path names a list, so it selects every item of one array: the
/// location of that array's first item stands for the list.
fn list_target(targets: &[Vec<Step>]) -> Option<Vec<Step>> {
    let first = targets.first()?;
    let (Step::Index(_), parent) = first.split_last()? else { return None };
    let same_list = targets.iter().all(|t| matches!(t.split_last(), Some((Step::Index(_), p)) if p == parent));
    same_list.then(|| first.clone())
}

/// The list a path's element belongs to (a path selecting a list selects its first item).
fn list_of<'a>(resource: &'a mut Value, at: &[Step]) -> Option<&'a mut Vec<Value>> {
    match at.split_last() {
        Some((Step::Index(_), parent)) => node_mut(resource, parent)?.as_array_mut(),
        _ => node_mut(resource, at)?.as_array_mut(),
    }
}

fn delete_at(resource: &mut Value, at: &[Step]) -> FhirResult<()> {
    let Some((last, parent)) = at.split_last() else { return Err(unprocessable("cannot delete the resource itself")) };
    match (last, node_mut(resource, parent)) {
        (Step::Key(k), Some(Value::Object(o))) => {
            o.shift_remove(k);
            o.shift_remove(&format!("_{k}"));
        }
        (Step::Index(i), Some(Value::Array(a))) if *i < a.len() => {
            a.remove(*i);
            if a.is_empty() {
                let parent_path = &parent[..parent.len().saturating_sub(1)];
                if let (Some(Step::Key(k)), Some(Value::Object(o))) = (parent.last(), node_mut(resource, parent_path)) {
                    o.shift_remove(k);
                }
            }
        }
        _ => return Err(unprocessable("the element to delete was not found")),
    }
    Ok(())
}

/// Whether `name` on the element at `at` is a choice element (`value[x]`).
fn name_is_choice(model: &Model, resource: &Value, at: &[Step], name: &str) -> bool {
    element_type(model, resource, at)
        .and_then(|t| model.get(&t).and_then(|d| d.element(name).map(|e| e.choice)))
        .unwrap_or(false)
}

/// Whether the element `key` (a JSON name) under the path repeats, per the model.
fn is_array_element(model: &Model, key: &str, path: &str) -> bool {
    let root = path.split('.').next().unwrap_or_default();
    let mut type_name = root.to_string();
    for segment in path.split('.').skip(1) {
        let segment = segment.split('(').next().unwrap_or(segment);
        match model.get(&type_name).and_then(|d| d.element(segment)).and_then(|e| e.types.first().cloned()) {
            Some(t) => type_name = t,
            None => return false,
        }
    }
    model.get(&type_name).and_then(|d| d.field(key)).is_some_and(|(e, _)| e.is_array())
}

/// The FHIR type of the element at a location, following the model from the resource type.
fn element_type(model: &Model, resource: &Value, at: &[Step]) -> Option<String> {
    let mut type_name = resource.get("resourceType")?.as_str()?.to_string();
    for step in at {
        if let Step::Key(k) = step {
            let (_, t) = model.get(&type_name)?.field(k)?;
            type_name = t.to_string();
        }
    }
    Some(type_name)
}

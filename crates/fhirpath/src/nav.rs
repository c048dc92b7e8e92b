//! Navigation of FHIR JSON: members (with `_name` primitive extensions and choice types),
//! children and descendants.

use super::ast::Name;
use super::error::{Error, Result};
use super::model::{ModelInfo, is_primitive_type, starts_upper};
use super::value::{Collection, Item, Node, Value};
use serde_json::{Map, Value as Json};
use std::sync::Arc;

/// Upper bound on the number of items `descendants()`/`repeat()` may produce.
pub(super) const MAX_ITEMS: usize = 1_000_000;

fn resource_type_of(v: &Json) -> Option<&str> {
    match v {
        Json::Object(m) => m.get("resourceType").and_then(Json::as_str),
        _ => None,
    }
}

/// Resolves the item type for a child value: abstract resource types (and unknown types)
/// take the JSON `resourceType`.
fn child_type<'a>(ty: Option<&'a str>, v: Option<&'a Json>) -> Option<&'a str> {
    match ty {
        None | Some("Resource") | Some("DomainResource") => match v.and_then(resource_type_of) {
            Some(rt) => Some(rt),
            None => ty,
        },
        t => t,
    }
}

fn push_node<'a>(
    v: Option<&'a Json>,
    e: Option<&'a Json>,
    ty: Option<&'a str>,
    resource: Option<&'a Json>,
    out: &mut Collection<'a>,
) {
    let ty = child_type(ty, v);
    let is_res = v.is_some_and(|v| matches!(v, Json::Object(m) if m.contains_key("resourceType")));
    out.push(Item::Node(Node { json: v, ext: e, ty, resource: if is_res { v } else { resource } }));
}

/// Pushes the node(s) for a JSON member value `v` and its `_name` companion `e`.
pub(super) fn push_values<'a>(
    v: Option<&'a Json>,
    e: Option<&'a Json>,
    ty: Option<&'a str>,
    resource: Option<&'a Json>,
    out: &mut Collection<'a>,
) {
    let e = e.filter(|e| !e.is_null());
    match v {
        Some(Json::Array(arr)) => {
            let earr = e.and_then(Json::as_array);
            let n = arr.len().max(earr.map_or(0, Vec::len));
            for i in 0..n {
                let vi = arr.get(i).filter(|x| !x.is_null());
                let ei = earr.and_then(|a| a.get(i)).filter(|x| !x.is_null());
                if vi.is_none() && ei.is_none() {
                    continue;
                }
                push_node(vi, ei, ty, resource, out);
            }
        }
        Some(Json::Null) | None => match e {
            Some(Json::Array(earr)) => {
                for ei in earr.iter().filter(|x| !x.is_null()) {
                    push_node(None, Some(ei), ty, resource, out);
                }
            }
            Some(e) => push_node(None, Some(e), ty, resource, out),
            None => {}
        },
        Some(v) => push_node(Some(v), e, ty, resource, out),
    }
}

/// Maps a choice-type suffix (`Quantity`, `String`, `DateTime`) to a FHIR type name.
fn suffix_type_name(suffix: &str) -> &str {
    match suffix {
        "Boolean" => "boolean",
        "Integer" => "integer",
        "Integer64" => "integer64",
        "PositiveInt" => "positiveInt",
        "UnsignedInt" => "unsignedInt",
        "Decimal" => "decimal",
        "String" => "string",
        "Code" => "code",
        "Id" => "id",
        "Markdown" => "markdown",
        "Uri" => "uri",
        "Url" => "url",
        "Canonical" => "canonical",
        "Oid" => "oid",
        "Uuid" => "uuid",
        "Base64Binary" => "base64Binary",
        "Date" => "date",
        "DateTime" => "dateTime",
        "Instant" => "instant",
        "Time" => "time",
        s => s,
    }
}

fn eq_ignore_first_case(a: &str, b: &str) -> bool {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    ab.len() == bb.len() && !ab.is_empty() && ab[0].eq_ignore_ascii_case(&bb[0]) && ab[1..] == bb[1..]
}

/// Finds `name[Type]` members of a JSON object (choice elements).
fn push_choice<'a>(
    map: &'a Map<String, Json>,
    name: &str,
    types: Option<&'a [String]>,
    resource: Option<&'a Json>,
    out: &mut Collection<'a>,
) {
    for (k, v) in map {
        let (key, is_ext) = match k.strip_prefix('_') {
            Some(rest) => (rest, true),
            None => (k.as_str(), false),
        };
        let Some(suffix) = key.strip_prefix(name) else {
            continue;
        };
        if !starts_upper(suffix) {
            continue;
        }
        let ty: &'a str = match types {
            Some(ts) => match ts.iter().find(|t| eq_ignore_first_case(t, suffix)) {
                Some(t) => t.as_str(),
                None => continue,
            },
            None => suffix_type_name(suffix),
        };
        if is_ext {
            // Only when the value part is absent; otherwise it is handled with the value.
            if map.contains_key(key) {
                continue;
            }
            push_values(None, Some(v), Some(ty), resource, out);
        } else {
            let e = if map.keys().any(|x| x.starts_with('_')) { map.get(&format!("_{key}")) } else { None };
            push_values(Some(v), e, Some(ty), resource, out);
        }
    }
}

/// Navigates to member `name` of `item`, appending results to `out`.
pub(super) fn member<'a>(
    model: Option<&'a dyn ModelInfo>,
    strict: bool,
    item: &Item<'a>,
    name: &Name,
    out: &mut Collection<'a>,
) -> Result<()> {
    let node = match item {
        Item::Node(n) => n,
        Item::Value(v) => {
            value_member(v, &name.name, out);
            return Ok(());
        }
    };
    match node.json {
        Some(Json::Object(map)) => {
            if let (Some(m), Some(t)) = (model, node.ty) {
                match m.element(t, &name.name) {
                    Some(info) if info.is_choice => {
                        push_choice(map, &name.name, Some(info.types), node.resource, out);
                        return Ok(());
                    }
                    Some(info) => {
                        let ty = info.types.first().map(String::as_str);
                        // only primitives have a `_name` companion
                        let e = match ty {
                            Some(t) if !is_primitive_type(t) => None,
                            _ => map.get(&name.underscore),
                        };
                        push_values(map.get(&name.name), e, ty, node.resource, out);
                        return Ok(());
                    }
                    None => {
                        if strict && m.is_known_type(t) {
                            return Err(Error::semantic(format!("'{}' is not an element of {t}", name.name)));
                        }
                    }
                }
            }
            let v = map.get(&name.name);
            let e = map.get(&name.underscore);
            if v.is_none() && e.is_none() {
                if node.ty.is_none() || model.is_none_or(|m| node.ty.is_some_and(|t| !m.is_known_type(t))) {
                    push_choice(map, &name.name, None, node.resource, out);
                }
                return Ok(());
            }
            push_values(v, e, None, node.resource, out);
            Ok(())
        }
        _ => {
            // primitive (or stub): only id / extension via the `_name` object
            if let Some(Json::Object(ext)) = node.ext {
                match name.name.as_str() {
                    "extension" => push_values(ext.get("extension"), None, Some("Extension"), node.resource, out),
                    "id" => push_values(ext.get("id"), None, Some("string"), node.resource, out),
                    _ => {}
                }
            } else if strict
                && node.json.is_some()
                && !matches!(name.name.as_str(), "extension" | "id")
                && let (Some(m), Some(t)) = (model, node.ty)
                && m.is_known_type(t)
            {
                return Err(Error::semantic(format!("'{}' is not an element of {t}", name.name)));
            }
            Ok(())
        }
    }
}

fn value_member<'a>(v: &Value, name: &str, out: &mut Collection<'a>) {
    match (v, name) {
        (Value::Quantity(q), "value") => out.push(Item::Value(Value::Decimal(q.value))),
        (Value::Quantity(q), "unit" | "code") => out.push(Item::Value(Value::String(q.unit.clone()))),
        (Value::Quantity(q), "system") if !q.calendar => {
            out.push(Item::Value(Value::String(Arc::from("http://unitsofmeasure.org"))))
        }
        (Value::TypeInfo { namespace, .. }, "namespace") => out.push(Item::Value(Value::string(namespace))),
        (Value::TypeInfo { name, .. }, "name") => out.push(Item::Value(Value::String(name.clone()))),
        _ => {}
    }
}

/// The type of member `key` (a JSON key, possibly `valueQuantity`) of type `ty`.
fn key_type<'a>(model: Option<&'a dyn ModelInfo>, ty: Option<&'a str>, key: &'a str) -> Option<&'a str> {
    let m = model?;
    let t = ty?;
    if let Some(info) = m.element(t, key) {
        if info.is_choice {
            return None;
        }
        return info.types.first().map(String::as_str);
    }
    // choice: split at each uppercase letter
    for (i, c) in key.char_indices().skip(1) {
        if c.is_ascii_uppercase() {
            let (base, suffix) = key.split_at(i);
            if let Some(info) = m.element(t, base)
                && info.is_choice
            {
                return info.types.iter().find(|x| eq_ignore_first_case(x, suffix)).map(String::as_str);
            }
        }
    }
    None
}

/// `children()` of one item.
pub(super) fn children<'a>(model: Option<&'a dyn ModelInfo>, item: &Item<'a>, out: &mut Collection<'a>) {
    let Item::Node(node) = item else { return };
    match node.json {
        Some(Json::Object(map)) => {
            let has_ext = map.keys().any(|k| k.starts_with('_'));
            for (k, v) in map {
                if k == "resourceType" || k == "fhir_comments" {
                    continue;
                }
                if let Some(base) = k.strip_prefix('_') {
                    if !map.contains_key(base) {
                        let ty = key_type(model, node.ty, base);
                        push_values(None, Some(v), ty, node.resource, out);
                    }
                    continue;
                }
                let e = if has_ext { map.get(&format!("_{k}")) } else { None };
                let ty = key_type(model, node.ty, k);
                push_values(Some(v), e, ty, node.resource, out);
            }
        }
        _ => {
            if let Some(Json::Object(ext)) = node.ext {
                push_values(ext.get("id"), None, Some("string"), node.resource, out);
                push_values(ext.get("extension"), None, Some("Extension"), node.resource, out);
            }
        }
    }
}

/// `descendants()`: breadth-first repeated children.
pub(super) fn descendants<'a>(model: Option<&'a dyn ModelInfo>, input: &[Item<'a>]) -> Result<Collection<'a>> {
    let mut out: Collection<'a> = Vec::new();
    for it in input {
        children(model, it, &mut out);
    }
    let mut i = 0;
    while i < out.len() {
        if out.len() > MAX_ITEMS {
            return Err(Error::eval("descendants(): too many items"));
        }
        let it = out[i].clone();
        children(model, &it, &mut out);
        i += 1;
    }
    Ok(out)
}

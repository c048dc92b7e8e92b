//! `resolve()` and the hooks for external services (references, terminology, profiles).

use super::model::{ModelInfo, starts_upper};
use super::value::{Collection, Item, Node};
use serde_json::Value as Json;
use std::sync::OnceLock;

/// Resolves references that are not found in the current Bundle or contained resources.
/// Return the resource JSON; the engine keeps it alive in the environment's arena.
pub trait ReferenceResolver: Send + Sync {
    /// `reference` is the literal reference (`Patient/1`, an absolute URL, a canonical).
    fn resolve(&self, reference: &str) -> Option<Json>;
}

/// Terminology hook for `memberOf`, `subsumes` and `subsumedBy`. `code` is the JSON of the
/// input item: a string (code), or a Coding / CodeableConcept object.
pub trait TerminologyProvider: Send + Sync {
    /// `None` means unknown (the function returns empty).
    fn member_of(&self, code: &Json, value_set: &str) -> Option<bool>;
    fn subsumes(&self, _a: &Json, _b: &Json) -> Option<bool> {
        None
    }
}

/// Profile validation hook for `conformsTo`.
pub trait ProfileChecker: Send + Sync {
    /// `Err` = unknown profile (an evaluation error), `Ok(None)` = cannot tell (empty).
    fn conforms_to(&self, resource: &Json, profile: &str) -> Result<Option<bool>, String>;
}

/// Append-only storage for externally resolved resources (no unsafe: a chain of OnceLocks).
#[derive(Default)]
pub(super) struct Arena {
    head: OnceLock<Box<ArenaNode>>,
}

struct ArenaNode {
    value: Json,
    next: OnceLock<Box<ArenaNode>>,
}

impl Arena {
    pub fn alloc(&self, v: Json) -> Option<&Json> {
        let mut slot = &self.head;
        let mut v = Some(v);
        for _ in 0..100_000 {
            if let Some(n) = slot.get() {
                slot = &n.next;
                continue;
            }
            let node = Box::new(ArenaNode { value: v.take()?, next: OnceLock::new() });
            match slot.set(node) {
                Ok(()) => return slot.get().map(|n| &n.value),
                Err(back) => v = Some(back.value),
            }
        }
        None
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // iterative drop of the chain
        let mut cur = self.head.take();
        while let Some(mut n) = cur {
            cur = n.next.take();
        }
    }
}

/// Splits a literal reference into (type, id), ignoring a `_history/v` suffix.
fn ref_type_id(r: &str) -> Option<(&str, &str)> {
    let r = r.split(['?', '#']).next().unwrap_or(r);
    let mut segs: Vec<&str> = r.split('/').collect();
    if let Some(h) = segs.iter().rposition(|s| *s == "_history") {
        segs.truncate(h);
    }
    if segs.len() < 2 {
        return None;
    }
    let id = segs[segs.len() - 1];
    let ty = segs[segs.len() - 2];
    if id.is_empty() {
        return None;
    }
    Some((ty, id))
}

fn looks_like_type(model: Option<&dyn ModelInfo>, t: &str) -> bool {
    match model {
        Some(m) => m.is_resource_type(t),
        None => starts_upper(t) && t.bytes().all(|c| c.is_ascii_alphabetic()),
    }
}

fn find_contained<'a>(res: &'a Json, id: &str) -> Option<&'a Json> {
    if id.is_empty() {
        return Some(res);
    }
    res.get("contained")?.as_array()?.iter().find(|c| c.get("id").and_then(Json::as_str) == Some(id))
}

fn find_in_bundle<'a>(bundle: &'a Json, reference: &str) -> Option<&'a Json> {
    if bundle.get("resourceType").and_then(Json::as_str) != Some("Bundle") {
        return None;
    }
    let entries = bundle.get("entry")?.as_array()?;
    let tid = ref_type_id(reference);
    for e in entries {
        let Some(res) = e.get("resource") else {
            continue;
        };
        if let Some(full) = e.get("fullUrl").and_then(Json::as_str) {
            if full == reference {
                return Some(res);
            }
            if let Some((t, i)) = tid
                && !reference.contains("://")
                && full.ends_with(&format!("/{t}/{i}"))
            {
                return Some(res);
            }
        }
        if let Some((t, i)) = tid
            && res.get("resourceType").and_then(Json::as_str) == Some(t)
            && res.get("id").and_then(Json::as_str) == Some(i)
        {
            return Some(res);
        }
    }
    None
}

/// `resolve()` over the input collection.
pub(super) fn resolve<'a>(
    model: Option<&'a dyn ModelInfo>,
    resolver: Option<&'a dyn ReferenceResolver>,
    arena: &'a Arena,
    bundles: &[&'a Json],
    input: &[Item<'a>],
) -> Collection<'a> {
    let mut out = Vec::new();
    for it in input {
        let Item::Node(n) = it else { continue };
        let (reference, ref_type): (Option<&'a str>, Option<&'a str>) = match n.json {
            Some(Json::Object(m)) => (m.get("reference").and_then(Json::as_str), m.get("type").and_then(Json::as_str)),
            Some(Json::String(s)) => (Some(s.as_str()), None),
            _ => (None, None),
        };
        let Some(r) = reference else {
            if let Some(t) = ref_type.filter(|t| looks_like_type(model, t)) {
                out.push(stub(t));
            }
            continue;
        };
        if let Some(id) = r.strip_prefix('#') {
            let found = n
                .resource
                .and_then(|res| find_contained(res, id))
                .or_else(|| bundles.iter().find_map(|b| find_contained(b, id)));
            if let Some(f) = found {
                out.push(Item::Node(Node::resource(f)));
            }
            continue;
        }
        if let Some(f) = bundles.iter().find_map(|b| find_in_bundle(b, r)) {
            out.push(Item::Node(Node::resource(f)));
            continue;
        }
        if let Some(res) = resolver.and_then(|rv| rv.resolve(r))
            && let Some(stored) = arena.alloc(res)
        {
            out.push(Item::Node(Node::resource(stored)));
            continue;
        }
        let t = ref_type_id(r)
            .map(|(t, _)| t)
            .filter(|t| looks_like_type(model, t))
            .or(ref_type.filter(|t| looks_like_type(model, t)));
        if let Some(t) = t {
            out.push(stub(t));
        }
    }
    out
}

fn stub(t: &str) -> Item<'_> {
    Item::Node(Node { json: None, ext: None, ty: Some(t), resource: None })
}

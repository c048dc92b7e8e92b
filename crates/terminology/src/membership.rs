//! Value-set membership for validation: the terminology engine answers the validator's
//! [`Codes`] question, so bindings are checked against real expansions. The built-in value sets
//! are expanded once per process into hash sets ([`builtin_members`]), because every write checks
//! its required bindings against them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock, RwLock};

use serde_json::Value;

use super::builtin::BUILTIN;
use super::{ExpandOptions, Workspace};

/// A value-set membership check, answered by the terminology service.
pub trait Codes {
    /// Whether `system|code` is in the value set; `None` when the value set is unknown.
    fn contains(&self, value_set: &str, system: Option<&str>, code: &str) -> Option<bool>;
}

/// No terminology: every binding is reported as unchecked.
pub struct NoCodes;

impl Codes for NoCodes {
    fn contains(&self, _: &str, _: Option<&str>, _: &str) -> Option<bool> {
        None
    }
}

impl Codes for Workspace<'_> {
    /// `None` (binding not checkable) when the value set cannot be expanded (it, or a code system
    /// it needs, is unknown, or it is too large); a code without a system matches any system's.
    /// Each call expands the value set afresh: callers checking many codes should cache.
    fn contains(&self, value_set: &str, system: Option<&str>, code: &str) -> Option<bool> {
        let entries = self.expand_url(value_set, &ExpandOptions::default()).ok()?;
        Some(entries.iter().any(|e| e.code == code && system.is_none_or(|s| s == e.system)))
    }
}

/// Value sets with at most this many codes name their codes in error messages.
const SHOWN_CODES: usize = 12;

/// The codes of an expanded value set, by system.
#[derive(Debug, Default)]
pub struct Members {
    by_system: HashMap<String, HashSet<String>>,
    /// Every code, whatever its system (a bare `code` element carries no system).
    codes: HashSet<String>,
    /// The codes in expansion order, when few enough to show.
    shown: Option<Vec<String>>,
}

impl Members {
    /// Whether the code is in the value set; without a system, any system's code matches.
    pub fn has(&self, system: Option<&str>, code: &str) -> bool {
        match system {
            Some(system) => self.by_system.get(system).is_some_and(|codes| codes.contains(code)),
            None => self.codes.contains(code),
        }
    }

    /// The codes, when the value set is small enough to list them in a message.
    pub fn shown(&self) -> Option<&[String]> {
        self.shown.as_deref()
    }
}

type Cache = RwLock<HashMap<String, Option<Arc<Members>>>>;

static CACHE: OnceLock<Cache> = OnceLock::new();
static INCOMPLETE: OnceLock<HashSet<String>> = OnceLock::new();

/// The members of a built-in value set, expanded on first use and kept for the process. `None`
/// means the binding cannot be checked: the value set is unknown, cannot be expanded (it takes a
/// whole code system the server does not hold, such as UCUM, BCP-47 languages or MIME types; or
/// an unsupported filter; or more than the expansion limit), selects by system or filter from a
/// code system the server holds only in part (`content` other than `complete`), or is empty.
pub fn builtin_members(url: &str) -> Option<Arc<Members>> {
    let url = super::canonical_url(url);
    let cache = CACHE.get_or_init(Cache::default);
    if let Some(found) = cache.read().ok().and_then(|c| c.get(url).cloned()) {
        return found;
    }
    let members = expand_builtin(url).map(Arc::new);
    if let Ok(mut c) = cache.write() {
        c.insert(url.to_string(), members.clone());
    }
    members
}

fn expand_builtin(url: &str) -> Option<Members> {
    let builtin = BUILTIN.get().ok()?;
    let ws = Workspace::new(&builtin.definitions);
    let incomplete = INCOMPLETE.get_or_init(|| {
        builtin
            .resources
            .iter()
            .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("CodeSystem"))
            .filter(|r| r.get("content").and_then(Value::as_str).is_some_and(|c| c != "complete"))
            .filter_map(|r| r.get("url").and_then(Value::as_str).map(str::to_string))
            .collect()
    });
    if selects_from_partial_system(&ws, ws.value_set(url).ok()?, incomplete, 0) {
        return None;
    }
    let entries = ws.expand_url(url, &ExpandOptions::default()).ok()?;
    if entries.is_empty() {
        return None;
    }
    let mut members = Members {
        shown: (entries.len() <= SHOWN_CODES).then(|| entries.iter().map(|e| e.code.clone()).collect()),
        ..Members::default()
    };
    for e in entries {
        members.codes.insert(e.code.clone());
        members.by_system.entry(e.system).or_default().insert(e.code);
    }
    Some(members)
}

/// Whether a value set (or one it imports) takes codes by system or filter from a partial code
/// system: its expansion would then be missing codes that are in fact members.
fn selects_from_partial_system(ws: &Workspace, value_set: &Value, incomplete: &HashSet<String>, depth: usize) -> bool {
    if depth > 8 {
        return true;
    }
    let compose = value_set.get("compose");
    let parts = ["include", "exclude"]
        .into_iter()
        .flat_map(|k| compose.and_then(|c| c.get(k)).and_then(Value::as_array).into_iter().flatten());
    for part in parts {
        if part.get("concept").is_none()
            && part.get("system").and_then(Value::as_str).is_some_and(|s| incomplete.contains(s))
        {
            return true;
        }
        for import in part.get("valueSet").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            match ws.value_set(import) {
                Ok(imported) if !selects_from_partial_system(ws, imported, incomplete, depth + 1) => {}
                _ => return true,
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_are_answered_from_expansions() {
        let builtin = BUILTIN.get().expect("built-in terminology");
        let ws = Workspace::new(&builtin.definitions);
        let gender = "http://hl7.org/fhir/ValueSet/administrative-gender";
        assert_eq!(ws.contains(gender, Some("http://hl7.org/fhir/administrative-gender"), "female"), Some(true));
        assert_eq!(ws.contains(gender, None, "female"), Some(true));
        assert_eq!(ws.contains(gender, None, "woman"), Some(false));
        assert_eq!(ws.contains("http://example.org/unknown", None, "x"), None);
    }

    #[test]
    fn built_in_members_are_cached_and_uncheckable_sets_are_none() {
        let gender = builtin_members("http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1").expect("gender");
        assert!(gender.has(None, "female"));
        assert!(gender.has(Some("http://hl7.org/fhir/administrative-gender"), "other"));
        assert!(!gender.has(Some("http://example.org/other-system"), "other"));
        assert!(!gender.has(None, "robot"));
        assert_eq!(gender.shown().map(<[String]>::len), Some(4));
        let again = builtin_members("http://hl7.org/fhir/ValueSet/administrative-gender").expect("gender");
        assert!(Arc::ptr_eq(&gender, &again), "the expansion is computed once");
        // All of BCP-47, all of UCUM, all of MIME types: code systems the server does not hold.
        for url in [
            "http://hl7.org/fhir/ValueSet/all-languages",
            "http://hl7.org/fhir/ValueSet/ucum-units",
            "http://hl7.org/fhir/ValueSet/mimetypes",
            "http://example.org/unknown",
        ] {
            assert!(builtin_members(url).is_none(), "{url} cannot be checked");
        }
    }
}

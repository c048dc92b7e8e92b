//! The profiles the server validates against: the national profiles built into the binary, and
//! constraining StructureDefinitions stored on the server (the last one stored wins for its url).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;

use super::profile::{Profile, ProfileError};

const BUILT_IN: &str = include_str!(concat!(env!("OUT_DIR"), "/profiles.json"));
const BUILT_IN_TERMINOLOGY: &str = include_str!(concat!(env!("OUT_DIR"), "/profile-terminology.json"));

/// Canonical base of the profiles, extensions and terminology this server publishes.
pub const CANONICAL_BASE: &str = "https://ikp.example.org/fhir";

#[derive(Debug, Default)]
pub struct ProfileSet {
    by_url: RwLock<HashMap<String, Arc<Profile>>>,
    /// Extension definitions: url → the element paths they may be used on.
    extension_contexts: RwLock<HashMap<String, Vec<String>>>,
    /// The built-in definitions as published (served as StructureDefinition resources).
    definitions: Vec<Value>,
    /// Codes of the value sets the built-in profiles bind to.
    codes: LocalCodes,
    /// Those code systems and value sets as published.
    terminology: Vec<Value>,
    /// Profiles every resource of a type must meet, declared or not.
    required: RwLock<HashMap<String, String>>,
}

impl ProfileSet {
    /// The built-in national profiles.
    pub fn built_in() -> Result<ProfileSet, ProfileError> {
        let definitions: Vec<Value> = serde_json::from_str(BUILT_IN)
            .map_err(|e| ProfileError { url: "(built-in profiles)".into(), message: e.to_string() })?;
        let terminology: Vec<Value> = serde_json::from_str(BUILT_IN_TERMINOLOGY)
            .map_err(|e| ProfileError { url: "(built-in profile terminology)".into(), message: e.to_string() })?;
        let set = ProfileSet {
            by_url: RwLock::default(),
            extension_contexts: RwLock::default(),
            definitions,
            codes: LocalCodes::new(&terminology),
            terminology,
            required: RwLock::default(),
        };
        for definition in &set.definitions {
            set.insert(definition)?;
        }
        Ok(set)
    }

    /// The built-in StructureDefinitions.
    pub fn definitions(&self) -> &[Value] {
        &self.definitions
    }

    /// The built-in code systems and value sets the profiles bind to.
    pub fn terminology(&self) -> &[Value] {
        &self.terminology
    }

    /// A fingerprint of the built-in definitions (SHA-256, hex).
    pub fn content_hash(&self) -> String {
        let mut hasher = openssl::sha::Sha256::new();
        hasher.update(BUILT_IN.as_bytes());
        hasher.update(BUILT_IN_TERMINOLOGY.as_bytes());
        hasher.finish().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Adds (or replaces) a constraining StructureDefinition; other definitions are ignored.
    pub fn insert(&self, definition: &Value) -> Result<(), ProfileError> {
        if definition.get("derivation").and_then(Value::as_str) != Some("constraint") {
            return Ok(());
        }
        if definition.get("type").and_then(Value::as_str) == Some("Extension") {
            let url = definition.get("url").and_then(Value::as_str).unwrap_or_default().to_string();
            let contexts = definition
                .get("context")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|c| c.get("type").and_then(Value::as_str) == Some("element"))
                .filter_map(|c| c.get("expression").and_then(Value::as_str).map(str::to_string))
                .collect();
            if let Ok(mut map) = self.extension_contexts.write() {
                map.insert(url.clone(), contexts);
            }
        }
        let profile = Profile::from_definition(definition)?;
        if let Ok(mut map) = self.by_url.write() {
            map.insert(profile.url.clone(), Arc::new(profile));
        }
        Ok(())
    }

    pub fn get(&self, url: &str) -> Option<Arc<Profile>> {
        let url = url.split('|').next().unwrap_or(url);
        self.by_url.read().ok()?.get(url).cloned()
    }

    /// Requires a known profile for every resource of its type.
    pub fn require(&self, url: &str) -> Result<(), ProfileError> {
        let profile = self
            .get(url)
            .ok_or_else(|| ProfileError { url: url.to_string(), message: "no such profile is known".into() })?;
        if let Ok(mut map) = self.required.write() {
            map.insert(profile.resource_type.clone(), url.to_string());
        }
        Ok(())
    }

    /// The profile required for a resource type, if any.
    pub fn required_for(&self, resource_type: &str) -> Option<String> {
        self.required.read().ok()?.get(resource_type).cloned()
    }

    /// The resource type a profile url constrains (base definitions included).
    pub fn resource_type_of(&self, url: &str) -> Option<String> {
        if let Some(t) = url.strip_prefix("http://hl7.org/fhir/StructureDefinition/") {
            return Some(t.to_string());
        }
        self.get(url).map(|p| p.resource_type.clone())
    }

    /// Where a known extension may be used (element paths); `None` for unknown extensions.
    pub fn extension_contexts(&self, url: &str) -> Option<Vec<String>> {
        self.extension_contexts.read().ok()?.get(url).cloned()
    }

    /// Value-set membership for the value sets the built-in profiles bind to.
    pub fn codes(&self) -> &LocalCodes {
        &self.codes
    }

    pub fn urls(&self) -> Vec<String> {
        self.by_url.read().map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }
}

/// Value sets given by enumerated concepts or whole code systems, as the national profiles'
/// value sets are; membership is decided locally.
#[derive(Debug, Default)]
pub struct LocalCodes {
    /// value set url → allowed (system, code); a `None` code admits the whole system.
    members: HashMap<String, Vec<(String, Option<String>)>>,
    /// code system url → its codes.
    systems: HashMap<String, Vec<String>>,
}

impl LocalCodes {
    pub fn new(resources: &[Value]) -> LocalCodes {
        let mut codes = LocalCodes::default();
        for r in resources {
            let url = r.get("url").and_then(Value::as_str).unwrap_or_default().to_string();
            match r.get("resourceType").and_then(Value::as_str) {
                Some("CodeSystem") => {
                    let mut all = Vec::new();
                    collect_concepts(r.get("concept"), &mut all);
                    codes.systems.insert(url, all);
                }
                Some("ValueSet") => {
                    let mut members = Vec::new();
                    for include in
                        r.get("compose").and_then(|c| c.get("include")).and_then(Value::as_array).into_iter().flatten()
                    {
                        let system = include.get("system").and_then(Value::as_str).unwrap_or_default().to_string();
                        match include.get("concept").and_then(Value::as_array) {
                            Some(concepts) => members.extend(
                                concepts
                                    .iter()
                                    .filter_map(|c| c.get("code").and_then(Value::as_str))
                                    .map(|c| (system.clone(), Some(c.to_string()))),
                            ),
                            None => members.push((system, None)),
                        }
                    }
                    codes.members.insert(url, members);
                }
                _ => {}
            }
        }
        codes
    }
}

fn collect_concepts(concepts: Option<&Value>, out: &mut Vec<String>) {
    for c in concepts.and_then(Value::as_array).into_iter().flatten() {
        if let Some(code) = c.get("code").and_then(Value::as_str) {
            out.push(code.to_string());
        }
        collect_concepts(c.get("concept"), out);
    }
}

impl super::profile::Codes for LocalCodes {
    fn contains(&self, value_set: &str, system: Option<&str>, code: &str) -> Option<bool> {
        let members = self.members.get(value_set)?;
        Some(members.iter().any(|(s, c)| {
            system.is_none_or(|given| given == s)
                && match c {
                    Some(c) => c == code,
                    None => self.systems.get(s).is_none_or(|all| all.iter().any(|x| x == code)),
                }
        }))
    }
}

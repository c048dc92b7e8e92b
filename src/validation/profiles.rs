//! The profiles the server validates against: the national profiles built into the binary, and
//! constraining StructureDefinitions stored on the server (which take precedence for their url).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;

use super::profile::{Profile, ProfileError};

const BUILT_IN: &str = include_str!(concat!(env!("OUT_DIR"), "/profiles.json"));

/// Canonical base of the profiles, extensions and terminology this server publishes.
pub const CANONICAL_BASE: &str = "https://ikp.example.org/fhir";

#[derive(Debug, Default)]
pub struct ProfileSet {
    by_url: RwLock<HashMap<String, Arc<Profile>>>,
    /// The built-in definitions as published (served as StructureDefinition resources).
    definitions: Vec<Value>,
}

impl ProfileSet {
    /// The built-in national profiles.
    pub fn built_in() -> Result<ProfileSet, ProfileError> {
        let definitions: Vec<Value> = serde_json::from_str(BUILT_IN)
            .map_err(|e| ProfileError { url: "(built-in profiles)".into(), message: e.to_string() })?;
        let set = ProfileSet { by_url: RwLock::default(), definitions };
        for definition in &set.definitions {
            set.insert(definition)?;
        }
        Ok(set)
    }

    /// The built-in StructureDefinitions.
    pub fn definitions(&self) -> &[Value] {
        &self.definitions
    }

    /// Adds (or replaces) a constraining StructureDefinition; other definitions are ignored.
    pub fn insert(&self, definition: &Value) -> Result<(), ProfileError> {
        if definition.get("derivation").and_then(Value::as_str) != Some("constraint")
            || definition.get("type").and_then(Value::as_str) == Some("Extension")
        {
            return Ok(());
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

    pub fn urls(&self) -> Vec<String> {
        self.by_url.read().map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }
}

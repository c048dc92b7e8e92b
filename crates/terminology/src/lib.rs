//! The terminology engine: code systems, value sets and concept maps held in memory, with
//! expansion, membership, subsumption and translation. It knows nothing of HTTP or storage:
//! built-in content comes from [`builtin`], and definitions stored on the server are handed in by
//! the caller through a [`Workspace`].

pub mod builtin;
pub mod code_system;
pub mod concept_map;
pub mod error;
pub mod expand;
pub mod laboratory;
pub mod membership;
pub mod naming;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

pub use code_system::{CodeSystem, Concept};
pub use error::{TerminologyError, TerminologyResult};
pub use expand::{Entry, ExpandOptions};

/// Canonical base URL of the server's own terminology artifacts (value sets, code systems without
/// an official OID).
pub const CANONICAL_BASE: &str = "https://ikp.example.org/fhir";

/// Definitions by canonical URL.
#[derive(Debug, Default, Clone)]
pub struct Definitions {
    pub code_systems: HashMap<String, Arc<CodeSystem>>,
    pub value_sets: HashMap<String, Arc<Value>>,
    pub concept_maps: HashMap<String, Arc<Value>>,
}

impl Definitions {
    /// Adds a CodeSystem, ValueSet or ConceptMap resource (others, and ones without `url`, are
    /// ignored). The first definition of a URL wins, so built-in content cannot be shadowed by
    /// accident.
    pub fn add(&mut self, resource: &Value) {
        let Some(url) = resource.get("url").and_then(Value::as_str) else { return };
        match resource.get("resourceType").and_then(Value::as_str) {
            Some("CodeSystem") => {
                if !self.code_systems.contains_key(url)
                    && let Some(cs) = CodeSystem::from_resource(resource)
                {
                    self.code_systems.insert(url.to_string(), Arc::new(cs));
                }
            }
            Some("ValueSet") => {
                self.value_sets.entry(url.to_string()).or_insert_with(|| Arc::new(resource.clone()));
            }
            Some("ConceptMap") => {
                self.concept_maps.entry(url.to_string()).or_insert_with(|| Arc::new(resource.clone()));
            }
            _ => {}
        }
    }
}

/// The built-in terminology plus definitions fetched for one request.
pub struct Workspace<'a> {
    builtin: &'a Definitions,
    extra: Definitions,
}

/// A canonical reference without its `|version` suffix.
pub fn canonical_url(reference: &str) -> &str {
    reference.split('|').next().unwrap_or(reference)
}

impl<'a> Workspace<'a> {
    pub fn new(builtin: &'a Definitions) -> Workspace<'a> {
        Workspace { builtin, extra: Definitions::default() }
    }

    /// Adds a definition found elsewhere (stored on the server, or sent inline).
    pub fn add(&mut self, resource: &Value) {
        self.extra.add(resource);
    }

    pub fn code_system(&self, url: &str) -> TerminologyResult<&CodeSystem> {
        let url = canonical_url(url);
        self.builtin
            .code_systems
            .get(url)
            .or_else(|| self.extra.code_systems.get(url))
            .map(Arc::as_ref)
            .ok_or_else(|| TerminologyError::UnknownCodeSystem(url.to_string()))
    }

    pub fn value_set(&self, url: &str) -> TerminologyResult<&Value> {
        let url = canonical_url(url);
        self.builtin
            .value_sets
            .get(url)
            .or_else(|| self.extra.value_sets.get(url))
            .map(Arc::as_ref)
            .ok_or_else(|| TerminologyError::UnknownValueSet(url.to_string()))
    }

    pub fn concept_map(&self, url: &str) -> TerminologyResult<&Value> {
        let url = canonical_url(url);
        self.builtin
            .concept_maps
            .get(url)
            .or_else(|| self.extra.concept_maps.get(url))
            .map(Arc::as_ref)
            .ok_or_else(|| TerminologyError::UnknownConceptMap(url.to_string()))
    }

    /// Every concept map known, each URL once (built-in first, as in [`Workspace::concept_map`]).
    pub fn concept_maps(&self) -> impl Iterator<Item = &Value> {
        let extra = self.extra.concept_maps.iter().filter(|(url, _)| !self.builtin.concept_maps.contains_key(*url));
        self.builtin.concept_maps.values().chain(extra.map(|(_, map)| map)).map(Arc::as_ref)
    }

    /// A concept of a code system, with the system (errors name what is missing).
    pub fn concept(&self, system: &str, code: &str) -> TerminologyResult<(&CodeSystem, usize)> {
        let cs = self.code_system(system)?;
        let index = cs
            .index_of(code)
            .ok_or_else(|| TerminologyError::UnknownCode { system: cs.url.clone(), code: code.to_string() })?;
        Ok((cs, index))
    }
}

/// How two concepts of one code system relate (`$subsumes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subsumption {
    Equivalent,
    Subsumes,
    SubsumedBy,
    NotSubsumed,
}

impl Subsumption {
    pub fn code(self) -> &'static str {
        match self {
            Subsumption::Equivalent => "equivalent",
            Subsumption::Subsumes => "subsumes",
            Subsumption::SubsumedBy => "subsumed-by",
            Subsumption::NotSubsumed => "not-subsumed",
        }
    }
}

impl Workspace<'_> {
    /// How `code_a` relates to `code_b` in `system`.
    pub fn subsumes(&self, system: &str, code_a: &str, code_b: &str) -> TerminologyResult<Subsumption> {
        let (cs, a) = self.concept(system, code_a)?;
        let (_, b) = self.concept(system, code_b)?;
        Ok(if a == b {
            Subsumption::Equivalent
        } else if cs.subsumes(a, b) {
            Subsumption::Subsumes
        } else if cs.subsumes(b, a) {
            Subsumption::SubsumedBy
        } else {
            Subsumption::NotSubsumed
        })
    }

    /// Codes at or below (`below`) or at or above (`!below`) a concept: the `:below`/`:above`
    /// search modifiers.
    pub fn hierarchy_codes(&self, system: &str, code: &str, below: bool) -> TerminologyResult<Vec<String>> {
        let (cs, index) = self.concept(system, code)?;
        let indices = if below { cs.descendants_or_self(index) } else { cs.ancestors_or_self(index) };
        Ok(indices.into_iter().map(|i| cs.concepts[i].code.clone()).collect())
    }
}

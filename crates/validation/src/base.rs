//! The invariants of the R4 base resource definitions (dom-2..6, obs-6, ...), compiled once on
//! first use from the embedded definitions. `$validate` and `ikp validate` check them; writes rely
//! on the structural validator (cardinality, types, formats), which is much cheaper.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use super::profile::Profile;
use ikp_model::conformance::{DefinitionBundle, Definitions};

static BASE: OnceLock<HashMap<String, Profile>> = OnceLock::new();

fn load() -> HashMap<String, Profile> {
    let bundle: DefinitionBundle<Value> = match Definitions::ProfilesResources.parse() {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "the base definitions are unreadable; base invariants are not checked");
            return HashMap::new();
        }
    };
    let mut out = HashMap::new();
    for entry in bundle.entry {
        let definition = entry.resource;
        if definition.get("resourceType").and_then(Value::as_str) != Some("StructureDefinition")
            || definition.get("kind").and_then(Value::as_str) != Some("resource")
        {
            continue;
        }
        match Profile::base_invariants(&definition) {
            Ok(profile) => {
                out.insert(profile.resource_type.clone(), profile);
            }
            Err(e) => tracing::warn!(error = %e, "a base definition's invariants are not checked"),
        }
    }
    out
}

/// The base invariants of a resource type.
pub fn invariants(resource_type: &str) -> Option<&'static Profile> {
    BASE.get_or_init(load).get(resource_type)
}

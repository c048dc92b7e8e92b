//! Value-set membership for profile validation: the terminology engine answers the validator's
//! [`Codes`] question, so bindings are checked against real expansions.

use super::{ExpandOptions, Workspace};
use crate::validation::profile::Codes;

impl Codes for Workspace<'_> {
    /// `None` (binding not checkable) when the value set cannot be expanded (it, or a code system
    /// it needs, is unknown, or it is too large); a code without a system matches any system's.
    /// Each call expands the value set afresh: callers checking many codes should cache.
    fn contains(&self, value_set: &str, system: Option<&str>, code: &str) -> Option<bool> {
        let entries = self.expand_url(value_set, &ExpandOptions::default()).ok()?;
        Some(entries.iter().any(|e| e.code == code && system.is_none_or(|s| s == e.system)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::terminology::builtin::BUILTIN;

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
}

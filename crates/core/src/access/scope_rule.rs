//! The scope rule: which of a token's granted SMART scopes allows an interaction on a type, in
//! which context (whose data), and with which granular filter (`category=laboratory`).

use crate::access::principal::Principal;
use crate::access::scopes::{Context, Interaction, ResourceScope};

/// What the granted scopes allow for one interaction on one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeGrant {
    /// The widest context among the granting scopes: `System` beats `User` beats `Patient`.
    pub context: Context,
    /// Search parameters every resource must match (empty: none).
    pub filter: Vec<(String, String)>,
}

/// The grant for `interaction` on `resource_type`, or why there is none.
pub fn grant(principal: &Principal, resource_type: &str, interaction: Interaction) -> Result<ScopeGrant, String> {
    let granting: Vec<&ResourceScope> = principal.scopes.granting(resource_type, interaction).collect();
    for context in [Context::System, Context::User, Context::Patient] {
        let in_context: Vec<&ResourceScope> = granting.iter().copied().filter(|s| s.context == context).collect();
        if in_context.is_empty() {
            continue;
        }
        let filter = combined_filter(&in_context)?;
        if !filter.is_empty() && !matches!(interaction, Interaction::Read | Interaction::Search) {
            // Whether a write matches a granular filter would need the stored body: refused.
            return Err("granular scopes allow reads and searches only".into());
        }
        return Ok(ScopeGrant { context, filter });
    }
    Err(format!("no granted scope allows {interaction:?} on {resource_type}"))
}

/// Whether a `*` scope (no filter, not patient-bound) allows `interaction` on every type.
pub fn grants_every_type(principal: &Principal, interaction: Interaction) -> bool {
    principal.scopes.resources.iter().any(|s| {
        s.resource_type.is_none()
            && s.context != Context::Patient
            && s.filter.is_empty()
            && s.permissions.allows(interaction)
    })
}

/// Combines the granular filters of the scopes that grant access. Any unfiltered scope means no
/// filter. Filters on one parameter combine as OR (`category=a,b`); anything more complex is
/// refused rather than risk granting too much.
fn combined_filter(scopes: &[&ResourceScope]) -> Result<Vec<(String, String)>, String> {
    let mut name: Option<String> = None;
    let mut values: Vec<String> = Vec::new();
    for scope in scopes {
        match scope.filter.as_slice() {
            [] => return Ok(Vec::new()),
            [(k, v)] if name.as_ref().is_none_or(|n| n == k) => {
                name = Some(k.clone());
                values.push(v.clone());
            }
            _ => return Err("these granular scopes cannot be combined".into()),
        }
    }
    Ok(name.map(|n| vec![(n, values.join(","))]).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::principal::Actor;
    use crate::access::scopes::Scopes;

    fn principal(scopes: &str) -> Principal {
        Principal {
            client_id: "app".into(),
            subject: Some("s".into()),
            fhir_user: Some("RelatedPerson/rp".into()),
            actor: Actor::RelatedPerson("rp".into()),
            patient: Some("child".into()),
            scopes: Scopes::parse(scopes),
            expires_at: 0,
        }
    }

    #[test]
    fn widest_context_wins_and_missing_scopes_deny() {
        let p = principal("patient/*.rs user/Observation.rs");
        assert_eq!(grant(&p, "Observation", Interaction::Search).map(|g| g.context), Ok(Context::User));
        assert_eq!(grant(&p, "Condition", Interaction::Read).map(|g| g.context), Ok(Context::Patient));
        assert!(grant(&p, "Condition", Interaction::Update).is_err());
        assert!(!grants_every_type(&p, Interaction::Search), "patient/* is bound to a patient");
        assert!(grants_every_type(&principal("system/*.cruds"), Interaction::Update));
    }

    #[test]
    fn granular_filters_combine_or_refuse() {
        let p = principal("user/Observation.rs?category=laboratory user/Observation.rs?category=vital-signs");
        let g = grant(&p, "Observation", Interaction::Search).expect("granted");
        assert_eq!(g.filter, vec![("category".to_string(), "laboratory,vital-signs".to_string())]);
        let mixed = principal("user/Observation.rs?category=laboratory user/Observation.rs?code=x");
        assert!(grant(&mixed, "Observation", Interaction::Search).is_err());
        let writes = principal("user/Observation.cruds?category=laboratory");
        assert!(grant(&writes, "Observation", Interaction::Update).is_err());
        let v1 = principal("user/*.read");
        assert!(grant(&v1, "Condition", Interaction::Read).is_ok());
        assert!(grant(&v1, "Condition", Interaction::Update).is_err());
    }
}

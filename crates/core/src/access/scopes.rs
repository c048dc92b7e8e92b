//! SMART scopes, v1 (`patient/Observation.read`) and v2 (`patient/Observation.rs?category=...`),
//! parsed into a structure the access policy can ask questions of. Anything malformed or unknown
//! is dropped, never granted.

use std::fmt;

/// Whose data a resource scope is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// The in-context patient's compartment.
    Patient,
    /// What the user may access.
    User,
    /// What the (backend) client is pre-authorised for.
    System,
}

/// The v2 permission letters, in their canonical order `cruds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Permissions {
    pub create: bool,
    pub read: bool,
    pub update: bool,
    pub delete: bool,
    pub search: bool,
}

impl Permissions {
    /// v2 letters (strictly ordered, non-empty) or a v1 word (`read`, `write`, `*`).
    fn parse(text: &str) -> Option<Permissions> {
        match text {
            "read" => return Some(Permissions { read: true, search: true, ..Permissions::default() }),
            "write" => return Some(Permissions { create: true, update: true, delete: true, ..Permissions::default() }),
            "*" => return Some(Permissions { create: true, read: true, update: true, delete: true, search: true }),
            _ => {}
        }
        let mut p = Permissions::default();
        let mut rest = text;
        for (letter, flag) in [('c', &mut p.create), ('r', &mut p.read), ('u', &mut p.update), ('d', &mut p.delete)] {
            if let Some(r) = rest.strip_prefix(letter) {
                *flag = true;
                rest = r;
            }
        }
        if let Some(r) = rest.strip_prefix('s') {
            p.search = true;
            rest = r;
        }
        (rest.is_empty() && !text.is_empty()).then_some(p)
    }

    pub fn allows(self, interaction: Interaction) -> bool {
        match interaction {
            Interaction::Create => self.create,
            Interaction::Read => self.read,
            Interaction::Update => self.update,
            Interaction::Delete => self.delete,
            Interaction::Search => self.search,
        }
    }

    fn covers(self, other: Permissions) -> bool {
        (!other.create || self.create)
            && (!other.read || self.read)
            && (!other.update || self.update)
            && (!other.delete || self.delete)
            && (!other.search || self.search)
    }
}

/// The kinds of access a scope letter grants (SMART 2 §scopes: r = read/vread/instance history,
/// s = search and type/system history, c/u/d = create, update and patch, delete).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interaction {
    Create,
    Read,
    Update,
    Delete,
    Search,
}

/// One `context/Type.permissions[?filter]` scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceScope {
    pub context: Context,
    /// `None` for `*`.
    pub resource_type: Option<String>,
    pub permissions: Permissions,
    /// Granular restrictions such as `category=laboratory`, all of which must hold.
    pub filter: Vec<(String, String)>,
}

impl ResourceScope {
    fn parse(text: &str) -> Option<ResourceScope> {
        let (context, rest) = text.split_once('/')?;
        let context = match context {
            "patient" => Context::Patient,
            "user" => Context::User,
            "system" => Context::System,
            _ => return None,
        };
        let (body, query) = match rest.split_once('?') {
            Some((body, query)) => (body, Some(query)),
            None => (rest, None),
        };
        let (resource_type, permissions) = body.split_once('.')?;
        let valid_type = resource_type == "*"
            || (resource_type.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && resource_type.chars().all(|c| c.is_ascii_alphanumeric()));
        if !valid_type {
            return None;
        }
        let permissions = Permissions::parse(permissions)?;
        let filter: Vec<(String, String)> = match query {
            Some(q) => form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect(),
            None => Vec::new(),
        };
        if query.is_some() && (filter.is_empty() || filter.iter().any(|(k, v)| k.is_empty() || v.is_empty())) {
            return None;
        }
        Some(ResourceScope {
            context,
            resource_type: (resource_type != "*").then(|| resource_type.to_string()),
            permissions,
            filter,
        })
    }

    pub fn applies_to(&self, resource_type: &str) -> bool {
        self.resource_type.as_deref().is_none_or(|t| t == resource_type)
    }

    /// Whether this (allowed) scope includes everything `other` (requested) asks for.
    fn covers(&self, other: &ResourceScope) -> bool {
        self.context == other.context
            && (self.resource_type.is_none() || self.resource_type == other.resource_type)
            && self.permissions.covers(other.permissions)
            && self.filter.iter().all(|f| other.filter.contains(f))
    }
}

/// A parsed scope string. `tokens` keeps the accepted scopes as the client wrote them, so the
/// granted `scope` echoes the caller's syntax (v1 stays v1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes {
    tokens: Vec<String>,
    pub resources: Vec<ResourceScope>,
}

/// Non-resource scopes the server understands.
const SPECIAL: &[&str] = &[
    "openid",
    "fhirUser",
    "profile",
    "launch",
    "launch/patient",
    "launch/encounter",
    "offline_access",
    "online_access",
];

impl Scopes {
    /// Parses a space-separated scope string, dropping what it does not understand.
    pub fn parse(text: &str) -> Scopes {
        let mut scopes = Scopes::default();
        for token in text.split_ascii_whitespace() {
            if scopes.tokens.iter().any(|t| t == token) {
                continue;
            }
            if SPECIAL.contains(&token) {
                scopes.tokens.push(token.to_string());
            } else if let Some(resource) = ResourceScope::parse(token) {
                scopes.tokens.push(token.to_string());
                scopes.resources.push(resource);
            }
        }
        scopes
    }

    pub fn has(&self, special: &str) -> bool {
        self.tokens.iter().any(|t| t == special)
    }

    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The scopes of `self` (requested) that `allowed` covers: a special scope must be allowed
    /// verbatim, a resource scope must be covered by one allowed resource scope.
    pub fn within(&self, allowed: &Scopes) -> Scopes {
        self.retain(|token, resource| match resource {
            Some(r) => allowed.resources.iter().any(|a| a.covers(r)),
            None => allowed.has(token),
        })
    }

    /// All but one special scope.
    pub fn without(&self, special: &str) -> Scopes {
        self.retain(|token, _| token != special)
    }

    /// Keeps only the listed tokens (the user's consent).
    pub fn only(&self, kept: &[String]) -> Scopes {
        self.retain(|token, _| kept.iter().any(|k| k == token))
    }

    fn retain(&self, mut keep: impl FnMut(&str, Option<&ResourceScope>) -> bool) -> Scopes {
        let mut out = Scopes::default();
        for token in &self.tokens {
            let resource = ResourceScope::parse(token);
            if keep(token, resource.as_ref()) {
                out.tokens.push(token.clone());
                if let Some(r) = resource {
                    out.resources.push(r);
                }
            }
        }
        out
    }

    /// The resource scopes granting an interaction on a type.
    pub fn granting(&self, resource_type: &str, interaction: Interaction) -> impl Iterator<Item = &ResourceScope> {
        self.resources.iter().filter(move |s| s.applies_to(resource_type) && s.permissions.allows(interaction))
    }

    pub fn has_context(&self, context: Context) -> bool {
        self.resources.iter().any(|s| s.context == context)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tokens.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_and_v2_parse_and_malformed_are_dropped() {
        let s = Scopes::parse(
            "openid patient/Observation.read user/*.cruds patient/Patient.dus system/X.r?a launch/patient bogus",
        );
        assert_eq!(s.to_string(), "openid patient/Observation.read user/*.cruds launch/patient");
        assert!(s.granting("Observation", Interaction::Search).any(|r| r.context == Context::Patient));
        assert!(s.granting("Observation", Interaction::Create).all(|r| r.context == Context::User));
    }

    #[test]
    fn within_allowed_and_granular() {
        let allowed = Scopes::parse("patient/*.rs openid");
        let requested =
            Scopes::parse("patient/Observation.rs?category=laboratory patient/Patient.cruds openid fhirUser");
        assert_eq!(requested.within(&allowed).to_string(), "patient/Observation.rs?category=laboratory openid");
    }
}

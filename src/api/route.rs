//! The one routing table of the FHIR RESTful API: a method and a path (relative to the base) to
//! the interaction or operation they name. HTTP requests, batch and transaction entries and the
//! audit trail all read routes from here.

use crate::audit::Action;
use crate::error::{FhirError, FhirResult};
use crate::interaction::operation::Level;
use crate::interaction::search::Scope;
use crate::store::HistoryScope;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn parse(text: &str) -> Option<Method> {
        Some(match text {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    fn reads(self) -> bool {
        matches!(self, Method::Get | Method::Head)
    }
}

/// An interaction or operation, with what the path names.
#[derive(Debug, Clone)]
pub enum Route {
    Capabilities,
    Read {
        resource_type: String,
        id: String,
    },
    VRead {
        resource_type: String,
        id: String,
        version: String,
    },
    History(HistoryScope),
    Search(Scope),
    Create {
        resource_type: String,
    },
    Update {
        resource_type: String,
        id: String,
    },
    ConditionalUpdate {
        resource_type: String,
    },
    Patch {
        resource_type: String,
        id: String,
    },
    ConditionalPatch {
        resource_type: String,
    },
    Delete {
        resource_type: String,
        id: String,
    },
    ConditionalDelete {
        resource_type: String,
    },
    /// A batch or transaction Bundle posted to the base.
    Bundle,
    Operation {
        level: Level,
        resource_type: Option<String>,
        id: Option<String>,
        name: String,
    },
}

/// What a route reads from the request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    None,
    /// A resource (create, update, a Bundle).
    Resource,
    /// A JSON Patch document or a FHIRPath Patch Parameters resource.
    Patch,
    /// Form-encoded search parameters (`_search`).
    Form,
    /// A Parameters resource or another resource, when given (operations).
    Optional,
}

impl Route {
    /// The route of `method` on `segments` (the path below the base, split at `/`; empty
    /// segments, as from a trailing slash, are left out). 405 for a known path with another
    /// method, 404 for an unknown path.
    pub fn parse(method: Method, segments: &[&str]) -> FhirResult<Route> {
        let segments: Vec<&str> = segments.iter().copied().filter(|s| !s.is_empty()).collect();
        let op = |s: &str| s.strip_prefix('$').filter(|n| !n.is_empty()).map(str::to_string);
        let text = |s: &str| s.to_string();
        let reads = method.reads();
        let route = match (segments.as_slice(), method) {
            ([], _) if reads => Route::Search(Scope::System),
            ([], Method::Post) => Route::Bundle,
            (["metadata"], _) if reads => Route::Capabilities,
            (["_history"], _) if reads => Route::History(HistoryScope::System),
            (["_search"], Method::Post) => Route::Search(Scope::System),
            ([name], Method::Get | Method::Head | Method::Post) if op(name).is_some() => Route::Operation {
                level: Level::System,
                resource_type: None,
                id: None,
                name: op(name).unwrap_or_default(),
            },
            ([t], _) if reads && !is_reserved(t) => Route::Search(Scope::Type(text(t))),
            ([t], Method::Post) if !is_reserved(t) => Route::Create { resource_type: text(t) },
            ([t], Method::Put) if !is_reserved(t) => Route::ConditionalUpdate { resource_type: text(t) },
            ([t], Method::Patch) if !is_reserved(t) => Route::ConditionalPatch { resource_type: text(t) },
            ([t], Method::Delete) if !is_reserved(t) => Route::ConditionalDelete { resource_type: text(t) },
            ([t, "_search"], Method::Post) => Route::Search(Scope::Type(text(t))),
            ([t, "_history"], _) if reads => Route::History(HistoryScope::Type(text(t))),
            ([t, name], Method::Get | Method::Head | Method::Post) if op(name).is_some() => Route::Operation {
                level: Level::Type,
                resource_type: Some(text(t)),
                id: None,
                name: op(name).unwrap_or_default(),
            },
            ([t, id], _) if reads && !is_reserved(id) => Route::Read { resource_type: text(t), id: text(id) },
            ([t, id], Method::Put) if !is_reserved(id) => Route::Update { resource_type: text(t), id: text(id) },
            ([t, id], Method::Patch) if !is_reserved(id) => Route::Patch { resource_type: text(t), id: text(id) },
            ([t, id], Method::Delete) if !is_reserved(id) => Route::Delete { resource_type: text(t), id: text(id) },
            ([t, id, "_history"], _) if reads => Route::History(HistoryScope::Instance(text(t), text(id))),
            ([t, id, "_history", v], _) if reads => {
                Route::VRead { resource_type: text(t), id: text(id), version: text(v) }
            }
            ([t, id, name], Method::Get | Method::Head | Method::Post) if op(name).is_some() => Route::Operation {
                level: Level::Instance,
                resource_type: Some(text(t)),
                id: Some(text(id)),
                name: op(name).unwrap_or_default(),
            },
            ([c, id, t], _) if reads => Route::Search(Scope::Compartment {
                compartment_type: text(c),
                compartment_id: text(id),
                resource_type: text(t),
            }),
            (path, _) if path.len() <= 4 => {
                return Err(FhirError::MethodNotAllowed(format!("{} /{}", method.name(), path.join("/"))));
            }
            (path, _) => return Err(FhirError::NotFound(format!("the path /{}", path.join("/")))),
        };
        if let Some(id) = route.named_id()
            && !crate::model::primitive::is_id(id)
        {
            // No stored resource has such an id; refusing it here also keeps NUL and other
            // control characters away from the database.
            return Err(FhirError::bad_request(format!(
                "'{}' is not a resource id (1-64 characters of A-Z, a-z, 0-9, '-' and '.')",
                id.escape_debug()
            )));
        }
        Ok(route)
    }

    /// The resource id the path names, if any.
    fn named_id(&self) -> Option<&str> {
        match self {
            Route::Read { id, .. }
            | Route::VRead { id, .. }
            | Route::Update { id, .. }
            | Route::Patch { id, .. }
            | Route::Delete { id, .. }
            | Route::History(HistoryScope::Instance(_, id))
            | Route::Operation { id: Some(id), .. }
            | Route::Search(Scope::Compartment { compartment_id: id, .. }) => Some(id),
            _ => None,
        }
    }

    /// What the route reads from the request body.
    pub fn body(&self) -> BodyKind {
        match self {
            Route::Create { .. } | Route::Update { .. } | Route::ConditionalUpdate { .. } | Route::Bundle => {
                BodyKind::Resource
            }
            Route::Patch { .. } | Route::ConditionalPatch { .. } => BodyKind::Patch,
            Route::Operation { .. } => BodyKind::Optional,
            _ => BodyKind::None,
        }
    }

    /// The AuditEvent `action` and `subtype` (RESTful interaction, or the operation) of the
    /// route; `affects_state` tells whether an operation changes data.
    pub fn audit(&self, affects_state: impl Fn(&Route) -> bool) -> (Action, String) {
        let interaction = match self {
            Route::Capabilities => "capabilities",
            Route::Read { .. } => "read",
            Route::VRead { .. } => "vread",
            Route::History(HistoryScope::System) => "history-system",
            Route::History(HistoryScope::Type(_)) => "history-type",
            Route::History(HistoryScope::Instance(..)) => "history-instance",
            Route::Search(Scope::System) => "search-system",
            Route::Search(_) => "search-type",
            Route::Create { .. } => return (Action::Create, "create".into()),
            Route::Update { .. } | Route::ConditionalUpdate { .. } => return (Action::Update, "update".into()),
            Route::Patch { .. } | Route::ConditionalPatch { .. } => return (Action::Update, "patch".into()),
            Route::Delete { .. } | Route::ConditionalDelete { .. } => return (Action::Delete, "delete".into()),
            Route::Bundle => return (Action::Execute, "batch".into()),
            Route::Operation { name, .. } => {
                let action = if affects_state(self) { Action::Execute } else { Action::Read };
                return (action, format!("${name}"));
            }
        };
        (Action::Read, interaction.to_string())
    }

    /// The patient whose compartment the path names (`Patient/1`, `Patient/1/...`), if any.
    pub fn patient(&self) -> Option<&str> {
        let (t, id) = match self {
            Route::Read { resource_type, id }
            | Route::VRead { resource_type, id, .. }
            | Route::Update { resource_type, id }
            | Route::Patch { resource_type, id }
            | Route::Delete { resource_type, id } => (resource_type.as_str(), id.as_str()),
            Route::History(HistoryScope::Instance(t, id)) => (t.as_str(), id.as_str()),
            Route::Search(Scope::Compartment { compartment_type, compartment_id, .. }) => {
                (compartment_type.as_str(), compartment_id.as_str())
            }
            Route::Operation { resource_type: Some(t), id: Some(id), .. } => (t.as_str(), id.as_str()),
            _ => return None,
        };
        (t == "Patient").then_some(id)
    }
}

/// Path segments that name an interaction, never a resource type or id.
fn is_reserved(segment: &str) -> bool {
    segment.starts_with('$') || segment.starts_with('_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: Method, path: &str) -> FhirResult<Route> {
        let segments: Vec<&str> = path.split('/').collect();
        Route::parse(method, &segments)
    }

    #[test]
    fn paths_name_interactions_and_operations() {
        assert!(matches!(route(Method::Post, ""), Ok(Route::Bundle)));
        assert!(matches!(route(Method::Post, "/"), Ok(Route::Bundle)), "a trailing slash is the base");
        assert!(matches!(route(Method::Get, "metadata"), Ok(Route::Capabilities)));
        assert!(matches!(route(Method::Get, "Patient/1/_history/2"), Ok(Route::VRead { .. })));
        assert!(matches!(route(Method::Get, "Patient/_history"), Ok(Route::History(HistoryScope::Type(_)))));
        assert!(matches!(
            route(Method::Post, "$reindex"),
            Ok(Route::Operation { level: Level::System, resource_type: None, .. })
        ));
        assert!(matches!(
            route(Method::Get, "Patient/1/$everything"),
            Ok(Route::Operation { level: Level::Instance, .. })
        ));
        assert!(matches!(route(Method::Get, "Patient/1/Observation"), Ok(Route::Search(Scope::Compartment { .. }))));
        assert!(matches!(route(Method::Post, "Patient/_search"), Ok(Route::Search(Scope::Type(_)))));
        assert!(matches!(route(Method::Put, "Patient"), Ok(Route::ConditionalUpdate { .. })));
        assert!(matches!(route(Method::Delete, "Patient/1/_history"), Err(FhirError::MethodNotAllowed(_))));
        assert!(matches!(route(Method::Post, "Patient/1"), Err(FhirError::MethodNotAllowed(_))));
        assert!(matches!(route(Method::Get, "a/b/c/d/e"), Err(FhirError::NotFound(_))));
    }

    #[test]
    fn routes_name_their_audit_action() {
        let read = route(Method::Get, "Patient/1").expect("route");
        assert_eq!(read.audit(|_| false), (Action::Read, "read".to_string()));
        assert_eq!(read.patient(), Some("1"));
        let op = route(Method::Post, "MedicationRequest/1/$dispense").expect("route");
        assert_eq!(op.audit(|_| true), (Action::Execute, "$dispense".to_string()));
        assert_eq!(op.patient(), None);
    }
}

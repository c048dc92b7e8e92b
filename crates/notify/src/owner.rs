//! Whose reach a subscription's notifications keep to. The server puts the owner on every
//! Subscription a caller writes (see `crate::rule`): the user (which also places the
//! subscription in that user's compartment, so the owner and nobody else confined sees it), the
//! client, the token's scopes and patient context. Notifications are then decided as that
//! caller's searches and reads would be, now, not as they were when the subscription was made:
//! a revoked authorisation or a child come of age stops them.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::access::principal::{Actor, Principal};
use crate::access::scopes::Scopes;
use crate::access::{Caller, entitlements};
use crate::error::FhirResult;
use crate::session::Session;
use crate::store::search::registry::SUBSCRIPTION_OWNER;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The user as a reference (`Patient/123`); none for a backend service.
    pub user: Option<String>,
    pub client: String,
    pub patient: Option<String>,
    pub scope: String,
}

impl Owner {
    pub fn of(caller: &Caller) -> Owner {
        let p = &caller.principal;
        Owner {
            user: p.fhir_user.clone(),
            client: p.client_id.clone(),
            patient: p.patient.clone(),
            scope: p.scopes.tokens().join(" "),
        }
    }

    /// The owner extension.
    pub fn extension(&self) -> Value {
        let mut parts = Vec::new();
        if let Some(user) = &self.user {
            parts.push(json!({"url": "user", "valueReference": {"reference": user}}));
        }
        parts.push(json!({"url": "client", "valueString": self.client}));
        if let Some(patient) = &self.patient {
            parts.push(json!({"url": "patient", "valueString": patient}));
        }
        parts.push(json!({"url": "scope", "valueString": self.scope}));
        json!({"url": SUBSCRIPTION_OWNER, "extension": parts})
    }

    /// The owner a Subscription carries (none: made with authorization off, unconfined).
    pub fn of_subscription(subscription: &Value) -> Option<Owner> {
        let owner = subscription
            .get("extension")?
            .as_array()?
            .iter()
            .find(|e| e.get("url").and_then(Value::as_str) == Some(SUBSCRIPTION_OWNER))?;
        let part = |name: &str| {
            owner.get("extension")?.as_array()?.iter().find(|e| e.get("url").and_then(Value::as_str) == Some(name))
        };
        let string = |name: &str| part(name)?.get("valueString")?.as_str().map(str::to_string);
        Some(Owner {
            user: part("user").and_then(|u| u.pointer("/valueReference/reference")?.as_str().map(str::to_string)),
            client: string("client")?,
            patient: string("patient"),
            scope: string("scope").unwrap_or_default(),
        })
    }

    /// The caller this owner is now: entitlements worked out afresh.
    pub async fn caller(&self, server: &Session) -> FhirResult<Arc<Caller>> {
        let principal = Principal {
            client_id: self.client.clone(),
            subject: None,
            fhir_user: self.user.clone(),
            actor: Actor::from_reference(self.user.as_deref()),
            patient: self.patient.clone(),
            scopes: Scopes::parse(&self.scope),
            expires_at: i64::MAX,
        };
        let entitled = entitlements::entitlements(server, self.user.as_deref()).await?;
        Ok(Arc::new(Caller::new(principal, entitled.reach)))
    }
}

/// The extension stripped from a body (a caller may not name another owner).
pub fn strip(subscription: &mut Value) {
    if let Some(Value::Array(extensions)) = subscription.get_mut("extension") {
        extensions.retain(|e| e.get("url").and_then(Value::as_str) != Some(SUBSCRIPTION_OWNER));
        if extensions.is_empty()
            && let Some(fields) = subscription.as_object_mut()
        {
            fields.remove("extension");
        }
    }
}

/// A session as the owner of `subscription` sees the data (unconfined when it has no owner).
pub async fn session_of(server: &Session, subscription: &Value) -> FhirResult<Session> {
    match Owner::of_subscription(subscription) {
        Some(owner) => Ok(server.for_caller(owner.caller(server).await?, None)),
        None => Ok(server.system("notifications")),
    }
}

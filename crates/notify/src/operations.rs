//! The backport IG's operations on a Subscription: `$status`, `$events` (missed-event recovery
//! by number) and `$get-ws-binding-token`. Each first reads the Subscription as the caller: one
//! the caller may not see answers exactly as one that does not exist. `$events` tells each event
//! only when the caller may read the version it is about, and full resources as the caller may
//! see them now.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::clock::{instant, now};
use crate::error::{FhirError, FhirResult};
use crate::session::{Session, not_found};
use crate::store::notifications::{self as stored, SubscriptionRow};
use crate::subscription::{self, Content, Kind, Status};
use ikp_core::interaction::Response;
use ikp_core::interaction::operation::Call;

/// The most events one `$events` call returns.
const MAX_EVENTS: i64 = 100;

/// The Subscription as the caller sees it, and its state.
async fn visible(session: &Session, id: &str) -> FhirResult<(Value, SubscriptionRow)> {
    let (resource, _) = session.live("Subscription", id).await?.ok_or_else(|| not_found("Subscription", id))?;
    let worker = session.notification_worker();
    let row = stored::subscription(worker.store(), id).await?.unwrap_or_else(|| SubscriptionRow {
        // Written but not dispatched yet: nothing has happened to it.
        id: id.to_string(),
        status: resource.get("status").and_then(Value::as_str).unwrap_or("requested").to_string(),
        channel: String::new(),
        resource: resource.to_string(),
        heartbeat: 0,
        last_number: 0,
        delivered: 0,
        failures: 0,
        next_attempt: 0,
        last_sent: 0,
        error: None,
    });
    Ok((resource, row))
}

fn topic_of(resource: &Value) -> String {
    resource.get("criteria").and_then(Value::as_str).unwrap_or_default().to_string()
}

/// Where the subscription stands, as an answer of `kind` says it.
fn status_of<'a>(session: &'a Session, row: &'a SubscriptionRow, topic: &'a str, kind: Kind) -> Status<'a> {
    Status {
        base: &session.base_url,
        subscription_id: &row.id,
        topic_url: topic,
        status: &row.status,
        kind,
        events_since_start: u64::try_from(row.last_number).unwrap_or(0),
    }
}

/// `Subscription/[id]/$status`: a searchset Bundle of the subscription's status.
pub async fn status(session: &Session, call: &Call) -> FhirResult<Response> {
    let (resource, row) = visible(session, call.id()).await?;
    let topic = topic_of(&resource);
    let at = status_of(session, &row, &topic, Kind::QueryStatus);
    let mut parameters = subscription::notification(&at, &[], Content::Empty)["entry"][0]["resource"].clone();
    if let Some(error) = &row.error
        && let Some(list) = parameters["parameter"].as_array_mut()
    {
        list.push(json!({"name": "error", "valueCodeableConcept": {"text": error}}));
    }
    Ok(Response::resource(
        200,
        json!({
            "resourceType": "Bundle",
            "type": "searchset",
            "timestamp": instant(now()),
            "total": 1,
            "entry": [{"fullUrl": format!("urn:uuid:{}", uuid::Uuid::new_v4()), "resource": parameters,
                       "search": {"mode": "match"}}],
        }),
    ))
}

/// `Subscription/[id]/$events?eventsSinceNumber=&eventsUntilNumber=&content=`: the events kept
/// (the newest delivered ones and every undelivered one), at most 100 per call.
pub async fn events(session: &Session, call: &Call) -> FhirResult<Response> {
    let (resource, row) = visible(session, call.id()).await?;
    let number = |name: &str| -> FhirResult<Option<i64>> {
        match call.input.params.text(name) {
            None => Ok(None),
            Some(text) => text
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .map(Some)
                .ok_or_else(|| FhirError::bad_request(format!("{name} must be a whole number, not '{text}'"))),
        }
    };
    let until = number("eventsUntilNumber")?.unwrap_or(row.last_number).min(row.last_number);
    let since = number("eventsSinceNumber")?.unwrap_or((until - MAX_EVENTS + 1).max(1)).max(1);
    let accepted = crate::rule::accepted(session.fhir(), &resource).ok();
    let content = match call.input.params.text("content") {
        None => accepted.as_ref().map_or(Content::IdOnly, |a| a.content),
        Some(code) => Content::parse(code).ok_or_else(|| {
            FhirError::bad_request(format!("content must be empty, id-only or full-resource, not '{code}'"))
        })?,
    };
    let worker = session.notification_worker();
    let kept = if since <= until {
        stored::events(worker.store(), &row.id, since, until, MAX_EVENTS as usize).await?
    } else {
        Vec::new()
    };
    // Only what the caller may read is told (the owner's reach may be wider than the caller's).
    let keys: Vec<(String, String, i64)> =
        kept.iter().map(|e| (e.resource_type.clone(), e.id.clone(), e.version)).collect();
    let seen: HashSet<(String, String, i64)> =
        session.visible_versions(&keys).await?.into_iter().map(|v| (v.resource_type, v.id, v.version)).collect();
    let visible_events: Vec<_> =
        kept.into_iter().filter(|e| seen.contains(&(e.resource_type.clone(), e.id.clone(), e.version))).collect();
    let told = crate::deliver::told(session, &visible_events, content).await;
    let topic = topic_of(&resource);
    let at = status_of(session, &row, &topic, Kind::QueryEvent);
    Ok(Response::resource(200, subscription::notification(&at, &told, content)))
}

/// `Subscription/[id]/$get-ws-binding-token`: a token to bind a websocket to the subscription.
pub async fn ws_binding_token(session: &Session, call: &Call) -> FhirResult<Response> {
    let (resource, _) = visible(session, call.id()).await?;
    if resource.pointer("/channel/type").and_then(Value::as_str) != Some("websocket") {
        return Err(FhirError::Unprocessable(vec![crate::outcome::Issue::error(
            crate::outcome::IssueType::Processing,
            "the subscription's channel is not websocket",
        )]));
    }
    let worker = session.notification_worker();
    let key = crate::store::shared_secret(worker.store(), crate::websocket::SECRET_NAME).await?;
    let expires = now() + crate::websocket::TOKEN_SECONDS * 1_000_000;
    let token = crate::websocket::token_with_key(&key, call.id(), expires);
    Ok(Response::resource(
        200,
        json!({
            "resourceType": "Parameters",
            "parameter": [
                {"name": "token", "valueString": token},
                {"name": "expiration", "valueDateTime": instant(expires)},
                {"name": "subscription", "valueString": format!("{}/Subscription/{}", session.base_url, call.id())},
                {"name": "websocket-url", "valueUrl": crate::websocket::url(&session.base_url)},
            ],
        }),
    ))
}

//! Delivery workers, on every node: each takes one due subscription at a time under a lease (one
//! waiting for its handshake, with undelivered events, or due a heartbeat), sends the next
//! notification (at most the subscription's max-count of events, oldest first) and records
//! what was delivered under that lease. A failure is retried later, each time twice as late; a
//! subscription failing `error_after` times in a row is `error` (still retried), `off_after`
//! times `off`. A node that dies mid-delivery leaves its lease to run out; the next worker, on
//! any node, resumes from the last number recorded as delivered: at least once, in order.
//! Websocket subscriptions are delivered by the node holding the socket (`crate::websocket`).

use std::collections::HashMap;

use serde_json::Value;

use crate::audit::{Access, Action, Entity};
use crate::clock::{Micros, instant, now};
use crate::error::FhirError;
use crate::notifier::Notifier;
use crate::session::{Session, Write};
use crate::store::notifications::{self as stored, Outcome, StoredEvent, SubscriptionRow};
use crate::subscription::{self, Accepted, Content, Event, Kind, Status};

/// Channels these workers deliver on.
const CHANNELS: &[&str] = &["rest-hook", "email"];
/// Notifications one worker sends in a row to a subscription with a backlog before it lets the
/// others have a turn.
const BACKLOG_ROUNDS: usize = 20;
/// Times a status change is tried again over a subscription the subscriber changed meanwhile.
const STATUS_RETRIES: usize = 3;
/// Delivered events are pruned each time this many more have been delivered.
const PRUNE_EVERY: i64 = 100;

pub async fn run(n: Notifier, mut stop: tokio::sync::watch::Receiver<bool>) {
    // Each worker holds leases under a name of its own, so two workers of a node never take the
    // same subscription.
    let holder = format!("{}/{}", n.node, uuid::Uuid::new_v4());
    loop {
        if *stop.borrow() {
            return;
        }
        let at = now();
        let lease = n.config.lease.as_micros() as Micros;
        match stored::claim_due(n.store(), CHANNELS, &holder, at, at + lease).await {
            Ok(Some(mut row)) => {
                // A subscription with a backlog keeps its worker (and lease) until it is through.
                for _ in 0..BACKLOG_ROUNDS {
                    let started = now();
                    let sent = send_next(&n, &row).await;
                    let more = sent.as_ref().is_ok_and(|s| s.through < row.last_number);
                    if !record(&n, &holder, &row, sent, started).await || !more {
                        break;
                    }
                    match stored::subscription(n.store(), &row.id).await {
                        Ok(Some(fresh)) if fresh.status == "active" && fresh.delivered < fresh.last_number => {
                            row = fresh
                        }
                        _ => break,
                    }
                }
                stored::release(n.store(), &row.id, &holder).await.ok();
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "looking for notifications to deliver"),
        }
        tokio::select! {
            _ = n.wake.notified() => {}
            _ = tokio::time::sleep(n.config.poll) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Records a delivery's outcome under `holder`'s lease, renewing it (and a status change on the
/// resource). False when the lease was lost or the outcome could not be recorded.
pub(crate) async fn record(
    n: &Notifier,
    holder: &str,
    row: &SubscriptionRow,
    sent: Result<Sent, String>,
    started: Micros,
) -> bool {
    let at = now();
    let outcome = match &sent {
        Ok(sent) => {
            metrics::counter!("ikp_notifications_sent_total", "kind" => sent.kind.code(), "outcome" => "ok")
                .increment(1);
            if sent.kind == Kind::EventNotification {
                metrics::histogram!("ikp_notification_send_seconds").record((at - started) as f64 / 1e6);
            }
            Outcome::Delivered { through: sent.through, status: "active".into() }
        }
        Err(why) => {
            metrics::counter!("ikp_notifications_sent_total", "kind" => "any", "outcome" => "failed").increment(1);
            let failures = row.failures + 1;
            let c = &n.config;
            let status = if failures >= c.off_after {
                "off"
            } else if failures >= c.error_after {
                "error"
            } else {
                row.status.as_str()
            };
            let doublings = u32::try_from(failures - 1).unwrap_or(u32::MAX).min(20);
            let delay = c.retry_delay.saturating_mul(1 << doublings).min(c.max_retry_delay);
            tracing::info!(subscription = %row.id, failures, status, reason = %why, "a notification was not delivered");
            Outcome::Failed {
                failures,
                next_attempt: at + delay.as_micros() as Micros,
                status: status.to_string(),
                error: why.clone(),
            }
        }
    };
    let renewed = at + n.config.lease.as_micros() as Micros;
    match stored::record_attempt(n.store(), &row.id, holder, at, renewed, &outcome).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(subscription = %row.id, "the delivery lease was lost; another node resends");
            return false;
        }
        Err(e) => {
            tracing::warn!(subscription = %row.id, error = %e, "recording a delivery");
            return false;
        }
    }
    let (status, error) = match &outcome {
        Outcome::Delivered { status, .. } => (status.as_str(), None),
        Outcome::Failed { status, error, .. } => (status.as_str(), Some(error.as_str())),
    };
    if status != row.status {
        set_status(n.server(), &row.id, status, error).await;
    }
    if let Ok(sent) = sent {
        if let (Some(told), Some(audit)) = (sent.told, &n.audit) {
            audit.send(told);
        }
        if sent.through / PRUNE_EVERY > row.delivered / PRUNE_EVERY {
            stored::prune_events(n.store(), &row.id, n.config.keep_events).await.ok();
        }
        return true;
    }
    false
}

/// What a successful delivery sent.
pub(crate) struct Sent {
    pub kind: Kind,
    /// The last event number delivered (as before when none was sent).
    pub through: i64,
    /// What the owner was told, for the audit trail.
    pub told: Option<Access>,
}

/// The notification a subscription is due, ready to send.
pub(crate) struct Due {
    pub accepted: Accepted,
    pub resource: Value,
    pub bundle: Value,
    sent: Sent,
}

impl Due {
    /// Once it has gone out.
    pub fn sent(self) -> Sent {
        self.sent
    }
}

/// Builds and sends the notification the subscription is due.
async fn send_next(n: &Notifier, row: &SubscriptionRow) -> Result<Sent, String> {
    let due = next_notification(n, row).await?;
    crate::channels::send(n, &due.accepted, &due.resource, &due.bundle).await?;
    Ok(due.sent())
}

/// The notification a subscription is due: its handshake, its next events, or a heartbeat.
pub(crate) async fn next_notification(n: &Notifier, row: &SubscriptionRow) -> Result<Due, String> {
    let resource: Value = serde_json::from_str(&row.resource).map_err(|e| e.to_string())?;
    let accepted = crate::rule::accepted(n.server().fhir(), &resource)?;
    let (kind, events) = if row.status == "requested" {
        (Kind::Handshake, Vec::new())
    } else if row.delivered < row.last_number {
        let max = accepted.max_count.max(1) as usize;
        let events = stored::events(n.store(), &row.id, row.delivered + 1, row.last_number, max)
            .await
            .map_err(|e| e.to_string())?;
        (Kind::EventNotification, events)
    } else {
        (Kind::Heartbeat, Vec::new())
    };
    let through = events.last().map_or(row.delivered, |e| e.number);
    let owner = crate::owner::session_of(n.server(), &resource).await.map_err(|e| e.to_string())?;
    let told = told(&owner, &events, accepted.content).await;
    let since_start = if kind == Kind::EventNotification { through } else { row.last_number };
    let status = Status {
        base: &n.server().base_url,
        subscription_id: &row.id,
        topic_url: &accepted.topic_url,
        status: &row.status,
        kind,
        events_since_start: u64::try_from(since_start).unwrap_or(0),
    };
    let bundle = subscription::notification(&status, &told, accepted.content);
    // What the owner learns is audited like a read by the owner: the resources told about.
    let audited = owner.agent().filter(|_| !events.is_empty()).map(|agent| Access {
        agent,
        action: Action::Read,
        subtype: "subscription-notification".into(),
        query: Some(format!("notification Subscription/{}", row.id)),
        status: 200,
        entities: events.iter().map(|e| Entity::current(&e.resource_type, &e.id)).collect(),
        reasons: Vec::new(),
        recorded: now(),
    });
    Ok(Due { accepted, resource, bundle, sent: Sent { kind, through, told: audited } })
}

/// Events as a notification tells them. Full resources are read again now as `session` (the
/// owner, or whoever asks `$events`) may see them: a version the reader may no longer see is
/// told without it.
pub(crate) async fn told(session: &Session, events: &[StoredEvent], content: Content) -> Vec<Event> {
    let mut shown: HashMap<(String, String, i64), Value> = HashMap::new();
    if content == Content::FullResource {
        let keys: Vec<(String, String, i64)> =
            events.iter().map(|e| (e.resource_type.clone(), e.id.clone(), e.version)).collect();
        // A failed read tells the events without their resources, as for versions not seen.
        for v in session.visible_versions(&keys).await.unwrap_or_default() {
            if let Some(resource) = v.content.as_deref().and_then(|c| serde_json::from_str(c).ok()) {
                shown.insert((v.resource_type, v.id, v.version), resource);
            }
        }
    }
    events
        .iter()
        .map(|e| Event {
            number: u64::try_from(e.number).unwrap_or(0),
            timestamp: instant(e.at),
            focus: format!("{}/{}/_history/{}", e.resource_type, e.id, e.version),
            resource: shown.get(&(e.resource_type.clone(), e.id.clone(), e.version)).cloned(),
        })
        .collect()
}

/// Writes a subscription's new status (and why, for `error`) on the resource, as the server.
pub(crate) async fn set_status(server: &Session, id: &str, status: &str, error: Option<&str>) {
    // Written over the version read (If-Match), so that a change the subscriber makes meanwhile
    // is never overwritten: a lost race reads again.
    for _ in 0..STATUS_RETRIES {
        let (mut updated, version) = match server.live("Subscription", id).await {
            Ok(Some(current)) => current,
            _ => return,
        };
        updated["status"] = Value::String(status.to_string());
        match (status, error) {
            ("error" | "off", Some(why)) => updated["error"] = Value::String(why.chars().take(500).collect()),
            _ => {
                if let Some(fields) = updated.as_object_mut() {
                    fields.remove("error");
                }
            }
        }
        match server.commit(Write::update("Subscription", id, updated, Some(version))).await {
            Ok(_) => return,
            Err(FhirError::PreconditionFailed(_)) => continue,
            Err(e) => {
                return tracing::warn!(subscription = %id, error = %e, "the subscription's status could not be written");
            }
        }
    }
    tracing::warn!(subscription = %id, "the subscription kept changing meanwhile; its status stays as it was on the resource ($status has it)");
}

//! The dispatcher: the cluster's one reader of the outbox (it holds a lease; any node takes over
//! when it lapses). Each round takes the oldest changes in write order and, for every
//! subscription whose topic fires on a change (judged on the versions before and after it, in
//! memory), keeps the change when it matches the subscription's filters and the owner may see
//! it: one search per subscription and round (`_id` in the round's changes, plus the filters
//! and the owner's granular scopes), run as the owner, so the access policy decides exactly as
//! for the owner's own searches. Kept changes become the subscription's next numbered events and
//! the outbox rows go, in one transaction fenced by the lease. Subscriptions' own changes update
//! the dispatcher's view of them (and their state rows) in the same order.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use serde_json::Value;

use crate::access::scopes::Interaction;
use crate::clock::{Micros, now};
use crate::error::FhirResult;
use crate::notifier::Notifier;
use crate::session::Session;
use crate::store::ResourceVersion;
use crate::store::notifications::{self as stored, Dispatch, NewEvent, StateChange};
use crate::subscription::Accepted;

/// Changes taken per round.
const BATCH: usize = 256;
/// Ids per `_id` search, at most (and within the search budget's or-values).
const IDS_PER_SEARCH: usize = 100;
/// Subscriptions one owner (a user, or a backend client) may have on at once: every one is
/// judged on every change, so their number is bounded like any other input.
pub const MAX_PER_OWNER: usize = 50;

/// A subscription as the dispatcher watches it.
struct Watched {
    status: String,
    accepted: Accepted,
    resource: Value,
    /// The user or client that owns it (none: made with authorization off).
    owner: Option<String>,
    /// The owner's session, worked out once per policy generation (and again with each new
    /// version of the subscription, which replaces this).
    owner_session: Option<(i64, Session)>,
}

impl Watched {
    async fn owner_session(&mut self, n: &Notifier, generation: i64) -> FhirResult<Session> {
        if let Some((g, session)) = &self.owner_session
            && *g == generation
        {
            return Ok(session.clone());
        }
        // Kept across rounds, so it records nothing: what an owner is told is audited when it
        // is delivered.
        let session = crate::owner::session_of(n.server(), &self.resource).await?.recording_nothing();
        self.owner_session = Some((generation, session.clone()));
        Ok(session)
    }
}

fn owner_key(resource: &Value) -> Option<String> {
    crate::owner::Owner::of_subscription(resource).map(|o| o.user.unwrap_or(o.client))
}

/// Runs until `stop`: takes the lease when it is free, dispatches while it holds it.
pub async fn run(n: Notifier, mut stop: tokio::sync::watch::Receiver<bool>) {
    let lease = micros(n.config.lease);
    let idle = n.config.poll / 5;
    let mut held_until: Micros = 0;
    let mut next_try: Micros = 0;
    let mut watched: HashMap<String, Watched> = HashMap::new();
    loop {
        if *stop.borrow() {
            if held_until > 0 {
                stored::release_dispatcher(n.store(), &n.node).await.ok();
            }
            return;
        }
        let at = now();
        // Renewed when half of it is gone (each round renews it too); looked for every quarter
        // lease when another node has it.
        let renew = if held_until > 0 { at > held_until - lease / 2 } else { at >= next_try };
        if renew {
            match stored::claim_dispatcher(n.store(), &n.node, at, at + lease).await {
                Ok(true) => {
                    if held_until == 0 {
                        watched = load(&n).await.unwrap_or_default();
                        tracing::info!(subscriptions = watched.len(), "this node dispatches notifications");
                    }
                    held_until = at + lease;
                }
                Ok(false) => {
                    held_until = 0;
                    next_try = at + lease / 4;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "notification dispatcher lease");
                    held_until = 0;
                    next_try = at + lease / 4;
                }
            }
        }
        if held_until > 0 {
            loop {
                let until = now() + lease;
                match round(&n, &mut watched, until).await {
                    Ok(Some(more)) => {
                        held_until = until;
                        if !more {
                            break;
                        }
                    }
                    Ok(None) => {
                        held_until = 0;
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "a notification dispatch round failed; it is tried again");
                        // Reloaded when the lease is taken again, a little later.
                        held_until = 0;
                        next_try = now() + lease / 8;
                        break;
                    }
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(idle) => {}
            _ = stop.changed() => {}
        }
    }
}

fn micros(d: Duration) -> Micros {
    d.as_micros() as Micros
}

/// Every subscription not `off`, as recorded.
async fn load(n: &Notifier) -> FhirResult<HashMap<String, Watched>> {
    let mut out = HashMap::new();
    for row in stored::live_subscriptions(n.store()).await? {
        let Ok(resource) = serde_json::from_str::<Value>(&row.resource) else { continue };
        if let Ok(accepted) = crate::rule::accepted(n.server().fhir(), &resource) {
            let owner = owner_key(&resource);
            out.insert(row.id, Watched { status: row.status, accepted, resource, owner, owner_session: None });
        }
    }
    Ok(out)
}

/// One round: `Some(true)` when more changes may wait, `Some(false)` when the outbox is empty,
/// `None` when the lease was lost (nothing was written).
async fn round(n: &Notifier, watched: &mut HashMap<String, Watched>, until: Micros) -> FhirResult<Option<bool>> {
    let changes = stored::pending_changes(n.store(), BATCH).await?;
    if changes.is_empty() {
        return Ok(Some(false));
    }
    // With nothing watched only Subscriptions' own changes matter (no topic can fire).
    let judging = !watched.is_empty();
    let keys: Vec<(String, String, i64)> = changes
        .iter()
        .filter(|c| judging && c.version > 1 && c.resource_type != "Subscription")
        .map(|c| (c.resource_type.clone(), c.id.clone(), c.version - 1))
        .collect();
    let before: HashMap<(String, String, i64), Value> = n
        .store()
        .versions(&keys)
        .await?
        .into_iter()
        .filter_map(|v| Some(((v.resource_type.clone(), v.id.clone(), v.version), parse(&v)?)))
        .collect();

    let mut round = Dispatch::default();
    let mut turned_off: Vec<String> = Vec::new();
    // Subscription id → the changes (indexes into `changes`) its topic fires on, in order.
    let mut fired: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, change) in changes.iter().enumerate() {
        round.done.push(change.seq);
        if change.resource_type != "Subscription" && watched.is_empty() {
            continue;
        }
        let after = parse(change);
        if change.resource_type == "Subscription" {
            // Subscriptions are not events themselves (their status changes would notify
            // about notifications).
            if !watch(n, watched, change, after, &mut round.states) {
                turned_off.push(change.id.clone());
            }
            continue;
        }
        let before = before.get(&(change.resource_type.clone(), change.id.clone(), change.version - 1));
        for (id, w) in watched.iter() {
            if w.status != "off" && w.accepted.topic.fires(before, after.as_ref()) {
                fired.entry(id.clone()).or_default().push(i);
            }
        }
    }
    // Each change's index rows, worked out once for all the subscriptions it concerns.
    let mut prepared = Prepared::new(n.server());
    if !fired.is_empty() {
        let generation = n.server().policy_generation().await?;
        for (id, indexes) in fired {
            let Some(w) = watched.get_mut(&id) else { continue };
            let session = match w.owner_session(n, generation).await {
                Ok(session) => session,
                Err(e) => {
                    tracing::warn!(subscription = %id, error = %e, "the subscription's owner cannot be worked out");
                    continue;
                }
            };
            for i in kept(&session, w, &changes, &indexes, &mut prepared).await {
                let c = &changes[i];
                round.events.push(NewEvent {
                    subscription: id.clone(),
                    resource_type: c.resource_type.clone(),
                    id: c.id.clone(),
                    version: c.version,
                    at: c.last_updated,
                });
            }
        }
    }
    let made = round.events.len();
    match stored::record_dispatch(n.store(), &n.node, until, round).await? {
        None => Ok(None),
        Some(numbered) => {
            for id in turned_off {
                let why = format!("its owner has {MAX_PER_OWNER} subscriptions on already");
                crate::deliver::set_status(n.server(), &id, "off", Some(&why)).await;
            }
            if made > 0 {
                metrics::counter!("ikp_notification_events_total").increment(made as u64);
                tracing::debug!(events = made, subscriptions = numbered.len(), "notification events");
                n.wake.notify_waiters();
            }
            Ok(Some(changes.len() == BATCH))
        }
    }
}

fn parse(version: &ResourceVersion) -> Option<Value> {
    serde_json::from_str(version.content.as_deref()?).ok()
}

/// Follows a change of a Subscription: its state row, and the dispatcher's view. False when the
/// subscription is turned off because its owner has too many on.
fn watch(
    n: &Notifier,
    watched: &mut HashMap<String, Watched>,
    change: &ResourceVersion,
    after: Option<Value>,
    states: &mut Vec<StateChange>,
) -> bool {
    let id = change.id.clone();
    let Some(resource) = after else {
        watched.remove(&id);
        states.push(StateChange::Remove { id });
        return true;
    };
    let accepted = match crate::rule::accepted(n.server().fhir(), &resource) {
        Ok(accepted) => accepted,
        Err(why) => {
            // Only the server's own writes skip the check; such a subscription is not served.
            tracing::warn!(subscription = %id, reason = %why, "a stored Subscription cannot be served");
            watched.remove(&id);
            states.push(StateChange::Remove { id });
            return true;
        }
    };
    let mut status = resource.get("status").and_then(Value::as_str).unwrap_or("requested").to_string();
    let owner = owner_key(&resource);
    let over_limit = status != "off"
        && owner.is_some()
        && !watched.contains_key(&id)
        && watched.values().filter(|w| w.owner == owner).count() >= MAX_PER_OWNER;
    if over_limit {
        status = "off".into();
    }
    states.push(StateChange::Upsert {
        id: id.clone(),
        status: status.clone(),
        channel: accepted.channel.code().to_string(),
        resource: resource.to_string(),
        heartbeat: accepted.heartbeat_seconds.map_or(0, |s| i64::from(s) * 1_000_000),
    });
    if status == "off" {
        watched.remove(&id);
    } else {
        watched.insert(id, Watched { status, accepted, resource, owner, owner_session: None });
    }
    !over_limit
}

/// Changes prepared for judging in memory, each once per round.
struct Prepared<'s> {
    server: &'s Session,
    versions: HashMap<usize, Option<crate::session::Prepared>>,
}

impl<'s> Prepared<'s> {
    fn new(server: &'s Session) -> Prepared<'s> {
        Prepared { server, versions: HashMap::new() }
    }

    fn get(&mut self, i: usize, change: &ResourceVersion) -> Option<&crate::session::Prepared> {
        let server = self.server;
        self.versions.entry(i).or_insert_with(|| server.prepare(change)).as_ref()
    }
}

/// The changes (of `indexes`) the owner may be told about and that match the filters: decided
/// in memory on the changed version where the filters are token and reference conditions, else
/// by one search per subscription and round (on the current versions).
async fn kept(
    session: &Session,
    w: &Watched,
    changes: &[ResourceVersion],
    indexes: &[usize],
    prepared: &mut Prepared<'_>,
) -> Vec<usize> {
    let t = w.accepted.topic.resource_type;
    // The owner's token must allow searching the type; its granular scopes narrow it.
    let granular = match session.caller() {
        Some(caller) => match caller.grant(t, Interaction::Search) {
            Ok(pairs) => pairs,
            Err(_) => return Vec::new(),
        },
        None => Vec::new(),
    };
    let filters: Vec<(&str, String)> = w.accepted.filters.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    // Parsed once for every change of the round (a filter that cannot be parsed now is left to
    // the search, which reports it).
    let judging = session.judging(t, &filters).ok();
    // An unconfined owner without filters may be told of every change: nothing to judge.
    let everything = session.caller().is_none() && filters.is_empty();
    // Per change (by index): decided in memory, or left to the search (by id).
    let mut decided: HashMap<usize, bool> = HashMap::new();
    let mut searched: Vec<&str> = Vec::new();
    for &i in indexes {
        let c = &changes[i];
        if c.is_deleted() {
            continue;
        }
        if everything {
            decided.insert(i, true);
            continue;
        }
        let decided_here = judging.as_ref().and_then(|j| session.sees_matching(prepared.get(i, c)?, j));
        match decided_here {
            Some(held) => {
                decided.insert(i, held);
            }
            _ => searched.push(c.id.as_str()),
        }
    }
    searched.sort_unstable();
    searched.dedup();
    let mut found: HashSet<String> = HashSet::new();
    // The conditions count too: a filter of many values leaves fewer for the ids.
    let per_search = IDS_PER_SEARCH.min(session.limits.or_values).min(session.limits.conditions / 2).max(1);
    for chunk in searched.chunks(per_search) {
        let mut pairs: Vec<(&str, String)> = vec![("_id", chunk.join(","))];
        pairs.extend(filters.iter().cloned());
        pairs.extend(granular.iter().map(|(k, v)| (k.as_str(), v.clone())));
        match session.find(&[t], &pairs, chunk.len()).await {
            Ok(versions) => found.extend(versions.into_iter().map(|v| v.id)),
            Err(e) => tracing::warn!(error = %e, "a subscription's filters could not be evaluated"),
        }
    }
    // A deleted resource is found by no search: told only to subscriptions without filters
    // whose owner could see the version it deleted (judged together, as vreads would be).
    let deletions_told = filters.is_empty() && granular.is_empty();
    let mut deleted_seen: HashSet<(String, String, i64)> = HashSet::new();
    if deletions_told && !everything {
        let deleted: Vec<(String, String, i64)> = indexes
            .iter()
            .map(|&i| &changes[i])
            .filter(|c| c.is_deleted())
            .map(|c| (c.resource_type.clone(), c.id.clone(), c.version))
            .collect();
        if !deleted.is_empty() {
            match session.visible_versions(&deleted).await {
                Ok(seen) => deleted_seen.extend(seen.into_iter().map(|v| (v.resource_type, v.id, v.version))),
                Err(e) => tracing::warn!(error = %e, "deletions could not be judged for a subscription"),
            }
        }
    }
    let mut out = Vec::with_capacity(indexes.len());
    for &i in indexes {
        let c = &changes[i];
        let keep = if c.is_deleted() {
            deletions_told && (everything || deleted_seen.contains(&(c.resource_type.clone(), c.id.clone(), c.version)))
        } else {
            decided.get(&i).copied().unwrap_or_else(|| found.contains(&c.id))
        };
        if keep {
            out.push(i);
        }
    }
    out
}

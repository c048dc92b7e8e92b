//! Notifications as kept in the database (migration 0021): the outbox the write path fills, the
//! dispatcher's lease, each subscription's state and its numbered events. What the rows mean and
//! the workers that move them are in the `ikp-notify` crate.

use std::collections::HashMap;

use crate::sql::{self, Bind, Cell, Cells, Column, Sql};
use crate::{Micros, ResourceVersion, Store, StoreResult};

/// Versions of this type are not put in the outbox: the audit trail is written with every read,
/// and nobody subscribes to it.
pub const UNNOTIFIED_TYPE: &str = "AuditEvent";

/// The outbox rows of versions just written (one statement per chunk, in the write's
/// transaction).
pub(crate) fn outbox_insert(seqs: &[i64]) -> Sql {
    let mut sql = Sql::new("INSERT INTO change_outbox (seq) VALUES ");
    sql.values(seqs, |seq| vec![Bind::Int(*seq)]);
    sql
}

// ---- the dispatcher ---------------------------------------------------------------------------

/// Takes (or keeps) the cluster's one dispatcher lease until `until`: true when `holder` has it.
pub async fn claim_dispatcher(store: &dyn Store, holder: &str, now: Micros, until: Micros) -> StoreResult<bool> {
    let mut sql = Sql::new("UPDATE notification_dispatcher SET holder = ");
    sql.bind(text(holder))
        .push(", lease_until = ")
        .bind(Bind::Int(until))
        .push(" WHERE slot = 0 AND (holder = ")
        .bind(text(holder))
        .push(" OR holder IS NULL OR lease_until < ")
        .bind(Bind::Int(now))
        .push(")");
    Ok(store.execute(sql).await? == 1)
}

/// Gives the dispatcher lease back (on shutdown), so another node takes over at once.
pub async fn release_dispatcher(store: &dyn Store, holder: &str) -> StoreResult<()> {
    let mut sql = Sql::new("UPDATE notification_dispatcher SET holder = NULL, lease_until = 0 WHERE holder = ");
    sql.bind(text(holder));
    store.execute(sql).await?;
    Ok(())
}

/// The oldest `limit` changes waiting in the outbox, in write order.
pub async fn pending_changes(store: &dyn Store, limit: usize) -> StoreResult<Vec<ResourceVersion>> {
    let mut sql = Sql::new(&format!(
        "SELECT {} FROM change_outbox o JOIN resource_version v ON v.seq = o.seq ORDER BY o.seq LIMIT ",
        sql::VERSION_COLUMNS
    ));
    sql.bind(Bind::Int(limit as i64));
    store.query(sql, &sql::VERSION_CELLS).await?.iter().map(|row| sql::version_from_cells(row)).collect()
}

/// How many changes wait in the outbox (the gauge).
pub async fn outbox_len(store: &dyn Store) -> StoreResult<i64> {
    let rows = store.query(Sql::new("SELECT COUNT(*) FROM change_outbox"), &[Column::Int]).await?;
    Ok(rows.first().and_then(|r| r.first()).and_then(Cell::as_int).unwrap_or(0))
}

/// A subscription's state as the dispatcher records it from a version of the resource.
#[derive(Debug, Clone)]
pub enum StateChange {
    Upsert { id: String, status: String, channel: String, resource: String, heartbeat: Micros },
    Remove { id: String },
}

/// One event to number: the version it is about.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub subscription: String,
    pub resource_type: String,
    pub id: String,
    pub version: i64,
    pub at: Micros,
}

/// What one dispatch round decided, written at once.
#[derive(Debug, Default)]
pub struct Dispatch {
    pub states: Vec<StateChange>,
    /// In the order they are numbered within each subscription.
    pub events: Vec<NewEvent>,
    /// The outbox rows handled.
    pub done: Vec<i64>,
}

/// Writes a dispatch round in one transaction, fenced by the dispatcher lease (a dispatcher
/// that lost its lease writes nothing and gets false). Events take their subscription's next
/// numbers, so numbers have no gaps; those of a subscription now `off` (or gone) are dropped.
/// The subscriptions that got events, with their last number.
pub async fn record_dispatch(
    store: &dyn Store,
    holder: &str,
    until: Micros,
    round: Dispatch,
) -> StoreResult<Option<Vec<(String, i64)>>> {
    let mut tx = store.begin().await?;
    let mut fence = Sql::new("UPDATE notification_dispatcher SET lease_until = ");
    fence.bind(Bind::Int(until)).push(" WHERE slot = 0 AND holder = ").bind(text(holder)).push(" RETURNING slot");
    if tx.query(fence, &[Column::Int]).await?.is_empty() {
        tx.rollback().await;
        return Ok(None);
    }
    for change in &round.states {
        tx.query(state_statement(change), &[]).await?;
    }
    // Event counts per subscription, in first-seen order.
    let mut counts: Vec<(String, i64)> = Vec::new();
    let mut position: HashMap<&str, usize> = HashMap::new();
    for e in &round.events {
        match position.get(e.subscription.as_str()) {
            Some(&at) => counts[at].1 += 1,
            None => {
                position.insert(&e.subscription, counts.len());
                counts.push((e.subscription.clone(), 1));
            }
        }
    }
    let mut last_numbers: Vec<(String, i64)> = Vec::with_capacity(counts.len());
    for chunk in counts.chunks(sql::CHUNK / 4) {
        let mut sql = Sql::new("UPDATE subscription_state SET last_number = last_number + CASE id");
        for (id, n) in chunk {
            sql.push(" WHEN ").bind(text(id)).push(" THEN ").bind(Bind::Int(*n));
        }
        sql.push(" ELSE 0 END WHERE status <> 'off' AND id IN (");
        sql.list(chunk.iter().map(|(id, _)| text(id))).push(") RETURNING id, last_number");
        for row in tx.query(sql, &[Column::Text, Column::Int]).await? {
            let mut cells = Cells::new("subscription_state", &row);
            last_numbers.push((cells.text()?, cells.int()?));
        }
    }
    // Numbers: a subscription that got n events and now stands at `last` numbers them
    // last-n+1..=last, in the order of the round.
    let mut next: HashMap<&str, i64> = last_numbers
        .iter()
        .filter_map(|(id, last)| {
            let n = counts[*position.get(id.as_str())?].1;
            Some((id.as_str(), last - n + 1))
        })
        .collect();
    let mut rows: Vec<(i64, &NewEvent)> = Vec::with_capacity(round.events.len());
    for e in &round.events {
        if let Some(number) = next.get_mut(e.subscription.as_str()) {
            rows.push((*number, e));
            *number += 1;
        }
    }
    for chunk in rows.chunks(sql::CHUNK) {
        let mut sql =
            Sql::new("INSERT INTO subscription_event (subscription, number, res_type, res_id, version, at) VALUES ");
        sql.values(chunk, |(number, e)| {
            vec![
                text(&e.subscription),
                Bind::Int(*number),
                text(&e.resource_type),
                text(&e.id),
                Bind::Int(e.version),
                Bind::Int(e.at),
            ]
        });
        tx.query(sql, &[]).await?;
    }
    for chunk in round.done.chunks(sql::CHUNK) {
        let mut sql = Sql::new("DELETE FROM change_outbox WHERE seq IN (");
        sql.list(chunk.iter().map(|seq| Bind::Int(*seq))).push(")");
        tx.query(sql, &[]).await?;
    }
    tx.commit().await?;
    Ok(Some(last_numbers))
}

fn state_statement(change: &StateChange) -> Sql {
    match change {
        StateChange::Upsert { id, status, channel, resource, heartbeat } => {
            let mut sql = Sql::new(
                "INSERT INTO subscription_state (id, status, channel, resource, heartbeat, last_number, delivered, \
                 failures, next_attempt, last_sent, lease_until) VALUES (",
            );
            sql.bind(text(id))
                .push(", ")
                .bind(text(status))
                .push(", ")
                .bind(text(channel))
                .push(", ")
                .bind(text(resource))
                .push(", ")
                .bind(Bind::Int(*heartbeat))
                .push(
                    ", 0, 0, 0, 0, 0, 0) ON CONFLICT (id) DO UPDATE SET status = excluded.status, \
                     channel = excluded.channel, resource = excluded.resource, heartbeat = excluded.heartbeat, \
                     failures = CASE WHEN excluded.status = 'requested' THEN 0 ELSE subscription_state.failures END, \
                     next_attempt = CASE WHEN excluded.status = 'requested' THEN 0 \
                     ELSE subscription_state.next_attempt END",
                );
            sql
        }
        StateChange::Remove { id } => {
            let mut sql = Sql::new("DELETE FROM subscription_state WHERE id = ");
            sql.bind(text(id));
            sql
        }
    }
}

// ---- subscriptions and their events ---------------------------------------------------------------

/// A subscription's row.
#[derive(Debug, Clone)]
pub struct SubscriptionRow {
    pub id: String,
    pub status: String,
    pub channel: String,
    /// The Subscription JSON the dispatcher last recorded.
    pub resource: String,
    pub heartbeat: Micros,
    pub last_number: i64,
    pub delivered: i64,
    pub failures: i64,
    pub next_attempt: Micros,
    pub last_sent: Micros,
    pub error: Option<String>,
}

const ROW_COLUMNS: &str =
    "id, status, channel, resource, heartbeat, last_number, delivered, failures, next_attempt, last_sent, error";
const ROW_CELLS: &[Column] = &[
    Column::Text,
    Column::Text,
    Column::Text,
    Column::Text,
    Column::Int,
    Column::Int,
    Column::Int,
    Column::Int,
    Column::Int,
    Column::Int,
    Column::Text,
];

fn row_from(row: &[Cell]) -> StoreResult<SubscriptionRow> {
    let mut c = Cells::new("subscription_state", row);
    Ok(SubscriptionRow {
        id: c.text()?,
        status: c.text()?,
        channel: c.text()?,
        resource: c.text()?,
        heartbeat: c.int()?,
        last_number: c.int()?,
        delivered: c.int()?,
        failures: c.int()?,
        next_attempt: c.int()?,
        last_sent: c.int()?,
        error: c.optional_text(),
    })
}

/// Every subscription not `off` (the dispatcher's view when it takes the lease).
pub async fn live_subscriptions(store: &dyn Store) -> StoreResult<Vec<SubscriptionRow>> {
    let sql = Sql::new(&format!("SELECT {ROW_COLUMNS} FROM subscription_state WHERE status <> 'off'"));
    store.query(sql, ROW_CELLS).await?.iter().map(|r| row_from(r)).collect()
}

pub async fn subscription(store: &dyn Store, id: &str) -> StoreResult<Option<SubscriptionRow>> {
    let mut sql = Sql::new(&format!("SELECT {ROW_COLUMNS} FROM subscription_state WHERE id = "));
    sql.bind(text(id));
    store.query(sql, ROW_CELLS).await?.first().map(|r| row_from(r)).transpose()
}

/// Takes a subscription overdue for delivery on one of `channels` whose lease is free:
/// one waiting for its handshake, with undelivered events, or due a heartbeat. Held by `holder`
/// until `until`.
pub async fn claim_due(
    store: &dyn Store,
    channels: &[&str],
    holder: &str,
    now: Micros,
    until: Micros,
) -> StoreResult<Option<SubscriptionRow>> {
    let mut pick =
        Sql::new("SELECT id FROM subscription_state WHERE status IN ('requested', 'active', 'error') AND channel IN (");
    pick.list(channels.iter().map(|c| text(c)))
        .push(") AND next_attempt <= ")
        .bind(Bind::Int(now))
        .push(" AND lease_until < ")
        .bind(Bind::Int(now))
        .push(" AND (status = 'requested' OR delivered < last_number OR (heartbeat > 0 AND last_sent + heartbeat <= ")
        .bind(Bind::Int(now))
        .push(")) ORDER BY next_attempt LIMIT 8");
    // Workers racing for the first one try the next.
    for row in store.query(pick, &[Column::Text]).await? {
        let Some(id) = row.first().and_then(Cell::as_text) else { continue };
        if let Some(taken) = claim(store, id, holder, now, until).await? {
            return Ok(Some(taken));
        }
    }
    Ok(None)
}

/// Takes one subscription's delivery lease when it is free (or already `holder`'s).
pub async fn claim(
    store: &dyn Store,
    id: &str,
    holder: &str,
    now: Micros,
    until: Micros,
) -> StoreResult<Option<SubscriptionRow>> {
    let mut take = Sql::new("UPDATE subscription_state SET lease_holder = ");
    take.bind(text(holder))
        .push(", lease_until = ")
        .bind(Bind::Int(until))
        .push(" WHERE id = ")
        .bind(text(id))
        .push(" AND (lease_until < ")
        .bind(Bind::Int(now))
        .push(" OR lease_holder = ")
        .bind(text(holder))
        .push(&format!(") RETURNING {ROW_COLUMNS}"));
    // A statement that writes, so in a transaction (plain queries may go to read-only pools).
    let mut tx = store.begin().await?;
    let taken = tx.query(take, ROW_CELLS).await?.first().map(|r| row_from(r)).transpose()?;
    tx.commit().await?;
    Ok(taken)
}

/// Gives a subscription's delivery lease back.
pub async fn release(store: &dyn Store, id: &str, holder: &str) -> StoreResult<()> {
    let mut sql = Sql::new("UPDATE subscription_state SET lease_holder = NULL, lease_until = 0 WHERE id = ");
    sql.bind(text(id)).push(" AND lease_holder = ").bind(text(holder));
    store.execute(sql).await?;
    Ok(())
}

/// How a delivery attempt ended, recorded under the lease, which it renews until `lease_until`
/// (false: the lease was lost).
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Everything up to `through` was delivered; `status` is the subscription's status now.
    Delivered { through: i64, status: String },
    /// The attempt failed; try again at `next_attempt`.
    Failed { failures: i64, next_attempt: Micros, status: String, error: String },
}

pub async fn record_attempt(
    store: &dyn Store,
    id: &str,
    holder: &str,
    now: Micros,
    lease_until: Micros,
    outcome: &Outcome,
) -> StoreResult<bool> {
    let mut sql = Sql::new("UPDATE subscription_state SET lease_until = ");
    sql.bind(Bind::Int(lease_until)).push(", ");
    match outcome {
        Outcome::Delivered { through, status } => {
            sql.push("delivered = CASE WHEN delivered < ")
                .bind(Bind::Int(*through))
                .push(" THEN ")
                .bind(Bind::Int(*through))
                .push(" ELSE delivered END, failures = 0, next_attempt = 0, error = NULL, last_sent = ")
                .bind(Bind::Int(now))
                .push(", status = ")
                .bind(text(status));
        }
        Outcome::Failed { failures, next_attempt, status, error } => {
            sql.push("failures = ")
                .bind(Bind::Int(*failures))
                .push(", next_attempt = ")
                .bind(Bind::Int(*next_attempt))
                .push(", status = ")
                .bind(text(status))
                .push(", error = ")
                .bind(text(error));
        }
    }
    sql.push(" WHERE id = ").bind(text(id)).push(" AND lease_holder = ").bind(text(holder));
    Ok(store.execute(sql).await? == 1)
}

/// One numbered event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub number: i64,
    pub resource_type: String,
    pub id: String,
    pub version: i64,
    pub at: Micros,
}

/// Events `from..=through` of a subscription, at most `limit`, in number order.
pub async fn events(
    store: &dyn Store,
    subscription: &str,
    from: i64,
    through: i64,
    limit: usize,
) -> StoreResult<Vec<StoredEvent>> {
    let mut sql =
        Sql::new("SELECT number, res_type, res_id, version, at FROM subscription_event WHERE subscription = ");
    sql.bind(text(subscription))
        .push(" AND number >= ")
        .bind(Bind::Int(from))
        .push(" AND number <= ")
        .bind(Bind::Int(through))
        .push(" ORDER BY number LIMIT ")
        .bind(Bind::Int(limit as i64));
    let rows = store.query(sql, &[Column::Int, Column::Text, Column::Text, Column::Int, Column::Int]).await?;
    rows.iter()
        .map(|row| {
            let mut c = Cells::new("subscription_event", row);
            Ok(StoredEvent {
                number: c.int()?,
                resource_type: c.text()?,
                id: c.text()?,
                version: c.int()?,
                at: c.int()?,
            })
        })
        .collect()
}

/// Forgets a subscription's delivered events but the newest `keep` of them (`$events` answers
/// from what remains).
pub async fn prune_events(store: &dyn Store, subscription: &str, keep: i64) -> StoreResult<u64> {
    let mut sql = Sql::new("DELETE FROM subscription_event WHERE subscription = ");
    sql.bind(text(subscription))
        .push(" AND number <= (SELECT delivered FROM subscription_state WHERE id = ")
        .bind(text(subscription))
        .push(") - ")
        .bind(Bind::Int(keep));
    store.execute(sql).await
}

fn text(value: &str) -> Bind {
    Bind::Text(value.to_string())
}

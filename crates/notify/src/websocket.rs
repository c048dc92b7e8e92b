//! Websocket notifications. A subscriber with a websocket subscription asks
//! `Subscription/[id]/$get-ws-binding-token` for a short-lived token (signed with the secret all
//! nodes share, so any node accepts it), opens the server's websocket and sends
//! `bind-with-token <token>`. The node holding the socket then holds the subscription's delivery
//! lease while the socket is open and sends a handshake, the events not yet delivered (in order,
//! each recorded as delivered once written to the socket) and heartbeats. A subscriber that was
//! away asks `$events` for what it missed.

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use tokio::sync::{OwnedSemaphorePermit, mpsc};

use crate::clock::{Micros, now};
use crate::deliver;
use crate::notifier::Notifier;
use crate::store::notifications as stored;
use crate::subscription::{self, Kind, Status};

/// How long a binding token may be used.
pub const TOKEN_SECONDS: i64 = 300;
/// The shared secret binding tokens are signed with.
pub const SECRET_NAME: &str = "websocket-binding";
/// Where websockets are served, below the server's origin.
pub const PATH: &str = "/notifications/websocket";

/// The websocket URL of a server whose FHIR base is `base_url`.
pub fn url(base_url: &str) -> String {
    let ws = if let Some(rest) = base_url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else {
        format!("ws://{}", base_url.strip_prefix("http://").unwrap_or(base_url))
    };
    let origin_end = ws.find("://").map_or(0, |i| i + 3);
    let origin = match ws[origin_end..].find('/') {
        Some(slash) => &ws[..origin_end + slash],
        None => &ws,
    };
    format!("{origin}{PATH}")
}

/// A token binding a socket to subscription `id` until `expires` (epoch microseconds).
pub fn token_with_key(key: &[u8], id: &str, expires: Micros) -> String {
    format!("{id}.{expires}.{}", mac(key, id, expires))
}

fn mac(key: &[u8], id: &str, expires: Micros) -> String {
    let sign = || -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let key = PKey::hmac(key)?;
        let mut signer = Signer::new(MessageDigest::sha256(), &key)?;
        signer.update(format!("ws-binding\n{id}\n{expires}").as_bytes())?;
        signer.sign_to_vec()
    };
    sign().unwrap_or_default().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// A place on this node for one socket until it binds (the permit is given back when dropped):
/// `None` when `max_unbound_sockets` are open and waiting already. Anyone may open a socket,
/// while bound ones are bounded by the subscriptions (one socket each, so many per owner).
pub fn admit(n: &Notifier) -> Option<OwnedSemaphorePermit> {
    n.unbound.clone().try_acquire_owned().ok()
}

/// The subscription a `bind-with-token <token>` message binds, or why not.
pub fn bind(n: &Notifier, message: &str) -> Result<String, String> {
    let token = message.trim().strip_prefix("bind-with-token ").ok_or("expected: bind-with-token <token>")?;
    let mut parts = token.trim().splitn(3, '.');
    let (Some(id), Some(expires), Some(given)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("the token is not one of this server's".into());
    };
    let expires: Micros = expires.parse().map_err(|_| "the token is not one of this server's")?;
    let expected = mac(&n.binding_key, id, expires);
    if expected.is_empty() || !openssl::memcmp::eq(expected.as_bytes(), given.as_bytes()) || given.len() != 32 {
        return Err("the token is not one of this server's".into());
    }
    if expires < now() {
        return Err("the token has expired; ask $get-ws-binding-token again".into());
    }
    Ok(id.to_string())
}

/// Serves a socket bound to subscription `id` until it closes: what to send goes to `out`.
pub async fn serve(n: Notifier, id: String, out: mpsc::Sender<String>) {
    let lease = n.config.lease.as_micros() as Micros;
    let holder = format!("{}/socket/{}", n.node, uuid::Uuid::new_v4());
    // A subscription written a moment ago may not be dispatched yet: it is waited for briefly.
    let patience = now() + lease.min(5_000_000);
    let row = loop {
        let at = now();
        match stored::claim(n.store(), &id, &holder, at, at + lease).await {
            Ok(Some(row)) if row.channel == "websocket" && row.status != "off" => break row,
            Ok(None) if at < patience && matches!(stored::subscription(n.store(), &id).await, Ok(None)) => {
                tokio::time::sleep(n.config.poll / 5).await;
            }
            _ => {
                stored::release(n.store(), &id, &holder).await.ok();
                let refusal = r#"{"error":"the subscription is not a websocket subscription that is on, or another socket is bound to it"}"#;
                out.send(refusal.into()).await.ok();
                return;
            }
        }
    };
    let at = now();
    let mut held_until = at + lease;
    // The handshake of this binding.
    if row.status != "requested" && out.send(handshake(&n, &row)).await.is_err() {
        stored::release(n.store(), &id, &holder).await.ok();
        return;
    }
    loop {
        let at = now();
        if at > held_until - lease / 2 {
            match stored::claim(n.store(), &id, &holder, at, at + lease).await {
                Ok(Some(_)) => held_until = at + lease,
                _ => return,
            }
        }
        let row = match stored::subscription(n.store(), &id).await {
            Ok(Some(row)) if row.status != "off" && row.channel == "websocket" => row,
            _ => break,
        };
        let due = row.status == "requested"
            || row.delivered < row.last_number
            || (row.heartbeat > 0 && row.last_sent + row.heartbeat <= at);
        if due {
            let started = now();
            let sent = match deliver::next_notification(&n, &row).await {
                Ok(due) => {
                    if out.send(due.bundle.to_string()).await.is_err() {
                        break;
                    }
                    Ok(due.sent())
                }
                Err(why) => Err(why),
            };
            deliver::record(&n, &holder, &row, sent, started).await;
            continue;
        }
        tokio::select! {
            _ = n.wake.notified() => {}
            _ = tokio::time::sleep(n.config.poll) => {}
            _ = out.closed() => break,
        }
    }
    stored::release(n.store(), &id, &holder).await.ok();
}

fn handshake(n: &Notifier, row: &stored::SubscriptionRow) -> String {
    let topic = serde_json::from_str::<serde_json::Value>(&row.resource)
        .ok()
        .and_then(|r| r.get("criteria").and_then(|c| c.as_str()).map(str::to_string))
        .unwrap_or_default();
    let status = Status {
        base: &n.server().base_url,
        subscription_id: &row.id,
        topic_url: &topic,
        status: &row.status,
        kind: Kind::Handshake,
        events_since_start: u64::try_from(row.last_number).unwrap_or(0),
    };
    subscription::notification(&status, &[], subscription::Content::Empty).to_string()
}

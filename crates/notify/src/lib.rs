//! Notifications: topic-based Subscriptions after the Subscriptions R5 Backport IG.
//!
//! - [`subscription`]: what a `Subscription` may ask for, and the notification Bundles;
//! - [`rule`]: the server-managed parts of every Subscription written (its owner, its status);
//! - [`owner`]: whose reach a subscription's notifications keep to;
//! - [`dispatch`]: the cluster's one dispatcher (a lease) turning the outbox, which the write path
//!   fills in the same transaction as each change, into numbered events per subscription, after
//!   the topic's trigger, the subscription's filters and the owner's access policy;
//! - [`deliver`]: delivery workers on every node (a lease per subscription), at least once and
//!   in number order, with retries, `error` and `off`; [`channels`] are how;
//! - [`operations`]: `$status`, `$events`, `$get-ws-binding-token`; [`websocket`]: the bound
//!   socket's session.

pub mod channels;
pub mod deliver;
pub mod demo;
pub mod dispatch;
pub mod operations;
pub mod owner;
pub mod rule;
pub mod subscription;
pub mod websocket;

mod notifier;

pub use notifier::{Config, Notifier};

// The layers below, under the names the modules use.
use ikp_core::{access, audit, context, error, session};
use ikp_model::{clock, outcome};
use ikp_national::topics;
use ikp_store as store;

/// The server's SubscriptionTopics, as the backport IG publishes them on R4 (`Basic`), stored at
/// start-up so that clients can read and search them.
pub fn published_topics() -> Vec<serde_json::Value> {
    topics::NATIONAL.iter().map(|t| t.as_basic()).collect()
}

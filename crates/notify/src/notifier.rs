//! What a node's notification workers share.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, Notify, Semaphore};

use crate::session::{AuditQueue, Session, Unconfined};

/// How the workers behave (from `ikp serve`'s options).
#[derive(Debug, Clone)]
pub struct Config {
    /// Delivery workers on this node (0: none; the dispatcher runs on every node regardless).
    pub workers: usize,
    /// How long the dispatcher or a delivery worker keeps its lease without renewing it: after a
    /// node dies, another takes over its work this long after its last renewal.
    pub lease: Duration,
    /// How often idle workers look for work another node made (work made on this node wakes
    /// them at once).
    pub poll: Duration,
    /// The first retry's delay after a failed delivery; each further failure doubles it, up to
    /// `max_retry_delay`.
    pub retry_delay: Duration,
    pub max_retry_delay: Duration,
    /// Failures in a row after which a subscription is `error` (still retried), and `off`.
    pub error_after: i64,
    pub off_after: i64,
    /// Where e-mail notifications are written (an mbox file), instead of an SMTP server.
    pub mail_outbox: Option<PathBuf>,
    /// Delivered events kept per subscription for `$events`.
    pub keep_events: i64,
    /// Whether rest-hook endpoints may be on loopback, private or link-local addresses.
    pub private_endpoints: bool,
    /// Websockets this node keeps open before they bind (see `crate::websocket::admit`).
    pub max_unbound_sockets: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            workers: 4,
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(250),
            retry_delay: Duration::from_secs(1),
            max_retry_delay: Duration::from_secs(600),
            error_after: 3,
            off_after: 10,
            mail_outbox: None,
            keep_events: 1000,
            private_endpoints: false,
            max_unbound_sockets: 1024,
        }
    }
}

/// One node's notification machinery.
#[derive(Clone)]
pub struct Notifier {
    /// The server's own work: its state tables, status changes.
    pub(crate) worker: Unconfined,
    /// This node's name in leases.
    pub node: Arc<str>,
    pub config: Arc<Config>,
    /// Woken when this node made events, or a websocket bound.
    pub(crate) wake: Arc<Notify>,
    pub(crate) http: reqwest::Client,
    /// One writer of the mail outbox at a time.
    pub(crate) mail: Arc<Mutex<()>>,
    /// Signs websocket binding tokens (the secret every node shares).
    pub(crate) binding_key: Arc<[u8]>,
    /// Where what owners are told is audited (none: not audited, as with authorization off).
    pub(crate) audit: Option<Arc<AuditQueue>>,
    /// Places for websockets that have not bound yet.
    pub(crate) unbound: Arc<Semaphore>,
}

impl Notifier {
    pub fn new(worker: Unconfined, config: Config, binding_key: Vec<u8>, audit: Option<Arc<AuditQueue>>) -> Notifier {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Notifier {
            worker,
            node: Arc::from(uuid::Uuid::new_v4().to_string()),
            wake: Arc::default(),
            http,
            mail: Arc::default(),
            binding_key: Arc::from(binding_key),
            audit,
            unbound: Arc::new(Semaphore::new(config.max_unbound_sockets.min(Semaphore::MAX_PERMITS))),
            config: Arc::new(config),
        }
    }

    /// Starts this node's dispatcher and delivery workers; they stop when `stop` turns true.
    pub fn spawn(&self, stop: tokio::sync::watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = vec![tokio::spawn(crate::dispatch::run(self.clone(), stop.clone()))];
        for _ in 0..self.config.workers {
            tasks.push(tokio::spawn(crate::deliver::run(self.clone(), stop.clone())));
        }
        tasks
    }

    /// Changes waiting for the dispatcher (the metrics gauge).
    pub async fn outbox_len(&self) -> crate::store::StoreResult<i64> {
        crate::store::notifications::outbox_len(self.store()).await
    }

    pub(crate) fn store(&self) -> &dyn crate::store::Store {
        self.worker.store()
    }

    /// The server's own session (unconfined, not audited).
    pub fn server(&self) -> &Session {
        self.worker.session()
    }
}

//! The queue of read audits. Requests hand their [`Access`] over without waiting for a database
//! write; one writer task stores them in batches (at most every 100 ms, 1,000 at a time), naming
//! each event's patient from the compartment index in one query per batch. On a graceful stop the
//! queue is closed and drained before the store closes, so no accepted event is lost; a crash can
//! lose at most the last batch window of read events (changes are audited in their own
//! transaction and never depend on this queue).
//!
//! The queue is unbounded, so it never drops an event for being full; an event is lost only when
//! it is sent after the queue closed, or when its batch still cannot be stored after five tries.
//! Both are counted (`ikp_audit_events_dropped_total{reason}`), with the depth (sampled at
//! scrape) and the size of each stored batch (`ikp_audit_batch_size`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::prepare::{NextVersion, new_id, stamp};
use crate::audit::{Access, events};
use crate::context::Fhir;
use crate::error::FhirResult;
use crate::store::{Method, Store};

const BATCH: usize = 1000;
const WINDOW: Duration = Duration::from_millis(100);

pub struct AuditQueue {
    sender: mpsc::UnboundedSender<Access>,
    /// Events sent and not yet taken by the writer.
    queued: Arc<AtomicUsize>,
    stop: Mutex<Option<(oneshot::Sender<()>, JoinHandle<()>)>>,
}

impl AuditQueue {
    /// Starts the writer task over the session's store.
    pub fn start(session: &super::Session) -> AuditQueue {
        let (sender, receiver) = mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let writer =
            Writer { fhir: session.fhir().clone(), store: session.shared.store.clone(), queued: queued.clone() };
        let handle = tokio::spawn(run(writer, receiver, stop_rx));
        AuditQueue { sender, queued, stop: Mutex::new(Some((stop_tx, handle))) }
    }

    pub fn send(&self, access: Access) {
        self.queued.fetch_add(1, Ordering::Relaxed);
        if self.sender.send(access).is_err() {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            metrics::counter!("ikp_audit_events_dropped_total", "reason" => "queue-closed").increment(1);
            tracing::error!("the audit queue is closed; an access could not be audited");
        }
    }

    /// Events waiting to be stored (sent, not yet taken into a batch).
    pub fn depth(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Closes the queue and waits until everything in it is stored.
    pub async fn stop(&self) {
        let taken = self.stop.lock().ok().and_then(|mut s| s.take());
        if let Some((stop, handle)) = taken {
            stop.send(()).ok();
            handle.await.ok();
        }
    }
}

/// What the writer task holds: the server's context and the database.
struct Writer {
    fhir: Fhir,
    store: Arc<dyn Store>,
    queued: Arc<AtomicUsize>,
}

async fn run(writer: Writer, mut receiver: mpsc::UnboundedReceiver<Access>, mut stop: oneshot::Receiver<()>) {
    let mut stopping = false;
    loop {
        let first = if stopping {
            receiver.recv().await
        } else {
            tokio::select! {
                next = receiver.recv() => next,
                _ = &mut stop => {
                    // No new events; what is queued is drained below.
                    stopping = true;
                    receiver.close();
                    continue;
                }
            }
        };
        let Some(first) = first else { break };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + WINDOW;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(Some(access)) => batch.push(access),
                _ => break,
            }
        }
        writer.queued.fetch_sub(batch.len(), Ordering::Relaxed);
        metrics::histogram!("ikp_audit_batch_size").record(batch.len() as f64);
        let mut attempt = 0;
        while let Err(e) = store(&writer, &batch).await {
            attempt += 1;
            if attempt >= 5 {
                tracing::error!(error = %e, events = batch.len(), "audit events could not be stored");
                metrics::counter!("ikp_audit_events_dropped_total", "reason" => "store-failed")
                    .increment(batch.len() as u64);
                break;
            }
            tracing::warn!(error = %e, "storing audit events failed; retrying");
            tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
        }
    }
}

/// Stores a batch: the patients of current versions looked up once, events split per patient, one transaction.
async fn store(writer: &Writer, batch: &[Access]) -> FhirResult<()> {
    let mut keys: Vec<(String, String)> =
        batch.iter().flat_map(|a| a.entities.iter().filter(|e| e.patients.is_none()).map(|e| e.key())).collect();
    keys.sort();
    keys.dedup();
    let mut tx = writer.store.begin().await?;
    let mut patients: HashMap<(String, String), Vec<String>> = HashMap::new();
    for (key, compartments) in tx.current_compartments(&keys).await? {
        let ids: Vec<String> = compartments.into_iter().filter(|(t, _)| t == "Patient").map(|(_, id)| id).collect();
        patients.insert(key, ids);
    }
    let mut versions = Vec::new();
    for access in batch {
        for event in events(access, |key| patients.get(key).cloned().unwrap_or_default()) {
            let id = new_id();
            let target = NextVersion { resource_type: "AuditEvent", id: &id, version: 1, replaces_index: false };
            versions.push(stamp(&writer.fhir, event, target, access.recorded, Method::Create)?);
        }
    }
    tx.put(versions).await?;
    tx.commit().await?;
    Ok(())
}

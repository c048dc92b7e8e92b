//! The queue of read audits. Requests hand their [`Access`] over without waiting for a database
//! write; one writer task stores them in batches (at most every 100 ms, 1,000 at a time), naming
//! each event's patient from the compartment index in one query per batch. On a graceful stop the
//! queue is closed and drained before the store closes, so no accepted event is lost; a crash can
//! lose at most the last batch window of read events (changes are audited in their own
//! transaction and never depend on this queue).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{Access, events};
use crate::error::FhirResult;
use crate::interaction::Fhir;
use crate::interaction::write::{Target, new_id, stamp};
use crate::store::Method;
use crate::store::sql::{Bind, Cell, Column, Sql, push_keys};

const BATCH: usize = 1000;
const WINDOW: Duration = Duration::from_millis(100);

pub struct AuditQueue {
    sender: mpsc::UnboundedSender<Access>,
    stop: Mutex<Option<(oneshot::Sender<()>, JoinHandle<()>)>>,
}

impl AuditQueue {
    /// Starts the writer task.
    pub fn start(fhir: Fhir) -> AuditQueue {
        let (sender, receiver) = mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let handle = tokio::spawn(run(fhir, receiver, stop_rx));
        AuditQueue { sender, stop: Mutex::new(Some((stop_tx, handle))) }
    }

    pub fn send(&self, access: Access) {
        if self.sender.send(access).is_err() {
            tracing::error!("the audit queue is closed; an access could not be audited");
        }
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

async fn run(fhir: Fhir, mut receiver: mpsc::UnboundedReceiver<Access>, mut stop: oneshot::Receiver<()>) {
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
        let mut attempt = 0;
        while let Err(e) = store(&fhir, &batch).await {
            attempt += 1;
            if attempt >= 5 {
                tracing::error!(error = %e, events = batch.len(), "audit events could not be stored");
                break;
            }
            tracing::warn!(error = %e, "storing audit events failed; retrying");
            tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
        }
    }
}

/// Stores a batch: patients looked up once, events split per patient, one transaction.
async fn store(fhir: &Fhir, batch: &[Access]) -> FhirResult<()> {
    let mut keys: Vec<(String, String)> = batch.iter().flat_map(|a| a.entities.iter().cloned()).collect();
    keys.sort();
    keys.dedup();
    let patients = patients_of(fhir, &keys).await?;
    let mut versions = Vec::new();
    for access in batch {
        for event in events(access, |key| patients.get(key).cloned().unwrap_or_default()) {
            let id = new_id();
            let target = Target { resource_type: "AuditEvent", id: &id, version: 1, replaces_index: false };
            versions.push(stamp(fhir, event, target, access.recorded, Method::Create)?);
        }
    }
    let mut tx = fhir.store.begin().await?;
    tx.put(versions).await?;
    tx.commit().await?;
    Ok(())
}

/// The patients (Patient compartments) of current resources.
async fn patients_of(fhir: &Fhir, keys: &[(String, String)]) -> FhirResult<HashMap<(String, String), Vec<String>>> {
    let mut found: HashMap<(String, String), Vec<String>> = HashMap::new();
    for chunk in keys.chunks(crate::store::sql::CHUNK / 2) {
        let mut sql = Sql::new(
            "SELECT r.res_type, r.res_id, c.comp_id FROM resource r JOIN compartment c ON c.rid = r.rid \
             WHERE c.comp_type = ",
        );
        sql.bind(Bind::Text("Patient".into())).push(" AND ");
        push_keys(&mut sql, "r.res_type", "r.res_id", chunk);
        for row in fhir.store.query(sql, &[Column::Text, Column::Text, Column::Text]).await? {
            let text = |i: usize| row.get(i).and_then(Cell::as_text).unwrap_or_default().to_string();
            found.entry((text(0), text(1))).or_default().push(text(2));
        }
    }
    Ok(found)
}

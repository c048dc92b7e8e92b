//! Group commit: write transactions that arrive together share one database transaction, each in
//! its own savepoint, and are acknowledged together once it commits.
//!
//! SQLite has one writer. Committing each small write on its own costs a transaction's fixed work
//! (taking the write lock, appending every page the write touched to the write-ahead log, and the
//! checkpoints that follow) once per write; concurrent creates of one type touch the same few
//! index pages, so a group of them appends each page once. Nothing about durability changes: a
//! member's `commit` returns only after the shared transaction has committed, so no write is
//! acknowledged before it is stored.
//!
//! A member runs alone on the shared transaction from its `begin` to its `commit` (or drop),
//! inside `SAVEPOINT`; a member that fails or is dropped is rolled back to its savepoint and the
//! others are unaffected. The group commits when every member that joined it has finished. A
//! failure that takes the whole transaction with it (the database rolled it back, or `COMMIT`
//! failed) is reported to every member as [`StoreError::Abandoned`]: nothing of theirs was
//! stored, and they may run again.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::{Notify, OwnedMutexGuard, watch};

use super::sql::{Cell, Column, Sql};
use super::{Current, NewVersion, StoreError, StoreResult, StoreTx};
use crate::index::IndexRows;

/// Members one group takes before later writers start the next: bounds how long the first
/// member waits for its acknowledgement.
const MAX_MEMBERS: usize = 64;

/// The groups of one store: the one open for new members, if any.
#[derive(Default)]
pub struct Groups {
    open: Mutex<Option<Arc<Group>>>,
}

/// One shared transaction and its members.
struct Group {
    shared: Arc<tokio::sync::Mutex<Shared>>,
    members: Mutex<Members>,
    /// A member finished (committed its savepoint, or left).
    finished: Notify,
    /// The shared transaction can no longer commit: later members are turned away.
    broken: AtomicBool,
    /// `None` until the group ends; then whether it committed.
    outcome: watch::Sender<Option<Result<(), String>>>,
}

#[derive(Default)]
struct Members {
    joined: usize,
    finished: usize,
    /// No member may join any more: the group is committing.
    sealed: bool,
}

/// What the member holding the lock works on.
#[derive(Default)]
struct Shared {
    tx: Option<Box<dyn StoreTx>>,
    /// The savepoint of a member dropped without committing, rolled back by whoever holds the
    /// transaction next (a drop cannot wait for the database).
    undo: Option<String>,
    /// Savepoint names, unique within the group.
    next_savepoint: u64,
}

impl Groups {
    /// Begins a member transaction, joining the open group or starting the next; `start` begins
    /// the database transaction a new group shares.
    pub async fn begin<F, Fut>(&self, start: F) -> StoreResult<Box<dyn StoreTx>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = StoreResult<Box<dyn StoreTx>>>,
    {
        let group = self.join();
        let mut shared = Arc::clone(&group.shared).lock_owned().await;
        match group.enter(&mut shared, start).await {
            Ok(savepoint) => Ok(Box::new(Member { group, shared: Some(shared), savepoint })),
            Err(e) => {
                drop(shared);
                group.finish();
                Err(e)
            }
        }
    }

    fn join(&self) -> Arc<Group> {
        let mut open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(group) = open.as_ref()
            && group.admit()
        {
            return Arc::clone(group);
        }
        let group = Arc::new(Group::new());
        group.admit();
        *open = Some(Arc::clone(&group));
        tokio::spawn(Arc::clone(&group).commit_when_finished());
        group
    }
}

impl Group {
    fn new() -> Group {
        Group {
            shared: Arc::default(),
            members: Mutex::default(),
            finished: Notify::new(),
            broken: AtomicBool::new(false),
            outcome: watch::channel(None).0,
        }
    }

    fn members(&self) -> std::sync::MutexGuard<'_, Members> {
        self.members.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes one more member, unless the group is committing, full or broken.
    fn admit(&self) -> bool {
        let mut members = self.members();
        if members.sealed || members.joined >= MAX_MEMBERS || self.broken.load(Ordering::Acquire) {
            return false;
        }
        members.joined += 1;
        true
    }

    fn finish(&self) {
        self.members().finished += 1;
        // A stored permit: the committer sees it even when it is not waiting yet.
        self.finished.notify_one();
    }

    /// Readies the shared transaction for a new member and opens its savepoint.
    async fn enter<F, Fut>(&self, shared: &mut Shared, start: F) -> StoreResult<String>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = StoreResult<Box<dyn StoreTx>>>,
    {
        if shared.tx.is_none() {
            shared.tx = Some(start().await?);
        }
        self.settle(shared).await?;
        let savepoint = format!("member_{}", shared.next_savepoint);
        shared.next_savepoint += 1;
        let tx = shared.tx.as_mut().ok_or_else(abandoned)?;
        if let Err(e) = tx.execute_in(Sql::new(&format!("SAVEPOINT {savepoint}"))).await {
            self.broken.store(true, Ordering::Release);
            return Err(e);
        }
        Ok(savepoint)
    }

    /// Rolls back a dropped member's savepoint; a group whose transaction cannot be rolled back
    /// to it (the database already rolled everything back) is broken.
    async fn settle(&self, shared: &mut Shared) -> StoreResult<()> {
        if self.broken.load(Ordering::Acquire) {
            return Err(abandoned());
        }
        let Some(savepoint) = shared.undo.take() else { return Ok(()) };
        let tx = shared.tx.as_mut().ok_or_else(abandoned)?;
        let undone = match tx.execute_in(Sql::new(&format!("ROLLBACK TO SAVEPOINT {savepoint}"))).await {
            Ok(_) => tx.execute_in(Sql::new(&format!("RELEASE SAVEPOINT {savepoint}"))).await,
            Err(e) => Err(e),
        };
        undone.map(|_| ()).map_err(|e| {
            tracing::warn!(error = %e, "a group commit's transaction was lost with a failed member");
            self.broken.store(true, Ordering::Release);
            abandoned()
        })
    }

    /// Waits until every member has finished, then commits (or reports why not) to all.
    async fn commit_when_finished(self: Arc<Self>) {
        loop {
            {
                let mut members = self.members();
                if members.finished == members.joined {
                    members.sealed = true;
                    break;
                }
            }
            self.finished.notified().await;
        }
        let members = self.members().joined;
        metrics::histogram!("ikp_db_group_commit_members").record(members as f64);
        let mut shared = self.shared.lock().await;
        let outcome = match self.settle(&mut shared).await {
            Err(e) => Err(e),
            Ok(()) => match shared.tx.take() {
                Some(tx) => tx.commit().await,
                None => Ok(()),
            },
        };
        if let Err(e) = &outcome {
            tracing::warn!(error = %e, "a group commit failed; its members will run again");
        }
        shared.tx = None;
        self.outcome.send_replace(Some(outcome.map_err(|e| e.to_string())));
    }
}

fn abandoned() -> StoreError {
    StoreError::Abandoned("the shared transaction was rolled back by another write".into())
}

/// One write transaction of a group.
struct Member {
    group: Arc<Group>,
    /// The shared transaction, held from begin to commit or drop.
    shared: Option<OwnedMutexGuard<Shared>>,
    savepoint: String,
}

impl Member {
    fn tx(&mut self) -> StoreResult<&mut Box<dyn StoreTx>> {
        self.shared.as_mut().and_then(|s| s.tx.as_mut()).ok_or_else(abandoned)
    }
}

impl Member {
    /// Leaves the group uncommitted: whoever holds the transaction next rolls this member back
    /// to its savepoint.
    fn leave(&mut self) {
        if let Some(mut shared) = self.shared.take() {
            shared.undo = Some(std::mem::take(&mut self.savepoint));
            drop(shared);
            self.group.finish();
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.leave();
    }
}

#[async_trait]
impl StoreTx for Member {
    async fn lock_current(&mut self, resource_type: &str, id: &str) -> StoreResult<Option<Current>> {
        self.tx()?.lock_current(resource_type, id).await
    }

    async fn lock_current_many(
        &mut self,
        keys: &[(String, String)],
    ) -> StoreResult<HashMap<(String, String), Current>> {
        self.tx()?.lock_current_many(keys).await
    }

    async fn lock_key(&mut self, key: &str) -> StoreResult<()> {
        self.tx()?.lock_key(key).await
    }

    async fn query(&mut self, sql: Sql, columns: &[Column]) -> StoreResult<Vec<Vec<Cell>>> {
        self.tx()?.query(sql, columns).await
    }

    async fn put(&mut self, versions: Vec<NewVersion>) -> StoreResult<()> {
        self.tx()?.put(versions).await
    }

    async fn replace_index(&mut self, rows: Vec<(i64, String, IndexRows)>) -> StoreResult<()> {
        self.tx()?.replace_index(rows).await
    }

    async fn execute_in(&mut self, sql: Sql) -> StoreResult<u64> {
        self.tx()?.execute_in(sql).await
    }

    async fn advance_policy_generation(&mut self) -> StoreResult<()> {
        self.tx()?.advance_policy_generation().await
    }

    async fn current_compartments(&mut self, keys: &[(String, String)]) -> StoreResult<super::Compartments> {
        self.tx()?.current_compartments(keys).await
    }

    async fn versions(&mut self, keys: &[(String, String, i64)]) -> StoreResult<Vec<super::ResourceVersion>> {
        self.tx()?.versions(keys).await
    }

    async fn current_versions(&mut self, keys: &[(String, String)]) -> StoreResult<Vec<super::ResourceVersion>> {
        self.tx()?.current_versions(keys).await
    }

    async fn rollback(mut self: Box<Self>) {
        let mut outcome = self.group.outcome.subscribe();
        self.leave();
        // Whatever the group's fate, this member's part in it is over.
        let _ended = outcome.wait_for(Option::is_some).await;
    }

    async fn commit(mut self: Box<Self>) -> StoreResult<()> {
        let release = Sql::new(&format!("RELEASE SAVEPOINT {}", self.savepoint));
        // On failure the drop rolls the member back to its savepoint.
        self.tx()?.execute_in(release).await?;
        let mut outcome = self.group.outcome.subscribe();
        self.shared = None;
        self.group.finish();
        let ended = outcome.wait_for(Option::is_some).await.map_err(|_| abandoned())?;
        match ended.as_ref() {
            Some(Ok(())) => Ok(()),
            Some(Err(why)) => Err(StoreError::Abandoned(why.clone())),
            None => Err(abandoned()),
        }
    }
}

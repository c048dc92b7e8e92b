//! SQLite's group commit (see the store's `group_commit`): write transactions that arrive
//! together share one database transaction, each in its own savepoint; each is acknowledged only
//! once the shared transaction has committed, a failing one takes nothing else with it, and a
//! group whose transaction is lost reports that to every member.

use std::sync::Arc;
use std::time::Duration;

use ikp::store::sql::Sql;
use ikp::store::{Method, NewVersion, Store, StoreError};
use tokio::time::sleep;

async fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = ikp::store::open(&format!("sqlite://{}/group.db", dir.path().display())).await.unwrap();
    (dir, store)
}

fn patient(id: &str) -> NewVersion {
    NewVersion {
        resource_type: "Patient".into(),
        id: id.into(),
        version: 1,
        last_updated: 1,
        method: Method::Create,
        content: Some(format!(r#"{{"resourceType":"Patient","id":"{id}"}}"#)),
        index: Default::default(),
        replaces_index: false,
    }
}

async fn stored(store: &dyn Store, id: &str) -> bool {
    store.read("Patient", id).await.unwrap().is_some()
}

/// A member's commit returns only when its whole group has committed: the first writer's data is
/// not visible, and its commit has not returned, while a writer that joined after it is still at
/// work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_is_acknowledged_when_its_group_commits() {
    let (_dir, store) = store().await;
    let mut first = store.begin().await.unwrap();
    first.put(vec![patient("first")]).await.unwrap();
    let joiner = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut second = store.begin().await.unwrap();
            second.put(vec![patient("second")]).await.unwrap();
            sleep(Duration::from_millis(400)).await;
            second.commit().await.unwrap();
        })
    };
    // The second writer has joined (it waits for the shared transaction).
    sleep(Duration::from_millis(100)).await;
    let committing = tokio::spawn(async move { first.commit().await });
    sleep(Duration::from_millis(150)).await;
    assert!(!committing.is_finished(), "acknowledged before the group committed");
    assert!(!stored(store.as_ref(), "first").await, "visible before the group committed");
    joiner.await.unwrap();
    committing.await.unwrap().unwrap();
    assert!(stored(store.as_ref(), "first").await);
    assert!(stored(store.as_ref(), "second").await);
}

/// A write that fails is over when its group is: a writer that lost a race and reads again to
/// retry sees the write it lost to, not the state before the group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_returns_when_its_group_has_committed() {
    let (_dir, store) = store().await;
    let mut winner = store.begin().await.unwrap();
    winner.put(vec![patient("won")]).await.unwrap();
    let loser = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let tx = store.begin().await.unwrap();
            tx.rollback().await;
            // Over only now: the winner's write is there to be read.
            stored(store.as_ref(), "won").await
        })
    };
    sleep(Duration::from_millis(100)).await;
    winner.commit().await.unwrap();
    assert!(loser.await.unwrap(), "the failed write returned before its group committed");
}

/// Many concurrent writers, some of which fail after writing: the failed ones leave nothing, the
/// others are all stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_takes_nothing_of_its_group_with_it() {
    let (_dir, store) = store().await;
    let writers: Vec<_> = (0..40)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut tx = store.begin().await.unwrap();
                tx.put(vec![patient(&format!("p{i}"))]).await.unwrap();
                if i % 4 == 3 {
                    // Dropped without a commit: rolled back (to its savepoint).
                    return;
                }
                tx.commit().await.unwrap();
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    for i in 0..40 {
        assert_eq!(stored(store.as_ref(), &format!("p{i}")).await, i % 4 != 3, "p{i}");
    }
    // The same ids again: a failed write left no row behind to collide with.
    let mut tx = store.begin().await.unwrap();
    tx.put(vec![patient("p3")]).await.unwrap();
    tx.commit().await.unwrap();
    assert!(stored(store.as_ref(), "p3").await);
}

/// When the shared transaction is lost (here a member ends it outright, as SQLite does itself on
/// an interrupted or failed write), every member is told that nothing of its write was stored,
/// and the next write starts a new group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_group_is_abandoned_by_every_member() {
    let (_dir, store) = store().await;
    let mut first = store.begin().await.unwrap();
    first.put(vec![patient("kept-waiting")]).await.unwrap();
    let breaker = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            tx.execute_in(Sql::new("ROLLBACK")).await.unwrap();
        })
    };
    sleep(Duration::from_millis(100)).await;
    let outcome = first.commit().await;
    breaker.await.unwrap();
    assert!(matches!(outcome, Err(StoreError::Abandoned(_))), "{outcome:?}");
    assert!(outcome.unwrap_err().is_transient());
    assert!(!stored(store.as_ref(), "kept-waiting").await);
    let mut again = store.begin().await.unwrap();
    again.put(vec![patient("kept-waiting")]).await.unwrap();
    again.commit().await.unwrap();
    assert!(stored(store.as_ref(), "kept-waiting").await);
}

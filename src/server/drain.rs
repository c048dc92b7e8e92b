//! Draining for a graceful shutdown, as Kubernetes expects it: at the first SIGTERM or SIGINT
//! readiness answers 503 `draining` at once, so the load balancer takes the node out; the
//! listener stays open `--drain-seconds` longer for the requests that still arrive meanwhile;
//! then it closes and the requests in flight finish (axum's graceful shutdown).

use std::time::Duration;

use crate::rest::State;

/// Resolves when the server should stop accepting connections.
pub(super) async fn drained(state: State, grace: Duration) {
    super::shutdown_signal().await;
    state.health.drain();
    if grace.is_zero() {
        return;
    }
    tracing::info!(seconds = grace.as_secs(), "draining: readiness answers 503, requests are still served");
    tokio::select! {
        _ = tokio::time::sleep(grace) => {}
        // An operator who does not want to wait signals again.
        _ = super::shutdown_signal() => tracing::info!("second signal: draining cut short"),
    }
}

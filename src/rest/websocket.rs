//! The websocket notifications are served on (see `crate::notify::websocket`). It is outside the
//! FHIR base and its bearer guard: a socket is authorised by the binding token it sends first,
//! which only a caller who may read the subscription gets from `$get-ws-binding-token`.

use std::time::Duration;

use axum::Router;
use axum::extract::State as AxumState;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::{OwnedSemaphorePermit, mpsc};

use super::State;
use crate::notify::websocket;

/// How long a socket may stay silent before binding.
const BIND_WITHIN: Duration = Duration::from_secs(30);
/// The largest message a client may send (a bind request).
const MAX_MESSAGE_BYTES: usize = 4096;

pub fn routes() -> Router<State> {
    Router::new().route(websocket::PATH, get(upgrade))
}

async fn upgrade(AxumState(state): AxumState<State>, ws: WebSocketUpgrade) -> Response {
    let Some(place) = websocket::admit(&state.notifier) else {
        tracing::warn!("a websocket was refused: this node has as many waiting to bind as it keeps");
        let headers = [(header::RETRY_AFTER, "5")];
        return (StatusCode::SERVICE_UNAVAILABLE, headers, "too many websockets waiting to bind; try again later\n")
            .into_response();
    };
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| session(state, socket, place))
}

/// Serves one socket; `place` is held until it binds.
async fn session(state: State, mut socket: WebSocket, place: OwnedSemaphorePermit) {
    let bound = loop {
        let message = match tokio::time::timeout(BIND_WITHIN, socket.recv()).await {
            Ok(Some(Ok(message))) => message,
            _ => return,
        };
        match message {
            Message::Text(text) => match websocket::bind(&state.notifier, text.as_str()) {
                Ok(id) => break id,
                Err(why) => {
                    let refusal = serde_json::json!({"error": why}).to_string();
                    socket.send(Message::Text(refusal.into())).await.ok();
                    return;
                }
            },
            Message::Close(_) => return,
            _ => {}
        }
    };
    drop(place);
    tracing::info!(subscription = %bound, "a websocket bound");
    let (out, mut outgoing) = mpsc::channel::<String>(16);
    let serving = tokio::spawn(websocket::serve(state.notifier.clone(), bound, out));
    loop {
        tokio::select! {
            next = outgoing.recv() => match next {
                Some(text) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                // Pings are answered by axum; anything else the client sends is ignored.
                Some(Ok(_)) => {}
            },
        }
    }
    // Dropping the receiver ends the serving task, which gives the lease back.
    drop(outgoing);
    serving.await.ok();
}

//! The local binary's live WebSocket endpoint, speaking exactly what the AWS WebSocket API speaks, so
//! the dashboard's WebSocket client runs (and is tested) against the one binary too: `GET /live?ws=…&ticket=…`
//! redeems the same single-use ticket (refused before the upgrade: 401, or 404 for a workspace the member
//! left), then every event of that workspace goes out as one text frame holding the [`LiveEvent`] JSON,
//! as `WebSocketSink` posts it on AWS. No greeting frame (API Gateway cannot send one during `$connect`):
//! a client catches up with `GET …/events?after=` once open. Client frames are ignored (the feed is one-way;
//! the dashboard's keep-alive pings exist for API Gateway's idle timeout).

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::routes::STREAM_MAX_SECS;
use super::LiveEvent;
use crate::auth::WorkspaceId;
use crate::http::ApiError;
use crate::state::AppState;

/// The path, as the AWS stage's (`wss://{api}.execute-api.{region}.amazonaws.com/live`).
pub const PATH: &str = "/live";

#[derive(Deserialize)]
pub(super) struct ConnectQuery {
    ws: Option<String>,
    ticket: Option<String>,
}

/// `GET /live?ws=…&ticket=…` with a WebSocket upgrade.
pub(super) async fn connect(State(state): State<AppState>, Query(q): Query<ConnectQuery>, upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>) -> Response {
    let Ok(upgrade) = upgrade else {
        return ApiError::Validation("this is the live WebSocket endpoint: connect with a WebSocket client".into()).into_response();
    };
    let ws = match super::ticket::redeem(&state, q.ws.as_deref().unwrap_or_default(), q.ticket.as_deref().unwrap_or_default()).await {
        Ok(ws) => ws.id().clone(),
        Err(e) => return e.into_response(),
    };
    // Subscribed before the upgrade answers, so an event published once the client sees `open` is not missed.
    let rx = state.live.subscribe();
    upgrade.on_upgrade(move |socket| forward(state, ws, rx, socket))
}

fn frame(event: &LiveEvent) -> Message {
    Message::Text(serde_json::to_string(event).unwrap_or_default().into())
}

async fn forward(state: AppState, ws: WorkspaceId, mut rx: tokio::sync::broadcast::Receiver<(WorkspaceId, LiveEvent)>, mut socket: WebSocket) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(STREAM_MAX_SECS);
    // The newest id sent, so an event replayed after lagging is not sent twice.
    let mut last = String::new();
    loop {
        tokio::select! {
            received = rx.recv() => match received {
                Ok((w, e)) if w == ws && e.id > last => {
                    last = e.id.clone();
                    if socket.send(frame(&e)).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(RecvError::Closed) => break,
                // Fell behind the in-process buffer: replay the gap from the log, as the SSE stream does.
                Err(RecvError::Lagged(_)) => {
                    if let Ok(Some(events)) = super::since(&state, &ws, &last).await {
                        for e in events {
                            if e.id <= last {
                                continue;
                            }
                            last = e.id.clone();
                            if socket.send(frame(&e)).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            },
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
            _ = tokio::time::sleep_until(deadline) => break,
        }
    }
    // Like API Gateway at its connection limit: the client reconnects with a new ticket (membership checked again).
    let _ = socket.send(Message::Close(Some(CloseFrame { code: axum::extract::ws::close_code::AWAY, reason: "reconnect".into() }))).await;
}

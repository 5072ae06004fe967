//! Live routes: a stream ticket, the Server-Sent Events stream (local binary), and the catch-up read a
//! WebSocket client uses after a gap.

use std::collections::VecDeque;
use std::convert::Infallible;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use utoipa::ToSchema;
use crate::http::api_router::{routes, ApiRouter};

use super::ticket::{self, Ticket};
use super::LiveEvent;
use crate::auth::{Action, Workspace, WorkspaceId};
use crate::http::{ApiOk, ApiResult};
use crate::openapi::{Envelope, ErrorEnvelope};
use crate::state::AppState;

/// A stream ends after this long; the dashboard reconnects with a new ticket (membership checked again).
pub const STREAM_MAX_SECS: u64 = 30 * 60;

pub fn api() -> ApiRouter<AppState> {
    ApiRouter::new().routes(routes!(issue_ticket)).routes(routes!(catch_up))
}

/// The ticket and catch-up routes (served by `api-inbox` on AWS, where the WebSocket API streams).
pub fn routes() -> Router<AppState> {
    api().split_for_parts().0
}

/// The local binary's routes: those plus the Server-Sent Events stream and the WebSocket endpoint
/// (outside the OpenAPI document: neither is JSON). The WebSocket endpoint needs the `embedded` build.
pub fn local_routes() -> Router<AppState> {
    let routes = routes().route("/v1/workspaces/{ws}/events/stream", get(stream));
    #[cfg(feature = "embedded")]
    let routes = routes.route(super::local_ws::PATH, get(super::local_ws::connect));
    routes
}

/// A single-use ticket (one minute) to open this workspace's live stream, since `EventSource` and
/// `WebSocket` cannot send the access token in a header.
#[utoipa::path(post, path = "/v1/workspaces/{ws}/events/ticket", tag = "live", security(("bearer" = [])), params(("ws" = String, Path)),
    responses((status = 201, description = "Issued", body = Envelope<Ticket>), (status = 403, description = "Not a signed-in member", body = ErrorEnvelope)))]
async fn issue_ticket(State(state): State<AppState>, ws: Workspace) -> ApiResult<Ticket> {
    Ok(ApiOk::created(ticket::issue(&state, &ws).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct CatchUpQuery {
    /// The id of the last event received.
    after: String,
}

#[derive(Serialize, ToSchema)]
struct CatchUp {
    events: Vec<LiveEvent>,
    /// True when the gap cannot be replayed: reload what is shown.
    reset: bool,
}

/// The events after a cursor (kept an hour), for a client that was disconnected.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/events", tag = "live", security(("bearer" = [])), params(("ws" = String, Path), CatchUpQuery),
    responses((status = 200, description = "OK", body = Envelope<CatchUp>)))]
async fn catch_up(State(state): State<AppState>, ws: Workspace, Query(q): Query<CatchUpQuery>) -> ApiResult<CatchUp> {
    ws.require(Action::WorkspaceRead)?;
    Ok(ApiOk::ok(match super::since(&state, ws.id(), &q.after).await? {
        Some(events) => CatchUp { events, reset: false },
        None => CatchUp { events: vec![], reset: true },
    }))
}

#[derive(Deserialize)]
struct StreamPath {
    ws: String,
}

#[derive(Deserialize)]
struct StreamQuery {
    ticket: Option<String>,
    /// The cursor, for clients that cannot set `Last-Event-ID`.
    last_event_id: Option<String>,
}

fn sse(e: &LiveEvent) -> Event {
    Event::default().id(e.id.clone()).data(serde_json::to_string(e).unwrap_or_default())
}

fn control(kind: &str, id: Option<&str>) -> Event {
    let ev = Event::default().data(json!({"kind": kind}).to_string());
    match id {
        Some(id) => ev.id(id),
        None => ev,
    }
}

struct Feed {
    state: AppState,
    ws: WorkspaceId,
    rx: tokio::sync::broadcast::Receiver<(WorkspaceId, LiveEvent)>,
    pending: VecDeque<Event>,
    /// The newest event id sent: replayed and live copies of one event are sent once.
    last: String,
    deadline: tokio::time::Instant,
}

impl Feed {
    /// Queues what happened after `cursor`, or a `reset` when it cannot be replayed.
    async fn catch_up(&mut self, cursor: &str) {
        match super::since(&self.state, &self.ws, cursor).await {
            Ok(Some(events)) => {
                for e in events {
                    if e.id > self.last {
                        self.pending.push_back(sse(&e));
                        self.last = e.id;
                    }
                }
            }
            _ => self.pending.push_back(control("reset", None)),
        }
    }
}

/// `GET /v1/workspaces/{ws}/events/stream?ticket=…`: Server-Sent Events, one JSON event per change; a
/// `ready` event first (its id is a cursor), `reset` when a gap cannot be replayed. Reconnect with the
/// last id in `Last-Event-ID` (or `last_event_id`) to receive what was missed.
async fn stream(State(state): State<AppState>, axum::extract::Path(p): axum::extract::Path<StreamPath>, Query(q): Query<StreamQuery>, headers: HeaderMap) -> Response {
    let ws = match ticket::redeem(&state, &p.ws, q.ticket.as_deref().unwrap_or_default()).await {
        Ok(ws) => ws,
        Err(e) => return e.into_response(),
    };
    let cursor = headers.get("last-event-id").and_then(|v| v.to_str().ok()).map(str::to_owned).or(q.last_event_id).filter(|c| !c.is_empty());
    // Subscribed before reading the log, so nothing falls between the replay and the live feed.
    let rx = state.live.subscribe();
    let mut feed = Feed { state: state.clone(), ws: ws.id().clone(), rx, pending: VecDeque::new(), last: String::new(), deadline: tokio::time::Instant::now() + std::time::Duration::from_secs(STREAM_MAX_SECS) };
    match cursor {
        Some(c) => {
            feed.last = c.clone();
            feed.catch_up(&c).await;
            let last = feed.last.clone();
            feed.pending.push_back(control("ready", Some(&last)));
        }
        None => feed.pending.push_back(control("ready", Some(&state.clock.new_id().to_string()))),
    }
    let events = futures_util::stream::unfold(feed, |mut feed| async move {
        loop {
            if let Some(ev) = feed.pending.pop_front() {
                return Some((Ok::<_, Infallible>(ev), feed));
            }
            match tokio::time::timeout_at(feed.deadline, feed.rx.recv()).await {
                Err(_) | Ok(Err(RecvError::Closed)) => return None,
                Ok(Ok((ws, e))) if ws == feed.ws && e.id.as_str() > feed.last.as_str() => {
                    feed.last = e.id.clone();
                    return Some((Ok(sse(&e)), feed));
                }
                Ok(Ok(_)) => {}
                // This reader fell behind the buffer: replay the gap from the log.
                Ok(Err(RecvError::Lagged(_))) => {
                    let last = feed.last.clone();
                    feed.catch_up(&last).await;
                }
            }
        }
    });
    let mut response = Sse::new(events).keep_alive(KeepAlive::default()).into_response();
    // Proxies must not buffer the stream.
    response.headers_mut().insert("x-accel-buffering", axum::http::HeaderValue::from_static("no"));
    response
}

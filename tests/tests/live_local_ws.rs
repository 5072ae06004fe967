//! The local binary's live WebSocket endpoint (`GET /live?ws=…&ticket=…`), over real TCP: it speaks what
//! the AWS WebSocket API speaks — the same single-use ticket, refused before the upgrade, and one text
//! frame per event holding the same JSON `WebSocketSink` posts — and `GET /v1/health` tells the dashboard
//! to use it when `WEBTRIGGER_LIVE_WS_URL` is set.

#[path = "api/client.rs"]
mod client;

use std::time::Duration;

use client::Client;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{self, Message};
use webtrigger::auth::WorkspaceId;

async fn serve(state: webtrigger::AppState) -> String {
    let app = webtrigger::http::api(webtrigger::local::all_routes(), state, None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap() });
    format!("127.0.0.1:{}", addr.port())
}

async fn ticket(c: &mut Client, ws: &str) -> (String, String) {
    let r = c.post(&format!("/v1/workspaces/{ws}/events/ticket"), json!({})).await;
    (r.data()["ticket"].as_str().unwrap().to_owned(), r.data()["cursor"].as_str().unwrap().to_owned())
}

/// The HTTP status of a refused upgrade (a connected socket fails the test).
async fn refused(addr: &str, query: &str) -> u16 {
    match tokio_tungstenite::connect_async(format!("ws://{addr}/live?{query}")).await {
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
        Ok(_) => panic!("the upgrade was accepted for {query}"),
    }
}

/// The next text frame as JSON, within a generous bound.
async fn next_event(socket: &mut (impl StreamExt<Item = Result<Message, tungstenite::Error>> + Unpin)) -> Value {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), socket.next()).await.expect("an event within 30 s") {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_local_websocket_speaks_the_aws_protocol() {
    let (mut state, _dir) = webtrigger_tests::embedded_state().await;
    state.live_ws_url = Some(webtrigger::live::LOCAL_WS_PATH.to_owned());
    let addr = serve(state.clone()).await;
    let mut ada = Client::new(state.clone());
    ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Support").await;
    let mut eve = Client::new(state.clone());
    eve.sign_up("eve@example.com").await;
    let eves = eve.create_workspace("Eve's").await;

    let health = ada.get("/v1/health").await;
    assert_eq!(health.data()["live_websocket_url"], "/live", "the dashboard learns the transport from health");

    let (t, cursor) = ticket(&mut ada, &ws).await;
    assert!(ulid::Ulid::from_string(&cursor).is_ok(), "the ticket carries a catch-up cursor: {cursor}");
    let (mut socket, response) = tokio_tungstenite::connect_async(format!("ws://{addr}/live?ws={ws}&ticket={t}")).await.expect("a good ticket opens the socket");
    assert_eq!(response.status().as_u16(), 101);
    assert_eq!(refused(&addr, &format!("ws={ws}&ticket={t}")).await, 401, "a ticket opens one connection");
    assert_eq!(refused(&addr, &format!("ws={ws}")).await, 401, "no ticket");
    assert_eq!(refused(&addr, &format!("ws={ws}&ticket=not-a-ticket")).await, 401);
    // Eve's own ticket does not open Ada's workspace, and Eve cannot get one for it.
    let (eve_ticket, _) = ticket(&mut eve, &eves).await;
    assert_eq!(refused(&addr, &format!("ws={ws}&ticket={eve_ticket}")).await, 401, "a ticket is for its own workspace only");
    let foreign = eve.post(&format!("/v1/workspaces/{ws}/events/ticket"), json!({})).await;
    assert_eq!(foreign.status, 404, "{}", foreign.body);

    // Eve's event is not Ada's; Ada's arrives as the JSON the AWS sink posts ({id, kind, data, at}).
    webtrigger::live::publish(&state, &WorkspaceId::parse(&eves).unwrap(), "message.new", json!({"secret": "eve's"})).await;
    webtrigger::live::publish(&state, &WorkspaceId::parse(&ws).unwrap(), "conversation.updated", json!({"conversation": {"id": "conv_x"}})).await;
    let got = next_event(&mut socket).await;
    assert_eq!((got["kind"].as_str(), got["data"]["conversation"]["id"].as_str()), (Some("conversation.updated"), Some("conv_x")), "{got}");
    let mut keys: Vec<&str> = got.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["at", "data", "id", "kind"]);
    assert!(got["id"].as_str().unwrap() > cursor.as_str(), "events after the ticket sort after its cursor");

    // A client frame (the dashboard's keep-alive) is ignored, the feed goes on; then a real webhook-driven
    // change in the inbox arrives too, and catch-up after the cursor lists the same events.
    socket.send(Message::Text(r#"{"action":"ping"}"#.into())).await.unwrap();
    webtrigger::live::publish(&state, &WorkspaceId::parse(&ws).unwrap(), "message.new", json!({"message": {"id": "msg_2"}})).await;
    let second = next_event(&mut socket).await;
    assert_eq!(second["data"]["message"]["id"], "msg_2", "{second}");
    let caught = ada.get(&format!("/v1/workspaces/{ws}/events?after={cursor}")).await;
    let ids: Vec<&str> = caught.data()["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [got["id"].as_str().unwrap(), second["id"].as_str().unwrap()], "catch-up from the ticket's cursor replays exactly this workspace's events");

    // Not a WebSocket request: a clear 4xx in the envelope.
    let plain = reqwest::get(format!("http://{addr}/live?ws={ws}")).await.unwrap();
    assert_eq!(plain.status().as_u16(), 422);
    let body: Value = plain.json().await.unwrap();
    assert_eq!((body["success"].as_bool(), body["error"]["code"].as_str()), (Some(false), Some("validation_failed")), "{body}");
}

#[tokio::test]
async fn health_omits_the_websocket_url_when_sse_is_used() {
    let (state, _dir) = webtrigger_tests::embedded_state().await;
    let mut c = Client::new(state);
    let health = c.get("/v1/health").await;
    assert!(health.data()["live_websocket_url"].is_null(), "{}", health.body);
}

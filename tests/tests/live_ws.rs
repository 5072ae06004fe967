//! Live updates on AWS: the WebSocket API's `$connect` redeems a stream ticket and records the
//! connection in the table (DynamoDB on moto), `$disconnect` forgets it, and published events are
//! posted to the workspace's connections through the management API (a loopback fake of it here),
//! dropping the connections API Gateway reports gone.

#[path = "api/client.rs"]
mod client;

use std::sync::{Arc, Mutex};

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use client::Client;
use serde_json::{json, Value};
use webtrigger::auth::WorkspaceId;
use webtrigger::live::websocket::{self, WebSocketSink};

fn ws_event(route: &str, connection: &str, query: Value) -> ApiGatewayWebsocketProxyRequest {
    serde_json::from_value(json!({"requestContext": {"routeKey": route, "connectionId": connection, "eventType": "CONNECT", "connectedAt": 0, "requestTimeEpoch": 0, "identity": {}, "authorizer": {}}, "queryStringParameters": query, "isBase64Encoded": false})).unwrap()
}

/// A management API that records posts and answers 410 GoneException for `gone-*` connections.
async fn management_fake() -> (String, Arc<Mutex<Vec<(String, Value)>>>) {
    let posts: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let seen = posts.clone();
    let app = axum::Router::new().route(
        "/@connections/{id}",
        axum::routing::post(move |Path(id): Path<String>, body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                if id.starts_with("gone-") {
                    return (StatusCode::GONE, [("x-amzn-errortype", "GoneException")], "{\"message\":\"gone\"}").into_response();
                }
                seen.lock().unwrap().push((id, serde_json::from_slice(&body).unwrap()));
                (StatusCode::OK, [("x-amzn-errortype", "")], "").into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, posts)
}

#[tokio::test]
async fn websocket_connections_receive_a_workspace_s_events() {
    let mut state = webtrigger_tests::aws_state_with_clock(Arc::new(webtrigger::ports::SystemClock)).await;
    let (url, posts) = management_fake().await;
    let sdk = webtrigger::adapters::aws::sdk_config_for_endpoint(&url).await;
    state.live = Arc::new(webtrigger::live::Hub::default().with_remote(Arc::new(WebSocketSink::new(&sdk, &url, state.table.clone()))));
    let mut ada = Client::new(state.clone());
    ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Support").await;
    let ticket = |c: &client::Reply| c.data()["ticket"].as_str().unwrap().to_owned();

    let t = ticket(&ada.post(&format!("/v1/workspaces/{ws}/events/ticket"), json!({})).await);
    assert_eq!(websocket::handle_event(&state, &ws_event("$connect", "conn-a", json!({"ws": ws, "ticket": t}))).await.status_code, 200);
    assert_eq!(websocket::handle_event(&state, &ws_event("$connect", "conn-b", json!({"ws": ws, "ticket": t}))).await.status_code, 401, "a ticket opens one connection");
    assert_eq!(websocket::handle_event(&state, &ws_event("$connect", "conn-c", json!({"ws": ws}))).await.status_code, 401, "no ticket");
    let t = ticket(&ada.post(&format!("/v1/workspaces/{ws}/events/ticket"), json!({})).await);
    assert_eq!(websocket::handle_event(&state, &ws_event("$connect", "gone-1", json!({"ws": ws, "ticket": t}))).await.status_code, 200);
    let id = WorkspaceId::parse(&ws).unwrap();
    let mut open = websocket::connections(state.table.as_ref(), &id).await.unwrap();
    open.sort();
    assert_eq!(open, ["conn-a", "gone-1"]);

    // Another workspace's event reaches none of them; this workspace's reaches both, and the gone one is dropped.
    let mut eve = Client::new(state.clone());
    eve.sign_up("eve@example.com").await;
    let other = WorkspaceId::parse(&eve.create_workspace("Eve").await).unwrap();
    webtrigger::live::publish(&state, &other, "conversation.updated", json!({"secret": "eve's"})).await;
    webtrigger::live::publish(&state, &id, "conversation.updated", json!({"conversation": {"id": "conv_x"}})).await;
    let got = posts.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0].0.as_str(), got[0].1["kind"].as_str(), got[0].1["data"]["conversation"]["id"].as_str()), ("conn-a", Some("conversation.updated"), Some("conv_x")));
    assert_eq!(websocket::connections(state.table.as_ref(), &id).await.unwrap(), ["conn-a"], "API Gateway said gone-1 is gone");

    // $disconnect forgets the connection; the log still lets a client catch up over HTTP.
    assert_eq!(websocket::handle_event(&state, &ws_event("$disconnect", "conn-a", json!({}))).await.status_code, 200);
    assert!(websocket::connections(state.table.as_ref(), &id).await.unwrap().is_empty());
    let since = ulid::Ulid::from_parts(ulid::Ulid::new().timestamp_ms() - 60_000, 0).to_string();
    let caught = ada.get(&format!("/v1/workspaces/{ws}/events?after={since}")).await;
    assert_eq!(caught.data()["events"].as_array().unwrap().len(), 1, "{}", caught.body);
}

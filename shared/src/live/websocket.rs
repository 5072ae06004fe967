//! Live updates on AWS: the API Gateway WebSocket API. `$connect` redeems a stream ticket (the same
//! single-use ticket as the SSE stream: browsers cannot send headers on a WebSocket either) and records
//! the connection under its workspace; `$disconnect` removes it; [`WebSocketSink`] posts each event to
//! the workspace's connections and forgets the ones API Gateway says are gone.

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::primitives::Blob;

use super::{LiveEvent, LiveSink};
use crate::auth::WorkspaceId;
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, Query, Table};
use crate::state::AppState;

/// API Gateway closes a WebSocket after two hours; records outlive that only by the TTL sweep.
const CONNECTION_SECS: i64 = 2 * 3600;

fn connections_partition(ws: &WorkspaceId) -> String {
    format!("WS#{ws}#LIVECONN")
}

fn connection_pointer(connection: &str) -> Key {
    Key::new("LIVECONN", connection.to_owned())
}

/// `$connect`: `?ws=…&ticket=…`. Refused (the handler answers 401/404) unless the ticket is good.
pub async fn connect(state: &AppState, raw_ws: &str, ticket: &str, connection: &str) -> Result<WorkspaceId, ApiError> {
    let ws = super::ticket::redeem(state, raw_ws, ticket).await?;
    let expiry = state.clock.epoch_seconds() + CONNECTION_SECS;
    let record = Item::new(Key::new(connections_partition(ws.id()), connection.to_owned())).with_attr("user", ws.principal().actor()).with_expiry(expiry);
    let pointer = Item::new(connection_pointer(connection)).with_attr("workspace", ws.id().as_str()).with_expiry(expiry);
    state.table.transact(vec![crate::ports::TxWrite::Put { item: record, condition: Condition::None }, crate::ports::TxWrite::Put { item: pointer, condition: Condition::None }]).await?;
    Ok(ws.id().clone())
}

/// `$disconnect` (and a connection API Gateway reports gone): forgets it.
pub async fn disconnect(table: &dyn Table, connection: &str) -> Result<(), ApiError> {
    let pointer = connection_pointer(connection);
    let Some(item) = table.get(&pointer).await? else { return Ok(()) };
    if let Some(ws) = item.attrs.get("workspace").and_then(|v| v.as_str()) {
        table.delete(&Key::new(format!("WS#{ws}#LIVECONN"), connection.to_owned()), Condition::None).await?;
    }
    table.delete(&pointer, Condition::None).await?;
    Ok(())
}

/// The open connections of `ws`.
pub async fn connections(table: &dyn Table, ws: &WorkspaceId) -> Result<Vec<String>, ApiError> {
    let page = table.query(Query::partition(connections_partition(ws)).limit(1000)).await?;
    Ok(page.items.into_iter().map(|i| i.key.sk).collect())
}

/// Posts events to a workspace's WebSocket connections through the management API.
pub struct WebSocketSink {
    client: aws_sdk_apigatewaymanagement::Client,
    table: std::sync::Arc<dyn Table>,
}

impl WebSocketSink {
    /// `endpoint` is the stage's management URL (`https://{api}.execute-api.{region}.amazonaws.com/{stage}`).
    pub fn new(sdk: &aws_config::SdkConfig, endpoint: &str, table: std::sync::Arc<dyn Table>) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk).endpoint_url(endpoint).build();
        Self { client: aws_sdk_apigatewaymanagement::Client::from_conf(config), table }
    }
}

#[async_trait]
impl LiveSink for WebSocketSink {
    async fn deliver(&self, ws: &WorkspaceId, event: &LiveEvent) {
        let conns = match connections(self.table.as_ref(), ws).await {
            Ok(c) => c,
            Err(e) => return tracing::warn!(error = %e, "live connections not read"),
        };
        let Ok(body) = serde_json::to_vec(event) else { return };
        for conn in conns {
            match self.client.post_to_connection().connection_id(&conn).data(Blob::new(body.clone())).send().await {
                Ok(_) => {}
                Err(e) if e.as_service_error().is_some_and(|s| s.is_gone_exception()) => {
                    if let Err(e) = disconnect(self.table.as_ref(), &conn).await {
                        tracing::warn!(error = %e, "gone connection not removed");
                    }
                }
                // Best effort: the client catches up from the log when it reconnects.
                Err(e) => tracing::warn!(error = %aws_sdk_apigatewaymanagement::error::DisplayErrorContext(&e), "live event not posted"),
            }
        }
    }
}

fn answer(status: i64) -> aws_lambda_events::apigw::ApiGatewayProxyResponse {
    aws_lambda_events::apigw::ApiGatewayProxyResponse { status_code: status, ..Default::default() }
}

/// One WebSocket API event (`$connect`, `$disconnect`, or a client message on `$default`, which is
/// ignored: the feed is one-way). A refused `$connect` answers 401/404 and API Gateway drops it.
pub async fn handle_event(state: &AppState, req: &aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest) -> aws_lambda_events::apigw::ApiGatewayProxyResponse {
    let ctx = &req.request_context;
    let Some(conn) = ctx.connection_id.as_deref() else { return answer(400) };
    match ctx.route_key.as_deref() {
        Some("$connect") => {
            let q = &req.query_string_parameters;
            match connect(state, q.first("ws").unwrap_or_default(), q.first("ticket").unwrap_or_default(), conn).await {
                Ok(_) => answer(200),
                Err(e) => answer(i64::from(e.status().as_u16())),
            }
        }
        Some("$disconnect") => match disconnect(state.table.as_ref(), conn).await {
            Ok(()) => answer(200),
            Err(e) => {
                tracing::warn!(error = %e, "connection not forgotten (its TTL will)");
                answer(200)
            }
        },
        _ => answer(200),
    }
}

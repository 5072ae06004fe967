//! Lambda entry points: what each function's `main.rs` calls after naming its route group or handler.
//! Configuration and clients are built once per cold start, then reused for every invocation.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use axum::Router;
use lambda_runtime::{service_fn, LambdaEvent};

use crate::config::Config;
use crate::ports::QueueSpec;
use crate::schedule::{self, TickReport};
use crate::state::AppState;
use crate::worker::{self, JobHandler};

pub type Error = lambda_runtime::Error;

async fn init() -> Result<AppState, Error> {
    crate::telemetry::init();
    let config = Config::from_env()?;
    Ok(AppState::from_config(&config).await?)
}

/// Serves an API route group behind API Gateway (HTTP API, payload 2.0).
pub async fn run_api(routes: Router<AppState>) -> Result<(), Error> {
    let state = init().await?;
    lambda_http::run(crate::http::api(routes, state, None)).await
}

/// Consumes an SQS queue; answers with partial batch failures.
pub async fn run_worker(queue: QueueSpec, handler: impl JobHandler + 'static) -> Result<(), Error> {
    let state = init().await?;
    let (state, queue, handler) = (&state, &queue, &handler);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(worker::process_batch(state, queue, handler, event.payload).await)
    }))
    .await
}

/// Runs the minute tick for each EventBridge scheduled event.
pub async fn run_schedule() -> Result<(), Error> {
    let state = init().await?;
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<EventBridgeEvent>| async move {
        Ok::<TickReport, Error>(schedule::handle_scheduled_event(state, event.payload).await?)
    }))
    .await
}

/// Handles the live-updates WebSocket API's `$connect` / `$disconnect` / `$default` routes.
pub async fn run_live_websocket() -> Result<(), Error> {
    let state = init().await?;
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest>| async move {
        Ok::<_, Error>(crate::live::websocket::handle_event(state, &event.payload).await)
    }))
    .await
}

//! Lambda entry points: one `pub async fn` per deployed function, each run by its own bootstrap
//! (`functions/lambda/src/bin/<function>.rs`), and the runners for a route group, a queue worker and the
//! minute tick. A bootstrap links only the handlers it serves; configuration and clients are built once per
//! cold start, then reused.

use std::future::Future;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use axum::Router;
use lambda_runtime::{service_fn, LambdaEvent};

use crate::config::Config;
use crate::ports::QueueSpec;
use crate::schedule::{self, TickReport};
use crate::state::AppState;
use crate::worker::{self, JobHandler};
use crate::{auth, broadcasts, contacts, drips, events_out, feeds, flows, health, inbox, live, push, queues, recurring, triggers, whatsapp, workspaces};

pub type Error = lambda_runtime::Error;

/// Runs a bootstrap's entry on a multi-threaded Tokio runtime until the Lambda service stops the sandbox.
pub fn start(entry: impl Future<Output = Result<(), Error>>) -> Result<(), Error> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(entry)
}

/// What a function adds to the shared state: `with_mail` for the two route groups that send email. A
/// function pointer, not a flag, so the bootstraps that never send do not link the SMTP client.
type Extend = fn(AppState, &Config) -> Result<AppState, crate::state::InitError>;

const SHARED_ONLY: Extend = |state, _| Ok(state);
const SENDS_MAIL: Extend = AppState::with_mail;

async fn init(extend: Extend) -> Result<AppState, Error> {
    crate::telemetry::init();
    let config = Config::from_env()?;
    Ok(extend(AppState::for_lambda(&config).await?, &config)?)
}

/// Serves an API route group behind API Gateway (HTTP API, payload 2.0).
async fn run_api(routes: Router<AppState>, extend: Extend) -> Result<(), Error> {
    let state = init(extend).await?;
    lambda_http::run(crate::http::api(routes, state, None)).await
}

/// Consumes an SQS queue; answers with partial batch failures.
async fn run_worker(queue: QueueSpec, handler: impl JobHandler + 'static) -> Result<(), Error> {
    let state = init(SHARED_ONLY).await?;
    let (state, queue, handler) = (&state, &queue, &handler);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(worker::process_batch(state, queue, handler, event.payload).await)
    }))
    .await
}

pub async fn api_health() -> Result<(), Error> {
    run_api(health::routes(), SHARED_ONLY).await
}

pub async fn api_auth() -> Result<(), Error> {
    run_api(auth::routes(), SENDS_MAIL).await
}

pub async fn api_workspaces() -> Result<(), Error> {
    run_api(workspaces::routes(), SENDS_MAIL).await
}

/// Push sites, notifications, drips and recurring notifications.
pub async fn api_sites() -> Result<(), Error> {
    run_api(push::routes().merge(drips::routes()).merge(recurring::routes()), SHARED_ONLY).await
}

/// A site's RSS/Atom feeds, with poll-now: the only route group that parses feeds (feed-rs, regex).
pub async fn api_feeds() -> Result<(), Error> {
    run_api(feeds::routes(), SHARED_ONLY).await
}

/// The site SDK's public routes (subscribe, unsubscribe, click reports).
pub async fn api_subscribers() -> Result<(), Error> {
    run_api(push::public_routes(), SHARED_ONLY).await
}

pub async fn api_credentials() -> Result<(), Error> {
    run_api(whatsapp::credentials_routes(), SHARED_ONLY).await
}

pub async fn api_messages() -> Result<(), Error> {
    run_api(whatsapp::messages_routes(), SHARED_ONLY).await
}

/// The inbox and the live-updates stream routes.
pub async fn api_inbox() -> Result<(), Error> {
    run_api(inbox::routes().merge(live::routes()), SHARED_ONLY).await
}

pub async fn api_triggers() -> Result<(), Error> {
    run_api(triggers::routes(), SHARED_ONLY).await
}

pub async fn api_flows() -> Result<(), Error> {
    run_api(flows::routes(), SHARED_ONLY).await
}

/// Contacts and broadcasts.
pub async fn api_campaigns() -> Result<(), Error> {
    run_api(contacts::routes().merge(broadcasts::routes()), SHARED_ONLY).await
}

pub async fn hook_meta() -> Result<(), Error> {
    run_api(inbox::hooks::meta_routes(), SHARED_ONLY).await
}

pub async fn hook_twilio() -> Result<(), Error> {
    run_api(inbox::hooks::twilio_routes(), SHARED_ONLY).await
}

pub async fn hook_whapi() -> Result<(), Error> {
    run_api(inbox::hooks::whapi_routes(), SHARED_ONLY).await
}

/// The public trigger URL, `POST /t/{trigger}`.
pub async fn hook_trigger() -> Result<(), Error> {
    run_api(triggers::hook_routes(), SHARED_ONLY).await
}

pub async fn worker_echo() -> Result<(), Error> {
    run_worker(queues::echo(), health::EchoWorker).await
}

pub async fn worker_push_send() -> Result<(), Error> {
    run_worker(queues::push_send(), push::worker::PushWorker).await
}

pub async fn worker_whatsapp_send() -> Result<(), Error> {
    run_worker(queues::whatsapp_send(), whatsapp::worker::WhatsAppWorker).await
}

pub async fn worker_webhook_process() -> Result<(), Error> {
    run_worker(queues::webhook_process(), inbox::process::WebhookWorker).await
}

pub async fn worker_events_out() -> Result<(), Error> {
    run_worker(queues::events_out(), events_out::EventsOutWorker).await
}

pub async fn worker_campaigns() -> Result<(), Error> {
    run_worker(queues::campaigns(), broadcasts::worker::CampaignWorker).await
}

pub async fn worker_feeds() -> Result<(), Error> {
    run_worker(queues::feeds(), feeds::poller::FeedWorker).await
}

/// Runs the minute tick for each EventBridge scheduled event.
pub async fn cron_tick() -> Result<(), Error> {
    let state = init(SHARED_ONLY).await?;
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<EventBridgeEvent>| async move {
        Ok::<TickReport, Error>(schedule::handle_scheduled_event(state, event.payload).await?)
    }))
    .await
}

/// Handles the live-updates WebSocket API's `$connect` / `$disconnect` / `$default` routes.
pub async fn live_websocket() -> Result<(), Error> {
    let state = init(SHARED_ONLY).await?;
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest>| async move {
        Ok::<_, Error>(live::websocket::handle_event(state, &event.payload).await)
    }))
    .await
}

#[cfg(test)]
mod tests {
    /// Every bootstrap in `functions/lambda/src/bin/` runs the entry its file names (`api-health.rs` →
    /// `lambda::api_health`); the CDK stack and `scripts/deploy.sh` take the function list from that directory.
    #[test]
    fn each_bootstrap_runs_the_entry_it_is_named_after() {
        let bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions/lambda/src/bin");
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&bin).expect("the bootstrap directory") {
            let path = entry.expect("entry").path();
            let name = path.file_stem().and_then(|s| s.to_str()).expect("a file name").to_owned();
            let source = std::fs::read_to_string(&path).expect("readable");
            let call = format!("webtrigger::lambda::start(webtrigger::lambda::{}())", name.replace('-', "_"));
            assert!(source.contains(&call), "{} must call {call}", path.display());
            names.push(name);
        }
        assert!(names.len() >= 25 && names.iter().all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')), "{names:?}");
    }

    /// Built without the `openapi` feature, as the bootstraps are, the route groups the API functions serve
    /// still route every operation of the checked-in document (`scripts/test-all.sh` runs this build).
    #[cfg(not(feature = "openapi"))]
    #[tokio::test]
    async fn every_documented_operation_is_routed_by_the_bare_route_groups() {
        use super::*;
        use axum::http::{Request, StatusCode};
        use tower::ServiceExt;

        let sdk = aws_config::SdkConfig::builder().behavior_version(aws_config::BehaviorVersion::latest()).region(aws_config::Region::new("us-east-1")).build();
        let aws = crate::config::AwsConfig { table: "t".into(), kms_key_id: "k".into(), secrets_prefix: "p/".into(), queue_urls: Default::default(), endpoint: None };
        let state = AppState::aws_from_sdk(&sdk, &aws, std::sync::Arc::new(crate::ports::SystemClock));
        let groups = [health::routes(), auth::routes(), workspaces::routes(), push::routes(), drips::routes(), recurring::routes(), feeds::routes(), push::public_routes(),
            whatsapp::credentials_routes(), whatsapp::messages_routes(), inbox::routes(), live::routes(), triggers::routes(), flows::routes(), contacts::routes(), broadcasts::routes()];
        // A route that matched answers 299 before any extractor or handler runs; an unrouted one 404 or 405.
        let routed = StatusCode::from_u16(299).unwrap();
        let router = groups.into_iter().fold(Router::new(), Router::merge).route_layer(axum::middleware::from_fn(move |_: axum::extract::Request, _: axum::middleware::Next| async move { routed })).with_state(state);
        let document: serde_json::Value = serde_json::from_str(crate::openapi::DOCUMENT).unwrap();
        let mut operations = 0;
        for (path, item) in document["paths"].as_object().unwrap() {
            let uri: String = path.split('/').map(|part| if part.starts_with('{') { "x1" } else { part }).collect::<Vec<_>>().join("/");
            for method in item.as_object().unwrap().keys().filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str())) {
                let request = Request::builder().method(method.to_uppercase().as_str()).uri(&uri).body(axum::body::Body::empty()).unwrap();
                let status = router.clone().oneshot(request).await.unwrap().status();
                assert_eq!(status, routed, "{method} {path} is not routed");
                operations += 1;
            }
        }
        assert!(operations > 100, "{operations} operations in the document");
    }
}

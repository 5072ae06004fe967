//! Lambda entry points: the one bootstrap every function runs, and the runners for a route group, a queue
//! worker and the minute tick. Configuration and clients are built once per cold start, then reused.

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

/// Every deployed Lambda. All of them run the one `webtrigger-lambda` bootstrap (one link, one artifact);
/// `WEBTRIGGER_FUNCTION` picks the entry. Each stays its own Lambda with its own role, alarms and metrics.
/// The CDK tests read this table (one `"name" => Function::Variant,` per line): keep that shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    ApiHealth,
    ApiAuth,
    ApiWorkspaces,
    ApiSites,
    ApiSubscribers,
    ApiCredentials,
    ApiMessages,
    ApiInbox,
    ApiTriggers,
    ApiFlows,
    ApiCampaigns,
    HookMeta,
    HookTwilio,
    HookWhapi,
    HookTrigger,
    WorkerEcho,
    WorkerPushSend,
    WorkerWhatsAppSend,
    WorkerWebhookProcess,
    WorkerEventsOut,
    WorkerCampaigns,
    CronTick,
}

const FUNCTIONS: &[(&str, Function)] = &[
    ("api-health", Function::ApiHealth),
    ("api-auth", Function::ApiAuth),
    ("api-workspaces", Function::ApiWorkspaces),
    ("api-sites", Function::ApiSites),
    ("api-subscribers", Function::ApiSubscribers),
    ("api-credentials", Function::ApiCredentials),
    ("api-messages", Function::ApiMessages),
    ("api-inbox", Function::ApiInbox),
    ("api-triggers", Function::ApiTriggers),
    ("api-flows", Function::ApiFlows),
    ("api-campaigns", Function::ApiCampaigns),
    ("hook-meta", Function::HookMeta),
    ("hook-twilio", Function::HookTwilio),
    ("hook-whapi", Function::HookWhapi),
    ("hook-trigger", Function::HookTrigger),
    ("worker-echo", Function::WorkerEcho),
    ("worker-push-send", Function::WorkerPushSend),
    ("worker-whatsapp-send", Function::WorkerWhatsAppSend),
    ("worker-webhook-process", Function::WorkerWebhookProcess),
    ("worker-events-out", Function::WorkerEventsOut),
    ("worker-campaigns", Function::WorkerCampaigns),
    ("cron-tick", Function::CronTick),
];

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FunctionError {
    #[error("WEBTRIGGER_FUNCTION is not set; it names the handler this Lambda runs: one of {}", names())]
    Missing,
    #[error("WEBTRIGGER_FUNCTION `{name}` is not a WebTrigger function; expected one of {list}", name = .0, list = names())]
    Unknown(String),
}

fn names() -> String {
    FUNCTIONS.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
}

impl Function {
    /// Every function, in deployment order.
    pub fn all() -> impl Iterator<Item = Function> {
        FUNCTIONS.iter().map(|(_, f)| *f)
    }

    pub fn name(self) -> &'static str {
        FUNCTIONS.iter().find(|(_, f)| *f == self).map(|(name, _)| *name).expect("every function is in FUNCTIONS")
    }

    pub fn parse(name: &str) -> Result<Self, FunctionError> {
        FUNCTIONS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f).ok_or_else(|| FunctionError::Unknown(name.to_owned()))
    }

    /// The function `WEBTRIGGER_FUNCTION` names (set per Lambda by the CDK stack).
    pub fn from_env() -> Result<Self, FunctionError> {
        match std::env::var("WEBTRIGGER_FUNCTION") {
            Ok(name) => Self::parse(name.trim()),
            Err(_) => Err(FunctionError::Missing),
        }
    }

    /// Runs this function's handler until the Lambda service stops the sandbox.
    pub async fn run(self) -> Result<(), Error> {
        use crate::{auth, broadcasts, contacts, events_out, flows, health, inbox, push, queues, triggers, whatsapp, workspaces};
        match self {
            Function::ApiHealth => run_api(health::routes()).await,
            Function::ApiAuth => run_api(auth::routes()).await,
            Function::ApiWorkspaces => run_api(workspaces::routes()).await,
            Function::ApiSites => run_api(push::routes()).await,
            Function::ApiSubscribers => run_api(push::public_routes()).await,
            Function::ApiCredentials => run_api(whatsapp::credentials_routes()).await,
            Function::ApiMessages => run_api(whatsapp::messages_routes()).await,
            Function::ApiInbox => run_api(inbox::routes().merge(crate::live::routes())).await,
            Function::ApiTriggers => run_api(triggers::routes()).await,
            Function::ApiFlows => run_api(flows::routes()).await,
            Function::ApiCampaigns => run_api(contacts::routes().merge(broadcasts::routes())).await,
            Function::HookMeta => run_api(inbox::hooks::meta_routes()).await,
            Function::HookTwilio => run_api(inbox::hooks::twilio_routes()).await,
            Function::HookWhapi => run_api(inbox::hooks::whapi_routes()).await,
            Function::HookTrigger => run_api(triggers::hook_routes()).await,
            Function::WorkerEcho => run_worker(queues::echo(), health::EchoWorker).await,
            Function::WorkerPushSend => run_worker(queues::push_send(), push::worker::PushWorker).await,
            Function::WorkerWhatsAppSend => run_worker(queues::whatsapp_send(), whatsapp::worker::WhatsAppWorker).await,
            Function::WorkerWebhookProcess => run_worker(queues::webhook_process(), inbox::process::WebhookWorker).await,
            Function::WorkerEventsOut => run_worker(queues::events_out(), events_out::EventsOutWorker).await,
            Function::WorkerCampaigns => run_worker(queues::campaigns(), broadcasts::worker::CampaignWorker).await,
            Function::CronTick => run_schedule().await,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_round_trips_through_its_name() {
        for f in Function::all() {
            assert_eq!(Function::parse(f.name()), Ok(f));
        }
        assert_eq!(Function::all().count(), FUNCTIONS.len());
    }

    #[test]
    fn an_unknown_name_is_refused_with_the_list() {
        let err = Function::parse("api-nope").unwrap_err();
        assert_eq!(err, FunctionError::Unknown("api-nope".into()));
        assert!(err.to_string().contains("api-health, api-auth"), "{err}");
    }
}

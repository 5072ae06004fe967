//! Local mode: every route group, queue consumer and the minute tick in one process, plus the built
//! dashboard at `/`, on the configured backend (embedded SQLite, or the AWS adapters for a VM or container
//! deployment). Ctrl-C stops intake, drains in-flight work, then exits.

mod consumer;
mod site;
pub mod embedded_site;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use consumer::{consume, deliveries_to_event, poll_once};
pub use site::dashboard;

use crate::state::{AppState, InitError};

/// Every route group, merged. Each later domain module adds its `routes()` here and gets its own Lambda.
pub fn all_routes() -> Router<AppState> {
    Router::new()
        .merge(crate::health::routes())
        .merge(crate::auth::routes())
        .merge(crate::workspaces::routes())
        .merge(crate::push::routes())
        .merge(crate::drips::routes())
        .merge(crate::recurring::routes())
        .merge(crate::push::public_routes())
        .merge(crate::feeds::routes())
        .merge(crate::whatsapp::credentials_routes())
        .merge(crate::whatsapp::messages_routes())
        .merge(crate::inbox::routes())
        .merge(crate::inbox::hooks::routes())
        .merge(crate::triggers::routes())
        .merge(crate::triggers::hook_routes())
        .merge(crate::flows::routes())
        .merge(crate::contacts::routes())
        .merge(crate::broadcasts::routes())
        .merge(crate::live::local_routes())
}

/// Every queue with its worker.
pub fn all_workers() -> Vec<(crate::ports::QueueSpec, Arc<dyn crate::worker::JobHandler>)> {
    vec![(crate::queues::echo(), Arc::new(crate::health::EchoWorker)), (crate::queues::push_send(), Arc::new(crate::push::worker::PushWorker)),
        (crate::queues::whatsapp_send(), Arc::new(crate::whatsapp::worker::WhatsAppWorker)),
        (crate::queues::webhook_process(), Arc::new(crate::inbox::process::WebhookWorker)),
        (crate::queues::events_out(), Arc::new(crate::events_out::EventsOutWorker)),
        (crate::queues::campaigns(), Arc::new(crate::broadcasts::worker::CampaignWorker)),
        (crate::queues::feeds(), Arc::new(crate::feeds::poller::FeedWorker)),
    ]
}

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub data_dir: PathBuf,
    pub addr: SocketAddr,
    /// The built dashboard (`static-site/dist`); `None` serves the API only.
    pub static_dir: Option<PathBuf>,
    /// How long shutdown waits for in-flight batches.
    pub drain_timeout: Duration,
    /// Backend, limits and body cap; an embedded backend lives in `data_dir`.
    pub config: crate::config::Config,
    /// Extra push endpoint hosts (`host:port`) accepted besides the browser push services.
    pub allow_push_hosts: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Init(#[from] InitError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("server failed: {0}")]
    Server(std::io::Error),
}

/// Runs until `shutdown` resolves. Returns once background work has drained (or the timeout passed).
pub async fn serve(opts: ServeOptions, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
    let mut config = opts.config.clone();
    if let crate::config::BackendConfig::Embedded { data_dir, .. } = &mut config.backend {
        data_dir.clone_from(&opts.data_dir);
    }
    let mut state = AppState::from_config(&config).await?;
    // On the embedded backend this is the only process on the data dir: leases of deliver jobs held by
    // another instance belong to a dead one. Against AWS other processes may share the resources.
    let sole_process = state.backend == crate::state::BackendKind::Embedded;
    let mut push = crate::push::PushRuntime { sole_process, ..Default::default() };
    if !opts.allow_push_hosts.is_empty() {
        tracing::warn!(hosts = ?opts.allow_push_hosts, "accepting push endpoints outside the browser push services");
        push.policy = crate::push::types::EndpointPolicy { extra_hosts: opts.allow_push_hosts.clone() };
    }
    state.push = Arc::new(push);
    state.ensure_queues().await?;
    if let Some(queue) = &state.sqlite_queue {
        // Messages in flight when the last process died would wait out their visibility timeout.
        let released = queue.release_in_flight().await.map_err(InitError::from)?;
        if released > 0 {
            tracing::warn!(released, "released messages left in flight by the previous process");
        }
    }
    let listener = tokio::net::TcpListener::bind(opts.addr).await.map_err(|source| ServeError::Bind { addr: opts.addr, source })?;
    let addr = listener.local_addr().map_err(ServeError::Server)?;
    // `--static-dir` overrides the dashboard the binary embeds.
    let site = opts.static_dir.as_deref().map(dashboard).or_else(embedded_site::router);
    let app = crate::http::api(all_routes(), state.clone(), site);

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut background = JoinSet::new();
    for (spec, handler) in all_workers() {
        background.spawn(consume(state.clone(), spec, handler, stop_rx.clone()));
    }
    background.spawn(minute_timer(state.clone(), stop_rx.clone()));
    tracing::info!(%addr, backend = ?state.backend, data_dir = %opts.data_dir.display(), dashboard = opts.static_dir.is_some(), "webtrigger listening");
    if let crate::config::BackendConfig::Embedded { durability: crate::config::Durability::Normal, .. } = config.backend {
        tracing::warn!("WEBTRIGGER_SQLITE_SYNC=normal: commits are not fsynced; a power loss or OS crash can lose answered writes");
    }

    let server = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutdown requested; draining");
        let _ = stop_tx.send(true);
    });
    let served = server.await.map_err(ServeError::Server);
    let drained = tokio::time::timeout(opts.drain_timeout, async {
        while background.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("background work did not drain in time; remaining jobs stay queued for the next start");
    }
    tracing::info!("stopped");
    served
}

/// Ticks at start and then at each minute boundary, like the EventBridge rule.
async fn minute_timer(state: AppState, mut stop: watch::Receiver<bool>) {
    loop {
        match crate::schedule::tick(&state, state.clock.now()).await {
            Ok(report) => tracing::debug!(?report, "tick"),
            Err(e) => tracing::warn!(error = %e, "tick failed"),
        }
        let into_minute = state.clock.now().timestamp_millis().rem_euclid(60_000) as u64;
        let wait = Duration::from_millis(60_000 - into_minute + 50);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}

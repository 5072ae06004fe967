//! What each command does: build state from the typed config, call the shared crate, print the result.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Context};
use webtrigger::config::{BackendConfig, Config};
use webtrigger::local::{serve, ServeOptions};
use webtrigger::AppState;

use crate::cli::{DlqAction, EventsAction};

include!(concat!(env!("OUT_DIR"), "/dashboard.rs"));

pub async fn serve_command(data_dir: PathBuf, addr: SocketAddr, static_dir: Option<PathBuf>, allow_push_hosts: Vec<String>) -> anyhow::Result<()> {
    if let Some(dir) = static_dir.as_ref().filter(|d| !d.join("index.html").is_file()) {
        anyhow::bail!("--static-dir {}: no index.html there (build the dashboard with `cd static-site && npm run build`)", dir.display());
    }
    webtrigger::local::embedded_site::register(DASHBOARD);
    let opts = ServeOptions { data_dir, addr, static_dir, drain_timeout: Duration::from_secs(30), config: Config::from_env()?, allow_push_hosts };
    serve(opts, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

/// The configured backend's state; the embedded backend lives in `data_dir`.
async fn state(data_dir: PathBuf) -> anyhow::Result<(Config, AppState)> {
    let mut config = Config::from_env()?;
    if let BackendConfig::Embedded { data_dir: dir, .. } = &mut config.backend {
        *dir = data_dir;
    }
    let state = AppState::from_config(&config).await?;
    state.ensure_queues().await?;
    Ok((config, state))
}

pub async fn keys_rotate(data_dir: PathBuf) -> anyhow::Result<()> {
    if matches!(Config::from_env()?.backend, BackendConfig::Embedded { .. }) {
        let version = webtrigger::adapters::LocalKeyring::open(&data_dir.join("keys"))?.rotate()?;
        println!("new master key version {version}");
    }
    let (_, state) = state(data_dir).await?;
    let report = webtrigger::keys::rewrap_all(&state).await.map_err(|e| anyhow!("{e}"))?;
    println!("re-wrapped {} data key(s); {} stale registry entries removed", report.rewrapped, report.stale);
    Ok(())
}

pub async fn dlq(action: DlqAction, data_dir: PathBuf) -> anyhow::Result<()> {
    let (_, state) = state(data_dir).await?;
    let specs = webtrigger::queues::all();
    match action {
        DlqAction::Stats => {
            for d in webtrigger::ops::depths(state.queue.as_ref(), &specs).await? {
                println!("{:<16} waiting {:>8}   dead-lettered {:>8}", d.queue, d.waiting, d.dead);
            }
        }
        DlqAction::Redrive { queue, max } => {
            let names = || specs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
            let spec = specs.iter().find(|s| s.name == queue).ok_or_else(|| anyhow!("unknown queue `{queue}`; queues: {}", names()))?;
            let moved = webtrigger::ops::redrive(state.queue.as_ref(), spec, max).await?;
            println!("moved {moved} message(s) from {} back to {}", spec.dlq_name(), spec.name);
        }
    }
    Ok(())
}

pub async fn events(action: EventsAction, data_dir: PathBuf) -> anyhow::Result<()> {
    let (_, state) = state(data_dir).await?;
    let workspace = |raw: &str| webtrigger::auth::WorkspaceId::parse(raw).map_err(|_| anyhow!("`{raw}` is not a workspace id (ws_…)"));
    match action {
        EventsAction::List { workspace: ws, limit } => {
            let events = webtrigger::inbox::process::list_raw(&state, &workspace(&ws)?, limit).await.map_err(|e| anyhow!("{e}"))?;
            if events.is_empty() {
                println!("no stored webhooks in {ws} (they are kept 14 days)");
            }
            for e in events {
                println!("{}  {}  {:<7} {}  {} bytes", e.id, e.received_at, e.provider.as_str(), e.channel_id, e.body.len());
            }
        }
        EventsAction::Replay { workspace: ws, event } => {
            let n = webtrigger::inbox::process::process(&state, &workspace(&ws)?, &event).await.map_err(|e| anyhow!("{e}")).with_context(|| format!("replaying {event}"))?;
            println!("replayed {event}: {n} event(s) applied again (duplicates are skipped)");
        }
    }
    Ok(())
}

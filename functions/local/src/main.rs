//! `webtrigger`: the whole platform in one process on the embedded backend, plus operator commands.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use webtrigger::local::{serve, ServeOptions};

#[derive(Parser)]
#[command(name = "webtrigger", version, about = "WebTrigger: webhooks in, Web Push and WhatsApp out — local all-in-one server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API, webhooks, workers, minute tick and dashboard on the embedded (SQLite) backend.
    Serve {
        /// Where the database, master keys and generated secrets live (created on first run).
        #[arg(long, default_value = "./data", env = "WEBTRIGGER_DATA_DIR")]
        data_dir: PathBuf,
        #[arg(long, default_value_t = 8080, env = "WEBTRIGGER_PORT")]
        port: u16,
        /// Address to bind; use 0.0.0.0 to accept connections from other machines.
        #[arg(long, default_value = "127.0.0.1", env = "WEBTRIGGER_BIND")]
        bind: IpAddr,
        /// The built dashboard; served at `/` when the directory exists.
        #[arg(long, default_value = "static-site/dist", env = "WEBTRIGGER_STATIC_DIR")]
        static_dir: PathBuf,
        /// Also accept push subscriptions whose endpoint is on this `host:port` (http or https), e.g. a
        /// local push-service fake in tests. Repeatable. Without it only the browser push services count.
        #[arg(long = "allow-push-host", value_name = "HOST:PORT")]
        allow_push_hosts: Vec<String>,
    },
    /// Master-key rotation for stored secrets (provider credentials, VAPID keys).
    Keys {
        #[command(subcommand)]
        action: KeysAction,
        #[arg(long, default_value = "./data", env = "WEBTRIGGER_DATA_DIR", global = true)]
        data_dir: PathBuf,
    },
    /// Inspect and redrive dead-letter queues (embedded backend, or AWS with WEBTRIGGER_BACKEND=aws).
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
        #[arg(long, default_value = "./data", env = "WEBTRIGGER_DATA_DIR", global = true)]
        data_dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Embedded: adds a new master key version. Both backends: re-wraps every stored data key under the
    /// current master key (KMS ReEncrypt on AWS). Safe while the server runs; old versions stay readable.
    Rotate,
}

#[derive(Subcommand)]
enum DlqAction {
    /// Messages waiting and dead-lettered, per queue.
    Stats,
    /// Move dead letters back to their queue (after fixing what made them fail).
    Redrive {
        /// Queue name, e.g. `push-send`.
        queue: String,
        #[arg(long, default_value_t = 1000)]
        max: usize,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    webtrigger::telemetry::init();
    match Cli::parse().command {
        Command::Serve { data_dir, port, bind, static_dir, allow_push_hosts } => {
            let static_dir = static_dir.join("index.html").is_file().then_some(static_dir);
            let config = webtrigger::config::Config::from_env()?;
            let opts = ServeOptions { data_dir, addr: SocketAddr::new(bind, port), static_dir, drain_timeout: Duration::from_secs(30), config, allow_push_hosts };
            serve(opts, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        }
        Command::Keys { action: KeysAction::Rotate, data_dir } => {
            let mut config = webtrigger::config::Config::from_env()?;
            if let webtrigger::config::BackendConfig::Embedded { data_dir: dir } = &mut config.backend {
                *dir = data_dir.clone();
                let version = webtrigger::adapters::LocalKeyring::open(&data_dir.join("keys"))?.rotate()?;
                println!("new master key version {version}");
            }
            let state = webtrigger::AppState::from_config(&config).await?;
            let report = webtrigger::keys::rewrap_all(&state).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("re-wrapped {} data key(s); {} stale registry entries removed", report.rewrapped, report.stale);
        }
        Command::Dlq { action, data_dir } => {
            let mut config = webtrigger::config::Config::from_env()?;
            if let webtrigger::config::BackendConfig::Embedded { data_dir: dir } = &mut config.backend {
                *dir = data_dir;
            }
            let state = webtrigger::AppState::from_config(&config).await?;
            state.ensure_queues().await?;
            let specs = webtrigger::queues::all();
            match action {
                DlqAction::Stats => {
                    for d in webtrigger::ops::depths(state.queue.as_ref(), &specs).await? {
                        println!("{:<16} waiting {:>8}   dead-lettered {:>8}", d.queue, d.waiting, d.dead);
                    }
                }
                DlqAction::Redrive { queue, max } => {
                    let spec = specs.iter().find(|s| s.name == queue).ok_or_else(|| anyhow::anyhow!("unknown queue `{queue}`; queues: {}", specs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")))?;
                    let moved = webtrigger::ops::redrive(state.queue.as_ref(), spec, max).await?;
                    println!("moved {moved} message(s) from {} back to {}", spec.dlq_name(), spec.name);
                }
            }
        }
    }
    Ok(())
}

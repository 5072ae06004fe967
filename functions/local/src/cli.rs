//! The command line: what `webtrigger` accepts. Each command's work is in `commands.rs`.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "webtrigger", version, about = "WebTrigger: webhooks in, Web Push and WhatsApp out — local all-in-one server")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the API, webhooks, workers, minute tick and dashboard in one process: on the embedded (SQLite)
    /// backend, or with WEBTRIGGER_BACKEND=aws on DynamoDB/SQS/KMS/Secrets Manager (a VM or container deployment).
    Serve {
        /// Where the database, master keys and generated secrets live (created on first run).
        #[arg(long, default_value = "./data", env = "WEBTRIGGER_DATA_DIR")]
        data_dir: PathBuf,
        #[arg(long, default_value_t = 8080, env = "WEBTRIGGER_PORT")]
        port: u16,
        /// Address to bind; use 0.0.0.0 to accept connections from other machines.
        #[arg(long, default_value = "127.0.0.1", env = "WEBTRIGGER_BIND")]
        bind: IpAddr,
        /// Serve the dashboard from this build directory instead of the copy embedded in the binary.
        #[arg(long, env = "WEBTRIGGER_STATIC_DIR")]
        static_dir: Option<PathBuf>,
        /// Also accept push subscriptions whose endpoint is on this `host:port` (http or https), e.g. a
        /// local push-service fake in tests. Repeatable. Without it only the browser push services count.
        #[arg(long = "allow-push-host", value_name = "HOST:PORT")]
        allow_push_hosts: Vec<String>,
    },
    /// Fill a fresh local install with a demo workspace (sites, subscribers, sent notifications, a WhatsApp
    /// channel with conversations, a trigger with invocations, a flow) and print the owner's login.
    Demo {
        /// An empty or new data directory; one that already has data is refused.
        #[arg(long, default_value = "./data", env = "WEBTRIGGER_DATA_DIR")]
        data_dir: PathBuf,
    },
    /// Master-key rotation for stored secrets (provider credentials, VAPID keys).
    Keys {
        #[command(subcommand)]
        action: KeysAction,
        #[arg(long, default_value = "./data", env = "WEBTRIGGER_DATA_DIR", global = true)]
        data_dir: PathBuf,
    },
    /// Stored provider webhooks (kept 14 days): list them, or run one through processing again.
    Events {
        #[command(subcommand)]
        action: EventsAction,
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
pub enum KeysAction {
    /// Embedded: adds a new master key version. Both backends: re-wraps every stored data key under the
    /// current master key (KMS ReEncrypt on AWS). Safe while the server runs; old versions stay readable.
    Rotate,
}

#[derive(Subcommand)]
pub enum DlqAction {
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

#[derive(Subcommand)]
pub enum EventsAction {
    /// The workspace's stored webhooks, newest first.
    List {
        /// Workspace id (`ws_…`).
        workspace: String,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Process a stored webhook again (idempotent: nothing is duplicated), e.g. after fixing a channel.
    Replay {
        /// Workspace id (`ws_…`).
        workspace: String,
        /// Event id, as `events list` prints it.
        event: String,
    },
}

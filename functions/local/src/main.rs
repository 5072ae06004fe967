//! `webtrigger`: the whole platform in one process (embedded or AWS backend), plus operator commands.

mod cli;
mod commands;
mod demo;

use std::net::SocketAddr;

use clap::Parser;
use cli::{Cli, Command, KeysAction};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    webtrigger::telemetry::init();
    match Cli::parse().command {
        Command::Serve { data_dir, port, bind, static_dir, allow_push_hosts } => commands::serve_command(data_dir, SocketAddr::new(bind, port), static_dir, allow_push_hosts).await,
        Command::Demo { data_dir } => demo::demo(data_dir).await,
        Command::Keys { action: KeysAction::Rotate, data_dir } => commands::keys_rotate(data_dir).await,
        Command::Dlq { action, data_dir } => commands::dlq(action, data_dir).await,
        Command::Events { action, data_dir } => commands::events(action, data_dir).await,
    }
}

//! The in-process live sink: one broadcast channel that every open Server-Sent Events stream of this
//! process listens on, each keeping its own workspace's events; plus, on AWS, the sink that posts to
//! the workspace's WebSocket connections.

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::{LiveEvent, LiveSink};
use crate::auth::WorkspaceId;

/// Buffered events per stream before a slow reader skips ahead (it then catches up from the log).
const BUFFER: usize = 1024;

pub struct Hub {
    tx: broadcast::Sender<(WorkspaceId, LiveEvent)>,
    /// Connections outside this process (API Gateway WebSocket connections on AWS).
    remote: Option<std::sync::Arc<dyn LiveSink>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self { tx: broadcast::channel(BUFFER).0, remote: None }
    }
}

impl Hub {
    /// Also delivers to `remote` (the WebSocket poster on AWS).
    pub fn with_remote(mut self, remote: std::sync::Arc<dyn LiveSink>) -> Self {
        self.remote = Some(remote);
        self
    }

    /// A receiver of every event published from now on (callers filter by workspace).
    pub fn subscribe(&self) -> broadcast::Receiver<(WorkspaceId, LiveEvent)> {
        self.tx.subscribe()
    }
}

#[async_trait]
impl LiveSink for Hub {
    async fn deliver(&self, ws: &WorkspaceId, event: &LiveEvent) {
        // No receiver is the normal case when nobody has the dashboard open.
        let _ = self.tx.send((ws.clone(), event.clone()));
        if let Some(remote) = &self.remote {
            remote.deliver(ws, event).await;
        }
    }
}

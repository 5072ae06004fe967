//! `worker-campaigns`: the campaigns queue carries contact-import chunks and broadcast fan-out pages.

use async_trait::async_trait;
use aws_lambda_events::sqs::SqsMessage;
use serde::{Deserialize, Serialize};

use super::fanout::{self, FanoutJob};
use crate::contacts::imports::{self, ChunkJob};
use crate::http::ApiError;
use crate::ports::OutgoingMessage;
use crate::state::AppState;
use crate::worker::{JobError, JobHandler};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CampaignJob {
    ImportChunk(ChunkJob),
    Fanout(FanoutJob),
}

/// Queues jobs, ten to a send.
pub async fn enqueue(state: &AppState, jobs: &[CampaignJob]) -> Result<(), ApiError> {
    let queue = crate::queues::campaigns().name;
    for batch in jobs.chunks(crate::ports::queue::MAX_BATCH) {
        let messages = batch.iter().map(|j| OutgoingMessage::new(serde_json::to_string(j).expect("job serialises"))).collect();
        state.queue.send(&queue, messages).await?;
    }
    Ok(())
}

pub struct CampaignWorker;

#[async_trait]
impl JobHandler for CampaignWorker {
    async fn handle(&self, state: &AppState, message: &SqsMessage) -> Result<(), JobError> {
        let job: CampaignJob = serde_json::from_str(message.body.as_deref().unwrap_or_default()).map_err(|e| JobError::Permanent(format!("not a campaign job: {e}")))?;
        let result = match &job {
            CampaignJob::ImportChunk(j) => imports::process_chunk(state, j).await,
            CampaignJob::Fanout(j) => fanout::page(state, j).await,
        };
        result.map_err(|e| match e {
            ApiError::NotFound(m) => JobError::Permanent(m),
            e => JobError::retry(e),
        })
    }
}

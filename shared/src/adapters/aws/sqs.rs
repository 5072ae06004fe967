//! `SqsQueue`: the `Queue` port on SQS. Logical queue names map to URLs from configuration
//! (`WEBTRIGGER_QUEUE_URL_<NAME>`), else are resolved once with GetQueueUrl.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry};
use aws_sdk_sqs::Client;

use super::describe;
use crate::ports::queue::{check_send, MAX_BATCH};
use crate::ports::{Delivery, OutgoingMessage, Queue, QueueError, QueueSpec};

pub struct SqsQueue {
    client: Client,
    urls: RwLock<HashMap<String, String>>,
}

fn unavailable<E: std::error::Error>(e: E) -> QueueError {
    QueueError::Unavailable(describe(&e))
}

impl SqsQueue {
    /// `urls` maps logical queue names to queue URLs (usually from the environment).
    pub fn new(client: Client, urls: HashMap<String, String>) -> Self {
        Self { client, urls: RwLock::new(urls) }
    }

    /// The URL a logical queue name resolves to.
    pub async fn url(&self, name: &str) -> Result<String, QueueError> {
        if let Some(url) = self.urls.read().expect("url map").get(name) {
            return Ok(url.clone());
        }
        let out = self.client.get_queue_url().queue_name(name).send().await.map_err(|e| match e.into_service_error() {
            e if e.is_queue_does_not_exist() => QueueError::UnknownQueue(name.to_owned()),
            e => unavailable(e),
        })?;
        let url = out.queue_url.ok_or_else(|| QueueError::UnknownQueue(name.to_owned()))?;
        self.urls.write().expect("url map").insert(name.to_owned(), url.clone());
        Ok(url)
    }

    async fn create(&self, name: &str, attrs: HashMap<QueueAttributeName, String>) -> Result<String, QueueError> {
        let out = self.client.create_queue().queue_name(name).set_attributes(Some(attrs)).send().await.map_err(unavailable)?;
        let url = out.queue_url.ok_or_else(|| QueueError::Unavailable("CreateQueue returned no URL".into()))?;
        self.urls.write().expect("url map").insert(name.to_owned(), url.clone());
        Ok(url)
    }
}

fn stale_or_unavailable<E: std::error::Error + aws_sdk_sqs::error::ProvideErrorMetadata>(e: E) -> QueueError {
    match e.code() {
        Some("ReceiptHandleIsInvalid" | "InvalidParameterValue" | "MessageNotInflight") => QueueError::StaleReceipt,
        _ => unavailable(e),
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn ensure(&self, spec: &QueueSpec) -> Result<(), QueueError> {
        // A configured URL means the queue is owned elsewhere (the CDK stack): creating one by name would
        // divert this process to a second, unconsumed queue.
        if self.urls.read().expect("url map").contains_key(&spec.name) {
            return Ok(());
        }
        let dlq_url = self.create(&spec.dlq_name(), HashMap::from([(QueueAttributeName::MessageRetentionPeriod, "1209600".into())])).await?;
        let dlq_arn = self
            .client
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(unavailable)?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .ok_or_else(|| QueueError::Unavailable("DLQ has no ARN".into()))?;
        let redrive = serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": spec.max_receives}).to_string();
        self.create(
            &spec.name,
            HashMap::from([
                (QueueAttributeName::VisibilityTimeout, spec.visibility_timeout.as_secs().max(1).to_string()),
                (QueueAttributeName::RedrivePolicy, redrive),
            ]),
        )
        .await?;
        Ok(())
    }

    async fn send(&self, queue: &str, messages: Vec<OutgoingMessage>) -> Result<Vec<String>, QueueError> {
        check_send(&messages)?;
        let url = self.url(queue).await?;
        let entries = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(&m.body)
                    .delay_seconds(m.delay.as_secs() as i32)
                    .build()
                    .map_err(unavailable)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self.client.send_message_batch().queue_url(url).set_entries(Some(entries)).send().await.map_err(unavailable)?;
        if let Some(failed) = out.failed.first() {
            return Err(QueueError::Unavailable(format!("send of entry {} failed: {}", failed.id, failed.message.as_deref().unwrap_or(&failed.code))));
        }
        let mut ids = vec![String::new(); messages.len()];
        for ok in out.successful {
            if let Some(slot) = ok.id.parse::<usize>().ok().and_then(|i| ids.get_mut(i)) {
                *slot = ok.message_id;
            }
        }
        Ok(ids)
    }

    async fn receive(&self, queue: &str, max: usize, wait: Duration) -> Result<Vec<Delivery>, QueueError> {
        if max == 0 || max > MAX_BATCH {
            return Err(QueueError::Invalid("receive takes 1..=10 messages".into()));
        }
        let url = self.url(queue).await?;
        let out = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(max as i32)
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let attr = |name: MessageSystemAttributeName| m.attributes.as_ref().and_then(|a| a.get(&name)).and_then(|v| v.parse().ok());
                Delivery {
                    receive_count: attr(MessageSystemAttributeName::ApproximateReceiveCount).unwrap_or(1) as u32,
                    sent_at_ms: attr(MessageSystemAttributeName::SentTimestamp).unwrap_or(0),
                    message_id: m.message_id.unwrap_or_default(),
                    receipt_handle: m.receipt_handle.unwrap_or_default(),
                    body: m.body.unwrap_or_default(),
                }
            })
            .collect())
    }

    async fn ack(&self, queue: &str, receipt_handle: &str) -> Result<(), QueueError> {
        let url = self.url(queue).await?;
        self.client.delete_message().queue_url(url).receipt_handle(receipt_handle).send().await.map(|_| ()).map_err(|e| stale_or_unavailable(e.into_service_error()))
    }

    async fn retry_after(&self, queue: &str, receipt_handle: &str, delay: Duration) -> Result<(), QueueError> {
        let url = self.url(queue).await?;
        self.client
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(delay.as_secs().min(43_200) as i32)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| stale_or_unavailable(e.into_service_error()))
    }

    async fn depth(&self, queue: &str) -> Result<u64, QueueError> {
        let url = self.url(queue).await?;
        let names = [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            QueueAttributeName::ApproximateNumberOfMessagesDelayed,
        ];
        let out = self.client.get_queue_attributes().queue_url(url).set_attribute_names(Some(names.to_vec())).send().await.map_err(unavailable)?;
        let attrs = out.attributes.unwrap_or_default();
        Ok(names.iter().filter_map(|n| attrs.get(n)).filter_map(|v| v.parse::<u64>().ok()).sum())
    }
}

//! `process_batch` outcomes (success, retry with backoff, permanent → DLQ) and the local consumer loop.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsMessage;
use webtrigger::local::{consume, deliveries_to_event};
use webtrigger::ports::{OutgoingMessage, QueueSpec};
use webtrigger::worker::{process_batch, JobError, JobHandler};
use webtrigger::AppState;
use webtrigger_tests::embedded_state;

/// Succeeds on "ok", retries "flaky" (after 1 s) until its third attempt, rejects anything else.
#[derive(Default)]
struct Scripted {
    handled: AtomicUsize,
}

#[async_trait]
impl JobHandler for Scripted {
    async fn handle(&self, _state: &AppState, message: &SqsMessage) -> Result<(), JobError> {
        self.handled.fetch_add(1, Ordering::SeqCst);
        let attempt: u32 = message.attributes["ApproximateReceiveCount"].parse().unwrap();
        match message.body.as_deref() {
            Some("ok") => Ok(()),
            Some("flaky") if attempt >= 3 => Ok(()),
            Some("flaky") => Err(JobError::Retry { reason: "provider 503".into(), after: Some(Duration::from_secs(1)) }),
            _ => Err(JobError::Permanent("unreadable job".into())),
        }
    }
}

fn spec() -> QueueSpec {
    QueueSpec::new("scripted", Duration::from_secs(30), 5)
}

#[tokio::test]
async fn partial_batch_failures() {
    let (state, _d) = embedded_state().await;
    state.queue.ensure(&spec()).await.unwrap();
    let bodies = ["ok", "flaky", "garbage"].map(OutgoingMessage::new).to_vec();
    let ids = state.queue.send("scripted", bodies).await.unwrap();
    let deliveries = state.queue.receive("scripted", 10, Duration::from_secs(1)).await.unwrap();
    assert_eq!(deliveries.len(), 3);
    let response = process_batch(&state, &spec(), &Scripted::default(), deliveries_to_event(&spec(), &deliveries)).await;
    let failed: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
    assert_eq!(failed, vec![ids[1].clone()], "only the transient failure stays on the queue");
    assert_eq!(state.queue.depth("scripted-dlq").await.unwrap(), 1, "the permanent failure is dead-lettered");
    assert!(state.queue.receive("scripted", 10, Duration::ZERO).await.unwrap().len() <= 1);
}

#[tokio::test]
async fn local_consumer_retries_until_success_then_drains_on_stop() {
    let (state, _d) = embedded_state().await;
    state.queue.ensure(&spec()).await.unwrap();
    let handler = Arc::new(Scripted::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let consumer = tokio::spawn(consume(state.clone(), spec(), handler.clone(), stop_rx));
    state.queue.send("scripted", vec![OutgoingMessage::new("ok"), OutgoingMessage::new("flaky")]).await.unwrap();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while state.queue.depth("scripted").await.unwrap() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "queue never drained");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(handler.handled.load(Ordering::SeqCst), 4, "ok once, flaky three times (two backoffs of 1 s)");
    assert_eq!(state.queue.depth("scripted-dlq").await.unwrap(), 0);
    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(3), consumer).await.expect("consumer stops promptly").unwrap();
}

#[tokio::test]
async fn dead_letters_can_be_redriven() {
    let (state, _d) = embedded_state().await;
    state.queue.ensure(&spec()).await.unwrap();
    state.queue.send("scripted-dlq", (0..10).map(|i| OutgoingMessage::new(format!("job-{i}"))).collect()).await.unwrap();
    state.queue.send("scripted-dlq", (10..13).map(|i| OutgoingMessage::new(format!("job-{i}"))).collect()).await.unwrap();
    let before = webtrigger::ops::depths(state.queue.as_ref(), &[spec()]).await.unwrap();
    assert_eq!((before[0].waiting, before[0].dead), (0, 13));
    assert_eq!(webtrigger::ops::redrive(state.queue.as_ref(), &spec(), 5).await.unwrap(), 5, "respects --max");
    assert_eq!(webtrigger::ops::redrive(state.queue.as_ref(), &spec(), 100).await.unwrap(), 8);
    let after = webtrigger::ops::depths(state.queue.as_ref(), &[spec()]).await.unwrap();
    assert_eq!((after[0].waiting, after[0].dead), (13, 0));
    let bodies: std::collections::BTreeSet<String> = state.queue.receive("scripted", 10, Duration::ZERO).await.unwrap().into_iter().map(|d| d.body).collect();
    assert!(bodies.iter().all(|b| b.starts_with("job-")));
}

#[tokio::test]
async fn retries_exhausted_go_to_the_dlq() {
    let (state, _d) = embedded_state().await;
    let tight = QueueSpec::new("scripted", Duration::from_secs(30), 2);
    state.queue.ensure(&tight).await.unwrap();
    let handler = Arc::new(Scripted::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let consumer = tokio::spawn(consume(state.clone(), tight.clone(), handler.clone(), stop_rx));
    state.queue.send("scripted", vec![OutgoingMessage::new("flaky")]).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while state.queue.depth("scripted-dlq").await.unwrap() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "never dead-lettered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(handler.handled.load(Ordering::SeqCst), 2, "max_receives = 2 attempts, then the DLQ");
    stop_tx.send(true).unwrap();
    consumer.await.unwrap();
}

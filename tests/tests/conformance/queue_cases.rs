//! `Queue` contract cases (real time: short visibility timeouts and delays). A loaded machine can stall any
//! call for seconds, so a "not visible yet" assertion is made only while the window it depends on provably
//! has not passed (timed from before the call that opened it); past it, the case goes on with what it got.

use std::time::Duration;

use tokio::time::Instant;

use webtrigger::ports::{OutgoingMessage, QueueError, QueueSpec};

use super::backends::Backend;

const NO_WAIT: Duration = Duration::ZERO;

async fn receive_within(b: &Backend, queue: &str, within: Duration) -> Vec<webtrigger::ports::Delivery> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let got = b.queue.receive(queue, 10, Duration::from_secs(1).min(within)).await.unwrap();
        if !got.is_empty() || tokio::time::Instant::now() >= deadline {
            return got;
        }
    }
}

/// Receives nothing while `window` (opened no earlier than `opened`) provably lasts; returns what a receive
/// got once the window may have passed, for the case to carry on with.
async fn invisible_during(b: &Backend, queue: &str, opened: Instant, window: Duration, what: &str) -> Vec<webtrigger::ports::Delivery> {
    let got = b.queue.receive(queue, 10, NO_WAIT).await.unwrap();
    if opened.elapsed() < window {
        assert!(got.is_empty(), "{what}: {got:?}");
    }
    got
}

pub async fn queue_redelivery_after_visibility_timeout(b: Backend) {
    let spec = QueueSpec::new(&format!("{}-vis", b.unique), Duration::from_secs(1), 5);
    b.queue.ensure(&spec).await.unwrap();
    b.queue.ensure(&spec).await.expect("ensure is idempotent");
    let ids = b.queue.send(&spec.name, vec![OutgoingMessage::new("job-1")]).await.unwrap();
    let opened = Instant::now();
    let first = receive_within(&b, &spec.name, Duration::from_secs(3)).await;
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].body.as_str(), first[0].receive_count, &first[0].message_id), ("job-1", 1, &ids[0]));
    let early = invisible_during(&b, &spec.name, opened, spec.visibility_timeout, "in flight: invisible to others").await;
    let again = if early.is_empty() { receive_within(&b, &spec.name, Duration::from_secs(5)).await } else { early };
    assert_eq!(again.len(), 1, "redelivered after the visibility timeout");
    assert_eq!((again[0].body.as_str(), again[0].receive_count), ("job-1", 2));
    b.queue.ack(&spec.name, &again[0].receipt_handle).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert!(b.queue.receive(&spec.name, 10, NO_WAIT).await.unwrap().is_empty(), "acked messages never return");
}

pub async fn backoff_releases_early(b: Backend) {
    let spec = QueueSpec::new(&format!("{}-bo", b.unique), Duration::from_secs(30), 5);
    b.queue.ensure(&spec).await.unwrap();
    b.queue.send(&spec.name, vec![OutgoingMessage::new("retry-me")]).await.unwrap();
    let got = receive_within(&b, &spec.name, Duration::from_secs(3)).await;
    let (opened, backoff) = (Instant::now(), Duration::from_secs(1));
    b.queue.retry_after(&spec.name, &got[0].receipt_handle, backoff).await.unwrap();
    let early = invisible_during(&b, &spec.name, opened, backoff, "held for the backoff").await;
    let again = if early.is_empty() { receive_within(&b, &spec.name, Duration::from_secs(5)).await } else { early };
    assert_eq!(again.len(), 1, "visible after the backoff, long before the 30 s visibility timeout");
    assert_eq!(again[0].receive_count, 2);
}

pub async fn dlq_after_max_receives(b: Backend) {
    let spec = QueueSpec::new(&format!("{}-dlq-test", b.unique), Duration::from_secs(30), 2);
    b.queue.ensure(&spec).await.unwrap();
    b.queue.send(&spec.name, vec![OutgoingMessage::new("poison")]).await.unwrap();
    for attempt in 1..=2 {
        let got = receive_within(&b, &spec.name, Duration::from_secs(3)).await;
        assert_eq!(got.len(), 1, "receive {attempt}");
        assert_eq!(got[0].receive_count, attempt);
        b.queue.retry_after(&spec.name, &got[0].receipt_handle, Duration::ZERO).await.unwrap();
    }
    assert!(receive_within(&b, &spec.name, Duration::from_secs(2)).await.is_empty(), "third receive moves it to the DLQ");
    let dead = receive_within(&b, &spec.dlq_name(), Duration::from_secs(3)).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "poison");
}

pub async fn delay_defers_visibility(b: Backend) {
    let spec = QueueSpec::new(&format!("{}-delay", b.unique), Duration::from_secs(30), 3);
    b.queue.ensure(&spec).await.unwrap();
    let (opened, delay) = (Instant::now(), Duration::from_secs(2));
    b.queue.send(&spec.name, vec![OutgoingMessage::new("later").delayed(delay), OutgoingMessage::new("now")]).await.unwrap();
    let mut seen: Vec<String> = receive_within(&b, &spec.name, Duration::from_secs(1)).await.into_iter().map(|d| d.body).collect();
    if opened.elapsed() < delay {
        assert_eq!(seen, ["now"], "only the undelayed message");
    }
    seen.extend(invisible_during(&b, &spec.name, opened, delay, "delayed message not yet visible").await.into_iter().map(|d| d.body));
    while !seen.iter().any(|b| b == "later") {
        let got = receive_within(&b, &spec.name, Duration::from_secs(5)).await;
        assert!(!got.is_empty(), "the delayed message shows up after its delay");
        seen.extend(got.into_iter().map(|d| d.body));
    }
    seen.sort();
    assert_eq!(seen, ["later", "now"], "each once");
}

pub async fn queue_input_is_validated(b: Backend) {
    let spec = QueueSpec::new(&format!("{}-val", b.unique), Duration::from_secs(30), 3);
    b.queue.ensure(&spec).await.unwrap();
    let too_late = OutgoingMessage::new("x").delayed(Duration::from_secs(901));
    assert!(matches!(b.queue.send(&spec.name, vec![too_late]).await, Err(QueueError::Invalid(_))));
    let eleven = (0..11).map(|i| OutgoingMessage::new(i.to_string())).collect();
    assert!(matches!(b.queue.send(&spec.name, eleven).await, Err(QueueError::Invalid(_))));
    let unknown = b.queue.send(&format!("{}-nope", b.unique), vec![OutgoingMessage::new("x")]).await;
    assert!(matches!(unknown, Err(QueueError::UnknownQueue(_))), "{unknown:?}");
    let ten = (0..10).map(|i| OutgoingMessage::new(i.to_string())).collect();
    assert_eq!(b.queue.send(&spec.name, ten).await.unwrap().len(), 10);
    assert_eq!(b.queue.depth(&spec.name).await.unwrap(), 10);
}

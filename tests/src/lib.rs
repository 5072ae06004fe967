//! Helpers shared by the workspace-level integration tests: an embedded `AppState` in memory, and fresh
//! AWS resources (table with `gsi1`, KMS key, secrets) on the moto server the test command starts.

use std::sync::Arc;

use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType};
use webtrigger::adapters::aws::sdk_config_for_endpoint;
use webtrigger::adapters::{LocalKeyring, LocalSecrets, SqliteDb};
use webtrigger::config::AwsConfig;
use webtrigger::ports::{Clock, SystemClock};
use webtrigger::AppState;

/// An embedded `AppState` on a private in-memory database with every platform queue created.
/// Keep the returned directory alive as long as the state (it holds the keys and secrets).
pub async fn embedded_state() -> (AppState, tempfile::TempDir) {
    embedded_state_with_clock(Arc::new(SystemClock)).await
}

pub async fn embedded_state_with_clock(clock: Arc<dyn Clock>) -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let keyring = LocalKeyring::open(&dir.path().join("keys")).expect("keyring");
    let secrets = LocalSecrets::with_dir(dir.path().join("secrets")).generating(webtrigger::state::GENERATED_SECRETS);
    let state = AppState::embedded_parts(SqliteDb::in_memory().expect("sqlite"), Arc::new(keyring), Arc::new(secrets), clock);
    state.ensure_queues().await.expect("queues");
    (state, dir)
}

pub fn aws_endpoint() -> String {
    std::env::var("WEBTRIGGER_TEST_AWS_ENDPOINT")
        .expect("WEBTRIGGER_TEST_AWS_ENDPOINT is not set: run the README test command (scripts/test-all.sh), which starts moto_server")
}

/// A unique lower-case name for per-test AWS resources.
pub fn unique_name() -> String {
    format!("t{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// Fresh AWS resources on moto: a table shaped like the CDK one, a KMS key, and the secrets
/// `<name>/token-signing-key` and `<name>/conformance-secret`.
pub async fn aws_resources(name: &str) -> (aws_config::SdkConfig, AwsConfig) {
    let sdk = sdk_config_for_endpoint(&aws_endpoint()).await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let attr = |n: &str| AttributeDefinition::builder().attribute_name(n).attribute_type(ScalarAttributeType::S).build().unwrap();
    let key = |n: &str, t: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(t).build().unwrap();
    ddb.create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(vec![attr("pk"), attr("sk"), attr("gsi1pk"), attr("gsi1sk")]))
        .set_key_schema(Some(vec![key("pk", KeyType::Hash), key("sk", KeyType::Range)]))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("gsi1")
                .set_key_schema(Some(vec![key("gsi1pk", KeyType::Hash), key("gsi1sk", KeyType::Range)]))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create table in moto");
    let kms = aws_sdk_kms::Client::new(&sdk);
    let key_id = kms.create_key().send().await.expect("create KMS key").key_metadata.unwrap().key_id;
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let prefix = format!("{name}/");
    for (secret, value) in [("conformance-secret", "s3cret-value".to_owned()), ("token-signing-key", unique_name() + &unique_name()), ("dashboard-vapid-key", unique_name() + &unique_name())] {
        sm.create_secret().name(format!("{prefix}{secret}")).secret_string(value).send().await.expect("create secret");
    }
    let config = AwsConfig { table: name.to_owned(), kms_key_id: key_id, secrets_prefix: prefix, queue_urls: Default::default(), endpoint: Some(aws_endpoint()) };
    (sdk, config)
}

/// An AWS-backed `AppState` on fresh moto resources, with every platform queue created.
pub async fn aws_state_with_clock(clock: Arc<dyn Clock>) -> AppState {
    let (sdk, config) = aws_resources_with_queues().await;
    let mut state = AppState::aws_from_sdk(&sdk, &config, clock.clone());
    let dynamo = webtrigger::adapters::DynamoTable::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table, clock);
    state.table = Arc::new(moto_table::SerialWrites::new(dynamo));
    state.buckets = Arc::new(webtrigger::auth::ratelimit::TableBuckets(state.table.clone()));
    state
}

/// Fresh moto resources plus every platform queue under a unique name, their URLs in the config (as
/// the CDK stack hands them to the functions).
pub async fn aws_resources_with_queues() -> (aws_config::SdkConfig, AwsConfig) {
    let name = unique_name();
    let (sdk, mut config) = aws_resources(&name).await;
    let provisioner = webtrigger::adapters::SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), Default::default());
    for spec in webtrigger::queues::all() {
        let mut unique = spec.clone();
        unique.name = format!("{name}-{}", spec.name);
        webtrigger::ports::Queue::ensure(&provisioner, &unique).await.expect("queue");
        config.queue_urls.insert(spec.name.clone(), provisioner.url(&unique.name).await.unwrap());
        config.queue_urls.insert(spec.dlq_name(), provisioner.url(&unique.dlq_name()).await.unwrap());
    }
    (sdk, config)
}

pub mod browser;
pub mod cpu;
pub mod latency;
pub mod media_fakes;
pub mod moto_table;
pub mod provider_fakes;
pub mod template_fakes;
pub mod webhook_signing;

/// Path of a file under the workspace root.
pub fn workspace_file(relative: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

/// Runs the inbound-processing and WhatsApp-send queues until nothing is left to do. A job retried with a
/// short backoff (DynamoDB cancels one of two concurrent transactions on the same item as a conflict, and
/// the job tries again a second later) is waited for, up to a few seconds of idle queues; a message
/// parked further out is left where it is.
pub async fn drain_inbound(state: &AppState) {
    use std::time::Duration;
    let queues: [(webtrigger::ports::QueueSpec, Arc<dyn webtrigger::worker::JobHandler>); 2] =
        [(webtrigger::queues::webhook_process(), Arc::new(webtrigger::inbox::process::WebhookWorker)), (webtrigger::queues::whatsapp_send(), Arc::new(webtrigger::whatsapp::worker::WhatsAppWorker))];
    let mut idle_since = tokio::time::Instant::now();
    loop {
        let mut n = 0;
        for (spec, handler) in &queues {
            n += webtrigger::local::poll_once(state, spec, handler.as_ref(), Duration::ZERO).await.unwrap();
        }
        if n > 0 {
            idle_since = tokio::time::Instant::now();
            continue;
        }
        let mut waiting = 0;
        for (spec, _) in &queues {
            waiting += state.queue.depth(&spec.name).await.unwrap();
        }
        if waiting == 0 || idle_since.elapsed() > Duration::from_secs(3) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs the `push-send` queue through the push worker, job by job and acked one at a time, until it is
/// empty (60 s at most); answers the bodies of the jobs it ran, in order.
pub async fn run_push_jobs(state: &AppState) -> Vec<serde_json::Value> {
    use std::time::Duration;
    use webtrigger::worker::JobHandler;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut ran = Vec::new();
    loop {
        let batch = state.queue.receive("push-send", 10, Duration::ZERO).await.unwrap();
        if batch.is_empty() {
            return ran;
        }
        for d in batch {
            let message = aws_lambda_events::event::sqs::SqsMessage {
                message_id: Some(d.message_id.clone()),
                body: Some(d.body.clone()),
                attributes: [("ApproximateReceiveCount".to_owned(), d.receive_count.to_string())].into_iter().collect(),
                ..Default::default()
            };
            webtrigger::push::worker::PushWorker.handle(state, &message).await.unwrap();
            state.queue.ack("push-send", &d.receipt_handle).await.unwrap();
            ran.push(serde_json::from_str(&d.body).unwrap());
        }
        assert!(tokio::time::Instant::now() < deadline, "push jobs never drained");
    }
}

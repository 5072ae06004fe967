//! The two backends under test: embedded adapters in-process, AWS adapters against the moto server
//! the test command starts (`WEBTRIGGER_TEST_AWS_ENDPOINT`). Every test gets fresh, uniquely named resources.

use std::sync::Arc;

use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType};
use webtrigger::adapters::aws::sdk_config_for_endpoint;
use webtrigger::adapters::{DynamoTable, KmsKeyring, LocalKeyring, LocalSecrets, SecretsManagerSecrets, SqliteDb, SqliteQueue, SqliteTable, SqsQueue};
use webtrigger::ports::{Clock, Keyring, Queue, Secrets, SystemClock, Table};

pub struct Backend {
    pub table: Arc<dyn Table>,
    pub queue: Arc<dyn Queue>,
    pub keyring: Arc<dyn Keyring>,
    pub secrets: Arc<dyn Secrets>,
    /// A name unique to this test, for queues.
    pub unique: String,
    /// The secret `conformance-secret` holds this value; `missing-secret` is absent.
    pub secret_value: String,
    _dir: Option<tempfile::TempDir>,
}

fn unique() -> String {
    format!("t{}", ulid::Ulid::new().to_string().to_lowercase())
}

pub async fn sqlite() -> Backend {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&dir.path().join("test.db")).unwrap();
    assert_eq!(db.journal_mode().unwrap(), "wal");
    std::fs::create_dir_all(dir.path().join("secrets")).unwrap();
    std::fs::write(dir.path().join("secrets/conformance-secret"), "s3cret-value\n").unwrap();
    Backend {
        table: Arc::new(SqliteTable::new(db.clone(), clock.clone())),
        queue: Arc::new(SqliteQueue::new(db, clock)),
        keyring: Arc::new(LocalKeyring::open(&dir.path().join("keys")).unwrap()),
        secrets: Arc::new(LocalSecrets::with_dir(dir.path().join("secrets"))),
        unique: unique(),
        secret_value: "s3cret-value".into(),
        _dir: Some(dir),
    }
}

pub fn aws_endpoint() -> String {
    std::env::var("WEBTRIGGER_TEST_AWS_ENDPOINT")
        .expect("WEBTRIGGER_TEST_AWS_ENDPOINT is not set: run the README test command (scripts/test-all.sh), which starts moto_server")
}

pub async fn aws() -> Backend {
    let sdk = sdk_config_for_endpoint(&aws_endpoint()).await;
    let name = unique();
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let attr = |n: &str| AttributeDefinition::builder().attribute_name(n).attribute_type(ScalarAttributeType::S).build().unwrap();
    let key = |n: &str, t: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(t).build().unwrap();
    ddb.create_table()
        .table_name(&name)
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
    sm.create_secret().name(format!("{prefix}conformance-secret")).secret_string("s3cret-value").send().await.expect("create secret");
    Backend {
        table: Arc::new(DynamoTable::new(ddb, &name, Arc::new(SystemClock))),
        queue: Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), Default::default())),
        keyring: Arc::new(KmsKeyring::new(kms, key_id)),
        secrets: Arc::new(SecretsManagerSecrets::new(sm, prefix)),
        unique: name,
        secret_value: "s3cret-value".into(),
        _dir: None,
    }
}

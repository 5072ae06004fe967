//! The two backends under test: embedded adapters in-process, AWS adapters against the moto server
//! the test command starts (`WEBTRIGGER_TEST_AWS_ENDPOINT`). Every test gets fresh, uniquely named resources.

use std::sync::Arc;

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
    /// Whether concurrent `Table::add`s on one item are atomic here. SQLite serialises them and DynamoDB
    /// guarantees it, but moto (standing in for DynamoDB) does not, so on moto that property is not tested.
    pub atomic_concurrent_adds: bool,
    _dir: Option<tempfile::TempDir>,
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
        unique: webtrigger_tests::unique_name(),
        secret_value: "s3cret-value".into(),
        atomic_concurrent_adds: true,
        _dir: Some(dir),
    }
}

pub async fn aws() -> Backend {
    let name = webtrigger_tests::unique_name();
    let (sdk, config) = webtrigger_tests::aws_resources(&name).await;
    Backend {
        table: Arc::new(DynamoTable::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table, Arc::new(SystemClock))),
        queue: Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), Default::default())),
        keyring: Arc::new(KmsKeyring::new(aws_sdk_kms::Client::new(&sdk), config.kms_key_id)),
        secrets: Arc::new(SecretsManagerSecrets::new(aws_sdk_secretsmanager::Client::new(&sdk), config.secrets_prefix)),
        unique: name,
        secret_value: "s3cret-value".into(),
        atomic_concurrent_adds: false,
        _dir: None,
    }
}

//! `AppState`: the ports every handler and worker gets, built once at init for either backend.

#[cfg(feature = "embedded")]
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::auth::TokenKeys;
use crate::adapters::{self, DynamoTable, KmsKeyring, SecretsManagerSecrets, SqsQueue};
#[cfg(feature = "embedded")]
use crate::adapters::{LocalKeyring, LocalSecrets, SqliteDb, SqliteQueue, SqliteTable};
use crate::config::{AwsConfig, BackendConfig, Config, RateLimits};
use crate::ports::{Clock, Keyring, Queue, Secrets, SystemClock, Table};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Embedded,
    Aws,
}

/// Platform secrets the local binary generates on first use.
pub const GENERATED_SECRETS: &[&str] = &["token-signing-key", "dashboard-vapid-key"];

#[derive(Clone)]
pub struct AppState {
    pub table: Arc<dyn Table>,
    pub queue: Arc<dyn Queue>,
    /// Table writes and queue sends in one commit, where `table` and `queue` are one store (embedded);
    /// `None` on AWS, where callers write an outbox entry instead. Replacing `table` or `queue` (the
    /// counting decorators) must clear it, or writes would bypass the replacement.
    pub transact_and_send: Option<Arc<dyn crate::ports::TransactAndSend>>,
    pub keyring: Arc<dyn Keyring>,
    pub secrets: Arc<dyn Secrets>,
    pub clock: Arc<dyn Clock>,
    pub backend: BackendKind,
    pub max_body_bytes: usize,
    /// Present on the embedded backend, for local-only maintenance (TTL purge).
    #[cfg(feature = "embedded")]
    pub sqlite: Option<Arc<SqliteTable>>,
    /// The embedded queue, for local-only recovery at start.
    #[cfg(feature = "embedded")]
    pub sqlite_queue: Option<Arc<SqliteQueue>>,
    /// Access-token signing keys, read from `secrets` and cached.
    pub tokens: Arc<TokenKeys>,
    /// Proxies whose X-Forwarded-For entries count when finding the client IP (`WEBTRIGGER_TRUSTED_PROXIES`).
    pub trusted_proxies: crate::http::client_ip::TrustedProxies,
    /// Mark the refresh cookie `Secure` (HTTPS deployments).
    pub cookie_secure: bool,
    pub limits: RateLimits,
    /// Where the request limits' token buckets live (the table on AWS, memory on the embedded backend).
    pub buckets: Arc<dyn crate::auth::ratelimit::Buckets>,
    pub push: Arc<crate::push::PushRuntime>,
    pub whatsapp: Arc<crate::whatsapp::WhatsAppRuntime>,
    /// Outbound event webhooks: the SSRF policy and the guarded client.
    pub events_out: Arc<crate::events_out::EventsRuntime>,
    /// Unwrapped data keys of secrets read per request (trigger and event endpoint secrets).
    pub data_keys: Arc<crate::ports::envelope::DataKeyCache>,
    /// Live updates: open SSE streams in this process (and WebSocket connections on AWS).
    pub live: Arc<crate::live::Hub>,
    /// Where the dashboard opens its live WebSocket (reported by `GET /v1/health`); None: Server-Sent Events.
    pub live_ws_url: Option<String>,
    /// Invite and password-reset email; None when no SMTP relay is configured.
    pub mail: Option<crate::auth::mailer::MailRuntime>,
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("cannot prepare data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[cfg(feature = "embedded")]
    #[error("cannot open database: {0}")]
    Database(#[from] rusqlite::Error),
    /// The Lambda bootstrap is built without the embedded backend; it runs on the AWS adapters only.
    #[cfg(not(feature = "embedded"))]
    #[error("the embedded backend is not in this build (compiled without the `embedded` feature): set WEBTRIGGER_BACKEND=aws")]
    EmbeddedNotBuilt,
    #[error("cannot create queue: {0}")]
    Queue(#[from] crate::ports::QueueError),
    #[error("cannot configure the AWS SDK: {0}")]
    Aws(String),
    #[error("cannot set up email: {0}")]
    Mail(#[from] crate::auth::mailer::MailError),
}

impl AppState {
    /// Builds the state the configuration names with every runtime (the local binary, which serves all
    /// routes and workers in one process; called once per process). AWS credentials come from the SDK's full
    /// default chain (environment, profile, web identity, container, IMDS: `serve` on a VM).
    pub async fn from_config(config: &Config) -> Result<Self, InitError> {
        let state = Self::assemble(config, |endpoint| async move {
            match endpoint {
                Some(e) => Ok(adapters::aws::sdk_config_for_endpoint(&e).await),
                None => Ok(adapters::aws::sdk_config_from_env().await),
            }
        })
        .await?;
        state.with_mail(config)
    }

    /// The ports and the runtimes every Lambda shares, region and credentials from the variables the Lambda
    /// service sets, so the bootstraps do not link the profile, STS and IMDS credential providers. Email, which
    /// only the auth and workspace routes send, is added by `with_mail` (so the other bootstraps do not link it).
    pub async fn for_lambda(config: &Config) -> Result<Self, InitError> {
        Self::assemble(config, |endpoint| std::future::ready(adapters::aws::sdk_config_lambda(endpoint.as_deref()).map_err(InitError::Aws))).await
    }

    /// The state for `config`, loading the AWS SDK configuration (when the backend is AWS) with `load_sdk`,
    /// given the explicit endpoint if any.
    async fn assemble<F, Fut>(config: &Config, load_sdk: F) -> Result<Self, InitError>
    where
        F: FnOnce(Option<String>) -> Fut,
        Fut: std::future::Future<Output = Result<aws_config::SdkConfig, InitError>>,
    {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let (mut state, sdk) = match &config.backend {
            #[cfg(feature = "embedded")]
            BackendConfig::Embedded { data_dir, durability } => (Self::embedded_with(data_dir, *durability, clock)?, None),
            #[cfg(not(feature = "embedded"))]
            BackendConfig::Embedded { .. } => return Err(InitError::EmbeddedNotBuilt),
            BackendConfig::Aws(aws) => {
                let sdk = load_sdk(aws.endpoint.clone()).await?;
                (Self::aws_from_sdk(&sdk, aws, clock), Some(sdk))
            }
        };
        state.max_body_bytes = config.max_body_bytes;
        state.limits = config.limits;
        state.trusted_proxies = config.trusted_proxies.clone();
        state.whatsapp = Arc::new(crate::whatsapp::WhatsAppRuntime::new(config.providers.clone()).with_public_url(config.public_url.clone()).with_outbound(&config.outbound));
        state.events_out = Arc::new(crate::events_out::EventsRuntime::new(config.outbound.clone()));
        if let (Some(sdk), Some(endpoint)) = (&sdk, &config.live_ws_endpoint) {
            let sink = crate::live::websocket::WebSocketSink::new(sdk, endpoint, state.table.clone());
            state.live = Arc::new(crate::live::Hub::default().with_remote(Arc::new(sink)));
        }
        state.live_ws_url = config.live_ws_url.clone();
        Ok(state)
    }

    /// Adds invite and password-reset email when the configuration names an SMTP relay.
    pub fn with_mail(mut self, config: &Config) -> Result<Self, InitError> {
        self.mail = config.mail.as_ref().map(crate::auth::mailer::MailRuntime::smtp).transpose()?;
        Ok(self)
    }

    /// The embedded backend in `data_dir` (created if missing): `webtrigger.db`, `keys/`, `secrets/`.
    #[cfg(feature = "embedded")]
    pub fn embedded(data_dir: &Path, clock: Arc<dyn Clock>) -> Result<Self, InitError> {
        Self::embedded_with(data_dir, crate::config::Durability::Full, clock)
    }

    /// `embedded`, its commits reaching the disk as `durability` says.
    #[cfg(feature = "embedded")]
    pub fn embedded_with(data_dir: &Path, durability: crate::config::Durability, clock: Arc<dyn Clock>) -> Result<Self, InitError> {
        let io = |source| InitError::DataDir { path: data_dir.display().to_string(), source };
        std::fs::create_dir_all(data_dir).map_err(io)?;
        let db = SqliteDb::open_with(&data_dir.join("webtrigger.db"), durability)?;
        let keyring = LocalKeyring::open(&data_dir.join("keys")).map_err(io)?;
        let secrets = LocalSecrets::with_dir(data_dir.join("secrets")).generating(GENERATED_SECRETS);
        Ok(Self::embedded_parts(db, Arc::new(keyring), Arc::new(secrets), clock))
    }

    /// A state on a private in-memory database, its keys under a fresh temporary directory (unit tests).
    #[cfg(all(test, feature = "embedded"))]
    pub(crate) fn in_memory_for_tests(clock: Arc<dyn Clock>) -> Self {
        let dir = std::env::temp_dir().join(format!("webtrigger-unit-{}", ulid::Ulid::new()));
        let keyring = LocalKeyring::open(&dir.join("keys")).expect("key dir");
        let secrets = LocalSecrets::with_dir(dir.join("secrets"));
        Self::embedded_parts(SqliteDb::in_memory().expect("in-memory database"), Arc::new(keyring), Arc::new(secrets), clock)
    }

    /// The embedded backend from parts (tests use an in-memory database).
    #[cfg(feature = "embedded")]
    pub fn embedded_parts(db: SqliteDb, keyring: Arc<dyn Keyring>, secrets: Arc<dyn Secrets>, clock: Arc<dyn Clock>) -> Self {
        let table = Arc::new(SqliteTable::new(db.clone(), clock.clone()));
        let queue = Arc::new(SqliteQueue::new(db, clock.clone()));
        Self {
            table: table.clone(),
            queue: queue.clone(),
            transact_and_send: Some(queue.clone()),
            sqlite_queue: Some(queue),
            keyring,
            secrets,
            clock,
            backend: BackendKind::Embedded,
            max_body_bytes: crate::config::DEFAULT_MAX_BODY_BYTES,
            sqlite: Some(table),
            tokens: Arc::new(TokenKeys::default()),
            trusted_proxies: Default::default(),
            cookie_secure: false,
            limits: RateLimits::default(),
            buckets: Arc::new(crate::auth::ratelimit::MemoryBuckets::default()),
            push: Arc::new(crate::push::PushRuntime::default()),
            whatsapp: Arc::new(crate::whatsapp::WhatsAppRuntime::default()),
            events_out: Arc::new(crate::events_out::EventsRuntime::default()),
            data_keys: Arc::default(),
            live: Arc::default(),
            live_ws_url: None,
            mail: None,
        }
    }

    /// The AWS backend on `sdk`; clients are created once here and reused for the life of the process.
    pub fn aws_from_sdk(sdk: &aws_config::SdkConfig, aws: &AwsConfig, clock: Arc<dyn Clock>) -> Self {
        let table: Arc<dyn Table> = Arc::new(DynamoTable::new(aws_sdk_dynamodb::Client::new(sdk), &aws.table, clock.clone()));
        Self {
            table: table.clone(),
            queue: Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(sdk), aws.queue_urls.clone())),
            transact_and_send: None,
            keyring: Arc::new(KmsKeyring::new(aws_sdk_kms::Client::new(sdk), &aws.kms_key_id)),
            secrets: Arc::new(SecretsManagerSecrets::new(aws_sdk_secretsmanager::Client::new(sdk), &aws.secrets_prefix)),
            clock,
            backend: BackendKind::Aws,
            max_body_bytes: crate::config::DEFAULT_MAX_BODY_BYTES,
            #[cfg(feature = "embedded")]
            sqlite: None,
            #[cfg(feature = "embedded")]
            sqlite_queue: None,
            tokens: Arc::new(TokenKeys::default()),
            trusted_proxies: Default::default(),
            cookie_secure: true,
            limits: RateLimits::default(),
            buckets: Arc::new(crate::auth::ratelimit::TableBuckets(table)),
            push: Arc::new(crate::push::PushRuntime::default()),
            whatsapp: Arc::new(crate::whatsapp::WhatsAppRuntime::default()),
            events_out: Arc::new(crate::events_out::EventsRuntime::default()),
            data_keys: Arc::default(),
            live: Arc::default(),
            live_ws_url: None,
            mail: None,
        }
    }

    /// Creates every platform queue whose URL is not configured (local mode; in AWS the CDK app owns them).
    pub async fn ensure_queues(&self) -> Result<(), InitError> {
        for spec in crate::queues::all() {
            self.queue.ensure(&spec).await?;
        }
        Ok(())
    }
}

//! AWS backend: DynamoDB, SQS, KMS and Secrets Manager behind the ports. Clients are built once at init;
//! `AWS_ENDPOINT_URL` (or an explicit endpoint) points them at a local AWS-protocol server in tests.

mod dynamo;
mod http_client;
mod kms;
mod secrets_manager;
mod sqs;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};

pub use dynamo::DynamoTable;
pub use http_client::ReqwestHttpClient;
pub use kms::KmsKeyring;
pub use secrets_manager::SecretsManagerSecrets;
pub use sqs::SqsQueue;

/// SDK configuration from the standard AWS environment (region, credentials, `AWS_ENDPOINT_URL`).
pub async fn sdk_config_from_env() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).http_client(ReqwestHttpClient::shared()).load().await
}

/// The static credentials and region a local AWS-protocol server (moto) accepts.
fn local_server_credentials() -> (Region, Credentials) {
    (Region::new("us-east-1"), Credentials::new("test", "test", None, None, "static"))
}

/// SDK configuration for a local AWS-protocol server with static test credentials.
pub async fn sdk_config_for_endpoint(endpoint: &str) -> SdkConfig {
    let (region, creds) = local_server_credentials();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(ReqwestHttpClient::shared())
        .region(region)
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .load()
        .await
}

/// SDK configuration inside Lambda: the region and the execution role's credentials from the variables the
/// Lambda service sets (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`),
/// or static test credentials for an explicit `endpoint`. Retries, timeouts and the sleep and time sources
/// are the clients' defaults for the behaviour version. Unlike `sdk_config_from_env` it never reads a profile
/// or asks STS or IMDS, so a bootstrap links none of those providers.
pub fn sdk_config_lambda(endpoint: Option<&str>) -> Result<SdkConfig, String> {
    sdk_config_lambda_with(endpoint, |name| std::env::var(name).ok())
}

/// `sdk_config_lambda` reading the variables through `var`.
pub fn sdk_config_lambda_with(endpoint: Option<&str>, var: impl Fn(&str) -> Option<String>) -> Result<SdkConfig, String> {
    let builder = SdkConfig::builder().behavior_version(BehaviorVersion::latest()).http_client(ReqwestHttpClient::shared());
    let (builder, credentials) = match endpoint {
        Some(endpoint) => {
            let (region, credentials) = local_server_credentials();
            (builder.region(region).endpoint_url(endpoint), credentials)
        }
        None => {
            let var = |name: &str| var(name).filter(|v| !v.is_empty());
            let missing = |name: &str| format!("{name} is not set (the Lambda service sets it for the execution role)");
            let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")).ok_or_else(|| missing("AWS_REGION"))?;
            let key = var("AWS_ACCESS_KEY_ID").ok_or_else(|| missing("AWS_ACCESS_KEY_ID"))?;
            let secret = var("AWS_SECRET_ACCESS_KEY").ok_or_else(|| missing("AWS_SECRET_ACCESS_KEY"))?;
            (builder.region(Region::new(region)), Credentials::new(key, secret, var("AWS_SESSION_TOKEN"), None, "lambda-environment"))
        }
    };
    Ok(builder.credentials_provider(SharedCredentialsProvider::new(credentials)).build())
}

/// Full error text of an SDK error (its `Display` alone is only "service error").
pub(crate) fn describe<E: std::error::Error>(e: &E) -> String {
    aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()
}

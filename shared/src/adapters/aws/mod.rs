//! AWS backend: DynamoDB, SQS, KMS and Secrets Manager behind the ports. Clients are built once at init;
//! `AWS_ENDPOINT_URL` (or an explicit endpoint) points them at a local AWS-protocol server in tests.

mod dynamo;
mod http_client;
mod kms;
mod secrets_manager;
mod sqs;

use aws_config::{BehaviorVersion, Region, SdkConfig};

pub use dynamo::DynamoTable;
pub use http_client::ReqwestHttpClient;
pub use kms::KmsKeyring;
pub use secrets_manager::SecretsManagerSecrets;
pub use sqs::SqsQueue;

/// SDK configuration from the standard AWS environment (region, credentials, `AWS_ENDPOINT_URL`).
pub async fn sdk_config_from_env() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).http_client(ReqwestHttpClient::shared()).load().await
}

/// SDK configuration for a local AWS-protocol server with static test credentials.
pub async fn sdk_config_for_endpoint(endpoint: &str) -> SdkConfig {
    let creds = aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "static");
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(ReqwestHttpClient::shared())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .load()
        .await
}

/// Full error text of an SDK error (its `Display` alone is only "service error").
pub(crate) fn describe<E: std::error::Error>(e: &E) -> String {
    aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()
}

//! The Lambda bootstraps' state (`AppState::for_lambda`): the SDK configured from the variables the Lambda
//! service sets, without the default credential chain, reaching DynamoDB and SQS (on moto) through the
//! platform's reqwest connector; and a clear refusal when those variables are missing.

use std::time::Duration;

use webtrigger::adapters::aws::sdk_config_lambda_with;
use webtrigger::config::{BackendConfig, Config};
use webtrigger::ports::{Key, OutgoingMessage};
use webtrigger::state::AppState;

#[tokio::test]
async fn the_lambda_state_reads_and_writes_dynamodb_and_sqs() {
    let (_, aws) = webtrigger_tests::aws_resources_with_queues().await;
    let mut config = Config::from_vars(Vec::<(String, String)>::new()).expect("config");
    config.backend = BackendConfig::Aws(aws);
    let state = AppState::for_lambda(&config).await.expect("the Lambda state");

    assert_eq!(state.table.get(&Key::new("nobody", "nothing")).await.expect("GetItem through the connector"), None);
    let queue = webtrigger::queues::echo().name;
    let ids = state.queue.send(&queue, vec![OutgoingMessage::new(r#"{"ping":1}"#)]).await.expect("SendMessageBatch");
    assert_eq!(ids.len(), 1);
    let got = state.queue.receive(&queue, 10, Duration::from_secs(2)).await.expect("ReceiveMessage");
    assert_eq!(got.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(), [r#"{"ping":1}"#]);
}

#[test]
fn without_the_lambda_variables_it_names_the_missing_one() {
    let only = |vars: &'static [(&'static str, &'static str)]| move |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string());
    let err = sdk_config_lambda_with(None, only(&[])).unwrap_err();
    assert!(err.starts_with("AWS_REGION is not set"), "{err}");
    let err = sdk_config_lambda_with(None, only(&[("AWS_REGION", "eu-west-1"), ("AWS_ACCESS_KEY_ID", "AKIA")])).unwrap_err();
    assert!(err.starts_with("AWS_SECRET_ACCESS_KEY is not set"), "{err}");
    let sdk = sdk_config_lambda_with(None, only(&[("AWS_REGION", "eu-west-1"), ("AWS_ACCESS_KEY_ID", "AKIA"), ("AWS_SECRET_ACCESS_KEY", "s")])).expect("config");
    assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-west-1"));
    assert!(sdk.credentials_provider().is_some());
}

/// An unreachable endpoint is a dispatch failure the SDK classifies as I/O (so its standard retry strategy
/// retries it), not a service error or a panic in the reqwest connector.
#[tokio::test]
async fn an_unreachable_endpoint_is_a_retryable_io_failure() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let sdk = webtrigger::adapters::aws::sdk_config_lambda(Some(&format!("http://{closed}"))).expect("config");
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let err = ddb.describe_table().table_name("absent").send().await.unwrap_err();
    match err {
        aws_sdk_dynamodb::error::SdkError::DispatchFailure(failure) => assert!(failure.is_io(), "{failure:?}"),
        other => panic!("not a dispatch failure: {other:?}"),
    }
}

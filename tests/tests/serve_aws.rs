//! `webtrigger serve` with the AWS backend (on moto): every route on DynamoDB/KMS/Secrets Manager, the
//! queue consumers on SQS, and the minute tick, in one process and never silently on SQLite.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use webtrigger::config::{BackendConfig, Config};
use webtrigger::local::{serve, ServeOptions};

#[tokio::test]
async fn serve_runs_the_platform_on_the_aws_adapters() {
    let (_, aws) = webtrigger_tests::aws_resources_with_queues().await;
    let mut config = Config::from_vars(Vec::<(String, String)>::new()).expect("config");
    config.backend = BackendConfig::Aws(aws);
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let opts = ServeOptions { data_dir: data_dir.clone(), addr: ([127, 0, 0, 1], port).into(), static_dir: None, drain_timeout: Duration::from_secs(10), config, allow_push_hosts: Vec::new() };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(opts, async move {
        let _ = stop_rx.await;
    }));
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();

    // The minute timer ticks at start; the heartbeat crosses the SQS echo queue to the echo consumer,
    // which records it in DynamoDB: a heartbeat age proves routes, consumers and tick all run on AWS.
    let deadline = Instant::now() + Duration::from_secs(120);
    let health = loop {
        assert!(!server.is_finished(), "serve exited early: {:?}", server.await);
        if let Ok(r) = http.get(format!("{base}/v1/health")).send().await {
            assert_eq!(r.status(), 200);
            let body: Value = r.json().await.unwrap();
            if !body["data"]["heartbeat_age_seconds"].is_null() {
                break body;
            }
        }
        assert!(Instant::now() < deadline, "no heartbeat processed through SQS within 120 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(health["data"]["backend"], "aws");

    let signup = http.post(format!("{base}/v1/auth/signup")).json(&json!({"email": "serve-aws@example.com", "password": "correct horse battery"})).send().await.unwrap();
    assert_eq!(signup.status(), 201);
    let token = signup.json::<Value>().await.unwrap()["data"]["access_token"].as_str().expect("access token").to_owned();
    let me = http.get(format!("{base}/v1/me")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(me.status(), 200, "the token signed with the Secrets Manager key verifies");
    assert!(!data_dir.exists(), "the AWS backend must not fall back to an embedded database");

    stop_tx.send(()).unwrap();
    server.await.unwrap().expect("serve drains and stops cleanly");
}

//! Cold start of a Lambda bootstrap under a local Lambda Runtime API emulator: starts the binary 10 times
//! with the environment the CDK stack gives the function, and reports init (exec → first
//! `GET /2018-06-01/runtime/invocation/next`) and the first invocation (event handed out → its `/response`).
//!
//! `cargo build -p api-health && WEBTRIGGER_TEST_AWS_ENDPOINT=http://127.0.0.1:<moto> cargo bench -p webtrigger-tests --bench cold_start`
//! Arguments: `[function] [bootstrap path] [event file]` (default `api-health target/debug/api-health
//! events/apigw-v2-health.json`). Without the moto endpoint the function's AWS calls fail, which still
//! measures init but not a realistic first invocation.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::oneshot;

const RUNS: usize = 10;

/// One run of the emulated execution environment: when the process started, and who hears the outcome.
struct Run {
    started: Instant,
    handed_out: Option<Instant>,
    outcome: Option<oneshot::Sender<Result<(Duration, Duration), String>>>,
}

#[derive(Clone)]
struct Emulator {
    event: Arc<String>,
    run: Arc<Mutex<Option<Run>>>,
}

/// The first `/next` of a run gets the event; later ones wait forever, like an idle sandbox.
async fn next(State(emu): State<Emulator>) -> (HeaderMap, String) {
    let first = match emu.run.lock().unwrap().as_mut() {
        Some(run) if run.handed_out.is_none() => {
            run.handed_out = Some(Instant::now());
            true
        }
        _ => false,
    };
    if !first {
        std::future::pending::<()>().await;
    }
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", "8476a536-e9f4-11e8-9739-2dfe598c3fcd".parse().unwrap());
    let deadline = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap() + Duration::from_secs(10);
    headers.insert("lambda-runtime-deadline-ms", deadline.as_millis().to_string().parse().unwrap());
    headers.insert("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:bench".parse().unwrap());
    headers.insert("lambda-runtime-trace-id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1".parse().unwrap());
    (headers, emu.event.as_ref().clone())
}

fn finish(emu: &Emulator, outcome: impl FnOnce(&Run) -> Result<(Duration, Duration), String>) -> StatusCode {
    let mut guard = emu.run.lock().unwrap();
    if let Some(run) = guard.as_mut() {
        let result = outcome(run);
        if let Some(tx) = run.outcome.take() {
            let _ = tx.send(result);
        }
    }
    StatusCode::ACCEPTED
}

async fn response(State(emu): State<Emulator>, body: String) -> StatusCode {
    finish(&emu, |run| {
        let handed_out = run.handed_out.ok_or("response before any event")?;
        if !body.contains("statusCode") && !body.contains("batchItemFailures") {
            return Err(format!("unexpected response: {body}"));
        }
        Ok((handed_out - run.started, handed_out.elapsed()))
    })
}

async fn error(State(emu): State<Emulator>, body: String) -> StatusCode {
    finish(&emu, |_| Err(format!("the function reported an error: {body}")))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let function = args.first().cloned().unwrap_or_else(|| "api-health".into());
    let bootstrap = args.get(1).map(Into::into).unwrap_or_else(|| webtrigger_tests::workspace_file(&format!("target/debug/{function}")));
    let event_file = args.get(2).map(Into::into).unwrap_or_else(|| webtrigger_tests::workspace_file("events/apigw-v2-health.json"));
    anyhow::ensure!(bootstrap.is_file(), "{} is not built: cargo build -p {function}", bootstrap.display());

    // The environment the stack gives every function (infra-cdk `baseEnv` and RustFunction), plus what
    // the Lambda service sets; AWS calls go to moto when it is running.
    let mut env: Vec<(String, String)> = vec![
        ("WEBTRIGGER_BACKEND".into(), "aws".into()),
        ("WEBTRIGGER_SECRETS_PREFIX".into(), "webtrigger/".into()),
        ("RUST_LOG".into(), "info".into()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID".into(), "test".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
        ("AWS_LAMBDA_FUNCTION_NAME".into(), function.clone()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), "256".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME".into(), format!("/aws/lambda/{function}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME".into(), "bench".into()),
    ];
    match std::env::var("WEBTRIGGER_TEST_AWS_ENDPOINT") {
        Ok(endpoint) => {
            let (_, aws) = webtrigger_tests::aws_resources_with_queues().await;
            env.push(("WEBTRIGGER_AWS_ENDPOINT".into(), endpoint));
            env.push(("WEBTRIGGER_TABLE".into(), aws.table));
            env.push(("WEBTRIGGER_KMS_KEY_ID".into(), aws.kms_key_id));
            env.retain(|(k, _)| k != "WEBTRIGGER_SECRETS_PREFIX");
            env.push(("WEBTRIGGER_SECRETS_PREFIX".into(), aws.secrets_prefix));
            for (name, url) in aws.queue_urls {
                env.push((format!("WEBTRIGGER_QUEUE_URL_{}", name.to_uppercase().replace('-', "_")), url));
            }
        }
        Err(_) => {
            eprintln!("WEBTRIGGER_TEST_AWS_ENDPOINT unset: AWS calls will fail (init is still measured)");
            env.push(("WEBTRIGGER_TABLE".into(), "bench".into()));
            env.push(("WEBTRIGGER_KMS_KEY_ID".into(), "bench".into()));
            env.push(("WEBTRIGGER_AWS_ENDPOINT".into(), "http://127.0.0.1:9".into()));
        }
    }

    let emu = Emulator { event: Arc::new(std::fs::read_to_string(&event_file)?), run: Arc::default() };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(error))
        .with_state(emu.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (mut inits, mut firsts) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let (tx, rx) = oneshot::channel();
        let mut command = std::process::Command::new(&bootstrap);
        command.env_clear().envs(env.iter().cloned()).env("AWS_LAMBDA_RUNTIME_API", api.to_string()).stdout(std::process::Stdio::null());
        *emu.run.lock().unwrap() = Some(Run { started: Instant::now(), handed_out: None, outcome: Some(tx) });
        let mut child = command.spawn()?;
        // A generous bound so a bootstrap that dies or hangs fails the bench instead of stalling it.
        let outcome = match tokio::time::timeout(Duration::from_secs(60), rx).await {
            Ok(r) => r?,
            Err(_) => Err(format!("no response within 60 s (exit status: {:?})", child.try_wait()?)),
        };
        child.kill().ok();
        child.wait()?;
        let (init, first) = outcome.map_err(anyhow::Error::msg)?;
        inits.push(init);
        firsts.push(first);
    }
    println!("cold start of {} ({}), {RUNS} runs", function, bootstrap.display());
    webtrigger_tests::latency::report("init (exec → first /next)", inits);
    webtrigger_tests::latency::report("first invocation (event → /response)", firsts);
    Ok(())
}

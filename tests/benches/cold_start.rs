//! Cold start of the Lambda bootstraps under a local Lambda Runtime API emulator: for every function
//! (functions/lambda/src/bin/), starts its own bootstrap 10 times with the environment the CDK stack gives
//! it, and reports init (exec → first `GET /2018-06-01/runtime/invocation/next`) and the first invocation
//! (event handed out → its `/response`).
//!
//! `cargo build --profile lambda-release -p webtrigger-lambda && WEBTRIGGER_TEST_AWS_ENDPOINT=http://127.0.0.1:<moto> cargo bench -p webtrigger-tests --bench cold_start -- [directory] [function…]`
//! (default directory: the first of `target/{lambda-release,release,debug}/` holding the bootstraps, i.e. the
//! deployed profile first; default every function). A cargo-lambda directory (`target/lambda`, holding
//! `<function>/bootstrap`) works too; `WEBTRIGGER_BOOTSTRAP_RUNNER` prefixes each start, e.g.
//! `qemu-aarch64 -L /usr/aarch64-linux-gnu` to check that the arm64 artifacts start (timings under
//! emulation say nothing about Lambda).
//! API functions get `GET /v1/health` (others answer it 404, still a full request), workers an empty SQS
//! batch, the tick its scheduled event, live-websocket a `$disconnect`. Without the moto endpoint AWS calls fail: init is still measured.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::oneshot;
use webtrigger_tests::cpu::schedstat;

const RUNS: usize = 10;

/// One run of the emulated execution environment: when the process started, and who hears the outcome.
struct Run {
    started: Instant,
    pid: Option<u32>,
    handed_out: Option<Instant>,
    /// CPU time the process had used when it asked for its first event: init's own cost, which the
    /// wall-clock figure mixes with whatever else the machine is running.
    init_cpu: Option<Duration>,
    outcome: Option<oneshot::Sender<Result<Sample, String>>>,
}

/// One run's figures: init wall time, init CPU time, first invocation wall time.
type Sample = (Duration, Option<Duration>, Duration);

#[derive(Clone)]
struct Emulator {
    event: Arc<Mutex<String>>,
    run: Arc<Mutex<Option<Run>>>,
}

/// The first `/next` of a run gets the event; later ones wait forever, like an idle sandbox.
async fn next(State(emu): State<Emulator>) -> (HeaderMap, String) {
    let first = match emu.run.lock().unwrap().as_mut() {
        Some(run) if run.handed_out.is_none() => {
            run.handed_out = Some(Instant::now());
            run.init_cpu = run.pid.and_then(|pid| schedstat(&format!("/proc/{pid}/schedstat")));
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
    (headers, emu.event.lock().unwrap().clone())
}

fn finish(emu: &Emulator, outcome: impl FnOnce(&Run) -> Result<Sample, String>) -> StatusCode {
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
        if !["statusCode", "batchItemFailures", "minutes_run"].iter().any(|k| body.contains(k)) {
            return Err(format!("unexpected response: {body}"));
        }
        Ok((handed_out - run.started, run.init_cpu, handed_out.elapsed()))
    })
}

async fn error(State(emu): State<Emulator>, body: String) -> StatusCode {
    finish(&emu, |_| Err(format!("the function reported an error: {body}")))
}

/// The event a function's first invocation gets: its trigger's shape.
fn event_for(function: &str) -> anyhow::Result<String> {
    let file = |name: &str| std::fs::read_to_string(webtrigger_tests::workspace_file(&format!("events/{name}")));
    Ok(match function {
        "cron-tick" => file("eventbridge-schedule.json")?,
        "worker-echo" => file("sqs-echo-batch.json")?,
        "live-websocket" => file("apigw-websocket-disconnect.json")?,
        f if f.starts_with("worker-") => r#"{"Records":[]}"#.to_owned(),
        _ => file("apigw-v2-health.json")?,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--")).peekable();
    let dir: std::path::PathBuf = match args.next_if(|a| a.contains('/')) {
        Some(path) => path.into(),
        None => ["lambda-release", "release", "debug"].map(|p| webtrigger_tests::workspace_file(&format!("target/{p}"))).into_iter().find(|d| d.join("api-health").is_file()).unwrap_or_default(),
    };
    let bootstrap_of = |function: &str| match dir.join(function).join("bootstrap") {
        lambda_layout if lambda_layout.is_file() => lambda_layout,
        _ => dir.join(function),
    };
    anyhow::ensure!(bootstrap_of("api-health").is_file(), "the bootstraps are not built: cargo build --profile lambda-release -p webtrigger-lambda");
    let runner: Vec<String> = std::env::var("WEBTRIGGER_BOOTSTRAP_RUNNER").unwrap_or_default().split_whitespace().map(str::to_owned).collect();
    let mut functions: Vec<String> = args.collect();
    if functions.is_empty() {
        let bin = webtrigger_tests::workspace_file("functions/lambda/src/bin");
        functions = std::fs::read_dir(bin)?.filter_map(|e| Some(e.ok()?.path().file_stem()?.to_str()?.to_owned())).collect();
        functions.sort();
    }
    let env = stack_environment().await;
    let emu = Emulator { event: Arc::default(), run: Arc::default() };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(error))
        .with_state(emu.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });

    println!("cold start of the bootstraps in {}, {RUNS} runs per function", dir.display());
    for function in functions {
        let bootstrap = bootstrap_of(&function);
        println!("{function}: {} bytes", std::fs::metadata(&bootstrap)?.len());
        *emu.event.lock().unwrap() = event_for(&function)?;
        let (mut inits, mut cpus, mut firsts) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let (tx, rx) = oneshot::channel();
            let mut command = match runner.split_first() {
                Some((program, args)) => {
                    let mut c = std::process::Command::new(program);
                    c.args(args).arg(&bootstrap);
                    c
                }
                None => std::process::Command::new(&bootstrap),
            };
            command.env_clear().envs(env.iter().cloned()).env("AWS_LAMBDA_FUNCTION_NAME", &function);
            command.env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{function}")).env("AWS_LAMBDA_RUNTIME_API", api.to_string()).stdout(std::process::Stdio::null());
            *emu.run.lock().unwrap() = Some(Run { started: Instant::now(), pid: None, handed_out: None, init_cpu: None, outcome: Some(tx) });
            let mut child = command.spawn()?;
            if let Some(run) = emu.run.lock().unwrap().as_mut() {
                run.pid = Some(child.id());
            }
            // A generous bound so a bootstrap that dies or hangs fails the bench instead of stalling it.
            let outcome = match tokio::time::timeout(Duration::from_secs(60), rx).await {
                Ok(r) => r?,
                Err(_) => Err(format!("no response within 60 s (exit status: {:?})", child.try_wait()?)),
            };
            child.kill().ok();
            child.wait()?;
            let (init, cpu, first) = outcome.map_err(|e| anyhow::anyhow!("{function}: {e}"))?;
            inits.push(init);
            cpus.extend(cpu);
            firsts.push(first);
        }
        webtrigger_tests::latency::report(&format!("{function}: init (exec → first /next)"), inits);
        if !cpus.is_empty() {
            webtrigger_tests::latency::report(&format!("{function}: init CPU time"), cpus);
        }
        webtrigger_tests::latency::report(&format!("{function}: first invocation"), firsts);
    }
    Ok(())
}

/// The environment the stack gives every function (infra-cdk `baseEnv` and RustFunction) and what the
/// Lambda service sets; AWS calls go to moto when it is running.
async fn stack_environment() -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("WEBTRIGGER_BACKEND".into(), "aws".into()),
        ("RUST_LOG".into(), "info".into()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID".into(), "test".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), "256".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
        ("AWS_LAMBDA_LOG_STREAM_NAME".into(), "bench".into()),
    ];
    match std::env::var("WEBTRIGGER_TEST_AWS_ENDPOINT") {
        Ok(endpoint) => {
            let (_, aws) = webtrigger_tests::aws_resources_with_queues().await;
            env.push(("WEBTRIGGER_AWS_ENDPOINT".into(), endpoint));
            env.push(("WEBTRIGGER_TABLE".into(), aws.table));
            env.push(("WEBTRIGGER_KMS_KEY_ID".into(), aws.kms_key_id));
            env.push(("WEBTRIGGER_SECRETS_PREFIX".into(), aws.secrets_prefix));
            for (name, url) in aws.queue_urls {
                env.push((format!("WEBTRIGGER_QUEUE_URL_{}", name.to_uppercase().replace('-', "_")), url));
            }
        }
        Err(_) => {
            eprintln!("WEBTRIGGER_TEST_AWS_ENDPOINT unset: AWS calls will fail (init is still measured)");
            env.push(("WEBTRIGGER_SECRETS_PREFIX".into(), "webtrigger/".into()));
            env.push(("WEBTRIGGER_TABLE".into(), "bench".into()));
            env.push(("WEBTRIGGER_KMS_KEY_ID".into(), "bench".into()));
            env.push(("WEBTRIGGER_AWS_ENDPOINT".into(), "http://127.0.0.1:9".into()));
        }
    }
    env
}

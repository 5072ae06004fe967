//! `webtrigger serve` as a real process on loopback: first run creates the data dir, the API and the
//! dashboard answer, the tick → queue → worker pipeline runs, and SIGINT drains and exits cleanly.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

struct Server {
    child: Child,
    base: String,
    lines: mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn start(data_dir: &std::path::Path, static_dir: Option<&std::path::Path>) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_webtrigger"));
    command.args(["serve", "--port", "0", "--data-dir"]).arg(data_dir).env_remove("WEBTRIGGER_STATIC_DIR");
    if let Some(dir) = static_dir {
        command.arg("--static-dir").arg(dir);
    }
    let mut child = command
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start webtrigger");
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let addr = wait_for_line(&lines, "webtrigger listening")["addr"].as_str().expect("addr logged").to_owned();
    Server { child, base: format!("http://{addr}"), lines }
}

fn wait_for_line(lines: &mpsc::Receiver<String>, message: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Ok(line) = lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        let json: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("log line is not JSON: {line}"));
        if json["message"] == message {
            return json;
        }
    }
    panic!("no `{message}` log line within 20 s");
}

fn oversize_request(base: &str) -> String {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let head = format!("POST /v1/health HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", 2 * 1024 * 1024);
    stream.write_all(head.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

async fn get_json(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let r = client.get(url).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn serve_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    let site = tmp.path().join("site");
    std::fs::create_dir_all(site.join("assets")).unwrap();
    std::fs::write(site.join("index.html"), "<!doctype html><title>WebTrigger</title>").unwrap();
    std::fs::write(site.join("sw.js"), "self.addEventListener('fetch', () => {});").unwrap();
    std::fs::write(site.join("assets/app-abc123.js"), "console.log(1)").unwrap();
    let server = start(&data_dir, Some(&site));
    let client = reqwest::Client::new();

    assert!(data_dir.join("webtrigger.db").is_file(), "first run creates the database");
    let key = data_dir.join("keys/master-v1.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600, "master key is private");
    }
    assert_eq!(std::fs::metadata(&key).unwrap().len(), 32);

    let (status, health) = get_json(&client, &format!("{}/v1/health", server.base)).await;
    assert_eq!(status, 200);
    assert_eq!((health["success"].as_bool(), health["data"]["backend"].as_str()), (Some(true), Some("embedded")));

    // The tick at start sends a heartbeat through the echo queue; the worker records it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, h) = get_json(&client, &format!("{}/v1/health", server.base)).await;
        if h["data"]["heartbeat_age_seconds"].is_number() {
            break;
        }
        assert!(Instant::now() < deadline, "heartbeat never processed: {h}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let (status, missing) = get_json(&client, &format!("{}/v1/does-not-exist", server.base)).await;
    assert_eq!((status, missing["error"]["code"].as_str()), (404, Some("not_found")));
    let r = client.post(format!("{}/v1/health", server.base)).header("content-type", "application/json").body("{oops").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "method_not_allowed");
    // Declared oversize: refused from the header alone, before any body byte is read. (A client still
    // uploading when the early answer arrives may see a broken pipe, so the test sends headers only.)
    let raw = oversize_request(&server.base);
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(raw.to_ascii_lowercase().contains("connection: close"), "the unread body makes the connection unusable: {raw}");
    assert!(raw.contains(r#""code":"payload_too_large""#), "{raw}");

    let index = client.get(format!("{}/", server.base)).send().await.unwrap();
    assert_eq!(index.headers()["cache-control"], "no-cache");
    assert!(index.text().await.unwrap().contains("<title>WebTrigger</title>"));
    let deep_link = client.get(format!("{}/inbox/conversations/42", server.base)).send().await.unwrap();
    assert_eq!(deep_link.status().as_u16(), 200, "client-side routes get index.html");
    assert!(deep_link.text().await.unwrap().contains("WebTrigger"));
    let asset = client.get(format!("{}/assets/app-abc123.js", server.base)).send().await.unwrap();
    assert!(asset.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    let missing = client.get(format!("{}/assets/app-gone999.js", server.base)).send().await.unwrap();
    assert_eq!(missing.status().as_u16(), 404, "a missing asset is not answered with index.html");
    assert!(missing.headers().get("cache-control").is_none_or(|v| !v.to_str().unwrap().contains("immutable")));
    let sw = client.get(format!("{}/sw.js", server.base)).send().await.unwrap();
    assert_eq!(sw.headers()["cache-control"], "no-cache", "the service worker must never be cached");

    // Ctrl-C: drain and exit 0.
    let mut server = server;
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    wait_for_line(&server.lines, "stopped");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "did not exit after SIGINT");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "clean exit, got {status}");
}

/// Without `--static-dir` the binary serves the dashboard it embedded at compile time: the same
/// `index.html` as the build on disk (test-all.sh builds the PWA before cargo), or, when there was no
/// build, a page saying how to make one.
#[tokio::test]
async fn serves_the_embedded_dashboard_without_static_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start(&tmp.path().join("data"), None);
    let client = reqwest::Client::new();
    let r = client.get(format!("{}/", server.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let body = r.text().await.unwrap();
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../static-site/dist");
    match std::fs::read_to_string(dist.join("index.html")) {
        Ok(index) => {
            assert_eq!(body, index, "GET / is the built dashboard's index.html");
            let route = client.get(format!("{}/whatsapp/channels", server.base)).send().await.unwrap().text().await.unwrap();
            assert_eq!(route, index, "client-side routes get the app shell");
            let asset = std::fs::read_dir(dist.join("assets")).unwrap().flatten().next().expect("a built asset").file_name().into_string().unwrap();
            let a = client.get(format!("{}/assets/{asset}", server.base)).send().await.unwrap();
            assert_eq!((a.status().as_u16(), a.headers()["cache-control"].to_str().unwrap()), (200, "public, max-age=31536000, immutable"));
            assert_eq!(client.get(format!("{}/assets/missing-1.js", server.base)).send().await.unwrap().status(), 404);
        }
        Err(_) => assert!(body.contains("npm run build"), "without a build, / says how to build it: {body}"),
    }
    let (status, missing) = get_json(&client, &format!("{}/v1/does-not-exist", server.base)).await;
    assert_eq!((status, missing["error"]["code"].as_str()), (404, Some("not_found")), "the API still answers JSON");
}

#[test]
fn help_documents_subcommands() {
    let out = Command::new(env!("CARGO_BIN_EXE_webtrigger")).arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success());
    assert!(text.contains("serve"), "{text}");
    let serve = Command::new(env!("CARGO_BIN_EXE_webtrigger")).args(["serve", "--help"]).output().unwrap();
    let text = String::from_utf8(serve.stdout).unwrap();
    for flag in ["--data-dir", "--port", "--static-dir", "--allow-push-host"] {
        assert!(text.contains(flag), "serve --help lacks {flag}: {text}");
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_webtrigger")).args(["serve", "--port", "not-a-port"]).output().unwrap();
    assert!(!bad.status.success());
    let dir = tempfile::tempdir().unwrap();
    let stats = Command::new(env!("CARGO_BIN_EXE_webtrigger")).args(["dlq", "stats", "--data-dir"]).arg(dir.path()).output().unwrap();
    let out = String::from_utf8(stats.stdout).unwrap();
    assert!(stats.status.success() && out.contains("push-send") && out.contains("dead-lettered"), "{out}");
    let unknown = Command::new(env!("CARGO_BIN_EXE_webtrigger")).args(["dlq", "redrive", "nope", "--data-dir"]).arg(dir.path()).output().unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown queue"));
}

#[test]
fn events_commands_explain_what_they_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_webtrigger")).args(args).arg("--data-dir").arg(dir.path()).output().unwrap();
    let list = run(&["events", "list", "ws_01m82nt40k1r5ym3dn75bq20k7"]);
    assert!(list.status.success(), "{}", String::from_utf8_lossy(&list.stderr));
    assert!(String::from_utf8_lossy(&list.stdout).contains("no stored webhooks"));
    let bad_ws = run(&["events", "list", "acme"]);
    assert!(!bad_ws.status.success());
    assert!(String::from_utf8_lossy(&bad_ws.stderr).contains("`acme` is not a workspace id"));
    let missing = run(&["events", "replay", "ws_01m82nt40k1r5ym3dn75bq20k7", "01M82NT3A7ZW3SCN6C3XQQSP34"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("expired or never existed"), "{}", String::from_utf8_lossy(&missing.stderr));
}

//! `webtrigger demo` on a fresh data dir, then `webtrigger serve` on it: the owner it printed logs in and the
//! API lists the demo data (sites, subscribers, sent notifications with stats, conversations, trigger
//! invocations, a published flow). A second run on the same directory is refused.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn printed(stdout: &str, label: &str) -> String {
    stdout.lines().find_map(|l| l.trim().strip_prefix(label)).unwrap_or_else(|| panic!("no `{label}` in {stdout}")).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_fills_a_fresh_install_that_serve_then_lists() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = Command::new(env!("CARGO_BIN_EXE_webtrigger")).arg("demo").arg("--data-dir").arg(&data).env("RUST_LOG", "warn").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "demo failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let (email, password) = (printed(&stdout, "email:"), printed(&stdout, "password:"));

    let again = Command::new(env!("CARGO_BIN_EXE_webtrigger")).arg("demo").arg("--data-dir").arg(&data).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already has data"), "{}", String::from_utf8_lossy(&again.stderr));

    let mut child = Command::new(env!("CARGO_BIN_EXE_webtrigger")).args(["serve", "--port", "0", "--data-dir"]).arg(&data).env("RUST_LOG", "info").env_remove("WEBTRIGGER_STATIC_DIR").stdout(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let _server = Killed(child);
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines.next().expect("serve exited").unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or_default();
        if v["message"] == "webtrigger listening" {
            break v["addr"].as_str().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    let login: Value = http.post(format!("{base}/v1/auth/login")).json(&json!({"email": email, "password": password})).send().await.unwrap().json().await.unwrap();
    let token = login["data"]["access_token"].as_str().unwrap_or_else(|| panic!("login failed: {login}")).to_owned();
    let get = |path: String| {
        let (http, token, base) = (http.clone(), token.clone(), base.clone());
        async move {
            let v: Value = http.get(format!("{base}{path}")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
            assert_eq!(v["success"], true, "{path}: {v}");
            v["data"].clone()
        }
    };
    let me = get("/v1/me".into()).await;
    let ws = me["default_workspace"].as_str().expect("the demo workspace is the default").to_owned();
    assert_eq!(me["workspaces"][0]["name"], "Demo Bakery");
    let w = format!("/v1/workspaces/{ws}");

    let sites = get(format!("{w}/sites")).await;
    let sites = sites.as_array().or_else(|| sites["sites"].as_array()).cloned().unwrap();
    assert_eq!(sites.len(), 2, "{sites:?}");
    let shop = sites.iter().find(|s| s["name"] == "Bakery shop").unwrap()["id"].as_str().unwrap().to_owned();
    let subscribers = get(format!("{w}/sites/{shop}/subscribers")).await;
    assert!(subscribers.to_string().contains("Europe/Berlin"), "{subscribers}");
    let notifications = get(format!("{w}/sites/{shop}/notifications")).await;
    let list = notifications.as_array().or_else(|| notifications["notifications"].as_array()).cloned().unwrap();
    assert_eq!(list.len(), 2);
    for n in &list {
        assert_eq!(n["status"], "completed", "{n}");
        assert!(n["stats"]["accepted"].as_i64().unwrap() > 0 && n["stats"]["impressions"].as_i64().unwrap() > 0, "{n}");
    }

    let conversations = get(format!("{w}/conversations")).await;
    assert!(conversations.to_string().contains("Sheena Nelson") && conversations.to_string().contains("Lena Fischer"), "{conversations}");
    let triggers = get(format!("{w}/triggers")).await;
    let trigger = triggers.as_array().or_else(|| triggers["triggers"].as_array()).and_then(|t| t.first().cloned()).unwrap();
    let invocations = get(format!("{w}/triggers/{}/invocations", trigger["id"].as_str().unwrap())).await;
    assert_eq!(invocations["invocations"].as_array().map(Vec::len), Some(3), "{invocations}");
    let flows = get(format!("{w}/flows")).await;
    assert_eq!(flows[0]["live_version"], 1, "{flows}");
}

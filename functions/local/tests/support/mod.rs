//! The real `webtrigger serve` as a child process, for the tests that kill it with SIGKILL and restart
//! it on the same data dir: started with the test's arguments and environment, its address read from its
//! `webtrigger listening` log line, killed and reaped when dropped.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `webtrigger serve --port 0 --data-dir <dir> <args…>` with `envs` and waits (30 s at most) for it to listen.
pub fn start(data_dir: &std::path::Path, args: &[&str], envs: &[(&str, &str)]) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_webtrigger"));
    command.args(["serve", "--port", "0"]).args(args).arg("--data-dir").arg(data_dir).env("RUST_LOG", "info").stdout(Stdio::piped());
    for (name, value) in envs {
        command.env(name, value);
    }
    let child = command.spawn().expect("start webtrigger");
    // Owned by `Server` at once, so the process is killed and reaped on every path, a failed start too.
    let mut server = Server { child, base: String::new() };
    let stdout = server.child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("no `webtrigger listening` line within 30 s");
        let json: Value = serde_json::from_str(&line).unwrap_or_default();
        if json["message"] == "webtrigger listening" {
            server.base = format!("http://{}", json["addr"].as_str().unwrap());
            // Keep draining stdout so the server never blocks on a full pipe.
            std::thread::spawn(move || while rx.recv().is_ok() {});
            return server;
        }
    }
}

/// SIGKILL: no shutdown hook runs, as in a crash.
pub fn kill(pid: u32) {
    let status = Command::new("kill").args(["-KILL", &pid.to_string()]).status().expect("run kill");
    assert!(status.success(), "kill -9 {pid}");
}

/// Waits (bounded by `within`) for the server to die of the kill, not exit by itself.
pub fn wait_killed(child: &mut Child, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            assert!(!exit.success(), "the server was killed, it did not exit by itself");
            return;
        }
        assert!(Instant::now() < deadline, "the kill point was never reached");
        std::thread::sleep(Duration::from_millis(20));
    }
}

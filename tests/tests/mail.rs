//! Invite and password-reset email through the real SMTP adapter, against a few lines of SMTP server on
//! loopback that records every message; then the emailed links are used through the HTTP API.

#[path = "api/client.rs"]
mod client;

use std::sync::Arc;
use std::time::Duration;

use client::Client;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use webtrigger::auth::mailer::{MailConfig, MailRuntime, SmtpUrl};
use webtrigger::ports::{Clock, FixedClock, SystemClock};

const PASSWORD: &str = "correct horse battery";
const NEW_PASSWORD: &str = "a brand new passphrase";

/// One received message: the envelope recipients and the DATA section.
#[derive(Debug)]
struct Received {
    rcpt: Vec<String>,
    data: String,
}

/// A loopback SMTP relay that accepts everything and hands each message to the channel.
async fn smtp_server() -> (String, mpsc::UnboundedReceiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 fake-relay ready\r\n").await.unwrap();
                let mut rcpt = Vec::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "RCPT" => {
                            rcpt.push(line.clone());
                            b"250 ok\r\n"
                        }
                        "DATA" => {
                            write.write_all(b"354 end with .\r\n").await.unwrap();
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                data.push_str(&l);
                                data.push('\n');
                            }
                            let _ = tx.send(Received { rcpt: std::mem::take(&mut rcpt), data });
                            b"250 queued\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"250 ok\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (url, rx)
}

async fn next_mail(rx: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    // A generous bound so a broken sender fails the test instead of hanging it; not a synchronisation.
    tokio::time::timeout(Duration::from_secs(60), rx.recv()).await.expect("no mail arrived").expect("relay closed")
}

/// The link in a mail body, with quoted-printable soft breaks undone.
fn link(mail: &Received, prefix: &str) -> String {
    let body = mail.data.replace("=\n", "").replace("=3D", "=");
    let start = body.find(prefix).unwrap_or_else(|| panic!("no {prefix} link in {}", mail.data));
    body[start..].split_whitespace().next().unwrap().to_owned()
}

fn token_of(link: &str) -> String {
    link.split_once("#token=").expect("token in the fragment").1.to_owned()
}

async fn state_with_mail(clock: Arc<dyn Clock>) -> (webtrigger::AppState, tempfile::TempDir, mpsc::UnboundedReceiver<Received>) {
    let (url, rx) = smtp_server().await;
    let (mut state, dir) = webtrigger_tests::embedded_state_with_clock(clock).await;
    let config = MailConfig { smtp_url: SmtpUrl::parse(&url).unwrap(), from: "WebTrigger <no-reply@example.com>".into(), link_base: "https://app.example.com".into() };
    state.mail = Some(MailRuntime::smtp(&config).unwrap());
    (state, dir, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_by_email_is_single_use_and_ends_every_session() {
    let (state, _dir, mut mails) = state_with_mail(Arc::new(SystemClock)).await;
    let mut ada = Client::new(state.clone());
    ada.sign_up("ada@example.com").await;
    let mut other_device = Client::new(state.clone());
    other_device.post("/v1/auth/login", json!({"email": "ada@example.com", "password": PASSWORD})).await.data();

    let mut anon = Client::new(state.clone());
    let unknown = anon.post("/v1/auth/password-reset", json!({"email": "nobody@example.com"})).await;
    let known = anon.post("/v1/auth/password-reset", json!({"email": "ADA@example.com"})).await;
    assert_eq!((unknown.status, known.status), (202, 202));
    assert_eq!(unknown.body, known.body, "the answer does not reveal whether the account exists");
    assert_eq!(known.data()["email_delivery"], true);

    let mail = next_mail(&mut mails).await;
    assert_eq!(mail.rcpt, vec!["RCPT TO:<ada@example.com>"], "only the account's address got mail (none for the unknown one)");
    assert!(mail.data.contains("Subject: Reset your WebTrigger password"), "{}", mail.data);
    let url = link(&mail, "https://app.example.com/reset-password#token=");
    let token = token_of(&url);
    assert!(token.starts_with("pwr_") && token.len() > 40, "{token}");

    anon.post("/v1/auth/password-reset/confirm", json!({"token": token, "new_password": "short"})).await.assert_error(422, "validation_failed");
    anon.post("/v1/auth/password-reset/confirm", json!({"token": "pwr_forged", "new_password": NEW_PASSWORD})).await.assert_error(404, "not_found");
    let done = anon.post("/v1/auth/password-reset/confirm", json!({"token": token, "new_password": NEW_PASSWORD})).await;
    assert_eq!(done.data()["sessions_revoked"], true);
    anon.post("/v1/auth/password-reset/confirm", json!({"token": token, "new_password": "yet another passphrase"})).await.assert_error(404, "not_found");

    for device in [&mut ada, &mut other_device] {
        device.post("/v1/auth/refresh", json!({})).await.assert_error(401, "unauthorized");
    }
    anon.post("/v1/auth/login", json!({"email": "ada@example.com", "password": PASSWORD})).await.assert_error(401, "invalid_credentials");
    anon.post("/v1/auth/login", json!({"email": "ada@example.com", "password": NEW_PASSWORD})).await.data();

    // Three requests per address at once, then the bucket is empty, for any address alike.
    for _ in 0..2 {
        assert_eq!(anon.post("/v1/auth/password-reset", json!({"email": "ada@example.com"})).await.status, 202);
    }
    anon.post("/v1/auth/password-reset", json!({"email": "ada@example.com"})).await.assert_error(429, "rate_limited");
    anon.post("/v1/auth/password-reset", json!({"email": "carol@example.com"})).await.data();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_link_expires_after_an_hour() {
    let clock = Arc::new(FixedClock::new(chrono::Utc::now()));
    let (state, _dir, mut mails) = state_with_mail(clock.clone()).await;
    Client::new(state.clone()).sign_up("ada@example.com").await;
    let mut anon = Client::new(state.clone());
    anon.post("/v1/auth/password-reset", json!({"email": "ada@example.com"})).await.data();
    let token = token_of(&link(&next_mail(&mut mails).await, "https://app.example.com/reset-password#token="));
    clock.advance(chrono::Duration::seconds(3601));
    anon.post("/v1/auth/password-reset/confirm", json!({"token": token, "new_password": NEW_PASSWORD})).await.assert_error(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invites_are_emailed_and_the_emailed_link_joins_the_workspace() {
    let (state, _dir, mut mails) = state_with_mail(Arc::new(SystemClock)).await;
    let mut ada = Client::new(state.clone());
    ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Bakery").await;
    let invite = ada.post(&format!("/v1/workspaces/{ws}/invites"), json!({"email": "bob@example.com", "role": "agent"})).await;
    assert_eq!(invite.data()["emailed"], true);

    let mail = next_mail(&mut mails).await;
    assert_eq!(mail.rcpt, vec!["RCPT TO:<bob@example.com>"]);
    assert!(mail.data.contains("Bakery") && mail.data.contains("ada@example.com"), "{}", mail.data);
    let url = link(&mail, "https://app.example.com/accept-invite#token=");
    assert_eq!(url.trim_start_matches("https://app.example.com"), invite.data()["accept_path"].as_str().unwrap());

    let mut bob = Client::new(state.clone());
    bob.sign_up("bob@example.com").await;
    let joined = bob.post("/v1/invites/accept", json!({"token": token_of(&url)})).await;
    assert_eq!(joined.status, 201, "{}", joined.body);
    assert_eq!(joined.data()["role"], "agent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_mailer_nothing_is_sent_and_the_answers_say_so() {
    let (state, _dir) = webtrigger_tests::embedded_state().await;
    let mut ada = Client::new(state.clone());
    ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Bakery").await;
    let invite = ada.post(&format!("/v1/workspaces/{ws}/invites"), json!({"email": "bob@example.com", "role": "agent"})).await;
    assert_eq!(invite.data()["emailed"], false);
    let reset = Client::new(state.clone()).post("/v1/auth/password-reset", json!({"email": "ada@example.com"})).await;
    assert_eq!(reset.status, 202);
    assert_eq!(reset.data()["email_delivery"], false);
}

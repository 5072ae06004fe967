//! Channel setup from the dashboard's point of view, on both backends: the channel answers where its
//! webhooks go, each receiver call lands on the channel's health row (accepted or refused, and why),
//! and rotating the webhook secret shows the new one once, retires the old one at once and is audited.

#[path = "api/client.rs"]
mod client;

use std::sync::Arc;

use axum::http::Method;
use client::Client;
use serde_json::{json, Value};
use webtrigger::AppState;
use webtrigger_tests::webhook_signing::{meta_signature, META_APP_SECRET};
use webtrigger_tests::provider_fakes::{META_PHONE_NUMBER_ID, META_TOKEN, WHAPI_TOKEN};


async fn post_raw(state: &AppState, path: &str, headers: &[(&str, &str)], body: &str) -> u16 {
    let mut c = Client::new(state.clone());
    c.extra_headers = headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).chain([("content-type".to_owned(), "application/json".to_owned())]).collect();
    c.call_raw(Method::POST, path, body.as_bytes().to_vec()).await.status
}

fn last_webhook(list: &Value, id: &str) -> Value {
    list.as_array().unwrap().iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("channel {id} not listed: {list}"))["last_webhook"].clone()
}

async fn health_rows_and_secret_rotation(mut state: AppState) {
    let (_fake, mut ada, ws) = client::provider_world(&mut state, None).await;
    let p = |rest: &str| format!("/v1/workspaces/{ws}/{rest}");
    let cred = ada.post(&p("credentials"), json!({"name": "Meta", "provider": "meta", "access_token": META_TOKEN, "app_secret": META_APP_SECRET, "phone_number_id": META_PHONE_NUMBER_ID, "waba_id": "102290129340398"})).await;
    let created = ada.post(&p("channels"), json!({"name": "Support", "credential_id": cred.data()["id"]})).await;
    let (id, secret) = (created.data()["id"].as_str().unwrap().to_owned(), created.data()["webhook_secret"].as_str().unwrap().to_owned());
    let path = format!("/hooks/meta/{ws}/{id}");

    // Listed with its path, and no webhook yet; the secret never comes back.
    let list = ada.get(&p("channels")).await;
    assert_eq!(list.data()[0]["webhook_path"], path.as_str());
    assert_eq!(last_webhook(list.data(), &id), Value::Null);
    assert!(!list.body.to_string().contains(&secret));

    // A refused handshake, then an accepted one: the row says which, and why.
    let mut anon = Client::new(state.clone());
    anon.get(&format!("{path}?hub.mode=subscribe&hub.challenge=42&hub.verify_token=wrong")).await.assert_error(403, "forbidden");
    let row = last_webhook(ada.get(&p("channels")).await.data(), &id);
    assert_eq!(row["status"], "rejected", "{row}");
    assert!(row["detail"].as_str().unwrap().contains("verify token"), "{row}");
    assert_eq!(anon.get(&format!("{path}?hub.mode=subscribe&hub.challenge=42&hub.verify_token={secret}")).await.status, 200);
    assert_eq!(last_webhook(ada.get(&p("channels")).await.data(), &id)["status"], "accepted");

    // A forged event is refused and recorded so; a signed one is accepted.
    let body = json!({"object": "whatsapp_business_account", "entry": []}).to_string();
    assert_eq!(post_raw(&state, &path, &[("x-hub-signature-256", "sha256=00")], &body).await, 401);
    let row = ada.get(&p(&format!("channels/{id}"))).await.data()["last_webhook"].clone();
    assert_eq!(row["status"], "rejected");
    assert!(row["detail"].as_str().unwrap().contains("X-Hub-Signature-256"), "{row}");
    assert!(!row.to_string().contains(META_APP_SECRET));
    assert_eq!(post_raw(&state, &path, &[("x-hub-signature-256", &meta_signature(&body))], &body).await, 200);
    assert_eq!(ada.get(&p(&format!("channels/{id}"))).await.data()["last_webhook"]["detail"], "event accepted");

    // Rotation: a new secret once, the old verify token refused at once, audited.
    let rotated = ada.post(&p(&format!("channels/{id}/rotate-secret")), json!({})).await;
    let fresh = rotated.data()["webhook_secret"].as_str().unwrap().to_owned();
    assert!(fresh.starts_with("whsk_") && fresh != secret);
    assert_eq!(rotated.data()["webhook_path"], path.as_str());
    anon.get(&format!("{path}?hub.mode=subscribe&hub.challenge=1&hub.verify_token={secret}")).await.assert_error(403, "forbidden");
    assert_eq!(anon.get(&format!("{path}?hub.mode=subscribe&hub.challenge=1&hub.verify_token={fresh}")).await.status, 200);
    assert!(!ada.get(&p(&format!("channels/{id}"))).await.body.to_string().contains(&fresh), "the new secret is shown once");
    let audit = ada.get(&p("audit")).await;
    assert_eq!(audit.data()["entries"][0]["action"], "channel.rotate_secret", "{}", audit.body);
    assert_eq!(audit.data()["entries"][0]["target"], id.as_str());

    // Whapi: the header secret rotates the same way.
    let wcred = ada.post(&p("credentials"), json!({"name": "Whapi", "provider": "whapi", "token": WHAPI_TOKEN})).await;
    let whapi = ada.post(&p("channels"), json!({"name": "Phone", "credential_id": wcred.data()["id"]})).await;
    let (wid, wsecret) = (whapi.data()["id"].as_str().unwrap().to_owned(), whapi.data()["webhook_secret"].as_str().unwrap().to_owned());
    let wpath = format!("/hooks/whapi/{ws}/{wid}");
    assert_eq!(post_raw(&state, &wpath, &[], "{}").await, 401);
    assert!(last_webhook(ada.get(&p("channels")).await.data(), &wid)["detail"].as_str().unwrap().contains("X-Webhook-Secret"));
    let wfresh = ada.post(&p(&format!("channels/{wid}/rotate-secret")), json!({})).await.data()["webhook_secret"].as_str().unwrap().to_owned();
    assert_eq!(post_raw(&state, &wpath, &[("x-webhook-secret", &wsecret)], "{}").await, 401, "the old secret stops at once");
    assert_eq!(post_raw(&state, &wpath, &[("x-webhook-secret", &wfresh)], "{}").await, 200);
    assert_eq!(last_webhook(ada.get(&p("channels")).await.data(), &wid)["status"], "accepted");

    // Another workspace's member cannot see or rotate these channels.
    let mut eve = Client::new(state.clone());
    eve.sign_up("eve@example.com").await;
    eve.create_workspace("Eve").await;
    assert_eq!(eve.post(&p(&format!("channels/{id}/rotate-secret")), json!({})).await.status, 404);
    ada.post(&p("channels/chan_nope/rotate-secret"), json!({})).await.assert_error(404, "not_found");

    // Deleting the channel removes its health row with it.
    assert_eq!(ada.call(Method::DELETE, &p(&format!("channels/{id}")), None).await.status, 200);
    ada.get(&p(&format!("channels/{id}"))).await.assert_error(404, "not_found");
    assert!(state.table.get(&webtrigger::whatsapp::webhook_health::key(&webtrigger::auth::WorkspaceId::parse(&ws).unwrap(), &webtrigger::whatsapp::types::ChannelId::parse(&id).unwrap())).await.unwrap().is_none());
}

#[tokio::test]
async fn embedded_health_rows_and_secret_rotation() {
    let (state, _dir) = webtrigger_tests::embedded_state().await;
    health_rows_and_secret_rotation(state).await
}

#[tokio::test]
async fn aws_health_rows_and_secret_rotation() {
    health_rows_and_secret_rotation(webtrigger_tests::aws_state_with_clock(Arc::new(webtrigger::ports::SystemClock)).await).await
}

//! Provider webhooks in and the shared inbox, end to end on both backends: signed webhooks from
//! each provider become conversations exactly once, statuses land forward-only even out of order,
//! forged requests store nothing, STOP/START drive consent, replies go out through the provider fake,
//! and team actions (assign, snooze, resolve, labels, notes) behave.

#[path = "api/client.rs"]
mod client;

use std::sync::Arc;

use axum::http::Method;
use base64::Engine;
use client::Client;
use serde_json::{json, Value};
use webtrigger::AppState;
use webtrigger_tests::webhook_signing::{meta_signature, twilio_signature, META_APP_SECRET};
use webtrigger_tests::provider_fakes::{ProviderFake, META_PHONE_NUMBER_ID, META_TOKEN, TWILIO_SID, TWILIO_TOKEN, WHAPI_TOKEN};

const PUBLIC: &str = "https://hooks.example.com";

async fn drain(state: &AppState) {
    webtrigger_tests::drain_inbound(state).await;
}

fn meta_inbound(id: &str, from: &str, text: &str) -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"value": {"messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": META_PHONE_NUMBER_ID}, "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": from}],
        "messages": [{"from": from, "id": id, "timestamp": "1749416383", "type": "text", "text": {"body": text}}]}, "field": "messages"}]}]}).to_string()
}

fn meta_status(id: &str, status: &str) -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": META_PHONE_NUMBER_ID},
        "statuses": [{"id": id, "status": status, "timestamp": "1603086313", "recipient_id": "16505551234"}]}, "field": "messages"}]}]}).to_string()
}

/// A browser's subscription keys: a real P-256 public key and a random auth secret.
fn push_keys() -> Value {
    use aws_lc_rs::agreement::{PrivateKey, ECDH_P256};
    let key = PrivateKey::generate(&ECDH_P256).unwrap();
    let public = key.compute_public_key().unwrap();
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    json!({"p256dh": b64(public.as_ref()), "auth": b64(&webtrigger::crypto::random_bytes::<16>())})
}

async fn raw(c: &mut Client, method: Method, path: &str, headers: &[(&str, &str)], content_type: &str, body: &str) -> u16 {
    let mut c = c.clone();
    c.token = None;
    c.extra_headers = headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).chain([("content-type".to_owned(), content_type.to_owned())]).collect();
    c.call_raw(method, path, body.as_bytes().to_vec()).await.status
}

/// The conversation at `conv` (its API path) shows `text` as its one timeline line and one unread message.
async fn assert_once(c: &mut Client, conv: &str, text: &str) {
    let tl = c.get(&format!("{conv}/messages")).await;
    let entries = tl.data()["entries"].as_array().unwrap();
    assert_eq!(entries.iter().map(|e| e["text"].as_str().unwrap_or_default()).collect::<Vec<_>>(), [text], "{}", tl.body);
    assert_eq!(c.get(conv).await.data()["unread"], 1, "one message counted");
}

webtrigger_tests::on_both_backends!(webhooks_become_conversations_once_and_statuses_move_forward, twilio_and_whapi_receivers, teams_round_robin_canned_replies_and_labels, live_stream_follows_the_inbox_and_catches_up);

async fn webhooks_become_conversations_once_and_statuses_move_forward(mut state: AppState) {
    let fake = ProviderFake::start().await;
    state.whatsapp = Arc::new(webtrigger::whatsapp::WhatsAppRuntime::new(fake.urls()).with_public_url(Some(PUBLIC.into())));
    state.push = Arc::new(webtrigger::push::PushRuntime { policy: webtrigger::push::types::EndpointPolicy { extra_hosts: vec![fake.base_url.trim_start_matches("http://").to_owned()] }, ..Default::default() });
    let mut ada = Client::new(state.clone());
    ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Support").await;
    let p = |rest: &str| format!("/v1/workspaces/{ws}/{rest}");
    let cred = ada.post(&p("credentials"), json!({"name": "Meta", "provider": "meta", "access_token": META_TOKEN, "app_secret": META_APP_SECRET, "phone_number_id": META_PHONE_NUMBER_ID, "waba_id": "102290129340398"})).await;
    let meta = ada.post(&p("channels"), json!({"name": "Support", "credential_id": cred.data()["id"]})).await;
    let (meta_id, meta_secret, meta_path) = (meta.data()["id"].as_str().unwrap().to_owned(), meta.data()["webhook_secret"].as_str().unwrap().to_owned(), meta.data()["webhook_path"].as_str().unwrap().to_owned());
    assert_eq!(meta_path, format!("/hooks/meta/{ws}/{meta_id}"));
    assert!(!ada.get(&p(&format!("channels/{meta_id}"))).await.body.to_string().contains(&meta_secret), "the webhook secret is shown once");

    // Meta's subscription handshake.
    let mut anon = Client::new(state.clone());
    let verify = anon.get(&format!("{meta_path}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={meta_secret}")).await;
    assert_eq!(verify.status, 200);
    anon.get(&format!("{meta_path}?hub.mode=subscribe&hub.challenge=1&hub.verify_token=wrong")).await.assert_error(403, "forbidden");

    // Forged and unsigned deliveries are refused and store nothing.
    let body = meta_inbound("wamid.IN1", "16505551234", "Does it come in another color?");
    assert_eq!(raw(&mut anon, Method::POST, &meta_path, &[], "application/json", &body).await, 401);
    assert_eq!(raw(&mut anon, Method::POST, &meta_path, &[("x-hub-signature-256", "sha256=00")], "application/json", &body).await, 401);
    let tampered = body.replace("color", "colour");
    assert_eq!(raw(&mut anon, Method::POST, &meta_path, &[("x-hub-signature-256", &meta_signature(&body))], "application/json", &tampered).await, 401);
    assert!(ada.get(&p("webhook-events")).await.data().as_array().unwrap().is_empty(), "nothing stored");

    // The same signed webhook five times: one conversation, one message.
    for _ in 0..5 {
        assert_eq!(raw(&mut anon, Method::POST, &meta_path, &[("x-hub-signature-256", &meta_signature(&body))], "application/json", &body).await, 200);
    }
    drain(&state).await;
    // Redelivered after the first copies were processed: still once.
    assert_eq!(raw(&mut anon, Method::POST, &meta_path, &[("x-hub-signature-256", &meta_signature(&body))], "application/json", &body).await, 200);
    drain(&state).await;
    let list = ada.get(&p("conversations")).await;
    let convs = list.data()["conversations"].as_array().unwrap().clone();
    assert_eq!(convs.len(), 1, "{}", list.body);
    let conv = convs[0]["id"].as_str().unwrap().to_owned();
    assert_eq!((convs[0]["contact"].as_str(), convs[0]["contact_name"].as_str(), convs[0]["unread"].as_u64()), (Some("+16505551234"), Some("Sheena Nelson"), Some(1)));
    assert_once(&mut ada, &p(&format!("conversations/{conv}")), "Does it come in another color?").await;
    assert_eq!(ada.get(&p("webhook-events")).await.data().as_array().unwrap().len(), 6, "every delivery is kept for replay");

    // Assigned to ada, whose phone is registered: the next inbound message notifies her.
    let members = ada.get(&p("members")).await;
    let ada_id = members.data()[0]["user_id"].as_str().unwrap().to_owned();
    let assigned = ada.post(&p(&format!("conversations/{conv}/assign")), json!({"assignee": ada_id})).await;
    assert_eq!(assigned.data()["assignee"], ada_id.as_str(), "{}", assigned.body);
    ada.post(&p(&format!("conversations/{conv}/assign")), json!({"assignee": "usr_01jd5x8q0y8m3n2b7c4v6w9z1a"})).await.assert_error(422, "validation_failed");
    let keys = push_keys();
    let device = ada.post("/v1/me/devices", json!({"subscription": {"endpoint": format!("{}/push/ada-phone", fake.base_url), "keys": keys}})).await;
    assert_eq!(device.status, 201, "{}", device.body);
    let second = meta_inbound("wamid.IN2", "16505551234", "Hello?");
    assert_eq!(raw(&mut anon, Method::POST, &meta_path, &[("x-hub-signature-256", &meta_signature(&second))], "application/json", &second).await, 200);
    drain(&state).await;
    assert!(fake.received().iter().any(|r| r.provider == "push" && r.to == "ada-phone"), "the assignee's device got a push");
    assert_eq!(ada.get(&p(&format!("conversations/{conv}"))).await.data()["unread"], 2);

    // A reply goes out through the provider; its statuses arrive out of order and end at read.
    let reply = ada.post(&p(&format!("conversations/{conv}/messages")), json!({"text": "Yes, in blue."})).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    drain(&state).await;
    let sent = fake.received().into_iter().find(|r| r.provider == "meta").expect("reply sent");
    assert_eq!((sent.body["to"].as_str(), sent.body["text"]["body"].as_str()), (Some("16505551234"), Some("Yes, in blue.")));
    let tl = ada.get(&p(&format!("conversations/{conv}/messages"))).await;
    let wamid = tl.data()["entries"][0]["provider_message_id"].as_str().unwrap().to_owned();
    assert_eq!(tl.data()["entries"][0]["status"], "sent");
    for st in ["read", "delivered", "sent", "failed"] {
        let b = meta_status(&wamid, st);
        assert_eq!(raw(&mut anon, Method::POST, &meta_path, &[("x-hub-signature-256", &meta_signature(&b))], "application/json", &b).await, 200);
    }
    drain(&state).await;
    let tl = ada.get(&p(&format!("conversations/{conv}/messages"))).await;
    assert_eq!(tl.data()["entries"][0]["status"], "read", "read before delivered still ends at read; later statuses never go back");
    assert_eq!(ada.get(&p(&format!("conversations/{conv}"))).await.data()["unread"], 0, "replying reads the conversation");

    // Replaying a stored event queues it for the webhook worker, which gives the same result.
    let events = ada.get(&p("webhook-events")).await.data().as_array().unwrap().clone();
    let first_inbound = events.iter().rev().find(|e| e["body"].as_str().unwrap().contains("wamid.IN1")).unwrap()["id"].as_str().unwrap().to_owned();
    let replayed = ada.post(&p(&format!("webhook-events/{first_inbound}/replay")), json!({})).await;
    assert_eq!((replayed.status, replayed.data()["queued"].as_bool()), (202, Some(true)));
    ada.post(&p("webhook-events/hev_unknown/replay"), json!({})).await.assert_error(404, "not_found");
    drain(&state).await;
    assert_eq!(ada.get(&p(&format!("conversations/{conv}/messages"))).await.data()["entries"].as_array().unwrap().len(), 3, "two inbound and one reply, still");

    // STOP opts out (sends refused), START opts back in.
    let stop = meta_inbound("wamid.IN3", "16505551234", "STOP");
    raw(&mut anon, Method::POST, &meta_path, &[("x-hub-signature-256", &meta_signature(&stop))], "application/json", &stop).await;
    drain(&state).await;
    ada.post(&p(&format!("conversations/{conv}/messages")), json!({"text": "Anything else?"})).await.assert_error(422, "opted_out");
    let start = meta_inbound("wamid.IN4", "16505551234", "start");
    raw(&mut anon, Method::POST, &meta_path, &[("x-hub-signature-256", &meta_signature(&start))], "application/json", &start).await;
    drain(&state).await;
    assert_eq!(ada.post(&p(&format!("conversations/{conv}/messages")), json!({"text": "Welcome back"})).await.status, 201);
    let ledger = ada.get(&p("contacts/+16505551234/consent")).await;
    let ledger: Vec<bool> = ledger.data().as_array().unwrap().iter().map(|c| c["opted_out"].as_bool().unwrap()).collect();
    assert_eq!(ledger, [false, true], "newest first: opted back in after opting out");

    // Team actions and filters.
    ada.post(&p(&format!("conversations/{conv}/notes")), json!({"text": "VIP customer"})).await;
    ada.call(Method::PUT, &p(&format!("conversations/{conv}/labels")), Some(json!({"labels": ["VIP", "sales", "vip"]}))).await;
    assert_eq!(ada.get(&p("conversations?label=vip")).await.data()["conversations"].as_array().unwrap().len(), 1);
    assert_eq!(ada.get(&p("conversations?label=billing")).await.data()["conversations"].as_array().unwrap().len(), 0);
    ada.post(&p(&format!("conversations/{conv}/snooze")), json!({"until": "2001-01-01T00:00:00Z"})).await.assert_error(422, "validation_failed");
    let later = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    assert_eq!(ada.post(&p(&format!("conversations/{conv}/snooze")), json!({"until": later})).await.data()["status"], "snoozed");
    assert_eq!(ada.get(&p("conversations?status=open")).await.data()["conversations"].as_array().unwrap().len(), 0);
    assert_eq!(ada.post(&p(&format!("conversations/{conv}/resolve")), json!({})).await.data()["status"], "resolved");
    let again = meta_inbound("wamid.IN5", "16505551234", "One more question");
    raw(&mut anon, Method::POST, &meta_path, &[("x-hub-signature-256", &meta_signature(&again))], "application/json", &again).await;
    drain(&state).await;
    assert_eq!(ada.get(&p(&format!("conversations/{conv}"))).await.data()["status"], "open", "a new message reopens it");
    assert_eq!(ada.get(&p(&format!("conversations?assignee={ada_id}"))).await.data()["conversations"].as_array().unwrap().len(), 1);
    assert_eq!(ada.post(&p(&format!("conversations/{conv}/assign")), json!({"round_robin": true})).await.data()["assignee"], ada_id.as_str(), "the only member takes every turn");

    // Other tenants see none of it.
    let mut eve = Client::new(state.clone());
    eve.sign_up("eve@example.com").await;
    eve.create_workspace("Eve").await;
    eve.get(&p(&format!("conversations/{conv}"))).await.assert_error(404, "not_found");
}

async fn twilio_and_whapi_receivers(mut state: AppState) {
    let (_fake, mut ada, ws) = client::provider_world(&mut state, Some(PUBLIC)).await;
    let p = |rest: &str| format!("/v1/workspaces/{ws}/{rest}");
    let tcred = ada.post(&p("credentials"), json!({"name": "Twilio", "provider": "twilio", "account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN})).await;
    let twilio = ada.post(&p("channels"), json!({"name": "Sales", "credential_id": tcred.data()["id"], "number": "+14155238886"})).await;
    let twilio_path = twilio.data()["webhook_path"].as_str().unwrap().to_owned();
    let wcred = ada.post(&p("credentials"), json!({"name": "Whapi", "provider": "whapi", "token": WHAPI_TOKEN})).await;
    let whapi = ada.post(&p("channels"), json!({"name": "Phone", "credential_id": wcred.data()["id"]})).await;
    let (whapi_id, whapi_path, whapi_secret) = (whapi.data()["id"].as_str().unwrap().to_owned(), whapi.data()["webhook_path"].as_str().unwrap().to_owned(), whapi.data()["webhook_secret"].as_str().unwrap().to_owned());
    let mut anon = Client::new(state.clone());

    // Twilio: signed over the public URL and the sorted form parameters.
    let params = [("SmsMessageSid", "SM45e9"), ("NumMedia", "0"), ("ProfileName", "Ranjit Sankar"), ("WaId", "919900000000"), ("SmsStatus", "received"), ("Body", "hey"), ("To", "whatsapp:+14155238886"), ("MessageSid", "SM45e9"), ("AccountSid", TWILIO_SID), ("From", "whatsapp:+919900000000"), ("ApiVersion", "2010-04-01")];
    let form: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    let signature = twilio_signature(&format!("{PUBLIC}{twilio_path}"), &params);
    assert_eq!(raw(&mut anon, Method::POST, &twilio_path, &[("x-twilio-signature", "bm90IGl0")], "application/x-www-form-urlencoded", &form).await, 403);
    for _ in 0..3 {
        assert_eq!(raw(&mut anon, Method::POST, &twilio_path, &[("x-twilio-signature", &signature)], "application/x-www-form-urlencoded", &form).await, 200);
    }
    // Signed for another URL (e.g. a different workspace's webhook) it is refused.
    let elsewhere = twilio_signature(&format!("{PUBLIC}/hooks/twilio/other"), &params);
    assert_eq!(raw(&mut anon, Method::POST, &twilio_path, &[("x-twilio-signature", &elsewhere)], "application/x-www-form-urlencoded", &form).await, 403);
    drain(&state).await;
    // Twilio redelivers the same form (same MessageSid) after the first was processed. Its form carries no
    // timestamp, so the line's time is the receipt time: only deduping before writing keeps it at one line.
    assert_eq!(raw(&mut anon, Method::POST, &twilio_path, &[("x-twilio-signature", &signature)], "application/x-www-form-urlencoded", &form).await, 200);
    drain(&state).await;
    let convs = ada.get(&p("conversations")).await.data()["conversations"].as_array().unwrap().clone();
    assert_eq!(convs.len(), 1);
    assert_eq!((convs[0]["contact"].as_str(), convs[0]["contact_name"].as_str()), (Some("+919900000000"), Some("Ranjit Sankar")));
    assert_once(&mut ada, &p(&format!("conversations/{}", convs[0]["id"].as_str().unwrap())), "hey").await;

    // Whapi: the channel's secret header; our own messages are skipped; health drives the channel state.
    let inbound = json!({"messages": [{"id": "p.w30M7fgwWD4XwHu.g4CA-gBgTwl0rVw", "from_me": false, "type": "text", "chat_id": "14155552671@s.whatsapp.net", "timestamp": 1712995245, "source": "mobile", "text": {"body": "Hello!"}, "from": "14155552671", "from_name": "John"},
        {"id": "mine", "from_me": true, "type": "text", "chat_id": "14155552671@s.whatsapp.net", "timestamp": 1712995246, "text": {"body": "echo"}}], "event": {"type": "messages", "event": "post"}, "channel_id": "MANTIS-M72HC"}).to_string();
    assert_eq!(raw(&mut anon, Method::POST, &whapi_path, &[("x-webhook-secret", "guess")], "application/json", &inbound).await, 401);
    assert_eq!(raw(&mut anon, Method::POST, &whapi_path, &[("x-webhook-secret", &whapi_secret)], "application/json", &inbound).await, 200);
    drain(&state).await;
    assert_eq!(raw(&mut anon, Method::POST, &whapi_path, &[("x-webhook-secret", &whapi_secret)], "application/json", &inbound).await, 200, "a redelivery");
    let authed = json!({"health": {"start_at": 1713774883, "uptime": 78, "status": {"code": 4, "text": "AUTH"}}, "event": {"type": "channel", "event": "post"}, "channel_id": "MANTIS-M72HC"}).to_string();
    assert_eq!(raw(&mut anon, Method::POST, &whapi_path, &[("x-webhook-secret", &whapi_secret)], "application/json", &authed).await, 200);
    drain(&state).await;
    let convs = ada.get(&p(&format!("conversations?channel_id={whapi_id}"))).await.data()["conversations"].as_array().unwrap().clone();
    assert_eq!(convs.len(), 1);
    let tl = ada.get(&p(&format!("conversations/{}/messages", convs[0]["id"].as_str().unwrap()))).await;
    assert_eq!(tl.data()["entries"].as_array().unwrap().len(), 1, "our own echoed message is not an inbound one");
    assert_once(&mut ada, &p(&format!("conversations/{}", convs[0]["id"].as_str().unwrap())), "Hello!").await;
    assert_eq!(ada.get(&p(&format!("channels/{whapi_id}"))).await.data()["status"], "active");
    let qr = json!({"health": {"status": {"code": 3, "text": "QR"}}, "event": {"type": "channel", "event": "post"}}).to_string();
    raw(&mut anon, Method::POST, &whapi_path, &[("x-webhook-secret", &whapi_secret)], "application/json", &qr).await;
    drain(&state).await;
    assert_eq!(ada.get(&p(&format!("channels/{whapi_id}"))).await.data()["status"], "disconnected");

    // Unknown channel or provider mismatch: 404, nothing stored.
    assert_eq!(raw(&mut anon, Method::POST, &format!("/hooks/whapi/{ws}/chan_01jd5x8q0y8m3n2b7c4v6w9z1a"), &[("x-webhook-secret", &whapi_secret)], "application/json", &inbound).await, 404);
    assert_eq!(raw(&mut anon, Method::POST, &twilio_path.replace("/twilio/", "/whapi/"), &[("x-webhook-secret", &whapi_secret)], "application/json", &inbound).await, 404);
    // A body that is not JSON is stored (it was signed) and dead-lettered by the processor, not a panic.
    assert_eq!(raw(&mut anon, Method::POST, &whapi_path, &[("x-webhook-secret", &whapi_secret)], "application/json", "not json").await, 200);
    drain(&state).await;
    assert_eq!(state.queue.depth("webhook-process-dlq").await.unwrap(), 1);
}

/// Signs up `email`, joins `ws` with `role` through an invite from `owner`, and returns (client, user id).
async fn join(owner: &mut Client, state: &AppState, ws: &str, email: &str, role: &str) -> (Client, String) {
    let invite = owner.post(&format!("/v1/workspaces/{ws}/invites"), json!({"email": email, "role": role})).await;
    let token = invite.data()["accept_path"].as_str().unwrap().split("token=").nth(1).unwrap().to_owned();
    let mut c = Client::new(state.clone());
    let id = c.sign_up(email).await;
    assert_eq!(c.post("/v1/invites/accept", json!({"token": token})).await.status, 201);
    (c, id)
}

async fn teams_round_robin_canned_replies_and_labels(mut state: AppState) {
    let (_fake, mut ada, ws) = client::provider_world(&mut state, Some(PUBLIC)).await;
    let p = |rest: &str| format!("/v1/workspaces/{ws}/{rest}");
    let (mut bob, bob_id) = join(&mut ada, &state, &ws, "bob@example.com", "agent").await;
    let (mut cara, cara_id) = join(&mut ada, &state, &ws, "cara@example.com", "agent").await;
    let (_vic, vic_id) = join(&mut ada, &state, &ws, "vic@example.com", "viewer").await;
    let cred = ada.post(&p("credentials"), json!({"name": "Meta", "provider": "meta", "access_token": META_TOKEN, "app_secret": META_APP_SECRET, "phone_number_id": META_PHONE_NUMBER_ID, "waba_id": "102290129340398"})).await;
    let meta = ada.post(&p("channels"), json!({"name": "Support", "credential_id": cred.data()["id"]})).await;
    let meta_path = meta.data()["webhook_path"].as_str().unwrap().to_owned();
    let mut anon = Client::new(state.clone());
    for (i, (from, text)) in [("16505550001", "Where is my refund?"), ("16505550002", "Hi there"), ("16505550003", "Order help")].into_iter().enumerate() {
        let body = meta_inbound(&format!("wamid.T{i}"), from, text);
        assert_eq!(raw(&mut anon, Method::POST, &meta_path, &[("x-hub-signature-256", &meta_signature(&body))], "application/json", &body).await, 200);
    }
    drain(&state).await;
    let convs = ada.get(&p("conversations")).await.data()["conversations"].as_array().unwrap().clone();
    assert_eq!(convs.len(), 3);
    let conv_of = |phone: &str| convs.iter().find(|c| c["contact"] == format!("+{phone}")).unwrap()["id"].as_str().unwrap().to_owned();
    let (c1, c2, c3) = (conv_of("16505550001"), conv_of("16505550002"), conv_of("16505550003"));

    // The picker lists every member with availability; assignment goes to any teammate who can reply.
    let agents = ada.get(&p("agents")).await;
    assert_eq!(agents.data().as_array().unwrap().len(), 4, "{}", agents.body);
    assert!(agents.data().as_array().unwrap().iter().all(|a| a["availability"] == "online"));
    assert_eq!(ada.post(&p(&format!("conversations/{c1}/assign")), json!({"assignee": bob_id})).await.data()["assignee"], bob_id.as_str());
    ada.post(&p(&format!("conversations/{c1}/assign")), json!({"assignee": vic_id})).await.assert_error(422, "validation_failed");
    let bobs = bob.get(&p(&format!("conversations?assignee={bob_id}"))).await;
    assert_eq!(bobs.data()["conversations"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect::<Vec<_>>(), [c1.as_str()]);

    // Teams: owners and admins manage them, members must be able to reply.
    bob.post(&p("teams"), json!({"name": "Billing", "members": [bob_id]})).await.assert_error(403, "forbidden");
    ada.post(&p("teams"), json!({"name": " ", "members": []})).await.assert_error(422, "validation_failed");
    ada.post(&p("teams"), json!({"name": "Billing", "members": [bob_id, vic_id]})).await.assert_error(422, "validation_failed");
    let team = ada.post(&p("teams"), json!({"name": "Billing", "members": [bob_id, cara_id]})).await;
    assert_eq!(team.status, 201, "{}", team.body);
    let team_id = team.data()["id"].as_str().unwrap().to_owned();
    assert_eq!(ada.get(&p("teams")).await.data()[0]["members"].as_array().unwrap().len(), 2);

    // Round-robin skips members who are away; with everyone away the conversation waits on the team.
    assert_eq!(cara.call(Method::PUT, &p("agents/me/availability"), Some(json!({"availability": "away"}))).await.data()["availability"], "away");
    for conv in [&c2, &c3] {
        let r = ada.post(&p(&format!("conversations/{conv}/assign")), json!({"team_id": team_id, "round_robin": true})).await;
        assert_eq!((r.data()["assignee"].as_str(), r.data()["team_id"].as_str()), (Some(bob_id.as_str()), Some(team_id.as_str())), "{}", r.body);
    }
    cara.call(Method::PUT, &p("agents/me/availability"), Some(json!({"availability": "online"}))).await;
    let mut picks = Vec::new();
    for _ in 0..2 {
        // The conversation's team is kept when the request names none.
        picks.push(ada.post(&p(&format!("conversations/{c3}/assign")), json!({"round_robin": true})).await.data()["assignee"].as_str().unwrap().to_owned());
    }
    picks.sort();
    let mut both = vec![bob_id.clone(), cara_id.clone()];
    both.sort();
    assert_eq!(picks, both, "two turns go to each available member once");
    for who in [&mut bob, &mut cara] {
        who.call(Method::PUT, &p("agents/me/availability"), Some(json!({"availability": "away"}))).await;
    }
    let waiting = ada.post(&p(&format!("conversations/{c2}/assign")), json!({"round_robin": true})).await;
    assert_eq!((waiting.data()["assignee"].as_str(), waiting.data()["team_id"].as_str()), (None, Some(team_id.as_str())));
    assert_eq!(ada.get(&p(&format!("conversations?team_id={team_id}"))).await.data()["conversations"].as_array().unwrap().len(), 2);
    let freed = ada.post(&p(&format!("conversations/{c2}/assign")), json!({"assignee": null, "team_id": null})).await;
    assert_eq!(freed.data()["team_id"], Value::Null);
    ada.post(&p(&format!("conversations/{c2}/assign")), json!({"team_id": "team_nope"})).await.assert_error(422, "validation_failed");

    // Canned replies: unique short codes, renamed codes free the old one.
    let refund = ada.post(&p("canned-replies"), json!({"short_code": "/Refund", "content": "Refunds take 5 working days."})).await;
    assert_eq!((refund.status, refund.data()["short_code"].as_str()), (201, Some("refund")), "{}", refund.body);
    bob.post(&p("canned-replies"), json!({"short_code": "refund", "content": "Other"})).await.assert_error(409, "conflict");
    bob.post(&p("canned-replies"), json!({"short_code": "two words", "content": "x"})).await.assert_error(422, "validation_failed");
    let refund_id = refund.data()["id"].as_str().unwrap().to_owned();
    let renamed = ada.call(Method::PUT, &p(&format!("canned-replies/{refund_id}")), Some(json!({"short_code": "refunds", "content": "Refunds take 5 working days."}))).await;
    assert_eq!(renamed.data()["short_code"], "refunds", "{}", renamed.body);
    assert_eq!(bob.post(&p("canned-replies"), json!({"short_code": "refund", "content": "Short version"})).await.status, 201);
    let codes: Vec<String> = ada.get(&p("canned-replies")).await.data().as_array().unwrap().iter().map(|c| c["short_code"].as_str().unwrap().to_owned()).collect();
    assert_eq!(codes, ["refund", "refunds"]);
    assert_eq!(ada.call(Method::DELETE, &p(&format!("canned-replies/{refund_id}")), None).await.status, 200);
    assert_eq!(ada.get(&p("canned-replies")).await.data().as_array().unwrap().len(), 1);

    // Labels added, then one removed.
    ada.call(Method::PUT, &p(&format!("conversations/{c1}/labels")), Some(json!({"labels": ["billing", "urgent"]}))).await;
    let removed = ada.call(Method::PUT, &p(&format!("conversations/{c1}/labels")), Some(json!({"labels": ["billing"]}))).await;
    assert_eq!(removed.data()["labels"], json!(["billing"]));
    assert_eq!(ada.get(&p("conversations?label=urgent")).await.data()["conversations"].as_array().unwrap().len(), 0);

    // Pending is a status of its own; the contact panel and search.
    assert_eq!(ada.post(&p(&format!("conversations/{c1}/pending")), json!({})).await.data()["status"], "pending");
    assert_eq!(ada.get(&p("conversations?status=pending")).await.data()["conversations"][0]["id"], c1.as_str());
    let panel = ada.get(&p(&format!("conversations/{c1}/contact"))).await;
    assert_eq!((panel.data()["phone"].as_str(), panel.data()["name"].as_str(), panel.data()["opted_out"].as_bool()), (Some("+16505550001"), Some("Sheena Nelson"), Some(false)), "{}", panel.body);
    let found = ada.get(&p("inbox/search?q=REFUND")).await;
    let hits = found.data()["messages"].as_array().unwrap();
    assert_eq!(hits.iter().map(|h| h["conversation_id"].as_str().unwrap()).collect::<Vec<_>>(), [c1.as_str()], "{}", found.body);
    assert_eq!(ada.get(&p("inbox/search?q=0002")).await.data()["conversations"][0]["id"], c2.as_str(), "by phone digits");
    ada.get(&p("inbox/search?q=x")).await.assert_error(422, "validation_failed");

    // Other tenants reach none of it.
    let mut eve = Client::new(state.clone());
    eve.sign_up("eve@example.com").await;
    eve.create_workspace("Eve").await;
    assert!(matches!(eve.get(&p("teams")).await.status, 403 | 404));
    assert!(matches!(eve.get(&p("canned-replies")).await.status, 403 | 404));
}

/// Reads a Server-Sent Events response body event by event: (id, JSON data).
struct SseReader {
    body: axum::body::Body,
    buf: String,
}

impl SseReader {
    /// The next event; a stream that stays silent for 30 s fails the test rather than hanging it.
    async fn next(&mut self) -> (Option<String>, Value) {
        use http_body_util::BodyExt;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let id = block.lines().find_map(|l| l.strip_prefix("id:")).map(|s| s.trim().to_owned());
                let data: String = block.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim).collect();
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                return (id, serde_json::from_str(&data).unwrap());
            }
            let frame = tokio::time::timeout(std::time::Duration::from_secs(30), self.body.frame()).await.expect("the stream stayed silent").expect("the stream ended").unwrap();
            if let Ok(bytes) = frame.into_data() {
                self.buf.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }

    /// Events until one of `kind` whose entry text is `text`; returns the ids seen on the way.
    async fn until_text(&mut self, kind: &str, text: &str) -> Vec<String> {
        let mut ids = Vec::new();
        loop {
            let (id, data) = self.next().await;
            ids.extend(id);
            if data["kind"] == kind && data["data"]["entry"]["text"] == text {
                return ids;
            }
        }
    }
}

async fn open_stream(state: &AppState, path: &str, last_event_id: Option<&str>) -> (u16, SseReader) {
    use tower::ServiceExt;
    let app = webtrigger::http::api(webtrigger::local::all_routes(), state.clone(), None);
    let mut req = axum::http::Request::builder().uri(path);
    if let Some(id) = last_event_id {
        req = req.header("last-event-id", id);
    }
    let mut request = req.body(axum::body::Body::empty()).unwrap();
    request.extensions_mut().insert(axum::extract::ConnectInfo::<std::net::SocketAddr>("198.51.100.7:4000".parse().unwrap()));
    let response = app.oneshot(request).await.unwrap();
    (response.status().as_u16(), SseReader { body: response.into_body(), buf: String::new() })
}

async fn live_stream_follows_the_inbox_and_catches_up(mut state: AppState) {
    let (_fake, mut ada, ws) = client::provider_world(&mut state, Some(PUBLIC)).await;
    let p = |rest: &str| format!("/v1/workspaces/{ws}/{rest}");
    let cred = ada.post(&p("credentials"), json!({"name": "Meta", "provider": "meta", "access_token": META_TOKEN, "app_secret": META_APP_SECRET, "phone_number_id": META_PHONE_NUMBER_ID, "waba_id": "102290129340398"})).await;
    let meta = ada.post(&p("channels"), json!({"name": "Support", "credential_id": cred.data()["id"]})).await;
    let meta_path = meta.data()["webhook_path"].as_str().unwrap().to_owned();
    let mut anon = Client::new(state.clone());
    let mut deliver = async |id: &str, text: &str| {
        let body = meta_inbound(id, "16505551234", text);
        assert_eq!(raw(&mut anon, Method::POST, &meta_path, &[("x-hub-signature-256", &meta_signature(&body))], "application/json", &body).await, 200);
        drain(&state).await;
    };

    // The stream takes a single-use ticket, never the access token.
    let ticket = |r: &client::Reply| r.data()["ticket"].as_str().unwrap().to_owned();
    assert_eq!(open_stream(&state, &p("events/stream"), None).await.0, 401);
    assert_eq!(open_stream(&state, &p("events/stream?ticket=bogus"), None).await.0, 401);
    let t = ticket(&ada.post(&p("events/ticket"), json!({})).await);
    let (status, mut live) = open_stream(&state, &p(&format!("events/stream?ticket={t}")), None).await;
    assert_eq!(status, 200);
    let (ready_id, ready) = live.next().await;
    assert_eq!(ready["kind"], "ready");
    let ready_id = ready_id.expect("ready carries a cursor");
    assert_eq!(open_stream(&state, &p(&format!("events/stream?ticket={t}")), None).await.0, 401, "a ticket opens one stream");

    // A signed webhook shows up on the open stream, with the conversation change.
    deliver("wamid.L1", "Hello live").await;
    let ids = live.until_text("message.new", "Hello live").await;
    let convs = ada.get(&p("conversations")).await.data()["conversations"].as_array().unwrap().clone();
    let conv = convs[0]["id"].as_str().unwrap().to_owned();
    ada.post(&p(&format!("conversations/{conv}/assign")), json!({"round_robin": true})).await;
    let mut last = ids.last().cloned().unwrap();
    loop {
        let (id, data) = live.next().await;
        last = id.unwrap_or(last);
        if data["kind"] == "conversation.updated" && data["data"]["conversation"]["assignee"].is_string() {
            break;
        }
    }
    drop(live);

    // Away for a while: what happened meanwhile is replayed from the cursor, then the stream goes on.
    deliver("wamid.L2", "While you were away").await;
    let t = ticket(&ada.post(&p("events/ticket"), json!({})).await);
    let (_, mut again) = open_stream(&state, &p(&format!("events/stream?ticket={t}")), Some(&last)).await;
    let first = again.next().await.1;
    assert_eq!((first["kind"].as_str(), first["data"]["entry"]["text"].as_str()), (Some("message.new"), Some("While you were away")), "{first}");
    deliver("wamid.L3", "And now live again").await;
    again.until_text("message.new", "And now live again").await;

    // An unreadable or too-old cursor asks the client to reload.
    let t = ticket(&ada.post(&p("events/ticket"), json!({})).await);
    let (_, mut stale) = open_stream(&state, &p(&format!("events/stream?ticket={t}")), Some("01ARZ3NDEKTSV4RRFFQ69G5FAV")).await;
    assert_eq!(stale.next().await.1["kind"], "reset");
    let caught = ada.get(&p(&format!("events?after={ready_id}"))).await;
    let texts: Vec<&str> = caught.data()["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "message.new").filter_map(|e| e["data"]["entry"]["text"].as_str()).collect();
    assert_eq!(texts, ["Hello live", "While you were away", "And now live again"]);

    // Tickets are per workspace and per member.
    let mut eve = Client::new(state.clone());
    eve.sign_up("eve@example.com").await;
    let eve_ws = eve.create_workspace("Eve").await;
    eve.post(&p("events/ticket"), json!({})).await.assert_error(404, "not_found");
    let eve_ticket = ticket(&eve.post(&format!("/v1/workspaces/{eve_ws}/events/ticket"), json!({})).await);
    assert_eq!(open_stream(&state, &p(&format!("events/stream?ticket={eve_ticket}")), None).await.0, 401, "another workspace's ticket");
}

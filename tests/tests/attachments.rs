//! Inbox attachments end to end: uploaded in parts, checked by magic bytes, and sent through each
//! provider's way of taking files, against the provider fakes, on both backends (the parts live in
//! the Table port: SQLite, and DynamoDB on moto). Meta gets a multipart media upload then the media id;
//! Twilio an unguessable, expiring `MediaUrl` it fetches from `/hooks/media/…`; Whapi a base64 data URL.
//! Provider refusals fail the message with the provider's code; bad uploads are 422s; another
//! workspace's attachment does not exist for it.

#[path = "api/client.rs"]
mod client;

use std::sync::Arc;

use aws_lc_rs::hmac;
use axum::http::Method;
use base64::Engine;
use client::Client;
use serde_json::{json, Value};
use webtrigger::AppState;
use webtrigger_tests::provider_fakes::{Failure, ProviderFake, META_PHONE_NUMBER_ID, META_TOKEN, TWILIO_SID, TWILIO_TOKEN, WHAPI_TOKEN};

const APP_SECRET: &str = "0123456789abcdef0123456789abcdef";
const PUBLIC: &str = "https://hooks.example.com";

/// A PNG header followed by deterministic filler: `len` bytes, several upload parts when large.
fn png(len: usize) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut x: u32 = 2_463_534_242;
    while b.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b.push(x as u8);
    }
    b
}

fn pdf() -> Vec<u8> {
    b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}

fn meta_signature(body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, APP_SECRET.as_bytes());
    format!("sha256={}", hmac::sign(&key, body.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn twilio_signature(url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let message: String = std::iter::once(url.to_owned()).chain(sorted.iter().map(|(k, v)| format!("{k}{v}"))).collect();
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, TWILIO_TOKEN.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hmac::sign(&key, message.as_bytes()).as_ref())
}

async fn raw(c: &Client, method: Method, path: &str, headers: &[(&str, &str)], content_type: &str, body: Vec<u8>) -> client::Reply {
    let mut c = c.clone();
    c.extra_headers = headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).chain([("content-type".to_owned(), content_type.to_owned())]).collect();
    c.call_raw(method, path, body).await
}

/// Uploads `bytes` as `filename` part by part and completes it; answers the attachment id.
async fn upload(c: &mut Client, ws: &str, filename: &str, bytes: &[u8]) -> String {
    let started = c.post(&format!("/v1/workspaces/{ws}/attachments"), json!({"filename": filename, "size": bytes.len()})).await;
    assert_eq!(started.status, 201, "{}", started.body);
    let (id, part_bytes) = (started.data()["id"].as_str().unwrap().to_owned(), started.data()["part_bytes"].as_u64().unwrap() as usize);
    for (n, chunk) in bytes.chunks(part_bytes).enumerate() {
        let r = raw(c, Method::PUT, &format!("/v1/workspaces/{ws}/attachments/{id}/parts/{n}"), &[], "application/octet-stream", chunk.to_vec()).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let done = c.post(&format!("/v1/workspaces/{ws}/attachments/{id}/complete"), json!({})).await;
    assert_eq!(done.data()["status"], "ready");
    id
}

/// The reply's message record once the send worker ran.
async fn sent_message(c: &mut Client, state: &AppState, ws: &str, entry: &Value) -> Value {
    webtrigger_tests::drain_inbound(state).await;
    c.get(&format!("/v1/workspaces/{ws}/messages/{}", entry["message_id"].as_str().unwrap())).await.data().clone()
}

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(#[tokio::test]
            async fn $case() {
                let (state, _dir) = webtrigger_tests::embedded_state().await;
                super::$case(state).await
            })*
        }
        mod aws {
            $(#[tokio::test]
            async fn $case() {
                super::$case(webtrigger_tests::aws_state_with_clock(std::sync::Arc::new(webtrigger::ports::SystemClock)).await).await
            })*
        }
    };
}

on_both_backends!(attachments_go_out_through_each_provider);

async fn attachments_go_out_through_each_provider(mut state: AppState) {
    let fake = ProviderFake::start().await;
    state.whatsapp = Arc::new(webtrigger::whatsapp::WhatsAppRuntime::new(fake.urls()).with_public_url(Some(PUBLIC.into())));
    let mut ada = Client::new(state.clone());
    ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Support").await;
    let p = |rest: &str| format!("/v1/workspaces/{ws}/{rest}");
    let anon = Client::new(state.clone());

    // Meta: a conversation from a signed inbound message.
    let cred = ada.post(&p("credentials"), json!({"name": "Meta", "provider": "meta", "access_token": META_TOKEN, "app_secret": APP_SECRET, "phone_number_id": META_PHONE_NUMBER_ID, "waba_id": "102290129340398"})).await;
    let meta = ada.post(&p("channels"), json!({"name": "Support", "credential_id": cred.data()["id"]})).await;
    let now = chrono::Utc::now().timestamp().to_string();
    let inbound = json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"value": {"messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": META_PHONE_NUMBER_ID}, "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
        "messages": [{"from": "16505551234", "id": "wamid.ATT1", "timestamp": now, "type": "text", "text": {"body": "Can I see it?"}}]}, "field": "messages"}]}]}).to_string();
    let hook = raw(&anon, Method::POST, meta.data()["webhook_path"].as_str().unwrap(), &[("x-hub-signature-256", &meta_signature(&inbound))], "application/json", inbound.into_bytes()).await;
    assert_eq!(hook.status, 200);
    webtrigger_tests::drain_inbound(&state).await;
    let conv = ada.get(&p("conversations")).await.data()["conversations"][0]["id"].as_str().unwrap().to_owned();
    let image = png(700_000);
    let photo = upload(&mut ada, &ws, "blue-jacket.png", &image).await;
    let shown = ada.get(&p(&format!("attachments/{photo}"))).await;
    assert_eq!((shown.data()["mime"].as_str(), shown.data()["kind"].as_str(), shown.data()["parts"].as_u64()), (Some("image/png"), Some("image"), Some(3)), "three parts of 256 KiB");
    let content = ada.get(&p(&format!("attachments/{photo}/content"))).await;
    assert_eq!((content.status, content.headers["content-type"].to_str().unwrap(), content.headers["x-content-type-options"].to_str().unwrap()), (200, "image/png", "nosniff"));
    assert_eq!(content.body, Value::String(String::from_utf8_lossy(&image).into_owned()), "the stored bytes come back whole");

    let entry = ada.post(&p(&format!("conversations/{conv}/messages")), json!({"text": "Here it is in blue", "attachment_id": photo})).await;
    assert_eq!(entry.status, 201, "{}", entry.body);
    assert_eq!((entry.data()["kind"].as_str(), entry.data()["media"].as_str(), entry.data()["text"].as_str()), (Some("image"), Some(photo.as_str()), Some("Here it is in blue")));
    assert_eq!(sent_message(&mut ada, &state, &ws, entry.data()).await["status"], "sent");
    let up = fake.uploads();
    assert_eq!(up.len(), 1);
    assert_eq!((up[0].messaging_product.as_str(), up[0].mime.as_str(), up[0].filename.as_str(), up[0].file_type.as_str()), ("whatsapp", "image/png", "blue-jacket.png", "image/png"));
    assert!(up[0].bytes == image, "Meta received the file byte for byte");
    let sent = fake.received().into_iter().rfind(|r| r.provider == "meta").unwrap();
    assert_eq!(sent.path, format!("/v23.0/{META_PHONE_NUMBER_ID}/messages"));
    assert_eq!(sent.body, json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234", "type": "image", "image": {"id": up[0].id, "caption": "Here it is in blue"}}));
    let preview = ada.get(&p(&format!("conversations/{conv}"))).await.data()["last_message"]["preview"].clone();
    assert_eq!(preview, "Photo: Here it is in blue");

    // A document carries its file name; Meta's upload refusal fails the message with Meta's code.
    let invoice = upload(&mut ada, &ws, "invoice 42.pdf", &pdf()).await;
    let entry = ada.post(&p(&format!("conversations/{conv}/messages")), json!({"attachment_id": invoice})).await;
    sent_message(&mut ada, &state, &ws, entry.data()).await;
    let sent = fake.received().into_iter().rfind(|r| r.provider == "meta").unwrap();
    assert_eq!((sent.body["type"].as_str(), sent.body["document"]["filename"].as_str(), sent.body["document"].get("caption")), (Some("document"), Some("invoice 42.pdf"), None));
    assert_eq!(fake.uploads().last().unwrap().mime, "application/pdf");
    fake.script_uploads(vec![Failure::new(400, Some(131053), "Media upload error: unsupported file")]);
    let entry = ada.post(&p(&format!("conversations/{conv}/messages")), json!({"text": "again", "attachment_id": invoice})).await;
    let failed = sent_message(&mut ada, &state, &ws, entry.data()).await;
    assert_eq!((failed["status"].as_str(), failed["error"]["code"].as_str(), failed["error"]["class"].as_str()), (Some("failed"), Some("131053"), Some("permanent")), "{failed}");
    assert!(failed["error"]["message"].as_str().unwrap().contains("Media upload error"), "{failed}");

    // Twilio: a signed MediaUrl on the public address, fetched without any other credential.
    let tcred = ada.post(&p("credentials"), json!({"name": "Twilio", "provider": "twilio", "account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN})).await;
    let twilio = ada.post(&p("channels"), json!({"name": "Sales", "credential_id": tcred.data()["id"], "number": "+14155238886"})).await;
    let (twilio_id, twilio_path) = (twilio.data()["id"].as_str().unwrap().to_owned(), twilio.data()["webhook_path"].as_str().unwrap().to_owned());
    let params = [("SmsMessageSid", "SMatt1"), ("NumMedia", "0"), ("ProfileName", "Ranjit"), ("WaId", "919900000000"), ("SmsStatus", "received"), ("Body", "photo?"), ("To", "whatsapp:+14155238886"), ("MessageSid", "SMatt1"), ("AccountSid", TWILIO_SID), ("From", "whatsapp:+919900000000"), ("ApiVersion", "2010-04-01")];
    let form = form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    let sig = twilio_signature(&format!("{PUBLIC}{twilio_path}"), &params);
    assert_eq!(raw(&anon, Method::POST, &twilio_path, &[("x-twilio-signature", &sig)], "application/x-www-form-urlencoded", form.into_bytes()).await.status, 200);
    webtrigger_tests::drain_inbound(&state).await;
    let tconv = ada.get(&p(&format!("conversations?channel_id={twilio_id}"))).await.data()["conversations"][0]["id"].as_str().unwrap().to_owned();
    let entry = ada.post(&p(&format!("conversations/{tconv}/messages")), json!({"text": "Our catalogue", "attachment_id": photo})).await;
    let message = sent_message(&mut ada, &state, &ws, entry.data()).await;
    assert_eq!(message["status"], "sent", "{message}");
    let sent = fake.received().into_iter().rfind(|r| r.provider == "twilio").unwrap();
    assert_eq!((sent.body["Body"].as_str(), sent.body["To"].as_str()), (Some("Our catalogue"), Some("whatsapp:+919900000000")));
    let media_url = sent.body["MediaUrl"].as_str().unwrap().to_owned();
    let link = media_url.strip_prefix(PUBLIC).unwrap_or_else(|| panic!("{media_url} is on the public URL"));
    assert!(link.starts_with("/hooks/media/") && link.len() == "/hooks/media/".len() + 43, "an unguessable 256-bit token: {link}");
    let fetched = raw(&anon, Method::GET, link, &[], "text/plain", vec![]).await;
    assert_eq!((fetched.status, fetched.headers["content-type"].to_str().unwrap()), (200, "image/png"));
    assert_eq!(fetched.body, Value::String(String::from_utf8_lossy(&image).into_owned()));
    let tampered = format!("{}{}", &link[..link.len() - 1], if link.ends_with('A') { 'B' } else { 'A' });
    for bad in [tampered.as_str(), "/hooks/media/guess", &format!("{link}x")] {
        raw(&anon, Method::GET, bad, &[], "text/plain", vec![]).await.assert_error(404, "not_found");
    }
    // Twilio refusing the media fails the message with Twilio's code.
    fake.script("+919900000000", vec![Failure::new(400, Some(21620), "Invalid media URL(s)")]);
    let entry = ada.post(&p(&format!("conversations/{tconv}/messages")), json!({"attachment_id": invoice})).await;
    let failed = sent_message(&mut ada, &state, &ws, entry.data()).await;
    assert_eq!((failed["status"].as_str(), failed["error"]["code"].as_str()), (Some("failed"), Some("21620")), "{failed}");

    // Whapi: the file inline as a data URL (WebP is fine on a linked phone).
    let wcred = ada.post(&p("credentials"), json!({"name": "Whapi", "provider": "whapi", "token": WHAPI_TOKEN})).await;
    let whapi = ada.post(&p("channels"), json!({"name": "Phone", "credential_id": wcred.data()["id"]})).await;
    let (whapi_id, whapi_path, whapi_secret) = (whapi.data()["id"].as_str().unwrap().to_owned(), whapi.data()["webhook_path"].as_str().unwrap().to_owned(), whapi.data()["webhook_secret"].as_str().unwrap().to_owned());
    let inbound = json!({"messages": [{"id": "wh.att.1", "from_me": false, "type": "text", "chat_id": "14155552671@s.whatsapp.net", "timestamp": chrono::Utc::now().timestamp(), "source": "mobile", "text": {"body": "menu pls"}, "from": "14155552671", "from_name": "John"}], "event": {"type": "messages", "event": "post"}, "channel_id": "MANTIS-M72HC"}).to_string();
    assert_eq!(raw(&anon, Method::POST, &whapi_path, &[("x-webhook-secret", &whapi_secret)], "application/json", inbound.into_bytes()).await.status, 200);
    webtrigger_tests::drain_inbound(&state).await;
    let wconv = ada.get(&p(&format!("conversations?channel_id={whapi_id}"))).await.data()["conversations"][0]["id"].as_str().unwrap().to_owned();
    let webp = [&b"RIFF\x24\0\0\0WEBPVP8 "[..], &[7u8; 64]].concat();
    let menu = upload(&mut ada, &ws, "menu.webp", &webp).await;
    let entry = ada.post(&p(&format!("conversations/{wconv}/messages")), json!({"text": "Today's menu", "attachment_id": menu})).await;
    assert_eq!(sent_message(&mut ada, &state, &ws, entry.data()).await["status"], "sent");
    let sent = fake.received().into_iter().rfind(|r| r.provider == "whapi").unwrap();
    assert_eq!((sent.path.as_str(), sent.body["to"].as_str(), sent.body["caption"].as_str()), ("/messages/image", Some("14155552671"), Some("Today's menu")));
    let data = sent.body["media"].as_str().unwrap().strip_prefix("data:image/webp;name=menu.webp;base64,").expect("a data URL");
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(data).unwrap(), webp);
    let entry = ada.post(&p(&format!("conversations/{wconv}/messages")), json!({"attachment_id": invoice})).await;
    sent_message(&mut ada, &state, &ws, entry.data()).await;
    let sent = fake.received().into_iter().rfind(|r| r.provider == "whapi").unwrap();
    assert_eq!((sent.path.as_str(), sent.body["filename"].as_str()), ("/messages/document", Some("invoice 42.pdf")));
    fake.script("14155552671", vec![Failure::new(400, None, "media: file is corrupted")]);
    let entry = ada.post(&p(&format!("conversations/{wconv}/messages")), json!({"attachment_id": menu})).await;
    let failed = sent_message(&mut ada, &state, &ws, entry.data()).await;
    assert_eq!((failed["status"].as_str(), failed["error"]["code"].as_str(), failed["error"]["message"].as_str()), (Some("failed"), Some("http_400"), Some("media: file is corrupted")));

    // WebP goes only to Whapi: Meta and Twilio would need a sticker.
    let refused = ada.post(&p(&format!("conversations/{conv}/messages")), json!({"attachment_id": menu})).await;
    refused.assert_error(422, "validation_failed");
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("JPEG or PNG"), "{}", refused.body);
}

#[tokio::test]
async fn bad_uploads_are_422s_and_attachments_stay_in_their_workspace() {
    let (mut state, _dir) = webtrigger_tests::embedded_state().await;
    let fake = ProviderFake::start().await;
    // No public URL: Twilio could not fetch an attachment, so such a send is refused up front.
    state.whatsapp = Arc::new(webtrigger::whatsapp::WhatsAppRuntime::new(fake.urls()));
    let mut ada = Client::new(state.clone());
    ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Support").await;
    let p = |rest: &str| format!("/v1/workspaces/{ws}/{rest}");

    ada.post(&p("attachments"), json!({"filename": "big.pdf", "size": 4 * 1024 * 1024 + 1})).await.assert_error(422, "validation_failed");
    ada.post(&p("attachments"), json!({"filename": "empty.pdf", "size": 0})).await.assert_error(422, "validation_failed");
    ada.post(&p("attachments"), json!({"filename": "  ", "size": 10})).await.assert_error(422, "validation_failed");
    let too_big = ada.post(&p("attachments"), json!({"filename": "big.pdf", "size": 5 * 1024 * 1024})).await;
    assert!(too_big.body["error"]["message"].as_str().unwrap().contains("up to 4 MB"), "{}", too_big.body);

    // A page posing as a picture is refused by its bytes; lengths must match the plan.
    let page = b"<html><script>alert(1)</script></html>".to_vec();
    let started = ada.post(&p("attachments"), json!({"filename": "cat.png", "size": page.len()})).await;
    let id = started.data()["id"].as_str().unwrap().to_owned();
    let part = |n: u32| p(&format!("attachments/{id}/parts/{n}"));
    let r = raw(&ada, Method::PUT, &part(0), &[], "application/octet-stream", page.clone()).await;
    r.assert_error(422, "validation_failed");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("JPEG, PNG or WebP"), "{}", r.body);
    raw(&ada, Method::PUT, &part(0), &[], "application/octet-stream", page[..10].to_vec()).await.assert_error(422, "validation_failed");
    raw(&ada, Method::PUT, &part(1), &[], "application/octet-stream", page.clone()).await.assert_error(422, "validation_failed");
    ada.post(&p(&format!("attachments/{id}/complete")), json!({})).await.assert_error(422, "validation_failed");
    // Unfinished uploads cannot be sent or read.
    let cred = ada.post(&p("credentials"), json!({"name": "Twilio", "provider": "twilio", "account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN})).await;
    let chan = ada.post(&p("channels"), json!({"name": "Sales", "credential_id": cred.data()["id"], "number": "+14155238886"})).await;
    let chan = chan.data()["id"].as_str().unwrap().to_owned();
    let send = |att: &str| json!({"channel_id": chan, "to": "+919900000000", "type": "attachment", "attachment_id": att});
    ada.post(&p("messages"), send(&id)).await.assert_error(422, "validation_failed");
    ada.get(&p(&format!("attachments/{id}/content"))).await.assert_error(404, "not_found");
    let photo = upload(&mut ada, &ws, "photo.png", &png(1000)).await;
    let r = ada.post(&p("messages"), send(&photo)).await;
    r.assert_error(422, "public_url_missing");
    let done = raw(&ada, Method::PUT, &p(&format!("attachments/{photo}/parts/0")), &[], "application/octet-stream", png(1000)).await;
    done.assert_error(409, "conflict");

    // Another workspace cannot see, read or send it, even with its id.
    let mut bob = Client::new(state.clone());
    bob.sign_up("bob@example.com").await;
    let bws = bob.create_workspace("Other").await;
    bob.get(&format!("/v1/workspaces/{bws}/attachments/{photo}")).await.assert_error(404, "not_found");
    bob.get(&format!("/v1/workspaces/{bws}/attachments/{photo}/content")).await.assert_error(404, "not_found");
    bob.get(&p(&format!("attachments/{photo}/content"))).await.assert_error(404, "not_found");
    let bcred = bob.post(&format!("/v1/workspaces/{bws}/credentials"), json!({"name": "Twilio", "provider": "twilio", "account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN})).await;
    let bchan = bob.post(&format!("/v1/workspaces/{bws}/channels"), json!({"name": "B", "credential_id": bcred.data()["id"], "number": "+14155238887"})).await;
    let r = bob.post(&format!("/v1/workspaces/{bws}/messages"), json!({"channel_id": bchan.data()["id"], "to": "+919900000000", "type": "attachment", "attachment_id": photo})).await;
    r.assert_error(422, "validation_failed");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("no attachment"), "{}", r.body);
}

#[tokio::test]
async fn media_links_expire_after_a_day_and_open_only_their_message() {
    let clock = Arc::new(webtrigger::ports::FixedClock::new(chrono::Utc::now()));
    let (mut state, _dir) = webtrigger_tests::embedded_state_with_clock(clock.clone()).await;
    let fake = ProviderFake::start().await;
    state.whatsapp = Arc::new(webtrigger::whatsapp::WhatsAppRuntime::new(fake.urls()).with_public_url(Some(PUBLIC.into())));
    let mut ada = Client::new(state.clone());
    ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Support").await;
    let p = |rest: &str| format!("/v1/workspaces/{ws}/{rest}");
    let cred = ada.post(&p("credentials"), json!({"name": "Whapi", "provider": "whapi", "token": WHAPI_TOKEN})).await;
    let chan = ada.post(&p("channels"), json!({"name": "Phone", "credential_id": cred.data()["id"]})).await;
    let photo = upload(&mut ada, &ws, "photo.png", &png(2000)).await;
    let other = upload(&mut ada, &ws, "other.png", &png(3000)).await;
    let sent = ada.post(&p("messages"), json!({"channel_id": chan.data()["id"], "to": "+14155552671", "type": "attachment", "attachment_id": photo, "caption": "hi"})).await;
    assert_eq!(sent.status, 202, "queued: {}", sent.body);
    assert_eq!((sent.data()["content"]["kind"].as_str(), sent.data()["content"]["mime"].as_str(), sent.data()["content"]["filename"].as_str()), (Some("image"), Some("image/png"), Some("photo.png")), "filled from the upload");
    let ws_id = webtrigger::auth::WorkspaceId::parse(&ws).unwrap();
    let msg = webtrigger::whatsapp::types::MessageId::parse(sent.data()["id"].as_str().unwrap()).unwrap();
    let link = |att: &str| {
        let (state, ws_id, msg) = (state.clone(), ws_id.clone(), msg.clone());
        let att = webtrigger::inbox::attachments::AttachmentId::parse(att).unwrap();
        async move { webtrigger::inbox::media_link::link(&state, PUBLIC, &ws_id, &msg, &att).await.unwrap().strip_prefix(PUBLIC).unwrap().to_owned() }
    };
    let anon = Client::new(state.clone());
    let good = link(&photo).await;
    assert_eq!(raw(&anon, Method::GET, &good, &[], "text/plain", vec![]).await.status, 200);
    // A link naming an attachment its message does not send opens nothing.
    raw(&anon, Method::GET, &link(&other).await, &[], "text/plain", vec![]).await.assert_error(404, "not_found");
    clock.advance(chrono::Duration::seconds(webtrigger::inbox::media_link::LINK_SECONDS + 1));
    raw(&anon, Method::GET, &good, &[], "text/plain", vec![]).await.assert_error(404, "not_found");
}

//! WhatsApp template library end to end against the provider fakes: Meta and Twilio sync across
//! pages (removed ones marked), creation with Meta's refusals as 422s, variable validation naming the
//! missing slot, and the exact request each provider receives for a template send.

#[path = "api/client.rs"]
mod client;

use std::sync::Arc;
use std::time::Duration;

use client::Client;
use serde_json::{json, Value};
use webtrigger::ports::FixedClock;
use webtrigger::AppState;
use webtrigger_tests::provider_fakes::{ProviderFake, META_PHONE_NUMBER_ID, META_TOKEN, TWILIO_SID, TWILIO_TOKEN, WHAPI_TOKEN};
use webtrigger_tests::template_fakes::{META_APP_ID, META_WABA_ID};

struct World {
    state: AppState,
    fake: ProviderFake,
    ada: Client,
    ws: String,
    _dir: Option<tempfile::TempDir>,
}

async fn world() -> World {
    world_on(false).await
}

/// The embedded backend, or (`aws`) the AWS adapters on moto.
async fn world_on(aws: bool) -> World {
    let clock = Arc::new(FixedClock::new(chrono::Utc::now()));
    let (mut state, dir) = if aws {
        (webtrigger_tests::aws_state_with_clock(clock).await, None)
    } else {
        let (state, dir) = webtrigger_tests::embedded_state_with_clock(clock).await;
        (state, Some(dir))
    };
    let fake = ProviderFake::start().await;
    state.whatsapp = Arc::new(webtrigger::whatsapp::WhatsAppRuntime::new(fake.urls()));
    let mut ada = Client::new(state.clone());
    ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Shop").await;
    World { state, fake, ada, ws, _dir: dir }
}

impl World {
    fn path(&self, rest: &str) -> String {
        format!("/v1/workspaces/{}/{rest}", self.ws)
    }

    async fn channel(&mut self, credential: Value, number: Option<&str>) -> String {
        let r = self.ada.post(&self.path("credentials"), credential).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let cred = r.data()["id"].as_str().unwrap().to_owned();
        let r = self.ada.post(&self.path("channels"), json!({"name": "Main", "credential_id": cred, "number": number})).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.data()["id"].as_str().unwrap().to_owned()
    }

    async fn meta_channel(&mut self) -> String {
        self.channel(json!({"name": "Meta", "provider": "meta", "access_token": META_TOKEN, "app_secret": "0123456789abcdef0123456789abcdef", "phone_number_id": META_PHONE_NUMBER_ID, "waba_id": META_WABA_ID}), None).await
    }

    async fn sync(&mut self, chan: &str) -> Value {
        let r = self.ada.post(&self.path(&format!("channels/{chan}/templates/sync")), json!({})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.data().clone()
    }

    async fn templates(&mut self, chan: &str, query: &str) -> Vec<Value> {
        let r = self.ada.get(&self.path(&format!("channels/{chan}/templates{query}"))).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.data()["templates"].as_array().unwrap().clone()
    }

    async fn drain(&self) {
        let spec = webtrigger::queues::whatsapp_send();
        while webtrigger::local::poll_once(&self.state, &spec, &webtrigger::whatsapp::worker::WhatsAppWorker, Duration::ZERO).await.unwrap() > 0 {}
    }

    /// The bodies of the requests the fake received on paths ending with `suffix`.
    fn received(&self, suffix: &str) -> Vec<Value> {
        self.fake.received().into_iter().filter(|r| r.path.ends_with(suffix)).map(|r| r.body).collect()
    }
}

fn meta_template(id: &str, name: &str, status: &str, components: Value) -> Value {
    json!({"name": name, "parameter_format": "POSITIONAL", "components": components, "language": "en_US", "status": status, "category": "UTILITY", "id": id})
}

fn order_ready() -> Value {
    meta_template("594425479261001", "order_ready", "APPROVED", json!([
        {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["https://scontent.whatsapp.net/v/example.jpg"]}},
        {"type": "BODY", "text": "Hi {{1}}, order {{2}} is ready for pickup.", "example": {"body_text": [["Ada", "A-42"]]}},
        {"type": "FOOTER", "text": "Corner Shop"},
        {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track", "url": "https://shop.example/t/{{1}}", "example": ["https://shop.example/t/A-42"]}, {"type": "COPY_CODE", "example": "SAVE10"}, {"type": "QUICK_REPLY", "text": "Thanks"}]}
    ]))
}

#[tokio::test]
async fn meta_sync_validate_and_send_embedded() {
    meta_sync_validate_and_send(world().await).await;
}

#[tokio::test]
async fn meta_sync_validate_and_send_aws() {
    meta_sync_validate_and_send(world_on(true).await).await;
}

async fn meta_sync_validate_and_send(mut w: World) {
    let chan = w.meta_channel().await;
    let welcome = json!({"name": "welcome", "parameter_format": "NAMED", "language": "en_US", "status": "APPROVED", "category": "MARKETING", "id": "594425479261002",
        "components": [{"type": "BODY", "text": "Welcome {{first_name}}!", "example": {"body_text_named_params": [{"param_name": "first_name", "example": "Ada"}]}}]});
    let pending = meta_template("594425479261003", "spring_sale", "PENDING", json!([{"type": "BODY", "text": "Sale!"}]));
    let location = meta_template("594425479261004", "store_map", "APPROVED", json!([{"type": "HEADER", "format": "LOCATION"}, {"type": "BODY", "text": "Find us"}]));
    w.fake.templates.set_meta(vec![order_ready(), welcome, pending, location]);

    let report = w.sync(&chan).await;
    assert_eq!(report, json!({"added": 3, "updated": 0, "removed": 0, "skipped": 1, "total": 3}));
    let listings = w.received("/message_templates");
    assert_eq!(listings.len(), 2, "four templates, two per page: {listings:?}");
    assert!(listings[0].get("after").is_none() && listings[1]["after"].is_string(), "the second page follows paging.cursors.after");

    let all = w.templates(&chan, "").await;
    assert_eq!(all.len(), 3);
    let approved = w.templates(&chan, "?status=APPROVED").await;
    assert_eq!(approved.iter().map(|t| t["name"].as_str().unwrap()).collect::<Vec<_>>(), ["order_ready", "welcome"]);
    let order = approved.iter().find(|t| t["name"] == "order_ready").unwrap().clone();
    let id = order["id"].as_str().unwrap();
    assert_eq!(order["components"]["buttons"][1], json!({"type": "copy_code", "example": "SAVE10"}));
    let one = w.ada.get(&w.path(&format!("channels/{chan}/templates/{id}"))).await;
    assert_eq!(one.data()["components"]["header"]["format"], "image");

    // Validation names the missing or extra variable; non-approved templates are refused.
    let msgs = w.path("messages");
    let mut vars = json!({"header_media": "https://cdn.example/pickup.jpg", "body": {"1": "Ada"}, "buttons": {"0": "A-42", "1": "SAVE10"}});
    let r = w.ada.post(&msgs, json!({"channel_id": chan, "to": "+16505551234", "type": "template", "template_id": id, "template_variables": vars})).await;
    r.assert_error(422, "template_variable_missing");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("body.{{2}}"), "{}", r.body);
    vars["body"]["2"] = "A-42".into();
    vars["buttons"]["2"] = "x".into();
    let r = w.ada.post(&msgs, json!({"channel_id": chan, "to": "+16505551234", "type": "template", "template_id": id, "template_variables": vars})).await;
    r.assert_error(422, "template_variable_unknown");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("buttons[2]"), "{}", r.body);
    vars["buttons"].as_object_mut().unwrap().remove("2");
    vars["buttons"].as_object_mut().unwrap().remove("0");
    let r = w.ada.post(&msgs, json!({"channel_id": chan, "to": "+16505551234", "type": "template", "template_id": id, "template_variables": vars})).await;
    assert!(r.body["error"]["message"].as_str().unwrap().contains("buttons[0].url"), "{}", r.body);
    vars["buttons"]["0"] = "A-42".into();
    w.ada.post(&msgs, json!({"channel_id": chan, "to": "+16505551234", "type": "template", "name": "spring_sale", "language": "en_US", "template_variables": {}})).await.assert_error(422, "template_not_approved");

    let r = w.ada.post(&msgs, json!({"channel_id": chan, "to": "+16505551234", "type": "template", "template_id": id, "template_variables": vars})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    // Named variables by name+language.
    let r = w.ada.post(&msgs, json!({"channel_id": chan, "to": "+16505551234", "type": "template", "name": "welcome", "language": "en_US", "template_variables": {"body": {"first_name": "Ada"}}})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    w.drain().await;
    let sent = w.received("/messages");
    assert_eq!(sent.len(), 2);
    let order_sent = sent.iter().find(|b| b["template"]["name"] == "order_ready").unwrap();
    assert_eq!(order_sent["template"], json!({"name": "order_ready", "language": {"code": "en_US"}, "components": [
        {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://cdn.example/pickup.jpg"}}]},
        {"type": "body", "parameters": [{"type": "text", "text": "Ada"}, {"type": "text", "text": "A-42"}]},
        {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "A-42"}]},
        {"type": "button", "sub_type": "copy_code", "index": "1", "parameters": [{"type": "coupon_code", "coupon_code": "SAVE10"}]}
    ]}));
    let welcome_sent = sent.iter().find(|b| b["template"]["name"] == "welcome").unwrap();
    assert_eq!(welcome_sent["template"]["components"], json!([{"type": "body", "parameters": [{"type": "text", "parameter_name": "first_name", "text": "Ada"}]}]));

    // A template deleted on Meta is marked removed and can no longer be sent.
    w.fake.templates.set_meta(vec![order_ready()]);
    assert_eq!(w.sync(&chan).await, json!({"added": 0, "updated": 0, "removed": 2, "skipped": 0, "total": 1}));
    assert_eq!(w.templates(&chan, "").await.len(), 1);
    assert_eq!(w.templates(&chan, "?include_removed=true").await.len(), 3);
    w.ada.post(&msgs, json!({"channel_id": chan, "to": "+16505551234", "type": "template", "name": "welcome", "language": "en_US", "template_variables": {"body": {"first_name": "Ada"}}})).await.assert_error(422, "template_not_approved");
}

#[tokio::test]
async fn meta_create_maps_refusals() {
    let mut w = world().await;
    let chan = w.meta_channel().await;
    w.fake.templates.set_meta(vec![order_ready()]);
    let path = w.path(&format!("channels/{chan}/templates"));
    let draft = json!({"name": "shipping_update", "language": "en_US", "category": "UTILITY",
        "components": {"header": {"format": "text", "text": "Order {{1}}", "media_url": null, "example": null}, "body": "Hi {{1}}, it ships {{2}}.", "footer": "Corner Shop",
            "buttons": [{"type": "url", "text": "Track", "url": "https://shop.example/t/{{1}}"}, {"type": "phone_number", "text": "Call", "phone_number": "+15550783881"}]}});
    let r = w.ada.post(&path, draft.clone()).await;
    r.assert_error(422, "template_example_missing");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("header.{{1}}"), "{}", r.body);
    assert!(w.received("/message_templates").is_empty(), "nothing reaches Meta without examples");

    let mut with_examples = draft.clone();
    with_examples["examples"] = json!({"header": {"1": "A-42"}, "body": {"1": "Ada", "2": "today"}, "buttons": {"0": "A-42"}});
    let r = w.ada.post(&path, with_examples.clone()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!((r.data()["status"].as_str(), r.data()["provider_template_id"].as_str()), (Some("PENDING"), Some("594425479260001")));
    let submitted = w.received("/message_templates").pop().unwrap();
    assert_eq!(submitted, json!({"name": "shipping_update", "language": "en_US", "category": "UTILITY", "parameter_format": "positional", "components": [
        {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}", "example": {"header_text": ["A-42"]}},
        {"type": "BODY", "text": "Hi {{1}}, it ships {{2}}.", "example": {"body_text": [["Ada", "today"]]}},
        {"type": "FOOTER", "text": "Corner Shop"},
        {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track", "url": "https://shop.example/t/{{1}}", "example": ["https://shop.example/t/A-42"]}, {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+15550783881"}]}
    ]}));
    w.ada.post(&path, with_examples).await.assert_error(422, "template_exists");

    // Meta's own duplicate refusal (a template the library has not synced yet): code 100, subcode 2388024.
    let r = w.ada.post(&path, json!({"name": "order_ready", "language": "en_US", "category": "UTILITY", "components": {"header": null, "body": "Ready", "footer": null, "buttons": []}})).await;
    r.assert_error(422, "template_exists");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("100/2388024"), "{}", r.body);
    w.ada.post(&path, json!({"name": "Bad Name", "language": "en_US", "components": {"header": null, "body": "x", "footer": null, "buttons": []}})).await.assert_error(422, "validation_failed");
}

fn twilio_content(n: u32, name: &str, types: Value) -> (Value, Value) {
    let sid = format!("HX{n:032x}");
    let item = json!({"sid": sid, "account_sid": TWILIO_SID, "friendly_name": name, "language": "en", "variables": {}, "types": types, "url": format!("https://content.twilio.com/v1/Content/{sid}")});
    (item, json!({"type": "whatsapp", "name": name, "category": "UTILITY", "content_type": "twilio/text", "status": "approved", "rejection_reason": "", "allow_category_change": true}))
}

#[tokio::test]
async fn twilio_content_sync_create_and_send() {
    let mut w = world().await;
    let chan = w.channel(json!({"name": "Twilio", "provider": "twilio", "account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN}), Some("+15005550006")).await;
    let (draft_item, _) = twilio_content(3, "draft_note", json!({"twilio/text": {"body": "Note"}}));
    w.fake.templates.set_twilio(vec![
        twilio_content(1, "order_ready", json!({"twilio/media": {"body": "Hi {{1}}, order {{2}} is ready", "media": ["https://cdn.example/{{3}}"]}, "twilio/text": {"body": "Hi {{1}}"}})),
        twilio_content(2, "track", json!({"twilio/call-to-action": {"body": "Track {{1}}", "actions": [{"type": "URL", "title": "Track", "url": "https://shop.example/t/{{2}}"}]}})),
        (draft_item, Value::Null),
    ]);
    assert_eq!(w.sync(&chan).await, json!({"added": 3, "updated": 0, "removed": 0, "skipped": 0, "total": 3}));
    let pages: Vec<Value> = w.received("/v1/Content");
    assert_eq!(pages.len(), 2, "two pages: {pages:?}");
    assert_eq!(pages[1]["PageToken"], "PT2", "the page token from next_page_url, fetched from the configured base");
    let statuses: Vec<(String, String)> = w.templates(&chan, "").await.iter().map(|t| (t["name"].as_str().unwrap().to_owned(), t["status"].as_str().unwrap().to_owned())).collect();
    assert_eq!(statuses, [("order_ready".into(), "APPROVED".into()), ("track".into(), "APPROVED".into()), ("draft_note".into(), "UNSUBMITTED".into())]);

    let msgs = w.path("messages");
    let r = w.ada.post(&msgs, json!({"channel_id": chan, "to": "+14155552671", "type": "template", "name": "order_ready", "language": "en", "template_variables": {"body": {"1": "Ada"}, "header_media": "p.jpg"}})).await;
    r.assert_error(422, "template_variable_missing");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("body.{{2}}"), "{}", r.body);
    let r = w.ada.post(&msgs, json!({"channel_id": chan, "to": "+14155552671", "type": "template", "name": "order_ready", "language": "en", "template_variables": {"body": {"1": "Ada", "2": "A-42"}, "header_media": "p.jpg"}})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let track = w.templates(&chan, "").await.into_iter().find(|t| t["name"] == "track").unwrap();
    let r = w.ada.post(&msgs, json!({"channel_id": chan, "to": "+14155552671", "type": "template", "template_id": track["id"], "template_variables": {"body": {"1": "A-42"}, "buttons": {"0": "A-42"}}})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    w.drain().await;
    let sent = w.received("/Messages.json");
    assert_eq!(sent.len(), 2);
    let variables = |n: u32| {
        let body = sent.iter().find(|s| s["ContentSid"] == format!("HX{n:032x}")).expect("sent by ContentSid");
        serde_json::from_str::<Value>(body["ContentVariables"].as_str().unwrap()).unwrap()
    };
    assert_eq!(variables(1), json!({"1": "Ada", "2": "A-42", "3": "p.jpg"}));
    assert_eq!(variables(2), json!({"1": "A-42", "2": "A-42"}));
    assert!(sent.iter().all(|s| s.get("Body").is_none()), "templates go by ContentSid, never as Body");

    // Creation: the content, then its WhatsApp approval request.
    let r = w.ada.post(&w.path(&format!("channels/{chan}/templates")), json!({"name": "pickup", "language": "en", "category": "UTILITY",
        "components": {"header": null, "body": "Hi {{1}}, pick up at {{2}}", "footer": null, "buttons": [{"type": "quick_reply", "text": "On my way"}]}, "examples": {"body": {"1": "Ada", "2": "5pm"}}})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.data()["status"], "PENDING");
    let created = w.fake.received().into_iter().filter(|r| r.path == "/v1/Content" && r.body.get("types").is_some()).map(|r| r.body).next().unwrap();
    assert_eq!(created, json!({"friendly_name": "pickup", "language": "en", "variables": {"1": "Ada", "2": "5pm"}, "types": {"twilio/quick-reply": {"body": "Hi {{1}}, pick up at {{2}}", "actions": [{"type": "QUICK_REPLY", "title": "On my way", "id": "On my way"}]}}}));
    let sid = r.data()["provider_template_id"].as_str().unwrap().to_owned();
    assert_eq!(w.received(&format!("/v1/Content/{sid}/ApprovalRequests/whatsapp")), vec![json!({"name": "pickup", "category": "UTILITY"})]);
}

#[tokio::test]
async fn whapi_library_templates_are_sent_as_text() {
    let mut w = world().await;
    let chan = w.channel(json!({"name": "Whapi", "provider": "whapi", "token": WHAPI_TOKEN}), None).await;
    w.fake.set_whapi_linked(true);
    w.ada.post(&w.path(&format!("channels/{chan}/link")), json!({})).await;
    w.ada.post(&w.path(&format!("channels/{chan}/templates/sync")), json!({})).await.assert_error(422, "unsupported_capability");
    let view = w.ada.get(&w.path(&format!("channels/{chan}"))).await;
    assert_eq!(view.data()["capabilities"]["templates"], json!({"sync": false, "create": true, "approval_required": false, "addressed_by": "rendered_text"}));
    let r = w.ada.post(&w.path(&format!("channels/{chan}/templates")), json!({"name": "order_ready", "language": "en",
        "components": {"header": {"format": "image", "text": null, "media_url": null, "example": null}, "body": "Hi {{1}}, order {{2}} is ready", "footer": "Corner Shop", "buttons": []},
        "examples": {"header_media": "https://cdn.example/p.jpg", "body": {"1": "Ada", "2": "A-42"}}})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.data()["status"], "APPROVED", "nothing to review on Whapi");
    let msgs = w.path("messages");
    let r = w.ada.post(&msgs, json!({"channel_id": chan, "to": "+14155552671", "type": "template", "name": "order_ready", "language": "en", "template_variables": {"body": {"1": "Ada", "2": "A-42"}}})).await;
    r.assert_error(422, "template_variable_missing");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("header.media"), "{}", r.body);
    let r = w.ada.post(&msgs, json!({"channel_id": chan, "to": "+14155552671", "type": "template", "name": "order_ready", "language": "en", "template_variables": {"header_media": "https://cdn.example/p.jpg", "body": {"1": "Ada", "2": "A-42"}}})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    w.drain().await;
    assert_eq!(w.received("/messages/image"), vec![json!({"to": "14155552671", "media": "https://cdn.example/p.jpg", "caption": "Hi Ada, order A-42 is ready\n\n_Corner Shop_"})]);
}

/// A tiny JPEG's first bytes (the type check reads only the signature).
fn jpeg(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    bytes[..4].copy_from_slice(&[0xFF, 0xD8, 0xFF, 0xE0]);
    bytes
}

impl World {
    async fn upload(&mut self, chan: &str, query: &str, content_type: &str, bytes: Vec<u8>) -> client::Reply {
        let mut c = self.ada.clone();
        c.extra_headers.push(("content-type".into(), content_type.into()));
        c.call_raw(axum::http::Method::POST, &self.path(&format!("channels/{chan}/templates/media{query}")), bytes).await
    }
}

#[tokio::test]
async fn meta_media_header_sample_is_uploaded_then_reviewed() {
    let mut w = world().await;
    let meta_cred = |app_id: Option<&str>| json!({"name": "Meta", "provider": "meta", "access_token": META_TOKEN, "app_secret": "0123456789abcdef0123456789abcdef", "phone_number_id": META_PHONE_NUMBER_ID, "waba_id": META_WABA_ID, "app_id": app_id});
    w.ada.post(&w.path("credentials"), meta_cred(Some("app-1"))).await.assert_error(422, "validation_failed");
    let chan = w.channel(meta_cred(None), None).await;

    // Without the app id there is nowhere to upload to; the error says how to fix it.
    let r = w.upload(&chan, "?format=image&file_name=pickup.jpg", "image/jpeg", jpeg(2048)).await;
    r.assert_error(422, "meta_app_id_missing");
    let cred = w.ada.get(&w.path("credentials")).await.data()[0]["id"].as_str().unwrap().to_owned();
    let r = w.ada.call(axum::http::Method::PUT, &w.path(&format!("credentials/{cred}")), Some(json!({"app_id": META_APP_ID}))).await;
    assert_eq!((r.status, r.data()["app_id"].as_str()), (200, Some(META_APP_ID)), "{}", r.body);

    // Wrong type, a renamed file, too big for Meta's image limit: refused before anything reaches Meta.
    w.upload(&chan, "?format=image", "image/gif", b"GIF89a....".to_vec()).await.assert_error(422, "media_type_unsupported");
    w.upload(&chan, "?format=video", "image/jpeg", jpeg(64)).await.assert_error(422, "media_type_unsupported");
    w.upload(&chan, "?format=image", "image/png", jpeg(64)).await.assert_error(422, "media_type_mismatch");
    let r = w.upload(&chan, "?format=image", "image/jpeg", jpeg(5 * 1024 * 1024 + 1)).await;
    r.assert_error(422, "media_too_large");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("at most 5.0 MB"), "{}", r.body);
    w.upload(&chan, "?format=image", "image/jpeg", jpeg(17 * 1024 * 1024)).await.assert_error(413, "payload_too_large");
    w.upload(&chan, "?format=text", "image/jpeg", jpeg(64)).await.assert_error(422, "validation_failed");
    assert!(w.fake.received().iter().all(|r| !r.path.contains("upload")), "nothing was sent to Meta");

    // Meta failing the byte upload: a 5xx is a 502 to retry, a refusal a 422 with Meta's words.
    w.fake.templates.fail_next_upload(503, 1, "An unknown error occurred");
    w.upload(&chan, "?format=image&file_name=pickup.jpg", "image/jpeg", jpeg(2048)).await.assert_error(502, "provider_unavailable");
    w.fake.templates.fail_next_upload(400, 100, "(#100) Invalid file");
    let r = w.upload(&chan, "?format=image&file_name=pickup.jpg", "image/jpeg", jpeg(2048)).await;
    r.assert_error(422, "provider_error");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("Invalid file"), "{}", r.body);

    // The happy path: session, then the bytes with the OAuth header and offset 0, then the handle.
    let r = w.upload(&chan, "?format=image&file_name=pickup.jpg", "image/jpeg", jpeg(2048)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let handle = r.data()["handle"].as_str().unwrap().to_owned();
    assert_eq!((r.data()["file_type"].as_str(), r.data()["file_length"].as_u64()), (Some("image/jpeg"), Some(2048)));
    assert_eq!(w.fake.templates.handles().last().map(|(h, _)| h.clone()), Some(handle.clone()));
    let calls: Vec<_> = w.fake.received().into_iter().filter(|r| r.path.contains("upload")).collect();
    let (open, bytes) = (&calls[calls.len() - 2], &calls[calls.len() - 1]);
    assert_eq!((open.path.as_str(), open.authorization.as_str()), (format!("/v23.0/{META_APP_ID}/uploads").as_str(), format!("Bearer {META_TOKEN}").as_str()));
    assert_eq!((open.body["file_name"].as_str(), open.body["file_length"].as_str(), open.body["file_type"].as_str()), (Some("pickup.jpg"), Some("2048"), Some("image/jpeg")));
    assert!(open.body.get("access_token").is_none(), "the token never goes in the URL");
    assert!(bytes.path.starts_with("/v23.0/upload:") && bytes.authorization == format!("OAuth {META_TOKEN}"), "{bytes:?}");
    assert_eq!((bytes.body["file_offset"].as_str(), bytes.body["bytes"].as_u64()), (Some("0"), Some(2048)));

    // Creating the template: a URL as the example is refused, the handle goes into header_handle.
    let path = w.path(&format!("channels/{chan}/templates"));
    let mut draft = json!({"name": "pickup_photo", "language": "en_US", "category": "UTILITY",
        "components": {"header": {"format": "image", "text": null, "media_url": null, "example": null}, "body": "Hi {{1}}, your order is ready.", "footer": null, "buttons": []},
        "examples": {"header_media": "https://cdn.example/p.jpg", "body": {"1": "Ada"}}});
    let r = w.ada.post(&path, draft.clone()).await;
    r.assert_error(422, "template_example_missing");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("templates/media"), "{}", r.body);
    draft["examples"]["header_media"] = "4::bm90LWlzc3VlZA==:forged".into();
    let r = w.ada.post(&path, draft.clone()).await;
    r.assert_error(422, "template_invalid");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("2494102"), "Meta's refusal of a handle it never issued: {}", r.body);
    draft["examples"]["header_media"] = handle.clone().into();
    let r = w.ada.post(&path, draft.clone()).await;
    assert_eq!((r.status, r.data()["status"].as_str()), (201, Some("PENDING")), "{}", r.body);
    let submitted = w.received("/message_templates").pop().unwrap();
    assert_eq!(submitted["components"][0], json!({"type": "HEADER", "format": "IMAGE", "example": {"header_handle": [handle]}}));

    // Once approved, each send still gives its own header media, sent by link.
    let mut approved = w.fake.templates.meta();
    approved.iter_mut().for_each(|t| t["status"] = "APPROVED".into());
    w.fake.templates.set_meta(approved);
    w.sync(&chan).await;
    let msgs = w.path("messages");
    let send = |vars: Value| json!({"channel_id": chan, "to": "+16505551234", "type": "template", "name": "pickup_photo", "language": "en_US", "template_variables": vars});
    w.ada.post(&msgs, send(json!({"body": {"1": "Ada"}}))).await.assert_error(422, "template_variable_missing");
    let r = w.ada.post(&msgs, send(json!({"header_media": "https://cdn.example/ada.jpg", "body": {"1": "Ada"}}))).await;
    assert_eq!(r.status, 202, "{}", r.body);
    w.drain().await;
    let sent = w.received("/messages").pop().unwrap();
    assert_eq!(sent["template"]["components"][0], json!({"type": "header", "parameters": [{"type": "image", "image": {"link": "https://cdn.example/ada.jpg"}}]}));
}

#[tokio::test]
async fn media_samples_are_for_meta_channels_only() {
    let mut w = world().await;
    let chan = w.channel(json!({"name": "Whapi", "provider": "whapi", "token": WHAPI_TOKEN}), None).await;
    w.upload(&chan, "?format=image", "image/jpeg", jpeg(64)).await.assert_error(422, "unsupported_capability");
}

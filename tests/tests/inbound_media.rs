//! Files contacts send, shown in the inbox: a signed inbound webhook with an image, document or audio on
//! each provider puts a line on the timeline with the provider's media id or URL, and
//! `GET …/conversations/{conv}/messages/{entry}/media` answers the exact bytes, fetched from the provider
//! fakes with the channel's credential (Meta: media id → lookaside URL, bearer on both; Twilio: Basic
//! auth, then a redirect followed without it; Whapi: bearer). Bad paths: another workspace's
//! conversation and unknown lines are 404, an expired Meta id 410, a provider 500 a 502, a file over the
//! cap a 502 before download, and media URLs at private addresses are refused without a request.

#[path = "api/client.rs"]
mod client;


use axum::http::Method;
use base64::Engine;
use client::Client;
use serde_json::{json, Value};
use webtrigger_tests::webhook_signing::{meta_signature, twilio_signature, META_APP_SECRET};
use webtrigger_tests::provider_fakes::{META_PHONE_NUMBER_ID, META_TOKEN, TWILIO_SID, TWILIO_TOKEN, WHAPI_TOKEN};

const PUBLIC: &str = "https://hooks.example.com";

/// A JPEG header and bytes that are not UTF-8, so the comparison is byte for byte.
fn jpeg(len: usize) -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0];
    b.extend((0..len).map(|i| (i * 7 % 256) as u8));
    b
}

async fn raw(c: &Client, method: Method, path: &str, headers: &[(&str, &str)], content_type: &str, body: Vec<u8>) -> client::Reply {
    let mut c = c.clone();
    c.extra_headers = headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).chain([("content-type".to_owned(), content_type.to_owned())]).collect();
    c.call_raw(method, path, body).await
}

fn meta_inbound(messages: Vec<Value>) -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"value": {"messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": META_PHONE_NUMBER_ID}, "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
        "messages": messages}, "field": "messages"}]}]})
    .to_string()
}

fn meta_media(id: &str, kind: &str, media: Value) -> Value {
    json!({"from": "16505551234", "id": id, "timestamp": chrono::Utc::now().timestamp().to_string(), "type": kind, kind: media})
}

fn header<'a>(r: &'a client::Reply, name: &str) -> &'a str {
    r.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

#[tokio::test]
async fn inbound_media_comes_back_through_each_provider() {
    let (mut state, _dir) = webtrigger_tests::embedded_state().await;
    let (fake, mut ada, ws) = client::provider_world(&mut state, Some(PUBLIC)).await;
    let p = |rest: &str| format!("/v1/workspaces/{ws}/{rest}");
    let anon = Client::new(state.clone());

    // Meta: an image, a document, a sticker, and ids for the bad paths.
    let cred = ada.post(&p("credentials"), json!({"name": "Meta", "provider": "meta", "access_token": META_TOKEN, "app_secret": META_APP_SECRET, "phone_number_id": META_PHONE_NUMBER_ID, "waba_id": "102290129340398"})).await;
    let meta = ada.post(&p("channels"), json!({"name": "Support", "credential_id": cred.data()["id"]})).await;
    let (photo, pdf, sticker) = (jpeg(300_000), b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n%%EOF\n".to_vec(), [&b"RIFF\x24\0\0\0WEBPVP8 "[..], &[9u8; 64]].concat());
    fake.media.add("1013859600285441", "image/jpeg", &photo);
    fake.media.add("2621233374848975", "application/pdf", &pdf);
    fake.media.add("3011", "image/webp", &sticker);
    fake.media.add("4011", "image/jpeg", &photo);
    fake.media.add("5011", "video/mp4", &jpeg(16 * 1024 * 1024));
    let inbound = meta_inbound(vec![
        meta_media("wamid.IMG1", "image", json!({"caption": "the stain", "mime_type": "image/jpeg", "sha256": "x", "id": "1013859600285441"})),
        meta_media("wamid.DOC1", "document", json!({"filename": "invoice 42.pdf", "mime_type": "application/pdf", "sha256": "x", "id": "2621233374848975"})),
        meta_media("wamid.STK1", "sticker", json!({"mime_type": "image/webp", "sha256": "x", "id": "3011", "animated": false})),
        meta_media("wamid.OLD1", "image", json!({"mime_type": "image/jpeg", "sha256": "x", "id": "4011"})),
        meta_media("wamid.BIG1", "video", json!({"mime_type": "video/mp4", "sha256": "x", "id": "5011"})),
        json!({"from": "16505551234", "id": "wamid.TXT1", "timestamp": "1749416383", "type": "text", "text": {"body": "see the photo"}}),
    ]);
    let hook = raw(&anon, Method::POST, meta.data()["webhook_path"].as_str().unwrap(), &[("x-hub-signature-256", &meta_signature(&inbound))], "application/json", inbound.into_bytes()).await;
    assert_eq!(hook.status, 200);
    webtrigger_tests::drain_inbound(&state).await;
    let conv = ada.get(&p("conversations")).await.data()["conversations"][0]["id"].as_str().unwrap().to_owned();
    let timeline = ada.get(&p(&format!("conversations/{conv}/messages"))).await;
    let line = |id: &str| timeline.data()["entries"].as_array().unwrap().iter().find(|e| e["id"] == id).cloned().unwrap_or_else(|| panic!("{id} on {}", timeline.body));
    assert_eq!((line("wamid.IMG1")["kind"].as_str(), line("wamid.IMG1")["media"].as_str(), line("wamid.IMG1")["media_mime"].as_str(), line("wamid.IMG1")["text"].as_str()), (Some("image"), Some("1013859600285441"), Some("image/jpeg"), Some("the stain")));
    assert_eq!(line("wamid.DOC1")["media_filename"], "invoice 42.pdf");
    let media = |id: &str| p(&format!("conversations/{conv}/messages/{id}/media"));

    let image = ada.get(&media("wamid.IMG1")).await;
    assert_eq!(image.status, 200, "{}", image.body);
    assert!(image.bytes == photo, "the image comes back byte for byte ({} bytes)", image.bytes.len());
    assert_eq!((header(&image, "content-type"), header(&image, "x-content-type-options"), header(&image, "content-disposition")), ("image/jpeg", "nosniff", "inline; filename=\"image.jpeg\""));
    assert!(header(&image, "cache-control").starts_with("private"), "{:?}", image.headers);
    let requests = fake.media.requests();
    assert_eq!(requests[0], ("/v23.0/1013859600285441".to_owned(), format!("Bearer {META_TOKEN}")), "Graph lookup with the bearer token");
    assert_eq!(requests[1], ("/lookaside/1013859600285441".to_owned(), format!("Bearer {META_TOKEN}")), "the lookaside URL with the same token");
    let doc = ada.get(&media("wamid.DOC1")).await;
    assert!(doc.bytes == pdf);
    assert_eq!((header(&doc, "content-type"), header(&doc, "content-disposition")), ("application/pdf", "attachment; filename=\"invoice 42.pdf\""));
    let stk = ada.get(&media("wamid.STK1")).await;
    assert!(stk.status == 200 && stk.bytes == sticker && header(&stk, "content-type") == "image/webp", "stickers are WebP images");

    // Expired at Meta (Graph's 400, code 100, subcode 33) → 410; the lookaside URL gone → 410 too.
    fake.media.expire("4011");
    let old = ada.get(&media("wamid.OLD1")).await;
    old.assert_error(410, "gone");
    assert!(old.body["error"]["message"].as_str().unwrap().contains("no longer has this file"), "{}", old.body);
    // Provider 500 → 502 provider_unavailable; the next view works again.
    fake.media.fail_next(&[500]);
    ada.get(&media("wamid.IMG1")).await.assert_error(502, "provider_unavailable");
    assert_eq!(ada.get(&media("wamid.IMG1")).await.status, 200);
    // Over the 16 MiB cap: refused from the announced size, never downloaded.
    let before = fake.media.requests().len();
    let big = ada.get(&media("wamid.BIG1")).await;
    big.assert_error(502, "media_too_large");
    assert!(!fake.media.requests()[before..].iter().any(|(path, _)| path.starts_with("/lookaside/")), "not downloaded");
    // Unknown line, a line without a file, a malformed conversation id.
    ada.get(&media("wamid.NOPE")).await.assert_error(404, "not_found");
    ada.get(&media("wamid.TXT1")).await.assert_error(404, "not_found");
    assert_eq!(ada.get(&p("conversations/conv_nope/messages/wamid.IMG1/media")).await.status, 404);

    // Another workspace: its own path with this conversation is a 404, this workspace's path a refusal.
    let mut bob = Client::new(state.clone());
    bob.sign_up("bob@example.com").await;
    let bob_ws = bob.create_workspace("Other").await;
    bob.get(&format!("/v1/workspaces/{bob_ws}/conversations/{conv}/messages/wamid.IMG1/media")).await.assert_error(404, "not_found");
    let theirs = bob.get(&media("wamid.IMG1")).await;
    assert!([403, 404].contains(&theirs.status) && theirs.bytes != photo, "{}", theirs.body);
    assert_eq!(Client::new(state.clone()).get(&media("wamid.IMG1")).await.status, 401);

    // Twilio: MediaUrl0 with Basic auth, then the CDN redirect without it.
    let tcred = ada.post(&p("credentials"), json!({"name": "Twilio", "provider": "twilio", "account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN})).await;
    let twilio = ada.post(&p("channels"), json!({"name": "Sales", "credential_id": tcred.data()["id"], "number": "+14155238886"})).await;
    let (twilio_id, twilio_path) = (twilio.data()["id"].as_str().unwrap().to_owned(), twilio.data()["webhook_path"].as_str().unwrap().to_owned());
    let voice = [&b"OggS\0\x02"[..], &jpeg(5000)].concat();
    fake.media.add("ME0a1", "audio/ogg", &voice);
    let send_twilio = |sid: &'static str, url: String, mime: &'static str| {
        let (anon, twilio_path) = (anon.clone(), twilio_path.clone());
        async move {
            let params = [("MessageSid", sid), ("SmsMessageSid", sid), ("NumMedia", "1"), ("MediaUrl0", url.as_str()), ("MediaContentType0", mime), ("ProfileName", "Ranjit"), ("WaId", "919900000000"), ("To", "whatsapp:+14155238886"), ("AccountSid", TWILIO_SID), ("From", "whatsapp:+919900000000"), ("ApiVersion", "2010-04-01")];
            let form = form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
            let sig = twilio_signature(&format!("{PUBLIC}{twilio_path}"), &params);
            assert_eq!(raw(&anon, Method::POST, &twilio_path, &[("x-twilio-signature", &sig)], "application/x-www-form-urlencoded", form.into_bytes()).await.status, 200);
        }
    };
    send_twilio("MM0a1", format!("{}/2010-04-01/Accounts/{TWILIO_SID}/Messages/MM0a1/Media/ME0a1", fake.base_url), "audio/ogg").await;
    send_twilio("MM0a2", "http://169.254.169.254/latest/meta-data/iam".into(), "image/jpeg").await;
    webtrigger_tests::drain_inbound(&state).await;
    let tconv = ada.get(&p(&format!("conversations?channel_id={twilio_id}"))).await.data()["conversations"][0]["id"].as_str().unwrap().to_owned();
    let tmedia = |id: &str| p(&format!("conversations/{tconv}/messages/{id}/media"));
    let audio = ada.get(&tmedia("MM0a1")).await;
    assert_eq!(audio.status, 200, "{}", audio.body);
    assert!(audio.bytes == voice);
    assert_eq!((header(&audio, "content-type"), header(&audio, "content-disposition")), ("audio/ogg", "inline; filename=\"audio.ogg\""));
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{TWILIO_SID}:{TWILIO_TOKEN}")));
    let twilio_requests: Vec<_> = fake.media.requests().into_iter().filter(|(path, _)| path.contains("ME0a1")).collect();
    assert_eq!(twilio_requests, vec![(format!("/2010-04-01/Accounts/{TWILIO_SID}/Messages/MM0a1/Media/ME0a1"), basic), ("/twiliocdn/ME0a1".to_owned(), String::new())], "Basic auth to Twilio, none to the CDN");
    let before = fake.media.requests().len();
    ada.get(&tmedia("MM0a2")).await.assert_error(502, "media_url_refused");
    assert_eq!(fake.media.requests().len(), before, "the credential never leaves for another host");

    // Whapi: the media id with the bearer token; links at private addresses are refused (SSRF).
    let wcred = ada.post(&p("credentials"), json!({"name": "Whapi", "provider": "whapi", "token": WHAPI_TOKEN})).await;
    let whapi = ada.post(&p("channels"), json!({"name": "Phone", "credential_id": wcred.data()["id"]})).await;
    let (whapi_id, whapi_path, whapi_secret) = (whapi.data()["id"].as_str().unwrap().to_owned(), whapi.data()["webhook_path"].as_str().unwrap().to_owned(), whapi.data()["webhook_secret"].as_str().unwrap().to_owned());
    fake.media.add("jpeg-c91cf5f956dd38509d4961460cf1180e-80d1080e92fe09", "image/jpeg", &photo);
    let wmsg = |id: &str, image: Value| json!({"id": id, "from_me": false, "type": "image", "chat_id": "14155552671@s.whatsapp.net", "timestamp": chrono::Utc::now().timestamp(), "source": "mobile", "image": image, "from": "14155552671", "from_name": "John"});
    let inbound = json!({"messages": [
        wmsg("wh.img.1", json!({"id": "jpeg-c91cf5f956dd38509d4961460cf1180e-80d1080e92fe09", "mime_type": "image/jpeg", "file_size": photo.len(), "caption": "Hello world"})),
        wmsg("wh.img.2", json!({"id": "jpeg-x", "mime_type": "image/jpeg", "link": "https://127.0.0.1:9/internal.jpg"})),
        wmsg("wh.img.3", json!({"id": "jpeg-y", "mime_type": "image/jpeg", "link": "https://10.1.2.3/internal.jpg"})),
    ], "event": {"type": "messages", "event": "post"}, "channel_id": "MANTIS-M72HC"})
    .to_string();
    assert_eq!(raw(&anon, Method::POST, &whapi_path, &[("x-webhook-secret", &whapi_secret)], "application/json", inbound.into_bytes()).await.status, 200);
    webtrigger_tests::drain_inbound(&state).await;
    let wconv = ada.get(&p(&format!("conversations?channel_id={whapi_id}"))).await.data()["conversations"][0]["id"].as_str().unwrap().to_owned();
    let wmedia = |id: &str| p(&format!("conversations/{wconv}/messages/{id}/media"));
    let wimage = ada.get(&wmedia("wh.img.1")).await;
    assert!(wimage.status == 200 && wimage.bytes == photo, "{}", wimage.body);
    assert_eq!(fake.media.requests().last().unwrap(), &("/whapi/media/jpeg-c91cf5f956dd38509d4961460cf1180e-80d1080e92fe09".to_owned(), format!("Bearer {WHAPI_TOKEN}")));
    for private in ["wh.img.2", "wh.img.3"] {
        let refused = ada.get(&wmedia(private)).await;
        refused.assert_error(502, "media_url_refused");
        assert!(refused.body["error"]["message"].as_str().unwrap().contains("private or internal"), "{}", refused.body);
    }
    // A Meta line opened under the Whapi conversation does not exist there.
    ada.get(&wmedia("wamid.IMG1")).await.assert_error(404, "not_found");
}

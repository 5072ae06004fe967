//! Contacts, audiences and WhatsApp broadcasts end to end on the embedded backend with a fixed clock (the
//! embedded queue's delays and the channel token bucket follow it): a CSV import with bad rows becomes
//! 500 contacts; a broadcast to them on each provider fake skips the opted-out, fails the invalid numbers
//! permanently, pauses on a 429 mid-way and resumes, sends to everyone else exactly once (counted at the
//! fake), and status webhooks, a reply and a redelivered fan-out job leave the counters right.

#[path = "api/client.rs"]
mod client;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;
use axum::http::Method;
use base64::Engine;
use client::Client;
use serde_json::{json, Value};
use webtrigger::auth::WorkspaceId;
use webtrigger::ports::{Clock, FixedClock};
use webtrigger::AppState;
use webtrigger_tests::provider_fakes::{Failure, ProviderFake, META_PHONE_NUMBER_ID, META_TOKEN, TWILIO_SID, TWILIO_TOKEN, WHAPI_TOKEN};

const APP_SECRET: &str = "0123456789abcdef0123456789abcdef";
const PUBLIC: &str = "https://hooks.example.com";
const CONTACTS: usize = 500;

struct Campaign {
    state: AppState,
    clock: Arc<FixedClock>,
    fake: ProviderFake,
    ada: Client,
    ws: String,
    _dir: Option<tempfile::TempDir>,
}

/// Contact i's number: +1 415 55 5xxxx.
fn number(i: usize) -> String {
    format!("+1415555{i:04}")
}

fn opted_out(i: usize) -> bool {
    i.is_multiple_of(25)
}

fn invalid(i: usize) -> bool {
    i % 50 == 7
}

const RATE_LIMITED: usize = 251;

impl Campaign {
    async fn new() -> Self {
        Self::on(false).await
    }

    /// The embedded backend, or (`aws`) the AWS adapters on moto (whose queue delays run in real time).
    async fn on(aws: bool) -> Self {
        let clock = Arc::new(FixedClock::new(chrono::Utc::now()));
        let (mut state, dir) = if aws {
            (webtrigger_tests::aws_state_with_clock(clock.clone()).await, None)
        } else {
            let (state, dir) = webtrigger_tests::embedded_state_with_clock(clock.clone()).await;
            (state, Some(dir))
        };
        let fake = ProviderFake::start().await;
        state.whatsapp = Arc::new(webtrigger::whatsapp::WhatsAppRuntime::new(fake.urls()).with_public_url(Some(PUBLIC.into())));
        let mut ada = Client::new(state.clone());
        ada.sign_up("ada@example.com").await;
        let ws = ada.create_workspace("Shop").await;
        Self { state, clock, fake, ada, ws, _dir: dir }
    }

    fn path(&self, rest: &str) -> String {
        format!("/v1/workspaces/{}/{rest}", self.ws)
    }

    fn ws_id(&self) -> WorkspaceId {
        WorkspaceId::parse(&self.ws).unwrap()
    }

    async fn post(&mut self, rest: &str, body: Value) -> client::Reply {
        let path = self.path(rest);
        self.ada.post(&path, body).await
    }

    async fn call(&mut self, method: Method, rest: &str, body: Value) -> client::Reply {
        let path = self.path(rest);
        self.ada.call(method, &path, Some(body)).await
    }

    async fn get(&mut self, rest: &str) -> client::Reply {
        let path = self.path(rest);
        self.ada.get(&path).await
    }

    /// Runs the campaigns, send and webhook queues until no job is visible at the clock's time.
    async fn drain(&self) {
        let queues: [(webtrigger::ports::QueueSpec, Arc<dyn webtrigger::worker::JobHandler>); 3] = [
            (webtrigger::queues::campaigns(), Arc::new(webtrigger::broadcasts::worker::CampaignWorker)),
            (webtrigger::queues::whatsapp_send(), Arc::new(webtrigger::whatsapp::worker::WhatsAppWorker)),
            (webtrigger::queues::webhook_process(), Arc::new(webtrigger::inbox::process::WebhookWorker)),
        ];
        loop {
            let mut n = 0;
            for (spec, handler) in &queues {
                n += webtrigger::local::poll_once(&self.state, spec, handler.as_ref(), Duration::ZERO).await.unwrap();
            }
            if n == 0 && (self._dir.is_some() || self.idle().await) {
                return;
            }
        }
    }

    /// On SQS a short receive may miss messages: idle means every queue reports none waiting.
    async fn idle(&self) -> bool {
        for spec in [webtrigger::queues::campaigns(), webtrigger::queues::whatsapp_send(), webtrigger::queues::webhook_process()] {
            if self.state.queue.depth(&spec.name).await.unwrap() > 0 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                return false;
            }
        }
        true
    }

    /// Sends a provider webhook to the channel, signed as that provider signs it.
    async fn hook(&self, provider: &str, path: &str, secret: &str, body: Hook) -> u16 {
        let mut c = Client::new(self.state.clone());
        let (content_type, raw, header) = match body {
            Hook::Json(v) => {
                let raw = v.to_string();
                let header = if provider == "meta" {
                    let key = hmac::Key::new(hmac::HMAC_SHA256, APP_SECRET.as_bytes());
                    ("x-hub-signature-256", format!("sha256={}", hmac::sign(&key, raw.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>()))
                } else {
                    ("x-webhook-secret", secret.to_owned())
                };
                ("application/json", raw, header)
            }
            Hook::Form(params) => {
                let mut sorted = params.clone();
                sorted.sort();
                let message: String = std::iter::once(format!("{PUBLIC}{path}")).chain(sorted.iter().map(|(k, v)| format!("{k}{v}"))).collect();
                let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, TWILIO_TOKEN.as_bytes());
                let sig = base64::engine::general_purpose::STANDARD.encode(hmac::sign(&key, message.as_bytes()).as_ref());
                let raw = form_urlencoded::Serializer::new(String::new()).extend_pairs(params.iter()).finish();
                ("application/x-www-form-urlencoded", raw, ("x-twilio-signature", sig))
            }
        };
        c.extra_headers = vec![(header.0.to_owned(), header.1), ("content-type".to_owned(), content_type.to_owned())];
        c.call_raw(Method::POST, path, raw.into_bytes()).await.status
    }
}

enum Hook {
    Json(Value),
    Form(Vec<(String, String)>),
}

fn status_hook(provider: &str, updates: &[(String, &str)]) -> Vec<Hook> {
    match provider {
        "meta" => vec![Hook::Json(json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": META_PHONE_NUMBER_ID},
            "statuses": updates.iter().map(|(id, s)| if *s == "failed" { json!({"id": id, "status": s, "timestamp": "1603086313", "recipient_id": "1", "errors": [{"code": 131049, "title": "Meta chose not to deliver"}]}) } else { json!({"id": id, "status": s, "timestamp": "1603086313", "recipient_id": "1"}) }).collect::<Vec<_>>()}}]}]}))],
        "whapi" => vec![Hook::Json(json!({"statuses": updates.iter().map(|(id, s)| json!({"id": id, "status": s, "timestamp": 1712995245})).collect::<Vec<_>>(), "event": {"type": "statuses", "event": "post"}}))],
        _ => updates.iter().map(|(id, s)| {
            let mut p = vec![("MessageSid", id.as_str()), ("MessageStatus", if *s == "failed" { "undelivered" } else { s }), ("AccountSid", TWILIO_SID), ("To", "whatsapp:+14155550000"), ("ApiVersion", "2010-04-01")];
            if *s == "failed" {
                p.push(("ErrorCode", "63016"));
            }
            Hook::Form(p.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
        }).collect(),
    }
}

fn inbound_hook(provider: &str, from: &str, text: &str) -> Hook {
    let digits = from.trim_start_matches('+');
    match provider {
        "meta" => Hook::Json(json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"value": {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550783881", "phone_number_id": META_PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Replier"}, "wa_id": digits}], "messages": [{"from": digits, "id": "wamid.REPLY1", "timestamp": "1749416383", "type": "text", "text": {"body": text}}]}, "field": "messages"}]}]})),
        "whapi" => Hook::Json(json!({"messages": [{"id": "whapi-reply-1", "from_me": false, "type": "text", "chat_id": format!("{digits}@s.whatsapp.net"), "timestamp": 1712995245, "text": {"body": text}, "from": digits, "from_name": "Replier"}], "event": {"type": "messages", "event": "post"}})),
        _ => Hook::Form([("MessageSid", "SMreply1"), ("SmsMessageSid", "SMreply1"), ("NumMedia", "0"), ("ProfileName", "Replier"), ("WaId", digits), ("SmsStatus", "received"), ("Body", text), ("To", "whatsapp:+14155238886"), ("AccountSid", TWILIO_SID), ("From", &format!("whatsapp:{from}")), ("ApiVersion", "2010-04-01")].iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
    }
}

/// The CSV: 500 good rows in mixed formats and 5 bad ones, in two parts.
fn csv_parts() -> (String, String) {
    let mut rows: Vec<String> = (0..CONTACTS)
        .map(|i| {
            let phone = if i % 2 == 0 { format!("(415) 555-{i:04}") } else { format!("+1 415 555 {i:04}") };
            format!("{phone},Customer {i},customers;{},{}", if i % 3 == 0 { "vip" } else { "regular" }, i % 7)
        })
        .collect();
    for (at, bad) in [(10, "555-12,No country"), (100, "not a number,Bad"), (200, ",Empty phone"), (320, "+1 415 555 9999 12345,Too long"), (400, "+1415555x001,Letters")] {
        rows.insert(at, format!("{bad},,"));
    }
    let header = "Phone,Name,Tags,Orders".to_owned();
    (format!("{header}\n{}\n", rows[..300].join("\n")), rows[300..].join("\r\n"))
}

async fn import_contacts(w: &mut Campaign) {
    let imp = w.post("contacts/imports", json!({"default_country": "US", "consent_source": "checkout"})).await;
    assert_eq!(imp.status, 201, "{}", imp.body);
    let id = imp.data()["id"].as_str().unwrap().to_owned();
    let (one, two) = csv_parts();
    w.post(&format!("contacts/imports/{id}/parts"), json!({"part": 2, "csv": two})).await.assert_error(409, "conflict");
    assert_eq!(w.post(&format!("contacts/imports/{id}/parts"), json!({"part": 1, "csv": one})).await.status, 202);
    // A retried part is stored and counted once.
    assert_eq!(w.post(&format!("contacts/imports/{id}/parts"), json!({"part": 1, "csv": one})).await.status, 202);
    let progress = w.post(&format!("contacts/imports/{id}/parts"), json!({"part": 2, "csv": two, "last": true})).await;
    assert_eq!((progress.status, progress.data()["status"].as_str()), (202, Some("processing")), "{}", progress.body);
    w.drain().await;
    let done = w.get(&format!("contacts/imports/{id}")).await.data().clone();
    assert_eq!((done["status"].as_str(), done["rows_total"].as_i64(), done["imported"].as_i64(), done["failed"].as_i64()), (Some("completed"), Some(505), Some(500), Some(5)), "{done}");
    let errors = w.get(&format!("contacts/imports/{id}/errors")).await.data()["errors"].as_array().unwrap().clone();
    let lines: Vec<(i64, i64)> = errors.iter().map(|e| (e["part"].as_i64().unwrap(), e["line"].as_i64().unwrap())).collect();
    assert_eq!(lines, [(1, 12), (1, 102), (1, 202), (2, 21), (2, 101)], "{errors:?}");
    assert!(errors[0]["error"].as_str().unwrap().contains("10 digits"), "{errors:?}");
}

async fn broadcast_on(provider: &str) {
    let mut w = Campaign::new().await;
    import_contacts(&mut w).await;
    let ws = w.ws_id();
    for i in (0..CONTACTS).filter(|i| opted_out(*i)) {
        let change = webtrigger::inbox::consent::ConsentChange { contact: webtrigger::whatsapp::types::PhoneNumber::parse(&number(i)).unwrap(), opted_out: true, at: w.clock.now().to_rfc3339(), how: "keyword STOP".into() };
        webtrigger::inbox::consent::record(&w.state, &ws, &change).await.unwrap();
    }

    // Channel and template per provider; Twilio and Whapi get a high limit so the test needs few clock steps.
    // Meta and Twilio send an approved template synced into the channel's library; Whapi free text.
    let sale = "Hi {{1}}, the spring sale starts now";
    let (cred, template) = match provider {
        "meta" => {
            w.fake.templates.set_meta(vec![
                json!({"name": "spring_sale", "parameter_format": "POSITIONAL", "language": "en_US", "status": "APPROVED", "category": "MARKETING", "id": "594425479262001", "components": [{"type": "BODY", "text": sale, "example": {"body_text": [["Ada"]]}}]}),
                json!({"name": "summer_sale", "parameter_format": "POSITIONAL", "language": "en_US", "status": "PENDING", "category": "MARKETING", "id": "594425479262002", "components": [{"type": "BODY", "text": sale, "example": {"body_text": [["Ada"]]}}]}),
            ]);
            (json!({"name": "Meta", "provider": "meta", "access_token": META_TOKEN, "app_secret": APP_SECRET, "phone_number_id": META_PHONE_NUMBER_ID, "waba_id": "102290129340398"}), json!({"name": "spring_sale", "language": "en_US"}))
        }
        "twilio" => {
            let sid = format!("HX{}", "ab".repeat(16));
            let item = json!({"sid": sid, "account_sid": TWILIO_SID, "friendly_name": "spring_sale", "language": "en", "variables": {"1": "Ada"}, "types": {"twilio/text": {"body": sale}}, "url": format!("https://content.twilio.com/v1/Content/{sid}")});
            let approval = json!({"type": "whatsapp", "name": "spring_sale", "category": "MARKETING", "content_type": "twilio/text", "status": "approved", "rejection_reason": "", "allow_category_change": true});
            w.fake.templates.set_twilio(vec![(item, approval)]);
            (json!({"name": "Twilio", "provider": "twilio", "account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN}), json!({"content_sid": sid}))
        }
        _ => (json!({"name": "Whapi", "provider": "whapi", "token": WHAPI_TOKEN}), json!({"text": sale})),
    };
    let cred = w.post("credentials", cred).await.data()["id"].as_str().unwrap().to_owned();
    let mut chan = json!({"name": "Sales", "credential_id": cred});
    if provider == "twilio" {
        chan["number"] = json!("+14155238886");
    }
    if provider != "meta" {
        chan["throughput_per_second"] = json!(1000);
    }
    let chan = w.post("channels", chan).await;
    assert_eq!(chan.status, 201, "{}", chan.body);
    let (chan_id, hook_path, hook_secret) = (chan.data()["id"].as_str().unwrap().to_owned(), chan.data()["webhook_path"].as_str().unwrap().to_owned(), chan.data()["webhook_secret"].as_str().unwrap().to_owned());
    if provider != "whapi" {
        let synced = w.post(&format!("channels/{chan_id}/templates/sync"), json!({})).await;
        assert_eq!(synced.status, 200, "{}", synced.body);
    }
    for i in (0..CONTACTS).filter(|i| invalid(*i)) {
        let f = match provider {
            "meta" => Failure::new(400, Some(131026), "Message undeliverable"),
            "twilio" => Failure::new(400, Some(21211), "Invalid 'To' Phone Number"),
            _ => Failure::new(400, None, "Invalid phone"),
        };
        w.fake.script(&number(i), vec![f]);
    }
    let code_429 = if provider == "meta" { Some(130429) } else if provider == "twilio" { Some(20429) } else { None };
    w.fake.script(&number(RATE_LIMITED), vec![Failure::new(429, code_429, "Too Many Requests").retry_after(30)]);

    // The audience: a live count, and a rule error named.
    let rules = json!({"match": "all", "rules": [{"field": "tag", "op": "has", "value": "customers"}]});
    let count = w.post("audiences/count", rules.clone()).await.data().clone();
    assert_eq!((count["matching"].as_u64(), count["opted_out"].as_u64(), count["total"].as_u64()), (Some(500), Some(20), Some(500)), "{count}");
    let vip = w.post("audiences/count", json!({"match": "all", "rules": [{"field": "tag", "op": "has", "value": "vip"}, {"field": "fields.orders", "op": "gt", "value": 3}]})).await.data()["matching"].as_u64().unwrap();
    assert_eq!(vip as usize, (0..CONTACTS).filter(|i| i % 3 == 0 && i % 7 > 3).count());
    let bad = w.post("audiences", json!({"name": "x", "rules": {"match": "all", "rules": [{"field": "tag", "op": "has", "value": "a"}, {"match": "any", "rules": [{"field": "fields.orders", "op": "between"}]}]}})).await;
    bad.assert_error(422, "validation_failed");
    assert!(bad.body.to_string().contains("rules[1].rules[0]"), "{}", bad.body);
    let audience = w.post("audiences", json!({"name": "Customers", "rules": rules})).await.data()["id"].as_str().unwrap().to_owned();

    let draft = json!({"name": "Spring sale", "channel_id": chan_id, "template": template, "variables": [{"source": "name", "default": "there"}], "audience_id": audience});
    // The template is checked before anything is saved: 422s naming what is wrong.
    let refused = |mut body: Value, key: &str, value: Value| {
        body[key] = value;
        body
    };
    let missing_var = w.post("broadcasts", refused(draft.clone(), "variables", json!([]))).await;
    missing_var.assert_error(422, "template_variable_missing");
    assert!(missing_var.body.to_string().contains("body.{{1}}"), "{}", missing_var.body);
    let extra = w.post("broadcasts", refused(draft.clone(), "variables", json!([{"source": "name"}, {"slot": "body.{{2}}", "default": "x"}]))).await;
    extra.assert_error(422, "template_variable_unknown");
    w.post("broadcasts", refused(draft.clone(), "variables", json!([{"slot": "footer", "source": "name"}]))).await.assert_error(422, "validation_failed");
    if provider == "whapi" {
        w.post("broadcasts", refused(draft.clone(), "template", json!({"text": "  "}))).await.assert_error(422, "validation_failed");
    } else {
        let gone = if provider == "meta" { json!({"name": "winter_sale", "language": "en_US"}) } else { json!({"content_sid": format!("HX{}", "cd".repeat(16))}) };
        w.post("broadcasts", refused(draft.clone(), "template", gone)).await.assert_error(422, "template_not_found");
        w.post("broadcasts", refused(draft.clone(), "template", json!({"text": sale}))).await.assert_error(422, "template_required");
    }
    if provider == "meta" {
        w.post("broadcasts", refused(draft.clone(), "template", json!({"name": "summer_sale", "language": "en_US"}))).await.assert_error(422, "template_not_approved");
        w.post("broadcasts", refused(draft.clone(), "template", json!({"name": "spring_sale"}))).await.assert_error(422, "validation_failed");
    }
    assert!(w.get("broadcasts").await.data().as_array().unwrap().is_empty(), "no refused draft was saved");
    let preview = w.post("broadcasts/preview", draft.clone()).await;
    assert_eq!(preview.data()["count"]["matching"], 500, "{}", preview.body);
    assert_eq!(preview.data()["samples"].as_array().unwrap().len(), 3);
    let created = w.post("broadcasts", draft).await;
    assert_eq!((created.status, created.data()["status"].as_str()), (201, Some("draft")), "{}", created.body);
    let bc = created.data()["id"].as_str().unwrap().to_owned();
    if provider != "whapi" {
        assert!(created.data()["template"]["template_id"].as_str().unwrap().starts_with("tpl_"), "stored by library id: {}", created.body);
    }
    assert_eq!(w.post(&format!("broadcasts/{bc}/start"), json!({})).await.data()["status"], "sending");
    w.post(&format!("broadcasts/{bc}/start"), json!({})).await.assert_error(409, "conflict");

    // Send, one clock second at a time; Meta's 80 msg/s bucket bounds each second.
    w.drain().await;
    if provider == "meta" {
        assert_eq!(w.fake.received().iter().filter(|r| r.path.ends_with("/messages")).count(), 80, "Meta's default throughput is 80 messages a second");
    }
    let (mut saw_paused, mut quiet_while_paused) = (false, false);
    for _ in 0..200 {
        let before = w.fake.received().len();
        let view = w.get(&format!("broadcasts/{bc}")).await.data().clone();
        if view["status"] == "completed" {
            break;
        }
        if view["status"] == "paused" {
            saw_paused = true;
            w.drain().await;
            quiet_while_paused |= w.fake.received().len() == before;
        }
        w.clock.advance(chrono::Duration::seconds(1));
        w.drain().await;
    }
    assert!(saw_paused && quiet_while_paused, "the 429 paused the broadcast and nothing went out meanwhile");

    // Exactly once per reachable contact (the rate-limited one twice: the 429, then the send), none to the opted out.
    let mut per_number: HashMap<String, usize> = HashMap::new();
    for r in w.fake.received() {
        *per_number.entry(r.to.trim_start_matches("whatsapp:").trim_start_matches('+').to_owned()).or_default() += 1;
    }
    for i in 0..CONTACTS {
        let want = if opted_out(i) { 0 } else if i == RATE_LIMITED { 2 } else { 1 };
        assert_eq!(per_number.get(&number(i)[1..]).copied().unwrap_or(0), want, "requests to {}", number(i));
    }
    // The rendered template as the provider got it, with the contact's name filled in.
    let to_one = w.fake.received().into_iter().find(|r| r.to.trim_start_matches("whatsapp:").trim_start_matches('+') == &number(1)[1..]).unwrap().body;
    let wanted = match provider {
        "meta" => to_one["template"]["name"] == "spring_sale" && to_one["template"]["components"].to_string().contains("Customer 1"),
        "twilio" => to_one["ContentSid"].as_str().is_some_and(|s| s.starts_with("HXab")) && to_one["ContentVariables"].as_str().unwrap_or_default().contains("Customer 1"),
        _ => to_one.to_string().contains("Hi Customer 1, the spring sale starts now"),
    };
    assert!(wanted, "{to_one}");
    let view = w.get(&format!("broadcasts/{bc}")).await.data().clone();
    let c = &view["counters"];
    assert_eq!(view["status"], "completed", "{view}");
    assert_eq!([&c["recipients"], &c["skipped"], &c["queued"], &c["sent"], &c["failed"]].map(|v| v.as_i64().unwrap()), [500, 20, 480, 470, 10], "{c}");

    // Statuses by webhook: 100 delivered (50 of them read), 5 failed after sending.
    let mut sent_ids = Vec::new();
    for i in (0..CONTACTS).filter(|i| !opted_out(*i) && !invalid(*i)) {
        let id = webtrigger::broadcasts::fanout::message_id_for(&webtrigger::broadcasts::types::BroadcastId::parse(&bc).unwrap(), &webtrigger::whatsapp::types::PhoneNumber::parse(&number(i)).unwrap());
        let (_, m) = webtrigger::whatsapp::messages::load(&w.state, &ws, &id).await.unwrap().unwrap();
        sent_ids.push(m.provider_message_id.unwrap());
    }
    let mut updates: Vec<(String, &str)> = sent_ids[..100].iter().map(|id| (id.clone(), "delivered")).collect();
    updates.extend(sent_ids[..50].iter().map(|id| (id.clone(), "read")));
    updates.extend(sent_ids[100..105].iter().map(|id| (id.clone(), "failed")));
    for hook in status_hook(provider, &updates) {
        assert_eq!(w.hook(provider, &hook_path, &hook_secret, hook).await, 200);
    }
    // A reply from a recipient counts once and labels the conversation with the campaign.
    for _ in 0..2 {
        assert_eq!(w.hook(provider, &hook_path, &hook_secret, inbound_hook(provider, &number(1), "Is it on shoes too?")).await, 200);
    }
    w.drain().await;
    // A redelivered fan-out page changes nothing.
    let again = webtrigger::broadcasts::fanout::FanoutJob { workspace: ws.clone(), broadcast: webtrigger::broadcasts::types::BroadcastId::parse(&bc).unwrap(), page: 0, cursor: None };
    webtrigger::broadcasts::worker::enqueue(&w.state, &[webtrigger::broadcasts::worker::CampaignJob::Fanout(again)]).await.unwrap();
    let requests = w.fake.received().len();
    w.drain().await;
    assert_eq!(w.fake.received().len(), requests, "nothing sent twice");
    let c = w.get(&format!("broadcasts/{bc}")).await.data()["counters"].clone();
    assert_eq!([&c["queued"], &c["sent"], &c["delivered"], &c["read"], &c["failed"], &c["replied"], &c["skipped"]].map(|v| v.as_i64().unwrap()), [480, 465, 100, 50, 15, 1, 20], "{c}");
    let convs = w.get("conversations").await.data()["conversations"].clone();
    assert_eq!(convs[0]["labels"], json!(["campaign:Spring sale"]), "{convs}");

    // Per-recipient list with paging, and the failures CSV with the provider's codes.
    let (mut seen, mut cursor) = (0, None::<String>);
    loop {
        let q = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let page = w.get(&format!("broadcasts/{bc}/recipients?limit=120{q}")).await.data().clone();
        seen += page["recipients"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(n) => cursor = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, 500);
    let skipped = w.get(&format!("broadcasts/{bc}/recipients?status=skipped&limit=200")).await.data()["recipients"].as_array().unwrap().len();
    assert_eq!(skipped, (0..200).filter(|i| opted_out(*i)).count());
    let csv = w.get(&format!("broadcasts/{bc}/failures.csv")).await.body.as_str().unwrap().to_owned();
    assert_eq!(csv.lines().count(), 16, "{csv}");
    assert!(csv.starts_with("phone,name,status,class,code,message\n"), "{csv}");
    assert!(csv.lines().skip(1).all(|l| l.split(',').nth(2) == Some("failed")), "{csv}");
    let permanent = match provider {
        "meta" => "131026",
        "twilio" => "21211",
        _ => "invalid_recipient",
    };
    assert!(csv.contains(permanent) || provider == "whapi", "{csv}");
    assert!(csv.contains(&number(7)), "{csv}");
}

#[tokio::test]
async fn broadcast_on_meta() {
    broadcast_on("meta").await;
}

#[tokio::test]
async fn broadcast_on_twilio() {
    broadcast_on("twilio").await;
}

#[tokio::test]
async fn broadcast_on_whapi() {
    broadcast_on("whapi").await;
}

/// Contacts from the inbox and the API: search by number and name prefix with paging, detail with
/// conversations and consent, patch, CSV export, and the GDPR erase (messages removed, an opt-out kept).
#[tokio::test]
async fn contacts_search_detail_export_and_erase() {
    let mut w = Campaign::new().await;
    let ws = w.ws_id();
    let cred = w.post("credentials", json!({"name": "Meta", "provider": "meta", "access_token": META_TOKEN, "app_secret": APP_SECRET, "phone_number_id": META_PHONE_NUMBER_ID, "waba_id": "102290129340398"})).await.data()["id"].as_str().unwrap().to_owned();
    let chan = w.post("channels", json!({"name": "Support", "credential_id": cred})).await.data().clone();
    let (hook_path, secret) = (chan["webhook_path"].as_str().unwrap().to_owned(), chan["webhook_secret"].as_str().unwrap().to_owned());
    // Two people write in; one later sends STOP. The inbox makes them contacts.
    assert_eq!(w.hook("meta", &hook_path, &secret, inbound_hook("meta", "+447911123456", "Hello")).await, 200);
    let mut other = inbound_hook("meta", "+14155550100", "Hi there");
    if let Hook::Json(v) = &mut other {
        *v = serde_json::from_str(&v.to_string().replace("wamid.REPLY1", "wamid.OTHER").replace("Replier", "Zed Ortiz")).unwrap();
    }
    assert_eq!(w.hook("meta", &hook_path, &secret, other).await, 200);
    w.drain().await;
    let reply = w.post("messages", json!({"channel_id": chan["id"], "to": "+447911123456", "type": "text", "body": "How can we help?"})).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    w.drain().await;
    let mut stop = inbound_hook("meta", "+447911123456", "STOP");
    if let Hook::Json(v) = &mut stop {
        *v = serde_json::from_str(&v.to_string().replace("wamid.REPLY1", "wamid.STOP")).unwrap();
    }
    assert_eq!(w.hook("meta", &hook_path, &secret, stop).await, 200);
    w.drain().await;

    let by_number = w.get("contacts?q=%2B44").await.data()["contacts"].clone();
    assert_eq!((by_number.as_array().unwrap().len(), by_number[0]["phone"].as_str(), by_number[0]["opted_out"].as_bool()), (1, Some("+447911123456"), Some(true)), "{by_number}");
    let by_name = w.get("contacts?q=zed").await.data()["contacts"].clone();
    assert_eq!(by_name[0]["phone"], "+14155550100", "{by_name}");
    let first = w.get("contacts?limit=1").await.data().clone();
    let second = w.get(&format!("contacts?limit=1&cursor={}", first["next_cursor"].as_str().unwrap())).await.data().clone();
    assert_ne!(first["contacts"][0]["phone"], second["contacts"][0]["phone"]);
    w.get("contacts?cursor=garbage").await.assert_error(422, "validation_failed");

    // Added by hand: a national number with its country, details validated, duplicates refused.
    let added = w.post("contacts", json!({"phone": "(415) 555-0199", "default_country": "US", "name": "Hand Made", "tags": ["Walk-in"], "fields": {"orders": 2}})).await;
    assert_eq!((added.status, added.data()["phone"].as_str(), added.data()["tags"].clone()), (201, Some("+14155550199"), json!(["walk-in"])), "{}", added.body);
    w.post("contacts", json!({"phone": "+14155550199"})).await.assert_error(409, "conflict");
    w.post("contacts", json!({"phone": "555-12"})).await.assert_error(422, "validation_failed");
    w.post("contacts", json!({"phone": "+14155550198", "fields": {"Bad Name!": 1}})).await.assert_error(422, "validation_failed");
    w.get("contacts/+14155550198").await.assert_error(404, "not_found");
    let history = w.post("contacts/+14155550199/consent", json!({"opted_out": true})).await;
    assert_eq!((history.status, history.data()[0]["opted_out"].as_bool()), (200, Some(true)), "{}", history.body);
    assert!(history.data()[0]["how"].as_str().unwrap().starts_with("set in the dashboard by"), "{}", history.body);
    assert_eq!(w.get("contacts/+14155550199").await.data()["opted_out"], true);
    w.post("contacts/+14155550199/consent", json!({"opted_out": false})).await;
    assert!(!webtrigger::inbox::consent::is_opted_out(&w.state, &ws, &webtrigger::whatsapp::types::PhoneNumber::parse("+14155550199").unwrap()).await.unwrap());
    assert_eq!(w.call(Method::DELETE, "contacts/+14155550199", json!({})).await.status, 200);

    let patched = w.call(Method::PATCH, "contacts/+14155550100", json!({"add_tags": ["VIP"], "fields": {"city": "Lisbon", "orders": 4}, "time_zone": "+01:00"})).await;
    assert_eq!((patched.status, patched.data()["tags"].clone(), patched.data()["fields"]["orders"].clone()), (200, json!(["vip"]), json!(4.0)), "{}", patched.body);
    w.call(Method::PATCH, "contacts/+14155550100", json!({"fields": {"Bad Name!": 1}})).await.assert_error(422, "validation_failed");
    w.call(Method::PATCH, "contacts/+14155550100", json!({"time_zone": "Mars/Olympus"})).await.assert_error(422, "validation_failed");
    w.get("contacts/+19995550000").await.assert_error(404, "not_found");
    let detail = w.get("contacts/+447911123456").await.data().clone();
    assert_eq!((detail["conversations"].as_array().unwrap().len(), detail["consent_history"][0]["opted_out"].as_bool()), (1, Some(true)), "{detail}");
    let csv = w.get("contacts/export").await.body.as_str().unwrap().to_owned();
    assert!(csv.starts_with("phone,name,tags,time_zone,opted_out,consent_source,consent_at,city,orders\n"), "{csv}");
    assert!(csv.contains("+14155550100,Zed Ortiz,vip,+01:00,false,,,Lisbon,4"), "{csv}");

    // Erase the opted-out contact: everything goes but the suppression record.
    let erased = w.call(Method::DELETE, "contacts/+447911123456", json!({})).await;
    assert_eq!((erased.status, erased.data()["conversations"].as_u64(), erased.data()["messages"].as_u64(), erased.data()["suppression_kept"].as_bool()), (200, Some(1), Some(1), Some(true)), "{}", erased.body);
    assert_eq!(erased.data()["timeline_entries"], 2, "the two inbound messages");
    w.get("contacts/+447911123456").await.assert_error(404, "not_found");
    let convs = w.get("conversations").await.data()["conversations"].clone();
    assert_eq!(convs.as_array().unwrap().iter().map(|c| c["contact"].as_str().unwrap()).collect::<Vec<_>>(), ["+14155550100"]);
    assert!(w.get("messages").await.data().to_string().find("447911123456").is_none(), "no message to the erased number is left");
    assert!(webtrigger::inbox::consent::is_opted_out(&w.state, &ws, &webtrigger::whatsapp::types::PhoneNumber::parse("+447911123456").unwrap()).await.unwrap(), "the opt-out survives");
    let history = w.get("contacts/+447911123456/consent").await.data().clone();
    assert_eq!(history, json!([]), "the consent history is gone");
    let again = w.post("messages", json!({"channel_id": chan["id"], "to": "+447911123456", "type": "template", "name": "hello_world", "language": "en_US"})).await;
    again.assert_error(422, "opted_out");
}

/// A broadcast message queued twice under different claims (a fan-out page redone after a crash, or
/// delivered twice by SQS) is sent once, however the two jobs interleave.
#[tokio::test]
async fn a_message_queued_under_two_claims_is_sent_once() {
    let mut w = Campaign::new().await;
    let ws = w.ws_id();
    w.fake.templates.set_meta(vec![json!({"name": "spring_sale", "parameter_format": "POSITIONAL", "language": "en_US", "status": "APPROVED", "category": "MARKETING", "id": "594425479262001", "components": [{"type": "BODY", "text": "Sale today"}]})]);
    let cred = w.post("credentials", json!({"name": "Meta", "provider": "meta", "access_token": META_TOKEN, "app_secret": APP_SECRET, "phone_number_id": META_PHONE_NUMBER_ID, "waba_id": "102290129340398"})).await.data()["id"].as_str().unwrap().to_owned();
    let chan = w.post("channels", json!({"name": "Sales", "credential_id": cred})).await.data()["id"].as_str().unwrap().to_owned();
    assert_eq!(w.post(&format!("channels/{chan}/templates/sync"), json!({})).await.status, 200);
    let imp = w.post("contacts/imports", json!({"default_country": "US"})).await.data()["id"].as_str().unwrap().to_owned();
    let csv = (0..6).map(|i| format!("{},C{i}", number(i))).collect::<Vec<_>>().join("\n");
    assert_eq!(w.post(&format!("contacts/imports/{imp}/parts"), json!({"part": 1, "csv": format!("Phone,Name\n{csv}"), "last": true})).await.status, 202);
    w.drain().await;
    let bc = w.post("broadcasts", json!({"name": "Twice", "channel_id": chan, "template": {"name": "spring_sale", "language": "en_US"}, "rules": {"match": "all", "rules": []}})).await;
    assert_eq!(bc.status, 201, "{}", bc.body);
    let bc = bc.data()["id"].as_str().unwrap().to_owned();
    w.post(&format!("broadcasts/{bc}/start"), json!({})).await;
    let campaigns = webtrigger::queues::campaigns();
    while webtrigger::local::poll_once(&w.state, &campaigns, &webtrigger::broadcasts::worker::CampaignWorker, Duration::ZERO).await.unwrap() > 0 {}
    let id = webtrigger::broadcasts::types::BroadcastId::parse(&bc).unwrap();
    for i in 0..6 {
        let message = webtrigger::broadcasts::fanout::message_id_for(&id, &webtrigger::whatsapp::types::PhoneNumber::parse(&number(i)).unwrap());
        let copy = webtrigger::whatsapp::messages::SendJob { workspace: ws.clone(), message, attempt: 1, claim: Some("another-run".into()) };
        webtrigger::whatsapp::messages::enqueue(&w.state, &copy, Duration::ZERO).await.unwrap();
    }
    w.drain().await;
    let sends = w.fake.received().into_iter().filter(|r| r.path.ends_with("/messages")).count();
    assert_eq!(sends, 6, "one send per contact, not one per queued copy");
    let c = w.get(&format!("broadcasts/{bc}")).await.data()["counters"].clone();
    assert_eq!((c["queued"].as_i64(), c["sent"].as_i64()), (Some(6), Some(6)), "{c}");
}

/// The same flow on the AWS adapters (DynamoDB, SQS on moto), smaller and without queue delays: CSV
/// import, opted-out skipped, a permanent failure, every other contact sent once with the library
/// template, status webhooks moving the counters, and a message queued under two claims sent once.
#[tokio::test]
async fn broadcast_on_moto() {
    const N: usize = 40;
    let mut w = Campaign::on(true).await;
    let ws = w.ws_id();
    w.fake.templates.set_meta(vec![json!({"name": "spring_sale", "parameter_format": "POSITIONAL", "language": "en_US", "status": "APPROVED", "category": "MARKETING", "id": "594425479262001", "components": [{"type": "BODY", "text": "Hi {{1}}, the sale is on", "example": {"body_text": [["Ada"]]}}]})]);
    let cred = w.post("credentials", json!({"name": "Meta", "provider": "meta", "access_token": META_TOKEN, "app_secret": APP_SECRET, "phone_number_id": META_PHONE_NUMBER_ID, "waba_id": "102290129340398"})).await.data()["id"].as_str().unwrap().to_owned();
    let chan = w.post("channels", json!({"name": "Sales", "credential_id": cred, "throughput_per_second": 1000})).await.data().clone();
    let (chan_id, hook_path, hook_secret) = (chan["id"].as_str().unwrap().to_owned(), chan["webhook_path"].as_str().unwrap().to_owned(), chan["webhook_secret"].as_str().unwrap().to_owned());
    assert_eq!(w.post(&format!("channels/{chan_id}/templates/sync"), json!({})).await.status, 200);
    let imp = w.post("contacts/imports", json!({"default_country": "US"})).await.data()["id"].as_str().unwrap().to_owned();
    let csv = (0..N).map(|i| format!("({}) {}-{},Customer {i},customers", &number(i)[2..5], &number(i)[5..8], &number(i)[8..])).collect::<Vec<_>>().join("\n");
    assert_eq!(w.post(&format!("contacts/imports/{imp}/parts"), json!({"part": 1, "csv": format!("Phone,Name,Tags\n{csv}\nnot a number,Bad,"), "last": true})).await.status, 202);
    w.drain().await;
    let done = w.get(&format!("contacts/imports/{imp}")).await.data().clone();
    assert_eq!((done["imported"].as_u64(), done["failed"].as_u64()), (Some(N as u64), Some(1)), "{done}");
    for i in (0..N).filter(|i| i % 10 == 0) {
        let change = webtrigger::inbox::consent::ConsentChange { contact: webtrigger::whatsapp::types::PhoneNumber::parse(&number(i)).unwrap(), opted_out: true, at: w.clock.now().to_rfc3339(), how: "keyword STOP".into() };
        webtrigger::inbox::consent::record(&w.state, &ws, &change).await.unwrap();
    }
    w.fake.script(&number(7), vec![Failure::new(400, Some(131026), "Message undeliverable")]);
    let draft = json!({"name": "Moto sale", "channel_id": chan_id, "template": {"name": "spring_sale", "language": "en_US"}, "variables": [{"slot": "body.{{1}}", "source": "name", "default": "there"}],
        "rules": {"match": "all", "rules": [{"field": "tag", "op": "has", "value": "customers"}]}});
    w.post("broadcasts", json!({"name": "x", "channel_id": chan_id, "template": {"name": "spring_sale", "language": "en_US"}, "rules": {"match": "all", "rules": []}})).await.assert_error(422, "template_variable_missing");
    let bc = w.post("broadcasts", draft).await.data()["id"].as_str().unwrap().to_owned();
    assert_eq!(w.post(&format!("broadcasts/{bc}/start"), json!({})).await.data()["status"], "sending");
    let campaigns = webtrigger::queues::campaigns();
    while webtrigger::local::poll_once(&w.state, &campaigns, &webtrigger::broadcasts::worker::CampaignWorker, Duration::ZERO).await.unwrap() > 0 || w.state.queue.depth(&campaigns.name).await.unwrap() > 0 {}
    // A second copy of every send, as a redone page would queue it.
    let id = webtrigger::broadcasts::types::BroadcastId::parse(&bc).unwrap();
    for i in (0..N).filter(|i| i % 10 != 0) {
        let message = webtrigger::broadcasts::fanout::message_id_for(&id, &webtrigger::whatsapp::types::PhoneNumber::parse(&number(i)).unwrap());
        let copy = webtrigger::whatsapp::messages::SendJob { workspace: ws.clone(), message, attempt: 1, claim: Some("another-run".into()) };
        webtrigger::whatsapp::messages::enqueue(&w.state, &copy, Duration::ZERO).await.unwrap();
    }
    w.drain().await;
    let mut per_number: HashMap<String, usize> = HashMap::new();
    for r in w.fake.received().into_iter().filter(|r| r.path.ends_with("/messages")) {
        assert!(r.body.to_string().contains("Customer"), "{}", r.body);
        *per_number.entry(format!("+{}", r.to.trim_start_matches('+'))).or_default() += 1;
    }
    for i in 0..N {
        assert_eq!(per_number.get(&number(i)).copied().unwrap_or(0), usize::from(i % 10 != 0), "requests to {}", number(i));
    }
    let view = w.get(&format!("broadcasts/{bc}")).await.data().clone();
    let c = &view["counters"];
    assert_eq!(view["status"], "completed", "{view}");
    assert_eq!([&c["recipients"], &c["skipped"], &c["queued"], &c["sent"], &c["failed"]].map(|v| v.as_i64().unwrap()), [40, 4, 36, 35, 1], "{c}");
    let sent: Vec<String> = (1..6).map(|i| webtrigger::broadcasts::fanout::message_id_for(&id, &webtrigger::whatsapp::types::PhoneNumber::parse(&number(i)).unwrap())).map(|m| m.to_string()).collect();
    let mut updates = Vec::new();
    for m in &sent {
        let (_, msg) = webtrigger::whatsapp::messages::load(&w.state, &ws, &webtrigger::whatsapp::types::MessageId::parse(m).unwrap()).await.unwrap().unwrap();
        updates.push((msg.provider_message_id.unwrap(), "delivered"));
    }
    for hook in status_hook("meta", &updates) {
        assert_eq!(w.hook("meta", &hook_path, &hook_secret, hook).await, 200);
    }
    w.drain().await;
    let c = w.get(&format!("broadcasts/{bc}")).await.data()["counters"].clone();
    assert_eq!((c["sent"].as_i64(), c["delivered"].as_i64()), (Some(35), Some(5)), "{c}");
    let csv = w.get(&format!("broadcasts/{bc}/failures.csv")).await.body.as_str().unwrap().to_owned();
    assert!(csv.contains(&number(7)) && csv.contains("131026"), "{csv}");
}

//! Bot flows end to end on the local binary's backend with the provider fakes: keyword → question →
//! invalid answer re-prompt → buttons → branch → webhook against a loopback server → hand-off into the
//! inbox (assigned, summary note) after which the bot is silent; redelivered webhooks never advance
//! twice; version pinning and rollback; session expiry on a test clock; STOP mid-flow; the step budget;
//! timer waits through the minute tick; API start; pausing the bot; answers, CSV and the funnel.

#[path = "api/client.rs"]
mod client;

use std::sync::{Arc, Mutex};

use aws_lc_rs::hmac;
use axum::http::Method;
use client::Client;
use serde_json::{json, Value};
use webtrigger::ports::FixedClock;
use webtrigger::AppState;
use webtrigger_tests::provider_fakes::{ProviderFake, META_PHONE_NUMBER_ID, META_TOKEN};

const APP_SECRET: &str = "0123456789abcdef0123456789abcdef";

async fn drain(state: &AppState) {
    webtrigger_tests::drain_inbound(state).await;
}

fn meta_inbound(id: &str, from: &str, text: &str) -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"value": {"messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": META_PHONE_NUMBER_ID}, "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": from}],
        "messages": [{"from": from, "id": id, "timestamp": "1749416383", "type": "text", "text": {"body": text}}]}, "field": "messages"}]}]}).to_string()
}

/// A workspace with a Meta channel on the provider fake, and a way to deliver signed inbound messages.
struct Harness {
    state: AppState,
    fake: ProviderFake,
    ada: Client,
    ada_id: String,
    ws: String,
    channel: String,
    hook_path: String,
}

impl Harness {
    async fn new(mut state: AppState, allow: Vec<String>) -> Self {
        let fake = ProviderFake::start().await;
        state.whatsapp = Arc::new(webtrigger::whatsapp::WhatsAppRuntime::new(fake.urls()).with_public_url(Some("https://hooks.example.com".into())));
        state.events_out = Arc::new(webtrigger::events_out::EventsRuntime::new(webtrigger::http::outbound::OutboundPolicy { allow_hosts: allow }));
        let mut ada = Client::new(state.clone());
        let ada_id = ada.sign_up("ada@example.com").await;
        let ws = ada.create_workspace("Bots").await;
        let cred = ada.post(&format!("/v1/workspaces/{ws}/credentials"), json!({"name": "Meta", "provider": "meta", "access_token": META_TOKEN, "app_secret": APP_SECRET, "phone_number_id": META_PHONE_NUMBER_ID, "waba_id": "102290129340398"})).await;
        let ch = ada.post(&format!("/v1/workspaces/{ws}/channels"), json!({"name": "Support", "credential_id": cred.data()["id"]})).await;
        let (channel, hook_path) = (ch.data()["id"].as_str().unwrap().to_owned(), ch.data()["webhook_path"].as_str().unwrap().to_owned());
        Self { state, fake, ada, ada_id, ws, channel, hook_path }
    }

    fn p(&self, rest: &str) -> String {
        format!("/v1/workspaces/{}/{rest}", self.ws)
    }

    /// Delivers a signed inbound text (as Meta would) and runs the workers.
    async fn say(&self, id: &str, from: &str, text: &str) {
        self.deliver(meta_inbound(id, from, text)).await;
    }

    /// Delivers a tap on a reply button (`button_reply`) or list row (`list_reply`), as Meta sends it.
    async fn tap(&self, id: &str, from: &str, kind: &str, reply_id: &str, title: &str) {
        let mut body: Value = serde_json::from_str(&meta_inbound(id, from, "")).unwrap();
        body["entry"][0]["changes"][0]["value"]["messages"][0] = json!({"context": {"from": "15550783881", "id": "wamid.OUT"}, "from": from, "id": id, "timestamp": "1749416383", "type": "interactive", "interactive": {"type": kind, kind: {"id": reply_id, "title": title}}});
        self.deliver(body.to_string()).await;
    }

    async fn deliver(&self, body: String) {
        let key = hmac::Key::new(hmac::HMAC_SHA256, APP_SECRET.as_bytes());
        let sig = format!("sha256={}", hmac::sign(&key, body.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>());
        let mut anon = Client::new(self.state.clone());
        anon.extra_headers = vec![("x-hub-signature-256".into(), sig), ("content-type".into(), "application/json".into())];
        assert_eq!(anon.call_raw(Method::POST, &self.hook_path, body.into_bytes()).await.status, 200);
        drain(&self.state).await;
    }

    /// What the bot sent to `to` (digits), in order: text bodies and interactive bodies.
    fn said(&self, to: &str) -> Vec<String> {
        let text = |b: &Value| b["text"]["body"].as_str().or(b["interactive"]["body"]["text"].as_str()).or(b["template"]["name"].as_str()).unwrap_or_default().to_owned();
        self.fake.received().iter().filter(|r| r.provider == "meta" && r.to == to).map(|r| text(&r.body)).collect()
    }

    async fn flow(&mut self, doc: Value) -> String {
        let created = self.ada.post(&self.p("flows"), doc).await;
        assert_eq!(created.status, 201, "{}", created.body);
        let id = created.data()["id"].as_str().unwrap().to_owned();
        let published = self.ada.post(&self.p(&format!("flows/{id}/publish")), json!({})).await;
        assert_eq!(published.status, 200, "{}", published.body);
        id
    }

    async fn conversation_of(&mut self, contact: &str) -> Value {
        let list = self.ada.get(&self.p("conversations")).await;
        list.data()["conversations"].as_array().unwrap().iter().find(|c| c["contact"] == contact).cloned().unwrap_or_else(|| panic!("no conversation with {contact}: {}", list.body))
    }
}

/// A loopback CRM: answers every POST with a tier and remembers the bodies.
async fn crm() -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/lead",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let s = s.clone();
            async move {
                s.lock().unwrap().push(body);
                axum::Json(json!({"data": {"tier": "gold"}}))
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

/// Runs each case on the embedded backend and on the AWS adapters (DynamoDB, SQS, KMS on moto), with a test clock.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(#[tokio::test]
            async fn $case() {
                let clock = std::sync::Arc::new(webtrigger::ports::FixedClock::new(chrono::Utc::now()));
                let (state, _dir) = webtrigger_tests::embedded_state_with_clock(clock.clone()).await;
                super::$case(state, clock).await
            })*
        }
        mod aws {
            $(#[tokio::test]
            async fn $case() {
                let clock = std::sync::Arc::new(webtrigger::ports::FixedClock::new(chrono::Utc::now()));
                super::$case(webtrigger_tests::aws_state_with_clock(clock.clone()).await, clock).await
            })*
        }
    };
}

on_both_backends!(keyword_question_branch_webhook_and_handoff, pinning_rollback_expiry_stop_budget_timers_and_api_start, taps_lists_business_hours_and_team_handoff);

async fn keyword_question_branch_webhook_and_handoff(state: AppState, _clock: Arc<FixedClock>) {
    let (crm_addr, crm_seen) = crm().await;
    let mut h = Harness::new(state, vec![crm_addr.clone()]).await;

    // Validation names the step and the field.
    let bad = h.ada.post(&h.p("flows"), json!({"name": "Bad", "steps": [{"id": "q", "type": "buttons", "text": "pick", "buttons": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}, {"id": "c", "title": "C"}, {"id": "d", "title": "D"}]}, {"id": "x", "type": "send_text", "text": "hi", "next": "nowhere"}]})).await;
    bad.assert_error(422, "validation_failed");
    let msg = bad.body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("step `q` field `buttons`") && msg.contains("step `x` field `next`: no step `nowhere`"), "{msg}");

    let flow = h.flow(json!({"name": "Leads", "triggers": [{"type": "keyword", "match": "contains", "value": "hello"}], "steps": [
        {"id": "email", "type": "ask", "text": "What is your email?", "into": "email", "kind": "email", "retry_text": "That is not an email; try again", "next": "size"},
        {"id": "size", "type": "buttons", "text": "Which plan?", "buttons": [{"id": "small", "title": "Small"}, {"id": "large", "title": "Large"}], "into": "plan", "next": "route"},
        {"id": "route", "type": "branch", "rules": [{"when": [{"op": "eq", "var": "plan", "value": "large"}], "next": "crm"}], "default": "small_talk"},
        {"id": "small_talk", "type": "send_text", "text": "Small it is."},
        {"id": "crm", "type": "webhook", "url": format!("http://{crm_addr}/lead"), "map": {"tier": "data.tier"}, "next": "tell", "on_error": "small_talk"},
        {"id": "tell", "type": "send_text", "text": "You are {{tier}}. A person will take it from here.", "next": "human"},
        {"id": "human", "type": "handoff", "note": "Lead from the bot"}
    ]})).await;
    let versions = h.ada.get(&h.p(&format!("flows/{flow}/versions"))).await;
    assert_eq!(versions.data().as_array().unwrap().len(), 1);
    assert!(versions.data()[0]["published_by"].as_str().unwrap().starts_with("usr_"));
    let audit = h.ada.get(&h.p("audit")).await;
    assert!(audit.body.to_string().contains("flow.publish"), "{}", audit.body);

    let to = "16505551234";
    h.say("wamid.A1", to, "Hello, I want a quote").await;
    assert_eq!(h.said(to), ["What is your email?"]);
    h.say("wamid.A2", to, "not an email").await;
    assert_eq!(h.said(to).last().unwrap(), "That is not an email; try again");
    // Redelivered webhooks (same provider message id) never advance or re-send.
    for _ in 0..3 {
        h.say("wamid.A2", to, "not an email").await;
    }
    assert_eq!(h.said(to).len(), 2, "{:?}", h.said(to));
    h.say("wamid.A3", to, "Ada@Example.com").await;
    assert_eq!(h.said(to).last().unwrap(), "Which plan?");
    let buttons = h.fake.received().into_iter().rfind(|r| r.to == to).unwrap();
    assert_eq!(buttons.body["interactive"]["action"]["buttons"].as_array().unwrap().len(), 2);
    h.say("wamid.A4", to, "Large").await;
    assert_eq!(h.said(to).last().unwrap(), "You are gold. A person will take it from here.");
    let crm_body = crm_seen.lock().unwrap().clone();
    assert_eq!(crm_body.len(), 1);
    assert_eq!(crm_body[0]["variables"]["email"], "ada@example.com");

    // The hand-off shows in the inbox: assigned, with a note summarising what was captured.
    let conv = h.conversation_of("+16505551234").await;
    assert!(conv["assignee"].as_str().is_some_and(|a| a.starts_with("usr_")), "{conv}");
    let conv_id = conv["id"].as_str().unwrap().to_owned();
    let tl = h.ada.get(&h.p(&format!("conversations/{conv_id}/messages?limit=100"))).await;
    let note = tl.data()["entries"].as_array().unwrap().iter().find(|e| e["direction"] == "note").expect("hand-off note").clone();
    let note_text = note["text"].as_str().unwrap();
    assert!(note_text.contains("Lead from the bot") && note_text.contains("email: ada@example.com") && note_text.contains("plan: large"), "{note_text}");
    assert!(tl.data()["entries"].as_array().unwrap().iter().any(|e| e["author"] == "bot" && e["direction"] == "outbound"), "bot messages are in the timeline");
    let bot = h.ada.get(&h.p(&format!("conversations/{conv_id}/bot"))).await;
    assert_eq!(bot.data()["control"]["reason"], "handoff", "{}", bot.body);

    // The bot stops for this conversation…
    h.say("wamid.A5", to, "hello? anyone?").await;
    assert_eq!(h.said(to).len(), 4);
    // …until an agent resolves it.
    assert_eq!(h.ada.post(&h.p(&format!("conversations/{conv_id}/resolve")), json!({})).await.status, 200);
    h.say("wamid.A6", to, "hello again").await;
    assert_eq!(h.said(to).last().unwrap(), "What is your email?");

    // Captured answers: JSON pages with a cursor, and CSV.
    let page = h.ada.get(&h.p(&format!("flows/{flow}/answers?limit=1"))).await;
    assert_eq!(page.data()["answers"].as_array().unwrap().len(), 1, "{}", page.body);
    let cursor = page.data()["next_cursor"].as_str().expect("more pages").to_owned();
    let next = h.ada.get(&h.p(&format!("flows/{flow}/answers?limit=10&cursor={cursor}"))).await;
    assert_eq!(next.data()["answers"].as_array().unwrap().len(), 1);
    assert_ne!(page.data()["answers"][0]["into"], next.data()["answers"][0]["into"]);
    let csv = h.ada.get(&h.p(&format!("flows/{flow}/answers.csv"))).await;
    assert_eq!(csv.status, 200);
    let csv_text = csv.body.as_str().map(str::to_owned).unwrap_or_else(|| csv.body.to_string());
    assert!(csv_text.contains("ada@example.com") && csv_text.contains(",plan,large"), "{csv_text}");
    h.ada.get(&h.p(&format!("flows/{flow}/answers?cursor=garbage"))).await.assert_error(422, "validation_failed");

    // Another tenant sees none of it: the same 404 as a flow that does not exist.
    let mut eve = Client::new(h.state.clone());
    eve.sign_up("eve@example.com").await;
    eve.create_workspace("Elsewhere").await;
    for path in [format!("flows/{flow}"), format!("flows/{flow}/answers"), format!("conversations/{conv_id}/bot")] {
        eve.get(&h.p(&path)).await.assert_error(404, "not_found");
    }
    eve.post(&h.p(&format!("flows/{flow}/publish")), json!({})).await.assert_error(404, "not_found");

    // The funnel counts per step.
    let funnel = h.ada.get(&h.p(&format!("flows/{flow}/funnel"))).await;
    let email = funnel.data().as_array().unwrap().iter().find(|s| s["step"] == "email").unwrap().clone();
    assert_eq!((email["entered"].as_i64(), email["completed"].as_i64()), (Some(2), Some(1)), "{}", funnel.body);
    assert!(email["average_seconds"].as_f64().is_some(), "{}", funnel.body);
    // Counted in the commit that moved the conversation: the three redeliveries of wamid.A2 added nothing.
    let row = |id: &str| funnel.data().as_array().unwrap().iter().find(|s| s["step"] == id).map(|s| (s["entered"].as_i64().unwrap(), s["completed"].as_i64().unwrap(), s["dropped"].as_i64().unwrap()));
    assert_eq!(email["dropped"].as_i64(), Some(0), "{}", funnel.body);
    assert_eq!((row("size"), row("crm"), row("human"), row("small_talk")), (Some((1, 1, 0)), Some((1, 1, 0)), Some((1, 1, 0)), None), "{}", funnel.body);
}

async fn pinning_rollback_expiry_stop_budget_timers_and_api_start(state: AppState, clock: Arc<FixedClock>) {
    let mut h = Harness::new(state, vec![]).await;
    let doc = |thanks: &str| json!({"name": "Greeter", "priority": 1, "triggers": [{"type": "keyword", "value": "start"}], "steps": [
        {"id": "name", "type": "ask", "text": "Your name?", "into": "contact.name", "next": "thanks"},
        {"id": "thanks", "type": "send_text", "text": format!("{thanks} {{{{contact.name}}}}")}
    ]});
    let greeter = h.flow(doc("v1 thanks")).await;

    // Version pinning: a conversation started on v1 finishes on v1 after v2 is published.
    h.say("wamid.P1", "16505550001", "START").await;
    assert_eq!(h.ada.call(Method::PUT, &h.p(&format!("flows/{greeter}")), Some(doc("v2 thanks"))).await.status, 200);
    let v2 = h.ada.post(&h.p(&format!("flows/{greeter}/publish")), json!({})).await;
    assert_eq!(v2.data()["live_version"], 2);
    h.say("wamid.P2", "16505550001", "Bob").await;
    assert_eq!(h.said("16505550001"), ["Your name?", "v1 thanks Bob"]);
    h.say("wamid.P3", "16505550002", "start").await;
    h.say("wamid.P4", "16505550002", "Eve").await;
    assert_eq!(h.said("16505550002").last().unwrap(), "v2 thanks Eve");
    // Rollback: v1 is live again for new conversations.
    assert_eq!(h.ada.post(&h.p(&format!("flows/{greeter}/publish")), json!({"version": 1})).await.data()["live_version"], 1);
    h.say("wamid.P5", "16505550003", "start").await;
    h.say("wamid.P6", "16505550003", "Ann").await;
    assert_eq!(h.said("16505550003").last().unwrap(), "v1 thanks Ann");
    h.ada.post(&h.p(&format!("flows/{greeter}/publish")), json!({"version": 9})).await.assert_error(404, "not_found");

    // Expiry: 25 hours later the question no longer holds the conversation.
    h.say("wamid.E1", "16505550004", "start").await;
    clock.advance(chrono::Duration::hours(25));
    h.ada.refresh().await;
    h.say("wamid.E2", "16505550004", "Carl").await;
    assert_eq!(h.said("16505550004"), ["Your name?"], "an expired session does not take the answer");

    // STOP mid-flow: nothing more is sent, even for a later answer.
    h.say("wamid.S1", "16505550005", "start").await;
    h.say("wamid.S2", "16505550005", "STOP").await;
    h.say("wamid.S3", "16505550005", "Dan").await;
    assert_eq!(h.said("16505550005"), ["Your name?"]);

    // The step budget stops a loop through zero-second waits.
    h.flow(json!({"name": "Loop", "triggers": [{"type": "keyword", "value": "loop"}], "steps": [
        {"id": "a", "type": "send_text", "text": "again", "next": "w"}, {"id": "w", "type": "wait", "seconds": 0, "next": "a"}]})).await;
    h.say("wamid.L1", "16505550006", "loop").await;
    assert_eq!(h.said("16505550006").len(), webtrigger::flows::engine::STEP_BUDGET / 2);

    // A timer wait continues from the minute tick, once.
    h.flow(json!({"name": "Remind", "triggers": [{"type": "keyword", "value": "remind me"}], "steps": [
        {"id": "a", "type": "send_text", "text": "Soon", "next": "w"}, {"id": "w", "type": "wait", "seconds": 120, "next": "b"}, {"id": "b", "type": "send_text", "text": "Now"}]})).await;
    h.say("wamid.T1", "16505550007", "remind me").await;
    assert_eq!(webtrigger::flows::runtime::sweep_due(&h.state).await.unwrap(), 0, "not due yet");
    clock.advance(chrono::Duration::minutes(3));
    assert_eq!(webtrigger::flows::runtime::sweep_due(&h.state).await.unwrap(), 1);
    assert_eq!(webtrigger::flows::runtime::sweep_due(&h.state).await.unwrap(), 0, "fires once");
    drain(&h.state).await;
    assert_eq!(h.said("16505550007"), ["Soon", "Now"]);
    let remind_id = h.ada.get(&h.p("flows")).await.data().as_array().unwrap().iter().find(|f| f["draft"]["name"] == "Remind").unwrap()["id"].as_str().unwrap().to_owned();
    let funnel = h.ada.get(&h.p(&format!("flows/{remind_id}/funnel"))).await;
    let wait = funnel.data().as_array().unwrap().iter().find(|s| s["step"] == "w").unwrap().clone();
    assert_eq!((wait["completed"].as_i64(), wait["average_seconds"].as_f64()), (Some(1), Some(180.0)), "{}", funnel.body);

    // API start, and an agent pausing the bot. The contact never wrote, so only a template gets through
    // the 24-hour window: a flow that opens with free text sends nothing.
    let cold = h.ada.post(&h.p(&format!("flows/{greeter}/start")), json!({"channel_id": h.channel, "contact": "+16505550009"})).await;
    assert_eq!(cold.status, 200, "{}", cold.body);
    drain(&h.state).await;
    assert!(h.said("16505550009").is_empty(), "free text outside the window is not sent");
    let outreach = h.flow(json!({"name": "Outreach", "triggers": [{"type": "api"}], "steps": [
        {"id": "hello", "type": "send_template", "name": "order_update", "language": "en_US", "variables": ["{{order}}"], "next": "name"},
        {"id": "name", "type": "ask", "text": "Your name?", "into": "contact.name", "next": "thanks"},
        {"id": "thanks", "type": "send_text", "text": "Outreach thanks {{contact.name}}"}]})).await;
    let started = h.ada.post(&h.p(&format!("flows/{outreach}/start")), json!({"channel_id": h.channel, "contact": "+16505550008", "variables": {"order": "A-1"}})).await;
    assert_eq!(started.status, 200, "{}", started.body);
    assert_eq!(started.data()["vars"]["order"], "A-1");
    drain(&h.state).await;
    let template = h.fake.received().into_iter().rfind(|r| r.to == "16505550008").expect("template sent");
    assert_eq!(template.body["template"]["name"], "order_update", "{}", template.body);
    h.ada.post(&h.p(&format!("flows/{outreach}/start")), json!({"channel_id": h.channel, "contact": "12"})).await.assert_error(422, "validation_failed");
    let conv = h.conversation_of("+16505550008").await["id"].as_str().unwrap().to_owned();
    assert_eq!(h.ada.post(&h.p(&format!("conversations/{conv}/bot")), json!({"paused": true})).await.status, 200);
    h.say("wamid.B1", "16505550008", "Zed").await;
    assert_eq!(h.said("16505550008").len(), 1, "a paused bot stays silent");
    assert_eq!(h.ada.post(&h.p(&format!("conversations/{conv}/bot")), json!({"paused": false})).await.status, 200);
    h.say("wamid.B2", "16505550008", "Zed").await;
    assert_eq!(h.said("16505550008").last().unwrap(), "Outreach thanks Zed");
}

/// `HH:MM` of `t` moved by `minutes` (wrapping round the day).
fn hhmm(t: chrono::NaiveTime, minutes: i64) -> String {
    (t + chrono::Duration::minutes(minutes)).format("%H:%M").to_string()
}

async fn taps_lists_business_hours_and_team_handoff(state: AppState, clock: Arc<FixedClock>) {
    let mut h = Harness::new(state, vec![]).await;
    let team = h.ada.post(&h.p("teams"), json!({"name": "Billing", "members": [h.ada_id]})).await;
    assert_eq!(team.status, 201, "{}", team.body);
    let team = team.data()["id"].as_str().unwrap().to_owned();

    // The workspace time zone: an IANA name, checked; business hours are read in it.
    h.ada.call(Method::PATCH, &format!("/v1/workspaces/{}", h.ws), Some(json!({"time_zone": "Mars/Olympus"}))).await.assert_error(422, "validation_failed");
    let set = h.ada.call(Method::PATCH, &format!("/v1/workspaces/{}", h.ws), Some(json!({"time_zone": "Asia/Tokyo"}))).await;
    assert_eq!((set.status, set.data()["time_zone"].as_str(), set.data()["name"].as_str()), (200, Some("Asia/Tokyo"), Some("Bots")), "{}", set.body);
    // Open for the two hours around now in Tokyo; that window is nine hours away from UTC's clock.
    let tokyo = webtrigger::ports::Clock::now(clock.as_ref()).with_timezone(&chrono_tz::Asia::Tokyo);
    let day = tokyo.format("%a").to_string().to_lowercase();
    let hours = json!({"op": "business_hours", "days": [day], "from": hhmm(tokyo.time(), -60), "to": hhmm(tokyo.time(), 60)});

    h.flow(json!({"name": "Menu", "triggers": [{"type": "button_reply", "id": "menu_open"}], "steps": [
        {"id": "hours", "type": "branch", "rules": [{"when": [hours], "next": "pick"}], "default": "closed"},
        {"id": "pick", "type": "list", "text": "What do you need?", "button": "Topics", "rows": [{"id": "billing", "title": "Billing"}, {"id": "sales", "title": "Sales"}], "into": "topic", "next": "route"},
        {"id": "route", "type": "branch", "rules": [{"when": [{"op": "eq", "var": "reply_id", "value": "billing"}], "next": "billing"}], "default": "sales_msg"},
        {"id": "billing", "type": "handoff", "team": team, "note": "Billing question"},
        {"id": "sales_msg", "type": "send_text", "text": "Sales will write soon"},
        {"id": "closed", "type": "send_text", "text": "We are closed"}
    ]})).await;

    // A tapped button starts the flow by its id (its title matches no keyword); the list goes out as a Meta list.
    let to = "16505550101";
    h.tap("wamid.M1", to, "button_reply", "menu_open", "Open the menu").await;
    let list = h.fake.received().into_iter().rfind(|r| r.to == to).expect("the list was sent");
    assert_eq!(list.body["interactive"]["type"], "list", "{}", list.body);
    assert_eq!(list.body["interactive"]["action"]["button"], "Topics");
    assert_eq!(list.body["interactive"]["action"]["sections"][0]["rows"][0], json!({"id": "billing", "title": "Billing"}));
    // The row is picked by its id, whatever title the phone showed, and the branch reads `reply_id`.
    h.tap("wamid.M2", to, "list_reply", "billing", "Facturación").await;
    let conv = h.conversation_of("+16505550101").await;
    assert_eq!(conv["team_id"], team.as_str(), "the hand-off went to the flow's team: {conv}");
    assert_eq!(conv["assignee"], h.ada_id.as_str(), "round-robin among the team's available members: {conv}");
    let conv_id = conv["id"].as_str().unwrap();
    let tl = h.ada.get(&h.p(&format!("conversations/{conv_id}/messages?limit=100"))).await;
    let note = tl.data()["entries"].as_array().unwrap().iter().find(|e| e["direction"] == "note").cloned().expect("hand-off note");
    assert!(note["text"].as_str().unwrap().contains("topic: billing"), "{note}");
    assert_eq!(h.said(to).len(), 1, "the bot said nothing after the hand-off");

    // Typed text still picks a row (by number); the default branch runs when the tap is not billing.
    let other = "16505550102";
    h.tap("wamid.M3", other, "button_reply", "menu_open", "Open the menu").await;
    h.say("wamid.M4", other, "2").await;
    assert_eq!(h.said(other).last().unwrap(), "Sales will write soon");

    // Back in UTC the same moment is outside the hours: the flow says it is closed.
    let utc = h.ada.call(Method::PATCH, &format!("/v1/workspaces/{}", h.ws), Some(json!({"time_zone": ""}))).await;
    assert_eq!((utc.status, &utc.data()["time_zone"]), (200, &Value::Null), "{}", utc.body);
    let late = "16505550103";
    h.tap("wamid.M5", late, "button_reply", "menu_open", "Open the menu").await;
    assert_eq!(h.said(late), ["We are closed"]);

    // A hand-off naming a team that does not exist is refused at save, on the step.
    let bad = h.ada.post(&h.p("flows"), json!({"name": "Bad", "steps": [{"id": "h", "type": "handoff", "team": "billing"}]})).await;
    bad.assert_error(422, "validation_failed");
    assert!(bad.body["error"]["message"].as_str().unwrap().contains("step `h` field `team`"), "{}", bad.body);
}

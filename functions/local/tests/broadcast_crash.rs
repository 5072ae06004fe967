//! `kill -9` of the real `webtrigger serve` in the middle of a WhatsApp broadcast to 300 contacts (10 of
//! them opted out), then a restart on the same data dir: the Meta fake accepts exactly one message per
//! reachable contact, none for the opted out, the broadcast's counters equal what the fake accepted, and
//! the status reaches `completed`.
//!
//! Meta's API has no idempotency key, so a send the provider accepted but the dying process never
//! recorded would be sent again by any design. The kill is therefore made to land where the platform is
//! answerable for it: the fake holds the chosen send unanswered, waits until every send it already
//! accepted is recorded in the data dir, then kills the server; the held send and any that arrive
//! after it are answered 503 to a dead process. Everything else — fan-out pages being redone, send jobs
//! queued twice, jobs in flight redelivered — is the platform's to get exactly right.

mod support;

use std::collections::BTreeMap;
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{kill, Server};
use webtrigger_tests::provider_fakes::{ProviderFake, META_PHONE_NUMBER_ID, META_TOKEN};
use webtrigger_tests::template_fakes::META_WABA_ID;

const CONTACTS: usize = 300;
/// `kill_at` meaning: hold every send of this life until the test kills the server itself.
const HOLD_ALL: usize = usize::MAX;

fn number(i: usize) -> String {
    format!("+1415555{i:04}")
}

fn opted_out(i: usize) -> bool {
    i % 30 == 3
}

fn start(data_dir: &std::path::Path, fake: &ProviderFake) -> Server {
    let meta = fake.urls().meta;
    let envs = [("WEBTRIGGER_META_GRAPH_URL", meta.as_str()), ("WEBTRIGGER_TWILIO_API_URL", "http://127.0.0.1:9"), ("WEBTRIGGER_WHAPI_API_URL", "http://127.0.0.1:9")];
    support::start(data_dir, &[], &envs)
}

fn wait_killed(child: &mut Child) {
    support::wait_killed(child, Duration::from_secs(120));
}

/// Decides, per send the fake is about to answer, whether this life of the server ends here.
struct Killer {
    data_dir: std::path::PathBuf,
    fake: ProviderFake,
    pid: AtomicU32,
    kill_at: AtomicUsize,
    killed: AtomicBool,
    one_at_a_time: tokio::sync::Mutex<()>,
}

impl Killer {
    async fn gate(self: Arc<Self>, n: usize) -> bool {
        let at = self.kill_at.load(Ordering::SeqCst);
        if at == 0 || n < at {
            return false;
        }
        let _one = self.one_at_a_time.lock().await;
        if self.killed.load(Ordering::SeqCst) {
            return true;
        }
        if at == HOLD_ALL {
            while !self.killed.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            return true;
        }
        self.wait_recorded().await;
        kill(self.pid.load(Ordering::SeqCst));
        self.killed.store(true, Ordering::SeqCst);
        true
    }

    /// Waits (bounded) until every send the fake accepted is recorded as sent in the data dir.
    async fn wait_recorded(&self) {
        let state = webtrigger::AppState::embedded(&self.data_dir, Arc::new(webtrigger::ports::SystemClock)).expect("open the data dir");
        let deadline = Instant::now() + Duration::from_secs(60);
        'poll: while Instant::now() < deadline {
            for (_, id) in self.fake.accepted() {
                let pointer = state.table.get(&webtrigger::whatsapp::worker::provider_message_key("meta", &id)).await.unwrap();
                let recorded = match pointer {
                    Some(p) => {
                        let (ws, msg) = (p.attrs["workspace"].as_str().unwrap(), p.attrs["message"].as_str().unwrap());
                        let m = webtrigger::whatsapp::messages::load(&state, &webtrigger::auth::WorkspaceId::parse(ws).unwrap(), &webtrigger::whatsapp::types::MessageId::parse(msg).unwrap()).await.unwrap();
                        m.is_some_and(|(_, m)| m.provider_message_id.as_deref() == Some(id.as_str()))
                    }
                    None => false,
                };
                if !recorded {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue 'poll;
                }
            }
            return;
        }
        eprintln!("some accepted sends were never recorded; killing anyway");
    }
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
    ws: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, rest: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.http.request(method, format!("{}/v1/workspaces/{}/{rest}", self.base, self.ws)).bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let response = r.send().await.expect("request");
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, rest: &str, body: Value) -> Value {
        let (status, answer) = self.call(reqwest::Method::POST, rest, Some(body)).await;
        assert!((200..300).contains(&status), "POST {rest}: {status} {answer}");
        answer["data"].clone()
    }

    async fn get(&self, rest: &str) -> Value {
        let (status, answer) = self.call(reqwest::Method::GET, rest, None).await;
        assert_eq!(status, 200, "GET {rest}: {answer}");
        answer["data"].clone()
    }

    /// Polls `rest` until `done` holds for its data (generous deadline).
    async fn wait_for(&self, rest: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let data = self.get(rest).await;
            if done(&data) {
                return data;
            }
            assert!(Instant::now() < deadline, "{rest} never got there: {data}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A workspace with a Meta channel whose approved template is synced, 300 imported contacts (10 opted
/// out) and a draft broadcast to them. Returns the API and the broadcast id.
async fn set_up(base: &str, data_dir: &std::path::Path, fake: &ProviderFake) -> (Api, String) {
    let http = reqwest::Client::new();
    let signup: Value = http.post(format!("{base}/v1/auth/signup")).json(&json!({"email": "ada@example.com", "password": "correct horse battery"})).send().await.unwrap().json().await.unwrap();
    let token = signup["data"]["access_token"].as_str().expect("signed up").to_owned();
    let created: Value = http.post(format!("{base}/v1/workspaces")).bearer_auth(&token).json(&json!({"name": "Shop"})).send().await.unwrap().json().await.unwrap();
    let api = Api { http, base: base.to_owned(), token, ws: created["data"]["id"].as_str().expect("workspace").to_owned() };

    fake.templates.set_meta(vec![json!({"name": "spring_sale", "parameter_format": "POSITIONAL", "language": "en_US", "status": "APPROVED", "category": "MARKETING", "id": "594425479263001",
        "components": [{"type": "BODY", "text": "Hi {{1}}, the spring sale starts now", "example": {"body_text": [["Ada"]]}}]})]);
    let cred = api.post("credentials", json!({"name": "Meta", "provider": "meta", "access_token": META_TOKEN, "app_secret": "0123456789abcdef0123456789abcdef", "phone_number_id": META_PHONE_NUMBER_ID, "waba_id": META_WABA_ID})).await;
    let chan = api.post("channels", json!({"name": "Sales", "credential_id": cred["id"]})).await["id"].as_str().unwrap().to_owned();
    assert_eq!(api.post(&format!("channels/{chan}/templates/sync"), json!({})).await["added"], 1);

    let csv: String = std::iter::once("Phone,Name,Tags".to_owned()).chain((0..CONTACTS).map(|i| format!("{},Customer {i},customers", number(i)))).collect::<Vec<_>>().join("\n");
    let import = api.post("contacts/imports", json!({"default_country": "US", "consent_source": "checkout"})).await["id"].as_str().unwrap().to_owned();
    api.post(&format!("contacts/imports/{import}/parts"), json!({"part": 1, "csv": csv, "last": true})).await;
    let done = api.wait_for(&format!("contacts/imports/{import}"), |d| d["status"] == "completed").await;
    assert_eq!(done["imported"], CONTACTS, "{done}");

    let state = webtrigger::AppState::embedded(data_dir, Arc::new(webtrigger::ports::SystemClock)).expect("open the data dir");
    let ws = webtrigger::auth::WorkspaceId::parse(&api.ws).unwrap();
    for i in (0..CONTACTS).filter(|i| opted_out(*i)) {
        let change = webtrigger::inbox::consent::ConsentChange { contact: webtrigger::whatsapp::types::PhoneNumber::parse(&number(i)).unwrap(), opted_out: true, at: webtrigger::ports::Clock::now(&webtrigger::ports::SystemClock).to_rfc3339(), how: "keyword STOP".into() };
        webtrigger::inbox::consent::record(&state, &ws, &change).await.unwrap();
    }
    let draft = json!({"name": "Spring sale", "channel_id": chan, "template": {"name": "spring_sale", "language": "en_US"}, "variables": [{"source": "name", "default": "there"}],
        "rules": {"match": "all", "rules": [{"field": "tag", "op": "has", "value": "customers"}]}});
    let bc = api.post("broadcasts", draft).await["id"].as_str().unwrap().to_owned();
    (api, bc)
}

enum KillPoint {
    /// Before answering these sends (counted across restarts).
    AtSends(Vec<usize>),
    /// As soon as the start was answered (the fan-out is starting; every send of that life is held).
    AfterStartAnswered,
}

async fn crash_and_recover(kill_point: KillPoint) {
    let fake = ProviderFake::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    let mut server = start(&data_dir, &fake);
    let killer = Arc::new(Killer { data_dir: data_dir.clone(), fake: fake.clone(), pid: AtomicU32::new(server.child.id()), kill_at: AtomicUsize::new(0), killed: AtomicBool::new(false), one_at_a_time: Default::default() });
    let gate = killer.clone();
    fake.set_send_gate(Arc::new(move |n| Box::pin(gate.clone().gate(n))));
    let (mut api, bc) = set_up(&server.base, &data_dir, &fake).await;

    let mut kills = match &kill_point {
        KillPoint::AtSends(at) => at.clone(),
        KillPoint::AfterStartAnswered => vec![HOLD_ALL],
    }
    .into_iter();
    killer.kill_at.store(kills.next().unwrap(), Ordering::SeqCst);
    let started = api.post(&format!("broadcasts/{bc}/start"), json!({})).await;
    assert_eq!(started["status"], "sending", "{started}");
    if let KillPoint::AfterStartAnswered = kill_point {
        kill(server.child.id());
        killer.killed.store(true, Ordering::SeqCst);
    }

    let mut lives = 1;
    loop {
        tokio::task::block_in_place(|| wait_killed(&mut server.child));
        lives += 1;
        let next_kill = kills.next().unwrap_or(0);
        killer.kill_at.store(next_kill, Ordering::SeqCst);
        server = start(&data_dir, &fake);
        killer.pid.store(server.child.id(), Ordering::SeqCst);
        killer.killed.store(false, Ordering::SeqCst);
        api.base = server.base.clone();
        if next_kill == 0 {
            break;
        }
    }

    let view = api.wait_for(&format!("broadcasts/{bc}"), |v| v["status"] == "completed").await;
    let mut accepted: BTreeMap<String, usize> = BTreeMap::new();
    for (to, _) in fake.accepted() {
        *accepted.entry(format!("+{}", to.trim_start_matches('+'))).or_default() += 1;
    }
    for i in 0..CONTACTS {
        let want = usize::from(!opted_out(i));
        assert_eq!(accepted.get(&number(i)).copied().unwrap_or(0), want, "messages the provider accepted for {} over {lives} lives", number(i));
    }
    let reachable = (0..CONTACTS).filter(|i| !opted_out(*i)).count() as i64;
    let c = &view["counters"];
    assert_eq!([&c["recipients"], &c["skipped"], &c["queued"], &c["sent"], &c["failed"]].map(|v| v.as_i64().unwrap()), [CONTACTS as i64, CONTACTS as i64 - reachable, reachable, fake.accepted().len() as i64, 0], "counters equal what the provider accepted: {view}");
    let requests = fake.received().iter().filter(|r| r.path.ends_with("/messages")).count();
    assert!(requests > fake.accepted().len() || matches!(kill_point, KillPoint::AfterStartAnswered), "a send was cut off by the kill ({requests} requests)");
    // Each recipient's message carries the id the provider gave it.
    let ids: std::collections::BTreeSet<String> = fake.accepted().into_iter().map(|(_, id)| id).collect();
    let mut cursor = String::new();
    let mut seen = 0;
    loop {
        let page = api.get(&format!("broadcasts/{bc}/recipients?limit=200{cursor}")).await;
        for r in page["recipients"].as_array().unwrap() {
            seen += 1;
            assert!(r["status"] == "sent" || r["status"] == "skipped", "{r}");
        }
        match page["next_cursor"].as_str() {
            Some(n) => cursor = format!("&cursor={n}"),
            None => break,
        }
    }
    assert_eq!((seen, ids.len() as i64), (CONTACTS, reachable));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broadcast_killed_mid_sending_twice_then_restarted() {
    crash_and_recover(KillPoint::AtSends(vec![40, 170])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broadcast_killed_at_the_first_send_while_pages_fan_out() {
    crash_and_recover(KillPoint::AtSends(vec![1])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broadcast_killed_right_after_the_start_was_answered() {
    crash_and_recover(KillPoint::AfterStartAnswered).await;
}

//! RSS/Atom feeds end to end on a loopback feed server: the first poll takes existing items as seen, a
//! new item becomes exactly one notification (and one push), a replayed job, a poll-now and a restart
//! over the same data send nothing again, conditional GETs (ETag and Last-Modified) answer 304, broken
//! feeds are recorded on their row while the tick goes on, `newest_only`, pausing, validation, roles,
//! tenant isolation and the SSRF guard. The core flow also runs on the AWS adapters (moto).

#[path = "api/client.rs"]
mod client;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use client::Client;
use serde_json::{json, Value};
use webtrigger::feeds::poller::FeedWorker;
use webtrigger::ports::SystemClock;
use webtrigger::AppState;
use webtrigger_tests::browser::Browser;

/// A document the feed server serves, with its validators.
#[derive(Clone, Default)]
struct Doc {
    body: String,
    etag: Option<String>,
    last_modified: Option<String>,
    status: Option<u16>,
}

/// What the feed server holds and what it was asked: (path, If-None-Match, If-Modified-Since).
#[derive(Default)]
struct FeedServer {
    docs: HashMap<String, Doc>,
    requests: Vec<(String, Option<String>, Option<String>)>,
}

type Shared = Arc<Mutex<FeedServer>>;

async fn serve_doc(State(s): State<Shared>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (inm, ims) = (header("if-none-match"), header("if-modified-since"));
    let mut s = s.lock().unwrap();
    s.requests.push((name.clone(), inm.clone(), ims.clone()));
    let Some(doc) = s.docs.get(&name).cloned() else { return StatusCode::NOT_FOUND.into_response() };
    if let Some(code) = doc.status {
        return StatusCode::from_u16(code).unwrap().into_response();
    }
    if (doc.etag.is_some() && inm == doc.etag) || (doc.etag.is_none() && doc.last_modified.is_some() && ims == doc.last_modified) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mut resp = ([("content-type", "application/xml")], doc.body).into_response();
    if let Some(e) = doc.etag {
        resp.headers_mut().insert("etag", e.parse().unwrap());
    }
    if let Some(lm) = doc.last_modified {
        resp.headers_mut().insert("last-modified", lm.parse().unwrap());
    }
    resp
}

async fn accept_push(State(seen): State<Arc<Mutex<Vec<String>>>>, Path(name): Path<String>) -> StatusCode {
    seen.lock().unwrap().push(name);
    StatusCode::CREATED
}

async fn listen(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    host
}

fn rss(items: &[(&str, &str)]) -> String {
    let items: String = items
        .iter()
        .map(|(guid, title)| format!("<item><title>{title}</title><link>https://blog.example.com/{guid}</link><guid>{guid}</guid><description>&lt;p&gt;About {title}&lt;/p&gt;</description><enclosure url=\"https://cdn.example.com/{guid}.jpg\" type=\"image/jpeg\"/></item>"))
        .collect();
    format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Shop blog</title><link>https://blog.example.com/</link>{items}</channel></rss>")
}

fn atom(entries: &[(&str, &str, &str)]) -> String {
    let entries: String = entries
        .iter()
        .map(|(id, title, updated)| format!("<entry><id>urn:{id}</id><title>{title}</title><updated>{updated}</updated><link href=\"https://example.com/{id}\"/><summary>{title} notes</summary></entry>"))
        .collect();
    format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Changelog</title><id>urn:changelog</id><updated>2026-12-01T00:00:00Z</updated>{entries}</feed>")
}

struct World {
    state: AppState,
    admin: Client,
    ws: String,
    site: String,
    feed_host: String,
    server: Shared,
    pushes: Arc<Mutex<Vec<String>>>,
}

impl World {
    fn feeds(&self) -> String {
        format!("/v1/workspaces/{}/sites/{}/feeds", self.ws, self.site)
    }

    fn url(&self, doc: &str) -> String {
        format!("http://{}/{doc}", self.feed_host)
    }

    fn serve(&self, name: &str, doc: Doc) {
        self.server.lock().unwrap().docs.insert(name.to_owned(), doc);
    }

    fn requests(&self, name: &str) -> Vec<(Option<String>, Option<String>)> {
        self.server.lock().unwrap().requests.iter().filter(|r| r.0 == name).map(|r| (r.1.clone(), r.2.clone())).collect()
    }

    async fn notifications(&mut self) -> Vec<Value> {
        let path = format!("/v1/workspaces/{}/sites/{}/notifications?limit=100", self.ws, self.site);
        self.admin.get(&path).await.data()["notifications"].as_array().unwrap().clone()
    }

    async fn create(&mut self, body: Value) -> Value {
        let r = self.admin.post(&self.feeds(), body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.data().clone()
    }

    async fn feed(&mut self, id: &str) -> Value {
        let path = format!("{}/{id}", self.feeds());
        self.admin.get(&path).await.data().clone()
    }

    async fn items(&mut self, id: &str) -> Vec<Value> {
        let path = format!("{}/{id}/items?limit=100", self.feeds());
        self.admin.get(&path).await.data()["items"].as_array().unwrap().clone()
    }

    async fn poll_now(&mut self, id: &str) -> Value {
        let path = format!("{}/{id}/poll", self.feeds());
        self.admin.call(Method::POST, &path, None).await.data().clone()
    }
}

/// A state whose outbound guard lets it reach the feed server (and only it) and push to a fake service,
/// a workspace with a site and one subscriber.
async fn world(mut state: AppState, server: Shared, feed_host: String) -> World {
    let pushes = Arc::new(Mutex::new(Vec::new()));
    let push_host = listen(axum::Router::new().route("/push/{name}", post(accept_push)).with_state(pushes.clone())).await;
    state.push = Arc::new(webtrigger::push::PushRuntime { policy: webtrigger::push::types::EndpointPolicy { extra_hosts: vec![push_host.clone()] }, ..Default::default() });
    state.events_out = Arc::new(webtrigger::events_out::EventsRuntime::new(webtrigger::http::outbound::OutboundPolicy { allow_hosts: vec![feed_host.clone()] }));
    let mut admin = Client::new(state.clone());
    admin.sign_up(&format!("ada-{}@example.com", ulid::Ulid::new())).await;
    let ws = admin.create_workspace("Blog").await;
    let site = admin.post(&format!("/v1/workspaces/{ws}/sites"), json!({"name": "Blog", "allowed_origins": ["https://blog.example.com"], "contact": "mailto:ops@example.com"})).await;
    let site = site.data()["id"].as_str().unwrap().to_owned();
    let mut page = Client::new(state.clone());
    page.extra_headers = vec![("origin".to_owned(), "https://blog.example.com".to_owned())];
    let body = json!({"subscription": Browser::new().subscription(&format!("http://{push_host}/push/reader"))});
    let r = page.call(Method::POST, &format!("/v1/public/sites/{site}/subscriptions"), Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    World { state, admin, ws, site, feed_host, server, pushes }
}

async fn feed_server() -> (Shared, String) {
    let server: Shared = Arc::default();
    let host = listen(axum::Router::new().route("/{name}", get(serve_doc)).with_state(server.clone())).await;
    (server, host)
}

/// `world` on the embedded backend in a fresh data dir (kept while the returned guard lives).
async fn embedded_world() -> (World, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::embedded(dir.path(), Arc::new(SystemClock)).unwrap();
    state.ensure_queues().await.unwrap();
    let (server, host) = feed_server().await;
    (world(state, server, host).await, dir)
}

/// Runs the feeds queue, then the push queue, until both are empty.
async fn drain(state: &AppState) {
    let push = webtrigger::push::worker::PushWorker;
    for _ in 0..50 {
        let n = webtrigger::local::poll_once(state, &webtrigger::queues::feeds(), &FeedWorker, Duration::ZERO).await.unwrap()
            + webtrigger::local::poll_once(state, &webtrigger::queues::push_send(), &push, Duration::ZERO).await.unwrap();
        if n == 0 && state.queue.depth(&webtrigger::queues::feeds().name).await.unwrap() == 0 && state.queue.depth(&webtrigger::queues::push_send().name).await.unwrap() == 0 {
            return;
        }
    }
    panic!("queues never drained");
}

/// A tick at `at` (the minute tick's own time), then the queues.
async fn tick(state: &AppState, at: DateTime<Utc>) {
    let report = webtrigger::schedule::tick(state, at).await.expect("tick runs");
    assert!(!report.minutes_run.is_empty(), "the tick ran a minute");
    drain(state).await;
}

fn outcomes(items: &[Value]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = items.iter().map(|i| (i["item_id"].as_str().unwrap().to_owned(), i["outcome"].as_str().unwrap().to_owned())).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn feeds_become_notifications_exactly_once_embedded() {
    let (mut w, dir) = embedded_world().await;
    let t0 = Utc::now() + chrono::Duration::minutes(1);

    // An RSS feed with two items: the first poll (the tick's) takes them as seen and sends nothing.
    w.serve("rss.xml", Doc { body: rss(&[("p2", "Second"), ("p1", "First")]), etag: Some("\"v1\"".into()), ..Default::default() });
    let feed = w.create(json!({"url": w.url("rss.xml"), "name": "Blog posts"})).await;
    let id = feed["id"].as_str().unwrap().to_owned();
    assert_eq!((feed["baseline_pending"].as_bool(), feed["last_status"].as_str()), (Some(true), Some("pending")));
    assert!(feed.get("etag").is_none() && feed.get("recent").is_none(), "poll internals stay internal: {feed}");
    tick(&w.state, t0).await;
    let polled = w.feed(&id).await;
    assert_eq!((polled["last_status"].as_str(), polled["baseline_pending"].as_bool(), polled["feed_title"].as_str()), (Some("ok"), Some(false), Some("Shop blog")));
    assert_eq!(outcomes(&w.items(&id).await), vec![("p1".into(), "baseline".into()), ("p2".into(), "baseline".into())]);
    assert!(w.notifications().await.is_empty(), "existing items are not sent");

    // Same document again: the conditional GET carries the ETag and the 304 changes nothing.
    tick(&w.state, t0 + chrono::Duration::minutes(16)).await;
    let reqs = w.requests("rss.xml");
    assert_eq!(reqs.len(), 2, "one fetch per due poll: {reqs:?}");
    assert_eq!((reqs[0].0.as_deref(), reqs[1].0.as_deref()), (None, Some("\"v1\"")), "the second poll sent If-None-Match");
    assert_eq!(w.feed(&id).await["last_status"], "not_modified");

    // A tick before the next due time polls nothing (the due index, not a scan).
    tick(&w.state, t0 + chrono::Duration::minutes(20)).await;
    assert_eq!(w.requests("rss.xml").len(), 2, "not due yet");

    // A new item: exactly one notification from the template, delivered once.
    w.serve("rss.xml", Doc { body: rss(&[("p3", "Third &amp; best"), ("p2", "Second"), ("p1", "First")]), etag: Some("\"v2\"".into()), ..Default::default() });
    tick(&w.state, t0 + chrono::Duration::minutes(32)).await;
    let sent = w.notifications().await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let n = &sent[0];
    assert_eq!((n["title"].as_str(), n["body"].as_str(), n["url"].as_str(), n["image"].as_str()), (Some("Third & best"), Some("About Third & best"), Some("https://blog.example.com/p3"), Some("https://cdn.example.com/p3.jpg")));
    let items = w.items(&id).await;
    assert_eq!(items[0]["item_id"], "p3", "newest first");
    assert_eq!((items[0]["outcome"].as_str(), items[0]["notification_id"].as_str()), (Some("sent"), n["id"].as_str()), "the item names its notification");
    assert_eq!(*w.pushes.lock().unwrap(), vec!["reader".to_owned()], "one push to the one subscriber");
    assert_eq!(w.feed(&id).await["items_sent"], 1);

    // Replays: a duplicate job, a poll-now of the full document (no ETag this time) and a tick replay
    // send nothing more.
    let job = json!({"workspace": w.ws, "site": w.site, "feed": id}).to_string();
    w.state.queue.send(&webtrigger::queues::feeds().name, vec![webtrigger::ports::OutgoingMessage::new(job)]).await.unwrap();
    drain(&w.state).await;
    w.serve("rss.xml", Doc { body: rss(&[("p3", "Third &amp; best"), ("p2", "Second"), ("p1", "First")]), ..Default::default() });
    let report = w.poll_now(&id).await;
    assert_eq!((report["status"].as_str(), report["items"].as_u64(), report["new_items"].as_u64(), report["sent"].as_u64()), (Some("ok"), Some(3), Some(0), Some(0)));
    drain(&w.state).await;
    assert_eq!(w.notifications().await.len(), 1);

    // An edit (template, name) does not make old items new.
    let put = w.admin.call(Method::PUT, &format!("{}/{id}", w.feeds()), Some(json!({"url": w.url("rss.xml"), "name": "Renamed", "template": {"title": "New: {{ item.title }}"}}))).await;
    assert_eq!(put.data()["name"], "Renamed");
    assert_eq!(w.poll_now(&id).await["sent"], 0);

    // Restart: a new process state over the same data directory sends nothing again either.
    let mut restarted_state = AppState::embedded(dir.path(), Arc::new(SystemClock)).unwrap();
    restarted_state.events_out = w.state.events_out.clone();
    restarted_state.push = w.state.push.clone();
    w.state = restarted_state;
    w.admin = {
        let mut c = Client::new(w.state.clone());
        c.token = w.admin.token.clone();
        c
    };
    w.serve("rss.xml", Doc { body: rss(&[("p4", "Fourth"), ("p3", "Third &amp; best"), ("p2", "Second"), ("p1", "First")]), ..Default::default() });
    tick(&w.state, t0 + chrono::Duration::minutes(48)).await;
    tick(&w.state, t0 + chrono::Duration::minutes(64)).await;
    let titles: Vec<String> = w.notifications().await.iter().map(|n| n["title"].as_str().unwrap().to_owned()).collect();
    assert_eq!(titles, vec!["New: Fourth".to_owned(), "Third & best".to_owned()], "after the restart only the new item, once, with the edited template");

    // Atom with Last-Modified only: the second poll asks If-Modified-Since and gets a 304; newest_only
    // sends one of two new entries and marks the other skipped.
    let lm = "Tue, 01 Dec 2026 10:00:00 GMT".to_owned();
    w.serve("atom.xml", Doc { body: atom(&[("a1", "v1", "2026-11-01T00:00:00Z")]), last_modified: Some(lm.clone()), ..Default::default() });
    let atom_feed = w.create(json!({"url": w.url("atom.xml"), "newest_only": true})).await;
    let atom_id = atom_feed["id"].as_str().unwrap().to_owned();
    assert_eq!(w.poll_now(&atom_id).await["not_sent"], 1, "the first poll takes the existing entry as seen");
    assert_eq!(w.poll_now(&atom_id).await["status"], "not_modified");
    assert_eq!(w.requests("atom.xml").last().unwrap().1.as_deref(), Some(lm.as_str()), "If-Modified-Since carries Last-Modified");
    w.serve("atom.xml", Doc { body: atom(&[("a2", "v2", "2026-12-02T00:00:00Z"), ("a3", "v3", "2026-12-03T00:00:00Z"), ("a1", "v1", "2026-11-01T00:00:00Z")]), ..Default::default() });
    let report = w.poll_now(&atom_id).await;
    assert_eq!((report["new_items"].as_u64(), report["sent"].as_u64(), report["not_sent"].as_u64()), (Some(2), Some(1), Some(1)));
    assert_eq!(w.notifications().await[0]["title"], "v3", "the newest by date, not by position");
    assert_eq!(outcomes(&w.items(&atom_id).await), vec![("urn:a1".into(), "baseline".into()), ("urn:a2".into(), "skipped".into()), ("urn:a3".into(), "sent".into())]);

    // Broken feeds are recorded on their row; the tick goes on and polls the healthy feed in the same run.
    w.serve("broken.xml", Doc { body: "<rss><channel><item><title>cut".into(), ..Default::default() });
    w.serve("down.xml", Doc { status: Some(503), ..Default::default() });
    let broken = w.create(json!({"url": w.url("broken.xml")})).await["id"].as_str().unwrap().to_owned();
    let down = w.create(json!({"url": w.url("down.xml")})).await["id"].as_str().unwrap().to_owned();
    let big = w.create(json!({"url": w.url("big.xml")})).await["id"].as_str().unwrap().to_owned();
    w.serve("big.xml", Doc { body: format!("<rss>{}</rss>", " ".repeat(3 * 1024 * 1024)), ..Default::default() });
    w.serve("rss.xml", Doc { body: rss(&[("p5", "Fifth"), ("p4", "Fourth")]), ..Default::default() });
    tick(&w.state, t0 + chrono::Duration::minutes(80)).await;
    for (id, expected) in [(&broken, "not a valid RSS or Atom feed"), (&down, "HTTP 503"), (&big, "larger than 2 MiB")] {
        let f = w.feed(id).await;
        assert_eq!((f["last_status"].as_str(), f["consecutive_failures"].as_u64()), (Some("error"), Some(1)), "{f}");
        assert!(f["last_error"].as_str().unwrap().contains(expected), "{f}");
        assert!(f["last_polled_at"].is_string());
    }
    assert_eq!(w.notifications().await[0]["title"], "New: Fifth", "the healthy feed was polled in the same tick");
    // The failure count grows and clears on success.
    w.serve("down.xml", Doc { body: rss(&[("d1", "Up again")]), ..Default::default() });
    let f = w.poll_now(&down).await;
    assert_eq!(f["status"], "ok");
    assert_eq!((w.feed(&down).await["consecutive_failures"].as_u64(), w.feed(&down).await["last_error"].is_null()), (Some(0), true));

    // Paused feeds are not polled by the tick.
    let paused = w.admin.call(Method::PUT, &format!("{}/{id}", w.feeds()), Some(json!({"url": w.url("rss.xml"), "active": false}))).await;
    assert_eq!((paused.data()["active"].as_bool(), paused.data()["next_poll_at"].is_null()), (Some(false), true));
    let before = w.requests("rss.xml").len();
    tick(&w.state, t0 + chrono::Duration::minutes(120)).await;
    assert_eq!(w.requests("rss.xml").len(), before, "a paused feed is not fetched");

    // Listing pages; delete removes the feed and its items.
    let page = w.admin.get(&format!("{}?limit=2", w.feeds())).await;
    assert_eq!(page.data()["feeds"].as_array().unwrap().len(), 2);
    let cursor = page.data()["next_cursor"].as_str().unwrap().to_owned();
    let rest = w.admin.get(&format!("{}?limit=100&cursor={cursor}", w.feeds())).await;
    assert_eq!(rest.data()["feeds"].as_array().unwrap().len(), 3);
    let del = w.admin.call(Method::DELETE, &format!("{}/{broken}", w.feeds()), None).await;
    assert_eq!(del.status, 200, "{}", del.body);
    w.admin.get(&format!("{}/{broken}", w.feeds())).await.assert_error(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn feed_requests_are_validated_guarded_and_scoped() {
    let (state, _dir) = webtrigger_tests::embedded_state().await;
    let (server, host) = feed_server().await;
    let mut w = world(state, server, host).await;
    let feeds = w.feeds();
    // 422s name the field.
    for (body, field) in [
        (json!({"url": "ftp://example.com/feed"}), "url: "),
        (json!({"url": "https://blog.example.com/feed", "template": {"title": "{{ item.title"}}), "template.title: "),
        (json!({"url": "https://blog.example.com/feed", "target": {"type": "segment", "segment_id": "seg_01jz0000000000000000000000"}}), "target.segment_id: "),
    ] {
        let r = w.admin.post(&feeds, body).await;
        r.assert_error(422, "validation_failed");
        assert!(r.body["error"]["message"].as_str().unwrap().starts_with(field), "{}", r.body);
    }
    w.admin.post(&feeds, json!({"url": 5})).await.assert_error(422, "validation_failed");
    // SSRF: loopback and private addresses are refused unless the test config allows that host:port.
    let port: u16 = w.feed_host.rsplit(':').next().unwrap().parse().unwrap();
    for url in [format!("http://127.0.0.1:{}/x", port.wrapping_add(1)), "http://169.254.169.254/latest/meta-data".into(), "https://localhost/feed".into(), "http://10.0.0.1/rss".into()] {
        let r = w.admin.post(&feeds, json!({"url": url})).await;
        r.assert_error(422, "validation_failed");
        assert!(r.body["error"]["message"].as_str().unwrap().contains("private or internal"), "{url}: {}", r.body);
    }
    // The guard is applied again at fetch time: a feed saved while its host was allowed is refused (and
    // recorded on its row) once the policy no longer allows it.
    w.serve("rss.xml", Doc { body: rss(&[("p1", "First")]), ..Default::default() });
    let saved = w.create(json!({"url": w.url("rss.xml")})).await["id"].as_str().unwrap().to_owned();
    let mut strict = w.state.clone();
    strict.events_out = Arc::new(webtrigger::events_out::EventsRuntime::new(webtrigger::http::outbound::OutboundPolicy::default()));
    let report = webtrigger::feeds::poller::poll(&strict, &webtrigger::auth::WorkspaceId::parse(&w.ws).unwrap(), &webtrigger::push::sites::SiteId::parse(&w.site).unwrap(), &webtrigger::feeds::types::FeedId::parse(&saved).unwrap()).await.unwrap();
    assert_eq!(report.status, webtrigger::feeds::types::PollStatus::Error);
    assert!(report.error.as_deref().unwrap().contains("refused"), "{report:?}");
    assert!(w.requests("rss.xml").is_empty(), "nothing was fetched");
    assert_eq!(w.feed(&saved).await["last_status"], "error");
    // Unknown ids are 404s; a read-only API key may list but not create; another tenant sees nothing.
    w.admin.get(&format!("{feeds}/feed_01jz0000000000000000000000")).await.assert_error(404, "not_found");
    w.admin.get(&format!("{feeds}/nope/items")).await.assert_error(404, "not_found");
    w.admin.get(&format!("/v1/workspaces/{}/sites/site_01jz0000000000000000000000/feeds", w.ws)).await.assert_error(404, "not_found");
    let id = saved;
    let key = w.admin.post(&format!("/v1/workspaces/{}/api-keys", w.ws), json!({"name": "ro", "scopes": ["read"]})).await;
    let mut ro = w.admin.with_token(key.data()["secret"].as_str().unwrap());
    assert_eq!(ro.get(&feeds).await.data()["feeds"].as_array().unwrap().len(), 1);
    ro.post(&feeds, json!({"url": w.url("rss.xml")})).await.assert_error(403, "forbidden");
    ro.call(Method::POST, &format!("{feeds}/{id}/poll"), None).await.assert_error(403, "forbidden");
    let mut eve = Client::new(w.state.clone());
    eve.sign_up("eve@example.com").await;
    eve.create_workspace("Eve").await;
    eve.get(&format!("{feeds}/{id}")).await.assert_error(404, "not_found");
    // Every change is audited.
    let audit = w.admin.get(&format!("/v1/workspaces/{}/audit?limit=50", w.ws)).await;
    assert!(audit.body.to_string().contains("feed.create"), "{}", audit.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn feeds_on_the_aws_adapters() {
    let state = webtrigger_tests::aws_state_with_clock(Arc::new(SystemClock)).await;
    let (server, host) = feed_server().await;
    let mut w = world(state, server, host).await;
    w.serve("rss.xml", Doc { body: rss(&[("p1", "First")]), etag: Some("\"a\"".into()), ..Default::default() });
    let id = w.create(json!({"url": w.url("rss.xml")})).await["id"].as_str().unwrap().to_owned();
    tick(&w.state, Utc::now() + chrono::Duration::minutes(1)).await;
    assert_eq!(outcomes(&w.items(&id).await), vec![("p1".into(), "baseline".into())]);
    w.serve("rss.xml", Doc { body: rss(&[("p2", "Second"), ("p1", "First")]), etag: Some("\"b\"".into()), ..Default::default() });
    assert_eq!(w.poll_now(&id).await["sent"], 1);
    assert_eq!(w.poll_now(&id).await["status"], "not_modified");
    w.serve("rss.xml", Doc { body: rss(&[("p2", "Second"), ("p1", "First")]), ..Default::default() });
    assert_eq!(w.poll_now(&id).await["sent"], 0, "seen markers hold on DynamoDB too");
    let sent = w.notifications().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["title"], "Second");
}

/// A "Poll now" between the tick's claim and its queued job: the job does not fetch again, so the
/// manual poll's report stands and an item published in between is left for the next poll to send.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poll_now_after_the_ticks_claim_makes_its_job_moot() {
    let (mut w, _dir) = embedded_world().await;
    w.serve("rss.xml", Doc { body: rss(&[("p1", "First")]), ..Default::default() });
    let id = w.create(json!({"url": w.url("rss.xml")})).await["id"].as_str().unwrap().to_owned();
    assert_eq!(webtrigger::feeds::poller::claim_due(&w.state, Utc::now()).await.unwrap(), 1, "a new feed is due at once");
    // The poll must finish in a later millisecond than the claim: `overtaken` compares at ms precision.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let report = w.poll_now(&id).await;
    assert_eq!((report["new_items"].as_u64(), report["not_sent"].as_u64()), (Some(1), Some(1)), "the manual poll takes the baseline: {report}");
    w.serve("rss.xml", Doc { body: rss(&[("p2", "Second"), ("p1", "First")]), ..Default::default() });
    drain(&w.state).await;
    assert_eq!(w.requests("rss.xml").len(), 1, "the claimed job did not fetch again");
    assert!(w.notifications().await.is_empty());
    assert_eq!(w.poll_now(&id).await["sent"], 1, "the next poll sends the new item");
    assert_eq!(w.requests("rss.xml").len(), 2);
}

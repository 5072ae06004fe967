//! Push campaigns: the notification lifecycle (draft, PATCH, send, cancel, the status filter) and the
//! frequency cap on both backends with the real worker and a loopback push service; scheduling,
//! time-zone delivery and quiet hours on the embedded backend driven by a test clock and the minute tick.

#[path = "api/client.rs"]
mod client;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::post;
use chrono::{DateTime, TimeZone, Utc};
use client::Client;
use serde_json::{json, Value};
use webtrigger::ports::{FixedClock, Query};
use webtrigger_tests::run_push_jobs;
use webtrigger_tests::browser::Browser;

/// A push service that accepts everything and records which subscription each push was for.
async fn accept(State(seen): State<Arc<Mutex<Vec<String>>>>, Path(name): Path<String>) -> StatusCode {
    seen.lock().unwrap().push(name);
    StatusCode::CREATED
}

struct Shop {
    admin: Client,
    sites: String,
    site: String,
    notifications: String,
}

/// A workspace with a site, and one subscriber per `(name, time zone)`, each at `http://<fake>/push/<name>`.
/// With a test clock, the admin signs in at the real time (tokens are checked against it) and the
/// clock is then set to `at` before anyone subscribes.
async fn shop(state: &webtrigger::AppState, fake_host: &str, subscribers: &[(&str, Option<&str>)], clock: Option<(&FixedClock, DateTime<Utc>)>) -> Shop {
    if let Some((c, _)) = clock {
        c.set(Utc::now());
    }
    let mut admin = Client::new(state.clone());
    admin.sign_up("ada@example.com").await;
    let ws = admin.create_workspace("Shop").await;
    let sites = format!("/v1/workspaces/{ws}/sites");
    let site = admin.post(&sites, json!({"name": "Shop", "allowed_origins": ["https://shop.example.com"], "contact": "mailto:ops@example.com"})).await;
    let site = site.data()["id"].as_str().unwrap().to_owned();
    if let Some((c, at)) = clock {
        c.set(at);
    }
    let mut page = Client::new(state.clone());
    page.extra_headers = vec![("origin".to_owned(), "https://shop.example.com".to_owned())];
    for (name, tz) in subscribers {
        let body = json!({"subscription": Browser::new().subscription(&format!("http://{fake_host}/push/{name}")), "timezone": tz});
        let r = page.call(Method::POST, &format!("/v1/public/sites/{site}/subscriptions"), Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let notifications = format!("{sites}/{site}/notifications");
    Shop { admin, sites, site, notifications }
}

/// Starts the loopback push service and lets `state` send to it.
async fn fake_push_service(state: &mut webtrigger::AppState) -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let app = axum::Router::new().route("/push/{name}", post(accept)).with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    client::allow_push_hosts(state, vec![host.clone()]);
    (host, seen)
}

/// An embedded state on a test clock at `start`, with the loopback push service.
struct Clocked {
    state: webtrigger::AppState,
    clock: Arc<FixedClock>,
    fake_host: String,
    seen: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

async fn clocked(start: DateTime<Utc>) -> Clocked {
    let clock = Arc::new(FixedClock::new(start));
    let (mut state, _dir) = webtrigger_tests::embedded_state_with_clock(clock.clone()).await;
    let (fake_host, seen) = fake_push_service(&mut state).await;
    Clocked { state, clock, fake_host, seen, _dir }
}

async fn wait_for(c: &mut Client, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = c.get(path).await;
        if done(r.data()) {
            return r.data().clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "condition never met: {}", r.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn statuses(list: &Value) -> Vec<(String, String)> {
    list["notifications"].as_array().unwrap().iter().map(|n| (n["title"].as_str().unwrap().to_owned(), n["status"].as_str().unwrap().to_owned())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lifecycle_and_frequency_cap_embedded() {
    let (state, _dir) = webtrigger_tests::embedded_state().await;
    lifecycle_and_frequency_cap(state).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lifecycle_and_frequency_cap_aws() {
    lifecycle_and_frequency_cap(webtrigger_tests::aws_state_with_clock(Arc::new(webtrigger::ports::SystemClock)).await).await;
}


async fn lifecycle_and_frequency_cap(mut state: webtrigger::AppState) {
    let (fake_host, seen) = fake_push_service(&mut state).await;
    let Shop { mut admin, sites, site, notifications } = shop(&state, &fake_host, &[("a", None), ("b", None), ("c", None)], None).await;
    let (stop_tx, worker) = client::start_push_worker(&state);

    // A draft: saved, not sent; edited conditionally on its version.
    let draft = admin.post(&notifications, json!({"title": "Draft", "target": {"type": "all"}, "draft": true})).await;
    let (id, version) = (draft.data()["id"].as_str().unwrap().to_owned(), draft.data()["version"].as_u64().unwrap());
    assert_eq!(draft.data()["status"], "draft");
    let one = format!("{notifications}/{id}");
    admin.call(Method::PATCH, &one, Some(json!({"title": "Stale", "version": version + 7}))).await.assert_error(409, "conflict");
    admin.call(Method::PATCH, &one, Some(json!({"lifecycle": "sending"}))).await.assert_error(422, "validation_failed");
    admin.call(Method::PATCH, &one, Some(json!({"title": ""}))).await.assert_error(422, "validation_failed");
    admin.call(Method::PATCH, &one, Some(json!({"send_at": "2020-01-01T00:00:00Z"}))).await.assert_error(422, "validation_failed");
    let edited = admin.call(Method::PATCH, &one, Some(json!({"title": "Sale", "body": "Today only", "version": version}))).await;
    assert_eq!((edited.data()["title"].as_str(), edited.data()["body"].as_str(), edited.data()["status"].as_str()), (Some("Sale"), Some("Today only"), Some("draft")));
    assert_eq!(edited.data()["version"].as_u64(), Some(version + 1));
    assert!(seen.lock().unwrap().is_empty(), "a draft sends nothing");

    // Two people press Send at once: one send, one 409.
    let (mut a, mut b) = (admin.clone(), admin.clone());
    let send = format!("{one}/send");
    let (ra, rb) = tokio::join!(a.call(Method::POST, &send, None), b.call(Method::POST, &send, None));
    let mut codes = [ra.status, rb.status];
    codes.sort();
    assert_eq!(codes, [202, 409], "{} / {}", ra.body, rb.body);
    let view = wait_for(&mut admin, &one, |v| v["status"] == "completed").await;
    assert_eq!((view["stats"]["targeted"].as_i64(), view["stats"]["accepted"].as_i64()), (Some(3), Some(3)), "{view}");
    assert_eq!(seen.lock().unwrap().len(), 3, "sent once");
    admin.call(Method::POST, &send, None).await.assert_error(409, "conflict");
    admin.call(Method::PATCH, &one, Some(json!({"title": "Late"}))).await.assert_error(409, "conflict");
    admin.call(Method::DELETE, &one, None).await.assert_error(409, "conflict");

    // Scheduling: within 30 days; cancelled before it starts.
    let soon = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    for bad in [(Utc::now() - chrono::Duration::minutes(1)).to_rfc3339(), (Utc::now() + chrono::Duration::days(31)).to_rfc3339(), "tomorrow".to_owned()] {
        admin.post(&notifications, json!({"title": "Later", "target": {"type": "all"}, "send_at": bad})).await.assert_error(422, "validation_failed");
    }
    let later = admin.post(&notifications, json!({"title": "Later", "target": {"type": "all"}, "send_at": soon, "local_time": "09:00"})).await;
    assert_eq!(later.data()["status"], "scheduled");
    assert_eq!(later.data()["local_time"], "09:00");
    admin.post(&notifications, json!({"title": "Bad", "target": {"type": "all"}, "local_time": "9 am"})).await.assert_error(422, "validation_failed");
    let later_id = later.data()["id"].as_str().unwrap().to_owned();
    let scheduled = admin.get(&format!("{notifications}?status=scheduled")).await;
    assert_eq!(statuses(scheduled.data()), [("Later".to_owned(), "scheduled".to_owned())]);
    admin.get(&format!("{notifications}?status=bogus")).await.assert_error(422, "validation_failed");
    admin.call(Method::PATCH, &format!("{notifications}/{later_id}"), Some(json!({"send_at": null}))).await.assert_error(422, "validation_failed");
    let cancelled = admin.call(Method::DELETE, &format!("{notifications}/{later_id}"), None).await;
    assert_eq!(cancelled.data()["status"], "cancelled");
    admin.call(Method::DELETE, &format!("{notifications}/{later_id}"), None).await.assert_error(409, "conflict");
    admin.call(Method::POST, &format!("{notifications}/{later_id}/send"), None).await.assert_error(409, "conflict");
    let completed = admin.get(&format!("{notifications}?status=completed")).await;
    assert_eq!(statuses(completed.data()), [("Sale".to_owned(), "completed".to_owned())]);

    // Cancel while sending: the fan-out runs and its deliver jobs wait in the due index (a local time two
    // hours ahead); cancelled meanwhile, the jobs the tick then queues count their subscribers `cancelled`
    // and send nothing. (Releasing the jobs by hand keeps the worker running: stopping a consumer on SQS
    // can leave a dropped long poll holding the next messages for the visibility timeout.)
    let release = Utc::now() + chrono::Duration::hours(2);
    let release = Utc.timestamp_opt(release.timestamp() / 60 * 60, 0).unwrap();
    let stopped = admin.post(&notifications, json!({"title": "Stop me", "target": {"type": "all"}, "local_time": release.format("%H:%M").to_string()})).await;
    let stopped = format!("{notifications}/{}", stopped.data()["id"].as_str().unwrap());
    wait_for(&mut admin, &stopped, |v| v["stats"]["targeted"] == 3).await;
    assert_eq!(admin.call(Method::DELETE, &stopped, None).await.data()["status"], "cancelled");
    assert!(webtrigger::push::lifecycle::run_due(&state, minute(release)).await.unwrap() > 0, "the held deliver jobs released");
    let view = wait_for(&mut admin, &stopped, |v| v["stats"]["cancelled"] == 3).await;
    assert_eq!((view["status"].as_str(), view["stats"]["accepted"].as_i64()), (Some("cancelled"), Some(0)), "{view}");
    assert_eq!(seen.lock().unwrap().len(), 3, "nothing sent after the cancel");

    // Frequency cap: one push per subscriber per 24 h; a transactional send is not capped.
    let settings = json!({"name": "Shop", "allowed_origins": ["https://shop.example.com"], "contact": "mailto:ops@example.com", "frequency_cap": 1});
    let put = admin.call(Method::PUT, &format!("{sites}/{site}"), Some(settings)).await;
    assert_eq!(put.data()["frequency_cap"], 1);
    let mut outcomes = Vec::new();
    for (title, transactional) in [("First", false), ("Second", false), ("Receipt", true)] {
        let sent = admin.post(&notifications, json!({"title": title, "target": {"type": "all"}, "transactional": transactional})).await;
        let view = wait_for(&mut admin, &format!("{notifications}/{}", sent.data()["id"].as_str().unwrap()), |v| v["status"] == "completed").await;
        outcomes.push((title, view["stats"]["accepted"].as_i64().unwrap(), view["stats"]["capped"].as_i64().unwrap()));
    }
    assert_eq!(outcomes, [("First", 3, 0), ("Second", 0, 3), ("Receipt", 3, 0)]);
    assert_eq!(seen.lock().unwrap().len(), 9, "3 + 0 + 3 more pushes");
    stop_tx.send(true).unwrap();
    worker.await.unwrap();
}

fn minute(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(60)
}

/// Subscriber names of the deliver jobs held in the due index for `m`.
async fn held_at(state: &webtrigger::AppState, m: i64) -> Vec<String> {
    let page = state.table.query(Query::partition(format!("SCHED#{m}")).prefix("R#")).await.unwrap();
    let mut names: Vec<String> = page
        .items
        .iter()
        .flat_map(|i| {
            let job: Value = serde_json::from_str(i.attrs["job"].as_str().unwrap()).unwrap();
            job["subscribers"].as_array().unwrap().iter().map(|s| s["subscription"]["endpoint"].as_str().unwrap().rsplit('/').next().unwrap().to_owned()).collect::<Vec<_>>()
        })
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scheduled_sends_start_once_across_overlapping_ticks() {
    let start = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 30).unwrap();
    let clock = Arc::new(FixedClock::new(start));
    let (state, _d) = webtrigger_tests::embedded_state_with_clock(clock.clone()).await;
    let Shop { mut admin, notifications, .. } = shop(&state, "127.0.0.1:9", &[], Some((&clock, start))).await;
    webtrigger::schedule::tick(&state, start).await.unwrap();

    let at = |mins: i64| (start + chrono::Duration::minutes(mins)).to_rfc3339();
    admin.post(&notifications, json!({"title": "Too far", "target": {"type": "all"}, "send_at": (start + chrono::Duration::days(30) + chrono::Duration::minutes(1)).to_rfc3339()})).await.assert_error(422, "validation_failed");
    let edge = admin.post(&notifications, json!({"title": "Edge", "target": {"type": "all"}, "send_at": (start + chrono::Duration::days(30)).to_rfc3339()})).await;
    assert_eq!(edge.data()["status"], "scheduled", "30 days ahead is allowed");
    let sale = admin.post(&notifications, json!({"title": "Sale", "target": {"type": "all"}, "send_at": at(10)})).await;
    let sale = format!("{notifications}/{}", sale.data()["id"].as_str().unwrap());
    let dropped = admin.post(&notifications, json!({"title": "Dropped", "target": {"type": "all"}, "send_at": at(5)})).await;
    let dropped = format!("{notifications}/{}", dropped.data()["id"].as_str().unwrap());
    admin.call(Method::DELETE, &dropped, None).await.data();
    let moved = admin.post(&notifications, json!({"title": "Moved", "target": {"type": "all"}, "send_at": at(3)})).await;
    let moved = format!("{notifications}/{}", moved.data()["id"].as_str().unwrap());
    assert_eq!(admin.call(Method::PATCH, &moved, Some(json!({"send_at": at(40)}))).await.data()["status"], "scheduled");

    // 20 minutes later four ticks overlap, catching up the missed minutes between them.
    clock.set(start + chrono::Duration::minutes(20));
    let now = clock_now(&clock);
    let runs = futures_util::future::join_all((0..4).map(|_| webtrigger::schedule::tick(&state, now))).await;
    assert!(runs.iter().all(|r| r.is_ok()));
    assert_eq!(admin.get(&sale).await.data()["status"], "sending");
    assert_eq!(admin.get(&dropped).await.data()["status"], "cancelled", "a cancelled one never starts");
    assert_eq!(admin.get(&moved).await.data()["status"], "scheduled", "moved to a later minute: not due yet");
    assert_eq!(state.queue.depth("push-send").await.unwrap(), 1, "one fan-out job (over all 16 shards of this small site) for the one due notification");

    // The same minute run again (a tick that died after claiming it, then the next one's look-back):
    // the start is conditional, so nothing is queued twice.
    let due = minute(start) + 11;
    let again = futures_util::future::join_all((0..3).map(|_| webtrigger::push::lifecycle::run_due(&state, due))).await;
    assert!(again.iter().all(|r| r.is_ok()));
    assert_eq!(state.queue.depth("push-send").await.unwrap(), 1);

    // The moved one starts at its new minute, through a tick.
    clock.set(start + chrono::Duration::minutes(41));
    webtrigger::schedule::tick(&state, clock_now(&clock)).await.unwrap();
    assert_eq!(admin.get(&moved).await.data()["status"], "sending");
    assert_eq!(state.queue.depth("push-send").await.unwrap(), 2);
    let sent = admin.get(&format!("{notifications}?status=sending")).await;
    assert_eq!(statuses(sent.data()).len(), 2);
}

fn clock_now(clock: &FixedClock) -> DateTime<Utc> {
    webtrigger::ports::Clock::now(clock)
}

/// "09:00 in each subscriber's time zone", started on the day New York leaves daylight saving time:
/// the fan-out holds each zone's bucket for its own UTC minute and the tick releases it then; quiet
/// hours hold a send to a subscriber for whom it is night, until morning.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn time_zone_buckets_and_quiet_hours_are_held_and_released() {
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 5, 0, 0).unwrap();
    let Clocked { state, clock, fake_host, seen, _dir } = clocked(start).await;
    let zones = [("tokyo", Some("Asia/Tokyo")), ("berlin", Some("Europe/Berlin")), ("newyork", Some("America/New_York")), ("nozone", None)];
    let Shop { mut admin, sites, site, notifications } = shop(&state, &fake_host, &zones, Some((&clock, start))).await;
    webtrigger::schedule::tick(&state, start).await.unwrap();

    let sent = admin.post(&notifications, json!({"title": "Good morning", "target": {"type": "all"}, "local_time": "09:00"})).await;
    let one = format!("{notifications}/{}", sent.data()["id"].as_str().unwrap());
    run_push_jobs(&state).await;
    let utc = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap();
    let expected = [(utc(1, 8), "berlin"), (utc(1, 9), "nozone"), (utc(1, 14), "newyork"), (utc(2, 0), "tokyo")];
    for (at, name) in expected {
        assert_eq!(held_at(&state, minute(at)).await, [name], "{name} held for {at}");
    }
    assert_eq!(admin.get(&one).await.data()["status"], "sending", "held jobs count as not finished");

    // Each bucket goes to the queue at its minute, not before.
    for (at, name) in expected {
        clock.set(at - chrono::Duration::minutes(1));
        webtrigger::schedule::tick(&state, clock_now(&clock)).await.unwrap();
        assert_eq!(state.queue.depth("push-send").await.unwrap(), 0, "{name} not released a minute early");
        clock.set(at);
        webtrigger::schedule::tick(&state, at).await.unwrap();
        let released = run_push_jobs(&state).await;
        let names: Vec<&str> = released.iter().flat_map(|j| j["subscribers"].as_array().unwrap().iter().map(|s| s["subscription"]["endpoint"].as_str().unwrap().rsplit('/').next().unwrap())).collect();
        assert_eq!(names, [name], "released at {at}");
        assert!(held_at(&state, minute(at)).await.is_empty(), "the due entry is gone once released");
    }
    assert_eq!(*seen.lock().unwrap(), ["berlin", "nozone", "newyork", "tokyo"], "each pushed once, in release order");
    assert_eq!(admin.get(&one).await.data()["status"], "completed");

    // Quiet hours 22:00–08:00 subscriber-local: at 23:30 in Berlin (22:30 UTC) Berlin is held until
    // 07:00 UTC, Tokyo (07:30 local) until 23:00 UTC, New York (17:30 local) goes at once.
    let quiet = json!({"name": "Shop", "allowed_origins": ["https://shop.example.com"], "contact": "mailto:ops@example.com", "quiet_hours": {"start": "22:00", "end": "08:00"}});
    assert_eq!(admin.call(Method::PUT, &format!("{sites}/{site}"), Some(quiet)).await.data()["quiet_hours"]["start"], "22:00");
    let night = Utc.with_ymd_and_hms(2026, 11, 2, 22, 30, 0).unwrap();
    clock.set(night);
    admin.post(&notifications, json!({"title": "Flash sale", "target": {"type": "all"}})).await.data();
    let ran = run_push_jobs(&state).await;
    let immediate: Vec<String> = ran.iter().filter(|j| j["kind"] == "deliver").flat_map(|j| j["subscribers"].as_array().unwrap().iter().map(|s| s["subscription"]["endpoint"].as_str().unwrap().rsplit('/').next().unwrap().to_owned()).collect::<Vec<_>>()).collect();
    assert_eq!(immediate, ["newyork"], "only New York is outside its quiet hours");
    assert_eq!(held_at(&state, minute(Utc.with_ymd_and_hms(2026, 11, 2, 23, 0, 0).unwrap())).await, ["tokyo"]);
    assert_eq!(held_at(&state, minute(Utc.with_ymd_and_hms(2026, 11, 3, 7, 0, 0).unwrap())).await, ["berlin"]);
    assert_eq!(held_at(&state, minute(Utc.with_ymd_and_hms(2026, 11, 3, 8, 0, 0).unwrap())).await, ["nozone"], "UTC's 08:00");
    let release = Utc.with_ymd_and_hms(2026, 11, 2, 23, 0, 0).unwrap();
    clock.set(release);
    webtrigger::schedule::tick(&state, release).await.unwrap();
    assert_eq!(state.queue.depth("push-send").await.unwrap(), 1, "Tokyo's morning: released");
}

/// An A/B test with a test share first: the share is split between the variants and sent at once, the
/// rest is held for the wait, then the tick picks the variant with the best click rate and the rest gets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ab_test_sends_the_winner_by_clicks_to_the_rest() {
    let start = Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).unwrap();
    let Clocked { state, clock, fake_host, seen, _dir } = clocked(start).await;
    let names: Vec<String> = (0..40).map(|i| format!("s{i}")).collect();
    let subs: Vec<(&str, Option<&str>)> = names.iter().map(|n| (n.as_str(), None)).collect();
    let Shop { mut admin, notifications, site, .. } = shop(&state, &fake_host, &subs, Some((&clock, start))).await;
    webtrigger::schedule::tick(&state, start).await.unwrap();

    let variants = json!([{"percent": 50, "title": "Plain"}, {"percent": 50, "title": "With emoji", "url": "https://shop.example.com/b"}]);
    admin.post(&notifications, json!({"title": "Sale", "target": {"type": "all"}, "variants": [{"percent": 60, "title": "A"}, {"percent": 60, "title": "B"}]})).await.assert_error(422, "validation_failed");
    let sent = admin.post(&notifications, json!({"title": "Sale", "target": {"type": "all"}, "variants": variants, "test_first": {"test_percent": 50, "wait_minutes": 30}})).await;
    let id = sent.data()["id"].as_str().unwrap().to_owned();
    let one = format!("{notifications}/{id}");
    run_push_jobs(&state).await;
    let stats = admin.get(&one).await.data()["stats"].clone();
    let in_test = stats["v0_targeted"].as_i64().unwrap() + stats["v1_targeted"].as_i64().unwrap();
    assert_eq!(seen.lock().unwrap().len() as i64, in_test, "only the test share was sent: {stats}");
    assert!((10..=30).contains(&in_test), "about half of 40 in the test share: {in_test}");

    // Variant 1 gets the clicks (as the service worker reports them, with the variant from the payload).
    let mut sw = Client::new(state.clone());
    sw.extra_headers = vec![("origin".to_owned(), "https://shop.example.com".to_owned())];
    for _ in 0..3 {
        let r = sw.post(&format!("/v1/public/sites/{site}/notifications/{id}/events"), json!({"event": "click", "variant": 1})).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    sw.post(&format!("/v1/public/sites/{site}/notifications/{id}/events"), json!({"event": "click", "variant": 0})).await.data();
    let stats = admin.get(&one).await.data()["stats"].clone();
    assert_eq!((stats["v0_clicks"].as_i64(), stats["v1_clicks"].as_i64(), stats["clicks"].as_i64()), (Some(1), Some(3), Some(4)));

    // Not before the wait is over.
    clock.set(start + chrono::Duration::minutes(29));
    webtrigger::schedule::tick(&state, clock_now(&clock)).await.unwrap();
    assert!(run_push_jobs(&state).await.is_empty(), "the rest waits for the test");
    clock.set(start + chrono::Duration::minutes(30));
    webtrigger::schedule::tick(&state, clock_now(&clock)).await.unwrap();
    let winner = state.table.get(&webtrigger::ports::Key::new(format!("WS#{}#SITE#{site}#NOTIF#{id}", notifications.split('/').nth(3).unwrap()), "WINNER")).await.unwrap().expect("winner chosen by the tick");
    let clicks_rate = |v: &str| stats[format!("{v}_clicks")].as_f64().unwrap() / stats[format!("{v}_targeted")].as_f64().unwrap();
    let best = if clicks_rate("v1") > clicks_rate("v0") { 1 } else { 0 };
    assert_eq!(winner.attrs["variant"], best, "the better click rate wins");
    let rest = run_push_jobs(&state).await;
    assert!(!rest.is_empty() && rest.iter().all(|j| j["variant"] == 255), "the rest's jobs resolve to the winner");
    let view = admin.get(&one).await.data().clone();
    assert_eq!((view["status"].as_str(), view["stats"]["accepted"].as_i64()), (Some("completed"), Some(40)), "{view}");
    assert_eq!(seen.lock().unwrap().len(), 40, "everyone got exactly one push");
}

/// A/B variants and a local time also hold for direct targets: an external id's devices are split by
/// variant, and one subscriber's push waits for 09:00 in their zone (both are fanned out shard by shard).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn variants_and_local_time_for_direct_targets() {
    let start = Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).unwrap();
    let Clocked { state, clock, fake_host, seen, _dir } = clocked(start).await;
    let Shop { mut admin, notifications, site, sites } = shop(&state, &fake_host, &[("other-1", None), ("other-2", None)], Some((&clock, start))).await;
    let mut page = Client::new(state.clone());
    page.extra_headers = vec![("origin".to_owned(), "https://shop.example.com".to_owned())];
    for i in 0..12 {
        let body = json!({"subscription": Browser::new().subscription(&format!("http://{fake_host}/push/user-{i}")), "external_id": "user-7", "timezone": "Europe/Berlin"});
        let r = page.call(Method::POST, &format!("/v1/public/sites/{site}/subscriptions"), Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    webtrigger::schedule::tick(&state, start).await.unwrap();

    let variants = json!([{"percent": 50, "title": "A"}, {"percent": 50, "title": "B"}]);
    let sent = admin.post(&notifications, json!({"title": "Your order", "target": {"type": "external_id", "external_id": "user-7"}, "variants": variants})).await;
    let one = format!("{notifications}/{}", sent.data()["id"].as_str().unwrap());
    run_push_jobs(&state).await;
    let view = admin.get(&one).await.data().clone();
    let stats = &view["stats"];
    assert_eq!(stats["v0_targeted"].as_i64().unwrap() + stats["v1_targeted"].as_i64().unwrap(), 12, "every device of the user in a variant: {stats}");
    assert!(stats["v0_targeted"].as_i64().unwrap() > 0 && stats["v1_targeted"].as_i64().unwrap() > 0, "both variants used: {stats}");
    assert_eq!((view["status"].as_str(), stats["targeted"].as_i64(), stats["accepted"].as_i64()), (Some("completed"), Some(12), Some(12)), "{view}");
    let pushed = seen.lock().unwrap().clone();
    assert_eq!(pushed.len(), 12);
    assert!(pushed.iter().all(|n| n.starts_with("user-")), "only the user's devices: {pushed:?}");

    // One subscriber at 09:00 their time (Berlin, UTC+1 in December): held until 08:00 UTC tomorrow.
    let subs = admin.get(&format!("{sites}/{site}/subscribers?limit=100")).await.data()["subscribers"].clone();
    let target = subs.as_array().unwrap().iter().find(|s| s["subscription"]["endpoint"].as_str().unwrap().ends_with("/user-3")).unwrap()["id"].as_str().unwrap().to_owned();
    admin.post(&notifications, json!({"title": "Good morning", "target": {"type": "subscriber", "id": target}, "local_time": "09:00"})).await.data();
    run_push_jobs(&state).await;
    assert_eq!(seen.lock().unwrap().len(), 12, "nothing sent before 09:00 local");
    let release = Utc.with_ymd_and_hms(2026, 12, 3, 8, 0, 0).unwrap();
    assert_eq!(held_at(&state, minute(release)).await, ["user-3"], "held for 09:00 Berlin");
}

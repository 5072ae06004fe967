//! Welcome drips and recurring sends end to end through the API, the minute tick and the push worker,
//! with a loopback push service: on the embedded backend with a test clock (steps at their times, skips,
//! quiet hours, DST, replays), and on moto (DynamoDB's index and transactions) driving the tick's minute.

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
use webtrigger::ports::{Clock, FixedClock};
use webtrigger_tests::browser::Browser;

/// A push service that accepts everything and records `<subscriber>:<title>` of each push (the title is
/// not readable from the encrypted body, so it records the subscriber only; titles come from the API).
async fn accept(State(seen): State<Arc<Mutex<Vec<String>>>>, Path(name): Path<String>) -> StatusCode {
    seen.lock().unwrap().push(name);
    StatusCode::CREATED
}

struct Harness {
    state: webtrigger::AppState,
    clock: Option<Arc<FixedClock>>,
    fake: String,
    seen: Arc<Mutex<Vec<String>>>,
    admin: Client,
    page: Client,
    ws: String,
    site: String,
    base: String,
    browsers: std::collections::HashMap<String, Browser>,
}

impl Harness {
    /// A workspace with a site; with a test clock the admin signs in at the real time (tokens are checked
    /// against it), then the clock moves to `at`.
    async fn new(mut state: webtrigger::AppState, clock: Option<(Arc<FixedClock>, DateTime<Utc>)>) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = listener.local_addr().unwrap().to_string();
        let app = axum::Router::new().route("/push/{name}", post(accept)).with_state(seen.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        client::allow_push_hosts(&mut state, vec![fake.clone()]);
        if let Some((c, _)) = &clock {
            c.set(Utc::now());
        }
        let mut admin = Client::new(state.clone());
        admin.sign_up("ada@example.com").await;
        let ws = admin.create_workspace("Shop").await;
        let site = admin.post(&format!("/v1/workspaces/{ws}/sites"), json!({"name": "Shop", "allowed_origins": ["https://shop.example.com"], "contact": "mailto:ops@example.com"})).await;
        let site = site.data()["id"].as_str().unwrap().to_owned();
        if let Some((c, at)) = &clock {
            c.set(*at);
        }
        let mut page = Client::new(state.clone());
        page.extra_headers = vec![("origin".to_owned(), "https://shop.example.com".to_owned())];
        let base = format!("/v1/workspaces/{ws}/sites/{site}");
        Self { state, clock: clock.map(|c| c.0), fake, seen, admin, page, ws, site, base, browsers: Default::default() }
    }

    fn endpoint(&self, name: &str) -> String {
        format!("http://{}/push/{name}", self.fake)
    }

    /// Subscribes (or refreshes) browser `name`; answers the HTTP status.
    async fn subscribe(&mut self, name: &str, extra: Value) -> u16 {
        let endpoint = self.endpoint(name);
        let browser = self.browsers.entry(name.to_owned()).or_default();
        let mut body = json!({"subscription": browser.subscription(&endpoint)});
        body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        let r = self.page.call(Method::POST, &format!("/v1/public/sites/{}/subscriptions", self.site), Some(body)).await;
        assert!(r.status < 300, "{}", r.body);
        r.status
    }

    async fn unsubscribe(&mut self, name: &str) {
        let body = json!({"endpoint": self.endpoint(name)});
        let r = self.page.call(Method::DELETE, &format!("/v1/public/sites/{}/subscriptions", self.site), Some(body)).await;
        assert_eq!(r.data()["removed"], true);
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.as_ref().map_or_else(Utc::now, |c| c.now())
    }

    /// Sets the test clock and runs the minute tick at that time.
    async fn tick_at(&self, at: DateTime<Utc>) {
        self.clock.as_ref().expect("a test clock").set(at);
        webtrigger::schedule::tick(&self.state, at).await.unwrap();
    }

    /// Pushes received since the last call.
    fn take_seen(&self) -> Vec<String> {
        let mut seen = std::mem::take(&mut *self.seen.lock().unwrap());
        seen.sort();
        seen
    }

    /// Titles of the site's notifications (newest first) made by a drip or a schedule.
    async fn linked_titles(&mut self) -> Vec<String> {
        let list = self.admin.get(&format!("{}/notifications?limit=100", self.base)).await;
        list.data()["notifications"].as_array().unwrap().iter().filter(|n| n["source"].is_object()).map(|n| n["title"].as_str().unwrap().to_owned()).collect()
    }
}

async fn run_push_jobs(state: &webtrigger::AppState) -> usize {
    webtrigger_tests::run_push_jobs(state).await.len()
}

fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

fn step_stats(drip: &Value, i: usize) -> Value {
    drip["steps"][i]["stats"].clone()
}

/// Enrol → steps at their times (test clock), exactly once across replayed ticks, skipped after an
/// unsubscribe; a repeated subscribe enrols nobody twice; per-step stats add up.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drip_steps_go_at_their_times_once_and_stop_after_unsubscribe() {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 30).unwrap();
    let clock = Arc::new(FixedClock::new(start));
    let (state, _dir) = webtrigger_tests::embedded_state_with_clock(clock.clone()).await;
    let mut h = Harness::new(state, Some((clock.clone(), start - minutes(5)))).await;
    // A subscriber from before the drip existed.
    assert_eq!(h.subscribe("old", json!({})).await, 201);
    h.tick_at(start).await;
    let steps = json!([{"delay_minutes": 0, "title": "Welcome"}, {"delay_minutes": 1440, "title": "Day one"}, {"delay_minutes": 4320, "title": "Day three", "url": "https://shop.example.com/tips"}]);
    let drip = h.admin.post(&format!("{}/drips", h.base), json!({"name": "Welcome series", "steps": steps})).await;
    assert_eq!(drip.status, 201, "{}", drip.body);
    let one = format!("{}/drips/{}", h.base, drip.data()["id"].as_str().unwrap());

    assert_eq!(h.subscribe("ann", json!({})).await, 201);
    assert_eq!(h.subscribe("bob", json!({})).await, 201);
    assert_eq!(h.subscribe("ann", json!({"tags": ["again"]})).await, 200, "a refresh of the same subscription");
    assert_eq!(h.subscribe("old", json!({"tags": ["again"]})).await, 200, "a refresh of a subscription older than the drip");
    assert_eq!(h.admin.get(&one).await.data()["stats"]["enrolled"], 2, "no second enrolment on a repeated subscribe, none for a subscriber older than the drip");
    let audit = h.admin.get(&format!("/v1/workspaces/{}/audit", h.ws)).await;
    assert_eq!(audit.data()["entries"][0]["action"], "drip.create");

    // Step 0 at the next minute tick.
    h.tick_at(start + minutes(1)).await;
    assert!(run_push_jobs(&h.state).await > 0);
    assert_eq!(h.take_seen(), ["ann", "bob"]);
    assert_eq!(h.linked_titles().await, ["Welcome", "Welcome"]);

    // The same minute again (a tick that died after its sends, then the next one's look-back), and an
    // overlapping tick: nothing is sent twice.
    let minute = (start + minutes(1)).timestamp().div_euclid(60);
    for _ in 0..2 {
        assert_eq!(webtrigger::drips::tick::run(&h.state, minute, 120).await.unwrap(), 0);
    }
    let again = futures_util::future::join_all((0..3).map(|_| webtrigger::schedule::tick(&h.state, start + minutes(1)))).await;
    assert!(again.iter().all(|r| r.is_ok()));
    assert_eq!(run_push_jobs(&h.state).await, 0, "nothing queued again");
    assert_eq!(h.linked_titles().await.len(), 2);

    // Day one: not a minute early (the step is due at the subscription's minute, rounded up).
    h.tick_at(start + minutes(1440)).await;
    run_push_jobs(&h.state).await;
    assert!(h.take_seen().is_empty(), "not before its time");
    h.tick_at(start + minutes(1441)).await;
    run_push_jobs(&h.state).await;
    assert_eq!(h.take_seen(), ["ann", "bob"]);

    // Bob unsubscribes; day three goes to Ann only and Bob's is counted skipped.
    h.unsubscribe("bob").await;
    h.tick_at(start + minutes(4321)).await;
    run_push_jobs(&h.state).await;
    assert_eq!(h.take_seen(), ["ann"]);
    assert_eq!(h.linked_titles().await, ["Day three", "Day one", "Day one", "Welcome", "Welcome"]);

    let view = h.admin.get(&one).await.data().clone();
    assert_eq!((step_stats(&view, 0)["sent"].as_i64(), step_stats(&view, 0)["accepted"].as_i64()), (Some(2), Some(2)), "{view}");
    assert_eq!((step_stats(&view, 1)["sent"].as_i64(), step_stats(&view, 1)["accepted"].as_i64()), (Some(2), Some(2)), "{view}");
    assert_eq!((step_stats(&view, 2)["sent"].as_i64(), step_stats(&view, 2)["skipped_unsubscribed"].as_i64()), (Some(1), Some(1)), "{view}");
    assert_eq!((view["stats"]["enrolled"].as_i64(), view["stats"]["completed"].as_i64(), view["stats"]["stopped"].as_i64()), (Some(2), Some(1), Some(1)), "{view}");

    // A click on Ann's day-three push counts on the step.
    let list = h.admin.get(&format!("{}/notifications?limit=1", h.base)).await;
    let id = list.data()["notifications"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(list.data()["notifications"][0]["source"]["kind"], "drip_step");
    let mut sw = Client::new(h.state.clone());
    sw.extra_headers = vec![("origin".to_owned(), "https://shop.example.com".to_owned())];
    sw.post(&format!("/v1/public/sites/{}/notifications/{id}/events", h.site), json!({"event": "click"})).await.data();
    assert_eq!(step_stats(h.admin.get(&one).await.data(), 2)["clicks"], 1);

    // A subscriber after the last step's time for the others still gets the whole drip from the start.
    h.clock.as_ref().unwrap().set(start + minutes(5000));
    h.subscribe("cat", json!({})).await;
    h.tick_at(start + minutes(5001)).await;
    run_push_jobs(&h.state).await;
    assert_eq!(h.take_seen(), ["cat"]);
    assert_eq!(step_stats(h.admin.get(&one).await.data(), 0)["sent"], 3);
}

/// A drip limited to a segment skips subscribers outside it when each step is due; an edit inserts a
/// step without resending those already had (it goes out when the enrolment's waiting step was due);
/// quiet hours hold a step until they end in the subscriber's zone; a paused drip enrols nobody and
/// skips due steps; a deleted one sends nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drip_segment_edit_quiet_hours_pause_and_delete() {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
    let at = |d: u32, h: u32, m: u32| Utc.with_ymd_and_hms(2026, 12, d, h, m, 0).unwrap();
    let clock = Arc::new(FixedClock::new(start));
    let (state, _dir) = webtrigger_tests::embedded_state_with_clock(clock.clone()).await;
    let mut h = Harness::new(state, Some((clock, start))).await;
    h.tick_at(start).await;
    let segment = h.admin.post(&format!("{}/segments", h.base), json!({"name": "VIP", "rules": {"groups": [{"conditions": [{"field": "tags", "op": "any", "value": ["vip"]}]}]}})).await;
    assert_eq!(segment.status, 201, "{}", segment.body);
    let segment_id = segment.data()["id"].as_str().unwrap().to_owned();
    let steps = json!([{"delay_minutes": 10, "title": "Hello VIP"}, {"delay_minutes": 120, "title": "Still VIP?"}]);
    let drip = h.admin.post(&format!("{}/drips", h.base), json!({"name": "VIP", "segment_id": segment_id, "steps": steps})).await;
    assert_eq!(drip.status, 201, "{}", drip.body);
    let drip = drip.data().clone();
    let one = format!("{}/drips/{}", h.base, drip["id"].as_str().unwrap());

    h.subscribe("vip", json!({"tags": ["vip"], "timezone": "Europe/Berlin"})).await;
    h.subscribe("plain", json!({"tags": ["news"]})).await;
    h.tick_at(at(1, 12, 10)).await;
    run_push_jobs(&h.state).await;
    assert_eq!(h.take_seen(), ["vip"], "only the segment gets the step");
    let view = h.admin.get(&one).await.data().clone();
    assert_eq!((step_stats(&view, 0)["sent"].as_i64(), step_stats(&view, 0)["skipped_segment"].as_i64()), (Some(1), Some(1)), "{view}");

    // An edit inserts a step at 60 minutes and keeps the others by id (with their stats).
    let kept = |i: usize| drip["steps"][i]["id"].clone();
    let edited = json!({"name": "VIP", "segment_id": segment_id, "steps": [
        {"id": kept(0), "delay_minutes": 10, "title": "Hello VIP"}, {"delay_minutes": 60, "title": "New step"}, {"id": kept(1), "delay_minutes": 120, "title": "Still VIP? (edited)"}]});
    let put = h.admin.call(Method::PUT, &one, Some(edited)).await;
    assert_eq!(put.data()["steps"][1]["title"], "New step");
    assert_eq!(put.data()["steps"][0]["stats"]["sent"], 1, "stats stay with the kept step");
    let new_step = put.data()["steps"][1]["id"].clone();
    assert!(new_step.as_str().unwrap().starts_with("stp_"));

    // Quiet hours 15:00–08:00 subscriber-local. The enrolments wait for 14:00 UTC (the 120-minute step);
    // then the inserted step is next: for Berlin (15:00 local) it is quiet, so it waits for 08:00 Berlin.
    let settings = json!({"name": "Shop", "allowed_origins": ["https://shop.example.com"], "contact": "mailto:ops@example.com", "quiet_hours": {"start": "15:00", "end": "08:00"}});
    h.admin.call(Method::PUT, &format!("/v1/workspaces/{}/sites/{}", h.ws, h.site), Some(settings)).await.data();
    h.tick_at(at(1, 13, 0)).await;
    h.tick_at(at(1, 14, 0)).await;
    run_push_jobs(&h.state).await;
    assert!(h.take_seen().is_empty(), "held by quiet hours");
    h.tick_at(at(2, 6, 59)).await;
    run_push_jobs(&h.state).await;
    assert!(h.take_seen().is_empty(), "not before the quiet hours end");
    h.tick_at(at(2, 7, 0)).await;
    run_push_jobs(&h.state).await;
    assert_eq!(h.take_seen(), ["vip"], "released when they end (08:00 in Berlin)");
    h.tick_at(at(2, 7, 1)).await;
    run_push_jobs(&h.state).await;
    assert_eq!(h.take_seen(), ["vip"], "the last step a minute later");
    assert_eq!(h.linked_titles().await, ["Still VIP? (edited)", "New step", "Hello VIP"], "the edited content, each step once");
    let view = h.admin.get(&one).await.data().clone();
    assert_eq!(view["steps"][1]["id"], new_step);
    assert_eq!((step_stats(&view, 1)["sent"].as_i64(), step_stats(&view, 1)["skipped_segment"].as_i64()), (Some(1), Some(1)), "{view}");
    assert_eq!((step_stats(&view, 2)["sent"].as_i64(), step_stats(&view, 2)["skipped_segment"].as_i64()), (Some(1), Some(1)), "{view}");

    // Paused: a new subscriber is not enrolled; resumed: the next one is; paused again before that
    // one's first step: the step is skipped, not held.
    let paused = h.admin.post(&format!("{one}/pause"), json!({})).await;
    assert_eq!(paused.data()["status"], "paused");
    h.subscribe("late", json!({"tags": ["vip"]})).await;
    assert_eq!(h.admin.get(&one).await.data()["stats"]["enrolled"], 2);
    assert_eq!(h.admin.post(&format!("{one}/resume"), json!({})).await.data()["status"], "active");
    h.subscribe("later", json!({"tags": ["vip"]})).await;
    assert_eq!(h.admin.get(&one).await.data()["stats"]["enrolled"], 3);
    h.admin.post(&format!("{one}/pause"), json!({})).await.data();
    h.tick_at(at(2, 7, 11)).await;
    run_push_jobs(&h.state).await;
    assert!(h.take_seen().is_empty());
    assert_eq!(step_stats(h.admin.get(&one).await.data(), 0)["skipped_paused"], 1);

    // Deleted: the waiting enrolment is dropped when due; nothing is sent.
    h.admin.post(&format!("{one}/resume"), json!({})).await.data();
    h.admin.call(Method::DELETE, &one, None).await.data();
    h.admin.get(&one).await.assert_error(404, "not_found");
    h.tick_at(at(2, 8, 2)).await;
    assert_eq!(run_push_jobs(&h.state).await, 0);
    assert!(h.take_seen().is_empty());
}

/// A daily schedule at 09:00 in Berlin across the spring-forward day: next runs move from 08:00 to 07:00
/// UTC; each run is one notification to everyone, once across replayed and overlapping ticks; pause
/// skips runs, resume goes on from the next. Weekly and monthly next runs through the draft preview.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recurring_runs_once_per_date_across_dst() {
    let start = Utc.with_ymd_and_hms(2026, 3, 27, 12, 0, 0).unwrap();
    let clock = Arc::new(FixedClock::new(start));
    let (state, _dir) = webtrigger_tests::embedded_state_with_clock(clock.clone()).await;
    let mut h = Harness::new(state, Some((clock, start))).await;
    h.tick_at(start).await;
    h.subscribe("ann", json!({})).await;
    h.subscribe("bob", json!({})).await;
    let body = json!({"name": "Morning news", "rule": {"kind": "daily"}, "time": "09:00", "timezone": "Europe/Berlin", "target": {"type": "all"}, "notification": {"title": "Good morning", "url": "https://shop.example.com/news"}});
    let created = h.admin.post(&format!("{}/recurring", h.base), body.clone()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.data()["next_run"]["starts_at"], "2026-03-28T08:00:00Z");
    let one = format!("{}/recurring/{}", h.base, created.data()["id"].as_str().unwrap());
    let next = h.admin.get(&format!("{one}/next-runs?count=3")).await;
    let starts: Vec<&str> = next.data().as_array().unwrap().iter().map(|r| r["starts_at"].as_str().unwrap()).collect();
    assert_eq!(starts, ["2026-03-28T08:00:00Z", "2026-03-29T07:00:00Z", "2026-03-30T07:00:00Z"], "CET, then CEST from March 29");

    // Weekly on Sundays at 02:30 (missing on March 29: taken at 03:30 CEST) and monthly on the 31st.
    let preview = |rule: Value, time: &str| json!({"name": "p", "rule": rule, "time": time, "timezone": "Europe/Berlin", "target": {"type": "all"}, "notification": {"title": "x"}});
    let weekly = h.admin.post(&format!("{}/recurring/next-runs?count=2", h.base), preview(json!({"kind": "weekly", "days": ["sun"]}), "02:30")).await;
    assert_eq!(weekly.data().as_array().unwrap().iter().map(|r| r["starts_at"].as_str().unwrap()).collect::<Vec<_>>(), ["2026-03-29T01:30:00Z", "2026-04-05T00:30:00Z"]);
    let monthly = h.admin.post(&format!("{}/recurring/next-runs?count=2", h.base), preview(json!({"kind": "monthly", "day": 31}), "09:00")).await;
    assert_eq!(monthly.data().as_array().unwrap().iter().map(|r| r["date"].as_str().unwrap()).collect::<Vec<_>>(), ["2026-03-31", "2026-04-30"], "April has no 31st");

    // The first run: not a minute early; then once, however often the minute is run.
    let first = Utc.with_ymd_and_hms(2026, 3, 28, 8, 0, 0).unwrap();
    h.tick_at(first - minutes(1)).await;
    assert!(h.linked_titles().await.is_empty());
    h.tick_at(first).await;
    let minute = first.timestamp().div_euclid(60);
    for _ in 0..2 {
        assert_eq!(webtrigger::recurring::tick::run(&h.state, minute, 120).await.unwrap(), 0);
    }
    let overlapping = futures_util::future::join_all((0..3).map(|_| webtrigger::schedule::tick(&h.state, first))).await;
    assert!(overlapping.iter().all(|r| r.is_ok()));
    run_push_jobs(&h.state).await;
    assert_eq!(h.take_seen(), ["ann", "bob"]);
    assert_eq!(h.linked_titles().await, ["Good morning"]);
    let runs = h.admin.get(&format!("{one}/runs")).await;
    let run = &runs.data()["runs"][0];
    assert_eq!((run["date"].as_str(), run["notification"]["status"].as_str(), run["notification"]["stats"]["accepted"].as_i64()), (Some("2026-03-28"), Some("completed"), Some(2)), "{run}");
    assert_eq!(run["notification"]["source"]["schedule_id"], created.data()["id"]);
    let view = h.admin.get(&one).await.data().clone();
    assert_eq!((view["stats"]["runs"].as_i64(), view["stats"]["accepted"].as_i64(), view["next_run"]["starts_at"].as_str()), (Some(1), Some(2), Some("2026-03-29T07:00:00Z")), "{view}");

    // Paused over March 29's run; resumed after it: March 30 is next, the missed one is not made up.
    assert_eq!(h.admin.post(&format!("{one}/pause"), json!({})).await.data()["status"], "paused");
    h.tick_at(Utc.with_ymd_and_hms(2026, 3, 29, 7, 0, 0).unwrap()).await;
    assert_eq!(h.linked_titles().await.len(), 1, "no run while paused");
    h.clock.as_ref().unwrap().set(Utc.with_ymd_and_hms(2026, 3, 29, 7, 30, 0).unwrap());
    let resumed = h.admin.post(&format!("{one}/resume"), json!({})).await;
    assert_eq!((resumed.data()["status"].as_str(), resumed.data()["next_run"]["date"].as_str()), (Some("active"), Some("2026-03-30")));
    h.tick_at(Utc.with_ymd_and_hms(2026, 3, 30, 7, 0, 0).unwrap()).await;
    run_push_jobs(&h.state).await;
    assert_eq!(h.take_seen(), ["ann", "bob"]);

    // An edit to a later time the same day does not run that date again.
    let later = json!({"name": "Morning news", "rule": {"kind": "daily"}, "time": "18:00", "timezone": "Europe/Berlin", "target": {"type": "all"}, "notification": {"title": "Evening news"}});
    let edited = h.admin.call(Method::PUT, &one, Some(later)).await;
    assert_eq!(edited.data()["next_run"]["date"], "2026-03-31", "March 30 already ran");
    assert_eq!(h.linked_titles().await, ["Good morning", "Good morning"]);

    // Every change is in the audit log; the tick's runs are not (they are the schedule's, not a person's).
    let audit = h.admin.get(&format!("/v1/workspaces/{}/audit", h.ws)).await;
    let actions: Vec<&str> = audit.data()["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).filter(|a| a.starts_with("recurring.")).collect();
    assert_eq!(actions, ["recurring.update", "recurring.resume", "recurring.pause", "recurring.create"], "newest first");
}

/// "At 09:00 in each subscriber's time zone": the run starts 13 h before 09:00 UTC and the fan-out holds
/// each zone's bucket for 09:00 on its own clock on the run's date.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recurring_subscriber_local_runs_reach_each_zone_on_its_date() {
    let start = Utc.with_ymd_and_hms(2026, 10, 30, 12, 0, 0).unwrap();
    let clock = Arc::new(FixedClock::new(start));
    let (state, _dir) = webtrigger_tests::embedded_state_with_clock(clock.clone()).await;
    let mut h = Harness::new(state, Some((clock, start))).await;
    h.tick_at(start).await;
    for (name, tz) in [("tokyo", "Asia/Tokyo"), ("berlin", "Europe/Berlin"), ("newyork", "America/New_York")] {
        h.subscribe(name, json!({"timezone": tz})).await;
    }
    let body = json!({"name": "Sunday digest", "rule": {"kind": "weekly", "days": ["sun"]}, "time": "09:00", "subscriber_local": true, "target": {"type": "all"}, "notification": {"title": "Digest"}});
    let created = h.admin.post(&format!("{}/recurring", h.base), body).await;
    assert_eq!((created.data()["next_run"]["date"].as_str(), created.data()["next_run"]["starts_at"].as_str()), (Some("2026-11-01"), Some("2026-10-31T20:00:00Z")), "{}", created.body);
    h.tick_at(Utc.with_ymd_and_hms(2026, 10, 31, 20, 0, 0).unwrap()).await;
    run_push_jobs(&h.state).await;
    assert!(h.take_seen().is_empty(), "nobody's 09:00 yet");
    // 09:00 on Sunday November 1: Tokyo 00:00 UTC, Berlin (CET since October 25) 08:00, New York (EST
    // from 02:00 that morning) 14:00.
    for (hour, name) in [(0, "tokyo"), (8, "berlin"), (14, "newyork")] {
        let at = Utc.with_ymd_and_hms(2026, 11, 1, hour, 0, 0).unwrap();
        h.tick_at(at - minutes(1)).await;
        run_push_jobs(&h.state).await;
        assert!(h.take_seen().is_empty(), "{name} not a minute early");
        h.tick_at(at).await;
        run_push_jobs(&h.state).await;
        assert_eq!(h.take_seen(), [name], "{name} at {at}");
    }
    assert_eq!(h.linked_titles().await, ["Digest"], "one run, one notification");
}

/// Bad input is a 422 naming the field; foreign or unknown ids are 404; a read-only key cannot write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_is_refused_with_the_field_named() {
    let (state, _dir) = webtrigger_tests::embedded_state().await;
    let mut h = Harness::new(state, None).await;
    let drips = format!("{}/drips", h.base);
    let step = json!({"delay_minutes": 0, "title": "Hi"});
    let drip_cases = [
        (json!({"name": "", "steps": [step]}), "name:"),
        (json!({"name": "D", "steps": []}), "steps:"),
        (json!({"name": "D", "steps": [{"delay_minutes": 60, "title": "a"}, {"delay_minutes": 30, "title": "b"}]}), "steps[1].delay_minutes"),
        (json!({"name": "D", "steps": [{"delay_minutes": 0, "title": "a", "image": "ftp://x"}]}), "steps[0].image"),
        (json!({"name": "D", "segment_id": "seg_01jdxxxxxxxxxxxxxxxxxxxxxx", "steps": [step]}), "segment_id:"),
        (json!({"name": "D", "steps": [{"delay_minutes": -5, "title": "a"}]}), "steps[0]"),
        (json!({"name": "D", "status": "sleeping", "steps": [step]}), "status"),
    ];
    for (body, field) in drip_cases {
        let r = h.admin.post(&drips, body.clone()).await;
        r.assert_error(422, "validation_failed");
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{body}: `{message}` does not name `{field}`");
    }
    let recurring = format!("{}/recurring", h.base);
    let good = json!({"name": "R", "rule": {"kind": "daily"}, "time": "09:00", "target": {"type": "all"}, "notification": {"title": "Hi"}});
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    let recurring_cases = [
        (with("rule", json!({"kind": "weekly", "days": []})), "rule.days"),
        (with("rule", json!({"kind": "monthly", "day": 40})), "rule.day"),
        (with("rule", json!({"kind": "hourly"})), "rule"),
        (with("time", json!("9 am")), "time"),
        (with("timezone", json!("Mars/Olympus")), "timezone:"),
        (with("start_date", json!("tomorrow")), "start_date:"),
        (json!({"start_date": "2026-05-10", "end_date": "2026-05-01", "name": "R", "rule": {"kind": "daily"}, "time": "09:00", "target": {"type": "all"}, "notification": {"title": "Hi"}}), "end_date:"),
        (with("end_date", json!("2020-01-01")), "end_date:"),
        (with("target", json!({"type": "subscriber", "id": "x"})), "target.type"),
        (with("target", json!({"type": "segment", "segment_id": "seg_01jdxxxxxxxxxxxxxxxxxxxxxx"})), "target.segment_id"),
        (with("notification", json!({"title": ""})), "notification.title"),
        (with("name", json!(" ")), "name:"),
    ];
    for (body, field) in recurring_cases {
        let r = h.admin.post(&recurring, body.clone()).await;
        r.assert_error(422, "validation_failed");
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{body}: `{message}` does not name `{field}`");
    }
    h.admin.get(&format!("{recurring}/rec_01jdxxxxxxxxxxxxxxxxxxxxxx")).await.assert_error(404, "not_found");
    h.admin.get(&format!("{drips}/drp_01jdxxxxxxxxxxxxxxxxxxxxxx")).await.assert_error(404, "not_found");
    h.admin.get(&format!("{drips}/not-an-id")).await.assert_error(404, "not_found");
    h.admin.get(&format!("/v1/workspaces/{}/sites/site_01jdxxxxxxxxxxxxxxxxxxxxxx/drips", h.ws)).await.assert_error(404, "not_found");
    h.admin.get(&format!("{recurring}?cursor=garbage")).await.assert_error(422, "validation_failed");
    let created = h.admin.post(&recurring, good.clone()).await;
    let id = created.data()["id"].as_str().unwrap().to_owned();
    h.admin.call(Method::PUT, &format!("{recurring}/{id}"), Some(with("version", json!(99)))).await.assert_error(409, "conflict");

    // A read-only API key reads but cannot write; another workspace sees none of it.
    let key = h.admin.post(&format!("/v1/workspaces/{}/api-keys", h.ws), json!({"name": "ro", "scopes": ["read"]})).await;
    let mut reader = h.admin.with_token(key.data()["secret"].as_str().unwrap());
    assert_eq!(reader.get(&recurring).await.data()["schedules"].as_array().unwrap().len(), 1);
    reader.post(&recurring, good.clone()).await.assert_error(403, "forbidden");
    reader.post(&drips, json!({"name": "D", "steps": [step]})).await.assert_error(403, "forbidden");
    reader.post(&format!("{recurring}/{id}/pause"), json!({})).await.assert_error(403, "forbidden");
    let mut eve = Client::new(h.state.clone());
    eve.sign_up("eve@example.com").await;
    let eve_ws = eve.create_workspace("Eve").await;
    eve.get(&format!("/v1/workspaces/{eve_ws}/sites/{}/recurring/{id}", h.site)).await.assert_error(404, "not_found");
    eve.get(&format!("{recurring}/{id}")).await.assert_error(404, "not_found");

    // Lists page with a cursor.
    h.admin.post(&recurring, with("name", json!("R2"))).await.data();
    let first = h.admin.get(&format!("{recurring}?limit=1")).await;
    let cursor = first.data()["next_cursor"].as_str().expect("a second page").to_owned();
    let second = h.admin.get(&format!("{recurring}?limit=1&cursor={cursor}")).await;
    assert_ne!(first.data()["schedules"][0]["id"], second.data()["schedules"][0]["id"]);
}


async fn wait_for_pushes(h: &Harness, n: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if h.seen.lock().unwrap().len() >= n {
            // A little longer, to catch a duplicate.
            tokio::time::sleep(Duration::from_millis(500)).await;
            return h.take_seen();
        }
        assert!(tokio::time::Instant::now() < deadline, "only {:?} of {n} pushes", h.seen.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// On DynamoDB (moto): enrolments and schedules found through the gsi1 due index, moved in transactions,
/// sent once; the tick's minute is driven directly (the clock is the real one).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drips_and_recurring_on_aws() {
    let state = webtrigger_tests::aws_state_with_clock(Arc::new(webtrigger::ports::SystemClock)).await;
    let mut h = Harness::new(state, None).await;
    let (stop_tx, worker) = client::start_push_worker(&h.state);
    let steps = json!([{"delay_minutes": 0, "title": "Welcome"}, {"delay_minutes": 1440, "title": "Day one"}]);
    let drip = h.admin.post(&format!("{}/drips", h.base), json!({"name": "Welcome", "steps": steps})).await;
    let one = format!("{}/drips/{}", h.base, drip.data()["id"].as_str().unwrap());
    // The real clock runs on: bound the enrolment's minute from both sides so no tick lands on a boundary.
    let before = h.now().timestamp().div_euclid(60);
    h.subscribe("ann", json!({})).await;
    h.subscribe("ann", json!({})).await;
    let after = h.now().timestamp().div_euclid(60);
    assert_eq!(h.admin.get(&one).await.data()["stats"]["enrolled"], 1);
    let minute = after + 1;
    assert_eq!(webtrigger::drips::tick::run(&h.state, minute, 120).await.unwrap(), 1);
    assert_eq!(webtrigger::drips::tick::run(&h.state, minute, 120).await.unwrap(), 0, "moved once");
    assert_eq!(wait_for_pushes(&h, 1).await, ["ann"]);
    assert_eq!(webtrigger::drips::tick::run(&h.state, before + 1440, 1500).await.unwrap(), 0, "day one is not due a minute early");
    assert_eq!(webtrigger::drips::tick::run(&h.state, after + 1441, 1500).await.unwrap(), 1);
    assert_eq!(wait_for_pushes(&h, 1).await, ["ann"]);
    assert_eq!(step_stats(h.admin.get(&one).await.data(), 1)["sent"], 1);

    let body = json!({"name": "Daily", "rule": {"kind": "daily"}, "time": "09:00", "timezone": "Europe/Berlin", "target": {"type": "all"}, "notification": {"title": "Daily"}});
    let created = h.admin.post(&format!("{}/recurring", h.base), body).await;
    let starts = DateTime::parse_from_rfc3339(created.data()["next_run"]["starts_at"].as_str().unwrap()).unwrap().with_timezone(&Utc);
    let due = (starts.timestamp() + 59).div_euclid(60);
    assert_eq!(webtrigger::recurring::tick::run(&h.state, due - 1, 120).await.unwrap(), 0, "not before its minute");
    // The real clock is before the run's start: the run is made all the same (the tick decides what is due).
    assert_eq!(webtrigger::recurring::tick::run(&h.state, due, 120).await.unwrap(), 1);
    assert_eq!(webtrigger::recurring::tick::run(&h.state, due, 120).await.unwrap(), 0, "run once");
    assert_eq!(wait_for_pushes(&h, 1).await, ["ann"]);
    let runs = h.admin.get(&format!("{}/recurring/{}/runs", h.base, created.data()["id"].as_str().unwrap())).await;
    assert_eq!(runs.data()["runs"].as_array().unwrap().len(), 1);
    stop_tx.send(true).unwrap();
    worker.await.unwrap();
}

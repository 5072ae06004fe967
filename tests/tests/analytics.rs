//! Push analytics on both backends (SQLite, and the AWS adapters on moto) with the real worker and a
//! loopback push service: a send with impressions, clicks (with an action button), dismissals,
//! conversions (from the service worker's page and from the server API) and an unsubscribe; every event
//! counts once per subscriber; the rollup buckets (per notification by hour, per site by hour and by
//! day) add up to the notification's own counters, also after a finished deliver job is delivered again;
//! subscriber growth; the A/B funnel; range validation; CSV.

#[path = "api/client.rs"]
mod client;

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::post;
use client::{Client, Reply};
use serde_json::{json, Value};
use webtrigger_tests::run_push_jobs;
use webtrigger_tests::browser::Browser;

const ORIGIN: &str = "https://shop.example.com";

/// Answers by name: `ok-*` 201, `gone-*` 410, anything else 403.
async fn push_service(State(seen): State<Arc<Mutex<Vec<String>>>>, Path(name): Path<String>) -> StatusCode {
    seen.lock().unwrap().push(name.clone());
    match name.split('-').next() {
        Some("ok") => StatusCode::CREATED,
        Some("gone") => StatusCode::GONE,
        _ => StatusCode::FORBIDDEN,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn analytics_embedded() {
    let (state, _dir) = webtrigger_tests::embedded_state().await;
    analytics(state).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn analytics_aws() {
    analytics(webtrigger_tests::aws_state_with_clock(Arc::new(webtrigger::ports::SystemClock)).await).await;
}

fn n(v: &Value, name: &str) -> i64 {
    v[name].as_i64().unwrap_or_else(|| panic!("no number `{name}` in {v}"))
}

/// The delivery and engagement counters a bucket total must share with the notification's own.
const SHARED: [&str; 9] = ["accepted", "failed_gone", "failed_rejected", "impressions", "clicks", "dismissals", "conversions", "unsubscribes", "capped"];

async fn analytics(mut state: webtrigger::AppState) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let app = axum::Router::new().route("/push/{name}", post(push_service)).with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    state.push = Arc::new(webtrigger::push::PushRuntime { policy: webtrigger::push::types::EndpointPolicy { extra_hosts: vec![host.clone()] }, ..Default::default() });

    let mut ada = Client::new(state.clone());
    ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Shop").await;
    let sites = format!("/v1/workspaces/{ws}/sites");
    let site = ada.post(&sites, json!({"name": "Shop", "allowed_origins": [ORIGIN], "contact": "mailto:ops@example.com"})).await.data()["id"].as_str().unwrap().to_owned();
    let public = format!("/v1/public/sites/{site}");
    let mut page = Client::new(state.clone());
    page.extra_headers = vec![("origin".into(), ORIGIN.into())];
    let names = ["ok-a", "ok-b", "ok-c", "gone-d", "denied-e"];
    let endpoint = |name: &str| format!("http://{host}/push/{name}");
    for (i, name) in names.iter().enumerate() {
        let browser = if i == 0 { "Firefox" } else { "Chrome" };
        let body = json!({"subscription": Browser::new().subscription(&endpoint(name)), "browser": browser, "os": "Linux"});
        assert_eq!(page.call(Method::POST, &format!("{public}/subscriptions"), Some(body)).await.status, 201);
    }

    // One send to all five, with an action button.
    let notifications = format!("{sites}/{site}/notifications");
    let sent = ada.post(&notifications, json!({"title": "Boots", "url": "https://shop.example.com/boots", "actions": [{"action": "cart", "title": "Add to cart"}], "target": {"type": "all"}})).await;
    let id = sent.data()["id"].as_str().unwrap().to_owned();
    run_push_jobs(&state).await;
    let one = format!("{notifications}/{id}");
    assert_eq!(ada.get(&one).await.data()["status"], "completed");

    // The service worker's reports, each naming the browser's endpoint; repeats count once.
    let events = format!("{public}/notifications/{id}/events");
    let report = |event: Value| {
        let mut page = page.clone();
        let events = events.clone();
        async move { page.post(&events, event).await }
    };
    let counted = |r: Reply| r.data()["counted"].as_bool().unwrap();
    for name in ["ok-a", "ok-b", "ok-c"] {
        assert!(counted(report(json!({"event": "impression", "endpoint": endpoint(name)})).await));
    }
    assert!(!counted(report(json!({"event": "impression", "endpoint": endpoint("ok-a")})).await), "a retried impression report");
    assert!(counted(report(json!({"event": "click", "endpoint": endpoint("ok-a"), "action": "cart"})).await));
    assert!(!counted(report(json!({"event": "click", "endpoint": endpoint("ok-a"), "action": "cart"})).await), "a repeated click");
    assert!(counted(report(json!({"event": "click", "endpoint": endpoint("ok-b")})).await));
    assert!(counted(report(json!({"event": "dismiss", "endpoint": endpoint("ok-c")})).await));
    assert!(counted(report(json!({"event": "conversion", "endpoint": endpoint("ok-a"), "value": 19.99})).await));
    assert!(!counted(report(json!({"event": "conversion", "endpoint": endpoint("ok-a"), "value": 19.99})).await), "one conversion per subscriber");
    report(json!({"event": "conversion", "value": -1})).await.assert_error(422, "validation_failed");
    report(json!({"event": "hover"})).await.assert_error(422, "validation_failed");
    let mut foreign = page.clone();
    foreign.extra_headers = vec![("origin".into(), "https://evil.example.com".into())];
    foreign.post(&events, json!({"event": "click", "endpoint": endpoint("ok-c")})).await.assert_error(403, "forbidden");
    let mut headless = page.clone();
    headless.extra_headers.clear();
    headless.post(&events, json!({"event": "click"})).await.assert_error(403, "forbidden");
    page.post(&format!("{public}/notifications/ntf_01jd5x8q0y8m3n2b7c4v6w9z1a/events"), json!({"event": "click"})).await.assert_error(404, "not_found");

    // The customer's server reports an order by API key; its order id makes a repeat harmless.
    let key = ada.post(&format!("/v1/workspaces/{ws}/api-keys"), json!({"name": "shop", "scopes": ["read", "notifications:send"]})).await;
    let mut server = ada.with_token(key.data()["secret"].as_str().unwrap());
    let conversions = format!("{sites}/{site}/conversions");
    let order = json!({"notification_id": id, "value": 5, "conversion_id": "order-1"});
    assert_eq!(server.post(&conversions, order.clone()).await.data()["counted"], true);
    assert_eq!(server.post(&conversions, order).await.data()["counted"], false);
    server.post(&conversions, json!({"notification_id": id, "subscriber_id": "nope"})).await.assert_error(422, "validation_failed");
    server.post(&conversions, json!({"notification_id": "ntf_01jd5x8q0y8m3n2b7c4v6w9z1a"})).await.assert_error(404, "not_found");
    let read_only = ada.post(&format!("/v1/workspaces/{ws}/api-keys"), json!({"name": "ro", "scopes": ["read"]})).await;
    let mut reader = ada.with_token(read_only.data()["secret"].as_str().unwrap());
    reader.post(&conversions, json!({"notification_id": id})).await.assert_error(403, "forbidden");

    // An unsubscribe during the visit counts against the notification and in the day's growth.
    let removed = page.call(Method::DELETE, &format!("{public}/subscriptions"), Some(json!({"endpoint": endpoint("ok-b"), "notification_id": id}))).await;
    assert_eq!(removed.data()["removed"], true);

    let stats = ada.get(&one).await.data()["stats"].clone();
    let expected = [("targeted", 5), ("accepted", 3), ("failed_gone", 1), ("failed_rejected", 1), ("impressions", 3), ("clicks", 2), ("action1_clicks", 1), ("dismissals", 1), ("conversions", 2), ("value_cents", 2499), ("unsubscribes", 1)];
    for (name, want) in expected {
        assert_eq!(n(&stats, name), want, "{name} in {stats}");
    }

    // A finished deliver job delivered again (a duplicate SQS message) sends and counts nothing.
    let direct = ada.post(&notifications, json!({"title": "Just you", "target": {"type": "subscriber", "id": webtrigger::auth::tokens::token_hash(&endpoint("ok-a"))[..32].to_owned()}})).await;
    let direct_id = direct.data()["id"].as_str().unwrap().to_owned();
    run_push_jobs(&state).await;
    let subscriber: webtrigger::push::subscribers::Subscriber = serde_json::from_value(ada.get(&format!("{sites}/{site}/subscribers/{}", &webtrigger::auth::tokens::token_hash(&endpoint("ok-a"))[..32])).await.data().clone()).unwrap();
    let (wsid, siteid, nid) = (webtrigger::auth::WorkspaceId::parse(&ws).unwrap(), webtrigger::push::sites::SiteId::parse(&site).unwrap(), webtrigger::push::notifications::NotificationId::parse(&direct_id).unwrap());
    let again = webtrigger::push::notifications::deliver_jobs(&wsid, &siteid, &nid, "direct", vec![subscriber]);
    let before = seen.lock().unwrap().len();
    let messages = again.iter().map(|j| webtrigger::ports::OutgoingMessage::new(serde_json::to_string(j).unwrap())).collect();
    state.queue.send("push-send", messages).await.unwrap();
    run_push_jobs(&state).await;
    assert_eq!(seen.lock().unwrap().len(), before, "the repeat sent nothing");
    let direct_report = ada.get(&format!("{notifications}/{direct_id}/analytics")).await;
    let hours = direct_report.data()["hours"].as_array().unwrap();
    assert_eq!((hours.iter().map(|h| n(h, "accepted")).sum::<i64>(), n(&direct_report.data()["funnel"], "accepted")), (1, 1), "{}", direct_report.body);

    // The site's buckets, by hour and by day, add up to the two notifications' counters.
    let now = chrono::Utc::now();
    let (from, to) = ((now - chrono::Duration::hours(3)).to_rfc3339(), (now + chrono::Duration::hours(2)).to_rfc3339());
    let analytics = format!("{sites}/{site}/analytics");
    let hourly = ada.get(&format!("{analytics}?granularity=hour&from={}&to={}", enc(&from), enc(&to))).await;
    let daily = ada.get(&format!("{analytics}?granularity=day&from={}&to={}", enc(&(now - chrono::Duration::days(2)).to_rfc3339()), enc(&to))).await;
    for report in [&hourly, &daily] {
        let totals = &report.data()["totals"];
        let buckets = report.data()["buckets"].as_array().unwrap();
        for name in SHARED {
            let direct_part = if name == "accepted" { 1 } else { 0 };
            assert_eq!(n(totals, name), n(&stats, name) + direct_part, "site total {name}: {totals}");
            assert_eq!(buckets.iter().map(|b| n(b, name)).sum::<i64>(), n(totals, name), "buckets sum to the total for {name}");
        }
        assert_eq!(n(totals, "sent"), 6, "five answers for the first send, one for the direct one");
        assert_eq!(totals["value"], 24.99);
    }
    let hour_count = hourly.data()["buckets"].as_array().unwrap().len();
    assert!((5..=6).contains(&hour_count), "every hour of the range, empty ones too: {}", hourly.body);
    let growth = daily.data()["growth"].as_array().unwrap();
    let total = |k: &str| growth.iter().map(|g| n(g, k)).sum::<i64>();
    assert_eq!((total("new"), total("unsubscribed"), total("expired")), (5, 1, 1), "{}", daily.body);
    assert_eq!(daily.data()["by_browser"], json!({"Chrome": 4, "Firefox": 1}));
    assert_eq!(daily.data()["by_os"], json!({"Linux": 5}));
    assert_eq!(n(daily.data(), "subscribers"), 3, "five, less one unsubscribed and one expired");
    let top = daily.data()["top_notifications"].as_array().unwrap();
    assert_eq!((top[0]["id"].as_str(), n(&top[0], "clicks")), (Some(id.as_str()), 2));

    // The notification's funnel, and its hourly rows adding up to it.
    let report = ada.get(&format!("{one}/analytics")).await;
    let funnel = &report.data()["funnel"];
    assert_eq!([n(funnel, "targeted"), n(funnel, "accepted"), n(funnel, "shown"), n(funnel, "clicked"), n(funnel, "converted")], [5, 3, 3, 2, 2], "{}", report.body);
    assert_eq!(funnel["value"], 24.99);
    let hours = report.data()["hours"].as_array().unwrap();
    for name in SHARED {
        assert_eq!(hours.iter().map(|h| n(h, name)).sum::<i64>(), n(&stats, name), "hourly {name} in {}", report.body);
    }

    // A/B: each variant's funnel; the variants' accepted add up to the notification's.
    let ab = ada.post(&notifications, json!({"title": "AB", "target": {"type": "all"}, "variants": [{"percent": 50, "title": "A"}, {"percent": 50, "title": "B"}]})).await;
    let ab_id = ab.data()["id"].as_str().unwrap().to_owned();
    run_push_jobs(&state).await;
    let ab_report = ada.get(&format!("{notifications}/{ab_id}/analytics")).await;
    let variants = ab_report.data()["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 2);
    let sum = |k: &str| variants.iter().map(|v| n(v, k)).sum::<i64>();
    assert_eq!((sum("targeted"), sum("accepted")), (3, n(&ab_report.data()["funnel"], "accepted")), "{}", ab_report.body);
    assert_eq!(sum("accepted"), 2, "ok-a and ok-c accept; gone-d was removed, denied-e refuses");

    // Ranges are checked.
    for bad in [
        format!("from={}&to={}", enc(&to), enc(&from)),
        "from=2025-01-01&to=2026-03-01".to_owned(),
        "granularity=hour&from=2026-01-01&to=2026-03-01".to_owned(),
        "granularity=week".to_owned(),
        "from=yesterday".to_owned(),
        "format=xml".to_owned(),
    ] {
        ada.get(&format!("{analytics}?{bad}")).await.assert_error(422, "validation_failed");
    }

    // CSV, by query and by path.
    let csv = ada.get(&format!("{analytics}?format=csv&granularity=hour&from={}&to={}", enc(&from), enc(&to))).await;
    assert_eq!(csv.status, 200);
    assert!(csv.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = csv.body.as_str().unwrap().to_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("start,sent,accepted,"), "{text}");
    assert_eq!(lines.len(), hour_count + 1, "a header and a row per hour: {text}");
    let accepted_col = lines[0].split(',').position(|c| c == "accepted").unwrap();
    let csv_accepted: i64 = lines[1..].iter().map(|l| l.split(',').nth(accepted_col).unwrap().parse::<i64>().unwrap()).sum();
    assert_eq!(csv_accepted, 6, "three and one earlier, two from the A/B send");
    let by_path = ada.get(&format!("{sites}/{site}/analytics.csv?granularity=day")).await;
    assert!(by_path.body.as_str().unwrap().starts_with("start,sent,") && by_path.body.as_str().unwrap().contains("subscribers_new"), "{}", by_path.body);
    let ncsv = ada.get(&format!("{one}/analytics.csv")).await;
    assert!(ncsv.body.as_str().unwrap().starts_with("section,variant,targeted,") && ncsv.body.as_str().unwrap().contains("funnel,all,5,3,3,2,2,"), "{}", ncsv.body);

    // Another workspace sees none of it.
    let mut eve = Client::new(state.clone());
    eve.sign_up("eve@example.com").await;
    let eve_ws = eve.create_workspace("Eve").await;
    eve.get(&analytics).await.assert_error(404, "not_found");
    eve.get(&format!("/v1/workspaces/{eve_ws}/sites/{site}/analytics")).await.assert_error(404, "not_found");
    eve.get(&format!("/v1/workspaces/{eve_ws}/sites/{site}/notifications/{id}/analytics")).await.assert_error(404, "not_found");
}

fn enc(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

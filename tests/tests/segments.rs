//! Segments end to end on both backends (SQLite, and the AWS adapters on moto): subscriber data derived
//! at subscribe time, attributes and clicks from the SDK and service worker, saved and draft estimates,
//! and a send to a segment (and to inline rules) whose delivered count equals the estimate.

#[path = "api/client.rs"]
mod client;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::post;
use client::Client;
use serde_json::{json, Value};
use webtrigger_tests::browser::Browser;

type Received = Arc<Mutex<Vec<String>>>;

async fn accept(State(received): State<Received>, Path(name): Path<String>) -> StatusCode {
    received.lock().unwrap().push(name);
    StatusCode::CREATED
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn segments_embedded() {
    let (state, _dir) = webtrigger_tests::embedded_state().await;
    segments_end_to_end(state).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn segments_aws() {
    segments_end_to_end(webtrigger_tests::aws_state_with_clock(Arc::new(webtrigger::ports::SystemClock)).await).await;
}

const ZONES: [&str; 3] = ["Europe/Berlin", "Europe/Paris", "America/New_York"];
const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
const FIREFOX_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";

async fn wait_completed(c: &mut Client, path: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = c.get(path).await;
        if r.data()["status"] == "completed" {
            return r.data().clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "never completed: {}", r.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn segments_end_to_end(mut state: webtrigger::AppState) {
    let received = Received::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake_host = listener.local_addr().unwrap().to_string();
    let app = axum::Router::new().route("/push/{name}", post(accept)).with_state(received.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (stop_tx, worker) = client::push_consumer(&mut state, &fake_host);
    let (mut ada, sites, site_id) = client::shop_site(&state).await;
    let public = format!("/v1/public/sites/{site_id}");

    // Twelve browsers: zone i%3 (DE, FR, US), Chrome on Windows when even else Firefox on Linux, the
    // vip tag when i%4 == 0, plan=pro when even else plan=free. All send `Accept-Language: en-US`.
    let mut page = Client::new(state.clone());
    let endpoint = |i: usize| format!("http://{fake_host}/push/s{i:02}");
    let mut ids = Vec::new();
    for i in 0..12 {
        let ua = if i % 2 == 0 { CHROME_WINDOWS } else { FIREFOX_LINUX };
        page.extra_headers = vec![("origin".into(), "https://shop.example.com".into()), ("user-agent".into(), ua.into()), ("accept-language".into(), "en-US,en;q=0.8".into())];
        let plan = if i % 2 == 0 { "pro" } else { "free" };
        let body = json!({"subscription": Browser::new().subscription(&endpoint(i)), "timezone": ZONES[i % 3], "tags": if i % 4 == 0 { vec!["vip"] } else { vec![] }, "attributes": {"plan": plan, "seats": i}});
        let r = page.call(Method::POST, &format!("{public}/subscriptions"), Some(body)).await;
        assert_eq!(r.status, 201, "{i}: {}", r.body);
        ids.push(r.data()["subscriber_id"].as_str().unwrap().to_owned());
    }
    let bad_zone = json!({"subscription": Browser::new().subscription(&endpoint(99)), "timezone": "Mars/Olympus"});
    page.call(Method::POST, &format!("{public}/subscriptions"), Some(bad_zone)).await.assert_error(422, "validation_failed");

    let one = ada.get(&format!("{sites}/{site_id}/subscribers/{}", ids[1])).await;
    let s1 = one.data();
    assert_eq!((s1["browser"].as_str(), s1["os"].as_str()), (Some("Firefox"), Some("Linux")), "from the User-Agent: {s1}");
    assert_eq!((s1["language"].as_str(), s1["country"].as_str(), s1["timezone"].as_str()), (Some("en-US"), Some("FR"), Some("Europe/Paris")), "country from the zone, not the language: {s1}");
    assert_eq!(s1["attributes"], json!({"plan": "free", "seats": 1.0}));

    // Attributes through the SDK's endpoint: merged, and a refusal names its key.
    let attrs = format!("{public}/subscriptions/attributes");
    let r = page.call(Method::PUT, &attrs, Some(json!({"endpoint": endpoint(3), "attributes": {"seats": null, "beta": true}}))).await;
    assert_eq!(r.data()["attributes"], json!({"plan": "free", "beta": true}), "{}", r.body);
    let r = page.call(Method::PUT, &attrs, Some(json!({"endpoint": endpoint(3), "attributes": {"bad key": 1}}))).await;
    r.assert_error(422, "validation_failed");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("attributes.bad key"), "{}", r.body);
    page.call(Method::PUT, &attrs, Some(json!({"endpoint": endpoint(77), "attributes": {"a": 1}}))).await.assert_error(404, "not_found");
    let mut foreign = page.clone();
    foreign.extra_headers = vec![("origin".into(), "https://evil.example.com".into())];
    foreign.call(Method::PUT, &attrs, Some(json!({"endpoint": endpoint(3), "attributes": {"a": 1}}))).await.assert_error(403, "forbidden");

    // A first send to all; the service worker reports clicks from browsers 0, 1 and 2 (1 twice).
    let notifications = format!("{sites}/{site_id}/notifications");
    let first = ada.post(&notifications, json!({"title": "Hello", "target": {"type": "all"}})).await;
    let first_id = first.data()["id"].as_str().unwrap().to_owned();
    assert_eq!(wait_completed(&mut ada, &format!("{notifications}/{first_id}")).await["stats"]["accepted"], 12);
    for i in [0, 1, 1, 2] {
        let r = page.call(Method::POST, &format!("{public}/notifications/{first_id}/events"), Some(json!({"event": "click", "endpoint": endpoint(i)}))).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // A repeated click report on the same notification (a service worker retrying) counts once.
    assert_eq!(ada.get(&format!("{sites}/{site_id}/subscribers/{}", ids[1])).await.data()["clicks"], 1);

    // Rules are refused naming the rule; a saved segment and the same rules as a draft estimate alike.
    let segments = format!("{sites}/{site_id}/segments");
    let bad = json!({"name": "Bad", "rules": {"groups": [{"conditions": [{"field": "clicks", "op": "gte", "value": 1}]}, {"conditions": [{"field": "clicks", "op": "gte", "value": 1}, {"field": "tags", "op": "has", "value": ["x"]}]}]}});
    let r = ada.post(&segments, bad).await;
    r.assert_error(422, "validation_failed");
    assert!(r.body["error"]["message"].as_str().unwrap().starts_with("rules.groups[1].conditions[1].op:"), "{}", r.body);
    // (DE or FR, and pro): 0, 4, 6, 10. Or (clicked, on Firefox): 1. Five.
    let rules = json!({"match": "any", "groups": [
        {"conditions": [{"field": "country", "op": "in", "value": ["DE", "FR"]}, {"field": "attribute", "key": "plan", "op": "eq", "value": "pro"}]},
        {"conditions": [{"field": "clicks", "op": "gte", "value": 1}, {"field": "browser", "op": "in", "value": ["firefox"]}]},
    ]});
    let created = ada.post(&segments, json!({"name": "Engaged Europe", "rules": rules})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let seg_id = created.data()["id"].as_str().unwrap().to_owned();
    assert_eq!(ada.get(&segments).await.data().as_array().unwrap().len(), 1);
    let saved = ada.post(&format!("{segments}/{seg_id}/estimate"), json!({})).await;
    assert_eq!(saved.data(), &json!({"count": 5, "total": 12}), "{}", saved.body);
    let draft = ada.post(&format!("{segments}/estimate"), json!({"rules": rules})).await;
    assert_eq!(draft.data()["count"], 5);

    // Another workspace sees none of it.
    let mut eve = Client::new(state.clone());
    eve.sign_up("eve@example.com").await;
    eve.create_workspace("Eve").await;
    eve.get(&format!("{segments}/{seg_id}")).await.assert_error(404, "not_found");

    // The send to the segment reaches exactly the estimated subscribers.
    received.lock().unwrap().clear();
    ada.post(&notifications, json!({"title": "x", "target": {"type": "segment", "segment_id": "seg_01jd5x8q0y8m3n2b7c4v6w9z1a"}})).await.assert_error(404, "not_found");
    let sent = ada.post(&notifications, json!({"title": "For you", "target": {"type": "segment", "segment_id": seg_id}})).await;
    assert_eq!(sent.status, 202, "{}", sent.body);
    let sent_id = sent.data()["id"].as_str().unwrap().to_owned();
    // Editing the segment after sending changes nothing for the notification: it carries its rules.
    let narrowed = json!({"name": "Nobody", "rules": {"groups": [{"conditions": [{"field": "clicks", "op": "gte", "value": 1000}]}]}});
    assert_eq!(ada.call(Method::PUT, &format!("{segments}/{seg_id}"), Some(narrowed)).await.status, 200);
    let view = wait_completed(&mut ada, &format!("{notifications}/{sent_id}")).await;
    assert_eq!((view["stats"]["targeted"].as_i64(), view["stats"]["accepted"].as_i64()), (Some(5), Some(5)), "{view}");
    let mut reached = received.lock().unwrap().clone();
    reached.sort();
    assert_eq!(reached, ["s00", "s01", "s04", "s06", "s10"], "exactly the estimated subscribers");

    // Inline rules: the vip tag (0, 4, 8), estimated as a draft first.
    received.lock().unwrap().clear();
    let vip = json!({"groups": [{"conditions": [{"field": "tags", "op": "any", "value": ["vip"]}]}]});
    assert_eq!(ada.post(&format!("{segments}/estimate"), json!({"rules": vip})).await.data()["count"], 3);
    let inline = ada.post(&notifications, json!({"title": "VIP", "target": {"type": "rules", "rules": vip}})).await;
    assert_eq!(inline.status, 202, "{}", inline.body);
    let inline_id = inline.data()["id"].as_str().unwrap().to_owned();
    assert_eq!(wait_completed(&mut ada, &format!("{notifications}/{inline_id}")).await["stats"]["accepted"], 3);
    assert_eq!(received.lock().unwrap().len(), 3);
    ada.post(&notifications, json!({"title": "x", "target": {"type": "rules", "rules": {"groups": []}}})).await.assert_error(422, "validation_failed");

    // VAPID key import: the site keeps another vendor's key pair; sends are signed with it.
    let (old_key, scalar) = webtrigger::push::crypto::VapidKey::generate().unwrap();
    let raw = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &scalar);
    let vapid = format!("{sites}/{site_id}/vapid-key");
    let (other, _) = webtrigger::push::crypto::VapidKey::generate().unwrap();
    ada.call(Method::PUT, &vapid, Some(json!({"private_key": raw, "public_key": other.public_key()}))).await.assert_error(422, "validation_failed");
    ada.call(Method::PUT, &vapid, Some(json!({"private_key": "bm90IGEga2V5"}))).await.assert_error(422, "validation_failed");
    let imported = ada.call(Method::PUT, &vapid, Some(json!({"private_key": raw, "public_key": old_key.public_key()}))).await;
    assert_eq!(imported.data()["vapid_public_key"], old_key.public_key(), "{}", imported.body);
    assert!(!imported.body.to_string().contains(&raw), "the private key is never returned");
    assert_eq!(page.get(&public).await.data()["vapid_public_key"], old_key.public_key(), "browsers now subscribe with the imported key");
    let after = ada.post(&notifications, json!({"title": "Signed anew", "target": {"type": "rules", "rules": vip}})).await;
    let after_id = after.data()["id"].as_str().unwrap().to_owned();
    assert_eq!(wait_completed(&mut ada, &format!("{notifications}/{after_id}")).await["stats"]["accepted"], 3, "the sealed imported key opens and signs");

    // The export has every subscriber with what an import elsewhere needs.
    let export = ada.get(&format!("{sites}/{site_id}/subscribers/export")).await;
    assert_eq!(export.status, 200);
    let csv = export.body.as_str().unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], webtrigger::push::subscriber_export::HEADER);
    assert_eq!(lines.len(), 13, "a header and twelve subscribers");
    let s03 = lines.iter().find(|l| l.contains(&endpoint(3))).unwrap();
    assert!(s03.contains(r#""{""beta"":true,""plan"":""free""}""#) && s03.contains("America/New_York") || s03.contains("Europe/Berlin"), "{s03}");
    eve.get(&format!("{sites}/{site_id}/subscribers/export")).await.assert_error(404, "not_found");

    assert_eq!(ada.call(Method::DELETE, &format!("{segments}/{seg_id}"), None).await.status, 200);
    ada.get(&format!("{segments}/{seg_id}")).await.assert_error(404, "not_found");
    stop_tx.send(true).unwrap();
    worker.await.unwrap();
}

const KEY: &str = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

/// 10,000 CSV rows with 3 bad ones (a short key, a host that is no push service, an unknown time zone)
/// and one repeat of an earlier endpoint: exactly those 3 are reported, by line; the repeat upserts.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn import_reports_exactly_the_bad_rows() {
    let (mut state, _dir) = webtrigger_tests::embedded_state().await;
    let host = "127.0.0.1:9";
    state.max_body_bytes = 4 * 1024 * 1024;
    let (stop_tx, worker) = client::push_consumer(&mut state, host);
    let (mut ada, sites, site_id) = client::shop_site(&state).await;

    let mut csv = String::from("endpoint,p256dh,auth,tags,external_id,attributes,time_zone\n");
    for i in 0..10_000 {
        let endpoint = match i {
            4999 => "https://evil.example.com/push/x".to_owned(),
            7000 => format!("http://{host}/push/r10"),
            _ => format!("http://{host}/push/r{i}"),
        };
        let key = if i == 99 { &KEY[..40] } else { KEY };
        let zone = if i == 8998 { "Mars/Olympus" } else { "Europe/Berlin" };
        csv.push_str(&format!("{endpoint},{key},{AUTH},vip news,user-{i},\"{{\"\"plan\"\":\"\"pro\"\"}}\",{zone}\n"));
    }
    ada.extra_headers = vec![("content-type".into(), "text/csv".into())];
    let started = ada.call_raw(Method::POST, &format!("{sites}/{site_id}/subscribers/import"), csv.into_bytes()).await;
    assert_eq!(started.status, 202, "{}", started.body);
    assert_eq!(started.data()["rows"], 10_000);
    let id = started.data()["id"].as_str().unwrap().to_owned();
    ada.extra_headers.clear();
    let view = client::wait_import_completed(&mut ada, &format!("{sites}/{site_id}/imports/{id}")).await;
    let lines: Vec<u64> = view["errors"].as_array().unwrap().iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [101, 5001, 9000], "the file lines of rows 99, 4999 and 8998 (the header is line 1): {}", view["errors"]);
    assert!(view["errors"][1]["message"].as_str().unwrap().contains("push service"), "{}", view["errors"]);
    assert_eq!((view["created"].as_u64(), view["updated"].as_u64(), view["failed"].as_u64()), (Some(9996), Some(1), Some(3)), "{view}");
    let subs = ada.get(&format!("{sites}/{site_id}/subscribers?limit=1")).await;
    assert_eq!(subs.data()["total"], 9996);
    let one = &subs.data()["subscribers"][0];
    assert_eq!((one["attributes"]["plan"].as_str(), one["country"].as_str(), one["tags"].clone()), (Some("pro"), Some("DE"), json!(["news", "vip"])), "{one}");
    ada.extra_headers = vec![("content-type".into(), "text/csv".into())];
    ada.call_raw(Method::POST, &format!("{sites}/{site_id}/subscribers/import"), b"name,email\nada,ada@example.com\n".to_vec()).await.assert_error(422, "validation_failed");
    ada.call_raw(Method::POST, &format!("{sites}/{site_id}/subscribers/import"), Vec::new()).await.assert_error(422, "validation_failed");
    stop_tx.send(true).unwrap();
    worker.await.unwrap();
}

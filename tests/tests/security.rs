//! Defects found by testing from outside (issue 12): disguised push endpoints over the real API,
//! forwarded-for spoofing of the per-IP limit, and 404s for parents that are not the caller's.

#[path = "api/client.rs"]
mod client;

use axum::http::Method;
use serde_json::json;
use client::Client;
use webtrigger_tests::browser::Browser;

/// `https://127.0.0.1\.push.apple.com/x`: a text check saw `….push.apple.com`; the HTTP client (WHATWG) reads
/// the backslash as `/` and connects to 127.0.0.1. Both subscribe paths must refuse it at the door.
#[tokio::test]
async fn backslash_endpoints_are_refused_by_both_subscribe_paths() {
    let (state, _dir) = webtrigger_tests::embedded_state().await;
    let mut ada = Client::new(state.clone());
    ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Shop").await;
    let site = ada.post(&format!("/v1/workspaces/{ws}/sites"), json!({"name": "Shop", "allowed_origins": ["https://shop.example.com"], "contact": "mailto:ops@example.com"})).await;
    let site_id = site.data()["id"].as_str().unwrap().to_owned();
    let browser = Browser::new();
    let mut page = Client::new(state.clone());
    page.extra_headers = vec![("origin".into(), "https://shop.example.com".into())];
    for endpoint in ["https://127.0.0.1\\.push.apple.com/x", "https://fcm.googleapis.com@127.0.0.1/x", "https://2130706433/x", "https://web.push.apple.com./x"] {
        let sub = browser.subscription(endpoint);
        page.call(Method::POST, &format!("/v1/public/sites/{site_id}/subscriptions"), Some(json!({"subscription": sub}))).await.assert_error(422, "validation_failed");
        ada.post("/v1/me/devices", json!({"subscription": sub})).await.assert_error(422, "validation_failed");
    }
    // The same browser with a real push-service endpoint still subscribes.
    let ok = page.call(Method::POST, &format!("/v1/public/sites/{site_id}/subscriptions"), Some(json!({"subscription": browser.subscription("https://FCM.googleapis.com:443/fcm/send/abc")}))).await;
    assert_eq!(ok.status, 201, "{}", ok.body);
}

/// `X-Forwarded-For: <random>, <real>` used to pick the caller's own IP (the first hop was believed), so
/// a limited client got through again by varying it. Only the real peer may count, on both backends.
async fn forwarded_for_spoofing_does_not_escape_the_per_ip_limit(state: webtrigger::AppState) {
    use tower::ServiceExt;
    let mut ada = Client::new(state.clone());
    ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Shop").await;
    let site = ada.post(&format!("/v1/workspaces/{ws}/sites"), json!({"name": "Shop", "allowed_origins": ["https://shop.example.com"], "contact": "mailto:ops@example.com"})).await;
    let site_id = site.data()["id"].as_str().unwrap().to_owned();
    let app = webtrigger::http::api(webtrigger::local::all_routes(), state, None);
    let real: std::net::SocketAddr = "198.51.100.77:40000".parse().unwrap();
    let browser = Browser::new();
    let subscribe = |n: u32| {
        let body = json!({"subscription": browser.subscription(&format!("https://fcm.googleapis.com/fcm/send/{n}"))}).to_string();
        let mut req = axum::http::Request::post(format!("/v1/public/sites/{site_id}/subscriptions"))
            .header("content-type", "application/json")
            .header("origin", "https://shop.example.com")
            .header("x-forwarded-for", format!("203.0.113.{}, {}", n % 250, real.ip()))
            .body(axum::body::Body::from(body))
            .unwrap();
        req.extensions_mut().insert(axum::extract::ConnectInfo(real));
        app.clone().oneshot(req)
    };
    // The public limit is 60 writes a minute per site and IP; the clock does not move during the test.
    let mut statuses = Vec::new();
    for n in 0..70 {
        statuses.push(subscribe(n).await.unwrap().status().as_u16());
    }
    assert!(statuses[..60].iter().all(|s| *s == 201), "{statuses:?}");
    assert!(statuses[60..].iter().all(|s| *s == 429), "a new forwarded-for hop per request must not reset the limit: {statuses:?}");
}

#[tokio::test]
async fn forwarded_for_spoofing_embedded() {
    let (state, _dir) = webtrigger_tests::embedded_state_with_clock(std::sync::Arc::new(webtrigger::ports::FixedClock::new(chrono::Utc::now()))).await;
    forwarded_for_spoofing_does_not_escape_the_per_ip_limit(state).await;
}

#[tokio::test]
async fn forwarded_for_spoofing_aws() {
    let clock = std::sync::Arc::new(webtrigger::ports::FixedClock::new(chrono::Utc::now()));
    forwarded_for_spoofing_does_not_escape_the_per_ip_limit(webtrigger_tests::aws_state_with_clock(clock).await).await;
}

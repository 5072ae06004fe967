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

/// Reads one HTTP/1.1 response (status, headers lower-cased, body by Content-Length) from `stream`.
async fn read_response(stream: &mut tokio::net::TcpStream, buffered: &mut Vec<u8>) -> Option<(u16, String)> {
    use tokio::io::AsyncReadExt;
    loop {
        if let Some(end) = buffered.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffered[..end]).to_ascii_lowercase();
            let length: usize = head.lines().find_map(|l| l.strip_prefix("content-length:")).map_or(0, |v| v.trim().parse().unwrap());
            if buffered.len() >= end + 4 + length {
                let status = head.split(' ').nth(1)?.parse().ok()?;
                buffered.drain(..end + 4 + length);
                return Some((status, head));
            }
        }
        let mut chunk = [0u8; 8192];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffered.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A POST with a body answered 401 before the body is read must leave the connection usable: the next
/// request on the same socket gets its answer (the server used to close it without `Connection: close`).
#[tokio::test]
async fn keep_alive_survives_an_early_answer_to_a_request_with_a_body() {
    use tokio::io::AsyncWriteExt;
    let (state, _dir) = webtrigger_tests::embedded_state().await;
    let app = webtrigger::http::api(webtrigger::local::all_routes(), state, None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap() });
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buffered = Vec::new();
    // Large enough that it cannot sit whole in the server's first read buffer.
    let body = format!("{{\"name\":\"{}\"}}", "x".repeat(256 * 1024));
    for (path, expected) in [("/v1/workspaces", 401), ("/v1/workspaces/ws_01jd5x8q0y8m3n2b7c4v6w9z1a/sites", 401)] {
        let request = format!("POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len());
        stream.write_all(request.as_bytes()).await.unwrap();
        let (status, head) = read_response(&mut stream, &mut buffered).await.expect("an answer to the POST");
        assert_eq!(status, expected, "{head}");
        assert!(!head.contains("connection: close"), "a body under the cap is drained, not a reason to close: {head}");
    }
    stream.write_all(format!("GET /v1/openapi.json HTTP/1.1\r\nhost: {addr}\r\n\r\n").as_bytes()).await.unwrap();
    let (status, _) = read_response(&mut stream, &mut buffered).await.expect("the request after the early answers is answered on the same connection");
    assert_eq!(status, 200);
}

/// Over the cap the body is not drained; the answer then says the connection closes, so clients reconnect.
#[tokio::test]
async fn an_unread_body_over_the_cap_closes_the_connection_explicitly() {
    use tokio::io::AsyncWriteExt;
    let (mut state, _dir) = webtrigger_tests::embedded_state().await;
    state.max_body_bytes = 4096;
    let app = webtrigger::http::api(webtrigger::local::all_routes(), state, None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap() });
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = "x".repeat(64 * 1024);
    let request = format!("POST /v1/workspaces HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len());
    stream.write_all(request.as_bytes()).await.unwrap();
    let (status, head) = read_response(&mut stream, &mut Vec::new()).await.expect("an answer");
    assert!(status == 401 || status == 413, "{head}");
    assert!(head.contains("connection: close"), "{head}");
}

/// A workspace with one of each parent resource; answers (site, trigger, endpoint) ids.
async fn tenant(client: &mut Client, email: &str) -> (String, String, String, String) {
    client.sign_up(email).await;
    let ws = client.create_workspace("Shop").await;
    let site = client.post(&format!("/v1/workspaces/{ws}/sites"), json!({"name": "Shop", "allowed_origins": ["https://shop.example.com"], "contact": "mailto:ops@example.com"})).await;
    let site = site.data()["id"].as_str().unwrap().to_owned();
    let trigger = client
        .post(&format!("/v1/workspaces/{ws}/triggers"), json!({"name": "t", "actions": [{"type": "push", "site_id": site, "target": {"type": "all"}, "title": "Hi", "body": "there"}]}))
        .await;
    assert_eq!(trigger.status, 201, "{}", trigger.body);
    let trigger = trigger.data()["id"].as_str().unwrap().to_owned();
    let endpoint = client.post(&format!("/v1/workspaces/{ws}/event-endpoints"), json!({"url": "https://hooks.example.com/webtrigger"})).await;
    assert_eq!(endpoint.status, 201, "{}", endpoint.body);
    (ws, site, trigger, endpoint.data()["id"].as_str().unwrap().to_owned())
}

/// Every GET under a parent resource answers 404 when the parent is another tenant's or unknown (an empty
/// 200 list told a caller nothing was wrong, and that the id was worth trying elsewhere). Own parents answer 200.
#[tokio::test]
async fn lists_under_a_foreign_or_unknown_parent_answer_404() {
    let (state, _dir) = webtrigger_tests::embedded_state().await;
    let mut ada = Client::new(state.clone());
    let mut bob = Client::new(state.clone());
    let (ws, site, trigger, endpoint) = tenant(&mut ada, "ada@example.com").await;
    let (_, bob_site, bob_trigger, bob_endpoint) = tenant(&mut bob, "bob@example.com").await;
    const UNKNOWN: &str = "01jd5x8q0y8m3n2b7c4v6w9z1a";
    // (path template with {id}, own id, foreign id, unknown id)
    let routes = [
        ("sites/{id}/notifications", site.clone(), bob_site.clone(), format!("site_{UNKNOWN}")),
        ("sites/{id}/subscribers", site.clone(), bob_site.clone(), format!("site_{UNKNOWN}")),
        ("sites/{id}/drips", site.clone(), bob_site.clone(), format!("site_{UNKNOWN}")),
        ("sites/{id}/recurring", site.clone(), bob_site.clone(), format!("site_{UNKNOWN}")),
        ("sites/{id}/drips/drp_01jd5x8q0y8m3n2b7c4v6w9z1b", String::new(), bob_site.clone(), format!("site_{UNKNOWN}")),
        ("sites/{id}/recurring/rec_01jd5x8q0y8m3n2b7c4v6w9z1b/runs", String::new(), bob_site.clone(), format!("site_{UNKNOWN}")),
        ("sites/{id}/notifications/ntf_01jd5x8q0y8m3n2b7c4v6w9z1b", String::new(), bob_site.clone(), format!("site_{UNKNOWN}")),
        ("sites/{id}/subscribers/0123456789abcdef0123456789abcdef", String::new(), bob_site.clone(), format!("site_{UNKNOWN}")),
        ("triggers/{id}/invocations", trigger.clone(), bob_trigger.clone(), format!("trg_{UNKNOWN}")),
        ("triggers/{id}/invocations/inv_01jd5x8q0y8m3n2b7c4v6w9z1b", String::new(), bob_trigger.clone(), format!("trg_{UNKNOWN}")),
        ("event-endpoints/{id}/attempts", endpoint.clone(), bob_endpoint.clone(), format!("ep_{UNKNOWN}")),
        ("conversations/{id}/messages", String::new(), format!("conv_{UNKNOWN}"), "conv_not-an-id".to_owned()),
        ("conversations/{id}", String::new(), format!("conv_{UNKNOWN}"), "conv_not-an-id".to_owned()),
        ("channels/{id}", String::new(), format!("chan_{UNKNOWN}"), "chan_not-an-id".to_owned()),
        ("credentials/{id}", String::new(), format!("cred_{UNKNOWN}"), "cred_not-an-id".to_owned()),
        ("messages/{id}", String::new(), format!("msg_{UNKNOWN}"), "msg_not-an-id".to_owned()),
    ];
    let mut wrong = Vec::new();
    for (template, own, foreign, unknown) in &routes {
        if !own.is_empty() {
            let r = ada.get(&format!("/v1/workspaces/{ws}/{}", template.replace("{id}", own))).await;
            assert_eq!(r.status, 200, "{template} with an own parent: {}", r.body);
        }
        for (what, id) in [("another tenant's", foreign), ("an unknown", unknown)] {
            let path = format!("/v1/workspaces/{ws}/{}", template.replace("{id}", id));
            let r = ada.get(&path).await;
            if r.status != 404 || r.body["error"]["code"] != "not_found" {
                wrong.push(format!("{path} ({what} parent): {} {}", r.status, r.body));
            }
        }
    }
    assert!(wrong.is_empty(), "answered other than 404:\n{}", wrong.join("\n"));
}

//! Workspaces, members, invites, API keys, audit log and tenant isolation.

use std::future::Future;
use std::sync::Arc;

use axum::http::Method;
use serde_json::{json, Value};
use webtrigger::ports::Clock;

use super::client::Client;
use super::{system_clock, Backend};

fn invite_token(reply: &Value) -> String {
    let path = reply["accept_path"].as_str().unwrap();
    assert!(path.starts_with("/accept-invite#token="), "token travels in the fragment: {path}");
    path.split("token=").nth(1).unwrap().to_owned()
}

pub async fn invite_flow_and_roles<F: Future<Output = Backend>>(make: impl Fn(Arc<dyn Clock>) -> F) {
    let b = make(system_clock()).await;
    let mut ada = Client::new(b.state.clone());
    ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Acme").await;
    assert!(ws.starts_with("ws_"));
    let base = format!("/v1/workspaces/{ws}");
    ada.post("/v1/workspaces", json!({"name": "  "})).await.assert_error(422, "validation_failed");
    ada.post(&format!("{base}/invites"), json!({"email": "nope", "role": "editor"})).await.assert_error(422, "validation_failed");
    ada.post(&format!("{base}/invites"), json!({"email": "bob@example.com", "role": "emperor"})).await.assert_error(422, "validation_failed");

    let invite = ada.post(&format!("{base}/invites"), json!({"email": "Bob@Example.com", "role": "editor"})).await;
    assert_eq!(invite.status, 201);
    let token = invite_token(invite.data());
    assert!(!ada.get(&format!("{base}/invites")).await.body.to_string().contains(&token), "listing never shows the token");

    let mut carol = Client::new(b.state.clone());
    carol.sign_up("carol@example.com").await;
    carol.post("/v1/invites/accept", json!({"token": token})).await.assert_error(422, "validation_failed");
    let mut bob = Client::new(b.state.clone());
    let bob_id = bob.sign_up("bob@example.com").await;
    let joined = bob.post("/v1/invites/accept", json!({"token": token})).await;
    assert_eq!((joined.status, joined.data()["role"].as_str()), (201, Some("editor")));
    bob.post("/v1/invites/accept", json!({"token": token})).await.assert_error(404, "not_found");
    let mine = bob.get("/v1/me").await;
    assert_eq!(mine.data()["workspaces"][0]["id"], ws.as_str());
    assert_eq!(mine.data()["workspaces"][0]["name"], "Acme");
    assert_eq!(bob.call(Method::PUT, "/v1/me/default-workspace", Some(json!({"workspace_id": ws}))).await.status, 200);
    assert_eq!(bob.get("/v1/me").await.data()["default_workspace"], ws.as_str());

    assert_eq!(bob.get(&format!("{base}/members")).await.data().as_array().unwrap().len(), 2);
    bob.post(&format!("{base}/invites"), json!({"email": "dan@example.com", "role": "viewer"})).await.assert_error(403, "forbidden");
    bob.get(&format!("{base}/audit")).await.assert_error(403, "forbidden");
    bob.call(Method::PATCH, &base, Some(json!({"name": "Bob's"}))).await.assert_error(403, "forbidden");

    let promoted = ada.call(Method::PATCH, &format!("{base}/members/{bob_id}"), Some(json!({"role": "admin"}))).await;
    assert_eq!(promoted.data()["role"], "admin");
    bob.post(&format!("{base}/invites"), json!({"email": "dan@example.com", "role": "owner"})).await.assert_error(403, "forbidden");
    let dan = bob.post(&format!("{base}/invites"), json!({"email": "dan@example.com", "role": "viewer"})).await;
    assert_eq!(dan.status, 201);
    let dan_invite = dan.data()["id"].as_str().unwrap().to_owned();
    assert_eq!(bob.call(Method::DELETE, &format!("{base}/invites/{dan_invite}"), None).await.status, 200);
    assert!(bob.get(&format!("{base}/invites")).await.data().as_array().unwrap().is_empty());
    let renamed = bob.call(Method::PATCH, &base, Some(json!({"name": "Acme Inc"}))).await;
    assert_eq!(renamed.data()["name"], "Acme Inc");
}

pub async fn last_owner_is_protected<F: Future<Output = Backend>>(make: impl Fn(Arc<dyn Clock>) -> F) {
    let b = make(system_clock()).await;
    let mut ada = Client::new(b.state.clone());
    let ada_id = ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Acme").await;
    let base = format!("/v1/workspaces/{ws}");
    ada.call(Method::DELETE, &format!("{base}/members/{ada_id}"), None).await.assert_error(409, "conflict");
    ada.call(Method::PATCH, &format!("{base}/members/{ada_id}"), Some(json!({"role": "admin"}))).await.assert_error(409, "conflict");

    let token = invite_token(ada.post(&format!("{base}/invites"), json!({"email": "bob@example.com", "role": "owner"})).await.data());
    let mut bob = Client::new(b.state.clone());
    let bob_id = bob.sign_up("bob@example.com").await;
    bob.post("/v1/invites/accept", json!({"token": token})).await.data();
    assert_eq!(ada.call(Method::DELETE, &format!("{base}/members/{ada_id}"), None).await.status, 200, "an owner may leave when another remains");
    ada.get(&base).await.assert_error(404, "not_found");
    bob.call(Method::DELETE, &format!("{base}/members/{bob_id}"), None).await.assert_error(409, "conflict");
    let members = bob.get(&format!("{base}/members")).await;
    assert_eq!(members.data().as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect::<Vec<_>>(), ["owner"]);
}

pub async fn api_keys_scopes_and_revocation<F: Future<Output = Backend>>(make: impl Fn(Arc<dyn Clock>) -> F) {
    let b = make(system_clock()).await;
    let mut ada = Client::new(b.state.clone());
    ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Acme").await;
    let other_ws = ada.create_workspace("Other").await;
    let keys = format!("/v1/workspaces/{ws}/api-keys");
    ada.post(&keys, json!({"name": "ci", "scopes": []})).await.assert_error(422, "validation_failed");
    ada.post(&keys, json!({"name": "ci", "scopes": ["root"]})).await.assert_error(422, "validation_failed");
    let created = ada.post(&keys, json!({"name": "ci", "scopes": ["read", "read"]})).await;
    assert_eq!(created.status, 201);
    let secret = created.data()["secret"].as_str().unwrap().to_owned();
    let key_id = created.data()["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("wt_") && secret.len() > 60);
    assert_eq!(created.data()["scopes"], json!(["read"]));
    let listed = ada.get(&keys).await;
    assert!(!listed.body.to_string().contains(&secret[20..]), "the secret is shown once only");
    assert_eq!(listed.data()[0]["prefix"], &secret[..12]);

    let mut key = ada.with_token(&secret);
    assert_eq!(key.get(&format!("/v1/workspaces/{ws}")).await.data()["name"], "Acme");
    assert_eq!(key.get(&format!("/v1/workspaces/{ws}/members")).await.status, 200);
    key.post(&format!("/v1/workspaces/{ws}/invites"), json!({"email": "x@example.com", "role": "viewer"})).await.assert_error(403, "forbidden");
    key.get(&format!("/v1/workspaces/{other_ws}")).await.assert_error(404, "not_found");
    key.get("/v1/me").await.assert_error(403, "forbidden");
    let mut wrong_secret = secret.clone();
    wrong_secret.push('x');
    ada.with_token(&wrong_secret).get(&format!("/v1/workspaces/{ws}")).await.assert_error(401, "unauthorized");

    let revoked = ada.call(Method::DELETE, &format!("{keys}/{key_id}"), None).await;
    assert!(revoked.data()["revoked_at"].is_string());
    key.get(&format!("/v1/workspaces/{ws}")).await.assert_error(401, "api_key_revoked");
}

pub async fn audit_log_pages_newest_first<F: Future<Output = Backend>>(make: impl Fn(Arc<dyn Clock>) -> F) {
    let b = make(system_clock()).await;
    let mut ada = Client::new(b.state.clone());
    let ada_id = ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Acme").await;
    let base = format!("/v1/workspaces/{ws}");
    ada.call(Method::PATCH, &base, Some(json!({"name": "Acme 2"}))).await.data();
    ada.post(&format!("{base}/invites"), json!({"email": "bob@example.com", "role": "viewer"})).await.data();
    ada.post(&format!("{base}/api-keys"), json!({"name": "ci", "scopes": ["read"]})).await.data();

    let mut actions = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("{base}/audit?limit=2&cursor={c}"),
            None => format!("{base}/audit?limit=2"),
        };
        let page = ada.get(&path).await;
        for e in page.data()["entries"].as_array().unwrap() {
            assert_eq!(e["actor"], ada_id.as_str());
            assert_eq!(e["ip"], "198.51.100.1");
            actions.push(e["action"].as_str().unwrap().to_owned());
        }
        match page.data()["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(actions, ["api_key.create", "invite.create", "workspace.rename", "workspace.create"]);
    ada.get(&format!("{base}/audit?cursor=bogus")).await.assert_error(422, "validation_failed");
}

/// Every workspace-scoped route, tried by a member of another workspace with the first one's ids.
pub async fn tenant_isolation_on_every_workspace_route<F: Future<Output = Backend>>(make: impl Fn(Arc<dyn Clock>) -> F) {
    let b = make(system_clock()).await;
    let mut alice = Client::new(b.state.clone());
    let alice_id = alice.sign_up("alice@example.com").await;
    let ws = alice.create_workspace("Alice Secret Co").await;
    let invite = alice.post(&format!("/v1/workspaces/{ws}/invites"), json!({"email": "x@example.com", "role": "viewer"})).await.data()["id"].as_str().unwrap().to_owned();
    let key = alice.post(&format!("/v1/workspaces/{ws}/api-keys"), json!({"name": "k", "scopes": ["read"]})).await.data()["id"].as_str().unwrap().to_owned();

    let mut mallory = Client::new(b.state.clone());
    mallory.sign_up("mallory@example.com").await;
    let own = mallory.create_workspace("Mallory").await;
    let mallory_key = mallory.post(&format!("/v1/workspaces/{own}/api-keys"), json!({"name": "k", "scopes": ["read", "triggers:manage"]})).await.data()["secret"].as_str().unwrap().to_owned();
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/v1/workspaces/{ws}"), None),
        (Method::PATCH, format!("/v1/workspaces/{ws}"), Some(json!({"name": "pwned"}))),
        (Method::GET, format!("/v1/workspaces/{ws}/members"), None),
        (Method::PATCH, format!("/v1/workspaces/{ws}/members/{alice_id}"), Some(json!({"role": "viewer"}))),
        (Method::DELETE, format!("/v1/workspaces/{ws}/members/{alice_id}"), None),
        (Method::GET, format!("/v1/workspaces/{ws}/invites"), None),
        (Method::POST, format!("/v1/workspaces/{ws}/invites"), Some(json!({"email": "m@example.com", "role": "owner"}))),
        (Method::DELETE, format!("/v1/workspaces/{ws}/invites/{invite}"), None),
        (Method::GET, format!("/v1/workspaces/{ws}/api-keys"), None),
        (Method::POST, format!("/v1/workspaces/{ws}/api-keys"), Some(json!({"name": "m", "scopes": ["read"]}))),
        (Method::DELETE, format!("/v1/workspaces/{ws}/api-keys/{key}"), None),
        (Method::GET, format!("/v1/workspaces/{ws}/audit"), None),
    ];
    let mut as_key = mallory.with_token(&mallory_key);
    for (method, path, body) in &routes {
        for caller in [&mut mallory, &mut as_key] {
            let r = caller.call(method.clone(), path, body.clone()).await;
            r.assert_error(404, "not_found");
            let text = r.body.to_string();
            assert!(!text.contains("Alice Secret") && !text.contains("alice@") && !text.contains(&ws), "{method} {path} leaked: {text}");
        }
        Client::new(b.state.clone()).call(method.clone(), path, body.clone()).await.assert_error(401, "unauthorized");
    }
    // Mallory's own ids under her workspace path do not reach Alice's records either.
    mallory.call(Method::DELETE, &format!("/v1/workspaces/{own}/invites/{invite}"), None).await.assert_error(404, "not_found");
    mallory.call(Method::DELETE, &format!("/v1/workspaces/{own}/api-keys/{key}"), None).await.assert_error(404, "not_found");
    mallory.call(Method::PATCH, &format!("/v1/workspaces/{own}/members/{alice_id}"), Some(json!({"role": "viewer"}))).await.assert_error(404, "not_found");
    let alice_view = alice.get(&format!("/v1/workspaces/{ws}")).await;
    assert_eq!(alice_view.data()["name"], "Alice Secret Co", "nothing changed");
    assert_eq!(alice.get(&format!("/v1/workspaces/{ws}/api-keys")).await.data()[0]["revoked_at"], Value::Null);
}

pub async fn api_key_rate_limit<F: Future<Output = Backend>>(make: impl Fn(Arc<dyn Clock>) -> F) {
    // A still clock: the bucket must not refill while a slow backend serves the burst.
    let b = make(Arc::new(webtrigger::ports::FixedClock::new(chrono::Utc::now()))).await;
    let mut ada = Client::new(b.state.clone());
    ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Acme").await;
    let secret = ada.post(&format!("/v1/workspaces/{ws}/api-keys"), json!({"name": "k", "scopes": ["read"]})).await.data()["secret"].as_str().unwrap().to_owned();
    let mut key = ada.with_token(&secret);
    let path = format!("/v1/workspaces/{ws}");
    let mut ok = 0;
    let limited = loop {
        let r = key.get(&path).await;
        if r.status != 200 {
            break r;
        }
        ok += 1;
        assert!(ok <= 130, "never limited");
    };
    limited.assert_error(429, "rate_limited");
    assert!((118..=122).contains(&ok), "burst of about 120, got {ok}");
    assert!(limited.headers["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(ada.get(&path).await.status, 200, "members are limited per workspace, not by the key's bucket");
}

/// A 1×1 PNG as a data URL.
const PNG: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

pub async fn branding_is_checked_and_shown<F: Future<Output = Backend>>(make: impl Fn(Arc<dyn Clock>) -> F) {
    let b = make(system_clock()).await;
    let mut ada = Client::new(b.state.clone());
    ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Acme").await;
    let base = format!("/v1/workspaces/{ws}");
    assert_eq!(ada.get(&base).await.data()["branding"], json!({}), "no branding is the default theme");

    for (field, body) in [
        ("branding.primary_color", json!({"primary_color": "red"})),
        ("branding.primary_color", json!({"primary_color": "#12345"})),
        ("branding.primary_color", json!({"primary_color": "#123456;color:red"})),
        ("branding.logo", json!({"logo": "data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+"})),
        ("branding.logo", json!({"logo": "https://example.com/logo.png"})),
        ("branding.logo", json!({"logo": "data:image/png;base64,PGh0bWw+"})),
        ("branding.logo", json!({"logo": format!("data:image/png;base64,{}", "A".repeat(90_000))})),
    ] {
        let reply = ada.call(Method::PATCH, &base, Some(json!({"branding": body}))).await;
        reply.assert_error(422, "validation_failed");
        assert!(reply.body.to_string().contains(field), "{field}: {}", reply.body);
    }
    assert_eq!(ada.get(&base).await.data()["branding"], json!({}), "refused patches change nothing");

    let set = ada.call(Method::PATCH, &base, Some(json!({"branding": {"primary_color": "#0E7490", "logo": PNG}}))).await;
    assert_eq!(set.data()["branding"], json!({"primary_color": "#0e7490", "logo": PNG}), "{}", set.body);
    assert_eq!(set.data()["name"], "Acme", "other settings stay");
    let me = ada.get("/v1/me").await;
    assert_eq!(me.data()["workspaces"][0]["branding"]["primary_color"], "#0e7490", "the shell reads it from /v1/me");

    let mut bob = Client::new(b.state.clone());
    bob.sign_up("bob@example.com").await;
    bob.call(Method::PATCH, &base, Some(json!({"branding": {"primary_color": "#000000"}}))).await.assert_error(404, "not_found");

    let colour_only = ada.call(Method::PATCH, &base, Some(json!({"branding": {"logo": ""}}))).await;
    assert_eq!(colour_only.data()["branding"], json!({"primary_color": "#0e7490"}));
    let reset = ada.call(Method::PATCH, &base, Some(json!({"branding": {"primary_color": ""}}))).await;
    assert_eq!(ada.get(&base).await.data()["branding"], json!({}), "{}", reset.body);
}

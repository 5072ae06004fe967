//! Accounts, sessions and tokens.

use std::future::Future;
use std::sync::Arc;

use base64::Engine;
use serde_json::json;
use webtrigger::ports::{Clock, FixedClock};

use super::client::Client;
use super::{system_clock, Backend};

const PASSWORD: &str = "correct horse battery";

pub async fn sign_up_log_in_and_me<F: Future<Output = Backend>>(make: impl Fn(Arc<dyn Clock>) -> F) {
    let b = make(system_clock()).await;
    let mut c = Client::new(b.state.clone());
    let user = c.sign_up("  Ada@Example.com ").await;
    assert!(user.starts_with("usr_"));
    assert!(c.cookie.is_some(), "refresh token set as a cookie");
    let me = c.get("/v1/me").await;
    assert_eq!(me.data()["email"], "ada@example.com", "email is normalised");
    assert!(me.body.to_string().find("argon2").is_none(), "the password hash never leaves the server");

    let mut anon = Client::new(b.state.clone());
    anon.post("/v1/auth/signup", json!({"email": "ADA@example.com", "password": PASSWORD})).await.assert_error(409, "conflict");
    anon.post("/v1/auth/signup", json!({"email": "not-an-email", "password": PASSWORD})).await.assert_error(422, "validation_failed");
    anon.post("/v1/auth/signup", json!({"email": "bob@example.com", "password": "short"})).await.assert_error(422, "validation_failed");
    anon.post("/v1/auth/signup", json!({"email": "bob@example.com"})).await.assert_error(422, "validation_failed");
    anon.get("/v1/me").await.assert_error(401, "unauthorized");

    let wrong = anon.post("/v1/auth/login", json!({"email": "ada@example.com", "password": "wrong horse battery"})).await;
    let unknown = anon.post("/v1/auth/login", json!({"email": "nobody@example.com", "password": PASSWORD})).await;
    wrong.assert_error(401, "invalid_credentials");
    assert_eq!(wrong.body, unknown.body, "login failures do not reveal whether the email exists");
    let ok = anon.post("/v1/auth/login", json!({"email": "ADA@example.com", "password": PASSWORD})).await;
    assert_eq!(ok.data()["user_id"], user.as_str());
    assert_eq!(ok.headers["cache-control"], "no-store");
    let cookie = ok.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/v1/auth"), "{cookie}");
}

pub async fn refresh_rotation_and_reuse_revokes_the_session<F: Future<Output = Backend>>(make: impl Fn(Arc<dyn Clock>) -> F) {
    let b = make(system_clock()).await;
    let mut c = Client::new(b.state.clone());
    c.sign_up("ada@example.com").await;
    let first = c.cookie.clone().unwrap();
    let r = c.post("/v1/auth/refresh", json!({})).await;
    let new_access = r.data()["access_token"].as_str().unwrap().to_owned();
    let second = c.cookie.clone().unwrap();
    assert_ne!(first, second, "refresh rotates the token");
    assert_eq!(c.with_token(&new_access).get("/v1/me").await.status, 200);

    let mut thief = c.clone();
    thief.cookie = Some(first);
    thief.post("/v1/auth/refresh", json!({})).await.assert_error(401, "unauthorized");
    c.post("/v1/auth/refresh", json!({})).await.assert_error(401, "unauthorized");

    let mut d = Client::new(b.state.clone());
    d.post("/v1/auth/login", json!({"email": "ada@example.com", "password": PASSWORD})).await.data();
    assert_eq!(d.post("/v1/auth/logout", json!({})).await.status, 200);
    assert!(d.cookie.is_none(), "logout clears the cookie");
    d.cookie = None;
    d.post("/v1/auth/refresh", json!({})).await.assert_error(401, "unauthorized");
}

fn b64(v: &serde_json::Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

pub async fn bad_tokens_are_refused<F: Future<Output = Backend>>(make: impl Fn(Arc<dyn Clock>) -> F) {
    let eleven_minutes_ago = chrono::Utc::now() - chrono::Duration::minutes(11);
    let b = make(Arc::new(FixedClock::new(eleven_minutes_ago))).await;
    let mut c = Client::new(b.state.clone());
    c.sign_up("ada@example.com").await;
    c.get("/v1/me").await.assert_error(401, "unauthorized");

    let b = make(system_clock()).await;
    let mut c = Client::new(b.state.clone());
    let user = c.sign_up("ada@example.com").await;
    let token = c.token.clone().unwrap();
    assert_eq!(c.get("/v1/me").await.status, 200);
    let parts: Vec<&str> = token.split('.').collect();
    let header: serde_json::Value = serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert!(header["kid"].is_string(), "tokens name their signing key");

    let forged_claims = json!({"sub": "usr_01hzzzzzzzzzzzzzzzzzzzzzzz", "sid": "x", "iat": 0, "exp": 4102444800_i64, "iss": "webtrigger", "aud": "webtrigger-api"});
    let forged = format!("{}.{}.{}", parts[0], b64(&forged_claims), parts[2]);
    let none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT", "kid": header["kid"]})), b64(&json!({"sub": user, "sid": "x", "exp": 4102444800_i64, "iss": "webtrigger", "aud": "webtrigger-api"})));
    let mut flipped = token.clone();
    let last = flipped.pop().unwrap();
    flipped.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [forged, none, flipped, "garbage".into(), String::new()] {
        c.with_token(&bad).get("/v1/me").await.assert_error(401, "unauthorized");
    }
    let other = make(system_clock()).await;
    let mut elsewhere = Client::new(other.state.clone());
    elsewhere.sign_up("ada@example.com").await;
    c.with_token(elsewhere.token.as_ref().unwrap()).get("/v1/me").await.assert_error(401, "unauthorized");
}

pub async fn login_failures_are_rate_limited<F: Future<Output = Backend>>(make: impl Fn(Arc<dyn Clock>) -> F) {
    let b = make(system_clock()).await;
    let mut c = Client::new(b.state.clone());
    c.sign_up("ada@example.com").await;
    c.sign_up("bob@example.com").await;
    let mut attacker = Client::new(b.state.clone());
    for _ in 0..5 {
        attacker.post("/v1/auth/login", json!({"email": "ada@example.com", "password": "guess guess guess"})).await.assert_error(401, "invalid_credentials");
    }
    let limited = attacker.post("/v1/auth/login", json!({"email": "ada@example.com", "password": PASSWORD})).await;
    limited.assert_error(429, "rate_limited");
    assert!(limited.headers["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    let other_email = attacker.post("/v1/auth/login", json!({"email": "bob@example.com", "password": PASSWORD})).await;
    assert_eq!(other_email.status, 200, "the email bucket does not block other accounts");

    let mut spray = Client::new(b.state.clone());
    spray.ip = "203.0.113.9".into();
    for i in 0..20 {
        spray.post("/v1/auth/login", json!({"email": format!("user{i}@example.com"), "password": "guess guess guess"})).await.assert_error(401, "invalid_credentials");
    }
    spray.post("/v1/auth/login", json!({"email": "bob@example.com", "password": PASSWORD})).await.assert_error(429, "rate_limited");
}

pub async fn change_password_revokes_other_sessions<F: Future<Output = Backend>>(make: impl Fn(Arc<dyn Clock>) -> F) {
    let b = make(system_clock()).await;
    let mut a = Client::new(b.state.clone());
    a.sign_up("ada@example.com").await;
    let mut other = Client::new(b.state.clone());
    other.post("/v1/auth/login", json!({"email": "ada@example.com", "password": PASSWORD})).await.data();

    a.post("/v1/me/password", json!({"current_password": "wrong horse battery", "new_password": "new staple horse"})).await.assert_error(401, "invalid_credentials");
    a.post("/v1/me/password", json!({"current_password": PASSWORD, "new_password": "aaaaaaaaaaaa"})).await.assert_error(422, "validation_failed");
    assert_eq!(a.post("/v1/me/password", json!({"current_password": PASSWORD, "new_password": "new staple horse"})).await.status, 200);

    other.post("/v1/auth/refresh", json!({})).await.assert_error(401, "unauthorized");
    assert_eq!(a.post("/v1/auth/refresh", json!({})).await.status, 200, "the current session survives");
    let mut fresh = Client::new(b.state.clone());
    fresh.post("/v1/auth/login", json!({"email": "ada@example.com", "password": PASSWORD})).await.assert_error(401, "invalid_credentials");
    assert_eq!(fresh.post("/v1/auth/login", json!({"email": "ada@example.com", "password": "new staple horse"})).await.status, 200);
}

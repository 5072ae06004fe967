//! Sends one encrypted message to a push service: one shared HTTP client (pooled connections, timeouts,
//! no redirects), VAPID `Authorization` headers signed once per (key, push-service origin) and reused until
//! an hour before they expire, TTL / Urgency / Topic headers, and the answer classified into an `Outcome`.
//! The per-message work is the encryption and the POST: the endpoint is parsed once and handed to the client
//! as a `Url`, header names are constants, and a cached header is shared, not rebuilt.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use url::{Position, Url};

use super::crypto::{encrypt, PushCryptoError, VapidKey};
use super::outcome::{classify, Outcome};
use super::types::{PushSubscription, Urgency};

/// VAPID JWTs live 12 hours (RFC 8292 allows 24) and are replaced an hour before expiry.
const JWT_LIFETIME_SECS: i64 = 12 * 3600;
const JWT_RENEW_BEFORE_SECS: i64 = 3600;

const TTL: HeaderName = HeaderName::from_static("ttl");
const URGENCY: HeaderName = HeaderName::from_static("urgency");
const TOPIC: HeaderName = HeaderName::from_static("topic");

/// How a message is to be delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery<'a> {
    pub payload: &'a [u8],
    pub ttl_seconds: u32,
    pub urgency: Urgency,
    pub topic: Option<&'a str>,
}

/// A signed `Authorization` value and the `exp` it carries.
struct Signed {
    header: HeaderValue,
    exp: i64,
}

impl Signed {
    fn fresh(&self, now_s: i64) -> bool {
        self.exp - JWT_RENEW_BEFORE_SECS > now_s
    }
}

pub struct PushSender {
    http: reqwest::Client,
    /// VAPID public key → audience (push-service origin) → header: looked up by `&str`, no key is built per send.
    jwts: Mutex<HashMap<String, HashMap<String, Signed>>>,
}

impl Default for PushSender {
    fn default() -> Self {
        Self::new()
    }
}

impl PushSender {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .user_agent(concat!("WebTrigger/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("HTTP client");
        Self { http, jwts: Mutex::new(HashMap::new()) }
    }

    /// The cached `Authorization` value for this key and audience, signing a new JWT when needed.
    pub fn authorization(&self, key: &VapidKey, contact: &str, audience: &str, now: DateTime<Utc>) -> Result<HeaderValue, PushCryptoError> {
        let now_s = now.timestamp();
        let cached = |jwts: &HashMap<String, HashMap<String, Signed>>| jwts.get(key.public_key()).and_then(|m| m.get(audience)).filter(|s| s.fresh(now_s)).map(|s| s.header.clone());
        if let Some(header) = cached(&self.jwts.lock().expect("jwt cache")) {
            return Ok(header);
        }
        let exp = now_s + JWT_LIFETIME_SECS;
        let jwt = key.jwt(audience, contact, exp)?;
        let header = HeaderValue::try_from(key.authorization(&jwt)).map_err(|_| PushCryptoError::Crypto)?;
        // Sends that missed the cache at the same moment all settle on the first header stored, so one
        // origin sees one JWT per key rather than one per racing sender.
        let mut jwts = self.jwts.lock().expect("jwt cache");
        if let Some(stored) = cached(&jwts) {
            return Ok(stored);
        }
        jwts.entry(key.public_key().to_owned()).or_default().insert(audience.to_owned(), Signed { header: header.clone(), exp });
        Ok(header)
    }

    /// Encrypts and posts one message. Never fails: every problem is an `Outcome`.
    pub async fn send(&self, sub: &PushSubscription, key: &VapidKey, contact: &str, delivery: &Delivery<'_>, now: DateTime<Utc>) -> Outcome {
        let (p256dh, auth) = sub.key_bytes();
        let body = match encrypt(&p256dh, &auth, delivery.payload) {
            Ok(b) => b,
            Err(PushCryptoError::TooLarge(_)) => return Outcome::TooLarge,
            Err(e) => return Outcome::Rejected(e.to_string()),
        };
        // Stored endpoints were parsed at subscribe time; one that no longer parses has no push service.
        let Ok(url) = Url::parse(&sub.endpoint) else { return Outcome::Rejected("subscription endpoint is not a URL".into()) };
        // `scheme://host[:port]`: the URL's origin, sliced rather than rebuilt unless credentials are in the way.
        let origin = if url.username().is_empty() && url.password().is_none() { Cow::Borrowed(&url[..Position::BeforePath]) } else { Cow::Owned(url.origin().ascii_serialization()) };
        let authorization = match self.authorization(key, contact, &origin, now) {
            Ok(a) => a,
            Err(e) => return Outcome::Rejected(e.to_string()),
        };
        let mut request = reqwest::Request::new(reqwest::Method::POST, url);
        let headers = request.headers_mut();
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("aes128gcm"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
        headers.insert(TTL, HeaderValue::from(delivery.ttl_seconds));
        headers.insert(URGENCY, HeaderValue::from_static(delivery.urgency.header()));
        headers.insert(AUTHORIZATION, authorization);
        if let Some(topic) = delivery.topic {
            let Ok(topic) = HeaderValue::from_str(topic) else { return Outcome::Rejected("topic is not a header value".into()) };
            headers.insert(TOPIC, topic);
        }
        *request.body_mut() = Some(body.into());
        match self.http.execute(request).await {
            Ok(response) if response.status().is_success() => Outcome::Accepted,
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_owned);
                let host = response.url().host_str().unwrap_or_default().to_owned();
                let text = if status >= 300 { response.text().await.unwrap_or_default() } else { String::new() };
                classify(status, &host, retry_after.as_deref(), now, &text)
            }
            Err(e) if e.is_timeout() => Outcome::Transient("push service timed out".into()),
            Err(e) => Outcome::Transient(format!("push service unreachable: {}", e.without_url())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vapid_jwt_is_signed_once_per_origin_and_renewed_near_expiry() {
        let sender = PushSender::new();
        let (key, _) = VapidKey::generate().unwrap();
        let t0 = Utc::now();
        let a = sender.authorization(&key, "mailto:ops@example.com", "https://fcm.googleapis.com", t0).unwrap();
        let b = sender.authorization(&key, "mailto:ops@example.com", "https://fcm.googleapis.com", t0 + chrono::Duration::hours(10)).unwrap();
        assert_eq!(a, b, "reused while far from expiry (ECDSA is randomised, so a re-sign would differ)");
        let other = sender.authorization(&key, "mailto:ops@example.com", "https://web.push.apple.com", t0).unwrap();
        assert_ne!(a, other, "one JWT per audience");
        let renewed = sender.authorization(&key, "mailto:ops@example.com", "https://fcm.googleapis.com", t0 + chrono::Duration::hours(11) + chrono::Duration::minutes(1)).unwrap();
        assert_ne!(a, renewed, "renewed within the last hour");
    }
}

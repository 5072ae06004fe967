//! Sends one encrypted message to a push service: one shared HTTP client (pooled connections, timeouts,
//! no redirects), VAPID `Authorization` values signed once per (key, push-service origin) and reused
//! until an hour before they expire, TTL / Urgency / Topic headers, and the answer classified into an
//! `Outcome`. The endpoint is parsed once per send (`Destination`), for the audience, the request and the
//! caller's per-origin limit.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE};
use url::Url;

use super::crypto::{encrypt, VapidKey};
use super::outcome::{classify, Outcome};
use super::types::{PushSubscription, Urgency};

/// VAPID JWTs live 12 hours (RFC 8292 allows 24) and are replaced an hour before expiry.
const JWT_LIFETIME_SECS: i64 = 12 * 3600;
const JWT_RENEW_BEFORE_SECS: i64 = 3600;

/// How a message is to be delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery<'a> {
    pub payload: &'a [u8],
    pub ttl_seconds: u32,
    pub urgency: Urgency,
    pub topic: Option<&'a str>,
}

/// A subscription's endpoint parsed once per send: the URL posted to, and its origin (the VAPID audience,
/// and the key of the worker's per-origin send limit).
pub struct Destination {
    url: Url,
    origin: String,
}

impl Destination {
    /// Stored endpoints were parsed when subscribed; one that no longer parses has nowhere to go, which
    /// is the outcome returned.
    pub fn of(sub: &PushSubscription) -> Result<Self, Outcome> {
        let url = Url::parse(&sub.endpoint).map_err(|_| Outcome::Rejected("the subscription's endpoint is not a URL".into()))?;
        Ok(Self { origin: url.origin().ascii_serialization(), url })
    }

    /// `scheme://host[:port]`.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

/// A signed `Authorization` value and the expiry of its JWT (epoch seconds).
type SignedAuthorization = (HeaderValue, i64);

pub struct PushSender {
    http: reqwest::Client,
    /// VAPID public key → audience → the value sent; looked up by `&str` so a hit allocates nothing.
    authorizations: Mutex<HashMap<String, HashMap<String, SignedAuthorization>>>,
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
            .user_agent(concat!("WebTrigger/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("HTTP client");
        Self { http, authorizations: Mutex::new(HashMap::new()) }
    }

    fn fresh(&self, key: &VapidKey, audience: &str, now_s: i64) -> Option<HeaderValue> {
        let cache = self.authorizations.lock().unwrap_or_else(|e| e.into_inner());
        let (value, exp) = cache.get(key.public_key())?.get(audience)?;
        (*exp - JWT_RENEW_BEFORE_SECS > now_s).then(|| value.clone())
    }

    /// The cached `Authorization` value for this key and audience, signing a new JWT when needed.
    pub fn authorization(&self, key: &VapidKey, contact: &str, audience: &str, now: DateTime<Utc>) -> Result<HeaderValue, super::crypto::PushCryptoError> {
        let now_s = now.timestamp();
        if let Some(value) = self.fresh(key, audience, now_s) {
            return Ok(value);
        }
        let exp = now_s + JWT_LIFETIME_SECS;
        let signed = HeaderValue::try_from(key.authorization(&key.jwt(audience, contact, exp)?)).map_err(|_| super::crypto::PushCryptoError::Crypto)?;
        // Sends that missed the cache at the same moment all settle on the first value stored, so one
        // origin sees one JWT per key rather than one per racing sender.
        let mut cache = self.authorizations.lock().unwrap_or_else(|e| e.into_inner());
        let per_key = cache.entry(key.public_key().to_owned()).or_default();
        match per_key.get(audience) {
            Some((stored, stored_exp)) if *stored_exp - JWT_RENEW_BEFORE_SECS > now_s => Ok(stored.clone()),
            _ => {
                per_key.insert(audience.to_owned(), (signed.clone(), exp));
                Ok(signed)
            }
        }
    }

    /// Encrypts and posts one message. Never fails: every problem is an `Outcome`.
    pub async fn send(&self, sub: &PushSubscription, key: &VapidKey, contact: &str, delivery: &Delivery<'_>, now: DateTime<Utc>) -> Outcome {
        match Destination::of(sub) {
            Ok(destination) => self.send_to(sub, destination, key, contact, delivery, now).await,
            Err(unusable) => unusable,
        }
    }

    /// `send`, to the subscription's endpoint as its caller already parsed it.
    pub async fn send_to(&self, sub: &PushSubscription, destination: Destination, key: &VapidKey, contact: &str, delivery: &Delivery<'_>, now: DateTime<Utc>) -> Outcome {
        let Destination { url, origin } = destination;
        let (p256dh, auth) = sub.key_bytes();
        let body = match encrypt(&p256dh, &auth, delivery.payload) {
            Ok(b) => b,
            Err(super::crypto::PushCryptoError::TooLarge(_)) => return Outcome::TooLarge,
            Err(e) => return Outcome::Rejected(e.to_string()),
        };
        let authorization = match self.authorization(key, contact, &origin, now) {
            Ok(a) => a,
            Err(e) => return Outcome::Rejected(e.to_string()),
        };
        let mut request = self
            .http
            .post(url)
            .header(CONTENT_ENCODING, HeaderValue::from_static("aes128gcm"))
            .header(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"))
            .header(HeaderName::from_static("ttl"), HeaderValue::from(delivery.ttl_seconds))
            .header(HeaderName::from_static("urgency"), HeaderValue::from_static(delivery.urgency.header()))
            .header(AUTHORIZATION, authorization)
            .body(body);
        if let Some(topic) = delivery.topic {
            request = request.header(HeaderName::from_static("topic"), topic);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
                let host = origin.split("://").nth(1).unwrap_or_default();
                let text = if status >= 300 { response.text().await.unwrap_or_default() } else { String::new() };
                classify(status, host, retry_after.as_deref(), now, &text)
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

    #[tokio::test]
    async fn a_stored_endpoint_that_no_longer_parses_is_rejected_without_a_request() {
        let (key, _) = VapidKey::generate().unwrap();
        let sub = PushSubscription { endpoint: "no scheme here".into(), p256dh: String::new(), auth: String::new() };
        assert!(Destination::of(&sub).is_err());
        let delivery = Delivery { payload: b"{}", ttl_seconds: 60, urgency: Urgency::Normal, topic: None };
        let outcome = PushSender::new().send(&sub, &key, "mailto:ops@example.com", &delivery, Utc::now()).await;
        assert_eq!(outcome, Outcome::Rejected("the subscription's endpoint is not a URL".into()));
        let parsed = PushSubscription { endpoint: "https://fcm.googleapis.com/fcm/send/abc".into(), ..sub };
        assert_eq!(Destination::of(&parsed).map(|d| d.origin().to_owned()).ok().as_deref(), Some("https://fcm.googleapis.com"));
    }
}

//! Parsed Web Push types: a `PushSubscription` (https endpoint, 65-byte uncompressed P-256 `p256dh`,
//! 16-byte `auth`), a VAPID `Contact`, `Urgency` and `Topic`. Invalid input never gets past the parser.

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::http::ApiError;

/// Push-service hosts a subscription endpoint may point at (production). `suffix` entries match subdomains.
pub const PUSH_SERVICE_HOSTS: &[(&str, bool)] = &[
    ("fcm.googleapis.com", false),
    ("updates.push.services.mozilla.com", false),
    ("web.push.apple.com", false),
    (".push.apple.com", true),
    (".notify.windows.com", true),
];

fn invalid(what: &str) -> ApiError {
    ApiError::Validation(what.to_owned())
}

fn b64_bytes(raw: &str) -> Option<Vec<u8>> {
    let trimmed = raw.trim().trim_end_matches('=');
    URL_SAFE_NO_PAD.decode(trimmed).ok().or_else(|| URL_SAFE.decode(raw.trim()).ok())
}

/// True when `host` is a known browser push service.
pub fn is_known_push_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    PUSH_SERVICE_HOSTS.iter().any(|(h, suffix)| if *suffix { host.ends_with(h) } else { host == *h })
}

/// Which endpoints subscriptions may point at: the known push services over https, plus any
/// `host:port` the operator allowed explicitly (local push-service fakes in tests, over http or https).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointPolicy {
    pub extra_hosts: Vec<String>,
}

impl EndpointPolicy {
    fn allows(&self, scheme: &str, authority: &str) -> bool {
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        let extra = self.extra_hosts.iter().any(|h| h.eq_ignore_ascii_case(authority));
        extra || (scheme == "https" && is_known_push_host(host) && !authority.contains(':'))
    }
}

/// A browser's push subscription, as `PushSubscription.toJSON()` gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSubscription {
    pub endpoint: String,
    /// base64url of the 65-byte uncompressed point.
    pub p256dh: String,
    /// base64url of the 16-byte secret.
    pub auth: String,
}

impl PushSubscription {
    /// Checks shape and sizes, and that the endpoint is one `policy` allows.
    pub fn parse(endpoint: &str, p256dh: &str, auth: &str, policy: &EndpointPolicy) -> Result<Self, ApiError> {
        if endpoint.len() > 2048 {
            return Err(invalid("endpoint is longer than 2048 characters"));
        }
        let (scheme, rest) = endpoint.split_once("://").ok_or_else(|| invalid("endpoint must be an absolute https URL"))?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if !matches!(scheme, "https" | "http") || authority.is_empty() || authority.contains('@') {
            return Err(invalid("endpoint must be an absolute https URL"));
        }
        if !policy.allows(scheme, authority) {
            return Err(invalid("endpoint is not an https URL of a known browser push service"));
        }
        let key = b64_bytes(p256dh).ok_or_else(|| invalid("keys.p256dh is not base64url"))?;
        if key.len() != 65 || key[0] != 0x04 {
            return Err(invalid("keys.p256dh must be a 65-byte uncompressed P-256 public key"));
        }
        let secret = b64_bytes(auth).ok_or_else(|| invalid("keys.auth is not base64url"))?;
        if secret.len() != 16 {
            return Err(invalid("keys.auth must be 16 bytes"));
        }
        Ok(Self { endpoint: endpoint.to_owned(), p256dh: URL_SAFE_NO_PAD.encode(&key), auth: URL_SAFE_NO_PAD.encode(&secret) })
    }

    pub fn key_bytes(&self) -> ([u8; 65], [u8; 16]) {
        let key = b64_bytes(&self.p256dh).and_then(|k| k.try_into().ok()).expect("parsed p256dh");
        let auth = b64_bytes(&self.auth).and_then(|k| k.try_into().ok()).expect("parsed auth");
        (key, auth)
    }

    /// `scheme://host[:port]` of the endpoint: the VAPID audience.
    pub fn origin(&self) -> String {
        let (scheme, rest) = self.endpoint.split_once("://").unwrap_or(("https", &self.endpoint));
        format!("{scheme}://{}", rest.split(['/', '?', '#']).next().unwrap_or_default().to_ascii_lowercase())
    }

    /// A stable id for the subscription (SHA-256 of the endpoint, 32 hex chars).
    pub fn id(&self) -> String {
        crate::auth::tokens::token_hash(&self.endpoint)[..32].to_owned()
    }
}

/// The VAPID `sub` claim: `mailto:` with a plausible address, or an `https:` URL (as Apple requires).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Contact(String);

impl Contact {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let raw = raw.trim();
        let ok = if let Some(addr) = raw.strip_prefix("mailto:") {
            crate::auth::Email::parse(addr).is_ok() && addr == addr.trim() && !addr.ends_with("@localhost") && !addr.contains(['<', '>'])
        } else if let Some(rest) = raw.strip_prefix("https://") {
            !rest.is_empty() && !rest.contains(char::is_whitespace) && rest.split('/').next().is_some_and(|h| h.contains('.'))
        } else {
            false
        };
        if ok { Ok(Self(raw.to_owned())) } else { Err(invalid("contact must be `mailto:<address>` or an `https://` URL (push services reject other forms)")) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Contact {
    type Error = ApiError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Contact> for String {
    fn from(c: Contact) -> String {
        c.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Urgency {
    VeryLow,
    Low,
    #[default]
    Normal,
    High,
}

impl Urgency {
    pub fn header(self) -> &'static str {
        match self {
            Self::VeryLow => "very-low",
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
        }
    }
}

/// RFC 8030 Topic: at most 32 base64url characters.
pub fn parse_topic(raw: &str) -> Result<String, ApiError> {
    let ok = !raw.is_empty() && raw.len() <= 32 && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok { Ok(raw.to_owned()) } else { Err(invalid("topic must be 1–32 characters of A–Z a–z 0–9 - _")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

    #[test]
    fn subscriptions_are_checked_strictly() {
        let ok = PushSubscription::parse("https://fcm.googleapis.com/fcm/send/abc", KEY, AUTH, &EndpointPolicy::default()).unwrap();
        assert_eq!(ok.origin(), "https://fcm.googleapis.com");
        assert_eq!(ok.id().len(), 32);
        assert!(PushSubscription::parse("https://x.notify.windows.com/w/?token=a", KEY, &format!("{AUTH}=="), &EndpointPolicy::default()).is_ok(), "padded base64 is accepted");
        let bad = [
            ("http://fcm.googleapis.com/x", KEY, AUTH),
            ("https://evil.example.com/x", KEY, AUTH),
            ("https://user@fcm.googleapis.com/x", KEY, AUTH),
            ("fcm.googleapis.com/x", KEY, AUTH),
            ("https://fcm.googleapis.com/x", &KEY[..60], AUTH),
            ("https://fcm.googleapis.com/x", "BCVx!!", AUTH),
            ("https://fcm.googleapis.com/x", KEY, "c2hvcnQ"),
        ];
        for (e, k, a) in bad {
            assert!(PushSubscription::parse(e, k, a, &EndpointPolicy::default()).is_err(), "{e} {k} {a} accepted");
        }
        assert!(PushSubscription::parse("https://fcm.googleapis.com:8443/x", KEY, AUTH, &EndpointPolicy::default()).is_err(), "odd ports are not the push service");
        let testing = EndpointPolicy { extra_hosts: vec!["127.0.0.1:9999".into()] };
        assert!(PushSubscription::parse("http://127.0.0.1:9999/push/1", KEY, AUTH, &testing).is_ok(), "an explicitly allowed fake");
        assert!(PushSubscription::parse("http://127.0.0.1:9998/push/1", KEY, AUTH, &testing).is_err());
        assert!(PushSubscription::parse("http://fcm.googleapis.com/x", KEY, AUTH, &testing).is_err());
        let compressed = URL_SAFE_NO_PAD.encode([2u8; 65]);
        assert!(PushSubscription::parse("https://fcm.googleapis.com/x", &compressed, AUTH, &EndpointPolicy::default()).is_err());
    }

    #[test]
    fn contacts_follow_apple_rules() {
        assert!(Contact::parse("mailto:ops@example.com").is_ok());
        assert!(Contact::parse("https://example.com/contact").is_ok());
        for bad in ["ops@example.com", "mailto: ops@example.com", "mailto:<ops@example.com>", "mailto:x@localhost", "http://example.com", "https://"] {
            assert!(Contact::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn topics() {
        assert!(parse_topic("order-42_ready").is_ok());
        assert!(parse_topic(&"a".repeat(33)).is_err());
        assert!(parse_topic("has space").is_err());
    }
}

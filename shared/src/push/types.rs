//! Parsed Web Push types: a `PushSubscription` (https endpoint, 65-byte uncompressed P-256 `p256dh`,
//! 16-byte `auth`), a VAPID `Contact`, `Urgency` and `Topic`. Invalid input never gets past the parser.

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::{Deserialize, Serialize};
use url::Url;

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

/// Which endpoints subscriptions may point at: the known push services over https on the default port,
/// plus any `host:port` the operator allowed explicitly (local push-service fakes in tests, over http or https).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointPolicy {
    pub extra_hosts: Vec<String>,
}

impl EndpointPolicy {
    /// Judges the parsed URL, never the raw text: the host the HTTP client will connect to is the one checked.
    fn allows(&self, url: &Url) -> bool {
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else { return false };
        let authority = format!("{host}:{port}");
        if self.extra_hosts.iter().any(|h| h.eq_ignore_ascii_case(&authority)) {
            return url.scheme() == "https" || url.scheme() == "http";
        }
        // A domain (an IP literal is never a push service), no explicit port (443 is normalised away).
        url.scheme() == "https" && url.port().is_none() && matches!(url.host(), Some(url::Host::Domain(d)) if is_known_push_host(d))
    }
}

/// Parses a subscription endpoint once with WHATWG rules (what reqwest uses to connect) and checks it.
/// Backslashes are refused outright: WHATWG reads `\` as `/` in https URLs, so a text check and the client
/// would see different hosts, and no browser ever hands out such an endpoint.
fn parse_endpoint(raw: &str, policy: &EndpointPolicy) -> Result<Url, ApiError> {
    let not_url = || invalid("endpoint must be an absolute https URL");
    if raw.len() > 2048 {
        return Err(invalid("endpoint is longer than 2048 characters"));
    }
    if raw.contains('\\') || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(not_url());
    }
    let url = Url::parse(raw).map_err(|_| not_url())?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err(not_url());
    }
    if !policy.allows(&url) {
        return Err(invalid("endpoint is not an https URL of a known browser push service"));
    }
    Ok(url)
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
    /// Checks shape and sizes, and that the endpoint is one `policy` allows. The stored endpoint is the
    /// parsed, normalised URL, so what was checked is exactly what the sender later connects to.
    pub fn parse(endpoint: &str, p256dh: &str, auth: &str, policy: &EndpointPolicy) -> Result<Self, ApiError> {
        let url = parse_endpoint(endpoint, policy)?;
        let key = b64_bytes(p256dh).ok_or_else(|| invalid("keys.p256dh is not base64url"))?;
        if key.len() != 65 || key[0] != 0x04 {
            return Err(invalid("keys.p256dh must be a 65-byte uncompressed P-256 public key"));
        }
        let secret = b64_bytes(auth).ok_or_else(|| invalid("keys.auth is not base64url"))?;
        if secret.len() != 16 {
            return Err(invalid("keys.auth must be 16 bytes"));
        }
        Ok(Self { endpoint: url.into(), p256dh: URL_SAFE_NO_PAD.encode(&key), auth: URL_SAFE_NO_PAD.encode(&secret) })
    }

    pub fn key_bytes(&self) -> ([u8; 65], [u8; 16]) {
        let key = b64_bytes(&self.p256dh).and_then(|k| k.try_into().ok()).expect("parsed p256dh");
        let auth = b64_bytes(&self.auth).and_then(|k| k.try_into().ok()).expect("parsed auth");
        (key, auth)
    }

    /// `scheme://host[:port]` of the endpoint: the VAPID audience.
    pub fn origin(&self) -> String {
        // Subscriptions stored before endpoints were normalised parse the same way; a value that does not
        // parse has no origin a push service would accept, so it gets an empty audience.
        Url::parse(&self.endpoint).map(|u| u.origin().ascii_serialization()).unwrap_or_default()
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

    /// Endpoints that must be refused, each with why: every one is a way to make the sender connect
    /// somewhere other than a push service while a text check sees a push-service host.
    const DISGUISED: &[(&str, &str)] = &[
        ("https://127.0.0.1\\.push.apple.com/x", "backslash: WHATWG reads it as `/`, so the host is 127.0.0.1"),
        ("https://fcm.googleapis.com\\@127.0.0.1/x", "backslash before userinfo"),
        ("https://fcm.googleapis.com@127.0.0.1/x", "userinfo: the real host is after the @"),
        ("https://user:pw@fcm.googleapis.com/x", "credentials in a push endpoint"),
        ("https://127.0.0.1/x", "IPv4 literal"),
        ("https://2130706433/x", "decimal IPv4 (127.0.0.1)"),
        ("https://0x7f.1/x", "hex IPv4 shorthand (127.0.0.1)"),
        ("https://0177.0.0.1/x", "octal IPv4 (127.0.0.1)"),
        ("https://[::ffff:127.0.0.1]/x", "IPv4-mapped IPv6 loopback"),
        ("https://[::1]/x", "IPv6 loopback"),
        ("https://fcm.googleapis.com./x", "trailing dot: a different name than the known host"),
        ("https://web.push.apple.com../x", "two trailing dots"),
        ("https://x.push.apple.com.evil.example/x", "known suffix in the middle"),
        ("https://push.apple.com.localhost/x", "suffix check must be on the whole host"),
        ("https://fcm.googleapis.com:8443/x", "non-default port on a push service"),
        ("https://fcm.googleapis.com:80/x", "explicit non-https port"),
        ("http://fcm.googleapis.com/x", "plain http to a real push service"),
        ("https://fcm.googleapis.com%2f@127.0.0.1/x", "percent-encoded slash in userinfo"),
        ("https://127.0.0.1%2f.push.apple.com/x", "percent-encoded slash in the host"),
        ("https://fcm.googleapis.com\t/x", "control character inside the host"),
        ("//fcm.googleapis.com/x", "scheme-relative"),
        ("fcm.googleapis.com/x", "no scheme"),
        ("ftp://fcm.googleapis.com/x", "other scheme"),
    ];

    #[test]
    fn disguised_endpoints_are_refused() {
        for (endpoint, why) in DISGUISED {
            assert!(PushSubscription::parse(endpoint, KEY, AUTH, &EndpointPolicy::default()).is_err(), "{endpoint} accepted ({why})");
        }
        // The explicitly allowed fake must not be reachable through a disguise either.
        let testing = EndpointPolicy { extra_hosts: vec!["127.0.0.1:9999".into()] };
        for disguised in ["http://127.0.0.1\\:9999/p", "http://x@127.0.0.1:9999/p", "http://2130706433:9998/p"] {
            assert!(PushSubscription::parse(disguised, KEY, AUTH, &testing).is_err(), "{disguised} accepted");
        }
    }

    #[test]
    fn endpoints_are_stored_normalised() {
        // (input, stored form, origin, why it is still the same push service)
        let cases = [
            ("https://FCM.GoogleAPIs.com/fcm/send/abc", "https://fcm.googleapis.com/fcm/send/abc", "https://fcm.googleapis.com", "host case folds"),
            ("https://fcm.googleapis.com:443/fcm/send/abc", "https://fcm.googleapis.com/fcm/send/abc", "https://fcm.googleapis.com", "the default port is the same origin"),
            ("https://db5p.notify.windows.com/w/?token=a%2Bb", "https://db5p.notify.windows.com/w/?token=a%2Bb", "https://db5p.notify.windows.com", "query kept byte for byte"),
        ];
        for (input, stored, origin, why) in cases {
            let sub = PushSubscription::parse(input, KEY, AUTH, &EndpointPolicy::default()).unwrap_or_else(|e| panic!("{input} refused ({why}): {e:?}"));
            assert_eq!(sub.endpoint, stored, "{why}");
            assert_eq!(sub.origin(), origin, "{why}");
        }
        let testing = EndpointPolicy { extra_hosts: vec!["127.0.0.1:9999".into()] };
        let fake = PushSubscription::parse("http://127.0.0.1:9999/push/1", KEY, AUTH, &testing).unwrap();
        assert_eq!(fake.origin(), "http://127.0.0.1:9999");
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

//! Files contacts send, fetched from the provider with the channel's credential (a browser cannot: every
//! provider wants the secret). Meta: `GET /{media-id}` with the bearer token answers `{url, mime_type,
//! file_size}`, and that `url` (a lookaside link, valid five minutes) is fetched with the same token.
//! Twilio: `MediaUrl0` with HTTP Basic auth, which redirects to a short-lived CDN URL fetched without
//! credentials. Whapi: `GET /media/{id}` with the bearer token, or the public `link` the webhook carried.
//!
//! Credentials go only to the configured provider API and to the download URL Meta itself answered;
//! every URL that came from a payload or an answer (lookaside, redirect, link) passes the SSRF guard
//! (`http::outbound`), and bodies are read in chunks up to a cap, never buffered unbounded.

use std::sync::OnceLock;

use reqwest::{RequestBuilder, Response, Url};
use secrecy::ExposeSecret;
use serde_json::Value;

use super::{ProviderSecrets, ProviderUrls};
use crate::http::outbound::{self, check_url, guarded_client, literal_allowed, BodyError, OutboundPolicy};

/// Redirects followed (Twilio answers one); more means something is wrong.
const MAX_HOPS: usize = 3;

/// The guarded client and its policy: the operator's allowed hosts plus the configured provider API
/// hosts (a self-hoster's proxy or a test fake may be on a private address).
pub struct MediaClient {
    policy: OutboundPolicy,
    http: OnceLock<reqwest::Client>,
}

impl MediaClient {
    pub fn new(urls: &ProviderUrls, outbound: &OutboundPolicy) -> Self {
        let mut allow_hosts = outbound.allow_hosts.clone();
        for base in [&urls.meta, &urls.twilio, &urls.whapi] {
            if let Some((host, port)) = Url::parse(base).ok().and_then(|u| Some((u.host_str()?.to_owned(), u.port_or_known_default()?))) {
                allow_hosts.push(format!("{host}:{port}"));
            }
        }
        Self { policy: OutboundPolicy { allow_hosts }, http: OnceLock::new() }
    }

    fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| guarded_client(&self.policy))
    }

    /// A URL from a payload or an answer, checked as a customer URL is (https, public address).
    fn checked(&self, raw: &str) -> Result<Url, MediaError> {
        let url = check_url(raw, &self.policy).map_err(|e| MediaError::Refused(format!("the media URL was refused: {e}")))?;
        if !literal_allowed(&url, &self.policy) {
            return Err(MediaError::Refused("the media URL points at a private or internal address".into()));
        }
        Ok(url)
    }
}

/// The file as the provider sent it.
#[derive(Debug)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    /// What the provider says it is (checked against the bytes by the caller).
    pub mime: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MediaError {
    #[error("the provider no longer has this file (WhatsApp keeps media for about 30 days)")]
    Gone,
    #[error("the file is larger than {} MB, too large to show here; open it in WhatsApp", .0 / (1024 * 1024))]
    TooLarge(u64),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0} refused the channel's credential; check it on the Channels page")]
    AuthFailed(&'static str),
    #[error("{0}")]
    Invalid(String),
}

fn network(provider: &str, e: &reqwest::Error) -> MediaError {
    let what = if e.is_timeout() { "timed out" } else if e.is_connect() { "could not be reached" } else { "failed" };
    MediaError::Unavailable(format!("fetching the file from {provider} {what}"))
}

/// What a non-success answer means. `credentialed`: the request carried the channel's secret.
fn refusal(provider: &'static str, status: u16, credentialed: bool) -> MediaError {
    match status {
        404 | 410 => MediaError::Gone,
        401 | 403 if credentialed => MediaError::AuthFailed(provider),
        401 | 403 => MediaError::Gone,
        429 | 500.. => MediaError::Unavailable(format!("{provider} answered HTTP {status} for the file; try again shortly")),
        _ => MediaError::Invalid(format!("{provider} answered HTTP {status} for the file")),
    }
}

/// The body, refusing it (without reading further) once it passes `cap` bytes.
async fn read_capped(provider: &str, r: Response, cap: u64) -> Result<Vec<u8>, MediaError> {
    outbound::read_capped(r, cap).await.map_err(|e| match e {
        BodyError::TooLarge => MediaError::TooLarge(cap),
        BodyError::Failed(e) => network(provider, &e),
    })
}

fn content_type(r: &Response) -> Option<String> {
    r.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()).filter(|v| !v.is_empty())
}

/// Sends `first`, then follows redirects without credentials through the guard; answers the final 2xx.
async fn follow(client: &MediaClient, provider: &'static str, first: RequestBuilder, at: Url) -> Result<Response, MediaError> {
    let mut response = first.send().await.map_err(|e| network(provider, &e))?;
    let (mut at, mut credentialed) = (at, true);
    for _ in 0..MAX_HOPS {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        if !status.is_redirection() {
            return Err(refusal(provider, status.as_u16(), credentialed));
        }
        let location = response.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).ok_or_else(|| MediaError::Invalid(format!("{provider} redirected without a Location")))?;
        let next = at.join(location).map_err(|_| MediaError::Invalid(format!("{provider} redirected to an unreadable URL")))?;
        at = client.checked(next.as_str())?;
        credentialed = false;
        response = client.http().get(at.clone()).send().await.map_err(|e| network(provider, &e))?;
    }
    Err(MediaError::Invalid(format!("{provider} redirected too many times")))
}

/// Meta media ids are numeric; anything else is not one (and must not reach a Graph path).
fn meta_media_id(raw: &str) -> Option<&str> {
    (!raw.is_empty() && raw.len() <= 40 && raw.bytes().all(|b| b.is_ascii_digit())).then_some(raw)
}

/// Whapi media ids look like `jpeg-c91cf5f956dd38509d4961460cf1180e-80d1080e92fe09`.
fn whapi_media_id(raw: &str) -> Option<&str> {
    (!raw.is_empty() && raw.len() <= 200 && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))).then_some(raw)
}

/// Fetches the file `media` (the id or URL the webhook carried) with the channel's `secrets`, at most `cap` bytes.
pub async fn fetch(client: &MediaClient, urls: &ProviderUrls, secrets: &ProviderSecrets, media: &str, cap: u64) -> Result<Fetched, MediaError> {
    match secrets {
        ProviderSecrets::Meta { access_token, phone_number_id, .. } => {
            let id = meta_media_id(media).ok_or_else(|| MediaError::Invalid("the message does not carry a Meta media id".into()))?;
            let lookup = Url::parse(&format!("{}/{id}", urls.meta.trim_end_matches('/'))).map_err(|_| MediaError::Invalid("the Meta Graph URL is not a URL".into()))?;
            // `phone_number_id` makes Graph check that the media belongs to this sender.
            let request = client.http().get(lookup.clone()).bearer_auth(access_token.expose_secret()).query(&[("phone_number_id", phone_number_id.as_str())]);
            let answer = request.send().await.map_err(|e| network("meta", &e))?;
            let status = answer.status().as_u16();
            let body = read_capped("meta", answer, 64 * 1024).await?;
            if !(200..300).contains(&status) {
                // Graph answers an expired or unknown id with 400, code 100 (subcode 33: "does not exist").
                let graph: Value = serde_json::from_slice(&body).unwrap_or_default();
                let code = graph.pointer("/error/code").and_then(Value::as_i64);
                return Err(if status == 400 && code == Some(100) { MediaError::Gone } else { refusal("meta", status, true) });
            }
            let info: Value = serde_json::from_slice(&body).map_err(|_| MediaError::Invalid("Meta's media answer is not JSON".into()))?;
            let url = info["url"].as_str().ok_or_else(|| MediaError::Invalid("Meta's media answer has no url".into()))?;
            let size = info["file_size"].as_u64().or_else(|| info["file_size"].as_str().and_then(|s| s.parse().ok()));
            if size.is_some_and(|n| n > cap) {
                return Err(MediaError::TooLarge(cap));
            }
            let download = client.checked(url)?;
            let response = follow(client, "meta", client.http().get(download.clone()).bearer_auth(access_token.expose_secret()), download).await?;
            let mime = info["mime_type"].as_str().map(str::to_owned).or_else(|| content_type(&response));
            Ok(Fetched { bytes: read_capped("meta", response, cap).await?, mime })
        }
        ProviderSecrets::Twilio { account_sid, auth, .. } => {
            // The auth token goes only to this account's media on the configured Twilio API.
            let prefix = format!("{}/2010-04-01/Accounts/{account_sid}/", urls.twilio.trim_end_matches('/'));
            let url = Url::parse(media).ok().filter(|u| u.as_str().starts_with(&prefix) && !u.path().contains("..")).ok_or_else(|| MediaError::Refused("the media URL is not this Twilio account's media; its credential is not sent there".into()))?;
            let (user, password) = super::twilio::basic(account_sid, auth);
            let response = follow(client, "twilio", client.http().get(url.clone()).basic_auth(user, Some(password.expose_secret())), url).await?;
            let mime = content_type(&response);
            Ok(Fetched { bytes: read_capped("twilio", response, cap).await?, mime })
        }
        ProviderSecrets::Whapi { token } => {
            let response = if media.starts_with("https://") || media.starts_with("http://") {
                // A link on Whapi's storage: public, so it gets no token.
                let url = client.checked(media)?;
                follow(client, "whapi", client.http().get(url.clone()), url).await?
            } else {
                let id = whapi_media_id(media).ok_or_else(|| MediaError::Invalid("the message does not carry a Whapi media id".into()))?;
                let url = Url::parse(&format!("{}/media/{id}", urls.whapi.trim_end_matches('/'))).map_err(|_| MediaError::Invalid("the Whapi API URL is not a URL".into()))?;
                follow(client, "whapi", client.http().get(url.clone()).bearer_auth(token.expose_secret()), url).await?
            };
            let mime = content_type(&response);
            Ok(Fetched { bytes: read_capped("whapi", response, cap).await?, mime })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_cannot_change_the_path() {
        assert_eq!(meta_media_id("1013859600285441"), Some("1013859600285441"));
        for bad in ["", "../me", "1/2", "https://x", "12a"] {
            assert_eq!(meta_media_id(bad), None, "{bad}");
        }
        assert!(whapi_media_id("jpeg-c91cf5f956dd38509d4961460cf1180e-80d1080e92fe09").is_some());
        assert!(whapi_media_id("a/../b").is_none() && whapi_media_id("a?b").is_none());
    }

    #[test]
    fn provider_hosts_are_exempt_and_nothing_else() {
        let urls = ProviderUrls { meta: "http://127.0.0.1:4010/v23.0".into(), ..ProviderUrls::default() };
        let c = MediaClient::new(&urls, &OutboundPolicy::default());
        assert!(c.checked("http://127.0.0.1:4010/lookaside/1").is_ok());
        for bad in ["http://127.0.0.1:4011/x", "https://169.254.169.254/latest", "http://lookaside.fbsbx.com/x", "https://localhost/x"] {
            assert!(matches!(c.checked(bad), Err(MediaError::Refused(_))), "{bad}");
        }
        assert!(c.checked("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1").is_ok());
    }

    #[test]
    fn answers_map_to_what_the_agent_can_do() {
        assert_eq!(refusal("meta", 404, true), MediaError::Gone);
        assert_eq!(refusal("twilio", 401, true), MediaError::AuthFailed("twilio"));
        assert_eq!(refusal("twilio", 403, false), MediaError::Gone, "an expired CDN link");
        assert!(matches!(refusal("whapi", 503, true), MediaError::Unavailable(_)));
        assert!(matches!(refusal("whapi", 418, true), MediaError::Invalid(_)));
    }
}

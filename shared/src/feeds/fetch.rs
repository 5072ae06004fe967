//! Fetching a feed through the SSRF-guarded client: a conditional GET (ETag / Last-Modified, 304 means
//! nothing new), a body cap, and redirects followed by hand (at most 3), each hop checked against the
//! guard again, since the client itself never follows one.

use reqwest::header::{ACCEPT, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, LOCATION, USER_AGENT};
use reqwest::{StatusCode, Url};

use crate::http::outbound::{check_url_schemes, literal_allowed, read_capped, BodyError, OutboundPolicy};

/// Largest feed document read.
pub const MAX_BYTES: usize = 2 * 1024 * 1024;
const MAX_REDIRECTS: usize = 3;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

#[derive(Debug)]
pub enum Fetched {
    NotModified,
    Body { bytes: Vec<u8>, validators: Validators },
}

/// Why a fetch failed, in words for the feed's row (no internal detail beyond what the URL already says).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    #[error("refused: {0}")]
    Refused(String),
    #[error("timed out")]
    Timeout,
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("the feed is larger than {} MiB", MAX_BYTES / 1024 / 1024)]
    TooLarge,
    #[error("too many redirects")]
    Redirects,
    #[error("{0}")]
    Other(String),
}

fn describe(e: &reqwest::Error) -> FetchError {
    if e.is_timeout() {
        return FetchError::Timeout;
    }
    // The innermost cause is the useful part ("… resolves only to private or internal addresses", DNS failure).
    let mut source: &dyn std::error::Error = e;
    while let Some(s) = source.source() {
        source = s;
    }
    let detail: String = source.to_string().chars().take(200).collect();
    if e.is_connect() || e.is_request() {
        FetchError::Connect(detail)
    } else {
        FetchError::Other(detail)
    }
}

/// GETs `url` with the stored validators.
pub async fn fetch(client: &reqwest::Client, policy: &OutboundPolicy, url: &str, known: &Validators) -> Result<Fetched, FetchError> {
    let mut url: Url = check_url_schemes(url, policy, &["https", "http"]).map_err(|e| FetchError::Refused(e.to_string()))?;
    for _ in 0..=MAX_REDIRECTS {
        if !literal_allowed(&url, policy) {
            return Err(FetchError::Refused("the URL points at a private or internal address".into()));
        }
        let mut req = client
            .get(url.clone())
            .header(USER_AGENT, concat!("WebTrigger-Feeds/", env!("CARGO_PKG_VERSION")))
            .header(ACCEPT, "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5");
        if let Some(etag) = &known.etag {
            req = req.header(IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &known.last_modified {
            req = req.header(IF_MODIFIED_SINCE, lm);
        }
        let resp = req.send().await.map_err(|e| describe(&e))?;
        let status = resp.status();
        if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
            let location = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).ok_or(FetchError::Status(status.as_u16()))?;
            let next = url.join(location).map_err(|_| FetchError::Other("a redirect to an invalid URL".into()))?;
            url = check_url_schemes(next.as_str(), policy, &["https", "http"]).map_err(|e| FetchError::Refused(format!("redirect: {e}")))?;
            continue;
        }
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            return Err(FetchError::Status(status.as_u16()));
        }
        let header = |name| resp.headers().get(name).and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok()).map(|s: &str| s.chars().take(256).collect::<String>());
        let validators = Validators { etag: header(ETAG), last_modified: header(LAST_MODIFIED) };
        let bytes = read_capped(resp, MAX_BYTES as u64).await.map_err(|e| match e {
            BodyError::TooLarge => FetchError::TooLarge,
            BodyError::Failed(e) => describe(&e),
        })?;
        return Ok(Fetched::Body { bytes, validators });
    }
    Err(FetchError::Redirects)
}

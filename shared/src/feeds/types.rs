//! Feed records and what callers may set: a checked URL, a notification template (minijinja over the
//! item), a target (all subscribers or a segment), `newest_only`, and the first-poll behaviour. Settings
//! are parsed once here; everything downstream takes the checked `FeedSpec`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::types::prefixed_id;
use crate::http::outbound::{check_url_schemes, OutboundPolicy};
use crate::http::ApiError;
use crate::push::sites::SiteId;

prefixed_id!(FeedId, "feed_", "feed");

/// Minutes between polls of a healthy feed.
pub const POLL_MINUTES: i64 = 15;
/// Minutes between polls once a feed has failed this many times in a row (`BACKOFF_AFTER`).
pub const BACKOFF_MINUTES: i64 = 60;
pub const BACKOFF_AFTER: u32 = 4;

/// Whom a feed's notifications go to.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FeedTarget {
    #[default]
    All,
    /// Subscribers in a saved segment (its rules as they are when each item is sent).
    Segment { segment_id: String },
}

/// The notification made from each item. Fields are minijinja templates over `item` (`title`, `summary`,
/// `content`, `link`, `image`, `author`, `published`, `id`, `categories`) and `feed` (`title`, `link`);
/// a missing value renders empty.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct FeedTemplate {
    #[serde(default = "default_title")]
    pub title: String,
    #[serde(default = "default_body")]
    pub body: String,
    #[serde(default = "default_url")]
    pub url: String,
    /// From the item's enclosure, `media:content` or `media:thumbnail` by default.
    #[serde(default = "default_image")]
    pub image: String,
    #[serde(default)]
    pub icon: String,
}

fn default_title() -> String {
    "{{ item.title }}".into()
}
fn default_body() -> String {
    "{{ item.summary }}".into()
}
fn default_url() -> String {
    "{{ item.link }}".into()
}
fn default_image() -> String {
    "{{ item.image }}".into()
}

impl Default for FeedTemplate {
    fn default() -> Self {
        Self { title: default_title(), body: default_body(), url: default_url(), image: default_image(), icon: String::new() }
    }
}

/// What a caller sends to create or replace a feed.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct FeedSettings {
    /// `http` or `https`; private and internal addresses are refused.
    pub url: String,
    /// Shown in the dashboard; defaults to the feed's own title after the first poll.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub template: Option<FeedTemplate>,
    #[serde(default)]
    pub target: Option<FeedTarget>,
    /// Only the newest new item of each poll becomes a notification; the others are marked seen.
    #[serde(default)]
    pub newest_only: bool,
    /// `false` (default): the first poll marks the items already in the feed as seen without sending.
    #[serde(default)]
    pub send_existing: bool,
    /// Paused feeds are not polled.
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// Settings after checking.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedSpec {
    pub url: String,
    pub name: Option<String>,
    pub template: FeedTemplate,
    pub target: FeedTarget,
    pub newest_only: bool,
    pub send_existing: bool,
    pub active: bool,
}

/// How the last poll went.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PollStatus {
    /// Not polled yet.
    #[default]
    Pending,
    Ok,
    /// 304: nothing changed since the last poll.
    NotModified,
    Error,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Feed {
    pub id: FeedId,
    pub site_id: SiteId,
    pub url: String,
    pub name: Option<String>,
    pub template: FeedTemplate,
    pub target: FeedTarget,
    pub newest_only: bool,
    pub send_existing: bool,
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
    /// The feed's own `<title>`, from the last good poll.
    #[serde(default)]
    pub feed_title: Option<String>,
    /// True until a poll has recorded the items present when the feed was added (or its URL changed).
    #[serde(default)]
    pub baseline_pending: bool,
    #[serde(default)]
    pub last_status: PollStatus,
    #[serde(default)]
    pub last_polled_at: Option<String>,
    #[serde(default)]
    pub last_success_at: Option<String>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub consecutive_failures: u32,
    #[serde(default)]
    pub items_sent: u64,
    /// When the tick polls it next (RFC 3339); none while paused.
    #[serde(default)]
    pub next_poll_at: Option<String>,
    /// Epoch ms of the due index entry (`store::due_key`); 0 while paused.
    #[serde(default)]
    #[schema(ignore)]
    pub next_poll_ms: i64,
    /// Validators for the conditional GET.
    #[serde(default)]
    #[schema(ignore)]
    pub etag: Option<String>,
    #[serde(default)]
    #[schema(ignore)]
    pub last_modified: Option<String>,
    /// Hashes of the most recently seen items, so a poll reads markers only for items not among them.
    #[serde(default)]
    #[schema(ignore)]
    pub recent: Vec<String>,
}

/// Row fields the API never shows (poll bookkeeping).
const INTERNAL: [&str; 4] = ["next_poll_ms", "etag", "last_modified", "recent"];

/// A feed as the API shows it: the row without its poll bookkeeping.
#[derive(Debug, Clone, ToSchema)]
pub struct FeedView(pub Feed);

impl Serialize for FeedView {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = match serde_json::to_value(&self.0).map_err(serde::ser::Error::custom)? {
            serde_json::Value::Object(m) => m,
            _ => return Err(serde::ser::Error::custom("a feed serialises to an object")),
        };
        for k in INTERNAL {
            map.remove(k);
        }
        map.serialize(serializer)
    }
}

impl Feed {
    /// Minutes to the next poll after a poll with this many failures in a row.
    pub fn interval_minutes(failures: u32) -> i64 {
        if failures >= BACKOFF_AFTER {
            BACKOFF_MINUTES
        } else {
            POLL_MINUTES
        }
    }
}

const MAX_TEMPLATE: usize = 2000;

/// Checks settings: the URL against the SSRF policy, the template compiles, the target is well formed.
/// Each refusal names its field.
pub fn parse_settings(s: FeedSettings, policy: &OutboundPolicy) -> Result<FeedSpec, ApiError> {
    if s.url.len() > 2048 {
        return Err(ApiError::Validation("url: at most 2048 characters".into()));
    }
    let url = check_url_schemes(&s.url, policy, &["https", "http"]).map_err(|e| ApiError::Validation(format!("url: {e}")))?;
    let name = s.name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if name.as_ref().is_some_and(|n| n.chars().count() > 120) {
        return Err(ApiError::Validation("name: at most 120 characters".into()));
    }
    let template = s.template.unwrap_or_default();
    if template.title.trim().is_empty() {
        return Err(ApiError::Validation("template.title: must not be empty".into()));
    }
    for (field, source) in [("title", &template.title), ("body", &template.body), ("url", &template.url), ("image", &template.image), ("icon", &template.icon)] {
        if source.len() > MAX_TEMPLATE {
            return Err(ApiError::Validation(format!("template.{field}: at most {MAX_TEMPLATE} characters")));
        }
        super::render::check(source).map_err(|e| ApiError::Validation(format!("template.{field}: {e}")))?;
    }
    let target = s.target.unwrap_or_default();
    if let FeedTarget::Segment { segment_id } = &target {
        crate::push::segments::SegmentId::parse(segment_id).map_err(|_| ApiError::Validation(format!("target.segment_id: no segment `{}`", segment_id.chars().take(40).collect::<String>())))?;
    }
    Ok(FeedSpec { url: url.to_string(), name, template, target, newest_only: s.newest_only, send_existing: s.send_existing, active: s.active })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> FeedSettings {
        FeedSettings { url: url.into(), name: None, template: None, target: None, newest_only: false, send_existing: false, active: true }
    }

    #[test]
    fn urls_are_checked_against_the_guard_and_refusals_name_the_field() {
        let p = OutboundPolicy::default();
        assert_eq!(parse_settings(settings("http://blog.example.com/feed"), &p).unwrap().url, "http://blog.example.com/feed");
        for bad in ["ftp://example.com/feed", "https://127.0.0.1/feed", "http://localhost/rss", "https://10.1.2.3/x", "not a url"] {
            let e = parse_settings(settings(bad), &p).unwrap_err().to_string();
            assert!(e.starts_with("url: "), "{bad}: {e}");
        }
        let allowed = OutboundPolicy { allow_hosts: vec!["127.0.0.1:8111".into()] };
        assert!(parse_settings(settings("http://127.0.0.1:8111/feed.xml"), &allowed).is_ok());
    }

    #[test]
    fn templates_and_targets_are_checked() {
        let p = OutboundPolicy::default();
        let mut s = settings("https://example.com/feed");
        s.template = Some(FeedTemplate { body: "{{ item.summary ".into(), ..Default::default() });
        assert!(parse_settings(s.clone(), &p).unwrap_err().to_string().starts_with("template.body: "));
        s.template = Some(FeedTemplate { title: " ".into(), ..Default::default() });
        assert!(parse_settings(s.clone(), &p).unwrap_err().to_string().starts_with("template.title: "));
        s.template = None;
        s.target = Some(FeedTarget::Segment { segment_id: "nope".into() });
        assert!(parse_settings(s, &p).unwrap_err().to_string().starts_with("target.segment_id: "));
    }
}

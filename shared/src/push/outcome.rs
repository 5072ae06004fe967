//! How a push service's answer is handled (providers.md 1.5): accepted, subscription gone (delete it),
//! payload too large (permanent), rate limited (retry after Retry-After; WNS says 406), transient (5xx,
//! timeouts: retry with backoff), or a configuration error (400/401/403: no retry).

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Gone,
    TooLarge,
    RateLimited(Option<Duration>),
    Transient(String),
    Rejected(String),
}

impl Outcome {
    /// The counter this outcome adds to on the notification.
    pub fn counter(&self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Gone => "failed_gone",
            Self::TooLarge => "failed_too_large",
            Self::RateLimited(_) | Self::Transient(_) => "failed_transient",
            Self::Rejected(_) => "failed_rejected",
        }
    }

    pub fn retryable(&self) -> bool {
        matches!(self, Self::RateLimited(_) | Self::Transient(_))
    }
}

/// `Retry-After` as seconds or an HTTP date, capped at 15 minutes (the SQS delay limit).
pub fn retry_after(value: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let v = value?.trim();
    let secs = match v.parse::<u64>() {
        Ok(s) => s,
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
            (at.timestamp() - now.timestamp()).max(0) as u64
        }
    };
    Some(Duration::from_secs(secs.min(900)))
}

pub fn classify(status: u16, host: &str, retry_after_header: Option<&str>, now: chrono::DateTime<chrono::Utc>, body: &str) -> Outcome {
    let snippet: String = body.chars().take(200).collect();
    match status {
        200..=299 => Outcome::Accepted,
        404 | 410 => Outcome::Gone,
        413 => Outcome::TooLarge,
        429 => Outcome::RateLimited(retry_after(retry_after_header, now)),
        406 if host.ends_with(".notify.windows.com") => Outcome::RateLimited(retry_after(retry_after_header, now)),
        500..=599 => Outcome::Transient(format!("push service answered {status}: {snippet}")),
        _ => Outcome::Rejected(format!("push service answered {status}: {snippet}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn classification_table() {
        let now = chrono::Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        let c = |s, host, ra| classify(s, host, ra, now, "");
        assert_eq!(c(201, "fcm.googleapis.com", None), Outcome::Accepted);
        assert_eq!(c(404, "fcm.googleapis.com", None), Outcome::Gone);
        assert_eq!(c(410, "updates.push.services.mozilla.com", None), Outcome::Gone);
        assert_eq!(c(413, "fcm.googleapis.com", None), Outcome::TooLarge);
        assert_eq!(c(429, "fcm.googleapis.com", Some("120")), Outcome::RateLimited(Some(Duration::from_secs(120))));
        assert_eq!(c(429, "fcm.googleapis.com", Some("Sun, 22 Nov 2026 12:01:00 GMT")), Outcome::RateLimited(Some(Duration::from_secs(60))));
        assert_eq!(c(429, "fcm.googleapis.com", Some("99999")), Outcome::RateLimited(Some(Duration::from_secs(900))));
        assert_eq!(c(406, "db5p.notify.windows.com", None), Outcome::RateLimited(None));
        assert!(matches!(c(406, "fcm.googleapis.com", None), Outcome::Rejected(_)));
        assert!(matches!(c(503, "web.push.apple.com", None), Outcome::Transient(_)));
        assert!(matches!(c(403, "web.push.apple.com", None), Outcome::Rejected(_)));
        assert!(c(500, "x", None).retryable() && !c(410, "x", None).retryable() && !c(413, "x", None).retryable());
    }
}

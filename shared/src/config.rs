//! Typed configuration, read from the environment once at start; a bad value fails start-up, never a handler.

use std::collections::HashMap;
use std::path::PathBuf;

/// Default request body cap for API routes (webhook receivers may set their own).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum BackendConfig {
    /// SQLite + local key files under `data_dir`; `WEBTRIGGER_SQLITE_SYNC` sets `durability`.
    Embedded { data_dir: PathBuf, durability: Durability },
    Aws(AwsConfig),
}

/// How an embedded commit reaches the disk (`WEBTRIGGER_SQLITE_SYNC`: `full`, the default, or `normal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: every committed batch is fsynced before its callers hear of it, so an
    /// answered write survives a power loss as well as a process crash.
    #[default]
    Full,
    /// `synchronous=NORMAL`: commits survive a process crash (`kill -9`), but a power loss or OS crash
    /// can lose the batches committed since the last WAL checkpoint's fsync.
    Normal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AwsConfig {
    pub table: String,
    pub kms_key_id: String,
    pub secrets_prefix: String,
    /// Logical queue name → queue URL, from `WEBTRIGGER_QUEUE_URL_<NAME>`.
    pub queue_urls: HashMap<String, String>,
    /// Overrides every AWS endpoint (tests against a local AWS-protocol server).
    pub endpoint: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub backend: BackendConfig,
    pub max_body_bytes: usize,
    pub limits: RateLimits,
    /// WhatsApp provider API base URLs (`WEBTRIGGER_TWILIO_API_URL`, `WEBTRIGGER_META_GRAPH_URL`,
    /// `WEBTRIGGER_WHAPI_API_URL`); tests and proxies override them.
    pub providers: crate::whatsapp::providers::ProviderUrls,
    /// `WEBTRIGGER_PUBLIC_URL`: where providers reach this platform (Twilio signs that exact URL).
    pub public_url: Option<String>,
    /// `WEBTRIGGER_OUTBOUND_ALLOW_HOSTS`: comma-separated `host:port`s event webhooks may reach despite the
    /// SSRF guard (a receiver on loopback in development). Empty in production.
    pub outbound: crate::http::outbound::OutboundPolicy,
    /// `WEBTRIGGER_TRUSTED_PROXIES`: IPs/CIDRs whose X-Forwarded-For entries are believed. Default none.
    pub trusted_proxies: crate::http::client_ip::TrustedProxies,
    /// `WEBTRIGGER_LIVE_WS_ENDPOINT`: the WebSocket API's management endpoint; workers post live events
    /// to the workspace's connections through it (AWS only).
    pub live_ws_endpoint: Option<String>,
    /// `WEBTRIGGER_LIVE_WS_URL`: where the dashboard opens its live WebSocket (`wss://…/live` on AWS, or
    /// `/live` for the local binary's own endpoint); `GET /v1/health` tells the dashboard. None: SSE.
    pub live_ws_url: Option<String>,
    /// `WEBTRIGGER_SMTP_URL` + `WEBTRIGGER_MAIL_FROM` (links use `WEBTRIGGER_PUBLIC_URL`): invite and
    /// password-reset email. None: the dashboard shows the links to share by hand.
    pub mail: Option<crate::auth::mailer::MailConfig>,
}

/// Sustained requests per minute (bursts of the same size) per workspace and per API key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    pub workspace_per_minute: u32,
    pub api_key_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self { workspace_per_minute: 600, api_key_per_minute: 120 }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{0} must be set")]
    Missing(&'static str),
    #[error("{name} has an invalid value: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Builds the configuration from `(name, value)` pairs (the environment, or a test's map).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let vars: HashMap<String, String> = vars.into_iter().collect();
        let get = |name: &str| vars.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let max_body_bytes = match get("WEBTRIGGER_MAX_BODY_BYTES") {
            None => DEFAULT_MAX_BODY_BYTES,
            Some(v) => v.parse().ok().filter(|n| (1024..=64 * 1024 * 1024).contains(n)).ok_or(ConfigError::Invalid {
                name: "WEBTRIGGER_MAX_BODY_BYTES",
                reason: format!("`{v}` is not a byte count between 1 KiB and 64 MiB"),
            })?,
        };
        let per_minute = |name: &'static str, default: u32| match get(name) {
            None => Ok(default),
            Some(v) => v.parse().ok().filter(|n| (1..=1_000_000).contains(n)).ok_or(ConfigError::Invalid { name, reason: format!("`{v}` is not a count between 1 and 1000000") }),
        };
        let defaults = RateLimits::default();
        let limits = RateLimits {
            workspace_per_minute: per_minute("WEBTRIGGER_LIMIT_WORKSPACE_PER_MINUTE", defaults.workspace_per_minute)?,
            api_key_per_minute: per_minute("WEBTRIGGER_LIMIT_API_KEY_PER_MINUTE", defaults.api_key_per_minute)?,
        };
        let backend = match get("WEBTRIGGER_BACKEND").as_deref() {
            None | Some("embedded") => {
                let durability = match get("WEBTRIGGER_SQLITE_SYNC").as_deref() {
                    None | Some("full") => Durability::Full,
                    Some("normal") => Durability::Normal,
                    Some(other) => return Err(ConfigError::Invalid { name: "WEBTRIGGER_SQLITE_SYNC", reason: format!("`{other}` is neither `full` nor `normal`") }),
                };
                BackendConfig::Embedded { data_dir: get("WEBTRIGGER_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("data")), durability }
            }
            Some("aws") => BackendConfig::Aws(AwsConfig {
                table: get("WEBTRIGGER_TABLE").ok_or(ConfigError::Missing("WEBTRIGGER_TABLE"))?,
                kms_key_id: get("WEBTRIGGER_KMS_KEY_ID").ok_or(ConfigError::Missing("WEBTRIGGER_KMS_KEY_ID"))?,
                secrets_prefix: get("WEBTRIGGER_SECRETS_PREFIX").unwrap_or_else(|| "webtrigger/".to_owned()),
                queue_urls: vars
                    .iter()
                    .filter_map(|(k, v)| Some((k.strip_prefix("WEBTRIGGER_QUEUE_URL_")?.to_ascii_lowercase().replace('_', "-"), v.clone())))
                    .collect(),
                endpoint: get("WEBTRIGGER_AWS_ENDPOINT"),
            }),
            Some(other) => {
                return Err(ConfigError::Invalid { name: "WEBTRIGGER_BACKEND", reason: format!("`{other}` is neither `aws` nor `embedded`") })
            }
        };
        let url = |name: &'static str, default: String| match get(name) {
            None => Ok(default),
            Some(v) if v.starts_with("https://") || v.starts_with("http://") => Ok(v.trim_end_matches('/').to_owned()),
            Some(v) => Err(ConfigError::Invalid { name, reason: format!("`{v}` is not an http(s) URL") }),
        };
        let d = crate::whatsapp::providers::ProviderUrls::default();
        let providers = crate::whatsapp::providers::ProviderUrls {
            twilio: url("WEBTRIGGER_TWILIO_API_URL", d.twilio)?,
            meta: url("WEBTRIGGER_META_GRAPH_URL", d.meta)?,
            whapi: url("WEBTRIGGER_WHAPI_API_URL", d.whapi)?,
            twilio_content: url("WEBTRIGGER_TWILIO_CONTENT_URL", d.twilio_content)?,
        };
        let public_url = get("WEBTRIGGER_PUBLIC_URL").map(|_| url("WEBTRIGGER_PUBLIC_URL", String::new())).transpose()?;
        let allow_hosts: Vec<String> = get("WEBTRIGGER_OUTBOUND_ALLOW_HOSTS").unwrap_or_default().split(',').map(str::trim).filter(|h| !h.is_empty()).map(str::to_owned).collect();
        if let Some(bad) = allow_hosts.iter().find(|h| h.rsplit_once(':').is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())) {
            return Err(ConfigError::Invalid { name: "WEBTRIGGER_OUTBOUND_ALLOW_HOSTS", reason: format!("`{bad}` is not host:port") });
        }
        let outbound = crate::http::outbound::OutboundPolicy { allow_hosts };
        let trusted_proxies = crate::http::client_ip::TrustedProxies::parse(&get("WEBTRIGGER_TRUSTED_PROXIES").unwrap_or_default())
            .map_err(|reason| ConfigError::Invalid { name: "WEBTRIGGER_TRUSTED_PROXIES", reason })?;
        // The API Gateway WebSocket API's management endpoint (`https://{api}.execute-api.{region}.amazonaws.com/{stage}`).
        let live_ws_endpoint = get("WEBTRIGGER_LIVE_WS_ENDPOINT").map(|_| url("WEBTRIGGER_LIVE_WS_ENDPOINT", String::new())).transpose()?;
        let live_ws_url = match get("WEBTRIGGER_LIVE_WS_URL") {
            None => None,
            Some(v) if v.starts_with("wss://") || v.starts_with("ws://") || (v.starts_with('/') && !v.starts_with("//")) => Some(v.trim_end_matches('/').to_owned()),
            Some(v) => return Err(ConfigError::Invalid { name: "WEBTRIGGER_LIVE_WS_URL", reason: format!("`{v}` is neither a ws(s):// URL nor a path such as /live") }),
        };
        let mail = match get("WEBTRIGGER_SMTP_URL") {
            None => None,
            Some(raw) => Some(crate::auth::mailer::MailConfig {
                smtp_url: crate::auth::mailer::SmtpUrl::parse(&raw).map_err(|reason| ConfigError::Invalid { name: "WEBTRIGGER_SMTP_URL", reason })?,
                from: get("WEBTRIGGER_MAIL_FROM")
                    .filter(|f| f.parse::<lettre::message::Mailbox>().is_ok())
                    .ok_or(ConfigError::Invalid { name: "WEBTRIGGER_MAIL_FROM", reason: "must be a sender address such as `WebTrigger <no-reply@example.com>` when WEBTRIGGER_SMTP_URL is set".into() })?,
                link_base: public_url.clone().ok_or(ConfigError::Missing("WEBTRIGGER_PUBLIC_URL (links in emails need it when WEBTRIGGER_SMTP_URL is set)"))?,
            }),
        };
        Ok(Self { backend, max_body_bytes, limits, providers, public_url, outbound, trusted_proxies, live_ws_endpoint, live_ws_url, mail })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    }

    #[test]
    fn mail_needs_a_sender_and_the_public_url() {
        assert_eq!(Config::from_vars(vars(&[])).unwrap().mail, None);
        let smtp = ("WEBTRIGGER_SMTP_URL", "smtps://u:p@smtp.example.com:465");
        assert!(matches!(Config::from_vars(vars(&[smtp])), Err(ConfigError::Invalid { name: "WEBTRIGGER_MAIL_FROM", .. })));
        let from = ("WEBTRIGGER_MAIL_FROM", "WebTrigger <no-reply@example.com>");
        assert!(matches!(Config::from_vars(vars(&[smtp, from])), Err(ConfigError::Missing(_))));
        let c = Config::from_vars(vars(&[smtp, from, ("WEBTRIGGER_PUBLIC_URL", "https://app.example.com/")])).unwrap();
        assert_eq!(c.mail.unwrap().link_base, "https://app.example.com");
        let bad = ("WEBTRIGGER_SMTP_URL", "https://smtp.example.com");
        assert!(matches!(Config::from_vars(vars(&[bad, from])), Err(ConfigError::Invalid { name: "WEBTRIGGER_SMTP_URL", .. })));
    }

    #[test]
    fn the_live_websocket_url_is_a_ws_url_or_a_path() {
        assert_eq!(Config::from_vars(vars(&[])).unwrap().live_ws_url, None);
        let aws = Config::from_vars(vars(&[("WEBTRIGGER_LIVE_WS_URL", "wss://abc.execute-api.eu-west-1.amazonaws.com/live/")])).unwrap();
        assert_eq!(aws.live_ws_url.as_deref(), Some("wss://abc.execute-api.eu-west-1.amazonaws.com/live"));
        assert_eq!(Config::from_vars(vars(&[("WEBTRIGGER_LIVE_WS_URL", "/live")])).unwrap().live_ws_url.as_deref(), Some("/live"));
        for bad in ["https://x/live", "//evil.example/live", "live"] {
            assert!(matches!(Config::from_vars(vars(&[("WEBTRIGGER_LIVE_WS_URL", bad)])), Err(ConfigError::Invalid { name: "WEBTRIGGER_LIVE_WS_URL", .. })), "{bad}");
        }
    }

    #[test]
    fn embedded_is_the_default() {
        let c = Config::from_vars(vars(&[])).unwrap();
        assert_eq!(c.backend, BackendConfig::Embedded { data_dir: "data".into(), durability: Durability::Full });
        assert_eq!(c.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
    }

    #[test]
    fn sqlite_sync_is_full_or_normal() {
        let normal = Config::from_vars(vars(&[("WEBTRIGGER_SQLITE_SYNC", "normal")])).unwrap();
        assert!(matches!(normal.backend, BackendConfig::Embedded { durability: Durability::Normal, .. }));
        let full = Config::from_vars(vars(&[("WEBTRIGGER_SQLITE_SYNC", "full")])).unwrap();
        assert!(matches!(full.backend, BackendConfig::Embedded { durability: Durability::Full, .. }));
        assert!(matches!(Config::from_vars(vars(&[("WEBTRIGGER_SQLITE_SYNC", "off")])), Err(ConfigError::Invalid { name: "WEBTRIGGER_SQLITE_SYNC", .. })));
    }

    #[test]
    fn aws_needs_table_and_key_and_maps_queue_urls() {
        assert_eq!(Config::from_vars(vars(&[("WEBTRIGGER_BACKEND", "aws")])), Err(ConfigError::Missing("WEBTRIGGER_TABLE")));
        let c = Config::from_vars(vars(&[
            ("WEBTRIGGER_BACKEND", "aws"),
            ("WEBTRIGGER_TABLE", "t"),
            ("WEBTRIGGER_KMS_KEY_ID", "k"),
            ("WEBTRIGGER_QUEUE_URL_PUSH_SEND", "https://sqs/1/push"),
        ]))
        .unwrap();
        let BackendConfig::Aws(aws) = c.backend else { panic!("expected aws") };
        assert_eq!(aws.queue_urls.get("push-send").map(String::as_str), Some("https://sqs/1/push"));
        assert_eq!(aws.secrets_prefix, "webtrigger/");
    }

    #[test]
    fn bad_values_fail_at_start() {
        assert!(matches!(Config::from_vars(vars(&[("WEBTRIGGER_BACKEND", "mongo")])), Err(ConfigError::Invalid { .. })));
        assert!(matches!(Config::from_vars(vars(&[("WEBTRIGGER_MAX_BODY_BYTES", "ten")])), Err(ConfigError::Invalid { .. })));
        assert!(matches!(Config::from_vars(vars(&[("WEBTRIGGER_LIMIT_API_KEY_PER_MINUTE", "0")])), Err(ConfigError::Invalid { .. })));
        let tuned = Config::from_vars(vars(&[("WEBTRIGGER_LIMIT_WORKSPACE_PER_MINUTE", "6000")])).unwrap();
        assert_eq!(tuned.limits.workspace_per_minute, 6000);
        assert!(matches!(Config::from_vars(vars(&[("WEBTRIGGER_META_GRAPH_URL", "graph.local")])), Err(ConfigError::Invalid { .. })));
        let fake = Config::from_vars(vars(&[("WEBTRIGGER_WHAPI_API_URL", "http://127.0.0.1:9/")])).unwrap();
        assert_eq!(fake.providers.whapi, "http://127.0.0.1:9");
        assert!(matches!(Config::from_vars(vars(&[("WEBTRIGGER_TRUSTED_PROXIES", "10.0.0.0/8, cloudfront")])), Err(ConfigError::Invalid { name: "WEBTRIGGER_TRUSTED_PROXIES", .. })));
        assert!(Config::from_vars(vars(&[("WEBTRIGGER_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")])).is_ok());
    }
}
